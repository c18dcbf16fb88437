package exec

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/sql"
)

var update = flag.Bool("update", false, "rewrite the expected outputs under testdata/run/*/want")

// TestRunGolden runs every case under ../testdata/run: app.sql, one input per
// source table named <table>.jsonl or <table>.csv (read round robin in the
// order the tables are declared), and the expected outputs want/<sink>.jsonl
// and want/_errors.jsonl. Each app.sql explains, in comments, the results
// worked out by hand; -update rewrites want/ from the current output.
func TestRunGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "testdata", "run", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := runCase(t, dir)
			for name, out := range got {
				path := filepath.Join(dir, "want", name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if out != string(want) {
					t.Errorf("%s:\n got:\n%s\nwant:\n%s", path, out, want)
				}
			}
		})
	}
}

// runCase runs the case in dir and returns each output by file name.
func runCase(t *testing.T, dir string) map[string]string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "app.sql"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := sql.Parse("app.sql", src)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var inputs []Input
	for _, tb := range app.Tables {
		for _, ext := range []string{".jsonl", ".csv"} {
			b, err := os.ReadFile(filepath.Join(dir, tb.Name+ext))
			if err == nil {
				inputs = append(inputs, Input{Table: tb.Name, Name: tb.Name + ext, R: bytes.NewReader(b)})
			}
		}
	}
	outs := map[string]*bytes.Buffer{"_errors.jsonl": {}}
	out := Output{Sinks: map[string]io.Writer{}, Errors: outs["_errors.jsonl"]}
	for _, tb := range SinkTables(app) {
		b := &bytes.Buffer{}
		outs[tb.Name+".jsonl"], out.Sinks[tb.Name] = b, b
	}
	if _, err := Run(context.Background(), app, inputs, out); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := map[string]string{}
	for name, b := range outs {
		got[name] = b.String()
	}
	return got
}

func TestRunDeterministic(t *testing.T) {
	dir := filepath.Join("..", "testdata", "run", "session")
	a, b := runCase(t, dir), runCase(t, dir)
	for name := range a {
		if a[name] != b[name] {
			t.Errorf("two runs of %s differ in %s", dir, name)
		}
	}
}

func TestRunErrors(t *testing.T) {
	src := `CREATE TABLE s (a INT, ts TIMESTAMP(3), watermark TIMESTAMP(3) AS (ts)) ENGINE = stream CONNECTION = 's';
CREATE TABLE o (a INT) ENGINE = stream CONNECTION = 'o';
CREATE TABLE p (n BIGINT) ENGINE = stream CONNECTION = 'p';
CREATE TABLE r (k INT PRIMARY KEY) ENGINE = file CONNECTION = 'r.csv?format=csv';
CREATE VIEW v AS SELECT a, ts FROM s;
INSERT INTO o SELECT a FROM v;
INSERT INTO p SELECT COUNT(*) FROM s GROUP BY TUMBLE(PROCTIME(), '1 MINUTE');`
	app, err := sql.Parse("app.sql", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"nope": "unknown table nope; the application's source tables are s",
		"o":    "table o is not a source",
		"v":    "v is a view",
		"r":    "r is a reference table",
	} {
		if _, err := Source(app, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Source(%q) = %v; want %q", name, err, want)
		}
	}
	if err := Check(app); err == nil || !strings.Contains(err.Error(), "processing time") {
		t.Errorf("Check with a PROCTIME() window = %v; want an error naming processing time", err)
	}
	out := Output{Sinks: map[string]io.Writer{"o": io.Discard, "p": io.Discard}, Errors: io.Discard}
	if _, err := Run(context.Background(), app, nil, out); err == nil || !strings.Contains(err.Error(), "processing time") {
		t.Errorf("Run with a PROCTIME() window = %v; want an error naming processing time", err)
	}
}
