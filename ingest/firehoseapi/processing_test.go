package firehoseapi

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrantio/hydrant/delivery"
)

// These tests cover processing, dynamic partitioning, format conversion and
// encryption: through the SDK where the AWS model has the members, and
// with raw JSON for Hydrant's extensions, which the SDK cannot send.

// sdkProcessor returns a processor of type typ with the parameters given as
// name, value pairs.
func sdkProcessor(typ types.ProcessorType, params ...string) types.Processor {
	p := types.Processor{Type: typ, Parameters: []types.ProcessorParameter{}}
	for i := 0; i < len(params); i += 2 {
		p.Parameters = append(p.Parameters, types.ProcessorParameter{
			ParameterName: types.ProcessorParameterName(params[i]), ParameterValue: aws.String(params[i+1])})
	}
	return p
}

// jsonOf renders v for comparing SDK shapes, whose pointers %+v hides.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "!" + err.Error()
	}
	return string(b)
}

// describe returns the stream's ExtendedS3DestinationDescription as the
// SDK decodes it.
func (h *harness) describe(name string) *types.DestinationDescription {
	h.t.Helper()
	out, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
	if err != nil {
		h.t.Fatalf("DescribeDeliveryStream(%s): %v", name, err)
	}
	d := out.DeliveryStreamDescription.Destinations[0]
	if d.ExtendedS3DestinationDescription == nil || d.S3DestinationDescription == nil {
		h.t.Fatalf("DescribeDeliveryStream(%s) = %s; want both S3 descriptions", name, jsonOf(d))
	}
	return &d
}

// wantDestination checks the destination the fake holds for name.
func (h *harness) wantDestination(name string, want delivery.Destination) {
	h.t.Helper()
	info, err := h.fake.Describe(name)
	if err != nil {
		h.t.Fatal(err)
	}
	if !reflect.DeepEqual(info.Config.Destination, want) {
		h.t.Errorf("destination of %s =\n%+v\nwant\n%+v", name, info.Config.Destination, want)
	}
}

// call sends a raw request for operation op and returns the status and
// body, checking the answer's shape.
func (h *harness) call(op, body string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	req.Header.Set("Content-Type", contentType)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkShape(h.t, op+" "+body, resp.StatusCode, resp.Header, b)
	return resp.StatusCode, b
}

// callOK sends a raw request that must succeed.
func (h *harness) callOK(op, body string) []byte {
	h.t.Helper()
	status, b := h.call(op, body)
	if status != http.StatusOK {
		h.t.Fatalf("%s %s: %d %s", op, body, status, b)
	}
	return b
}

// rawDescription is the part of a raw DescribeDeliveryStream answer that
// holds Hydrant's extensions.
type rawDescription struct {
	DeliveryStreamDescription struct {
		Destinations []struct {
			ExtendedS3DestinationDescription struct {
				EncryptionConfiguration           json.RawMessage
				DynamicPartitioningConfiguration  json.RawMessage
				DataFormatConversionConfiguration struct {
					SchemaConfiguration struct {
						Columns json.RawMessage
					}
				}
			}
			S3DestinationDescription struct {
				EncryptionConfiguration json.RawMessage
			}
		}
	}
}

func (h *harness) describeRaw(name string) rawDescription {
	h.t.Helper()
	var d rawDescription
	if err := json.Unmarshal(h.callOK("DescribeDeliveryStream", `{"DeliveryStreamName":"`+name+`"}`), &d); err != nil {
		h.t.Fatal(err)
	}
	return d
}

// baseDest is what a destination of s3Config holds after defaults.
func baseDest(bucket string) delivery.Destination {
	return delivery.Destination{Bucket: bucket, RoleARN: "arn:aws:iam::123456789012:role/firehose",
		Buffering: delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300}, Compression: "UNCOMPRESSED"}
}

const (
	partitionedPrefix = "data/customer=!{partitionKeyFromQuery:customer}/"
	errorsPrefix      = "errors/!{firehose:error-output-type}/"
	customerQuery     = "{customer: .customer}"
)

// partitioned returns a destination that de-aggregates, partitions by
// customer and appends newlines.
func partitioned(bucket string) *extendedS3 {
	d := s3Config(bucket)
	d.Prefix = aws.String(partitionedPrefix)
	d.ErrorOutputPrefix = aws.String(errorsPrefix)
	d.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
		sdkProcessor(types.ProcessorTypeRecordDeAggregation, "SubRecordType", "DELIMITED", "Delimiter", "fHw="),
		sdkProcessor(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", customerQuery, "JsonParsingEngine", "JQ-1.6"),
		sdkProcessor(types.ProcessorTypeAppendDelimiterToRecord),
	}}
	d.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true),
		RetryOptions: &types.RetryOptions{DurationInSeconds: aws.Int32(600)}}
	return d
}

func partitionedDest(bucket string) delivery.Destination {
	want := baseDest(bucket)
	want.Prefix, want.ErrorOutputPrefix = partitionedPrefix, errorsPrefix
	want.Processing = delivery.Processing{DeAggregation: "DELIMITED", Delimiter: "||", MetadataExtractionQuery: customerQuery, AppendDelimiter: true}
	want.DynamicPartitioning = delivery.DynamicPartitioning{Enabled: true, RetryDurationSeconds: 600, MaxActivePartitions: 500}
	return want
}

