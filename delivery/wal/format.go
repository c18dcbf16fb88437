package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hydrantio/hydrant/record"
)

// On-disk layout; FORMAT.md is the specification, and a change here is a
// change there.
const (
	segMagic     = "HWAL" // first bytes of every segment file
	segVersion   = 1      // segment format version, byte 4 of the segment header
	segHeaderLen = 8      // magic(4) version(1) reserved(3)
	segSuffix    = ".seg" // segment file name: %020d of its first offset + suffix

	// entryHeaderLen is the fixed entry header: payload length(4) crc(4)
	// flags(1) reserved(3) base offset(8) record count(4).
	entryHeaderLen = 24
	// minRecordLen is the smallest encoded record: arrival time(8) and two
	// one-byte varint lengths.
	minRecordLen = 8 + 1 + 1
	// maxEntryPayload bounds one entry's payload, so that a corrupted
	// length can never make a reader allocate more than this.
	maxEntryPayload = 256 << 20

	// flagsNone is the only entry flags value this version writes and
	// reads; see FORMAT.md for the bits reserved for encryption and
	// compression.
	flagsNone = 0

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

// appendSegmentHeader appends the 8-byte header every segment starts with.
func appendSegmentHeader(dst []byte) []byte {
	dst = append(dst, segMagic...)
	return append(dst, segVersion, 0, 0, 0)
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

// check reports why the header cannot be a well-formed entry's, or "" if
// it can. It checks framing only; the CRC covers the rest.
func (h entryHeader) check() string {
	switch {
	case h.reserved != [3]byte{}:
		return "reserved entry header bytes are not zero"
	case h.payloadLen > maxEntryPayload:
		return fmt.Sprintf("entry payload length %d exceeds the limit of %d", h.payloadLen, maxEntryPayload)
	case h.count == 0:
		return "entry holds no records"
	case uint64(h.count)*minRecordLen > uint64(h.payloadLen):
		return fmt.Sprintf("entry claims %d records in a %d-byte payload", h.count, h.payloadLen)
	}
	return ""
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
