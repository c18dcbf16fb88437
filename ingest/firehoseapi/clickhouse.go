package firehoseapi

import (
	"math"
	"slices"

	"github.com/hydrantio/hydrant/delivery"
)

// The ClickHouse destination is Hydrant's extension of the API:
// HydrantClickHouseDestinationConfiguration in CreateDeliveryStream,
// HydrantClickHouseDestinationUpdate in UpdateDestination, and
// HydrantClickHouseDestinationDescription in the Destinations of
// DescribeDeliveryStream. Its members are spelt in PascalCase like the AWS
// shapes', and map onto delivery.Destination.ClickHouse (a
// delivery.ClickHouseConfig, which documents them) and the destination members
// that say where failed rows go:
//
//	{"HydrantClickHouseDestinationConfiguration": {
//	  "Addrs": ["ch1:9000", "ch2:9000"],       required: native-protocol host:port, tried in order
//	  "Database": "default",                   default "default"
//	  "Table": "events",                       required
//	  "User": "default", "Password": "…",      the password is a secret: never described
//	  "TLS": false,
//	  "Compression": "lz4",                    none, lz4 (the default) or zstd
//	  "Columns": [{"Name": "ts", "Type": "DateTime", "Path": ".time", "Required": true}],
//	  "UnknownFields": "ignore",               or reject
//	  "CreateTable": false, "Engine": "MergeTree() ORDER BY tuple()",
//	  "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
//	  "S3BackupMode": "FailedDataOnly",        or AllData
//	  "S3Configuration": {"BucketARN": "arn:aws:s3:::failed-rows", "ErrorOutputPrefix": "clickhouse/"},
//	  "ProcessingConfiguration": {…}}}
//
// S3Configuration (S3Update in an update) is as for the HTTP endpoint (see
// destinations.go), but needs no RoleARN. BufferingHints take an S3
// destination's ranges, 1 to 128 MiB and 0 to 900 s: ClickHouse wants
// large inserts. The AWS SDKs and CLI cannot send these members; raw JSON
// requests can. An update merges member by member as Firehose's do: a
// Password absent keeps the password, "" removes it; Addrs and Columns,
// when given, replace the lists.
//
// The sink's other settings (CAFile, InsecureSkipVerify, Settings, the
// timeouts, MaxOpenConns) are the config file's: they name files on the
// server or tune it.

// Names of the members, as messages quote them.
const (
	paramClickHouse       = "HydrantClickHouseDestinationConfiguration"
	paramClickHouseUpdate = "HydrantClickHouseDestinationUpdate"
)

// Values of the ClickHouse members, as delivery.ClickHouseConfig takes them.
var (
	enumClickHouseCompression = []string{"none", "lz4", "zstd"}
	enumUnknownFields         = []string{"ignore", "reject"}
)

// defaultUnknownFields is delivery.ClickHouseConfig's UnknownFields when empty.
const defaultUnknownFields = "ignore"

// clickHouseDestination is HydrantClickHouseDestinationConfiguration and
// HydrantClickHouseDestinationUpdate: the same members, but S3Configuration
// on create and S3Update on update.
type clickHouseDestination struct {
	Addrs                   []string
	Database                *string
	Table                   *string
	User                    *string
	Password                *string
	TLS                     *bool
	Compression             *string
	Columns                 []clickHouseColumn
	UnknownFields           *string
	CreateTable             *bool
	Engine                  *string
	BufferingHints          *bufferingHints
	S3BackupMode            *string
	S3Configuration         *s3Destination
	S3Update                *s3Destination
	ProcessingConfiguration *processingConfiguration
}

// clickHouseColumn is a delivery.ClickHouseColumn as the API spells it.
type clickHouseColumn struct {
	Name     string
	Type     string `json:",omitempty"`
	Path     string `json:",omitempty"`
	Required bool   `json:",omitempty"`
}

// clickHouseDestinationDescription is HydrantClickHouseDestinationDescription:
// the members with their defaults filled in, less the password.
type clickHouseDestinationDescription struct {
	Addrs                    []string
	Database                 string
	Table                    string
	User                     string
	TLS                      bool
	Compression              string
	Columns                  []clickHouseColumn `json:",omitempty"`
	UnknownFields            string
	CreateTable              bool
	Engine                   string `json:",omitempty"`
	BufferingHints           bufferingHintsOutput
	S3BackupMode             string
	S3DestinationDescription s3DestinationDescription
	ProcessingConfiguration  *processingConfiguration
}

