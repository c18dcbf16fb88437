package encrypt

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var errClosed = errors.New("write to a closed encrypt.Writer")

// Writer encrypts everything written to it into one object in the
// underlying writer: the header, then the chunks as they fill. It keeps at
// most one chunk (64 KiB) of plaintext. Close seals the last chunk; it does
// not close the underlying writer. Reset starts a new object, under a new
// data key, reusing the Writer's buffers. A Writer is not safe for
// concurrent use.
type Writer struct {
	kr     *Keyring
	dst    io.Writer
	aead   cipher.AEAD // under the object's data key
	header []byte      // the object's header; written before its first chunk
	sent   bool        // header written
	nonce  [nonceSize]byte
	chunks uint64 // chunks sealed
	buf    []byte // len encChunkSize: plaintext gathered in buf[:n], sealed in place
	n      int
	closed bool
	err    error // sticky error of dst
}

// NewWriter returns a Writer that encrypts one object into dst under a new
// data key, wrapped by the current key of kr. It writes nothing until the
// first Write or Close.
func NewWriter(dst io.Writer, kr *Keyring) (*Writer, error) {
	if kr == nil {
		return nil, errors.New("cannot encrypt without master keys: the keyring is nil")
	}
	w := &Writer{
		kr:     kr,
		header: make([]byte, 0, maxHeaderLen),
		buf:    make([]byte, encChunkSize),
	}
	if err := w.Reset(dst); err != nil {
		return nil, err
	}
	return w, nil
}

// Reset makes the Writer encrypt a new object into dst, under a new random
// data key wrapped by the current master key. It may be called after Close
// or instead of it (the unfinished object is abandoned: it is truncated,
// and a Reader reports it as such). If Reset fails, so do Write and Close
// until a Reset succeeds.
func (w *Writer) Reset(dst io.Writer) error {
	w.dst, w.aead = dst, nil
	w.sent, w.chunks, w.n, w.closed = false, 0, 0, false
	w.err = w.reset()
	return w.err
}

// reset draws the data key and nonces of a new object and makes its
// header.
func (w *Writer) reset() error {
	var dataKey [keySize]byte
	defer clear(dataKey[:])
	if _, err := rand.Read(dataKey[:]); err != nil {
		return fmt.Errorf("cannot generate data key: %w", err)
	}
	aead, err := newGCM(dataKey[:])
	if err != nil {
		return fmt.Errorf("cannot create data key cipher: %w", err)
	}

	id := w.kr.Current()
	h := append(w.header[:0], magic...)
	h = append(h, version, byte(len(id)))
	h = append(h, id...)
	random := len(h)
	h = h[:random+prefixSize+nonceSize] // nonce prefix, wrap nonce
	if _, err := rand.Read(h[random:]); err != nil {
		return fmt.Errorf("cannot generate nonce: %w", err)
	}
	copy(w.nonce[:prefixSize], h[random:])
	wrapNonce := h[random+prefixSize:]
	var ad [maxHeaderLen]byte // Seal's dst must not overlap its additional data
	n := copy(ad[:], h)
	w.header = w.kr.keys[id].Seal(h, wrapNonce, dataKey[:], ad[:n])
	w.aead = aead
	return nil
}

// Write encrypts p. It writes each chunk to the underlying writer once the
// chunk is full and more data follows; errors are the underlying writer's.
// It does not keep p.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errClosed
	}
	written := 0
	for len(p) > 0 {
		if w.n == chunkSize {
			// More data follows, so the chunk in buf is not the last.
			if err := w.seal(w.buf[:chunkSize], false); err != nil {
				return written, err
			}
		}
		if w.n == 0 && len(p) > chunkSize {
			// A whole chunk with more after it: seal it straight from p.
			if err := w.seal(p[:chunkSize], false); err != nil {
				return written, err
			}
			p, written = p[chunkSize:], written+chunkSize
			continue
		}
		c := copy(w.buf[w.n:chunkSize], p)
		w.n += c
		p, written = p[c:], written+c
	}
	return written, nil
}

// Close seals the last chunk (the plaintext buffered, possibly none) and
// writes it, with the header if nothing was written yet. It does not close
// the underlying writer. Closing a closed Writer does nothing.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	if err := w.seal(w.buf[:w.n], true); err != nil {
		return err
	}
	w.closed = true
	return nil
}

// seal seals the plaintext p (either w.buf[:w.n] or a chunk of the
// caller's) into w.buf as the next chunk, and writes it.
func (w *Writer) seal(p []byte, last bool) error {
	if !last && w.chunks >= maxChunks-1 {
		w.err = fmt.Errorf("cannot encrypt more than %d TiB in one object", maxChunks*chunkSize>>40)
		return w.err
	}
	binary.BigEndian.PutUint32(w.nonce[prefixSize:], uint32(w.chunks))
	w.nonce[nonceSize-1] = 0
	if last {
		w.nonce[nonceSize-1] = lastChunkFlag
	}
	out := w.aead.Seal(w.buf[:0], w.nonce[:], p, nil)
	w.chunks++
	w.n = 0
	if !w.sent {
		if _, err := w.dst.Write(w.header); err != nil {
			w.err = err
			return err
		}
		w.sent = true
	}
	if _, err := w.dst.Write(out); err != nil {
		w.err = err
		return err
	}
	return nil
}
