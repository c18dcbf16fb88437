package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/klauspost/compress/gzip"

	"github.com/hydrantio/hydrant/record"
)

// The pieces of a request body:
//
//	{"requestId":"<id>","timestamp":<ms>,"records":[{"data":"<base64>"},…]}
const (
	bodyStart   = `{"requestId":"`
	bodyTS      = `","timestamp":`
	bodyRecords = `,"records":[`
	bodyEnd     = `]}`
	recordStart = `{"data":"`
	recordEnd   = `"}`

	idLen = 36 // a GUID: 8-4-4-4-12 hex digits
	// maxTSLen is the widest timestamp, for planning: an int64 with a sign.
	maxTSLen = 20
	// envelopeLen bounds a body's bytes besides its records.
	envelopeLen = len(bodyStart) + idLen + len(bodyTS) + maxTSLen + len(bodyRecords) + len(bodyEnd)
	// recordOverhead is a record's bytes besides its base64, with the
	// comma before it.
	recordOverhead = len(recordStart) + len(recordEnd) + 1

	// gzipChunk is how much JSON is staged before it goes to the gzip
	// writer, which is slow with many small writes.
	gzipChunk = 256 << 10
	// gzipLevel trades ratio for speed. Records in base64 compress poorly
	// whatever the level: on JSON log lines, level 1 made 63 % of the
	// body at 96 MB/s, the default level 58 % at 39 MB/s, on one core of
	// the benchmark machine; a delivery worker should not be held to 39.
	gzipLevel = gzip.BestSpeed
)

// requestID returns the id of the request that carries records
// [first, end) of the batch batchID as its index-th request: a GUID-shaped
// digest, so the same batch delivered again after a crash, split the same
// way, sends the same ids and the endpoint can drop what it already has.
// The records' range is part of the digest so that a batch split
// differently (other limits after a restart) never reuses an id for other
// records, which an endpoint that deduplicates would drop.
func requestID(batchID string, index, first, end int) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(batchID)))
	h.Write(n[:])
	h.Write([]byte(batchID))
	for _, v := range [...]int{index, first, end} {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	// The layout of an RFC 9562 UUID, version 8 (custom), variant 10.
	sum[6] = sum[6]&0x0f | 0x80
	sum[8] = sum[8]&0x3f | 0x80
	var b [idLen]byte
	hex.Encode(b[0:8], sum[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], sum[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], sum[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], sum[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], sum[10:16])
	return string(b[:])
}

// recordSize is what rec adds to a body, comma included.
func recordSize(rec record.Record) int {
	return recordOverhead + base64.StdEncoding.EncodedLen(len(rec.Data))
}

// split returns the end of the request that starts at recs[first]: as
// many records as fit in maxRecords and maxBytes, and at least one. fits
// is false when recs[first] alone is over maxBytes; the request is then
// that record only, and cannot be sent.
func split(recs []record.Record, first, maxRecords, maxBytes int) (end int, fits bool) {
	size := envelopeLen
	end = first
	for end < len(recs) && end-first < maxRecords {
		n := recordSize(recs[end])
		if size+n > maxBytes {
			break
		}
		size += n
		end++
	}
	if end == first {
		return first + 1, false
	}
	return end, true
}

// encoder builds request bodies into buffers it keeps, so that delivering
// holds one body at a time and allocates nothing once warm.
type encoder struct {
	body    []byte       // the body as sent
	scratch []byte       // JSON staged for gz
	gz      *gzip.Writer // nil until the first gzipped body
}

// appender is an io.Writer that appends to a byte slice.
type appender struct{ b *[]byte }

func (a appender) Write(p []byte) (int, error) {
	*a.b = append(*a.b, p...)
	return len(p), nil
}

// encode returns the body of a request carrying recs, gzipped if gz. The
// body is e's, valid until the next call.
func (e *encoder) encode(id string, ts int64, recs []record.Record, gz bool) []byte {
	if !gz {
		size := envelopeLen
		for _, r := range recs {
			size += recordSize(r)
		}
		e.body = appendJSON(grow(e.body[:0], size), id, ts, recs, nil)
		return e.body
	}
	e.body = e.body[:0]
	if e.gz == nil {
		e.gz, _ = gzip.NewWriterLevel(appender{&e.body}, gzipLevel) // a valid level
	} else {
		e.gz.Reset(appender{&e.body})
	}
	e.scratch = appendJSON(e.scratch[:0], id, ts, recs, func(b []byte) []byte {
		e.gz.Write(b) // appender never fails
		return b[:0]
	})
	e.gz.Write(e.scratch)
	e.gz.Close()
	return e.body
}

// appendJSON appends the JSON body to dst. flush, if not nil, is handed
// what has been appended whenever it passes gzipChunk bytes, and returns
// the slice to go on appending to.
func appendJSON(dst []byte, id string, ts int64, recs []record.Record, flush func([]byte) []byte) []byte {
	dst = append(dst, bodyStart...)
	dst = append(dst, id...)
	dst = append(dst, bodyTS...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, bodyRecords...)
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, recordStart...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Data)
		dst = append(dst, recordEnd...)
		if flush != nil && len(dst) >= gzipChunk {
			dst = flush(dst)
		}
	}
	return append(dst, bodyEnd...)
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, 0, n)
	}
	return b
}
