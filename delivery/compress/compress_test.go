package compress

import (
	"archive/zip"
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// jsonRecords returns n bytes of newline-delimited JSON records shaped like
// clickstream events, the same for every call.
func jsonRecords(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	events := []string{"click", "view", "purchase", "signup", "add_to_cart"}
	refs := []string{"google", "newsletter", "direct", "partner-17"}
	b := make([]byte, 0, n+512)
	for len(b) < n {
		b = fmt.Appendf(b, `{"ts":"2024-05-%02dT%02d:%02d:%02d.%03dZ","user_id":"u-%06d","event":"%s",`+
			`"url":"https://shop.example.com/p/%d?ref=%s","amount":%d.%02d,"session":"%016x",`+
			`"ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/%d.0"}`+"\n",
			1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000), r.IntN(200000),
			events[r.IntN(len(events))], r.IntN(5000), refs[r.IntN(len(refs))],
			r.IntN(500), r.IntN(100), r.Uint64(), 110+r.IntN(15))
	}
	return b[:n]
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// inputs are the round-trip cases.
var inputs = []struct {
	name string
	data []byte
}{
	{"empty", nil},
	{"one-byte", []byte("x")},
	{"small", []byte(`{"hello":"world"}` + "\n")},
	{"block", jsonRecords(snappyBlockSize)},
	{"block+1", jsonRecords(snappyBlockSize + 1)},
	{"json-5MiB", jsonRecords(5 << 20)},
	{"random-3MiB", randomBytes(3<<20, 7)},
	{"zeros-2MiB", make([]byte, 2<<20)},
}

// compressChunks compresses data with w, written in pieces of the sizes
// next returns.
func compressChunks(t testing.TB, w Writer, data []byte, next func() int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w.Reset(&buf)
	for len(data) > 0 {
		n := min(next(), len(data))
		m, err := w.Write(data[:n])
		if err != nil || m != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, m, err)
		}
		data = data[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	return buf.Bytes()
}

func compress(t testing.TB, format string, data []byte) []byte {
	t.Helper()
	w, err := NewWriter(format, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return compressChunks(t, w, data, func() int { return len(data) + 1 })
}

func decompress(t testing.TB, format string, data []byte) []byte {
	t.Helper()
	r, err := NewReader(format, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("NewReader(%s) = %v", format, err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: reading back: %v", format, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("%s: Close() = %v", format, err)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	for _, format := range Formats {
		for _, in := range inputs {
			t.Run(format+"/"+in.name, func(t *testing.T) {
				c := compress(t, format, in.data)
				if got := decompress(t, format, c); !bytes.Equal(got, in.data) {
					t.Fatalf("round trip of %d bytes gave %d different bytes", len(in.data), len(got))
				}
				if format == Uncompressed && !bytes.Equal(c, in.data) {
					t.Fatalf("UNCOMPRESSED changed the data")
				}
				if len(in.data) >= 1<<20 && format != Uncompressed {
					t.Logf("%d -> %d bytes (%.3f)", len(in.data), len(c), float64(len(c))/float64(len(in.data)))
				}
			})
		}
	}
}

// TestDeterministic checks that the output depends on the input bytes
// only: not on the Write sizes, not on whether the Writer is fresh or
// Reset, not on what it wrote before.
func TestDeterministic(t *testing.T) {
	data := jsonRecords(1<<20 + 12345)
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			want := compress(t, format, data)
			if again := compress(t, format, data); !bytes.Equal(again, want) {
				t.Fatal("two fresh writers wrote different bytes")
			}
			w, err := NewWriter(format, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			// Leave some state behind: an unfinished and a finished output.
			w.Write(randomBytes(100000, 3))
			compressChunks(t, w, jsonRecords(200000), func() int { return 4096 })
			r := rand.New(rand.NewPCG(9, 9))
			chunkings := map[string]func() int{
				"1-byte":    func() int { return 1 },
				"odd-sizes": func() int { return 1 + r.IntN(200000) },
				"4KiB":      func() int { return 4096 },
				"block+1":   func() int { return snappyBlockSize + 1 },
			}
			for name, next := range chunkings {
				in := data
				if name == "1-byte" {
					in = data[:100000] // keep it quick
					want := compress(t, format, in)
					if got := compressChunks(t, w, in, next); !bytes.Equal(got, want) {
						t.Errorf("%s writes: output differs", name)
					}
					continue
				}
				if got := compressChunks(t, w, in, next); !bytes.Equal(got, want) {
					t.Errorf("%s writes after Reset: output differs", name)
				}
			}
		})
	}
}

// TestStandardReaders reads the output with decoders that are not ours.
func TestStandardReaders(t *testing.T) {
	data := jsonRecords(1 << 20)

	t.Run("GZIP/compress-gzip", func(t *testing.T) {
		zr, err := stdgzip.NewReader(bytes.NewReader(compress(t, GZIP, data)))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("compress/gzip read %d bytes, %v", len(got), err)
		}
		if zr.Name != "" || !zr.ModTime.IsZero() {
			t.Errorf("gzip header has name %q, mtime %v; want neither", zr.Name, zr.ModTime)
		}
	})

	t.Run("ZIP/archive-zip", func(t *testing.T) {
		c := compress(t, ZIP, data)
		zr, err := zip.NewReader(bytes.NewReader(c), int64(len(c)))
		if err != nil {
			t.Fatal(err)
		}
		if len(zr.File) != 1 {
			t.Fatalf("archive holds %d entries; want 1", len(zr.File))
		}
		f := zr.File[0]
		if f.Name != ZipEntryName || f.Method != zip.Deflate || f.Mode() != 0o644 {
			t.Errorf("entry %q method %d mode %v; want %q, deflate, 0644", f.Name, f.Method, f.Mode(), ZipEntryName)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("archive/zip read %d bytes, %v", len(got), err)
		}
	})

	t.Run("ZIP/empty", func(t *testing.T) {
		c := compress(t, ZIP, nil)
		zr, err := zip.NewReader(bytes.NewReader(c), int64(len(c)))
		if err != nil || len(zr.File) != 1 || zr.File[0].UncompressedSize64 != 0 {
			t.Fatalf("empty ZIP object: %v", err)
		}
	})

	t.Run("Snappy/snappy-reader", func(t *testing.T) {
		got, err := io.ReadAll(snappy.NewReader(bytes.NewReader(compress(t, Snappy, data))))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("snappy.Reader read %d bytes, %v", len(got), err)
		}
	})
}

