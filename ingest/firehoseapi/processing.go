package firehoseapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/delivery/partition"
)

// The record processing, dynamic partitioning, format conversion and
// object encryption of an S3 destination: Firehose's
// ProcessingConfiguration, DynamicPartitioningConfiguration,
// DataFormatConversionConfiguration and EncryptionConfiguration, mapped
// onto the delivery.Destination fields of the same ideas. Requests and
// descriptions share these shapes; pointers tell an absent member from a
// zero one in requests, and are left out of descriptions when nil.
//
// Hydrant's extensions are JSON members the AWS model does not have. The
// AWS SDKs and CLI cannot send them (the CLI refuses unknown members), so
// they are given in raw JSON requests; the SDKs skip them in descriptions.
//
//	DynamicPartitioningConfiguration.MaxActivePartitions  integer, 1 to 10000; 500 when absent
//	EncryptionConfiguration.HydrantClientSideEncryption   boolean: AES-256-GCM under the server's master keys
//	ParquetSerDe.Compression "ZSTD"                       beside SNAPPY, GZIP and UNCOMPRESSED
//	SchemaConfiguration.Columns                           the Parquet schema, inline (Hydrant cannot read Glue):
//	    [{"Name": "user", "Type": "string", "Optional": true},
//	     {"Name": "ts", "Type": "timestamp", "TimestampUnit": "micros"},
//	     {"Name": "tags", "Type": "array", "Element": {"Type": "string"}},
//	     {"Name": "geo", "Type": "struct", "Fields": [{"Name": "lat", "Type": "double"}]}]
//
// A column's members are parquet.Column's fields: Name, Type (string,
// boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s),
// date, timestamp, binary, struct, array, map), Optional, Fields (of a
// struct), Element (of an array, or the value of a map) and TimestampUnit
// (millis or micros).

// Processor types and parameters of the Firehose model that Hydrant runs.
const (
	procDeAggregation   = "RecordDeAggregation"
	procMetadata        = "MetadataExtraction"
	procAppendDelimiter = "AppendDelimiterToRecord"
	procLambda          = "Lambda"
	procDecompression   = "Decompression"
	procCloudWatchLogs  = "CloudWatchLogProcessing"

	paramLambdaARN      = "LambdaArn"
	paramRetries        = "NumberOfRetries"
	paramRoleARN        = "RoleArn"
	paramBufferSize     = "BufferSizeInMBs"
	paramBufferInterval = "BufferIntervalInSeconds"
	paramCompression    = "CompressionFormat"
	paramMessageExtract = "DataMessageExtraction"

	paramSubRecordType = "SubRecordType"
	paramDelimiter     = "Delimiter"
	paramQuery         = "MetadataExtractionQuery"
	paramParsingEngine = "JsonParsingEngine"
)

// Members below the destination member, as messages name them.
const (
	memberProcessing    = "ProcessingConfiguration"
	memberPartitioning  = "DynamicPartitioningConfiguration"
	memberRetryDuration = memberPartitioning + ".RetryOptions.DurationInSeconds"
	memberMaxPartitions = memberPartitioning + ".MaxActivePartitions"
	memberConversion    = "DataFormatConversionConfiguration"
	memberDeserializer  = memberConversion + ".InputFormatConfiguration.Deserializer"
	memberSerializer    = memberConversion + ".OutputFormatConfiguration.Serializer"
	memberParquet       = memberSerializer + ".ParquetSerDe"
	memberColumns       = memberConversion + ".SchemaConfiguration.Columns"
	memberEncryption    = "EncryptionConfiguration"
	memberKMSKeyARN     = memberEncryption + ".KMSEncryptionConfig.AWSKMSKeyARN"
	memberClientSide    = memberEncryption + ".HydrantClientSideEncryption"
)

// processorMember names a processor in messages, by its type:
// ProcessingConfiguration.Processors[MetadataExtraction].
func processorMember(typ string) string { return memberProcessing + ".Processors[" + typ + "]" }

// parameterMember names a processor parameter in messages.
func parameterMember(typ, name string) string {
	return processorMember(typ) + ".Parameters[" + name + "]"
}

