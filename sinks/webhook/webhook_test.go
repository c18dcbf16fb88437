package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/hydrantio/hydrant/record"
)

// These tests run the sink against httptest servers that speak the
// protocol, with a clock that does not wait: retries take no time.

// got is one request as the endpoint saw it.
type got struct {
	header http.Header
	raw    []byte // as sent
	json   []byte // decompressed
	body   requestBody
}

type requestBody struct {
	RequestID string `json:"requestId"`
	Timestamp int64  `json:"timestamp"`
	Records   []struct {
		Data string `json:"data"`
	} `json:"records"`
}

func (g got) id() string { return g.header.Get(HeaderRequestID) }

// data returns the decoded records of the request.
func (g got) data(t *testing.T) []string {
	t.Helper()
	out := make([]string, len(g.body.Records))
	for i, r := range g.body.Records {
		b, err := base64.StdEncoding.Strict().DecodeString(r.Data)
		if err != nil {
			t.Fatalf("record %d of request %s: data %q is not base64: %v", i, g.id(), r.Data, err)
		}
		out[i] = string(b)
	}
	return out
}

// endpoint is a fake endpoint: it records every request and answers with
// answer, or as a conforming endpoint does when answer is nil.
type endpoint struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []got
	answer func(w http.ResponseWriter, r *http.Request, n int, g got) // n: the request's number, from 0
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away
	}
	g := got{header: r.Header.Clone(), raw: raw, json: raw}
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			g.json, err = io.ReadAll(zr)
		}
		if err != nil {
			e.t.Errorf("request %s: body does not gunzip: %v", g.id(), err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(g.json))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g.body); err != nil {
		e.t.Errorf("request %s: body %.200q is not a Firehose request: %v", g.id(), g.json, err)
	}
	e.mu.Lock()
	n := len(e.reqs)
	e.reqs = append(e.reqs, g)
	answer := e.answer
	e.mu.Unlock()
	if answer != nil {
		answer(w, r, n, g)
		return
	}
	ok(w, g.id())
}

func (e *endpoint) setAnswer(answer func(w http.ResponseWriter, r *http.Request, n int, g got)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answer = answer
}

func (e *endpoint) requests() []got {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.reqs)
}

// ok answers as a conforming endpoint that took the request.
func ok(w http.ResponseWriter, id string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"requestId":%q,"timestamp":%d}`, id, time.Now().UnixMilli())
}

// fail answers status with a Firehose error body.
func fail(w http.ResponseWriter, id string, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"requestId":%q,"timestamp":%d,"errorMessage":%q}`, id, time.Now().UnixMilli(), msg)
}

func newEndpoint(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int, g got)) *endpoint {
	t.Helper()
	e := &endpoint{t: t, answer: answer}
	e.srv = httptest.NewServer(e)
	t.Cleanup(e.srv.Close)
	return e
}

