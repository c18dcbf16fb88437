package firehoseapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/record"
)

// fakeStreams is an in-memory Streams with the delivery Manager's rules,
// and knobs to make calls fail.
type fakeStreams struct {
	mu      sync.Mutex
	streams map[string]*fakeStream
	now     func() time.Time
	ids     int

	putErr, createErr, describeErr, encErr error
	// noKeys refuses client-side and log encryption, as the Manager does
	// when the server has no master keys.
	noKeys bool

	lastDeleteForce bool
	// encCalls records the SetLogEncryption calls that reached the fake.
	encCalls []encCall
}

type encCall struct {
	name string
	enc  delivery.LogEncryption
}

type fakeStream struct {
	info delivery.StreamInfo
	recs []record.Record
	// pendingPlain and pendingEncrypted count the records put in each
	// mode of the log and not delivered yet (see deliver), from which
	// Describe computes the encryption status as the Manager does from
	// the log's segments.
	pendingPlain, pendingEncrypted int
}

func newFakeStreams(now func() time.Time) *fakeStreams {
	return &fakeStreams{streams: map[string]*fakeStream{}, now: now}
}

func (f *fakeStreams) Create(_ context.Context, cfg delivery.StreamConfig) (delivery.StreamInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return delivery.StreamInfo{}, f.createErr
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return delivery.StreamInfo{}, err
	}
	if err := f.checkKeys(&cfg.Destination); err != nil {
		return delivery.StreamInfo{}, err
	}
	if _, ok := f.streams[cfg.Name]; ok {
		return delivery.StreamInfo{}, delivery.ErrStreamExists
	}
	return f.add(cfg, delivery.SourceAPI), nil
}

// add creates a stream; f.mu must be held.
func (f *fakeStreams) add(cfg delivery.StreamConfig, source string) delivery.StreamInfo {
	f.ids++
	now := f.now().UTC()
	info := delivery.StreamInfo{Config: cfg, ID: "stream-" + strconv.Itoa(f.ids), Status: delivery.StatusActive,
		VersionID: 1, Source: source, CreatedAt: now, UpdatedAt: now}
	f.streams[cfg.Name] = &fakeStream{info: info}
	return info
}

// addConfigStream adds a stream as if the config file declared it.
func (f *fakeStreams) addConfigStream(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg := delivery.StreamConfig{Name: name, Destination: delivery.Destination{Bucket: "config-bucket"}}
	cfg.ApplyDefaults()
	f.add(cfg, delivery.SourceConfig)
}

func (f *fakeStreams) setStatus(name, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streams[name].info.Status = status
}

func (f *fakeStreams) Describe(name string) (delivery.StreamInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.describeErr != nil {
		return delivery.StreamInfo{}, f.describeErr
	}
	s, ok := f.streams[name]
	if !ok {
		return delivery.StreamInfo{}, delivery.ErrStreamNotFound
	}
	return s.described(), nil
}

// described is the stream's info with its encryption status.
func (s *fakeStream) described() delivery.StreamInfo {
	info := s.info
	switch on := info.Encryption.Enabled; {
	case on && s.pendingPlain > 0:
		info.Encryption.Status = delivery.EncryptionEnabling
	case on:
		info.Encryption.Status = delivery.EncryptionEnabled
	case s.pendingEncrypted > 0:
		info.Encryption.Status = delivery.EncryptionDisabling
	default:
		info.Encryption.Status = delivery.EncryptionDisabled
	}
	return info
}

// deliver delivers the records of a stream put so far, as far as the
// encryption status is concerned.
func (f *fakeStreams) deliver(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streams[name]
	s.pendingPlain, s.pendingEncrypted = 0, 0
}

func (f *fakeStreams) SetLogEncryption(_ context.Context, name string, enc delivery.LogEncryption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.encCalls = append(f.encCalls, encCall{name, enc})
	s, ok := f.streams[name]
	switch {
	case f.encErr != nil:
		return f.encErr
	case !ok:
		return delivery.ErrStreamNotFound
	case enc.Enabled && f.noKeys:
		return delivery.ErrNoMasterKeys
	case s.info.Status != delivery.StatusActive:
		return delivery.ErrStreamNotActive
	}
	s.info.Encryption = enc
	s.info.UpdatedAt = f.now().UTC()
	return nil
}

