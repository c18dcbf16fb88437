package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/hydrantio/hydrant/delivery/compress"
	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/delivery/wal"
	"github.com/hydrantio/hydrant/record"
	"github.com/hydrantio/hydrant/sinks/parquet"
	"github.com/hydrantio/hydrant/sinks/s3"
)

// jsonRecords returns n records {"c": customers[i%len], "n": i}.
func jsonRecords(from, n int, customers ...string) []record.Record {
	recs := make([]record.Record, n)
	now := time.Now()
	for i := range recs {
		recs[i] = record.Record{ArrivalTime: now, Data: fmt.Appendf(nil, `{"c":%q,"n":%d}`, customers[(from+i)%len(customers)], from+i)}
	}
	return recs
}

// lines splits the decompressed bodies of the objects under prefix.
func objectLines(t *testing.T, s *memStore, prefix, format string) map[string][]string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for k, body := range s.objects {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		r, err := compress.NewReader(format, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("object %s: %v", k, err)
		}
		raw, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("object %s: %v", k, err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
			out[k] = append(out[k], l)
		}
	}
	return out
}

func partitionedConfig(name string) StreamConfig {
	cfg := streamConfig(name, 1, 0, GZIP)
	d := &cfg.Destination
	d.Prefix = "data/customer=!{partitionKeyFromQuery:customer}/"
	d.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/"
	d.Processing.MetadataExtractionQuery = "{customer: .c}"
	d.Processing.AppendDelimiter = true
	d.DynamicPartitioning.Enabled = true
	return cfg
}

func TestDynamicPartitioning(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	ctx := context.Background()
	if _, err := m.Create(ctx, partitionedConfig("parts")); err != nil {
		t.Fatal(err)
	}
	good := jsonRecords(0, 300, "alpha", "beta", "gamma")
	bad := []record.Record{
		{ArrivalTime: time.Now(), Data: []byte(`not json`)},
		{ArrivalTime: time.Now(), Data: []byte(`{"other":1}`)},
		{ArrivalTime: time.Now(), Data: []byte(`{"c":"../up"}`)},
	}
	if _, err := m.Put(ctx, "parts", append(good, bad...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all records delivered", 10*time.Second, func() bool {
		n := 0
		for _, ls := range objectLines(t, store, "bucket-parts/", GZIP) {
			n += len(ls)
		}
		return n == len(good)+len(bad)
	})
	seen := map[int]int{}
	for key, ls := range objectLines(t, store, "bucket-parts/data/", GZIP) {
		for _, l := range ls {
			var rec struct {
				C string
				N int
			}
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("object %s holds %q: %v", key, l, err)
			}
			if want := "bucket-parts/data/customer=" + rec.C + "/parts-1-"; !strings.HasPrefix(key, want) {
				t.Errorf("record %d of customer %s is in %s; want a key starting %s", rec.N, rec.C, key, want)
			}
			seen[rec.N]++
		}
	}
	for i := range good {
		if seen[i] != 1 {
			t.Errorf("record %d delivered %d times; want once", i, seen[i])
		}
	}
	errs := objectLines(t, store, "bucket-parts/errors/partitioning-failed/", GZIP)
	var raws []string
	for key, ls := range errs {
		for _, l := range ls {
			var er errorRecord
			if err := json.Unmarshal([]byte(l), &er); err != nil {
				t.Fatalf("error object %s holds %q: %v", key, l, err)
			}
			if er.ErrorCode == "" || er.ErrorMessage == "" || er.AttemptsMade != 1 || er.ArrivalTimestamp == 0 {
				t.Errorf("error record %+v lacks Firehose's fields", er)
			}
			raws = append(raws, string(er.RawData))
		}
	}
	if len(raws) != len(bad) {
		t.Fatalf("error output holds %q; want the %d bad records", raws, len(bad))
	}
	for _, b := range bad {
		if !strings.Contains(strings.Join(raws, "\n"), string(b.Data)) {
			t.Errorf("bad record %s missing from the error output %q", b.Data, raws)
		}
	}
}