// Enums and patterns of the Firehose model for these shapes (ParquetSerDe
// compressions with Hydrant's ZSTD).
var (
	enumProcessorType = []string{procDeAggregation, procDecompression, procCloudWatchLogs, procLambda, procMetadata, procAppendDelimiter}
	enumParameterName = []string{paramLambdaARN, paramRetries, paramQuery, paramParsingEngine, paramRoleARN,
		paramBufferSize, paramBufferInterval, paramSubRecordType, paramDelimiter, paramCompression, paramMessageExtract}

	// patLambdaARN is a Lambda function ARN, optionally with a version or
	// alias: the function's name is the part after "function:".
	patLambdaARN           = regexp.MustCompile(`^arn:[a-z-]+:lambda:[a-z0-9-]*:\d{12}:function:([a-zA-Z0-9_-]{1,64})(:[a-zA-Z0-9_$-]+)?$`)
	enumParquetCompression = []string{"UNCOMPRESSED", "GZIP", "SNAPPY", "ZSTD"}
	enumWriterVersion      = []string{"V1", "V2"}

	patKMSKeyARN = pattern(`arn:.*:kms:[a-zA-Z0-9\-]+:\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\-_/]+`)
	patNoSpace   = pattern(`^\S+$`)
	// patParameterValue's model pattern, ^(?!\s*$).+, is a negative
	// lookahead Go's regexp cannot express: a value that is not only
	// spaces. Hydrant lets a value span lines (a jq query may).
	patParameterValue = constraint{regexp.MustCompile(`^(?s:.*\S.*)$`), `^(?!\s*$).+`}
)

// Limits of the Firehose model: ParquetSerDe sizes, RetryOptions.
const (
	minParquetBlockSize  = 64 << 20
	minParquetPageSize   = 64 << 10
	maxPartitionRetrySec = 7200
)

type processingConfiguration struct {
	Enabled    *bool
	Processors []processor
}

type processor struct {
	Type       *string
	Parameters []processorParameter
}

type processorParameter struct {
	ParameterName  *string
	ParameterValue *string
}

type dynamicPartitioningConfiguration struct {
	Enabled      *bool         `json:",omitempty"`
	RetryOptions *retryOptions `json:",omitempty"`
	// MaxActivePartitions is Hydrant's extension.
	MaxActivePartitions *int `json:",omitempty"`
}

type retryOptions struct {
	DurationInSeconds *int `json:",omitempty"`
}

type dataFormatConversionConfiguration struct {
	Enabled                   *bool                      `json:",omitempty"`
	InputFormatConfiguration  *inputFormatConfiguration  `json:",omitempty"`
	OutputFormatConfiguration *outputFormatConfiguration `json:",omitempty"`
	SchemaConfiguration       *schemaConfiguration       `json:",omitempty"`
}

type inputFormatConfiguration struct {
	Deserializer *deserializer `json:",omitempty"`
}

type deserializer struct {
	OpenXJsonSerDe *openXJsonSerDe `json:",omitempty"`
	HiveJsonSerDe  *hiveJsonSerDe  `json:",omitempty"`
}

type openXJsonSerDe struct {
	CaseInsensitive                    *bool             `json:",omitempty"`
	ColumnToJsonKeyMappings            map[string]string `json:",omitempty"`
	ConvertDotsInJsonKeysToUnderscores *bool             `json:",omitempty"`
}

type hiveJsonSerDe struct {
	TimestampFormats []string `json:",omitempty"`
}

type outputFormatConfiguration struct {
	Serializer *serializer `json:",omitempty"`
}

type serializer struct {
	ParquetSerDe *parquetSerDe `json:",omitempty"`
	// OrcSerDe is refused by name.
	OrcSerDe json.RawMessage `json:",omitempty"`
}

