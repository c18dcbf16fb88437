package delivery

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/record"
	"github.com/hydrantio/hydrant/transform"
)

// fnManager is testManager with transformation functions.
func fnManager(t *testing.T, store ObjectStore, fns map[string]Function) *Manager {
	t.Helper()
	m, err := NewManager(Options{
		DataDir:      t.TempDir(),
		Store:        store,
		SegmentBytes: 256 << 10,
		Retry:        Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		FlushTimeout: 300 * time.Millisecond,
		Functions:    fns,
		Region:       "eu-west-1",
		AccountID:    "123456789012",
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

func fnConfig(name, fn string) StreamConfig {
	cfg := streamConfig(name, 64, 0, GZIP)
	d := &cfg.Destination
	d.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/"
	d.Processing.AppendDelimiter = true
	d.Processing.Function = FunctionProcessing{Name: fn, NumberOfRetries: DefaultFunctionRetries, BufferSizeBytes: MinFunctionBufferBytes}
	return cfg
}

// errorRecords returns the error records under prefix.
func errorRecords(t *testing.T, store *memStore, prefix string) []errorRecord {
	t.Helper()
	var out []errorRecord
	for key, ls := range objectLines(t, store, prefix, GZIP) {
		for _, l := range ls {
			var er errorRecord
			if err := json.Unmarshal([]byte(l), &er); err != nil {
				t.Fatalf("error object %s holds %q: %v", key, l, err)
			}
			out = append(out, er)
		}
	}
	return out
}

func TestFunctionResults(t *testing.T) {
	var mu sync.Mutex
	var events []transform.Event
	fn := transform.Native(func(_ context.Context, ev *transform.Event) (*transform.Response, error) {
		mu.Lock()
		events = append(events, *ev)
		mu.Unlock()
		resp := &transform.Response{}
		for _, r := range ev.Records {
			var n int
			fmt.Sscanf(string(r.Data), "rec-%d", &n)
			res := transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: bytes.ToUpper(bytes.TrimSpace(r.Data))}
			switch {
			case n%7 == 0:
				res = transform.Result{RecordID: r.RecordID, Result: transform.ResultProcessingFailed}
			case n%5 == 0:
				res = transform.Result{RecordID: r.RecordID, Result: transform.ResultDropped}
			}
			resp.Records = append(resp.Records, res)
		}
		return resp, nil
	})
	store := newMemStore()
	m := fnManager(t, store, map[string]Function{"upper": {Transformer: fn}})
	ctx := context.Background()
	if _, err := m.Create(ctx, fnConfig("fn", "upper")); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	recs := makeRecords("rec", 0, n, 1024)
	for i := 0; i < n; i += 100 {
		if _, err := m.Put(ctx, "fn", recs[i:i+100]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("fn").Committed() == n })

	got := map[string]int{}
	for _, ls := range objectLines(t, store, "bucket-fn/", GZIP) {
		for _, l := range ls {
			if strings.HasPrefix(l, "REC-") {
				got[strings.Fields(l)[0]]++
			}
		}
	}
	failed := errorRecords(t, store, "bucket-fn/errors/processing-failed/")
	failedIDs := map[string]bool{}
	for _, er := range failed {
		if er.ErrorCode != transform.CodeProcessingFailed || er.LambdaARN != "arn:aws:lambda:eu-west-1:123456789012:function:upper" || er.AttemptsMade != 1 {
			t.Errorf("error record %+v; want code %s, the function's ARN, 1 attempt", er, transform.CodeProcessingFailed)
		}
		failedIDs[strings.Fields(string(er.RawData))[0]] = true
	}
	for i := range n {
		id := fmt.Sprintf("rec-%08d", i)
		switch {
		case i%7 == 0:
			if !failedIDs[id] {
				t.Errorf("%s answered ProcessingFailed is not in the error output", id)
			}
		case i%5 == 0:
			if got[strings.ToUpper(id)] != 0 || failedIDs[id] {
				t.Errorf("%s answered Dropped was delivered", id)
			}
		default:
			if got[strings.ToUpper(id)] != 1 {
				t.Errorf("%s delivered %d times, transformed; want once", id, got[strings.ToUpper(id)])
			}
		}
	}
	// 1000 KiB of records in buffers of 200 KiB: at least 5 invocations,
	// each within the buffer size plus its last record.
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 5 {
		t.Errorf("%d invocations; want at least 5 for 1000 KiB in 200 KiB buffers", len(events))
	}
	ids := map[string]bool{}
	for _, ev := range events {
		size := 0
		for _, r := range ev.Records {
			size += len(r.Data)
			if ids[r.RecordID] {
				t.Errorf("record id %s given twice", r.RecordID)
			}
			ids[r.RecordID] = true
			if r.ApproximateArrivalTimestamp == 0 {
				t.Errorf("record %s has no arrival timestamp", r.RecordID)
			}
		}
		if size > int(MinFunctionBufferBytes)+1024 {
			t.Errorf("an invocation got %d bytes; want at most the 200 KiB buffer plus one record", size)
		}
		if ev.DeliveryStreamArn != "arn:aws:firehose:eu-west-1:123456789012:deliverystream/fn" || ev.Region != "eu-west-1" || ev.InvocationID == "" {
			t.Errorf("event has arn %q region %q invocation %q", ev.DeliveryStreamArn, ev.Region, ev.InvocationID)
		}
	}
}

func TestFunctionPartitionKeys(t *testing.T) {
	fn := transform.Native(func(_ context.Context, ev *transform.Event) (*transform.Response, error) {
		resp := &transform.Response{}
		for _, r := range ev.Records {
			var v struct{ C string }
			if err := json.Unmarshal(r.Data, &v); err != nil {
				return nil, err
			}
			resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data,
				Metadata: &transform.Metadata{PartitionKeys: map[string]string{"customer": v.C}}})
		}
		return resp, nil
	})
	store := newMemStore()
	m := fnManager(t, store, map[string]Function{"keys": {Transformer: fn}})
	ctx := context.Background()
	cfg := fnConfig("lk", "keys")
	cfg.Destination.Prefix = "data/customer=!{partitionKeyFromLambda:customer}/"
	cfg.Destination.DynamicPartitioning.Enabled = true
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	recs := append(jsonRecords(0, 90, "alpha", "beta", "gamma"), record.Record{ArrivalTime: time.Now(), Data: []byte(`{"c":""}`)})
	if _, err := m.Put(ctx, "lk", recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("lk").Committed() == uint64(len(recs)) })
	n := 0
	for key, ls := range objectLines(t, store, "bucket-lk/data/", GZIP) {
		for _, l := range ls {
			var v struct{ C string }
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(key, "bucket-lk/data/customer="+v.C+"/") {
				t.Errorf("record of %s under %s", v.C, key)
			}
			n++
		}
	}
	if n != 90 {
		t.Errorf("%d records delivered; want 90", n)
	}
	failed := errorRecords(t, store, "bucket-lk/errors/partitioning-failed/")
	if len(failed) != 1 || !strings.Contains(failed[0].ErrorMessage, "empty") {
		t.Errorf("partitioning-failed holds %+v; want the record with an empty key", failed)
	}
}

