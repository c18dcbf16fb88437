package delivery

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hydrantio/hydrant/delivery/compress"
	"github.com/hydrantio/hydrant/delivery/wal"
	"github.com/hydrantio/hydrant/record"
)

// stream is one delivery stream: its definition, its log and its delivery
// worker. The worker is the only reader of the log and the only caller of
// Commit, so delivery of one stream is strictly sequential and one slow
// stream never holds up another.
type stream struct {
	m       *Manager
	name    string
	dir     string
	log     *wal.Log
	logger  *slog.Logger
	metrics streamMetrics

	mu      sync.Mutex // serialises definition updates
	infoPtr atomic.Pointer[StreamInfo]

	// putMu orders puts against the end of a deletion: a put holds it
	// shared while it checks the status and appends, and the deletion takes
	// it exclusively to confirm the log is drained before removing it.
	putMu sync.RWMutex

	// oldestUndelivered is the arrival time (unix nanos) of the oldest
	// record read but not yet delivered, 0 when there is none.
	oldestUndelivered atomic.Int64
	// draining is set by Manager.Close: deliver what is in the log now,
	// ignoring the buffering hints, then stop.
	draining atomic.Bool

	wakeCh   chan struct{}
	stopCh   chan struct{}
	stopOnce sync.Once

	// Reused across batches.
	intent *os.File // the delivery intent file, opened on first use
	spool  spool
	// copyObjects is set once the store refused to move the spool.
	copyObjects bool
	zw          compress.Writer
	zf          string
}

type streamMetrics struct {
	incomingBytes, incomingRecords, incomingPuts, throttledRecords prometheus.Counter
	deliveryBytes, deliveryRecords, deliveryObjects, compressed    prometheus.Counter
	attemptsOK, attemptsErr                                        prometheus.Counter
	deliveryDuration, appendDuration                               prometheus.Observer
}

func newStream(m *Manager, dir string, info StreamInfo, l *wal.Log) *stream {
	name := info.Config.Name
	mm := m.metrics
	s := &stream{
		m:      m,
		name:   name,
		dir:    dir,
		log:    l,
		logger: m.log.With("stream", name),
		metrics: streamMetrics{
			incomingBytes:    mm.incomingBytes.WithLabelValues(name),
			incomingRecords:  mm.incomingRecords.WithLabelValues(name),
			incomingPuts:     mm.incomingPuts.WithLabelValues(name),
			throttledRecords: mm.throttledRecords.WithLabelValues(name),
			deliveryBytes:    mm.deliveryBytes.WithLabelValues(name),
			deliveryRecords:  mm.deliveryRecords.WithLabelValues(name),
			deliveryObjects:  mm.deliveryObjects.WithLabelValues(name),
			compressed:       mm.compressedBytes.WithLabelValues(name),
			attemptsOK:       mm.deliveryAttempts.WithLabelValues(name, "success"),
			attemptsErr:      mm.deliveryAttempts.WithLabelValues(name, "error"),
			deliveryDuration: mm.deliveryDuration.WithLabelValues(name),
			appendDuration:   mm.appendDuration.WithLabelValues(name),
		},
		wakeCh: make(chan struct{}, 1),
		stopCh: make(chan struct{}),
	}
	s.infoPtr.Store(&info)
	return s
}

func (s *stream) info() StreamInfo { return *s.infoPtr.Load() }

// wake makes the worker look at its definition again.
func (s *stream) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

func (s *stream) stop() { s.stopOnce.Do(func() { close(s.stopCh) }) }

// forcing reports whether the stream is being deleted with its backlog
// discarded.
func (s *stream) forcing() bool {
	info := s.infoPtr.Load()
	return info.Status == StatusDeleting && info.ForceDelete
}

// batch is the buffer being filled: records read from the log, compressed
// as they come into the stream's spool file, so memory stays bounded
// whatever the buffering hints and however many streams there are.
type batch struct {
	info         StreamInfo // the definition the batch was opened under
	first, last  uint64
	records      int
	rawBytes     int
	firstArrival time.Time
	openedAt     time.Time
}

