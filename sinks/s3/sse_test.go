package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestSSEValidate(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	const hint = "32 random bytes, base64-encoded, such as the output of `openssl rand -base64 32`"
	tests := []struct {
		c    SSEConfig
		want string // "" for valid
	}{
		{SSEConfig{}, ""},
		{SSEConfig{Type: SSES3}, ""},
		{SSEConfig{Type: SSEKMS}, ""},
		{SSEConfig{Type: SSEKMS, KMSKeyID: "arn:aws:kms:eu-west-1:111122223333:key/abc", KMSContext: map[string]string{"stream": "events"}}, ""},
		{SSEConfig{Type: SSEC, CustomerKey: key}, ""},
		{SSEConfig{Type: SSEC, CustomerKey: " " + key + "\n"}, ""},
		{SSEConfig{Type: "AES256"}, `s3 encryption: unknown type "AES256": use SSE-S3, SSE-KMS or SSE-C, or none for the bucket's default encryption`},
		{SSEConfig{Type: "sse-kms"}, `s3 encryption: unknown type "sse-kms": use SSE-S3, SSE-KMS or SSE-C, or none for the bucket's default encryption`},
		{SSEConfig{KMSKeyID: "k"}, "s3 encryption: a KMS key ID is set but the type is none: set the type to SSE-KMS, or remove the key ID"},
		{SSEConfig{Type: SSES3, KMSKeyID: "k"}, "s3 encryption: a KMS key ID is set but the type is SSE-S3: set the type to SSE-KMS, or remove the key ID"},
		{SSEConfig{Type: SSEC, CustomerKey: key, KMSKeyID: "k"}, "s3 encryption: a KMS key ID is set but the type is SSE-C: set the type to SSE-KMS, or remove the key ID"},
		{SSEConfig{Type: SSES3, KMSContext: map[string]string{"a": "b"}}, "s3 encryption: a KMS encryption context is set but the type is SSE-S3: set the type to SSE-KMS, or remove the context"},
		{SSEConfig{Type: SSEKMS, CustomerKey: key}, "s3 encryption: a customer key is set but the type is SSE-KMS: set the type to SSE-C, or remove the key"},
		{SSEConfig{CustomerKey: key}, "s3 encryption: a customer key is set but the type is none: set the type to SSE-C, or remove the key"},
		{SSEConfig{Type: SSEC}, "s3 encryption: SSE-C needs a customer key: " + hint},
		{SSEConfig{Type: SSEC, CustomerKey: "not base64!"}, "s3 encryption: the SSE-C customer key is not valid base64: want " + hint},
		{SSEConfig{Type: SSEC, CustomerKey: base64.StdEncoding.EncodeToString(make([]byte, 16))},
			"s3 encryption: the SSE-C customer key decodes to 16 bytes; want 32 (a 256-bit AES key), such as the output of `openssl rand -base64 32`"},
		{SSEConfig{Type: SSEC, CustomerKey: strings.Repeat("k", 32)},
			"s3 encryption: the SSE-C customer key decodes to 24 bytes; want 32 (a 256-bit AES key), such as the output of `openssl rand -base64 32`"},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.c.Validate(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%v.Validate() = %q; want %q", tt.c, got, tt.want)
		}
		if tt.c.CustomerKey != "" && strings.Contains(got, strings.TrimSpace(tt.c.CustomerKey)) {
			t.Errorf("%v.Validate() = %q shows the customer key", tt.c, got)
		}
	}
}

