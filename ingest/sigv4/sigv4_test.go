package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/smithy-go"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func testVerifier(opts ...Option) *Verifier {
	opts = append([]Option{WithClock(func() time.Time { return testNow })}, opts...)
	return NewVerifier(map[string]string{testKeyID: testSecret, "AKIDOTHER": "other-secret"}, opts...)
}

// result is what the test server reports back about one verification.
type result struct {
	KeyID   string `json:"keyId"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// newServer starts a server that verifies every request with v and answers
// the result, so that requests go through net/http's real server-side
// parsing (Host moved out of Header, Content-Length, …).
func newServer(t *testing.T, v *Verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		var res result
		id, err := v.Verify(r, body)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) {
				t.Errorf("Verify returned %T %v; want *Error", err, err)
				return
			}
			res.Code, res.Message = ve.Code, ve.Message
		}
		res.KeyID = id
		_ = json.NewEncoder(w).Encode(res)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	defer resp.Body.Close()
	var res result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return res
}

// signed returns a request to url signed by the SDK signer. mutate runs
// before signing.
func signed(t *testing.T, url, keyID, secret string, body []byte, at time.Time, mutate func(*http.Request)) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Firehose_20150804.ListDeliveryStreams")
	if mutate != nil {
		mutate(req)
	}
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "firehose", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestVerifyAcceptsSDKSignatures(t *testing.T) {
	srv := newServer(t, testVerifier(WithService("firehose")))
	f := func(name, path string, body []byte, at time.Time, mutate func(*http.Request)) {
		t.Run(name, func(t *testing.T) {
			req := signed(t, srv.URL+path, testKeyID, testSecret, body, at, mutate)
			if res := send(t, req); res.Code != "" || res.KeyID != testKeyID {
				t.Errorf("Verify = %q, %s: %s; want %q, nil", res.KeyID, res.Code, res.Message, testKeyID)
			}
		})
	}
	f("json body", "/", []byte(`{"Limit":10}`), testNow, nil)
	f("empty body", "/", nil, testNow, nil)
	f("path and query", "/a%20b/c?z=1&a=2&a=1", []byte(`{}`), testNow, nil)
	f("multi-valued header", "/", []byte(`{}`), testNow, func(r *http.Request) {
		r.Header.Add("X-Amz-Meta-Tag", "a")
		r.Header.Add("X-Amz-Meta-Tag", "b  c")
	})
	f("14 min behind", "/", []byte(`{}`), testNow.Add(-14*time.Minute), nil)
	f("14 min ahead", "/", []byte(`{}`), testNow.Add(14*time.Minute), nil)
	t.Run("unsigned header added later", func(t *testing.T) {
		req := signed(t, srv.URL, testKeyID, testSecret, []byte(`{}`), testNow, nil)
		req.Header.Set("X-Added-By-Proxy", "1")
		if res := send(t, req); res.Code != "" {
			t.Errorf("Verify = %s: %s; want nil", res.Code, res.Message)
		}
	})
}

func TestVerifyRejects(t *testing.T) {
	srv := newServer(t, testVerifier(WithService("firehose")))
	body := []byte(`{"DeliveryStreamName":"s"}`)
	f := func(name string, req *http.Request, wantCode, wantMsg string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			res := send(t, req)
			if res.Code != wantCode || !strings.Contains(res.Message, wantMsg) {
				t.Errorf("Verify = %s: %q; want %s: %q", res.Code, res.Message, wantCode, wantMsg)
			}
			if res.KeyID != "" {
				t.Errorf("Verify returned key %q with an error", res.KeyID)
			}
			if strings.Contains(res.Message, testSecret) || strings.Contains(res.Message, "other-secret") {
				t.Errorf("message %q holds a secret", res.Message)
			}
		})
	}
	sign := func(keyID, secret string, at time.Time, mutate func(*http.Request)) *http.Request {
		return signed(t, srv.URL, keyID, secret, body, at, mutate)
	}

	f("wrong secret", sign(testKeyID, "not-the-secret", testNow, nil), CodeInvalidSignature, MismatchMessage)
	f("other key's secret", sign("AKIDOTHER", testSecret, testNow, nil), CodeInvalidSignature, MismatchMessage)
	f("unknown key", sign("AKIDUNKNOWN", testSecret, testNow, nil), CodeUnrecognizedClient, "The security token included in the request is invalid.")

	req := sign(testKeyID, testSecret, testNow, nil)
	req.Body = io.NopCloser(bytes.NewReader([]byte(`{"DeliveryStreamName":"t"}`)))
	f("tampered body", req, CodeInvalidSignature, MismatchMessage)

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Set("X-Amz-Target", "Firehose_20150804.DeleteDeliveryStream")
	f("tampered signed header", req, CodeInvalidSignature, MismatchMessage)

	req = sign(testKeyID, testSecret, testNow, nil)
	req.URL.RawQuery = "x=1"
	f("tampered query", req, CodeInvalidSignature, MismatchMessage)

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Method = http.MethodPut
	f("tampered method", req, CodeInvalidSignature, MismatchMessage)

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Del("X-Amz-Target")
	f("signed header removed", req, CodeInvalidSignature, MismatchMessage)

	f("expired", sign(testKeyID, testSecret, testNow.Add(-16*time.Minute), nil), CodeInvalidSignature,
		"Signature expired: 20250314T145326Z is now earlier than 20250314T145426Z (20250314T150926Z - 15 min.)")
	f("from the future", sign(testKeyID, testSecret, testNow.Add(16*time.Minute), nil), CodeInvalidSignature,
		"Signature not yet current: 20250314T152526Z is still later than 20250314T152426Z (20250314T150926Z + 15 min.)")
	f("expired with wrong secret", sign(testKeyID, "nope", testNow.Add(-time.Hour), nil), CodeInvalidSignature, "Signature expired")

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Del("Authorization")
	f("no authorization", req, CodeMissingAuthenticationToken, "Missing Authentication Token")

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Set("Authorization", "Bearer abc")
	f("other scheme", req, CodeMissingAuthenticationToken, "Missing Authentication Token")

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250314/us-east-1/firehose/aws4_request")
	f("no signature", req, CodeIncompleteSignature, "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.")

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Del("X-Amz-Date")
	f("no date", req, CodeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Set("X-Amz-Date", "2025-03-14T15:09:26Z")
	f("malformed date", req, CodeIncompleteSignature, "X-Amz-Date must be in the ISO-8601 basic format")

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Set("X-Amz-Date", "20250315T000000Z")
	f("scope date differs", req, CodeInvalidSignature,
		"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20250314' != '20250315', from '20250315T000000Z'.")

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/firehose/", "/kinesis/", 1))
	f("other service", req, CodeInvalidSignature, "Credential should be scoped to correct service: 'firehose'.")

	req = sign(testKeyID, testSecret, testNow, func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "token") })
	f("session token", req, CodeUnrecognizedClient, "The security token included in the request is invalid.")

	req = sign(testKeyID, testSecret, testNow, nil)
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=user-agent;", 1))
	f("signed header the SDK never signs", req, CodeInvalidSignature, MismatchMessage)
}

func TestPrecheck(t *testing.T) {
	v := testVerifier()
	body := []byte(`{}`)
	req := signed(t, "http://example.com/", testKeyID, testSecret, body, testNow, nil)
	if err := v.Precheck(req); err != nil {
		t.Errorf("Precheck(signed) = %v", err)
	}
	// Precheck cannot see the body: the signature is Verify's.
	req = signed(t, "http://example.com/", testKeyID, "wrong", body, testNow, nil)
	if err := v.Precheck(req); err != nil {
		t.Errorf("Precheck(wrong secret) = %v; want nil", err)
	}
	f := func(name string, req *http.Request, code string) {
		t.Helper()
		var ve *Error
		if err := v.Precheck(req); !errors.As(err, &ve) || ve.Code != code {
			t.Errorf("Precheck(%s) = %v; want %s", name, err, code)
		}
	}
	req = signed(t, "http://example.com/", testKeyID, testSecret, body, testNow, nil)
	req.Header.Del("Authorization")
	f("unsigned", req, CodeMissingAuthenticationToken)
	f("unknown key", signed(t, "http://example.com/", "AKIDNOPE", testSecret, body, testNow, nil), CodeUnrecognizedClient)
	f("expired", signed(t, "http://example.com/", testKeyID, testSecret, body, testNow.Add(-time.Hour), nil), CodeInvalidSignature)
}

func TestVerifyRegion(t *testing.T) {
	srv := newServer(t, testVerifier(WithRegion("eu-west-1")))
	res := send(t, signed(t, srv.URL, testKeyID, testSecret, nil, testNow, nil))
	if res.Code != CodeInvalidSignature || res.Message != "Credential should be scoped to a valid region, not 'us-east-1'." {
		t.Errorf("Verify = %s: %q; want region error", res.Code, res.Message)
	}
}

func TestVerifyDoesNotModifyRequest(t *testing.T) {
	body := []byte(`{}`)
	req := signed(t, "http://example.com/", testKeyID, testSecret, body, testNow, nil)
	before := req.Header.Clone()
	if _, err := testVerifier().Verify(req, body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for k, v := range before {
		if got := req.Header[k]; strings.Join(got, "\x00") != strings.Join(v, "\x00") {
			t.Errorf("header %s = %q after Verify; want %q", k, got, v)
		}
	}
}

// TestVerifyFirehoseClient signs with the real Firehose client, so the
// headers it adds (amz-sdk-invocation-id, content-length, …) are covered.
func TestVerifyFirehoseClient(t *testing.T) {
	v := NewVerifier(map[string]string{testKeyID: testSecret}, WithService("firehose"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if _, err := v.Verify(r, body); err != nil {
			var ve *Error
			errors.As(err, &ve)
			w.Header().Set("X-Amzn-ErrorType", ve.Code)
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": ve.Code, "message": ve.Message})
			return
		}
		_, _ = w.Write([]byte(`{"DeliveryStreamNames":[],"HasMoreDeliveryStreams":false}`))
	}))
	defer srv.Close()

	client := func(keyID, secret string) *firehose.Client {
		return firehose.New(firehose.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(srv.URL),
			Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
			Retryer:      aws.NopRetryer{},
		})
	}
	f := func(keyID, secret, wantCode string) {
		t.Helper()
		_, err := client(keyID, secret).ListDeliveryStreams(context.Background(), &firehose.ListDeliveryStreamsInput{})
		if wantCode == "" {
			if err != nil {
				t.Errorf("ListDeliveryStreams as %s: %v; want success", keyID, err)
			}
			return
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != wantCode {
			t.Errorf("ListDeliveryStreams as %s: %v; want %s", keyID, err, wantCode)
		}
	}
	f(testKeyID, testSecret, "")
	f(testKeyID, "wrong", CodeInvalidSignature)
	f("AKIDNOPE", testSecret, CodeUnrecognizedClient)
}

func TestParseAuthorization(t *testing.T) {
	f := func(h, wantCode string) {
		t.Helper()
		a, err := parseAuthorization(h)
		code := ""
		if err != nil {
			code = err.Code
		}
		if code != wantCode {
			t.Errorf("parseAuthorization(%q) = %+v, %v; want code %q", h, a, err, wantCode)
		}
	}
	ok := "AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
	f(ok, "")
	f(strings.ReplaceAll(ok, ", ", ","), "")
	f(strings.ReplaceAll(ok, ", ", " , "), "")
	f("", CodeMissingAuthenticationToken)
	f("AWS4-HMAC-SHA256X Credential=a", CodeMissingAuthenticationToken)
	f("AWS AKID:sig", CodeMissingAuthenticationToken)
	f("AWS4-HMAC-SHA256", CodeIncompleteSignature)
	f("AWS4-HMAC-SHA256 garbage", CodeIncompleteSignature)
	f(strings.Replace(ok, "aws4_request", "aws5_request", 1), CodeIncompleteSignature)
	f(strings.Replace(ok, "/20250314/", "/2025-03-14/", 1), CodeIncompleteSignature)
	f(strings.Replace(ok, "AKID/", "/", 1), CodeIncompleteSignature)
	f(strings.Replace(ok, "/us-east-1/", "/", 1), CodeIncompleteSignature)
	f(strings.Replace(ok, "host;", "", 1), CodeIncompleteSignature)
	f(strings.Replace(ok, "host;", "host;;", 1), CodeIncompleteSignature)
	f(strings.Replace(ok, "Signature=abc", "Signature=", 1), CodeIncompleteSignature)
	f(ok+", Signature=def", CodeIncompleteSignature)

	a, _ := parseAuthorization(ok)
	want := authorization{AccessKeyID: "AKID", Date: "20250314", Region: "us-east-1", Service: "firehose",
		SignedHeaders: "host;x-amz-date", Signature: "abc"}
	if a != want {
		t.Errorf("parseAuthorization(%q) = %+v; want %+v", ok, a, want)
	}
}