func (b *batch) full() bool { return b.rawBytes >= b.info.Config.Destination.Buffering.SizeBytes() }

// spool holds the compressed batch on disk. The log already has the
// records, so the spool is never synced: after a crash the batch is built
// again from the log.
type spool struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	n    int64
	err  error
}

func (sp *spool) Write(p []byte) (int, error) {
	if sp.err != nil {
		return 0, sp.err
	}
	n, err := sp.bw.Write(p)
	sp.n += int64(n)
	if err != nil {
		sp.err = fmt.Errorf("cannot write spool file %q: %w", sp.path, err)
	}
	return n, sp.err
}

// reset empties the spool for a new batch.
func (sp *spool) reset() {
	sp.n, sp.err = 0, nil
	if sp.f == nil {
		f, err := os.OpenFile(sp.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			sp.err = fmt.Errorf("cannot open spool file: %w", err)
			return
		}
		sp.f = f
		if sp.bw == nil {
			sp.bw = bufio.NewWriterSize(f, 256<<10)
		} else {
			sp.bw.Reset(f)
		}
		return
	}
	if err := sp.f.Truncate(0); err != nil {
		sp.err = fmt.Errorf("cannot truncate spool file %q: %w", sp.path, err)
		return
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		sp.err = fmt.Errorf("cannot rewind spool file %q: %w", sp.path, err)
		return
	}
	sp.bw.Reset(sp.f)
}

// finish flushes the spool and returns its size.
func (sp *spool) finish() (int64, error) {
	if sp.err == nil {
		if err := sp.bw.Flush(); err != nil {
			sp.err = fmt.Errorf("cannot write spool file %q: %w", sp.path, err)
		}
	}
	return sp.n, sp.err
}

func (sp *spool) close() {
	if sp.f != nil {
		sp.f.Close()
		sp.f = nil
	}
}

// pending is the delivery intent, made durable before an object is written:
// after a crash the same records go to the same key, so the object is
// rewritten rather than duplicated, whatever the buffering does next time.
type pending struct {
	First       uint64 `json:"first"`
	Last        uint64 `json:"last"`
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	Compression string `json:"compression"`
}

const (
	pendingFile = "pending"
	spoolFile   = "spool"
)

// outcome is how a delivery attempt ended.
type outcome int

const (
	delivered outcome = iota // written and committed
	stopped                  // the worker is stopping, or the stream is being force-deleted
	rebuild                  // the spool failed: read the batch again from the log
)

