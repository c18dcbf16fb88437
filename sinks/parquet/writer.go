// Package parquet converts JSON records to Apache Parquet files, as
// Firehose's record format conversion does with a ParquetSerDe output
// (DataFormatConversionConfiguration).
//
// A Writer takes one JSON object per Write. A record that does not fit the
// schema is rejected with a *ConversionError and leaves no trace in the
// file, so the caller can send it to the error output as
// format-conversion-failed and carry on; any other error is fatal for the
// file being written.
//
// # Type mapping
//
//	column type     Parquet                                  JSON accepted
//	string          BYTE_ARRAY (STRING)                      string; number (its text); boolean ("true"/"false")
//	boolean         BOOLEAN                                  true/false; "true"/"false" in any case
//	tinyint         INT32 (INT(8, signed))                   integer number or numeric string, in range
//	smallint        INT32 (INT(16, signed))                  integer number or numeric string, in range
//	int, integer    INT32 (INT(32, signed))                  integer number or numeric string, in range
//	bigint          INT64 (INT(64, signed))                  integer number or numeric string, in range
//	float           FLOAT                                    number or numeric string; "NaN", "Infinity", "-Infinity"
//	double          DOUBLE                                   number or numeric string; "NaN", "Infinity", "-Infinity"
//	decimal(p,s)    INT32 (p<=9), INT64 (p<=18),             number or numeric string, rounded half up to s
//	                FIXED_LEN_BYTE_ARRAY (DECIMAL(p,s))      places; more than p digits is an error
//	date            INT32 (DATE)                             "yyyy-MM-dd"
//	timestamp       INT64 (TIMESTAMP(isAdjustedToUTC=true,   integer epoch milliseconds; RFC 3339 string;
//	                MILLIS or MICROS))                       "yyyy-MM-dd[ HH:mm:ss[.fffffffff]]", UTC
//	binary          BYTE_ARRAY                               standard base64 string
//	struct          group                                    object
//	array           LIST, standard 3-level                   array
//	map             MAP, string keys                         object
//
// JSON null, or a missing field, is null for an optional column and an error
// for a required one. Fields match columns case-insensitively and fields
// that match no column are ignored, as Firehose's deserializers do; a field
// given twice (in any case) is an error.
package parquet

