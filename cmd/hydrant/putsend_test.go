package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestBatcher(t *testing.T) {
	rec := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	type add struct {
		size  int
		addNL bool
	}
	repeat := func(n int, a add) []add {
		s := make([]add, n)
		for i := range s {
			s[i] = a
		}
		return s
	}
	tests := []struct {
		name string
		adds []add
		want []int // records per batch, in order
	}{
		{"500 records", repeat(1001, add{10, false}), []int{500, 500, 1}},
		{"4 MiB", repeat(9, add{maxRecordBytes, false}), []int{4, 4, 1}},
		{"exactly 4 MiB", append(append(repeat(4, add{maxRecordBytes, false}), add{maxBatchBytes - 4*maxRecordBytes, false}), add{1, false}),
			[]int{5, 1}},
		{"4 MiB and a byte", append(repeat(4, add{maxRecordBytes, false}), add{maxBatchBytes - 4*maxRecordBytes + 1, false}),
			[]int{4, 1}},
		{"added newline counts", append(append(repeat(4, add{maxRecordBytes, false}), add{maxBatchBytes - 4*maxRecordBytes - 1, true}), add{0, true}),
			[]int{5, 1}},
		{"empty record", []add{{0, false}}, []int{1}},
	}
	for _, tt := range tests {
		var bt batcher
		var got []batch
		for _, a := range tt.adds {
			if b := bt.add(rec(a.size), a.addNL); b != nil {
				got = append(got, b)
			}
		}
		if b := bt.flush(); b != nil {
			got = append(got, b)
		}
		var counts []int
		i := 0
		for _, b := range got {
			counts = append(counts, len(b))
			size := 0
			for _, r := range b {
				size += len(r.data)
				want := rec(tt.adds[i].size)
				if tt.adds[i].addNL {
					want = append(want, '\n')
				}
				if r.data == nil || !bytes.Equal(r.data, want) {
					t.Errorf("%s: record %d is %d bytes; want %d", tt.name, i, len(r.data), len(want))
				}
				i++
			}
			if size > maxBatchBytes {
				t.Errorf("%s: batch of %d bytes", tt.name, size)
			}
		}
		if fmt.Sprint(counts) != fmt.Sprint(tt.want) {
			t.Errorf("%s: batches of %v records; want %v", tt.name, counts, tt.want)
		}
	}
}

func TestPutRetriesFailedRecords(t *testing.T) {
	f := newFakeFirehose(t)
	// Record i is failed i%4 times, alternating error codes, three whole
	// requests are throttled and two get their connection closed; every
	// record fits within 10 retries.
	f.fail = func(data string, answered int) string {
		if answered < recordIndex(t, data)%4 {
			return []string{"ServiceUnavailableException", "InternalFailure"}[answered%2]
		}
		return ""
	}
	f.throttle = func(n int) bool { return n == 2 || n == 3 || n == 7 }
	f.drop = func(n int) bool { return n == 5 || n == 11 }
	recs, in := records(2345)
	p, stderr := newTestPutter(t, f, putFlags{maxRetries: 10})

	if err := p.run(context.Background(), context.Background(), stdinInput(strings.NewReader(in))); err != nil {
		t.Fatalf("put: %v\n%s", err, stderr)
	}
	arrived, answered, delivered := f.counts()
	arrivals, answers := 0, 0
	for i, r := range recs {
		if n := delivered[r]; n != 1 {
			t.Errorf("record %d delivered %d times; want 1", i, n)
		}
		if n := answered[r]; n != i%4+1 {
			t.Errorf("record %d answered %d times; want %d", i, n, i%4+1)
		}
		arrivals += arrived[r]
		answers += answered[r]
	}
	if len(delivered) != len(recs) || len(arrived) != len(recs) {
		t.Errorf("%d distinct records arrived and %d delivered; want %d", len(arrived), len(delivered), len(recs))
	}
	if arrivals == answers {
		t.Errorf("no whole request was throttled")
	}
	if got, want := p.retries.Load(), int64(arrivals-len(recs)); got != want {
		t.Errorf("put counted %d retries; the server saw %d", got, want)
	}
	if p.sent.Load() != int64(len(recs)) || p.sentBytes.Load() != int64(len(in)) || p.failed.Load() != 0 {
		t.Errorf("put counted %d records, %d bytes, %d failed; want %d, %d, 0",
			p.sent.Load(), p.sentBytes.Load(), p.failed.Load(), len(recs), len(in))
	}
	summary := regexp.MustCompile(`^sent 2345 records \(0\.\d\d MiB\) in [0-9.]+m?s, \d+ records/s; 0 failed\n$`)
	if !summary.MatchString(stderr.String()) {
		t.Errorf("put printed %q; want a summary matching %s", stderr, summary)
	}
}

