package delivery

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	encMu   sync.Mutex // serialises SetLogEncryption
	infoPtr atomic.Pointer[StreamInfo]

	// putMu orders puts against the end of a deletion: a put holds it
	// shared while it checks the status and appends, and the deletion takes
	// it exclusively to confirm the log is drained before removing it.
	putMu sync.RWMutex

	// oldestUndelivered is the arrival time (unix nanos) of the oldest
	// record read but not yet delivered, 0 when there is none.
	oldestUndelivered atomic.Int64
	// encryptionSeen is set once the log holds, or may hold, encrypted
	// segments.
	encryptionSeen atomic.Bool
	// draining is set by Manager.Close: deliver what is in the log now,
	// ignoring the buffering hints, then stop.
	draining atomic.Bool

	wakeCh   chan struct{}
	stopCh   chan struct{}
	stopOnce sync.Once

	// Reused across batches.
	intent *os.File // the delivery intent file, opened on first use
	// main builds the batch's object, or each partition's in turn.
	main objectWriter
	// errw build the error output objects, by error output type.
	errw map[string]*objectWriter
	// backup builds the batch's backup copy.
	backup objectWriter
	// parts are the partition spools, as many as a batch has used.
	parts []*partSpool
	// proc is the record processing of the current definition.
	proc *processor
	// copyObjects is set once the store refused to move the spool.
	copyObjects bool
	// sink is the record sink of an HTTP or ClickHouse destination, made
	// for sinkDest; sinkSpool holds the batch's records for it.
	sink      RecordSink
	sinkDest  Destination
	sinkSpool *partSpool
	// fnBuf is the processing buffer of the destination's function.
	fnBuf fnBuffer
	// gunzipBuf holds the record the Decompression processor decompressed.
	gunzipBuf []byte
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

// spool holds the compressed batch on disk. The log already has the
// records, so the spool is never synced: after a crash the batch is built
// again from the log.
type spool struct {
	spoolFile
	n   int64
	err error
}

// spoolFile is a scratch file written through a buffer and emptied for
// each batch: the compressed object of the spool, the raw records of a
// partition. It is opened on first use and kept open between batches.
type spoolFile struct {
	path string
	f    *os.File
	bw   *bufio.Writer
}

// rewind empties the file, opening it (with a write buffer of bufSize)
// if it is not open.
func (sf *spoolFile) rewind(bufSize int) error {
	if sf.f == nil {
		f, err := os.OpenFile(sf.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("cannot open spool file: %w", err)
		}
		sf.f = f
		if sf.bw == nil {
			sf.bw = bufio.NewWriterSize(f, bufSize)
		} else {
			sf.bw.Reset(f)
		}
		return nil
	}
	if err := sf.f.Truncate(0); err != nil {
		return fmt.Errorf("cannot truncate spool file %q: %w", sf.path, err)
	}
	if _, err := sf.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("cannot rewind spool file %q: %w", sf.path, err)
	}
	sf.bw.Reset(sf.f)
	return nil
}