// TestZipReaderForeignArchives reads archives Hydrant does not write:
// several entries, stored ones with their sizes in the local header.
func TestZipReaderForeignArchives(t *testing.T) {
	first, second := jsonRecords(100000), []byte("stored entry")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("a.json")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(first)
	w, err = zw.CreateRaw(&zip.FileHeader{Name: "b.txt", Method: zip.Store, CRC32: crc32.ChecksumIEEE(second),
		CompressedSize64: uint64(len(second)), UncompressedSize64: uint64(len(second))})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(second)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := decompress(t, ZIP, buf.Bytes()); !bytes.Equal(got, append(first, second...)) {
		t.Fatalf("read %d bytes; want the %d bytes of both entries", len(got), len(first)+len(second))
	}
}

func maskedCRCRef(p []byte) uint32 {
	c := crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// TestSnappyFramedLayout checks the framing format byte by byte.
func TestSnappyFramedLayout(t *testing.T) {
	streamID := []byte("\xff\x06\x00\x00sNaPpY")
	if got := compress(t, Snappy, nil); !bytes.Equal(got, streamID) {
		t.Errorf("empty Snappy stream = % x; want % x", got, streamID)
	}

	// Four bytes do not compress: an uncompressed chunk (type 1) of
	// 4 CRC bytes + 4 data bytes.
	want := append([]byte{}, streamID...)
	want = append(want, 0x01, 0x08, 0x00, 0x00)
	want = binary.LittleEndian.AppendUint32(want, maskedCRCRef([]byte("abcd")))
	want = append(want, "abcd"...)
	if got := compress(t, Snappy, []byte("abcd")); !bytes.Equal(got, want) {
		t.Errorf("Snappy(abcd) = % x; want % x", got, want)
	}

	// Compressible data: compressed chunks (type 0) of at most 64 KiB
	// uncompressed, each with the masked CRC of its data.
	data := jsonRecords(2*snappyBlockSize + 100)
	c := compress(t, Snappy, data)
	if !bytes.HasPrefix(c, streamID) {
		t.Fatalf("no stream identifier")
	}
	c = c[len(streamID):]
	for i, size := range []int{snappyBlockSize, snappyBlockSize, 100} {
		if len(c) < 8 {
			t.Fatalf("chunk %d: truncated", i)
		}
		n := int(c[1]) | int(c[2])<<8 | int(c[3])<<16
		var block []byte
		var err error
		switch {
		case c[0] == 0x00:
			block, err = s2.Decode(nil, c[8:4+n])
		case c[0] == 0x01 && size < 200:
			// Too short to save 12.5 %: stored as it is.
			block = c[8 : 4+n]
		default:
			t.Fatalf("chunk %d: type %#x; want compressed (0)", i, c[0])
		}
		if err != nil || len(block) != size {
			t.Fatalf("chunk %d: decoded %d bytes, %v; want %d", i, len(block), err, size)
		}
		if crc := binary.LittleEndian.Uint32(c[4:]); crc != maskedCRCRef(block) {
			t.Fatalf("chunk %d: CRC %#x; want %#x", i, crc, maskedCRCRef(block))
		}
		c = c[4+n:]
	}
	if len(c) != 0 {
		t.Fatalf("%d bytes after the last chunk", len(c))
	}
}

// TestHadoopSnappyLayout checks Hadoop's block format byte by byte.
func TestHadoopSnappyLayout(t *testing.T) {
	// Hadoop's BlockCompressorStream writes a single zero block header
	// for an empty stream.
	if got, want := compress(t, HadoopSnappy, nil), []byte{0, 0, 0, 0}; !bytes.Equal(got, want) {
		t.Errorf("empty HADOOP_SNAPPY = % x; want % x", got, want)
	}

	// Uncompressed length 4, compressed length 6, then the raw Snappy
	// block: varint length 4, a literal tag for 4 bytes ((4-1)<<2), "abcd".
	want := []byte{0, 0, 0, 4, 0, 0, 0, 6, 0x04, 0x0c, 'a', 'b', 'c', 'd'}
	if got := compress(t, HadoopSnappy, []byte("abcd")); !bytes.Equal(got, want) {
		t.Errorf("HADOOP_SNAPPY(abcd) = % x; want % x", got, want)
	}

	data := jsonRecords(2*snappyBlockSize + 100)
	c := compress(t, HadoopSnappy, data)
	var got []byte
	for i, size := range []int{snappyBlockSize, snappyBlockSize, 100} {
		if ulen := binary.BigEndian.Uint32(c); int(ulen) != size {
			t.Fatalf("block %d: uncompressed length %d; want %d", i, ulen, size)
		}
		clen := int(binary.BigEndian.Uint32(c[4:]))
		block, err := snappy.Decode(nil, c[8:8+clen])
		if err != nil || len(block) != size {
			t.Fatalf("block %d: decoded %d bytes, %v; want %d", i, len(block), err, size)
		}
		got = append(got, block...)
		c = c[8+clen:]
	}
	if len(c) != 0 || !bytes.Equal(got, data) {
		t.Fatalf("blocks do not hold the input (%d bytes left over)", len(c))
	}
}

// TestHadoopSnappyReaderMultiChunk reads a block split into several
// chunks, as Hadoop writes large writes.
func TestHadoopSnappyReaderMultiChunk(t *testing.T) {
	data := jsonRecords(300000)
	var c []byte
	c = binary.BigEndian.AppendUint32(c, uint32(len(data)))
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 100000)
		enc := snappy.Encode(nil, rest[:n])
		c = binary.BigEndian.AppendUint32(c, uint32(len(enc)))
		c = append(c, enc...)
		rest = rest[n:]
	}
	c = append(c, compress(t, HadoopSnappy, []byte("tail"))...)
	if got := decompress(t, HadoopSnappy, c); !bytes.Equal(got, append(data, "tail"...)) {
		t.Fatalf("read %d bytes; want %d", len(got), len(data)+4)
	}
}

