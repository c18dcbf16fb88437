package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/hydrantio/hydrant/record"
	"github.com/hydrantio/hydrant/sinks/webhook"
)

const testID = "6b1f0c2a-4d3e-8f10-9a2b-3c4d5e6f7a8b"

var testAttrs = map[string]string{"env": "test", "team": "data"}

func testConfig() Config {
	return Config{AccessKey: "k-123", CommonAttributes: testAttrs, ContentEncoding: "ANY", MaxBodyBytes: 1 << 20, StallFor: time.Second}
}

// validRequest returns a request that follows the protocol, carrying
// "hello" and "world".
func validRequest(url string) *http.Request {
	body := fmt.Sprintf(`{"requestId":%q,"timestamp":%d,"records":[{"data":"aGVsbG8="},{"data":"d29ybGQ="}]}`, testID, time.Now().UnixMilli())
	r, _ := http.NewRequest("POST", url, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	r.Header.Set("X-Amz-Firehose-Request-Id", testID)
	r.Header.Set("X-Amz-Firehose-Access-Key", "k-123")
	r.Header.Set("X-Amz-Firehose-Common-Attributes", `{"commonAttributes":{"env":"test","team":"data"}}`)
	return r
}

func setBody(r *http.Request, body string) {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
}

func stats(t *testing.T, c *http.Client, base string) Stats {
	t.Helper()
	resp, err := c.Get(base + "/stats")
	if err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	defer resp.Body.Close()
	var s Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	return s
}

// TestChecks sends the in-process receiver one request that follows the
// protocol, then requests that each break it once: each gets a 400 that
// says what is wrong, and no record is taken.
func TestChecks(t *testing.T) {
	var out bytes.Buffer
	rc := newReceiver(testConfig(), &out, false)
	srv := httptest.NewServer(rc)
	defer srv.Close()

	resp, err := http.DefaultClient.Do(validRequest(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("valid request: %d %s", resp.StatusCode, b)
	}
	var ans map[string]any
	if err := json.Unmarshal(b, &ans); err != nil || ans["requestId"] != testID || ans["timestamp"] == nil || len(ans) != 2 {
		t.Fatalf("valid request answered %s", b)
	}
	rc.flush()
	if out.String() != "hello\nworld\n" {
		t.Fatalf("output %q; want hello and world", out.String())
	}

	tests := []struct {
		name   string
		change func(r *http.Request)
		status int
		want   string
	}{
		{"GET", func(r *http.Request) { r.Method = "PUT" }, 400, "want POST"},
		{"no version", func(r *http.Request) { r.Header.Del("X-Amz-Firehose-Protocol-Version") }, 400, "Protocol-Version"},
		{"version 2", func(r *http.Request) { r.Header.Set("X-Amz-Firehose-Protocol-Version", "2.0") }, 400, "Protocol-Version"},
		{"no id", func(r *http.Request) { r.Header.Del("X-Amz-Firehose-Request-Id") }, 400, "not a GUID"},
		{"bad id", func(r *http.Request) { r.Header.Set("X-Amz-Firehose-Request-Id", "batch-1") }, 400, "not a GUID"},
		{"two ids", func(r *http.Request) { r.Header.Add("X-Amz-Firehose-Request-Id", testID) }, 400, "want one"},
		{"text/plain", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 400, "Content-Type"},
		{"no key", func(r *http.Request) { r.Header.Del("X-Amz-Firehose-Access-Key") }, 400, "Access-Key"},
		{"wrong key", func(r *http.Request) { r.Header.Set("X-Amz-Firehose-Access-Key", "k-124") }, 400, "Access-Key"},
		{"unexpected ARN", func(r *http.Request) { r.Header.Set("X-Amz-Firehose-Source-Arn", "arn:x") }, 400, "Source-Arn"},
		{"no attributes", func(r *http.Request) { r.Header.Del("X-Amz-Firehose-Common-Attributes") }, 400, "Common-Attributes"},
		{"bare attributes", func(r *http.Request) {
			r.Header.Set("X-Amz-Firehose-Common-Attributes", `{"env":"test","team":"data"}`)
		}, 400, "Common-Attributes"},
		{"wrong attribute", func(r *http.Request) {
			r.Header.Set("X-Amz-Firehose-Common-Attributes", `{"commonAttributes":{"env":"prod","team":"data"}}`)
		}, 400, "attribute"},
		{"deflate", func(r *http.Request) { r.Header.Set("Content-Encoding", "deflate") }, 400, "Content-Encoding"},
		{"gzip header, plain body", func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }, 400, "gunzip"},
		{"chunked", func(r *http.Request) { r.ContentLength = -1 }, 400, "Content-Length"},
		{"not JSON", func(r *http.Request) { setBody(r, "hello") }, 400, "not a JSON object"},
		{"other id in body", func(r *http.Request) {
			setBody(r, `{"requestId":"6b1f0c2a-4d3e-8f10-9a2b-000000000000","timestamp":1700000000000,"records":[{"data":""}]}`)
		}, 400, "not the header's"},
		{"no timestamp", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","records":[{"data":""}]}`)
		}, 400, "exactly records, requestId and timestamp"},
		{"extra field", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":1700000000000,"records":[{"data":""}],"x":1}`)
		}, 400, "exactly records, requestId and timestamp"},
		{"seconds", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":1700000000,"records":[{"data":""}]}`)
		}, 400, "milliseconds"},
		{"string timestamp", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":"1700000000000","records":[{"data":""}]}`)
		}, 400, "milliseconds"},
		{"no records", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":1700000000000,"records":[]}`)
		}, 400, "want 1 to 10000"},
		{"record field", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":1700000000000,"records":[{"data":"","id":1}]}`)
		}, 400, "exactly data"},
		{"unpadded base64", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":1700000000000,"records":[{"data":"aGVsbG8"}]}`)
		}, 400, "base64"},
		{"url base64", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":1700000000000,"records":[{"data":"-_8="}]}`)
		}, 400, "base64"},
		{"data not a string", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":1700000000000,"records":[{"data":null}]}`)
		}, 400, "not a string"},
		{"over the body limit", func(r *http.Request) {
			setBody(r, `{"requestId":"`+testID+`","timestamp":1700000000000,"records":[{"data":"`+strings.Repeat("A", 1<<20)+`"}]}`)
		}, 413, "over"},
	}
	for _, tt := range tests {
		r := validRequest(srv.URL)
		tt.change(r)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ans struct {
			RequestID    string `json:"requestId"`
			Timestamp    int64  `json:"timestamp"`
			ErrorMessage string `json:"errorMessage"`
		}
		json.Unmarshal(b, &ans)
		if resp.StatusCode != tt.status || !strings.Contains(ans.ErrorMessage, tt.want) || ans.Timestamp == 0 {
			t.Errorf("%s: answered %d %s; want %d saying %q", tt.name, resp.StatusCode, b, tt.status, tt.want)
		}
	}
	s := stats(t, http.DefaultClient, srv.URL)
	if s.AcceptedRequests != 1 || s.Records != 2 || s.Invalid != len(tests)-1 || s.TooLarge != 1 {
		t.Errorf("stats %+v; want 1 request of 2 records taken, %d invalid, 1 too large", s, len(tests)-1)
	}
	rc.flush()
	if out.String() != "hello\nworld\n" {
		t.Errorf("output %q; want only hello and world", out.String())
	}
}

