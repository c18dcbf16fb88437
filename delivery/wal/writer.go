package wal

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/hydrantio/hydrant/record"
)

// maxGroupBytes bounds the writer's buffer: a group commit larger than
// this is written with several writes (still one fsync).
const maxGroupBytes = 16 << 20

// appendReq is one Append call waiting for the writer, or one
// SetEncryption call (setMode).
type appendReq struct {
	recs    []record.Record
	plan    []entryPlan // how recs split into entries
	planBuf [1]entryPlan
	sealed  bool // plan is for an encrypted segment
	setMode bool // a SetEncryption call: switch to encrypting (encrypt) or not
	encrypt bool
	state   atomic.Int32 // reqPending, then reqStarted (writer) or reqCanceled (caller)
	first   uint64       // set by the writer
	end     uint64       // offset after the last record, set by the writer
	err     error
	done    chan struct{} // closed by the writer when first/err are set
}

const (
	reqPending int32 = iota
	reqStarted
	reqCanceled
)

// entryPlan is one entry of an Append: records [lo, hi), size bytes.
type entryPlan struct {
	lo, hi int
	size   int64
}

// writer is the writer goroutine's state; only it touches these fields.
type writer struct {
	f         *os.File
	seg       *segment // the segment f writes; Log.mu guards its mutable fields
	size      int64    // bytes written to f
	synced    int64    // bytes of f fsynced
	next      uint64   // offset the next placed record gets
	entries   bool     // the segment holds at least one entry
	lastIndex int64    // byte position of the segment's last index point
	buf       []byte   // entries placed but not yet written
	newIndex  []indexPoint
	waiting   []*appendReq // placed, not yet durable
	spare     []*appendReq // the queue slice to hand back to Append
}

// Append writes recs to the log as one entry, or as a few if they do not
// fit in one segment, and returns the offset assigned to recs[0]; recs[i]
// gets first+i. It returns only once the records are durable (fsynced),
// sharing the write and the fsync with every Append queued at the same
// time. Append does not keep recs after it returns.
//
// The records are encrypted if the log is (see SetEncryption): an Append
// that returns after SetEncryption returned, or that started after it,
// is written in the mode SetEncryption set.
//
// It returns ErrFull, having written nothing, if the entry would take the
// log over Options.MaxBytes, ErrClosed after Close, and an error without
// writing anything if a record is larger than an entry may be (256 MiB
// encoded, less 28 bytes). If ctx is done
// before the writer picked the records up, Append returns ctx.Err() and
// writes nothing; once the write started, Append waits for it. Appending
// no records is a no-op that returns the durable end.
func (l *Log) Append(ctx context.Context, recs []record.Record) (first uint64, err error) {
	if len(recs) == 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.next, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// The mode may change before the writer gets to req; it plans again
	// then.
	req := &appendReq{recs: recs, sealed: l.sealing.Load(), done: make(chan struct{})}
	maxEntry, overhead := l.layout(req.sealed)
	req.plan, err = planEntries(req.planBuf[:0], recs, maxEntry, overhead)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if l.failure != nil {
		l.mu.Unlock()
		return 0, fmt.Errorf("cannot append: %w", l.failure)
	}
	l.queue = append(l.queue, req)
	l.mu.Unlock()
	l.signal()

	select {
	case <-req.done:
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqPending, reqCanceled) {
			return 0, ctx.Err()
		}
		<-req.done // the write started: its outcome is the answer
	}
	return req.first, req.err
}

// planEntries splits recs into entries of at most maxEntry bytes, so each
// fits in an empty segment; a record too big for that gets an entry of its
// own. overhead is what an entry's payload takes beyond its records'
// encoding: the nonce and tag of an encrypted entry.
func planEntries(dst []entryPlan, recs []record.Record, maxEntry, overhead int64) ([]entryPlan, error) {
	limit := min(maxEntry-entryHeaderLen, maxEntryPayload) - overhead
	cur := entryPlan{}
	var payload int64
	for i := range recs {
		rs := recordSize(&recs[i])
		if rs > maxRecordLen {
			return nil, fmt.Errorf("cannot append record %d: %d bytes encoded, more than the limit of %d", i, rs, maxRecordLen)
		}
		if i > cur.lo && (payload+rs > limit || i-cur.lo == math.MaxUint32) {
			cur.hi, cur.size = i, entryHeaderLen+overhead+payload
			dst = append(dst, cur)
			cur, payload = entryPlan{lo: i}, 0
		}
		payload += rs
	}
	cur.hi, cur.size = len(recs), entryHeaderLen+overhead+payload
	return append(dst, cur), nil
}