// fakeClock is a clock whose sleeps return at once and are recorded.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// newSink returns a sink for e with cfg (URL filled in), a fake clock and
// no jitter.
func newSink(t *testing.T, e *endpoint, cfg Config) (*Sink, *fakeClock) {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = e.srv.URL + "/ingest?tenant=a"
	}
	c := &fakeClock{now: epoch}
	s, err := New(cfg, nil, WithClock(c.Now, c.Sleep), WithRandom(func() float64 { return 0.5 }))
	if err != nil {
		t.Fatalf("New(%v) = %v", cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

// makeRecords returns n records "rec-<i>:" padded with x to size bytes
// (at least the prefix).
func makeRecords(n, size int) []record.Record {
	recs := make([]record.Record, n)
	for i := range recs {
		d := fmt.Appendf(nil, "rec-%d:", i)
		for len(d) < size {
			d = append(d, 'x')
		}
		recs[i] = record.Record{Offset: uint64(i), Data: d}
	}
	return recs
}

// delivered returns the records the endpoint took, in order: those of the
// last request of each id it answered as ok (every request, with the
// default answer).
func delivered(t *testing.T, reqs []got) []string {
	t.Helper()
	var out []string
	for _, g := range reqs {
		out = append(out, g.data(t)...)
	}
	return out
}

func wantData(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHeadersAndBody(t *testing.T) {
	e := newEndpoint(t, nil)
	cfg := Config{
		AccessKey:        "key-1234",
		CommonAttributes: map[string]string{"env": "prod", "team": "data", "empty": "", "q": `a<b>&"c" é`},
		SourceARN:        "arn:aws:firehose:us-east-1:000000000000:deliverystream/clicks",
	}
	s, _ := newSink(t, e, cfg)
	recs := []record.Record{{Data: []byte("hello")}, {Data: []byte("hello world")}, {Data: []byte{}}, {Data: []byte{0, 0xff, '\n', '"'}}}
	if err := s.Send(context.Background(), "clicks/0-3", recs); err != nil {
		t.Fatalf("Send = %v", err)
	}
	reqs := e.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests; want 1", len(reqs))
	}
	g := reqs[0]
	want := map[string]string{
		"Content-Type":        "application/json",
		"Content-Length":      fmt.Sprint(len(g.raw)),
		HeaderProtocolVersion: "1.0",
		HeaderAccessKey:       "key-1234",
		HeaderSourceARN:       "arn:aws:firehose:us-east-1:000000000000:deliverystream/clicks",
		"User-Agent":          userAgent,
		"Accept-Encoding":     "", // absent
		"Content-Encoding":    "", // absent
	}
	for k, v := range want {
		if got := g.header.Get(k); got != v {
			t.Errorf("header %s = %q; want %q", k, got, v)
		}
		if v == "" && len(g.header.Values(k)) > 0 {
			t.Errorf("header %s is present (%q); want it absent", k, g.header.Values(k))
		}
	}
	if n := len(g.header.Values(HeaderRequestID)); n != 1 {
		t.Errorf("%d %s headers; want 1", n, HeaderRequestID)
	}
	if !guid.MatchString(g.id()) {
		t.Errorf("request id %q is not a version 8 GUID", g.id())
	}
	var attrs map[string]map[string]string
	if err := json.Unmarshal([]byte(g.header.Get(HeaderCommonAttributes)), &attrs); err != nil {
		t.Fatalf("%s %q is not JSON: %v", HeaderCommonAttributes, g.header.Get(HeaderCommonAttributes), err)
	}
	if got, want := g.header.Get(HeaderCommonAttributes), `{"commonAttributes":{"empty":"","env":"prod","q":"a<b>&\"c\" é","team":"data"}}`; got != want {
		t.Errorf("%s = %s; want %s", HeaderCommonAttributes, got, want)
	}
	if !reflect.DeepEqual(attrs, map[string]map[string]string{"commonAttributes": cfg.CommonAttributes}) {
		t.Errorf("%s = %v; want commonAttributes %v", HeaderCommonAttributes, attrs, cfg.CommonAttributes)
	}
	// The body, byte for byte.
	wantBody := fmt.Sprintf(`{"requestId":%q,"timestamp":%d,"records":[{"data":"aGVsbG8="},{"data":"aGVsbG8gd29ybGQ="},{"data":""},{"data":"AP8KIg=="}]}`,
		g.id(), epoch.UnixMilli())
	if string(g.raw) != wantBody {
		t.Errorf("body = %s\nwant   %s", g.raw, wantBody)
	}
	if !json.Valid(g.raw) {
		t.Errorf("body is not valid JSON")
	}
}

func TestHeadersWithoutKeyOrAttributes(t *testing.T) {
	e := newEndpoint(t, nil)
	s, _ := newSink(t, e, Config{})
	if err := s.Send(context.Background(), "b", makeRecords(1, 10)); err != nil {
		t.Fatalf("Send = %v", err)
	}
	h := e.requests()[0].header
	for _, k := range []string{HeaderAccessKey, HeaderSourceARN, "Content-Encoding"} {
		if v, ok := h[k]; ok {
			t.Errorf("header %s = %q; want it absent", k, v)
		}
	}
	if got, want := h.Get(HeaderCommonAttributes), `{"commonAttributes":{}}`; got != want {
		t.Errorf("%s = %q; want %q", HeaderCommonAttributes, got, want)
	}
}

func TestGzip(t *testing.T) {
	e := newEndpoint(t, nil)
	s, _ := newSink(t, e, Config{ContentEncoding: EncodingGzip})
	// Over gzipChunk of JSON, so the body is staged in several chunks.
	recs := makeRecords(3000, 300)
	for round := range 2 { // the second reuses the encoder and its gzip writer
		if err := s.Send(context.Background(), fmt.Sprint("b", round), recs); err != nil {
			t.Fatalf("Send = %v", err)
		}
	}
	reqs := e.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests; want 2", len(reqs))
	}
	for _, g := range reqs {
		if ce := g.header.Get("Content-Encoding"); ce != "gzip" {
			t.Errorf("Content-Encoding = %q; want gzip", ce)
		}
		if g.header.Get("Content-Length") != fmt.Sprint(len(g.raw)) {
			t.Errorf("Content-Length = %s; the body has %d bytes", g.header.Get("Content-Length"), len(g.raw))
		}
		if len(g.raw) >= len(g.json)/4 {
			t.Errorf("gzipped body is %d bytes for %d of JSON; want it compressed", len(g.raw), len(g.json))
		}
		if !slices.Equal(g.data(t), wantData(recs)) {
			t.Errorf("request %s does not carry the records", g.id())
		}
		if g.body.RequestID != g.id() {
			t.Errorf("body requestId %q; header %q", g.body.RequestID, g.id())
		}
	}
}

func TestSplitAtRecordLimit(t *testing.T) {
	e := newEndpoint(t, nil)
	s, _ := newSink(t, e, Config{})
	recs := makeRecords(2*MaxRecordsPerRequest+1, 1)
	if err := s.Send(context.Background(), "big", recs); err != nil {
		t.Fatalf("Send = %v", err)
	}
	reqs := e.requests()
	var sizes []int
	for _, g := range reqs {
		sizes = append(sizes, len(g.body.Records))
	}
	if want := []int{10000, 10000, 1}; !slices.Equal(sizes, want) {
		t.Errorf("requests of %v records; want %v", sizes, want)
	}
	if !slices.Equal(delivered(t, reqs), wantData(recs)) {
		t.Errorf("records delivered out of order or not at all")
	}
	ids := map[string]bool{}
	for _, g := range reqs {
		ids[g.id()] = true
	}
	if len(ids) != 3 {
		t.Errorf("%d distinct ids for 3 requests", len(ids))
	}
}

func TestSplitAtByteLimit(t *testing.T) {
	const limit = 64 << 10
	for _, enc := range []string{EncodingNone, EncodingGzip} {
		t.Run(enc, func(t *testing.T) {
			e := newEndpoint(t, nil)
			s, _ := newSink(t, e, Config{MaxBytesPerRequest: limit, ContentEncoding: enc})
			// Sizes that do not divide the limit evenly.
			recs := makeRecords(1000, 0)
			for i := range recs {
				recs[i].Data = append(recs[i].Data, bytes.Repeat([]byte{'y'}, 37*(i%50))...)
			}
			if err := s.Send(context.Background(), "bytes", recs); err != nil {
				t.Fatalf("Send = %v", err)
			}
			reqs := e.requests()
			if len(reqs) < 3 {
				t.Fatalf("%d requests; want the batch split by bytes", len(reqs))
			}
			next := 0
			for i, g := range reqs {
				if len(g.json) > limit {
					t.Errorf("request %d has a body of %d bytes, over %d", i, len(g.json), limit)
				}
				next += len(g.body.Records)
				// Full: the next record would not have fit, whatever the
				// width of the timestamp.
				if next < len(recs) && len(g.json)+recordSize(recs[next])+(maxTSLen-13) <= limit {
					t.Errorf("request %d has %d bytes and left out record %d of %d bytes", i, len(g.json), next, recordSize(recs[next]))
				}
			}
			if !slices.Equal(delivered(t, reqs), wantData(recs)) {
				t.Errorf("records delivered out of order or not at all")
			}
		})
	}
}

func TestSplit(t *testing.T) {
	rec := func(n int) record.Record { return record.Record{Data: make([]byte, n)} }
	// A record of 3 bytes is 4 in base64 and 4+recordOverhead in a body.
	small := envelopeLen + 3*(4+recordOverhead)
	tests := []struct {
		recs       []record.Record
		first      int
		maxRecords int
		maxBytes   int
		end        int
		fits       bool
	}{
		{[]record.Record{rec(3), rec(3), rec(3)}, 0, 10, 1 << 20, 3, true},
		{[]record.Record{rec(3), rec(3), rec(3)}, 0, 2, 1 << 20, 2, true},
		{[]record.Record{rec(3), rec(3), rec(3)}, 2, 2, 1 << 20, 3, true},
		{[]record.Record{rec(3), rec(3), rec(3), rec(3)}, 0, 10, small, 3, true},
		{[]record.Record{rec(3), rec(3), rec(3), rec(3)}, 0, 10, small - 1, 2, true},
		{[]record.Record{rec(3), rec(3000), rec(3)}, 0, 10, 1024, 1, true},
		{[]record.Record{rec(3), rec(3000), rec(3)}, 1, 10, 1024, 2, false},
		{[]record.Record{rec(0)}, 0, 1, envelopeLen + recordOverhead, 1, true},
	}
	for _, tt := range tests {
		end, fits := split(tt.recs, tt.first, tt.maxRecords, tt.maxBytes)
		if end != tt.end || fits != tt.fits {
			t.Errorf("split(%d records, %d, %d, %d) = %d, %t; want %d, %t", len(tt.recs), tt.first, tt.maxRecords, tt.maxBytes, end, fits, tt.end, tt.fits)
		}
	}
}

func TestRecordTooLarge(t *testing.T) {
	e := newEndpoint(t, nil)
	s, _ := newSink(t, e, Config{MaxBytesPerRequest: 4096})
	recs := makeRecords(5, 10)
	recs[2].Data = bytes.Repeat([]byte{'z'}, 4000) // 5,336 bytes in base64
	err := s.Send(context.Background(), "b", recs)
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Send = %v; want a *FailedError", err)
	}
	if len(fe.Requests) != 1 {
		t.Fatalf("FailedError has %d requests; want 1: %v", len(fe.Requests), fe)
	}
	f := fe.Requests[0]
	if !slices.Equal(f.Records, []int{2}) || f.Attempts != 0 || f.LastCode != CodeRecordTooLarge || !f.Permanent() {
		t.Errorf("failed request = %+v; want record 2, 0 attempts, %s", f, CodeRecordTooLarge)
	}
	if got, want := delivered(t, e.requests()), wantData(slices.Concat(recs[:2], recs[3:])); !slices.Equal(got, want) {
		t.Errorf("delivered %q; want %q", got, want)
	}
}

