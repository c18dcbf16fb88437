package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/delivery/wal"
	"github.com/hydrantio/hydrant/record"
	"github.com/hydrantio/hydrant/sinks/s3"
)

// Options configure a Manager.
type Options struct {
	// DataDir holds every stream's definition, log and delivery state under
	// DataDir/streams/<name>/.
	DataDir string
	// Store is where streams deliver their objects.
	Store ObjectStore
	// NewStore makes the store of a destination that names its own S3
	// server (Destination.S3); nil refuses such destinations.
	NewStore func(cfg s3.Config) (ObjectStore, error)
	// NewRecordSink makes the sink of a stream whose destination is an
	// HTTP endpoint or ClickHouse; nil refuses such destinations.
	// Each attempt the sink makes (a request, an INSERT) is reported to
	// attempt, for the stream's delivery metrics.
	NewRecordSink func(stream string, d *Destination, attempt func(ok bool, took time.Duration)) (RecordSink, error)
	// Keys are the master keys of client-side encryption; nil means none,
	// and destinations that ask for it are refused.
	Keys *encrypt.Keyring
	// Logger is the structured logger; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the delivery metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// SegmentBytes overrides the log segment size (tests); 0 keeps the log's default.
	SegmentBytes int64
	// Retry is the backoff between failed object writes; zero fields take
	// defaults (500 ms initial, ×2, 30 s cap, ±20 % jitter).
	Retry Backoff
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// FlushTimeout bounds how long Close lets workers deliver their open
	// buffers; 0 means 10 s.
	FlushTimeout time.Duration
	// Functions are the transformation functions destinations may name
	// (Processing.Function), by name.
	Functions map[string]Function
	// Region and AccountID make the ARNs functions are told of: the
	// stream's, in the event, and the function's, in error records.
	// Empty means us-east-1 and 000000000000.
	Region, AccountID string
}

// Manager owns every delivery stream of one node: their definitions, logs
// and delivery workers. It is safe for concurrent use.
type Manager struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time

	mu      sync.RWMutex
	streams map[string]*stream
	closed  bool

	wg sync.WaitGroup // delivery workers and deletions

	storesMu sync.Mutex
	stores   map[string]ObjectStore // destination stores, by their config
}

// streamARN is the ARN of stream name.
func (m *Manager) streamARN(name string) string {
	return "arn:aws:firehose:" + m.opts.Region + ":" + m.opts.AccountID + ":deliverystream/" + name
}

// functionARN is the Lambda-style ARN of function name.
func (m *Manager) functionARN(name string) string {
	return "arn:aws:lambda:" + m.opts.Region + ":" + m.opts.AccountID + ":function:" + name
}

// storeFor returns the store d writes to: its own S3 server's, made on
// first use and shared by destinations naming the same one, or the
// manager's.
func (m *Manager) storeFor(d *Destination) (ObjectStore, error) {
	if d.S3.Endpoint == "" {
		return m.opts.Store, nil
	}
	if m.opts.NewStore == nil {
		return nil, errors.New("destination names an S3 server, but this server cannot make stores for destinations")
	}
	key, err := json.Marshal(d.S3)
	if err != nil {
		return nil, err
	}
	// The secrets are not in the JSON.
	id := string(key) + "\x00" + d.S3.SecretAccessKey + "\x00" + d.S3.SSE.CustomerKey
	m.storesMu.Lock()
	defer m.storesMu.Unlock()
	if st := m.stores[id]; st != nil {
		return st, nil
	}
	st, err := m.opts.NewStore(d.S3)
	if err != nil {
		return nil, fmt.Errorf("cannot make the store of %s: %w", d.S3.Endpoint, err)
	}
	if m.stores == nil {
		m.stores = map[string]ObjectStore{}
	}
	m.stores[id] = st
	return st, nil
}

