package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// payload is a set of PutRecordBatch request bodies encoded once and sent
// over and over, so that the load generator spends its CPU on HTTP and not
// on JSON and base64: on a 2-core machine it shares the cores with the
// server it measures.
type payload struct {
	stream     string
	recordSize int
	perRequest int
	bodies     [][]byte   // full requests of perRequest records
	data       [][]string // data[i][j]: base64 of record j of bodies[i], for retries
	tail       []byte     // the last request of a fixed volume, fewer records; nil if none
	tailData   []string
}

// newPayload encodes nBodies distinct requests of perRequest records of
// exactly recordSize bytes each (JSON lines ending in '\n', so that the
// records in a delivered object can be counted by its newlines).
func newPayload(stream string, nBodies, perRequest, recordSize int, random bool) *payload {
	p := &payload{stream: stream, recordSize: recordSize, perRequest: perRequest}
	rng := rand.New(rand.NewPCG(1, 2))
	seq := 0
	for range nBodies {
		recs := make([]string, perRequest)
		for j := range recs {
			rec := makeRecord(rng, seq, recordSize)
			if random {
				rec = makeRandomRecord(rng, recordSize)
			}
			recs[j] = base64.StdEncoding.EncodeToString(rec)
			seq++
		}
		p.data = append(p.data, recs)
		p.bodies = append(p.bodies, p.encode(nil, recs))
	}
	return p
}

// withTail sets the last request of a fixed volume to carry n records.
func (p *payload) withTail(n int) {
	if n <= 0 || n >= p.perRequest {
		p.tail, p.tailData = nil, nil
		return
	}
	p.tailData = p.data[0][:n]
	p.tail = p.encode(nil, p.tailData)
}

// encode appends a PutRecordBatch request carrying recs (base64) to dst.
func (p *payload) encode(dst []byte, recs []string) []byte {
	dst = append(dst, `{"DeliveryStreamName":`...)
	dst = strconv.AppendQuote(dst, p.stream)
	dst = append(dst, `,"Records":[`...)
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"Data":"`...)
		dst = append(dst, r...)
		dst = append(dst, `"}`...)
	}
	return append(dst, "]}"...)
}

var (
	events    = []string{"page_view", "click", "add_to_cart", "checkout", "search", "login", "logout", "video_play"}
	countries = []string{"DE", "US", "FR", "GB", "JP", "BR", "IN", "NL", "SE", "ES"}
	words     = strings.Fields(`the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet consectetur
		adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua request response
		cache miss hit latency upstream backend frontend session user account order item price discount
		shipping payment error warning info debug trace span service gateway region zone cluster node`)
)

// makeRecord returns one JSON line of exactly size bytes: realistic event
// fields, ~100 bytes of random hex (incompressible), the rest words drawn
// from a small vocabulary (compressible, but not trivially).
func makeRecord(rng *rand.Rand, seq, size int) []byte {
	b := make([]byte, 0, size)
	b = fmt.Appendf(b, `{"ts":"2026-05-01T12:%02d:%02d.%03dZ","seq":%d,"user":"user-%05d","event":%q,"country":%q,`,
		rng.IntN(60), rng.IntN(60), rng.IntN(1000), seq, rng.IntN(100000), events[rng.IntN(len(events))], countries[rng.IntN(len(countries))])
	b = fmt.Appendf(b, `"url":"https://shop.example.com/catalog/item/%d?ref=campaign-%d","latency_ms":%d,"status":%d,`,
		rng.IntN(1000000), rng.IntN(50), rng.IntN(2000), []int{200, 200, 200, 201, 204, 304, 404, 500}[rng.IntN(8)])
	b = append(b, `"ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",`...)
	b = append(b, `"trace":"`...)
	for range 96 {
		b = append(b, "0123456789abcdef"[rng.IntN(16)])
	}
	b = append(b, `","note":"`...)
	const end = "\"}\n"
	for len(b) < size-len(end) {
		w := words[rng.IntN(len(words))]
		if room := size - len(end) - len(b); len(w)+1 > room {
			w = "xxxxxxxxxxxxxxxx"[:room]
		} else {
			w += " "
		}
		b = append(b, w...)
	}
	b = append(b, end...)
	if len(b) != size {
		panic(fmt.Sprintf("record is %d bytes, want %d", len(b), size))
	}
	return b
}

