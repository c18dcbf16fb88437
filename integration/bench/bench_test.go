package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/hydrantio/hydrant/config"
	"github.com/hydrantio/hydrant/record"
	"github.com/hydrantio/hydrant/sinks/parquet"
	"github.com/hydrantio/hydrant/sinks/webhook"
)

func TestParseSize(t *testing.T) {
	f := func(in string, want int64) {
		t.Helper()
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	f("500MiB", 500<<20)
	f("1GiB", 1<<30)
	f("1.5 GiB", 3<<29)
	f("100MB", 100e6)
	f("4096", 4096)
	for _, bad := range []string{"", "MiB", "-1MiB", "lots"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded; want an error", bad)
		}
	}
}

func TestFastFailed(t *testing.T) {
	f := func(in string, want int, wantOK bool) {
		t.Helper()
		got, ok := fastFailed([]byte(in))
		if got != want || ok != wantOK {
			t.Errorf("fastFailed(%q) = %d, %v; want %d, %v", in, got, ok, want, wantOK)
		}
	}
	f(`{"Encrypted":false,"FailedPutCount":0,"RequestResponses":[]}`, 0, true)
	f(`{"FailedPutCount" : 12, "RequestResponses":[]}`, 12, true)
	f(`{"RequestResponses":[]}`, 0, false)
	f(`{"FailedPutCount":null}`, 0, false)
}

func TestRecordsAreExactSizeJSONLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{512, 1024, 4096} {
		for i := range 200 {
			for _, rec := range [][]byte{makeRecord(rng, i, size), makeRandomRecord(rng, size)} {
				if len(rec) != size || bytes.Count(rec, []byte{'\n'}) != 1 || rec[size-1] != '\n' {
					t.Fatalf("record %d of size %d: %d bytes, %d newlines", i, size, len(rec), bytes.Count(rec, []byte{'\n'}))
				}
			}
			if rec := makeRecord(rng, i, size); !json.Valid(rec) {
				t.Fatalf("record %d is not valid JSON: %s", i, rec)
			}
		}
	}
}

func TestPayloadEncodesPutRecordBatch(t *testing.T) {
	p := newPayload("s-1", 2, 5, 512, false)
	p.withTail(3)
	for _, body := range [][]byte{p.bodies[0], p.bodies[1], p.tail} {
		var req struct {
			DeliveryStreamName string
			Records            []struct{ Data []byte }
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("body is not JSON: %v", err)
		}
		if req.DeliveryStreamName != "s-1" {
			t.Errorf("DeliveryStreamName = %q; want s-1", req.DeliveryStreamName)
		}
		for i, r := range req.Records {
			if len(r.Data) != 512 {
				t.Errorf("record %d: %d bytes; want 512", i, len(r.Data))
			}
		}
	}
	if n := bytes.Count(p.tail, []byte(`"Data"`)); n != 3 {
		t.Errorf("tail holds %d records; want 3", n)
	}
	if got, _ := base64.StdEncoding.DecodeString(p.data[1][4]); len(got) != 512 {
		t.Errorf("data[1][4] decodes to %d bytes; want 512", len(got))
	}
}

func TestMetrics(t *testing.T) {
	m := metrics{
		`go_info{version="go1.26.8"} 1`,
		`hydrant_delivery_records_total{stream="e2e"} 1.048576e+06`,
		`hydrant_delivery_records_total{stream="e2e-2"} 5`,
		`hydrant_backlog_records{stream="a"} 3`,
		`hydrant_backlog_records{stream="b"} 4`,
		`hydrant_backlog_records_other 100`,
		`go_sched_gomaxprocs_threads 2`,
	}
	if got := m.sum("hydrant_delivery_records_total", streamLabel("e2e")); got != 1048576 {
		t.Errorf("delivered{e2e} = %v; want 1048576", got)
	}
	if got := m.sum("hydrant_backlog_records"); got != 7 {
		t.Errorf("sum(backlog) = %v; want 7", got)
	}
	if got := m.sum("go_sched_gomaxprocs_threads"); got != 2 {
		t.Errorf("gomaxprocs = %v; want 2", got)
	}
	if got := m.label("go_info", "version"); got != "go1.26.8" {
		t.Errorf("go_info version = %q; want go1.26.8", got)
	}
}

