package firehoseapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrantio/hydrant/delivery"
)

// These tests drive the API with the real AWS SDK client, so that what the
// SDK sends is what is tested, and what the API answers is what the SDK
// understands.

type extendedS3 = types.ExtendedS3DestinationConfiguration

var ctx = context.Background()

func (h *harness) create(name string, d *extendedS3) {
	h.t.Helper()
	_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: d,
	})
	if err != nil {
		h.t.Fatalf("CreateDeliveryStream(%s): %v", name, err)
	}
}

func TestCreateAndDescribe(t *testing.T) {
	h := newHarness(t)
	d := s3Config("my-bucket")
	d.Prefix = aws.String("logs/")
	d.ErrorOutputPrefix = aws.String("errors/")
	d.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(64), IntervalInSeconds: aws.Int32(60)}
	d.CompressionFormat = types.CompressionFormatGzip
	out, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName:                 aws.String("clicks"),
		DeliveryStreamType:                 types.DeliveryStreamTypeDirectPut,
		ExtendedS3DestinationConfiguration: d,
		Tags:                               []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}, {Key: aws.String("empty")}},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
	const arn = "arn:aws:firehose:us-east-1:000000000000:deliverystream/clicks"
	if got := aws.ToString(out.DeliveryStreamARN); got != arn {
		t.Errorf("DeliveryStreamARN = %q; want %q", got, arn)
	}
	info, _ := h.fake.Describe("clicks")
	wantDest := delivery.Destination{Bucket: "my-bucket", RoleARN: "arn:aws:iam::123456789012:role/firehose", Prefix: "logs/",
		ErrorOutputPrefix: "errors/", Buffering: delivery.BufferingHints{SizeMB: 64, IntervalSeconds: 60}, Compression: "GZIP"}
	if !reflect.DeepEqual(info.Config.Destination, wantDest) {
		t.Errorf("created destination = %+v; want %+v", info.Config.Destination, wantDest)
	}
	if fmt.Sprint(info.Config.Tags) != "map[empty: team:web]" {
		t.Errorf("created tags = %v", info.Config.Tags)
	}

	h.setNow(testNow.Add(time.Hour))
	desc, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("clicks")})
	if err != nil {
		t.Fatalf("DescribeDeliveryStream: %v", err)
	}
	s := desc.DeliveryStreamDescription
	if aws.ToString(s.DeliveryStreamName) != "clicks" || aws.ToString(s.DeliveryStreamARN) != arn ||
		s.DeliveryStreamStatus != types.DeliveryStreamStatusActive || s.DeliveryStreamType != types.DeliveryStreamTypeDirectPut ||
		aws.ToString(s.VersionId) != "1" || aws.ToBool(s.HasMoreDestinations) ||
		s.DeliveryStreamEncryptionConfiguration == nil || s.DeliveryStreamEncryptionConfiguration.Status != types.DeliveryStreamEncryptionStatusDisabled {
		t.Errorf("DeliveryStreamDescription = %+v", s)
	}
	if !aws.ToTime(s.CreateTimestamp).Equal(testNow) || !aws.ToTime(s.LastUpdateTimestamp).Equal(testNow) {
		t.Errorf("timestamps = %v, %v; want %v", aws.ToTime(s.CreateTimestamp), aws.ToTime(s.LastUpdateTimestamp), testNow)
	}
	if len(s.Destinations) != 1 {
		t.Fatalf("Destinations = %+v; want 1", s.Destinations)
	}
	dd := s.Destinations[0]
	if aws.ToString(dd.DestinationId) != "destinationId-000000000001" {
		t.Errorf("DestinationId = %q", aws.ToString(dd.DestinationId))
	}
	e := dd.ExtendedS3DestinationDescription
	if e == nil || aws.ToString(e.BucketARN) != "arn:aws:s3:::my-bucket" || aws.ToString(e.RoleARN) != *d.RoleARN ||
		aws.ToString(e.Prefix) != "logs/" || aws.ToString(e.ErrorOutputPrefix) != "errors/" ||
		aws.ToInt32(e.BufferingHints.SizeInMBs) != 64 || aws.ToInt32(e.BufferingHints.IntervalInSeconds) != 60 ||
		e.CompressionFormat != types.CompressionFormatGzip || e.S3BackupMode != types.S3BackupModeDisabled ||
		e.EncryptionConfiguration == nil || e.EncryptionConfiguration.NoEncryptionConfig != types.NoEncryptionConfigNoEncryption {
		t.Errorf("ExtendedS3DestinationDescription = %+v", e)
	}
	if p := dd.S3DestinationDescription; p == nil || aws.ToString(p.BucketARN) != "arn:aws:s3:::my-bucket" || p.CompressionFormat != types.CompressionFormatGzip {
		t.Errorf("S3DestinationDescription = %+v", p)
	}
}

