package firehoseapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

func newAuthHarness(t *testing.T) *harness {
	h := newHarness(t, func(o *Options) { o.AccessKeys = map[string]string{testKeyID: testSecret} })
	h.setNow(time.Now()) // the SDK signs with the real clock
	h.client = h.newClient(testKeyID, testSecret)
	return h
}

func TestSigV4(t *testing.T) {
	h := newAuthHarness(t)
	if got := h.api.AuthMode(); got != AuthSigV4 {
		t.Errorf("AuthMode() = %q; want %q", got, AuthSigV4)
	}
	h.create("s", s3Config("bucket"))
	out, err := h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("s"),
		Records: []types.Record{{Data: []byte("a")}, {Data: []byte("b")}}})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("signed PutRecordBatch = %+v, %v", out, err)
	}

	list := func(c *firehose.Client) error {
		_, err := c.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
		return err
	}
	wantAPIError(t, "ListDeliveryStreams(wrong secret)", list(h.newClient(testKeyID, "wrong")), "InvalidSignatureException",
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	wantAPIError(t, "ListDeliveryStreams(unknown key)", list(h.newClient("AKIDUNKNOWN", testSecret)), "UnrecognizedClientException",
		"The security token included in the request is invalid.")

	// The server's clock is 20 minutes ahead of the client's.
	h.setNow(time.Now().Add(20 * time.Minute))
	err = list(h.client)
	wantAPIError(t, "ListDeliveryStreams(skewed clock)", err, "InvalidSignatureException", "Signature expired: ")
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error %v holds the secret", err)
	}
}

// TestSigV4Raw checks the HTTP statuses of authentication errors, and that
// a signed request is served from any address.
func TestSigV4Raw(t *testing.T) {
	h := newAuthHarness(t)
	h.create("s", s3Config("bucket"))
	body := []byte(`{"DeliveryStreamName":"s","Record":{"Data":"eA=="}}`)
	newReq := func(sign bool, secret string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "http://hydrant.example:4573/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecord")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.RemoteAddr = "192.0.2.7:5555" // not loopback: keys make that fine
		if sign {
			sum := sha256.Sum256(body)
			err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: secret},
				req, hex.EncodeToString(sum[:]), "firehose", "us-east-1", h.now())
			if err != nil {
				t.Fatal(err)
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		return req
	}
	f := func(name string, req *http.Request, wantStatus int, wantType string) {
		t.Helper()
		rec := serveInProcess(h.api, req)
		e := checkShape(t, name, rec.Code, rec.Header(), rec.Body.Bytes())
		if rec.Code != wantStatus || e.Type != wantType {
			t.Errorf("%s: %d %+v; want %d %s", name, rec.Code, e, wantStatus, wantType)
		}
		if strings.Contains(rec.Body.String(), testSecret) {
			t.Errorf("%s: answer holds the secret", name)
		}
	}
	f("signed", newReq(true, testSecret), 200, "")
	f("unsigned", newReq(false, ""), 403, "MissingAuthenticationTokenException")
	f("wrong secret", newReq(true, "wrong"), 400, "InvalidSignatureException")
	req := newReq(true, testSecret)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE")
	f("incomplete", req, 400, "IncompleteSignatureException")
	req = newReq(true, testSecret)
	req.Body = io.NopCloser(strings.NewReader(`{"DeliveryStreamName":"s","Record":{"Data":"eQ=="}}`))
	f("tampered body", req, 400, "InvalidSignatureException")
	if got := len(h.fake.records("s")); got != 1 {
		t.Errorf("stored %d records; want only the signed one", got)
	}
}

// TestSigV4BodyNotReadWhenUnsigned checks that a request that cannot be
// valid is refused before its body is read.
func TestSigV4BodyNotReadWhenUnsigned(t *testing.T) {
	h := newAuthHarness(t)
	body := &countingReader{r: zeros{}}
	req := httptest.NewRequest(http.MethodPost, "/", body)
	req.ContentLength = MaxBodyBytes
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
	rec := serveInProcess(h.api, req)
	if rec.Code != http.StatusForbidden || body.n != 0 {
		t.Errorf("unsigned 8 MiB request: %d after reading %d bytes; want 403 without reading", rec.Code, body.n)
	}
}
