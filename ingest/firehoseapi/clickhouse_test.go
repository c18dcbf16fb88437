package firehoseapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"

	"github.com/hydrantio/hydrant/delivery"
)

// The ClickHouse destination is Hydrant's extension, which the AWS SDK
// cannot send: these tests use raw JSON.

const chPassword = "very-secret-password-5678"

// clickHouseCreate is a complete CreateDeliveryStream of stream name,
// with members added to its HydrantClickHouseDestinationConfiguration.
func clickHouseCreate(name, members string) string {
	if members != "" {
		members = "," + members
	}
	return `{"DeliveryStreamName":"` + name + `","HydrantClickHouseDestinationConfiguration":{
		"Addrs":["127.0.0.1:9000"],"Table":"events",
		"S3Configuration":{"BucketARN":"arn:aws:s3:::failed-rows"}` + members + `}}`
}

// describeClickHouse returns the stream's raw
// HydrantClickHouseDestinationDescription, checking that it is the only
// description and that the answer holds no password.
func (h *harness) describeClickHouse(name string) json.RawMessage {
	h.t.Helper()
	body := h.callOK("DescribeDeliveryStream", `{"DeliveryStreamName":"`+name+`"}`)
	if strings.Contains(string(body), chPassword) || strings.Contains(string(body), "Password") {
		h.t.Errorf("DescribeDeliveryStream(%s) answer holds the password: %s", name, body)
	}
	var out struct {
		DeliveryStreamDescription struct {
			Destinations []map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		h.t.Fatal(err)
	}
	d := out.DeliveryStreamDescription.Destinations[0]
	if len(d) != 2 || d["HydrantClickHouseDestinationDescription"] == nil {
		h.t.Fatalf("DescribeDeliveryStream(%s) = %s; want a DestinationId and a HydrantClickHouseDestinationDescription", name, body)
	}
	return d["HydrantClickHouseDestinationDescription"]
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return jsonOf(va) == jsonOf(vb)
}

func TestClickHouseCreateAndDescribe(t *testing.T) {
	h := newHarness(t)
	h.callOK("CreateDeliveryStream", clickHouseCreate("ch", `
		"Addrs":["ch1:9440","ch2:9440"],"Database":"analytics","User":"writer","Password":"`+chPassword+`",
		"TLS":true,"Compression":"zstd","UnknownFields":"reject","CreateTable":true,"Engine":"MergeTree() ORDER BY ts",
		"Columns":[{"Name":"ts","Type":"DateTime","Path":".time","Required":true},{"Name":"user","Type":"String"}],
		"BufferingHints":{"SizeInMBs":128,"IntervalInSeconds":60},"S3BackupMode":"AllData",
		"S3Configuration":{"BucketARN":"arn:aws:s3:::failed-rows","Prefix":"rows/","ErrorOutputPrefix":"failed/","CompressionFormat":"GZIP",
			"BufferingHints":{"SizeInMBs":1}},
		"ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"RecordDeAggregation","Parameters":[{"ParameterName":"SubRecordType","ParameterValue":"JSON"}]}]}`))
	want := delivery.Destination{
		Bucket: "failed-rows", Prefix: "rows/", ErrorOutputPrefix: "failed/",
		Buffering: delivery.BufferingHints{SizeMB: 128, IntervalSeconds: 60}, Compression: "GZIP",
		Processing: delivery.Processing{DeAggregation: "JSON"},
		Backup:     delivery.Backup{Mode: delivery.BackupAllData},
		ClickHouse: delivery.ClickHouseConfig{Addrs: []string{"ch1:9440", "ch2:9440"}, Database: "analytics", Table: "events", User: "writer",
			Password: chPassword, TLS: true, Compression: "zstd", UnknownFields: "reject", CreateTable: true, Engine: "MergeTree() ORDER BY ts",
			Columns: []delivery.ClickHouseColumn{{Name: "ts", Type: "DateTime", Path: ".time", Required: true}, {Name: "user", Type: "String"}}},
	}
	h.wantDestination("ch", want)
	const wantDesc = `{"Addrs":["ch1:9440","ch2:9440"],"Database":"analytics","Table":"events","User":"writer","TLS":true,"Compression":"zstd",
		"Columns":[{"Name":"ts","Type":"DateTime","Path":".time","Required":true},{"Name":"user","Type":"String"}],
		"UnknownFields":"reject","CreateTable":true,"Engine":"MergeTree() ORDER BY ts",
		"BufferingHints":{"SizeInMBs":128,"IntervalInSeconds":60},"S3BackupMode":"AllData",
		"S3DestinationDescription":{"BucketARN":"arn:aws:s3:::failed-rows","RoleARN":"","Prefix":"rows/","ErrorOutputPrefix":"failed/",
			"BufferingHints":{"SizeInMBs":128,"IntervalInSeconds":60},"CompressionFormat":"GZIP",
			"EncryptionConfiguration":{"NoEncryptionConfig":"NoEncryption"},"CloudWatchLoggingOptions":{"Enabled":false}},
		"ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"RecordDeAggregation","Parameters":[{"ParameterName":"SubRecordType","ParameterValue":"JSON"}]}]}}`
	if got := h.describeClickHouse("ch"); !sameJSON(t, got, []byte(wantDesc)) {
		t.Errorf("HydrantClickHouseDestinationDescription =\n%s\nwant\n%s", got, wantDesc)
	}
	// The SDK skips the extension, and still decodes the rest.
	out, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("ch")})
	if err != nil {
		t.Fatalf("DescribeDeliveryStream through the SDK: %v", err)
	}
	if d := out.DeliveryStreamDescription.Destinations; len(d) != 1 || aws.ToString(d[0].DestinationId) != destinationID || d[0].ExtendedS3DestinationDescription != nil {
		t.Errorf("Destinations through the SDK = %s", jsonOf(d))
	}

	// Defaults are described as the sink applies them.
	h.callOK("CreateDeliveryStream", clickHouseCreate("plain", ""))
	h.wantDestination("plain", delivery.Destination{Bucket: "failed-rows", Buffering: delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300},
		Compression: "UNCOMPRESSED", Backup: delivery.Backup{Mode: delivery.BackupFailedDataOnly},
		ClickHouse: delivery.ClickHouseConfig{Addrs: []string{"127.0.0.1:9000"}, Table: "events"}})
	var got struct {
		Database, User, Compression, UnknownFields, S3BackupMode string
		Columns                                                  json.RawMessage
		Engine                                                   *string
	}
	if err := json.Unmarshal(h.describeClickHouse("plain"), &got); err != nil {
		t.Fatal(err)
	}
	if got.Database != "default" || got.User != "default" || got.Compression != "lz4" || got.UnknownFields != "ignore" ||
		got.S3BackupMode != "FailedDataOnly" || got.Columns != nil || got.Engine != nil {
		t.Errorf("described defaults = %+v", got)
	}
}