type parquetSerDe struct {
	BlockSizeBytes *int    `json:",omitempty"`
	PageSizeBytes  *int    `json:",omitempty"`
	Compression    *string `json:",omitempty"`
	// Accepted and ignored: parquet-go decides dictionary encoding and
	// writes V1 data pages, which every reader of V2 reads too, and
	// padding only matters to HDFS.
	EnableDictionaryCompression *bool   `json:",omitempty"`
	MaxPaddingBytes             *int    `json:",omitempty"`
	WriterVersion               *string `json:",omitempty"`
}

// schemaConfiguration is Firehose's reference to an AWS Glue table, which
// Hydrant accepts but cannot read, plus the Columns extension.
type schemaConfiguration struct {
	RoleARN      *string  `json:",omitempty"`
	CatalogId    *string  `json:",omitempty"`
	DatabaseName *string  `json:",omitempty"`
	TableName    *string  `json:",omitempty"`
	Region       *string  `json:",omitempty"`
	VersionId    *string  `json:",omitempty"`
	Columns      []column `json:",omitempty"`
}

// column is a parquet.Column as the API spells it.
type column struct {
	// Name is left out of an Element, which has none.
	Name          string `json:",omitempty"`
	Type          string
	Optional      bool     `json:",omitempty"`
	Fields        []column `json:",omitempty"`
	Element       *column  `json:",omitempty"`
	TimestampUnit string   `json:",omitempty"`
}

type encryptionConfiguration struct {
	NoEncryptionConfig  *string              `json:",omitempty"`
	KMSEncryptionConfig *kmsEncryptionConfig `json:",omitempty"`
	// HydrantClientSideEncryption is Hydrant's extension.
	HydrantClientSideEncryption *bool `json:",omitempty"`
}

type kmsEncryptionConfig struct {
	AWSKMSKeyARN *string
}

// validateFeatures checks the model's constraints on the members of this
// file: the extended ones when extended, and EncryptionConfiguration.
func validateFeatures(v *validator, path string, d *s3Destination, extended bool) {
	if e := d.EncryptionConfiguration; e != nil {
		v.enum(path+".encryptionConfiguration.noEncryptionConfig", e.NoEncryptionConfig, enumNoEncryption)
		if k := e.KMSEncryptionConfig; k != nil {
			p := path + ".encryptionConfiguration.kMSEncryptionConfig.aWSKMSKeyARN"
			v.required(p, k.AWSKMSKeyARN != nil)
			v.str(p, k.AWSKMSKeyARN, 1, 512, &patKMSKeyARN)
		}
	}
	if !extended {
		return
	}
	if pc := d.ProcessingConfiguration; pc != nil {
		validateProcessing(v, path+".processingConfiguration", pc)
	}
	if dp := d.DynamicPartitioningConfiguration; dp != nil && dp.RetryOptions != nil {
		v.intRange(path+".dynamicPartitioningConfiguration.retryOptions.durationInSeconds", dp.RetryOptions.DurationInSeconds, 0, maxPartitionRetrySec)
	}
	fc := d.DataFormatConversionConfiguration
	if fc == nil {
		return
	}
	if o := fc.OutputFormatConfiguration; o != nil && o.Serializer != nil && o.Serializer.ParquetSerDe != nil {
		p, s := path+".dataFormatConversionConfiguration.outputFormatConfiguration.serializer.parquetSerDe", o.Serializer.ParquetSerDe
		v.intRange(p+".blockSizeBytes", s.BlockSizeBytes, minParquetBlockSize, math.MaxInt32)
		v.intRange(p+".pageSizeBytes", s.PageSizeBytes, minParquetPageSize, math.MaxInt32)
		v.intRange(p+".maxPaddingBytes", s.MaxPaddingBytes, 0, math.MaxInt32)
		v.enum(p+".compression", s.Compression, enumParquetCompression)
		v.enum(p+".writerVersion", s.WriterVersion, enumWriterVersion)
	}
	if s := fc.SchemaConfiguration; s != nil {
		p := path + ".dataFormatConversionConfiguration.schemaConfiguration"
		v.str(p+".roleARN", s.RoleARN, 1, 1024, &patNoSpace)
		v.str(p+".catalogId", s.CatalogId, 1, 1024, &patNoSpace)
		v.str(p+".databaseName", s.DatabaseName, 1, 1024, &patNoSpace)
		v.str(p+".tableName", s.TableName, 1, 1024, &patNoSpace)
		v.str(p+".region", s.Region, 1, 1024, &patNoSpace)
		v.str(p+".versionId", s.VersionId, 1, 1024, &patNoSpace)
	}
}