func TestCorruptInput(t *testing.T) {
	data := jsonRecords(200000)
	for _, format := range Formats {
		if format == Uncompressed {
			continue
		}
		t.Run(format, func(t *testing.T) {
			c := compress(t, format, data)
			for _, cut := range []int{1, 5, len(c) / 2, len(c) - 1} {
				r, err := NewReader(format, bytes.NewReader(c[:cut]))
				if err != nil {
					continue
				}
				if _, err := io.ReadAll(r); err == nil {
					t.Errorf("reading %d of %d bytes: no error", cut, len(c))
				}
			}
			bad := bytes.Clone(c)
			bad[len(bad)/2] ^= 0x55
			if r, err := NewReader(format, bytes.NewReader(bad)); err == nil {
				if got, err := io.ReadAll(r); err == nil && bytes.Equal(got, data) {
					t.Errorf("flipped byte went unnoticed")
				} else if err == nil {
					t.Errorf("flipped byte: read %d wrong bytes without an error", len(got))
				}
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	for _, f := range []string{"", "gzip", "SNAPPY", "LZ4"} {
		if _, err := NewWriter(f, io.Discard); err == nil || !strings.Contains(err.Error(), "HADOOP_SNAPPY") {
			t.Errorf("NewWriter(%q) = %v; want an error listing the formats", f, err)
		}
		if _, err := NewReader(f, bytes.NewReader(nil)); err == nil {
			t.Errorf("NewReader(%q) = nil error", f)
		}
	}
}

func TestExtensionAndContentEncoding(t *testing.T) {
	tests := []struct{ format, ext, enc string }{
		{Uncompressed, "", ""},
		{GZIP, ".gz", "gzip"},
		{ZIP, ".zip", ""},
		{Snappy, ".snappy", ""},
		{HadoopSnappy, ".snappy", ""},
		{ZSTD, ".zst", "zstd"},
		{"bogus", "", ""},
	}
	for _, tt := range tests {
		if got := Extension(tt.format); got != tt.ext {
			t.Errorf("Extension(%q) = %q; want %q", tt.format, got, tt.ext)
		}
		if got := ContentEncoding(tt.format); got != tt.enc {
			t.Errorf("ContentEncoding(%q) = %q; want %q", tt.format, got, tt.enc)
		}
	}
}

type failWriter struct{ after int }

var errFail = errors.New("disk on fire")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errFail
	}
	f.after--
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	data := randomBytes(1<<20, 5)
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			w, err := NewWriter(format, &failWriter{})
			if err != nil {
				t.Fatal(err)
			}
			_, werr := w.Write(data)
			cerr := w.Close()
			if !errors.Is(werr, errFail) && !errors.Is(cerr, errFail) {
				t.Fatalf("Write = %v, Close = %v; want %v from one of them", werr, cerr, errFail)
			}
			// Reset clears the error.
			var buf bytes.Buffer
			w.Reset(&buf)
			if _, err := w.Write([]byte("ok")); err != nil {
				t.Fatalf("Write after Reset = %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close after Reset = %v", err)
			}
			if got := decompress(t, format, buf.Bytes()); string(got) != "ok" {
				t.Fatalf("after Reset read %q; want %q", got, "ok")
			}
		})
	}
}

