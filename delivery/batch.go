package delivery

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hydrantio/hydrant/delivery/compress"
	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/delivery/partition"
	"github.com/hydrantio/hydrant/record"
	"github.com/hydrantio/hydrant/sinks/parquet"
	"github.com/hydrantio/hydrant/transform/builtin"
)

// A batch covers the log offsets first to last and is delivered as a
// whole: every object it makes (one, or one per partition, plus one per
// error output type with failures) is written before the log is
// committed past it. The objects are a pure function of the records and
// the definition the batch was opened under, so a batch rebuilt after a
// crash writes the same keys again: exactly-once, partitions and error
// output included.
//
// Without partitioning, records are formatted, compressed and encrypted
// into the stream's spool as they are read, in one pass. With it, each
// record is appended raw to its partition's spool file, and each
// partition is turned into its object at delivery, one after another; so
// memory holds a small write buffer per active partition, never the data.
type batch struct {
	info         StreamInfo // the definition the batch was opened under
	first, last  uint64
	records      int // log records read
	rawBytes     int // their bytes, which the buffering size counts
	firstArrival time.Time
	openedAt     time.Time

	// parts are the active partitions by evaluated prefix, in order of
	// first appearance.
	parts     map[string]*partSpool
	partOrder []string
	// failed counts the records sent to each error output type.
	failed map[string]int
	// err is set when a record could not be placed anywhere; the batch is
	// then read again from the log instead of being delivered.
	err error
}

func (b *batch) full() bool { return b.rawBytes >= b.info.Config.Destination.Buffering.SizeBytes() }

func (b *batch) failedCount() int {
	n := 0
	for _, c := range b.failed {
		n += c
	}
	return n
}

func (b *batch) partitioned() bool { return b.info.Config.Destination.DynamicPartitioning.Enabled }

// processor is the per-definition state of record processing: the
// compiled query and the parsed prefix. It is rebuilt when the
// definition changes.
type processor struct {
	dest   Destination
	query  *partition.Query
	prefix *prefixTemplate
	// prefixKeys are the !{partitionKeyFromQuery:KEY} names of prefix,
	// lambdaKeys its !{partitionKeyFromLambda:KEY} names.
	prefixKeys, lambdaKeys []string
	keys                   map[string]string // reused by Extract
}

func newProcessor(dest Destination) (*processor, error) {
	p := &processor{dest: dest, keys: map[string]string{}}
	if q := dest.Processing.MetadataExtractionQuery; q != "" {
		query, err := partition.Compile(q)
		if err != nil {
			return nil, err
		}
		p.query = query
	}
	tmpl, err := parsePrefixTemplate(dest.Prefix)
	if err != nil {
		return nil, err
	}
	p.prefix = tmpl
	p.prefixKeys = tmpl.keys(prefixNSPartitionKeyFromQuery)
	p.lambdaKeys = tmpl.keys(prefixNSPartitionKeyFromLambda)
	return p, nil
}

// Error codes of the error records Hydrant writes, after Firehose's.
const (
	errCodeDeAggregation    = "RecordDeAggregation.MalformedRecord"
	errCodeConversion       = "DataFormatConversion.MalformedData"
	errCodePartitionCount   = "DynamicPartitioning.ActivePartitionsLimitExceeded"
	errCodePartitionKey     = "DynamicPartitioning.InvalidPartitionKey"
	errCodeMetadataNotFound = "DynamicPartitioning.MetadataExtractionFailed"
)

// errorRecord is one line of an error output object, in Firehose's shape.
type errorRecord struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                []byte `json:"rawData"`
	// PartitionKeys are the keys extracted, for records that failed after
	// extraction.
	PartitionKeys map[string]string `json:"partitionKeys,omitempty"`
	// LambdaARN names the function of a record that failed processing.
	LambdaARN string `json:"lambdaArn,omitempty"`
}

