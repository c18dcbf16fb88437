// Package s3 is Hydrant's S3 object store: object destinations write to an
// S3-compatible server (AWS S3, MinIO, …) through minio-go instead of the
// embedded file store.
//
// An S3 PUT is atomic (a reader sees the old object or the new one) and a
// second PUT of the same key replaces the first, so redelivering a batch
// after a crash rewrites its object instead of adding a duplicate, as the
// file store does.
//
// Objects up to PartSize go up in one PUT, streamed from the body. Larger
// ones go up as a multipart upload, one part at a time through a buffer of
// PartSize bytes, so memory stays bounded by PartSize per upload in flight
// whatever the object's size. A multipart upload that fails is aborted
// before PutObject returns, which deletes the parts already uploaded. One
// that a killed process leaves behind shows no object (S3 shows an object
// only once its upload completes); it is aborted when the batch is
// redelivered to the same key after the restart and that upload succeeds.
//
// Every object, and every part of a multipart upload, is written with the
// server-side encryption Config.SSE names: SSE-S3, SSE-KMS, or SSE-C with a
// key of the user's, which the server uses and forgets (a reader needs the
// same key).
package s3

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// Part sizes (Config.PartSize). S3 requires parts of at least 5 MiB,
// except the last, and allows at most 10,000 parts per object.
const (
	MinPartSize     = 5 << 20
	MaxPartSize     = 5 << 30
	DefaultPartSize = 16 << 20
)

// DefaultRegion is the region used when neither the config nor AWS_REGION
// names one; it is also MinIO's default.
const DefaultRegion = "us-east-1"

// The standard AWS environment variables New reads credentials and the
// region from when Config leaves them empty.
const (
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
	EnvRegion          = "AWS_REGION"
)

// maxRetries bounds minio-go's own retries of one request. Delivery
// retries a failed PutObject with its own backoff, logging each failure,
// so an outage should reach it promptly rather than hide in here.
const maxRetries = 3

// Config says how to reach the S3 server.
type Config struct {
	// Endpoint is the server's URL, http:// or https:// (TLS), with no
	// path, such as https://s3.eu-west-1.amazonaws.com or
	// http://127.0.0.1:9000.
	Endpoint string
	// Region is the region requests are signed for; empty means
	// AWS_REGION, or DefaultRegion when that is unset.
	Region string
	// AccessKeyID and SecretAccessKey sign requests. When both are empty,
	// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN are
	// used.
	AccessKeyID string
	// SecretAccessKey is never written out with the rest of the config
	// (a destination's definition is saved in the data dir).
	SecretAccessKey string `json:"-"`
	// ForcePathStyle addresses buckets as https://endpoint/bucket/key.
	// Otherwise buckets are addressed as https://bucket.endpoint/key
	// (virtual-host style) where the endpoint is known to support it, as
	// AWS S3 does, and path style elsewhere.
	ForcePathStyle bool
	// CreateBuckets creates a bucket that does not exist on the first put
	// into it. Otherwise a missing bucket is an error.
	CreateBuckets bool
	// PartSize is the size of the parts of a multipart upload, and the
	// largest object sent in one PUT; 0 means DefaultPartSize. It bounds
	// the memory one upload uses.
	PartSize int64
	// SSE is the server-side encryption every object is written with;
	// the zero value asks for none, leaving it to the bucket's default.
	SSE SSEConfig
	// CAFile names a PEM file of CA certificates trusted for an https://
	// endpoint, besides the system's: for a server whose certificate a
	// private CA signed. Empty trusts the system's CAs only.
	CAFile string
	// InsecureSkipVerify accepts any certificate from an https://
	// endpoint, which lets anyone on the path read and change the
	// traffic, SSE-C keys included. It is for tests only; use CAFile for
	// a private CA.
	InsecureSkipVerify bool
}

// Validate checks what can be checked without the environment or the
// network: the endpoint, the part size (0 is the default), credentials
// set by halves, the encryption, and that SSE-C and the TLS options come
// with an https:// endpoint. New calls it; the CA file is read by New.
func (c Config) Validate() error {
	u, err := ParseEndpoint(c.Endpoint)
	if err != nil {
		return err
	}
	if c.PartSize != 0 && (c.PartSize < MinPartSize || c.PartSize > MaxPartSize) {
		return fmt.Errorf("s3 part size %d is out of range: use %d MiB to %d GiB", c.PartSize, MinPartSize>>20, MaxPartSize>>30)
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("s3 credentials are incomplete: set both the access key ID and the secret access key, or neither to use " + EnvAccessKeyID + " and " + EnvSecretAccessKey)
	}
	if err := c.SSE.Validate(); err != nil {
		return err
	}
	if u.Scheme != "https" {
		switch {
		case c.SSE.Type == SSEC:
			return fmt.Errorf("s3 encryption: %s needs an https:// endpoint, not %s: S3 and MinIO refuse customer keys over plain HTTP, which would send the key in the clear", SSEC, c.Endpoint)
		case c.CAFile != "":
			return fmt.Errorf("an s3 CA file is set but the endpoint %s is not https://: use https://, or remove the CA file", c.Endpoint)
		case c.InsecureSkipVerify:
			return fmt.Errorf("s3 TLS verification is turned off but the endpoint %s is not https://: use https://, or turn verification back on", c.Endpoint)
		}
	}
	return nil
}

