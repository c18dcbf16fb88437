package delivery

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hydrantio/hydrant/delivery/partition"
	"github.com/hydrantio/hydrant/sinks/parquet"
)

// Record processing between the log and the object, in Firehose's order:
// de-aggregation splits a record into sub-records; metadata extraction
// computes each one's partition keys; format conversion turns it into a
// Parquet row, or the delimiter is appended to it. A record that fails a
// step goes to the error output with the step's error type.

// Sub-record types of RecordDeAggregation.
const (
	SubRecordJSON      = "JSON"
	SubRecordDelimited = "DELIMITED"
)

// Error output types: what !{firehose:error-output-type} evaluates to in
// the key of an object holding failed records.
const (
	ErrorTypeProcessing       = "processing-failed"
	ErrorTypeFormatConversion = "format-conversion-failed"
	ErrorTypePartitioning     = "partitioning-failed"
	// ErrorTypeDecompression: records the Decompression processor could
	// not decompress, kept as they came, as Firehose keeps them.
	ErrorTypeDecompression = "decompression-failed"
)

// Dynamic partitioning limits. Firehose allows 500 active partitions per
// stream by default and retries a failed S3 write of a partition for 300
// seconds by default, up to 7200.
const (
	DefaultMaxActivePartitions = 500
	MaxMaxActivePartitions     = 10000
	DefaultPartitionRetrySec   = 300
	MaxPartitionRetrySec       = 7200
)

// Schema and Column are the Parquet schema of a format conversion, so
// that the protocol layers can spell it without importing a sink.
type (
	Schema = parquet.Schema
	Column = parquet.Column
)

// Processing is the record processing of a destination (Firehose's
// ProcessingConfiguration processors that do not call a function).
type Processing struct {
	// DeAggregation splits every record into sub-records: SubRecordJSON
	// (JSON objects one after another) or SubRecordDelimited (split on
	// Delimiter); empty disables it.
	DeAggregation string `json:"deAggregation,omitempty"`
	// Delimiter separates DELIMITED sub-records; empty means a newline.
	Delimiter string `json:"delimiter,omitempty"`
	// MetadataExtractionQuery is a jq expression yielding an object of
	// partition keys, !{partitionKeyFromQuery:KEY} in prefixes. It needs
	// dynamic partitioning.
	MetadataExtractionQuery string `json:"metadataExtractionQuery,omitempty"`
	// AppendDelimiter appends a newline to every record delivered
	// (AppendDelimiterToRecord).
	AppendDelimiter bool `json:"appendDelimiterToRecord,omitempty"`
	// Decompression decompresses every record before anything else:
	// DecompressionGZIP (Firehose's Decompression processor, for CloudWatch
	// Logs subscriptions); empty disables it.
	Decompression string `json:"decompression,omitempty"`
	// CloudWatchLogs replaces every CloudWatch Logs subscription record by
	// the messages of its log events, one record each, and drops control
	// messages (Firehose's CloudWatchLogProcessing with
	// DataMessageExtraction). It needs Decompression.
	CloudWatchLogs bool `json:"cloudWatchLogProcessing,omitempty"`
	// Function runs a transformation function over the records (Firehose's
	// Lambda processor); a zero Function runs none.
	Function FunctionProcessing `json:"function,omitzero"`
}

// Decompression formats of the Decompression processor.
const DecompressionGZIP = "GZIP"

// MaxDecompressedBytes bounds a decompressed record, so that a gzip bomb
// fails its record instead of exhausting memory: 16 MiB, far above
// CloudWatch Logs' 1 MiB events.
const MaxDecompressedBytes = 16 << 20

// FunctionProcessing is a transformation function run over the records
// before partitioning, format conversion and delivery. The records are
// buffered up to BufferSizeBytes or BufferIntervalSeconds, whichever comes
// first, and the function is invoked once per buffer.
type FunctionProcessing struct {
	// Name names a function declared in the server's config (functions:).
	Name string `json:"name,omitempty"`
	// ARN is the Lambda ARN the function was named by through the API,
	// reported back as given; its function name is Name.
	ARN string `json:"arn,omitempty"`
	// NumberOfRetries is how many times a failed invocation is retried
	// before its records go to the error output. Zero is meaningful: the
	// config and API loaders set DefaultFunctionRetries when it is unset.
	NumberOfRetries int `json:"numberOfRetries"`
	// BufferSizeBytes and BufferIntervalSeconds are the processing buffer
	// hints (Firehose's BufferSizeInMBs, BufferIntervalInSeconds).
	BufferSizeBytes       int64 `json:"bufferSizeBytes,omitempty"`
	BufferIntervalSeconds int   `json:"bufferIntervalSeconds,omitempty"`
}

