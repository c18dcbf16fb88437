package main

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestStreamsList(t *testing.T) {
	f := newFakeFirehose(t)
	all := []string{"a", "b", "c", "d", "e"}
	f.ops["ListDeliveryStreams"] = func(body []byte) (int, any) {
		var req struct{ ExclusiveStartDeliveryStreamName string }
		json.Unmarshal(body, &req)
		i := 0
		for i < len(all) && all[i] <= req.ExclusiveStartDeliveryStreamName {
			i++
		}
		page := all[i:min(i+2, len(all))] // a server that pages by two
		return http.StatusOK, map[string]any{"DeliveryStreamNames": page, "HasMoreDeliveryStreams": i+2 < len(all)}
	}
	out, _, err := runCLI(t, nil, "streams", "list", "--endpoint", f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\nb\nc\nd\ne\n"; out != want {
		t.Errorf("streams list printed %q; want %q", out, want)
	}
	if n := len(f.requestsOf("ListDeliveryStreams")); n != 3 {
		t.Errorf("streams list made %d requests; want 3", n)
	}

	out, _, err = runCLI(t, nil, "streams", "list", "-o", "json", "--endpoint", f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ DeliveryStreamNames []string }
	if err := json.Unmarshal([]byte(out), &got); err != nil || !reflect.DeepEqual(got.DeliveryStreamNames, all) {
		t.Errorf("streams list -o json printed %q (%v); want the names %v", out, err, all)
	}
}

func TestStreamsCreate(t *testing.T) {
	f := newFakeFirehose(t)
	f.ops["CreateDeliveryStream"] = func([]byte) (int, any) {
		return http.StatusOK, map[string]string{"DeliveryStreamARN": "arn:aws:firehose:us-east-1:000000000000:deliverystream/s"}
	}
	dst := func(extra map[string]any) map[string]any {
		d := map[string]any{"BucketARN": "arn:aws:s3:::b", "RoleARN": placeholderRoleARN}
		for k, v := range extra {
			d[k] = v
		}
		return map[string]any{"DeliveryStreamName": "s", "DeliveryStreamType": "DirectPut", "ExtendedS3DestinationConfiguration": d}
	}
	tests := []struct {
		args []string
		want map[string]any
	}{
		{[]string{"--bucket", "b"}, dst(nil)},
		{[]string{"--bucket", "b", "--buffer-interval", "0"}, dst(map[string]any{
			"BufferingHints": map[string]any{"IntervalInSeconds": 0.0},
		})},
		{[]string{"--bucket", "b", "--prefix", "p/", "--error-prefix", "e/", "--buffer-size", "64", "--buffer-interval", "60", "--compression", "gzip"},
			dst(map[string]any{
				"Prefix":            "p/",
				"ErrorOutputPrefix": "e/",
				"BufferingHints":    map[string]any{"SizeInMBs": 64.0, "IntervalInSeconds": 60.0},
				"CompressionFormat": "GZIP",
			})},
	}
	for i, tt := range tests {
		args := append([]string{"streams", "create", "s", "--endpoint", f.srv.URL}, tt.args...)
		out, _, err := runCLI(t, nil, args...)
		if err != nil {
			t.Errorf("hydrant %s: %v", strings.Join(tt.args, " "), err)
			continue
		}
		if want := "created delivery stream s (arn:aws:firehose:us-east-1:000000000000:deliverystream/s)\n"; out != want {
			t.Errorf("hydrant %s printed %q; want %q", strings.Join(tt.args, " "), out, want)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(f.requestsOf("CreateDeliveryStream")[i]), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("hydrant %s sent %v; want %v", strings.Join(tt.args, " "), got, tt.want)
		}
	}

	_, _, err := runCLI(t, nil, "streams", "create", "s", "--endpoint", f.srv.URL, "--bucket", "b", "--compression", "brotli")
	if err == nil || !strings.Contains(err.Error(), `invalid --compression "brotli": want one of UNCOMPRESSED, GZIP`) {
		t.Errorf("create --compression brotli: %v; want an invalid --compression error", err)
	}
	_, _, err = runCLI(t, nil, "streams", "create", "s", "--endpoint", f.srv.URL)
	if err == nil || !strings.Contains(err.Error(), `"bucket" not set`) {
		t.Errorf("create without --bucket: %v; want a required flag error", err)
	}
	if n := len(f.requestsOf("CreateDeliveryStream")); n != len(tests) {
		t.Errorf("%d create requests sent; want %d", n, len(tests))
	}
}

