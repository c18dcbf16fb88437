package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/hydrantio/hydrant/delivery/compress"
)

// MinIO's root credentials in the tests.
const (
	minioUser     = "hydrant-test"
	minioPassword = "hydrant-test-secret"
)

// minioServer is a real MinIO server on a loopback port with its data in
// a temp dir. Stop and Start restart it on the same port and data, so a
// Hydrant configured with its endpoint reaches it again.
type minioServer struct {
	t       *testing.T
	bin     string
	dir     string
	addr    string // S3 API, host:port
	console string // console, host:port (MinIO insists on one)

	opts minioOptions
	// With TLS: the harness's HTTP client, trusting opts.caPEM, and the
	// file holding it, for a store's CAFile.
	http   *http.Client
	caFile string

	mu     sync.Mutex
	proc   *process
	runs   int
	logs   []*syncBuffer
	client *minio.Client // made by the first Client
}

// minioOptions are how startMinioWith departs from startMinio's MinIO.
type minioOptions struct {
	// env is added to MinIO's environment, as KEY=value.
	env []string
	// certPEM and keyPEM, when set, become MinIO's public.crt and
	// private.key, so that it serves https only; caPEM is the CA that
	// signed certPEM, which the harness's clients trust.
	certPEM, keyPEM, caPEM []byte
}

