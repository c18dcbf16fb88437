package firehoseapi

import (
	"encoding/json"
	"strconv"

	"github.com/hydrantio/hydrant/delivery"
)

// destinationID is the ID of a stream's one destination, as Firehose
// numbers it.
const destinationID = "destinationId-000000000001"

// Names of the destination members, as error messages quote them.
const (
	paramExtendedS3       = "ExtendedS3DestinationConfiguration"
	paramS3               = "S3DestinationConfiguration"
	paramExtendedS3Update = "ExtendedS3DestinationUpdate"
	paramS3Update         = "S3DestinationUpdate"
)

func invalidArgument(msg string) error { return &awsError{Code: codeInvalidArgument, Message: msg} }

func (a *API) arn(name string) string { return a.arnPrefix + name }

func (a *API) createDeliveryStream(rq *request) error {
	var in createDeliveryStreamInput
	if err := decodeJSON(rq.body, &in); err != nil {
		return err
	}
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	v.enum("deliveryStreamType", in.DeliveryStreamType, enumStreamType)
	if in.ExtendedS3DestinationConfiguration != nil {
		validateS3(&v, "extendedS3DestinationConfiguration", in.ExtendedS3DestinationConfiguration, true, true)
	}
	if in.S3DestinationConfiguration != nil {
		validateS3(&v, "s3DestinationConfiguration", in.S3DestinationConfiguration, true, false)
	}
	validateStreamEncryption(&v, "deliveryStreamEncryptionConfigurationInput", in.DeliveryStreamEncryptionConfigurationInput)
	if in.Tags != nil {
		v.list("tags", len(in.Tags), 1, 50)
		for i, t := range in.Tags {
			v.tagKey(memberPath("tags", i, "key"), t.Key)
			v.str(memberPath("tags", i, "value"), t.Value, 0, 256, &patTagValue)
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	rq.stream = *in.DeliveryStreamName

	if t := in.DeliveryStreamType; t != nil && *t != "DirectPut" {
		return invalidArgument("DeliveryStreamType " + *t + " is not supported by Hydrant: only DirectPut streams are.")
	}
	if m := in.unsupported(); m != "" {
		return invalidArgument(m + " is not supported by Hydrant: use ExtendedS3DestinationConfiguration.")
	}
	var d *s3Destination
	switch {
	case in.ExtendedS3DestinationConfiguration != nil && in.S3DestinationConfiguration != nil:
		return invalidArgument("Specify only one of ExtendedS3DestinationConfiguration and S3DestinationConfiguration.")
	case in.ExtendedS3DestinationConfiguration != nil:
		d, rq.destParam = in.ExtendedS3DestinationConfiguration, paramExtendedS3
	case in.S3DestinationConfiguration != nil:
		d, rq.destParam = in.S3DestinationConfiguration, paramS3
	default:
		return invalidArgument("A destination is required: specify ExtendedS3DestinationConfiguration.")
	}
	if err := unsupportedS3(rq.destParam, d, rq.destParam == paramExtendedS3); err != nil {
		return err
	}
	var enc delivery.LogEncryption
	if e := in.DeliveryStreamEncryptionConfigurationInput; e != nil {
		var err error
		if enc, err = logEncryption(e); err != nil {
			return err
		}
	}

	cfg := delivery.StreamConfig{
		Name: rq.stream,
		Destination: delivery.Destination{
			Buffering: delivery.BufferingHints{
				SizeMB:          delivery.DefaultBufferSizeMB,
				IntervalSeconds: delivery.DefaultBufferIntervalSec,
			},
			Compression: delivery.Uncompressed,
		},
	}
	mergeS3(&cfg.Destination, d)
	if err := mergeFeatures(&cfg.Destination, rq.destParam, d, rq.destParam == paramExtendedS3); err != nil {
		return err
	}
	if rq.destParam == paramExtendedS3 {
		if err := mergeBackup(&cfg.Destination.Backup, rq.destParam, d.S3BackupMode, d.S3BackupConfiguration); err != nil {
			return err
		}
	}
	if len(in.Tags) > 0 {
		cfg.Tags = make(map[string]string, len(in.Tags))
		for _, t := range in.Tags {
			cfg.Tags[*t.Key] = deref(t.Value)
		}
	}
	info, err := a.streams.Create(rq.ctx, cfg)
	if err != nil {
		return err
	}
	// The log's encryption is a second step, undone with the stream if it
	// fails (encryptNew).
	if enc.Enabled {
		if err := a.encryptNew(rq, enc); err != nil {
			return err
		}
	}
	return a.writeJSON(rq, createDeliveryStreamOutput{DeliveryStreamARN: a.arn(info.Config.Name)})
}

// validateS3 checks an S3 destination's members against the model. On
// create, BucketARN and RoleARN are required; updates are partial. An
// extended destination's backup is an S3 destination too.
func validateS3(v *validator, path string, d *s3Destination, create, extended bool) {
	if create {
		v.required(path+".bucketARN", d.BucketARN != nil)
		v.required(path+".roleARN", d.RoleARN != nil)
	}
	v.str(path+".bucketARN", d.BucketARN, 1, 2048, &patBucketARN)
	v.str(path+".roleARN", d.RoleARN, 1, 512, &patRoleARN)
	v.str(path+".prefix", d.Prefix, 0, 1024, nil)
	v.str(path+".errorOutputPrefix", d.ErrorOutputPrefix, 0, 1024, nil)
	if h := d.BufferingHints; h != nil {
		v.intRange(path+".bufferingHints.sizeInMBs", h.SizeInMBs, delivery.MinBufferSizeMB, delivery.MaxBufferSizeMB)
		v.intRange(path+".bufferingHints.intervalInSeconds", h.IntervalInSeconds, delivery.MinBufferIntervalSec, delivery.MaxBufferIntervalSec)
	}
	v.enum(path+".compressionFormat", d.CompressionFormat, enumCompression)
	validateFeatures(v, path, d, extended)
	if extended {
		v.enum(path+".s3BackupMode", d.S3BackupMode, enumS3BackupMode)
		if create && d.S3BackupConfiguration != nil {
			validateS3(v, path+".s3BackupConfiguration", d.S3BackupConfiguration, true, false)
		}
		if !create && d.S3BackupUpdate != nil {
			validateS3(v, path+".s3BackupUpdate", d.S3BackupUpdate, false, false)
		}
		v.str(path+".fileExtension", d.FileExtension, 0, 128, nil)
		v.str(path+".customTimeZone", d.CustomTimeZone, 0, 50, nil)
	}
}

// unsupportedS3 refuses the S3 destination features Hydrant does not have,
// rather than silently ignoring them. mergeFeatures refuses the parts of
// the features it maps that Hydrant does not have.
func unsupportedS3(param string, d *s3Destination, extended bool) error {
	member := ""
	switch {
	case !extended:
	case deref(d.FileExtension) != "":
		member = "FileExtension"
	case deref(d.CustomTimeZone) != "" && deref(d.CustomTimeZone) != "UTC":
		member = "CustomTimeZone"
	}
	if member == "" {
		return nil
	}
	return invalidArgument(param + "." + member + " is not supported by Hydrant.")
}

// mergeS3 sets the members present in d on dest: a complete configuration
// on create, a partial update on UpdateDestination.
func mergeS3(dest *delivery.Destination, d *s3Destination) {
	if d.BucketARN != nil {
		dest.Bucket = bucketName(*d.BucketARN)
	}
	if d.RoleARN != nil {
		dest.RoleARN = *d.RoleARN
	}
	if d.Prefix != nil {
		dest.Prefix = *d.Prefix
	}
	if d.ErrorOutputPrefix != nil {
		dest.ErrorOutputPrefix = *d.ErrorOutputPrefix
	}
	if h := d.BufferingHints; h != nil {
		if h.SizeInMBs != nil {
			dest.Buffering.SizeMB = *h.SizeInMBs
		}
		if h.IntervalInSeconds != nil {
			dest.Buffering.IntervalSeconds = *h.IntervalInSeconds
		}
	}
	if d.CompressionFormat != nil {
		dest.Compression = *d.CompressionFormat
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a *API) describeDeliveryStream(rq *request) error {
	var in describeDeliveryStreamInput
	if err := decodeJSON(rq.body, &in); err != nil {
		return err
	}
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	v.intRange("limit", in.Limit, 1, 10000)
	v.str("exclusiveStartDestinationId", in.ExclusiveStartDestinationId, 1, 100, &patDestinationID)
	if err := v.err(); err != nil {
		return err
	}
	rq.stream = *in.DeliveryStreamName
	info, err := a.streams.Describe(rq.stream)
	if err != nil {
		return err
	}
	out := describeDeliveryStreamOutput{DeliveryStreamDescription: a.description(info)}
	if start := in.ExclusiveStartDestinationId; start != nil && *start >= destinationID {
		out.DeliveryStreamDescription.Destinations = []destinationDescription{}
	}
	return a.writeJSON(rq, out)
}

// description renders a stream the way DescribeDeliveryStream reports an
// S3 stream.
func (a *API) description(info delivery.StreamInfo) deliveryStreamDescription {
	d := info.Config.Destination
	s3 := s3DestinationDescription{
		BucketARN:                bucketARN(d.Bucket),
		RoleARN:                  d.RoleARN,
		Prefix:                   d.Prefix,
		ErrorOutputPrefix:        d.ErrorOutputPrefix,
		BufferingHints:           bufferingHintsOutput{SizeInMBs: d.Buffering.SizeMB, IntervalInSeconds: d.Buffering.IntervalSeconds},
		CompressionFormat:        d.Compression,
		EncryptionConfiguration:  describeEncryption(d.Encryption),
		CloudWatchLoggingOptions: cloudWatchLoggingOptions{Enabled: false},
	}
	ext := s3
	ext.ProcessingConfiguration = describeProcessing(d.Processing)
	ext.DynamicPartitioningConfiguration = describePartitioning(d.DynamicPartitioning)
	ext.DataFormatConversionConfiguration = describeConversion(d.FormatConversion)
	ext.S3BackupMode = describeBackupMode(d.Backup)
	ext.S3BackupDescription = describeBackup(&d, &s3)
	desc := deliveryStreamDescription{
		DeliveryStreamName:                    info.Config.Name,
		DeliveryStreamARN:                     a.arn(info.Config.Name),
		DeliveryStreamStatus:                  info.Status,
		DeliveryStreamEncryptionConfiguration: describeStreamEncryption(info.Encryption),
		DeliveryStreamType:                    "DirectPut",
		VersionId:                             strconv.Itoa(info.VersionID),
		CreateTimestamp:                       epochSeconds(info.CreatedAt),
		Destinations: []destinationDescription{{
			DestinationId:                    destinationID,
			ExtendedS3DestinationDescription: &ext,
			S3DestinationDescription:         &s3,
		}},
		HasMoreDestinations: false,
	}
	if !info.UpdatedAt.IsZero() {
		t := epochSeconds(info.UpdatedAt)
		desc.LastUpdateTimestamp = &t
	}
	return desc
}

func (a *API) listDeliveryStreams(rq *request) error {
	var in listDeliveryStreamsInput
	if err := decodeJSON(rq.body, &in); err != nil {
		return err
	}
	var v validator
	v.intRange("limit", in.Limit, 1, 10000)
	v.enum("deliveryStreamType", in.DeliveryStreamType, enumStreamType)
	v.name("exclusiveStartDeliveryStreamName", in.ExclusiveStartDeliveryStreamName, false)
	if err := v.err(); err != nil {
		return err
	}
	limit := 10
	if in.Limit != nil {
		limit = *in.Limit
	}
	out := listDeliveryStreamsOutput{DeliveryStreamNames: []string{}}
	// Every Hydrant stream is a DirectPut stream.
	if in.DeliveryStreamType == nil || *in.DeliveryStreamType == "DirectPut" {
		for _, s := range a.streams.List() {
			if in.ExclusiveStartDeliveryStreamName != nil && s.Config.Name <= *in.ExclusiveStartDeliveryStreamName {
				continue
			}
			if len(out.DeliveryStreamNames) == limit {
				out.HasMoreDeliveryStreams = true
				break
			}
			out.DeliveryStreamNames = append(out.DeliveryStreamNames, s.Config.Name)
		}
	}
	return a.writeJSON(rq, out)
}

func (a *API) deleteDeliveryStream(rq *request) error {
	var in deleteDeliveryStreamInput
	if err := decodeJSON(rq.body, &in); err != nil {
		return err
	}
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	if err := v.err(); err != nil {
		return err
	}
	rq.stream = *in.DeliveryStreamName
	force := in.AllowForceDelete != nil && *in.AllowForceDelete
	if err := a.streams.Delete(rq.ctx, rq.stream, force); err != nil {
		return err
	}
	return a.writeRaw(rq, emptyObject)
}

func (a *API) updateDestination(rq *request) error {
	var in updateDestinationInput
	if err := decodeJSON(rq.body, &in); err != nil {
		return err
	}
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	v.required("currentDeliveryStreamVersionId", in.CurrentDeliveryStreamVersionId != nil)
	v.str("currentDeliveryStreamVersionId", in.CurrentDeliveryStreamVersionId, 1, 50, &patVersionID)
	v.required("destinationId", in.DestinationId != nil)
	v.str("destinationId", in.DestinationId, 1, 100, &patDestinationID)
	if in.ExtendedS3DestinationUpdate != nil {
		validateS3(&v, "extendedS3DestinationUpdate", in.ExtendedS3DestinationUpdate, false, true)
	}
	if in.S3DestinationUpdate != nil {
		validateS3(&v, "s3DestinationUpdate", in.S3DestinationUpdate, false, false)
	}
	if err := v.err(); err != nil {
		return err
	}
	rq.stream = *in.DeliveryStreamName

	if m := in.unsupported(); m != "" {
		return invalidArgument(m + " is not supported by Hydrant: use ExtendedS3DestinationUpdate.")
	}
	var upd *s3Destination
	switch {
	case in.ExtendedS3DestinationUpdate != nil && in.S3DestinationUpdate != nil:
		return invalidArgument("Specify only one of ExtendedS3DestinationUpdate and S3DestinationUpdate.")
	case in.ExtendedS3DestinationUpdate != nil:
		upd, rq.destParam = in.ExtendedS3DestinationUpdate, paramExtendedS3Update
	case in.S3DestinationUpdate != nil:
		upd, rq.destParam = in.S3DestinationUpdate, paramS3Update
	default:
		return invalidArgument("A destination update is required: specify ExtendedS3DestinationUpdate.")
	}
	if err := unsupportedS3(rq.destParam, upd, rq.destParam == paramExtendedS3Update); err != nil {
		return err
	}

	info, err := a.streams.Describe(rq.stream)
	if err != nil {
		return err
	}
	if *in.DestinationId != destinationID {
		return invalidArgument("Firehose " + rq.stream + " has no destination " + *in.DestinationId + "; its destination is " + destinationID + ".")
	}
	// The update is merged onto the destination as Describe saw it, so the
	// version must be that one too, or a concurrent update would be lost.
	version, perr := strconv.Atoi(*in.CurrentDeliveryStreamVersionId)
	if perr != nil || version != info.VersionID {
		return delivery.ErrVersionMismatch
	}
	// dest shares the schema's columns with info: merging replaces them,
	// never writes into them.
	dest := info.Config.Destination
	mergeS3(&dest, upd)
	if err := mergeFeatures(&dest, rq.destParam, upd, rq.destParam == paramExtendedS3Update); err != nil {
		return err
	}
	if rq.destParam == paramExtendedS3Update {
		if err := mergeBackup(&dest.Backup, rq.destParam, upd.S3BackupMode, upd.S3BackupUpdate); err != nil {
			return err
		}
	}
	if err := a.streams.UpdateDestination(rq.ctx, rq.stream, version, dest); err != nil {
		return err
	}
	return a.writeRaw(rq, emptyObject)
}

var emptyObject = []byte("{}")

const contentType = "application/x-amz-json-1.1"

// writeJSON answers 200 with v as JSON.
func (a *API) writeJSON(rq *request, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.writeRaw(rq, b)
}

// writeRaw answers 200 with body, which is JSON.
func (a *API) writeRaw(rq *request, body []byte) error {
	h := rq.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.status = 200
	rq.w.WriteHeader(200)
	_, _ = rq.w.Write(body)
	return nil
}