// validateProcessing checks a ProcessingConfiguration, of any destination,
// against the model.
func validateProcessing(v *validator, path string, pc *processingConfiguration) {
	procs := path + ".processors"
	for i, p := range pc.Processors {
		tp := memberPath(procs, i, "type")
		v.required(tp, p.Type != nil)
		v.enum(tp, p.Type, enumProcessorType)
		params := memberPath(procs, i, "parameters")
		for j, prm := range p.Parameters {
			np, vp := memberPath(params, j, "parameterName"), memberPath(params, j, "parameterValue")
			v.required(np, prm.ParameterName != nil)
			v.enum(np, prm.ParameterName, enumParameterName)
			v.required(vp, prm.ParameterValue != nil)
			v.str(vp, prm.ParameterValue, 1, 5120, &patParameterValue)
		}
	}
}

// mergeFeatures sets the members of this file present in d on dest, as
// mergeS3 does the others: a configuration given replaces the one before,
// member by member where members stand alone, and an absent one keeps it.
// param names the destination member in messages. Features Hydrant does
// not have are refused with InvalidArgumentException.
func mergeFeatures(dest *delivery.Destination, param string, d *s3Destination, extended bool) error {
	if err := mergeEncryption(&dest.Encryption, param, d.EncryptionConfiguration); err != nil {
		return err
	}
	if !extended {
		return nil
	}
	if pc := d.ProcessingConfiguration; pc != nil {
		if err := mergeProcessing(&dest.Processing, param, pc); err != nil {
			return err
		}
	}
	if dp := d.DynamicPartitioningConfiguration; dp != nil {
		if dp.Enabled != nil {
			dest.DynamicPartitioning.Enabled = *dp.Enabled
		}
		if dp.RetryOptions != nil && dp.RetryOptions.DurationInSeconds != nil {
			dest.DynamicPartitioning.RetryDurationSeconds = *dp.RetryOptions.DurationInSeconds
		}
		if dp.MaxActivePartitions != nil {
			dest.DynamicPartitioning.MaxActivePartitions = *dp.MaxActivePartitions
		}
	}
	if fc := d.DataFormatConversionConfiguration; fc != nil {
		if err := mergeConversion(&dest.FormatConversion, param, fc); err != nil {
			return err
		}
	}
	// Checked on the merged destination: an update may enable a
	// conversion whose schema an earlier call gave.
	if dest.FormatConversion.Enabled && len(dest.FormatConversion.Schema.Columns) == 0 {
		return invalidArgument(param + "." + memberColumns + " is required: Hydrant cannot read table schemas from AWS Glue " +
			"(DatabaseName, TableName), so give the columns inline, as [{\"Name\": \"id\", \"Type\": \"string\"}, …].")
	}
	return nil
}