// run is the delivery worker. It returns when the stream is stopped or
// deleted.
func (s *stream) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	s.spool.path = filepath.Join(s.dir, spoolFile)
	defer s.spool.close()
	defer s.closeIntent()
	defer s.releaseCompressor()

	if !s.forcing() {
		if err := s.redeliverPending(ctx); err != nil {
			return // stopped
		}
	}
	r, err := s.openReader(ctx, s.log.Committed())
	if err != nil {
		return
	}
	defer func() { r.Close() }()

	var b *batch
	failures := 0
	for {
		info := s.info()
		if s.forcing() {
			s.oldestUndelivered.Store(0)
			r.Close()
			s.spool.close()
			s.closeIntent()
			s.m.finishDelete(s)
			return
		}
		deleting := info.Status == StatusDeleting
		draining := s.draining.Load()
		appended := s.log.Appended() // before reading, so no append is missed
		caughtUp := false
		for b == nil || !b.full() {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				caughtUp = true
				break
			}
			if err != nil {
				s.logger.Error("cannot read the stream's log; retrying", "offset", s.log.Committed(), "err", err)
				if !sleep(ctx, time.Second) {
					return
				}
				if r, err = s.reopen(ctx, r); err != nil {
					return
				}
				b = nil
				continue
			}
			if b == nil {
				b = s.openBatch(info, rec)
			}
			s.add(b, rec)
		}

		if b != nil {
			hints := b.info.Config.Destination.Buffering
			due := b.openedAt.Add(hints.Interval())
			if b.full() || !s.m.now().Before(due) || (caughtUp && (hints.IntervalSeconds == 0 || deleting || draining)) {
				out := s.deliver(ctx, b)
				b = nil
				if out == delivered {
					failures = 0
					continue
				}
				if ctx.Err() != nil {
					return
				}
				if out == rebuild {
					failures++
					if !sleep(ctx, s.m.opts.Retry.Delay(failures)) {
						return
					}
				}
				// The batch's records were read but not committed: read
				// them again.
				if r, err = s.reopen(ctx, r); err != nil {
					return
				}
				continue
			}
		}
		if deleting && b == nil && caughtUp && s.tryFinishDelete() {
			return
		}
		if draining && b == nil && caughtUp {
			return
		}

		var timer *time.Timer
		var due <-chan time.Time
		if b != nil {
			timer = time.NewTimer(b.openedAt.Add(b.info.Config.Destination.Buffering.Interval()).Sub(s.m.now()))
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-appended:
		case <-due:
		case <-s.wakeCh:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// reopen replaces r with a reader at the committed offset, dropping what
// was read past it.
func (s *stream) reopen(ctx context.Context, r *wal.Reader) (*wal.Reader, error) {
	r.Close()
	s.oldestUndelivered.Store(0)
	return s.openReader(ctx, s.log.Committed())
}

// tryFinishDelete removes a draining stream once every record in its log
// has been delivered, and reports whether it did.
func (s *stream) tryFinishDelete() bool {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	st := s.log.Stats()
	if st.Committed != st.NextOffset {
		return false
	}
	s.spool.close()
	s.closeIntent()
	s.m.finishDelete(s)
	return true
}

func (s *stream) openReader(ctx context.Context, from uint64) (*wal.Reader, error) {
	for {
		r, err := s.log.NewReader(from)
		if err == nil {
			return r, nil
		}
		s.logger.Error("cannot open a reader on the stream's log; retrying", "offset", from, "err", err)
		if !sleep(ctx, time.Second) {
			return nil, ctx.Err()
		}
	}
}

func (s *stream) closeIntent() {
	if s.intent != nil {
		s.intent.Close()
		s.intent = nil
	}
}

// releaseCompressor drops the state of a batch that was never finished
// (a stop, a read error), which for GZIP also ends its block goroutines.
func (s *stream) releaseCompressor() {
	if s.zw != nil {
		s.zw.Reset(io.Discard)
	}
}

// compressor returns the stream's compressor for format, writing into the
// freshly reset spool.
func (s *stream) compressor(format string) (compress.Writer, error) {
	// First, so that nothing of an unfinished batch reaches the new spool.
	s.releaseCompressor()
	s.spool.reset()
	if s.zw == nil || s.zf != format {
		zw, err := compress.NewWriter(format, &s.spool)
		if err != nil {
			return nil, err
		}
		s.zw, s.zf = zw, format
		return zw, nil
	}
	s.zw.Reset(&s.spool)
	return s.zw, nil
}

func (s *stream) openBatch(info StreamInfo, first record.Record) *batch {
	if _, err := s.compressor(info.Config.Destination.Compression); err != nil {
		// Validate admits only known formats.
		panic(fmt.Sprintf("delivery: %v", err))
	}
	s.oldestUndelivered.CompareAndSwap(0, first.ArrivalTime.UnixNano())
	return &batch{
		info:         info,
		first:        first.Offset,
		firstArrival: first.ArrivalTime,
		openedAt:     s.m.now(),
	}
}

func (s *stream) add(b *batch, rec record.Record) {
	// A spool write error sticks in the spool and surfaces in deliver.
	_, _ = s.zw.Write(rec.Data)
	b.last = rec.Offset
	b.records++
	b.rawBytes += len(rec.Data)
}

// deliver writes the batch as one object, retrying with backoff until it
// succeeds, then commits the log.
func (s *stream) deliver(ctx context.Context, b *batch) outcome {
	dest := b.info.Config.Destination
	p := pending{
		First:  b.first,
		Last:   b.last,
		Bucket: dest.Bucket,
		Key: ObjectKey(KeyParams{
			Prefix:    dest.Prefix,
			Stream:    s.name,
			Version:   b.info.VersionID,
			StreamID:  b.info.ID,
			Time:      b.firstArrival,
			First:     b.first,
			Last:      b.last,
			Extension: compress.Extension(dest.Compression),
		}),
		Compression: dest.Compression,
	}
	return s.put(ctx, p, b.records, b.rawBytes, true)
}

// put finishes the batch in the spool, records the delivery intent (unless
// it is already on disk), writes the object, retrying until it succeeds,
// and commits.
func (s *stream) put(ctx context.Context, p pending, records, rawBytes int, recordIntent bool) outcome {
	zerr := s.zw.Close()
	size, err := s.spool.finish()
	if err = errors.Join(zerr, err); err != nil {
		s.logger.Error("cannot build the object; reading the batch again from the log", "err", err)
		return rebuild
	}
	if recordIntent && !s.retry(ctx, "cannot record the delivery intent", func() error { return s.writePending(p) }) {
		return stopped
	}
	ok := s.retry(ctx, "cannot write object", func() error {
		start := time.Now()
		err := s.writeObject(ctx, p, size)
		s.metrics.deliveryDuration.Observe(time.Since(start).Seconds())
		if err != nil {
			s.metrics.attemptsErr.Inc()
			return err
		}
		s.metrics.attemptsOK.Inc()
		return nil
	})
	if !ok {
		return stopped
	}
	if !s.retry(ctx, "cannot commit the stream's log", func() error { return s.log.Commit(p.Last + 1) }) {
		return stopped
	}
	s.oldestUndelivered.Store(0)
	s.metrics.deliveryObjects.Inc()
	s.metrics.deliveryRecords.Add(float64(records))
	s.metrics.deliveryBytes.Add(float64(rawBytes))
	s.metrics.compressed.Add(float64(size))
	s.logger.Debug("object delivered", "bucket", p.Bucket, "key", p.Key, "first", p.First, "last", p.Last, "records", records, "bytes", size)
	return delivered
}

// writeObject writes the spool as the object of intent p: moved into
// place when the store can take the file, else copied.
func (s *stream) writeObject(ctx context.Context, p pending, size int64) error {
	if m, ok := s.m.opts.Store.(ObjectMover); ok && !s.copyObjects {
		// The file moves away: the next batch opens a new spool.
		s.spool.close()
		err := m.MoveObject(ctx, p.Bucket, p.Key, s.spool.path)
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		s.copyObjects = true
		s.logger.Info("the spool cannot be moved into the object store; copying objects instead", "err", err)
	}
	f, err := os.Open(s.spool.path)
	if err != nil {
		return fmt.Errorf("cannot open spool file: %w", err)
	}
	defer f.Close()
	return s.m.opts.Store.PutObject(ctx, p.Bucket, p.Key, io.NewSectionReader(f, 0, size), size)
}

// retry calls f until it succeeds, backing off between attempts, and
// reports false if the worker was stopped or the stream force-deleted
// first.
func (s *stream) retry(ctx context.Context, what string, f func() error) bool {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return true
		}
		if ctx.Err() != nil || s.forcing() {
			return false
		}
		d := s.m.opts.Retry.Delay(attempt)
		s.logger.Warn(what+"; retrying", "attempt", attempt, "retry_in", d.Round(time.Millisecond), "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-s.wakeCh: // a definition change: re-check force deletion now
		}
		t.Stop()
		if ctx.Err() != nil || s.forcing() {
			return false
		}
	}
}

