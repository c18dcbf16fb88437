package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/hydrantio/hydrant/sinks/s3"
)

// kmsKeyName is the one key of the MinIO KMS in the encryption tests.
const kmsKeyName = "hydrant-test-key"

// TestS3SSE writes objects of one PUT and multipart objects through
// sinks/s3 with each server-side encryption, to a MinIO with a KMS and
// TLS, and checks that MinIO says each is encrypted as asked, that the
// plaintext is nowhere on its disk, and that each reads back whole: SSE-C
// objects with their key only.
func TestS3SSE(t *testing.T) {
	// MinIO's KMS of one key (MINIO_KMS_SECRET_KEY) serves SSE-S3 and
	// SSE-KMS; SSE-C needs https.
	caPEM, certPEM, keyPEM := testCerts(t)
	m := startMinioWith(t, minioOptions{
		env:     []string{"MINIO_KMS_SECRET_KEY=" + kmsKeyName + ":" + base64.StdEncoding.EncodeToString(randomKey(t))},
		certPEM: certPEM, keyPEM: keyPEM, caPEM: caPEM,
	})
	m.MakeBucket("sse")
	ctx := context.Background()
	cKey, otherKey := randomKey(t), randomKey(t)
	sseC := func(key []byte) encrypt.ServerSide {
		sse, err := encrypt.NewSSEC(key)
		if err != nil {
			t.Fatal(err)
		}
		return sse
	}
	cKeyMD5 := md5.Sum(cKey)

	modes := []struct {
		name string
		sse  s3.SSEConfig
		read encrypt.ServerSide // what reading needs
		want map[string]string  // headers of HEAD, "" for absent
	}{
		{"none", s3.SSEConfig{}, nil,
			map[string]string{"X-Amz-Server-Side-Encryption": ""}},
		{"SSE-S3", s3.SSEConfig{Type: s3.SSES3}, nil,
			map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}},
		{"SSE-KMS-default", s3.SSEConfig{Type: s3.SSEKMS}, nil,
			map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:aws:kms:" + kmsKeyName}},
		{"SSE-KMS-key", s3.SSEConfig{Type: s3.SSEKMS, KMSKeyID: kmsKeyName, KMSContext: map[string]string{"stream": "events"}}, nil,
			map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:aws:kms:" + kmsKeyName}},
		{"SSE-C", s3.SSEConfig{Type: s3.SSEC, CustomerKey: base64.StdEncoding.EncodeToString(cKey)}, sseC(cKey),
			map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256", "X-Amz-Server-Side-Encryption-Customer-Key-Md5": base64.StdEncoding.EncodeToString(cKeyMD5[:])}},
	}
	sizes := []struct {
		name string
		size int
	}{{"small", 64 << 10}, {"multipart", s3.MinPartSize + 1<<20}} // two parts

	markers := make(map[string]bool) // plaintext marker → whether it may be on disk
	for _, mode := range modes {
		st := newSecureStore(t, m, s3.Config{SSE: mode.sse})
		for _, sz := range sizes {
			key := mode.name + "/" + sz.name
			marker := plaintextPrefix + key + "\n"
			markers[marker] = mode.sse.Type == ""
			body := plaintext(marker, sz.size)
			if err := st.PutObject(ctx, "sse", key, bytes.NewReader(body), int64(len(body))); err != nil {
				t.Errorf("PutObject(%s, %d bytes) = %v", key, len(body), err)
				continue
			}
			info, err := m.Client().StatObject(ctx, "sse", key, minio.StatObjectOptions{ServerSideEncryption: mode.read})
			if err != nil {
				t.Errorf("StatObject(%s) = %v", key, err)
				continue
			}
			for h, want := range mode.want {
				if got := info.Metadata.Get(h); got != want {
					t.Errorf("StatObject(%s): %s = %q; want %q", key, h, got, want)
				}
			}
			if got, err := getObject(ctx, m.Client(), "sse", key, mode.read); err != nil || !bytes.Equal(got, body) {
				t.Errorf("GetObject(%s) = %d bytes, %v; want the %d bytes put", key, len(got), err, len(body))
			}
			if mode.read == nil {
				continue
			}
			// SSE-C: without the key, or with another, nothing reads.
			for _, r := range []struct {
				name string
				sse  encrypt.ServerSide
			}{{"no key", nil}, {"another key", sseC(otherKey)}} {
				if _, err := m.Client().StatObject(ctx, "sse", key, minio.StatObjectOptions{ServerSideEncryption: r.sse}); err == nil {
					t.Errorf("StatObject(%s) with %s succeeded; want an error", key, r.name)
				}
				if got, err := getObject(ctx, m.Client(), "sse", key, r.sse); err == nil {
					t.Errorf("GetObject(%s) with %s read %d bytes; want an error", key, r.name, len(got))
				}
			}
		}
	}
	if ups := m.IncompleteUploads("sse"); len(ups) > 0 {
		t.Errorf("multipart uploads left behind: %q", ups)
	}

	// The plaintext of encrypted objects is nowhere under MinIO's data
	// dir; that of the unencrypted ones, there, shows the search works.
	found := make(map[string]bool)
	err := filepath.WalkDir(filepath.Join(m.dir, "data"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte(plaintextPrefix)) {
			return nil
		}
		for marker := range markers {
			if bytes.Contains(data, []byte(marker)) {
				found[marker] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for marker, plain := range markers {
		if found[marker] != plain {
			t.Errorf("plaintext %q on MinIO's disk: %t; want %t", marker, found[marker], plain)
		}
	}

	// A KMS key MinIO does not have: the put fails, saying so.
	st := newSecureStore(t, m, s3.Config{SSE: s3.SSEConfig{Type: s3.SSEKMS, KMSKeyID: "no-such-key"}})
	err = st.PutObject(ctx, "sse", "bad-kms", strings.NewReader("x"), 1)
	if err == nil || !strings.HasPrefix(err.Error(), "cannot put s3://sse/bad-kms: ") {
		t.Errorf("PutObject with an unknown KMS key = %v; want cannot put s3://sse/bad-kms: …", err)
	}
}

// TestS3TLS checks the store's TLS options against a MinIO serving https
// with a certificate of a private CA: trusted through CAFile or with
// InsecureSkipVerify, refused without either.
func TestS3TLS(t *testing.T) {
	caPEM, certPEM, keyPEM := testCerts(t)
	m := startMinioWith(t, minioOptions{certPEM: certPEM, keyPEM: keyPEM, caPEM: caPEM})
	m.MakeBucket("tls")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  s3.Config
		want string // error, "" for success
	}{
		{"ca file", s3.Config{CAFile: m.CAFile()}, ""},
		{"insecure skip verify", s3.Config{InsecureSkipVerify: true}, ""},
		{"system CAs", s3.Config{}, "certificate signed by unknown authority"},
	} {
		cfg := tc.cfg
		cfg.Endpoint, cfg.AccessKeyID, cfg.SecretAccessKey, cfg.ForcePathStyle = m.Endpoint(), minioUser, minioPassword, true
		st, err := s3.New(cfg, nil)
		if err != nil {
			t.Fatalf("%s: New = %v", tc.name, err)
		}
		body := []byte("over tls: " + tc.name)
		err = st.PutObject(ctx, "tls", tc.name, bytes.NewReader(body), int64(len(body)))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: PutObject = %v; want success", tc.name, err)
		case tc.want == "":
			if got, err := getObject(ctx, m.Client(), "tls", tc.name, nil); err != nil || !bytes.Equal(got, body) {
				t.Errorf("%s: GetObject = %q, %v; want %q", tc.name, got, err, body)
			}
		case err == nil || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: PutObject = %v; want …%s…", tc.name, err, tc.want)
		}
	}
}

// newSecureStore returns a store for m (trusting its CA) with cfg's
// encryption and 5 MiB parts.
func newSecureStore(t *testing.T, m *minioServer, cfg s3.Config) *s3.Store {
	t.Helper()
	cfg.Endpoint, cfg.CAFile = m.Endpoint(), m.CAFile()
	cfg.AccessKeyID, cfg.SecretAccessKey = minioUser, minioPassword
	cfg.ForcePathStyle, cfg.PartSize = true, s3.MinPartSize
	st, err := s3.New(cfg, nil)
	if err != nil {
		t.Fatalf("New(%v) = %v", cfg, err)
	}
	return st
}

func getObject(ctx context.Context, c *minio.Client, bucket, key string, sse encrypt.ServerSide) ([]byte, error) {
	o, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{ServerSideEncryption: sse})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

// plaintextPrefix starts the markers that plaintext repeats.
const plaintextPrefix = "plaintext of "

// plaintext returns size bytes of marker repeated.
func plaintext(marker string, size int) []byte {
	return bytes.Repeat([]byte(marker), size/len(marker)+1)[:size]
}

// randomKey returns 32 random bytes.
func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// testCerts returns a CA made for the test and a server certificate and
// key it signed for 127.0.0.1, PEM-encoded, valid for a day.
func testCerts(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hydrant test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}
