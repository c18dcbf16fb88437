package wal

import (
	"bufio"
	"crypto/cipher"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hydrantio/hydrant/delivery/encrypt"
)

// CorruptionError reports damage that recovery must not fix silently,
// because data after it could be lost: a bad entry followed by valid ones,
// damage in a segment other than the last, a gap or overlap in offsets, a
// missing segment, or an unreadable or inconsistent commit file. Repair
// fixes it by truncating the log at ByteOffset.
type CorruptionError struct {
	// Dir is the log directory.
	Dir string
	// Segment is the file the damage is in: a segment file name, or
	// "commit" for the commit file.
	Segment string
	// ByteOffset is where in Segment the damage starts: the start of the
	// bad entry, or 0 when the whole file is at fault.
	ByteOffset int64
	// Offset is the record offset the damaged entry starts at (or should
	// start at, going by the entries before it); for the commit file, the
	// offset it holds, when readable.
	Offset uint64
	// Reason says what is wrong.
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal: corruption in %s at byte %d (offset %d): %s",
		filepath.Join(e.Dir, e.Segment), e.ByteOffset, e.Offset, e.Reason)
}

// keyError is an error about the master key of an encrypted segment. It
// says which segment and key, and wraps the *encrypt.UnknownKeyError or
// *encrypt.WrongKeyError that callers branch on.
type keyError struct {
	msg string
	err error
}

func (e *keyError) Error() string { return e.msg }
func (e *keyError) Unwrap() error { return e.err }

// segmentKeyError explains err, from encrypt.OpenDataKey, about the master
// key id of the segment at path.
func segmentKeyError(path, id string, keys *encrypt.Keyring, err error) error {
	var uerr *encrypt.UnknownKeyError
	var werr *encrypt.WrongKeyError
	prefix := fmt.Sprintf("wal: segment %s is encrypted with master key %q", path, id)
	switch {
	case keys == nil:
		return &keyError{prefix + ", but no master keys are configured: give the keys the log was written with", err}
	case errors.As(err, &uerr):
		have := make([]string, len(uerr.Have))
		for i, id := range uerr.Have {
			have[i] = fmt.Sprintf("%q", id)
		}
		return &keyError{fmt.Sprintf("%s, which is not in the keyring (%s holds %s): add the line %s:<base64 key> with that key to it",
			prefix, uerr.Source, strings.Join(have, ", "), id), err}
	case errors.As(err, &werr):
		return &keyError{prefix + ", but the keyring's key of that id does not open its data key: wrong key for that id?", err}
	}
	return fmt.Errorf("cannot read the data key of segment %s: %w", path, err)
}

// segScan is what scanning one segment found.
type segScan struct {
	first     uint64
	end       uint64 // offset after its last valid record
	size      int64  // bytes of valid data: header and whole, valid entries
	fileSize  int64
	start     int64       // header length
	encrypted bool        // the segment's entries are encrypted
	aead      cipher.AEAD // its data key, if the scan decrypted
	index     []indexPoint
	torn      string // why the tail from size on is a torn write; "" if none
}

// dirScan is what scanning a log directory found.
type dirScan struct {
	drop []uint64  // segments wholly below the commit, not scanned
	segs []segScan // the rest, scanned, in order
	next uint64    // end of the log
}

// scanDir verifies the segments firsts of dir (sorted) without changing
// them. Segments whose records are all below committed are left for
// removal unread: their records are delivered. With decrypt, encrypted
// segments are opened with keys, and their entries authenticated and
// checked like plaintext ones; without, only their framing is checked.
func scanDir(dir string, firsts []uint64, committed uint64, keys *encrypt.Keyring, decrypt bool) (dirScan, error) {
	var st dirScan
	k := 0
	for k+1 < len(firsts) && firsts[k+1] <= committed {
		k++
	}
	st.drop = firsts[:k]
	var buf []byte
	for i, first := range firsts[k:] {
		if i > 0 && first != st.next {
			what := "gap: a segment is missing"
			if first < st.next {
				what = "overlap"
			}
			return st, &CorruptionError{Dir: dir, Segment: segmentName(first), Offset: st.next,
				Reason: fmt.Sprintf("%s: segment starts at offset %d but %s ends at offset %d",
					what, first, segmentName(firsts[k+i-1]), st.next)}
		}
		s, err := scanSegment(dir, first, k+i == len(firsts)-1, &buf, keys, decrypt)
		if err != nil {
			return st, err
		}
		st.segs = append(st.segs, s)
		st.next = s.end
	}
	return st, nil
}

