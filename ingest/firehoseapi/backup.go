package firehoseapi

import (
	"strings"

	"github.com/hydrantio/hydrant/delivery"
)

// Source record backup: the S3BackupMode of an ExtendedS3 destination, with
// S3BackupConfiguration on create and S3BackupUpdate on UpdateDestination,
// mapped onto delivery.Backup. Of the S3 destination members a backup
// takes, BucketARN, Prefix and CompressionFormat are kept; the others are
// accepted, as tools such as Terraform send them, and ignored, since a
// copy is part of the batch it copies:
//
//	RoleARN                   Hydrant assumes no roles; the description reports the destination's
//	BufferingHints            the copy is written with each batch of the destination
//	ErrorOutputPrefix         a copy has no failed records of its own
//	EncryptionConfiguration   the copy is encrypted as the destination's objects are
//	CloudWatchLoggingOptions  Hydrant logs and counts in its own way
//
// The description reports what a copy really gets: the destination's role,
// buffering hints and encryption.
//
// Unlike Firehose, which cannot turn a backup off once it is on, Hydrant
// can: S3BackupMode Disabled drops the backup configuration, and enabling
// it again takes a complete S3BackupUpdate.

// Members of the backup, as messages name them.
const (
	memberBackupMode   = "S3BackupMode"
	memberBackupConfig = "S3BackupConfiguration"
	memberBackupUpdate = "S3BackupUpdate"
)

// backupMember is the member that configures the backup below param: a
// destination's S3BackupConfiguration, a destination update's
// S3BackupUpdate.
func backupMember(param string) string {
	if strings.HasSuffix(param, "Update") {
		return memberBackupUpdate
	}
	return memberBackupConfig
}

// mergeBackup sets the backup that the S3BackupMode and backup member of
// an extended destination ask for on b: cfg is the S3BackupConfiguration
// on create, the S3BackupUpdate on update. A backup that is or stays
// enabled takes the members cfg has; one that is not enabled keeps no
// configuration, and cfg, still checked against the model, is ignored.
func mergeBackup(b *delivery.Backup, param string, mode *string, cfg *s3Destination) error {
	member := param + "." + backupMember(param)
	wasEnabled := b.Mode == delivery.BackupEnabled
	switch {
	case mode != nil && *mode == delivery.BackupDisabled:
		*b = delivery.Backup{}
		return nil
	case mode == nil && !wasEnabled:
		return nil
	case !wasEnabled:
		if cfg == nil {
			return invalidArgument(member + " is required when " + param + "." + memberBackupMode + " is " + delivery.BackupEnabled + ".")
		}
		if cfg.BucketARN == nil {
			return invalidArgument(member + ".BucketARN is required to enable " + param + "." + memberBackupMode + ".")
		}
		*b = delivery.Backup{Mode: delivery.BackupEnabled}
	}
	if cfg == nil {
		return nil
	}
	if cfg.BucketARN != nil {
		b.Bucket = bucketName(*cfg.BucketARN)
	}
	if cfg.Prefix != nil {
		b.Prefix = *cfg.Prefix
	}
	if cfg.CompressionFormat != nil {
		b.Compression = *cfg.CompressionFormat
	}
	return nil
}

// describeBackup is the S3BackupDescription of a description, nil when the
// backup is off. The members a backup shares with its destination are the
// destination's.
func describeBackup(d *delivery.Destination, dest *s3DestinationDescription) *s3DestinationDescription {
	b := d.Backup
	if b.Mode != delivery.BackupEnabled {
		return nil
	}
	return &s3DestinationDescription{
		BucketARN:                bucketARN(b.Bucket),
		RoleARN:                  dest.RoleARN,
		Prefix:                   b.Prefix,
		BufferingHints:           dest.BufferingHints,
		CompressionFormat:        b.Compression,
		EncryptionConfiguration:  dest.EncryptionConfiguration,
		CloudWatchLoggingOptions: cloudWatchLoggingOptions{Enabled: false},
	}
}

// describeBackupMode is the S3BackupMode of a description.
func describeBackupMode(b delivery.Backup) string {
	if b.Mode == "" {
		return delivery.BackupDisabled
	}
	return b.Mode
}

// bucketName is the bucket an S3 bucket ARN names.
func bucketName(arn string) string { return arn[strings.LastIndexByte(arn, ':')+1:] }

// bucketARN is the ARN of a bucket.
func bucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }
