package s3

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The happy path runs against a real MinIO in integration/s3_test.go; these
// tests cover the error paths with an httptest server answering as S3 does.

// fakeS3 answers S3 requests by a handler and records each one as
// "METHOD path?query-keys".
type fakeS3 struct {
	mu       sync.Mutex
	reqs     []string
	headers  []http.Header // of each request in reqs
	lastBody []byte
}

func (f *fakeS3) record(r *http.Request) {
	keys := make([]string, 0, len(r.URL.Query()))
	for k := range r.URL.Query() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	q := ""
	if len(keys) > 0 {
		q = "?" + strings.Join(keys, "&")
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.Path+q)
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
}

func (f *fakeS3) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

// newFake starts a fake S3 server and a store configured for it.
func newFake(t *testing.T, cfg Config, h func(f *fakeS3, w http.ResponseWriter, r *http.Request)) (*Store, *fakeS3) {
	t.Helper()
	return newFakeServer(t, cfg, false, h)
}

// newFakeServer starts a fake S3 server, serving https with tls, and a
// store configured for it, trusting its certificate through CAFile.
func newFakeServer(t *testing.T, cfg Config, tls bool, h func(f *fakeS3, w http.ResponseWriter, r *http.Request)) (*Store, *fakeS3) {
	t.Helper()
	f := &fakeS3{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.lastBody = body
		f.mu.Unlock()
		h(f, w, r)
	}))
	if tls {
		srv.StartTLS()
		cfg.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		writePEM(t, cfg.CAFile, srv.Certificate().Raw)
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	cfg.Endpoint = srv.URL
	cfg.AccessKeyID, cfg.SecretAccessKey = "AKID", "secret"
	cfg.ForcePathStyle = true
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return s, f
}

func TestMissingBucket(t *testing.T) {
	s, _ := newFake(t, Config{}, func(_ *fakeS3, w http.ResponseWriter, _ *http.Request) {
		s3Error(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	})
	err := s.PutObject(context.Background(), "events", "a/b.gz", strings.NewReader("hello\n"), 6)
	want := `cannot put s3://events/a/b.gz: bucket "events" does not exist at ` + s.Endpoint() + `: create it, or set object_store.s3.create_buckets: true`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("PutObject into a missing bucket = %v; want %s: …", err, want)
	}
}

func TestCreateBuckets(t *testing.T) {
	var created bool
	s, f := newFake(t, Config{CreateBuckets: true}, func(f *fakeS3, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/events/":
			created = true
		case r.Method == http.MethodPut && !created:
			s3Error(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		}
	})
	// A body whose object starts at offset 5.
	body := strings.NewReader("junk:hello\n")
	body.Seek(5, io.SeekStart)
	if err := s.PutObject(context.Background(), "events", "k", body, 6); err != nil {
		t.Fatalf("PutObject with create_buckets = %v; want success", err)
	}
	// The body goes raw or in signed chunks, but holds the object only.
	if b := string(f.lastBody); !strings.Contains(b, "hello\n") || strings.Contains(b, "junk") {
		t.Errorf("the put after creating the bucket sent %q; want the object, hello\\n", b)
	}
	want := []string{"PUT /events/k", "PUT /events/", "PUT /events/k"}
	if got := f.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests = %q; want %q", got, want)
	}
}

func TestPutErrors(t *testing.T) {
	s, _ := newFake(t, Config{}, func(_ *fakeS3, w http.ResponseWriter, _ *http.Request) {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied.")
	})
	err := s.PutObject(context.Background(), "events", "k", strings.NewReader("hello\n"), 6)
	if err == nil || !strings.HasPrefix(err.Error(), "cannot put s3://events/k: ") || !strings.Contains(err.Error(), "Access Denied") {
		t.Errorf("PutObject = %v; want cannot put s3://events/k: …Access Denied…", err)
	}
	// A body shorter than announced.
	err = s.PutObject(context.Background(), "events", "k", strings.NewReader("hello\n"), 60)
	if err == nil || !strings.HasPrefix(err.Error(), "cannot put s3://events/k: ") {
		t.Errorf("PutObject(short body) = %v; want an error", err)
	}
}

