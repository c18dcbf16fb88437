package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/hydrantio/hydrant/record"
)

// Reader reads a log's records in offset order through its own file
// handles, concurrently with appends and commits. It holds at most one
// entry in memory. A Reader is not safe for concurrent use.
type Reader struct {
	l    *Log
	f    *os.File
	seg  *segment // the segment f reads; stays valid after Commit removed it
	pos  int64    // byte position in f after the entries read so far
	rng  fileRange
	br   *bufio.Reader // reads rng = [pos, limit of the segment)
	hdr  [entryHeaderLen]byte
	buf  []byte // the current entry's payload
	ent  int64  // byte position of the current entry
	rest []byte // its records not yet returned
	left uint32 // how many records rest holds
	next uint64 // offset of the first record in rest
	from uint64 // records below it are skipped
	key  string // the last partition key returned, reused to save allocations
	err  error  // sticky
}

// fileRange reads the byte range [off, end) of f.
type fileRange struct {
	f        *os.File
	off, end int64
}

func (r *fileRange) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.end-r.off)]
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && r.off < r.end {
		err = io.ErrUnexpectedEOF // the segment shrank under us
	} else if err == io.EOF {
		err = nil
	}
	return n, err
}

// NewReader returns a Reader positioned at offset from, which must be in
// [FirstOffset, NextOffset] (else the error wraps ErrOutOfRange).
func (l *Log) NewReader(from uint64) (*Reader, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	first := l.segs[0].first
	if from < first || from > l.next {
		return nil, fmt.Errorf("cannot read from offset %d: the log holds offsets [%d, %d): %w", from, first, l.next, ErrOutOfRange)
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > from }) - 1
	s := l.segs[i]
	start := indexPoint{off: s.first, pos: s.start}
	if j := sort.Search(len(s.index), func(j int) bool { return s.index[j].off > from }); j > 0 {
		start = s.index[j-1]
	}
	r := &Reader{l: l, from: from, next: start.off}
	r.br = bufio.NewReaderSize(&r.rng, 64<<10)
	if err := r.openLocked(s, start.pos); err != nil {
		return nil, err
	}
	return r, nil
}

// Next returns the next record, with its Offset set. It returns io.EOF
// when it has caught up with the durable end (call it again later for the
// records appended since: Log.Appended says when), ErrClosed once it has
// caught up with a closed log, and a *CorruptionError if an entry fails
// its checks. The record's Data is valid until the next call to Next.
func (r *Reader) Next() (record.Record, error) {
	if r.err != nil {
		return record.Record{}, r.err
	}
	for {
		for r.left == 0 {
			if err := r.readEntry(); err != nil {
				if err != io.EOF && !errors.Is(err, ErrClosed) {
					r.err = err
				}
				return record.Record{}, err
			}
		}
		ns, key, data, rest, ok := decodeRecord(r.rest)
		r.left--
		if !ok || (r.left == 0 && len(rest) != 0) {
			r.err = r.corrupt(r.ent, "malformed record in entry")
			return record.Record{}, r.err
		}
		r.rest = rest
		off := r.next
		r.next++
		if off < r.from {
			continue
		}
		if string(key) != r.key {
			r.key = string(key)
		}
		return record.Record{Offset: off, ArrivalTime: decodeTime(ns), PartitionKey: r.key, Data: data}, nil
	}
}

// readEntry reads and verifies the next entry into r.buf, moving on to the
// next segment as needed; entries wholly below r.from are skipped unread.
func (r *Reader) readEntry() error {
	for {
		if r.pos >= r.rng.end {
			if err := r.advance(); err != nil {
				return err
			}
			continue
		}
		pos := r.pos
		if r.rng.end-pos < entryHeaderLen {
			return r.corrupt(pos, "entry header extends past the end of the segment")
		}
		if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
			return fmt.Errorf("cannot read segment: %w", err)
		}
		h := parseEntryHeader(r.hdr[:])
		aead := r.seg.aead
		if reason := h.check(aead != nil); reason != "" {
			return r.corrupt(pos, reason)
		}
		if pos+h.size() > r.rng.end {
			return r.corrupt(pos, "entry extends past the end of the segment")
		}
		if h.base != r.next {
			return r.corrupt(pos, fmt.Sprintf("entry starts at offset %d, want %d", h.base, r.next))
		}
		r.pos = pos + h.size()
		if h.base+uint64(h.count) <= r.from {
			if _, err := r.br.Discard(int(h.payloadLen)); err != nil {
				return fmt.Errorf("cannot read segment: %w", err)
			}
			r.next += uint64(h.count)
			continue
		}
		p := grow(&r.buf, int(h.payloadLen))
		if _, err := io.ReadFull(r.br, p); err != nil {
			return fmt.Errorf("cannot read segment: %w", err)
		}
		if entryCRC(r.hdr[:], p) != h.crc {
			return r.corrupt(pos, "entry checksum mismatch")
		}
		if reason, err := h.checkFlags(aead != nil); err != nil {
			return fmt.Errorf("entry at byte %d of segment %s has %w", pos, segmentName(r.seg.first), err)
		} else if reason != "" {
			return r.corrupt(pos, reason)
		}
		if aead != nil {
			var ok bool
			if p, ok = openEntry(aead, r.hdr[:], p); !ok {
				return r.corrupt(pos, authFailure)
			}
		}
		r.rest, r.left, r.ent = p, h.count, pos
		return nil
	}
}

// advance is called when the reader has read its segment up to the durable
// size it knew: it learns the new durable size, or moves on to the next
// segment, or reports io.EOF at the durable end.
func (r *Reader) advance() error {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.seg.size > r.pos {
		r.reset(r.seg.size)
		return nil
	}
	if l.segs[len(l.segs)-1] == r.seg {
		if l.closed {
			return ErrClosed
		}
		return io.EOF
	}
	// The segment is sealed and read to its end.
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first >= r.next })
	if i == len(l.segs) || l.segs[i].first != r.next {
		if r.next < l.segs[0].first {
			return fmt.Errorf("cannot read offset %d: its segment was removed by a commit: %w", r.next, ErrOutOfRange)
		}
		return r.corrupt(r.pos, fmt.Sprintf("no segment starts at offset %d after this one", r.next))
	}
	return r.openLocked(l.segs[i], l.segs[i].start)
}

// openLocked switches the reader to segment s at byte pos. l.mu is held,
// so s's file exists.
func (r *Reader) openLocked(s *segment, pos int64) error {
	f, err := os.Open(filepath.Join(r.l.dir, segmentName(s.first)))
	if err != nil {
		return fmt.Errorf("cannot open segment: %w", err)
	}
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.seg, r.pos = f, s, pos
	r.reset(s.size)
	return nil
}

// reset points the buffered reader at [r.pos, end) of the current segment.
func (r *Reader) reset(end int64) {
	r.rng = fileRange{f: r.f, off: r.pos, end: end}
	r.br.Reset(&r.rng)
}

func (r *Reader) corrupt(pos int64, reason string) error {
	return &CorruptionError{Dir: r.l.dir, Segment: segmentName(r.seg.first), ByteOffset: pos, Offset: r.next, Reason: reason}
}

// Close releases the reader's file handle. Next then returns ErrClosed.
func (r *Reader) Close() error {
	r.err = ErrClosed
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
