package firehoseapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/ingest/sigv4"
)

// AWS error codes the API answers with.
const (
	codeValidation             = "ValidationException"
	codeSerialization          = "SerializationException"
	codeInvalidArgument        = "InvalidArgumentException"
	codeResourceNotFound       = "ResourceNotFoundException"
	codeResourceInUse          = "ResourceInUseException"
	codeConcurrentModification = "ConcurrentModificationException"
	codeInvalidKMSResource     = "InvalidKMSResourceException"
	codeServiceUnavailable     = "ServiceUnavailableException"
	codeUnknownOperation       = "UnknownOperationException"
	codeAccessDenied           = "AccessDeniedException"
	codeRequestEntityTooLarge  = "RequestEntityTooLargeException"
	codeInternalFailure        = "InternalFailure"
)

// httpStatus is the HTTP status of each error code, as AWS answers it.
var httpStatus = map[string]int{
	codeValidation:                       http.StatusBadRequest,
	codeSerialization:                    http.StatusBadRequest,
	codeInvalidArgument:                  http.StatusBadRequest,
	codeResourceNotFound:                 http.StatusBadRequest,
	codeResourceInUse:                    http.StatusBadRequest,
	codeConcurrentModification:           http.StatusBadRequest,
	codeInvalidKMSResource:               http.StatusBadRequest,
	codeUnknownOperation:                 http.StatusBadRequest,
	codeRequestEntityTooLarge:            http.StatusRequestEntityTooLarge,
	codeAccessDenied:                     http.StatusForbidden,
	codeServiceUnavailable:               http.StatusServiceUnavailable,
	codeInternalFailure:                  http.StatusInternalServerError,
	sigv4.CodeMissingAuthenticationToken: http.StatusForbidden,
	sigv4.CodeIncompleteSignature:        http.StatusBadRequest,
	sigv4.CodeInvalidSignature:           http.StatusBadRequest,
	sigv4.CodeUnrecognizedClient:         http.StatusBadRequest,
}

// awsError is an error in the protocol's own shape.
type awsError struct {
	Code    string
	Message string
	// Status overrides the code's HTTP status when not zero.
	Status int
}

func (e *awsError) Error() string { return e.Code + ": " + e.Message }

// Messages of errors that Firehose words in a fixed way.
const (
	msgSlowDown        = "Slow down."
	msgInternalFailure = "The request processing has failed because of an unknown error, exception or failure."
)

// deliveryErrors maps the delivery layer's errors onto AWS error codes and
// messages. Together with awsErrorOf it is the one place where errors
// become protocol errors.
var deliveryErrors = []struct {
	err     error
	code    string
	message func(a *API, rq *request) string
}{
	{delivery.ErrStreamNotFound, codeResourceNotFound, func(a *API, rq *request) string {
		return "Firehose " + rq.stream + " under account " + a.account + " not found."
	}},
	{delivery.ErrStreamExists, codeResourceInUse, func(a *API, rq *request) string {
		return "Firehose " + rq.stream + " under account " + a.account + " already exists."
	}},
	{delivery.ErrStreamNotActive, codeResourceInUse, func(a *API, rq *request) string {
		return "Firehose " + rq.stream + " under account " + a.account + " is not ACTIVE; try again once DescribeDeliveryStream reports it ACTIVE."
	}},
	{delivery.ErrVersionMismatch, codeConcurrentModification, func(a *API, rq *request) string {
		return "Firehose " + rq.stream + " under account " + a.account + " has changed since the given CurrentDeliveryStreamVersionId; call DescribeDeliveryStream for its current VersionId and retry."
	}},
	{delivery.ErrConfigManaged, codeInvalidArgument, func(a *API, rq *request) string {
		return "Firehose " + rq.stream + " is declared in Hydrant's config file and cannot be changed through the API; change it in the config file instead."
	}},
	{delivery.ErrNoMasterKeys, codeInvalidKMSResource, func(_ *API, rq *request) string {
		return "Hydrant has no master keys to encrypt the log of Firehose " + rq.stream + " with: give hydrant serve a key file " +
			"(encryption.key_file in the config) or set " + encrypt.EnvMasterKeys + "."
	}},
	{errors.ErrUnsupported, codeInvalidArgument, func(_ *API, rq *request) string {
		return rq.op + " is not supported by this Hydrant server."
	}},
	{delivery.ErrLogFull, codeServiceUnavailable, func(*API, *request) string { return msgSlowDown }},
	{delivery.ErrClosed, codeServiceUnavailable, func(*API, *request) string {
		return "Hydrant is shutting down; retry the request."
	}},
}