func TestCreateDefaults(t *testing.T) {
	h := newHarness(t)
	h.create("a", s3Config("bucket-a"))
	info, _ := h.fake.Describe("a")
	want := delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300}
	if info.Config.Destination.Buffering != want || info.Config.Destination.Compression != "UNCOMPRESSED" {
		t.Errorf("defaults = %+v, %q; want %+v, UNCOMPRESSED", info.Config.Destination.Buffering, info.Config.Destination.Compression, want)
	}

	// Hints given in part take Firehose's defaults for the rest; ZSTD is
	// Hydrant's extension.
	d := s3Config("bucket-b")
	d.BufferingHints = &types.BufferingHints{IntervalInSeconds: aws.Int32(0)}
	d.CompressionFormat = "ZSTD"
	h.create("b", d)
	info, _ = h.fake.Describe("b")
	want = delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 0}
	if info.Config.Destination.Buffering != want || info.Config.Destination.Compression != "ZSTD" {
		t.Errorf("partial hints = %+v, %q; want %+v, ZSTD", info.Config.Destination.Buffering, info.Config.Destination.Compression, want)
	}

	// The older S3DestinationConfiguration maps the same way.
	_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("c"),
		S3DestinationConfiguration: &types.S3DestinationConfiguration{
			BucketARN: aws.String("arn:aws:s3:::bucket-c"), RoleARN: aws.String("arn:aws:iam::123456789012:role/r"),
			Prefix: aws.String("p/"), CompressionFormat: types.CompressionFormatSnappy,
		},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream with S3DestinationConfiguration: %v", err)
	}
	info, _ = h.fake.Describe("c")
	if d := info.Config.Destination; d.Bucket != "bucket-c" || d.Prefix != "p/" || d.Compression != "Snappy" || d.Buffering.SizeMB != 5 {
		t.Errorf("S3DestinationConfiguration stream = %+v", d)
	}
}