func TestClickHouseUpdate(t *testing.T) {
	h := newHarness(t)
	h.callOK("CreateDeliveryStream", clickHouseCreate("ch", `"Password":"`+chPassword+`","Columns":[{"Name":"a"}]`))
	want := delivery.Destination{Bucket: "failed-rows", Buffering: delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300},
		Compression: "UNCOMPRESSED", Backup: delivery.Backup{Mode: delivery.BackupFailedDataOnly},
		ClickHouse: delivery.ClickHouseConfig{Addrs: []string{"127.0.0.1:9000"}, Table: "events", Password: chPassword, Columns: []delivery.ClickHouseColumn{{Name: "a"}}}}
	h.wantDestination("ch", want)
	version := 1
	update := func(members string) {
		t.Helper()
		h.callOK("UpdateDestination", `{"DeliveryStreamName":"ch","CurrentDeliveryStreamVersionId":"`+strconv.Itoa(version)+`",
			"DestinationId":"`+destinationID+`","HydrantClickHouseDestinationUpdate":{`+members+`}}`)
		version++
	}
	// A member changes alone; the password stays, since the description
	// never gave it back.
	update(`"Table":"events_v2","Addrs":["ch1:9000","ch2:9000"]`)
	want.ClickHouse.Table, want.ClickHouse.Addrs = "events_v2", []string{"ch1:9000", "ch2:9000"}
	h.wantDestination("ch", want)
	update(`"Columns":[{"Name":"b","Path":".x.y"}],"BufferingHints":{"IntervalInSeconds":10},"S3BackupMode":"AllData",
		"S3Update":{"Prefix":"p/","BufferingHints":{"SizeInMBs":100}}`)
	want.ClickHouse.Columns = []delivery.ClickHouseColumn{{Name: "b", Path: ".x.y"}}
	want.Buffering.IntervalSeconds, want.Backup.Mode, want.Prefix = 10, delivery.BackupAllData, "p/"
	h.wantDestination("ch", want)
	update(`"Columns":[],"Password":"","TLS":true`)
	want.ClickHouse.Columns, want.ClickHouse.Password, want.ClickHouse.TLS = nil, "", true
	h.wantDestination("ch", want)

	// From S3 to ClickHouse takes a complete configuration.
	h.create("s", s3Config("bucket"))
	body := func(members string) string {
		return `{"DeliveryStreamName":"s","CurrentDeliveryStreamVersionId":"1","DestinationId":"` + destinationID +
			`","HydrantClickHouseDestinationUpdate":{` + members + `}}`
	}
	status, b := h.call("UpdateDestination", body(`"Addrs":["ch:9000"],"S3Update":{"BucketARN":"arn:aws:s3:::failed-rows"}`))
	if e := decodeError(b); status != 400 || e.Type != codeInvalidArgument ||
		e.Message != "Firehose s delivers to Amazon S3: changing its destination to ClickHouse takes a complete configuration, as CreateDeliveryStream does, "+
			"and HydrantClickHouseDestinationUpdate.Table is missing." {
		t.Errorf("UpdateDestination(to ClickHouse without a table) = %d %+v", status, e)
	}
	h.callOK("UpdateDestination", body(`"Addrs":["ch:9000"],"Table":"t","S3Update":{"BucketARN":"arn:aws:s3:::failed-rows"}`))
	h.wantDestination("s", delivery.Destination{Bucket: "failed-rows", Buffering: delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300},
		Compression: "UNCOMPRESSED", Backup: delivery.Backup{Mode: delivery.BackupFailedDataOnly},
		ClickHouse: delivery.ClickHouseConfig{Addrs: []string{"ch:9000"}, Table: "t"}})
}

