package firehoseapi

import (
	"strings"

	"github.com/hydrantio/hydrant/delivery"
)

// A stream has one destination, of one of three kinds: objects in a bucket
// (ExtendedS3DestinationConfiguration, S3DestinationConfiguration), an HTTP
// endpoint (HttpEndpointDestinationConfiguration, httpendpoint.go) or a
// ClickHouse table (Hydrant's HydrantClickHouseDestinationConfiguration,
// clickhouse.go). A request gives exactly one, as Firehose requires.
//
// UpdateDestination merges an update of the stream's own kind onto its
// destination, member by member, as Firehose does. An update of another
// kind replaces the destination, so, as in Firehose, it must be as
// complete as the configuration CreateDeliveryStream takes.
//
// The record destinations (HTTP endpoint, ClickHouse) write to their bucket
// the records that failed for good, or every record with S3BackupMode
// AllData. Their S3 member (S3Configuration on create, S3Update on update)
// sets the destination's Bucket, Prefix, ErrorOutputPrefix, Compression and
// Encryption; its BufferingHints are checked and ignored, since the objects
// are written with each batch of the destination.

// destinationRequest is one destination member of a request.
type destinationRequest struct {
	param  string // the member's name, for messages
	kind   string // delivery.KindObjects, KindHTTP or KindClickHouse
	create bool   // a configuration, not an update

	// One is set.
	s3         *s3Destination
	http       *httpEndpointDestination
	clickHouse *clickHouseDestination
}

// destinations returns the destination members the request gives.
func (in *createDeliveryStreamInput) destinations() []destinationRequest {
	var out []destinationRequest
	if d := in.ExtendedS3DestinationConfiguration; d != nil {
		out = append(out, destinationRequest{param: paramExtendedS3, kind: delivery.KindObjects, create: true, s3: d})
	}
	if d := in.S3DestinationConfiguration; d != nil {
		out = append(out, destinationRequest{param: paramS3, kind: delivery.KindObjects, create: true, s3: d})
	}
	if d := in.HttpEndpointDestinationConfiguration; d != nil {
		out = append(out, destinationRequest{param: paramHTTP, kind: delivery.KindHTTP, create: true, http: d})
	}
	if d := in.HydrantClickHouseDestinationConfiguration; d != nil {
		out = append(out, destinationRequest{param: paramClickHouse, kind: delivery.KindClickHouse, create: true, clickHouse: d})
	}
	return out
}

// destinations returns the destination updates the request gives.
func (in *updateDestinationInput) destinations() []destinationRequest {
	var out []destinationRequest
	if d := in.ExtendedS3DestinationUpdate; d != nil {
		out = append(out, destinationRequest{param: paramExtendedS3Update, kind: delivery.KindObjects, s3: d})
	}
	if d := in.S3DestinationUpdate; d != nil {
		out = append(out, destinationRequest{param: paramS3Update, kind: delivery.KindObjects, s3: d})
	}
	if d := in.HttpEndpointDestinationUpdate; d != nil {
		out = append(out, destinationRequest{param: paramHTTPUpdate, kind: delivery.KindHTTP, http: d})
	}
	if d := in.HydrantClickHouseDestinationUpdate; d != nil {
		out = append(out, destinationRequest{param: paramClickHouseUpdate, kind: delivery.KindClickHouse, clickHouse: d})
	}
	return out
}

// oneDestination returns the one destination of reqs, or the
// InvalidArgumentException for none or several. what is "destination" or
// "destination update"; members lists the members to suggest.
func oneDestination(reqs []destinationRequest, what, members string) (destinationRequest, error) {
	switch len(reqs) {
	case 0:
		return destinationRequest{}, invalidArgument("A " + what + " is required: specify " + members + ".")
	case 1:
		return reqs[0], nil
	}
	names := make([]string, len(reqs))
	for i, r := range reqs {
		names[i] = r.param
	}
	return destinationRequest{}, invalidArgument("Specify only one of " + strings.Join(names, " and ") + ": a Firehose stream has exactly one destination.")
}

// extended reports whether r is an ExtendedS3 member.
func (r *destinationRequest) extended() bool {
	return r.param == paramExtendedS3 || r.param == paramExtendedS3Update
}

// validate checks r against the model; its path is the member's name in
// lower camel case, as AWS's messages spell it.
func (r *destinationRequest) validate(v *validator) {
	path := strings.ToLower(r.param[:1]) + r.param[1:]
	switch {
	case r.http != nil:
		validateHTTP(v, path, r.http, r.create)
	case r.clickHouse != nil:
		validateClickHouse(v, path, r.clickHouse, r.create)
	default:
		validateS3(v, path, r.s3, r.create, r.extended())
	}
}

// refuse returns the InvalidArgumentException for a feature of r that
// Hydrant does not have, known from r alone, or nil.
func (r *destinationRequest) refuse() error {
	switch {
	case r.http != nil:
		return refuseHTTP(r.param, r.http)
	case r.s3 != nil:
		return unsupportedS3(r.param, r.s3, r.extended())
	}
	return nil
}