// minioBin returns the MinIO binary that `make test` builds and names in
// HYDRANT_MINIO. Without it the test fails: it must never pass silently
// inside `make test` by skipping.
func minioBin(t *testing.T) string {
	t.Helper()
	needServer(t)
	bin := os.Getenv("HYDRANT_MINIO")
	if bin == "" {
		t.Fatal("HYDRANT_MINIO is not set: run `make test`, which builds MinIO into .tools/ and sets it " +
			"(or set HYDRANT_MINIO to a minio binary; `go test -short` skips the integration tests)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("HYDRANT_MINIO=%s: %v; run `make minio` to build it", bin, err)
	}
	return bin
}

// startMinio starts MinIO on free loopback ports and a new temp dir,
// serving plain HTTP. On cleanup it is killed and, if the test failed, its
// logs are dumped.
func startMinio(t *testing.T) *minioServer {
	t.Helper()
	return startMinioWith(t, minioOptions{})
}

// startMinioWith starts MinIO as startMinio does, with extra environment
// and, given a certificate, TLS.
func startMinioWith(t *testing.T, opts minioOptions) *minioServer {
	t.Helper()
	m := &minioServer{t: t, bin: minioBin(t), dir: t.TempDir(), addr: freeAddr(t), console: freeAddr(t), opts: opts, http: httpClient}
	if opts.certPEM != nil {
		certs := filepath.Join(m.dir, "certs")
		m.caFile = filepath.Join(m.dir, "ca.pem")
		for name, data := range map[string][]byte{filepath.Join(certs, "public.crt"): opts.certPEM, filepath.Join(certs, "private.key"): opts.keyPEM, m.caFile: opts.caPEM} {
			if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		m.http = &http.Client{Timeout: httpClient.Timeout, Transport: &http.Transport{TLSClientConfig: m.tlsConfig()}}
	}
	t.Cleanup(func() {
		m.mu.Lock()
		p := m.proc
		m.mu.Unlock()
		if p != nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			for i, l := range m.logs {
				t.Logf("---- minio run %d output ----\n%s", i+1, l)
			}
		}
	})
	// freeAddr's ports are free when chosen, not when MinIO binds them:
	// another test's server may take one in between. A first start that
	// finds a port taken tries new ones.
	for attempt := 1; ; attempt++ {
		err := m.start()
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(strings.ToLower(err.Error()), "already in use") {
			t.Fatal(err)
		}
		t.Logf("minio: a port was taken; trying new ports")
		m.mu.Lock()
		m.proc = nil
		m.mu.Unlock()
		m.addr, m.console = freeAddr(t), freeAddr(t)
	}
	return m
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Endpoint returns the S3 API's URL: https:// with TLS, else http://.
func (m *minioServer) Endpoint() string {
	if m.opts.certPEM != nil {
		return "https://" + m.addr
	}
	return "http://" + m.addr
}

// CAFile returns the file holding the CA of MinIO's certificate, for a
// store's CAFile; "" without TLS.
func (m *minioServer) CAFile() string { return m.caFile }

// tlsConfig trusts MinIO's CA only.
func (m *minioServer) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.opts.caPEM) {
		m.t.Fatal("minioOptions.caPEM holds no certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Start runs MinIO and waits until /minio/health/ready answers 200.
func (m *minioServer) Start() {
	m.t.Helper()
	if err := m.start(); err != nil {
		m.t.Fatal(err)
	}
}

// start runs MinIO and waits until it is ready, or fails if it exits
// first.
func (m *minioServer) start() error {
	m.t.Helper()
	m.mu.Lock()
	if m.proc != nil {
		m.mu.Unlock()
		m.t.Fatal("minio is already running")
	}
	m.runs++
	p := &process{stderr: &syncBuffer{}, done: make(chan struct{})}
	m.logs = append(m.logs, p.stderr)
	p.cmd = exec.Command(m.bin, "server", filepath.Join(m.dir, "data"),
		"--address", m.addr, "--console-address", m.console,
		"--certs-dir", filepath.Join(m.dir, "certs"), "--quiet")
	p.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	p.cmd.Env = append(p.cmd.Env, m.opts.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		m.mu.Unlock()
		m.t.Fatalf("cannot start %s: %v", m.bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	m.proc = p
	m.mu.Unlock()

	began := time.Now()
	for {
		resp, err := m.http.Get(m.Endpoint() + "/minio/health/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("minio (run %d) exited before it was ready: %v; output:\n%s", m.runs, p.err, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(began) > 30*time.Second {
			m.t.Fatalf("minio (run %d) not ready on %s within 30s (last: %v); output:\n%s", m.runs, m.addr, err, p.stderr)
		}
	}
	if d := time.Since(began); d > 2*time.Second || verbose {
		m.t.Logf("minio run %d ready after %v", m.runs, d.Round(time.Millisecond))
	}
	return nil
}

// Stop sends SIGTERM and waits for MinIO to exit; SIGKILL after 10 s.
func (m *minioServer) Stop() {
	m.t.Helper()
	m.mu.Lock()
	p := m.proc
	m.proc = nil
	m.mu.Unlock()
	if p == nil {
		m.t.Fatal("minio is not running")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Client returns a minio-go client with the root credentials, the same
// one each time, so that its connections are reused.
func (m *minioServer) Client() *minio.Client {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil {
		return m.client
	}
	opts := &minio.Options{
		Creds:        credentials.NewStaticV4(minioUser, minioPassword, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	}
	if m.opts.certPEM != nil {
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			m.t.Fatal(err)
		}
		tr.TLSClientConfig = m.tlsConfig()
		opts.Secure, opts.Transport = true, tr
	}
	c, err := minio.New(m.addr, opts)
	if err != nil {
		m.t.Fatal(err)
	}
	m.client = c
	return c
}

// MakeBucket creates a bucket.
func (m *minioServer) MakeBucket(bucket string) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Client().MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		m.t.Fatalf("cannot create bucket %q: %v", bucket, err)
	}
}

// ReadBucket lists every object of bucket, reads it back, decompresses it
// by its extension and splits it into records, as readBucket does for the
// embedded store.
func (m *minioServer) ReadBucket(bucket string) objectSet {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := m.Client()
	set := objectSet{counts: make(map[string]int), byKey: make(map[string][]string)}
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			m.t.Fatalf("cannot list bucket %q: %v", bucket, obj.Err)
		}
		data, err := m.readObject(ctx, c, bucket, obj.Key)
		if err != nil {
			m.t.Fatalf("object s3://%s/%s: %v", bucket, obj.Key, err)
		}
		recs := splitRecords(data)
		set.keys = append(set.keys, obj.Key)
		set.byKey[obj.Key] = recs
		for _, r := range recs {
			set.counts[r]++
		}
	}
	slices.Sort(set.keys)
	return set
}

func (m *minioServer) readObject(ctx context.Context, c *minio.Client, bucket, key string) ([]byte, error) {
	o, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	raw, err := io.ReadAll(o)
	if err != nil {
		return nil, err
	}
	format := formatOfKey(key)
	r, err := compress.NewReader(format, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("cannot decompress %s: %w", format, err)
	}
	return data, nil
}

// IncompleteUploads lists the multipart uploads in progress in bucket.
func (m *minioServer) IncompleteUploads(bucket string) []string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	for u := range m.Client().ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err != nil {
			m.t.Fatalf("cannot list the incomplete uploads of %q: %v", bucket, u.Err)
		}
		out = append(out, u.Key+" "+u.UploadID)
	}
	return out
}

// s3Config is a Hydrant config writing to m; extra is appended under
// object_store.s3 (indented by four spaces), streams after it.
func (m *minioServer) s3Config(extra, streams string) string {
	return fmt.Sprintf(`server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
object_store:
  s3:
    endpoint: %s
    force_path_style: true
%s
streams:
%s`, m.Endpoint(), strings.TrimRight(extra, "\n"), streams)
}