// TestMultipartAbort checks that a multipart upload whose part fails is
// aborted before PutObject returns, and that the object goes up in parts
// of the configured size.
func TestMultipartAbort(t *testing.T) {
	var partSizes []int64
	s, f := newFake(t, Config{PartSize: MinPartSize}, func(_ *fakeS3, w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>b-1</Bucket><Key>k</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>`)
		case r.Method == http.MethodPut && q.Get("partNumber") == "1":
			partSizes = append(partSizes, r.ContentLength)
			w.Header().Set("ETag", `"etag1"`)
		case r.Method == http.MethodPut && q.Get("partNumber") == "2":
			partSizes = append(partSizes, r.ContentLength)
			s3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied.")
		case r.Method == http.MethodDelete && q.Get("uploadId") == "up-1":
			w.WriteHeader(http.StatusNoContent)
		default:
			s3Error(w, http.StatusBadRequest, "InvalidRequest", "unexpected "+r.Method+" "+r.URL.String())
		}
	})
	body := bytes.Repeat([]byte("x"), 2*MinPartSize+1)
	err := s.PutObject(context.Background(), "b-1", "k", bytes.NewReader(body), int64(len(body)))
	if err == nil || !strings.HasPrefix(err.Error(), "cannot put s3://b-1/k: ") {
		t.Fatalf("PutObject = %v; want cannot put s3://b-1/k: …", err)
	}
	got := f.requests()
	want := []string{"POST /b-1/k?uploads", "PUT /b-1/k?partNumber&uploadId", "PUT /b-1/k?partNumber&uploadId", "DELETE /b-1/k?uploadId"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests = %q; want %q (the failed upload aborted)", got, want)
	}
	// Streaming signatures add chunk headers to each part's length.
	for i, n := range partSizes {
		if n < MinPartSize || n > MinPartSize+64<<10 {
			t.Errorf("part %d has Content-Length %d; want about %d", i+1, n, MinPartSize)
		}
	}
}

func TestNew(t *testing.T) {
	for _, env := range []string{EnvAccessKeyID, EnvSecretAccessKey, EnvSessionToken, EnvRegion} {
		t.Setenv(env, "")
	}
	tests := []struct {
		cfg  Config
		env  map[string]string
		want string // error, or the region
	}{
		{Config{Endpoint: "http://127.0.0.1:9000", AccessKeyID: "a", SecretAccessKey: "s"}, nil, "region us-east-1"},
		{Config{Endpoint: "https://s3.amazonaws.com", Region: "eu-west-1", AccessKeyID: "a", SecretAccessKey: "s"}, nil, "region eu-west-1"},
		{Config{Endpoint: "http://127.0.0.1:9000"}, map[string]string{EnvAccessKeyID: "a", EnvSecretAccessKey: "s", EnvRegion: "ap-south-1"}, "region ap-south-1"},
		{Config{Endpoint: "http://127.0.0.1:9000"}, nil,
			"no s3 credentials for 127.0.0.1:9000: set access_key_id and secret_access_key (or secret_access_key_env) under object_store.s3, or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{Config{Endpoint: "http://127.0.0.1:9000", AccessKeyID: "a"}, nil,
			"s3 credentials are incomplete: set both the access key ID and the secret access key, or neither to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{Config{Endpoint: "127.0.0.1:9000", AccessKeyID: "a", SecretAccessKey: "s"}, nil,
			`invalid s3 endpoint "127.0.0.1:9000": want http://host[:port] or https://host[:port]`},
		{Config{Endpoint: "ftp://h", AccessKeyID: "a", SecretAccessKey: "s"}, nil,
			`invalid s3 endpoint "ftp://h": want http://host[:port] or https://host[:port]`},
		{Config{Endpoint: "http://h:9000/bucket", AccessKeyID: "a", SecretAccessKey: "s"}, nil,
			`invalid s3 endpoint "http://h:9000/bucket": an S3 endpoint has no path, query or credentials: buckets are named by each destination`},
		{Config{Endpoint: "http://h", AccessKeyID: "a", SecretAccessKey: "s", PartSize: 1 << 20}, nil,
			"s3 part size 1048576 is out of range: use 5 MiB to 5 GiB"},
	}
	for _, tt := range tests {
		for k, v := range tt.env {
			t.Setenv(k, v)
		}
		s, err := New(tt.cfg, nil)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = "region " + s.Region()
		}
		if got != tt.want {
			t.Errorf("New(%v) with env %v = %q; want %q", tt.cfg, tt.env, got, tt.want)
		}
		for k := range tt.env {
			t.Setenv(k, "")
		}
	}
}

