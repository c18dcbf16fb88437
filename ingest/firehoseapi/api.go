// Package firehoseapi serves the Amazon Data Firehose API — the AWS JSON 1.1
// protocol, POST / with X-Amz-Target: Firehose_20150804.<Operation> — in
// front of Hydrant's delivery streams, so that the AWS SDKs, the AWS CLI and
// Firehose producers work against Hydrant unchanged.
//
// Requests are authenticated with AWS SigV4 against the configured access
// keys. With no keys configured, only loopback clients are served.
package firehoseapi

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/ingest/sigv4"
	"github.com/hydrantio/hydrant/record"
)

// Streams is what the API needs from the delivery layer; the delivery
// Manager implements it. Errors are the delivery package's sentinels
// (ErrStreamNotFound, ErrStreamExists, ErrStreamNotActive,
// ErrVersionMismatch, ErrConfigManaged, ErrNoMasterKeys, ErrLogFull,
// ErrClosed), a *delivery.FieldError, or one wrapping errors.ErrUnsupported
// from an implementation that lacks a feature; anything else is answered
// as an internal failure.
type Streams interface {
	// Create creates a stream from cfg, whose destination the API has
	// filled in completely, and returns it as Describe would.
	Create(ctx context.Context, cfg delivery.StreamConfig) (delivery.StreamInfo, error)
	// Describe returns the stream called name.
	Describe(name string) (delivery.StreamInfo, error)
	// List returns every stream, sorted by name.
	List() []delivery.StreamInfo
	// Delete deletes a stream; force deletes it even if it is not ACTIVE.
	Delete(ctx context.Context, name string, force bool) error
	// UpdateDestination replaces the destination of the stream if its
	// version is still versionID.
	UpdateDestination(ctx context.Context, name string, versionID int, dest delivery.Destination) error
	// SetLogEncryption turns the encryption at rest of the stream's log on
	// (enc.Enabled, keeping enc's KeyType and KeyARN) or off. It applies to
	// the records put once it returns; Describe reports the change in
	// Encryption.Status until the records put before are delivered.
	// Turning it on without master keys returns ErrNoMasterKeys.
	SetLogEncryption(ctx context.Context, name string, enc delivery.LogEncryption) error
	// Put appends recs durably and returns the offset of the first; the
	// others follow in order. Put returns only once the records are
	// acknowledged (fsynced) or with an error, and does not keep recs or
	// their Data after it returns.
	Put(ctx context.Context, name string, recs []record.Record) (first uint64, err error)
}

// Options configure an API.
type Options struct {
	// Logger receives internal errors (default slog.Default()). Record
	// payloads and secrets are never logged.
	Logger *slog.Logger
	// Registerer, when not nil, receives the API's metrics.
	Registerer prometheus.Registerer
	// Region goes into the ARNs the API reports (default "us-east-1").
	// Requests signed for any region are accepted.
	Region string
	// AccountID goes into ARNs and error messages (default "000000000000").
	AccountID string
	// AccessKeys maps access key IDs to secret access keys. Every request
	// must then be SigV4-signed with one of them. Empty means no
	// authentication, and only loopback clients are served.
	AccessKeys map[string]string
	// Now is the clock for arrival times and signature expiry (default
	// time.Now); for tests.
	Now func() time.Time
	// DecodeConcurrency bounds how many PutRecord/PutRecordBatch bodies are
	// decoded at once; 0 means one fewer than GOMAXPROCS, at most the CPU
	// count, at least 1.
	DecodeConcurrency int
}

// Limits of the API. The record and batch limits are Firehose's.
const (
	// MaxRecordBytes is the largest record, decoded (1,000 KiB).
	MaxRecordBytes = 1_024_000
	// MaxBatchRecords is the most records one PutRecordBatch may hold.
	MaxBatchRecords = 500
	// MaxBatchBytes is the most decoded data one PutRecordBatch may hold.
	MaxBatchBytes = 4 << 20
	// MaxBodyBytes caps a request body. A full batch, base64-encoded in
	// JSON, stays well below it; a larger body is refused without being
	// read.
	MaxBodyBytes = 8 << 20
)

// targetPrefix starts every X-Amz-Target of the Firehose API.
const targetPrefix = "Firehose_20150804."

// Auth modes reported by AuthMode.
const (
	AuthSigV4    = "sigv4"
	AuthLoopback = "loopback-only"
)