func TestDeterministicIDs(t *testing.T) {
	e := newEndpoint(t, nil)
	s, _ := newSink(t, e, Config{MaxRecordsPerRequest: 100})
	recs := makeRecords(250, 20)
	ids := func(batch string, s *Sink) []string {
		t.Helper()
		n := len(e.requests())
		if err := s.Send(context.Background(), batch, recs); err != nil {
			t.Fatalf("Send = %v", err)
		}
		var out []string
		for _, g := range e.requests()[n:] {
			out = append(out, g.id())
		}
		return out
	}
	first := ids("stream/0-249", s)
	if len(first) != 3 {
		t.Fatalf("%d requests; want 3", len(first))
	}
	// A redelivery, even by another sink (after a restart), sends the
	// same ids.
	s2, _ := newSink(t, e, Config{MaxRecordsPerRequest: 100})
	if again := ids("stream/0-249", s2); !slices.Equal(again, first) {
		t.Errorf("ids of the redelivery %v; want %v", again, first)
	}
	other := ids("stream/250-499", s)
	for _, id := range other {
		if slices.Contains(first, id) {
			t.Errorf("batch stream/250-499 reuses id %s of batch stream/0-249", id)
		}
	}
	// Split otherwise, requests that carry other records get other ids.
	s3, _ := newSink(t, e, Config{MaxRecordsPerRequest: 125})
	for _, id := range ids("stream/0-249", s3) {
		if slices.Contains(first, id) {
			t.Errorf("a request of 125 records reuses id %s of one of 100", id)
		}
	}
	if requestID("a", 0, 0, 1) == requestID("a", 1, 0, 1) || requestID("ab", 0, 0, 1) == requestID("a", 0, 0, 1) {
		t.Errorf("requestID collides on index or batch id")
	}
	for _, id := range first {
		if !guid.MatchString(id) {
			t.Errorf("id %q is not a version 8 GUID", id)
		}
	}
}

