package firehoseapi

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrantio/hydrant/delivery"
)

// These tests drive the HTTP endpoint destination with the real AWS SDK,
// which has its shapes.

type httpDest = types.HttpEndpointDestinationConfiguration

const (
	httpRole   = "arn:aws:iam::123456789012:role/http"
	s3Role     = "arn:aws:iam::123456789012:role/firehose"
	accessKey  = "very-secret-access-key-1234"
	endpointV1 = "https://collector.example.com/v1/ingest?tenant=7"
)

// httpConfig returns a complete HttpEndpointDestinationConfiguration: an
// endpoint, and a bucket for failed records.
func httpConfig(url string) *httpDest {
	return &httpDest{
		EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(url)},
		S3Configuration: &types.S3DestinationConfiguration{
			BucketARN: aws.String("arn:aws:s3:::failed-records"), RoleARN: aws.String(s3Role),
		},
	}
}

func (h *harness) createHTTP(name string, d *httpDest) error {
	_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(name), HttpEndpointDestinationConfiguration: d,
	})
	return err
}

// describeHTTP returns the stream's HttpEndpointDestinationDescription as
// the SDK decodes it, checking that it is the only description.
func (h *harness) describeHTTP(name string) *types.HttpEndpointDestinationDescription {
	h.t.Helper()
	out, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
	if err != nil {
		h.t.Fatalf("DescribeDeliveryStream(%s): %v", name, err)
	}
	d := out.DeliveryStreamDescription.Destinations[0]
	if d.HttpEndpointDestinationDescription == nil || d.ExtendedS3DestinationDescription != nil || d.S3DestinationDescription != nil {
		h.t.Fatalf("DescribeDeliveryStream(%s) = %s; want an HttpEndpointDestinationDescription only", name, jsonOf(d))
	}
	return d.HttpEndpointDestinationDescription
}

func attr(name, value string) types.HttpEndpointCommonAttribute {
	return types.HttpEndpointCommonAttribute{AttributeName: aws.String(name), AttributeValue: aws.String(value)}
}