// NewManager loads every stream persisted under opts.DataDir, recovers its
// log, and starts its delivery worker. A stream whose log is corrupt fails
// the whole start with an error naming the stream and the damage, so that
// nothing is silently skipped.
func NewManager(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Store == nil {
		return nil, errors.New("delivery: no object store configured")
	}
	opts.Retry = opts.Retry.withDefaults()
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = 10 * time.Second
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	m := &Manager{
		opts:    opts,
		log:     opts.Logger,
		metrics: newMetrics(),
		now:     opts.Now,
		streams: make(map[string]*stream),
	}
	if opts.Registerer != nil {
		for _, c := range append(m.metrics.collectors(), newStateCollector(m)) {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register delivery metrics: %w", err)
			}
		}
	}
	root := m.streamsDir()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create streams directory: %w", err)
	}
	if err := syncDir(opts.DataDir); err != nil {
		return nil, err
	}
	// Deletions that a crash interrupted: their streams are gone already.
	if err := os.RemoveAll(m.trashDir()); err != nil {
		return nil, fmt.Errorf("cannot empty %s: %w", m.trashDir(), err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("cannot list streams directory: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !ValidName(e.Name()) {
			continue
		}
		info, err := readStreamInfo(filepath.Join(root, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			// A create that crashed before its definition was durable:
			// nothing in it was ever acknowledged.
			m.log.Warn("removing incomplete stream directory", "stream", e.Name())
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return nil, fmt.Errorf("cannot remove incomplete stream directory %q: %w", e.Name(), err)
			}
			continue
		}
		if err != nil {
			m.abort()
			return nil, err
		}
		s, err := m.openStream(info)
		if err != nil {
			m.abort()
			return nil, err
		}
		m.streams[info.Config.Name] = s
		m.startWorker(s)
		if info.Status == StatusDeleting {
			m.log.Info("resuming deletion of stream", "stream", info.Config.Name)
		}
	}
	return m, nil
}

func (m *Manager) streamsDir() string { return filepath.Join(m.opts.DataDir, "streams") }

// trashDir is where a deleted stream's directory is moved, in one rename,
// before it is removed; whatever is in it at start is removed.
func (m *Manager) trashDir() string { return filepath.Join(m.opts.DataDir, "trash") }

// abort undoes a NewManager that failed partway.
func (m *Manager) abort() {
	for _, s := range m.snapshot() {
		s.stop()
	}
	m.wg.Wait()
	_ = m.closeAll()
}

// ApplyConfig makes the streams declared in the config file exist as
// declared. A declared stream that is new is created; one that exists is
// updated in place (its log and backlog are kept, and it becomes managed by
// the config file). A config-managed stream that is no longer declared is
// kept running, now managed through the API, so its backlog is still
// delivered; it can then be deleted with DeleteDeliveryStream.
func (m *Manager) ApplyConfig(ctx context.Context, cfgs []StreamConfig) error {
	declared := make(map[string]bool, len(cfgs))
	for _, cfg := range cfgs {
		cfg.ApplyDefaults()
		if err := m.validate(&cfg); err != nil {
			return fmt.Errorf("stream %q: %w", cfg.Name, err)
		}
		declared[cfg.Name] = true
		m.mu.RLock()
		s := m.streams[cfg.Name]
		m.mu.RUnlock()
		if s == nil {
			if _, err := m.create(ctx, cfg, SourceConfig); err != nil {
				return fmt.Errorf("cannot create stream %q from the config file: %w", cfg.Name, err)
			}
			continue
		}
		cur := s.info()
		if cur.Status == StatusDeleting {
			return fmt.Errorf("stream %q is declared in the config file but is being deleted; wait for the deletion to finish", cfg.Name)
		}
		if cur.Source == SourceConfig && configEqual(cur.Config, cfg) {
			continue
		}
		if cur.Config.MaxLogBytes != cfg.MaxLogBytes {
			m.log.Warn("a changed max_log_bytes takes effect at the next start", "stream", cfg.Name,
				"now", cur.Config.MaxLogBytes, "next", cfg.MaxLogBytes)
		}
		if err := m.update(s, func(info *StreamInfo) {
			if !configEqual(info.Config, cfg) {
				info.VersionID++
			}
			info.Config = cfg
			info.Source = SourceConfig
		}); err != nil {
			return err
		}
		m.log.Info("stream updated from the config file", "stream", cfg.Name, "version", s.info().VersionID)
	}
	for _, s := range m.snapshot() {
		if info := s.info(); info.Source == SourceConfig && !declared[info.Config.Name] {
			if err := m.update(s, func(info *StreamInfo) { info.Source = SourceAPI }); err != nil {
				return err
			}
			m.log.Warn("stream is no longer declared in the config file; it keeps delivering its backlog and can be deleted through the API",
				"stream", info.Config.Name)
		}
	}
	return nil
}

func configEqual(a, b StreamConfig) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	// Secrets are not in the JSON: a rotated password is a change too.
	return string(ja) == string(jb) && secretsOf(&a.Destination) == secretsOf(&b.Destination)
}