// makeRandomRecord returns size random bytes, the last one '\n' and no
// other: incompressible data, the worst case for the compressed buffer.
func makeRandomRecord(rng *rand.Rand, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		if b[i] = byte(rng.Uint32()); b[i] == '\n' {
			b[i] = ' '
		}
	}
	b[size-1] = '\n'
	return b
}

// producerStats is what one producer measured; merged after a run.
type producerStats struct {
	requests   int             // HTTP round trips counted
	records    int64           // records acknowledged inside the window
	all        int64           // records acknowledged, warm-up included
	latencies  []time.Duration // per round trip
	throttled  int64           // records answered ServiceUnavailableException (per record or the whole request) and retried
	lost       int64           // records that never succeeded
	firstStart time.Time       // start of the first round trip counted
	lastAck    time.Time       // end of the last round trip counted
}

func (s *producerStats) merge(o *producerStats) {
	s.requests += o.requests
	s.records += o.records
	s.all += o.all
	s.latencies = append(s.latencies, o.latencies...)
	s.throttled += o.throttled
	s.lost += o.lost
	if !o.firstStart.IsZero() && (s.firstStart.IsZero() || o.firstStart.Before(s.firstStart)) {
		s.firstStart = o.firstStart
	}
	if o.lastAck.After(s.lastAck) {
		s.lastAck = o.lastAck
	}
}

func (s *producerStats) percentile(q float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	slices.Sort(s.latencies)
	i := int(q*float64(len(s.latencies))+0.5) - 1
	return s.latencies[min(max(i, 0), len(s.latencies)-1)]
}

// window says which round trips a producer counts: those that start at or
// after from and end at or before to. A zero bound is open.
type window struct{ from, to time.Time }

func (w window) counts(start, end time.Time) bool {
	return (w.from.IsZero() || !start.Before(w.from)) && (w.to.IsZero() || !end.After(w.to))
}

// retryFor is how long a producer keeps retrying records the server
// throttles before it counts them as lost.
const retryFor = 60 * time.Second

// client sends PutRecordBatch requests over one shared transport.
type client struct {
	hc  *http.Client
	url string
}

func newClient(endpoint string, conns int) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      64 << 10,
	}
	return &client{hc: &http.Client{Transport: tr}, url: endpoint + "/"}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// apiError is an error answer of the Firehose API.
type apiError struct {
	status  int
	typ     string
	message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.typ, e.message)
}

func (e *apiError) retryable() bool {
	return e.status == http.StatusServiceUnavailable || strings.Contains(e.typ, "ServiceUnavailable") ||
		strings.Contains(e.typ, "Throttling")
}

// roundTrip sends one request body and returns the response body in buf.
func (c *client) roundTrip(ctx context.Context, body []byte, buf *bytes.Buffer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := io.Copy(buf, resp.Body); err != nil {
		return fmt.Errorf("cannot read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
			Msg     string `json:"Message"`
		}
		_ = json.Unmarshal(buf.Bytes(), &e)
		if e.Message == "" {
			e.Message = e.Msg
		}
		if e.Type == "" && e.Message == "" {
			e.Message = strings.TrimSpace(string(buf.Bytes()[:min(buf.Len(), 200)]))
		}
		return &apiError{status: resp.StatusCode, typ: e.Type, message: e.Message}
	}
	return nil
}

var failedPutCount = []byte(`"FailedPutCount"`)
var recordID = []byte(`"RecordId"`)

