package firehoseapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
)

// The JSON shapes of the Firehose API. Members are pointers where the model
// needs to tell "absent" from "zero"; members Hydrant does not support are
// kept raw so that their presence can be refused by name.

type createDeliveryStreamInput struct {
	DeliveryStreamName                 *string
	DeliveryStreamType                 *string
	ExtendedS3DestinationConfiguration *s3Destination
	S3DestinationConfiguration         *s3Destination
	// HttpEndpointDestinationConfiguration is httpendpoint.go's.
	HttpEndpointDestinationConfiguration *httpEndpointDestination
	// HydrantClickHouseDestinationConfiguration is Hydrant's extension
	// (clickhouse.go).
	HydrantClickHouseDestinationConfiguration *clickHouseDestination
	Tags                                      []tag
	// DeliveryStreamEncryptionConfigurationInput turns on the encryption
	// of the stream's log at rest (encryption.go).
	DeliveryStreamEncryptionConfigurationInput *streamEncryptionInput
	// Accepted and ignored: a throughput hint.
	DirectPutSourceConfiguration json.RawMessage

	KinesisStreamSourceConfiguration                   json.RawMessage
	MSKSourceConfiguration                             json.RawMessage
	DatabaseSourceConfiguration                        json.RawMessage
	RedshiftDestinationConfiguration                   json.RawMessage
	ElasticsearchDestinationConfiguration              json.RawMessage
	AmazonopensearchserviceDestinationConfiguration    json.RawMessage
	AmazonOpenSearchServerlessDestinationConfiguration json.RawMessage
	SplunkDestinationConfiguration                     json.RawMessage
	SnowflakeDestinationConfiguration                  json.RawMessage
	IcebergDestinationConfiguration                    json.RawMessage
}

// unsupported returns the name of the first member Hydrant does not
// support that the request sets, or "".
func (in *createDeliveryStreamInput) unsupported() string {
	return firstPresent([]namedRaw{
		{"KinesisStreamSourceConfiguration", in.KinesisStreamSourceConfiguration},
		{"MSKSourceConfiguration", in.MSKSourceConfiguration},
		{"DatabaseSourceConfiguration", in.DatabaseSourceConfiguration},
		{"RedshiftDestinationConfiguration", in.RedshiftDestinationConfiguration},
		{"ElasticsearchDestinationConfiguration", in.ElasticsearchDestinationConfiguration},
		{"AmazonopensearchserviceDestinationConfiguration", in.AmazonopensearchserviceDestinationConfiguration},
		{"AmazonOpenSearchServerlessDestinationConfiguration", in.AmazonOpenSearchServerlessDestinationConfiguration},
		{"SplunkDestinationConfiguration", in.SplunkDestinationConfiguration},
		{"SnowflakeDestinationConfiguration", in.SnowflakeDestinationConfiguration},
		{"IcebergDestinationConfiguration", in.IcebergDestinationConfiguration},
	})
}

type namedRaw struct {
	name string
	raw  json.RawMessage
}

func firstPresent(members []namedRaw) string {
	for _, m := range members {
		if present(m.raw) {
			return m.name
		}
	}
	return ""
}

// present reports whether a raw member was set to something other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// s3Destination is ExtendedS3DestinationConfiguration, S3DestinationConfiguration
// and their Update forms: the same members, required only on create.
type s3Destination struct {
	BucketARN                *string
	RoleARN                  *string
	Prefix                   *string
	ErrorOutputPrefix        *string
	BufferingHints           *bufferingHints
	CompressionFormat        *string
	EncryptionConfiguration  *encryptionConfiguration
	CloudWatchLoggingOptions json.RawMessage // accepted and ignored

	// Extended only; the shapes of these features are in processing.go.
	ProcessingConfiguration           *processingConfiguration
	DynamicPartitioningConfiguration  *dynamicPartitioningConfiguration
	DataFormatConversionConfiguration *dataFormatConversionConfiguration
	S3BackupMode                      *string
	FileExtension                     *string
	CustomTimeZone                    *string

	// S3BackupConfiguration (create) and S3BackupUpdate (update) are an
	// S3DestinationConfiguration and an S3DestinationUpdate; backup.go
	// maps them.
	S3BackupConfiguration *s3Destination
	S3BackupUpdate        *s3Destination
}

