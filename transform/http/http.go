// Package http is the http runtime of transformation functions: it POSTs
// each event, Firehose's Lambda transformation JSON, to a URL and reads
// the function's answer from the body of a 2xx response. Any HTTP
// function serves: a Lambda function URL, an OpenWhisk web action, a
// Knative service, a plain server.
//
// What a function sees differs by platform. A Knative service or a plain
// server gets the event as the request body. An OpenWhisk web action
// gets its members as parameters (records, invocationId, …) and answers
// through the .json extension. A Lambda function URL wraps the request:
// the handler finds the event as a JSON string in event["body"], and
// answers as it would to Firehose (a JSON answer without statusCode goes
// out as a 200 body). Function URLs with AWS_IAM authentication need
// SigV4 signatures, which this runtime does not make: use authentication
// NONE with a secret header the function checks.
package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hydrantio/hydrant/internal/httpclient"
	"github.com/hydrantio/hydrant/transform"
)

// Sizes of what Invoke reads and quotes of a failed answer.
const (
	// errorBodyBytes is how much of a failed answer's body is read, for
	// Lambda's error JSON.
	errorBodyBytes = 64 << 10
	// quoteBytes is how much of a failed answer's body a message quotes.
	quoteBytes = 200
	// quoteErrorBytes is how much of Lambda's errorMessage a message
	// quotes.
	quoteErrorBytes = 1000
	// maxResponseHeaderBytes bounds an answer's headers.
	maxResponseHeaderBytes = 1 << 20
)

// HeaderFunctionError is the header by which Lambda says that a function
// failed, with "Unhandled" or "Handled", whatever the status.
const HeaderFunctionError = "X-Amz-Function-Error"

// Function is a transformation function reached over HTTP. It is safe
// for concurrent use.
type Function struct {
	url     string
	shown   string // the URL without its query, for messages and logs
	header  http.Header
	secrets []string // header values and token, blanked out of messages
	client  *http.Client
	// maxResponse is transform.MaxResponseBytes; tests make it smaller.
	maxResponse int64

	closed context.Context // done once Close was called
	close  context.CancelFunc
}

var _ transform.Function = (*Function)(nil)

