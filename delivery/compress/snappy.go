package compress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
)

// snappyBlockSize is the uncompressed size of a block in both Snappy
// formats: the framing format's maximum chunk size, and the chunk size
// python-snappy's Hadoop compressor uses (Hadoop's own reader accepts
// blocks up to its buffer size, 256 KiB by default).
const snappyBlockSize = 64 << 10

// errWriterClosed is returned by Write after Close.
var errWriterClosed = errors.New("compress: write after close")

// blockFormat encodes a stream of independently compressed blocks. All
// blocks but the last hold exactly snappyBlockSize bytes, so the output
// does not depend on how the input was split into Write calls.
type blockFormat interface {
	// appendStart appends what precedes the first block.
	appendStart(dst []byte) []byte
	// appendBlock appends the encoding of one non-empty block.
	appendBlock(dst, src []byte) []byte
	// appendEmpty appends the encoding of a stream without data.
	appendEmpty(dst []byte) []byte
}

// blockWriter is the Writer of the Snappy formats.
type blockWriter struct {
	w       io.Writer
	f       blockFormat
	buf     []byte // pending input, len < snappyBlockSize between calls
	out     []byte // encoded output of one block
	started bool   // appendStart was written
	closed  bool
	err     error // sticky error of the underlying writer
}

func newBlockWriter(w io.Writer, f blockFormat) *blockWriter {
	return &blockWriter{
		w:   w,
		f:   f,
		buf: make([]byte, 0, snappyBlockSize),
		// Room for the stream header, a chunk header and the worst-case
		// encoding; grown by append if a format ever needs more.
		out: make([]byte, 0, 32+s2.MaxEncodedLen(snappyBlockSize)),
	}
}

func (b *blockWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, errWriterClosed
	}
	n := len(p)
	for len(p) > 0 {
		if len(b.buf) == 0 && len(p) >= snappyBlockSize {
			// A whole block straight from p, without copying it.
			if err := b.emit(p[:snappyBlockSize]); err != nil {
				return n - len(p), err
			}
			p = p[snappyBlockSize:]
			continue
		}
		k := copy(b.buf[len(b.buf):cap(b.buf)], p)
		b.buf = b.buf[:len(b.buf)+k]
		p = p[k:]
		if len(b.buf) == snappyBlockSize {
			if err := b.emit(b.buf); err != nil {
				return n - len(p), err
			}
			b.buf = b.buf[:0]
		}
	}
	return n, nil
}

// emit encodes one block and writes it out.
func (b *blockWriter) emit(block []byte) error {
	out := b.out[:0]
	if !b.started {
		out = b.f.appendStart(out)
		b.started = true
	}
	out = b.f.appendBlock(out, block)
	b.out = out[:0]
	return b.write(out)
}

func (b *blockWriter) write(p []byte) error {
	if _, err := b.w.Write(p); err != nil {
		b.err = err
		return err
	}
	return nil
}

func (b *blockWriter) Close() error {
	if b.err != nil {
		return b.err
	}
	if b.closed {
		return nil
	}
	b.closed = true
	if len(b.buf) > 0 {
		err := b.emit(b.buf)
		b.buf = b.buf[:0]
		return err
	}
	if !b.started {
		b.started = true
		b.out = b.f.appendEmpty(b.out[:0])
		return b.write(b.out)
	}
	return nil
}

func (b *blockWriter) Reset(w io.Writer) {
	b.w = w
	b.buf = b.buf[:0]
	b.started = false
	b.closed = false
	b.err = nil
}

// appendSnappyBlock appends src encoded in the raw Snappy block format
// (varint uncompressed length, then the compressed elements).
func appendSnappyBlock(dst, src []byte) []byte {
	n := s2.MaxEncodedLen(len(src))
	dst = slices.Grow(dst, n)
	// With room for n bytes, EncodeSnappy encodes in place.
	enc := s2.EncodeSnappy(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+len(enc)]
}

// snappyFramed is the Snappy framing format
// (https://github.com/google/snappy/blob/main/framing_format.txt): a
// stream identifier chunk, then one compressed (or, where compression
// does not pay, uncompressed) data chunk per block, each with the masked
// CRC-32C of its uncompressed data.
type snappyFramed struct{}

var snappyStreamID = []byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}

