// Package webhook delivers records to an HTTP endpoint with Amazon Data
// Firehose's HTTP endpoint delivery protocol, so that an endpoint written
// for Firehose receives from Hydrant unchanged.
//
// The protocol ("HTTP endpoint delivery request and response
// specifications" in the Firehose developer guide): records go in POST
// requests of 1 to 10,000 records and at most 64 MiB of body before
// compression,
//
//	{"requestId":"<guid>","timestamp":<ms since epoch>,"records":[{"data":"<base64>"},…]}
//
// with the headers Content-Type: application/json,
// X-Amz-Firehose-Protocol-Version: 1.0, X-Amz-Firehose-Request-Id (the
// requestId again), X-Amz-Firehose-Access-Key (the configured key,
// verbatim), X-Amz-Firehose-Common-Attributes ({"commonAttributes":{…}}),
// X-Amz-Firehose-Source-Arn, and Content-Encoding: gzip when the body is
// gzipped (absent otherwise). A request succeeded only when the endpoint
// answered 200 with Content-Type application/json, no Content-Encoding, and
// a body of at most 1 MiB that is exactly {"requestId": the same id,
// "timestamp": an integer, optionally "errorMessage"}. A 413 fails the
// request for good. Everything else (other statuses, redirects, which are
// not followed, timeouts, broken connections, bodies that break the format)
// is retried with the same id and body after 1 s, 2 s, 4 s, … ±15 %, at
// most 2 minutes apart, until the retry duration (300 s by default) has
// been spent waiting.
//
// Request ids are derived from the caller's batch id, so a batch delivered
// again after a crash carries the ids it carried before and an endpoint can
// deduplicate by X-Amz-Firehose-Request-Id: delivery is at least once, and
// exactly once to an endpoint that deduplicates.
//
// Where Hydrant differs: Firehose drops a batch answered 413 without
// writing it to the error output; Send reports it in its FailedError with
// the others, so that the caller can keep it. Firehose only delivers to
// https on port 443; Hydrant takes any port, and http to a loopback host
// or when allowed explicitly.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hydrantio/hydrant/internal/httpclient"
	"github.com/hydrantio/hydrant/record"
)

// ProtocolVersion is the X-Amz-Firehose-Protocol-Version sent.
const ProtocolVersion = "1.0"

// The request headers of the protocol.
const (
	HeaderProtocolVersion  = "X-Amz-Firehose-Protocol-Version"
	HeaderRequestID        = "X-Amz-Firehose-Request-Id"
	HeaderAccessKey        = "X-Amz-Firehose-Access-Key"
	HeaderCommonAttributes = "X-Amz-Firehose-Common-Attributes"
	HeaderSourceARN        = "X-Amz-Firehose-Source-Arn"
)

// userAgent identifies Hydrant to endpoints.
const userAgent = "Hydrant-Webhook/1.0"

// Sink delivers batches of records to one endpoint. It is safe for
// concurrent use; each Send holds one request body in memory at a time.
type Sink struct {
	cfg    Config // with defaults
	url    string
	shown  string // url for logs and messages: no query
	attrs  string // X-Amz-Firehose-Common-Attributes
	gzip   bool
	client *http.Client
	logger *slog.Logger

	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	random  func() float64
	observe func(ok bool, took time.Duration)

	mu   sync.Mutex
	free []*encoder // idle encoders, kept with their buffers
}

// Option changes how a Sink works, for tests.
type Option func(*Sink)

// WithClock makes the sink read the time from now (the bodies'
// timestamps) and wait between attempts with sleep, which returns early
// with ctx's error when ctx is done. The defaults are time.Now and a
// timer. Tests pass a sleep that returns at once to run retries fast; the
// retry duration is counted in the durations asked of sleep.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(s *Sink) { s.now, s.sleep = now, sleep }
}

// WithAttemptObserver makes the sink call observe after every request
// attempt with whether it succeeded and how long it took: the caller's
// metrics then count attempts as Firehose does, per request, retries
// included.
func WithAttemptObserver(observe func(ok bool, took time.Duration)) Option {
	return func(s *Sink) { s.observe = observe }
}

// WithRandom makes the backoff's jitter come from random, which returns
// values in [0, 1); 0.5 means no jitter. The default is math/rand/v2.
func WithRandom(random func() float64) Option {
	return func(s *Sink) { s.random = random }
}

