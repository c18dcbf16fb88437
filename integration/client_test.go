package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
)

// newClient returns a Firehose client for endpoint, with the static
// credentials a loopback development server accepts unchecked.
//
// The SDK never retries (NopRetryer): a retried put whose first attempt was
// stored would be a legitimate duplicate the tests could not tell from a
// server bug, so every test decides itself what to send again.
func newClient(endpoint string) *firehose.Client {
	return firehose.New(firehose.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
		Retryer:      aws.NopRetryer{},
	})
}

// at points one call at endpoint; producers use it across restarts, when
// the server comes back on another port.
func at(endpoint string) func(*firehose.Options) {
	return func(o *firehose.Options) { o.BaseEndpoint = aws.String(endpoint) }
}

// apiCode returns the error code of an API error response, or "" if err is
// not one (a transport error, a timeout).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// definitelyNotStored reports whether a failed call is known to have
// stored nothing: the server answered with a client error, or said it is
// unavailable. Without an answer, or with an internal error, the records
// may or may not have been stored.
func definitelyNotStored(err error) bool {
	if apiCode(err) == "" {
		return false
	}
	if apiCode(err) == "ServiceUnavailableException" {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode() < 500
	}
	return false
}

// wantCode fails the test unless err is an API error with the given code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded; want %s", what, code)
		return
	}
	if got := apiCode(err); got != code {
		t.Errorf("%s: error %q (%v); want %s", what, got, err, code)
	}
}

// makeRecord returns a unique record of exactly size bytes (size ≥ len(id)+1):
// id, then padding, then '\n'.
func makeRecord(id string, size int) string {
	if size < len(id)+1 {
		panic("record too small")
	}
	return id + strings.Repeat(".", size-len(id)-1) + "\n"
}

func toRecords(recs []string) []types.Record {
	out := make([]types.Record, len(recs))
	for i, r := range recs {
		out[i] = types.Record{Data: []byte(r)}
	}
	return out
}

// batchResult is the outcome of one PutRecordBatch call.
type batchResult struct {
	acked   []string
	refused []string       // per-record errors: not stored, may be sent again
	codes   map[string]int // per-record ErrorCode → count
	err     error          // the call's error, if it failed as a whole
}

// putBatch sends recs with PutRecordBatch and enters each record's outcome
// in l (which may be nil). A record named in a successful response with a
// RecordId is acknowledged; one with an ErrorCode is refused; if the call
// failed as a whole, every record is refused when the server's answer says
// nothing was stored, and uncertain otherwise. A response that breaks the
// protocol (misaligned RequestResponses, a wrong FailedPutCount) fails t.
func putBatch(ctx context.Context, t *testing.T, c *firehose.Client, stream string, recs []string, l *ledger, opts ...func(*firehose.Options)) batchResult {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{
		DeliveryStreamName: aws.String(stream),
		Records:            toRecords(recs),
	}, opts...)
	res := batchResult{codes: map[string]int{}, err: err}
	if err != nil {
		if definitelyNotStored(err) {
			res.refused = recs
			if l != nil {
				l.refuse(recs...)
			}
		} else if l != nil {
			l.uncertainly(recs...)
		}
		return res
	}
	if len(out.RequestResponses) != len(recs) {
		t.Errorf("PutRecordBatch(%d records) answered %d RequestResponses; want one per record", len(recs), len(out.RequestResponses))
		if l != nil {
			l.uncertainly(recs...)
		}
		return res
	}
	failed := 0
	for i, rr := range out.RequestResponses {
		switch {
		case rr.ErrorCode != nil:
			failed++
			res.codes[*rr.ErrorCode]++
			res.refused = append(res.refused, recs[i])
			if rr.RecordId != nil && *rr.RecordId != "" {
				t.Errorf("PutRecordBatch entry %d has both ErrorCode %q and RecordId %q", i, *rr.ErrorCode, *rr.RecordId)
			}
			if rr.ErrorMessage == nil || *rr.ErrorMessage == "" {
				t.Errorf("PutRecordBatch entry %d has ErrorCode %q but no ErrorMessage", i, *rr.ErrorCode)
			}
		case rr.RecordId != nil && *rr.RecordId != "":
			res.acked = append(res.acked, recs[i])
		default:
			t.Errorf("PutRecordBatch entry %d has neither RecordId nor ErrorCode", i)
			if l != nil {
				l.uncertainly(recs[i])
			}
		}
	}
	if out.FailedPutCount == nil || int(*out.FailedPutCount) != failed {
		t.Errorf("PutRecordBatch FailedPutCount = %v; %d entries carry an ErrorCode", fmtPtr(out.FailedPutCount), failed)
	}
	if l != nil {
		l.ack(res.acked...)
		l.refuse(res.refused...)
	}
	return res
}

// putRecord sends one record with PutRecord and enters its outcome in l.
func putRecord(ctx context.Context, c *firehose.Client, stream, rec string, l *ledger, opts ...func(*firehose.Options)) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := c.PutRecord(ctx, &firehose.PutRecordInput{
		DeliveryStreamName: aws.String(stream),
		Record:             &types.Record{Data: []byte(rec)},
	}, opts...)
	switch {
	case err == nil && (out.RecordId == nil || *out.RecordId == ""):
		err = errors.New("PutRecord succeeded without a RecordId")
		l.uncertainly(rec)
	case err == nil:
		l.ack(rec)
	case definitelyNotStored(err):
		l.refuse(rec)
	default:
		l.uncertainly(rec)
	}
	return err
}

