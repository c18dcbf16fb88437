package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// rawResponse is a Firehose API answer read without the SDK.
type rawResponse struct {
	status  int
	errType string // __type, without a namespace ("…#") or suffix (":…")
	message string
	body    string
}

// rawCall POSTs body to the Firehose API with X-Amz-Target target (none
// if empty), unsigned, as the AWS JSON 1.1 protocol frames it.
func rawCall(t *testing.T, endpoint, target string, body io.Reader) rawResponse {
	t.Helper()
	r, err := rawDo(endpoint, target, body)
	if err != nil {
		t.Fatalf("POST %s (X-Amz-Target %q): %v", endpoint, target, err)
	}
	return r
}

func rawDo(endpoint, target string, body io.Reader) (rawResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", body)
	if err != nil {
		return rawResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return rawResponse{}, fmt.Errorf("reading the response: %w", err)
	}
	r := rawResponse{status: resp.StatusCode, body: string(b)}
	var e struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	if json.Unmarshal(b, &e) == nil {
		r.errType = e.Type
		if i := strings.LastIndexByte(r.errType, '#'); i >= 0 {
			r.errType = r.errType[i+1:]
		}
		if i := strings.IndexByte(r.errType, ':'); i >= 0 {
			r.errType = r.errType[:i]
		}
		r.message = e.Message + e.Message2
	}
	if xt := resp.Header.Get("X-Amzn-Errortype"); r.errType == "" && xt != "" {
		r.errType = strings.SplitN(xt, ":", 2)[0]
	}
	return r, nil
}

const target = "Firehose_20150804."