func TestIngestRatios(t *testing.T) {
	o := &options{concurrency: []int{1, 8}}
	row := func(server string, n int, records int64) ingestRow {
		return ingestRow{server: server, producers: n, recordSize: 1024, dur: time.Second, stats: &producerStats{records: records}}
	}
	r := &results{ingest: []ingestRow{
		row(baselineKey, 1, 1000), row(baselineKey, 8, 2000),
		row(ingestOnlyKey, 1, 900), row(ingestOnlyKey, 8, 1700),
		row(gzipKey, 1, 500), row(gzipKey, 8, 600),
	}}
	if !r.targetsMet() {
		t.Error("targetsMet() = false with ingest-only at 0.90 and 0.85; the GZIP rows have no target")
	}
	var out strings.Builder
	r.printIngest(func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }, o)
	for _, want := range []string{
		"ingest only / baseline                 1       0.90   target ≥ 0.80  ok",
		"                                       8       0.85   target ≥ 0.80  ok",
		"GZIP delivering / baseline             1       0.50   for information (no target)",
		"                                       8       0.30   for information (no target)",
		"hydrant, GZIP delivery running         8        600",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printIngest output lacks %q:\n%s", want, out.String())
		}
	}
	r.ingest[3].stats.records = 1500 // ingest-only at 8: 0.75
	if r.targetsMet() {
		t.Error("targetsMet() = true with ingest-only at 0.75 at 8 producers")
	}
}

func TestParsePhases(t *testing.T) {
	got, err := parsePhases("minio, convert")
	if all, err := parsePhases("clickhouse,webhook"); err != nil || !all["clickhouse"] || !all["webhook"] {
		t.Errorf(`parsePhases("clickhouse,webhook") = %v, %v`, all, err)
	}
	if err != nil || len(got) != 2 || !got["minio"] || !got["convert"] {
		t.Errorf(`parsePhases("minio, convert") = %v, %v; want minio and convert`, got, err)
	}
	for _, bad := range []string{"", "minio,", "s3"} {
		if _, err := parsePhases(bad); err == nil {
			t.Errorf("parsePhases(%q) succeeded; want an error", bad)
		}
	}
}

func TestS3StreamConfigParses(t *testing.T) {
	m := &minioServer{addr: "127.0.0.1:9000"}
	for _, f := range s3Formats {
		data := s3StreamConfig(m, f, f.name+"-1", 16)
		c, err := config.Parse("hydrant.yaml", []byte(data))
		if err != nil {
			t.Fatalf("config of %s does not parse: %v\n%s", f.name, err, data)
		}
		d := c.Streams[0].Destination
		if c.ObjectStore.S3.Endpoint != "http://127.0.0.1:9000" || d.Bucket != f.name+"-1" || d.Buffering.SizeMB != 16 {
			t.Errorf("config of %s: endpoint %q, bucket %q, buffer %d MiB", f.name, c.ObjectStore.S3.Endpoint, d.Bucket, d.Buffering.SizeMB)
		}
		if d.FormatConversion.Enabled != f.parquet {
			t.Errorf("config of %s: format_conversion.enabled = %v; want %v", f.name, d.FormatConversion.Enabled, f.parquet)
		}
	}
}

func TestRecordSchemaFitsRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var buf bytes.Buffer
	w, err := parquet.NewWriter(&buf, recordSchema(), parquet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := w.Write(makeRecord(rng, i, 1024)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := pq.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != 300 {
		t.Errorf("file holds %d rows; want 300", f.NumRows())
	}
}

func TestS3Ratios(t *testing.T) {
	round := func(hydrantSecs, bareSecs float64) s3Round {
		v := &volumeResult{objects: 32, objBytes: 100 << 20, bytes: 400 << 20, records: 400 << 10,
			e2e: time.Duration(hydrantSecs * float64(time.Second)), ingest: time.Second, putTime: time.Second, puts: 32}
		return s3Round{v: v, bare: time.Duration(bareSecs * float64(time.Second))}
	}
	o := &options{concurrency: []int{1, 8}, producers: 8, recordSize: 1024, minioBytes: 400 << 20, minioBufferMB: 16, minioRounds: 2}
	r := &results{
		ingest: []ingestRow{{server: baselineKey, producers: 8, recordSize: 1024, dur: time.Second, stats: &producerStats{records: 200 << 10}}},
		s3: []*s3Result{
			// best hydrant round 10 s (10 MiB/s), best bare 1 s (100 MiB/s): 0.10
			{format: s3Formats[0], rounds: []s3Round{round(10, 2), round(20, 1)}},
			// 1.25 s (80 MiB/s) against 1 s: 0.80
			{format: s3Formats[1], rounds: []s3Round{round(1.25, 1)}},
		},
	}
	if got := r.s3[0].ratio(); got < 0.0999 || got > 0.1001 {
		t.Errorf("GZIP ratio = %v; want 0.10 (best of each row)", got)
	}
	var out strings.Builder
	r.printS3(func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }, o)
	for _, want := range []string{
		"B / A  object MiB/s, GZIP                   0.10   target ≥ 0.70  MISSED   (each round: 0.20 0.05)",
		"C / A  object MiB/s, Parquet                0.80   target ≥ 0.70  ok   (each round: 0.80)",
		"A  MinIO PUT, GZIP objects' sizes             32      100.0   1.00",
		"C  hydrant → MinIO, Parquet (SNAPPY)          32      100.0   1.25",
		"at 0.250 that is",
		"50.0 MiB/s of objects = 0.50 × A",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printS3 output lacks %q:\n%s", want, out.String())
		}
	}
	if r.targetsMet() {
		t.Error("targetsMet() = true with GZIP into MinIO at 0.10")
	}
	r.s3 = r.s3[1:]
	if !r.targetsMet() {
		t.Error("targetsMet() = false with Parquet into MinIO at 0.80 and nothing else measured")
	}
}

func TestCHStreamConfigParses(t *testing.T) {
	data := chStreamConfig("clickhouse", "127.0.0.1:9000", "hydrant_1", 16)
	c, err := config.Parse("hydrant.yaml", []byte(data))
	if err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, data)
	}
	d := c.Streams[0].Destination
	ch := d.ClickHouse
	if len(ch.Addrs) != 1 || ch.Addrs[0] != "127.0.0.1:9000" || ch.Table != "hydrant_1" || !ch.CreateTable || ch.Engine != chEngine {
		t.Errorf("clickhouse = %+v", ch)
	}
	if len(ch.Columns) != len(chColumns) || d.Buffering.SizeMB != 16 {
		t.Errorf("%d columns, %d MiB buffers; want %d, 16", len(ch.Columns), d.Buffering.SizeMB, len(chColumns))
	}
	for i, col := range ch.Columns {
		if col.Name != chColumns[i].name || col.Type != chColumns[i].typ {
			t.Errorf("column %d = %s %s; want %s %s", i, col.Name, col.Type, chColumns[i].name, chColumns[i].typ)
		}
	}
	if got, want := chCreateTable("t"), "CREATE TABLE t (ts DateTime, seq UInt64, user String, event String, country String, url String, "+
		"latency_ms UInt32, status UInt16, ua String, trace String, note String) ENGINE = MergeTree() ORDER BY tuple()"; got != want {
		t.Errorf("chCreateTable(t) = %q; want %q", got, want)
	}
}

func TestCHColumnsCoverRecords(t *testing.T) {
	var rec map[string]any
	if err := json.Unmarshal(makeRecord(rand.New(rand.NewPCG(1, 1)), 7, 1024), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec) != len(chColumns) {
		t.Errorf("records have %d fields, the table %d columns", len(rec), len(chColumns))
	}
	for _, c := range chColumns {
		if _, ok := rec[c.name]; !ok {
			t.Errorf("records have no field %s", c.name)
		}
	}
}

func TestWebhookStreamConfigParses(t *testing.T) {
	for _, e := range webhookEncodings {
		data := webhookStreamConfig(e, "http://127.0.0.1:8080", 5)
		c, err := config.Parse("hydrant.yaml", []byte(data))
		if err != nil {
			t.Fatalf("config of %s does not parse: %v\n%s", e.name, err, data)
		}
		h := c.Streams[0].Destination.HTTP
		if h.URL != "http://127.0.0.1:8080" || h.ContentEncoding != e.label {
			t.Errorf("config of %s: url %q, content_encoding %q", e.name, h.URL, h.ContentEncoding)
		}
	}
}