// scanSegment reads one segment entry by entry, verifying framing, CRCs,
// offset continuity and record encoding (and with decrypt, the GCM tags of
// an encrypted segment), holding at most one entry in memory (*buf,
// reused). Damage at the end of the last segment with nothing valid after
// it is a torn write and is reported in segScan.torn; any other damage is
// a *CorruptionError.
func scanSegment(dir string, first uint64, last bool, buf *[]byte, keys *encrypt.Keyring, decrypt bool) (segScan, error) {
	name := segmentName(first)
	path := filepath.Join(dir, name)
	s := segScan{first: first, end: first}
	f, err := os.Open(path)
	if err != nil {
		return s, fmt.Errorf("cannot open segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s, fmt.Errorf("cannot stat segment: %w", err)
	}
	size := fi.Size()
	s.fileSize = size
	corrupt := func(pos int64, reason string) error {
		return &CorruptionError{Dir: dir, Segment: name, ByteOffset: pos, Offset: s.end, Reason: reason}
	}
	// damaged handles damage at pos that may be a torn write.
	damaged := func(pos int64, reason string) (segScan, error) {
		if last {
			valid, err := validEntryAfter(f, pos, size, s.end, s.encrypted)
			if err != nil {
				return s, err
			}
			if !valid {
				s.size, s.torn = pos, reason
				return s, nil
			}
			reason += ", and valid entries follow"
		}
		return s, corrupt(pos, reason)
	}

	head := make([]byte, min(size, maxSegHeaderLen))
	if _, err := f.ReadAt(head, 0); err != nil {
		return s, fmt.Errorf("cannot read segment %s: %w", name, err)
	}
	sh, reason, torn, err := parseSegmentHeader(head)
	switch {
	case err != nil:
		return s, fmt.Errorf("segment %s has %w", path, err)
	case reason != "" && torn:
		return damaged(0, reason)
	case reason != "":
		return s, corrupt(0, reason)
	}
	s.start, s.encrypted = sh.len, sh.encrypted()
	if s.encrypted && decrypt {
		if s.aead, err = encrypt.OpenDataKey(keys, sh.keyID, sh.wrapped, sh.ad); err != nil {
			return s, segmentKeyError(path, sh.keyID, keys, err)
		}
	}
	var hdr [entryHeaderLen]byte
	pos := s.start
	s.size = pos
	br := bufio.NewReaderSize(io.NewSectionReader(f, pos, size-pos), 256<<10)
	lastIndex := pos
	for pos < size {
		if size-pos < entryHeaderLen {
			return damaged(pos, fmt.Sprintf("entry header truncated: %d of %d bytes", size-pos, entryHeaderLen))
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return s, fmt.Errorf("cannot read segment %s: %w", name, err)
		}
		h := parseEntryHeader(hdr[:])
		if reason := h.check(s.encrypted); reason != "" {
			return damaged(pos, reason)
		}
		end := pos + h.size()
		if end > size {
			return damaged(pos, fmt.Sprintf("entry of %d bytes extends %d bytes past the end of the segment", h.size(), end-size))
		}
		p := grow(buf, int(h.payloadLen))
		if _, err := io.ReadFull(br, p); err != nil {
			return s, fmt.Errorf("cannot read segment %s: %w", name, err)
		}
		if entryCRC(hdr[:], p) != h.crc {
			return damaged(pos, "entry checksum mismatch")
		}
		// The entry is intact as written: anything wrong now is not a
		// torn write.
		if reason, err := h.checkFlags(s.encrypted); err != nil {
			return s, fmt.Errorf("entry at byte %d of segment %s has %w", pos, path, err)
		} else if reason != "" {
			return s, corrupt(pos, reason)
		}
		if h.base != s.end {
			what := "gap"
			if h.base < s.end {
				what = "overlap"
			}
			return s, corrupt(pos, fmt.Sprintf("%s: entry starts at offset %d, want %d", what, h.base, s.end))
		}
		if h.base+uint64(h.count) < h.base {
			return s, corrupt(pos, "entry offsets overflow")
		}
		if s.encrypted {
			var ok bool
			if s.aead == nil {
				p = nil // not decrypting: the framing is all there is to check
			} else if p, ok = openEntry(s.aead, hdr[:], p); !ok {
				return s, corrupt(pos, authFailure)
			}
		}
		if p != nil {
			if reason := checkPayload(p, h.count); reason != "" {
				return s, corrupt(pos, reason)
			}
		}
		if pos-lastIndex >= indexInterval {
			s.index = append(s.index, indexPoint{off: h.base, pos: pos})
			lastIndex = pos
		}
		s.end += uint64(h.count)
		pos = end
		s.size = pos
	}
	return s, nil
}

// grow returns (*buf)[:n], growing *buf if needed.
func grow(buf *[]byte, n int) []byte {
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	return (*buf)[:n]
}

// authFailure is the reason of a *CorruptionError for an encrypted entry
// whose CRC is correct but whose GCM tag is not.
const authFailure = "entry fails authentication with the segment's data key (AES-GCM): its bytes were changed after they were written"

// validEntryAfter reports whether some byte position in (from, size) of f
// starts a well-framed entry (of an encrypted segment or not) with a
// correct CRC and a base offset of at least minBase: data after a damaged
// entry that a torn write cannot explain. It reads f through a small
// window, never a whole segment.
func validEntryAfter(f *os.File, from, size int64, minBase uint64, encrypted bool) (bool, error) {
	const window = 64 << 10
	buf := make([]byte, window+entryHeaderLen)
	var payload []byte
	for start := from + 1; start+entryHeaderLen <= size; start += window {
		b := buf[:min(int64(len(buf)), size-start)]
		if _, err := f.ReadAt(b, start); err != nil && err != io.EOF {
			return false, fmt.Errorf("cannot read segment: %w", err)
		}
		for i := 0; i < window && i+entryHeaderLen <= len(b); i++ {
			h := parseEntryHeader(b[i:])
			pos := start + int64(i)
			if h.check(encrypted) != "" || h.base < minBase || pos+h.size() > size {
				continue
			}
			ok, err := crcMatches(f, pos, h, b[i:i+entryHeaderLen], &payload)
			if err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

// crcMatches reports whether the entry at pos with header h (raw bytes
// hdr) has a correct CRC, streaming its payload through *buf.
func crcMatches(f *os.File, pos int64, h entryHeader, hdr []byte, buf *[]byte) (bool, error) {
	p := grow(buf, 64<<10)
	c := entryCRC(hdr, nil)
	for off, n := pos+entryHeaderLen, int64(h.payloadLen); n > 0; {
		chunk := p[:min(n, int64(len(p)))]
		if _, err := f.ReadAt(chunk, off); err != nil {
			return false, fmt.Errorf("cannot read segment: %w", err)
		}
		c = crc32.Update(c, castagnoli, chunk)
		off += int64(len(chunk))
		n -= int64(len(chunk))
	}
	return c == h.crc, nil
}

// checkCommit checks the committed offset against what scanDir found.
func checkCommit(dir string, committed uint64, st dirScan) error {
	first := st.segs[0].first
	switch {
	case committed > st.next:
		return &CorruptionError{Dir: dir, Segment: commitFile, Offset: committed,
			Reason: fmt.Sprintf("committed offset %d is beyond the end of the log at %d", committed, st.next)}
	case committed < first:
		return &CorruptionError{Dir: dir, Segment: commitFile, Offset: committed,
			Reason: fmt.Sprintf("segments are missing: the log starts at offset %d but only offsets below %d are committed", first, committed)}
	}
	return nil
}

// truncateTorn cuts the torn tail off the last segment, durably.
func truncateTorn(dir string, s segScan) error {
	f, err := os.OpenFile(filepath.Join(dir, segmentName(s.first)), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cannot open segment to truncate: %w", err)
	}
	defer f.Close()
	if s.size < segHeaderLen {
		// The header itself was torn: nothing but it was ever written.
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("cannot truncate segment: %w", err)
		}
		if _, err := f.WriteAt(appendSegmentHeader(nil), 0); err != nil {
			return fmt.Errorf("cannot rewrite segment header: %w", err)
		}
	} else if err := f.Truncate(s.size); err != nil {
		return fmt.Errorf("cannot truncate segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cannot sync truncated segment: %w", err)
	}
	return nil
}

// readCommit reads the commit file; a missing one means nothing is
// committed.
func readCommit(dir string) (offset uint64, exists bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, commitFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cannot read commit file: %w", err)
	}
	offset, reason := parseCommit(b)
	if reason != "" {
		return 0, true, &CorruptionError{Dir: dir, Segment: commitFile, Reason: reason}
	}
	return offset, true, nil
}

// writeCommit replaces the commit file atomically and durably: temporary
// file, fsync, rename, fsync of the directory.
func writeCommit(dir string, offset uint64) error {
	tmp := filepath.Join(dir, commitTmpFile)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create commit file: %w", err)
	}
	_, err = f.Write(appendCommit(make([]byte, 0, commitLen), offset))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write commit file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, commitFile)); err != nil {
		return fmt.Errorf("cannot replace commit file: %w", err)
	}
	return syncDir(dir)
}