// Store writes objects to an S3 bucket. It is safe for concurrent use.
type Store struct {
	client   *minio.Client
	endpoint string // for messages
	region   string
	credSrc  string // "config" or "environment"
	sse      encrypt.ServerSide
	cfg      Config
	logger   *slog.Logger
}

// New returns a store for the server cfg names. It does not contact the
// server: a server that is down at start makes the first puts fail and be
// retried, while producers go on writing to the stream logs.
func New(cfg Config, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := ParseEndpoint(cfg.Endpoint) // valid
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	sse, _ := cfg.SSE.serverSide() // valid
	region := cfg.Region
	if region == "" {
		region = os.Getenv(EnvRegion)
	}
	if region == "" {
		region = DefaultRegion
	}
	var creds *credentials.Credentials
	credSrc := "config"
	switch {
	case cfg.AccessKeyID != "" && cfg.SecretAccessKey != "":
		creds = credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	case os.Getenv(EnvAccessKeyID) != "" && os.Getenv(EnvSecretAccessKey) != "":
		creds = credentials.NewStaticV4(os.Getenv(EnvAccessKeyID), os.Getenv(EnvSecretAccessKey), os.Getenv(EnvSessionToken))
		credSrc = "environment"
	default:
		return nil, fmt.Errorf("no s3 credentials for %s: set access_key_id and secret_access_key (or secret_access_key_env) under object_store.s3, or the environment variables %s and %s", u.Host, EnvAccessKeyID, EnvSecretAccessKey)
	}
	lookup := minio.BucketLookupAuto
	if cfg.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	opts := &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   maxRetries,
	}
	if cfg.CAFile != "" || cfg.InsecureSkipVerify {
		tr, err := transport(cfg)
		if err != nil {
			return nil, err
		}
		opts.Transport = tr
	}
	if cfg.InsecureSkipVerify {
		logger.Warn("TLS certificates of the s3 endpoint are not verified: for tests only", "endpoint", cfg.Endpoint)
	}
	client, err := minio.New(u.Host, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot create s3 client for %s: %w", cfg.Endpoint, err)
	}
	return &Store{client: client, endpoint: u.Scheme + "://" + u.Host, region: region, credSrc: credSrc, sse: sse, cfg: cfg, logger: logger}, nil
}

// transport returns minio-go's transport for https, trusting the
// system's CAs and cfg.CAFile's, or any certificate with
// cfg.InsecureSkipVerify.
func transport(cfg Config) (*http.Transport, error) {
	tr, err := minio.DefaultTransport(true)
	if err != nil {
		return nil, fmt.Errorf("cannot create the s3 transport: %w", err)
	}
	tr.TLSClientConfig.InsecureSkipVerify = cfg.InsecureSkipVerify
	if cfg.CAFile == "" {
		return tr, nil
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the s3 CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool() // no system pool: the file's CAs only
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the s3 CA file %s holds no PEM certificate: want one or more -----BEGIN CERTIFICATE----- blocks", cfg.CAFile)
	}
	tr.TLSClientConfig.RootCAs = pool
	return tr, nil
}

// ParseEndpoint checks an endpoint URL: http or https, a host, no path,
// query or credentials.
func ParseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		err = errors.New("want http://host[:port] or https://host[:port]")
	}
	if err == nil && (strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil) {
		err = errors.New("an S3 endpoint has no path, query or credentials: buckets are named by each destination")
	}
	if err != nil {
		return nil, fmt.Errorf("invalid s3 endpoint %q: %w", endpoint, err)
	}
	return u, nil
}

// Endpoint returns the server's URL, for logs.
func (s *Store) Endpoint() string { return s.endpoint }

// Region returns the region requests are signed for.
func (s *Store) Region() string { return s.region }

// CredentialSource says where the credentials came from: "config" or
// "environment" (the AWS variables).
func (s *Store) CredentialSource() string { return s.credSrc }

// PutObject uploads size bytes of body as the object key in bucket,
// replacing any object of that name, and returns once the server has
// stored it. It does not keep body after it returns. A bucket that does
// not exist is created first if the store was configured to, and an error
// naming it otherwise.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64) error {
	return s.putObject(ctx, bucket, key, body, size, s.sse)
}

// PutObjectKMS is PutObject with SSE-KMS under kmsKeyID instead of the
// store's server-side encryption: a destination's own KMS key (Firehose's
// KMSEncryptionConfig).
func (s *Store) PutObjectKMS(ctx context.Context, bucket, key string, body io.Reader, size int64, kmsKeyID string) error {
	sse, err := encrypt.NewSSEKMS(kmsKeyID, nil)
	if err != nil {
		return fmt.Errorf("cannot put s3://%s/%s: invalid KMS key %q: %w", bucket, key, kmsKeyID, err)
	}
	return s.putObject(ctx, bucket, key, body, size, sse)
}