func (f *fakeStreams) List() []delivery.StreamInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []delivery.StreamInfo
	for _, s := range f.streams {
		out = append(out, s.described())
	}
	slices.SortFunc(out, func(a, b delivery.StreamInfo) int { return strings.Compare(a.Config.Name, b.Config.Name) })
	return out
}

func (f *fakeStreams) Delete(_ context.Context, name string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.streams[name]
	if !ok {
		return delivery.ErrStreamNotFound
	}
	if s.info.Source == delivery.SourceConfig {
		return delivery.ErrConfigManaged
	}
	f.lastDeleteForce = force
	delete(f.streams, name)
	return nil
}

func (f *fakeStreams) UpdateDestination(_ context.Context, name string, versionID int, dest delivery.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.streams[name]
	switch {
	case !ok:
		return delivery.ErrStreamNotFound
	case s.info.Source == delivery.SourceConfig:
		return delivery.ErrConfigManaged
	case s.info.VersionID != versionID:
		return delivery.ErrVersionMismatch
	}
	dest.ApplyDefaults()
	if err := dest.Validate(); err != nil {
		var fe *delivery.FieldError
		errors.As(err, &fe)
		return &delivery.FieldError{Field: "destination." + fe.Field, Message: fe.Message}
	}
	if err := f.checkKeys(&dest); err != nil {
		return err
	}
	s.info.Config.Destination = dest
	s.info.VersionID++
	s.info.UpdatedAt = f.now().UTC()
	return nil
}

func (f *fakeStreams) checkKeys(d *delivery.Destination) error {
	if d.Encryption.ClientSide && f.noKeys {
		return &delivery.FieldError{Field: "destination.encryption.client_side", Message: "needs master keys: give hydrant serve a key file (encryption.key_file in the config)"}
	}
	return nil
}

func (f *fakeStreams) Put(_ context.Context, name string, recs []record.Record) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putErr != nil {
		return 0, f.putErr
	}
	s, ok := f.streams[name]
	if !ok {
		return 0, delivery.ErrStreamNotFound
	}
	if s.info.Status != delivery.StatusActive {
		return 0, delivery.ErrStreamNotActive
	}
	first := uint64(len(s.recs)) + 1000
	if s.info.Encryption.Enabled {
		s.pendingEncrypted += len(recs)
	} else {
		s.pendingPlain += len(recs)
	}
	for i, r := range recs {
		r.Offset = first + uint64(i)
		r.Data = slices.Clone(r.Data) // Put does not keep the caller's data
		s.recs = append(s.recs, r)
	}
	return first, nil
}

func (f *fakeStreams) records(name string) []record.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.streams[name].recs)
}

// harness is an API over a fakeStreams behind httptest, with a real
// Firehose client pointed at it.
type harness struct {
	t      *testing.T
	fake   *fakeStreams
	api    *API
	srv    *httptest.Server
	client *firehose.Client
	reg    *prometheus.Registry
	clock  atomic.Pointer[time.Time]
}

// setNow sets the clock of the API and the fake.
func (h *harness) setNow(t time.Time) { h.clock.Store(&t) }

func (h *harness) now() time.Time { return *h.clock.Load() }

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func newHarness(t *testing.T, opts ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, reg: prometheus.NewRegistry()}
	h.setNow(testNow)
	clock := h.now
	h.fake = newFakeStreams(clock)
	o := Options{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer: h.reg,
		Now:        clock,
	}
	for _, fn := range opts {
		fn(&o)
	}
	h.api = New(h.fake, o)
	h.srv = httptest.NewServer(h.api)
	t.Cleanup(h.srv.Close)
	h.client = h.newClient("AKIDEXAMPLE", "secret")
	return h
}

func (h *harness) newClient(keyID, secret string) *firehose.Client {
	return firehose.New(firehose.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(h.srv.URL),
		Credentials:                credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		Retryer:                    aws.NopRetryer{},
		HTTPClient:                 h.srv.Client(),
		DisableClockSkewCorrection: true,
	})
}

// wantAPIError checks that err is the AWS error code, with a message
// containing msg.
func wantAPIError(t *testing.T, call string, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s = %v; want %s", call, err, code)
		return
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("%s = %s: %q; want %s: %q", call, ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

// s3Config returns a complete ExtendedS3DestinationConfiguration.
func s3Config(bucket string) *extendedS3 {
	return &extendedS3{
		BucketARN: aws.String("arn:aws:s3:::" + bucket),
		RoleARN:   aws.String("arn:aws:iam::123456789012:role/firehose"),
	}
}