// The intent file is rewritten in place: a 4-byte length and a CRC32-C of
// the JSON that follows. One fdatasync makes it durable, where a temporary
// file and a rename would take two fsyncs per batch. A torn write fails
// its checksum and is ignored, which is safe: an intent is written before
// its object, so a torn one has no object; and it only replaces an intent
// whose batch was already committed.
var intentCRC = crc32.MakeTable(crc32.Castagnoli)

func (s *stream) writePending(p pending) error {
	buf, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if s.intent == nil {
		path := filepath.Join(s.dir, pendingFile)
		_, statErr := os.Stat(path)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("cannot open delivery intent: %w", err)
		}
		if errors.Is(statErr, os.ErrNotExist) {
			if err := syncDir(s.dir); err != nil {
				f.Close()
				return err
			}
		}
		s.intent = f
	}
	rec := make([]byte, 8, 8+len(buf))
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(buf)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(buf, intentCRC))
	rec = append(rec, buf...)
	if _, err := s.intent.WriteAt(rec, 0); err != nil {
		return fmt.Errorf("cannot write delivery intent: %w", err)
	}
	if err := wal.SyncData(s.intent); err != nil {
		return fmt.Errorf("cannot sync delivery intent: %w", err)
	}
	return nil
}

// readPending reads the intent file; ok is false when there is none or it
// is torn.
func readPending(path string) (p pending, ok bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	if len(raw) < 8 {
		return p, false, nil
	}
	n := binary.LittleEndian.Uint32(raw[0:])
	if uint64(n) > uint64(len(raw)-8) || crc32.Checksum(raw[8:8+n], intentCRC) != binary.LittleEndian.Uint32(raw[4:]) {
		return p, false, nil
	}
	if err := json.Unmarshal(raw[8:8+n], &p); err != nil {
		return p, false, fmt.Errorf("cannot decode delivery intent %q: %w", path, err)
	}
	return p, true, nil
}

