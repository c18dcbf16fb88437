package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/smithy-go"
	"github.com/spf13/pflag"
)

const (
	defaultEndpoint = "http://127.0.0.1:4573"
	defaultRegion   = "us-east-1"

	// devAccessKey is the key pair the client signs with when the AWS
	// credential chain finds none. A Hydrant server without configured keys
	// accepts any signature from loopback, so local use needs no setup.
	devAccessKey = "hydrant"
	devSecretKey = "hydrant"
)

// clientOptions are the flags every command that talks to a Hydrant server
// shares.
type clientOptions struct {
	endpoint string
	region   string
}

// addClientFlags registers --endpoint and --region. Their defaults are read
// from the environment when the command is built, so --help shows the value
// that will be used.
func addClientFlags(fs *pflag.FlagSet, o *clientOptions) {
	fs.StringVar(&o.endpoint, "endpoint", envOr("HYDRANT_ENDPOINT", defaultEndpoint),
		"URL of the Hydrant Firehose API (env HYDRANT_ENDPOINT)")
	fs.StringVar(&o.region, "region", envOr("AWS_REGION", defaultRegion),
		"region the requests are signed for (env AWS_REGION)")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// newFirehoseClient builds an AWS SDK Firehose client for the endpoint.
// Credentials come from the standard AWS chain (environment, shared config
// and credentials files, SSO, credential processes, container credentials);
// when none of those is configured the chain would end at the EC2 instance
// metadata service, which is no use against Hydrant, so the client signs
// with the development key instead.
func newFirehoseClient(ctx context.Context, o clientOptions, optFns ...func(*firehose.Options)) (*firehose.Client, error) {
	u, err := url.Parse(o.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid --endpoint %q: want a URL such as %s", o.endpoint, defaultEndpoint)
	}
	if o.region == "" {
		return nil, errors.New("--region must not be empty")
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(o.region), config.WithAppID("hydrant-cli"))
	if err != nil {
		return nil, fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	if cfg.Credentials == nil || aws.IsCredentialsProvider(cfg.Credentials, (*ec2rolecreds.Provider)(nil)) {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(devAccessKey, devSecretKey, "")
	}
	opts := append([]func(*firehose.Options){func(fo *firehose.Options) {
		fo.BaseEndpoint = aws.String(o.endpoint)
		// The SDK's standard three attempts, but with waits of 50–100 and
		// 100–200 ms rather than seconds: someone is waiting at the prompt,
		// and a server that is not running will not start meanwhile.
		fo.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
				return backoff{base: 100 * time.Millisecond, max: time.Second}.delay(attempt), nil
			})
		})
	}}, optFns...)
	return firehose.NewFromConfig(cfg, opts...), nil
}

// withMaxConns lets n requests share the endpoint without reconnecting.
func withMaxConns(n int) func(*firehose.Options) {
	return func(fo *firehose.Options) {
		fo.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = max(n, awshttp.DefaultHTTPTransportMaxIdleConnsPerHost)
		})
	}
}

// apiError is an error the server answered with, shown the way the Firehose
// API names it: "ResourceNotFoundException: Firehose x under account … not
// found."
type apiError struct {
	code    string
	message string
}

func (e *apiError) Error() string {
	if e.message == "" || e.message == e.code {
		return e.code
	}
	return e.code + ": " + e.message
}

// describeError turns an SDK error into one a user can act on, dropping the
// SDK's operation and request-id wrapping.
func describeError(err error, endpoint string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var status int
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "UnknownError" {
		return &apiError{code: ae.ErrorCode(), message: ae.ErrorMessage()}
	}
	if status != 0 {
		return fmt.Errorf("unexpected HTTP %d response from %s; is it a Hydrant server?", status, endpoint)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("cannot reach Hydrant at %s: %v (is `hydrant serve` running? set --endpoint or HYDRANT_ENDPOINT)", endpoint, oe.Err)
	}
	return err
}

// backoff is exponential with jitter: the wait before retry n is drawn from
// [d/2, d], where d = base·2^(n-1) capped at max, so that senders throttled
// together spread out and still back off.
type backoff struct{ base, max time.Duration }

func (b backoff) delay(n int) time.Duration {
	d := b.base
	for i := 1; i < n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d, or until ctx is done, and reports whether it waited
// the whole time.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