// TestBadInput sends invalid requests, through the SDK and raw HTTP, and
// checks each gets the error type the Firehose API defines, and that the
// server keeps serving.
func TestBadInput(t *testing.T) {
	needServer(t)
	srv := startServer(t, "")
	ep := srv.Endpoint()
	c := newClient(ep)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const stream = "bad-input"
	base := listAll(t, c, 0) // the embedded defaults may declare streams
	createS3Stream(t, c, stream, "bad-input", "", 1, 0, types.CompressionFormatUncompressed)
	l := newLedger()

	put := func(data []byte) error {
		_, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String(stream), Record: &types.Record{Data: data}})
		return err
	}
	batch := func(name string, n, size int) error {
		recs := make([]types.Record, n)
		for i := range recs {
			recs[i] = types.Record{Data: line(size)}
		}
		_, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(name), Records: recs})
		return err
	}
	create := func(name string, mod func(*types.ExtendedS3DestinationConfiguration)) error {
		d := &types.ExtendedS3DestinationConfiguration{
			BucketARN: aws.String("arn:aws:s3:::bad-input-2"),
			RoleARN:   aws.String("arn:aws:iam::123456789012:role/firehose-test"),
		}
		if mod != nil {
			mod(d)
		}
		_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName: aws.String(name), DeliveryStreamType: types.DeliveryStreamTypeDirectPut,
			ExtendedS3DestinationConfiguration: d,
		})
		return err
	}

	// Limits, with the largest valid size next to the smallest invalid one.
	// The error types are the ones AWS answers with: the record size and
	// the record count are constraints of the API model
	// (ValidationException: "Value … at 'records.1.member.data' failed to
	// satisfy constraint: Member must have length less than or equal to
	// 1024000"); the 4 MiB total is a service check (InvalidArgumentException:
	// "Records size exceeds 4 MB limit").
	t.Run("limits", func(t *testing.T) {
		if err := put(line(1_024_000)); err != nil {
			t.Errorf("PutRecord of 1,024,000 bytes (the limit): %v", err)
		}
		wantCode(t, "PutRecord of 1,024,001 bytes", put(line(1_024_001)), "ValidationException")
		wantCode(t, "PutRecordBatch with a 1,024,001-byte record", batch(stream, 1, 1_024_001), "ValidationException")
		if err := batch(stream, 500, 10); err != nil {
			t.Errorf("PutRecordBatch of 500 records (the limit): %v", err)
		}
		wantCode(t, "PutRecordBatch of 501 records", batch(stream, 501, 10), "ValidationException")
		// 4 × 1,024,000 bytes is under 4 MiB (4,194,304), 5 × 1,000,000 over.
		if err := batch(stream, 4, 1_024_000); err != nil {
			t.Errorf("PutRecordBatch of 4 × 1,024,000 bytes (under 4 MiB): %v", err)
		}
		wantCode(t, "PutRecordBatch of 5 × 1,000,000 bytes (over 4 MiB)", batch(stream, 5, 1_000_000), "InvalidArgumentException")
		wantCode(t, "PutRecordBatch of 0 records", batch(stream, 0, 0), "ValidationException")
	})

	t.Run("names", func(t *testing.T) {
		for _, name := range []string{"bad name!", strings.Repeat("a", 65), "slash/name", "ünïcode"} {
			wantCode(t, fmt.Sprintf("CreateDeliveryStream(%q)", name), create(name, nil), "ValidationException")
			wantCode(t, fmt.Sprintf("PutRecordBatch(%q)", name), batch(name, 1, 10), "ValidationException")
		}
		if err := create(strings.Repeat("a", 64), nil); err != nil {
			t.Errorf("CreateDeliveryStream with a 64-character name (the limit): %v", err)
		}
	})

	t.Run("unknown stream", func(t *testing.T) {
		const nope = "no-such-stream"
		wantCode(t, "PutRecord to an unknown stream", func() error {
			_, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String(nope), Record: &types.Record{Data: []byte("x\n")}})
			return err
		}(), "ResourceNotFoundException")
		wantCode(t, "PutRecordBatch to an unknown stream", batch(nope, 1, 10), "ResourceNotFoundException")
		_, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(nope)})
		wantCode(t, "DescribeDeliveryStream of an unknown stream", err, "ResourceNotFoundException")
		_, err = c.DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String(nope)})
		wantCode(t, "DeleteDeliveryStream of an unknown stream", err, "ResourceNotFoundException")
		_, err = c.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
			DeliveryStreamName: aws.String(nope), CurrentDeliveryStreamVersionId: aws.String("1"),
			DestinationId: aws.String("destinationId-000000000001"), ExtendedS3DestinationUpdate: &types.ExtendedS3DestinationUpdate{Prefix: aws.String("x/")},
		})
		wantCode(t, "UpdateDestination of an unknown stream", err, "ResourceNotFoundException")
	})

	t.Run("create", func(t *testing.T) {
		wantCode(t, "CreateDeliveryStream of an existing name", create(stream, nil), "ResourceInUseException")
		type dest = types.ExtendedS3DestinationConfiguration
		bad := []struct {
			what, want string
			mod        func(*dest)
		}{
			{"SizeInMBs 0", "ValidationException", func(d *dest) {
				d.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(0), IntervalInSeconds: aws.Int32(60)}
			}},
			{"SizeInMBs 129", "ValidationException", func(d *dest) {
				d.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(129), IntervalInSeconds: aws.Int32(60)}
			}},
			{"IntervalInSeconds 901", "ValidationException", func(d *dest) {
				d.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(5), IntervalInSeconds: aws.Int32(901)}
			}},
			{"IntervalInSeconds -1", "ValidationException", func(d *dest) {
				d.BufferingHints = &types.BufferingHints{SizeInMBs: aws.Int32(5), IntervalInSeconds: aws.Int32(-1)}
			}},
			{"CompressionFormat LZMA", "ValidationException", func(d *dest) { d.CompressionFormat = "LZMA" }},
			{"BucketARN not an ARN", "ValidationException", func(d *dest) { d.BucketARN = aws.String("my-bucket") }},
			// The ARN matches the model's pattern; the bucket name is
			// what S3 (and the embedded store) cannot use.
			{"bucket name with upper case", "InvalidArgumentException", func(d *dest) { d.BucketARN = aws.String("arn:aws:s3:::My_Bucket") }},
		}
		for i, b := range bad {
			wantCode(t, "CreateDeliveryStream with "+b.what, create(fmt.Sprintf("bad-create-%d", i), b.mod), b.want)
		}
		if got := listAll(t, c, 0); len(got) != len(base)+2 {
			t.Errorf("ListDeliveryStreams after the invalid creates = %v; want %v and the two valid streams", got, base)
		}
	})

	// The protocol layer, below what the SDK lets a caller get wrong.
	t.Run("raw", func(t *testing.T) {
		cases := []struct {
			what, target string
			body         io.Reader
			want         string
		}{
			{"malformed JSON", target + "PutRecord", strings.NewReader(`{"DeliveryStreamName": "bad-input", "Record": {"Data": `), "SerializationException"},
			{"JSON array body", target + "PutRecord", strings.NewReader(`[1, 2, 3]`), "SerializationException"},
			{"wrong member type", target + "PutRecord", strings.NewReader(`{"DeliveryStreamName": 42, "Record": {"Data": "eAo="}}`), "SerializationException"},
			{"bad base64", target + "PutRecord", strings.NewReader(`{"DeliveryStreamName": "bad-input", "Record": {"Data": "!!not base64!!"}}`), "SerializationException"},
			{"bad base64 in a batch", target + "PutRecordBatch", strings.NewReader(`{"DeliveryStreamName": "bad-input", "Records": [{"Data": "eAo="}, {"Data": "%%%"}]}`), "SerializationException"},
			{"missing Record", target + "PutRecord", strings.NewReader(`{"DeliveryStreamName": "bad-input"}`), "ValidationException"},
			{"unknown operation", target + "Frobnicate", strings.NewReader(`{}`), "UnknownOperationException"},
			{"another service's target", "Kinesis_20131202.PutRecord", strings.NewReader(`{}`), "UnknownOperationException"},
			{"no X-Amz-Target", "", strings.NewReader(`{}`), "UnknownOperationException"},
		}
		for _, tc := range cases {
			r := rawCall(t, ep, tc.target, tc.body)
			if r.errType != tc.want || r.status < 400 || r.status >= 500 {
				t.Errorf("%s: HTTP %d, __type %q; want HTTP 4xx, __type %s (body %.200s)", tc.what, r.status, r.errType, tc.want, r.body)
			} else if r.message == "" {
				t.Errorf("%s: __type %s without a message", tc.what, r.errType)
			}
		}

		// An oversize body: far past any valid request (a 4 MiB batch is
		// about 5.6 MB in base64). The server must refuse it without
		// reading it all, and answer with a Firehose error.
		huge := io.MultiReader(strings.NewReader(`{"DeliveryStreamName": "bad-input", "Records": [{"Data": "`),
			&repeatReader{b: 'A', n: 64 << 20}, strings.NewReader(`"}]}`))
		r, err := rawDo(ep, target+"PutRecordBatch", huge)
		if err != nil {
			t.Errorf("64 MiB request body: %v; want an HTTP 4xx (413) answer with a Firehose error __type", err)
		} else if r.status < 400 || r.status >= 500 || r.errType == "" {
			t.Errorf("64 MiB request body: HTTP %d, __type %q; want HTTP 4xx (413) with a Firehose error __type (body %.200s)", r.status, r.errType, r.body)
		} else {
			t.Logf("64 MiB request body: HTTP %d, __type %s: %s", r.status, r.errType, r.message)
		}
	})

	// Still serving, and nothing the bad requests carried was stored.
	if !srv.Alive() {
		t.Fatal("the server exited after bad input")
	}
	resp, err := http.Get(ep + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz after bad input: %v %v", resp, err)
	}
	resp.Body.Close()
	good := genRecords("bad-input-good", 100, 100)
	putAll(t, c, stream, good, 100, 1, l)
	if err := putRecord(ctx, c, stream, "bad-input-single\n", l); err != nil {
		t.Fatalf("PutRecord after bad input: %v", err)
	}
	srv.WaitBacklogZero(stream, 30*time.Second)
	objs := readBucket(t, srv.dataDir, "bad-input")
	for _, r := range good {
		if objs.counts[r] != 1 {
			t.Errorf("record %q put after the bad input delivered %d times; want 1", shorten(r), objs.counts[r])
			break
		}
	}
	if objs.counts["bad-input-single\n"] != 1 {
		t.Errorf("PutRecord after the bad input delivered %d times; want 1", objs.counts["bad-input-single\n"])
	}
	// The valid puts of the limits subtest: 1 + 500 + 4 records.
	if n, want := srv.MetricValue("hydrant_incoming_records_total", stream), float64(505+101); n != want {
		t.Errorf("hydrant_incoming_records_total = %v; want %v (the invalid requests must store nothing)", n, want)
	}
}

// line returns a record of n bytes ending in '\n', so that the records
// after it in an object still split apart.
func line(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	b := bytes.Repeat([]byte{'x'}, n)
	b[n-1] = '\n'
	return b
}

// repeatReader yields n copies of b.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}