func TestFunctionFailures(t *testing.T) {
	answer := func(f func(ev *transform.Event) string) transform.Function { return rawFunction(f) }
	for _, tc := range []struct {
		name     string
		fn       transform.Function
		timeout  time.Duration
		retries  int
		code     string
		attempts int
	}{
		{"error", answer(func(*transform.Event) string { return "" }), 0, 1, transform.CodeFunctionError, 2},
		{"garbage", answer(func(*transform.Event) string { return "not json" }), 0, 0, transform.CodeInvalidResponse, 1},
		{"missing", answer(func(ev *transform.Event) string { return `{"records":[]}` }), 0, 2, transform.CodeMissingRecordID, 3},
		{"extra", answer(func(ev *transform.Event) string {
			return fmt.Sprintf(`{"records":[{"recordId":%q,"result":"Ok","data":""},{"recordId":"x","result":"Ok","data":""}]}`, ev.Records[0].RecordID)
		}), 0, 0, transform.CodeUnknownRecordID, 1},
		{"timeout", transform.Native(func(ctx context.Context, _ *transform.Event) (*transform.Response, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}), 50 * time.Millisecond, 1, transform.CodeTimedOut, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			m := fnManager(t, store, map[string]Function{"f": {Transformer: tc.fn, Timeout: tc.timeout}})
			ctx := context.Background()
			cfg := fnConfig("bad", "f")
			cfg.Destination.Processing.Function.NumberOfRetries = tc.retries
			if _, err := m.Create(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			recs := []record.Record{{ArrivalTime: time.Now(), Data: []byte("one")}}
			if _, err := m.Put(ctx, "bad", recs); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("bad").Committed() == 1 })
			failed := errorRecords(t, store, "bucket-bad/errors/processing-failed/")
			if len(failed) != 1 {
				t.Fatalf("error output holds %+v; want the one record", failed)
			}
			er := failed[0]
			if er.ErrorCode != tc.code || er.AttemptsMade != tc.attempts || string(er.RawData) != "one" {
				t.Errorf("error record %+v; want code %s after %d attempts with the source data", er, tc.code, tc.attempts)
			}
		})
	}
}