func TestCreateErrors(t *testing.T) {
	h := newHarness(t)
	h.create("taken", s3Config("bucket"))
	f := func(name string, in *firehose.CreateDeliveryStreamInput, code, msg string) {
		t.Helper()
		_, err := h.client.CreateDeliveryStream(ctx, in)
		wantAPIError(t, "CreateDeliveryStream("+name+")", err, code, msg)
	}
	in := func(name string, mutate func(*firehose.CreateDeliveryStreamInput)) *firehose.CreateDeliveryStreamInput {
		i := &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: s3Config("bucket")}
		if mutate != nil {
			mutate(i)
		}
		return i
	}
	f("exists", in("taken", nil), "ResourceInUseException", "Firehose taken under account 000000000000 already exists.")
	f("bad name", in("no spaces", nil), "ValidationException",
		"1 validation error detected: Value 'no spaces' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	f("long name", in(strings.Repeat("n", 65), nil), "ValidationException",
		"at 'deliveryStreamName' failed to satisfy constraint: Member must have length less than or equal to 64")
	f("empty name", in("", nil), "ValidationException", "2 validation errors detected: ")
	f("kinesis source", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.DeliveryStreamType = types.DeliveryStreamTypeKinesisStreamAsSource
	}), "InvalidArgumentException", "DeliveryStreamType KinesisStreamAsSource is not supported")
	f("unknown type", in("k", func(i *firehose.CreateDeliveryStreamInput) { i.DeliveryStreamType = "Carrier" }), "ValidationException",
		"Value 'Carrier' at 'deliveryStreamType' failed to satisfy constraint: Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]")
	f("splunk", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.ExtendedS3DestinationConfiguration = nil
		i.SplunkDestinationConfiguration = &types.SplunkDestinationConfiguration{
			HECEndpoint: aws.String("https://splunk.example.com"), HECEndpointType: types.HECEndpointTypeRaw,
			S3Configuration: &types.S3DestinationConfiguration{BucketARN: aws.String("arn:aws:s3:::b"), RoleARN: aws.String("arn:aws:iam::123456789012:role/r")},
		}
	}), "InvalidArgumentException", "SplunkDestinationConfiguration is not supported by Hydrant: use ExtendedS3DestinationConfiguration, HttpEndpointDestinationConfiguration or HydrantClickHouseDestinationConfiguration.")
	f("no destination", in("k", func(i *firehose.CreateDeliveryStreamInput) { i.ExtendedS3DestinationConfiguration = nil }),
		"InvalidArgumentException", "A destination is required")
	f("two destinations", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.S3DestinationConfiguration = &types.S3DestinationConfiguration{BucketARN: aws.String("arn:aws:s3:::b"), RoleARN: aws.String("arn:aws:iam::123456789012:role/r")}
	}), "InvalidArgumentException", "Specify only one of")
	f("bad bucket ARN", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.ExtendedS3DestinationConfiguration.BucketARN = aws.String("bucket")
	}), "ValidationException",
		`Value 'bucket' at 'extendedS3DestinationConfiguration.bucketARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.*:s3:::[\w\.\-]{1,255}`)
	f("bad role ARN", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.ExtendedS3DestinationConfiguration.RoleARN = aws.String("role")
	}), "ValidationException", "at 'extendedS3DestinationConfiguration.roleARN' failed to satisfy constraint: Member must satisfy regular expression pattern")
	f("buffer size", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.ExtendedS3DestinationConfiguration.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(0), IntervalInSeconds: aws.Int32(901)}
	}), "ValidationException",
		"2 validation errors detected: Value '0' at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value greater than or equal to 1; "+
			"Value '901' at 'extendedS3DestinationConfiguration.bufferingHints.intervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900")
	f("compression", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.ExtendedS3DestinationConfiguration.CompressionFormat = "LZ4"
	}), "ValidationException", "Value 'LZ4' at 'extendedS3DestinationConfiguration.compressionFormat' failed to satisfy constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY, ZSTD]")
	// The bucket ARN's pattern admits names the bucket rules do not: the
	// delivery layer's *FieldError comes back in the API's own terms.
	f("invalid bucket name", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.ExtendedS3DestinationConfiguration.BucketARN = aws.String("arn:aws:s3:::Bad_Bucket")
	}), "InvalidArgumentException", `ExtendedS3DestinationConfiguration.BucketARN: "Bad_Bucket" is not a valid bucket name`)
	f("backup", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.ExtendedS3DestinationConfiguration.S3BackupMode = types.S3BackupModeEnabled
	}), "InvalidArgumentException", "ExtendedS3DestinationConfiguration.S3BackupConfiguration is required when ExtendedS3DestinationConfiguration.S3BackupMode is Enabled.")
	f("tag key", in("k", func(i *firehose.CreateDeliveryStreamInput) {
		i.Tags = []types.Tag{{Key: aws.String("ok")}, {Key: aws.String("aws:reserved")}}
	}), "ValidationException", "Value 'aws:reserved' at 'tags.2.member.key' failed to satisfy constraint")

	h.fake.createErr = delivery.ErrClosed
	f("shutting down", in("k", nil), "ServiceUnavailableException", "shutting down")
	h.fake.createErr = errors.New("disk on fire at /var/lib/hydrant/secret-path")
	f("internal", in("k", nil), "InternalFailure", msgInternalFailure)
	_, err := h.client.CreateDeliveryStream(ctx, in("k", nil))
	if strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("internal error leaked: %v", err)
	}
	if _, err := h.fake.Describe("k"); err == nil {
		t.Errorf("a failed create left stream k behind")
	}
}

