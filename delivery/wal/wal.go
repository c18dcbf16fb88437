// Package wal is Hydrant's embedded write-ahead log: the durable, ordered log
// a delivery stream appends producer records to before they are
// acknowledged, and reads back from its last committed offset.
//
// A log is a directory of segment files, each named by the offset of its
// first record, and a commit file. Append encodes a batch of records as one
// checksummed entry; a single writer goroutine writes every entry queued
// while the previous fsync ran with one write and one fsync (group commit),
// and only then returns to the appenders. Readers read the segments through
// their own file handles and never see a record before it is durable.
// Commit persists how far delivery got and removes the segments below it.
//
// Segments can be encrypted at rest (SetEncryption): each encrypted segment
// has a data key of its own, wrapped by a master key in its header, and
// every entry's records are sealed with AES-256-GCM under it. Turning
// encryption on or off starts a new segment; the older ones keep their
// mode until they are delivered and removed.
//
// FORMAT.md specifies the files byte by byte and the recovery rules.
package wal

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hydrantio/hydrant/delivery/encrypt"
)

// Errors callers branch on.
var (
	// ErrFull is returned by Append when the new entry would take the log
	// over Options.MaxBytes; nothing was written. Committing delivered
	// records frees room.
	ErrFull = errors.New("wal: log is full")
	// ErrClosed is returned by operations on a closed Log or Reader.
	ErrClosed = errors.New("wal: log is closed")
	// ErrOutOfRange is wrapped by errors about offsets the log does not
	// hold (any more).
	ErrOutOfRange = errors.New("wal: offset out of range")
	// ErrUnsupported is wrapped by errors about files written in a format
	// (version or entry flags) this version cannot read. Unlike a
	// *CorruptionError it must not be repaired: a newer version reads it.
	ErrUnsupported = errors.New("wal: unsupported format")
)

// DefaultSegmentBytes is Options.SegmentBytes when it is left zero.
const DefaultSegmentBytes = 64 << 20

// Options configures a Log.
type Options struct {
	// SegmentBytes is the size at which the writer starts a new segment.
	// A segment holds at least one entry, so one record larger than this
	// makes a larger segment. Default (0): DefaultSegmentBytes.
	SegmentBytes int64
	// MaxBytes caps the size of all segments together; an Append that
	// would exceed it fails with ErrFull. Default (0): unlimited.
	MaxBytes int64
	// Logger receives recovery warnings and lifecycle events.
	// Default (nil): slog.Default().
	Logger *slog.Logger
	// Keys holds the master keys of encrypted segments: Open needs the
	// key each encrypted segment names to read it, and SetEncryption(true)
	// needs a keyring. New segments' data keys are wrapped by the current
	// key (Keys.Current()), so rotating the master key takes effect at
	// the next segment; keep the old keys for as long as segments
	// encrypted under them are not delivered. Default (nil): the log can
	// hold plaintext segments only.
	Keys *encrypt.Keyring
}

// Log is one delivery stream's write-ahead log. All methods are safe for
// concurrent use.
type Log struct {
	dir    string
	opts   Options
	logger *slog.Logger
	unlock func() error // releases the directory lock

	// encHeaderLen is the header length of a new encrypted segment: it
	// depends on the current key id.
	encHeaderLen int64
	// sealing is whether Append should plan entries for an encrypted
	// segment: the writer's mode when it last switched.
	sealing atomic.Bool

	mu        sync.Mutex
	segs      []*segment // in offset order; the last one is the writer's
	next      uint64     // durable end: offset of the next record to append
	committed uint64
	diskBytes int64 // sum of segs[i].size
	queue     []*appendReq
	appended  chan struct{} // closed and replaced when next advances
	closed    bool
	failure   error // sticky: a write or fsync failed, no more appends
	fsyncs    uint64
	appends   uint64

	commitMu sync.Mutex // serialises Commit

	wake       chan struct{} // capacity 1: the queue is not empty, or closed
	writerDone chan struct{}
	w          writer // owned by the writer goroutine
}

// segment is a segment file as the Log tracks it. Its size and index are
// guarded by Log.mu, the other fields never change; a Reader keeps a
// pointer to its segment after Commit removed it from Log.segs, so size
// stays its final size.
type segment struct {
	first uint64
	size  int64        // durable bytes: a reader never reads beyond
	index []indexPoint // sparse: entry starts indexInterval bytes apart
	start int64        // header length: where the first entry starts
	aead  cipher.AEAD  // the data key of an encrypted segment; nil if plaintext
}

// indexPoint says that the entry starting at byte pos has base offset off.
type indexPoint struct {
	off uint64
	pos int64
}

// Stats is a snapshot of a Log.
type Stats struct {
	FirstOffset uint64 // offset of the oldest record still on disk
	NextOffset  uint64 // durable end: the offset the next record will get
	Committed   uint64 // every record below it has been delivered
	DiskBytes   int64  // size of all segment files
	Segments    int
	Fsyncs      uint64 // fsyncs issued by the writer since Open
	Appends     uint64 // Append calls that wrote records since Open

	// Encrypted says whether appends are encrypted: whether the last
	// segment is (see SetEncryption).
	Encrypted bool
	// EncryptedSegments and PlaintextSegments count the segments by
	// mode; together they are Segments. Right after encryption is turned
	// on, plaintext segments remain until their records are committed:
	// only when PlaintextSegments is 0 is everything on disk encrypted.
	EncryptedSegments int
	PlaintextSegments int
}