// TestRetriedResponses sends a batch to an endpoint that gives a bad
// answer twice, then a good one: each bad answer is retried, with the same
// id and the same body.
func TestRetriedResponses(t *testing.T) {
	redirected := 0
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		redirected++
		mu.Unlock()
		ok(w, r.Header.Get(HeaderRequestID))
	}))
	defer target.Close()
	json200 := func(body string) func(w http.ResponseWriter, id string) {
		return func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.ReplaceAll(body, "ID", id))
		}
	}
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter, id string)
		status int
		code   string
	}{
		{"500", func(w http.ResponseWriter, id string) { fail(w, id, 500, "boom") }, 500, CodeDestinationException},
		{"503 empty", func(w http.ResponseWriter, id string) { w.WriteHeader(503) }, 503, CodeDestinationException},
		{"429", func(w http.ResponseWriter, id string) { fail(w, id, 429, "slow down") }, 429, CodeDestinationException},
		{"400", func(w http.ResponseWriter, id string) { fail(w, id, 400, "bad") }, 400, CodeDestinationException},
		{"401", func(w http.ResponseWriter, id string) { fail(w, id, 401, "who") }, 401, CodeDestinationException},
		{"204", func(w http.ResponseWriter, id string) { w.WriteHeader(204) }, 204, CodeDestinationException},
		{"202 json", func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(202)
			fmt.Fprintf(w, `{"requestId":%q,"timestamp":1}`, id)
		}, 202, CodeDestinationException},
		{"302 not followed", func(w http.ResponseWriter, id string) {
			w.Header().Set("Location", target.URL)
			w.WriteHeader(302)
		}, 302, CodeDestinationException},
		{"307 not followed", func(w http.ResponseWriter, id string) {
			w.Header().Set("Location", target.URL)
			w.WriteHeader(307)
		}, 307, CodeDestinationException},
		{"wrong id", json200(`{"requestId":"00000000-0000-0000-0000-000000000000","timestamp":1}`), 200, CodeInvalidResponse},
		{"no id", json200(`{"timestamp":1}`), 200, CodeInvalidResponse},
		{"null id", json200(`{"requestId":null,"timestamp":1}`), 200, CodeInvalidResponse},
		{"no timestamp", json200(`{"requestId":"ID"}`), 200, CodeInvalidResponse},
		{"string timestamp", json200(`{"requestId":"ID","timestamp":"1578090903599"}`), 200, CodeInvalidResponse},
		{"float timestamp", json200(`{"requestId":"ID","timestamp":1.5}`), 200, CodeInvalidResponse},
		{"unexpected field", json200(`{"requestId":"ID","timestamp":1,"status":"ok"}`), 200, CodeInvalidResponse},
		{"not JSON", json200(`OK`), 200, CodeInvalidResponse},
		{"truncated JSON", json200(`{"requestId":"ID","timest`), 200, CodeInvalidResponse},
		{"trailing data", json200(`{"requestId":"ID","timestamp":1}{}`), 200, CodeInvalidResponse},
		{"array", json200(`[{"requestId":"ID","timestamp":1}]`), 200, CodeInvalidResponse},
		{"empty", json200(``), 200, CodeInvalidResponse},
		{"text/plain", func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, `{"requestId":%q,"timestamp":1}`, id)
		}, 200, CodeInvalidResponse},
		{"no content type", func(w http.ResponseWriter, id string) {
			w.Header()["Content-Type"] = nil
			fmt.Fprintf(w, `{"requestId":%q,"timestamp":1}`, id)
		}, 200, CodeInvalidResponse},
		{"gzipped", func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			fmt.Fprintf(zw, `{"requestId":%q,"timestamp":1}`, id)
			zw.Close()
		}, 200, CodeInvalidResponse},
		{"over 1 MiB", func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"requestId":%q,"timestamp":1,"errorMessage":"%s"}`, id, strings.Repeat("a", 1<<20))
		}, 200, CodeResponseTooLarge},
		{"dropped", func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			io.WriteString(w, `{"requestId":"`)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, 0, CodeConnectionReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int, g got) {
				if n < 2 {
					tt.answer(w, g.id())
					return
				}
				ok(w, g.id())
			})
			s, clock := newSink(t, e, Config{ContentEncoding: EncodingGzip})
			recs := makeRecords(10, 10)
			start := time.Now()
			if err := s.Send(context.Background(), "b", recs); err != nil {
				t.Fatalf("Send = %v", err)
			}
			// Not held up waiting for the transport to let go of a body.
			if d := time.Since(start); d > closeGrace/2 {
				t.Errorf("Send took %v", d)
			}
			reqs := e.requests()
			if len(reqs) != 3 {
				t.Fatalf("%d attempts; want 3", len(reqs))
			}
			for _, g := range reqs[1:] {
				if g.id() != reqs[0].id() || !bytes.Equal(g.raw, reqs[0].raw) {
					t.Errorf("retry %s differs from the first attempt %s", g.id(), reqs[0].id())
				}
			}
			if got, want := clock.waits(), []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(got, want) {
				t.Errorf("waits = %v; want %v", got, want)
			}
			if !slices.Equal(reqs[2].data(t), wantData(recs)) {
				t.Errorf("wrong records delivered")
			}
			// Each bad answer alone, retried until the retry duration runs
			// out, is reported with its status and code.
			e.setAnswer(func(w http.ResponseWriter, r *http.Request, n int, g got) { tt.answer(w, g.id()) })
			s2, _ := newSink(t, e, Config{RetryDuration: 3 * time.Second})
			err := s2.Send(context.Background(), "b", recs)
			var fe *FailedError
			if !errors.As(err, &fe) || len(fe.Requests) != 1 {
				t.Fatalf("Send = %v; want a *FailedError of one request", err)
			}
			f := fe.Requests[0]
			if f.LastStatus != tt.status || f.LastCode != tt.code || f.Attempts != 3 {
				t.Errorf("failed request: status %d, code %s, %d attempts (%s); want %d, %s, 3", f.LastStatus, f.LastCode, f.Attempts, f.LastMessage, tt.status, tt.code)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if redirected != 0 {
		t.Errorf("the redirect was followed %d times", redirected)
	}
}

