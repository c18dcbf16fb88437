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