// rawFunction answers what f returns, or fails when it returns "".
type rawFunction func(ev *transform.Event) string

func (f rawFunction) Invoke(_ context.Context, event []byte) ([]byte, error) {
	var ev transform.Event
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, err
	}
	a := f(&ev)
	if a == "" {
		return nil, transform.Errorf(transform.CodeFunctionError, "boom")
	}
	return []byte(a), nil
}

func (rawFunction) Close() error { return nil }

func TestFunctionRetrySucceeds(t *testing.T) {
	var calls atomic.Int32
	fn := transform.Native(func(_ context.Context, ev *transform.Event) (*transform.Response, error) {
		if calls.Add(1) <= 2 {
			return nil, errors.New("not yet")
		}
		resp := &transform.Response{}
		for _, r := range ev.Records {
			resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data})
		}
		return resp, nil
	})
	store := newMemStore()
	m := fnManager(t, store, map[string]Function{"f": {Transformer: fn}})
	ctx := context.Background()
	if _, err := m.Create(ctx, fnConfig("retry", "f")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, "retry", makeRecords("r", 0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("retry").Committed() == 10 })
	checkExactlyOnce(t, store.records(t, GZIP), "r", 10)
	if n := len(errorRecords(t, store, "bucket-retry/errors/")); n != 0 {
		t.Errorf("%d records in the error output; want none after a successful retry", n)
	}
	if c := calls.Load(); c != 3 {
		t.Errorf("%d invocations; want 3 (two failures, one success)", c)
	}
}