// New returns the function cfg names. It does not contact the function:
// one that is down makes invocations fail with CodeUnavailable until it is
// up. log takes a warning when TLS verification is off; nil discards it.
func New(cfg Config, log *slog.Logger) (*Function, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, _ := parseURL(cfg.URL) // valid
	tr, err := transport(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.InsecureSkipVerify {
		log.Warn("TLS certificates of the http function are not verified: for tests only", "url", httpclient.RedactURL(u))
	}
	header := make(http.Header, len(cfg.Headers)+3)
	var secrets []string
	for name, value := range cfg.Headers {
		header.Set(name, value)
		secrets = append(secrets, value)
	}
	if cfg.BearerToken != "" {
		header.Set("Authorization", "Bearer "+cfg.BearerToken)
		secrets = append(secrets, cfg.BearerToken)
	}
	header.Set("Content-Type", "application/json")
	header.Set("Accept", "application/json")
	closed, closeFn := context.WithCancel(context.Background())
	return &Function{
		url:     cfg.URL,
		shown:   httpclient.RedactURL(u),
		header:  header,
		secrets: secrets,
		client: &http.Client{
			Transport: tr,
			// A redirect is a failed invocation, not followed: a POST
			// turned into a GET (301, 302, 303) would lose the event,
			// and the URL to configure is the final one.
			CheckRedirect: func(req *http.Request, _ []*http.Request) error {
				if req.Body != nil {
					req.Body.Close()
				}
				return http.ErrUseLastResponse
			},
		},
		maxResponse: transform.MaxResponseBytes,
		closed:      closed,
		close:       closeFn,
	}, nil
}

// transport returns an HTTP transport for cfg: certificates verified
// against the system's CAs and cfg.CAFile's unless cfg.InsecureSkipVerify,
// at most cfg.MaxConnections connections, all of them kept for reuse, and
// gzip answers undone transparently.
func transport(cfg Config) (*http.Transport, error) {
	tr, err := httpclient.Transport(cfg.CAFile, cfg.InsecureSkipVerify, "http function's")
	if err != nil {
		return nil, err
	}
	tr.MaxConnsPerHost = cfg.MaxConnections
	tr.MaxIdleConnsPerHost = cfg.MaxConnections
	tr.MaxIdleConns = cfg.MaxConnections
	tr.MaxResponseHeaderBytes = maxResponseHeaderBytes
	return tr, nil
}

// URL returns the function's URL without its query, for logs.
func (f *Function) URL() string { return f.shown }

// Invoke POSTs event to the function as application/json and returns the
// body of its 2xx answer, unchecked. It fails with a *transform.Error:
//
//   - CodeTimedOut when ctx's deadline passes first: the request is
//     abandoned, its connection closed (or its HTTP/2 stream reset), which
//     is all a client can do to stop the function;
//   - CodeUnavailable when the function cannot be reached (DNS,
//     connection refused or reset, an untrusted certificate), answers 429
//     or 503, ctx is cancelled, or the Function is closed;
//   - CodeFunctionError when it answers another status, or any status
//     with X-Amz-Function-Error, quoting Lambda's errorType and
//     errorMessage when the body holds them, or else the body's first 200
//     bytes;
//   - CodeResponseTooLarge when the answer exceeds
//     transform.MaxResponseBytes, read no further than that (after
//     undoing gzip).
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	if f.closed.Err() != nil {
		return nil, transform.Errorf(transform.CodeUnavailable, "the http function at %s is closed", f.shown)
	}
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(f.closed, cancel)()

	body := &eventBody{event: event}
	defer body.detach()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, body.reader())
	if err != nil { // the URL was validated
		return nil, transform.Errorf(transform.CodeUnavailable, "cannot make a request to %s: %v", f.shown, err)
	}
	req.ContentLength = int64(len(event))
	// GetBody lets the transport send the request again when a kept
	// connection turns out closed before any of it was written.
	req.GetBody = func() (io.ReadCloser, error) { return body.reader(), nil }
	if len(event) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
	req.Header = f.header.Clone()
	start := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, f.failed(outer, start, "cannot reach", err)
	}
	defer resp.Body.Close()

	fnErr := resp.Header.Get(HeaderFunctionError)
	if fnErr == "" && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if resp.ContentLength > f.maxResponse {
			return nil, transform.Errorf(transform.CodeResponseTooLarge, "the answer of %s is %d bytes, more than the %d allowed", f.shown, resp.ContentLength, f.maxResponse)
		}
		answer, err := readAll(resp.Body, resp.ContentLength, f.maxResponse)
		switch {
		case errors.Is(err, errTooLarge):
			return nil, transform.Errorf(transform.CodeResponseTooLarge, "the answer of %s is more than the %d bytes allowed", f.shown, f.maxResponse)
		case err != nil:
			return nil, f.failed(outer, start, "cannot read the answer of", err)
		}
		return answer, nil
	}
	// A failed answer's status says enough: what arrived of its body is
	// quoted, unless the invocation timed out reading it.
	failure, err := readAll(resp.Body, -1, errorBodyBytes)
	if err != nil && !errors.Is(err, errTooLarge) && outer.Err() != nil {
		return nil, f.failed(outer, start, "cannot read the answer of", err)
	}
	return nil, f.functionError(resp.StatusCode, fnErr, failure)
}

// failed maps an error of the request, or of reading the answer, to an
// *Error: the caller's ctx, ended, explains it first. Its message never
// holds the URL's query, which a *url.Error's would.
func (f *Function) failed(ctx context.Context, start time.Time, doing string, err error) *transform.Error {
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return transform.Errorf(transform.CodeTimedOut, "the http function at %s did not answer within the invocation timeout (%v)", f.shown, took)
	case ctx.Err() != nil:
		return transform.Errorf(transform.CodeUnavailable, "the invocation of the http function at %s was cancelled after %v", f.shown, took)
	case f.closed.Err() != nil:
		return transform.Errorf(transform.CodeUnavailable, "the http function at %s was closed during the invocation", f.shown)
	}
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err
	}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return transform.Errorf(transform.CodeUnavailable, "the TLS certificate of the http function at %s is not trusted: %v; if a private CA signed it, give that CA's certificate as the CA file", f.shown, err)
	}
	return transform.Errorf(transform.CodeUnavailable, "%s the http function at %s: %v", doing, f.shown, err)
}