// awsErrorOf turns any error a handler returns into the AWS error to answer
// with. Unknown errors become InternalFailure and are logged.
func (a *API) awsErrorOf(rq *request, err error) *awsError {
	var ae *awsError
	if errors.As(err, &ae) {
		return ae
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &awsError{Code: se.Code, Message: se.Message}
	}
	var fe *delivery.FieldError
	if errors.As(err, &fe) {
		return &awsError{Code: codeInvalidArgument, Message: apiFieldName(fe.Field, rq.destParam) + ": " + apiMessage(fe.Message)}
	}
	for _, de := range deliveryErrors {
		if errors.Is(err, de.err) {
			return &awsError{Code: de.code, Message: de.message(a, rq)}
		}
	}
	if rq.ctx != nil && rq.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The client went away mid-call; nobody reads this answer.
		a.log.Debug("firehose api: client gone", "operation", rq.op, "stream", rq.stream, "request_id", rq.id, "err", err)
		return &awsError{Code: codeInternalFailure, Message: msgInternalFailure}
	}
	a.log.Error("firehose api: internal error", "operation", rq.op, "stream", rq.stream, "request_id", rq.id, "err", err)
	return &awsError{Code: codeInternalFailure, Message: msgInternalFailure}
}

// writeError answers err in AWS's error shape.
func (a *API) writeError(rq *request, err error) {
	ae := a.awsErrorOf(rq, err)
	status := ae.Status
	if status == 0 {
		status = httpStatus[ae.Code]
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{ae.Code, ae.Message})
	h := rq.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-Errortype", ae.Code)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.status = status
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(body)
}

// apiFields maps the delivery package's config field paths, less
// "destination.", onto the API's members below the destination member
// (ExtendedS3DestinationConfiguration, …).
var apiFields = map[string]string{
	"bucket":                     "BucketARN",
	"role_arn":                   "RoleARN",
	"prefix":                     "Prefix",
	"error_output_prefix":        "ErrorOutputPrefix",
	"buffering.size_mb":          "BufferingHints.SizeInMBs",
	"buffering.interval_seconds": "BufferingHints.IntervalInSeconds",
	"compression":                "CompressionFormat",

	"processing":                                  memberProcessing,
	"processing.de_aggregation":                   parameterMember(procDeAggregation, paramSubRecordType),
	"processing.delimiter":                        parameterMember(procDeAggregation, paramDelimiter),
	"processing.metadata_extraction_query":        parameterMember(procMetadata, paramQuery),
	"processing.append_delimiter":                 processorMember(procAppendDelimiter),
	"processing.decompression":                    parameterMember(procDecompression, paramCompression),
	"processing.cloudwatch_log_processing":        processorMember(procCloudWatchLogs),
	"processing.function.name":                    parameterMember(procLambda, paramLambdaARN),
	"processing.function.number_of_retries":       parameterMember(procLambda, paramRetries),
	"processing.function.buffer_size":             parameterMember(procLambda, paramBufferSize),
	"processing.function.buffer_interval_seconds": parameterMember(procLambda, paramBufferInterval),

	"dynamic_partitioning":                        memberPartitioning,
	"dynamic_partitioning.enabled":                memberPartitioning + ".Enabled",
	"dynamic_partitioning.retry_duration_seconds": memberRetryDuration,
	"dynamic_partitioning.max_active_partitions":  memberMaxPartitions,

	"format_conversion":             memberConversion,
	"format_conversion.enabled":     memberConversion + ".Enabled",
	"format_conversion.compression": memberParquet + ".Compression",
	"format_conversion.block_size":  memberParquet + ".BlockSizeBytes",
	"format_conversion.page_size":   memberParquet + ".PageSizeBytes",

	"encryption":             memberEncryption,
	"encryption.kms_key_arn": memberKMSKeyARN,
	"encryption.client_side": memberClientSide,
}

// recordSinkFields maps the config paths of a record destination's sink
// settings (http.…, clickhouse.…), less "destination.", onto its members.
// The delivery layer reports a sink's own checks at "http" or
// "clickhouse", which name the destination member itself.
var recordSinkFields = map[string]string{
	"http":                   "",
	"http.url":               memberURL,
	"http.access_key":        memberAccessKey,
	"http.common_attributes": memberAttrs,
	"http.content_encoding":  memberEncoding,
	"http.retry_duration":    memberHTTPRetry,

	"clickhouse":                "",
	"clickhouse.addrs":          "Addrs",
	"clickhouse.database":       "Database",
	"clickhouse.table":          "Table",
	"clickhouse.user":           "User",
	"clickhouse.password":       "Password",
	"clickhouse.tls":            "TLS",
	"clickhouse.compression":    "Compression",
	"clickhouse.columns":        "Columns",
	"clickhouse.unknown_fields": "UnknownFields",
	"clickhouse.create_table":   "CreateTable",
	"clickhouse.engine":         "Engine",
}