func TestHTTPEndpointCreateAndDescribe(t *testing.T) {
	h := newHarness(t)
	d := httpConfig(endpointV1)
	d.EndpointConfiguration.Name = aws.String("collector")
	d.EndpointConfiguration.AccessKey = aws.String(accessKey)
	d.RequestConfiguration = &types.HttpEndpointRequestConfiguration{ContentEncoding: types.ContentEncodingGzip,
		CommonAttributes: []types.HttpEndpointCommonAttribute{attr("env", "prod"), attr("app", "web")}}
	d.BufferingHints = &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(64), IntervalInSeconds: aws.Int32(60)}
	d.RetryOptions = &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(0)}
	d.S3BackupMode = types.HttpEndpointS3BackupModeAllData
	d.RoleARN = aws.String(httpRole)
	d.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
		sdkProcessor(types.ProcessorTypeRecordDeAggregation, "SubRecordType", "JSON"),
		sdkProcessor(types.ProcessorTypeAppendDelimiterToRecord),
	}}
	d.CloudWatchLoggingOptions = &types.CloudWatchLoggingOptions{Enabled: aws.Bool(true), LogGroupName: aws.String("g"), LogStreamName: aws.String("s")}
	d.SecretsManagerConfiguration = &types.SecretsManagerConfiguration{Enabled: aws.Bool(false)}
	s3 := d.S3Configuration
	s3.Prefix, s3.ErrorOutputPrefix = aws.String("copies/"), aws.String("failed/")
	s3.CompressionFormat = types.CompressionFormatGzip
	s3.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(900)} // ignored
	s3.EncryptionConfiguration = &types.EncryptionConfiguration{KMSEncryptionConfig: &types.KMSEncryptionConfig{AWSKMSKeyARN: aws.String(testKeyARN)}}
	if err := h.createHTTP("hook", d); err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	want := delivery.Destination{
		Bucket: "failed-records", RoleARN: httpRole, Prefix: "copies/", ErrorOutputPrefix: "failed/",
		Buffering: delivery.BufferingHints{SizeMB: 64, IntervalSeconds: 60}, Compression: "GZIP",
		Processing: delivery.Processing{DeAggregation: "JSON", AppendDelimiter: true},
		Encryption: delivery.ObjectEncryption{KMSKeyARN: testKeyARN},
		Backup:     delivery.Backup{Mode: delivery.BackupAllData},
		HTTP: delivery.HTTPConfig{URL: endpointV1, AccessKey: accessKey, CommonAttributes: map[string]string{"env": "prod", "app": "web"},
			ContentEncoding: "GZIP", RetryDuration: delivery.HTTPNoRetries},
	}
	h.wantDestination("hook", want)

	// The description is in the AWS shape, with the destination's
	// buffering for its objects, and no access key.
	wantDesc := &types.HttpEndpointDestinationDescription{
		EndpointConfiguration: &types.HttpEndpointDescription{Url: aws.String(endpointV1)},
		RequestConfiguration: &types.HttpEndpointRequestConfiguration{ContentEncoding: types.ContentEncodingGzip,
			CommonAttributes: []types.HttpEndpointCommonAttribute{attr("app", "web"), attr("env", "prod")}},
		BufferingHints: &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(64), IntervalInSeconds: aws.Int32(60)},
		RetryOptions:   &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(0)},
		RoleARN:        aws.String(httpRole),
		S3BackupMode:   types.HttpEndpointS3BackupModeAllData,
		S3DestinationDescription: &types.S3DestinationDescription{
			BucketARN: aws.String("arn:aws:s3:::failed-records"), RoleARN: aws.String(httpRole),
			Prefix: aws.String("copies/"), ErrorOutputPrefix: aws.String("failed/"),
			BufferingHints:           &types.BufferingHints{SizeInMBs: aws.Int32(64), IntervalInSeconds: aws.Int32(60)},
			CompressionFormat:        types.CompressionFormatGzip,
			EncryptionConfiguration:  s3.EncryptionConfiguration,
			CloudWatchLoggingOptions: &types.CloudWatchLoggingOptions{Enabled: aws.Bool(false)},
		},
		ProcessingConfiguration:  d.ProcessingConfiguration,
		CloudWatchLoggingOptions: &types.CloudWatchLoggingOptions{Enabled: aws.Bool(false)},
	}
	if got := h.describeHTTP("hook"); jsonOf(got) != jsonOf(wantDesc) {
		t.Errorf("HttpEndpointDestinationDescription =\n%s\nwant\n%s", jsonOf(got), jsonOf(wantDesc))
	}
	if body := string(h.callOK("DescribeDeliveryStream", `{"DeliveryStreamName":"hook"}`)); strings.Contains(body, accessKey) || strings.Contains(body, "AccessKey") {
		t.Errorf("DescribeDeliveryStream answer holds the access key: %s", body)
	}

	// Defaults: FailedDataOnly, Firehose's retry duration, NONE, the
	// S3 member's role.
	if err := h.createHTTP("plain", httpConfig("http://127.0.0.1:8080/in")); err != nil {
		t.Fatalf("CreateDeliveryStream(loopback http): %v", err)
	}
	want = delivery.Destination{Bucket: "failed-records", RoleARN: s3Role, Buffering: delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300},
		Compression: "UNCOMPRESSED", Backup: delivery.Backup{Mode: delivery.BackupFailedDataOnly}, HTTP: delivery.HTTPConfig{URL: "http://127.0.0.1:8080/in"}}
	h.wantDestination("plain", want)
	got := h.describeHTTP("plain")
	if aws.ToInt32(got.RetryOptions.DurationInSeconds) != 300 || got.RequestConfiguration.ContentEncoding != types.ContentEncodingNone ||
		got.RequestConfiguration.CommonAttributes == nil || len(got.RequestConfiguration.CommonAttributes) != 0 ||
		got.S3BackupMode != types.HttpEndpointS3BackupModeFailedDataOnly || aws.ToString(got.RoleARN) != s3Role ||
		aws.ToInt32(got.BufferingHints.SizeInMBs) != 5 || aws.ToInt32(got.BufferingHints.IntervalInSeconds) != 300 {
		t.Errorf("HttpEndpointDestinationDescription with defaults = %s", jsonOf(got))
	}
	if err := h.createHTTP("local", httpConfig("http://localhost/in")); err != nil {
		t.Errorf("CreateDeliveryStream(http://localhost): %v", err)
	}
}