func (sf *spoolFile) close() {
	if sf.f != nil {
		sf.f.Close()
		sf.f = nil
	}
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
	sp.n = 0
	sp.err = sp.rewind(256 << 10)
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

const (
	pendingFile   = "pending"
	spoolFileName = "spool"
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
	s.main.sp.path = filepath.Join(s.dir, spoolFileName)
	s.backup.sp.path = filepath.Join(s.dir, spoolFileName+"-backup")
	defer s.closeSpools()
	defer s.closeIntent()
	defer s.closeSink()

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
			s.closeSpools()
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
				if b = s.openBatch(info, rec); b == nil {
					if !sleep(ctx, time.Second) {
						return
					}
					if r, err = s.reopen(ctx, r); err != nil {
						return
					}
					continue
				}
			}
			s.add(ctx, b, rec)
		}

		if b != nil {
			hints := b.info.Config.Destination.Buffering
			due := b.openedAt.Add(hints.Interval())
			if b.full() || !s.m.now().Before(due) || (caughtUp && (hints.IntervalSeconds == 0 || deleting || draining)) {
				out := s.deliver(ctx, b, true)
				b = nil
				s.trimPartSpools()
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
					// If the batch's intent is on disk, some of its objects
					// may be written: build exactly that batch again, not
					// a new one that could end elsewhere and get other keys.
					if err := s.redeliverPending(ctx); err != nil {
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
	s.closeSpools()
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

// closeSpools closes every spool file of the stream.
func (s *stream) closeSpools() {
	s.main.close()
	s.backup.close()
	for _, o := range s.errw {
		o.close()
	}
	for _, ps := range s.parts {
		ps.close()
	}
	if s.sinkSpool != nil {
		s.sinkSpool.close()
	}
}

// openBatch opens a batch under info starting with record first. It
// returns nil, having logged why, when the batch cannot be started (a
// spool that cannot be opened); the caller retries.
func (s *stream) openBatch(info StreamInfo, first record.Record) *batch {
	dest := info.Config.Destination
	if s.proc == nil || !reflect.DeepEqual(s.proc.dest, dest) {
		proc, err := newProcessor(dest)
		if err != nil {
			// Validate compiled the same definition; a definition saved by
			// another version may not compile here.
			s.logger.Error("cannot use the stream's definition; retrying", "err", err)
			return nil
		}
		s.proc = proc
	}
	if dest.recordSink() {
		if s.sinkSpool == nil {
			s.sinkSpool = &partSpool{spoolFile: spoolFile{path: filepath.Join(s.dir, spoolFileName+"-records")}}
		}
		if err := s.sinkSpool.reset(); err != nil {
			s.logger.Error("cannot start a batch; retrying", "err", err)
			return nil
		}
	}
	if (!dest.recordSink() && !dest.DynamicPartitioning.Enabled) || dest.copiesAll() {
		if err := s.main.open(dest.objectFormat(), s.m.opts.Keys); err != nil {
			s.logger.Error("cannot start a batch; retrying", "err", err)
			return nil
		}
	}
	if dest.Backup.enabled() {
		if err := s.backup.open(dest.Backup.format(dest.Encryption), s.m.opts.Keys); err != nil {
			s.logger.Error("cannot start a batch's backup copy; retrying", "err", err)
			return nil
		}
	}
	s.fnBuf.reset()
	s.fnBuf.seq = 0
	s.oldestUndelivered.CompareAndSwap(0, first.ArrivalTime.UnixNano())
	return &batch{
		info:         info,
		first:        first.Offset,
		firstArrival: first.ArrivalTime,
		openedAt:     s.m.now(),
	}
}

// deliver writes the batch's objects, each retried with backoff until it
// succeeds, then commits the log. With recordIntent, the delivery intent
// is made durable first; a redelivery has it on disk already.
func (s *stream) deliver(ctx context.Context, b *batch, recordIntent bool) outcome {
	dest := b.info.Config.Destination
	s.flushFunction(ctx, b)
	if b.err != nil {
		if ctx.Err() != nil || s.forcing() {
			return stopped
		}
		s.logger.Error("cannot build the batch; reading it again from the log", "err", b.err)
		return rebuild
	}
	if recordIntent {
		p := pending{First: b.first, Last: b.last, StreamID: b.info.ID, Version: b.info.VersionID, Destination: dest}
		if !s.retry(ctx, "cannot record the delivery intent", func() error { return s.writePending(p) }) {
			return stopped
		}
	}
	key := KeyParams{
		Prefix:   dest.Prefix,
		Stream:   s.name,
		Version:  b.info.VersionID,
		StreamID: b.info.ID,
		Time:     b.firstArrival,
		First:    b.first,
		Last:     b.last,
	}
	var st deliveryStats
	format := dest.objectFormat()
	if dest.recordSink() {
		if out := s.deliverRecords(ctx, b); out != delivered {
			return out
		}
		if dest.copiesAll() {
			if out := s.writeObject(ctx, &dest, &s.main, dest.Bucket, key, format, nil); out != delivered {
				return out
			}
		}
	} else if !b.partitioned() {
		if out := s.writeObject(ctx, &dest, &s.main, dest.Bucket, key, format, &st); out != delivered {
			return out
		}
	} else {
		for _, prefix := range b.partOrder {
			ps := b.parts[prefix]
			if err := s.main.open(format, s.m.opts.Keys); err != nil {
				s.logger.Error("cannot build a partition's object; reading the batch again from the log", "err", err)
				return rebuild
			}
			if err := ps.each(func(arrival time.Time, data []byte) { s.writeRecord(b, &s.main, arrival, data) }); err != nil {
				s.logger.Error("cannot build a partition's object; reading the batch again from the log", "err", err)
				return rebuild
			}
			k := key
			k.PartitionKeys, k.LambdaKeys = ps.keys, ps.lambdaKeys
			if out := s.writeObject(ctx, &dest, &s.main, dest.Bucket, k, format, &st); out != delivered {
				return out
			}
		}
	}
	if b.err != nil {
		// A record that failed could not be written to the error output.
		s.logger.Error("cannot build the batch; reading it again from the log", "err", b.err)
		return rebuild
	}
	errKey := key
	if dest.ErrorOutputPrefix != "" {
		errKey.Prefix = dest.ErrorOutputPrefix
	}
	errFormat := dest.errorFormat()
	for _, errType := range slices.Sorted(maps.Keys(b.failed)) {
		k := errKey
		k.ErrorOutputType = errType
		k.Suffix = "-" + errType
		if out := s.writeObject(ctx, &dest, s.errw[errType], dest.Bucket, k, errFormat, &st); out != delivered {
			return out
		}
	}
	if dest.Backup.enabled() {
		k := key
		k.Prefix = dest.Backup.Prefix
		k.Suffix = "-backup"
		if out := s.writeObject(ctx, &dest, &s.backup, dest.Backup.Bucket, k, dest.Backup.format(dest.Encryption), nil); out != delivered {
			return out
		}
	}
	if !s.retry(ctx, "cannot commit the stream's log", func() error { return s.log.Commit(b.last + 1) }) {
		return stopped
	}
	s.oldestUndelivered.Store(0)
	s.metrics.deliveryRecords.Add(float64(st.records))
	s.metrics.deliveryBytes.Add(float64(st.rawBytes))
	s.logger.Debug("batch delivered", "first", b.first, "last", b.last, "objects", st.objects, "records", st.records, "failed", b.failedCount())
	return delivered
}

// deliveryStats add up the objects of one batch.
type deliveryStats struct {
	objects, records, rawBytes int
}

// writeObject finishes the object o holds and writes it under the key of
// kp in bucket of dest's store, retrying until it succeeds. An object
// without records is skipped.
func (s *stream) writeObject(ctx context.Context, dest *Destination, o *objectWriter, bucket string, kp KeyParams, format objectFormat, st *deliveryStats) outcome {
	kmsKeyID := format.kmsKeyID
	if err := cmp.Or(o.err, o.sp.err); err != nil {
		s.logger.Error("cannot build the object; reading the batch again from the log", "err", err)
		return rebuild
	}
	if o.records == 0 {
		o.release()
		return delivered
	}
	size, err := o.finish()
	if err != nil {
		s.logger.Error("cannot build the object; reading the batch again from the log", "err", err)
		return rebuild
	}
	kp.Extension = format.extension()
	key := ObjectKey(kp)
	ok := s.retry(ctx, "cannot write object", func() error {
		start := time.Now()
		store, err := s.m.storeFor(dest)
		if err == nil {
			err = s.storeObject(ctx, store, o, bucket, key, size, kmsKeyID)
		}
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
	s.metrics.deliveryObjects.Inc()
	s.metrics.compressed.Add(float64(size))
	if st != nil { // nil for copies, which are not deliveries
		if kp.ErrorOutputType == "" {
			st.records += o.records
			st.rawBytes += o.bytes
		}
		st.objects++
	}
	s.logger.Debug("object delivered", "bucket", bucket, "key", key, "records", o.records, "bytes", size)
	return delivered
}

// storeObject writes the spool of o as an object: moved into place when
// the store can take the file, else copied.
func (s *stream) storeObject(ctx context.Context, store ObjectStore, o *objectWriter, bucket, key string, size int64, kmsKeyID string) error {
	if k, ok := store.(KMSObjectStore); ok && kmsKeyID != "" {
		f, err := os.Open(o.sp.path)
		if err != nil {
			return fmt.Errorf("cannot open spool file: %w", err)
		}
		defer f.Close()
		return k.PutObjectKMS(ctx, bucket, key, io.NewSectionReader(f, 0, size), size, kmsKeyID)
	}
	if m, ok := store.(ObjectMover); ok && !s.copyObjects {
		// The file moves away: the next object opens a new spool.
		o.sp.close()
		err := m.MoveObject(ctx, bucket, key, o.sp.path)
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		s.copyObjects = true
		s.logger.Info("the spool cannot be moved into the object store; copying objects instead", "err", err)
	}
	f, err := os.Open(o.sp.path)
	if err != nil {
		return fmt.Errorf("cannot open spool file: %w", err)
	}
	defer f.Close()
	return store.PutObject(ctx, bucket, key, io.NewSectionReader(f, 0, size), size)
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