// fastFailed reads FailedPutCount without decoding the whole response
// (500 record ids); ok is false when the answer needs a full decode.
func fastFailed(b []byte) (failed int, ok bool) {
	i := bytes.Index(b, failedPutCount)
	if i < 0 {
		return 0, false
	}
	b = bytes.TrimLeft(b[i+len(failedPutCount):], " \t\r\n")
	if len(b) == 0 || b[0] != ':' {
		return 0, false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	v, err := strconv.Atoi(string(b[:n]))
	if err != nil {
		return 0, false
	}
	return v, true
}

type batchResponse struct {
	FailedPutCount   int
	RequestResponses []struct {
		RecordId     string
		ErrorCode    string
		ErrorMessage string
	}
}

// put sends recs (the request body is body, already encoded from recs)
// until every record is acknowledged, retrying throttled records; it
// returns an error only for answers that no retry can fix.
func (c *client) put(ctx context.Context, p *payload, body []byte, recs []string, w window, st *producerStats, buf *bytes.Buffer) error {
	deadline := time.Now().Add(retryFor)
	pause := 20 * time.Millisecond
	for {
		start := time.Now()
		err := c.roundTrip(ctx, body, buf)
		end := time.Now()
		counted := w.counts(start, end)
		if counted {
			st.requests++
			st.latencies = append(st.latencies, end.Sub(start))
			if st.firstStart.IsZero() {
				st.firstStart = start
			}
			st.lastAck = end
		}
		var ae *apiError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.retryable():
			st.throttled += int64(len(recs))
			if time.Now().After(deadline) {
				st.lost += int64(len(recs))
				return fmt.Errorf("request still refused after %v: %w", retryFor, err)
			}
			if !sleepCtx(ctx, pause) {
				return ctx.Err()
			}
			pause = min(pause*2, time.Second)
			continue
		default:
			return fmt.Errorf("PutRecordBatch: %w", err)
		}

		failed, ok := fastFailed(buf.Bytes())
		if ok && failed == 0 {
			if n := bytes.Count(buf.Bytes(), recordID); n != len(recs) {
				return fmt.Errorf("PutRecordBatch of %d records answered %d RecordIds", len(recs), n)
			}
			if counted {
				st.records += int64(len(recs))
			}
			st.all += int64(len(recs))
			return nil
		}
		var r batchResponse
		if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
			return fmt.Errorf("cannot decode PutRecordBatch response: %w", err)
		}
		if len(r.RequestResponses) != len(recs) {
			return fmt.Errorf("PutRecordBatch of %d records answered %d RequestResponses", len(recs), len(r.RequestResponses))
		}
		var retry []string
		var other []string
		for i, rr := range r.RequestResponses {
			switch {
			case rr.ErrorCode == "":
				if counted {
					st.records++
				}
				st.all++
			case rr.ErrorCode == "ServiceUnavailableException":
				retry = append(retry, recs[i])
			default:
				other = append(other, rr.ErrorCode+": "+rr.ErrorMessage)
			}
		}
		if len(other) > 0 {
			st.lost += int64(len(other) + len(retry))
			return fmt.Errorf("%d records failed for good, first: %s", len(other), other[0])
		}
		if len(retry) == 0 {
			return nil
		}
		st.throttled += int64(len(retry))
		if time.Now().After(deadline) {
			st.lost += int64(len(retry))
			return fmt.Errorf("%d records still throttled after %v", len(retry), retryFor)
		}
		if !sleepCtx(ctx, pause) {
			return ctx.Err()
		}
		pause = min(pause*2, time.Second)
		recs = retry
		body = p.encode(nil, retry)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// runFor runs n producers as fast as they go: a warm-up, then a measured
// window of d. Only round trips inside the window are counted.
func runFor(ctx context.Context, c *client, p *payload, n int, warmup, d time.Duration) (*producerStats, time.Duration, error) {
	start := time.Now()
	w := window{from: start.Add(warmup), to: start.Add(warmup + d)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stats := make([]producerStats, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var buf bytes.Buffer
			st := &stats[i]
			st.latencies = make([]time.Duration, 0, 4096)
			for k := i; time.Now().Before(w.to); k++ {
				b := k % len(p.bodies)
				if err := c.put(ctx, p, p.bodies[b], p.data[b], w, st, &buf); err != nil {
					if ctx.Err() == nil {
						errs[i] = err
						cancel()
					}
					return
				}
			}
		})
	}
	wg.Wait()
	var total producerStats
	for i := range stats {
		total.merge(&stats[i])
	}
	return &total, d, errors.Join(errs...)
}

// runVolume runs n producers until requests requests (the last one
// p.tail, if set) are acknowledged, adding each acknowledged record to
// acked as it goes.
func runVolume(ctx context.Context, c *client, p *payload, n, requests int, acked *atomic.Int64) (*producerStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	stats := make([]producerStats, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var buf bytes.Buffer
			st := &stats[i]
			st.latencies = make([]time.Duration, 0, requests/n+1)
			for {
				k := int(next.Add(1)) - 1
				if k >= requests {
					return
				}
				b := k % len(p.bodies)
				body, recs := p.bodies[b], p.data[b]
				if k == requests-1 && p.tail != nil {
					body, recs = p.tail, p.tailData
				}
				before := st.records
				if err := c.put(ctx, p, body, recs, window{}, st, &buf); err != nil {
					if ctx.Err() == nil {
						errs[i] = err
						cancel()
					}
					return
				}
				acked.Add(st.records - before)
			}
		})
	}
	wg.Wait()
	var total producerStats
	for i := range stats {
		total.merge(&stats[i])
	}
	return &total, errors.Join(errs...)
}