// mergeProcessing maps a ProcessingConfiguration onto p. Hydrant keeps no
// disabled processors: Enabled false (or absent) clears the processing,
// and the description then lists no processors. Enabled true without
// Processors keeps the processors p has.
func mergeProcessing(p *delivery.Processing, param string, pc *processingConfiguration) error {
	if pc.Enabled == nil || !*pc.Enabled {
		*p = delivery.Processing{}
		return nil
	}
	if pc.Processors == nil {
		return nil
	}
	var out delivery.Processing
	seen := make(map[string]bool, len(pc.Processors))
	for _, pr := range pc.Processors {
		typ := *pr.Type
		member := param + "." + processorMember(typ)
		if seen[typ] {
			return invalidArgument(member + " is given twice: give each processor type once.")
		}
		seen[typ] = true
		params := make(map[string]string, len(pr.Parameters))
		for _, prm := range pr.Parameters {
			name := *prm.ParameterName
			if _, dup := params[name]; dup {
				return invalidArgument(param + "." + parameterMember(typ, name) + " is given twice.")
			}
			params[name] = *prm.ParameterValue
		}
		switch typ {
		case procDeAggregation:
			if err := onlyParameters(param, typ, params, paramSubRecordType, paramDelimiter); err != nil {
				return err
			}
			t, ok := params[paramSubRecordType]
			if !ok {
				return invalidArgument(param + "." + parameterMember(typ, paramSubRecordType) + " is required: " + delivery.SubRecordJSON + " or " + delivery.SubRecordDelimited + ".")
			}
			out.DeAggregation = t
			if s, ok := params[paramDelimiter]; ok {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return invalidArgument(param + "." + parameterMember(typ, paramDelimiter) + " must be base64-encoded, as Firehose takes it (Cg== is a newline), and " + quote(s) + " is not.")
				}
				out.Delimiter = string(b)
			}
		case procMetadata:
			if err := onlyParameters(param, typ, params, paramQuery, paramParsingEngine); err != nil {
				return err
			}
			q, ok := params[paramQuery]
			if !ok {
				return invalidArgument(param + "." + parameterMember(typ, paramQuery) + " is required: a jq expression that yields an object of partition keys.")
			}
			if e, ok := params[paramParsingEngine]; !ok || e != partition.JSONParsingEngine {
				return invalidArgument(param + "." + parameterMember(typ, paramParsingEngine) + " must be " + partition.JSONParsingEngine + ".")
			}
			out.MetadataExtractionQuery = q
		case procAppendDelimiter:
			if err := onlyParameters(param, typ, params); err != nil {
				return err
			}
			out.AppendDelimiter = true
		case procLambda:
			if err := onlyParameters(param, typ, params, paramLambdaARN, paramRetries, paramRoleARN, paramBufferSize, paramBufferInterval); err != nil {
				return err
			}
			if err := mergeLambda(&out.Function, param, params); err != nil {
				return err
			}
		case procDecompression:
			if err := onlyParameters(param, typ, params, paramCompression); err != nil {
				return err
			}
			f, ok := params[paramCompression]
			if !ok {
				return invalidArgument(param + "." + parameterMember(typ, paramCompression) + " is required: " + delivery.DecompressionGZIP + ".")
			}
			if f != delivery.DecompressionGZIP {
				return invalidArgument(param + "." + parameterMember(typ, paramCompression) + " " + quote(f) + " is not supported: use " + delivery.DecompressionGZIP + ".")
			}
			out.Decompression = f
		case procCloudWatchLogs:
			if err := onlyParameters(param, typ, params, paramMessageExtract); err != nil {
				return err
			}
			v, ok := params[paramMessageExtract]
			if !ok || (v != "true" && v != "false") {
				return invalidArgument(param + "." + parameterMember(typ, paramMessageExtract) + " must be true or false.")
			}
			out.CloudWatchLogs = v == "true"
		default:
			return invalidArgument(member + " is not supported by Hydrant.")
		}
	}
	if out.CloudWatchLogs && out.Decompression == "" {
		return invalidArgument(param + "." + processorMember(procCloudWatchLogs) + " needs the " + procDecompression + " processor: CloudWatch Logs subscription records are gzipped.")
	}
	*p = out
	return nil
}