// TestGzipAndDedup sends through the webhook sink, gzipped, the same batch
// twice: the records are taken once.
func TestGzipAndDedup(t *testing.T) {
	var out bytes.Buffer
	cfg := testConfig()
	cfg.ContentEncoding = "GZIP"
	rc := newReceiver(cfg, &out, true)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s, err := webhook.New(webhook.Config{URL: srv.URL, AccessKey: "k-123", CommonAttributes: testAttrs, ContentEncoding: webhook.EncodingGzip, MaxRecordsPerRequest: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := records(25, rand.New(rand.NewPCG(1, 2)))
	recs[3].Data = []byte("with\nnewline") // fine in base64 output
	for range 2 {
		if err := s.Send(context.Background(), "b", recs); err != nil {
			t.Fatalf("Send = %v", err)
		}
	}
	st := stats(t, http.DefaultClient, srv.URL)
	if st.AcceptedRequests != 3 || st.DuplicateRequests != 3 || st.Records != 25 || st.DigestMismatches != 0 || st.Invalid != 0 {
		t.Errorf("stats %+v; want 3 requests taken, 3 duplicates, 25 records", st)
	}
	// Other records under a taken id are noticed.
	recs[0].Data = []byte("changed")
	if err := s.Send(context.Background(), "b", recs); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if st := stats(t, http.DefaultClient, srv.URL); st.DigestMismatches != 1 || st.Records != 25 {
		t.Errorf("stats %+v; want 1 digest mismatch, still 25 records", st)
	}
	rc.flush()
	if n := strings.Count(out.String(), "\n"); n != 25 {
		t.Errorf("%d lines of output; want 25", n)
	}
}

// records returns n records with unique ids and 1 to 500 bytes of
// printable payload.
func records(n int, rng *rand.Rand) []record.Record {
	recs := make([]record.Record, n)
	for i := range recs {
		d := fmt.Appendf(nil, "r%06d:", i)
		for range rng.IntN(500) {
			d = append(d, byte('a'+rng.IntN(26)))
		}
		recs[i] = record.Record{Offset: uint64(i), Data: d}
	}
	return recs
}

// TestProcess builds the receiver, starts it with every fault on, over
// TLS, and sends it 50,000 records through the webhook sink in five
// batches, gzipped and not, then one batch again as after a crash. Every
// record is taken exactly once, but for those of requests answered 413,
// which Send reports; every request id is one the sink derives for the
// batches, so retries and the redelivery reused them.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the receiver process")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "receiver")
	// Without -race even under it: the sink, in this process, is what is
	// under test, and the receiver's JSON decoding is 5x slower with it.
	args := []string{"build", "-o", bin}
	start := time.Now()
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("built the receiver in %v", time.Since(start).Round(time.Millisecond))

	const (
		key = "secret-key-1"
		arn = "arn:aws:firehose:us-east-1:000000000000:deliverystream/hooks"
	)
	outPath := filepath.Join(dir, "records.txt")
	caPath := filepath.Join(dir, "ca.pem")
	attrJSON, _ := json.Marshal(testAttrs)
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-tls", "-ca-out", caPath,
		"-access-key", key, "-common-attributes", string(attrJSON), "-source-arn", arn,
		"-content-encoding", "ANY", "-out", outPath, "-stall", "3s", "-seed", "42",
		"-fault-500", "0.1", "-fault-413", "0.05", "-fault-garbage", "0.05",
		"-fault-wrong-id", "0.05", "-fault-stall", "0.02", "-fault-drop", "0.05")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("receiver said %q: %v; stderr:\n%s", line, err, stderr.String())
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

	recs := records(50000, rand.New(rand.NewPCG(7, 7)))
	batches := [][]record.Record{recs[:10000], recs[10000:20000], recs[20000:30000], recs[30000:40000], recs[40000:]}
	batchID := func(i int) string { return fmt.Sprintf("hooks/%d-%d", i*10000, i*10000+9999) }
	cfg := func(enc string) webhook.Config {
		return webhook.Config{
			URL: base + "/ingest", AccessKey: key, CommonAttributes: testAttrs, SourceARN: arn,
			ContentEncoding: enc, CAFile: caPath, RequestTimeout: time.Second,
			MaxRecordsPerRequest: 1000, MaxBytesPerRequest: 256 << 10,
		}
	}
	// Retries wait no real time; the retry duration is still counted.
	noWait := webhook.WithClock(time.Now, func(ctx context.Context, d time.Duration) error { return ctx.Err() })
	sinks := map[string]*webhook.Sink{}
	for _, enc := range []string{webhook.EncodingNone, webhook.EncodingGzip} {
		s, err := webhook.New(cfg(enc), nil, noWait)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sinks[enc] = s
	}
	encOf := func(i int) string { return []string{webhook.EncodingNone, webhook.EncodingGzip}[i%2] }

	// The ids the sink derives: every request id the receiver sees must be
	// one of them.
	wantIDs := expectedIDs(t, cfg(webhook.EncodingNone), batches, batchID)

	// failed[i] are the records of batch i that failed for good in its
	// last delivery.
	failed := make([]map[int]bool, len(batches))
	var failedIDs []string
	send := func(i int) {
		t.Helper()
		failed[i] = map[int]bool{}
		err := sinks[encOf(i)].Send(context.Background(), batchID(i), batches[i])
		var fe *webhook.FailedError
		switch {
		case err == nil:
		case errors.As(err, &fe):
			for _, r := range fe.Requests {
				if r.LastStatus != 413 || !r.Permanent() || r.Attempts < 1 {
					t.Errorf("batch %d: request %s failed with %d %s after %d attempts: %s; only the injected 413s should fail",
						i, r.ID, r.LastStatus, r.LastCode, r.Attempts, r.LastMessage)
				}
				failedIDs = append(failedIDs, r.ID)
				for _, x := range r.Records {
					failed[i][x] = true
				}
			}
		default:
			t.Fatalf("Send batch %d = %v", i, err)
		}
	}
	start = time.Now()
	for i := range batches {
		send(i)
	}
	before := stats(t, httpsClient(t, caPath), base)
	send(0) // redelivered, as after a crash
	t.Logf("sent 50,000 records and 10,000 again in %v", time.Since(start).Round(time.Millisecond))
	st := stats(t, httpsClient(t, caPath), base)

	if st.Invalid != 0 || st.DigestMismatches != 0 || st.TooLarge != 0 {
		t.Errorf("receiver: %d invalid requests (%q), %d digest mismatches, %d too large; want none", st.Invalid, st.InvalidReasons, st.DigestMismatches, st.TooLarge)
	}
	for k, n := range st.Faults {
		t.Logf("fault %s: %d", k, n)
	}
	for _, k := range []string{"500", "413", "garbage", "wrong_id", "stall", "drop"} {
		if st.Faults[k] == 0 {
			t.Errorf("fault %s never injected; the test proves less than it claims", k)
		}
	}
	slices.Sort(failedIDs)
	slices.Sort(st.Rejected413)
	if !slices.Equal(slices.Compact(failedIDs), slices.Compact(st.Rejected413)) {
		t.Errorf("the sink reports %v failed; the receiver answered 413 to %v", failedIDs, st.Rejected413)
	}
	for id := range st.IDs {
		if !wantIDs[id] {
			t.Errorf("the receiver saw request id %s, which is none of the sink's", id)
		}
	}
	if len(st.IDs) != len(wantIDs) {
		t.Errorf("the receiver saw %d request ids; the sink derives %d", len(st.IDs), len(wantIDs))
	}
	if len(before.IDs) != len(wantIDs) {
		t.Errorf("before the redelivery, the receiver saw %d request ids; want %d", len(before.IDs), len(wantIDs))
	}
	if before.Requests <= len(wantIDs) {
		t.Errorf("%d requests of %d ids; want retries", before.Requests, len(wantIDs))
	}
	if st.DuplicateRequests <= before.DuplicateRequests {
		t.Errorf("the redelivery made no duplicates (%d before, %d after)", before.DuplicateRequests, st.DuplicateRequests)
	}
	t.Logf("%d requests for %d ids, %d duplicates, %d failed for good (413)", st.Requests, len(wantIDs), st.DuplicateRequests, len(failedIDs))

	// Stop the receiver, which flushes the output, and count.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("receiver: %v\n%s", err, stderr.String())
	}
	got, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for l := range strings.Lines(string(got)) {
		seen[strings.TrimSuffix(l, "\n")]++
	}
	missing, dups := 0, 0
	for i, b := range batches {
		for x, r := range b {
			n := seen[string(r.Data)]
			switch {
			case n > 1:
				dups++
			case n == 0 && !failed[i][x]:
				missing++
			case n == 1 && failed[i][x]:
				t.Errorf("record %d of batch %d was taken, yet Send reported it failed", x, i)
			}
			delete(seen, string(r.Data))
		}
	}
	if missing != 0 || dups != 0 || len(seen) != 0 {
		t.Errorf("%d records missing, %d taken more than once, %d unknown", missing, dups, len(seen))
	}
	if st.Records+countFailed(failed) != len(recs) {
		t.Errorf("receiver took %d records, %d failed; want %d in all", st.Records, countFailed(failed), len(recs))
	}
}

