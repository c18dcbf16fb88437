package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	forceDelete       atomic.Bool

	wakeCh   chan struct{}
	stopCh   chan struct{}
	stopOnce sync.Once

	// Reused across batches.
	out bytes.Buffer
	zw  compress.Writer
	zf  string
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

// batch is the buffer being filled: records read from the log, compressed
// as they come, so only the compressed form is held in memory.
type batch struct {
	info         StreamInfo // the definition the batch was opened under
	first, last  uint64
	records      int
	rawBytes     int
	firstArrival time.Time
	openedAt     time.Time
}

func (b *batch) full() bool { return b.rawBytes >= b.info.Config.Destination.Buffering.SizeBytes() }

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

const pendingFile = "pending.json"

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

	if err := s.redeliverPending(ctx); err != nil {
		return // stopped
	}
	r, err := s.openReader(ctx, s.log.Committed())
	if err != nil {
		return
	}
	defer func() { r.Close() }()

	var b *batch
	for {
		if s.forceDelete.Load() {
			s.oldestUndelivered.Store(0)
			r.Close()
			s.m.finishDelete(s)
			return
		}
		info := s.info()
		deleting := info.Status == StatusDeleting
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
				r.Close()
				if r, err = s.openReader(ctx, s.log.Committed()); err != nil {
					return
				}
				b = nil
				s.oldestUndelivered.Store(0)
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
			now := s.m.now()
			if b.full() || !now.Before(due) || (caughtUp && (hints.IntervalSeconds == 0 || deleting)) {
				if !s.deliver(ctx, b) {
					if s.forceDelete.Load() {
						b = nil
						continue
					}
					return
				}
				b = nil
				continue
			}
		}
		if deleting && b == nil && caughtUp && s.tryFinishDelete() {
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

// tryFinishDelete removes a draining stream once every record in its log
// has been delivered, and reports whether it did.
func (s *stream) tryFinishDelete() bool {
	s.putMu.Lock()
	st := s.log.Stats()
	if st.Committed != st.NextOffset {
		s.putMu.Unlock()
		return false
	}
	s.m.finishDelete(s)
	s.putMu.Unlock()
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

func (s *stream) openBatch(info StreamInfo, first record.Record) *batch {
	dest := info.Config.Destination
	if s.zw == nil || s.zf != dest.Compression {
		zw, err := compress.NewWriter(dest.Compression, &s.out)
		if err != nil {
			// Validate guarantees a known format.
			panic(fmt.Sprintf("delivery: compression %q: %v", dest.Compression, err))
		}
		s.zw, s.zf = zw, dest.Compression
	}
	s.out.Reset()
	s.zw.Reset(&s.out)
	s.oldestUndelivered.CompareAndSwap(0, first.ArrivalTime.UnixNano())
	return &batch{
		info:         info,
		first:        first.Offset,
		firstArrival: first.ArrivalTime,
		openedAt:     s.m.now(),
	}
}

func (s *stream) add(b *batch, rec record.Record) {
	// Writes to a bytes.Buffer through a compressor cannot fail.
	_, _ = s.zw.Write(rec.Data)
	b.last = rec.Offset
	b.records++
	b.rawBytes += len(rec.Data)
}

// deliver writes the batch as one object, retrying with backoff until it
// succeeds, then commits the log. It returns false only when the worker is
// stopped, leaving the batch uncommitted in the log.
func (s *stream) deliver(ctx context.Context, b *batch) bool {
	if err := s.zw.Close(); err != nil {
		panic(fmt.Sprintf("delivery: cannot finish %s compression: %v", s.zf, err))
	}
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
	if !s.retry(ctx, "cannot record the delivery intent", func() error { return s.writePending(p) }) {
		return false
	}
	return s.put(ctx, p, s.out.Bytes(), b.records, b.rawBytes)
}

// put writes one object, retrying until it succeeds, then commits.
func (s *stream) put(ctx context.Context, p pending, body []byte, records, rawBytes int) bool {
	ok := s.retry(ctx, "cannot write object", func() error {
		start := time.Now()
		err := s.m.opts.Store.PutObject(ctx, p.Bucket, p.Key, body)
		s.metrics.deliveryDuration.Observe(time.Since(start).Seconds())
		if err != nil {
			s.metrics.attemptsErr.Inc()
			return err
		}
		s.metrics.attemptsOK.Inc()
		return nil
	})
	if !ok {
		return false
	}
	if !s.retry(ctx, "cannot commit the stream's log", func() error { return s.log.Commit(p.Last + 1) }) {
		return false
	}
	s.oldestUndelivered.Store(0)
	s.metrics.deliveryObjects.Inc()
	s.metrics.deliveryRecords.Add(float64(records))
	s.metrics.deliveryBytes.Add(float64(rawBytes))
	s.metrics.compressed.Add(float64(len(body)))
	s.logger.Debug("object delivered", "bucket", p.Bucket, "key", p.Key, "first", p.First, "last", p.Last, "records", records, "bytes", len(body))
	return true
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
		if ctx.Err() != nil || s.forceDelete.Load() {
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
		if ctx.Err() != nil || s.forceDelete.Load() {
			return false
		}
	}
}

func (s *stream) writePending(p pending) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, pendingFile), b)
}

// redeliverPending finishes a delivery that a crash interrupted: if the
// intent on disk covers records not yet committed, the same records are
// written again to the same key.
func (s *stream) redeliverPending(ctx context.Context) error {
	raw, err := os.ReadFile(filepath.Join(s.dir, pendingFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var p pending
	if err == nil {
		err = json.Unmarshal(raw, &p)
	}
	if err != nil {
		// The intent is written atomically, so this is outside damage.
		s.logger.Error("ignoring unreadable delivery intent", "err", err)
		return nil
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
	r, err := s.openReader(ctx, p.First)
	if err != nil {
		return err
	}
	defer r.Close()
	zw, err := compress.NewWriter(p.Compression, &s.out)
	if err != nil {
		s.logger.Error("ignoring delivery intent with unknown compression", "compression", p.Compression)
		return nil
	}
	s.out.Reset()
	zw.Reset(&s.out)
	var records, rawBytes int
	for off := p.First; off <= p.Last; {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			s.logger.Error("delivery intent covers records missing from the log; ignoring it", "first", p.First, "last", p.Last, "missing_from", off)
			return nil
		}
		if err != nil {
			s.logger.Error("cannot read records of the delivery intent; retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return ctx.Err()
			}
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
	if err := zw.Close(); err != nil {
		return err
	}
	s.logger.Info("redelivering the batch a restart interrupted", "key", p.Key, "first", p.First, "last", p.Last)
	if !s.put(ctx, p, s.out.Bytes(), records, rawBytes) {
		return ctx.Err()
	}
	return nil
}
