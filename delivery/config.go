package delivery

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hydrantio/hydrant/delivery/compress"
	"github.com/hydrantio/hydrant/sinks/clickhouse"
	"github.com/hydrantio/hydrant/sinks/s3"
	"github.com/hydrantio/hydrant/sinks/webhook"
)

// Compression formats, named as Firehose names them, plus ZSTD. The names
// live in package compress, which implements them.
const (
	Uncompressed = compress.Uncompressed
	GZIP         = compress.GZIP
	ZIP          = compress.ZIP
	Snappy       = compress.Snappy
	HadoopSnappy = compress.HadoopSnappy
	ZSTD         = compress.ZSTD
)

// CompressionFormats lists every accepted CompressionFormat value.
var CompressionFormats = compress.Formats

// Limits on buffering hints, as Firehose sets them.
const (
	MinBufferSizeMB      = 1
	MaxBufferSizeMB      = 128
	MinBufferIntervalSec = 0
	MaxBufferIntervalSec = 900

	// DefaultBufferSizeMB and DefaultBufferIntervalSec are Firehose's
	// defaults for an S3 destination.
	DefaultBufferSizeMB      = 5
	DefaultBufferIntervalSec = 300

	// DefaultMaxLogBytes is a stream's log disk limit when none is set.
	DefaultMaxLogBytes int64 = 10 << 30
	// MinMaxLogBytes is the smallest disk limit accepted: one full buffer
	// plus room for the next.
	MinMaxLogBytes int64 = 4 << 20
)

// namePattern is Firehose's DeliveryStreamName pattern.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)

// ValidName reports whether name is a valid delivery stream name:
// Firehose's pattern, less the names starting with a dot, which Hydrant
// cannot use as directory names ("." and ".." would be the streams
// directory and the data dir themselves).
func ValidName(name string) bool { return namePattern.MatchString(name) && name[0] != '.' }

// StreamConfig declares one delivery stream. It is what the config file,
// the Firehose API and the on-disk stream definition all map onto.
type StreamConfig struct {
	// Name is the delivery stream name, [a-zA-Z0-9_.-]{1,64}.
	Name string `json:"name"`
	// Destination says where and how the stream delivers.
	Destination Destination `json:"destination"`
	// MaxLogBytes caps the stream's log on disk; when reached, producers
	// get ServiceUnavailableException until delivery catches up.
	MaxLogBytes int64 `json:"maxLogBytes,omitempty"`
	// Tags are the stream's tags (Firehose TagDeliveryStream).
	Tags map[string]string `json:"tags,omitempty"`
}

// Destination is an object-store destination (Firehose's
// ExtendedS3DestinationConfiguration).
type Destination struct {
	// Bucket is the bucket name (the part after arn:aws:s3::: in an ARN).
	Bucket string `json:"bucket"`
	// RoleARN is kept as given through the Firehose API and reported back;
	// Hydrant does not assume roles.
	RoleARN string `json:"roleArn,omitempty"`
	// Prefix is prepended to object keys; it may hold !{timestamp:…}
	// expressions. Empty means Firehose's default YYYY/MM/DD/HH/.
	Prefix string `json:"prefix,omitempty"`
	// ErrorOutputPrefix is prepended to keys of records that failed for good.
	ErrorOutputPrefix string `json:"errorOutputPrefix,omitempty"`
	// Buffering is the stream's buffering hints.
	Buffering BufferingHints `json:"buffering"`
	// Compression is one of CompressionFormats.
	Compression string `json:"compression"`
	// Processing is the record processing before delivery.
	Processing Processing `json:"processing,omitzero"`
	// DynamicPartitioning delivers records to prefixes computed from
	// their content.
	DynamicPartitioning DynamicPartitioning `json:"dynamicPartitioning,omitzero"`
	// FormatConversion converts JSON records to Parquet.
	FormatConversion FormatConversion `json:"formatConversion,omitzero"`
	// Encryption says how objects are encrypted.
	Encryption ObjectEncryption `json:"encryption,omitzero"`
	// Backup copies the source records to a second bucket.
	Backup Backup `json:"backup,omitzero"`
	// S3, when its Endpoint is set, sends this destination's objects to
	// that S3 server instead of the manager's store. Its secrets are not
	// saved with the definition: a stream declared in the config file gets
	// them again at every start.
	S3 s3.Config `json:"s3,omitzero"`
	// HTTP, when its URL is set, sends the records to an HTTP endpoint
	// (Firehose's HttpEndpointDestinationConfiguration) instead of writing
	// them as objects; Bucket, Prefix and ErrorOutputPrefix then say where
	// failed records (and, with Backup.Mode AllData, every record) go.
	HTTP webhook.Config `json:"http,omitzero"`
	// ClickHouse, when it names servers, inserts the records into a
	// ClickHouse table (a Hydrant extension), with the bucket as for HTTP.
	ClickHouse clickhouse.Config `json:"clickhouse,omitzero"`
}

