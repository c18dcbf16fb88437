package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// isolateAWS keeps the developer's AWS setup out of a test: no profile, no
// keys, no config files, so the client falls back to the development key.
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_FIREHOSE", "HYDRANT_ENDPOINT", "AWS_REGION",
	} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
}

// fakeFirehose speaks just enough of the Firehose JSON 1.1 protocol for the
// client: PutRecordBatch with per-record and whole-request failures, and
// whatever other operations a test installs in ops.
type fakeFirehose struct {
	t   *testing.T
	srv *httptest.Server

	// fail returns the ErrorCode for a record, given how many times the
	// server has already answered for it, or "" to accept it.
	fail func(data string, answered int) string
	// throttle reports whether call n (from 1) of PutRecordBatch is refused
	// whole with a ServiceUnavailableException.
	throttle func(n int) bool
	// drop reports whether call n of PutRecordBatch is answered by closing
	// the connection, after the records arrived.
	drop func(n int) bool
	// refuse, when not nil, is the error every PutRecordBatch gets.
	refuse *apiErrorBody
	// block, when not nil, holds every PutRecordBatch until it is closed or
	// the request is cancelled.
	block chan struct{}
	// ops answers operations other than PutRecordBatch.
	ops map[string]func(req []byte) (status int, resp any)

	mu        sync.Mutex
	calls     int            // PutRecordBatch requests
	arrived   map[string]int // times each record arrived, throttled calls included
	answered  map[string]int // times the server answered for each record
	delivered map[string]int // times each record was accepted
	requests  map[string][]string
	auth      []string
	streams   []string // DeliveryStreamName of each PutRecordBatch
}

// newFakeFirehose starts a fake server for the test, and isolates the test
// from the AWS environment.
func newFakeFirehose(t *testing.T) *fakeFirehose {
	isolateAWS(t)
	f := &fakeFirehose{
		t:         t,
		ops:       map[string]func([]byte) (int, any){},
		arrived:   map[string]int{},
		answered:  map[string]int{},
		delivered: map[string]int{},
		requests:  map[string][]string{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFirehose) opts() clientOptions {
	return clientOptions{endpoint: f.srv.URL, region: "us-east-1"}
}

type apiErrorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func (f *fakeFirehose) serveHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "Firehose_20150804.")
	if r.Method != http.MethodPost || r.URL.Path != "/" || !ok ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		f.t.Errorf("unexpected request %s %s, X-Amz-Target %q, Content-Type %q",
			r.Method, r.URL.Path, target, r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.requests[op] = append(f.requests[op], string(body))
	f.mu.Unlock()

	var status int
	var resp any
	if op == "PutRecordBatch" {
		status, resp = f.putRecordBatch(r, body)
	} else if h := f.ops[op]; h != nil {
		status, resp = h(body)
	} else {
		status, resp = http.StatusBadRequest, apiErrorBody{"UnknownOperationException", op}
	}
	switch status {
	case 0:
		return
	case -1:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			f.t.Errorf("cannot drop the connection: %v", err)
			return
		}
		conn.Close()
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(resp)
}

type putRecordBatchEntry struct {
	RecordId     string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

func (f *fakeFirehose) putRecordBatch(r *http.Request, body []byte) (int, any) {
	var req struct {
		DeliveryStreamName string
		Records            []struct{ Data []byte }
	}
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("cannot decode PutRecordBatch: %v", err)
		return http.StatusBadRequest, apiErrorBody{"SerializationException", err.Error()}
	}
	size := 0
	for _, rec := range req.Records {
		size += len(rec.Data)
		if len(rec.Data) > maxRecordBytes {
			f.t.Errorf("record of %d bytes is over the limit", len(rec.Data))
		}
	}
	if n := len(req.Records); n == 0 || n > maxBatchRecords || size > maxBatchBytes {
		f.t.Errorf("batch of %d records and %d bytes is out of bounds", n, size)
	}
	if f.refuse != nil {
		return http.StatusBadRequest, f.refuse
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-r.Context().Done():
			return 0, nil
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.streams = append(f.streams, req.DeliveryStreamName)
	for _, rec := range req.Records {
		f.arrived[string(rec.Data)]++
	}
	if f.drop != nil && f.drop(f.calls) {
		return -1, nil
	}
	if f.throttle != nil && f.throttle(f.calls) {
		return http.StatusServiceUnavailable, apiErrorBody{"ServiceUnavailableException", "Slow down."}
	}
	out := struct {
		FailedPutCount   int
		Encrypted        bool
		RequestResponses []putRecordBatchEntry
	}{RequestResponses: []putRecordBatchEntry{}}
	for i, rec := range req.Records {
		data := string(rec.Data)
		code := ""
		if f.fail != nil {
			code = f.fail(data, f.answered[data])
		}
		f.answered[data]++
		if code != "" {
			out.FailedPutCount++
			out.RequestResponses = append(out.RequestResponses, putRecordBatchEntry{ErrorCode: code, ErrorMessage: "Slow down."})
			continue
		}
		f.delivered[data]++
		out.RequestResponses = append(out.RequestResponses, putRecordBatchEntry{RecordId: fmt.Sprintf("%d-%d", f.calls, i)})
	}
	return http.StatusOK, out
}

// counts returns copies of what the server counted per record.
func (f *fakeFirehose) counts() (arrived, answered, delivered map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.arrived), maps.Clone(f.answered), maps.Clone(f.delivered)
}

// requestsOf returns the bodies of the requests for op so far.
func (f *fakeFirehose) requestsOf(op string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests[op])
}