// TestResetReusesEncoders checks that a Reset writer allocates little:
// new gzip and zstd encoders allocate hundreds of KiB to MiBs each.
func TestResetReusesEncoders(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so the snappy encoder's pooled tables are reallocated")
	}
	data := jsonRecords(1 << 20)
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			w, err := NewWriter(format, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			run := func() {
				w.Reset(io.Discard)
				w.Write(data)
				w.Close()
			}
			run()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const n = 5
			for range n {
				run()
			}
			runtime.ReadMemStats(&after)
			if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 64<<10 {
				t.Errorf("Reset + 1 MiB + Close allocates %d bytes; want < 64 KiB", per)
			}
		})
	}
}

func FuzzReaders(f *testing.F) {
	for _, in := range [][]byte{nil, []byte("abcd"), jsonRecords(70000)} {
		for _, format := range Formats {
			f.Add(format, compress(f, format, in))
		}
	}
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		r, err := NewReader(format, bytes.NewReader(data))
		if err != nil {
			return
		}
		defer r.Close()
		// Bounded: a small input must not make a reader produce or
		// allocate without limit.
		io.Copy(io.Discard, io.LimitReader(r, 8<<20))
	})
}

// BenchmarkWriter compresses 8 MiB of JSON records, written whole and
// record by record, as delivery writes them.
func BenchmarkWriter(b *testing.B) {
	data := jsonRecords(8 << 20)
	var records [][]byte
	for rest := data; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n') + 1
		if i == 0 {
			i = len(rest)
		}
		records, rest = append(records, rest[:i]), rest[i:]
	}
	for _, format := range Formats {
		for _, mode := range []string{"whole", "records"} {
			b.Run(format+"/"+mode, func(b *testing.B) {
				w, err := NewWriter(format, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				var cw countingWriter
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					cw = 0
					w.Reset(&cw)
					if mode == "whole" {
						w.Write(data)
					} else {
						for _, r := range records {
							w.Write(r)
						}
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cw)/float64(len(data)), "ratio")
			})
		}
	}
}

