package wal

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/record"
)

// On-disk layout; FORMAT.md is the specification, and a change here is a
// change there.
const (
	segMagic     = "HWAL" // first bytes of every segment file
	segVersion   = 1      // segment format version, byte 4 of the segment header
	segHeaderLen = 8      // magic(4) version(1) reserved(3)
	segSuffix    = ".seg" // segment file name: %020d of its first offset + suffix
	tmpSuffix    = ".tmp" // a segment file being created: segment name + suffix

	// segVersionEncrypted is the version of a segment whose entries are
	// encrypted. Its header is the 8 bytes above, then cipher(1) key id
	// length(1) key id(n) wrapped data key(60) crc(4).
	segVersionEncrypted = 2
	cipherAES256GCM     = 1 // the only cipher: byte 8 of an encrypted segment's header
	maxKeyIDLen         = 64
	maxSegHeaderLen     = segHeaderLen + 2 + maxKeyIDLen + encrypt.WrappedKeySize + 4

	// An encrypted entry's payload is a random nonce, the records sealed
	// with AES-256-GCM, and the GCM tag.
	nonceLen     = 12
	tagLen       = 16
	sealOverhead = nonceLen + tagLen

	// entryHeaderLen is the fixed entry header: payload length(4) crc(4)
	// flags(1) reserved(3) base offset(8) record count(4).
	entryHeaderLen = 24
	// minRecordLen is the smallest encoded record: arrival time(8) and two
	// one-byte varint lengths.
	minRecordLen = 8 + 1 + 1
	// maxEntryPayload bounds one entry's payload, so that a corrupted
	// length can never make a reader allocate more than this.
	maxEntryPayload = 256 << 20

	// maxRecordLen bounds one encoded record, so that it fits in an entry
	// whether or not the entry is encrypted.
	maxRecordLen = maxEntryPayload - sealOverhead

	// Entry flags: the entries of a plaintext segment have flagsNone,
	// those of an encrypted segment flagEncrypted; see FORMAT.md for the
	// bits reserved for compression.
	flagsNone     = 0
	flagEncrypted = 1

	commitFile    = "commit"     // the committed offset
	commitTmpFile = "commit.tmp" // commitFile being replaced
	lockFile      = "lock"       // flock'ed while a Log or Repair has the directory
	commitMagic   = "HWCM"
	commitVersion = 1
	commitLen     = 20 // magic(4) version(1) reserved(3) offset(8) crc(4)

	// indexInterval is how far apart, in bytes, a segment's in-memory
	// index points are, so NewReader skips at most this much to find an
	// offset.
	indexInterval = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segmentName is the file name of the segment whose first record has
// offset first.
func segmentName(first uint64) string {
	return fmt.Sprintf("%020d%s", first, segSuffix)
}

// appendSegmentHeader appends the 8-byte header of a plaintext segment.
func appendSegmentHeader(dst []byte) []byte {
	dst = append(dst, segMagic...)
	return append(dst, segVersion, 0, 0, 0)
}

// encHeaderLen is the length of an encrypted segment's header whose key id
// is idLen bytes.
func encHeaderLen(idLen int) int64 {
	return int64(segHeaderLen + 2 + idLen + encrypt.WrappedKeySize + 4)
}

// appendEncryptedSegmentHeader appends the header of an encrypted segment:
// a new data key, wrapped by the current master key of keys. It returns
// the extended buffer and the data key's cipher.
func appendEncryptedSegmentHeader(dst []byte, keys *encrypt.Keyring) ([]byte, cipher.AEAD, error) {
	start := len(dst)
	id := keys.Current()
	dst = append(dst, segMagic...)
	dst = append(dst, segVersionEncrypted, 0, 0, 0, cipherAES256GCM, byte(len(id)))
	dst = append(dst, id...)
	aead, wrapped, _, err := encrypt.NewDataKey(keys, dst[start:])
	if err != nil {
		return nil, nil, fmt.Errorf("cannot make the segment's data key: %w", err)
	}
	dst = append(dst, wrapped...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), aead, nil
}

// segHeader is a decoded segment header.
type segHeader struct {
	len     int64  // header length: the byte position of the first entry
	keyID   string // master key of an encrypted segment; "" if plaintext
	wrapped []byte // its wrapped data key (aliases the parsed bytes)
	ad      []byte // the header bytes the wrapping authenticates (aliases)
}

// encrypted reports whether the segment's entries are encrypted.
func (h segHeader) encrypted() bool { return h.keyID != "" }

// parseSegmentHeader decodes the segment header at the start of b, the
// first min(file size, maxSegHeaderLen) bytes of a segment file. On
// failure it returns a reason, and torn says whether the damage may be a
// torn write: only a plaintext header can be, because an encrypted
// segment's file appears with its whole header (see createSegment). A
// header of a version or cipher this version does not know is an error
// wrapping ErrUnsupported.
func parseSegmentHeader(b []byte) (h segHeader, reason string, torn bool, err error) {
	if len(b) < segHeaderLen {
		return h, fmt.Sprintf("segment header truncated: %d of %d bytes", len(b), segHeaderLen), true, nil
	}
	if string(b[:4]) != segMagic || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		// Bytes 5-7 stay zero in every version, so that older readers,
		// which check them before the version, report a newer version
		// as unsupported rather than as damage to repair.
		return h, fmt.Sprintf("bad segment header %x", b[:segHeaderLen]), true, nil
	}
	switch b[4] {
	case segVersion:
		return segHeader{len: segHeaderLen}, "", false, nil
	case segVersionEncrypted:
	default:
		return h, "", false, fmt.Errorf("format version %d: %w", b[4], ErrUnsupported)
	}
	if len(b) < segHeaderLen+2 {
		return h, fmt.Sprintf("encrypted segment header truncated: %d bytes", len(b)), false, nil
	}
	idLen := int(b[segHeaderLen+1])
	if idLen == 0 || idLen > maxKeyIDLen {
		return h, fmt.Sprintf("encrypted segment header gives a key id of %d bytes; ids are 1 to %d", idLen, maxKeyIDLen), false, nil
	}
	n := encHeaderLen(idLen)
	if int64(len(b)) < n {
		return h, fmt.Sprintf("encrypted segment header truncated: %d of %d bytes", len(b), n), false, nil
	}
	if crc32.Checksum(b[:n-4], castagnoli) != binary.LittleEndian.Uint32(b[n-4:]) {
		return h, "encrypted segment header checksum mismatch", false, nil
	}
	if c := b[segHeaderLen]; c != cipherAES256GCM {
		return h, "", false, fmt.Errorf("cipher %d: %w", c, ErrUnsupported)
	}
	idEnd := segHeaderLen + 2 + idLen
	return segHeader{
		len:     n,
		keyID:   string(b[segHeaderLen+2 : idEnd]),
		wrapped: b[idEnd : idEnd+encrypt.WrappedKeySize],
		ad:      b[:idEnd],
	}, "", false, nil
}