// add processes one log record into the batch, in Firehose's order:
// decompression, CloudWatch Logs message extraction, de-aggregation, the
// function, then partitioning and the objects (addSub).
func (s *stream) add(ctx context.Context, b *batch, rec record.Record) {
	b.last = rec.Offset
	b.records++
	b.rawBytes += len(rec.Data)
	dest := &b.info.Config.Destination
	if dest.Backup.enabled() {
		// A spool error sticks in the writer and surfaces at delivery.
		_ = s.backup.write(rec.Data)
	}
	p := &dest.Processing
	data := rec.Data
	if p.Decompression != "" {
		out, err := builtin.Gunzip(s.gunzipBuf[:0], data, MaxDecompressedBytes)
		if err != nil {
			s.fail(b, ErrorTypeDecompression, builtinCode(err, builtin.CodeNotGzip), "cannot decompress the record: "+err.Error(), rec.ArrivalTime, rec.Data, nil)
			return
		}
		s.gunzipBuf, data = out, out
	}
	if p.CloudWatchLogs {
		if _, err := builtin.ExtractMessages(data, func(msg []byte) error { s.split(ctx, b, rec.ArrivalTime, msg); return nil }); err != nil {
			s.fail(b, ErrorTypeProcessing, builtinCode(err, builtin.CodeNotCloudWatchLogs), "cannot extract CloudWatch Logs messages from the record: "+err.Error(), rec.ArrivalTime, rec.Data, nil)
		}
		return
	}
	s.split(ctx, b, rec.ArrivalTime, data)
}

// builtinCode is the error code of a built-in processor's error.
func builtinCode(err error, dflt string) string {
	var be *builtin.Error
	if errors.As(err, &be) {
		return be.Code
	}
	return dflt
}

// split de-aggregates one record, if the destination says so, and passes
// each (sub-)record on to the function or straight to addSub.
func (s *stream) split(ctx context.Context, b *batch, arrival time.Time, data []byte) {
	p := &b.info.Config.Destination.Processing
	next := func(sub []byte) error {
		if p.Function.enabled() {
			s.fnAppend(ctx, b, arrival, sub)
		} else {
			s.addSub(b, arrival, sub, nil)
		}
		return nil
	}
	switch p.DeAggregation {
	case SubRecordJSON:
		if err := partition.SplitJSON(data, next); err != nil {
			s.fail(b, ErrorTypeProcessing, errCodeDeAggregation, "cannot split the record into JSON sub-records: "+err.Error(), arrival, data, nil)
		}
	case SubRecordDelimited:
		if err := partition.SplitDelimited(data, []byte(p.Delimiter), next); err != nil {
			s.fail(b, ErrorTypeProcessing, errCodeDeAggregation, "cannot split the record into delimited sub-records: "+err.Error(), arrival, data, nil)
		}
	default:
		_ = next(data)
	}
}

// addSub routes one (sub-)record to its partition or the main object;
// lambdaKeys are the partition keys the function returned for it.
func (s *stream) addSub(b *batch, arrival time.Time, data []byte, lambdaKeys map[string]string) {
	if dest := &b.info.Config.Destination; dest.recordSink() {
		s.sinkSpool.append(arrival, data)
		if dest.copiesAll() {
			s.writeRecord(b, &s.main, arrival, data)
		}
		return
	}
	if !b.partitioned() {
		s.writeRecord(b, &s.main, arrival, data)
		return
	}
	p := s.proc
	clear(p.keys)
	if p.query != nil {
		if err := p.query.Extract(context.Background(), data, p.keys); err != nil {
			code, msg := errCodeMetadataNotFound, err.Error()
			var pe *partition.Error
			if errors.As(err, &pe) {
				code, msg = pe.Code, pe.Message
			}
			s.fail(b, ErrorTypePartitioning, code, msg, arrival, data, nil)
			return
		}
	}
	prefix, err := s.partitionPrefix(b, p.keys, lambdaKeys)
	if err != nil {
		s.fail(b, ErrorTypePartitioning, errCodePartitionKey, err.Error(), arrival, data, p.keys)
		return
	}
	ps, ok := b.parts[prefix]
	if !ok {
		if len(b.parts) >= b.info.Config.Destination.DynamicPartitioning.MaxActivePartitions {
			s.fail(b, ErrorTypePartitioning, errCodePartitionCount,
				fmt.Sprintf("the buffer already holds %d partitions, the stream's max_active_partitions", len(b.parts)),
				arrival, data, p.keys)
			return
		}
		ps = s.partSpool(len(b.partOrder))
		ps.keys = maps.Clone(p.keys)
		ps.lambdaKeys = maps.Clone(lambdaKeys)
		if b.parts == nil {
			b.parts = map[string]*partSpool{}
		}
		b.parts[prefix] = ps
		b.partOrder = append(b.partOrder, prefix)
	}
	ps.append(arrival, data)
}