func TestErrorMessageKept(t *testing.T) {
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int, g got) {
		fail(w, g.id(), 503, "disk full on shard 7")
	})
	s, _ := newSink(t, e, Config{RetryDuration: NoRetries})
	err := s.Send(context.Background(), "b", makeRecords(1, 1))
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Send = %v; want a *FailedError", err)
	}
	if got, want := fe.Requests[0].LastMessage, "503: disk full on shard 7"; got != want {
		t.Errorf("LastMessage = %q; want %q", got, want)
	}
	if !strings.Contains(err.Error(), "disk full on shard 7") {
		t.Errorf("error %q does not say why", err)
	}
}

func Test413IsPermanent(t *testing.T) {
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int, g got) {
		if strings.HasPrefix(g.data(t)[0], "rec-100:") {
			fail(w, g.id(), 413, "Payload too large")
			return
		}
		ok(w, g.id())
	})
	s, clock := newSink(t, e, Config{MaxRecordsPerRequest: 100})
	recs := makeRecords(300, 5)
	err := s.Send(context.Background(), "b", recs)
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Send = %v; want a *FailedError", err)
	}
	if len(fe.Requests) != 1 {
		t.Fatalf("%d failed requests; want 1", len(fe.Requests))
	}
	f := fe.Requests[0]
	wantIdx := make([]int, 100)
	for i := range wantIdx {
		wantIdx[i] = 100 + i
	}
	if f.Attempts != 1 || f.LastStatus != 413 || !f.Permanent() || !slices.Equal(f.Records, wantIdx) || f.LastMessage != "413: Payload too large" {
		t.Errorf("failed request = {attempts %d, status %d, message %q, records %d..}; want 1 attempt, 413, records 100-199", f.Attempts, f.LastStatus, f.LastMessage, f.Records[0])
	}
	if len(clock.waits()) != 0 {
		t.Errorf("waited %v before giving up on a 413", clock.waits())
	}
	if len(e.requests()) != 3 {
		t.Errorf("%d requests; want 3: the others are delivered", len(e.requests()))
	}
	if f.ID != e.requests()[1].id() {
		t.Errorf("failed request id %s; sent %s", f.ID, e.requests()[1].id())
	}
}

