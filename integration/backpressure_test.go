package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const backpressureConfig = `
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: bp
    max_log_bytes: 4MiB
    destination: {bucket: bp-bucket, prefix: "bp/", buffering: {size_mb: 1, interval_seconds: 0}, compression: UNCOMPRESSED}
  - name: bp-other
    destination: {bucket: bp-other, buffering: {size_mb: 1, interval_seconds: 0}, compression: GZIP}
`

// TestLogFullBackpressure blocks a stream's bucket so nothing can be
// delivered, fills its 4 MiB log until producers get
// ServiceUnavailableException, checks the server keeps serving everything
// else, then unblocks the bucket: delivery catches up, puts succeed again,
// and every acknowledged record is delivered exactly once.
func TestLogFullBackpressure(t *testing.T) {
	needServer(t)
	srv := newServer(t, backpressureConfig)
	// The bucket is a regular file, so every object write fails.
	blocker := filepath.Join(srv.dataDir, "objects", "bp-bucket")
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Start()
	c := newClient(srv.Endpoint())
	ctx := context.Background()
	l := newLedger()

	// 100 records of 8 KiB per batch: the 4 MiB log is full after about
	// five batches. Refused records are not sent again: they must never
	// show up in the objects.
	var full batchResult
	sent := 0
	for i := 0; ; i++ {
		if i == 100 {
			t.Fatalf("sent %d batches (%d MiB) into a stream with a 4 MiB log and a blocked bucket without ServiceUnavailableException (%s)", i, sent>>20, l)
		}
		recs := genRecords(fmt.Sprintf("bp-fill%03d", i), 100, 8<<10)
		res := putBatch(ctx, t, c, "bp", recs, l)
		sent += 100 * 8 << 10
		if res.err != nil {
			t.Fatalf("PutRecordBatch into a full log failed as a whole (%v); want per-record ErrorCode ServiceUnavailableException and FailedPutCount > 0", res.err)
		}
		if len(res.refused) > 0 {
			full = res
			break
		}
	}
	if full.codes["ServiceUnavailableException"] != len(full.refused) {
		t.Errorf("PutRecordBatch into a full log: per-record error codes %v; want ServiceUnavailableException", full.codes)
	}
	t.Logf("log full after %d acknowledged records; the last batch had %d of 100 refused", l.ackedCount(), len(full.refused))

	// PutRecord is refused as a whole. Less than one batch (800 KiB) is
	// left, so a 1,000,000-byte record cannot fit.
	err := putRecord(ctx, c, "bp", makeRecord("bp-single-refused", 1_000_000), l)
	wantCode(t, "PutRecord into a full log", err, "ServiceUnavailableException")

	// Everything else keeps working meanwhile.
	other := newLedger()
	putAll(t, c, "bp-other", genRecords("bp-other", 1000, 100), 500, 1, other)
	if err := putRecord(ctx, c, "bp-other", makeRecord("bp-other-single", 100), other); err != nil {
		t.Errorf("PutRecord into another stream while bp is full: %v", err)
	}
	checkEq(t, "bp status while full", describe(t, c, "bp").DeliveryStreamStatus, "ACTIVE")
	if got := listAll(t, c, 0); len(got) != 2 {
		t.Errorf("ListDeliveryStreams while bp is full = %v; want [bp bp-other]", got)
	}
	if resp, err := http.Get(srv.Endpoint() + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz while a log is full: %v %v; want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	if v := srv.MetricValue("hydrant_throttled_records_total", "bp"); v < float64(len(full.refused)+1) {
		t.Errorf("hydrant_throttled_records_total{stream=bp} = %v; want ≥ %d", v, len(full.refused)+1)
	}
	if v := srv.MetricValue("hydrant_backlog_records", "bp"); v != float64(l.ackedCount()) {
		t.Errorf("hydrant_backlog_records{stream=bp} with the bucket blocked = %v; want %d", v, l.ackedCount())
	}
	if v := srv.MetricValue("hydrant_delivery_data_freshness_seconds", "bp"); v <= 0 {
		t.Errorf("hydrant_delivery_data_freshness_seconds{stream=bp} = %v with delivery blocked; want the age of the oldest undelivered record", v)
	}
	srv.WaitBacklogZero("bp-other", 30*time.Second)
	checkExactlyOnce(t, readBucket(t, srv.dataDir, "bp-other"), other)
	if !strings.Contains(srv.Log(), "bp-bucket") {
		t.Errorf("the server log does not mention the failing bucket bp-bucket; an operator would not know why bp is full")
	}

	// Unblock: delivery (retrying with backoff) catches up, and puts are
	// accepted again.
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	srv.WaitBacklogZero("bp", 90*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		res := putBatch(ctx, t, c, "bp", genRecords(fmt.Sprintf("bp-after%03d", i), 100, 8<<10), l)
		if res.err == nil && len(res.refused) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("puts still refused 30s after the backlog was delivered: %v %v", res.err, res.codes)
		}
		time.Sleep(200 * time.Millisecond)
	}
	putAll(t, c, "bp", genRecords("bp-final", 2000, 1000), 500, 2, l)
	srv.WaitBacklogZero("bp", 60*time.Second)
	checkExactlyOnce(t, readBucket(t, srv.dataDir, "bp-bucket"), l)
	if !srv.Alive() {
		t.Fatal("the server exited")
	}
}