// partitionPrefix evaluates the batch's prefix with the partition keys
// of one record, checking that every key the prefix names is there and
// that the result is a usable key prefix.
func (s *stream) partitionPrefix(b *batch, keys, lambdaKeys map[string]string) (string, error) {
	if err := checkPartitionKeys(s.proc.prefixKeys, keys, "the metadata extraction query"); err != nil {
		return "", err
	}
	if err := checkPartitionKeys(s.proc.lambdaKeys, lambdaKeys, "the function"); err != nil {
		return "", err
	}
	p := KeyParams{Prefix: b.info.Config.Destination.Prefix, StreamID: b.info.ID, First: b.first, PartitionKeys: keys, LambdaKeys: lambdaKeys}
	prefix := string(appendParsedPrefix(nil, s.proc.prefix, p, b.firstArrival.UTC()))
	if len(prefix) > MaxPrefixLen {
		return "", fmt.Errorf("the evaluated prefix is %d bytes long: the limit is %d", len(prefix), MaxPrefixLen)
	}
	if checkPrefixPath(prefix, "") != nil {
		// Again, to name the prefix: formatting it for every record would
		// cost the hot path an allocation.
		return "", checkPrefixPath(prefix, fmt.Sprintf("the evaluated prefix %q", prefix))
	}
	return prefix, nil
}

// checkPartitionKeys checks that keys holds a usable value for each name,
// as computed by from.
func checkPartitionKeys(names []string, keys map[string]string, from string) error {
	for _, k := range names {
		v, ok := keys[k]
		if !ok {
			return fmt.Errorf("%s yielded no partition key %q", from, k)
		}
		if v == "" {
			return fmt.Errorf("partition key %q is empty", k)
		}
		if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("partition key %q holds invalid UTF-8 or a control character", k)
		}
		if strings.Contains(v, "!{") {
			return fmt.Errorf("partition key %q holds \"!{\"", k)
		}
	}
	return nil
}

// writeRecord writes one record into object o, sending it to the error
// output if it does not convert.
func (s *stream) writeRecord(b *batch, o *objectWriter, arrival time.Time, data []byte) {
	err := o.write(data)
	if err == nil {
		return
	}
	var ce *parquet.ConversionError
	if errors.As(err, &ce) {
		s.fail(b, ErrorTypeFormatConversion, errCodeConversion, ce.Error(), arrival, data, nil)
		return
	}
	// Any other error sticks in o: the object is built again.
}

// fail writes one record to the error output object of errType.
func (s *stream) fail(b *batch, errType, code, msg string, arrival time.Time, data []byte, keys map[string]string) {
	s.failRecord(b, errType, code, msg, 1, arrival, data, keys)
}

// failAttempts is fail for a record a destination tried attempts times.
func (s *stream) failAttempts(b *batch, errType, code, msg string, attempts int, arrival time.Time, data []byte) {
	s.failRecord(b, errType, code, msg, max(attempts, 1), arrival, data, nil)
}

func (s *stream) failRecord(b *batch, errType, code, msg string, attempts int, arrival time.Time, data []byte, keys map[string]string) {
	s.writeFailure(b, errType, errorRecord{
		AttemptsMade:     attempts,
		ArrivalTimestamp: arrival.UnixMilli(),
		ErrorCode:        code,
		ErrorMessage:     msg,
		RawData:          data,
		PartitionKeys:    keys,
	})
}

// writeFailure writes rec to the error output object of errType.
func (s *stream) writeFailure(b *batch, errType string, rec errorRecord) {
	o, err := s.errorWriter(b, errType)
	if err != nil {
		// The record must not be skipped: the batch is built again.
		b.err = err
		return
	}
	rec.AttemptEndingTimestamp = s.m.now().UnixMilli()
	line, err := json.Marshal(rec)
	if err != nil {
		panic(fmt.Sprintf("delivery: cannot encode error record: %v", err))
	}
	if err := o.write(append(line, '\n')); err != nil {
		b.err = err
		return
	}
	if b.failed == nil {
		b.failed = map[string]int{}
	}
	b.failed[errType]++
	s.m.metrics.failedRecords.WithLabelValues(s.name, errType).Inc()
}

