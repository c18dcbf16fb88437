package firehoseapi

import (
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrantio/hydrant/delivery"
)

// backupConfig is an S3BackupConfiguration as Terraform sends one: with
// the members Hydrant accepts and ignores.
func backupConfig(bucket string) *types.S3DestinationConfiguration {
	return &types.S3DestinationConfiguration{
		BucketARN:                aws.String("arn:aws:s3:::" + bucket),
		RoleARN:                  aws.String("arn:aws:iam::123456789012:role/backup"),
		Prefix:                   aws.String("backup/"),
		CompressionFormat:        types.CompressionFormatGzip,
		BufferingHints:           &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(60)},
		ErrorOutputPrefix:        aws.String("backup-errors/"),
		EncryptionConfiguration:  &types.EncryptionConfiguration{NoEncryptionConfig: types.NoEncryptionConfigNoEncryption},
		CloudWatchLoggingOptions: &types.CloudWatchLoggingOptions{Enabled: aws.Bool(false)},
	}
}

func TestBackup(t *testing.T) {
	h := newHarness(t)
	d := s3Config("bucket")
	d.EncryptionConfiguration = &types.EncryptionConfiguration{KMSEncryptionConfig: &types.KMSEncryptionConfig{AWSKMSKeyARN: aws.String(testKeyARN)}}
	d.S3BackupMode = types.S3BackupModeEnabled
	d.S3BackupConfiguration = backupConfig("backup-bucket")
	h.create("s", d)
	want := baseDest("bucket")
	want.Encryption.KMSKeyARN = testKeyARN
	want.Backup = delivery.Backup{Mode: "Enabled", Bucket: "backup-bucket", Prefix: "backup/", Compression: "GZIP"}
	h.wantDestination("s", want)

	// The description reports what the copies get: the destination's
	// role, buffering and encryption.
	dd := h.describe("s")
	e := dd.ExtendedS3DestinationDescription
	wantDesc := &types.S3DestinationDescription{
		BucketARN:                aws.String("arn:aws:s3:::backup-bucket"),
		RoleARN:                  d.RoleARN,
		Prefix:                   aws.String("backup/"),
		CompressionFormat:        types.CompressionFormatGzip,
		BufferingHints:           &types.BufferingHints{SizeInMBs: aws.Int32(5), IntervalInSeconds: aws.Int32(300)},
		EncryptionConfiguration:  d.EncryptionConfiguration,
		CloudWatchLoggingOptions: &types.CloudWatchLoggingOptions{Enabled: aws.Bool(false)},
	}
	if e.S3BackupMode != types.S3BackupModeEnabled || jsonOf(e.S3BackupDescription) != jsonOf(wantDesc) {
		t.Errorf("described backup = %s %s; want Enabled %s", e.S3BackupMode, jsonOf(e.S3BackupDescription), jsonOf(wantDesc))
	}

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
	// An update without the backup members keeps the backup.
	update(&types.ExtendedS3DestinationUpdate{Prefix: aws.String("main/")})
	want.Prefix = "main/"
	h.wantDestination("s", want)
	// S3BackupUpdate changes the members it has.
	update(&types.ExtendedS3DestinationUpdate{S3BackupUpdate: &types.S3DestinationUpdate{Prefix: aws.String("copies/")}})
	want.Backup.Prefix = "copies/"
	h.wantDestination("s", want)
	update(&types.ExtendedS3DestinationUpdate{S3BackupMode: types.S3BackupModeEnabled, S3BackupUpdate: &types.S3DestinationUpdate{
		BucketARN: aws.String("arn:aws:s3:::other-backup"), CompressionFormat: types.CompressionFormatUncompressed}})
	want.Backup.Bucket, want.Backup.Compression = "other-backup", "UNCOMPRESSED"
	h.wantDestination("s", want)

	// Hydrant can turn a backup off, which Firehose cannot; the backup
	// configuration goes with it.
	update(&types.ExtendedS3DestinationUpdate{S3BackupMode: types.S3BackupModeDisabled})
	want.Backup = delivery.Backup{}
	h.wantDestination("s", want)
	if e := h.describe("s").ExtendedS3DestinationDescription; e.S3BackupMode != types.S3BackupModeDisabled || e.S3BackupDescription != nil {
		t.Errorf("described backup turned off = %s %s; want Disabled and no description", e.S3BackupMode, jsonOf(e.S3BackupDescription))
	}
	// Without S3BackupMode Enabled, S3BackupUpdate changes nothing.
	update(&types.ExtendedS3DestinationUpdate{S3BackupUpdate: &types.S3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::ignored")}})
	h.wantDestination("s", want)
	// Turned on again, it takes a bucket and defaults for the rest.
	update(&types.ExtendedS3DestinationUpdate{S3BackupMode: types.S3BackupModeEnabled,
		S3BackupUpdate: &types.S3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::backup-bucket")}})
	want.Backup = delivery.Backup{Mode: "Enabled", Bucket: "backup-bucket", Compression: "UNCOMPRESSED"}
	h.wantDestination("s", want)

	// A stream created with the backup Disabled has none, whatever
	// S3BackupConfiguration says.
	d = s3Config("bucket")
	d.S3BackupMode = types.S3BackupModeDisabled
	d.S3BackupConfiguration = backupConfig("backup-bucket")
	h.create("off", d)
	h.wantDestination("off", baseDest("bucket"))
	if e := h.describe("off").ExtendedS3DestinationDescription; e.S3BackupMode != types.S3BackupModeDisabled || e.S3BackupDescription != nil {
		t.Errorf("described backup of a stream without = %s %s", e.S3BackupMode, jsonOf(e.S3BackupDescription))
	}
}

func TestBackupErrors(t *testing.T) {
	h := newHarness(t)
	create := func(mutate func(*types.S3DestinationConfiguration)) error {
		d := s3Config("bucket")
		d.S3BackupMode = types.S3BackupModeEnabled
		d.S3BackupConfiguration = backupConfig("backup-bucket")
		mutate(d.S3BackupConfiguration)
		_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName: aws.String("k"), ExtendedS3DestinationConfiguration: d})
		return err
	}
	f := func(name string, err error, code, msg string) {
		t.Helper()
		wantAPIError(t, name, err, code, msg)
	}
	// The SDK refuses a backup without RoleARN itself; other clients may send one.
	status, body := h.call("CreateDeliveryStream", `{"DeliveryStreamName":"k","ExtendedS3DestinationConfiguration":{
		"BucketARN":"arn:aws:s3:::bucket","RoleARN":"arn:aws:iam::123456789012:role/firehose",
		"S3BackupMode":"Enabled","S3BackupConfiguration":{"BucketARN":"arn:aws:s3:::backup-bucket"}}}`)
	if e := decodeError(body); status != 400 || e.Type != codeValidation ||
		e.Message != "1 validation error detected: Value null at 'extendedS3DestinationConfiguration.s3BackupConfiguration.roleARN' failed to satisfy constraint: Member must not be null" {
		t.Errorf("CreateDeliveryStream(backup without role): %d %+v", status, e)
	}
	f("CreateDeliveryStream(backup bucket ARN)", create(func(c *types.S3DestinationConfiguration) { c.BucketARN = aws.String("backup-bucket") }), "ValidationException",
		"Value 'backup-bucket' at 'extendedS3DestinationConfiguration.s3BackupConfiguration.bucketARN' failed to satisfy constraint: Member must satisfy regular expression pattern")
	f("CreateDeliveryStream(backup compression)", create(func(c *types.S3DestinationConfiguration) { c.CompressionFormat = "LZ4" }), "ValidationException",
		"Value 'LZ4' at 'extendedS3DestinationConfiguration.s3BackupConfiguration.compressionFormat' failed to satisfy constraint")
	f("CreateDeliveryStream(backup hints)", create(func(c *types.S3DestinationConfiguration) {
		c.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(0)}
	}), "ValidationException", "Value '0' at 'extendedS3DestinationConfiguration.s3BackupConfiguration.bufferingHints.sizeInMBs'")
	// The delivery layer's checks come back in the API's terms.
	f("CreateDeliveryStream(backup bucket name)", create(func(c *types.S3DestinationConfiguration) { c.BucketARN = aws.String("arn:aws:s3:::Bad_Bucket") }),
		"InvalidArgumentException", `ExtendedS3DestinationConfiguration.S3BackupConfiguration.BucketARN: "Bad_Bucket" is not a valid bucket name`)
	f("CreateDeliveryStream(backup prefix)", create(func(c *types.S3DestinationConfiguration) {
		c.Prefix = aws.String("backup/!{partitionKeyFromQuery:customer}/")
	}), "InvalidArgumentException", "ExtendedS3DestinationConfiguration.S3BackupConfiguration.Prefix: ")
	_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("k"), ExtendedS3DestinationConfiguration: func() *extendedS3 {
			d := s3Config("bucket")
			d.S3BackupMode = "Sometimes"
			return d
		}()})
	f("CreateDeliveryStream(backup mode)", err, "ValidationException",
		"Value 'Sometimes' at 'extendedS3DestinationConfiguration.s3BackupMode' failed to satisfy constraint: Member must satisfy enum value set: [Disabled, Enabled]")
	if _, err := h.fake.Describe("k"); err == nil {
		t.Errorf("a refused create left stream k behind")
	}

	h.create("s", s3Config("bucket"))
	update := func(u *types.ExtendedS3DestinationUpdate) error {
		_, err := h.client.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
			DeliveryStreamName: aws.String("s"), CurrentDeliveryStreamVersionId: aws.String("1"),
			DestinationId: aws.String(destinationID), ExtendedS3DestinationUpdate: u,
		})
		return err
	}
	f("UpdateDestination(enable without S3BackupUpdate)", update(&types.ExtendedS3DestinationUpdate{S3BackupMode: types.S3BackupModeEnabled}),
		"InvalidArgumentException", "ExtendedS3DestinationUpdate.S3BackupUpdate is required when ExtendedS3DestinationUpdate.S3BackupMode is Enabled.")
	f("UpdateDestination(enable without bucket)", update(&types.ExtendedS3DestinationUpdate{S3BackupMode: types.S3BackupModeEnabled,
		S3BackupUpdate: &types.S3DestinationUpdate{Prefix: aws.String("p/")}}),
		"InvalidArgumentException", "ExtendedS3DestinationUpdate.S3BackupUpdate.BucketARN is required to enable ExtendedS3DestinationUpdate.S3BackupMode.")
	f("UpdateDestination(backup bucket name)", update(&types.ExtendedS3DestinationUpdate{S3BackupMode: types.S3BackupModeEnabled,
		S3BackupUpdate: &types.S3DestinationUpdate{BucketARN: aws.String("arn:aws:s3:::x")}}),
		"InvalidArgumentException", `ExtendedS3DestinationUpdate.S3BackupUpdate.BucketARN: "x" is not a valid bucket name`)
	f("UpdateDestination(backup compression)", update(&types.ExtendedS3DestinationUpdate{S3BackupUpdate: &types.S3DestinationUpdate{CompressionFormat: "LZ4"}}),
		"ValidationException", "Value 'LZ4' at 'extendedS3DestinationUpdate.s3BackupUpdate.compressionFormat' failed to satisfy constraint")
	h.wantDestination("s", baseDest("bucket"))
}