func TestRetryDurationExhausted(t *testing.T) {
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int, g got) { fail(w, g.id(), 500, "down") })
	s, clock := newSink(t, e, Config{}) // 300 s
	err := s.Send(context.Background(), "b", makeRecords(3, 3))
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Requests) != 1 {
		t.Fatalf("Send = %v; want a *FailedError of one request", err)
	}
	s1 := time.Second
	// 1+2+…+64 = 127 s, then the 2-minute cap, then what is left of 300 s.
	want := []time.Duration{s1, 2 * s1, 4 * s1, 8 * s1, 16 * s1, 32 * s1, 64 * s1, 120 * s1, 53 * s1}
	if got := clock.waits(); !slices.Equal(got, want) {
		t.Errorf("waits = %v; want %v", got, want)
	}
	f := fe.Requests[0]
	if f.Attempts != 10 || f.LastStatus != 500 || f.LastCode != CodeDestinationException || f.LastMessage != "500: down" || f.Permanent() {
		t.Errorf("failed request = %+v; want 10 attempts of 500", f)
	}
	ids := map[string]int{}
	for _, g := range e.requests() {
		ids[g.id()]++
	}
	if len(ids) != 1 || ids[f.ID] != 10 {
		t.Errorf("attempts by id %v; want 10 of %s", ids, f.ID)
	}
}

func TestNoRetries(t *testing.T) {
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int, g got) { fail(w, g.id(), 500, "down") })
	s, clock := newSink(t, e, Config{RetryDuration: NoRetries})
	err := s.Send(context.Background(), "b", makeRecords(3, 3))
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Requests[0].Attempts != 1 || len(clock.waits()) != 0 {
		t.Errorf("Send = %v after waits %v; want a *FailedError after one attempt", err, clock.waits())
	}
}

func TestBackoff(t *testing.T) {
	s := &Sink{cfg: Config{}.withDefaults()}
	for _, tt := range []struct {
		n      int
		random float64
		want   time.Duration
	}{
		{1, 0.5, time.Second},
		{1, 0, 850 * time.Millisecond},
		{1, 1, 1150 * time.Millisecond},
		{4, 0.5, 8 * time.Second},
		{4, 0, 6800 * time.Millisecond},
		{7, 1, 73600 * time.Millisecond},
		{8, 0, 108800 * time.Millisecond}, // 128 s capped to 120, then -15 %
		{8, 1, 2 * time.Minute},           // never over the cap
		{1000, 0.5, 2 * time.Minute},
	} {
		s.random = func() float64 { return tt.random }
		if got := s.backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) with random %v = %v; want %v", tt.n, tt.random, got, tt.want)
		}
	}
}