// recordSize is the encoded size of r inside an entry payload.
func recordSize(r *record.Record) int64 {
	k, d := len(r.PartitionKey), len(r.Data)
	return int64(8 + uvarintLen(uint64(k)) + k + uvarintLen(uint64(d)) + d)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// appendRecord appends the encoding of r: arrival time as int64 unix nanos
// (0 for the zero time), then the partition key and the data, each
// prefixed by its uvarint length.
func appendRecord(dst []byte, r *record.Record) []byte {
	var ns int64
	if !r.ArrivalTime.IsZero() {
		ns = r.ArrivalTime.UnixNano()
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ns))
	dst = binary.AppendUvarint(dst, uint64(len(r.PartitionKey)))
	dst = append(dst, r.PartitionKey...)
	dst = binary.AppendUvarint(dst, uint64(len(r.Data)))
	return append(dst, r.Data...)
}

// appendEntry appends one entry holding recs, whose first record has
// offset base, and returns the extended buffer.
func appendEntry(dst []byte, base uint64, recs []record.Record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, entryHeaderLen)...) // does not allocate
	for i := range recs {
		dst = appendRecord(dst, &recs[i])
	}
	h := dst[start : start+entryHeaderLen]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(dst)-start-entryHeaderLen))
	h[8] = flagsNone
	binary.LittleEndian.PutUint64(h[12:], base)
	binary.LittleEndian.PutUint32(h[20:], uint32(len(recs)))
	binary.LittleEndian.PutUint32(h[4:], entryCRC(h, dst[start+entryHeaderLen:]))
	return dst
}