// Create creates a stream through the API. It returns ErrStreamExists if
// the name is taken (also while a stream of that name is being deleted).
func (m *Manager) Create(ctx context.Context, cfg StreamConfig) (StreamInfo, error) {
	cfg.ApplyDefaults()
	if err := m.validate(&cfg); err != nil {
		return StreamInfo{}, err
	}
	return m.create(ctx, cfg, SourceAPI)
}

// validate checks cfg, and what it needs of the manager.
func (m *Manager) validate(cfg *StreamConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	return m.validateDestination(&cfg.Destination, "destination.")
}

// validateDestination checks what d needs of the manager: master keys
// for client-side encryption.
func (m *Manager) validateDestination(d *Destination, path string) error {
	if d.S3.Endpoint != "" && m.opts.NewStore == nil {
		return &FieldError{path + "s3", "this server cannot make stores of its own for destinations"}
	}
	if d.recordSink() && m.opts.NewRecordSink == nil {
		return &FieldError{path + d.Kind(), "this server cannot deliver to " + d.Kind() + " destinations"}
	}
	if f := d.Processing.Function.Name; f != "" {
		if _, ok := m.opts.Functions[f]; !ok {
			declared := slices.Sorted(maps.Keys(m.opts.Functions))
			msg := fmt.Sprintf("no function %q is declared in the server's config", f)
			if len(declared) == 0 {
				msg += ": declare it under functions:"
			} else {
				msg += " (declared: " + strings.Join(declared, ", ") + ")"
			}
			return &FieldError{path + "processing.function.name", msg}
		}
	}
	if d.Encryption.ClientSide && m.opts.Keys == nil {
		return &FieldError{path + "encryption.client_side", "needs master keys: give hydrant serve a key file (encryption.key_file in the config) or set " + encrypt.EnvMasterKeys}
	}
	return nil
}

func (m *Manager) create(_ context.Context, cfg StreamConfig, source string) (StreamInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return StreamInfo{}, ErrClosed
	}
	if _, ok := m.streams[cfg.Name]; ok {
		return StreamInfo{}, ErrStreamExists
	}
	now := m.now().UTC()
	info := StreamInfo{
		Config:    cfg,
		ID:        newStreamID(),
		Status:    StatusActive,
		VersionID: 1,
		Source:    source,
		CreatedAt: now,
		UpdatedAt: now,
	}
	dir := filepath.Join(m.streamsDir(), cfg.Name)
	// A leftover directory can only be an incomplete create or deletion.
	if err := os.RemoveAll(dir); err != nil {
		return StreamInfo{}, fmt.Errorf("cannot clear stream directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return StreamInfo{}, fmt.Errorf("cannot create stream directory: %w", err)
	}
	if err := syncDir(m.streamsDir()); err != nil {
		return StreamInfo{}, err
	}
	if err := writeStreamInfo(dir, info); err != nil {
		return StreamInfo{}, err
	}
	s, err := m.openStream(info)
	if err != nil {
		return StreamInfo{}, err
	}
	m.streams[cfg.Name] = s
	m.startWorker(s)
	m.log.Info("stream created", "stream", cfg.Name, "source", source, "bucket", cfg.Destination.Bucket)
	return info, nil
}

func newStreamID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

func (m *Manager) openStream(info StreamInfo) (*stream, error) {
	dir := filepath.Join(m.streamsDir(), info.Config.Name)
	segment := m.opts.SegmentBytes
	if segment == 0 {
		// Space comes back a whole delivered segment at a time, so keep
		// segments small against the disk limit: backpressure then lifts
		// as soon as some of the backlog is delivered, not all of it.
		segment = min(wal.DefaultSegmentBytes, max(1<<20, info.Config.MaxLogBytes/16))
	}
	l, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{
		SegmentBytes: segment,
		MaxBytes:     info.Config.MaxLogBytes,
		Logger:       m.log.With("stream", info.Config.Name),
		Keys:         m.opts.Keys,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot open the log of stream %q: %w", info.Config.Name, err)
	}
	// The log resumes in the mode of its last segment; the definition
	// decides (a crash between the two steps of SetLogEncryption).
	if info.Encryption.Enabled != l.Encrypted() {
		if info.Encryption.Enabled && m.opts.Keys == nil {
			l.Close()
			return nil, fmt.Errorf("stream %q has its log encrypted: %w", info.Config.Name, ErrNoMasterKeys)
		}
		if err := l.SetEncryption(info.Encryption.Enabled); err != nil {
			l.Close()
			return nil, fmt.Errorf("cannot set the encryption of the log of stream %q: %w", info.Config.Name, err)
		}
	}
	s := newStream(m, dir, info, l)
	s.encryptionSeen.Store(info.Encryption.Enabled || l.Stats().EncryptedSegments > 0)
	return s, nil
}

