package firehoseapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/delivery"
)

// FuzzDecodeRequest sends arbitrary targets and bodies through the whole
// handler: it must never panic, never fail internally, and always answer
// 200 with JSON or an error in the {"__type", "message"} shape. The seed
// corpus is in testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	f.Add("Firehose_20150804.PutRecordBatch", []byte(`{"DeliveryStreamName":"s","Records":[{"Data":"aGVsbG8="},{"Data":""}]}`))
	f.Add("Firehose_20150804.PutRecord", []byte(`{"DeliveryStreamName":"s","Record":{"Data":"aGVsbG8="}}`))
	f.Add("Firehose_20150804.CreateDeliveryStream", []byte(`{"DeliveryStreamName":"t","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::bucket","RoleARN":"arn:aws:iam::123456789012:role/r"}}`))
	f.Add("Firehose_20150804.UpdateDestination", []byte(`{"DeliveryStreamName":"s","CurrentDeliveryStreamVersionId":"1","DestinationId":"destinationId-000000000001","ExtendedS3DestinationUpdate":{"Prefix":"p/"}}`))
	f.Add("Firehose_20150804.StartDeliveryStreamEncryption", []byte(`{"DeliveryStreamName":"s","DeliveryStreamEncryptionConfigurationInput":{"KeyType":"AWS_OWNED_CMK"}}`))
	f.Add("Firehose_20150804.StopDeliveryStreamEncryption", []byte(`{"DeliveryStreamName":"s"}`))
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := func() time.Time { return testNow }
	f.Fuzz(func(t *testing.T, target string, body []byte) {
		fake := newFakeStreams(now)
		cfg := delivery.StreamConfig{Name: "s", Destination: delivery.Destination{Bucket: "bucket"}}
		cfg.ApplyDefaults()
		fake.add(cfg, delivery.SourceAPI)
		api := New(fake, Options{Logger: discard, Now: now})

		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.RemoteAddr = "127.0.0.1:5555"
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)

		e := checkShape(t, target, rec.Code, rec.Header(), rec.Body.Bytes())
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s %q: status %d %+v", target, body, rec.Code, e)
		}
		if e.Type == codeInternalFailure {
			t.Fatalf("%s %q: internal failure", target, body)
		}
		if rec.Code == http.StatusOK && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: invalid JSON answer %q", target, body, rec.Body.Bytes())
		}
	})
}
