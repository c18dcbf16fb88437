package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/sinks/parquet"
)

// The keys of a destination's record processing, partitioning, format
// conversion and encryption, and the server's master keys.

var encryptionSpec = &object{atMostOne: []string{"key_file", "keys_env"}, fields: []*field{{
	key: "key_file",
	doc: "File holding the master keys of client-side encryption, one per line as " +
		"<id>:<base64 of 32 bytes> (hydrant keys new prints one). The last key is the " +
		"current one, which encrypts new objects; the others still decrypt older ones, " +
		"so a key is rotated by appending a new line.",
	dflt:     `default: "" (the environment variable ` + encrypt.EnvMasterKeys + `, if set)`,
	example:  "/etc/hydrant/master-keys",
	disabled: true,
	value:    str(func(e *Encryption) *string { return &e.KeyFile }, nil),
}, {
	key: "keys_env",
	doc: "Name of an environment variable holding the master keys in the key file's " +
		"format, entries separated by newlines or commas.",
	dflt:     `default: "" (` + encrypt.EnvMasterKeys + `)`,
	example:  encrypt.EnvMasterKeys,
	disabled: true,
	value:    str(func(e *Encryption) *string { return &e.KeysEnv }, nil),
}}}

var processingSpec = &object{fields: []*field{{
	key: "de_aggregation",
	doc: "Splits every record into sub-records before anything else: JSON splits " +
		"JSON objects written one after another, DELIMITED splits on delimiter. Each " +
		"sub-record is then partitioned, converted and delivered as a record of its own " +
		"(Firehose's RecordDeAggregation).",
	rng:   `"", ` + delivery.SubRecordJSON + " or " + delivery.SubRecordDelimited,
	dflt:  `default: "" (off)`,
	value: str(func(p *delivery.Processing) *string { return &p.DeAggregation }, nil),
}, {
	key:   "delimiter",
	doc:   "Separator of DELIMITED sub-records.",
	dflt:  `default: "\n" with DELIMITED`,
	value: str(func(p *delivery.Processing) *string { return &p.Delimiter }, nil),
}, {
	key: "metadata_extraction_query",
	doc: "A jq expression (jq 1.6, evaluated with gojq) that yields an object of " +
		"partition keys from each JSON record, used in the prefix as " +
		"!{partitionKeyFromQuery:KEY}. It needs dynamic_partitioning. A record it fails " +
		"on goes to the error output as partitioning-failed.",
	example:  `"{customer: .customer_id, year: .ts[0:4]}"`,
	disabled: true,
	value:    str(func(p *delivery.Processing) *string { return &p.MetadataExtractionQuery }, nil),
}, {
	key:   "append_delimiter",
	doc:   "Appends a newline to every record delivered (Firehose's AppendDelimiterToRecord).",
	value: boolean(func(p *delivery.Processing) *bool { return &p.AppendDelimiter }),
}, {
	key: "decompression",
	doc: "Decompresses every record before anything else (Firehose's Decompression " +
		"processor, for CloudWatch Logs subscriptions). A record that does not " +
		"decompress goes to the error output as decompression-failed.",
	rng:   `"" or ` + delivery.DecompressionGZIP,
	dflt:  `default: "" (off)`,
	value: str(func(p *delivery.Processing) *string { return &p.Decompression }, nil),
}, {
	key: "cloudwatch_log_processing",
	doc: "Replaces each CloudWatch Logs subscription record by the messages of its log " +
		"events, one record each, and drops CONTROL_MESSAGE records (Firehose's " +
		"CloudWatchLogProcessing with DataMessageExtraction). It needs decompression: GZIP.",
	value: boolean(func(p *delivery.Processing) *bool { return &p.CloudWatchLogs }),
}, {
	key: "function",
	doc: "A transformation function, declared under functions:, run over the records " +
		"after de-aggregation and before partitioning, format conversion and delivery " +
		"(Firehose's Lambda processor, with the same JSON contract). Records are " +
		"buffered up to buffer_size or buffer_interval_seconds, whichever comes first, " +
		"and the function is invoked once per buffer.",
	value: mapping(func(p *delivery.Processing) *delivery.FunctionProcessing { return &p.Function }, functionProcessingSpec),
}}}

