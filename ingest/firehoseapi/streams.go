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
	dests := in.destinations()
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	v.enum("deliveryStreamType", in.DeliveryStreamType, enumStreamType)
	for i := range dests {
		dests[i].validate(&v)
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
		return invalidArgument(m + " is not supported by Hydrant: use " + createMembers + ".")
	}
	d, err := oneDestination(dests, "destination", createMembers)
	if err != nil {
		return err
	}
	rq.destParam = d.param
	if err := d.refuse(); err != nil {
		return err
	}
	var enc delivery.LogEncryption
	if e := in.DeliveryStreamEncryptionConfigurationInput; e != nil {
		if enc, err = logEncryption(e); err != nil {
			return err
		}
	}

	cfg := delivery.StreamConfig{Name: rq.stream, Destination: newDestination()}
	if err := d.merge(&cfg.Destination); err != nil {
		return err
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

// The destination members messages suggest.
const (
	createMembers = paramExtendedS3 + ", " + paramHTTP + " or " + paramClickHouse
	updateMembers = paramExtendedS3Update + ", " + paramHTTPUpdate + " or " + paramClickHouseUpdate
)

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

// description renders a stream as DescribeDeliveryStream reports it.
func (a *API) description(info delivery.StreamInfo) deliveryStreamDescription {
	d := &info.Config.Destination
	if f := &d.Processing.Function; f.Name != "" && f.ARN == "" {
		// Declared in the config file, by name.
		f.ARN = "arn:aws:lambda:" + a.region + ":" + a.account + ":function:" + f.Name
	}
	dest := destinationDescription{DestinationId: destinationID}
	switch d.Kind() {
	case delivery.KindHTTP:
		dest.HttpEndpointDestinationDescription = describeHTTP(d)
	case delivery.KindClickHouse:
		dest.HydrantClickHouseDestinationDescription = describeClickHouse(d)
	default:
		s3 := describeS3(d)
		ext := s3
		ext.ProcessingConfiguration = describeProcessing(d.Processing)
		ext.DynamicPartitioningConfiguration = describePartitioning(d.DynamicPartitioning)
		ext.DataFormatConversionConfiguration = describeConversion(d.FormatConversion)
		ext.S3BackupMode = describeBackupMode(d.Backup)
		ext.S3BackupDescription = describeBackup(d, &s3)
		dest.ExtendedS3DestinationDescription, dest.S3DestinationDescription = &ext, &s3
	}
	desc := deliveryStreamDescription{
		DeliveryStreamName:                    info.Config.Name,
		DeliveryStreamARN:                     a.arn(info.Config.Name),
		DeliveryStreamStatus:                  info.Status,
		DeliveryStreamEncryptionConfiguration: describeStreamEncryption(info.Encryption),
		DeliveryStreamType:                    "DirectPut",
		VersionId:                             strconv.Itoa(info.VersionID),
		CreateTimestamp:                       epochSeconds(info.CreatedAt),
		Destinations:                          []destinationDescription{dest},
		HasMoreDestinations:                   false,
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
	updates := in.destinations()
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	v.required("currentDeliveryStreamVersionId", in.CurrentDeliveryStreamVersionId != nil)
	v.str("currentDeliveryStreamVersionId", in.CurrentDeliveryStreamVersionId, 1, 50, &patVersionID)
	v.required("destinationId", in.DestinationId != nil)
	v.str("destinationId", in.DestinationId, 1, 100, &patDestinationID)
	for i := range updates {
		updates[i].validate(&v)
	}
	if err := v.err(); err != nil {
		return err
	}
	rq.stream = *in.DeliveryStreamName

	if m := in.unsupported(); m != "" {
		return invalidArgument(m + " is not supported by Hydrant: use " + updateMembers + ".")
	}
	upd, err := oneDestination(updates, "destination update", updateMembers)
	if err != nil {
		return err
	}
	rq.destParam = upd.param
	if err := upd.refuse(); err != nil {
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
	// dest shares its lists and maps (the schema's columns, …) with info:
	// merging replaces them, never writes into them.
	dest := info.Config.Destination
	if kind := dest.Kind(); kind != upd.kind {
		// Another kind of destination replaces this one, as in Firehose.
		if m := upd.missing(); m != "" {
			return invalidArgument("Firehose " + rq.stream + " delivers to " + kindName(kind) + ": changing its destination to " + kindName(upd.kind) +
				" takes a complete configuration, as CreateDeliveryStream does, and " + upd.param + "." + m + " is missing.")
		}
		dest = newDestination()
	}
	if err := upd.merge(&dest); err != nil {
		return err
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
