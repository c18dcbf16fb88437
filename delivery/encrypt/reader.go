package encrypt

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// reader decrypts one object; see NewReader.
type reader struct {
	src    io.Reader
	aead   cipher.AEAD // under the object's data key
	nonce  [nonceSize]byte
	chunks uint64 // chunks opened
	offset int64  // byte offset in the object of the next chunk
	// buf holds a sealed chunk and one byte more: a byte after the chunk
	// is what tells a chunk that must not be the last from the last one.
	buf      []byte
	carry    byte // the byte after the previous chunk, when hasCarry
	hasCarry bool
	out      []byte // plaintext of the chunk opened last
	plain    []byte // what of out is not yet returned
	eof      bool   // the last chunk is opened
	err      error  // sticky
}

// NewReader reads the header of an encrypted object from src and returns a
// reader of its plaintext, decrypted with the master key the header names.
// The header's errors come from NewReader: *UnknownKeyError if kr does not
// hold that key, *WrongKeyError if the key does not open the object, and
// errors wrapping ErrNotEncrypted, ErrUnsupported or ErrCorrupt.
//
// The reader returns a chunk's plaintext only after authenticating the
// chunk, and io.EOF only after the last chunk; a damaged, truncated or
// extended object makes it fail with an error wrapping ErrCorrupt (after
// the plaintext of the chunks before the damage). It reads src in chunks
// of 64 KiB and never past the end of the object; it does not close src.
func NewReader(src io.Reader, kr *Keyring) (io.Reader, error) {
	if kr == nil {
		return nil, errors.New("cannot decrypt without master keys: the keyring is nil")
	}
	var hdr [maxHeaderLen]byte
	if n, err := io.ReadFull(src, hdr[:fixedHdrLen]); err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("cannot read header: %w", err)
		}
		if !bytes.HasPrefix([]byte(magic), hdr[:min(n, len(magic))]) {
			return nil, fmt.Errorf("%w: it does not start with %q", ErrNotEncrypted, magic)
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: it is empty", ErrCorrupt)
		}
		return nil, fmt.Errorf("%w: it ends %d bytes into the header", ErrCorrupt, n)
	}
	if !IsEncrypted(hdr[:]) {
		return nil, fmt.Errorf("%w: it does not start with %q", ErrNotEncrypted, magic)
	}
	if v := hdr[len(magic)]; v != version {
		return nil, fmt.Errorf("%w %d: this build of hydrant reads version %d; decrypt it with a newer one", ErrUnsupported, v, version)
	}
	idLen := int(hdr[len(magic)+1])
	if idLen == 0 || idLen > maxIDLen {
		return nil, fmt.Errorf("%w: its header gives a key id of %d bytes; ids are 1 to %d bytes", ErrCorrupt, idLen, maxIDLen)
	}
	hdrLen := fixedHdrLen + idLen + prefixSize + wrappedSize
	if n, err := io.ReadFull(src, hdr[fixedHdrLen:hdrLen]); err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("cannot read header: %w", err)
		}
		return nil, fmt.Errorf("%w: it ends %d bytes into the %d-byte header", ErrCorrupt, fixedHdrLen+n, hdrLen)
	}
	id := string(hdr[fixedHdrLen : fixedHdrLen+idLen])
	if validID(id) != "" {
		return nil, fmt.Errorf("%w: the key id in its header %q is not a valid id", ErrCorrupt, id)
	}
	master, ok := kr.keys[id]
	if !ok {
		return nil, &UnknownKeyError{ID: id, Source: kr.source, Have: kr.IDs()}
	}
	random := fixedHdrLen + idLen
	wrapNonce := hdr[random+prefixSize : random+prefixSize+nonceSize]
	ad := hdr[:random+prefixSize+nonceSize]
	var dataKey [keySize]byte
	defer clear(dataKey[:])
	if _, err := master.Open(dataKey[:0], wrapNonce, hdr[len(ad):hdrLen], ad); err != nil {
		return nil, &WrongKeyError{ID: id}
	}
	aead, err := newGCM(dataKey[:])
	if err != nil {
		return nil, fmt.Errorf("cannot create data key cipher: %w", err)
	}
	r := &reader{
		src:    src,
		aead:   aead,
		offset: int64(hdrLen),
		buf:    make([]byte, encChunkSize+1),
		out:    make([]byte, 0, chunkSize),
	}
	copy(r.nonce[:], hdr[random:random+prefixSize])
	return r, nil
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.eof {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// WriteTo writes the plaintext to w chunk by chunk, saving io.Copy a copy.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.plain) > 0 {
			n, err := w.Write(r.plain)
			total += int64(n)
			r.plain = r.plain[n:]
			if err == nil && len(r.plain) > 0 {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
		}
		if r.err != nil {
			return total, r.err
		}
		if r.eof {
			return total, nil
		}
		r.err = r.next()
	}
}

// next reads and opens the next chunk into r.plain.
func (r *reader) next() error {
	n := 0
	if r.hasCarry {
		r.buf[0], n = r.carry, 1
	}
	m, err := io.ReadFull(r.src, r.buf[n:])
	n += m
	switch {
	case err == nil:
		// A byte follows the chunk, so it must not be the last one.
		r.carry, r.hasCarry = r.buf[encChunkSize], true
		return r.open(r.buf[:encChunkSize], false)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		r.hasCarry = false
		return r.open(r.buf[:n], true)
	default:
		return fmt.Errorf("cannot read chunk %d: %w", r.chunks, err)
	}
}

// open authenticates and decrypts the sealed chunk c.
func (r *reader) open(c []byte, last bool) error {
	if r.chunks >= maxChunks {
		return fmt.Errorf("%w: it has more than %d chunks", ErrCorrupt, uint64(maxChunks))
	}
	if len(c) < tagSize {
		if len(c) == 0 {
			return fmt.Errorf("%w: it ends after the header, without chunks: truncated", ErrCorrupt)
		}
		return fmt.Errorf("%w: it ends %d bytes into chunk %d (byte %d), too short for a chunk: truncated", ErrCorrupt, len(c), r.chunks, r.offset)
	}
	p, err := r.openAs(c, last)
	if err != nil {
		// Authentication failed; say why if it is only the last flag.
		if _, err := r.openAs(c, !last); err == nil {
			if last {
				return fmt.Errorf("%w: it ends after chunk %d (byte %d), which is not the last chunk: truncated", ErrCorrupt, r.chunks, r.offset+int64(len(c)))
			}
			return fmt.Errorf("%w: chunk %d (byte %d) is the last chunk, but more bytes follow it", ErrCorrupt, r.chunks, r.offset)
		}
		return fmt.Errorf("%w: chunk %d (%d bytes at byte %d) fails authentication: bytes were changed, the object was cut short, or chunks were reordered", ErrCorrupt, r.chunks, len(c), r.offset)
	}
	r.out, r.plain = p, p
	r.chunks++
	r.offset += int64(len(c))
	r.eof = last
	return nil
}

func (r *reader) openAs(c []byte, last bool) ([]byte, error) {
	binary.BigEndian.PutUint32(r.nonce[prefixSize:], uint32(r.chunks))
	r.nonce[nonceSize-1] = 0
	if last {
		r.nonce[nonceSize-1] = lastChunkFlag
	}
	return r.aead.Open(r.out[:0], r.nonce[:], c, nil)
}
