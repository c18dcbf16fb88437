package compress

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zip"
)

// ZipEntryName is the name of the one entry of a ZIP object.
const ZipEntryName = "data"

// zipModified is the entry's modification time: fixed, so that the same
// records always make the same archive. It is the MS-DOS epoch, the
// earliest time the format can hold.
var zipModified = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// zipWriter writes a ZIP archive holding one Deflate entry, streamed: the
// entry's CRC and sizes follow its data in a data descriptor.
type zipWriter struct {
	zw     *zip.Writer
	fw     *flate.Writer // reused across archives
	entry  io.Writer
	closed bool
	err    error
}

func newZipWriter(w io.Writer) *zipWriter {
	z := &zipWriter{}
	z.Reset(w)
	return z
}

// compressor hands the archive writer the reused deflate encoder.
func (z *zipWriter) compressor(out io.Writer) (io.WriteCloser, error) {
	if z.fw == nil {
		fw, err := flate.NewWriter(out, GzipLevel)
		if err != nil {
			return nil, err
		}
		z.fw = fw
		return fw, nil
	}
	z.fw.Reset(out)
	return z.fw, nil
}

func (z *zipWriter) Reset(w io.Writer) {
	z.zw = zip.NewWriter(w)
	z.zw.RegisterCompressor(zip.Deflate, z.compressor)
	z.closed = false
	fh := &zip.FileHeader{Name: ZipEntryName, Method: zip.Deflate, Modified: zipModified}
	fh.SetMode(0o644)
	z.entry, z.err = z.zw.CreateHeader(fh)
	if z.err != nil {
		z.err = fmt.Errorf("cannot start zip entry: %w", z.err)
	}
}

func (z *zipWriter) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, errWriterClosed
	}
	n, err := z.entry.Write(p)
	if err != nil {
		z.err = err
	}
	return n, err
}

func (z *zipWriter) Close() error {
	if z.err != nil {
		return z.err
	}
	if z.closed {
		return nil
	}
	z.closed = true
	if err := z.zw.Close(); err != nil {
		z.err = err
		return err
	}
	return nil
}

// ZIP record signatures.
const (
	zipLocalHeaderSig  = 0x04034b50
	zipDataDescSig     = 0x08074b50
	zipCentralDirSig   = 0x02014b50
	zipEndSig          = 0x06054b50
	zipEnd64Sig        = 0x06064b50
	zipEnd64LocatorSig = 0x07064b50
	zipDigitalSigSig   = 0x05054b50
	zip64ExtraID       = 0x0001
	zipFlagEncrypted   = 0x1
	zipFlagDataDesc    = 0x8
	zipLocalHeaderLen  = 30 // including the signature
	zipMaxUint32       = 0xffffffff
	zipMethodStore     = 0
	zipMethodDeflate   = 8
)

// zipReader streams the entries of a ZIP archive, concatenated, from the
// front: it needs no io.ReaderAt and reads the central directory only to check
// that the archive is complete, so it reads an
// object as it downloads, in bounded memory. It reads archives written by
// Hydrant and archives whose entries are stored or deflated with their
// sizes in the local header or a data descriptor (what streaming writers,
// Firehose among them, produce); it checks every entry's CRC-32 and size.
type zipReader struct {
	br   *bufio.Reader
	fr   io.ReadCloser // deflate reader, reused across entries
	cur  io.Reader     // the current entry's data; nil between entries
	crc  hash.Hash32
	size uint64 // uncompressed bytes of the current entry so far

	// From the current entry's local header.
	flags      uint16
	zip64      bool
	wantCRC    uint32
	wantSize   uint64
	headerName string

	err error
}

func newZipReader(r io.Reader) *zipReader {
	return &zipReader{br: bufio.NewReader(r), crc: crc32.NewIEEE()}
}

func (z *zipReader) Read(p []byte) (int, error) {
	for {
		if z.err != nil {
			return 0, z.err
		}
		if z.cur == nil {
			z.err = z.nextEntry()
			continue
		}
		n, err := z.cur.Read(p)
		z.crc.Write(p[:n])
		z.size += uint64(n)
		switch {
		case err == io.EOF:
			z.cur = nil
			z.err = z.finishEntry()
		case err != nil:
			z.err = fmt.Errorf("cannot read zip entry %q: %w", z.headerName, unexpected(err))
		}
		if n > 0 {
			return n, nil
		}
	}
}