// validateClickHouse checks a ClickHouse destination as the model would,
// had it one. On create, Addrs, Table and S3Configuration are required.
// The sink checks the rest (addresses, names, types, paths).
func validateClickHouse(v *validator, path string, c *clickHouseDestination, create bool) {
	if create {
		v.required(path+".addrs", c.Addrs != nil)
		v.required(path+".table", c.Table != nil)
		v.required(path+".s3Configuration", c.S3Configuration != nil)
	}
	if c.Addrs != nil {
		v.list(path+".addrs", len(c.Addrs), 1, math.MaxInt32)
	}
	v.str(path+".table", c.Table, 1, -1, nil)
	v.enum(path+".compression", c.Compression, enumClickHouseCompression)
	v.enum(path+".unknownFields", c.UnknownFields, enumUnknownFields)
	if b := c.BufferingHints; b != nil {
		v.intRange(path+".bufferingHints.sizeInMBs", b.SizeInMBs, delivery.MinBufferSizeMB, delivery.MaxBufferSizeMB)
		v.intRange(path+".bufferingHints.intervalInSeconds", b.IntervalInSeconds, delivery.MinBufferIntervalSec, delivery.MaxBufferIntervalSec)
	}
	v.enum(path+".s3BackupMode", c.S3BackupMode, enumRecordBackupMode)
	if create && c.S3Configuration != nil {
		validateS3Part(v, path+".s3Configuration", c.S3Configuration, true, false)
	}
	if !create && c.S3Update != nil {
		validateS3Part(v, path+".s3Update", c.S3Update, false, false)
	}
	if pc := c.ProcessingConfiguration; pc != nil {
		validateProcessing(v, path+".processingConfiguration", pc)
	}
}

// mergeClickHouse sets the members c gives on dest.
func mergeClickHouse(dest *delivery.Destination, param string, c *clickHouseDestination, create bool) error {
	s3 := c.S3Update
	if create {
		s3 = c.S3Configuration
	}
	if s3 != nil {
		if err := mergeS3Part(dest, param+"."+s3Member(create), s3); err != nil {
			return err
		}
	}
	// dest shares its lists with the stream's info: they are replaced,
	// never written into.
	ch := &dest.ClickHouse
	if c.Addrs != nil {
		ch.Addrs = slices.Clone(c.Addrs)
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&ch.Database, c.Database)
	set(&ch.Table, c.Table)
	set(&ch.User, c.User)
	set(&ch.Password, c.Password)
	set(&ch.Compression, c.Compression)
	set(&ch.UnknownFields, c.UnknownFields)
	set(&ch.Engine, c.Engine)
	if c.TLS != nil {
		ch.TLS = *c.TLS
	}
	if c.CreateTable != nil {
		ch.CreateTable = *c.CreateTable
	}
	if c.Columns != nil {
		ch.Columns = nil
		for _, col := range c.Columns {
			ch.Columns = append(ch.Columns, delivery.ClickHouseColumn(col))
		}
	}
	mergeBuffering(&dest.Buffering, c.BufferingHints)
	mergeRecordBackup(&dest.Backup, c.S3BackupMode)
	return mergeRecordProcessing(&dest.Processing, param, c.ProcessingConfiguration)
}

// describeClickHouse is the HydrantClickHouseDestinationDescription of d.
func describeClickHouse(d *delivery.Destination) *clickHouseDestinationDescription {
	ch := &d.ClickHouse
	or := func(s, dflt string) string {
		if s == "" {
			return dflt
		}
		return s
	}
	var cols []clickHouseColumn
	for _, c := range ch.Columns {
		cols = append(cols, clickHouseColumn(c))
	}
	return &clickHouseDestinationDescription{
		Addrs:                    ch.Addrs,
		Database:                 or(ch.Database, delivery.ClickHouseDefaultDatabase),
		Table:                    ch.Table,
		User:                     or(ch.User, delivery.ClickHouseDefaultUser),
		TLS:                      ch.TLS,
		Compression:              or(ch.Compression, delivery.ClickHouseDefaultCompression),
		Columns:                  cols,
		UnknownFields:            or(ch.UnknownFields, defaultUnknownFields),
		CreateTable:              ch.CreateTable,
		Engine:                   ch.Engine,
		BufferingHints:           bufferingHintsOutput{SizeInMBs: d.Buffering.SizeMB, IntervalInSeconds: d.Buffering.IntervalSeconds},
		S3BackupMode:             describeRecordBackupMode(d.Backup),
		S3DestinationDescription: describeS3(d),
		ProcessingConfiguration:  describeProcessing(d.Processing),
	}
}
