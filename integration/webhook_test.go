package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The HTTP endpoint destination of issue 4, end to end: records go in
// through the AWS SDK's PutRecordBatch to a real `hydrant serve`, which
// delivers them with Firehose's HTTP endpoint protocol to the real receiver
// process of ./receiver (TLS with its own CA, an access key, common
// attributes, gzip, injected faults, dedup by request id). The tests count
// what the receiver took and what Hydrant wrote to the bucket.

// webhookKeyEnv is the variable access_key_env names; hydrant serve
// inherits the test's environment.
const webhookKeyEnv = "HYDRANT_TEST_WEBHOOK_KEY"

// streamARN is the X-Amz-Firehose-Source-Arn Hydrant sends for a stream,
// with the server's default region and account.
func streamARN(stream string) string {
	return "arn:aws:firehose:us-east-1:000000000000:deliverystream/" + stream
}

// buildReceiver builds ./integration/receiver into a temp dir. It is built
// without -race even under it: the receiver is the yardstick, not what is
// under test, and its JSON decoding is several times slower with it.
func buildReceiver(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "receiver")
	cmd := exec.Command("go", "build", "-o", bin, "./integration/receiver")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the receiver (go build -o %s ./integration/receiver in %s): %v\n%s", bin, root, err, out)
	}
	return bin
}

// receiverOpts are the receiver's flags.
type receiverOpts struct {
	tls       bool
	accessKey string
	attrs     map[string]string
	stream    string // the stream whose ARN it expects in X-Amz-Firehose-Source-Arn
	encoding  string // NONE, GZIP or ANY
	stall     time.Duration
	seed      uint64
	faults    map[string]float64 // by flag: "500" is -fault-500, "wrong-id" -fault-wrong-id, …
}

// receiverProc is one receiver, running unless stopped.
type receiverProc struct {
	t      *testing.T
	url    string // https://127.0.0.1:port or http://…
	ca     string // its certificate, for ca_file; "" without TLS
	out    string // the records it took, one per line, in base64
	client *http.Client
	bin    string
	args   []string // "-listen", its address, then the other flags
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// startReceiver starts the receiver and waits until it listens. On
// cleanup it is stopped; if the test failed, its stderr is logged.
func startReceiver(t *testing.T, bin string, o receiverOpts) *receiverProc {
	t.Helper()
	dir := t.TempDir()
	r := &receiverProc{t: t, out: filepath.Join(dir, "records.b64"), bin: bin, stderr: &syncBuffer{}}
	attrs, _ := json.Marshal(o.attrs)
	if o.attrs == nil {
		attrs = []byte("{}")
	}
	args := []string{"-listen", "127.0.0.1:0", "-out", r.out, "-out-base64",
		"-common-attributes", string(attrs), "-content-encoding", o.encoding,
		"-seed", strconv.FormatUint(o.seed, 10)}
	if o.tls {
		r.ca = filepath.Join(dir, "ca.pem")
		args = append(args, "-tls", "-ca-out", r.ca)
	}
	if o.accessKey != "" {
		args = append(args, "-access-key", o.accessKey)
	}
	if o.stream != "" {
		args = append(args, "-source-arn", streamARN(o.stream))
	}
	if o.stall > 0 {
		args = append(args, "-stall", o.stall.String())
	}
	for _, k := range slices.Sorted(maps.Keys(o.faults)) {
		args = append(args, "-fault-"+k, strconv.FormatFloat(o.faults[k], 'g', -1, 64))
	}
	r.args = args
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("---- receiver %s stderr ----\n%s", r.url, r.stderr)
		}
	})
	r.start()
	tr := &http.Transport{}
	if o.tls {
		pem, err := os.ReadFile(r.ca)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	r.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return r
}