// errorWriter returns the object writer of errType in the batch, opening
// it on first use.
func (s *stream) errorWriter(b *batch, errType string) (*objectWriter, error) {
	if s.errw == nil {
		s.errw = map[string]*objectWriter{}
	}
	o := s.errw[errType]
	if o == nil {
		o = &objectWriter{sp: spool{spoolFile: spoolFile{path: filepath.Join(s.dir, "spool-"+errType)}}}
		s.errw[errType] = o
	}
	if b.failed[errType] == 0 {
		dest := b.info.Config.Destination
		if err := o.open(dest.errorFormat(), s.m.opts.Keys); err != nil {
			s.logger.Error("cannot open an error output object", "type", errType, "err", err)
			return nil, err
		}
	}
	return o, nil
}

// objectFormat is how an object's bytes are made from its records.
type objectFormat struct {
	compression     string
	parquet         *FormatConversion // nil: records as they are
	appendDelimiter bool
	encrypt         bool
	kmsKeyID        string // SSE-KMS at the store
}

func (d *Destination) objectFormat() objectFormat {
	f := d.errorFormat()
	f.appendDelimiter = d.Processing.AppendDelimiter
	if d.FormatConversion.Enabled {
		f.parquet = &d.FormatConversion
	}
	return f
}

// errorFormat is how d's error output objects are made: JSON lines,
// compressed and encrypted as d's objects, whatever the format conversion.
func (d *Destination) errorFormat() objectFormat {
	return objectFormat{compression: d.Compression, encrypt: d.Encryption.ClientSide, kmsKeyID: d.Encryption.KMSKeyARN}
}

// extension is the object key extension of f.
func (f objectFormat) extension() string {
	ext := compress.Extension(f.compression)
	if f.parquet != nil {
		ext = parquet.Extension + ext
	}
	if f.encrypt {
		ext += encrypt.Extension
	}
	return ext
}

// objectWriter builds one object into a spool file: records → Parquet
// (optional) → compression → encryption (optional) → spool. Its buffers
// and encoders are reused from one object to the next.
type objectWriter struct {
	sp     spool
	format objectFormat

	zw compress.Writer
	zf string
	ew *encrypt.Writer
	pw *parquet.Writer
	pc *FormatConversion // the conversion pw was made for

	records int
	bytes   int
	nl      [1]byte
	// err is the first error that is not a record's own (a spool, a
	// compressor, an encryptor): the object is then built again.
	err error
}

// open starts a new object of format f.
func (o *objectWriter) open(f objectFormat, keys *encrypt.Keyring) error {
	o.release()
	o.sp.reset()
	o.format = f
	o.records, o.bytes, o.err = 0, 0, nil
	if o.sp.err != nil {
		o.err = o.sp.err
		return o.err
	}
	var w io.Writer = &o.sp
	if f.encrypt {
		if keys == nil {
			return errors.New("client-side encryption is on but no master keys are configured")
		}
		if o.ew == nil {
			ew, err := encrypt.NewWriter(w, keys)
			if err != nil {
				return err
			}
			o.ew = ew
		} else if err := o.ew.Reset(w); err != nil {
			return err
		}
		w = o.ew
	}
	if o.zw == nil || o.zf != f.compression {
		zw, err := compress.NewWriter(f.compression, w)
		if err != nil {
			return err
		}
		o.zw, o.zf = zw, f.compression
	} else {
		o.zw.Reset(w)
	}
	if f.parquet != nil {
		if o.pw == nil || !reflect.DeepEqual(o.pc, f.parquet) {
			pw, err := parquet.NewWriter(o.zw, &f.parquet.Schema, parquet.Options{
				Compression: f.parquet.Compression,
				PageBytes:   f.parquet.PageSizeBytes,
			})
			if err != nil {
				return err
			}
			o.pw, o.pc = pw, f.parquet
		} else {
			o.pw.Reset(o.zw)
		}
	}
	return nil
}

// write adds one record. A *parquet.ConversionError leaves the object as
// it was; other errors stick in the spool.
func (o *objectWriter) write(data []byte) error {
	if o.err != nil {
		return o.err
	}
	if o.format.parquet != nil {
		if err := o.pw.Write(data); err != nil {
			var ce *parquet.ConversionError
			if !errors.As(err, &ce) {
				o.err = err
			}
			return err
		}
	} else {
		if _, err := o.zw.Write(data); err != nil {
			o.err = err
			return err
		}
		if o.format.appendDelimiter {
			o.nl[0] = '\n'
			if _, err := o.zw.Write(o.nl[:]); err != nil {
				o.err = err
				return err
			}
		}
	}
	o.records++
	o.bytes += len(data)
	return nil
}

