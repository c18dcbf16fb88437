package delivery

import (
	"fmt"
	"slices"
	"strings"
)

// Backup modes. An object-store destination backs up every source record
// (Firehose's S3BackupMode Enabled); the destinations to come (HTTP
// endpoint, ClickHouse) back up every record (AllData) or only those that
// failed for good (FailedDataOnly), as Firehose's do.
const (
	BackupDisabled       = "Disabled"
	BackupEnabled        = "Enabled"
	BackupAllData        = "AllData"
	BackupFailedDataOnly = "FailedDataOnly"
)

// BackupModes lists the modes an object-store destination accepts.
var BackupModes = []string{BackupDisabled, BackupEnabled}

// Backup writes a copy of a batch's records to a second bucket of the
// object store (Firehose's S3BackupConfiguration). The copy holds the
// source records as they were put, before de-aggregation, partitioning
// and conversion, and follows the batch: it is written with the batch's
// other objects, under a key made of the same log range, so it is
// exactly-once too.
type Backup struct {
	// Mode is one of BackupModes; empty means BackupDisabled.
	Mode string `json:"mode,omitempty"`
	// Bucket receives the copies.
	Bucket string `json:"bucket,omitempty"`
	// Prefix is prepended to the copies' keys, as Destination.Prefix is;
	// empty means YYYY/MM/dd/HH/.
	Prefix string `json:"prefix,omitempty"`
	// Compression of the copies; empty means UNCOMPRESSED.
	Compression string `json:"compression,omitempty"`
}

// enabled reports whether every source record of an object destination
// is copied. (A record-sink destination's AllData is Destination.copiesAll.)
func (b *Backup) enabled() bool { return b.Mode == BackupEnabled }

func (b *Backup) applyDefaults() {
	if b.enabled() && b.Compression == "" {
		b.Compression = Uncompressed
	}
}

// validate checks the backup of an object-store destination.
func (b *Backup) validate() *FieldError {
	if b.Mode == "" {
		return nil
	}
	if !slices.Contains(BackupModes, b.Mode) {
		return &FieldError{"backup.mode", fmt.Sprintf("%q is not a backup mode: use %s", b.Mode, strings.Join(BackupModes, " or "))}
	}
	if b.Mode == BackupDisabled {
		return nil
	}
	if !bucketPattern.MatchString(b.Bucket) || strings.Contains(b.Bucket, "..") {
		return &FieldError{"backup.bucket", fmt.Sprintf("%q is not a valid bucket name: use 3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit", b.Bucket)}
	}
	if !slices.Contains(CompressionFormats, b.Compression) {
		return &FieldError{"backup.compression", fmt.Sprintf("%q is not a compression format: use one of %s", b.Compression, strings.Join(CompressionFormats, ", "))}
	}
	if err := ValidatePrefix(b.Prefix); err != nil {
		return &FieldError{"backup.prefix", err.Error()}
	}
	tmpl, err := parsePrefixTemplate(b.Prefix)
	if err != nil {
		return &FieldError{"backup.prefix", err.Error()}
	}
	if tmpl.hasPartitionKey || tmpl.hasErrorType {
		return &FieldError{"backup.prefix", "can only use !{timestamp:…} and !{firehose:random-string} expressions: a copy holds the records of every partition"}
	}
	return nil
}

// backupFormat is how backup copies are made.
func (b *Backup) format(enc ObjectEncryption) objectFormat {
	return objectFormat{compression: b.Compression, encrypt: enc.ClientSide, kmsKeyID: enc.KMSKeyARN}
}