// runCLI runs the hydrant command line and returns its stdout, its stderr
// and the error main would print.
func runCLI(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	if stdin != nil {
		root.SetIn(stdin)
	}
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestClientCredentials(t *testing.T) {
	f := newFakeFirehose(t)
	f.ops["ListDeliveryStreams"] = func([]byte) (int, any) {
		return http.StatusOK, map[string]any{"DeliveryStreamNames": []string{}, "HasMoreDeliveryStreams": false}
	}
	if _, _, err := runCLI(t, nil, "streams", "list", "--endpoint", f.srv.URL); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	if _, _, err := runCLI(t, nil, "streams", "list", "--endpoint", f.srv.URL, "--region", "eu-west-3"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []string{"Credential=hydrant/", "/us-east-1/firehose/aws4_request", "Credential=AKIDFROMENV/", "/eu-west-3/firehose/aws4_request"}
	if len(f.auth) != 2 {
		t.Fatalf("got %d requests; want 2", len(f.auth))
	}
	for i, w := range want {
		if a := f.auth[i/2]; !strings.Contains(a, w) {
			t.Errorf("request %d: Authorization %q does not contain %q", i/2, a, w)
		}
	}
}

func TestClientErrors(t *testing.T) {
	f := newFakeFirehose(t)
	f.ops["DescribeDeliveryStream"] = func([]byte) (int, any) {
		return http.StatusBadRequest, apiErrorBody{"ResourceNotFoundException", "Firehose x under account 000000000000 not found."}
	}
	_, _, err := runCLI(t, nil, "streams", "describe", "x", "--endpoint", f.srv.URL)
	if want := "ResourceNotFoundException: Firehose x under account 000000000000 not found."; err == nil || err.Error() != want {
		t.Errorf("describe of a missing stream: %v; want %s", err, want)
	}

	notHydrant := httptest.NewServer(http.NotFoundHandler())
	defer notHydrant.Close()
	_, _, err = runCLI(t, nil, "streams", "list", "--endpoint", notHydrant.URL)
	if want := "unexpected HTTP 404 response from " + notHydrant.URL + "; is it a Hydrant server?"; err == nil || err.Error() != want {
		t.Errorf("list against a non-Firehose server: %v; want %s", err, want)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, _, err = runCLI(t, nil, "streams", "list", "--endpoint", closed.URL)
	if want := "cannot reach Hydrant at " + closed.URL + ": connect: connection refused"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("list against a closed port: %v; want %s…", err, want)
	}

	_, _, err = runCLI(t, nil, "streams", "list", "--endpoint", "127.0.0.1:4573")
	if err == nil || !strings.Contains(err.Error(), "invalid --endpoint") {
		t.Errorf("list with an endpoint without scheme: %v; want an invalid --endpoint error", err)
	}
}