func countFailed(f []map[int]bool) int {
	n := 0
	for _, m := range f {
		n += len(m)
	}
	return n
}

// expectedIDs returns the request ids the sink sends for the batches, from
// a delivery of them to an endpoint that takes everything.
func expectedIDs(t *testing.T, cfg webhook.Config, batches [][]record.Record, batchID func(int) string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		id := r.Header.Get("X-Amz-Firehose-Request-Id")
		mu.Lock()
		ids[id] = true
		mu.Unlock()
		answer(w, 200, id, "")
	}))
	defer srv.Close()
	cfg.URL, cfg.CAFile, cfg.AccessKey = srv.URL, "", ""
	s, err := webhook.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range batches {
		if err := s.Send(context.Background(), batchID(i), b); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return ids
}

func httpsClient(t *testing.T, caPath string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestGzipBodyLimit checks that the limit holds for the decompressed body,
// whatever the compressed size.
func TestGzipBodyLimit(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 4096
	srv := httptest.NewServer(newReceiver(cfg, nil, false))
	defer srv.Close()
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	fmt.Fprintf(zw, `{"requestId":%q,"timestamp":%d,"records":[{"data":"%s"}]}`, testID, time.Now().UnixMilli(), strings.Repeat("A", 8000))
	zw.Close()
	r := validRequest(srv.URL)
	r.Header.Set("Content-Encoding", "gzip")
	setBody(r, zb.String())
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("a gzipped body of %d bytes, over 4096 unzipped: %d; want 413", zb.Len(), resp.StatusCode)
	}
}