// layout returns the largest entry that fits in a new segment, and an
// entry's overhead, for an encrypted log or a plaintext one.
func (l *Log) layout(sealed bool) (maxEntry, overhead int64) {
	if sealed {
		return l.opts.SegmentBytes - l.encHeaderLen, sealOverhead
	}
	return l.opts.SegmentBytes - segHeaderLen, 0
}

// signal wakes the writer goroutine.
func (l *Log) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run is the writer goroutine: it takes every queued Append at once and
// writes them as a group, until Close.
func (l *Log) run() {
	defer close(l.writerDone)
	for range l.wake {
		l.mu.Lock()
		q, closed := l.queue, l.closed
		l.queue = l.w.spare[:0]
		l.mu.Unlock()
		if len(q) > 0 {
			l.writeGroup(q)
		}
		clear(q)
		l.w.spare = q
		if closed {
			return // Append enqueues nothing once closed is set
		}
	}
}

// writeGroup writes the queued requests q with one write and one fsync per
// segment they touch, then completes them.
func (l *Log) writeGroup(q []*appendReq) {
	w := &l.w
	l.mu.Lock()
	disk, failure := l.diskBytes, l.failure
	l.mu.Unlock()
	for _, req := range q {
		if !req.state.CompareAndSwap(reqPending, reqStarted) {
			continue // canceled: its caller is gone
		}
		if failure != nil {
			what := "append"
			if req.setMode {
				what = "change encryption"
			}
			req.err = fmt.Errorf("cannot %s: %w", what, failure)
			close(req.done)
			continue
		}
		if req.setMode {
			req.err = l.switchMode(req.encrypt)
			close(req.done)
			l.mu.Lock()
			disk, failure = l.diskBytes+(w.size-w.seg.size)+int64(len(w.buf)), l.failure
			l.mu.Unlock()
			continue
		}
		if sealed := w.seg.aead != nil; req.sealed != sealed {
			// SetEncryption ran since Append planned req.
			maxEntry, overhead := l.layout(sealed)
			req.plan, _ = planEntries(req.plan[:0], req.recs, maxEntry, overhead) // the records fit: Append checked
			req.sealed = sealed
		}
		if limit := l.opts.MaxBytes; limit > 0 {
			need := l.need(req)
			if disk+need > limit && len(w.buf) == 0 {
				freed, err := l.dropCommittedSegment()
				if err != nil {
					failure = l.fail(err)
					req.err = fmt.Errorf("cannot append: %w", failure)
					close(req.done)
					continue
				}
				disk -= freed
				need = l.need(req)
			}
			if disk+need > limit {
				req.err = ErrFull
				close(req.done)
				continue
			}
			disk += need
		}
		req.first = w.next
		req.end = w.next + uint64(len(req.recs))
		w.waiting = append(w.waiting, req)
		if err := l.place(req); err != nil {
			failure = l.fail(err)
		}
	}
	if failure == nil {
		if err := l.flush(); err != nil {
			l.fail(err)
		}
	}
}

// need is how many bytes req would add to the log, new segment headers
// included.
func (l *Log) need(req *appendReq) int64 {
	w := &l.w
	size, entries := w.size+int64(len(w.buf)), w.entries
	hdrLen := l.newHeaderLen(w.seg.aead != nil)
	var n int64
	for _, e := range req.plan {
		if entries && size+e.size > l.opts.SegmentBytes {
			n += hdrLen
			size = hdrLen
		}
		n += e.size
		size += e.size
		entries = true
	}
	return n
}

// place encodes req's entries into the write buffer, first flushing and
// rolling over to a new segment wherever the current one is full.
func (l *Log) place(req *appendReq) error {
	w := &l.w
	for _, e := range req.plan {
		if w.entries && w.size+int64(len(w.buf))+e.size > l.opts.SegmentBytes {
			if err := l.flush(); err != nil {
				return err
			}
			if err := l.rollover(); err != nil {
				return err
			}
		}
		if pos := w.size + int64(len(w.buf)); pos-w.lastIndex >= indexInterval {
			w.newIndex = append(w.newIndex, indexPoint{off: w.next, pos: pos})
			w.lastIndex = pos
		}
		if len(w.buf) > 0 && int64(len(w.buf))+e.size > maxGroupBytes {
			// Bound the buffer: write what it holds, fsync later.
			if err := l.write(); err != nil {
				return err
			}
		}
		w.buf = slices.Grow(w.buf, int(e.size))
		if aead := w.seg.aead; aead != nil {
			w.buf = appendSealedEntry(w.buf, w.next, req.recs[e.lo:e.hi], aead)
		} else {
			w.buf = appendEntry(w.buf, w.next, req.recs[e.lo:e.hi])
		}
		w.next += uint64(e.hi - e.lo)
		w.entries = true
	}
	return nil
}