// API serves the Firehose API. It is an http.Handler, safe for concurrent
// use.
type API struct {
	streams   Streams
	log       *slog.Logger
	region    string
	account   string
	arnPrefix string // arn:aws:firehose:REGION:ACCOUNT:deliverystream/
	verifier  *sigv4.Verifier
	now       func() time.Time
	metrics   *metrics
	ops       map[string]*operation

	pool sync.Pool // *request

	// decoding bounds how many put bodies are decoded at once, to one
	// fewer than the Ps when there is more than one CPU: decoding is pure
	// CPU, and a P left free lets the goroutines that acknowledge producers
	// (the log writer returning from fsync) run at once instead of
	// queueing behind decoders.
	decoding chan struct{}
}

// operation is one Firehose operation.
type operation struct {
	name   string
	handle func(*API, *request) error
}

// New returns an API serving streams.
func New(streams Streams, opts Options) *API {
	a := &API{
		streams: streams,
		log:     opts.Logger,
		region:  opts.Region,
		account: opts.AccountID,
		now:     opts.Now,
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.region == "" {
		a.region = "us-east-1"
	}
	if a.account == "" {
		a.account = "000000000000"
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.arnPrefix = "arn:aws:firehose:" + a.region + ":" + a.account + ":deliverystream/"
	if len(opts.AccessKeys) > 0 {
		a.verifier = sigv4.NewVerifier(opts.AccessKeys, sigv4.WithService("firehose"), sigv4.WithClock(a.now))
	}
	a.ops = make(map[string]*operation)
	for _, op := range []*operation{
		{"CreateDeliveryStream", (*API).createDeliveryStream},
		{"DescribeDeliveryStream", (*API).describeDeliveryStream},
		{"ListDeliveryStreams", (*API).listDeliveryStreams},
		{"DeleteDeliveryStream", (*API).deleteDeliveryStream},
		{"UpdateDestination", (*API).updateDestination},
		{"StartDeliveryStreamEncryption", (*API).startDeliveryStreamEncryption},
		{"StopDeliveryStreamEncryption", (*API).stopDeliveryStreamEncryption},
		{"PutRecord", (*API).putRecord},
		{"PutRecordBatch", (*API).putRecordBatch},
	} {
		a.ops[targetPrefix+op.name] = op
	}
	a.metrics = newMetrics(opts.Registerer, a.log)
	slots := opts.DecodeConcurrency
	if slots <= 0 {
		slots = max(1, min(runtime.GOMAXPROCS(0)-1, runtime.NumCPU()))
	}
	a.decoding = make(chan struct{}, slots)
	a.pool.New = func() any { return new(request) }
	return a
}

// AuthMode reports how requests are authenticated: AuthSigV4 when access
// keys are configured, AuthLoopback otherwise.
func (a *API) AuthMode() string {
	if a.verifier != nil {
		return AuthSigV4
	}
	return AuthLoopback
}

// request is the state of one API call. Requests are pooled; the buffers
// they hold are reused across calls.
type request struct {
	ctx    context.Context
	w      http.ResponseWriter
	r      *http.Request
	id     string
	op     string
	body   []byte
	status int

	// stream is the stream the request names, for error messages and logs.
	stream string
	// destParam is the destination member the request used
	// (ExtendedS3DestinationConfiguration, …), for error messages.
	destParam string

	// Reused buffers of PutRecordBatch: the response, the records handed
	// to Put, the decoded request and the arena its record data is decoded
	// into. Put does not keep records past the call, so they can be reused.
	out   []byte
	recs  []record.Record
	batch putRecordBatchInput
	arena []byte
}

// ServeHTTP answers one Firehose API request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rq := a.pool.Get().(*request)
	rq.ctx, rq.w, rq.r, rq.status = r.Context(), w, r, 0
	rq.id = newRequestID()
	rq.stream, rq.destParam = "", ""
	w.Header().Set("X-Amzn-Requestid", rq.id)

	op := a.ops[r.Header.Get("X-Amz-Target")]
	rq.op = "unknown" // a bounded metric label, whatever the client sent
	if op != nil {
		rq.op = op.name
	}
	if err := a.serve(rq, op); err != nil {
		a.writeError(rq, err)
	}
	a.metrics.observe(rq.op, rq.status, time.Since(start))

	rq.ctx, rq.w, rq.r = nil, nil, nil
	if cap(rq.body) <= MaxBodyBytes+1 {
		a.pool.Put(rq)
	}
}

func (a *API) serve(rq *request, op *operation) error {
	r := rq.r
	if r.URL.Path != "/" {
		return &awsError{Code: codeUnknownOperation, Status: http.StatusNotFound,
			Message: "There is no Firehose API at " + echo(r.URL.Path) + ": send requests to POST / with an X-Amz-Target header."}
	}
	if r.Method != http.MethodPost {
		rq.w.Header().Set("Allow", http.MethodPost)
		return &awsError{Code: codeUnknownOperation, Status: http.StatusMethodNotAllowed,
			Message: "The Firehose API accepts POST requests only, not " + echo(r.Method) + "."}
	}
	if a.verifier == nil {
		if err := checkLoopback(r); err != nil {
			return err
		}
	} else if err := a.verifier.Precheck(r); err != nil {
		// Before the body is read: a request that cannot be valid costs
		// no more than its headers.
		return err
	}
	if r.ContentLength > MaxBodyBytes {
		return errBodyTooLarge
	}
	body := r.Body
	if body == nil { // servers never pass one; in-process callers might
		body = http.NoBody
	}
	var err error
	rq.body, err = readBody(rq.body[:0], body, r.ContentLength)
	if err != nil {
		return err
	}
	if a.verifier != nil {
		if _, err := a.verifier.Verify(r, rq.body); err != nil {
			return err
		}
	}
	if op == nil {
		target := r.Header.Get("X-Amz-Target")
		if strings.HasPrefix(target, targetPrefix) {
			return &awsError{Code: codeUnknownOperation,
				Message: "Hydrant does not implement the Firehose operation " + echo(strings.TrimPrefix(target, targetPrefix)) + "."}
		}
		return &awsError{Code: codeUnknownOperation,
			Message: "X-Amz-Target must name a Firehose operation (" + targetPrefix + "PutRecordBatch, …), not '" + echo(target) + "'."}
	}
	if !jsonContentType(r.Header.Get("Content-Type")) {
		return &awsError{Code: codeSerialization,
			Message: "Content-Type must be application/x-amz-json-1.1, not '" + echo(r.Header.Get("Content-Type")) + "'."}
	}
	return op.handle(a, rq)
}

var errBodyTooLarge = &awsError{Code: codeRequestEntityTooLarge, Status: http.StatusRequestEntityTooLarge,
	Message: "The request body is larger than 8388608 bytes; a PutRecordBatch holds at most 500 records and 4 MiB of data."}

// readBody reads the request body into dst, refusing bodies over
// MaxBodyBytes. contentLength, when known, sizes the buffer up front.
func readBody(dst []byte, body io.Reader, contentLength int64) ([]byte, error) {
	if contentLength > 0 && int64(cap(dst)) < contentLength+1 {
		dst = make([]byte, 0, contentLength+1)
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > MaxBodyBytes {
			return dst, errBodyTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, &awsError{Code: codeSerialization, Message: "Cannot read the request body."}
		}
	}
}

// jsonContentType accepts the AWS JSON content types and plain JSON; an
// absent Content-Type is taken as JSON too.
func jsonContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "", "application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json":
		return true
	}
	return false
}