func TestHTTPEndpointUpdate(t *testing.T) {
	h := newHarness(t)
	d := httpConfig(endpointV1)
	d.EndpointConfiguration.AccessKey = aws.String(accessKey)
	d.RequestConfiguration = &types.HttpEndpointRequestConfiguration{ContentEncoding: types.ContentEncodingGzip,
		CommonAttributes: []types.HttpEndpointCommonAttribute{attr("env", "prod")}}
	d.BufferingHints = &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(10), IntervalInSeconds: aws.Int32(100)}
	d.S3BackupMode = types.HttpEndpointS3BackupModeAllData
	if err := h.createHTTP("hook", d); err != nil {
		t.Fatal(err)
	}
	want := delivery.Destination{Bucket: "failed-records", RoleARN: s3Role, Buffering: delivery.BufferingHints{SizeMB: 10, IntervalSeconds: 100},
		Compression: "UNCOMPRESSED", Backup: delivery.Backup{Mode: delivery.BackupAllData},
		HTTP: delivery.HTTPConfig{URL: endpointV1, AccessKey: accessKey, CommonAttributes: map[string]string{"env": "prod"}, ContentEncoding: "GZIP"}}
	h.wantDestination("hook", want)

	version := 1
	update := func(u *types.HttpEndpointDestinationUpdate) {
		t.Helper()
		_, err := h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
			DeliveryStreamName: aws.String("hook"), CurrentDeliveryStreamVersionId: aws.String(strconv.Itoa(version)),
			DestinationId: aws.String(destinationID), HttpEndpointDestinationUpdate: u,
		})
		if err != nil {
			t.Fatalf("UpdateDestination(%s): %v", jsonOf(u), err)
		}
		version++
	}
	// A new URL keeps the key, which the description never gave back.
	update(&types.HttpEndpointDestinationUpdate{EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String("https://v2.example.com/in")}})
	want.HTTP.URL = "https://v2.example.com/in"
	h.wantDestination("hook", want)
	// The encoding alone keeps the attributes, and the reverse.
	update(&types.HttpEndpointDestinationUpdate{RequestConfiguration: &types.HttpEndpointRequestConfiguration{ContentEncoding: types.ContentEncodingNone}})
	want.HTTP.ContentEncoding = "NONE"
	h.wantDestination("hook", want)
	update(&types.HttpEndpointDestinationUpdate{RequestConfiguration: &types.HttpEndpointRequestConfiguration{
		CommonAttributes: []types.HttpEndpointCommonAttribute{attr("team", "data"), attr("tier", "1")}}})
	want.HTTP.CommonAttributes = map[string]string{"team": "data", "tier": "1"}
	h.wantDestination("hook", want)
	update(&types.HttpEndpointDestinationUpdate{RequestConfiguration: &types.HttpEndpointRequestConfiguration{CommonAttributes: []types.HttpEndpointCommonAttribute{}}})
	want.HTTP.CommonAttributes = nil
	h.wantDestination("hook", want)
	// An empty key removes it.
	update(&types.HttpEndpointDestinationUpdate{EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String("https://v2.example.com/in"), AccessKey: aws.String("")}})
	want.HTTP.AccessKey = ""
	h.wantDestination("hook", want)
	// Hints, retries, backup mode, role, processing, the S3 member: each
	// changes what it names. The S3 member's hints are ignored.
	update(&types.HttpEndpointDestinationUpdate{
		BufferingHints: &types.HttpEndpointBufferingHints{IntervalInSeconds: aws.Int32(0)},
		RetryOptions:   &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(7200)},
		S3BackupMode:   types.HttpEndpointS3BackupModeFailedDataOnly,
		RoleARN:        aws.String(httpRole),
		ProcessingConfiguration: &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
			sdkProcessor(types.ProcessorTypeAppendDelimiterToRecord)}},
		S3Update: &types.S3DestinationUpdate{Prefix: aws.String("all/"), ErrorOutputPrefix: aws.String("failed/"),
			BufferingHints: &types.BufferingHints{SizeInMBs: aws.Int32(128)}},
	})
	want.Buffering.IntervalSeconds = 0
	want.HTTP.RetryDuration = 2 * time.Hour
	want.Backup.Mode = delivery.BackupFailedDataOnly
	want.RoleARN = httpRole
	want.Processing = delivery.Processing{AppendDelimiter: true}
	want.Prefix, want.ErrorOutputPrefix = "all/", "failed/"
	h.wantDestination("hook", want)
	if got := h.describeHTTP("hook"); aws.ToInt32(got.RetryOptions.DurationInSeconds) != 7200 || aws.ToInt32(got.BufferingHints.IntervalInSeconds) != 0 {
		t.Errorf("described after update = %s", jsonOf(got))
	}
	// An update that fails changes nothing.
	_, err := h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("hook"), CurrentDeliveryStreamVersionId: aws.String(strconv.Itoa(version)),
		DestinationId: aws.String(destinationID), HttpEndpointDestinationUpdate: &types.HttpEndpointDestinationUpdate{
			RetryOptions: &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(1)},
			S3Update:     &types.S3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::x")}},
	})
	wantAPIError(t, "UpdateDestination(bad bucket)", err, codeInvalidArgument, `HttpEndpointDestinationUpdate.S3Update.BucketARN: "x" is not a valid bucket name`)
	h.wantDestination("hook", want)
}