// mergeLambda maps the parameters of a Lambda processor onto f. The ARN
// names a function declared in the server's config by its function name.
func mergeLambda(f *delivery.FunctionProcessing, param string, params map[string]string) error {
	member := func(name string) string { return param + "." + parameterMember(procLambda, name) }
	arn, ok := params[paramLambdaARN]
	if !ok {
		return invalidArgument(member(paramLambdaARN) + " is required: arn:aws:lambda:REGION:ACCOUNT:function:NAME, where NAME is a function declared under functions: in Hydrant's config.")
	}
	m := patLambdaARN.FindStringSubmatch(arn)
	if m == nil {
		return invalidArgument(member(paramLambdaARN) + " " + quote(arn) + " is not a Lambda function ARN: use arn:aws:lambda:REGION:ACCOUNT:function:NAME.")
	}
	*f = delivery.FunctionProcessing{
		Name:                  m[1],
		ARN:                   arn,
		NumberOfRetries:       delivery.DefaultFunctionRetries,
		BufferSizeBytes:       delivery.DefaultFunctionBufferBytes,
		BufferIntervalSeconds: delivery.DefaultFunctionBufferInterval,
	}
	if v, ok := params[paramRetries]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > delivery.MaxFunctionRetries {
			return invalidArgument(member(paramRetries) + " " + quote(v) + fmt.Sprintf(" is not a whole number from 0 to %d.", delivery.MaxFunctionRetries))
		}
		f.NumberOfRetries = n
	}
	if v, ok := params[paramBufferSize]; ok {
		mb, err := strconv.ParseFloat(v, 64)
		if err != nil || mb < 0.2 || mb > 3 {
			return invalidArgument(member(paramBufferSize) + " " + quote(v) + " is not a number of MBs from 0.2 to 3.")
		}
		f.BufferSizeBytes = max(int64(mb*(1<<20)), delivery.MinFunctionBufferBytes)
	}
	if v, ok := params[paramBufferInterval]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < delivery.MinFunctionBufferInterval || n > delivery.MaxFunctionBufferInterval {
			return invalidArgument(member(paramBufferInterval) + " " + quote(v) + fmt.Sprintf(" is not a whole number of seconds from %d to %d.", delivery.MinFunctionBufferInterval, delivery.MaxFunctionBufferInterval))
		}
		f.BufferIntervalSeconds = n
	}
	return nil
}

// onlyParameters refuses the parameters of a processor other than names.
func onlyParameters(param, typ string, params map[string]string, names ...string) error {
	for _, prm := range enumParameterName { // a fixed order, for a stable message
		if _, ok := params[prm]; !ok {
			continue
		}
		known := false
		for _, n := range names {
			known = known || n == prm
		}
		if !known {
			return invalidArgument(param + "." + parameterMember(typ, prm) + " is not a parameter of " + typ + ".")
		}
	}
	return nil
}

// mergeConversion maps a DataFormatConversionConfiguration onto fc.
// Firehose enables a conversion that does not say Enabled.
func mergeConversion(fc *delivery.FormatConversion, param string, c *dataFormatConversionConfiguration) error {
	fc.Enabled = c.Enabled == nil || *c.Enabled
	if in := c.InputFormatConfiguration; in != nil && in.Deserializer != nil {
		if err := checkDeserializer(param+"."+memberDeserializer, in.Deserializer); err != nil {
			return err
		}
	}
	if out := c.OutputFormatConfiguration; out != nil && out.Serializer != nil {
		s := out.Serializer
		if present(s.OrcSerDe) {
			return invalidArgument(param + "." + memberSerializer + ".OrcSerDe: ORC output is not supported; use ParquetSerDe.")
		}
		if pq := s.ParquetSerDe; pq != nil {
			if pq.Compression != nil {
				fc.Compression = *pq.Compression
			}
			if pq.BlockSizeBytes != nil {
				fc.BlockSizeBytes = int64(*pq.BlockSizeBytes)
			}
			if pq.PageSizeBytes != nil {
				fc.PageSizeBytes = int64(*pq.PageSizeBytes)
			}
		}
	}
	// The Glue members are accepted, but only Columns says anything to
	// Hydrant; a SchemaConfiguration without them keeps the columns.
	if s := c.SchemaConfiguration; s != nil && s.Columns != nil {
		fc.Schema = delivery.Schema{Columns: parquetColumns(s.Columns)}
	}
	return nil
}

