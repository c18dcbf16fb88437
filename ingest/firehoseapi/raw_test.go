package firehoseapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// errorBody is AWS's error shape.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// checkShape checks what every answer carries, and for errors the
// {"__type", "message"} shape with a matching X-Amzn-ErrorType header. It
// returns the decoded error, zero for a 200.
func checkShape(t *testing.T, what string, status int, h http.Header, body []byte) errorBody {
	t.Helper()
	if h.Get("x-amzn-RequestId") == "" {
		t.Errorf("%s: no x-amzn-RequestId header", what)
	}
	if ct := h.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if status == http.StatusOK {
		if !json.Valid(body) {
			t.Errorf("%s: 200 with invalid JSON %q", what, body)
		}
		return errorBody{}
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Type == "" || e.Message == "" {
		t.Errorf("%s: error body %q is not {__type, message}", what, body)
	}
	if got := h.Get("X-Amzn-ErrorType"); got != e.Type {
		t.Errorf("%s: X-Amzn-ErrorType %q; __type %q", what, got, e.Type)
	}
	return e
}

// rawRequest sends a hand-made request to the harness's server.
func (h *harness) raw(method, path, target, body string, mutate func(*http.Request)) (int, http.Header, errorBody) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if mutate != nil {
		mutate(req)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, checkShape(h.t, method+" "+path+" "+target+" "+body, resp.StatusCode, resp.Header, b)
}

func TestMalformedRequests(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	const put, batch = "Firehose_20150804.PutRecord", "Firehose_20150804.PutRecordBatch"
	f := func(name, method, path, target, body string, mutate func(*http.Request), wantStatus int, wantType, wantMsg string) {
		t.Helper()
		status, _, e := h.raw(method, path, target, body, mutate)
		if status != wantStatus || e.Type != wantType || !strings.Contains(e.Message, wantMsg) {
			t.Errorf("%s: %d %s: %q; want %d %s: %q", name, status, e.Type, e.Message, wantStatus, wantType, wantMsg)
		}
	}
	f("GET", "GET", "/", put, "", nil, 405, "UnknownOperationException", "accepts POST requests only, not GET")
	f("other path", "POST", "/v2/things", put, "{}", nil, 404, "UnknownOperationException", "There is no Firehose API at /v2/things")
	f("no target", "POST", "/", "", "{}", nil, 400, "UnknownOperationException", "X-Amz-Target must name a Firehose operation")
	f("other service", "POST", "/", "Kinesis_20131202.PutRecord", "{}", nil, 400, "UnknownOperationException", "not 'Kinesis_20131202.PutRecord'")
	f("unimplemented", "POST", "/", "Firehose_20150804.TagDeliveryStream", "{}", nil, 400, "UnknownOperationException",
		"Hydrant does not implement the Firehose operation TagDeliveryStream.")
	f("content type", "POST", "/", put, "{}", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
		400, "SerializationException", "Content-Type must be application/x-amz-json-1.1")
	f("empty body", "POST", "/", put, "", nil, 400, "SerializationException", "not valid JSON")
	f("truncated JSON", "POST", "/", put, `{"DeliveryStreamName":"s"`, nil, 400, "SerializationException", "not valid JSON")
	f("not an object", "POST", "/", put, `[1,2]`, nil, 400, "SerializationException", "must be a JSON object, not a JSON array")
	f("wrong type", "POST", "/", put, `{"DeliveryStreamName":5}`, nil, 400, "SerializationException", "Member DeliveryStreamName cannot be a JSON number")
	f("wrong nested type", "POST", "/", batch, `{"DeliveryStreamName":"s","Records":{"Data":"eA=="}}`, nil, 400, "SerializationException", "Records")
	f("bad base64", "POST", "/", put, `{"DeliveryStreamName":"s","Record":{"Data":"not base64!"}}`, nil, 400, "SerializationException",
		"Record data must be base64-encoded")
	f("missing members", "POST", "/", put, `{}`, nil, 400, "ValidationException",
		"2 validation errors detected: Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null; "+
			"Value null at 'record' failed to satisfy constraint: Member must not be null")
	f("null data", "POST", "/", put, `{"DeliveryStreamName":"s","Record":{"Data":null}}`, nil, 400, "ValidationException",
		"1 validation error detected: Value null at 'record.data' failed to satisfy constraint: Member must not be null")
	f("null records", "POST", "/", batch, `{"DeliveryStreamName":"s","Records":null}`, nil, 400, "ValidationException",
		"Value null at 'records' failed to satisfy constraint: Member must not be null")
	f("missing data in batch", "POST", "/", batch, `{"DeliveryStreamName":"s","Records":[{"Data":"eA=="},{}]}`, nil, 400, "ValidationException",
		"1 validation error detected: Value null at 'records.2.member.data' failed to satisfy constraint: Member must not be null")
	f("missing version", "POST", "/", "Firehose_20150804.UpdateDestination", `{"DeliveryStreamName":"s","DestinationId":"destinationId-000000000001"}`, nil,
		400, "ValidationException", "Value null at 'currentDeliveryStreamVersionId' failed to satisfy constraint: Member must not be null")
	f("missing role", "POST", "/", "Firehose_20150804.CreateDeliveryStream",
		`{"DeliveryStreamName":"n","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::b"}}`, nil,
		400, "ValidationException", "Value null at 'extendedS3DestinationConfiguration.roleARN' failed to satisfy constraint: Member must not be null")

	// JSON 1.0 and plain JSON content types are accepted too.
	status, _, _ := h.raw("POST", "/", put, `{"DeliveryStreamName":"s","Record":{"Data":"eA=="}}`,
		func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") })
	if status != 200 {
		t.Errorf("PutRecord as application/json: %d", status)
	}
}

// TestBatchBuffersAreCleared checks that the pooled batch buffers never
// leak a record of one request into the next.
func TestBatchBuffersAreCleared(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	const batch = "Firehose_20150804.PutRecordBatch"
	for range 5 {
		if status, _, e := h.raw("POST", "/", batch, `{"DeliveryStreamName":"s","Records":[{"Data":"YQ=="},{"Data":"Yg=="},{"Data":"Yw=="}]}`, nil); status != 200 {
			t.Fatalf("PutRecordBatch: %d %+v", status, e)
		}
		status, _, e := h.raw("POST", "/", batch, `{"DeliveryStreamName":"s","Records":[{"Data":"eA=="},{},{"Data":"eQ=="}]}`, nil)
		if status != 400 || !strings.Contains(e.Message, "'records.2.member.data'") {
			t.Fatalf("batch with a record without Data after a full one: %d %+v", status, e)
		}
	}
	if got := len(h.fake.records("s")); got != 15 {
		t.Errorf("stored %d records; want 15", got)
	}
}

// countingReader counts what is read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func serveInProcess(a *API, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}

func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t)
	// A declared length over the cap is refused without reading anything.
	body := &countingReader{r: zeros{}}
	req := httptest.NewRequest(http.MethodPost, "/", body)
	req.ContentLength = MaxBodyBytes + 1
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
	rec := serveInProcess(h.api, req)
	e := checkShape(t, "declared 8 MiB + 1", rec.Code, rec.Header(), rec.Body.Bytes())
	if rec.Code != http.StatusRequestEntityTooLarge || e.Type != "RequestEntityTooLargeException" || body.n != 0 {
		t.Errorf("declared 8 MiB + 1: %d %+v after reading %d bytes; want 413 without reading", rec.Code, e, body.n)
	}
	// A chunked body is read only up to the cap.
	body = &countingReader{r: zeros{}}
	req = httptest.NewRequest(http.MethodPost, "/", body)
	req.ContentLength = -1
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
	rec = serveInProcess(h.api, req)
	e = checkShape(t, "endless body", rec.Code, rec.Header(), rec.Body.Bytes())
	if rec.Code != http.StatusRequestEntityTooLarge || body.n > MaxBodyBytes+64<<10 {
		t.Errorf("endless body: %d %+v after reading %d bytes", rec.Code, e, body.n)
	}
}