func TestDescribeErrors(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.AccountID = "123456789012"; o.Region = "eu-west-1" })
	_, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("nope")})
	wantAPIError(t, "DescribeDeliveryStream(nope)", err, "ResourceNotFoundException", "Firehose nope under account 123456789012 not found.")
	_, err = h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("x"), Limit: aws.Int32(0)})
	wantAPIError(t, "DescribeDeliveryStream(Limit 0)", err, "ValidationException",
		"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")

	h.create("s", s3Config("bucket"))
	out, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.DeliveryStreamDescription.DeliveryStreamARN); got != "arn:aws:firehose:eu-west-1:123456789012:deliverystream/s" {
		t.Errorf("ARN = %q", got)
	}
}

func TestList(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"d", "b", "a", "c", "e"} {
		h.create(n, s3Config("bucket"))
	}
	f := func(in *firehose.ListDeliveryStreamsInput, want string, more bool) {
		t.Helper()
		out, err := h.client.ListDeliveryStreams(ctx, in)
		if err != nil {
			t.Fatalf("ListDeliveryStreams: %v", err)
		}
		if got := strings.Join(out.DeliveryStreamNames, ","); got != want || aws.ToBool(out.HasMoreDeliveryStreams) != more {
			t.Errorf("ListDeliveryStreams(%+v) = %q, %v; want %q, %v", in, got, aws.ToBool(out.HasMoreDeliveryStreams), want, more)
		}
	}
	f(&firehose.ListDeliveryStreamsInput{}, "a,b,c,d,e", false)
	f(&firehose.ListDeliveryStreamsInput{Limit: aws.Int32(2)}, "a,b", true)
	f(&firehose.ListDeliveryStreamsInput{Limit: aws.Int32(2), ExclusiveStartDeliveryStreamName: aws.String("b")}, "c,d", true)
	f(&firehose.ListDeliveryStreamsInput{Limit: aws.Int32(2), ExclusiveStartDeliveryStreamName: aws.String("c")}, "d,e", false)
	f(&firehose.ListDeliveryStreamsInput{ExclusiveStartDeliveryStreamName: aws.String("bb")}, "c,d,e", false)
	f(&firehose.ListDeliveryStreamsInput{DeliveryStreamType: types.DeliveryStreamTypeDirectPut, Limit: aws.Int32(10000)}, "a,b,c,d,e", false)
	f(&firehose.ListDeliveryStreamsInput{DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource}, "", false)

	_, err := h.client.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{Limit: aws.Int32(10001)})
	wantAPIError(t, "ListDeliveryStreams(Limit 10001)", err, "ValidationException",
		"Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000")
}

func TestDelete(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	h.fake.addConfigStream("from-config")
	if _, err := h.client.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("s"), AllowForceDelete: aws.Bool(true)}); err != nil {
		t.Fatalf("DeleteDeliveryStream: %v", err)
	}
	if !h.fake.lastDeleteForce {
		t.Errorf("AllowForceDelete did not reach Delete as force")
	}
	_, err := h.client.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("s")})
	wantAPIError(t, "DeleteDeliveryStream(s) again", err, "ResourceNotFoundException", "Firehose s under account 000000000000 not found.")
	_, err = h.client.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("from-config")})
	wantAPIError(t, "DeleteDeliveryStream(from-config)", err, "InvalidArgumentException", "change it in the config file")
}