func TestMaxActivePartitions(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	ctx := context.Background()
	cfg := partitionedConfig("capped")
	cfg.Destination.DynamicPartitioning.MaxActivePartitions = 2
	cfg.Destination.Buffering.IntervalSeconds = 60 // one batch
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, "capped", jsonRecords(0, 30, "a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil { // delivers the open buffer
		t.Fatal(err)
	}
	data := objectLines(t, store, "bucket-capped/data/", GZIP)
	errs := objectLines(t, store, "bucket-capped/errors/partitioning-failed/", GZIP)
	if len(data) != 2 {
		t.Errorf("%d partition objects; want 2: %v", len(data), store.keys())
	}
	n := 0
	for _, ls := range errs {
		for _, l := range ls {
			var er errorRecord
			if err := json.Unmarshal([]byte(l), &er); err != nil {
				t.Fatal(err)
			}
			if er.ErrorCode != errCodePartitionCount || !strings.Contains(string(er.RawData), `"c":"c"`) {
				t.Errorf("error record %+v; want a %s for customer c", er, errCodePartitionCount)
			}
			n++
		}
	}
	if n != 10 {
		t.Errorf("%d records in the error output; want the 10 of the third partition", n)
	}
}

func TestDeAggregation(t *testing.T) {
	for _, tc := range []struct {
		typ, delim string
		record     string
		want       []string
		failed     int
	}{
		{SubRecordJSON, "", `{"c":"a","n":1}{"c":"b","n":2}` + "\n" + `{"c":"a","n":3}`, []string{`{"c":"a","n":1}`, `{"c":"b","n":2}`, `{"c":"a","n":3}`}, 0},
		{SubRecordJSON, "", `{"c":"a","n":1}{"c":`, nil, 1},
		{SubRecordDelimited, "||", `{"c":"a","n":1}||{"c":"b","n":2}||`, []string{`{"c":"a","n":1}`, `{"c":"b","n":2}`}, 0},
		// Firehose's limit of 500 sub-records per record.
		{SubRecordDelimited, "|", strings.Repeat(`{"c":"a","n":1}|`, 501), nil, 1},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			store := newMemStore()
			m := testManager(t, t.TempDir(), store, nil)
			ctx := context.Background()
			cfg := partitionedConfig("deagg")
			cfg.Destination.Processing.DeAggregation = tc.typ
			cfg.Destination.Processing.Delimiter = tc.delim
			if _, err := m.Create(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Put(ctx, "deagg", []record.Record{{ArrivalTime: time.Now(), Data: []byte(tc.record)}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("deagg").Committed() == 1 })
			var got []string
			for _, ls := range objectLines(t, store, "bucket-deagg/data/", GZIP) {
				got = append(got, ls...)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("delivered %q; want %q", got, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.Join(got, "\n"), w) {
					t.Errorf("delivered %q; want %s among them", got, w)
				}
			}
			n := 0
			for _, ls := range objectLines(t, store, "bucket-deagg/errors/processing-failed/", GZIP) {
				n += len(ls)
			}
			if n != tc.failed {
				t.Errorf("%d records in the error output; want %d", n, tc.failed)
			}
		})
	}
}

// flakyStore lets ok writes through, then fails every other.
type flakyStore struct {
	*memStore
	mu sync.Mutex
	ok int
}

func (s *flakyStore) PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok == 0 {
		return errors.New("down")
	}
	s.ok--
	return s.memStore.PutObject(ctx, bucket, key, body, size)
}

func (m *Manager) streamLog(name string) *wal.Log {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.streams[name].log
}

// TestPartitionedRedeliveryIsExactlyOnce lets one partition object of a
// batch through, restarts, and checks that the batch is redelivered to
// the same keys: no record twice, one object per partition.
func TestPartitionedRedeliveryIsExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	flaky := &flakyStore{memStore: store, ok: 1}
	m := testManager(t, dir, flaky, nil)
	ctx := context.Background()
	if _, err := m.Create(ctx, partitionedConfig("redo")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, "redo", jsonRecords(0, 200, "a", "b", "c", "d")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first partition object", 5*time.Second, func() bool { return len(store.keys()) == 1 })
	_ = m.Close(ctx)
	if c := m.streamLog("redo").Committed(); c != 0 {
		t.Fatalf("committed %d with three partitions undelivered", c)
	}
	m2 := testManager(t, dir, store, nil)
	waitFor(t, "delivery after restart", 10*time.Second, func() bool { return m2.streamLog("redo").Committed() == 200 })
	seen := map[int]int{}
	for _, ls := range objectLines(t, store, "bucket-redo/data/", GZIP) {
		for _, l := range ls {
			var rec struct{ N int }
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatal(err)
			}
			seen[rec.N]++
		}
	}
	for i := range 200 {
		if seen[i] != 1 {
			t.Errorf("record %d delivered %d times; want once", i, seen[i])
		}
	}
	if len(store.keys()) != 4 {
		t.Errorf("objects %v; want one per partition", store.keys())
	}
}

