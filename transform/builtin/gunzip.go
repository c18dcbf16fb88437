package builtin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Sizes of Gunzip's growth of dst.
const (
	// maxDeflateRatio is the most deflate expands its input: 1032 times,
	// for a stream of nothing but maximal matches. A gzip trailer that
	// claims more is not believed.
	maxDeflateRatio = 1032
	// maxHint caps the room made before decompressing, from the trailer's
	// claim: past it, dst grows as the content comes.
	maxHint = 16 << 20
	// minGrow is the least dst grows by when it runs out of room.
	minGrow = 4 << 10
)

// Gunzip is Firehose's Decompression processor with CompressionFormat
// GZIP: it appends the decompressed content of the gzip record src to dst
// and returns the extended slice. A record of several gzip members one
// after another (RFC 1952's multi-member file, as gzip -c a b writes)
// decompresses to their contents one after another.
//
// maxSize bounds the decompressed size, in bytes: a record that
// decompresses to more fails with CodeTooLarge after at most maxSize+1
// bytes were written, so a gzip bomb costs no more memory than maxSize. A record that is not gzip
// (its first two bytes are not gzip's magic 1f 8b), or whose gzip data is
// corrupt, truncated or followed by anything but another member, fails
// with CodeNotGzip. Both failures are an *Error; dst is then returned
// with its original length, though the bytes past it may have changed. A
// maxSize below 0 is an error of the caller, not of the record.
//
// Gunzip is safe for concurrent use; it keeps neither slice.
func Gunzip(dst, src []byte, maxSize int) ([]byte, error) {
	if maxSize < 0 {
		return dst, fmt.Errorf("cannot decompress with a limit of %d bytes: the limit must be 0 or more", maxSize)
	}
	if len(src) < 2 || src[0] != 0x1f || src[1] != 0x8b {
		return dst, notGzip(src)
	}
	g := gunzippers.Get().(*gunzipper)
	defer g.release()
	g.src.Reset(src)
	if err := g.member(); err != nil {
		return dst, gzipError(err)
	}

	start := len(dst)
	// limit is where dst's content ends at the most; one byte more proves
	// the record too large. An int that would overflow caps at MaxInt-1.
	limit := start + maxSize
	if limit < start || limit == int(^uint(0)>>1) {
		limit = int(^uint(0)>>1) - 1
	}
	dst = slices.Grow(dst, sizeHint(src, maxSize)+1)
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, min(max(len(dst)-start, minGrow), limit+1-len(dst)))
		}
		n, err := g.zr.Read(dst[len(dst):min(cap(dst), limit+1)])
		dst = dst[:len(dst)+n]
		if len(dst) > limit {
			return dst[:start], &Error{Code: CodeTooLarge, Message: fmt.Sprintf("it decompresses to more than %d bytes, the limit", maxSize)}
		}
		if err == io.EOF && g.src.Len() == 0 {
			return dst, nil
		}
		if err == io.EOF {
			err = g.member()
		}
		if err != nil {
			return dst[:start], gzipError(err)
		}
	}
}

// sizeHint guesses the decompressed size of src from its gzip trailer,
// which holds the size of the last member modulo 4 GiB: exact for the
// single-member records CloudWatch Logs sends. The trailer is the
// record's word, so the guess never exceeds what deflate can expand src
// to, nor maxSize, nor maxHint.
func sizeHint(src []byte, maxSize int) int {
	const minGzip = 18 // 10-byte header, empty deflate block (2), 8-byte trailer
	if len(src) < minGzip {
		return 0
	}
	hint := int(binary.LittleEndian.Uint32(src[len(src)-4:]))
	if len(src) <= int(^uint(0)>>1)/maxDeflateRatio {
		hint = min(hint, len(src)*maxDeflateRatio)
	}
	return min(hint, maxSize, maxHint)
}

func notGzip(src []byte) *Error {
	if len(src) == 0 {
		return &Error{Code: CodeNotGzip, Message: "it is empty, not gzip"}
	}
	return &Error{Code: CodeNotGzip, Message: fmt.Sprintf("it is not gzip (it starts % x, not 1f 8b)", src[:min(len(src), 2)])}
}

func gzipError(err error) *Error {
	var msg string
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		msg = "its gzip data is cut short"
	case errors.Is(err, gzip.ErrChecksum):
		msg = "its gzip checksum or size does not match its content"
	case errors.Is(err, gzip.ErrHeader):
		msg = "it holds an invalid gzip header, or bytes after the last gzip member"
	default:
		msg = "its gzip data is corrupt: " + err.Error()
	}
	return &Error{Code: CodeNotGzip, Message: msg}
}

// gunzipper is a gzip reader kept with its source between records: a
// reader holds a 32 KiB window and tables worth reusing.
type gunzipper struct {
	src bytes.Reader
	zr  gzip.Reader
}

var gunzippers = sync.Pool{New: func() any { return new(gunzipper) }}

// member starts reading the next gzip member of g.src. The reader reads
// one member at a time, not its multistream mode, so that Gunzip sees
// where members end: that mode takes a next member's header cut short in
// its name or comment for the end of the record.
func (g *gunzipper) member() error {
	if err := g.zr.Reset(&g.src); err != nil {
		return err
	}
	g.zr.Multistream(false)
	return nil
}

// release returns g to the pool without a reference to the last record.
func (g *gunzipper) release() {
	g.src.Reset(nil)
	gunzippers.Put(g)
}