// Firehose's Lambda processor defaults and limits.
const (
	DefaultFunctionRetries              = 3
	MaxFunctionRetries                  = 300
	DefaultFunctionBufferBytes    int64 = 1 << 20
	MinFunctionBufferBytes        int64 = 200 << 10 // Firehose's 0.2 MB
	MaxFunctionBufferBytes        int64 = 3 << 20
	DefaultFunctionBufferInterval       = 60
	MinFunctionBufferInterval           = 60
	MaxFunctionBufferInterval           = 900
)

func (f *FunctionProcessing) enabled() bool { return f.Name != "" }

// DynamicPartitioning is Firehose's DynamicPartitioningConfiguration.
type DynamicPartitioning struct {
	Enabled bool `json:"enabled,omitempty"`
	// RetryDurationSeconds is Firehose's RetryOptions.DurationInSeconds.
	// It is kept and reported; Hydrant retries writes to the object store
	// until they succeed, because the records are in its log.
	RetryDurationSeconds int `json:"retryDurationSeconds,omitempty"`
	// MaxActivePartitions caps the partitions one buffer may hold; the
	// records of any further partition go to the error output.
	MaxActivePartitions int `json:"maxActivePartitions,omitempty"`
}

// FormatConversion is Firehose's DataFormatConversionConfiguration with a
// JSON deserializer and the Parquet serializer, the schema given inline.
type FormatConversion struct {
	Enabled bool           `json:"enabled,omitempty"`
	Schema  parquet.Schema `json:"schema"`
	// Compression is the Parquet column compression: SNAPPY (default),
	// GZIP, ZSTD or UNCOMPRESSED.
	Compression string `json:"compression,omitempty"`
	// BlockSizeBytes is Firehose's row group size. Hydrant keeps it and
	// reports it, but writes row groups of at most RowGroupBytes, so
	// memory stays bounded whatever the buffering hints.
	BlockSizeBytes int64 `json:"blockSizeBytes,omitempty"`
	// PageSizeBytes is Firehose's Parquet page size; 0 is parquet-go's
	// default.
	PageSizeBytes int64 `json:"pageSizeBytes,omitempty"`
}

// Firehose's ParquetSerDe defaults and limits.
const (
	DefaultParquetCompression       = "SNAPPY"
	DefaultParquetBlockSize   int64 = 256 << 20
	MinParquetBlockSize       int64 = 64 << 20
	MinParquetPageSize        int64 = 64 << 10
	DefaultParquetPageSize    int64 = 1 << 20
)

// ObjectEncryption says how objects are encrypted.
type ObjectEncryption struct {
	// ClientSide encrypts every object of the destination with AES-256-GCM
	// under a data key of its own, wrapped by the server's current master
	// key (see package encrypt). Object keys get the .enc extension.
	ClientSide bool `json:"clientSide,omitempty"`
	// KMSKeyARN is Firehose's EncryptionConfiguration.KMSEncryptionConfig:
	// objects written to S3 ask for SSE-KMS with this key.
	KMSKeyARN string `json:"kmsKeyArn,omitempty"`
}

func (p *Processing) applyDefaults() {
	if p.DeAggregation == SubRecordDelimited && p.Delimiter == "" {
		p.Delimiter = "\n"
	}
	if f := &p.Function; f.enabled() {
		if f.BufferSizeBytes == 0 {
			f.BufferSizeBytes = DefaultFunctionBufferBytes
		}
		if f.BufferIntervalSeconds == 0 {
			f.BufferIntervalSeconds = DefaultFunctionBufferInterval
		}
	}
}

func (d *DynamicPartitioning) applyDefaults() {
	if !d.Enabled {
		return
	}
	if d.RetryDurationSeconds == 0 {
		d.RetryDurationSeconds = DefaultPartitionRetrySec
	}
	if d.MaxActivePartitions == 0 {
		d.MaxActivePartitions = DefaultMaxActivePartitions
	}
}

func (f *FormatConversion) applyDefaults() {
	if !f.Enabled {
		return
	}
	if f.Compression == "" {
		f.Compression = DefaultParquetCompression
	}
	if f.BlockSizeBytes == 0 {
		f.BlockSizeBytes = DefaultParquetBlockSize
	}
	if f.PageSizeBytes == 0 {
		f.PageSizeBytes = DefaultParquetPageSize
	}
}