// New returns a sink for the endpoint cfg names. It does not contact the
// endpoint: one that is down at start makes the first requests fail and
// be retried.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Sink, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, _ := parseURL(cfg.URL) // valid
	attrs := cfg.CommonAttributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	// As a JSON library that does not escape <, > and & for HTML writes it.
	var attrJSON bytes.Buffer
	je := json.NewEncoder(&attrJSON)
	je.SetEscapeHTML(false)
	if err := je.Encode(struct {
		CommonAttributes map[string]string `json:"commonAttributes"`
	}{attrs}); err != nil {
		return nil, fmt.Errorf("cannot encode the webhook common attributes: %w", err)
	}
	tr, err := transport(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.InsecureSkipVerify {
		logger.Warn("TLS certificates of the webhook endpoint are not verified: for tests only", "url", httpclient.RedactURL(u))
	}
	s := &Sink{
		cfg:   cfg,
		url:   cfg.URL,
		shown: httpclient.RedactURL(u),
		attrs: string(bytes.TrimSuffix(attrJSON.Bytes(), []byte("\n"))),
		gzip:  cfg.ContentEncoding == EncodingGzip,
		client: &http.Client{
			Transport: tr,
			// Firehose does not follow redirects: a 3xx is a failed
			// attempt, retried. The body of the redirect not taken (307,
			// 308) is closed, or deliver would wait for it.
			CheckRedirect: func(req *http.Request, _ []*http.Request) error {
				if req.Body != nil {
					req.Body.Close()
				}
				return http.ErrUseLastResponse
			},
		},
		logger: logger,
		now:    time.Now,
		sleep:  sleep,
		random: rand.Float64,
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// transport returns an HTTP transport that verifies the endpoint's
// certificate against the system's CAs and cfg.CAFile's, unless
// cfg.InsecureSkipVerify.
func transport(cfg Config) (*http.Transport, error) {
	tr, err := httpclient.Transport(cfg.CAFile, cfg.InsecureSkipVerify, "webhook")
	if err != nil {
		return nil, err
	}
	// No Accept-Encoding: a response must not be content-encoded, and the
	// transport would otherwise undo a gzip one silently.
	tr.DisableCompression = true
	tr.MaxResponseHeaderBytes = maxResponseBytes
	return tr, nil
}

// Close closes the idle connections to the endpoint. Sends still running
// go on; a Send after Close opens new connections.
func (s *Sink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// URL returns the endpoint's URL without its query, for logs.
func (s *Sink) URL() string { return s.shown }

// Send delivers recs, the batch batchID, in requests within the limits,
// one after the other, each retried until delivered or failed for good. It
// returns nil once every record was delivered; a *FailedError naming the
// requests that failed for good, after trying all the others; or an error
// wrapping ctx's once ctx is done, leaving the batch partly delivered
// (delivering it again is safe).
//
// batchID must identify the batch's records among every batch sent to the
// endpoint, such as the stream's name with the first and last log offsets:
// each request's id is derived from it, the request's index and its
// records' range, so that delivering the same batch again after a crash
// sends the same ids. Send does not keep recs after it returns.
func (s *Sink) Send(ctx context.Context, batchID string, recs []record.Record) error {
	enc := s.getEncoder()
	defer s.putEncoder(enc)
	var failed []FailedRequest
	for index, first := 0, 0; first < len(recs); index++ {
		end, fits := split(recs, first, s.cfg.MaxRecordsPerRequest, s.cfg.MaxBytesPerRequest)
		id := requestID(batchID, index, first, end)
		var f *FailedRequest
		if fits {
			var err error
			if f, err = s.deliver(ctx, enc, id, recs[first:end]); err != nil {
				return fmt.Errorf("cannot deliver batch %s to the webhook %s: %w", batchID, s.shown, err)
			}
		} else {
			f = &FailedRequest{
				LastCode:    CodeRecordTooLarge,
				LastMessage: fmt.Sprintf("the record of %d bytes is %d bytes in base64 in a request, over the webhook's %d bytes per request", len(recs[first].Data), envelopeLen+recordSize(recs[first]), s.cfg.MaxBytesPerRequest),
			}
			s.logger.Error("webhook record too large to send", "url", s.shown, "batch", batchID, "request_id", id, "bytes", len(recs[first].Data))
		}
		if f != nil {
			f.ID = id
			f.Records = make([]int, end-first)
			for i := range f.Records {
				f.Records[i] = first + i
			}
			failed = append(failed, *f)
		}
		first = end
	}
	if failed != nil {
		return &FailedError{BatchID: batchID, Requests: failed}
	}
	return nil
}

// getEncoder returns an idle encoder, or a new one. Encoders are kept
// rather than pooled with sync.Pool, which the GC empties, so that a Sink
// keeps one body buffer per concurrent Send instead of allocating one per
// batch.
func (s *Sink) getEncoder() *encoder {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		enc := s.free[n-1]
		s.free = s.free[:n-1]
		return enc
	}
	return new(encoder)
}

func (s *Sink) putEncoder(enc *encoder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = append(s.free, enc)
}

// deliver sends one request until it succeeds, fails for good (returned
// as a FailedRequest without ID and Records) or ctx is done (the error).
func (s *Sink) deliver(ctx context.Context, enc *encoder, id string, recs []record.Record) (*FailedRequest, error) {
	body := &bodies{buf: enc.encode(id, s.now().UnixMilli(), recs, s.gzip)}
	defer func() {
		// The transport may read a request body after Do returned; the
		// buffer is the encoder's, which the next request overwrites.
		if !body.wait(closeGrace) {
			s.logger.Warn("webhook request body still held by the HTTP transport; leaving it the buffer", "url", s.shown, "request_id", id)
			enc.body = nil
		}
	}()
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		start := time.Now()
		o, err := s.attempt(ctx, id, body)
		if err != nil {
			return nil, err
		}
		if s.observe != nil {
			s.observe(o.ok, time.Since(start))
		}
		if o.ok {
			if attempt > 1 {
				s.logger.Info("webhook request delivered after retries", "url", s.shown, "request_id", id, "attempts", attempt, "records", len(recs))
			}
			return nil, nil
		}
		left := s.cfg.RetryDuration - waited
		if o.permanent || left <= 0 {
			s.logger.Error("webhook request failed for good", "url", s.shown, "request_id", id, "attempts", attempt,
				"records", len(recs), "status", o.status, "code", o.code, "err", o.msg, "permanent", o.permanent)
			return &FailedRequest{Attempts: attempt, LastStatus: o.status, LastCode: o.code, LastMessage: o.msg}, nil
		}
		wait := min(s.backoff(attempt), left)
		s.logger.Warn("webhook request failed; retrying", "url", s.shown, "request_id", id, "attempt", attempt,
			"status", o.status, "code", o.code, "err", o.msg, "retry_in", wait)
		if err := s.sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

// backoff returns the wait before retry n (from 1):
// Initial×Multiplier^(n-1)×(1±Jitter), at most Max.
func (s *Sink) backoff(n int) time.Duration {
	b := s.cfg.Retry
	d := float64(b.Initial)
	for i := 1; i < n && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d *= 1 + b.Jitter*(2*s.random()-1)
	return min(time.Duration(d), b.Max)
}

// attempt sends the request once. Its error is ctx's, when ctx is done;
// every other failure is in the outcome.
func (s *Sink) attempt(ctx context.Context, id string, body *bodies) (outcome, error) {
	actx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.url, body.reader())
	if err != nil {
		return outcome{}, fmt.Errorf("cannot make the request: %w", err) // the URL was checked
	}
	req.ContentLength = int64(len(body.buf))
	// For the transport to send the request again on another connection
	// when an HTTP/2 server closes one (GOAWAY) under it.
	req.GetBody = func() (io.ReadCloser, error) { return body.reader(), nil }
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	if s.gzip {
		h["Content-Encoding"] = []string{"gzip"}
	}
	h["User-Agent"] = []string{userAgent}
	h[HeaderProtocolVersion] = []string{ProtocolVersion}
	h[HeaderRequestID] = []string{id}
	if s.cfg.AccessKey != "" {
		h[HeaderAccessKey] = []string{s.cfg.AccessKey}
	}
	h[HeaderCommonAttributes] = []string{s.attrs}
	if s.cfg.SourceARN != "" {
		h[HeaderSourceARN] = []string{s.cfg.SourceARN}
	}

	resp, err := s.client.Do(req)
	var respBody []byte
	truncated := false
	if err == nil {
		respBody, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
		resp.Body.Close()
		if len(respBody) > maxResponseBytes {
			respBody, truncated = respBody[:maxResponseBytes], true
			err = nil
		}
	}
	timedOut := actx.Err() != nil
	cancel()
	if ctx.Err() != nil {
		return outcome{}, ctx.Err()
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, whose query may hold a token
		}
		return transportOutcome(err, timedOut), nil
	}
	return judge(resp.StatusCode, resp.Header, respBody, truncated, id), nil
}

// closeGrace bounds the wait for the transport to close a request's
// bodies once the request is over, which it does at once unless something
// is wrong.
const closeGrace = 5 * time.Second

// bodies hands out readers of one request body, one per attempt (and per
// transport retry), and says when the transport has closed them all: until
// then it may still read buf.
type bodies struct {
	buf     []byte
	mu      sync.Mutex
	readers []*bodyReader
}

func (b *bodies) reader() *bodyReader {
	r := &bodyReader{body: b.buf, closed: make(chan struct{})}
	b.mu.Lock()
	b.readers = append(b.readers, r)
	b.mu.Unlock()
	return r
}

// wait waits up to d for every reader to be closed, and reports whether
// they were.
func (b *bodies) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	b.mu.Lock()
	readers := b.readers
	b.mu.Unlock()
	for _, r := range readers {
		select {
		case <-r.closed:
		case <-t.C:
			return false
		}
	}
	return true
}

// bodyReader is a request body that says when the transport is done with
// it.
type bodyReader struct {
	body   []byte
	off    int
	once   sync.Once
	closed chan struct{}
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.off >= len(r.body) {
		return 0, io.EOF
	}
	n := copy(p, r.body[r.off:])
	r.off += n
	return n, nil
}

func (r *bodyReader) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
