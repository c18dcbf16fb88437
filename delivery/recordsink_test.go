package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/record"
	"github.com/hydrantio/hydrant/sinks/webhook"
)

// fakeSink is a RecordSink that keeps what it was given, fails its first
// calls, and gives up on records whose data contains "reject".
type fakeSink struct {
	mu       sync.Mutex
	failures int                 // calls left to fail
	got      map[string][]string // by batch id, the last delivery
	calls    map[string]int
}

func (f *fakeSink) Deliver(_ context.Context, batchID string, recs []record.Record) ([]FailedRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[batchID]++
	if f.failures > 0 {
		f.failures--
		return nil, errors.New("endpoint down")
	}
	var data []string
	var failed []FailedRecord
	for i, r := range recs {
		if strings.Contains(string(r.Data), "reject") {
			failed = append(failed, FailedRecord{Index: i, Code: "HttpEndpoint.DestinationException", Message: "no", Attempts: 3})
			continue
		}
		data = append(data, string(r.Data))
	}
	f.got[batchID] = data
	return failed, nil
}

func (f *fakeSink) Close() error { return nil }

func TestRecordSinkDestination(t *testing.T) {
	sink := &fakeSink{failures: 2, got: map[string][]string{}, calls: map[string]int{}}
	store := newMemStore()
	var made []string
	m, err := NewManager(Options{DataDir: t.TempDir(), Store: store, FlushTimeout: time.Second,
		Retry: Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		NewRecordSink: func(stream string, d *Destination, _ func(bool, time.Duration)) (RecordSink, error) {
			made = append(made, stream+" "+d.Kind())
			return sink, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx := context.Background()
	cfg := streamConfig("hook", 1, 0, GZIP)
	cfg.Destination.HTTP = webhook.Config{URL: "https://example.test/ingest"}
	cfg.Destination.Backup.Mode = BackupAllData
	cfg.Destination.ErrorOutputPrefix = "failed/"
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	recs := makeRecords("h", 0, 50, 60)
	recs = append(recs, record.Record{ArrivalTime: time.Now(), Data: []byte("please reject me\n")})
	if _, err := m.Put(ctx, "hook", recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("hook").Committed() == uint64(len(recs)) })
	sink.mu.Lock()
	var delivered []string
	for id, data := range sink.got {
		if sink.calls[id] < 3 {
			t.Errorf("batch %s delivered after %d calls; want the two failures retried with the same id", id, sink.calls[id])
		}
		delivered = append(delivered, data...)
	}
	sink.mu.Unlock()
	got := map[string]int{}
	for _, d := range delivered {
		got[d]++
	}
	checkExactlyOnce(t, got, "h", 50)
	if len(made) != 1 || made[0] != "hook http" {
		t.Errorf("NewRecordSink calls %q; want one for hook", made)
	}
	// AllData: every record in the bucket too; the rejected one in the
	// error output with the sink's attempts.
	copies := 0
	var errLines []string
	for key, ls := range objectLines(t, store, "bucket-hook/", GZIP) {
		if strings.HasPrefix(key, "bucket-hook/failed/") {
			errLines = append(errLines, ls...)
			if !strings.Contains(key, "-"+ErrorTypeHTTP) {
				t.Errorf("error object %s; want its key to name %s", key, ErrorTypeHTTP)
			}
			continue
		}
		copies += len(ls)
	}
	if copies != len(recs) {
		t.Errorf("bucket holds %d copies; want all %d records (AllData)", copies, len(recs))
	}
	if len(errLines) != 1 {
		t.Fatalf("error output %q; want the rejected record", errLines)
	}
	var er errorRecord
	if err := json.Unmarshal([]byte(errLines[0]), &er); err != nil || er.AttemptsMade != 3 || string(er.RawData) != "please reject me\n" {
		t.Errorf("error record %s (%v); want the rejected record with 3 attempts", errLines[0], err)
	}
}

func TestRecordSinkValidation(t *testing.T) {
	f := func(name string, edit func(d *Destination), field string) {
		t.Helper()
		cfg := streamConfig("v", 1, 0, GZIP)
		cfg.Destination.HTTP = webhook.Config{URL: "https://example.test/"}
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
	f("bad url", func(d *Destination) { d.HTTP.URL = "ftp://x" }, "destination.http")
	f("two destinations", func(d *Destination) { d.ClickHouse.Addrs = []string{"127.0.0.1:9000"} }, "destination.http")
	f("partitioning", func(d *Destination) {
		d.DynamicPartitioning.Enabled = true
		d.Prefix = "!{partitionKeyFromQuery:a}/"
		d.ErrorOutputPrefix = "e/"
		d.Processing.MetadataExtractionQuery = "{a: .a}"
	}, "destination.dynamic_partitioning.enabled")
	f("object backup mode", func(d *Destination) { d.Backup.Mode = BackupEnabled }, "destination.backup.mode")
	f("backup bucket", func(d *Destination) { d.Backup = Backup{Mode: BackupAllData, Bucket: "other"} }, "destination.backup.bucket")
}