// start runs the receiver process and waits until it listens. Started
// again after stop, it listens where it did before and appends to the
// same output, but its stats start from zero, it no longer knows the
// request ids it took, and with TLS it has a new certificate.
func (r *receiverProc) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, r.args...)
	r.cmd.Stderr = r.stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("cannot start the receiver: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		r.t.Fatalf("receiver said %q (%v) instead of `listening on URL`; stderr:\n%s", line, err, r.stderr)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	if r.url != "" && url != r.url {
		r.t.Fatalf("receiver started again on %s; want %s, where it listened before", url, r.url)
	}
	r.url = url
	r.args[1] = url[strings.Index(url, "://")+3:] // the port it got, for the next start
}

// stop sends SIGTERM, which makes the receiver flush its output, and waits
// (bounded) for it to exit. Stopping a stopped receiver does nothing.
func (r *receiverProc) stop() {
	if r.cmd == nil || r.cmd.Process == nil || r.cmd.ProcessState != nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			r.t.Errorf("receiver exited with %v after SIGTERM; stderr:\n%s", err, r.stderr)
		}
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
		r.t.Errorf("receiver did not exit within 15s of SIGTERM")
	}
}

// receiverStats is the receiver's GET /stats.
type receiverStats struct {
	Requests          int            `json:"requests"`
	AcceptedRequests  int            `json:"accepted_requests"`
	DuplicateRequests int            `json:"duplicate_requests"`
	Records           int            `json:"records"`
	Bytes             int64          `json:"bytes"`
	Invalid           int            `json:"invalid"`
	InvalidReasons    []string       `json:"invalid_reasons"`
	DigestMismatches  int            `json:"digest_mismatches"`
	TooLarge          int            `json:"too_large"`
	Faults            map[string]int `json:"faults"`
	Rejected413       []string       `json:"rejected_413"`
	IDs               map[string]struct {
		Attempts int  `json:"attempts"`
		Accepted bool `json:"accepted"`
	} `json:"ids"`
}

func (r *receiverProc) stats() receiverStats {
	r.t.Helper()
	resp, err := r.client.Get(r.url + "/stats")
	if err != nil {
		r.t.Fatalf("GET %s/stats: %v", r.url, err)
	}
	defer resp.Body.Close()
	var st receiverStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		r.t.Fatalf("GET %s/stats: %v", r.url, err)
	}
	return st
}

// records reads what the receiver took, as an objectSet of one pseudo
// object, for checkExactlyOnce. The receiver writes every record it takes
// before it answers, so the file is complete for every answered request.
func (r *receiverProc) records() objectSet {
	r.t.Helper()
	raw, err := os.ReadFile(r.out)
	if err != nil {
		r.t.Fatalf("cannot read the receiver's output: %v", err)
	}
	set := objectSet{keys: []string{"receiver"}, counts: map[string]int{}, byKey: map[string][]string{}}
	for line := range strings.Lines(string(raw)) {
		d, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(line, "\n"))
		if err != nil {
			r.t.Fatalf("the receiver's output holds a line that is not base64: %q: %v", shorten(line), err)
		}
		set.counts[string(d)]++
		set.byKey["receiver"] = append(set.byKey["receiver"], string(d))
	}
	return set
}

// checkClean fails t if the receiver saw a request that broke the
// protocol, a request id redelivered with other records, or an id whose
// records it never took (a request given up on, or retried under another
// id).
func (st receiverStats) checkClean(t *testing.T) {
	t.Helper()
	if st.Invalid != 0 || st.DigestMismatches != 0 || st.TooLarge != 0 {
		t.Errorf("receiver: %d requests broke the protocol (%q), %d ids came again with other records, %d bodies too large; want none",
			st.Invalid, st.InvalidReasons, st.DigestMismatches, st.TooLarge)
	}
	var abandoned []string
	for id, s := range st.IDs {
		if !s.Accepted {
			abandoned = append(abandoned, fmt.Sprintf("%s×%d", id, s.Attempts))
		}
	}
	if len(abandoned) > 0 {
		slices.Sort(abandoned)
		t.Errorf("receiver never took the records of %d request ids (attempts): %s; every id must be retried until taken", len(abandoned), head(abandoned, 5))
	}
}

// errorObjects returns the error output lines of a bucket by key, and the
// other objects' records.
func errorObjects(t *testing.T, dataDir, bucket string) (errs map[string][]string, data objectSet) {
	t.Helper()
	all := readBucket(t, dataDir, bucket)
	errs = map[string][]string{}
	data = objectSet{counts: map[string]int{}, byKey: map[string][]string{}}
	for _, k := range all.keys {
		if strings.Contains(k, "http-endpoint-failed") {
			errs[k] = all.byKey[k]
			continue
		}
		data.keys = append(data.keys, k)
		data.byKey[k] = all.byKey[k]
		for _, r := range all.byKey[k] {
			data.counts[r]++
		}
	}
	return errs, data
}

// TestWebhookDelivery puts 50,000 records from four producers and checks
// that the receiver, which fails about one request in eight on purpose
// (500s, garbage 200s, another requestId, no answer within the request
// timeout, a dropped connection), took each exactly once: Hydrant retried
// every failed request with the same request id, so the receiver dropped
// what it already had. The receiver checks every request strictly (TLS
// through the CA file, the access key, the common attributes, the source
// ARN, gzip, the body's shape) and would count one that breaks the
// protocol.
func TestWebhookDelivery(t *testing.T) {
	needServer(t)
	const key = "hook-secret-7f3a"
	t.Setenv(webhookKeyEnv, key)
	// Seed 187 draws every kind of fault within the first 30 requests, and
	// 6 faults in the first 60 (about as many as the run makes).
	rc := startReceiver(t, buildReceiver(t), receiverOpts{
		tls: true, accessKey: key, attrs: map[string]string{"env": "test", "team": "hydrant"},
		stream: "hook", encoding: "GZIP", stall: 3 * time.Second, seed: 187,
		faults: map[string]float64{"500": 0.03, "garbage": 0.025, "wrong-id": 0.025, "stall": 0.025, "drop": 0.025},
	})
	srv := startServer(t, fmt.Sprintf(`
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: hook
    destination:
      bucket: hook-failed
      error_output_prefix: failed/
      buffering: {size_mb: 1, interval_seconds: 1}
      http:
        url: %s/ingest?token=t0k3n
        access_key_env: %s
        common_attributes: {env: test, team: hydrant}
        content_encoding: GZIP
        ca_file: %s
        request_timeout: 2s
        retry_duration: 60s
        max_records_per_request: 1000
`, rc.url, webhookKeyEnv, rc.ca))
	c := newClient(srv.Endpoint())
	l := newLedger()

	start := time.Now()
	putAll(t, c, "hook", genRecords("hook", 50000, 100), 500, 4, l)
	t.Logf("put 50,000 records in %v; ledger: %s", time.Since(start).Round(time.Millisecond), l)
	srv.WaitBacklogZero("hook", 90*time.Second)
	t.Logf("delivered in %v", time.Since(start).Round(time.Millisecond))

	st := rc.stats()
	st.checkClean(t)
	checkExactlyOnce(t, rc.records(), l)
	t.Logf("receiver: %d requests for %d ids, %d duplicates, faults %v", st.Requests, len(st.IDs), st.DuplicateRequests, st.Faults)
	for _, k := range []string{"500", "garbage", "wrong_id", "stall", "drop"} {
		if st.Faults[k] == 0 {
			t.Errorf("fault %s never injected; the test proves less than it claims", k)
		}
	}
	// Each fault after the records were taken makes exactly one more
	// request of the same id, a duplicate; a 500 one more request that the
	// receiver takes. A retry under a new id would show as an id more,
	// and as records taken twice.
	taken := st.Faults["garbage"] + st.Faults["wrong_id"] + st.Faults["stall"] + st.Faults["drop"]
	if st.DuplicateRequests == 0 || st.DuplicateRequests != taken {
		t.Errorf("receiver: %d duplicate requests; want one per fault after the records were taken (%d)", st.DuplicateRequests, taken)
	}
	if want := st.AcceptedRequests + st.DuplicateRequests + st.Faults["500"]; st.Requests != want {
		t.Errorf("receiver: %d requests; want %d ids taken + %d duplicates + %d answered 500 = %d",
			st.Requests, st.AcceptedRequests, st.DuplicateRequests, st.Faults["500"], want)
	}
	if n := len(st.IDs); n < 50 {
		t.Errorf("receiver: %d records in %d request ids; want at least 50 requests of at most 1,000 records (max_records_per_request)", st.Records, n)
	}
	for _, secret := range []string{key, "t0k3n"} {
		if n := srv.countLog(secret); n > 0 {
			t.Errorf("hydrant logged the secret %q (the access key or the URL's query) on %d lines", secret, n)
		}
	}
	if errs, data := errorObjects(t, srv.dataDir, "hook-failed"); len(errs)+len(data.keys) > 0 {
		t.Errorf("bucket hook-failed holds %d error objects and %d others; want none: every record was delivered", len(errs), len(data.keys))
	}
	if n := srv.countLog("webhook request failed; retrying"); n < st.Requests-st.AcceptedRequests {
		t.Errorf("hydrant logged %d retried requests; the receiver failed %d", n, st.Requests-st.AcceptedRequests)
	}

	// Firehose counts every failed attempt (DeliveryToHttpEndpoint.Success
	// is successful requests over attempted ones); Hydrant's counterpart
	// must show the ones this endpoint failed.
	t.Run("metrics count the failed attempts", func(t *testing.T) {
		ms, err := srv.Metrics()
		if err != nil {
			t.Fatalf("cannot read /metrics: %v", err)
		}
		okN := ms[`hydrant_delivery_attempts_total{result="success",stream="hook"}`]
		errN := ms[`hydrant_delivery_attempts_total{result="error",stream="hook"}`]
		t.Logf("hydrant_delivery_attempts_total: %v success, %v error; the receiver answered %d of %d requests with a failure",
			okN, errN, st.Requests-st.AcceptedRequests, st.Requests)
		if errN == 0 {
			t.Errorf("hydrant_delivery_attempts_total{result=\"error\"} = 0 after the endpoint failed %d requests, which Hydrant retried: "+
				"the metrics do not show that the endpoint fails", st.Requests-st.AcceptedRequests)
		}
	})
}