func BenchmarkReader(b *testing.B) {
	data := jsonRecords(8 << 20)
	for _, format := range Formats {
		b.Run(format, func(b *testing.B) {
			c := compress(b, format, data)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(format, bytes.NewReader(c))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

// BenchmarkGzipLevel is the measurement behind GzipLevel.
func BenchmarkGzipLevel(b *testing.B) {
	data := jsonRecords(8 << 20)
	for _, level := range []int{gzip.BestSpeed, 2, gzip.DefaultCompression} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			zw, err := gzip.NewWriterLevel(io.Discard, level)
			if err != nil {
				b.Fatal(err)
			}
			var cw countingWriter
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				cw = 0
				zw.Reset(&cw)
				zw.Write(data)
				zw.Close()
			}
			b.ReportMetric(float64(cw)/float64(len(data)), "ratio")
		})
	}
}

// BenchmarkZstdLevel is the measurement behind zstdLevel and zstdWindow.
func BenchmarkZstdLevel(b *testing.B) {
	data := jsonRecords(8 << 20)
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		for _, window := range []int{2 << 20, 8 << 20} {
			b.Run(fmt.Sprintf("level=%s/window=%dMiB", level, window>>20), func(b *testing.B) {
				zw, err := zstd.NewWriter(io.Discard, zstd.WithEncoderLevel(level),
					zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(window))
				if err != nil {
					b.Fatal(err)
				}
				var cw countingWriter
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					cw = 0
					zw.Reset(&cw)
					zw.Write(data)
					zw.Close()
				}
				b.ReportMetric(float64(cw)/float64(len(data)), "ratio")
			})
		}
	}
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