// checkDeserializer refuses the JSON deserializer options that Hydrant's
// conversion does not follow. It always matches JSON fields to columns
// without case, keeps dots, and reads the timestamp forms parquet.Column
// documents.
func checkDeserializer(member string, d *deserializer) error {
	if d.OpenXJsonSerDe != nil && d.HiveJsonSerDe != nil {
		return invalidArgument(member + ": specify only one of OpenXJsonSerDe and HiveJsonSerDe.")
	}
	if o := d.OpenXJsonSerDe; o != nil {
		switch {
		case o.CaseInsensitive != nil && !*o.CaseInsensitive:
			return invalidArgument(member + ".OpenXJsonSerDe.CaseInsensitive false is not supported by Hydrant: it matches JSON keys to columns without case.")
		case len(o.ColumnToJsonKeyMappings) > 0:
			return invalidArgument(member + ".OpenXJsonSerDe.ColumnToJsonKeyMappings is not supported by Hydrant: name the columns as the JSON keys.")
		case o.ConvertDotsInJsonKeysToUnderscores != nil && *o.ConvertDotsInJsonKeysToUnderscores:
			return invalidArgument(member + ".OpenXJsonSerDe.ConvertDotsInJsonKeysToUnderscores is not supported by Hydrant: name the columns as the JSON keys.")
		}
	}
	if h := d.HiveJsonSerDe; h != nil && len(h.TimestampFormats) > 0 {
		return invalidArgument(member + ".HiveJsonSerDe.TimestampFormats is not supported by Hydrant: it reads timestamps as epoch milliseconds, RFC 3339 or yyyy-MM-dd HH:mm:ss[.f…].")
	}
	return nil
}

func parquetColumns(cols []column) []delivery.Column {
	if cols == nil {
		return nil
	}
	out := make([]delivery.Column, len(cols))
	for i := range cols {
		out[i] = cols[i].parquet()
	}
	return out
}

func (c *column) parquet() delivery.Column {
	pc := delivery.Column{Name: c.Name, Type: c.Type, Optional: c.Optional, Fields: parquetColumns(c.Fields), TimestampUnit: c.TimestampUnit}
	if c.Element != nil {
		e := c.Element.parquet()
		pc.Element = &e
	}
	return pc
}

func apiColumns(cols []delivery.Column) []column {
	if cols == nil {
		return nil
	}
	out := make([]column, len(cols))
	for i := range cols {
		out[i] = apiColumn(&cols[i])
	}
	return out
}

func apiColumn(c *delivery.Column) column {
	ac := column{Name: c.Name, Type: c.Type, Optional: c.Optional, Fields: apiColumns(c.Fields), TimestampUnit: c.TimestampUnit}
	if c.Element != nil {
		e := apiColumn(c.Element)
		ac.Element = &e
	}
	return ac
}

// mergeEncryption maps an EncryptionConfiguration onto e. Server-side
// (NoEncryptionConfig, KMSEncryptionConfig) and client-side encryption are
// independent: each is changed only by its own members.
func mergeEncryption(e *delivery.ObjectEncryption, param string, c *encryptionConfiguration) error {
	if c == nil {
		return nil
	}
	switch {
	case c.NoEncryptionConfig != nil && c.KMSEncryptionConfig != nil:
		return invalidArgument(param + "." + memberEncryption + ": specify only one of NoEncryptionConfig and KMSEncryptionConfig.")
	case c.NoEncryptionConfig != nil:
		e.KMSKeyARN = ""
	case c.KMSEncryptionConfig != nil:
		e.KMSKeyARN = *c.KMSEncryptionConfig.AWSKMSKeyARN
	}
	if c.HydrantClientSideEncryption != nil {
		e.ClientSide = *c.HydrantClientSideEncryption
	}
	return nil
}

// describeEncryption is the EncryptionConfiguration of a description.
func describeEncryption(e delivery.ObjectEncryption) *encryptionConfiguration {
	c := &encryptionConfiguration{NoEncryptionConfig: new("NoEncryption")}
	if e.KMSKeyARN != "" {
		c = &encryptionConfiguration{KMSEncryptionConfig: &kmsEncryptionConfig{AWSKMSKeyARN: new(e.KMSKeyARN)}}
	}
	if e.ClientSide {
		c.HydrantClientSideEncryption = new(true)
	}
	return c
}