// Repair fixes the damage cerr (as returned by Open for dir) reports, by
// truncating the log there: the damaged segment loses everything from
// cerr.ByteOffset on (all of it if ByteOffset is within its header) and
// every later segment is removed. What it drops is logged to
// slog.Default(). If the commit file then points beyond the end of the
// log, the remaining segments, all delivered, are removed too and the log
// restarts empty at the committed offset, so that no offset is ever
// reused. For damage to the commit file itself, Repair rewrites it with
// the committed offset clamped into the log (its first offset if it was
// unreadable, which means redelivery rather than loss). The log must not
// be open.
func Repair(dir string, cerr *CorruptionError) error {
	if cerr == nil {
		return errors.New("cannot repair wal: no corruption error given")
	}
	logger := slog.Default().With("wal", dir)
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if filepath.Base(cerr.Segment) == commitFile {
		return repairCommit(dir, logger)
	}
	return repairSegment(dir, filepath.Base(cerr.Segment), cerr.ByteOffset, cerr.Offset, logger)
}

func repairSegment(dir, name string, pos int64, offset uint64, logger *slog.Logger) error {
	bad, ok := parseSegmentName(name)
	if !ok {
		return fmt.Errorf("cannot repair wal: %q is not a segment file name", name)
	}
	firsts, err := listSegments(dir, logger)
	if err != nil {
		return err
	}
	found := false
	for i := len(firsts) - 1; i >= 0 && firsts[i] >= bad; i-- {
		path := filepath.Join(dir, segmentName(firsts[i]))
		if firsts[i] == bad {
			found = true
			if pos >= segmentStart(path) {
				fi, err := os.Stat(path)
				if err != nil {
					return fmt.Errorf("cannot repair wal: %w", err)
				}
				if fi.Size() > pos {
					if err := truncateTorn(dir, segScan{first: bad, size: pos}); err != nil {
						return fmt.Errorf("cannot repair wal: %w", err)
					}
					logger.Warn("wal repair: truncated segment, dropping its records from the damaged entry on",
						"segment", name, "byte_offset", pos, "dropped_bytes", fi.Size()-pos, "from_offset", offset)
				}
				break
			}
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("cannot repair wal: %w", err)
		}
		logger.Warn("wal repair: removed segment", "segment", segmentName(firsts[i]), "first_offset", firsts[i])
	}
	if !found {
		return fmt.Errorf("cannot repair wal: segment %s not found in %s", name, dir)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	committed, exists, err := readCommit(dir)
	if err != nil || !exists {
		return nil // Open will report a bad commit file
	}
	if firsts, err = listSegments(dir, logger); err != nil {
		return err
	}
	end := committed
	if len(firsts) > 0 {
		st, err := scanDir(dir, firsts, committed, nil, false)
		if err != nil {
			return nil // more damage: Open reports it, and Repair fixes it next
		}
		end = st.next
	}
	if committed > end {
		return restartAt(dir, firsts, committed, logger)
	}
	return nil
}

// segmentStart returns where the first entry of the segment file at path
// starts: the length of its header, or of a plaintext header if it cannot
// be read.
func segmentStart(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return segHeaderLen
	}
	defer f.Close()
	b := make([]byte, maxSegHeaderLen)
	n, _ := f.ReadAt(b, 0)
	if h, reason, _, err := parseSegmentHeader(b[:n]); reason == "" && err == nil {
		return h.len
	}
	return segHeaderLen
}