// Open opens the log in dir, creating dir and an empty log if needed, and
// recovers it: a torn entry at the end of the last segment (a write that a
// crash interrupted before its fsync returned, so never acknowledged) is
// truncated with a warning. Any other damage makes Open fail with a
// *CorruptionError and change nothing; Repair fixes it by truncating the
// log there. A directory is used by one Log at a time.
//
// Recovery decrypts and authenticates every entry of an encrypted segment.
// If opts.Keys does not hold the master key a segment names, or holds
// another key under its id, Open fails with an error that wraps an
// *encrypt.UnknownKeyError or *encrypt.WrongKeyError (not a corruption:
// give it the right keys). A new log is not encrypted; an existing one
// appends in the mode of its last segment.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentBytes < 0 || opts.MaxBytes < 0 {
		return nil, fmt.Errorf("cannot open wal %q: negative SegmentBytes (%d) or MaxBytes (%d)", dir, opts.SegmentBytes, opts.MaxBytes)
	}
	if opts.SegmentBytes == 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := mkdir(dir); err != nil {
		return nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{
		dir:        dir,
		opts:       opts,
		logger:     opts.Logger.With("wal", dir),
		unlock:     unlock,
		appended:   make(chan struct{}),
		wake:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
	}
	if opts.Keys != nil {
		l.encHeaderLen = encHeaderLen(len(opts.Keys.Current()))
	}
	if err := l.recover(); err != nil {
		return nil, errors.Join(err, unlock())
	}
	last := l.segs[len(l.segs)-1]
	f, err := os.OpenFile(filepath.Join(dir, segmentName(last.first)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cannot open segment for writing: %w", err), unlock())
	}
	l.w = writer{
		f: f, seg: last, size: last.size, next: l.next,
		entries: last.size > last.start, lastIndex: last.start,
	}
	if n := len(last.index); n > 0 {
		l.w.lastIndex = last.index[n-1].pos
	}
	l.sealing.Store(last.aead != nil)
	st := l.Stats()
	l.logger.Info("wal opened", "first_offset", st.FirstOffset, "next_offset", st.NextOffset,
		"committed", st.Committed, "segments", st.Segments, "disk_bytes", st.DiskBytes,
		"encrypted", st.Encrypted, "encrypted_segments", st.EncryptedSegments)
	go l.run()
	return l, nil
}

// mkdir creates dir if needed and makes its entry in the parent durable.
func mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create wal directory: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

// recover scans the directory and sets up l.segs, l.next and l.committed.
// It changes files only once it knows the log is healthy.
func (l *Log) recover() error {
	committed, hasCommit, err := readCommit(l.dir)
	if err != nil {
		return err
	}
	firsts, err := listSegments(l.dir, l.logger)
	if err != nil {
		return err
	}
	if len(firsts) == 0 {
		// A new log, or one whose every segment Repair dropped: start at
		// the commit point, so no offset is used twice.
		if err := createSegment(l.dir, committed, appendSegmentHeader(nil), false); err != nil {
			return err
		}
		if hasCommit {
			l.logger.Warn("wal has no segments; starting empty at the committed offset", "offset", committed)
		}
		l.segs = []*segment{{first: committed, size: segHeaderLen, start: segHeaderLen}}
		l.next, l.committed, l.diskBytes = committed, committed, segHeaderLen
		return nil
	}
	st, err := scanDir(l.dir, firsts, committed, l.opts.Keys, true)
	if err != nil {
		return err
	}
	if err := checkCommit(l.dir, committed, st); err != nil {
		return err
	}
	// The log is healthy: apply what recovery decided.
	if last := &st.segs[len(st.segs)-1]; last.torn != "" {
		if err := truncateTorn(l.dir, *last); err != nil {
			return err
		}
		l.logger.Warn("wal: truncated torn write at the end of the log",
			"segment", segmentName(last.first), "byte_offset", last.size,
			"dropped_bytes", last.fileSize-last.size, "offset", last.end, "reason", last.torn)
		if last.size < segHeaderLen { // a torn header was rewritten as a plaintext one
			last.size, last.start = segHeaderLen, segHeaderLen
		}
	}
	for _, first := range st.drop {
		// Fully committed segments a crash left behind after Commit.
		if err := os.Remove(filepath.Join(l.dir, segmentName(first))); err != nil {
			return fmt.Errorf("cannot remove committed segment: %w", err)
		}
		l.logger.Info("wal: removed committed segment", "segment", segmentName(first))
	}
	for _, s := range st.segs {
		l.segs = append(l.segs, &segment{first: s.first, size: s.size, index: s.index, start: s.start, aead: s.aead})
		l.diskBytes += s.size
	}
	l.next, l.committed = st.next, committed
	return nil
}

// listSegments returns the first offsets of the segment files in dir, in
// order, and removes leftover temporary commit and segment files.
func listSegments(dir string, logger *slog.Logger) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list wal directory: %w", err)
	}
	var firsts []uint64
	for _, e := range ents {
		name := e.Name()
		switch first, ok := parseSegmentName(name); {
		case ok:
			firsts = append(firsts, first)
		case name == commitTmpFile, isSegmentTmp(name):
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("cannot remove temporary file: %w", err)
			}
		case name == commitFile, name == lockFile:
		default:
			logger.Warn("wal: ignoring unexpected file", "file", name)
		}
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	return firsts, nil
}