func TestProcessingAndPartitioning(t *testing.T) {
	h := newHarness(t)
	d := partitioned("bucket")
	h.create("s", d)
	h.wantDestination("s", partitionedDest("bucket"))

	e := h.describe("s").ExtendedS3DestinationDescription
	if got, want := jsonOf(e.ProcessingConfiguration), jsonOf(d.ProcessingConfiguration); got != want {
		t.Errorf("described ProcessingConfiguration = %s; want %s", got, want)
	}
	if got, want := jsonOf(e.DynamicPartitioningConfiguration), jsonOf(d.DynamicPartitioningConfiguration); got != want {
		t.Errorf("described DynamicPartitioningConfiguration = %s; want %s", got, want)
	}

	// JSON sub-records take no delimiter; Firehose's default retry
	// duration applies; MaxActivePartitions is Hydrant's extension.
	h.callOK("CreateDeliveryStream", `{"DeliveryStreamName":"json","ExtendedS3DestinationConfiguration":{
		"BucketARN":"arn:aws:s3:::bucket","RoleARN":"arn:aws:iam::123456789012:role/firehose",
		"Prefix":"`+partitionedPrefix+`","ErrorOutputPrefix":"errors/",
		"ProcessingConfiguration":{"Enabled":true,"Processors":[
			{"Type":"RecordDeAggregation","Parameters":[{"ParameterName":"SubRecordType","ParameterValue":"JSON"}]},
			{"Type":"MetadataExtraction","Parameters":[{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"},
				{"ParameterName":"MetadataExtractionQuery","ParameterValue":"`+customerQuery+`"}]}]},
		"DynamicPartitioningConfiguration":{"Enabled":true,"MaxActivePartitions":50}}}`)
	want := baseDest("bucket")
	want.Prefix, want.ErrorOutputPrefix = partitionedPrefix, "errors/"
	want.Processing = delivery.Processing{DeAggregation: "JSON", MetadataExtractionQuery: customerQuery}
	want.DynamicPartitioning = delivery.DynamicPartitioning{Enabled: true, RetryDurationSeconds: 300, MaxActivePartitions: 50}
	h.wantDestination("json", want)
	e = h.describe("json").ExtendedS3DestinationDescription
	wantProc := &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
		sdkProcessor(types.ProcessorTypeRecordDeAggregation, "SubRecordType", "JSON"),
		sdkProcessor(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", customerQuery, "JsonParsingEngine", "JQ-1.6"),
	}}
	if got, want := jsonOf(e.ProcessingConfiguration), jsonOf(wantProc); got != want {
		t.Errorf("described ProcessingConfiguration = %s; want %s", got, want)
	}
	if got := string(h.describeRaw("json").DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.DynamicPartitioningConfiguration); got != `{"Enabled":true,"RetryOptions":{"DurationInSeconds":300},"MaxActivePartitions":50}` {
		t.Errorf("raw DynamicPartitioningConfiguration = %s", got)
	}

	// A Lambda ARN names a function of the server's config; the CloudWatch
	// Logs processors run before it.
	h.callOK("CreateDeliveryStream", `{"DeliveryStreamName":"fn","ExtendedS3DestinationConfiguration":{
		"BucketARN":"arn:aws:s3:::bucket","RoleARN":"arn:aws:iam::123456789012:role/firehose",
		"ProcessingConfiguration":{"Enabled":true,"Processors":[
			{"Type":"Lambda","Parameters":[{"ParameterName":"LambdaArn","ParameterValue":"arn:aws:lambda:us-east-1:123456789012:function:enrich:$LATEST"},
				{"ParameterName":"NumberOfRetries","ParameterValue":"0"},{"ParameterName":"BufferSizeInMBs","ParameterValue":"0.5"},
				{"ParameterName":"RoleArn","ParameterValue":"arn:aws:iam::123456789012:role/lambda"}]},
			{"Type":"CloudWatchLogProcessing","Parameters":[{"ParameterName":"DataMessageExtraction","ParameterValue":"true"}]},
			{"Type":"Decompression","Parameters":[{"ParameterName":"CompressionFormat","ParameterValue":"GZIP"}]}]}}}`)
	want = baseDest("bucket")
	want.Processing = delivery.Processing{Decompression: "GZIP", CloudWatchLogs: true, Function: delivery.FunctionProcessing{
		Name: "enrich", ARN: "arn:aws:lambda:us-east-1:123456789012:function:enrich:$LATEST", NumberOfRetries: 0,
		BufferSizeBytes: 512 << 10, BufferIntervalSeconds: 60}}
	h.wantDestination("fn", want)
	wantProc = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
		sdkProcessor(types.ProcessorTypeDecompression, "CompressionFormat", "GZIP"),
		sdkProcessor(types.ProcessorTypeCloudWatchLogProcessing, "DataMessageExtraction", "true"),
		sdkProcessor(types.ProcessorTypeLambda, "LambdaArn", "arn:aws:lambda:us-east-1:123456789012:function:enrich:$LATEST",
			"NumberOfRetries", "0", "BufferSizeInMBs", "0.5", "BufferIntervalInSeconds", "60"),
	}}
	if got, want := jsonOf(h.describe("fn").ExtendedS3DestinationDescription.ProcessingConfiguration), jsonOf(wantProc); got != want {
		t.Errorf("described ProcessingConfiguration = %s; want %s", got, want)
	}

	// Disabled processing keeps no processors: Hydrant would not run them.
	d = s3Config("bucket")
	d.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(false), Processors: []types.Processor{
		sdkProcessor(types.ProcessorTypeAppendDelimiterToRecord)}}
	h.create("disabled", d)
	h.wantDestination("disabled", baseDest("bucket"))
	dd := h.describe("disabled")
	wantProc = &types.ProcessingConfiguration{Enabled: aws.Bool(false), Processors: []types.Processor{}}
	if got, want := jsonOf(dd.ExtendedS3DestinationDescription.ProcessingConfiguration), jsonOf(wantProc); got != want {
		t.Errorf("described disabled ProcessingConfiguration = %s; want %s", got, want)
	}
	if dd.ExtendedS3DestinationDescription.DynamicPartitioningConfiguration != nil || dd.ExtendedS3DestinationDescription.DataFormatConversionConfiguration != nil {
		t.Errorf("a plain destination describes %s", jsonOf(dd.ExtendedS3DestinationDescription))
	}
}

// conversionBody is a CreateDeliveryStream with a Parquet conversion, its
// schema inline.
const conversionBody = `{"DeliveryStreamName":"parquet","ExtendedS3DestinationConfiguration":{
	"BucketARN":"arn:aws:s3:::bucket","RoleARN":"arn:aws:iam::123456789012:role/firehose",
	"DataFormatConversionConfiguration":{
		"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{"CaseInsensitive":true}}},
		"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{"Compression":"ZSTD","BlockSizeBytes":134217728,
			"PageSizeBytes":2097152,"EnableDictionaryCompression":true,"MaxPaddingBytes":0,"WriterVersion":"V2"}}},
		"SchemaConfiguration":{"DatabaseName":"db","TableName":"events","RoleARN":"arn:aws:iam::123456789012:role/glue",
			"Region":"us-east-1","CatalogId":"123456789012","VersionId":"LATEST","Columns":` + conversionColumns + `}}}}`