// write writes the buffer to the segment file, without fsync.
func (l *Log) write() error {
	w := &l.w
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("cannot write segment %s: %w", segmentName(w.seg.first), err)
	}
	return nil
}

// flush writes the buffer with one write, fsyncs, publishes the new durable
// end and completes the requests that are now wholly durable.
func (l *Log) flush() error {
	w := &l.w
	if err := l.write(); err != nil {
		return err
	}
	if cap(w.buf) > maxGroupBytes {
		w.buf = nil // an unusually large group: do not keep its buffer
	}
	if w.synced == w.size {
		return nil
	}
	if err := SyncData(w.f); err != nil {
		return fmt.Errorf("cannot fsync segment %s: %w", segmentName(w.seg.first), err)
	}
	w.synced = w.size
	done := 0
	for done < len(w.waiting) && w.waiting[done].end <= w.next {
		done++
	}
	l.mu.Lock()
	l.diskBytes += w.size - w.seg.size
	w.seg.size = w.size
	w.seg.index = append(w.seg.index, w.newIndex...)
	l.next = w.next
	l.fsyncs++
	l.appends += uint64(done)
	close(l.appended)
	l.appended = make(chan struct{})
	l.mu.Unlock()
	w.newIndex = w.newIndex[:0]
	for _, req := range w.waiting[:done] {
		close(req.done)
	}
	w.waiting = append(w.waiting[:0], w.waiting[done:]...)
	return nil
}

// rollover seals the current segment, which must be flushed, and starts a
// new one at the next offset, encrypted if the current one is.
func (l *Log) rollover() error {
	hdr, aead, err := l.newSegmentHeader(l.w.seg.aead != nil)
	if err != nil {
		return err
	}
	return l.startSegment(hdr, aead)
}

// newSegmentHeader returns the header of a new segment, encrypted or not,
// and for an encrypted one its new data key's cipher.
func (l *Log) newSegmentHeader(encrypted bool) ([]byte, cipher.AEAD, error) {
	if !encrypted {
		return appendSegmentHeader(nil), nil, nil
	}
	return appendEncryptedSegmentHeader(make([]byte, 0, maxSegHeaderLen), l.opts.Keys)
}

// newHeaderLen is the header length of a new segment, encrypted or not.
func (l *Log) newHeaderLen(encrypted bool) int64 {
	if encrypted {
		return l.encHeaderLen
	}
	return segHeaderLen
}

// startSegment makes the writer write a new segment with header hdr (and
// data key aead) at the next offset. If the current segment holds entries
// (and is flushed) it is sealed and the new one follows it; if it holds
// none, the new one replaces it.
func (l *Log) startSegment(hdr []byte, aead cipher.AEAD) error {
	w := &l.w
	replace := !w.entries
	if err := createSegment(l.dir, w.next, hdr, replace); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(l.dir, segmentName(w.next)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("cannot open new segment: %w", err)
	}
	if err := w.f.Close(); err != nil {
		l.logger.Warn("wal: cannot close sealed segment", "segment", segmentName(w.seg.first), "err", err)
	}
	n := int64(len(hdr))
	seg := &segment{first: w.next, size: n, start: n, aead: aead}
	l.mu.Lock()
	if replace {
		// A Reader holding the old segment finds the new one as the
		// segment that follows it, having read the old one to its end.
		l.diskBytes -= w.seg.size
		l.segs[len(l.segs)-1] = seg
	} else {
		l.segs = append(l.segs, seg)
	}
	l.diskBytes += n
	l.fsyncs += 2 // header and directory
	l.mu.Unlock()
	w.f, w.seg = f, seg
	w.size, w.synced, w.entries, w.lastIndex = n, n, false, n
	return nil
}

