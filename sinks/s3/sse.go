package s3

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// Server-side encryption types (SSEConfig.Type).
const (
	// SSES3 encrypts with keys the server manages (x-amz-server-side-encryption: AES256).
	SSES3 = "SSE-S3"
	// SSEKMS encrypts with a key from the server's KMS (x-amz-server-side-encryption: aws:kms).
	SSEKMS = "SSE-KMS"
	// SSEC encrypts with a key of the user's, sent with every request.
	SSEC = "SSE-C"
)

// SSEConfig is the server-side encryption objects are written with.
type SSEConfig struct {
	// Type is SSES3, SSEKMS or SSEC; empty sends no encryption header,
	// so the bucket's default encryption applies (on AWS S3, SSE-S3).
	Type string
	// KMSKeyID names the KMS key of SSE-KMS: on AWS a key ID, alias or
	// ARN; on MinIO a key name of its KMS. Empty means the server's
	// default key (on AWS, the aws/s3 managed key). SSE-KMS only.
	KMSKeyID string
	// KMSContext is the encryption context of SSE-KMS, which AWS KMS
	// binds to the data key and logs in CloudTrail. SSE-KMS only.
	KMSContext map[string]string
	// CustomerKey is the key of SSE-C: 32 random bytes, base64-encoded,
	// such as the output of `openssl rand -base64 32`; white space around
	// it is ignored. The server does not keep it: reading the objects
	// back needs the same key, and losing it loses them. It is a secret,
	// never printed. SSE-C only, and only over https://: S3 and MinIO
	// refuse it over plain HTTP.
	CustomerKey string `json:"-"`
}

// Validate checks that the fields set go with the type, and that an SSE-C
// key is 32 bytes of base64. Whether the endpoint is https://, as SSE-C
// needs, is checked by Config.Validate.
func (c SSEConfig) Validate() error {
	_, err := c.serverSide()
	return err
}

// serverSide returns the minio-go encryption of c, nil for none.
func (c SSEConfig) serverSide() (encrypt.ServerSide, error) {
	if c.Type != SSEKMS && c.KMSKeyID != "" {
		return nil, fmt.Errorf("s3 encryption: a KMS key ID is set but the type is %s: set the type to %s, or remove the key ID", c.typeName(), SSEKMS)
	}
	if c.Type != SSEKMS && len(c.KMSContext) > 0 {
		return nil, fmt.Errorf("s3 encryption: a KMS encryption context is set but the type is %s: set the type to %s, or remove the context", c.typeName(), SSEKMS)
	}
	if c.Type != SSEC && c.CustomerKey != "" {
		return nil, fmt.Errorf("s3 encryption: a customer key is set but the type is %s: set the type to %s, or remove the key", c.typeName(), SSEC)
	}
	switch c.Type {
	case "":
		return nil, nil
	case SSES3:
		return encrypt.NewSSE(), nil
	case SSEKMS:
		var kctx any // nil sends no context header
		if len(c.KMSContext) > 0 {
			kctx = c.KMSContext
		}
		sse, err := encrypt.NewSSEKMS(c.KMSKeyID, kctx)
		if err != nil {
			return nil, fmt.Errorf("s3 encryption: invalid KMS encryption context: %w", err)
		}
		return sse, nil
	case SSEC:
		if c.CustomerKey == "" {
			return nil, errors.New("s3 encryption: " + SSEC + " needs a customer key: 32 random bytes, base64-encoded, such as the output of `openssl rand -base64 32`")
		}
		// The key stays out of every message.
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.CustomerKey))
		if err != nil {
			return nil, errors.New("s3 encryption: the " + SSEC + " customer key is not valid base64: want 32 random bytes, base64-encoded, such as the output of `openssl rand -base64 32`")
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("s3 encryption: the %s customer key decodes to %d bytes; want 32 (a 256-bit AES key), such as the output of `openssl rand -base64 32`", SSEC, len(key))
		}
		return encrypt.NewSSEC(key)
	}
	return nil, fmt.Errorf("s3 encryption: unknown type %q: use %s, %s or %s, or none for the bucket's default encryption", c.Type, SSES3, SSEKMS, SSEC)
}

func (c SSEConfig) typeName() string {
	if c.Type == "" {
		return "none"
	}
	return c.Type
}

// String shows the config without the customer key.
func (c SSEConfig) String() string {
	key := ""
	if c.CustomerKey != "" {
		key = "<secret>"
	}
	return fmt.Sprintf("{Type:%s KMSKeyID:%s KMSContext:%v CustomerKey:%s}", c.Type, c.KMSKeyID, c.KMSContext, key)
}