// TestChangeDestinationKind checks that an update of another kind of
// destination replaces the destination, and must be complete, as in
// Firehose.
func TestChangeDestinationKind(t *testing.T) {
	h := newHarness(t)
	s3 := s3Config("bucket")
	s3.Prefix = aws.String("old/")
	h.create("s", s3)
	update := func(version string, in *firehose.UpdateDestinationInput) error {
		in.DeliveryStreamName, in.CurrentDeliveryStreamVersionId, in.DestinationId = aws.String("s"), aws.String(version), aws.String(destinationID)
		_, err := h.client.UpdateDestination(ctx, in)
		return err
	}
	err := update("1", &firehose.UpdateDestinationInput{HttpEndpointDestinationUpdate: &types.HttpEndpointDestinationUpdate{
		EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(endpointV1)}}})
	wantAPIError(t, "UpdateDestination(to HTTP, no bucket)", err, codeInvalidArgument,
		"Firehose s delivers to Amazon S3: changing its destination to an HTTP endpoint takes a complete configuration, as CreateDeliveryStream does, "+
			"and HttpEndpointDestinationUpdate.S3Update.BucketARN is missing.")
	err = update("1", &firehose.UpdateDestinationInput{HttpEndpointDestinationUpdate: &types.HttpEndpointDestinationUpdate{
		S3Update: &types.S3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::failed-records")}}})
	wantAPIError(t, "UpdateDestination(to HTTP, no endpoint)", err, codeInvalidArgument, "HttpEndpointDestinationUpdate.EndpointConfiguration is missing.")
	if err := update("1", &firehose.UpdateDestinationInput{HttpEndpointDestinationUpdate: &types.HttpEndpointDestinationUpdate{
		EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(endpointV1)},
		S3Update:              &types.S3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::failed-records")}}}); err != nil {
		t.Fatalf("UpdateDestination(to HTTP): %v", err)
	}
	// Nothing of the S3 destination is kept: not its prefix, not its role.
	h.wantDestination("s", delivery.Destination{Bucket: "failed-records", Buffering: delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300},
		Compression: "UNCOMPRESSED", Backup: delivery.Backup{Mode: delivery.BackupFailedDataOnly}, HTTP: delivery.HTTPConfig{URL: endpointV1}})
	h.describeHTTP("s")

	err = update("2", &firehose.UpdateDestinationInput{ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{Prefix: aws.String("new/")}})
	wantAPIError(t, "UpdateDestination(to S3, no bucket)", err, codeInvalidArgument,
		"Firehose s delivers to an HTTP endpoint: changing its destination to Amazon S3 takes a complete configuration, as CreateDeliveryStream does, "+
			"and ExtendedS3DestinationUpdate.BucketARN is missing.")
	if err := update("2", &firehose.UpdateDestinationInput{ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{
		BucketARN: aws.String("arn:aws:s3:::bucket"), Prefix: aws.String("new/")}}); err != nil {
		t.Fatalf("UpdateDestination(to S3): %v", err)
	}
	want := baseDest("bucket")
	want.RoleARN, want.Prefix = "", "new/"
	h.wantDestination("s", want)
	h.describe("s")
}

func TestHTTPEndpointErrors(t *testing.T) {
	h := newHarness(t)
	f := func(name string, mutate func(*httpDest), code, msg string) {
		t.Helper()
		d := httpConfig(endpointV1)
		mutate(d)
		wantAPIError(t, "CreateDeliveryStream("+name+")", h.createHTTP("k", d), code, msg)
	}
	const dest = "HttpEndpointDestinationConfiguration."
	const path = "'httpEndpointDestinationConfiguration."
	url := func(u string) func(*httpDest) {
		return func(d *httpDest) { d.EndpointConfiguration.Url = aws.String(u) }
	}
	f("bad URL", url("ftp://example.com/in"), codeValidation,
		"1 validation error detected: Value '*** Sensitive Data Redacted ***' at "+path+"endpointConfiguration.url' failed to satisfy constraint: Member must satisfy regular expression pattern: https://.*")
	f("URL without host", url("https:///in"), codeInvalidArgument, `HttpEndpointDestinationConfiguration: invalid HTTP endpoint URL "https:///in": want https://host[:port]/path`)
	f("URL with credentials", url("https://user:pw@example.com/in"), codeInvalidArgument,
		"HttpEndpointDestinationConfiguration: invalid HTTP endpoint URL: it holds credentials: put them in the access key")
	f("http to another host", url("http://collector.example.com/in"), codeInvalidArgument,
		dest+"EndpointConfiguration.Url must be https://: Hydrant takes http:// only to a loopback host (localhost, 127.0.0.0/8, ::1)")
	f("http to a private address", url("http://10.0.0.1/in"), codeInvalidArgument, dest+"EndpointConfiguration.Url must be https://")
	f("long URL", url("https://example.com/"+strings.Repeat("a", 1000)), codeValidation,
		"Value '*** Sensitive Data Redacted ***' at "+path+"endpointConfiguration.url' failed to satisfy constraint: Member must have length less than or equal to 1000")
	f("long access key", func(d *httpDest) { d.EndpointConfiguration.AccessKey = aws.String(strings.Repeat("k", 4097)) }, codeValidation,
		"Value '*** Sensitive Data Redacted ***' at "+path+"endpointConfiguration.accessKey' failed to satisfy constraint: Member must have length less than or equal to 4096")
	f("blank name", func(d *httpDest) { d.EndpointConfiguration.Name = aws.String("  ") }, codeValidation,
		"Value '  ' at "+path+"endpointConfiguration.name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?!\\s*$).+")
	f("content encoding", func(d *httpDest) {
		d.RequestConfiguration = &types.HttpEndpointRequestConfiguration{ContentEncoding: "BROTLI"}
	}, codeValidation, "Value 'BROTLI' at "+path+"requestConfiguration.contentEncoding' failed to satisfy constraint: Member must satisfy enum value set: [NONE, GZIP]")
	f("buffer size", func(d *httpDest) {
		d.BufferingHints = &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(65), IntervalInSeconds: aws.Int32(60)}
	}, codeValidation, "1 validation error detected: Value '65' at "+path+"bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 64")
	f("retry duration", func(d *httpDest) {
		d.RetryOptions = &types.HttpEndpointRetryOptions{DurationInSeconds: aws.Int32(7201)}
	}, codeValidation,
		"Value '7201' at "+path+"retryOptions.durationInSeconds' failed to satisfy constraint: Member must have value less than or equal to 7200")
	f("backup mode", func(d *httpDest) { d.S3BackupMode = "Enabled" }, codeValidation,
		"Value 'Enabled' at "+path+"s3BackupMode' failed to satisfy constraint: Member must satisfy enum value set: [FailedDataOnly, AllData]")
	f("attribute twice", func(d *httpDest) {
		d.RequestConfiguration = &types.HttpEndpointRequestConfiguration{CommonAttributes: []types.HttpEndpointCommonAttribute{attr("a", "1"), attr("a", "2")}}
	}, codeInvalidArgument, dest+"RequestConfiguration.CommonAttributes names 'a' twice.")
	f("too many attributes", func(d *httpDest) {
		d.RequestConfiguration = &types.HttpEndpointRequestConfiguration{}
		for i := range 51 {
			d.RequestConfiguration.CommonAttributes = append(d.RequestConfiguration.CommonAttributes, attr("a"+strconv.Itoa(i), ""))
		}
	}, codeValidation, "Value at "+path+"requestConfiguration.commonAttributes' failed to satisfy constraint: Member must have length less than or equal to 50")
	f("secrets manager", func(d *httpDest) {
		d.SecretsManagerConfiguration = &types.SecretsManagerConfiguration{Enabled: aws.Bool(true),
			SecretARN: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:key")}
	}, codeInvalidArgument, dest+"SecretsManagerConfiguration is not supported by Hydrant, which reads no AWS secrets: give the key in "+dest+"EndpointConfiguration.AccessKey.")
	f("bucket name", func(d *httpDest) { d.S3Configuration.BucketARN = aws.String("arn:aws:s3:::Bad_Bucket") }, codeInvalidArgument,
		dest+`S3Configuration.BucketARN: "Bad_Bucket" is not a valid bucket name`)
	f("bucket ARN", func(d *httpDest) { d.S3Configuration.BucketARN = aws.String("bucket") }, codeValidation,
		"Value 'bucket' at "+path+"s3Configuration.bucketARN' failed to satisfy constraint")
	f("S3 hints", func(d *httpDest) { d.S3Configuration.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(0)} }, codeValidation,
		"Value '0' at "+path+"s3Configuration.bufferingHints.sizeInMBs' failed to satisfy constraint")
	f("S3 encryption", func(d *httpDest) {
		d.S3Configuration.EncryptionConfiguration = &types.EncryptionConfiguration{NoEncryptionConfig: types.NoEncryptionConfigNoEncryption,
			KMSEncryptionConfig: &types.KMSEncryptionConfig{AWSKMSKeyARN: aws.String(testKeyARN)}}
	}, codeInvalidArgument, dest+"S3Configuration.EncryptionConfiguration: specify only one of NoEncryptionConfig and KMSEncryptionConfig.")
	f("lambda", func(d *httpDest) {
		d.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
			sdkProcessor(types.ProcessorTypeLambda, "LambdaArn", "arn:aws:lambda:us-east-1:123456789012:f")}}
	}, codeInvalidArgument, dest+"ProcessingConfiguration.Processors[Lambda].Parameters[LambdaArn] 'arn:aws:lambda:us-east-1:123456789012:f' is not a Lambda function ARN")
	f("metadata extraction", func(d *httpDest) {
		d.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
			sdkProcessor(types.ProcessorTypeMetadataExtraction, "MetadataExtractionQuery", customerQuery, "JsonParsingEngine", "JQ-1.6")}}
	}, codeInvalidArgument, dest+"ProcessingConfiguration.Processors[MetadataExtraction] is for S3 destinations with dynamic partitioning")
	f("role", func(d *httpDest) { d.RoleARN = aws.String("role") }, codeValidation, "Value 'role' at "+path+"roleARN' failed to satisfy constraint")

	// The SDK refuses a configuration without S3Configuration itself; other
	// clients may send one.
	_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("k"),
		HttpEndpointDestinationConfiguration: &httpDest{EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String(endpointV1)}}})
	if err == nil || !strings.Contains(err.Error(), "S3Configuration") {
		t.Errorf("CreateDeliveryStream(no S3Configuration) through the SDK = %v", err)
	}
	r := func(name, body, code, msg string) {
		t.Helper()
		status, b := h.call("CreateDeliveryStream", body)
		if e := decodeError(b); status != 400 || e.Type != code || !strings.Contains(e.Message, msg) {
			t.Errorf("CreateDeliveryStream(%s) = %d %s: %q; want %s: %q", name, status, e.Type, e.Message, code, msg)
		}
	}
	r("no S3Configuration", `{"DeliveryStreamName":"k","HttpEndpointDestinationConfiguration":{"EndpointConfiguration":{"Url":"https://example.com"}}}`,
		codeValidation, "1 validation error detected: Value null at "+path+"s3Configuration' failed to satisfy constraint: Member must not be null")
	r("no endpoint", `{"DeliveryStreamName":"k","HttpEndpointDestinationConfiguration":{"EndpointConfiguration":{},
		"S3Configuration":{"BucketARN":"arn:aws:s3:::failed-records","RoleARN":"`+s3Role+`"}}}`,
		codeValidation, "Value null at "+path+"endpointConfiguration.url' failed to satisfy constraint: Member must not be null")
	r("secrets manager without Enabled", `{"DeliveryStreamName":"k","HttpEndpointDestinationConfiguration":{"EndpointConfiguration":{"Url":"https://example.com"},
		"S3Configuration":{"BucketARN":"arn:aws:s3:::failed-records","RoleARN":"`+s3Role+`"},"SecretsManagerConfiguration":{}}}`,
		codeValidation, "Value null at "+path+"secretsManagerConfiguration.enabled' failed to satisfy constraint: Member must not be null")
	r("attribute without value", `{"DeliveryStreamName":"k","HttpEndpointDestinationConfiguration":{"EndpointConfiguration":{"Url":"https://example.com"},
		"S3Configuration":{"BucketARN":"arn:aws:s3:::failed-records","RoleARN":"`+s3Role+`"},"RequestConfiguration":{"CommonAttributes":[{"AttributeName":"a"}]}}}`,
		codeValidation, "Value null at "+path+"requestConfiguration.commonAttributes.1.member.attributeValue' failed to satisfy constraint: Member must not be null")

	// One destination per stream, as in Firehose.
	_, err = h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("k"),
		ExtendedS3DestinationConfiguration: s3Config("bucket"), HttpEndpointDestinationConfiguration: httpConfig(endpointV1)})
	wantAPIError(t, "CreateDeliveryStream(S3 and HTTP)", err, codeInvalidArgument,
		"Specify only one of ExtendedS3DestinationConfiguration and HttpEndpointDestinationConfiguration: a Firehose stream has exactly one destination.")
	if _, err := h.fake.Describe("k"); err == nil {
		t.Errorf("a refused create left stream k behind")
	}

	// Updates are checked as creates are.
	if err := h.createHTTP("hook", httpConfig(endpointV1)); err != nil {
		t.Fatal(err)
	}
	u := func(name string, upd *types.HttpEndpointDestinationUpdate, code, msg string) {
		t.Helper()
		_, err := h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{DeliveryStreamName: aws.String("hook"),
			CurrentDeliveryStreamVersionId: aws.String("1"), DestinationId: aws.String(destinationID), HttpEndpointDestinationUpdate: upd})
		wantAPIError(t, "UpdateDestination("+name+")", err, code, msg)
	}
	u("buffer size", &types.HttpEndpointDestinationUpdate{BufferingHints: &types.HttpEndpointBufferingHints{SizeInMBs: aws.Int32(65)}}, codeValidation,
		"Value '65' at 'httpEndpointDestinationUpdate.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 64")
	u("http", &types.HttpEndpointDestinationUpdate{EndpointConfiguration: &types.HttpEndpointConfiguration{Url: aws.String("http://example.com/")}},
		codeInvalidArgument, "HttpEndpointDestinationUpdate.EndpointConfiguration.Url must be https://")
	u("secrets manager", &types.HttpEndpointDestinationUpdate{SecretsManagerConfiguration: &types.SecretsManagerConfiguration{Enabled: aws.Bool(true)}},
		codeInvalidArgument, "HttpEndpointDestinationUpdate.SecretsManagerConfiguration is not supported by Hydrant")
	u("S3 prefix", &types.HttpEndpointDestinationUpdate{S3Update: &types.S3DestinationUpdate{Prefix: aws.String("!{nope}/")}},
		codeInvalidArgument, "HttpEndpointDestinationUpdate.S3Update.Prefix: ")
	_, err = h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{DeliveryStreamName: aws.String("hook"),
		CurrentDeliveryStreamVersionId: aws.String("1"), DestinationId: aws.String(destinationID),
		HttpEndpointDestinationUpdate: &types.HttpEndpointDestinationUpdate{}, ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{}})
	wantAPIError(t, "UpdateDestination(two)", err, codeInvalidArgument, "Specify only one of ExtendedS3DestinationUpdate and HttpEndpointDestinationUpdate")
	h.wantDestination("hook", delivery.Destination{Bucket: "failed-records", RoleARN: s3Role, Buffering: delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300},
		Compression: "UNCOMPRESSED", Backup: delivery.Backup{Mode: delivery.BackupFailedDataOnly}, HTTP: delivery.HTTPConfig{URL: endpointV1}})
}