const (
	chunkCompressed   = 0x00
	chunkUncompressed = 0x01
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is the framing format's checksum: CRC-32C, rotated and offset
// so that checksums of data that holds checksums stay well distributed.
func maskedCRC(p []byte) uint32 {
	c := crc32.Checksum(p, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

func (snappyFramed) appendStart(dst []byte) []byte { return append(dst, snappyStreamID...) }
func (snappyFramed) appendEmpty(dst []byte) []byte { return append(dst, snappyStreamID...) }

func (snappyFramed) appendBlock(dst, src []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // type, 3-byte length, CRC
	dst = appendSnappyBlock(dst, src)
	typ := byte(chunkCompressed)
	if body := len(dst) - start - 8; body >= len(src)-len(src)/8 {
		// Less than 12.5 % saved: store the block as it is, as the
		// reference implementation does.
		typ = chunkUncompressed
		dst = append(dst[:start+8], src...)
	}
	chunkLen := len(dst) - start - 4 // the CRC counts, the chunk header does not
	dst[start] = typ
	dst[start+1] = byte(chunkLen)
	dst[start+2] = byte(chunkLen >> 8)
	dst[start+3] = byte(chunkLen >> 16)
	binary.LittleEndian.PutUint32(dst[start+4:], maskedCRC(src))
	return dst
}

// hadoopSnappy is Hadoop's block format (BlockCompressorStream with
// SnappyCodec): for each block, its uncompressed length as a 4-byte
// big-endian integer, then its compressed chunks, each a 4-byte big-endian
// length and a raw Snappy block. Hydrant writes one chunk per block.
type hadoopSnappy struct{}

func (hadoopSnappy) appendStart(dst []byte) []byte { return dst }

// appendEmpty writes what Hadoop writes for an empty stream: one block
// header announcing 0 bytes.
func (hadoopSnappy) appendEmpty(dst []byte) []byte { return append(dst, 0, 0, 0, 0) }

func (hadoopSnappy) appendBlock(dst, src []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(src)))
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = appendSnappyBlock(dst, src)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// newSnappyReader reads the Snappy framing format.
func newSnappyReader(r io.Reader) io.ReadCloser {
	return io.NopCloser(snappy.NewReader(r))
}

// maxHadoopChunk bounds a Hadoop snappy chunk, compressed and
// uncompressed, so a corrupt length cannot make the reader allocate
// gigabytes. Hadoop's default buffer is 256 KiB.
const maxHadoopChunk = 16 << 20

// ErrCorrupt is wrapped by the errors of readers that find malformed input.
var ErrCorrupt = errors.New("corrupt input")

// hadoopSnappyReader reads Hadoop's snappy block format.
type hadoopSnappyReader struct {
	r         io.Reader
	hdr       [4]byte
	blockLeft uint32 // uncompressed bytes the current block still announces
	comp      []byte // one compressed chunk
	buf       []byte // its decoded bytes
	pos       int    // read position in buf
	err       error
}

func newHadoopSnappyReader(r io.Reader) io.ReadCloser { return &hadoopSnappyReader{r: r} }

func (h *hadoopSnappyReader) Read(p []byte) (int, error) {
	for h.pos == len(h.buf) {
		if h.err != nil {
			return 0, h.err
		}
		h.err = h.fill()
	}
	n := copy(p, h.buf[h.pos:])
	h.pos += n
	return n, nil
}

// fill reads the next chunk into buf, or the next block header.
func (h *hadoopSnappyReader) fill() error {
	h.buf, h.pos = h.buf[:0], 0
	if h.blockLeft == 0 {
		if _, err := io.ReadFull(h.r, h.hdr[:]); err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return fmt.Errorf("cannot read hadoop snappy block header: %w", unexpected(err))
		}
		h.blockLeft = binary.BigEndian.Uint32(h.hdr[:])
		return nil
	}
	if _, err := io.ReadFull(h.r, h.hdr[:]); err != nil {
		return fmt.Errorf("cannot read hadoop snappy chunk header: %w", unexpected(err))
	}
	n := binary.BigEndian.Uint32(h.hdr[:])
	if n > maxHadoopChunk {
		return fmt.Errorf("hadoop snappy chunk of %d bytes exceeds %d: %w", n, maxHadoopChunk, ErrCorrupt)
	}
	h.comp = slices.Grow(h.comp[:0], int(n))[:n]
	if _, err := io.ReadFull(h.r, h.comp); err != nil {
		return fmt.Errorf("cannot read hadoop snappy chunk: %w", unexpected(err))
	}
	dlen, err := s2.DecodedLen(h.comp)
	if err != nil {
		return fmt.Errorf("hadoop snappy chunk: %w: %w", ErrCorrupt, err)
	}
	if dlen > maxHadoopChunk || uint64(dlen) > uint64(h.blockLeft) {
		return fmt.Errorf("hadoop snappy chunk decodes to %d bytes, block has %d left: %w", dlen, h.blockLeft, ErrCorrupt)
	}
	h.buf, err = s2.Decode(h.buf[:cap(h.buf)], h.comp)
	if err != nil {
		return fmt.Errorf("hadoop snappy chunk: %w: %w", ErrCorrupt, err)
	}
	h.blockLeft -= uint32(len(h.buf))
	return nil
}

func (h *hadoopSnappyReader) Close() error { return nil }

// unexpected turns an io.EOF in the middle of a structure into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