// lambdaError is the body of Lambda's answer for a function that failed.
type lambdaError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// functionError describes a failed answer: its status, Lambda's
// X-Amz-Function-Error, errorType and errorMessage when it has them, or
// else the start of its body, with the secrets blanked out. 429 and 503
// say that the function cannot serve now, not that it failed.
func (f *Function) functionError(status int, fnErr string, body []byte) *transform.Error {
	code := transform.CodeFunctionError
	if fnErr == "" && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		code = transform.CodeUnavailable
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the http function at %s answered HTTP %d %s", f.shown, status, http.StatusText(status))
	if fnErr != "" {
		fmt.Fprintf(&b, " with %s %s", HeaderFunctionError, word(f.redact(fnErr)))
	}
	if status >= 300 && status <= 399 {
		b.WriteString(" (a redirect, not followed: configure the URL it redirects to)")
	}
	var le lambdaError
	switch {
	case json.Unmarshal(body, &le) == nil && (le.ErrorMessage != "" || le.ErrorType != ""):
		b.WriteString(": ")
		if le.ErrorType != "" {
			b.WriteString(word(f.redact(le.ErrorType)))
			b.WriteString(": ")
		}
		b.WriteString(quote(f.redact(le.ErrorMessage), quoteErrorBytes))
	case len(bytes.TrimSpace(body)) == 0:
		b.WriteString(", with an empty body")
	default:
		b.WriteString(": ")
		b.WriteString(quote(f.redact(string(body)), quoteBytes))
	}
	return &transform.Error{Code: code, Message: b.String()}
}

// redact blanks the secrets out of s, which the function may have echoed.
func (f *Function) redact(s string) string {
	for _, v := range f.secrets {
		if len(v) >= minSecretLen {
			s = strings.ReplaceAll(s, v, "<secret>")
		}
	}
	return s
}

// minSecretLen is the shortest header value redact blanks out: shorter
// ones (on, 1) would blank out common words, and are no secrets.
const minSecretLen = 4

// quote returns s, cut to at most n bytes on a character boundary, in
// Go's double quotes, which escape control characters and invalid UTF-8,
// with … after it if cut.
func quote(s string, n int) string {
	if len(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%q…", s[:n])
}

// word returns s as it is if it is a short word, such as an error type
// (Runtime.HandlerNotFound) or Unhandled, or else quoted and cut.
func word(s string) string {
	if len(s) > 0 && len(s) <= 100 && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r))
	}) < 0 {
		return s
	}
	return quote(s, 100)
}

// errTooLarge: a body exceeds the limit readAll was given.
var errTooLarge = errors.New("body too large")

// readAll reads r to its end, at most limit bytes: more fails with
// errTooLarge, returning the limit+1 bytes read. size, the body's
// Content-Length or -1, sizes the buffer at once when known.
func readAll(r io.Reader, size, limit int64) ([]byte, error) {
	n := int64(512)
	if size >= 0 {
		n = size + 1 // +1 to see the end without growing
	}
	buf := make([]byte, 0, min(n, limit+1))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow as append does
		}
		m, err := r.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// eventBody is an invocation's event as request bodies that stop reading
// it once Invoke returns: the transport may go on sending a body after the
// answer came, and Invoke must not keep event past its return.
type eventBody struct {
	mu       sync.Mutex
	event    []byte
	detached bool
}

// errDetached fails the reads of a body after Invoke returned.
var errDetached = errors.New("the invocation is over")

// reader returns a new body reading the event from its start.
func (b *eventBody) reader() io.ReadCloser { return &eventReader{b: b} }

// detach ends every read of the event, waiting for one under way.
func (b *eventBody) detach() {
	b.mu.Lock()
	b.event, b.detached = nil, true
	b.mu.Unlock()
}

type eventReader struct {
	b   *eventBody
	off int
}

func (r *eventReader) Read(p []byte) (int, error) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	switch {
	case r.b.detached:
		return 0, errDetached
	case r.off == len(r.b.event):
		return 0, io.EOF
	}
	n := copy(p, r.b.event[r.off:])
	r.off += n
	return n, nil
}

func (r *eventReader) Close() error { return nil }

// Close stops the function: invocations under way fail with
// CodeUnavailable, as do later ones, and idle connections are closed. It
// is safe to call more than once.
func (f *Function) Close() error {
	f.close()
	f.client.CloseIdleConnections()
	return nil
}