var functionProcessingSpec = &object{fields: []*field{{
	key:      "name",
	doc:      "Name of the function, as declared under functions:.",
	example:  "enrich",
	disabled: true,
	value:    str(func(f *delivery.FunctionProcessing) *string { return &f.Name }, nil),
}, {
	key: "number_of_retries",
	doc: "Retries of a failed invocation (an error, a timeout, an answer that breaks " +
		"the contract) before its records go to the error output as processing-failed.",
	rng:   fmt.Sprintf("0 to %d", delivery.MaxFunctionRetries),
	dflt:  fmt.Sprintf("default: %d", delivery.DefaultFunctionRetries),
	value: integer(func(f *delivery.FunctionProcessing) *int { return &f.NumberOfRetries }),
}, {
	key:   "buffer_size",
	doc:   "Processing buffer size that triggers an invocation (Firehose's BufferSizeInMBs).",
	rng:   formatSize(delivery.MinFunctionBufferBytes) + " to " + formatSize(delivery.MaxFunctionBufferBytes),
	dflt:  "default: " + formatSize(delivery.DefaultFunctionBufferBytes) + " with a function",
	value: size(func(f *delivery.FunctionProcessing) *int64 { return &f.BufferSizeBytes }),
}, {
	key: "buffer_interval_seconds",
	doc: "Processing buffer age that triggers an invocation (Firehose's " +
		"BufferIntervalInSeconds). The delivery buffer flushes it too.",
	rng:   fmt.Sprintf("%d to %d", delivery.MinFunctionBufferInterval, delivery.MaxFunctionBufferInterval),
	dflt:  fmt.Sprintf("default: %d with a function", delivery.DefaultFunctionBufferInterval),
	value: integer(func(f *delivery.FunctionProcessing) *int { return &f.BufferIntervalSeconds }),
}}}

var dynamicPartitioningSpec = &object{fields: []*field{{
	key: "enabled",
	doc: "Delivers each record under the prefix its partition keys give. The prefix " +
		"must then use !{partitionKeyFromQuery:KEY} and error_output_prefix must be set.",
	value: boolean(func(p *delivery.DynamicPartitioning) *bool { return &p.Enabled }),
}, {
	key: "max_active_partitions",
	doc: "Most partitions one buffer holds; records of any further partition go to " +
		"the error output as partitioning-failed.",
	rng:  fmt.Sprintf("1 to %d", delivery.MaxMaxActivePartitions),
	dflt: fmt.Sprintf("default: %d when enabled", delivery.DefaultMaxActivePartitions),
	value: integer(func(p *delivery.DynamicPartitioning) *int {
		return &p.MaxActivePartitions
	}),
}, {
	key: "retry_duration_seconds",
	doc: "Firehose's RetryOptions.DurationInSeconds, kept and reported. Hydrant retries " +
		"object writes until they succeed, since the records wait in its log.",
	rng:   fmt.Sprintf("0 to %d", delivery.MaxPartitionRetrySec),
	dflt:  fmt.Sprintf("default: %d when enabled", delivery.DefaultPartitionRetrySec),
	value: integer(func(p *delivery.DynamicPartitioning) *int { return &p.RetryDurationSeconds }),
}}}