// describeProcessing is the ProcessingConfiguration of a description, its
// processors in the order Hydrant runs them.
func describeProcessing(p delivery.Processing) *processingConfiguration {
	pc := &processingConfiguration{Processors: []processor{}}
	add := func(typ string, params ...string) {
		pr := processor{Type: new(typ), Parameters: []processorParameter{}}
		for i := 0; i < len(params); i += 2 {
			pr.Parameters = append(pr.Parameters, processorParameter{ParameterName: new(params[i]), ParameterValue: new(params[i+1])})
		}
		pc.Processors = append(pc.Processors, pr)
	}
	if p.Decompression != "" {
		add(procDecompression, paramCompression, p.Decompression)
	}
	if p.CloudWatchLogs {
		add(procCloudWatchLogs, paramMessageExtract, "true")
	}
	switch p.DeAggregation {
	case "":
	case delivery.SubRecordDelimited:
		add(procDeAggregation, paramSubRecordType, p.DeAggregation, paramDelimiter, base64.StdEncoding.EncodeToString([]byte(p.Delimiter)))
	default:
		add(procDeAggregation, paramSubRecordType, p.DeAggregation)
	}
	if f := p.Function; f.Name != "" {
		// Rounded to the hundredth of a MB, so that a description sent back
		// is accepted: 200 KiB is 0.1953125 MiB, below the API's 0.2.
		mb := strconv.FormatFloat(max(math.Round(float64(f.BufferSizeBytes)/(1<<20)*100)/100, 0.2), 'f', -1, 64)
		add(procLambda, paramLambdaARN, f.ARN, paramRetries, strconv.Itoa(f.NumberOfRetries),
			paramBufferSize, mb, paramBufferInterval, strconv.Itoa(f.BufferIntervalSeconds))
	}
	if p.MetadataExtractionQuery != "" {
		add(procMetadata, paramQuery, p.MetadataExtractionQuery, paramParsingEngine, partition.JSONParsingEngine)
	}
	if p.AppendDelimiter {
		add(procAppendDelimiter)
	}
	pc.Enabled = new(len(pc.Processors) > 0)
	return pc
}

// describePartitioning is the DynamicPartitioningConfiguration of a
// description, nil when the destination never had one.
func describePartitioning(d delivery.DynamicPartitioning) *dynamicPartitioningConfiguration {
	if d == (delivery.DynamicPartitioning{}) {
		return nil
	}
	c := &dynamicPartitioningConfiguration{Enabled: new(d.Enabled), RetryOptions: &retryOptions{DurationInSeconds: new(d.RetryDurationSeconds)}}
	if d.MaxActivePartitions != 0 {
		c.MaxActivePartitions = new(d.MaxActivePartitions)
	}
	return c
}

// describeConversion is the DataFormatConversionConfiguration of a
// description, nil when the destination has none. Which JSON deserializer
// was asked for is not kept: both read JSON alike, and the description
// says OpenXJsonSerDe. Nor are the Glue table members, which Hydrant does
// not read.
func describeConversion(fc delivery.FormatConversion) *dataFormatConversionConfiguration {
	if !fc.Enabled && len(fc.Schema.Columns) == 0 {
		return nil
	}
	pq := &parquetSerDe{}
	if fc.Compression != "" {
		pq.Compression = new(fc.Compression)
	}
	if fc.BlockSizeBytes != 0 {
		pq.BlockSizeBytes = new(clampInt32(fc.BlockSizeBytes))
	}
	if fc.PageSizeBytes != 0 {
		pq.PageSizeBytes = new(clampInt32(fc.PageSizeBytes))
	}
	return &dataFormatConversionConfiguration{
		Enabled:                   new(fc.Enabled),
		InputFormatConfiguration:  &inputFormatConfiguration{Deserializer: &deserializer{OpenXJsonSerDe: &openXJsonSerDe{}}},
		OutputFormatConfiguration: &outputFormatConfiguration{Serializer: &serializer{ParquetSerDe: pq}},
		SchemaConfiguration:       &schemaConfiguration{Columns: apiColumns(fc.Schema.Columns)},
	}
}

// clampInt32 keeps a size the config file set within the model's Integer,
// which the AWS SDKs decode into 32 bits.
func clampInt32(n int64) int { return int(min(n, math.MaxInt32)) }