// checkLoopback admits only loopback clients that no proxy forwarded: the
// unauthenticated mode must not become open to the network through a
// reverse proxy on the same host.
func checkLoopback(r *http.Request) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, perr := netip.ParseAddr(host)
	if perr != nil || !ip.Unmap().IsLoopback() {
		return &awsError{Code: codeAccessDenied, Message: "Hydrant has no access keys configured, so it serves loopback clients only, and " +
			echo(host) + " is not one. Add access keys under auth.access_keys in the config file and sign requests with one of them (the AWS SDKs and CLI do) to serve other hosts."}
	}
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		return &awsError{Code: codeAccessDenied, Message: "Hydrant has no access keys configured, so it serves loopback clients only, and this request was forwarded by a proxy. " +
			"Add access keys under auth.access_keys in the config file and sign requests with one of them to serve clients through a proxy."}
	}
	return nil
}

// newRequestID returns a random UUID, the form of AWS request IDs.
func newRequestID() string {
	const hexdigits = "0123456789abcdef"
	var b [36]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^(0xf<<12) | 4<<12   // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10
	j := 0
	for i := 0; i < 32; i++ {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 0xf
		} else {
			nib = lo >> (60 - 4*(i-16)) & 0xf
		}
		b[j] = hexdigits[nib]
		j++
	}
	return string(b[:])
}

// maxEcho caps how much of a client's own input a message repeats.
const maxEcho = 256

func echo(s string) string {
	if len(s) > maxEcho {
		return s[:maxEcho] + "…"
	}
	return s
}