// appendSealedEntry is appendEntry for an encrypted segment: the payload is
// a fresh random nonce, then the records sealed with aead (the segment's
// data key) with header bytes 8-23 as additional data, then the tag.
//
// The nonce is random rather than derived from the entry's position or
// offset: recovery truncates a torn tail and the writer then appends new
// entries at the same position and offsets under the same key, which
// would repeat a derived nonce.
func appendSealedEntry(dst []byte, base uint64, recs []record.Record, aead cipher.AEAD) []byte {
	start := len(dst)
	body := start + entryHeaderLen + nonceLen
	dst = append(dst, make([]byte, entryHeaderLen+nonceLen)...) // does not allocate
	for i := range recs {
		dst = appendRecord(dst, &recs[i])
	}
	dst = slices.Grow(dst, tagLen) // for sealing in place
	h := dst[start : start+entryHeaderLen]
	h[8] = flagEncrypted
	binary.LittleEndian.PutUint64(h[12:], base)
	binary.LittleEndian.PutUint32(h[20:], uint32(len(recs)))
	nonce := dst[start+entryHeaderLen : body]
	rand.Read(nonce) // never fails: crypto/rand crashes the program instead
	aead.Seal(dst[body:body], nonce, dst[body:], h[8:entryHeaderLen])
	dst = dst[:len(dst)+tagLen]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(dst)-start-entryHeaderLen))
	binary.LittleEndian.PutUint32(h[4:], entryCRC(h, dst[start+entryHeaderLen:]))
	return dst
}

// openEntry authenticates and decrypts, in place, the payload p of an
// encrypted entry whose header is hdr, and returns the records' bytes; ok
// is false if authentication fails.
func openEntry(aead cipher.AEAD, hdr, p []byte) (plain []byte, ok bool) {
	plain, err := aead.Open(p[nonceLen:nonceLen], p[:nonceLen], p[nonceLen:], hdr[8:entryHeaderLen])
	return plain, err == nil
}

// entryCRC is the CRC32-Castagnoli of an entry: its header without the
// CRC field itself (bytes 0-3 and 8-23), then its payload.
func entryCRC(hdr, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[0:4])
	c = crc32.Update(c, castagnoli, hdr[8:entryHeaderLen])
	return crc32.Update(c, castagnoli, payload)
}

// entryHeader is a decoded entry header.
type entryHeader struct {
	payloadLen uint32
	crc        uint32
	flags      byte
	reserved   [3]byte
	base       uint64
	count      uint32
}

// parseEntryHeader decodes the first entryHeaderLen bytes of b.
func parseEntryHeader(b []byte) entryHeader {
	_ = b[entryHeaderLen-1]
	return entryHeader{
		payloadLen: binary.LittleEndian.Uint32(b[0:]),
		crc:        binary.LittleEndian.Uint32(b[4:]),
		flags:      b[8],
		reserved:   [3]byte{b[9], b[10], b[11]},
		base:       binary.LittleEndian.Uint64(b[12:]),
		count:      binary.LittleEndian.Uint32(b[20:]),
	}
}

// size is the entry's total size on disk.
func (h entryHeader) size() int64 { return entryHeaderLen + int64(h.payloadLen) }