import (
	"errors"
	"fmt"
	"io"
	"strings"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// Extension is the file name extension of a Parquet file.
const Extension = ".parquet"

const (
	// DefaultRowGroupBytes is the default Options.RowGroupBytes. A writer
	// holds its current row group in memory, compressed, until the group is
	// complete, so the size bounds each writer's memory, and an open file
	// per destination partition multiplies it. 8 MiB of values is 80,000
	// rows of 100 bytes, comparable to DuckDB's 122,880-row groups, so
	// readers still skip and parallelise well.
	DefaultRowGroupBytes = 8 << 20
	// minDefaultPageBytes and maxDefaultPageBytes bound the default page
	// size: a quarter of a column's share of a row group, so that a column
	// chunk has a few pages for the page index to skip, and the page
	// buffers of all columns together stay within a quarter of the row
	// group, unless the table is so wide that 8 KiB pages exceed that. The
	// upper bound is Firehose's default page size.
	minDefaultPageBytes = 8 << 10
	maxDefaultPageBytes = 1 << 20
	// minPageChunk and maxPageChunk bound the chunks that encoded pages are
	// held in: half a page.
	minPageChunk = 4 << 10
	maxPageChunk = 32 << 10
	// dictionaryMaxBytes is where a column's dictionary gives way to plain
	// encoding for the rest of the row group, as parquet-mr's default
	// dictionary page size does.
	dictionaryMaxBytes = 1 << 20

	// maxStagedRows, maxStagedValues and maxStagedBytes bound the records
	// converted but not yet handed to parquet-go, which takes them a batch
	// at a time per column: handing over a value costs far less in a batch.
	maxStagedRows   = 256
	maxStagedValues = 16 << 10 // 384 KiB of parquet.Value
	maxStagedBytes  = 256 << 10
)

// Compressions lists the values of Options.Compression: Firehose
// ParquetSerDe's names, and ZSTD.
var Compressions = []string{"SNAPPY", "GZIP", "ZSTD", "UNCOMPRESSED"}

// ErrClosed is returned by Write and Close after Close, until Reset.
var ErrClosed = errors.New("parquet writer is closed")

// Options configures a Writer after Firehose's ParquetSerDe. The zero value
// is valid.
type Options struct {
	// Compression is one of Compressions, in any case; empty means SNAPPY,
	// Firehose's default.
	Compression string
	// RowGroupBytes is the uncompressed size of values after which a row
	// group is written; 0 means DefaultRowGroupBytes. A row group may
	// overshoot it by one record.
	RowGroupBytes int64
	// PageBytes is the uncompressed size of a data page; 0 means a quarter
	// of a leaf column's share of RowGroupBytes, between 8 KiB and 1 MiB.
	// Each leaf column buffers up to one page.
	PageBytes int64
	// Dictionary enables dictionary encoding, as ParquetSerDe's
	// EnableDictionaryCompression does; a column's dictionary falls back to
	// plain encoding past 1 MiB.
	Dictionary bool
	// WriterVersion is "V1" (the default, Firehose's, and the data pages
	// every reader understands) or "V2" (data page v2).
	WriterVersion string
}

// Validate checks the options and returns a *FieldError for the first
// problem found, or nil.
func (o *Options) Validate() error {
	if _, err := o.codec(); err != nil {
		return &FieldError{Field: "compression", Message: err.Error()}
	}
	if o.RowGroupBytes < 0 {
		return &FieldError{Field: "row_group_bytes", Message: "must not be negative (0 means the default)"}
	}
	if o.PageBytes < 0 {
		return &FieldError{Field: "page_bytes", Message: "must not be negative (0 means the default)"}
	}
	if o.PageBytes > 1<<30 {
		return &FieldError{Field: "page_bytes", Message: "must be at most 1 GiB"}
	}
	if _, err := o.dataPageVersion(); err != nil {
		return &FieldError{Field: "writer_version", Message: err.Error()}
	}
	return nil
}

func (o *Options) codec() (compress.Codec, error) {
	switch strings.ToUpper(strings.TrimSpace(o.Compression)) {
	case "", "SNAPPY":
		return snappyCodec{}, nil
	case "GZIP":
		return &pq.Gzip, nil
	case "ZSTD":
		return &pq.Zstd, nil
	case "UNCOMPRESSED":
		return &pq.Uncompressed, nil
	}
	return nil, fmt.Errorf("unknown compression %q; want one of %s", o.Compression, strings.Join(Compressions, ", "))
}

func (o *Options) dataPageVersion() (int, error) {
	switch strings.ToUpper(strings.TrimSpace(o.WriterVersion)) {
	case "", "V1":
		return 1, nil
	case "V2":
		return 2, nil
	}
	return 0, fmt.Errorf("unknown writer version %q; want V1 or V2", o.WriterVersion)
}

// Writer writes one Parquet file from JSON records. It is not safe for
// concurrent use.
//
// Memory: the current row group, encoded and compressed (at most about
// RowGroupBytes), plus, per leaf column, a page of uncompressed values and a
// partly filled chunk of encoded ones (by default together at most a
// quarter of RowGroupBytes, unless the table has more than about 250 leaf
// columns), plus the converted values not yet handed to parquet-go (at
// most 256 records, 16,384 values and 256 KiB of strings, or one record when
// a record alone is larger).
type Writer struct {
	pw      *pq.Writer
	columns []*pq.ColumnWriter
	conv    *converter

	rowGroupBytes int64
	rows          int64 // records accepted into the current file
	staged        int   // of which still in conv
	groupBytes    int64 // uncompressed bytes of the current row group, staged included

	closed bool
	err    error // the error that broke the current file
}

// NewWriter returns a writer of a Parquet file with schema s to w.
// Nothing is written to w before the first row group is complete.
func NewWriter(w io.Writer, s *Schema, o Options) (*Writer, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create parquet writer: invalid schema: %w", err)
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create parquet writer: invalid options: %w", err)
	}
	codec, _ := o.codec()
	version, _ := o.dataPageVersion()
	c := compile(s)

	rowGroupBytes := o.RowGroupBytes
	if rowGroupBytes == 0 {
		rowGroupBytes = DefaultRowGroupBytes
	}
	pageBytes := o.PageBytes
	if pageBytes == 0 {
		pageBytes = defaultPageBytes(rowGroupBytes, c.leaves)
	}

	options := []pq.WriterOption{
		pq.NewSchema("schema", c.node),
		pq.Compression(codec),
		pq.PageBufferSize(int(pageBytes)),
		pq.DataPageVersion(version),
		// Each column holds its encoded pages until the row group is
		// written, in chunks of this size, the last one partly empty:
		// parquet-go's 32 KiB would waste 16 MiB on a 500-column table.
		pq.ColumnPageBuffers(pq.NewChunkBufferPool(pageChunk(pageBytes))),
	}
	if o.Dictionary {
		for _, k := range []pq.Kind{pq.Int32, pq.Int64, pq.Float, pq.Double, pq.ByteArray, pq.FixedLenByteArray} {
			options = append(options, pq.DefaultEncodingFor(k, &pq.RLEDictionary))
		}
		options = append(options, pq.DictionaryMaxBytes(dictionaryMaxBytes))
	}
	config, err := pq.NewWriterConfig(options...)
	if err != nil {
		return nil, fmt.Errorf("cannot create parquet writer: %w", err)
	}
	pw := pq.NewWriter(w, config)
	return &Writer{
		pw:            pw,
		columns:       pw.ColumnWriters(),
		conv:          newConverter(c),
		rowGroupBytes: rowGroupBytes,
	}, nil
}