// parseSegmentName parses a segment file name as segmentName makes it.
func parseSegmentName(name string) (uint64, bool) {
	if len(name) != 20+len(segSuffix) || name[20:] != segSuffix {
		return 0, false
	}
	var n uint64
	for _, c := range name[:20] {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// isSegmentTmp reports whether name is a segment file being created.
func isSegmentTmp(name string) bool {
	seg, ok := strings.CutSuffix(name, tmpSuffix)
	if !ok {
		return false
	}
	_, ok = parseSegmentName(seg)
	return ok
}

// createSegment creates the empty segment that starts at offset first,
// with header hdr, durably and atomically: it writes and fsyncs a
// temporary file, renames it into place and fsyncs the directory, so that
// a crash leaves either no segment or one with its whole header. An
// existing segment file is an error, unless replace is set: then the new
// segment replaces it.
func createSegment(dir string, first uint64, hdr []byte, replace bool) error {
	path := filepath.Join(dir, segmentName(first))
	if !replace {
		// The directory lock keeps anyone else from creating it meanwhile.
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("cannot create segment %s: it exists", segmentName(first))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot create segment: %w", err)
		}
	}
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create segment: %w", err)
	}
	_, err = f.Write(hdr)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write segment header: %w", err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory, making file creations, renames and removals
// in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open directory to sync: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot sync directory %q: %w", dir, err)
	}
	return nil
}

// Appended returns a channel that is closed the next time the durable end
// advances. Each advance closes the channel and makes a new one, so call
// Appended again after it fired. After Close it returns a closed channel.
func (l *Log) Appended() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appended
}

// Committed returns the committed offset: every record below it has been
// delivered.
func (l *Log) Committed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed
}

// Stats returns a snapshot of the log's offsets, size, counters and
// encryption.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Stats{
		FirstOffset: l.segs[0].first,
		NextOffset:  l.next,
		Committed:   l.committed,
		DiskBytes:   l.diskBytes,
		Segments:    len(l.segs),
		Fsyncs:      l.fsyncs,
		Appends:     l.appends,
		Encrypted:   l.segs[len(l.segs)-1].aead != nil,
	}
	for _, s := range l.segs {
		if s.aead != nil {
			st.EncryptedSegments++
		}
	}
	st.PlaintextSegments = st.Segments - st.EncryptedSegments
	return st
}

// Encrypted reports whether appends are encrypted (see SetEncryption).
func (l *Log) Encrypted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segs[len(l.segs)-1].aead != nil
}

// SetEncryption turns encryption at rest on or off for the records
// appended from now on. If the log is not in that mode already, it seals
// the current segment and starts a new one in the new mode (an empty
// current segment is replaced instead), with a new data key wrapped by
// the current master key of Options.Keys when turning encryption on. The
// older segments keep their mode until their records are committed and
// they are removed; readers read either (Stats counts them by mode).
//
// SetEncryption returns once the new segment is durable: the mode
// survives a restart, since Open resumes in the mode of the last segment.
// Appends queued before the call are written in the old mode, appends
// made after it returns in the new one. Turning encryption on without
// Options.Keys is an error; so is a switch that would take the log over
// Options.MaxBytes (ErrFull, nothing changed), and after Close, ErrClosed.
// A failure to write the new segment is sticky, as for Append.
func (l *Log) SetEncryption(on bool) error {
	if on && l.opts.Keys == nil {
		return errors.New("cannot turn wal encryption on: no master keys (Options.Keys)")
	}
	req := &appendReq{setMode: true, encrypt: on, done: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.failure != nil {
		l.mu.Unlock()
		return fmt.Errorf("cannot change encryption: %w", l.failure)
	}
	l.queue = append(l.queue, req)
	l.mu.Unlock()
	l.signal()
	<-req.done
	return req.err
}

// Close waits for the appends already queued to be written, stops the
// writer goroutine and releases the directory. Open Readers keep working
// up to the durable end, then return ErrClosed. Close is idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.writerDone
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.signal()
	<-l.writerDone
	l.commitMu.Lock() // wait for a Commit in flight
	defer l.commitMu.Unlock()
	l.mu.Lock()
	close(l.appended) // the writer is gone: wake every waiter for good
	l.mu.Unlock()
	err := l.w.f.Close()
	if err != nil {
		err = fmt.Errorf("cannot close segment: %w", err)
	}
	return errors.Join(err, l.unlock())
}
