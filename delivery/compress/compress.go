// Package compress implements the compression formats of object
// destinations, as Firehose names them (UNCOMPRESSED, GZIP, ZIP, Snappy,
// HADOOP_SNAPPY) plus Hydrant's ZSTD.
//
// Every writer streams with bounded memory (at most a few MiB, independent
// of the object size). All but GZIP compress on the caller's goroutine;
// GZIP deflates up to gzipBlocks blocks in parallel, so that a stream
// catching up on a backlog can use more than one core (see gzipWriter).
// Every writer is deterministic:
// the same bytes in give the same bytes out, however they are split into
// Write calls. Object keys are a pure function of the log offsets, so a
// redelivery after a crash must rewrite an identical object. Determinism
// holds for one build of Hydrant; a different version of the compression
// library, or another CPU architecture, may choose different (equally
// valid) encodings.
package compress

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Format names, as Firehose names them (ZSTD is Hydrant's own); delivery's
// compression constants are these.
const (
	Uncompressed = "UNCOMPRESSED"
	GZIP         = "GZIP"
	ZIP          = "ZIP"
	Snappy       = "Snappy"
	HadoopSnappy = "HADOOP_SNAPPY"
	ZSTD         = "ZSTD"
)

// Formats lists every supported format.
var Formats = []string{Uncompressed, GZIP, ZIP, Snappy, HadoopSnappy, ZSTD}

// GzipLevel is the deflate level of GZIP and ZIP objects: BestSpeed.
//
// Measured with BenchmarkGzipLevel on 8 MiB of JSON records,
// klauspost/compress v1.20.3, one core of the 2-core build machine (in
// thread CPU time, as other builds shared the machine):
//
//	level 1 (BestSpeed)  ~ 200 MB/s, compressed to 17.1 % of the input
//	level 2              ~ 210 MB/s, 16.8 %
//	level 6 (Default)    ~ 100 MB/s, 15.0 %
//
// Default saves 2 % of the input size for twice the CPU. With two cores
// shared by ingest (request decoding, WAL fsync) and delivery, and a
// target of delivering GZIP objects at >= 60 % of the ingest rate,
// compression must not be the bottleneck. Level 2 measured about as fast
// as BestSpeed with a slightly better ratio on this data, within the noise
// of a shared machine; BestSpeed is the level whose speed holds across
// inputs.
const GzipLevel = gzip.BestSpeed

// zstdLevel and zstdWindow configure ZSTD objects. SpeedFastest (zstd
// level 1) measured ~ 200 MB/s and 15.4 % on the JSON benchmark, better
// than SpeedDefault (level 3: ~ 120 MB/s, 15.7 %); a 2 MiB window
// compresses that data as well as 8 MiB and bounds the encoder's and each
// reader's memory to a few MiB.
const (
	zstdLevel  = zstd.SpeedFastest
	zstdWindow = 2 << 20
)

// Writer compresses everything written to it into the underlying writer.
// Close writes the format's trailer; it does not close the underlying
// writer. Reset makes the Writer write a new, independent output to w,
// reusing its buffers and encoder state; it may be called after Close or
// instead of it (discarding the unfinished output). A Writer is not safe
// for concurrent use.
type Writer interface {
	io.Writer
	Close() error
	Reset(w io.Writer)
}

// unknownFormat returns the error for a format name that is not one of
// Formats.
func unknownFormat(format string) error {
	return fmt.Errorf("unknown compression format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// NewWriter returns a Writer that compresses into w in the given format.
func NewWriter(format string, w io.Writer) (Writer, error) {
	switch format {
	case Uncompressed:
		return &plainWriter{w: w}, nil
	case GZIP:
		zw, err := pgzip.NewWriterLevel(w, GzipLevel)
		if err != nil {
			return nil, fmt.Errorf("cannot create gzip writer: %w", err)
		}
		if err := zw.SetConcurrency(gzipBlockSize, gzipBlocks); err != nil {
			return nil, fmt.Errorf("cannot create gzip writer: %w", err)
		}
		g := gzipWriter{zw}
		g.Reset(w)
		return g, nil
	case ZIP:
		return newZipWriter(w), nil
	case Snappy:
		return newBlockWriter(w, snappyFramed{}), nil
	case HadoopSnappy:
		return newBlockWriter(w, hadoopSnappy{}), nil
	case ZSTD:
		zw, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstdLevel),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(true),
			// An empty object is still one valid (empty) frame, which
			// the zstd tool can decompress; a zero-byte file it cannot.
			zstd.WithZeroFrames(true),
		)
		if err != nil {
			return nil, fmt.Errorf("cannot create zstd writer: %w", err)
		}
		return zw, nil
	}
	return nil, unknownFormat(format)
}

// NewReader returns a reader of the data that a Writer of the given format
// wrote to r. Closing it releases its resources; it does not close r.
func NewReader(format string, r io.Reader) (io.ReadCloser, error) {
	switch format {
	case Uncompressed:
		return io.NopCloser(r), nil
	case GZIP:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("cannot read gzip header: %w", err)
		}
		return zr, nil
	case ZIP:
		return newZipReader(r), nil
	case Snappy:
		return newSnappyReader(r), nil
	case HadoopSnappy:
		return newHadoopSnappyReader(r), nil
	case ZSTD:
		zr, err := zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
		)
		if err != nil {
			return nil, fmt.Errorf("cannot create zstd reader: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return nil, unknownFormat(format)
}

// Extension returns the object key suffix Firehose uses for the format,
// including the dot, or "" for UNCOMPRESSED and unknown formats.
// HADOOP_SNAPPY objects end in ".snappy" like Snappy ones: it is the
// default extension of Hadoop's SnappyCodec, which is how Hadoop, Hive and
// Athena pick the codec that reads them.
func Extension(format string) string {
	switch format {
	case GZIP:
		return ".gz"
	case ZIP:
		return ".zip"
	case Snappy, HadoopSnappy:
		return ".snappy"
	case ZSTD:
		return ".zst"
	}
	return ""
}

// ContentEncoding returns the HTTP Content-Encoding to store with objects
// of the format, or "" when there is none. Snappy, Hadoop snappy and ZIP
// have no registered content coding, and naming one would make HTTP
// clients that decode transparently fail on the object.
func ContentEncoding(format string) string {
	switch format {
	case GZIP:
		return "gzip"
	case ZSTD:
		return "zstd"
	}
	return ""
}

// gzipWriter writes a gzip member whose header holds no name and no
// modification time (MTIME 0, "not available"), so the output depends on
// the input only.
//
// It compresses gzipBlockSize blocks on up to gzipBlocks goroutines
// (pgzip): one gzip member, each block deflated with the previous block's
// tail as its dictionary, so the bytes depend on the input and block size
// only, never on scheduling. On two cores this lets a stream catching up
// on a backlog use both, where a single deflate stream would leave one
// idle; while the cores are busy with ingest it costs nothing extra.
type gzipWriter struct{ *pgzip.Writer }

const (
	gzipBlockSize = 512 << 10
	gzipBlocks    = 4
)

func (g gzipWriter) Reset(w io.Writer) {
	g.Writer.Reset(w)
	// pgzip's Reset restores its default blocks; set ours again. Cannot
	// fail with these constants.
	_ = g.SetConcurrency(gzipBlockSize, gzipBlocks)
	// The zero time.Time would be written as its Unix time truncated to
	// 32 bits: a date in 2042.
	g.ModTime = time.Unix(0, 0)
}

// plainWriter is the UNCOMPRESSED Writer.
type plainWriter struct{ w io.Writer }

func (p *plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *plainWriter) Close() error                { return nil }
func (p *plainWriter) Reset(w io.Writer)           { p.w = w }