const describeResponse = `{"DeliveryStreamDescription":{
  "DeliveryStreamName":"clicks",
  "DeliveryStreamARN":"arn:aws:firehose:us-east-1:000000000000:deliverystream/clicks",
  "DeliveryStreamStatus":"ACTIVE","DeliveryStreamType":"DirectPut","VersionId":"3",
  "CreateTimestamp":1767225600,
  "Destinations":[{"DestinationId":"destinationId-000000000001","ExtendedS3DestinationDescription":{
    "BucketARN":"arn:aws:s3:::events","RoleARN":"arn:aws:iam::000000000000:role/hydrant",
    "Prefix":"clicks/","ErrorOutputPrefix":"",
    "BufferingHints":{"SizeInMBs":5,"IntervalInSeconds":300},"CompressionFormat":"GZIP",
    "EncryptionConfiguration":{"NoEncryptionConfig":"NoEncryption"}}}],
  "HasMoreDestinations":false}}`

func TestStreamsDescribe(t *testing.T) {
	f := newFakeFirehose(t)
	f.ops["DescribeDeliveryStream"] = func([]byte) (int, any) {
		return http.StatusOK, json.RawMessage(describeResponse)
	}
	out, _, err := runCLI(t, nil, "streams", "describe", "clicks", "--endpoint", f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1767225600, 0).Local().Format("2006-01-02 15:04:05 MST")
	for _, want := range [][2]string{
		{"Name", "clicks"},
		{"Status", "ACTIVE"},
		{"Version", "3"},
		{"Created", created},
		{"Destination", "S3 bucket events"},
		{"  Prefix", "clicks/"},
		{"  Error prefix", "(none)"},
		{"  Buffering", "5 MiB or 300 s, whichever comes first"},
		{"  Compression", "GZIP"},
	} {
		line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want[0]) + `: +` + regexp.QuoteMeta(want[1]) + `$`)
		if !line.MatchString(out) {
			t.Errorf("streams describe printed\n%s\nwithout the line %s: %s", out, want[0], want[1])
		}
	}

	out, _, err = runCLI(t, nil, "streams", "describe", "clicks", "-o", "json", "--endpoint", f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		DeliveryStreamDescription struct {
			DeliveryStreamStatus string
			CreateTimestamp      time.Time
			Destinations         []struct {
				ExtendedS3DestinationDescription struct{ Prefix string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("describe -o json printed %q: %v", out, err)
	}
	d := got.DeliveryStreamDescription
	if d.DeliveryStreamStatus != "ACTIVE" || !d.CreateTimestamp.Equal(time.Unix(1767225600, 0)) ||
		len(d.Destinations) != 1 || d.Destinations[0].ExtendedS3DestinationDescription.Prefix != "clicks/" {
		t.Errorf("describe -o json printed %s; want the description", out)
	}
	if strings.Contains(out, "null") || strings.Contains(out, `""`) {
		t.Errorf("describe -o json printed absent members:\n%s", out)
	}
}

func TestStreamsDelete(t *testing.T) {
	f := newFakeFirehose(t)
	f.ops["DeleteDeliveryStream"] = func([]byte) (int, any) { return http.StatusOK, struct{}{} }
	for _, args := range [][]string{{"s"}, {"s", "--force"}} {
		out, _, err := runCLI(t, nil, append([]string{"streams", "delete", "--endpoint", f.srv.URL}, args...)...)
		if err != nil || out != "deleted delivery stream s\n" {
			t.Errorf("streams delete %v: %q, %v", args, out, err)
		}
	}
	want := []string{`{"DeliveryStreamName":"s"}`, `{"AllowForceDelete":true,"DeliveryStreamName":"s"}`}
	for i, body := range f.requestsOf("DeleteDeliveryStream") {
		var got, w map[string]any
		json.Unmarshal([]byte(body), &got)
		json.Unmarshal([]byte(want[i]), &w)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("delete request %d: %s; want %s", i, body, want[i])
		}
	}
}

func TestPruneJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":null,"b":"","c":{"d":null},"e":[null,"",{"f":null}],"g":0,"h":false,"i":{"j":"k"}}`,
			`{"e":[null,"",{}],"g":0,"h":false,"i":{"j":"k"}}`},
		{`{"a":null}`, ``},
		{`[]`, `[]`},
	}
	for _, tt := range tests {
		got, err := pruneJSON([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("pruneJSON(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}