type bufferingHints struct {
	SizeInMBs         *int
	IntervalInSeconds *int
}

type tag struct {
	Key   *string
	Value *string
}

type describeDeliveryStreamInput struct {
	DeliveryStreamName          *string
	Limit                       *int
	ExclusiveStartDestinationId *string
}

type listDeliveryStreamsInput struct {
	Limit                            *int
	DeliveryStreamType               *string
	ExclusiveStartDeliveryStreamName *string
}

type startDeliveryStreamEncryptionInput struct {
	DeliveryStreamName                         *string
	DeliveryStreamEncryptionConfigurationInput *streamEncryptionInput
}

type stopDeliveryStreamEncryptionInput struct {
	DeliveryStreamName *string
}

// streamEncryptionInput is DeliveryStreamEncryptionConfigurationInput.
type streamEncryptionInput struct {
	KeyARN  *string
	KeyType *string
}

type deleteDeliveryStreamInput struct {
	DeliveryStreamName *string
	AllowForceDelete   *bool
}

type updateDestinationInput struct {
	DeliveryStreamName             *string
	CurrentDeliveryStreamVersionId *string
	DestinationId                  *string
	ExtendedS3DestinationUpdate    *s3Destination
	S3DestinationUpdate            *s3Destination
	// HttpEndpointDestinationUpdate is httpendpoint.go's.
	HttpEndpointDestinationUpdate *httpEndpointDestination
	// HydrantClickHouseDestinationUpdate is Hydrant's extension
	// (clickhouse.go).
	HydrantClickHouseDestinationUpdate *clickHouseDestination

	RedshiftDestinationUpdate                   json.RawMessage
	ElasticsearchDestinationUpdate              json.RawMessage
	AmazonopensearchserviceDestinationUpdate    json.RawMessage
	AmazonOpenSearchServerlessDestinationUpdate json.RawMessage
	SplunkDestinationUpdate                     json.RawMessage
	SnowflakeDestinationUpdate                  json.RawMessage
	IcebergDestinationUpdate                    json.RawMessage
}

func (in *updateDestinationInput) unsupported() string {
	return firstPresent([]namedRaw{
		{"RedshiftDestinationUpdate", in.RedshiftDestinationUpdate},
		{"ElasticsearchDestinationUpdate", in.ElasticsearchDestinationUpdate},
		{"AmazonopensearchserviceDestinationUpdate", in.AmazonopensearchserviceDestinationUpdate},
		{"AmazonOpenSearchServerlessDestinationUpdate", in.AmazonOpenSearchServerlessDestinationUpdate},
		{"SplunkDestinationUpdate", in.SplunkDestinationUpdate},
		{"SnowflakeDestinationUpdate", in.SnowflakeDestinationUpdate},
		{"IcebergDestinationUpdate", in.IcebergDestinationUpdate},
	})
}

// recordInput is a Record; encoding/json decodes the base64 Data.
type recordInput struct {
	Data []byte
}

type putRecordInput struct {
	DeliveryStreamName *string
	Record             *recordInput
}

type putRecordBatchInput struct {
	DeliveryStreamName *string
	Records            []batchRecordInput
}

// batchRecordInput is a Record of a PutRecordBatch, whose Data is decoded
// into the request's arena.
type batchRecordInput struct {
	Data arenaBlob
}

// Responses.

type createDeliveryStreamOutput struct {
	DeliveryStreamARN string
}

type describeDeliveryStreamOutput struct {
	DeliveryStreamDescription deliveryStreamDescription
}

type deliveryStreamDescription struct {
	DeliveryStreamName                    string
	DeliveryStreamARN                     string
	DeliveryStreamStatus                  string
	DeliveryStreamEncryptionConfiguration streamEncryption
	DeliveryStreamType                    string
	VersionId                             string
	CreateTimestamp                       epochSeconds
	LastUpdateTimestamp                   *epochSeconds `json:",omitempty"`
	Destinations                          []destinationDescription
	HasMoreDestinations                   bool
}