func TestLoopbackOnly(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	if got := h.api.AuthMode(); got != AuthLoopback {
		t.Errorf("AuthMode() = %q; want %q", got, AuthLoopback)
	}
	f := func(remote string, mutate func(*http.Request), wantStatus int, wantMsg string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
		req.Header.Set("X-Amz-Target", "Firehose_20150804.ListDeliveryStreams")
		req.RemoteAddr = remote
		if mutate != nil {
			mutate(req)
		}
		rec := serveInProcess(h.api, req)
		e := checkShape(t, remote, rec.Code, rec.Header(), rec.Body.Bytes())
		if rec.Code != wantStatus || (wantStatus != 200 && (e.Type != "AccessDeniedException" || !strings.Contains(e.Message, wantMsg))) {
			t.Errorf("from %s: %d %+v; want %d %q", remote, rec.Code, e, wantStatus, wantMsg)
		}
	}
	f("127.0.0.1:5555", nil, 200, "")
	f("127.8.9.10:5555", nil, 200, "")
	f("[::1]:5555", nil, 200, "")
	f("[::ffff:127.0.0.1]:5555", nil, 200, "")
	f("192.0.2.7:5555", nil, 403, "serves loopback clients only, and 192.0.2.7 is not one. Add access keys under auth.access_keys")
	f("[2001:db8::1]:5555", nil, 403, "2001:db8::1 is not one")
	f("garbage", nil, 403, "is not one")
	f("127.0.0.1:5555", func(r *http.Request) { r.Header.Set("X-Forwarded-For", "192.0.2.7") }, 403, "forwarded by a proxy")
}

func TestRequestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[14] != '4' || id[18] != '-' || !strings.ContainsRune("89ab", rune(id[19])) || id[23] != '-' || seen[id] {
			t.Fatalf("newRequestID() = %q", id)
		}
		seen[id] = true
	}
}

func TestInternalErrorsAreLoggedNotLeaked(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	h.create("s", s3Config("bucket"))
	h.fake.putErr = io.ErrUnexpectedEOF
	status, _, e := h.raw("POST", "/", "Firehose_20150804.PutRecord", `{"DeliveryStreamName":"s","Record":{"Data":"c2VjcmV0IHBheWxvYWQ="}}`, nil)
	if status != 500 || e.Type != "InternalFailure" || e.Message != msgInternalFailure {
		t.Errorf("internal error answered %d %+v", status, e)
	}
	if !strings.Contains(logs.String(), "unexpected EOF") || !strings.Contains(logs.String(), "stream=s") {
		t.Errorf("internal error not logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), "secret payload") || strings.Contains(logs.String(), "c2VjcmV0IHBheWxvYWQ") {
		t.Errorf("log holds the record payload: %q", logs.String())
	}
}

// TestBatchDataDecoding checks the record data of batches of changing
// sizes, decoded into the reused arena or, past its capacity, allocated.
func TestBatchDataDecoding(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	const batch = "Firehose_20150804.PutRecordBatch"
	var want []string
	for round, n := range []int{3, 1, 40, 7, 40, 200} {
		var b strings.Builder
		b.WriteString(`{"DeliveryStreamName":"s","Records":[`)
		for i := range n {
			data := strings.Repeat(string(rune('a'+(round+i)%26)), i*37%300)
			want = append(want, data)
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"Data":"` + base64.StdEncoding.EncodeToString([]byte(data)) + `"}`)
		}
		b.WriteString(`]}`)
		if status, _, e := h.raw("POST", "/", batch, b.String(), nil); status != 200 {
			t.Fatalf("round %d: %d %+v", round, status, e)
		}
	}
	got := h.fake.records("s")
	if len(got) != len(want) {
		t.Fatalf("stored %d records; want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i].Data) != want[i] {
			t.Fatalf("record %d = %q; want %q", i, got[i].Data, want[i])
		}
	}

	// JSON escapes take the slow path; non-strings are refused.
	if status, _, e := h.raw("POST", "/", batch, `{"DeliveryStreamName":"s","Records":[{"Data":"aGVs\u0062G8\/"},{"Data":"eA=="}]}`, nil); status != 200 {
		t.Fatalf("escaped base64: %d %+v", status, e)
	}
	got = h.fake.records("s")
	if a, b := string(got[len(got)-2].Data), string(got[len(got)-1].Data); a != "hello?" || b != "x" {
		t.Errorf("escaped base64 stored %q, %q; want \"hello?\", \"x\"", a, b)
	}
	for _, body := range []string{
		`{"DeliveryStreamName":"s","Records":[{"Data":5}]}`,
		`{"DeliveryStreamName":"s","Records":[{"Data":{"a":1}}]}`,
		`{"DeliveryStreamName":"s","Records":[{"Data":"eA=="},{"Data":"\u00e9"}]}`,
	} {
		if status, _, e := h.raw("POST", "/", batch, body, nil); status != 400 || e.Type != "SerializationException" {
			t.Errorf("%s: %d %+v; want SerializationException", body, status, e)
		}
	}
}