// missing returns the first member that a configuration of r's kind
// requires and r lacks, or "": an update that changes the kind of a
// destination replaces it, and must give what a create does.
func (r *destinationRequest) missing() string {
	switch {
	case r.http != nil:
		switch h := r.http; {
		case h.EndpointConfiguration == nil:
			return "EndpointConfiguration"
		case h.S3Update == nil || h.S3Update.BucketARN == nil:
			return memberS3Update + ".BucketARN"
		}
	case r.clickHouse != nil:
		switch c := r.clickHouse; {
		case c.Addrs == nil:
			return "Addrs"
		case c.Table == nil:
			return "Table"
		case c.S3Update == nil || c.S3Update.BucketARN == nil:
			return memberS3Update + ".BucketARN"
		}
	case r.s3.BucketARN == nil:
		return "BucketARN"
	}
	return ""
}

// merge sets the members r gives on dest: a complete configuration on
// create, a partial update on UpdateDestination.
func (r *destinationRequest) merge(dest *delivery.Destination) error {
	switch {
	case r.http != nil:
		return mergeHTTP(dest, r.param, r.http, r.create)
	case r.clickHouse != nil:
		return mergeClickHouse(dest, r.param, r.clickHouse, r.create)
	}
	d, extended := r.s3, r.extended()
	mergeS3(dest, d)
	if err := mergeFeatures(dest, r.param, d, extended); err != nil {
		return err
	}
	if !extended {
		return nil
	}
	backup := d.S3BackupUpdate
	if r.create {
		backup = d.S3BackupConfiguration
	}
	return mergeBackup(&dest.Backup, r.param, d.S3BackupMode, backup)
}

// newDestination is the destination a create starts from: Firehose's
// defaults.
func newDestination() delivery.Destination {
	return delivery.Destination{
		Buffering: delivery.BufferingHints{
			SizeMB:          delivery.DefaultBufferSizeMB,
			IntervalSeconds: delivery.DefaultBufferIntervalSec,
		},
		Compression: delivery.Uncompressed,
	}
}

// kindName names a destination kind in messages.
func kindName(kind string) string {
	switch kind {
	case delivery.KindHTTP:
		return "an HTTP endpoint"
	case delivery.KindClickHouse:
		return "ClickHouse"
	}
	return "Amazon S3"
}

// s3Member is the member of a record destination that holds its bucket:
// S3Configuration on create, S3Update on update.
func s3Member(create bool) string {
	if create {
		return memberS3Config
	}
	return memberS3Update
}

// validateS3Part checks the S3 member of a record destination. On create
// its BucketARN is required, and its RoleARN when roleRequired (the AWS
// shape's rule, which Hydrant's own extensions do not follow).
func validateS3Part(v *validator, path string, d *s3Destination, create, roleRequired bool) {
	if create && !roleRequired {
		v.required(path+".bucketARN", d.BucketARN != nil)
		create = false
	}
	validateS3(v, path, d, create, false)
}

// mergeS3Part sets the members of a record destination's S3 member on
// dest. member names it in messages.
func mergeS3Part(dest *delivery.Destination, member string, d *s3Destination) error {
	part := *d
	part.BufferingHints = nil // the objects are written with each batch
	mergeS3(dest, &part)
	return mergeEncryption(&dest.Encryption, member, d.EncryptionConfiguration)
}

// mergeBuffering sets the hints h gives on b.
func mergeBuffering(b *delivery.BufferingHints, h *bufferingHints) {
	if h == nil {
		return
	}
	if h.SizeInMBs != nil {
		b.SizeMB = *h.SizeInMBs
	}
	if h.IntervalInSeconds != nil {
		b.IntervalSeconds = *h.IntervalInSeconds
	}
}

// mergeRecordBackup sets the S3BackupMode of a record destination on b:
// FailedDataOnly, Firehose's default, unless mode or b says otherwise.
func mergeRecordBackup(b *delivery.Backup, mode *string) {
	switch {
	case mode != nil:
		b.Mode = *mode
	case b.Mode == "":
		b.Mode = delivery.BackupFailedDataOnly
	}
}

// mergeRecordProcessing sets the ProcessingConfiguration of a record
// destination on p, as for an S3 destination, less the partition keys of
// MetadataExtraction, which only dynamic partitioning uses.
func mergeRecordProcessing(p *delivery.Processing, param string, pc *processingConfiguration) error {
	if pc == nil {
		return nil
	}
	if err := mergeProcessing(p, param, pc); err != nil {
		return err
	}
	if p.MetadataExtractionQuery != "" {
		return invalidArgument(param + "." + processorMember(procMetadata) + " is for S3 destinations with dynamic partitioning: " +
			"a record destination has no prefixes to put partition keys in.")
	}
	return nil
}

// describeRecordBackupMode is the S3BackupMode of a record destination's
// description.
func describeRecordBackupMode(b delivery.Backup) string {
	if b.Mode == "" {
		return delivery.BackupFailedDataOnly
	}
	return b.Mode
}

// describeS3 is the S3DestinationDescription of d: the whole of an object
// destination as the old S3 shape sees it, or the S3 member of a record
// destination.
func describeS3(d *delivery.Destination) s3DestinationDescription {
	return s3DestinationDescription{
		BucketARN:                bucketARN(d.Bucket),
		RoleARN:                  d.RoleARN,
		Prefix:                   d.Prefix,
		ErrorOutputPrefix:        d.ErrorOutputPrefix,
		BufferingHints:           bufferingHintsOutput{SizeInMBs: d.Buffering.SizeMB, IntervalInSeconds: d.Buffering.IntervalSeconds},
		CompressionFormat:        d.Compression,
		EncryptionConfiguration:  describeEncryption(d.Encryption),
		CloudWatchLoggingOptions: cloudWatchLoggingOptions{Enabled: false},
	}
}