func TestClickHouseErrors(t *testing.T) {
	h := newHarness(t)
	const dest = "HydrantClickHouseDestinationConfiguration"
	const path = "'hydrantClickHouseDestinationConfiguration."
	f := func(name, body, code, msg string) {
		t.Helper()
		status, b := h.call("CreateDeliveryStream", body)
		if e := decodeError(b); status != 400 || e.Type != code || !strings.Contains(e.Message, msg) {
			t.Errorf("CreateDeliveryStream(%s) = %d %s: %q; want %s: %q", name, status, e.Type, e.Message, code, msg)
		}
	}
	f("no Addrs", `{"DeliveryStreamName":"k","HydrantClickHouseDestinationConfiguration":{"Table":"t","S3Configuration":{"BucketARN":"arn:aws:s3:::failed-rows"}}}`,
		codeValidation, "1 validation error detected: Value null at "+path+"addrs' failed to satisfy constraint: Member must not be null")
	f("no Table", `{"DeliveryStreamName":"k","HydrantClickHouseDestinationConfiguration":{"Addrs":["ch:9000"],"S3Configuration":{"BucketARN":"arn:aws:s3:::failed-rows"}}}`,
		codeValidation, "1 validation error detected: Value null at "+path+"table' failed to satisfy constraint: Member must not be null")
	f("nothing", `{"DeliveryStreamName":"k","HydrantClickHouseDestinationConfiguration":{}}`, codeValidation,
		"3 validation errors detected: Value null at "+path+"addrs' failed to satisfy constraint: Member must not be null; "+
			"Value null at "+path+"table' failed to satisfy constraint: Member must not be null; "+
			"Value null at "+path+"s3Configuration' failed to satisfy constraint: Member must not be null")
	f("no bucket", `{"DeliveryStreamName":"k","HydrantClickHouseDestinationConfiguration":{"Addrs":["ch:9000"],"Table":"t","S3Configuration":{}}}`,
		codeValidation, "Value null at "+path+"s3Configuration.bucketARN' failed to satisfy constraint: Member must not be null")
	f("empty Addrs", clickHouseCreate("k", `"Addrs":[]`), codeValidation,
		"Value at "+path+"addrs' failed to satisfy constraint: Member must have length greater than or equal to 1")
	f("empty Table", clickHouseCreate("k", `"Table":""`), codeValidation,
		"Value '' at "+path+"table' failed to satisfy constraint: Member must have length greater than or equal to 1")
	f("compression", clickHouseCreate("k", `"Compression":"gzip"`), codeValidation,
		"Value 'gzip' at "+path+"compression' failed to satisfy constraint: Member must satisfy enum value set: [none, lz4, zstd]")
	f("unknown fields", clickHouseCreate("k", `"UnknownFields":"drop"`), codeValidation,
		"Value 'drop' at "+path+"unknownFields' failed to satisfy constraint: Member must satisfy enum value set: [ignore, reject]")
	f("backup mode", clickHouseCreate("k", `"S3BackupMode":"Enabled"`), codeValidation,
		"Value 'Enabled' at "+path+"s3BackupMode' failed to satisfy constraint: Member must satisfy enum value set: [FailedDataOnly, AllData]")
	f("buffer size", clickHouseCreate("k", `"BufferingHints":{"SizeInMBs":129}`), codeValidation,
		"Value '129' at "+path+"bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 128")
	f("password not a string", clickHouseCreate("k", `"Password":5`), codeSerialization,
		"Member "+dest+".Password cannot be a JSON number.")
	// The sink's checks come back in the API's terms.
	f("HTTP address", clickHouseCreate("k", `"Addrs":["http://ch:8123"]`), codeInvalidArgument,
		dest+`: invalid address "http://ch:8123": want host:port of the native protocol`)
	f("column type", clickHouseCreate("k", `"Columns":[{"Name":"a","Type":"Varchar"}]`), codeInvalidArgument, dest+`: column "a": `)
	f("column twice", clickHouseCreate("k", `"Columns":[{"Name":"a"},{"Name":"a"}]`), codeInvalidArgument, dest+`: column "a" is listed twice`)
	f("engine without CreateTable", clickHouseCreate("k", `"Engine":"Log"`), codeInvalidArgument,
		dest+": an engine is set but CreateTable is off")
	f("bucket name", clickHouseCreate("k", `"S3Configuration":{"BucketARN":"arn:aws:s3:::x"}`), codeInvalidArgument,
		dest+`.S3Configuration.BucketARN: "x" is not a valid bucket name`)
	f("ClickHouse and HTTP", `{"DeliveryStreamName":"k","HydrantClickHouseDestinationConfiguration":{"Addrs":["ch:9000"],"Table":"t",
		"S3Configuration":{"BucketARN":"arn:aws:s3:::failed-rows"}},"HttpEndpointDestinationConfiguration":{"EndpointConfiguration":{"Url":"https://example.com"},
		"S3Configuration":{"BucketARN":"arn:aws:s3:::failed-rows","RoleARN":"`+s3Role+`"}}}`,
		codeInvalidArgument, "Specify only one of HttpEndpointDestinationConfiguration and HydrantClickHouseDestinationConfiguration")
	if _, err := h.fake.Describe("k"); err == nil {
		t.Errorf("a refused create left stream k behind")
	}

	h.callOK("CreateDeliveryStream", clickHouseCreate("ch", ""))
	u := func(name, members, code, msg string) {
		t.Helper()
		status, b := h.call("UpdateDestination", `{"DeliveryStreamName":"ch","CurrentDeliveryStreamVersionId":"1",
			"DestinationId":"`+destinationID+`","HydrantClickHouseDestinationUpdate":{`+members+`}}`)
		if e := decodeError(b); status != 400 || e.Type != code || !strings.Contains(e.Message, msg) {
			t.Errorf("UpdateDestination(%s) = %d %s: %q; want %s: %q", name, status, e.Type, e.Message, code, msg)
		}
	}
	u("empty Table", `"Table":""`, codeValidation, "Value '' at 'hydrantClickHouseDestinationUpdate.table' failed to satisfy constraint")
	u("empty Addrs", `"Addrs":[]`, codeValidation, "Value at 'hydrantClickHouseDestinationUpdate.addrs' failed to satisfy constraint")
	u("address", `"Addrs":["ch"]`, codeInvalidArgument, `HydrantClickHouseDestinationUpdate: invalid address "ch"`)
	u("S3 prefix", `"S3Update":{"ErrorOutputPrefix":"!{nope}/"}`, codeInvalidArgument, "HydrantClickHouseDestinationUpdate.S3Update.ErrorOutputPrefix: ")
	h.wantDestination("ch", delivery.Destination{Bucket: "failed-rows", Buffering: delivery.BufferingHints{SizeMB: 5, IntervalSeconds: 300},
		Compression: "UNCOMPRESSED", Backup: delivery.Backup{Mode: delivery.BackupFailedDataOnly},
		ClickHouse: delivery.ClickHouseConfig{Addrs: []string{"127.0.0.1:9000"}, Table: "events"}})
}