// finish completes the object in the spool and returns its size.
func (o *objectWriter) finish() (int64, error) {
	var errs []error
	if o.format.parquet != nil {
		errs = append(errs, o.pw.Close())
	}
	errs = append(errs, o.zw.Close())
	if o.format.encrypt {
		errs = append(errs, o.ew.Close())
	}
	size, err := o.sp.finish()
	errs = append(errs, err)
	return size, errors.Join(errs...)
}

// release drops the state of an object that was never finished, which
// for GZIP also ends its block goroutines.
func (o *objectWriter) release() {
	if o.zw != nil {
		o.zw.Reset(io.Discard)
	}
}

func (o *objectWriter) close() {
	o.release()
	o.sp.close()
}

// partSpool holds the raw records of one partition of a batch: per
// record a uvarint length, a varint arrival time in Unix milliseconds and
// the data. Like the spool, it is never synced: the log has the records.
type partSpool struct {
	spoolFile
	// keys and lambdaKeys are the partition's keys from the metadata
	// extraction query and from the function.
	keys, lambdaKeys map[string]string
	n                int
	err              error
	hdr              [2 * binary.MaxVarintLen64]byte
}

// partSpoolBuffer is the write buffer of each active partition.
const partSpoolBuffer = 16 << 10

// partSpool returns the i-th partition spool of the stream, emptied.
func (s *stream) partSpool(i int) *partSpool {
	for len(s.parts) <= i {
		s.parts = append(s.parts, &partSpool{spoolFile: spoolFile{path: filepath.Join(s.dir, "part-"+strconv.Itoa(len(s.parts)))}})
	}
	ps := s.parts[i]
	_ = ps.reset() // an error sticks in ps and surfaces at delivery
	return ps
}

// keptPartSpools is how many partition spools stay open between batches;
// the others are closed, so a burst of partitions does not hold file
// descriptors (and 16 KiB buffers) for the stream's lifetime.
const keptPartSpools = 64

func (s *stream) trimPartSpools() {
	if len(s.parts) <= keptPartSpools {
		return
	}
	for _, ps := range s.parts[keptPartSpools:] {
		ps.close()
		_ = os.Remove(ps.path)
	}
	s.parts = s.parts[:keptPartSpools]
}

// reset empties the spool for a new batch, opening its file on first use.
func (ps *partSpool) reset() error {
	ps.n, ps.keys, ps.lambdaKeys = 0, nil, nil
	ps.err = ps.rewind(partSpoolBuffer)
	return ps.err
}

func (ps *partSpool) append(arrival time.Time, data []byte) {
	if ps.err != nil {
		return
	}
	n := binary.PutUvarint(ps.hdr[:], uint64(len(data)))
	n += binary.PutVarint(ps.hdr[n:], arrival.UnixMilli())
	if _, err := ps.bw.Write(ps.hdr[:n]); err != nil {
		ps.err = fmt.Errorf("cannot write partition spool file %q: %w", ps.path, err)
		return
	}
	if _, err := ps.bw.Write(data); err != nil {
		ps.err = fmt.Errorf("cannot write partition spool file %q: %w", ps.path, err)
		return
	}
	ps.n++
}

// each reads the partition's records back, in order.
func (ps *partSpool) each(fn func(arrival time.Time, data []byte)) error {
	if ps.err != nil {
		return ps.err
	}
	if err := ps.bw.Flush(); err != nil {
		return fmt.Errorf("cannot write partition spool file %q: %w", ps.path, err)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(ps.f, 0, 1<<62), 64<<10)
	var buf []byte
	for range ps.n {
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("cannot read partition spool file %q: %w", ps.path, err)
		}
		ms, err := binary.ReadVarint(br)
		if err != nil {
			return fmt.Errorf("cannot read partition spool file %q: %w", ps.path, err)
		}
		buf = slices.Grow(buf[:0], int(size))[:size]
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("cannot read partition spool file %q: %w", ps.path, err)
		}
		fn(time.UnixMilli(ms), buf)
	}
	return nil
}