func (s *Store) putObject(ctx context.Context, bucket, key string, body io.Reader, size int64, sse encrypt.ServerSide) error {
	// Where the object starts, to put it again after creating its bucket.
	start := int64(-1)
	if sk, ok := body.(io.Seeker); ok && s.cfg.CreateBuckets {
		if off, err := sk.Seek(0, io.SeekCurrent); err == nil {
			start = off
		}
	}
	err := s.put(ctx, bucket, key, body, size, sse)
	if err == nil || minio.ToErrorResponse(err).Code != minio.NoSuchBucket {
		return s.wrap(bucket, key, err)
	}
	if !s.cfg.CreateBuckets {
		return fmt.Errorf("cannot put s3://%s/%s: bucket %q does not exist at %s: create it, or set object_store.s3.create_buckets: true: %w", bucket, key, bucket, s.endpoint, err)
	}
	if err := s.makeBucket(ctx, bucket); err != nil {
		return fmt.Errorf("cannot put s3://%s/%s: bucket %q does not exist and cannot be created: %w", bucket, key, bucket, err)
	}
	// Again from the object's start, if the body can go back there;
	// otherwise delivery retries with a fresh body.
	if start < 0 {
		return fmt.Errorf("cannot put s3://%s/%s: bucket %q was just created; the put will be retried: %w", bucket, key, bucket, err)
	}
	if _, err := body.(io.Seeker).Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("cannot put s3://%s/%s: cannot rewind the body: %w", bucket, key, err)
	}
	return s.wrap(bucket, key, s.put(ctx, bucket, key, body, size, sse))
}

func (s *Store) wrap(bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("cannot put s3://%s/%s: %w", bucket, key, err)
}

func (s *Store) put(ctx context.Context, bucket, key string, body io.Reader, size int64, sse encrypt.ServerSide) error {
	if size < 0 {
		return fmt.Errorf("object size %d is negative", size)
	}
	multipart := size > s.cfg.PartSize
	if multipart {
		// minio-go uploads the parts of a body that is an io.ReaderAt
		// from goroutines it does not wait for when a part fails, which
		// would go on reading body after PutObject returned. Hiding
		// ReadAt selects its sequential uploader: one part at a time,
		// through one PartSize buffer, aborting the upload on error.
		body = readerOnly{body}
	}
	// minio-go sends the encryption with the PUT, or with the upload's
	// creation, each part (SSE-C, which S3 needs on every request) and
	// its completion.
	info, err := s.client.PutObject(ctx, bucket, key, body, size, minio.PutObjectOptions{
		PartSize:             uint64(s.cfg.PartSize),
		ContentType:          "application/octet-stream",
		ServerSideEncryption: sse,
	})
	if err != nil {
		return err
	}
	if info.Size != size {
		return fmt.Errorf("the server stored %d bytes, not the %d sent", info.Size, size)
	}
	if multipart {
		s.removeStaleUploads(ctx, bucket, key)
	}
	return nil
}

// removeStaleUploads aborts the multipart uploads of key that are still
// open once its object is written: those of an earlier attempt that a
// killed process left behind, which would otherwise keep their parts
// stored (and billed) until a lifecycle rule removes them. Keys are a
// pure function of the stream and its offsets, so the redelivery after a
// crash is what finds them. It is best effort: a failure, such as a
// missing s3:ListBucketMultipartUploads permission, is only logged.
func (s *Store) removeStaleUploads(ctx context.Context, bucket, key string) {
	if err := s.client.RemoveIncompleteUpload(ctx, bucket, key); err != nil {
		s.logger.Warn("cannot remove the incomplete multipart uploads of an object written", "bucket", bucket, "key", key, "err", err)
	}
}

// readerOnly hides every method of a reader but Read.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

func (s *Store) makeBucket(ctx context.Context, bucket string) error {
	err := s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: s.region})
	switch minio.ToErrorResponse(err).Code {
	case minio.BucketAlreadyOwnedByYou, minio.BucketAlreadyExists:
		// Created meanwhile, by another put or another node. (Exists
		// but owned by someone else shows as AccessDenied on the put.)
		return nil
	}
	if err != nil {
		return err
	}
	s.logger.Info("created bucket", "bucket", bucket, "endpoint", s.endpoint, "region", s.region)
	return nil
}

// String shows the config without the secret, so printing a config never
// leaks it.
func (c Config) String() string {
	secret := ""
	if c.SecretAccessKey != "" {
		secret = "<secret>"
	}
	return fmt.Sprintf("{Endpoint:%s Region:%s AccessKeyID:%s SecretAccessKey:%s ForcePathStyle:%t CreateBuckets:%t PartSize:%d SSE:%v CAFile:%s InsecureSkipVerify:%t}",
		c.Endpoint, c.Region, c.AccessKeyID, secret, c.ForcePathStyle, c.CreateBuckets, c.PartSize, c.SSE, c.CAFile, c.InsecureSkipVerify)
}