// switchMode makes the writer write encrypted entries (encrypted) or
// plaintext ones from now on: it flushes what is buffered, then starts a
// segment of the new mode, sealing the current one (or replacing it if it
// is empty), and removes the sealed segments that are wholly committed.
// Errors writing the log are sticky (see fail); a switch that would take
// the log over MaxBytes fails with ErrFull and changes nothing.
func (l *Log) switchMode(encrypted bool) error {
	w := &l.w
	if (w.seg.aead != nil) == encrypted {
		return nil
	}
	what := map[bool]string{true: "on", false: "off"}[encrypted]
	if err := l.flush(); err != nil {
		return fmt.Errorf("cannot turn encryption %s: %w", what, l.fail(err))
	}
	hdr, aead, err := l.newSegmentHeader(encrypted)
	if err != nil {
		return fmt.Errorf("cannot turn encryption %s: %w", what, err)
	}
	if limit := l.opts.MaxBytes; limit > 0 {
		l.mu.Lock()
		disk, committed := l.diskBytes, l.committed
		l.mu.Unlock()
		grow := int64(len(hdr))
		if !w.entries || committed >= w.next {
			grow -= w.size // the current segment goes: replaced, or removed below
		}
		if disk+grow > limit {
			return fmt.Errorf("cannot turn encryption %s: a new segment header would take the log over MaxBytes: %w", what, ErrFull)
		}
	}
	if err := l.startSegment(hdr, aead); err != nil {
		return fmt.Errorf("cannot turn encryption %s: %w", what, l.fail(err))
	}
	l.mu.Lock()
	removed := l.removeCommittedLocked()
	l.mu.Unlock()
	l.removeFiles(removed)
	l.sealing.Store(encrypted)
	attrs := []any{"segment", segmentName(w.seg.first)}
	if encrypted {
		attrs = append(attrs, "key_id", l.opts.Keys.Current())
	}
	l.logger.Info("wal: encryption turned "+what, attrs...)
	return nil
}

// dropCommittedSegment frees the current segment when every record in it
// is committed, by rolling over to a new, empty one and removing it:
// without this, a log whose MaxBytes is near SegmentBytes could stay full
// for good although everything was delivered. It returns the bytes freed.
func (l *Log) dropCommittedSegment() (int64, error) {
	w := &l.w
	l.mu.Lock()
	ok := w.entries && l.committed >= w.next
	l.mu.Unlock()
	if !ok {
		return 0, nil
	}
	if err := l.rollover(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	removed := l.removeCommittedLocked()
	l.mu.Unlock()
	return l.removeFiles(removed) - w.seg.start, nil
}

// fail makes err sticky: a write or fsync failed, so what is on disk past
// the durable end is unknown, and no Append may succeed until the log is
// reopened and recovered. Requests waiting for durability get err.
func (l *Log) fail(err error) error {
	w := &l.w
	l.mu.Lock()
	if l.failure == nil {
		l.failure = err
		l.logger.Error("wal: write failed; the log accepts no more appends until reopened", "err", err)
	}
	l.mu.Unlock()
	for _, req := range w.waiting {
		req.err = fmt.Errorf("cannot append: %w", err)
		close(req.done)
	}
	w.waiting = w.waiting[:0]
	w.buf = w.buf[:0]
	return err
}

// Commit records that every record below offset has been delivered. It
// returns once that is durable (temporary file, fsync, rename, directory
// fsync), and then removes every segment whose records are all below
// offset, which lowers DiskBytes. A commit at or below the current one is
// ignored; one beyond the durable end is an error wrapping ErrOutOfRange.
func (l *Log) Commit(offset uint64) error {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	l.mu.Lock()
	closed, committed, next := l.closed, l.committed, l.next
	l.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case offset <= committed:
		return nil
	case offset > next:
		return fmt.Errorf("cannot commit offset %d: beyond the durable end %d: %w", offset, next, ErrOutOfRange)
	}
	if err := writeCommit(l.dir, offset); err != nil {
		return err
	}
	l.mu.Lock()
	l.committed = offset
	removed := l.removeCommittedLocked()
	l.mu.Unlock()
	l.removeFiles(removed)
	return nil
}

// removeCommittedLocked takes the segments whose records are all below
// the committed offset out of l.segs, never the last one, and returns
// them. The caller removes their files after unlocking; a Reader opens a
// segment file only while holding l.mu and finding it in l.segs, so it
// never finds a segment whose file is gone.
func (l *Log) removeCommittedLocked() []*segment {
	k := 0
	for k+1 < len(l.segs) && l.segs[k+1].first <= l.committed {
		k++
	}
	if k == 0 {
		return nil
	}
	removed := make([]*segment, k)
	copy(removed, l.segs[:k])
	for _, s := range removed {
		l.diskBytes -= s.size
	}
	l.segs = append(l.segs[:0], l.segs[k:]...)
	return removed
}

// removeFiles deletes the files of removed segments and returns their
// total size. A file that cannot be removed is logged; Open removes it.
func (l *Log) removeFiles(removed []*segment) int64 {
	var freed int64
	for _, s := range removed {
		freed += s.size
		if err := os.Remove(filepath.Join(l.dir, segmentName(s.first))); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn("wal: cannot remove committed segment", "segment", segmentName(s.first), "err", err)
			continue
		}
		l.logger.Debug("wal: removed committed segment", "segment", segmentName(s.first))
	}
	return freed
}