// putAll sends every record, in batches of batchSize over `workers`
// goroutines, sending refused records again until each is acknowledged.
// It fails t if a record ends up neither acknowledged nor refused (there
// is no reason for that against a server that stays up) or if a record is
// still refused after many attempts.
func putAll(t *testing.T, c *firehose.Client, stream string, recs []string, batchSize, workers int, l *ledger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	batches := make(chan []string)
	errc := make(chan error, workers)
	for range workers {
		go func() {
			var err error
			for b := range batches {
				if err != nil {
					continue // drain
				}
				for attempt := 1; len(b) > 0; attempt++ {
					if attempt > 50 {
						err = fmt.Errorf("%d records still refused after 50 attempts", len(b))
						break
					}
					res := putBatch(ctx, t, c, stream, b, l)
					if res.err != nil && !definitelyNotStored(res.err) {
						err = fmt.Errorf("PutRecordBatch: %w", res.err)
						break
					}
					b = res.refused
					if len(b) > 0 {
						time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
					}
				}
			}
			errc <- err
		}()
	}
	for i := 0; i < len(recs); i += batchSize {
		batches <- recs[i:min(i+batchSize, len(recs))]
	}
	close(batches)
	failed := false
	for range workers {
		if err := <-errc; err != nil {
			t.Errorf("putting %d records into %q: %v", len(recs), stream, err)
			failed = true
		}
	}
	if failed {
		t.FailNow()
	}
}

// genRecords returns n records id-prefix-%07d padded to size bytes.
func genRecords(prefix string, n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = makeRecord(fmt.Sprintf("%s-%07d-", prefix, i), size)
	}
	return out
}

// createS3Stream creates a DirectPut stream with an ExtendedS3 destination
// and waits until it is ACTIVE.
func createS3Stream(t *testing.T, c *firehose.Client, name, bucket, prefix string, sizeMB, intervalS int32, compression types.CompressionFormat) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(name),
		DeliveryStreamType: types.DeliveryStreamTypeDirectPut,
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			BucketARN:         aws.String("arn:aws:s3:::" + bucket),
			RoleARN:           aws.String("arn:aws:iam::123456789012:role/firehose-test"),
			Prefix:            aws.String(prefix),
			ErrorOutputPrefix: aws.String("errors/"),
			BufferingHints: &types.BufferingHints{
				SizeInMBs:         aws.Int32(sizeMB),
				IntervalInSeconds: aws.Int32(intervalS),
			},
			CompressionFormat: compression,
		},
	})
	if err != nil {
		t.Fatalf("CreateDeliveryStream(%q): %v", name, err)
	}
	if out.DeliveryStreamARN == nil || !strings.HasSuffix(*out.DeliveryStreamARN, ":deliverystream/"+name) {
		t.Errorf("CreateDeliveryStream(%q) DeliveryStreamARN = %s; want arn:…:deliverystream/%s", name, fmtPtr(out.DeliveryStreamARN), name)
	}
	waitStatus(t, c, name, types.DeliveryStreamStatusActive, 30*time.Second)
	return aws.ToString(out.DeliveryStreamARN)
}

// describe returns a stream's description, failing t on error.
func describe(t *testing.T, c *firehose.Client, name string) *types.DeliveryStreamDescription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeDeliveryStream(%q): %v", name, err)
	}
	if out.DeliveryStreamDescription == nil {
		t.Fatalf("DescribeDeliveryStream(%q) has no DeliveryStreamDescription", name)
	}
	return out.DeliveryStreamDescription
}

// waitStatus polls DescribeDeliveryStream until the stream has the status.
func waitStatus(t *testing.T, c *firehose.Client, name string, status types.DeliveryStreamStatus, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := describe(t, c, name)
		if d.DeliveryStreamStatus == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %q: status %s after %v; want %s", name, d.DeliveryStreamStatus, timeout, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitGone polls DescribeDeliveryStream until it answers
// ResourceNotFoundException; every other answer must be DELETING.
func waitGone(t *testing.T, c *firehose.Client, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
		cancel()
		if apiCode(err) == "ResourceNotFoundException" {
			return
		}
		if err != nil {
			t.Fatalf("DescribeDeliveryStream(%q) while deleting: %v; want DELETING or ResourceNotFoundException", name, err)
		}
		if st := out.DeliveryStreamDescription.DeliveryStreamStatus; st != types.DeliveryStreamStatusDeleting {
			t.Fatalf("stream %q: status %s after DeleteDeliveryStream; want DELETING until it is gone", name, st)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %q still DELETING %v after DeleteDeliveryStream; want it drained and gone", name, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func deleteStream(t *testing.T, c *firehose.Client, name string, force bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String(name)}
	if force {
		in.AllowForceDelete = aws.Bool(true)
	}
	if _, err := c.DeleteDeliveryStream(ctx, in); err != nil {
		t.Fatalf("DeleteDeliveryStream(%q, force=%v): %v", name, force, err)
	}
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}