func TestUpdateDestination(t *testing.T) {
	h := newHarness(t)
	d := s3Config("bucket")
	d.Prefix = aws.String("old/")
	d.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(10), IntervalInSeconds: aws.Int32(100)}
	h.create("s", d)
	h.fake.addConfigStream("from-config")

	update := func(name, version, destID string, u *types.ExtendedS3DestinationUpdate) error {
		_, err := h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
			DeliveryStreamName: aws.String(name), CurrentDeliveryStreamVersionId: aws.String(version),
			DestinationId: aws.String(destID), ExtendedS3DestinationUpdate: u,
		})
		return err
	}
	// A partial update changes what it names and keeps the rest.
	err := update("s", "1", destinationID, &types.ExtendedS3DestinationUpdate{
		BufferingHints: &types.BufferingHints{IntervalInSeconds: aws.Int32(30)}, CompressionFormat: types.CompressionFormatGzip,
	})
	if err != nil {
		t.Fatalf("UpdateDestination: %v", err)
	}
	info, _ := h.fake.Describe("s")
	want := delivery.Destination{Bucket: "bucket", RoleARN: *d.RoleARN, Prefix: "old/",
		Buffering: delivery.BufferingHints{SizeMB: 10, IntervalSeconds: 30}, Compression: "GZIP"}
	if !reflect.DeepEqual(info.Config.Destination, want) || info.VersionID != 2 {
		t.Errorf("after update: %+v version %d; want %+v version 2", info.Config.Destination, info.VersionID, want)
	}
	// The old S3DestinationUpdate works too.
	_, err = h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("s"), CurrentDeliveryStreamVersionId: aws.String("2"), DestinationId: aws.String(destinationID),
		S3DestinationUpdate: &types.S3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::new-bucket"), Prefix: aws.String("")},
	})
	if err != nil {
		t.Fatalf("UpdateDestination with S3DestinationUpdate: %v", err)
	}
	info, _ = h.fake.Describe("s")
	if info.Config.Destination.Bucket != "new-bucket" || info.Config.Destination.Prefix != "" || info.Config.Destination.Compression != "GZIP" {
		t.Errorf("after S3DestinationUpdate: %+v", info.Config.Destination)
	}

	wantAPIError(t, "UpdateDestination(stale version)", update("s", "1", destinationID, &types.ExtendedS3DestinationUpdate{}),
		"ConcurrentModificationException", "call DescribeDeliveryStream for its current VersionId")
	wantAPIError(t, "UpdateDestination(huge version)", update("s", strings.Repeat("9", 50), destinationID, &types.ExtendedS3DestinationUpdate{}),
		"ConcurrentModificationException", "")
	wantAPIError(t, "UpdateDestination(bad version)", update("s", "v1", destinationID, &types.ExtendedS3DestinationUpdate{}),
		"ValidationException", "Value 'v1' at 'currentDeliveryStreamVersionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+")
	wantAPIError(t, "UpdateDestination(wrong destination)", update("s", "3", "destinationId-000000000002", &types.ExtendedS3DestinationUpdate{}),
		"InvalidArgumentException", "has no destination destinationId-000000000002")
	wantAPIError(t, "UpdateDestination(unknown)", update("nope", "1", destinationID, &types.ExtendedS3DestinationUpdate{}),
		"ResourceNotFoundException", "Firehose nope under account 000000000000 not found.")
	wantAPIError(t, "UpdateDestination(config stream)", update("from-config", "1", destinationID, &types.ExtendedS3DestinationUpdate{}),
		"InvalidArgumentException", "Firehose from-config is declared in Hydrant's config file")
	wantAPIError(t, "UpdateDestination(no update)", update("s", "3", destinationID, nil),
		"InvalidArgumentException", "A destination update is required")
	wantAPIError(t, "UpdateDestination(bad bucket)", update("s", "3", destinationID, &types.ExtendedS3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::x")}),
		"InvalidArgumentException", `ExtendedS3DestinationUpdate.BucketARN: "x" is not a valid bucket name`)
	wantAPIError(t, "UpdateDestination(range)", update("s", "3", destinationID, &types.ExtendedS3DestinationUpdate{
		BufferingHints: &types.BufferingHints{SizeInMBs: aws.Int32(129)}}),
		"ValidationException", "Value '129' at 'extendedS3DestinationUpdate.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 128")
	_, err = h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName: aws.String("s"), CurrentDeliveryStreamVersionId: aws.String("3"), DestinationId: aws.String(destinationID),
		SplunkDestinationUpdate: &types.SplunkDestinationUpdate{},
	})
	wantAPIError(t, "UpdateDestination(splunk)", err, "InvalidArgumentException", "SplunkDestinationUpdate is not supported by Hydrant")
}