func TestPutGivesUpAfterMaxRetries(t *testing.T) {
	f := newFakeFirehose(t)
	f.fail = func(data string, answered int) string {
		if answered < recordIndex(t, data)%5 {
			return "ServiceUnavailableException"
		}
		return ""
	}
	recs, in := records(1000)
	p, stderr := newTestPutter(t, f, putFlags{maxRetries: 2})

	err := p.run(context.Background(), context.Background(), stdinInput(strings.NewReader(in)))
	const lost = 400 // records whose i%5 is 3 or 4 need 3 or 4 retries
	if want := fmt.Sprintf("%d records were not delivered; last error: ServiceUnavailableException: Slow down.", lost); err == nil || err.Error() != want {
		t.Errorf("put: %v; want %s", err, want)
	}
	_, answered, delivered := f.counts()
	for i, r := range recs {
		fails := i % 5
		wantDelivered, wantAnswered := 1, fails+1
		if fails > 2 {
			wantDelivered, wantAnswered = 0, 3
		}
		if delivered[r] != wantDelivered || answered[r] != wantAnswered {
			t.Errorf("record %d delivered %d times in %d answers; want %d in %d",
				i, delivered[r], answered[r], wantDelivered, wantAnswered)
		}
	}
	if p.sent.Load() != 600 || p.failed.Load() != lost {
		t.Errorf("put counted %d sent and %d failed; want 600 and %d", p.sent.Load(), p.failed.Load(), lost)
	}
	if !strings.Contains(stderr.String(), "failed after 2 retries: ServiceUnavailableException: Slow down.\n") ||
		!strings.HasSuffix(stderr.String(), fmt.Sprintf("records/s; %d failed\n", lost)) {
		t.Errorf("put printed %q; want warnings and a summary with %d failed", stderr, lost)
	}
}

func TestPutFatalError(t *testing.T) {
	f := newFakeFirehose(t)
	// A stream that does not exist: every request fails the same way, and
	// retrying cannot help.
	f.refuse = &apiErrorBody{"ResourceNotFoundException", "Firehose nope under account 000000000000 not found."}
	_, in := records(5000)
	p, stderr := newTestPutter(t, f, putFlags{stream: "nope", maxRetries: 10})
	err := p.run(context.Background(), context.Background(), stdinInput(strings.NewReader(in)))
	if want := "ResourceNotFoundException: Firehose nope under account 000000000000 not found."; err == nil || err.Error() != want {
		t.Errorf("put to a missing stream: %v; want %s", err, want)
	}
	if p.sent.Load() != 0 || p.retries.Load() != 0 || p.failed.Load() == 0 {
		t.Errorf("put counted %d sent, %d retries, %d failed; want 0, 0 and some", p.sent.Load(), p.retries.Load(), p.failed.Load())
	}
	if !strings.HasPrefix(stderr.String(), "sent 0 records (0.00 MiB) in ") {
		t.Errorf("put printed %q; want only the summary", stderr)
	}

	// No server at all: the first failed connection ends the run.
	f.srv.Close()
	p, _ = newTestPutter(t, f, putFlags{maxRetries: 10})
	err = p.run(context.Background(), context.Background(), stdinInput(strings.NewReader(in)))
	if want := "cannot reach Hydrant at " + f.srv.URL + ": connect: connection refused"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("put to a closed port: %v; want %s…", err, want)
	}
	if p.sent.Load() != 0 || p.retries.Load() != 0 {
		t.Errorf("put to a closed port counted %d sent, %d retries; want none", p.sent.Load(), p.retries.Load())
	}
}