// streamEncryption is DeliveryStreamEncryptionConfiguration: the key is
// reported only while encryption is on, as Firehose does.
type streamEncryption struct {
	KeyARN  string `json:",omitempty"`
	KeyType string `json:",omitempty"`
	Status  string
}

// destinationDescription holds the description of the destination's kind:
// both S3 descriptions for an object destination, as Firehose gives them,
// or the HTTP endpoint's, or ClickHouse's.
type destinationDescription struct {
	DestinationId                           string
	ExtendedS3DestinationDescription        *s3DestinationDescription           `json:",omitempty"`
	S3DestinationDescription                *s3DestinationDescription           `json:",omitempty"`
	HttpEndpointDestinationDescription      *httpEndpointDestinationDescription `json:",omitempty"`
	HydrantClickHouseDestinationDescription *clickHouseDestinationDescription   `json:",omitempty"`
}

type s3DestinationDescription struct {
	BucketARN                string
	RoleARN                  string
	Prefix                   string `json:",omitempty"`
	ErrorOutputPrefix        string `json:",omitempty"`
	BufferingHints           bufferingHintsOutput
	CompressionFormat        string
	EncryptionConfiguration  *encryptionConfiguration
	CloudWatchLoggingOptions cloudWatchLoggingOptions

	// Extended only.
	ProcessingConfiguration           *processingConfiguration           `json:",omitempty"`
	DynamicPartitioningConfiguration  *dynamicPartitioningConfiguration  `json:",omitempty"`
	DataFormatConversionConfiguration *dataFormatConversionConfiguration `json:",omitempty"`
	S3BackupMode                      string                             `json:",omitempty"`
	S3BackupDescription               *s3DestinationDescription          `json:",omitempty"`
}

type bufferingHintsOutput struct {
	SizeInMBs         int
	IntervalInSeconds int
}

type cloudWatchLoggingOptions struct {
	Enabled bool
}

type listDeliveryStreamsOutput struct {
	DeliveryStreamNames    []string
	HasMoreDeliveryStreams bool
}

type putRecordOutput struct {
	RecordId  string
	Encrypted bool
}

// epochSeconds is a timestamp as the AWS JSON protocols send it: seconds
// since the epoch, with milliseconds.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', 3, 64), nil
}

// arenaBlob is a base64 blob member that decodes into a shared arena, so
// that a batch of records costs no allocation per record. encoding/json
// leaves the unexported arena pointer alone, and decodes a batch into the
// elements of a reused slice, whose arena pointers putRecordBatch sets
// beforehand; an element without one (a batch larger than any before)
// allocates, as plain []byte would.
type arenaBlob struct {
	b     []byte
	arena *[]byte
}

var errBlobNotString = &awsError{Code: codeSerialization, Message: "Record data must be a base64-encoded JSON string."}

func (a *arenaBlob) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		a.b = nil
		return nil
	}
	if len(data) < 2 || data[0] != '"' {
		return errBlobNotString
	}
	s := data[1 : len(data)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		// Escapes are legal JSON but never needed in base64: take the slow
		// path.
		var str string
		if err := json.Unmarshal(data, &str); err != nil {
			return err
		}
		s = []byte(str)
	}
	n := base64.StdEncoding.DecodedLen(len(s))
	var dst []byte
	arena := a.arena
	if arena != nil && cap(*arena)-len(*arena) >= n {
		dst = (*arena)[len(*arena) : len(*arena)+n]
	} else {
		arena, dst = nil, make([]byte, n)
	}
	m, err := base64.StdEncoding.Decode(dst, s)
	if err != nil {
		return err
	}
	// Capped, so that appending to one record never overwrites the next.
	a.b = dst[:m:m]
	if arena != nil {
		*arena = (*arena)[:len(*arena)+m]
	}
	return nil
}