// webhookCrashConfig is a stream "crash" (the name crashProducer puts to)
// delivering to the URL of its first verb with the access key of
// webhookKeyEnv; the second verb adds lines to destination.http.
const webhookCrashConfig = `
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: crash
    destination:
      bucket: crash-failed
      buffering: {size_mb: 1, interval_seconds: 1}
      http:
        url: %s/ingest
        access_key_env: ` + webhookKeyEnv + `
        content_encoding: GZIP
        request_timeout: 1s
        retry_duration: 30s
        max_records_per_request: 250
%s`

// TestWebhookCrash SIGKILLs the server three times under two producers:
// twice once the receiver took the first request of a batch whose delivery
// intent is recorded, so that the restart sends the batch again, requests
// already taken included; once during the restart's redelivery. The batch
// id, and so every request id, is the same, and the receiver, which drops
// ids it already took, ends up with every acknowledged record exactly once.
func TestWebhookCrash(t *testing.T) {
	needServer(t)
	const key = "crash-secret-4d1"
	t.Setenv(webhookKeyEnv, key)
	rc := startReceiver(t, buildReceiver(t), receiverOpts{
		tls: true, accessKey: key, stream: "crash", encoding: "GZIP", stall: 2 * time.Second, seed: 5,
		faults: map[string]float64{"500": 0.03, "stall": 0.02, "drop": 0.03},
	})
	srv := startServer(t, fmt.Sprintf(webhookCrashConfig, rc.url, "        ca_file: "+rc.ca+"\n"))
	c := newClient(srv.Endpoint())
	l := newLedger()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var batches, failures atomic.Int64
	// Two producers, 1 MB/s: about what a race-built server on a loaded
	// machine delivers; more would only make the drain longer.
	for p := range 2 {
		wg.Go(func() { crashProducer(ctx, t, srv, c, p, l, &batches, &failures) })
	}
	intent := filepath.Join(srv.dataDir, "streams", "crash", "pending")
	for k := 1; k <= 3; k++ {
		before := l.ackedCount()
		how := "at random"
		if k == 2 {
			// While the restart may still be redelivering.
			time.Sleep(200*time.Millisecond + rand.N(300*time.Millisecond))
		} else {
			// Once the receiver took a request of a batch whose delivery
			// intent is recorded: the batch is then partly delivered, and
			// the restart sends the receiver ids it already has.
			time.Sleep(time.Second)
			how = "at random (no delivery intent seen)"
			if waitForChange(intent, 6*time.Second) {
				how = "just after a delivery intent was recorded"
				taken := rc.stats().AcceptedRequests
				for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
					if rc.stats().AcceptedRequests > taken {
						how = "just after the receiver took a request of a batch in flight"
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
		}
		srv.Kill()
		t.Logf("kill %d %s: %d records acknowledged so far (+%d since the last restart); receiver: %d requests",
			k, how, l.ackedCount(), l.ackedCount()-before, rc.stats().Requests)
		srv.Start()
	}
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	t.Logf("producers stopped: %d batches, %d failed calls; ledger: %s", batches.Load(), failures.Load(), l)
	if l.ackedCount() < 4000 {
		t.Fatalf("only %d records acknowledged in the whole run; the test exercised too little", l.ackedCount())
	}
	srv.WaitBacklogZero("crash", 60*time.Second)
	srv.Stop()

	redelivered := srv.countLog("redelivering the batch a restart interrupted")
	st := rc.stats()
	t.Logf("%d restarts redelivered a batch; receiver: %d requests for %d ids, %d duplicates, faults %v",
		redelivered, st.Requests, len(st.IDs), st.DuplicateRequests, st.Faults)
	if redelivered == 0 {
		t.Errorf("no restart redelivered an interrupted batch; the test proves less than it claims")
	}
	// A fault after the records were taken makes one duplicate; more come
	// from the redeliveries, whose ids the receiver already had.
	if taken := st.Faults["stall"] + st.Faults["drop"]; st.DuplicateRequests <= taken {
		t.Errorf("receiver: %d duplicate requests, %d of them explained by faults; want more: no redelivery sent a request the receiver had taken, so the test proves less than it claims",
			st.DuplicateRequests, taken)
	}
	st.checkClean(t)
	checkExactlyOnce(t, rc.records(), l)
	if errs, _ := errorObjects(t, srv.dataDir, "crash-failed"); len(errs) > 0 {
		t.Errorf("bucket crash-failed holds %d error objects; want none: every record was delivered", len(errs))
	}
}

// TestWebhookCrashAccessKey kills the server while a request is in flight
// to an endpoint that checks the access key, and checks that the restart's
// redelivery of the batch sends the key too: the delivery intent holds the
// destination without its secrets (webhook.Config.AccessKey is json:"-"),
// so the restart must take them from the stream's definition. Without
// that, the endpoint refuses the redelivered batch until the retry
// duration runs out and its records go to the error output.
func TestWebhookCrashAccessKey(t *testing.T) {
	needServer(t)
	const key = "crash-secret-19c"
	t.Setenv(webhookKeyEnv, key)
	// Every request is taken and left unanswered past the request timeout:
	// the batch stays in flight until the kill.
	rc := startReceiver(t, buildReceiver(t), receiverOpts{
		accessKey: key, stream: "crash", encoding: "GZIP", stall: 30 * time.Second, seed: 1,
		faults: map[string]float64{"stall": 1},
	})
	srv := startServer(t, fmt.Sprintf(webhookCrashConfig, rc.url, ""))
	c := newClient(srv.Endpoint())
	l := newLedger()
	putAll(t, c, "crash", genRecords("key", 10, 100), 10, 1, l)

	waitRequests := func(n int) receiverStats {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st := rc.stats()
			if st.Requests >= n {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("the receiver got %d requests in 20s; want %d", st.Requests, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	before := waitRequests(1)
	if before.Invalid != 0 {
		t.Fatalf("before the kill, the receiver refused %d requests: %q", before.Invalid, before.InvalidReasons)
	}
	srv.Kill()
	srv.Start()
	st := waitRequests(before.Requests + 2)
	if n := srv.countLog("redelivering the batch a restart interrupted"); n == 0 {
		t.Fatalf("the restart did not redeliver the interrupted batch")
	}
	if st.Invalid != 0 {
		t.Errorf("after the restart the receiver refused %d of %d requests: %q; want the redelivered batch sent with the access key as before the kill",
			st.Invalid, st.Requests-before.Requests, st.InvalidReasons)
	}
}

// TestWebhookFailures runs three streams on one server: one to an endpoint
// that answers 413 to everything, one to an endpoint that never answers,
// one to a healthy endpoint with backup.mode AllData. The failed records go
// to the bucket's error output as Firehose writes them, with the code and
// attempts of the last try, and the log is committed; with AllData every
// record is also in the bucket.
func TestWebhookFailures(t *testing.T) {
	needServer(t)
	bin := buildReceiver(t)
	reject := startReceiver(t, bin, receiverOpts{tls: true, stream: "reject", encoding: "NONE", seed: 3,
		faults: map[string]float64{"413": 1}})
	healthy := startReceiver(t, bin, receiverOpts{tls: true, stream: "alldata", encoding: "NONE", seed: 4})

	// An endpoint that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		handlers sync.WaitGroup
		mu       sync.Mutex
		conns    []net.Conn
	)
	handlers.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			handlers.Go(func() { io.Copy(io.Discard, conn) }) // until the client gives up
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		handlers.Wait()
	})
	accepted := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}

	srv := startServer(t, fmt.Sprintf(`
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: reject
    destination:
      bucket: reject-bucket
      error_output_prefix: failed/
      buffering: {size_mb: 1, interval_seconds: 1}
      http: {url: %s/, ca_file: %s, retry_duration: 60s}
  - name: silent
    destination:
      bucket: silent-bucket
      error_output_prefix: failed/
      buffering: {size_mb: 1, interval_seconds: 1}
      http: {url: "http://%s/", request_timeout: 1s, retry_duration: 3s}
  - name: alldata
    destination:
      bucket: alldata-bucket
      prefix: copies/
      error_output_prefix: failed/
      compression: GZIP
      buffering: {size_mb: 1, interval_seconds: 1}
      backup: {mode: AllData}
      http: {url: %s/, ca_file: %s, max_records_per_request: 100}
`, reject.url, reject.ca, ln.Addr(), healthy.url, healthy.ca))
	c := newClient(srv.Endpoint())

	recs := map[string][]string{}
	ledgers := map[string]*ledger{}
	start := time.Now()
	for _, s := range []string{"silent", "reject", "alldata"} {
		// One put each: one batch, whose delivery to the silent endpoint
		// takes its whole retry duration.
		recs[s] = genRecords(s, 300, 200)
		ledgers[s] = newLedger()
		putAll(t, c, s, recs[s], 500, 1, ledgers[s])
	}
	end := time.Now()
	for _, s := range []string{"reject", "silent", "alldata"} {
		srv.WaitBacklogZero(s, 60*time.Second)
	}
	t.Logf("three streams delivered in %v", time.Since(start).Round(time.Millisecond))
	ms, err := srv.Metrics()
	if err != nil {
		t.Fatalf("cannot read /metrics: %v", err)
	}

	// failedAs checks that the stream's records are each in its error
	// output once, under failed/http-endpoint-failed/, with the code and a
	// message, and returns the lines.
	failedAs := func(stream, code, msg string) []errorLine {
		t.Helper()
		errs, data := errorObjects(t, srv.dataDir, stream+"-bucket")
		if len(data.keys) > 0 {
			t.Errorf("%s: bucket holds objects %q besides the error output; want only the error output", stream, data.keys)
		}
		var want []badRecord
		for _, r := range recs[stream] {
			want = append(want, badRecord{data: r, code: code, msg: msg})
		}
		checkErrorOutput(t, stream, errs, want, start, end)
		var lines []errorLine
		for k, ls := range errs {
			if !strings.HasPrefix(k, "failed/http-endpoint-failed/") {
				t.Errorf("%s: error object %s; want it under failed/http-endpoint-failed/", stream, k)
			}
			for _, line := range ls {
				var e errorLine
				if json.Unmarshal([]byte(line), &e) == nil {
					lines = append(lines, e)
				}
			}
		}
		if got := ms[`hydrant_error_output_records_total{stream="`+stream+`",type="http-endpoint-failed"}`]; got != float64(len(recs[stream])) {
			t.Errorf("%s: hydrant_error_output_records_total{type=\"http-endpoint-failed\"} = %v; want %d", stream, got, len(recs[stream]))
		}
		return lines
	}

	t.Run("413 is permanent", func(t *testing.T) {
		st := reject.stats()
		if st.Records != 0 || st.Invalid != 0 || st.Faults["413"] != st.Requests || st.Requests == 0 {
			t.Errorf("receiver: %d requests, %d answered 413, %d invalid (%q), %d records taken; want every request answered 413",
				st.Requests, st.Faults["413"], st.Invalid, st.InvalidReasons, st.Records)
		}
		if len(st.IDs) != st.Requests {
			t.Errorf("receiver: %d requests of %d ids; want each sent once: a 413 is not retried", st.Requests, len(st.IDs))
		}
		for _, e := range failedAs("reject", "HttpEndpoint.DestinationException", "413: injected: payload too large") {
			if e.AttemptsMade != 1 {
				t.Errorf("error record: attemptsMade = %d; want 1", e.AttemptsMade)
				break
			}
		}
	})
	t.Run("no answer", func(t *testing.T) {
		// Attempts of 1 s, waits of 1 s and 2 s ±15 % cut to the 3 s of
		// retry duration left: 3 or 4 attempts.
		lines := failedAs("silent", "HttpEndpoint.RequestTimeout", "")
		for _, e := range lines {
			if e.AttemptsMade < 3 || e.AttemptsMade > 4 {
				t.Errorf("error record: attemptsMade = %d; want 3 or 4 (request_timeout 1s, retry_duration 3s)", e.AttemptsMade)
				break
			}
		}
		if len(lines) > 0 {
			t.Logf("error record: %d attempts, %s: %s", lines[0].AttemptsMade, lines[0].ErrorCode, lines[0].ErrorMessage)
		}
		if n := accepted(); n < 3 {
			t.Errorf("the silent endpoint accepted %d connections; want one per attempt, at least 3", n)
		}
	})
	t.Run("AllData", func(t *testing.T) {
		st := healthy.stats()
		st.checkClean(t)
		checkExactlyOnce(t, healthy.records(), ledgers["alldata"])
		if len(st.IDs) < 3 {
			t.Errorf("receiver: %d request ids for %d records; want at least 3 (max_records_per_request 100)", len(st.IDs), len(recs["alldata"]))
		}
		errs, copies := errorObjects(t, srv.dataDir, "alldata-bucket")
		if len(errs) > 0 {
			t.Errorf("bucket holds %d error objects; want none", len(errs))
		}
		for _, k := range copies.keys {
			if !strings.HasPrefix(k, "copies/") || !strings.HasSuffix(k, ".gz") {
				t.Errorf("copy %s; want it under copies/, gzipped", k)
			}
		}
		checkExactlyOnce(t, copies, ledgers["alldata"])
	})
}