// restartAt removes every segment (all below the commit point) so that the
// log restarts empty at committed.
func restartAt(dir string, firsts []uint64, committed uint64, logger *slog.Logger) error {
	for _, first := range firsts {
		if err := os.Remove(filepath.Join(dir, segmentName(first))); err != nil {
			return fmt.Errorf("cannot repair wal: %w", err)
		}
		logger.Warn("wal repair: removed delivered segment so the log restarts at the committed offset",
			"segment", segmentName(first), "committed", committed)
	}
	return syncDir(dir)
}

func repairCommit(dir string, logger *slog.Logger) error {
	firsts, err := listSegments(dir, logger)
	if err != nil {
		return err
	}
	committed, _, cerr := readCommit(dir)
	var ce *CorruptionError
	if cerr != nil && !errors.As(cerr, &ce) {
		return cerr
	}
	if len(firsts) == 0 {
		if cerr != nil {
			logger.Warn("wal repair: unreadable commit file in an empty log; resetting it to 0", "reason", ce.Reason)
			return writeCommit(dir, 0)
		}
		return nil
	}
	if cerr != nil {
		committed = 0 // unreadable: redeliver everything still on disk
	}
	st, err := scanDir(dir, firsts, committed, nil, false)
	if err != nil {
		return fmt.Errorf("cannot repair commit file: repair the segments first: %w", err)
	}
	target := committed
	switch first := st.segs[0].first; {
	case committed > st.next:
		return restartAt(dir, firsts, committed, logger)
	case committed < first:
		target = first
	}
	if cerr == nil && target == committed {
		return nil
	}
	logger.Warn("wal repair: rewriting commit file", "committed", target, "was", committed, "unreadable", cerr != nil)
	return writeCommit(dir, target)
}