// Describe returns a stream's description, or ErrStreamNotFound.
func (m *Manager) Describe(name string) (StreamInfo, error) {
	m.mu.RLock()
	s := m.streams[name]
	m.mu.RUnlock()
	if s == nil {
		return StreamInfo{}, ErrStreamNotFound
	}
	info := s.info()
	info.Encryption.Status = s.logEncryptionStatus()
	return info, nil
}

// List returns every stream, sorted by name.
func (m *Manager) List() []StreamInfo {
	ss := m.snapshot()
	out := make([]StreamInfo, len(ss))
	for i, s := range ss {
		out[i] = s.info()
		out[i].Encryption.Status = s.logEncryptionStatus()
	}
	return out
}

// snapshot returns the streams sorted by name.
func (m *Manager) snapshot() []*stream {
	m.mu.RLock()
	out := make([]*stream, 0, len(m.streams))
	for _, s := range m.streams {
		out = append(out, s)
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b *stream) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return out
}

// UpdateDestination replaces a stream's destination if versionID is the
// stream's current version, and bumps the version. The change applies from
// the next buffer on; the buffer being filled is delivered as it began.
func (m *Manager) UpdateDestination(_ context.Context, name string, versionID int, dest Destination) error {
	m.mu.RLock()
	s := m.streams[name]
	m.mu.RUnlock()
	if s == nil {
		return ErrStreamNotFound
	}
	cur := s.info()
	switch {
	case cur.Status != StatusActive:
		return ErrStreamNotActive
	case cur.Source == SourceConfig:
		return ErrConfigManaged
	case cur.VersionID != versionID:
		return ErrVersionMismatch
	}
	dest.ApplyDefaults()
	if err := dest.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return &FieldError{"destination." + fe.Field, fe.Message}
		}
		return err
	}
	if err := m.validateDestination(&dest, "destination."); err != nil {
		return err
	}
	var mismatch bool
	err := m.update(s, func(info *StreamInfo) {
		if info.VersionID != versionID {
			mismatch = true
			return
		}
		info.Config.Destination = dest
		info.VersionID++
	})
	if mismatch {
		return ErrVersionMismatch
	}
	return err
}

// update changes a stream's definition durably, then in memory.
func (m *Manager) update(s *stream, change func(*StreamInfo)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := *s.infoPtr.Load()
	change(&info)
	info.UpdatedAt = m.now().UTC()
	if err := writeStreamInfo(s.dir, info); err != nil {
		return err
	}
	s.infoPtr.Store(&info)
	s.wake()
	return nil
}

// Delete deletes a stream. It stops accepting records at once; the stream
// then delivers every record already acknowledged, ignoring its buffering
// hints, and only then removes its log, so a delete loses nothing. With
// force, the backlog is discarded instead (Firehose's AllowForceDelete).
// Delete returns before the deletion completes; meanwhile Describe
// reports the stream as DELETING.
func (m *Manager) Delete(_ context.Context, name string, force bool) error {
	m.mu.RLock()
	s := m.streams[name]
	m.mu.RUnlock()
	if s == nil {
		return ErrStreamNotFound
	}
	if cur := s.info(); cur.Source == SourceConfig {
		return ErrConfigManaged
	}
	// Status and force are recorded in one durable write, so the worker,
	// and a restart, see them together.
	if err := m.update(s, func(info *StreamInfo) {
		info.Status = StatusDeleting
		info.ForceDelete = info.ForceDelete || force
	}); err != nil {
		return err
	}
	m.log.Info("stream deleting", "stream", name, "force", force)
	return nil
}