// redeliverPending finishes a delivery that a crash interrupted: if the
// intent on disk covers records not yet committed, the same records are
// written again to the same key. It returns an error only when the worker
// is stopped.
func (s *stream) redeliverPending(ctx context.Context) error {
	p, ok, err := readPending(filepath.Join(s.dir, pendingFile))
	if err != nil {
		// Checksummed yet undecodable: outside damage.
		s.logger.Error("ignoring unreadable delivery intent", "err", err)
		return nil
	}
	if !ok {
		return nil // none, or torn before its object was written
	}
	committed := s.log.Committed()
	if p.Last < committed {
		return nil // delivered and committed
	}
	if p.First != committed {
		s.logger.Error("ignoring delivery intent that does not start at the committed offset",
			"first", p.First, "last", p.Last, "committed", committed)
		return nil
	}
	for failures := 1; ; failures++ {
		out, err := s.redeliver(ctx, p)
		if err != nil {
			s.logger.Error("ignoring delivery intent", "first", p.First, "last", p.Last, "err", err)
			return nil
		}
		switch out {
		case delivered:
			return nil
		case stopped:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil // force-deleted: the main loop finishes it
		}
		if !sleep(ctx, s.m.opts.Retry.Delay(failures)) {
			return ctx.Err()
		}
	}
}

// redeliver builds the batch of intent p from the log and puts it. An
// error means the intent cannot be honoured at all.
func (s *stream) redeliver(ctx context.Context, p pending) (outcome, error) {
	r, err := s.openReader(ctx, p.First)
	if err != nil {
		return stopped, nil
	}
	defer func() { r.Close() }()
	zw, err := s.compressor(p.Compression)
	if err != nil {
		return stopped, err
	}
	var records, rawBytes int
	for off := p.First; off <= p.Last; {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return stopped, fmt.Errorf("it covers records missing from the log, from offset %d", off)
		}
		if err != nil {
			s.logger.Error("cannot read records of the delivery intent; retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return stopped, nil
			}
			// Reader errors are sticky: start the batch over.
			r.Close()
			if r, err = s.openReader(ctx, p.First); err != nil {
				return stopped, nil
			}
			if zw, err = s.compressor(p.Compression); err != nil {
				return stopped, err
			}
			records, rawBytes, off = 0, 0, p.First
			continue
		}
		if records == 0 {
			s.oldestUndelivered.Store(rec.ArrivalTime.UnixNano())
		}
		_, _ = zw.Write(rec.Data)
		records++
		rawBytes += len(rec.Data)
		off = rec.Offset + 1
	}
	s.logger.Info("redelivering the batch a restart interrupted", "key", p.Key, "first", p.First, "last", p.Last)
	return s.put(ctx, p, records, rawBytes, false), nil
}
