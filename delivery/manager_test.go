package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hydrantio/hydrant/delivery/compress"
	"github.com/hydrantio/hydrant/record"
)

// memStore is an in-memory ObjectStore that can be made to fail.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte // bucket/key → body
	puts    int
	fail    error
}

func newMemStore() *memStore { return &memStore{objects: map[string][]byte{}} }

func (s *memStore) PutObject(_ context.Context, bucket, key string, body io.Reader, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.fail != nil {
		return s.fail
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("body holds %d bytes; size says %d", len(b), size)
	}
	s.objects[bucket+"/"+key] = b
	return nil
}

func (s *memStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *memStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for k := range s.objects {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// records decompresses every object and counts each newline-terminated record.
func (s *memStore) records(t *testing.T, format string) map[string]int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]int{}
	for k, body := range s.objects {
		r, err := compress.NewReader(format, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("object %s: %v", k, err)
		}
		raw, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("object %s: cannot decompress: %v", k, err)
		}
		for _, line := range strings.SplitAfter(string(raw), "\n") {
			if line != "" {
				counts[line]++
			}
		}
	}
	return counts
}

func testManager(t *testing.T, dir string, store ObjectStore, reg prometheus.Registerer) *Manager {
	t.Helper()
	m, err := NewManager(Options{
		DataDir:      dir,
		Store:        store,
		Registerer:   reg,
		SegmentBytes: 256 << 10,
		Retry:        Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		FlushTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	})
	return m
}

func streamConfig(name string, sizeMB, intervalSec int, compression string) StreamConfig {
	return StreamConfig{Name: name, Destination: Destination{
		Bucket:      "bucket-" + strings.ToLower(strings.ReplaceAll(name, "_", "-")),
		Buffering:   BufferingHints{SizeMB: sizeMB, IntervalSeconds: intervalSec},
		Compression: compression,
	}}
}