// s3PartFields are the config paths that a record destination sets in its
// S3 member (S3Configuration, S3Update) rather than at its top level.
var s3PartFields = map[string]bool{
	"bucket": true, "prefix": true, "error_output_prefix": true, "compression": true,
	"encryption": true, "encryption.kms_key_arn": true, "encryption.client_side": true,
}

// schemaField is the config path of the Parquet schema, under which
// parquet.Schema.Validate's paths follow (columns[2].fields[0].type).
const schemaField = "format_conversion.schema"

// apiFieldName turns the delivery package's config field path
// (destination.buffering.size_mb) into the API's parameter name
// (ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs).
func apiFieldName(field, destParam string) string {
	if destParam == "" {
		destParam = paramExtendedS3
	}
	f := strings.TrimPrefix(field, "destination.")
	// A record destination's bucket is in a member of its own.
	s3Part := ""
	switch destParam {
	case paramHTTP, paramClickHouse:
		s3Part = memberS3Config
	case paramHTTPUpdate, paramClickHouseUpdate:
		s3Part = memberS3Update
	}
	switch {
	case f == "name":
		return "DeliveryStreamName"
	case strings.HasPrefix(f, "tags"):
		return "Tags"
	case strings.HasPrefix(f, schemaField):
		rest := strings.TrimPrefix(strings.TrimPrefix(f[len(schemaField):], "."), "columns")
		return destParam + "." + memberColumns + pascalPath(rest)
	case f == "backup.mode":
		return destParam + "." + memberBackupMode
	case strings.HasPrefix(f, "clickhouse.columns["):
		// clickhouse.columns[2].type, as the config file spells a column.
		return destParam + ".Columns" + pascalPath(strings.TrimPrefix(f, "clickhouse.columns"))
	case f == "http" || f == "clickhouse" || strings.HasPrefix(f, "http.") || strings.HasPrefix(f, "clickhouse."):
		if m, ok := recordSinkFields[f]; ok {
			if m == "" {
				return destParam
			}
			return destParam + "." + m
		}
		return field
	case s3Part != "" && s3PartFields[f]:
		return destParam + "." + s3Part + "." + apiFields[f]
	case f == "role_arn" && (destParam == paramClickHouse || destParam == paramClickHouseUpdate):
		// ClickHouse has no RoleARN of its own.
		return destParam + "." + s3Part + ".RoleARN"
	case strings.HasPrefix(f, "backup."):
		// The backup is an S3 destination of its own: its bucket, prefix
		// and compression are named as the destination's are.
		if m, ok := apiFields[strings.TrimPrefix(f, "backup.")]; ok {
			return destParam + "." + backupMember(destParam) + "." + m
		}
	}
	if m, ok := apiFields[f]; ok {
		return destParam + "." + m
	}
	return field
}

// pascalPath spells a config path below a schema ([2].fields[0].timestamp_unit)
// as the API spells its members ([2].Fields[0].TimestampUnit).
func pascalPath(path string) string {
	var b strings.Builder
	upper := true
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '_':
			upper = true
			continue
		case c == '.' || c == ']':
			upper = true
		case c == '[':
			upper = false
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
			upper = false
		default:
			upper = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// apiMessage rewrites the config names a delivery validation message
// mentions in the API's terms. Longer names come first, so that they win
// over the names they start with.
var apiMessage = strings.NewReplacer(
	"dynamic_partitioning.enabled", memberPartitioning+".Enabled",
	"dynamic_partitioning", memberPartitioning,
	"format_conversion.compression", memberParquet+".Compression",
	"format_conversion", memberConversion,
	"de_aggregation: ", paramSubRecordType+" ",
	"error_output_prefix", "ErrorOutputPrefix",
	"timestamp_unit", "TimestampUnit",
	// The sinks' own messages (webhook, clickhouse).
	"webhook ", "HTTP endpoint ",
	"clickhouse: ", "",
	"set addrs to", "set Addrs to",
	"set table to", "set Table to",
	"unknown_fields", "UnknownFields",
	"create_table", "CreateTable",
).Replace

// decodeJSON decodes a request body into v, answering SerializationException
// for anything that is not the JSON the operation takes.
func decodeJSON(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var ae *awsError
	if errors.As(err, &ae) {
		return ae
	}
	var msg string
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &syn):
		msg = fmt.Sprintf("The request body is not valid JSON (at byte %d).", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			msg = fmt.Sprintf("Member %s cannot be a JSON %s.", echo(typ.Field), typ.Value)
		} else {
			msg = fmt.Sprintf("The request body must be a JSON object, not a JSON %s.", typ.Value)
		}
	case errors.As(err, &b64):
		msg = fmt.Sprintf("Record data must be base64-encoded (illegal base64 data at input byte %d).", int64(b64))
	default:
		msg = "The request body is not valid JSON."
	}
	return &awsError{Code: codeSerialization, Message: msg}
}