func TestPutRecord(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	h.setNow(testNow.Add(time.Minute))
	var ids []string
	for _, data := range []string{"hello\n", "", "\x00\xff binary"} {
		out, err := h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("s"), Record: &types.Record{Data: []byte(data)}})
		if err != nil {
			t.Fatalf("PutRecord(%q): %v", data, err)
		}
		if aws.ToBool(out.Encrypted) || len(aws.ToString(out.RecordId)) != recordIDLen {
			t.Errorf("PutRecord(%q) = %+v", data, out)
		}
		ids = append(ids, aws.ToString(out.RecordId))
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("RecordIds not unique: %q", ids)
	}
	recs := h.fake.records("s")
	if len(recs) != 3 || string(recs[0].Data) != "hello\n" || string(recs[2].Data) != "\x00\xff binary" || !recs[0].ArrivalTime.Equal(h.now()) {
		t.Errorf("stored records = %+v", recs)
	}

	// The max record size is accepted; one byte more is not.
	if !raceEnabled {
		if _, err := h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("s"),
			Record: &types.Record{Data: make([]byte, MaxRecordBytes)}}); err != nil {
			t.Errorf("PutRecord(1,024,000 bytes): %v", err)
		}
	}
	_, err := h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("s"), Record: &types.Record{Data: make([]byte, MaxRecordBytes+1)}})
	wantAPIError(t, "PutRecord(1,024,001 bytes)", err, "ValidationException",
		"1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'record.data' failed to satisfy constraint: Member must have length less than or equal to 1024000")

	put := func() error {
		_, err := h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("s"), Record: &types.Record{Data: []byte("x")}})
		return err
	}
	_, err = h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("nope"), Record: &types.Record{Data: []byte("x")}})
	wantAPIError(t, "PutRecord(unknown stream)", err, "ResourceNotFoundException", "Firehose nope under account 000000000000 not found.")

	h.fake.putErr = delivery.ErrLogFull
	err = put()
	wantAPIError(t, "PutRecord(log full)", err, "ServiceUnavailableException", "Slow down.")
	var se *types.ServiceUnavailableException
	if !errors.As(err, &se) {
		t.Errorf("PutRecord(log full) = %T; want *types.ServiceUnavailableException", err)
	}
	h.fake.putErr = errors.New("wal: segment 7 corrupt")
	wantAPIError(t, "PutRecord(internal)", put(), "InternalFailure", msgInternalFailure)
	h.fake.putErr = nil

	h.fake.setStatus("s", delivery.StatusDeleting)
	wantAPIError(t, "PutRecord(deleting)", put(), "ResourceInUseException", "Firehose s under account 000000000000 is not ACTIVE")
}