// BufferingHints say when a buffer is delivered: when it holds SizeMB
// mebibytes or is IntervalSeconds old, whichever comes first.
type BufferingHints struct {
	SizeMB          int `json:"sizeInMBs"`
	IntervalSeconds int `json:"intervalInSeconds"`
}

// Interval returns the buffering interval as a duration.
func (b BufferingHints) Interval() time.Duration {
	return time.Duration(b.IntervalSeconds) * time.Second
}

// SizeBytes returns the buffering size in bytes.
func (b BufferingHints) SizeBytes() int { return b.SizeMB << 20 }

// ApplyDefaults fills every unset field with its default. It is the one
// place where defaults live.
func (c *StreamConfig) ApplyDefaults() {
	if c.MaxLogBytes == 0 {
		c.MaxLogBytes = DefaultMaxLogBytes
	}
	c.Destination.ApplyDefaults()
}

// ApplyDefaults fills every unset field of d with its default. A zero
// IntervalSeconds is meaningful (deliver as soon as possible), so only a
// negative one is replaced; callers that distinguish "unset" from zero use
// DefaultBufferIntervalSec themselves.
func (d *Destination) ApplyDefaults() {
	if d.Buffering.SizeMB == 0 {
		d.Buffering.SizeMB = DefaultBufferSizeMB
	}
	if d.Buffering.IntervalSeconds < 0 {
		d.Buffering.IntervalSeconds = DefaultBufferIntervalSec
	}
	if d.Compression == "" {
		d.Compression = Uncompressed
	}
	d.ApplyFeatureDefaults()
}

// ApplyFeatureDefaults fills the unset fields of the features turned on
// (partitioning, format conversion, de-aggregation), whose defaults are
// only known once the feature is: a config loader that applied the other
// defaults before decoding calls it after.
func (d *Destination) ApplyFeatureDefaults() {
	d.Processing.applyDefaults()
	d.DynamicPartitioning.applyDefaults()
	d.FormatConversion.applyDefaults()
	d.Backup.applyDefaults()
}

// FieldError is a validation error about one field. Field is the dotted
// path of the field as the config file spells it (destination.buffering.size_mb),
// so the config loader can point at the file line; the API layers map it
// onto their own parameter names.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks a stream config after defaults were applied and returns
// the first problem as a *FieldError.
func (c *StreamConfig) Validate() error {
	if !ValidName(c.Name) {
		return &FieldError{"name", fmt.Sprintf("%q is not a valid stream name: use 1 to 64 of a-z A-Z 0-9 _ . -, not starting with a dot", c.Name)}
	}
	if c.MaxLogBytes < MinMaxLogBytes {
		return &FieldError{"max_log_bytes", fmt.Sprintf("%d is below the minimum of %d bytes", c.MaxLogBytes, MinMaxLogBytes)}
	}
	if err := c.Destination.Validate(); err != nil {
		fe := err.(*FieldError)
		return &FieldError{"destination." + fe.Field, fe.Message}
	}
	return nil
}

var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Validate checks a destination after defaults were applied.
func (d *Destination) Validate() error {
	if !bucketPattern.MatchString(d.Bucket) || strings.Contains(d.Bucket, "..") {
		return &FieldError{"bucket", fmt.Sprintf("%q is not a valid bucket name: use 3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit", d.Bucket)}
	}
	if d.Buffering.SizeMB < MinBufferSizeMB || d.Buffering.SizeMB > MaxBufferSizeMB {
		return &FieldError{"buffering.size_mb", fmt.Sprintf("%d is out of range: use %d to %d", d.Buffering.SizeMB, MinBufferSizeMB, MaxBufferSizeMB)}
	}
	if d.Buffering.IntervalSeconds < MinBufferIntervalSec || d.Buffering.IntervalSeconds > MaxBufferIntervalSec {
		return &FieldError{"buffering.interval_seconds", fmt.Sprintf("%d is out of range: use %d to %d", d.Buffering.IntervalSeconds, MinBufferIntervalSec, MaxBufferIntervalSec)}
	}
	ok := false
	for _, f := range CompressionFormats {
		if d.Compression == f {
			ok = true
		}
	}
	if !ok {
		return &FieldError{"compression", fmt.Sprintf("%q is not a compression format: use one of %s", d.Compression, strings.Join(CompressionFormats, ", "))}
	}
	if err := ValidatePrefix(d.Prefix); err != nil {
		return &FieldError{"prefix", err.Error()}
	}
	if err := ValidatePrefix(d.ErrorOutputPrefix); err != nil {
		return &FieldError{"error_output_prefix", err.Error()}
	}
	if fe := validatePrefixPair(d.Prefix, d.ErrorOutputPrefix); fe != nil {
		return fe
	}
	if fe := d.validateProcessing(); fe != nil {
		return fe
	}
	if d.recordSink() {
		if fe := d.validateRecordSink(); fe != nil {
			return fe
		}
	} else if fe := d.Backup.validate(); fe != nil {
		return fe
	}
	if d.S3.Endpoint != "" {
		if err := d.S3.Validate(); err != nil {
			return &FieldError{"s3", err.Error()}
		}
	}
	return nil
}