const conversionColumns = `[{"Name":"user","Type":"string"},` +
	`{"Name":"ts","Type":"timestamp","Optional":true,"TimestampUnit":"micros"},` +
	`{"Name":"tags","Type":"array","Element":{"Type":"string"}},` +
	`{"Name":"geo","Type":"struct","Optional":true,"Fields":[{"Name":"lat","Type":"double"},{"Name":"lon","Type":"decimal(9,6)"}]}]`

var conversionSchema = delivery.Schema{Columns: []delivery.Column{
	{Name: "user", Type: "string"},
	{Name: "ts", Type: "timestamp", Optional: true, TimestampUnit: "micros"},
	{Name: "tags", Type: "array", Element: &delivery.Column{Type: "string"}},
	{Name: "geo", Type: "struct", Optional: true, Fields: []delivery.Column{{Name: "lat", Type: "double"}, {Name: "lon", Type: "decimal(9,6)"}}},
}}

func TestFormatConversion(t *testing.T) {
	h := newHarness(t)
	h.callOK("CreateDeliveryStream", conversionBody)
	want := baseDest("bucket")
	want.FormatConversion = delivery.FormatConversion{Enabled: true, Schema: conversionSchema, Compression: "ZSTD",
		BlockSizeBytes: 128 << 20, PageSizeBytes: 2 << 20}
	h.wantDestination("parquet", want)

	// The SDK decodes the description, and skips the columns it does not
	// know; a raw client sees them as it gave them.
	e := h.describe("parquet").ExtendedS3DestinationDescription
	wantConv := &types.DataFormatConversionConfiguration{
		Enabled:                   aws.Bool(true),
		InputFormatConfiguration:  &types.InputFormatConfiguration{Deserializer: &types.Deserializer{OpenXJsonSerDe: &types.OpenXJsonSerDe{}}},
		OutputFormatConfiguration: &types.OutputFormatConfiguration{Serializer: &types.Serializer{ParquetSerDe: &types.ParquetSerDe{Compression: "ZSTD", BlockSizeBytes: aws.Int32(128 << 20), PageSizeBytes: aws.Int32(2 << 20)}}},
		SchemaConfiguration:       &types.SchemaConfiguration{},
	}
	if got, want := jsonOf(e.DataFormatConversionConfiguration), jsonOf(wantConv); got != want {
		t.Errorf("described DataFormatConversionConfiguration =\n%s\nwant\n%s", got, want)
	}
	cols := h.describeRaw("parquet").DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.DataFormatConversionConfiguration.SchemaConfiguration.Columns
	if string(cols) != conversionColumns {
		t.Errorf("described Columns =\n%s\nwant\n%s", cols, conversionColumns)
	}

	// Firehose's ParquetSerDe defaults apply to the members not given.
	h.callOK("CreateDeliveryStream", strings.Replace(strings.Replace(conversionBody, `"parquet"`, `"defaults"`, 1),
		`"Compression":"ZSTD","BlockSizeBytes":134217728,`, ``, 1))
	info, _ := h.fake.Describe("defaults")
	if fc := info.Config.Destination.FormatConversion; fc.Compression != "SNAPPY" || fc.BlockSizeBytes != 256<<20 || fc.PageSizeBytes != 2<<20 {
		t.Errorf("conversion defaults = %+v", fc)
	}
}

func TestEncryption(t *testing.T) {
	h := newHarness(t)
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	d := s3Config("bucket")
	d.EncryptionConfiguration = &types.EncryptionConfiguration{KMSEncryptionConfig: &types.KMSEncryptionConfig{AWSKMSKeyARN: aws.String(key)}}
	h.create("kms", d)
	want := baseDest("bucket")
	want.Encryption.KMSKeyARN = key
	h.wantDestination("kms", want)
	dd := h.describe("kms")
	for _, e := range []*types.EncryptionConfiguration{dd.ExtendedS3DestinationDescription.EncryptionConfiguration, dd.S3DestinationDescription.EncryptionConfiguration} {
		if got, want := jsonOf(e), jsonOf(d.EncryptionConfiguration); got != want {
			t.Errorf("described EncryptionConfiguration = %s; want %s", got, want)
		}
	}

	// The older S3DestinationConfiguration takes it too.
	_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("old"),
		S3DestinationConfiguration: &types.S3DestinationConfiguration{
			BucketARN: aws.String("arn:aws:s3:::bucket"), RoleARN: d.RoleARN, EncryptionConfiguration: d.EncryptionConfiguration},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream with S3DestinationConfiguration: %v", err)
	}
	h.wantDestination("old", want)

	// Client-side encryption is Hydrant's extension, beside either kind
	// of server-side encryption.
	h.callOK("CreateDeliveryStream", `{"DeliveryStreamName":"cse","ExtendedS3DestinationConfiguration":{
		"BucketARN":"arn:aws:s3:::bucket","RoleARN":"arn:aws:iam::123456789012:role/firehose",
		"EncryptionConfiguration":{"NoEncryptionConfig":"NoEncryption","HydrantClientSideEncryption":true}}}`)
	want = baseDest("bucket")
	want.Encryption.ClientSide = true
	h.wantDestination("cse", want)
	raw := h.describeRaw("cse").DeliveryStreamDescription.Destinations[0]
	const wantEnc = `{"NoEncryptionConfig":"NoEncryption","HydrantClientSideEncryption":true}`
	if got := string(raw.ExtendedS3DestinationDescription.EncryptionConfiguration); got != wantEnc {
		t.Errorf("raw EncryptionConfiguration = %s; want %s", got, wantEnc)
	}
	if e := h.describe("cse").ExtendedS3DestinationDescription.EncryptionConfiguration; e.NoEncryptionConfig != types.NoEncryptionConfigNoEncryption {
		t.Errorf("SDK EncryptionConfiguration = %s", jsonOf(e))
	}

	h.fake.noKeys = true
	status, body := h.call("CreateDeliveryStream", `{"DeliveryStreamName":"nokeys","ExtendedS3DestinationConfiguration":{
		"BucketARN":"arn:aws:s3:::bucket","RoleARN":"arn:aws:iam::123456789012:role/firehose",
		"EncryptionConfiguration":{"HydrantClientSideEncryption":true}}}`)
	if e := decodeError(body); status != 400 || e.Type != codeInvalidArgument ||
		!strings.HasPrefix(e.Message, "ExtendedS3DestinationConfiguration.EncryptionConfiguration.HydrantClientSideEncryption: needs master keys") {
		t.Errorf("client-side encryption without keys: %d %+v", status, e)
	}
}