func TestPutRecordBatch(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	batch := func(n, size int) []types.Record {
		recs := make([]types.Record, n)
		for i := range recs {
			recs[i].Data = bytes.Repeat([]byte{byte('a' + i%26)}, size)
		}
		return recs
	}
	out, err := h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: batch(MaxBatchRecords, 100)})
	if err != nil {
		t.Fatalf("PutRecordBatch(500): %v", err)
	}
	if aws.ToInt32(out.FailedPutCount) != 0 || aws.ToBool(out.Encrypted) || len(out.RequestResponses) != MaxBatchRecords {
		t.Fatalf("PutRecordBatch(500) = FailedPutCount %d, %d responses", aws.ToInt32(out.FailedPutCount), len(out.RequestResponses))
	}
	seen := map[string]bool{}
	for i, r := range out.RequestResponses {
		id := aws.ToString(r.RecordId)
		if len(id) != recordIDLen || seen[id] || r.ErrorCode != nil {
			t.Fatalf("RequestResponses[%d] = %+v", i, r)
		}
		seen[id] = true
	}
	recs := h.fake.records("s")
	if len(recs) != MaxBatchRecords || recs[27].Data[0] != 'b' || !recs[499].ArrivalTime.Equal(testNow) {
		t.Errorf("stored %d records", len(recs))
	}
	// A second batch gets other RecordIds.
	out2, err := h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: batch(1, 1)})
	if err != nil || seen[aws.ToString(out2.RequestResponses[0].RecordId)] {
		t.Errorf("second PutRecordBatch = %+v, %v; want a new RecordId", out2, err)
	}

	// Limits.
	_, err = h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: batch(MaxBatchRecords+1, 1)})
	wantAPIError(t, "PutRecordBatch(501)", err, "ValidationException",
		"1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to 500")
	_, err = h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: []types.Record{}})
	wantAPIError(t, "PutRecordBatch(0)", err, "ValidationException", "Member must have length greater than or equal to 1")
	big := batch(3, 10)
	big[1].Data = make([]byte, MaxRecordBytes+1)
	_, err = h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: big})
	wantAPIError(t, "PutRecordBatch(large record)", err, "ValidationException",
		"1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to 1024000")
	over := batch(5, MaxRecordBytes)
	over[4].Data = over[4].Data[:MaxBatchBytes-4*MaxRecordBytes+1]
	_, err = h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: over})
	wantAPIError(t, "PutRecordBatch(4 MiB + 1)", err, "InvalidArgumentException", "Records size exceeds 4 MB limit")
	if got := len(h.fake.records("s")); got != MaxBatchRecords+1 {
		t.Errorf("rejected batches stored records: %d; want %d", got, MaxBatchRecords+1)
	}
	if !raceEnabled {
		// Exactly 4 MiB is accepted.
		exact := batch(5, MaxRecordBytes)
		exact[4].Data = exact[4].Data[:MaxBatchBytes-4*MaxRecordBytes]
		if _, err := h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: exact}); err != nil {
			t.Errorf("PutRecordBatch(4 MiB): %v", err)
		}
	}

	_, err = h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("nope"), Records: batch(2, 1)})
	wantAPIError(t, "PutRecordBatch(unknown stream)", err, "ResourceNotFoundException", "Firehose nope under account 000000000000 not found.")

	// A full log throttles every record in a 200 answer, as Firehose does.
	h.fake.putErr = delivery.ErrLogFull
	out, err = h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: batch(3, 1)})
	if err != nil {
		t.Fatalf("PutRecordBatch(log full): %v", err)
	}
	if aws.ToInt32(out.FailedPutCount) != 3 || len(out.RequestResponses) != 3 {
		t.Fatalf("PutRecordBatch(log full) = %+v", out)
	}
	for i, r := range out.RequestResponses {
		if aws.ToString(r.ErrorCode) != "ServiceUnavailableException" || aws.ToString(r.ErrorMessage) != "Slow down." || r.RecordId != nil {
			t.Errorf("RequestResponses[%d] = %+v", i, r)
		}
	}
	h.fake.putErr = delivery.ErrStreamNotActive
	_, err = h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: batch(1, 1)})
	wantAPIError(t, "PutRecordBatch(not active)", err, "ResourceInUseException", "is not ACTIVE")
	h.fake.putErr = delivery.ErrClosed
	_, err = h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"), Records: batch(1, 1)})
	wantAPIError(t, "PutRecordBatch(closed)", err, "ServiceUnavailableException", "shutting down")
}

func TestRecordIDsDifferAcrossIncarnations(t *testing.T) {
	h := newHarness(t)
	put := func() string {
		out, err := h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("s"), Record: &types.Record{Data: []byte("x")}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.RecordId)
	}
	h.create("s", s3Config("bucket"))
	first := put()
	if _, err := h.client.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	h.create("s", s3Config("bucket"))
	if second := put(); second == first {
		t.Errorf("RecordId %q repeated after the stream was created again", first)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	_, _ = h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("nope")})
	_, _ = h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("s"), Record: &types.Record{Data: []byte("x")}})
	_, _ = h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String("s"), Record: &types.Record{Data: []byte("x")}})

	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"hydrant_api_requests_total api=firehose code=200 operation=CreateDeliveryStream":    1,
		"hydrant_api_requests_total api=firehose code=400 operation=DescribeDeliveryStream":  1,
		"hydrant_api_requests_total api=firehose code=200 operation=PutRecord":               2,
		"hydrant_api_request_duration_seconds api=firehose operation=CreateDeliveryStream":   1,
		"hydrant_api_request_duration_seconds api=firehose operation=DescribeDeliveryStream": 1,
		"hydrant_api_request_duration_seconds api=firehose operation=PutRecord":              2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics = %v; want %v", got, want)
	}

	// A second API on the same registry (another front door, a restart in
	// a test) shares the vectors instead of failing.
	New(h.fake, Options{Registerer: h.reg})
}