// TestSSEHeaders checks that every put sends the encryption asked for,
// over https to a server trusted through CAFile: with the PUT of a small
// object and with the creation of a multipart upload, and, for SSE-C,
// with each part and the completion too, since S3 wants the key on every
// request of the upload.
func TestSSEHeaders(t *testing.T) {
	rawKey := bytes.Repeat([]byte{7}, 32)
	keyMD5 := md5.Sum(rawKey)
	key := base64.StdEncoding.EncodeToString(rawKey)
	ssec := map[string]string{
		"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
		"X-Amz-Server-Side-Encryption-Customer-Key":       key,
		"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   base64.StdEncoding.EncodeToString(keyMD5[:]),
	}
	tests := []struct {
		sse  SSEConfig
		want map[string]string // the encryption headers of a PUT or an upload's creation
	}{
		{SSEConfig{}, map[string]string{}},
		{SSEConfig{Type: SSES3}, map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}},
		{SSEConfig{Type: SSEKMS}, map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"}},
		{SSEConfig{Type: SSEKMS, KMSKeyID: "key-1", KMSContext: map[string]string{"stream": "events"}}, map[string]string{
			"X-Amz-Server-Side-Encryption":                "aws:kms",
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "key-1",
			"X-Amz-Server-Side-Encryption-Context":        base64.StdEncoding.EncodeToString([]byte(`{"stream":"events"}`)),
		}},
		{SSEConfig{Type: SSEC, CustomerKey: key}, ssec},
	}
	// sseHeaders returns the encryption headers of h.
	sseHeaders := func(h http.Header) map[string]string {
		m := make(map[string]string)
		for k := range h {
			if strings.HasPrefix(k, "X-Amz-Server-Side-Encryption") {
				m[k] = h.Get(k)
			}
		}
		return m
	}
	for _, tt := range tests {
		s, f := newFakeServer(t, Config{PartSize: MinPartSize, SSE: tt.sse}, true, func(_ *fakeS3, w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			switch {
			case r.Method == http.MethodPost && q.Has("uploads"):
				fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>b-1</Bucket><Key>big</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>`)
			case r.Method == http.MethodPost && q.Has("uploadId"):
				fmt.Fprint(w, `<CompleteMultipartUploadResult><Bucket>b-1</Bucket><Key>big</Key><ETag>"etag-2"</ETag></CompleteMultipartUploadResult>`)
			case r.Method == http.MethodGet && q.Has("uploads"):
				fmt.Fprint(w, `<ListMultipartUploadsResult><Bucket>b-1</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`)
			case r.Method == http.MethodPut:
				w.Header().Set("ETag", `"etag"`)
			default:
				s3Error(w, http.StatusBadRequest, "InvalidRequest", "unexpected "+r.Method+" "+r.URL.String())
			}
		})
		ctx := context.Background()
		if err := s.PutObject(ctx, "b-1", "small", strings.NewReader("hello\n"), 6); err != nil {
			t.Fatalf("SSE %v: PutObject(small) = %v", tt.sse, err)
		}
		big := bytes.Repeat([]byte("x"), MinPartSize+1)
		if err := s.PutObject(ctx, "b-1", "big", bytes.NewReader(big), int64(len(big))); err != nil {
			t.Fatalf("SSE %v: PutObject(big) = %v", tt.sse, err)
		}
		reqs := f.requests()
		want := []string{"PUT /b-1/small", "POST /b-1/big?uploads", "PUT /b-1/big?partNumber&uploadId", "PUT /b-1/big?partNumber&uploadId", "POST /b-1/big?uploadId", "GET /b-1/?delimiter&encoding-type&prefix&uploads"}
		if fmt.Sprint(reqs) != fmt.Sprint(want) {
			t.Fatalf("SSE %v: requests = %q; want %q", tt.sse, reqs, want)
		}
		f.mu.Lock()
		headers := f.headers
		f.mu.Unlock()
		for i, r := range reqs[:5] {
			got := sseHeaders(headers[i])
			switch {
			case i < 2 || tt.sse.Type == SSEC:
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("SSE %v: %s has encryption headers %v; want %v", tt.sse, r, got, tt.want)
				}
			case got["X-Amz-Server-Side-Encryption-Customer-Key"] != "":
				t.Errorf("SSE %v: %s sends a customer key", tt.sse, r)
			}
		}
	}
}