// nextEntry reads the next local file header and sets up cur, or returns
// io.EOF at the central directory.
func (z *zipReader) nextEntry() error {
	var h [zipLocalHeaderLen]byte
	if _, err := io.ReadFull(z.br, h[:4]); err != nil {
		return fmt.Errorf("cannot read zip record: %w", unexpected(err))
	}
	switch binary.LittleEndian.Uint32(h[:4]) {
	case zipLocalHeaderSig:
	case zipCentralDirSig, zipEnd64Sig, zipEndSig:
		return z.skipDirectory(binary.LittleEndian.Uint32(h[:4]))
	default:
		return fmt.Errorf("not a zip archive (signature %#08x): %w", binary.LittleEndian.Uint32(h[:4]), ErrCorrupt)
	}
	if _, err := io.ReadFull(z.br, h[4:]); err != nil {
		return fmt.Errorf("cannot read zip local header: %w", unexpected(err))
	}
	le := binary.LittleEndian
	z.flags = le.Uint16(h[6:])
	method := le.Uint16(h[8:])
	z.wantCRC = le.Uint32(h[14:])
	csize := uint64(le.Uint32(h[18:]))
	z.wantSize = uint64(le.Uint32(h[22:]))
	nameExtra := make([]byte, int(le.Uint16(h[26:]))+int(le.Uint16(h[28:])))
	if _, err := io.ReadFull(z.br, nameExtra); err != nil {
		return fmt.Errorf("cannot read zip local header: %w", unexpected(err))
	}
	z.headerName = string(nameExtra[:le.Uint16(h[26:])])
	z.zip64 = false
	for extra := nameExtra[le.Uint16(h[26:]):]; len(extra) >= 4; {
		id, n := le.Uint16(extra), int(le.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			break
		}
		if id == zip64ExtraID {
			z.zip64 = true
			f := extra[:n]
			if z.wantSize == zipMaxUint32 && len(f) >= 8 {
				z.wantSize, f = le.Uint64(f), f[8:]
			}
			if csize == zipMaxUint32 && len(f) >= 8 {
				csize = le.Uint64(f)
			}
		}
		extra = extra[n:]
	}
	if z.flags&zipFlagEncrypted != 0 {
		return fmt.Errorf("zip entry %q is encrypted, which is not supported", z.headerName)
	}
	z.crc.Reset()
	z.size = 0
	switch method {
	case zipMethodDeflate:
		// bufio.Reader is an io.ByteReader, so the deflate reader stops
		// exactly at the end of the deflate stream and the data
		// descriptor is still in br.
		if z.fr == nil {
			z.fr = flate.NewReader(z.br)
		} else if err := z.fr.(flate.Resetter).Reset(z.br, nil); err != nil {
			return err
		}
		z.cur = z.fr
	case zipMethodStore:
		if z.flags&zipFlagDataDesc != 0 {
			return fmt.Errorf("zip entry %q is stored with its size after the data, which cannot be streamed", z.headerName)
		}
		z.cur = io.LimitReader(z.br, int64(csize))
	default:
		return fmt.Errorf("zip entry %q uses compression method %d, which is not supported", z.headerName, method)
	}
	return nil
}

// skipDirectory reads the central directory, whose first record's
// signature was sig, up to the end of the end-of-central-directory record,
// and returns io.EOF there: the directory repeats what the local headers
// said, but a truncated archive must still be an error.
func (z *zipReader) skipDirectory(sig uint32) error {
	le := binary.LittleEndian
	var rec [42]byte
	for {
		var fixed int // record bytes after the signature, before variable data
		switch sig {
		case zipCentralDirSig:
			fixed = 42
		case zipEnd64Sig:
			fixed = 8
		case zipEnd64LocatorSig:
			fixed = 16
		case zipDigitalSigSig:
			fixed = 2
		case zipEndSig:
			fixed = 18
		default:
			return fmt.Errorf("unexpected record %#08x in zip central directory: %w", sig, ErrCorrupt)
		}
		if _, err := io.ReadFull(z.br, rec[:fixed]); err != nil {
			return fmt.Errorf("cannot read zip central directory: %w", unexpected(err))
		}
		var skip int64
		switch sig {
		case zipCentralDirSig:
			skip = int64(le.Uint16(rec[24:])) + int64(le.Uint16(rec[26:])) + int64(le.Uint16(rec[28:]))
		case zipEnd64Sig:
			skip = int64(le.Uint64(rec[:8]))
		case zipDigitalSigSig:
			skip = int64(le.Uint16(rec[:2]))
		case zipEndSig:
			skip = int64(le.Uint16(rec[16:]))
		}
		if skip < 0 {
			return fmt.Errorf("zip central directory record of %d bytes: %w", skip, ErrCorrupt)
		}
		if n, err := io.CopyN(io.Discard, z.br, skip); n != skip {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("cannot read zip central directory: %w", err)
		}
		if sig == zipEndSig {
			return io.EOF
		}
		if _, err := io.ReadFull(z.br, rec[:4]); err != nil {
			return fmt.Errorf("cannot read zip central directory: %w", unexpected(err))
		}
		sig = le.Uint32(rec[:4])
	}
}

// finishEntry reads the data descriptor, if any, and checks the entry's
// CRC and size.
func (z *zipReader) finishEntry() error {
	if z.flags&zipFlagDataDesc != 0 {
		le := binary.LittleEndian
		var d [20]byte
		if _, err := io.ReadFull(z.br, d[:4]); err != nil {
			return fmt.Errorf("cannot read zip data descriptor: %w", unexpected(err))
		}
		if le.Uint32(d[:4]) == zipDataDescSig { // the signature is optional
			if _, err := io.ReadFull(z.br, d[:4]); err != nil {
				return fmt.Errorf("cannot read zip data descriptor: %w", unexpected(err))
			}
		}
		z.wantCRC = le.Uint32(d[:4])
		sizes := d[4:12]
		if z.zip64 {
			sizes = d[4:20]
		}
		if _, err := io.ReadFull(z.br, sizes); err != nil {
			return fmt.Errorf("cannot read zip data descriptor: %w", unexpected(err))
		}
		if z.zip64 {
			z.wantSize = le.Uint64(sizes[8:])
		} else {
			z.wantSize = uint64(le.Uint32(sizes[4:]))
		}
	}
	if got := z.crc.Sum32(); got != z.wantCRC {
		return fmt.Errorf("zip entry %q: CRC-32 is %#08x, want %#08x: %w", z.headerName, got, z.wantCRC, ErrCorrupt)
	}
	if z.size != z.wantSize {
		return fmt.Errorf("zip entry %q: %d bytes, want %d: %w", z.headerName, z.size, z.wantSize, ErrCorrupt)
	}
	return nil
}

func (z *zipReader) Close() error {
	if z.fr != nil {
		return z.fr.Close()
	}
	return nil
}