// defaultPageBytes is the page size when Options.PageBytes is 0.
func defaultPageBytes(rowGroupBytes int64, leaves int) int64 {
	return min(max(rowGroupBytes/int64(4*leaves), minDefaultPageBytes), maxDefaultPageBytes)
}

// pageChunk is the size of the chunks that hold encoded pages.
func pageChunk(pageBytes int64) int {
	return int(min(max(pageBytes/2, minPageChunk), maxPageChunk))
}

// Write converts one JSON record, a JSON object, and adds it to the file.
// The writer does not keep record after Write returns.
//
// A record that does not fit the schema returns a *ConversionError and
// leaves the file as it was. Any other error means the file cannot be
// completed: Write and Close return it until Reset.
func (w *Writer) Write(record []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	size, err := w.conv.convert(record)
	if err != nil {
		return err
	}
	w.rows++
	w.staged++
	w.groupBytes += size
	switch {
	case w.groupBytes >= w.rowGroupBytes:
		return w.flushRowGroup()
	case w.staged >= maxStagedRows || w.conv.values >= maxStagedValues || len(w.conv.arena) >= maxStagedBytes:
		return w.flushStaged()
	}
	return nil
}

// Rows returns the number of records written to the current file.
func (w *Writer) Rows() int64 { return w.rows }

// Close writes the last row group and the footer. It does not close the
// io.Writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if err := w.flushStaged(); err != nil {
		return err
	}
	if err := w.pw.Close(); err != nil {
		return w.fail(fmt.Errorf("cannot write parquet footer: %w", err))
	}
	w.closed = true
	return nil
}

// Reset discards the current file, whether closed or not, and starts a new
// one written to dst, reusing the writer's buffers. Row groups of the old
// file already written to its io.Writer stay there.
func (w *Writer) Reset(dst io.Writer) {
	w.pw.Reset(dst)
	w.conv.reset()
	w.rows, w.staged, w.groupBytes = 0, 0, 0
	w.closed, w.err = false, nil
}

// flushStaged hands the staged records to parquet-go, which copies them.
func (w *Writer) flushStaged() error {
	if w.staged == 0 {
		return nil
	}
	for i, c := range w.columns {
		if _, err := c.WriteRowValues(w.conv.vals[i]); err != nil {
			return w.fail(fmt.Errorf("cannot write parquet column %d: %w", i, err))
		}
	}
	w.conv.reset()
	w.staged = 0
	return nil
}

// flushRowGroup writes the current row group to the output.
func (w *Writer) flushRowGroup() error {
	if err := w.flushStaged(); err != nil {
		return err
	}
	if err := w.pw.Flush(); err != nil {
		return w.fail(fmt.Errorf("cannot write parquet row group: %w", err))
	}
	w.groupBytes = 0
	return nil
}

func (w *Writer) fail(err error) error {
	w.err = err
	return err
}