// check reports why the header cannot be a well-formed entry's of a
// segment that is encrypted or not, or "" if it can. It checks framing
// only; the CRC covers the rest.
func (h entryHeader) check(encrypted bool) string {
	var overhead uint64
	if encrypted {
		overhead = sealOverhead
	}
	switch {
	case h.reserved != [3]byte{}:
		return "reserved entry header bytes are not zero"
	case h.payloadLen > maxEntryPayload:
		return fmt.Sprintf("entry payload length %d exceeds the limit of %d", h.payloadLen, maxEntryPayload)
	case h.count == 0:
		return "entry holds no records"
	case uint64(h.count)*minRecordLen+overhead > uint64(h.payloadLen):
		return fmt.Sprintf("entry claims %d records in a %d-byte payload", h.count, h.payloadLen)
	}
	return ""
}

// checkFlags reports what is wrong with the flags of an entry whose CRC is
// correct, in a segment that is encrypted or not: err wraps ErrUnsupported
// for flags a newer version may write; reason is corruption.
func (h entryHeader) checkFlags(encrypted bool) (reason string, err error) {
	want := byte(flagsNone)
	if encrypted {
		want = flagEncrypted
	}
	switch {
	case h.flags == want:
		return "", nil
	case encrypted && h.flags == flagsNone:
		return "unencrypted entry in an encrypted segment", nil
	}
	return "", fmt.Errorf("flags %#02x: %w", h.flags, ErrUnsupported)
}

// decodeRecord decodes the record at the start of p and returns its fields
// (key and data alias p) and the rest of p; ok is false if p does not start
// with a well-formed record.
func decodeRecord(p []byte) (ns int64, key, data, rest []byte, ok bool) {
	if len(p) < 8 {
		return 0, nil, nil, nil, false
	}
	ns = int64(binary.LittleEndian.Uint64(p))
	p = p[8:]
	kl, n := binary.Uvarint(p)
	if n <= 0 || kl > uint64(len(p)-n) {
		return 0, nil, nil, nil, false
	}
	p = p[n:]
	key, p = p[:kl:kl], p[kl:]
	dl, n := binary.Uvarint(p)
	if n <= 0 || dl > uint64(len(p)-n) {
		return 0, nil, nil, nil, false
	}
	p = p[n:]
	return ns, key, p[:dl:dl], p[dl:], true
}

// checkPayload reports why p is not exactly count well-formed records, or
// "" if it is.
func checkPayload(p []byte, count uint32) string {
	for i := uint32(0); i < count; i++ {
		var ok bool
		if _, _, _, p, ok = decodeRecord(p); !ok {
			return fmt.Sprintf("record %d of %d in the entry is malformed", i, count)
		}
	}
	if len(p) != 0 {
		return fmt.Sprintf("%d bytes follow the entry's %d records", len(p), count)
	}
	return ""
}

// decodeTime is the inverse of the arrival time encoding in appendRecord.
func decodeTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// appendCommit appends the commit file's content for offset.
func appendCommit(dst []byte, offset uint64) []byte {
	start := len(dst)
	dst = append(dst, commitMagic...)
	dst = append(dst, commitVersion, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, offset)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// parseCommit decodes a commit file. It returns a reason on failure.
func parseCommit(b []byte) (offset uint64, reason string) {
	switch {
	case len(b) != commitLen:
		return 0, fmt.Sprintf("commit file is %d bytes, want %d", len(b), commitLen)
	case string(b[:4]) != commitMagic:
		return 0, fmt.Sprintf("bad commit file magic %q", b[:4])
	case crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]):
		return 0, "commit file checksum mismatch"
	case b[4] != commitVersion:
		return 0, fmt.Sprintf("unsupported commit file version %d", b[4])
	case b[5] != 0 || b[6] != 0 || b[7] != 0:
		return 0, "reserved commit file bytes are not zero"
	}
	return binary.LittleEndian.Uint64(b[8:]), ""
}
