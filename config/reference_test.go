package config

import (
	"flag"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/sinks/clickhouse"
	"github.com/hydrantio/hydrant/sinks/parquet"
	fnhttp "github.com/hydrantio/hydrant/transform/http"
	"github.com/hydrantio/hydrant/transform/process"
	"github.com/hydrantio/hydrant/transform/wasm"
)

var update = flag.Bool("update", false, "rewrite "+examplePath+" from Reference()")

const examplePath = "../deploy/examples/hydrant.yaml"

// TestReference keeps the committed example, which is the reference, from
// drifting from the spec.
func TestReference(t *testing.T) {
	want := Reference()
	if *update {
		if err := os.WriteFile(examplePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatalf("cannot read the reference: %v; run `go test ./config -update` to write it", err)
	}
	if string(got) != want {
		t.Errorf("%s differs from Reference() (first difference at line %d); "+
			"edit config/spec.go, not the file, and run `go test ./config -update` to regenerate it",
			examplePath, firstDifference(string(got), want))
	}
}

func firstDifference(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			return i + 1
		}
	}
	return len(al) + 1
}

// TestReferenceLoads loads the example as a user would and checks that it
// sets what it says.
func TestReferenceLoads(t *testing.T) {
	t.Setenv(referenceEnv, "example-secret")
	got, err := Load(examplePath)
	if err != nil {
		t.Fatalf("Load(%q) = %v; want no error", examplePath, err)
	}
	want := Default()
	want.Auth.AccessKeys = []AccessKey{{ID: "AKIAIOSFODNN7EXAMPLE", Secret: "example-secret"}}
	want.ObjectStore.S3.SSE.KMSContext = map[string]string{} // kms_context: {}
	want.Functions = []Function{{Name: "enrich", Runtime: RuntimeWasm, Timeout: delivery.DefaultFunctionTimeout,
		Wasm:    wasm.Config{Module: "/etc/hydrant/functions/enrich.wasm", ReadOnlyDirs: []string{}},
		Process: process.Config{Command: []string{}, Env: map[string]string{}, ReadOnlyPaths: []string{}, HiddenPaths: []string{}},
		HTTP:    fnhttp.Config{Headers: map[string]string{}},
	}}
	want.Streams = []delivery.StreamConfig{withStream("events", "events", func(s *delivery.StreamConfig) {
		s.Tags = map[string]string{"team": "data"}
		s.Destination.Prefix = "logs/!{timestamp:yyyy/MM/dd}/"
		s.Destination.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
		s.Destination.Compression = delivery.GZIP
		s.Destination.FormatConversion.Schema.Columns = []parquet.Column{{Name: "user_id", Type: "string"}}
		s.Destination.Backup = delivery.Backup{Bucket: "events-backup"}
		s.Destination.S3.SSE.KMSContext = map[string]string{}
		s.Destination.HTTP.CommonAttributes = map[string]string{}
		s.Destination.ClickHouse.Addrs = []string{}
		s.Destination.ClickHouse.Columns = []clickhouse.Column{{Name: "user_id", Type: "String"}}
	})}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%q) =\n%+v\nwant\n%+v", examplePath, got, want)
	}
}

// TestSpec checks that every key is documented and spelled as the file
// spells keys, and that every field delivery validates has its key, so
// that a validation error always lands on its line.
func TestSpec(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	paths := map[string]bool{}
	var walk func(o *object, path string)
	walk = func(o *object, path string) {
		for _, f := range o.fields {
			p := join(path, f.key)
			paths[p] = true
			if !snake.MatchString(f.key) {
				t.Errorf("key %s is not snake_case", p)
			}
			if f.doc == "" || !strings.HasSuffix(f.doc, ".") {
				t.Errorf("key %s has doc %q; want a sentence", p, f.doc)
			}
			if f.value.obj != nil {
				walk(f.value.obj, p)
			}
		}
		for _, k := range append(o.oneOf, o.atMostOne...) {
			if o.field(k) == nil {
				t.Errorf("%s: oneOf or atMostOne names %q, which is not a key", path, k)
			}
		}
	}
	walk(spec, "")
	for _, field := range []string{"name", "max_log_bytes", "destination.bucket", "destination.prefix",
		"destination.error_output_prefix", "destination.buffering.size_mb",
		"destination.buffering.interval_seconds", "destination.compression"} {
		if !paths["streams."+field] {
			t.Errorf("delivery.FieldError field %s has no key in the spec", field)
		}
	}
}