// validateProcessing checks the processing, partitioning, conversion and
// encryption settings of d and how they fit its prefixes.
func (d *Destination) validateProcessing() *FieldError {
	p := &d.Processing
	switch p.DeAggregation {
	case "":
		if p.Delimiter != "" {
			return &FieldError{"processing.delimiter", "is only used with de_aggregation: " + SubRecordDelimited}
		}
	case SubRecordJSON:
		if p.Delimiter != "" {
			return &FieldError{"processing.delimiter", "is only used with de_aggregation: " + SubRecordDelimited}
		}
	case SubRecordDelimited:
		if err := partition.ValidateDelimiter([]byte(p.Delimiter)); err != nil {
			return &FieldError{"processing.delimiter", err.Error()}
		}
	default:
		return &FieldError{"processing.de_aggregation", fmt.Sprintf("%q is not a sub-record type: use %s or %s", p.DeAggregation, SubRecordJSON, SubRecordDelimited)}
	}

	pt, err := parsePrefixTemplate(d.Prefix)
	if err != nil {
		return &FieldError{"prefix", err.Error()}
	}
	dp := &d.DynamicPartitioning
	var queryKeys []string
	if p.MetadataExtractionQuery != "" {
		if !dp.Enabled {
			return &FieldError{"processing.metadata_extraction_query", "needs dynamic_partitioning.enabled: true"}
		}
		q, err := partition.Compile(p.MetadataExtractionQuery)
		if err != nil {
			return &FieldError{"processing.metadata_extraction_query", err.Error()}
		}
		queryKeys = q.Keys()
	}
	if dp.Enabled {
		if dp.RetryDurationSeconds < 0 || dp.RetryDurationSeconds > MaxPartitionRetrySec {
			return &FieldError{"dynamic_partitioning.retry_duration_seconds", fmt.Sprintf("%d is out of range: use 0 to %d", dp.RetryDurationSeconds, MaxPartitionRetrySec)}
		}
		if dp.MaxActivePartitions < 1 || dp.MaxActivePartitions > MaxMaxActivePartitions {
			return &FieldError{"dynamic_partitioning.max_active_partitions", fmt.Sprintf("%d is out of range: use 1 to %d", dp.MaxActivePartitions, MaxMaxActivePartitions)}
		}
		if d.ErrorOutputPrefix == "" {
			return &FieldError{"error_output_prefix", "must be set when dynamic partitioning is enabled: records whose partition keys cannot be extracted are written under it"}
		}
		if !pt.hasPartitionKey {
			return &FieldError{"prefix", "must contain a !{partitionKeyFromQuery:KEY} or !{partitionKeyFromLambda:KEY} expression when dynamic partitioning is enabled"}
		}
		if p.MetadataExtractionQuery == "" && len(pt.keys(prefixNSPartitionKeyFromQuery)) > 0 {
			return &FieldError{"processing.metadata_extraction_query", "must be set: the prefix uses !{partitionKeyFromQuery:…}"}
		}
	} else if pt.hasPartitionKey {
		return &FieldError{"prefix", "!{partitionKeyFrom…} expressions need dynamic_partitioning.enabled: true"}
	}
	if len(queryKeys) > 0 {
		for _, k := range pt.keys(prefixNSPartitionKeyFromQuery) {
			if !slices.Contains(queryKeys, k) {
				return &FieldError{"prefix", fmt.Sprintf("!{partitionKeyFromQuery:%s}: the metadata extraction query yields no key %q (it yields %s)", k, k, strings.Join(queryKeys, ", "))}
			}
		}
	}
	if len(pt.keys(prefixNSPartitionKeyFromLambda)) > 0 && !p.Function.enabled() {
		return &FieldError{"prefix", "!{partitionKeyFromLambda:…} needs a transform function (processing.function), which this destination does not have"}
	}
	if fe := p.validateFunctions(); fe != nil {
		return fe
	}
	et, err := parsePrefixTemplate(d.ErrorOutputPrefix)
	if err != nil {
		return &FieldError{"error_output_prefix", err.Error()}
	}
	if et.hasPartitionKey {
		return &FieldError{"error_output_prefix", "cannot contain !{partitionKeyFrom…} expressions: failed records may have no partition keys"}
	}

	fc := &d.FormatConversion
	if fc.Enabled {
		if d.Compression != Uncompressed {
			return &FieldError{"compression", fmt.Sprintf("must be %s when format_conversion is enabled: Parquet compresses its columns itself (format_conversion.compression)", Uncompressed)}
		}
		if p.AppendDelimiter {
			return &FieldError{"processing.append_delimiter", "cannot be used with format_conversion: Parquet rows have no delimiter"}
		}
		if !slices.Contains(parquet.Compressions, fc.Compression) {
			return &FieldError{"format_conversion.compression", fmt.Sprintf("%q is not a Parquet compression: use one of %s", fc.Compression, strings.Join(parquet.Compressions, ", "))}
		}
		if fc.BlockSizeBytes < MinParquetBlockSize {
			return &FieldError{"format_conversion.block_size", fmt.Sprintf("%d is below the minimum of %d bytes", fc.BlockSizeBytes, MinParquetBlockSize)}
		}
		if fc.PageSizeBytes < MinParquetPageSize {
			return &FieldError{"format_conversion.page_size", fmt.Sprintf("%d is below the minimum of %d bytes", fc.PageSizeBytes, MinParquetPageSize)}
		}
		if len(fc.Schema.Columns) == 0 {
			return &FieldError{"format_conversion.schema", "must declare at least one column"}
		}
		if err := fc.Schema.Validate(); err != nil {
			var fe *parquet.FieldError
			if errors.As(err, &fe) {
				// The config file lists the columns as schema[i].
				return &FieldError{"format_conversion.schema" + strings.TrimPrefix(fe.Field, "columns"), fe.Message}
			}
			return &FieldError{"format_conversion.schema", err.Error()}
		}
	}
	if d.Encryption.KMSKeyARN != "" && strings.TrimSpace(d.Encryption.KMSKeyARN) != d.Encryption.KMSKeyARN {
		return &FieldError{"encryption.kms_key_arn", "has leading or trailing spaces"}
	}
	return nil
}