func TestTimeoutRetried(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int, g got) {
		if n == 0 {
			select { // past the client's timeout
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		ok(w, g.id())
	})
	s, _ := newSink(t, e, Config{RequestTimeout: 200 * time.Millisecond})
	start := time.Now()
	if err := s.Send(context.Background(), "b", makeRecords(5, 5)); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 10*time.Second {
		t.Errorf("Send took %v; want the 200 ms timeout and a retry", d)
	}
	reqs := e.requests()
	if len(reqs) != 2 || reqs[0].id() != reqs[1].id() {
		t.Errorf("%d requests; want 2 of one id", len(reqs))
	}
	// Timing out for good says so.
	e.setAnswer(func(w http.ResponseWriter, r *http.Request, n int, g got) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	s2, _ := newSink(t, e, Config{RequestTimeout: 50 * time.Millisecond, RetryDuration: NoRetries})
	var fe *FailedError
	if err := s2.Send(context.Background(), "b", makeRecords(1, 1)); !errors.As(err, &fe) || fe.Requests[0].LastCode != CodeRequestTimeout {
		t.Errorf("Send = %v; want a *FailedError of %s", err, CodeRequestTimeout)
	}
}

func TestConnectionFailed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s, err := New(Config{URL: "http://" + addr + "/", RetryDuration: NoRetries}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), "b", makeRecords(1, 1))
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Requests[0].LastCode != CodeConnectionFailed || fe.Requests[0].LastStatus != 0 {
		t.Errorf("Send = %v; want a *FailedError of %s", err, CodeConnectionFailed)
	}
}

func TestTLSVerification(t *testing.T) {
	var hits int
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		ok(w, r.Header.Get(HeaderRequestID))
	}))
	defer srv.Close()
	recs := makeRecords(2, 2)

	// Verified by default: the test server's certificate is self-signed.
	s, err := New(Config{URL: srv.URL, RetryDuration: NoRetries}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), "b", recs)
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Requests[0].LastCode != CodeSSLHandshakeFailure {
		t.Fatalf("Send to a self-signed server = %v; want a *FailedError of %s", err, CodeSSLHandshakeFailure)
	}
	mu.Lock()
	if hits != 0 {
		t.Errorf("the server got %d requests through an unverified connection", hits)
	}
	mu.Unlock()

	// Trusted through CAFile.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = New(Config{URL: srv.URL, CAFile: ca, RetryDuration: NoRetries}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), "b", recs); err != nil {
		t.Errorf("Send with the CA file = %v", err)
	}

	// Not verified at all, for tests.
	s, err = New(Config{URL: srv.URL, InsecureSkipVerify: true, RetryDuration: NoRetries}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), "b", recs); err != nil {
		t.Errorf("Send with InsecureSkipVerify = %v", err)
	}

	// A CA file without a certificate is refused.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := New(Config{URL: srv.URL, CAFile: bad}, nil); err == nil {
		t.Errorf("New with a CA file of no certificate = nil error")
	}
}

func TestContextCanceled(t *testing.T) {
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int, g got) { fail(w, g.id(), 500, "down") })
	s, err := New(Config{URL: e.srv.URL}, nil) // real sleeps, of a second and more
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = s.Send(ctx, "b", makeRecords(1, 1))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send = %v; want context.Canceled", err)
	}
	var fe *FailedError
	if errors.As(err, &fe) {
		t.Errorf("Send = %v; a stopped Send reports no failed requests", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("Send returned %v after the cancel; want at once", d)
	}
	// Canceled while the endpoint is still answering.
	e.setAnswer(func(w http.ResponseWriter, r *http.Request, n int, g got) { <-r.Context().Done() })
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Send(ctx, "b", makeRecords(1, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v; want context.DeadlineExceeded", err)
	}
}

func TestConcurrentSends(t *testing.T) {
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int, g got) {
		if n%3 == 0 {
			fail(w, g.id(), 502, "again")
			return
		}
		ok(w, g.id())
	})
	s, _ := newSink(t, e, Config{MaxRecordsPerRequest: 50, ContentEncoding: EncodingGzip})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			recs := makeRecords(500, 40)
			if err := s.Send(context.Background(), fmt.Sprint("batch-", i), recs); err != nil {
				t.Errorf("Send %d = %v", i, err)
			}
		})
	}
	wg.Wait()
	okIDs := map[string]bool{}
	for _, g := range e.requests() {
		okIDs[g.id()] = true
	}
	if len(okIDs) != 8*10 {
		t.Errorf("%d distinct request ids; want 80", len(okIDs))
	}
}

func TestEmptyBatch(t *testing.T) {
	e := newEndpoint(t, nil)
	s, _ := newSink(t, e, Config{})
	if err := s.Send(context.Background(), "b", nil); err != nil || len(e.requests()) != 0 {
		t.Errorf("Send of no records = %v after %d requests; want nil and none", err, len(e.requests()))
	}
}