// TestDiscardReceiverTakesWebhookSink sends batches with Hydrant's own
// webhook sink, without and with GZIP, to the discard receiver: it must
// answer every request as the protocol says and count every record.
func TestDiscardReceiverTakesWebhookSink(t *testing.T) {
	d := &discardReceiver{}
	srv := httptest.NewServer(d)
	defer srv.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	recs := make([]record.Record, 2500)
	for i := range recs {
		recs[i] = record.Record{Data: makeRecord(rng, i, 1024)}
	}
	for _, enc := range []string{webhook.EncodingNone, webhook.EncodingGzip} {
		s, err := webhook.New(webhook.Config{URL: srv.URL, ContentEncoding: enc, MaxRecordsPerRequest: 1000}, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := d.requests.Load()
		if err := s.Send(context.Background(), "batch-"+enc, recs); err != nil {
			t.Fatalf("Send with %s: %v", enc, err)
		}
		if n := d.requests.Load() - before; n != 3 {
			t.Errorf("%s: %d requests; want 3", enc, n)
		}
	}
	if d.records.Load() != 5000 || d.invalid.Load() != 0 {
		t.Errorf("receiver counted %d records, %d invalid requests; want 5000, 0", d.records.Load(), d.invalid.Load())
	}
	if d.bodyBytes.Load() <= d.wireBytes.Load()/2 || d.wireBytes.Load() == 0 {
		t.Errorf("body bytes %d, wire bytes %d: the GZIP bodies were not counted gunzipped", d.bodyBytes.Load(), d.wireBytes.Load())
	}

	// A body that is not the header's request is refused.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"requestId":"other","timestamp":1,"records":[]}`))
	req.Header.Set("X-Amz-Firehose-Request-Id", "this")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || d.invalid.Load() != 1 {
		t.Errorf("mismatched requestId: HTTP %d, %d invalid; want 400, 1", resp.StatusCode, d.invalid.Load())
	}
}

func TestWriteRecordsFile(t *testing.T) {
	p := newPayload("clickhouse", 3, 4, 512, false)
	p.withTail(2)
	path := filepath.Join(t.TempDir(), "records.json")
	n, err := writeRecordsFile(path, p, 5) // bodies 0, 1, 2, 0, then the tail of 2
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(b)) || len(b) != 18*512 {
		t.Fatalf("wrote %d bytes (file %d); want %d", n, len(b), 18*512)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	want := func(body, rec int) []byte {
		d, _ := base64.StdEncoding.DecodeString(p.data[body][rec])
		return d
	}
	for i, l := range lines[:len(lines)-1] {
		body, rec := (i/4)%3, i%4
		if i >= 16 {
			body, rec = 0, i-16 // the tail: body 0's first records
		}
		if !bytes.Equal(l, want(body, rec)) {
			t.Errorf("line %d is not record %d of body %d", i, rec, body)
		}
	}
}

func TestCHRatios(t *testing.T) {
	round := func(clientSecs, hydrantSecs float64) chRound {
		v := &volumeResult{records: 1000, bytes: 1000 << 10, ingest: time.Second, e2e: time.Duration(hydrantSecs * float64(time.Second)),
			putTime: time.Second / 2, puts: 4}
		return chRound{client: time.Duration(clientSecs * float64(time.Second)), clientParts: 1, v: v, parts: 4}
	}
	o := &options{producers: 8, recordSize: 1024}
	// best client 1 s (1000 rows/s), best hydrant 2 s (500 rows/s): 0.50
	r := &results{ch: &chResult{version: "18.16.1", rows: 1000, bufferMB: 16, rounds: []chRound{round(1, 4), round(2, 2)}}}
	if got := r.ch.ratio(); got < 0.4999 || got > 0.5001 {
		t.Errorf("ratio = %v; want 0.50 (best of each row)", got)
	}
	var out strings.Builder
	r.printClickHouse(func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }, o)
	for _, want := range []string{
		"B / A  rows/s                            0.50   target ≥ 1.00  MISSED   (each round: 0.25 1.00)",
		"A  clickhouse-client, JSONEachRow        1000   1.00      1000          1.0          500          0     1",
		"B  hydrant → ClickHouse                  1000   2.00       500          0.5          250          0     4",
		"2000 rows/s while in",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printClickHouse output lacks %q:\n%s", want, out.String())
		}
	}
	if r.targetsMet() {
		t.Error("targetsMet() = true with ClickHouse at 0.50")
	}
	r.ch.rounds = []chRound{round(2, 1)}
	if !r.targetsMet() {
		t.Error("targetsMet() = false with ClickHouse at 2.00 and nothing else measured")
	}
}