var formatConversionSpec = &object{fields: []*field{{
	key: "enabled",
	doc: "Converts JSON records to Apache Parquet, one file per object. compression " +
		"must then be UNCOMPRESSED: Parquet compresses its columns itself. A record that " +
		"does not fit the schema goes to the error output as format-conversion-failed.",
	value: boolean(func(f *delivery.FormatConversion) *bool { return &f.Enabled }),
}, {
	key:   "compression",
	doc:   "Compression of the Parquet columns.",
	rng:   "one of " + strings.Join(parquet.Compressions, ", "),
	dflt:  "default: " + delivery.DefaultParquetCompression + " when enabled",
	value: str(func(f *delivery.FormatConversion) *string { return &f.Compression }, nil),
}, {
	key: "block_size",
	doc: "Firehose's ParquetSerDe BlockSizeBytes, kept and reported. Hydrant cuts row " +
		"groups smaller, so memory stays bounded whatever the buffer size.",
	rng:   "at least " + formatSize(delivery.MinParquetBlockSize),
	dflt:  "default: " + formatSize(delivery.DefaultParquetBlockSize) + " when enabled",
	value: size(func(f *delivery.FormatConversion) *int64 { return &f.BlockSizeBytes }),
}, {
	key:   "page_size",
	doc:   "Target size of a Parquet page, before compression.",
	rng:   "at least " + formatSize(delivery.MinParquetPageSize),
	dflt:  "default: " + formatSize(delivery.DefaultParquetPageSize) + " when enabled",
	value: size(func(f *delivery.FormatConversion) *int64 { return &f.PageSizeBytes }),
}, {
	key: "schema",
	doc: "Columns of the Parquet files, in order. A JSON field fills the column of the " +
		"same name, compared without case; other fields are dropped.",
	value: list(func(f *delivery.FormatConversion) *[]parquet.Column { return &f.Schema.Columns }, func() parquet.Column { return parquet.Column{} }, &object{fields: []*field{{
		key:      "name",
		doc:      "Column name.",
		required: true,
		example:  "user_id",
		value:    str(func(c *parquet.Column) *string { return &c.Name }, notEmpty("the column name")),
	}, {
		key: "type",
		doc: "Column type, as Hive and AWS Glue write them: string, boolean, tinyint, " +
			"smallint, int, bigint, float, double, decimal(P,S), date, timestamp, binary, " +
			"array<T>, struct<NAME:T,…> and map<string,T>. A timestamp takes epoch " +
			"milliseconds or an RFC 3339 or yyyy-MM-dd HH:mm:ss[.f…] string.",
		required: true,
		example:  "string",
		value:    hiveType(),
	}, {
		key: "optional",
		doc: "Whether a record may leave the column out or null; a record missing a " +
			"required column goes to the error output. Fields inside struct and array " +
			"types are always optional, as in Hive.",
		value: boolean(func(c *parquet.Column) *bool { return &c.Optional }),
	}}}),
}}}

var objectEncryptionSpec = &object{fields: []*field{{
	key: "client_side",
	doc: "Encrypts every object with AES-256-GCM under a data key of its own, wrapped " +
		"by the current master key (encryption.key_file); keys get the .enc extension " +
		"and hydrant decrypt reads them back.",
	value: boolean(func(e *delivery.ObjectEncryption) *bool { return &e.ClientSide }),
}, {
	key: "kms_key_arn",
	doc: "Asks the S3 server to encrypt objects with SSE-KMS under this key, as " +
		"Firehose's KMSEncryptionConfig does; the embedded object store ignores it.",
	example:  "arn:aws:kms:us-east-1:000000000000:key/hydrant",
	disabled: true,
	value:    str(func(e *delivery.ObjectEncryption) *string { return &e.KMSKeyARN }, nil),
}}}

// hiveType is a column type written as a Hive type, stored as the
// column's Type, Fields and Element.
func hiveType() *value {
	return &value{
		typ: "string",
		decode: func(dst any, n *yaml.Node) error {
			s, err := decodeString(n)
			if err != nil {
				return err
			}
			c, err := parseHiveType(s)
			if err != nil {
				return err
			}
			col := dst.(*parquet.Column)
			col.Type, col.Fields, col.Element = c.Type, c.Fields, c.Element
			return nil
		},
		show: func(dst any) string { return yamlString(formatHiveType(*dst.(*parquet.Column))) },
	}
}