func TestConfigStringHidesSecret(t *testing.T) {
	c := Config{AccessKeyID: "AKID", SecretAccessKey: "hush", SSE: SSEConfig{Type: SSEC, CustomerKey: "c2VjcmV0LWtleQ=="}}
	s := fmt.Sprintf("%v %+v %v %+v", c, struct{ S Config }{c}, c.SSE, struct{ S SSEConfig }{c.SSE})
	if strings.Contains(s, "hush") || strings.Contains(s, "c2VjcmV0LWtleQ") {
		t.Errorf("printing a Config shows a secret: %s", s)
	}
}

// TestNewSecurity checks what New refuses in the encryption and TLS
// options: SSE-C and TLS options without https, and CA files that cannot
// be used.
func TestNewSecurity(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	writePEM(t, ca, srv.Certificate().Raw)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		cfg  Config
		want string // "" for success
	}{
		{Config{Endpoint: "https://s3.example.com", SSE: SSEConfig{Type: SSEC, CustomerKey: key}}, ""},
		{Config{Endpoint: "http://127.0.0.1:9000", SSE: SSEConfig{Type: SSEKMS, KMSKeyID: "k"}}, ""},
		{Config{Endpoint: "https://127.0.0.1:9000", CAFile: ca}, ""},
		{Config{Endpoint: "https://127.0.0.1:9000", InsecureSkipVerify: true}, ""},
		{Config{Endpoint: "http://127.0.0.1:9000", SSE: SSEConfig{Type: SSEC, CustomerKey: key}},
			"s3 encryption: SSE-C needs an https:// endpoint, not http://127.0.0.1:9000: S3 and MinIO refuse customer keys over plain HTTP, which would send the key in the clear"},
		{Config{Endpoint: "http://127.0.0.1:9000", SSE: SSEConfig{Type: "KMS"}},
			`s3 encryption: unknown type "KMS": use SSE-S3, SSE-KMS or SSE-C, or none for the bucket's default encryption`},
		{Config{Endpoint: "http://127.0.0.1:9000", CAFile: ca},
			"an s3 CA file is set but the endpoint http://127.0.0.1:9000 is not https://: use https://, or remove the CA file"},
		{Config{Endpoint: "http://127.0.0.1:9000", InsecureSkipVerify: true},
			"s3 TLS verification is turned off but the endpoint http://127.0.0.1:9000 is not https://: use https://, or turn verification back on"},
		{Config{Endpoint: "https://127.0.0.1:9000", CAFile: filepath.Join(dir, "missing.pem")},
			"cannot read the s3 CA file: open " + filepath.Join(dir, "missing.pem") + ": no such file or directory"},
		{Config{Endpoint: "https://127.0.0.1:9000", CAFile: notPEM},
			"the s3 CA file " + notPEM + " holds no PEM certificate: want one or more -----BEGIN CERTIFICATE----- blocks"},
	}
	for _, tt := range tests {
		tt.cfg.AccessKeyID, tt.cfg.SecretAccessKey = "a", "s"
		got := ""
		if _, err := New(tt.cfg, nil); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("New(%v) = %q; want %q", tt.cfg, got, tt.want)
		}
	}
}

// writePEM writes a certificate, DER, to path as PEM.
func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