func TestClientSideEncryption(t *testing.T) {
	kr, err := encrypt.ParseKeys([]byte("k1:"+strings.Repeat("A", 43)+"=\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	m, err := NewManager(Options{DataDir: t.TempDir(), Store: store, Keys: kr, FlushTimeout: time.Second,
		Retry: Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx := context.Background()
	cfg := streamConfig("sealed", 1, 0, GZIP)
	cfg.Destination.Encryption.ClientSide = true
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	recs := makeRecords("e", 0, 500, 200)
	if _, err := m.Put(ctx, "sealed", recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("sealed").Committed() == 500 })
	got := map[string]int{}
	for _, k := range store.keys() {
		if !strings.HasSuffix(k, ".gz"+encrypt.Extension) {
			t.Errorf("key %s; want the .gz.enc extension", k)
		}
		body := store.objects[k]
		if _, err := compress.NewReader(GZIP, bytes.NewReader(body)); err == nil {
			t.Errorf("object %s reads as gzip without decryption", k)
		}
		r, err := encrypt.NewReader(bytes.NewReader(body), kr)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := compress.NewReader(GZIP, r)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.SplitAfter(string(raw), "\n") {
			if l != "" {
				got[l]++
			}
		}
	}
	checkExactlyOnce(t, got, "e", 500)

	// Without keys, such a destination is refused.
	m2 := testManager(t, t.TempDir(), newMemStore(), nil)
	var fe *FieldError
	if _, err := m2.Create(ctx, cfg); !errors.As(err, &fe) || fe.Field != "destination.encryption.client_side" {
		t.Errorf("Create without master keys = %v; want a FieldError on destination.encryption.client_side", err)
	}
}

func TestFormatConversionToParquet(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	ctx := context.Background()
	cfg := streamConfig("pq", 1, 0, Uncompressed)
	cfg.Destination.FormatConversion = FormatConversion{Enabled: true, Schema: parquet.Schema{Columns: []parquet.Column{
		{Name: "c", Type: "string"},
		{Name: "n", Type: "bigint"},
	}}}
	cfg.Destination.ErrorOutputPrefix = "errors/"
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	recs := jsonRecords(0, 100, "x", "y")
	recs = append(recs, record.Record{ArrivalTime: time.Now(), Data: []byte(`{"c":"z","n":"not a number"}`)})
	if _, err := m.Put(ctx, "pq", recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("pq").Committed() == 101 })
	type row struct {
		C string `parquet:"c"`
		N int64  `parquet:"n"`
	}
	var rows []row
	var errLines []string
	for _, k := range store.keys() {
		body := store.objects[k]
		switch {
		case strings.HasSuffix(k, ".parquet"):
			got, err := pq.Read[row](bytes.NewReader(body), int64(len(body)))
			if err != nil {
				t.Fatalf("object %s: %v", k, err)
			}
			rows = append(rows, got...)
		case strings.HasPrefix(k, "bucket-pq/errors/format-conversion-failed/"):
			errLines = append(errLines, strings.Split(strings.TrimSpace(string(body)), "\n")...)
		default:
			t.Errorf("unexpected object %s", k)
		}
	}
	if len(rows) != 100 {
		t.Fatalf("%d rows; want 100", len(rows))
	}
	for i, r := range rows {
		want := row{C: []string{"x", "y"}[i%2], N: int64(i)}
		if r != want {
			t.Errorf("row %d = %+v; want %+v", i, r, want)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], errCodeConversion) {
		t.Errorf("error output %q; want one %s record", errLines, errCodeConversion)
	}
}