func TestValidate(t *testing.T) {
	attrs := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprint("k", i)] = "v"
		}
		return m
	}
	tests := []struct {
		cfg  Config
		want string // in the error; "" for none
	}{
		{Config{URL: "https://example.com/ingest?key=1"}, ""},
		{Config{URL: "https://example.com:8443"}, ""},
		{Config{URL: "http://localhost:8080/x"}, ""},
		{Config{URL: "http://127.0.0.1:8080/x"}, ""},
		{Config{URL: "http://127.3.4.5/x"}, ""},
		{Config{URL: "http://[::1]:8080/x"}, ""},
		{Config{URL: "http://example.com/x"}, "use https://"},
		{Config{URL: "http://10.0.0.1/x"}, "use https://"},
		{Config{URL: "http://example.com/x", AllowInsecureHTTP: true}, ""},
		{Config{URL: ""}, "invalid webhook URL"},
		{Config{URL: "example.com"}, "invalid webhook URL"},
		{Config{URL: "ftp://example.com/"}, "invalid webhook URL"},
		{Config{URL: "https://user:pw@example.com/"}, "credentials"},
		{Config{URL: "https://example.com/#frag"}, "fragment"},
		{Config{URL: "http://localhost/", CAFile: "ca.pem"}, "CA file"},
		{Config{URL: "http://localhost/", InsecureSkipVerify: true}, "verification"},
		{Config{URL: "https://h/", AccessKey: strings.Repeat("k", 4096)}, ""},
		{Config{URL: "https://h/", AccessKey: strings.Repeat("k", 4097)}, "4096"},
		{Config{URL: "https://h/", AccessKey: "a\nb"}, "control character"},
		{Config{URL: "https://h/", CommonAttributes: attrs(50)}, ""},
		{Config{URL: "https://h/", CommonAttributes: attrs(51)}, "at most 50"},
		{Config{URL: "https://h/", CommonAttributes: map[string]string{"": "v"}}, "1 to 256"},
		{Config{URL: "https://h/", CommonAttributes: map[string]string{strings.Repeat("é", 256): strings.Repeat("é", 1024)}}, ""},
		{Config{URL: "https://h/", CommonAttributes: map[string]string{strings.Repeat("n", 257): "v"}}, "1 to 256"},
		{Config{URL: "https://h/", CommonAttributes: map[string]string{"k": strings.Repeat("v", 1025)}}, "1024"},
		{Config{URL: "https://h/", CommonAttributes: map[string]string{"k": "\xff"}}, "UTF-8"},
		{Config{URL: "https://h/", ContentEncoding: "GZIP"}, ""},
		{Config{URL: "https://h/", ContentEncoding: "NONE"}, ""},
		{Config{URL: "https://h/", ContentEncoding: "zstd"}, "not supported"},
		{Config{URL: "https://h/", RequestTimeout: -1}, "negative"},
		{Config{URL: "https://h/", RetryDuration: NoRetries}, ""},
		{Config{URL: "https://h/", RetryDuration: 7200 * time.Second}, ""},
		{Config{URL: "https://h/", RetryDuration: 7201 * time.Second}, "out of range"},
		{Config{URL: "https://h/", RetryDuration: -2 * time.Second}, "out of range"},
		{Config{URL: "https://h/", Retry: Backoff{Jitter: 1}}, "jitter"},
		{Config{URL: "https://h/", Retry: Backoff{Multiplier: 0.5}}, "multiplier"},
		{Config{URL: "https://h/", Retry: Backoff{Initial: time.Minute, Max: time.Second}}, "under the initial"},
		{Config{URL: "https://h/", MaxRecordsPerRequest: 10000}, ""},
		{Config{URL: "https://h/", MaxRecordsPerRequest: 10001}, "1 to 10000"},
		{Config{URL: "https://h/", MaxRecordsPerRequest: -1}, "1 to 10000"},
		{Config{URL: "https://h/", MaxBytesPerRequest: 64 << 20}, ""},
		{Config{URL: "https://h/", MaxBytesPerRequest: 64<<20 + 1}, "out of range"},
		{Config{URL: "https://h/", MaxBytesPerRequest: 100}, "out of range"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Validate(%v) = %v; want nil", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Validate(%v) = %v; want an error saying %q", tt.cfg, err, tt.want)
		}
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	cfg := Config{URL: "https://h/path?token=s3cr3t", AccessKey: "hunter2"}
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "s3cr3t") {
			t.Errorf("config prints as %s, with a secret", s)
		}
	}
	j, _ := json.Marshal(cfg)
	if strings.Contains(string(j), "hunter2") {
		t.Errorf("config marshals as %s, with the access key", j)
	}
	// Nor do failures: a connection error's message leaves the URL out.
	s, err := New(Config{URL: "http://127.0.0.1:1/x?token=s3cr3t", AccessKey: "hunter2", RetryDuration: NoRetries}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), "b", makeRecords(1, 1)); err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Send = %v; want an error without secrets", err)
	}
}