// validateFunctions checks the decompression, CloudWatch Logs and
// function settings.
func (p *Processing) validateFunctions() *FieldError {
	switch p.Decompression {
	case "", DecompressionGZIP:
	default:
		return &FieldError{"processing.decompression", fmt.Sprintf("%q is not a decompression format: use %s", p.Decompression, DecompressionGZIP)}
	}
	if p.CloudWatchLogs && p.Decompression == "" {
		return &FieldError{"processing.cloudwatch_log_processing", "needs processing.decompression: " + DecompressionGZIP + " (CloudWatch Logs subscription records are gzipped)"}
	}
	f := &p.Function
	if !f.enabled() {
		if f.ARN != "" || f.BufferSizeBytes != 0 || f.BufferIntervalSeconds != 0 {
			return &FieldError{"processing.function.name", "must name a function when the function's other settings are given"}
		}
		return nil
	}
	if !validFunctionName(f.Name) {
		return &FieldError{"processing.function.name", fmt.Sprintf("%q is not a function name: use 1 to 64 of a-z A-Z 0-9 _ -", f.Name)}
	}
	if f.NumberOfRetries < 0 || f.NumberOfRetries > MaxFunctionRetries {
		return &FieldError{"processing.function.number_of_retries", fmt.Sprintf("%d is out of range: use 0 to %d", f.NumberOfRetries, MaxFunctionRetries)}
	}
	if f.BufferSizeBytes < MinFunctionBufferBytes || f.BufferSizeBytes > MaxFunctionBufferBytes {
		return &FieldError{"processing.function.buffer_size", fmt.Sprintf("%d bytes is out of range: use 200KiB (%d) to 3MiB (%d)", f.BufferSizeBytes, MinFunctionBufferBytes, MaxFunctionBufferBytes)}
	}
	if f.BufferIntervalSeconds < MinFunctionBufferInterval || f.BufferIntervalSeconds > MaxFunctionBufferInterval {
		return &FieldError{"processing.function.buffer_interval_seconds", fmt.Sprintf("%d is out of range: use %d to %d", f.BufferIntervalSeconds, MinFunctionBufferInterval, MaxFunctionBufferInterval)}
	}
	return nil
}

// validFunctionName reports whether s can name a function: Lambda's
// function name characters.
func validFunctionName(s string) bool {
	return len(s) <= 64 && validPartitionKeyName(s)
}

// keys returns the key names of the template's expressions of namespace ns.
func (tmpl *prefixTemplate) keys(ns string) []string {
	var keys []string
	for _, part := range tmpl.parts {
		if part.ns == ns && !slices.Contains(keys, part.value) {
			keys = append(keys, part.value)
		}
	}
	return keys
}