func makeRecords(prefix string, from, n, size int) []record.Record {
	recs := make([]record.Record, n)
	now := time.Now()
	for i := range recs {
		line := fmt.Sprintf("%s-%08d ", prefix, from+i)
		if pad := size - len(line) - 1; pad > 0 {
			line += strings.Repeat("x", pad)
		}
		recs[i] = record.Record{ArrivalTime: now, Data: []byte(line + "\n")}
	}
	return recs
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func checkExactlyOnce(t *testing.T, got map[string]int, prefix string, n int) {
	t.Helper()
	seen := 0
	for rec, c := range got {
		if !strings.HasPrefix(rec, prefix+"-") {
			continue
		}
		if c != 1 {
			t.Errorf("record %.20q delivered %d times; want once", rec, c)
		}
		seen++
	}
	if seen != n {
		t.Errorf("delivered %d distinct %s records; want %d", seen, prefix, n)
	}
}

func TestDeliveryBuffersBySize(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	if _, err := m.Create(context.Background(), streamConfig("bysize", 1, 900, GZIP)); err != nil {
		t.Fatal(err)
	}
	// 3.5 MiB of 1 KiB records: three full 1 MiB buffers are due at once;
	// the last half buffer waits for its 900 s interval.
	const n = 3584
	for i := 0; i < n; i += 500 {
		if _, err := m.Put(context.Background(), "bysize", makeRecords("r", i, min(500, n-i), 1024)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three objects", 10*time.Second, func() bool { return len(store.keys()) == 3 })
	time.Sleep(100 * time.Millisecond)
	if k := store.keys(); len(k) != 3 {
		t.Fatalf("objects = %d (%v); want 3 full buffers and the rest still buffered", len(k), k)
	}
	for _, k := range store.keys() {
		if !strings.HasSuffix(k, ".gz") || !strings.HasPrefix(k, "bucket-bysize/") {
			t.Errorf("key %q: want bucket-bysize/….gz", k)
		}
	}
	got := store.records(t, GZIP)
	if len(got) != 3*1024 {
		t.Errorf("delivered %d records; want %d (3 × 1 MiB)", len(got), 3*1024)
	}
}

func TestDeliveryIntervalZeroDeliversAtOnce(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	if _, err := m.Create(context.Background(), streamConfig("asap", 5, 0, Uncompressed)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(context.Background(), "asap", makeRecords("a", 0, 3, 10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery of a 0-interval stream", 5*time.Second, func() bool { return len(store.records(t, Uncompressed)) == 3 })
}

func TestDeliveryByInterval(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	if _, err := m.Create(context.Background(), streamConfig("interval", 5, 1, ZSTD)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := m.Put(context.Background(), "interval", makeRecords("i", 0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after the 1 s interval", 5*time.Second, func() bool { return len(store.keys()) == 1 })
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("delivered after %v; want the 1 s buffering interval to pass first", el)
	}
	checkExactlyOnce(t, store.records(t, ZSTD), "i", 10)
}

func TestDeliveryRetriesUntilStoreRecovers(t *testing.T) {
	store := newMemStore()
	store.setFail(errors.New("disk on fire"))
	reg := prometheus.NewRegistry()
	m := testManager(t, t.TempDir(), store, reg)
	if _, err := m.Create(context.Background(), streamConfig("retry", 1, 0, Snappy)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i += 500 {
		if _, err := m.Put(context.Background(), "retry", makeRecords("x", i, 500, 200)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "failed attempts", 5*time.Second, func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return store.puts >= 3
	})
	if n := len(store.keys()); n != 0 {
		t.Fatalf("objects while the store fails = %d; want 0", n)
	}
	if v := testutil.ToFloat64(m.metrics.deliveryAttempts.WithLabelValues("retry", "error")); v < 3 {
		t.Errorf("hydrant_delivery_attempts_total{result=error} = %v; want ≥ 3", v)
	}
	time.Sleep(50 * time.Millisecond)
	if f := freshness(t, reg, "retry"); f <= 0 {
		t.Errorf("data freshness while stuck = %v; want > 0", f)
	}
	store.setFail(nil)
	waitFor(t, "delivery after recovery", 10*time.Second, func() bool { return len(store.records(t, Snappy)) == 2000 })
	checkExactlyOnce(t, store.records(t, Snappy), "x", 2000)
	waitFor(t, "freshness back to 0", 5*time.Second, func() bool { return freshness(t, reg, "retry") == 0 })
}

func freshness(t *testing.T, reg *prometheus.Registry, stream string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hydrant_delivery_data_freshness_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stream" && l.GetValue() == stream {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no freshness series for stream %q", stream)
	return 0
}

// TestRestartRedeliversPendingBatchToSameKey is the exactly-once property:
// a batch whose write was interrupted goes to the same key after a restart,
// even though more records arrived meanwhile and the buffers now differ.
func TestRestartRedeliversPendingBatchToSameKey(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	store.setFail(errors.New("unreachable"))
	m := testManager(t, dir, store, nil)
	if _, err := m.Create(context.Background(), streamConfig("crash", 1, 0, GZIP)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(context.Background(), "crash", makeRecords("c", 0, 100, 100)); err != nil {
		t.Fatal(err)
	}
	pendingPath := filepath.Join(dir, "streams", "crash", pendingFile)
	waitFor(t, "the delivery intent", 5*time.Second, func() bool { _, err := os.Stat(pendingPath); return err == nil })
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	intent, err := os.ReadFile(pendingPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pendingPath+".before", intent, 0o644); err != nil {
		t.Fatal(err)
	}

	// More records land in the log before the stream restarts.
	store2 := newMemStore()
	down := newMemStore()
	down.setFail(errors.New("still unreachable"))
	m2 := testManager(t, dir, down, nil)
	if _, err := m2.Put(context.Background(), "crash", makeRecords("c", 100, 100, 100)); err != nil {
		t.Fatal(err)
	}
	_ = m2.Close(context.Background())
	m3 := testManager(t, dir, store2, nil)
	_ = m3
	waitFor(t, "all 200 records", 10*time.Second, func() bool { return len(store2.records(t, GZIP)) == 200 })
	checkExactlyOnce(t, store2.records(t, GZIP), "c", 200)
	// The intent names the first 100 records; their object's key ends in
	// that offset range.
	p, ok, err := readPending(pendingPath + ".before")
	if err != nil || !ok {
		t.Fatalf("readPending = %v, %v", ok, err)
	}
	found := false
	for _, k := range store2.keys() {
		if strings.Contains(k, fmt.Sprintf("-%020d-%020d-", p.First, p.Last)) {
			found = true
		}
	}
	if !found {
		t.Errorf("no object has the interrupted batch's key; intent %+v, keys %v", p, store2.keys())
	}
}

func TestLogFullThenRecovers(t *testing.T) {
	store := newMemStore()
	store.setFail(errors.New("down"))
	m := testManager(t, t.TempDir(), store, nil)
	cfg := streamConfig("full", 1, 0, Uncompressed)
	cfg.MaxLogBytes = MinMaxLogBytes
	if _, err := m.Create(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	acked := 0
	var full bool
	for i := 0; i < 100 && !full; i++ {
		_, err := m.Put(context.Background(), "full", makeRecords("f", acked, 100, 1000))
		switch {
		case errors.Is(err, ErrLogFull):
			full = true
		case err != nil:
			t.Fatal(err)
		default:
			acked += 100
		}
	}
	if !full {
		t.Fatalf("put %d records into a 4 MiB log without ErrLogFull", acked)
	}
	if v := testutil.ToFloat64(m.metrics.throttledRecords.WithLabelValues("full")); v != 100 {
		t.Errorf("throttled records = %v; want 100", v)
	}
	store.setFail(nil)
	waitFor(t, "room in the log", 10*time.Second, func() bool {
		_, err := m.Put(context.Background(), "full", makeRecords("f", acked, 100, 1000))
		if err == nil {
			acked += 100
		}
		return err == nil
	})
	waitFor(t, "every acknowledged record", 10*time.Second, func() bool { return len(store.records(t, Uncompressed)) == acked })
	checkExactlyOnce(t, store.records(t, Uncompressed), "f", acked)
}

func TestDeleteDrainsBacklog(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	m := testManager(t, dir, store, nil)
	if _, err := m.Create(context.Background(), streamConfig("gone", 128, 900, GZIP)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(context.Background(), "gone", makeRecords("g", 0, 500, 100)); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(context.Background(), "gone", false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(context.Background(), "gone", makeRecords("g", 500, 1, 100)); !errors.Is(err, ErrStreamNotActive) && !errors.Is(err, ErrStreamNotFound) {
		t.Errorf("Put on a deleting stream = %v; want ErrStreamNotActive or ErrStreamNotFound", err)
	}
	waitFor(t, "the stream to disappear", 10*time.Second, func() bool { _, err := m.Describe("gone"); return errors.Is(err, ErrStreamNotFound) })
	checkExactlyOnce(t, store.records(t, GZIP), "g", 500)
	if _, err := os.Stat(filepath.Join(dir, "streams", "gone")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stream directory still there after delete: %v", err)
	}
	// The name is free again, with fresh offsets and a new ID, so keys never collide.
	if _, err := m.Create(context.Background(), streamConfig("gone", 1, 0, GZIP)); err != nil {
		t.Fatal(err)
	}
}

func TestForceDeleteDiscards(t *testing.T) {
	store := newMemStore()
	store.setFail(errors.New("down"))
	m := testManager(t, t.TempDir(), store, nil)
	if _, err := m.Create(context.Background(), streamConfig("forced", 1, 0, GZIP)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(context.Background(), "forced", makeRecords("z", 0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(context.Background(), "forced", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "forced deletion", 5*time.Second, func() bool { _, err := m.Describe("forced"); return errors.Is(err, ErrStreamNotFound) })
}

func TestStreamsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	down := newMemStore()
	down.setFail(errors.New("down")) // so the records are still in the log at the restart
	m := testManager(t, dir, down, nil)
	ctx := context.Background()
	info, err := m.Create(ctx, streamConfig("keep", 5, 900, GZIP))
	if err != nil {
		t.Fatal(err)
	}
	dest := info.Config.Destination
	dest.Prefix = "new/"
	if err := m.UpdateDestination(ctx, "keep", 1, dest); err != nil {
		t.Fatal(err)
	}
	if err := m.UpdateDestination(ctx, "keep", 1, dest); !errors.Is(err, ErrVersionMismatch) {
		t.Errorf("UpdateDestination(stale version) = %v; want ErrVersionMismatch", err)
	}
	if _, err := m.Put(ctx, "keep", makeRecords("k", 0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	m2 := testManager(t, dir, store, nil)
	got, err := m2.Describe("keep")
	if err != nil {
		t.Fatal(err)
	}
	if got.VersionID != 2 || got.Config.Destination.Prefix != "new/" || got.ID != info.ID || got.Source != SourceAPI {
		t.Errorf("after restart: %+v; want version 2, prefix new/, id %s, source api", got, info.ID)
	}
	if err := m2.Delete(ctx, "keep", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backlog from before the restart", 5*time.Second, func() bool { return len(store.records(t, GZIP)) == 10 })
	for _, k := range store.keys() {
		if !strings.HasPrefix(k, "bucket-keep/new/") {
			t.Errorf("key %q does not use the updated prefix", k)
		}
	}
}

func TestApplyConfig(t *testing.T) {
	dir := t.TempDir()
	m := testManager(t, dir, newMemStore(), nil)
	ctx := context.Background()
	a := streamConfig("a", 5, 60, GZIP)
	if err := m.ApplyConfig(ctx, []StreamConfig{a}); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "a", false); !errors.Is(err, ErrConfigManaged) {
		t.Errorf("Delete(config stream) = %v; want ErrConfigManaged", err)
	}
	if err := m.UpdateDestination(ctx, "a", 1, a.Destination); !errors.Is(err, ErrConfigManaged) {
		t.Errorf("UpdateDestination(config stream) = %v; want ErrConfigManaged", err)
	}
	// Same config again: no new version.
	if err := m.ApplyConfig(ctx, []StreamConfig{a}); err != nil {
		t.Fatal(err)
	}
	if info, _ := m.Describe("a"); info.VersionID != 1 {
		t.Errorf("version after re-applying the same config = %d; want 1", info.VersionID)
	}
	a.Destination.Compression = ZSTD
	if err := m.ApplyConfig(ctx, []StreamConfig{a}); err != nil {
		t.Fatal(err)
	}
	if info, _ := m.Describe("a"); info.VersionID != 2 || info.Config.Destination.Compression != ZSTD {
		t.Errorf("after a config change: version %d, compression %s; want 2, ZSTD", info.VersionID, info.Config.Destination.Compression)
	}
	// Dropped from the config: kept, and now deletable through the API.
	if err := m.ApplyConfig(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if info, err := m.Describe("a"); err != nil || info.Source != SourceAPI {
		t.Errorf("stream dropped from config: %+v, %v; want it kept with source api", info, err)
	}
	bad := streamConfig("b", 500, 60, GZIP)
	err := m.ApplyConfig(ctx, []StreamConfig{bad})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "destination.buffering.size_mb" {
		t.Errorf("ApplyConfig(size 500) = %v; want a FieldError on destination.buffering.size_mb", err)
	}
}

func TestConcurrentPutsAcrossStreams(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	ctx := context.Background()
	for _, n := range []string{"s1", "s2"} {
		if _, err := m.Create(ctx, streamConfig(n, 1, 0, GZIP)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"s1", "s2"}[p%2]
			for i := 0; i < 20; i++ {
				if _, err := m.Put(ctx, name, makeRecords(fmt.Sprintf("%s-p%d", name, p), i*50, 50, 300)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "every record", 10*time.Second, func() bool { return len(store.records(t, GZIP)) == 8*20*50 })
	for _, c := range store.records(t, GZIP) {
		if c != 1 {
			t.Fatalf("a record was delivered %d times", c)
		}
	}
}

func TestDotNamesRejected(t *testing.T) {
	m := testManager(t, t.TempDir(), newMemStore(), nil)
	for _, name := range []string{".", "..", ".hidden"} {
		_, err := m.Create(context.Background(), streamConfig(name, 1, 0, GZIP))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "name" {
			t.Errorf("Create(%q) = %v; want a FieldError on name", name, err)
		}
	}
}

// TestRecreateAfterDelete creates a stream again as soon as its deletion is
// visible: the new stream must keep its directory and its records.
func TestRecreateAfterDelete(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	m := testManager(t, dir, store, nil)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if _, err := m.Create(ctx, streamConfig("again", 1, 0, Uncompressed)); err != nil {
			t.Fatalf("round %d: Create = %v", i, err)
		}
		if _, err := m.Put(ctx, "again", makeRecords(fmt.Sprintf("round%02d", i), 0, 5, 50)); err != nil {
			t.Fatalf("round %d: Put = %v", i, err)
		}
		if err := m.Delete(ctx, "again", false); err != nil {
			t.Fatalf("round %d: Delete = %v", i, err)
		}
		waitFor(t, "deletion", 5*time.Second, func() bool { _, err := m.Describe("again"); return errors.Is(err, ErrStreamNotFound) })
	}
	if _, err := m.Create(ctx, streamConfig("again", 1, 900, Uncompressed)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, "again", makeRecords("last", 0, 5, 50)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "streams", "again", "stream.json")); err != nil {
		t.Fatalf("the re-created stream lost its directory: %v", err)
	}
	got := store.records(t, Uncompressed)
	for i := 0; i < 20; i++ {
		checkExactlyOnce(t, got, fmt.Sprintf("round%02d", i), 5)
	}
}

func TestInterruptedDeletionIsFinishedAtStart(t *testing.T) {
	dir := t.TempDir()
	m := testManager(t, dir, newMemStore(), nil)
	if _, err := m.Create(context.Background(), streamConfig("half", 1, 0, GZIP)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A crash between the move to the trash and its removal.
	trash := filepath.Join(dir, "trash", "gone-0123456789abcdef")
	if err := os.MkdirAll(filepath.Join(trash, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	m2 := testManager(t, dir, newMemStore(), nil)
	if _, err := os.Stat(trash); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("trash left after start: %v", err)
	}
	if _, err := m2.Describe("half"); err != nil {
		t.Errorf("Describe(half) after restart = %v", err)
	}
}

// TestCloseFlushesOpenBuffer: a graceful stop delivers what is buffered
// instead of leaving it for the next start.
func TestCloseFlushesOpenBuffer(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	if _, err := m.Create(context.Background(), streamConfig("flush", 5, 900, GZIP)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(context.Background(), "flush", makeRecords("fl", 0, 50, 100)); err != nil {
		t.Fatal(err)
	}
	if n := len(store.keys()); n != 0 {
		t.Fatalf("objects before Close = %d; want 0 (900 s interval)", n)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, store.records(t, GZIP), "fl", 50)
}

// bucketStore fails every put to one bucket and passes the rest to next.
type bucketStore struct {
	next *memStore
	bad  string
}

func (s bucketStore) PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64) error {
	if bucket == s.bad {
		return errors.New("bucket " + bucket + " is down")
	}
	return s.next.PutObject(ctx, bucket, key, body, size)
}

// TestSlowStreamDoesNotHoldUpOthers: a stream whose destination fails keeps
// retrying while another stream delivers as usual.
func TestSlowStreamDoesNotHoldUpOthers(t *testing.T) {
	store := newMemStore()
	m := testManager(t, t.TempDir(), bucketStore{next: store, bad: "bucket-stuck"}, nil)
	ctx := context.Background()
	for _, n := range []string{"stuck", "fine"} {
		if _, err := m.Create(ctx, streamConfig(n, 1, 0, GZIP)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		for _, n := range []string{"stuck", "fine"} {
			if _, err := m.Put(ctx, n, makeRecords(n, i*100, 100, 200)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "the healthy stream's records", 5*time.Second, func() bool { return len(store.records(t, GZIP)) == 500 })
	checkExactlyOnce(t, store.records(t, GZIP), "fine", 500)
	if info, _ := m.Describe("stuck"); info.Status != StatusActive {
		t.Errorf("stuck stream status = %s; want ACTIVE while it retries", info.Status)
	}
	if st := m.streams["stuck"].log.Stats(); st.Committed != 0 {
		t.Errorf("stuck stream committed offset %d; want 0: nothing was delivered", st.Committed)
	}
}

// TestForceDeleteSurvivesRestart: a force delete that a restart interrupts
// still discards the backlog.
func TestForceDeleteSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	down := newMemStore()
	down.setFail(errors.New("down"))
	m := testManager(t, dir, down, nil)
	if _, err := m.Create(context.Background(), streamConfig("doomed", 1, 900, GZIP)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(context.Background(), "doomed", makeRecords("d", 0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// As a crash right after DeleteDeliveryStream(AllowForceDelete) leaves it.
	sdir := filepath.Join(dir, "streams", "doomed")
	info, err := readStreamInfo(sdir)
	if err != nil {
		t.Fatal(err)
	}
	info.Status, info.ForceDelete = StatusDeleting, true
	if err := writeStreamInfo(sdir, info); err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	m2 := testManager(t, dir, store, nil)
	waitFor(t, "the forced deletion to finish", 5*time.Second, func() bool { _, err := m2.Describe("doomed"); return errors.Is(err, ErrStreamNotFound) })
	if k := store.keys(); len(k) != 0 {
		t.Errorf("a forced deletion delivered %v; want the backlog discarded", k)
	}
}

// TestStoppedWorkersReleaseCompressors: stopping streams in the middle of a
// GZIP buffer leaves no compressor goroutines behind.
func TestStoppedWorkersReleaseCompressors(t *testing.T) {
	base := runtime.NumGoroutine()
	store := newMemStore()
	m := testManager(t, t.TempDir(), store, nil)
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("gz%d", i)
		if _, err := m.Create(context.Background(), streamConfig(name, 5, 900, GZIP)); err != nil {
			t.Fatal(err)
		}
		// 1.5 MiB: more than a GZIP block, so its goroutines are busy.
		if _, err := m.Put(context.Background(), name, makeRecords(name, 0, 1536, 1024)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // let the workers open their buffers
	for i := 0; i < 5; i++ {
		if err := m.Delete(context.Background(), fmt.Sprintf("gz%d", i), true); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the deletions", 5*time.Second, func() bool { return len(m.List()) == 0 })
	waitFor(t, fmt.Sprintf("goroutines back to %d", base), 5*time.Second, func() bool { return runtime.NumGoroutine() <= base })
}

func TestReadPending(t *testing.T) {
	dir := t.TempDir()
	s := &stream{dir: dir}
	want := pending{First: 10, Last: 19, StreamID: "id", Version: 2, Destination: Destination{Bucket: "b", Prefix: "k/", Compression: GZIP}}
	if err := s.writePending(want); err != nil {
		t.Fatal(err)
	}
	// A shorter intent written over a longer one.
	if err := s.writePending(pending{First: 1, Last: 2, Destination: Destination{Bucket: "b", Prefix: "long/" + strings.Repeat("k", 200)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.writePending(want); err != nil {
		t.Fatal(err)
	}
	s.closeIntent()
	path := filepath.Join(dir, pendingFile)
	got, ok, err := readPending(path)
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("readPending = %+v, %v, %v; want %+v, true, nil", got, ok, err, want)
	}
	raw, _ := os.ReadFile(path)
	flipped := bytes.Clone(raw)
	flipped[8+5] ^= 1 // inside the JSON of the current intent
	for _, torn := range [][]byte{nil, raw[:5], raw[:20], append(append([]byte{}, raw[:30]...), 0xff), flipped} {
		if err := os.WriteFile(path, torn, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := readPending(path); ok || err != nil {
			t.Errorf("readPending(torn %d bytes) = %+v, %v, %v; want not ok, no error", len(torn), got, ok, err)
		}
	}
}
