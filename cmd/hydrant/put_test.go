package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
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

// newTestPutter returns a putter that sends to f with short backoffs, and
// the buffer its messages go to.
func newTestPutter(t *testing.T, f *fakeFirehose, flags putFlags) (*putter, *bytes.Buffer) {
	t.Helper()
	if flags.stream == "" {
		flags.stream = "s"
	}
	if flags.concurrency == 0 {
		flags.concurrency = 4
	}
	client, err := newFirehoseClient(context.Background(), f.opts(), withMaxConns(flags.concurrency), func(o *firehose.Options) {
		o.Retryer = aws.NopRetryer{}
	})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	p := newPutter(client, f.srv.URL, &flags, &console{w: &stderr})
	p.backoff = backoff{base: time.Millisecond, max: 4 * time.Millisecond}
	return p, &stderr
}

// records returns n distinct newline-terminated records and their
// concatenation.
func records(n int) ([]string, string) {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"i":%d,"pad":%q}`+"\n", i, strings.Repeat("p", i%97))
	}
	return recs, strings.Join(recs, "")
}

func recordIndex(t *testing.T, data string) int {
	m := regexp.MustCompile(`^\{"i":(\d+),`).FindStringSubmatch(data)
	if m == nil {
		t.Errorf("unexpected record %q", data)
		return 0
	}
	i, _ := strconv.Atoi(m[1])
	return i
}

func stdinInput(r io.Reader) []input { return []input{{name: "stdin", stdin: r}} }

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

func TestPutLines(t *testing.T) {
	long := func(c string, n int, end string) string { return strings.Repeat(c, n-len(end)) + end }
	a := []string{
		"first\n",
		"\n",
		long("a", maxRecordBytes, "\n"),     // exactly the limit with its newline
		long("b", maxRecordBytes+1, "\n"),   // a byte over, but not without its newline
		long("c", 3*maxRecordBytes, "\n"),   // far over, longer than any buffer
		long("d", maxRecordBytes+2, "\r\n"), // over, but not without its line ending
		"crlf\r\n",
		"last without newline",
	}
	b := []string{long("e", maxRecordBytes, "")} // over once its newline is added
	dir := t.TempDir()
	pathA, pathB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	for path, lines := range map[string][]string{pathA: a, pathB: b} {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type skip struct {
		path       string
		line, size int
	}
	tests := []struct {
		noNewline bool
		want      []string
		skipped   []skip
	}{
		{false, []string{a[0], a[1], a[2], a[6], a[7] + "\n"},
			[]skip{{pathA, 4, len(a[3])}, {pathA, 5, len(a[4])}, {pathA, 6, len(a[5])}, {pathB, 1, len(b[0])}}},
		{true, []string{"first", "", strings.TrimSuffix(a[2], "\n"), strings.TrimSuffix(a[3], "\n"),
			strings.TrimSuffix(a[5], "\r\n"), "crlf", a[7], b[0]},
			[]skip{{pathA, 5, len(a[4])}}},
	}
	for _, tt := range tests {
		f := newFakeFirehose(t)
		p, stderr := newTestPutter(t, f, putFlags{noNewline: tt.noNewline, concurrency: 1})
		err := p.run(context.Background(), context.Background(), []input{{name: pathA, path: pathA}, {name: pathB, path: pathB}})
		last := tt.skipped[len(tt.skipped)-1]
		want := fmt.Sprintf("%d %s not delivered; last error: %s:%d: line over the 1,000 KiB record limit",
			len(tt.skipped), plural(int64(len(tt.skipped)), "record was", "records were"), last.path, last.line)
		if err == nil || err.Error() != want {
			t.Errorf("noNewline=%v: put: %v; want %s", tt.noNewline, err, want)
		}
		for _, s := range tt.skipped {
			w := fmt.Sprintf("hydrant: %s:%d: line of %d bytes is over the 1,000 KiB record limit; skipped\n", s.path, s.line, s.size)
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("noNewline=%v: put printed %q; want %q", tt.noNewline, stderr, w)
			}
		}
		_, _, delivered := f.counts()
		total := 0
		for _, n := range delivered {
			total += n
		}
		for _, w := range tt.want {
			if delivered[w] != 1 {
				t.Errorf("noNewline=%v: record of %d bytes %.10q… delivered %d times; want once", tt.noNewline, len(w), w, delivered[w])
			}
		}
		if total != len(tt.want) {
			t.Errorf("noNewline=%v: %d records delivered; want %d", tt.noNewline, total, len(tt.want))
		}
		if p.failed.Load() != int64(len(tt.skipped)) || p.sent.Load() != int64(len(tt.want)) {
			t.Errorf("noNewline=%v: %d sent, %d failed; want %d, %d", tt.noNewline, p.sent.Load(), p.failed.Load(), len(tt.want), len(tt.skipped))
		}
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

func TestPutInterrupt(t *testing.T) {
	f := newFakeFirehose(t)
	recs, in := records(1234)
	p, stderr := newTestPutter(t, f, putFlags{})
	// A producer that writes its records and then goes quiet without
	// closing the pipe: put must send them without waiting for a full batch,
	// and stop reading when interrupted.
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(in))
	readCtx, interrupt := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.run(readCtx, context.Background(), stdinInput(pr)) }()

	deadline := time.Now().Add(10 * time.Second)
	for p.sent.Load() < int64(len(recs)) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	interrupt()
	err := <-errc
	if err == nil || err.Error() != "interrupted before the end of the input" {
		t.Errorf("interrupted put: %v; want interrupted", err)
	}
	_, _, delivered := f.counts()
	for i, r := range recs {
		if delivered[r] != 1 {
			t.Errorf("record %d delivered %d times; want 1", i, delivered[r])
		}
	}
	if !strings.HasPrefix(stderr.String(), "sent 1234 records") {
		t.Errorf("put printed %q; want a summary of 1234 records", stderr)
	}
}

func TestPutAbandon(t *testing.T) {
	f := newFakeFirehose(t)
	f.block = make(chan struct{})
	defer close(f.block)
	_, in := records(10)
	p, _ := newTestPutter(t, f, putFlags{})
	sendCtx, abandon := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.run(context.Background(), sendCtx, stdinInput(strings.NewReader(in))) }()
	for len(f.requestsOf("PutRecordBatch")) == 0 {
		time.Sleep(time.Millisecond)
	}
	abandon()
	if err := <-errc; !errors.Is(err, errAbandoned) {
		t.Errorf("abandoned put: %v; want %v", err, errAbandoned)
	}
	if p.sent.Load() != 0 || p.failed.Load() != 10 {
		t.Errorf("put counted %d sent and %d failed; want 0 and 10", p.sent.Load(), p.failed.Load())
	}
}

func TestPutCommand(t *testing.T) {
	f := newFakeFirehose(t)
	recs, _ := records(1200)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(recs[:700], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin := strings.NewReader(strings.Join(recs[700:], ""))
	_, stderr, err := runCLI(t, stdin, "put", "--endpoint", f.srv.URL, "--stream", "clicks", path, "-")
	if err != nil {
		t.Fatalf("hydrant put: %v\n%s", err, stderr)
	}
	if !regexp.MustCompile(`^sent 1200 records \(0\.\d\d MiB\) in .*; 0 failed\n$`).MatchString(stderr) {
		t.Errorf("hydrant put printed %q", stderr)
	}
	_, _, delivered := f.counts()
	for i, r := range recs {
		if delivered[r] != 1 {
			t.Errorf("record %d delivered %d times; want 1", i, delivered[r])
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.streams {
		if s != "clicks" {
			t.Errorf("records sent to stream %q; want clicks", s)
		}
	}

	_, _, err = runCLI(t, nil, "put", "--endpoint", f.srv.URL, "--stream", "clicks", filepath.Join(dir, "missing.jsonl"))
	if want := "cannot read " + filepath.Join(dir, "missing.jsonl") + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("put of a missing file: %v; want %s", err, want)
	}
	_, _, err = runCLI(t, nil, "put", "--endpoint", f.srv.URL, path)
	if err == nil || !strings.Contains(err.Error(), `"stream" not set`) {
		t.Errorf("put without --stream: %v; want a required flag error", err)
	}
}