func TestFunctionMustBeDeclared(t *testing.T) {
	m := fnManager(t, newMemStore(), map[string]Function{"known": {Transformer: transform.Native(nil)}})
	_, err := m.Create(context.Background(), fnConfig("x", "unknown"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "destination.processing.function.name" || !strings.Contains(fe.Message, "known") {
		t.Fatalf("Create with an undeclared function = %v; want a FieldError on destination.processing.function.name listing the declared ones", err)
	}
	cfg := streamConfig("y", 1, 0, GZIP)
	cfg.Destination.Prefix = "k=!{partitionKeyFromLambda:k}/"
	cfg.Destination.DynamicPartitioning.Enabled = true
	cfg.Destination.ErrorOutputPrefix = "e/"
	if _, err := m.Create(context.Background(), cfg); !errors.As(err, &fe) || !strings.Contains(fe.Message, "function") {
		t.Fatalf("Create with partitionKeyFromLambda and no function = %v; want a FieldError naming the function", err)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCloudWatchLogsProcessing(t *testing.T) {
	store := newMemStore()
	m := fnManager(t, store, nil)
	ctx := context.Background()
	cfg := streamConfig("cwl", 1, 0, GZIP)
	cfg.Destination.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/"
	p := &cfg.Destination.Processing
	p.Decompression, p.CloudWatchLogs, p.AppendDelimiter = DecompressionGZIP, true, true
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	data := gzipped(t, `{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"g","logStream":"s","subscriptionFilters":["f"],`+
		`"logEvents":[{"id":"1","timestamp":1,"message":"first line"},{"id":"2","timestamp":2,"message":"{\"json\":true}"}]}`)
	control := gzipped(t, `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`)
	notGzip := []byte("plain text")
	notCWL := gzipped(t, `{"hello":"world"}`)
	now := time.Now()
	recs := []record.Record{{ArrivalTime: now, Data: data}, {ArrivalTime: now, Data: control}, {ArrivalTime: now, Data: notGzip}, {ArrivalTime: now, Data: notCWL}}
	if _, err := m.Put(ctx, "cwl", recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 10*time.Second, func() bool { return m.streamLog("cwl").Committed() == 4 })
	var got []string
	for key, ls := range objectLines(t, store, "bucket-cwl/", GZIP) {
		if !strings.Contains(key, "/errors/") {
			got = append(got, ls...)
		}
	}
	if strings.Join(got, "|") != `first line|{"json":true}` {
		t.Errorf("delivered %q; want the two messages, one per line, and no control message", got)
	}
	failed := append(errorRecords(t, store, "bucket-cwl/errors/processing-failed/"), errorRecords(t, store, "bucket-cwl/errors/decompression-failed/")...)
	if n := len(errorRecords(t, store, "bucket-cwl/errors/decompression-failed/")); n != 1 {
		t.Errorf("%d records under decompression-failed; want the one that is not gzip", n)
	}
	codes := map[string][]byte{}
	for _, er := range failed {
		codes[er.ErrorCode] = er.RawData
	}
	if len(failed) != 2 || !bytes.Equal(codes["Decompression.MalformedRecord"], notGzip) || !bytes.Equal(codes["CloudWatchLogProcessing.MalformedRecord"], notCWL) {
		t.Errorf("error output holds %+v; want the record that is not gzip and the one that is not CloudWatch Logs, as they came", failed)
	}
}

// TestUndeclaredFunctionHoldsRecords: a stream whose function the server's
// config no longer declares keeps its records in the log, rather than
// writing them all off to the error output, and delivers them once the
// function is back.
func TestUndeclaredFunctionHoldsRecords(t *testing.T) {
	store := newMemStore()
	dir := t.TempDir()
	identity := transform.Native(func(_ context.Context, ev *transform.Event) (*transform.Response, error) {
		resp := &transform.Response{}
		for _, r := range ev.Records {
			resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data})
		}
		return resp, nil
	})
	open := func(fns map[string]Function) *Manager {
		m, err := NewManager(Options{DataDir: dir, Store: store, Functions: fns,
			Retry: Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}, FlushTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	closeM := func(m *Manager) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	m := open(map[string]Function{"f": {Transformer: identity}})
	if _, err := m.Create(ctx, fnConfig("held", "f")); err != nil {
		t.Fatal(err)
	}
	closeM(m)

	m = open(nil)
	if _, err := m.Put(ctx, "held", makeRecords("h", 0, 20, 100)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if c := m.streamLog("held").Committed(); c != 0 {
		t.Errorf("committed %d records without the function; want them held in the log", c)
	}
	if n := len(errorRecords(t, store, "bucket-held/errors/")); n != 0 {
		t.Errorf("%d records in the error output without the function; want none", n)
	}
	closeM(m)

	m = open(map[string]Function{"f": {Transformer: identity}})
	defer closeM(m)
	waitFor(t, "delivery once the function is back", 10*time.Second, func() bool { return m.streamLog("held").Committed() == 20 })
	checkExactlyOnce(t, store.records(t, GZIP), "h", 20)
}

// TestTinyRecordsAreInvokedInBoundedEvents: the buffer size counts record
// data, so empty records must still be cut into bounded invocations.
func TestTinyRecordsAreInvokedInBoundedEvents(t *testing.T) {
	var most atomic.Int64
	fn := transform.Native(func(_ context.Context, ev *transform.Event) (*transform.Response, error) {
		if n := int64(len(ev.Records)); n > most.Load() {
			most.Store(n)
		}
		resp := &transform.Response{}
		for _, r := range ev.Records {
			resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultDropped})
		}
		return resp, nil
	})
	store := newMemStore()
	m := fnManager(t, store, map[string]Function{"f": {Transformer: fn}})
	ctx := context.Background()
	cfg := fnConfig("tiny", "f")
	cfg.Destination.Processing.DeAggregation = SubRecordDelimited
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	recs := make([]record.Record, 60)
	for i := range recs {
		recs[i] = record.Record{ArrivalTime: time.Now(), Data: []byte(strings.Repeat("\n", 499))} // 500 empty sub-records
	}
	if _, err := m.Put(ctx, "tiny", recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", 20*time.Second, func() bool { return m.streamLog("tiny").Committed() == 60 })
	if n := most.Load(); n == 0 || n > maxFunctionRecords {
		t.Errorf("the largest invocation had %d records; want 1 to %d", n, maxFunctionRecords)
	}
}