func TestProcessingValidation(t *testing.T) {
	f := func(name string, edit func(d *Destination), field string) {
		t.Helper()
		cfg := partitionedConfig("v")
		edit(&cfg.Destination)
		cfg.ApplyDefaults()
		err := cfg.Validate()
		var fe *FieldError
		if field == "" {
			if err != nil {
				t.Errorf("%s: Validate() = %v; want nil", name, err)
			}
			return
		}
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: Validate() = %v; want a FieldError on %s", name, err, field)
		}
	}
	f("valid", func(d *Destination) {}, "")
	f("bad jq", func(d *Destination) { d.Processing.MetadataExtractionQuery = "{customer: .c" }, "destination.processing.metadata_extraction_query")
	f("key not yielded", func(d *Destination) { d.Processing.MetadataExtractionQuery = "{other: .c}" }, "destination.prefix")
	f("no error prefix", func(d *Destination) { d.ErrorOutputPrefix = "" }, "destination.error_output_prefix")
	f("no partition key in prefix", func(d *Destination) { d.Prefix = "data/" }, "destination.prefix")
	f("partitioning off", func(d *Destination) { d.DynamicPartitioning.Enabled = false }, "destination.processing.metadata_extraction_query")
	f("too many partitions", func(d *Destination) { d.DynamicPartitioning.MaxActivePartitions = MaxMaxActivePartitions + 1 }, "destination.dynamic_partitioning.max_active_partitions")
	f("unknown sub-record type", func(d *Destination) { d.Processing.DeAggregation = "CSV" }, "destination.processing.de_aggregation")
	f("delimiter without DELIMITED", func(d *Destination) { d.Processing.Delimiter = "," }, "destination.processing.delimiter")
	f("lambda keys", func(d *Destination) { d.Prefix += "!{partitionKeyFromLambda:x}/" }, "destination.prefix")
	f("partition key in error prefix", func(d *Destination) {
		d.ErrorOutputPrefix = "e/!{firehose:error-output-type}/!{partitionKeyFromQuery:customer}/"
	}, "destination.error_output_prefix")
	f("parquet with gzip", func(d *Destination) {
		d.FormatConversion = FormatConversion{Enabled: true, Schema: parquet.Schema{Columns: []parquet.Column{{Name: "c", Type: "string"}}}}
		d.Processing.AppendDelimiter = false
	}, "destination.compression")
	f("parquet without columns", func(d *Destination) {
		d.Compression = Uncompressed
		d.Processing.AppendDelimiter = false
		d.FormatConversion = FormatConversion{Enabled: true}
	}, "destination.format_conversion.schema")
	f("parquet bad type", func(d *Destination) {
		d.Compression = Uncompressed
		d.Processing.AppendDelimiter = false
		d.FormatConversion = FormatConversion{Enabled: true, Schema: parquet.Schema{Columns: []parquet.Column{{Name: "c", Type: "strnig"}}}}
	}, "destination.format_conversion.schema[0].type")
	f("parquet with delimiter", func(d *Destination) {
		d.Compression = Uncompressed
		d.FormatConversion = FormatConversion{Enabled: true, Schema: parquet.Schema{Columns: []parquet.Column{{Name: "c", Type: "string"}}}}
	}, "destination.processing.append_delimiter")
}

func TestBackupCopiesSourceRecords(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	ctx := context.Background()
	cfg := partitionedConfig("bk")
	cfg.Destination.Processing.DeAggregation = SubRecordJSON
	cfg.Destination.Backup = Backup{Mode: BackupEnabled, Bucket: "copies", Prefix: "source/", Compression: GZIP}
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var recs []record.Record
	for i, r := range jsonRecords(0, 100, "a", "b") {
		if i%10 == 0 { // two sub-records in one
			r.Data = append(r.Data, `{"c":"b","n":-1}`...)
		}
		recs = append(recs, r)
	}
	recs = append(recs, record.Record{ArrivalTime: time.Now(), Data: []byte("not json")})
	if _, err := m.Put(ctx, "bk", recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("bk").Committed() == uint64(len(recs)) })
	copies := objectLines(t, store, "copies/source/", GZIP)
	if len(copies) != 1 {
		t.Fatalf("backup objects %v; want one for the batch", store.keys())
	}
	for _, ls := range copies {
		// The copy is the records as put, concatenated: without
		// append_delimiter they run together, so compare the whole.
		var want strings.Builder
		for _, r := range recs {
			want.Write(r.Data)
		}
		if got := strings.Join(ls, "\n"); got != want.String() {
			t.Errorf("backup copy = %.200q…; want the %d source records as put", got, len(recs))
		}
	}
	cfg.Destination.Backup.Mode = "Sometimes"
	var fe *FieldError
	if _, err := m.Create(ctx, func() StreamConfig { c := cfg; c.Name = "bk2"; return c }()); !errors.As(err, &fe) || fe.Field != "destination.backup.mode" {
		t.Errorf("Create with backup mode Sometimes = %v; want a FieldError on destination.backup.mode", err)
	}
}