// finishDelete runs on the stream's worker once it has drained (or was
// told to discard). The stream stays in the map, DELETING, until its
// directory has left the streams directory, so a Create of the same name
// cannot slip in and have its new directory removed.
func (m *Manager) finishDelete(s *stream) {
	if err := s.log.Close(); err != nil {
		m.log.Warn("cannot close log of deleted stream", "stream", s.name, "err", err)
	}
	tomb := filepath.Join(m.trashDir(), s.name+"-"+s.info().ID)
	err := os.MkdirAll(m.trashDir(), 0o755)
	if err == nil {
		err = os.Rename(s.dir, tomb)
	}
	if err == nil {
		err = syncDir(m.streamsDir())
	}
	if err != nil {
		// The stream stays listed as DELETING; the next start finishes the
		// deletion.
		m.log.Error("cannot remove deleted stream directory; the next start retries", "stream", s.name, "err", err)
		return
	}
	// Forget the series while the name is still taken: a stream created
	// again under it registers its own.
	m.metrics.forget(s.name)
	m.mu.Lock()
	if m.streams[s.name] == s {
		delete(m.streams, s.name)
	}
	m.mu.Unlock()
	m.log.Info("stream deleted", "stream", s.name)
	if err := os.RemoveAll(tomb); err != nil {
		m.log.Error("cannot remove deleted stream directory", "stream", s.name, "dir", tomb, "err", err)
	}
}

// Put appends records to a stream's log and returns once they are durable;
// recs[i] gets offset first+i. It returns ErrStreamNotFound,
// ErrStreamNotActive, ErrLogFull or ErrClosed without storing anything.
func (m *Manager) Put(ctx context.Context, name string, recs []record.Record) (first uint64, err error) {
	m.mu.RLock()
	s := m.streams[name]
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return 0, ErrClosed
	}
	if s == nil {
		return 0, ErrStreamNotFound
	}
	s.putMu.RLock()
	defer s.putMu.RUnlock()
	if s.info().Status != StatusActive {
		return 0, ErrStreamNotActive
	}
	start := time.Now()
	first, err = s.log.Append(ctx, recs)
	switch {
	case errors.Is(err, wal.ErrFull):
		s.metrics.throttledRecords.Add(float64(len(recs)))
		return 0, ErrLogFull
	case errors.Is(err, wal.ErrClosed):
		return 0, ErrClosed
	case err != nil:
		return 0, fmt.Errorf("cannot append to the log of stream %q: %w", name, err)
	}
	s.metrics.appendDuration.Observe(time.Since(start).Seconds())
	var n int
	for i := range recs {
		n += len(recs[i].Data)
	}
	s.metrics.incomingBytes.Add(float64(n))
	s.metrics.incomingRecords.Add(float64(len(recs)))
	s.metrics.incomingPuts.Inc()
	return first, nil
}

// Close stops every delivery worker and closes the logs. Call it once no
// more records are being put. Each worker first delivers what its log
// holds, ignoring the buffering hints, so a graceful restart does not leave
// recent records waiting for the next start. Workers still busy after
// FlushTimeout (or when ctx ends) are stopped where they are, which loses
// nothing either: the rest is delivered after the next start.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	for _, s := range m.snapshot() {
		s.draining.Store(true)
		s.wake()
	}
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	t := time.NewTimer(m.opts.FlushTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	for _, s := range m.snapshot() {
		s.stop()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("cannot stop delivery workers: %w", ctx.Err())
	}
	return m.closeAll()
}

func (m *Manager) closeAll() error {
	var errs []error
	for _, s := range m.snapshot() {
		if err := s.log.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot close the log of stream %q: %w", s.name, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) startWorker(s *stream) {
	if f := s.info().Config.Destination.Processing.Function.Name; f != "" {
		if _, ok := m.opts.Functions[f]; !ok {
			s.logger.Error("the stream runs a function the server's config does not declare: its records wait in the log until it is declared under functions: or the stream is updated", "function", f)
		}
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		s.run()
	}()
}

const streamInfoFile = "stream.json"

func readStreamInfo(dir string) (StreamInfo, error) {
	var info StreamInfo
	b, err := os.ReadFile(filepath.Join(dir, streamInfoFile))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("cannot read stream definition %q: %w", filepath.Join(dir, streamInfoFile), err)
	}
	if info.Config.Name != filepath.Base(dir) {
		return info, fmt.Errorf("stream definition %q names stream %q", filepath.Join(dir, streamInfoFile), info.Config.Name)
	}
	return info, readStreamSecrets(dir, &info)
}

func writeStreamInfo(dir string, info StreamInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	// The secrets first: a definition is never on disk without them.
	if err := writeStreamSecrets(dir, info); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, streamInfoFile), b)
}

// writeFileAtomic writes data to path durably: a temp file, fsync, rename,
// fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	return writeFileAtomicMode(path, data, 0o644)
}

// writeFileAtomicMode is writeFileAtomic for a file of the given mode.
func writeFileAtomicMode(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a leftover would keep its mode
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot sync %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %q: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot sync directory %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync directory %q: %w", dir, err)
	}
	return nil
}