func decodeError(body []byte) errorBody {
	var e errorBody
	_ = json.Unmarshal(body, &e)
	return e
}

func TestUpdateFeatures(t *testing.T) {
	h := newHarness(t)
	h.create("s", partitioned("bucket"))
	version := 1
	update := func(u *types.ExtendedS3DestinationUpdate) {
		t.Helper()
		_, err := h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
			DeliveryStreamName: aws.String("s"), CurrentDeliveryStreamVersionId: aws.String(strconv.Itoa(version)),
			DestinationId: aws.String(destinationID), ExtendedS3DestinationUpdate: u,
		})
		if err != nil {
			t.Fatalf("UpdateDestination(%s): %v", jsonOf(u), err)
		}
		version++
	}
	updateRaw := func(u string) {
		t.Helper()
		h.callOK("UpdateDestination", `{"DeliveryStreamName":"s","CurrentDeliveryStreamVersionId":"`+strconv.Itoa(version)+
			`","DestinationId":"`+destinationID+`","ExtendedS3DestinationUpdate":`+u+`}`)
		version++
	}
	want := partitionedDest("bucket")

	// Members not named keep their values.
	update(&types.ExtendedS3DestinationUpdate{BufferingHints: &types.BufferingHints{SizeInMBs: aws.Int32(64)}})
	want.Buffering.SizeMB = 64
	h.wantDestination("s", want)
	update(&types.ExtendedS3DestinationUpdate{DynamicPartitioningConfiguration: &types.DynamicPartitioningConfiguration{
		RetryOptions: &types.RetryOptions{DurationInSeconds: aws.Int32(900)}}})
	want.DynamicPartitioning.RetryDurationSeconds = 900
	h.wantDestination("s", want)
	updateRaw(`{"DynamicPartitioningConfiguration":{"MaxActivePartitions":1000}}`)
	want.DynamicPartitioning.MaxActivePartitions = 1000
	h.wantDestination("s", want)

	// A ProcessingConfiguration replaces the processors; Enabled without
	// Processors keeps them.
	update(&types.ExtendedS3DestinationUpdate{ProcessingConfiguration: &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
		sdkProcessor(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", "{customer: .c}", "JsonParsingEngine", "JQ-1.6")}}})
	want.Processing = delivery.Processing{MetadataExtractionQuery: "{customer: .c}"}
	h.wantDestination("s", want)
	updateRaw(`{"ProcessingConfiguration":{"Enabled":true}}`)
	h.wantDestination("s", want)

	// Turning partitioning off takes the prefix and the query with it.
	update(&types.ExtendedS3DestinationUpdate{Prefix: aws.String("plain/"),
		ProcessingConfiguration:          &types.ProcessingConfiguration{Enabled: aws.Bool(false)},
		DynamicPartitioningConfiguration: &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(false)}})
	want.Prefix, want.Processing = "plain/", delivery.Processing{}
	want.DynamicPartitioning.Enabled = false
	h.wantDestination("s", want)
	e := h.describe("s").ExtendedS3DestinationDescription
	if p := e.ProcessingConfiguration; p == nil || aws.ToBool(p.Enabled) || len(p.Processors) != 0 {
		t.Errorf("described ProcessingConfiguration after disabling = %s", jsonOf(p))
	}
	if p := e.DynamicPartitioningConfiguration; p == nil || aws.ToBool(p.Enabled) {
		t.Errorf("described DynamicPartitioningConfiguration after disabling = %s", jsonOf(p))
	}

	// Format conversion: the columns first (raw), then the SDK changes
	// the serializer and sends Glue members, which keep the columns.
	updateRaw(`{"DataFormatConversionConfiguration":{"SchemaConfiguration":{"Columns":` + conversionColumns + `}}}`)
	want.FormatConversion = delivery.FormatConversion{Enabled: true, Schema: conversionSchema, Compression: "SNAPPY",
		BlockSizeBytes: 256 << 20, PageSizeBytes: 1 << 20}
	h.wantDestination("s", want)
	update(&types.ExtendedS3DestinationUpdate{DataFormatConversionConfiguration: &types.DataFormatConversionConfiguration{
		OutputFormatConfiguration: &types.OutputFormatConfiguration{Serializer: &types.Serializer{ParquetSerDe: &types.ParquetSerDe{Compression: types.ParquetCompressionGzip}}},
		SchemaConfiguration:       &types.SchemaConfiguration{DatabaseName: aws.String("db"), TableName: aws.String("t")},
	}})
	want.FormatConversion.Compression = "GZIP"
	h.wantDestination("s", want)
	update(&types.ExtendedS3DestinationUpdate{DataFormatConversionConfiguration: &types.DataFormatConversionConfiguration{Enabled: aws.Bool(false)}})
	want.FormatConversion.Enabled = false
	h.wantDestination("s", want)
	if c := h.describe("s").ExtendedS3DestinationDescription.DataFormatConversionConfiguration; c == nil || aws.ToBool(c.Enabled) {
		t.Errorf("described DataFormatConversionConfiguration after disabling = %s", jsonOf(c))
	}

	// Server-side and client-side encryption change independently.
	updateRaw(`{"EncryptionConfiguration":{"HydrantClientSideEncryption":true}}`)
	want.Encryption.ClientSide = true
	h.wantDestination("s", want)
	update(&types.ExtendedS3DestinationUpdate{EncryptionConfiguration: &types.EncryptionConfiguration{
		KMSEncryptionConfig: &types.KMSEncryptionConfig{AWSKMSKeyARN: aws.String("arn:aws:kms:eu-west-1:123456789012:alias/hydrant")}}})
	want.Encryption.KMSKeyARN = "arn:aws:kms:eu-west-1:123456789012:alias/hydrant"
	h.wantDestination("s", want)
	update(&types.ExtendedS3DestinationUpdate{EncryptionConfiguration: &types.EncryptionConfiguration{NoEncryptionConfig: types.NoEncryptionConfigNoEncryption}})
	want.Encryption.KMSKeyARN = ""
	h.wantDestination("s", want)

	// An update that fails leaves the destination as it was.
	_, err := h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("s"), CurrentDeliveryStreamVersionId: aws.String(strconv.Itoa(version)), DestinationId: aws.String(destinationID),
		ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{ProcessingConfiguration: &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
			sdkProcessor(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", "{customer: .c", "JsonParsingEngine", "JQ-1.6")}}},
	})
	wantAPIError(t, "UpdateDestination(bad query)", err, codeInvalidArgument,
		"ExtendedS3DestinationUpdate.ProcessingConfiguration.Processors[MetadataExtraction].Parameters[MetadataExtractionQuery]: ")
	h.wantDestination("s", want)
}

func TestFeatureErrors(t *testing.T) {
	h := newHarness(t)
	const dest = "ExtendedS3DestinationConfiguration."
	const param = dest + "ProcessingConfiguration.Processors"
	f := func(name string, mutate func(d *extendedS3), code, msg string) {
		t.Helper()
		d := s3Config("bucket")
		mutate(d)
		_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("s"), ExtendedS3DestinationConfiguration: d})
		wantAPIError(t, "CreateDeliveryStream("+name+")", err, code, msg)
	}
	processors := func(ps ...types.Processor) func(*extendedS3) {
		return func(d *extendedS3) {
			d.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: ps}
		}
	}
	and := func(fns ...func(*extendedS3)) func(*extendedS3) {
		return func(d *extendedS3) {
			for _, fn := range fns {
				fn(d)
			}
		}
	}
	partitioning := func(d *extendedS3) {
		d.Prefix, d.ErrorOutputPrefix = aws.String(partitionedPrefix), aws.String("errors/")
		d.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)}
	}
	query := func(q string) types.Processor {
		return sdkProcessor(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", q, "JsonParsingEngine", "JQ-1.6")
	}
	conversion := func(c *types.DataFormatConversionConfiguration) func(*extendedS3) {
		return func(d *extendedS3) { d.DataFormatConversionConfiguration = c }
	}
	glueOnly := &types.SchemaConfiguration{DatabaseName: aws.String("db"), TableName: aws.String("t"), RoleARN: aws.String("arn:aws:iam::123456789012:role/glue")}

	// Processing.
	f("invalid jq", and(partitioning, processors(query("{customer: .customer"))), codeInvalidArgument,
		param+"[MetadataExtraction].Parameters[MetadataExtractionQuery]: ")
	f("query without partitioning", processors(query(customerQuery)), codeInvalidArgument,
		param+"[MetadataExtraction].Parameters[MetadataExtractionQuery]: needs DynamicPartitioningConfiguration.Enabled: true")
	f("partitioning without error prefix", and(partitioning, processors(query(customerQuery)), func(d *extendedS3) { d.ErrorOutputPrefix = nil }),
		codeInvalidArgument, dest+"ErrorOutputPrefix: must be set")
	f("partitioning without query", partitioning, codeInvalidArgument, param+"[MetadataExtraction].Parameters[MetadataExtractionQuery]: must be set")
	f("query without a prefix key", and(partitioning, processors(query("{c: .customer}"))), codeInvalidArgument,
		dest+`Prefix: !{partitionKeyFromQuery:customer}: the metadata extraction query yields no key "customer"`)
	f("unknown processor", processors(sdkProcessor("Carrier")), codeValidation,
		"Value 'Carrier' at 'extendedS3DestinationConfiguration.processingConfiguration.processors.1.member.type' failed to satisfy constraint: Member must satisfy enum value set: [RecordDeAggregation, Decompression, CloudWatchLogProcessing, Lambda, MetadataExtraction, AppendDelimiterToRecord]")
	f("unknown parameter name", processors(sdkProcessor(types.ProcessorTypeAppendDelimiterToRecord, "Colour", "red")), codeValidation,
		"at 'extendedS3DestinationConfiguration.processingConfiguration.processors.1.member.parameters.1.member.parameterName' failed to satisfy constraint: Member must satisfy enum value set")
	f("blank parameter", processors(query(" \t")), codeValidation,
		"Value ' \t' at 'extendedS3DestinationConfiguration.processingConfiguration.processors.1.member.parameters.1.member.parameterValue' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?!\\s*$).+")
	f("lambda ARN", processors(sdkProcessor(types.ProcessorTypeLambda, "LambdaArn", "arn:aws:s3:::f")), codeInvalidArgument,
		param+"[Lambda].Parameters[LambdaArn] 'arn:aws:s3:::f' is not a Lambda function ARN")
	f("lambda without ARN", processors(sdkProcessor(types.ProcessorTypeLambda, "NumberOfRetries", "1")), codeInvalidArgument,
		param+"[Lambda].Parameters[LambdaArn] is required")
	f("lambda retries", processors(sdkProcessor(types.ProcessorTypeLambda, "LambdaArn", "arn:aws:lambda:us-east-1:123456789012:function:f", "NumberOfRetries", "301")), codeInvalidArgument,
		param+"[Lambda].Parameters[NumberOfRetries] '301' is not a whole number from 0 to 300.")
	f("lambda buffer", processors(sdkProcessor(types.ProcessorTypeLambda, "LambdaArn", "arn:aws:lambda:us-east-1:123456789012:function:f", "BufferSizeInMBs", "4")), codeInvalidArgument,
		param+"[Lambda].Parameters[BufferSizeInMBs] '4' is not a number of MBs from 0.2 to 3.")
	f("lambda interval", processors(sdkProcessor(types.ProcessorTypeLambda, "LambdaArn", "arn:aws:lambda:us-east-1:123456789012:function:f", "BufferIntervalInSeconds", "30")), codeInvalidArgument,
		param+"[Lambda].Parameters[BufferIntervalInSeconds] '30' is not a whole number of seconds from 60 to 900.")
	f("decompression", processors(sdkProcessor(types.ProcessorTypeDecompression, "CompressionFormat", "ZIP")), codeInvalidArgument,
		param+"[Decompression].Parameters[CompressionFormat] 'ZIP' is not supported: use GZIP.")
	f("cloudwatch without decompression", processors(sdkProcessor(types.ProcessorTypeCloudWatchLogProcessing, "DataMessageExtraction", "true")), codeInvalidArgument,
		param+"[CloudWatchLogProcessing] needs the Decompression processor")
	f("twice", processors(sdkProcessor(types.ProcessorTypeAppendDelimiterToRecord), sdkProcessor(types.ProcessorTypeAppendDelimiterToRecord)), codeInvalidArgument,
		param+"[AppendDelimiterToRecord] is given twice")
	f("parameter twice", processors(sdkProcessor(types.ProcessorTypeRecordDeAggregation, "SubRecordType", "JSON", "SubRecordType", "JSON")), codeInvalidArgument,
		param+"[RecordDeAggregation].Parameters[SubRecordType] is given twice.")
	f("foreign parameter", processors(sdkProcessor(types.ProcessorTypeAppendDelimiterToRecord, "Delimiter", "Cg==")), codeInvalidArgument,
		param+"[AppendDelimiterToRecord].Parameters[Delimiter] is not a parameter of AppendDelimiterToRecord.")
	f("no sub-record type", processors(sdkProcessor(types.ProcessorTypeRecordDeAggregation)), codeInvalidArgument,
		param+"[RecordDeAggregation].Parameters[SubRecordType] is required: JSON or DELIMITED.")
	f("bad sub-record type", processors(sdkProcessor(types.ProcessorTypeRecordDeAggregation, "SubRecordType", "XML")), codeInvalidArgument,
		param+`[RecordDeAggregation].Parameters[SubRecordType]: "XML" is not a sub-record type`)
	f("delimiter with JSON", processors(sdkProcessor(types.ProcessorTypeRecordDeAggregation, "SubRecordType", "JSON", "Delimiter", "Cg==")), codeInvalidArgument,
		param+"[RecordDeAggregation].Parameters[Delimiter]: is only used with SubRecordType DELIMITED")
	f("delimiter not base64", processors(sdkProcessor(types.ProcessorTypeRecordDeAggregation, "SubRecordType", "DELIMITED", "Delimiter", "||")), codeInvalidArgument,
		param+"[RecordDeAggregation].Parameters[Delimiter] must be base64-encoded")
	f("parsing engine", and(partitioning, processors(sdkProcessor(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", customerQuery, "JsonParsingEngine", "JQ-1.5"))),
		codeInvalidArgument, param+"[MetadataExtraction].Parameters[JsonParsingEngine] must be JQ-1.6.")
	f("no parsing engine", and(partitioning, processors(sdkProcessor(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", customerQuery))),
		codeInvalidArgument, param+"[MetadataExtraction].Parameters[JsonParsingEngine] must be JQ-1.6.")
	f("retry duration", func(d *extendedS3) {
		d.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{RetryOptions: &types.RetryOptions{DurationInSeconds: aws.Int32(7201)}}
	}, codeValidation, "Value '7201' at 'extendedS3DestinationConfiguration.dynamicPartitioningConfiguration.retryOptions.durationInSeconds' failed to satisfy constraint: Member must have value less than or equal to 7200")

	// Format conversion.
	f("orc", conversion(&types.DataFormatConversionConfiguration{OutputFormatConfiguration: &types.OutputFormatConfiguration{
		Serializer: &types.Serializer{OrcSerDe: &types.OrcSerDe{}}}}), codeInvalidArgument,
		dest+"DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer.OrcSerDe: ORC output is not supported; use ParquetSerDe.")
	f("glue schema", conversion(&types.DataFormatConversionConfiguration{SchemaConfiguration: glueOnly}), codeInvalidArgument,
		dest+"DataFormatConversionConfiguration.SchemaConfiguration.Columns is required: Hydrant cannot read table schemas from AWS Glue")
	f("no schema", conversion(&types.DataFormatConversionConfiguration{Enabled: aws.Bool(true)}), codeInvalidArgument,
		dest+"DataFormatConversionConfiguration.SchemaConfiguration.Columns is required")
	f("parquet compression", conversion(&types.DataFormatConversionConfiguration{OutputFormatConfiguration: &types.OutputFormatConfiguration{
		Serializer: &types.Serializer{ParquetSerDe: &types.ParquetSerDe{Compression: "LZO", BlockSizeBytes: aws.Int32(1 << 20)}}}}), codeValidation,
		"2 validation errors detected: Value '1048576' at 'extendedS3DestinationConfiguration.dataFormatConversionConfiguration.outputFormatConfiguration.serializer.parquetSerDe.blockSizeBytes' failed to satisfy constraint: Member must have value greater than or equal to 67108864; "+
			"Value 'LZO' at 'extendedS3DestinationConfiguration.dataFormatConversionConfiguration.outputFormatConfiguration.serializer.parquetSerDe.compression' failed to satisfy constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, SNAPPY, ZSTD]")
	f("two deserializers", conversion(&types.DataFormatConversionConfiguration{InputFormatConfiguration: &types.InputFormatConfiguration{
		Deserializer: &types.Deserializer{OpenXJsonSerDe: &types.OpenXJsonSerDe{}, HiveJsonSerDe: &types.HiveJsonSerDe{}}}}), codeInvalidArgument,
		dest+"DataFormatConversionConfiguration.InputFormatConfiguration.Deserializer: specify only one of OpenXJsonSerDe and HiveJsonSerDe.")
	f("key mappings", conversion(&types.DataFormatConversionConfiguration{InputFormatConfiguration: &types.InputFormatConfiguration{
		Deserializer: &types.Deserializer{OpenXJsonSerDe: &types.OpenXJsonSerDe{ColumnToJsonKeyMappings: map[string]string{"ts": "timestamp"}}}}}), codeInvalidArgument,
		"OpenXJsonSerDe.ColumnToJsonKeyMappings is not supported by Hydrant")
	f("glue role", conversion(&types.DataFormatConversionConfiguration{SchemaConfiguration: &types.SchemaConfiguration{RoleARN: aws.String("")}}), codeValidation,
		"at 'extendedS3DestinationConfiguration.dataFormatConversionConfiguration.schemaConfiguration.roleARN' failed to satisfy constraint")

	// Encryption.
	f("kms ARN", func(d *extendedS3) {
		d.EncryptionConfiguration = &types.EncryptionConfiguration{KMSEncryptionConfig: &types.KMSEncryptionConfig{AWSKMSKeyARN: aws.String("key")}}
	}, codeValidation, `Value 'key' at 'extendedS3DestinationConfiguration.encryptionConfiguration.kMSEncryptionConfig.aWSKMSKeyARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.*:kms:[a-zA-Z0-9\-]+:\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\-_/]+`)
	f("both encryptions", func(d *extendedS3) {
		d.EncryptionConfiguration = &types.EncryptionConfiguration{NoEncryptionConfig: types.NoEncryptionConfigNoEncryption,
			KMSEncryptionConfig: &types.KMSEncryptionConfig{AWSKMSKeyARN: aws.String("arn:aws:kms:us-east-1:123456789012:key/k")}}
	}, codeInvalidArgument, dest+"EncryptionConfiguration: specify only one of NoEncryptionConfig and KMSEncryptionConfig.")

	// Hydrant's extensions, and what the SDK cannot send.
	r := func(name, dest, code, msg string) {
		t.Helper()
		status, body := h.call("CreateDeliveryStream", `{"DeliveryStreamName":"s","ExtendedS3DestinationConfiguration":{
			"BucketARN":"arn:aws:s3:::bucket","RoleARN":"arn:aws:iam::123456789012:role/firehose",`+dest+`}}`)
		if e := decodeError(body); status != 400 || e.Type != code || !strings.Contains(e.Message, msg) {
			t.Errorf("CreateDeliveryStream(%s) = %d %s: %q; want %s: %q", name, status, e.Type, e.Message, code, msg)
		}
	}
	const columns = `"DataFormatConversionConfiguration":{"SchemaConfiguration":{"Columns":`
	r("column type", columns+`[{"Name":"a","Type":"string"},{"Name":"b","Type":"varchar"}]}}`, codeInvalidArgument,
		dest+`DataFormatConversionConfiguration.SchemaConfiguration.Columns[1].Type: unknown type "varchar"`)
	r("nested timestamp unit", columns+`[{"Name":"a","Type":"struct","Fields":[{"Name":"t","Type":"timestamp","TimestampUnit":"nanos"}]}]}}`, codeInvalidArgument,
		dest+`DataFormatConversionConfiguration.SchemaConfiguration.Columns[0].Fields[0].TimestampUnit: unknown timestamp unit "nanos"`)
	r("hive type", columns+`[{"Name":"a","Type":"array<string>"}]}}`, codeInvalidArgument,
		dest+"DataFormatConversionConfiguration.SchemaConfiguration.Columns[0].Type: ")
	r("empty columns", columns+`[]}}`, codeInvalidArgument, dest+"DataFormatConversionConfiguration.SchemaConfiguration.Columns is required")
	r("columns not a list", columns+`{"Name":"a"}}}`, codeSerialization, "")
	r("gzip objects", columns+`[{"Name":"a","Type":"string"}]}},"CompressionFormat":"GZIP"`, codeInvalidArgument,
		dest+"CompressionFormat: must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled: Parquet compresses its columns itself (DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer.ParquetSerDe.Compression)")
	r("append delimiter to Parquet", columns+`[{"Name":"a","Type":"string"}]}},"ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"AppendDelimiterToRecord"}]}`,
		codeInvalidArgument, dest+"ProcessingConfiguration.Processors[AppendDelimiterToRecord]: cannot be used with DataFormatConversionConfiguration")
	r("max active partitions", `"Prefix":"`+partitionedPrefix+`","ErrorOutputPrefix":"e/","DynamicPartitioningConfiguration":{"Enabled":true,"MaxActivePartitions":20000},
		"ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"MetadataExtraction","Parameters":[{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{customer:.c}"},{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]}]}`,
		codeInvalidArgument, dest+"DynamicPartitioningConfiguration.MaxActivePartitions: 20000 is out of range")
	r("processor without type", `"ProcessingConfiguration":{"Enabled":true,"Processors":[{"Parameters":[{"ParameterName":"Delimiter"}]}]}`, codeValidation,
		"2 validation errors detected: Value null at 'extendedS3DestinationConfiguration.processingConfiguration.processors.1.member.type' failed to satisfy constraint: Member must not be null; "+
			"Value null at 'extendedS3DestinationConfiguration.processingConfiguration.processors.1.member.parameters.1.member.parameterValue' failed to satisfy constraint: Member must not be null")
	r("kms without key", `"EncryptionConfiguration":{"KMSEncryptionConfig":{}}`, codeValidation,
		"Value null at 'extendedS3DestinationConfiguration.encryptionConfiguration.kMSEncryptionConfig.aWSKMSKeyARN' failed to satisfy constraint: Member must not be null")
	r("client side not a bool", `"EncryptionConfiguration":{"HydrantClientSideEncryption":"yes"}`, codeSerialization,
		"Member ExtendedS3DestinationConfiguration.EncryptionConfiguration.HydrantClientSideEncryption cannot be a JSON string.")
	if _, err := h.fake.Describe("s"); err == nil {
		t.Errorf("a refused create left stream s behind")
	}
}

func TestAPIFieldName(t *testing.T) {
	f := func(field, destParam, want string) {
		t.Helper()
		if got := apiFieldName(field, destParam); got != want {
			t.Errorf("apiFieldName(%q, %q) = %q; want %q", field, destParam, got, want)
		}
	}
	f("destination.buffering.size_mb", "", "ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs")
	f("destination.processing.delimiter", paramExtendedS3Update,
		"ExtendedS3DestinationUpdate.ProcessingConfiguration.Processors[RecordDeAggregation].Parameters[Delimiter]")
	f("destination.dynamic_partitioning.max_active_partitions", "", "ExtendedS3DestinationConfiguration.DynamicPartitioningConfiguration.MaxActivePartitions")
	f("destination.format_conversion.block_size", "", "ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer.ParquetSerDe.BlockSizeBytes")
	f("destination.format_conversion.schema", "", "ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration.SchemaConfiguration.Columns")
	f("destination.format_conversion.schema.columns", "", "ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration.SchemaConfiguration.Columns")
	f("destination.format_conversion.schema.columns[12].element.fields[0].timestamp_unit", "",
		"ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration.SchemaConfiguration.Columns[12].Element.Fields[0].TimestampUnit")
	f("destination.format_conversion.schema[1].name", "", "ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration.SchemaConfiguration.Columns[1].Name")
	f("destination.encryption.kms_key_arn", paramS3, "S3DestinationConfiguration.EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN")
	f("destination.encryption.client_side", "", "ExtendedS3DestinationConfiguration.EncryptionConfiguration.HydrantClientSideEncryption")
	f("destination.backup.mode", "", "ExtendedS3DestinationConfiguration.S3BackupMode")
	f("destination.backup.bucket", "", "ExtendedS3DestinationConfiguration.S3BackupConfiguration.BucketARN")
	f("destination.backup.prefix", paramExtendedS3Update, "ExtendedS3DestinationUpdate.S3BackupUpdate.Prefix")
	f("destination.backup.compression", paramExtendedS3Update, "ExtendedS3DestinationUpdate.S3BackupUpdate.CompressionFormat")
	f("destination.backup.something_new", "", "destination.backup.something_new")
	f("destination.something_new", "", "destination.something_new")

	// A record destination's bucket is in its S3 member; its sink's
	// settings are its own members.
	f("destination.bucket", paramHTTP, "HttpEndpointDestinationConfiguration.S3Configuration.BucketARN")
	f("destination.error_output_prefix", paramHTTPUpdate, "HttpEndpointDestinationUpdate.S3Update.ErrorOutputPrefix")
	f("destination.compression", paramClickHouse, "HydrantClickHouseDestinationConfiguration.S3Configuration.CompressionFormat")
	f("destination.encryption.kms_key_arn", paramClickHouseUpdate,
		"HydrantClickHouseDestinationUpdate.S3Update.EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN")
	f("destination.buffering.size_mb", paramHTTP, "HttpEndpointDestinationConfiguration.BufferingHints.SizeInMBs")
	f("destination.processing.delimiter", paramClickHouse,
		"HydrantClickHouseDestinationConfiguration.ProcessingConfiguration.Processors[RecordDeAggregation].Parameters[Delimiter]")
	f("destination.role_arn", paramHTTP, "HttpEndpointDestinationConfiguration.RoleARN")
	f("destination.role_arn", paramClickHouse, "HydrantClickHouseDestinationConfiguration.S3Configuration.RoleARN")
	f("destination.backup.mode", paramHTTPUpdate, "HttpEndpointDestinationUpdate.S3BackupMode")
	f("destination.http", paramHTTP, "HttpEndpointDestinationConfiguration")
	f("destination.http.url", paramHTTPUpdate, "HttpEndpointDestinationUpdate.EndpointConfiguration.Url")
	f("destination.http.access_key", paramHTTP, "HttpEndpointDestinationConfiguration.EndpointConfiguration.AccessKey")
	f("destination.http.common_attributes", paramHTTP, "HttpEndpointDestinationConfiguration.RequestConfiguration.CommonAttributes")
	f("destination.http.content_encoding", paramHTTP, "HttpEndpointDestinationConfiguration.RequestConfiguration.ContentEncoding")
	f("destination.http.retry_duration", paramHTTP, "HttpEndpointDestinationConfiguration.RetryOptions.DurationInSeconds")
	f("destination.http.something_new", paramHTTP, "destination.http.something_new")
	f("destination.clickhouse", paramClickHouse, "HydrantClickHouseDestinationConfiguration")
	f("destination.clickhouse.table", paramClickHouseUpdate, "HydrantClickHouseDestinationUpdate.Table")
	f("destination.clickhouse.unknown_fields", paramClickHouse, "HydrantClickHouseDestinationConfiguration.UnknownFields")
	f("destination.clickhouse.columns", paramClickHouse, "HydrantClickHouseDestinationConfiguration.Columns")
	f("destination.clickhouse.columns[2].type", paramClickHouseUpdate, "HydrantClickHouseDestinationUpdate.Columns[2].Type")

	// The sinks' own messages come in the API's terms.
	m := func(err error, want string) {
		t.Helper()
		if got := apiMessage(err.Error()); got != want {
			t.Errorf("apiMessage(%q) = %q; want %q", err, got, want)
		}
	}
	m(delivery.HTTPConfig{URL: "https://"}.Validate(), `invalid HTTP endpoint URL "https://": want https://host[:port]/path`)
	m(delivery.HTTPConfig{URL: "https://h", ContentEncoding: "br"}.Validate(), `HTTP endpoint content encoding "br" is not supported: use NONE or GZIP`)
	m(delivery.ClickHouseConfig{Addrs: []string{"ch:9000"}}.Validate(), "no table: set Table to the table rows are inserted into")
	m(delivery.ClickHouseConfig{}.Validate(), "no server address: set Addrs to the native-protocol host:port of each server, such as 127.0.0.1:9000")
	m(delivery.ClickHouseConfig{Addrs: []string{"ch:9000"}, Table: "t", UnknownFields: "x"}.Validate(), `UnknownFields is "x": want ignore or reject`)
	m(delivery.ClickHouseConfig{Addrs: []string{"ch:9000"}, Table: "t", CreateTable: true}.Validate(), "CreateTable needs the columns, each with a type")

	const msg = "needs master keys: give hydrant serve a key file (encryption.key_file in the config)"
	if got := apiMessage(msg); got != msg {
		t.Errorf("apiMessage(%q) = %q; want it unchanged", msg, got)
	}
}