func TestDestinationStoreOverride(t *testing.T) {
	global, own := newMemStore(), newMemStore()
	var made []s3.Config
	m, err := NewManager(Options{DataDir: t.TempDir(), Store: global, FlushTimeout: time.Second,
		NewStore: func(c s3.Config) (ObjectStore, error) { made = append(made, c); return own, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx := context.Background()
	a := streamConfig("own", 1, 0, GZIP)
	a.Destination.S3 = s3.Config{Endpoint: "http://127.0.0.1:1", AccessKeyID: "AK", SecretAccessKey: "sk"}
	b := streamConfig("shared", 1, 0, GZIP)
	for _, cfg := range []StreamConfig{a, b} {
		if _, err := m.Create(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Put(ctx, cfg.Name, makeRecords(cfg.Name, 0, 10, 50)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "delivery", 10*time.Second, func() bool {
		return m.streamLog("own").Committed() == 10 && m.streamLog("shared").Committed() == 10
	})
	checkExactlyOnce(t, own.records(t, GZIP), "own", 10)
	checkExactlyOnce(t, global.records(t, GZIP), "shared", 10)
	if len(own.records(t, GZIP)) != 10 || len(global.records(t, GZIP)) != 10 {
		t.Errorf("stores hold %d and %d records; want each stream's 10 in its own", len(own.records(t, GZIP)), len(global.records(t, GZIP)))
	}
	if len(made) != 1 || made[0].SecretAccessKey != "sk" {
		t.Errorf("NewStore called with %+v; want once, with the secret", made)
	}
	raw, err := os.ReadFile(filepath.Join(m.streamsDir(), "own", "stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"sk"`)) {
		t.Errorf("stream.json holds the secret access key: %s", raw)
	}
	fi, err := os.Stat(filepath.Join(m.streamsDir(), "own", streamSecretsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stream.secrets: %v, %v; want a file only its owner reads", fi, err)
	}
	// A restart finds the secret again.
	_ = m.Close(ctx)
	made = nil
	m2, err := NewManager(Options{DataDir: m.opts.DataDir, Store: global, FlushTimeout: time.Second,
		NewStore: func(c s3.Config) (ObjectStore, error) { made = append(made, c); return own, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(ctx)
	if _, err := m2.Put(ctx, "own", makeRecords("own", 10, 5, 50)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after the restart", 10*time.Second, func() bool { return m2.streamLog("own").Committed() == 15 })
	if len(made) != 1 || made[0].SecretAccessKey != "sk" {
		t.Errorf("after a restart NewStore was called with %+v; want the saved secret", made)
	}
}

// TestRebuildKeepsTheBatch blocks the error output's spool file while a
// partitioned Parquet batch is delivered: the first partition's object is
// written, then a record of the second fails conversion and cannot reach
// the error output, so the batch must be built again. Records put
// meanwhile must not change the batch (its keys), and nothing may be
// committed before the error record is written: every record exactly
// once, in the data or the error output.
func TestRebuildKeepsTheBatch(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	m := testManager(t, dir, store, nil)
	ctx := context.Background()
	cfg := partitionedConfig("rb")
	cfg.Destination.Compression = Uncompressed
	cfg.Destination.Processing.AppendDelimiter = false
	cfg.Destination.FormatConversion = FormatConversion{Enabled: true, Schema: parquet.Schema{Columns: []parquet.Column{
		{Name: "c", Type: "string"}, {Name: "n", Type: "bigint"}}}}
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(dir, "streams", "rb", "spool-"+ErrorTypeFormatConversion)
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	recs := jsonRecords(0, 40, "a", "b")
	recs = append(recs, record.Record{ArrivalTime: time.Now(), Data: []byte(`{"c":"b","n":"not a number"}`)})
	if _, err := m.Put(ctx, "rb", recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first partition's object", 5*time.Second, func() bool { return len(store.keys()) >= 1 })
	time.Sleep(100 * time.Millisecond)
	if c := m.streamLog("rb").Committed(); c != 0 {
		t.Fatalf("committed %d while the error output cannot be written", c)
	}
	if _, err := m.Put(ctx, "rb", jsonRecords(40, 40, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(blocked); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("rb").Committed() == 81 })
	type row struct {
		C string `parquet:"c"`
		N int64  `parquet:"n"`
	}
	seen := map[int64]int{}
	errObjects := 0
	for _, k := range store.keys() {
		body := store.objects[k]
		if strings.HasPrefix(k, "bucket-rb/errors/") {
			errObjects++
			continue
		}
		rows, err := pq.Read[row](bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, r := range rows {
			seen[r.N]++
		}
	}
	for i := range int64(80) {
		if seen[i] != 1 {
			t.Errorf("record %d delivered %d times; want once (objects %v)", i, seen[i], store.keys())
		}
	}
	if errObjects != 1 {
		t.Errorf("%d error objects; want 1: %v", errObjects, store.keys())
	}
}
