package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hydrantio/hydrant/internal/httpclient"
)

// Content encodings of the request body (Config.ContentEncoding), as
// Firehose's HttpEndpointRequestConfiguration names them.
const (
	EncodingNone = "NONE"
	EncodingGzip = "GZIP"
)

// Limits and defaults of the protocol.
const (
	// MaxRecordsPerRequest is the protocol's limit on the records of one
	// request (the body schema's maxItems), and the default.
	MaxRecordsPerRequest = 10000
	// MaxBytesPerRequest is the protocol's limit on a request body before
	// compression (64 MiB), and the default.
	MaxBytesPerRequest = 64 << 20
	// MinBytesPerRequest is the smallest body limit Validate accepts.
	// A limit under about 1.4 MB cannot carry the largest record Firehose
	// accepts (1,000 KiB, 1,365,336 bytes in base64): such a record fails
	// without being sent.
	MinBytesPerRequest = 1 << 10
	// MaxAccessKeyLen is Firehose's limit on the access key, in bytes.
	MaxAccessKeyLen = 4096
	// MaxCommonAttributes, MaxAttributeNameLen and MaxAttributeValueLen
	// are the limits of the common-attributes schema: at most 50
	// attributes, names of 1 to 256 characters, values of up to 1,024.
	MaxCommonAttributes  = 50
	MaxAttributeNameLen  = 256
	MaxAttributeValueLen = 1024

	// DefaultRequestTimeout is how long an endpoint has to answer one
	// request: Firehose's 3 minutes.
	DefaultRequestTimeout = 3 * time.Minute
	// DefaultRetryDuration is Firehose's default RetryOptions.DurationInSeconds.
	DefaultRetryDuration = 300 * time.Second
	// MaxRetryDuration is the largest RetryOptions.DurationInSeconds.
	MaxRetryDuration = 7200 * time.Second
	// NoRetries as Config.RetryDuration makes one attempt per request and
	// no retry: what Firehose's DurationInSeconds 0 asks for (a zero
	// RetryDuration means DefaultRetryDuration instead).
	NoRetries time.Duration = -1
)

// Backoff is the wait between attempts of one request: retry n (from 1)
// waits Initial×Multiplier^(n-1), varied by ±Jitter, and at most Max.
// Zero fields take Firehose's values: 1 s, ×2, ±15 %, 2 minutes.
type Backoff struct {
	Initial    time.Duration
	Multiplier float64
	Jitter     float64 // a fraction, [0, 1)
	Max        time.Duration
}

// DefaultBackoff is Firehose's documented retry backoff.
var DefaultBackoff = Backoff{Initial: time.Second, Multiplier: 2, Jitter: 0.15, Max: 2 * time.Minute}

// Config says where and how to deliver. The zero value of every field but
// URL is its default.
type Config struct {
	// URL is the endpoint records are POSTed to, sent as configured with
	// its path and query. It must be https:// unless its host is a
	// loopback address (localhost, 127.0.0.0/8, ::1) or AllowInsecureHTTP
	// is set.
	URL string
	// AllowInsecureHTTP accepts an http:// URL to a host that is not a
	// loopback address. The access key and every record then cross the
	// network in the clear; Firehose itself only delivers over https.
	AllowInsecureHTTP bool
	// AccessKey is sent verbatim in X-Amz-Firehose-Access-Key; empty
	// sends no such header. At most 4,096 bytes, no control characters.
	// It is a secret: never logged, and left out of String and JSON.
	AccessKey string `json:"-"`
	// CommonAttributes go with every request in
	// X-Amz-Firehose-Common-Attributes, as {"commonAttributes":{…}}: at
	// most 50, names of 1 to 256 characters, values of up to 1,024.
	CommonAttributes map[string]string
	// SourceARN, when set, is sent in X-Amz-Firehose-Source-Arn, as
	// Firehose sends its stream's ARN (the delivery stream's ARN here).
	SourceARN string
	// ContentEncoding is EncodingNone (also "") or EncodingGzip, which
	// gzips the body and sends Content-Encoding: gzip.
	ContentEncoding string
	// CAFile names a PEM file of CA certificates trusted for the endpoint
	// besides the system's: for a private CA. TLS certificates are always
	// verified unless InsecureSkipVerify is set.
	CAFile string
	// InsecureSkipVerify accepts any certificate from the endpoint, which
	// lets anyone on the path read and change the traffic, the access key
	// included. It is for tests only; use CAFile for a private CA.
	InsecureSkipVerify bool
	// RequestTimeout bounds one attempt, from sending the request to
	// reading the whole response; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Retry is the wait between attempts of a request.
	Retry Backoff
	// RetryDuration is Firehose's RetryOptions.DurationInSeconds: how long
	// a request is retried after its first attempt failed, counting the
	// waits between attempts but not the attempts themselves (as Firehose
	// counts it). 0 means DefaultRetryDuration; NoRetries makes a single
	// attempt; at most MaxRetryDuration.
	RetryDuration time.Duration
	// MaxRecordsPerRequest caps the records of one request, 1 to
	// MaxRecordsPerRequest; 0 means MaxRecordsPerRequest.
	MaxRecordsPerRequest int
	// MaxBytesPerRequest caps the JSON body of one request, records in
	// base64 included, before compression: MinBytesPerRequest to
	// MaxBytesPerRequest; 0 means MaxBytesPerRequest. One request body is
	// held in memory at a time per Send, so it also bounds memory.
	MaxBytesPerRequest int
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ContentEncoding == "" {
		c.ContentEncoding = EncodingNone
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	c.Retry = c.Retry.withDefaults()
	switch c.RetryDuration {
	case 0:
		c.RetryDuration = DefaultRetryDuration
	case NoRetries:
		c.RetryDuration = 0
	}
	if c.MaxRecordsPerRequest == 0 {
		c.MaxRecordsPerRequest = MaxRecordsPerRequest
	}
	if c.MaxBytesPerRequest == 0 {
		c.MaxBytesPerRequest = MaxBytesPerRequest
	}
	return c
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial == 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoff.Jitter
	}
	if b.Max == 0 {
		b.Max = DefaultBackoff.Max
	}
	return b
}

// Validate checks the config without touching the network or the file
// system: the URL (https, or http to a loopback host or with
// AllowInsecureHTTP), the access key and common attributes against
// Firehose's limits, the encoding, the TLS options, the retry settings and
// the request limits. New calls it; the CA file is read by New.
func (c Config) Validate() error {
	u, err := parseURL(c.URL)
	if err != nil {
		return err
	}
	if u.Scheme == "http" {
		switch {
		case c.CAFile != "":
			return fmt.Errorf("a webhook CA file is set but the URL %s is not https://: use https://, or remove the CA file", httpclient.RedactURL(u))
		case c.InsecureSkipVerify:
			return fmt.Errorf("webhook TLS verification is turned off but the URL %s is not https://: use https://, or turn verification back on", httpclient.RedactURL(u))
		case !c.AllowInsecureHTTP && !httpclient.IsLoopback(u.Hostname()):
			return fmt.Errorf("webhook URL %s is http://: use https://, or allow plain HTTP explicitly (allow_insecure_http), which sends the access key and every record in the clear; http:// is accepted without it only for a loopback host", httpclient.RedactURL(u))
		}
	}
	if len(c.AccessKey) > MaxAccessKeyLen {
		return fmt.Errorf("webhook access key is %d bytes long: at most %d are allowed", len(c.AccessKey), MaxAccessKeyLen)
	}
	if i := strings.IndexFunc(c.AccessKey, httpclient.IsCTL); i >= 0 {
		return fmt.Errorf("webhook access key has a control character at byte %d: an HTTP header cannot carry it; base64-encode binary keys", i)
	}
	if err := validateAttributes(c.CommonAttributes); err != nil {
		return err
	}
	if i := strings.IndexFunc(c.SourceARN, httpclient.IsCTL); i >= 0 {
		return fmt.Errorf("webhook source ARN %q has a control character", c.SourceARN)
	}
	switch c.ContentEncoding {
	case "", EncodingNone, EncodingGzip:
	default:
		return fmt.Errorf("webhook content encoding %q is not supported: use %s or %s", c.ContentEncoding, EncodingNone, EncodingGzip)
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("webhook request timeout %v is negative", c.RequestTimeout)
	}
	if err := c.Retry.validate(); err != nil {
		return err
	}
	if c.RetryDuration != NoRetries && (c.RetryDuration < 0 || c.RetryDuration > MaxRetryDuration) {
		return fmt.Errorf("webhook retry duration %v is out of range: use 0 s to %v (Firehose's RetryOptions.DurationInSeconds, 0 to 7200)", c.RetryDuration, MaxRetryDuration)
	}
	if c.MaxRecordsPerRequest < 0 || c.MaxRecordsPerRequest > MaxRecordsPerRequest {
		return fmt.Errorf("webhook records per request %d is out of range: use 1 to %d", c.MaxRecordsPerRequest, MaxRecordsPerRequest)
	}
	if c.MaxBytesPerRequest != 0 && (c.MaxBytesPerRequest < MinBytesPerRequest || c.MaxBytesPerRequest > MaxBytesPerRequest) {
		return fmt.Errorf("webhook bytes per request %d is out of range: use %d to %d (64 MiB)", c.MaxBytesPerRequest, MinBytesPerRequest, MaxBytesPerRequest)
	}
	return nil
}

func (b Backoff) validate() error {
	switch {
	case b.Initial < 0:
		return fmt.Errorf("webhook retry initial backoff %v is negative", b.Initial)
	case b.Multiplier != 0 && b.Multiplier < 1:
		return fmt.Errorf("webhook retry multiplier %v is under 1: backoffs would shrink", b.Multiplier)
	case b.Jitter < 0 || b.Jitter >= 1:
		return fmt.Errorf("webhook retry jitter %v is out of range: use a fraction from 0 to under 1 (0.15 is ±15 %%)", b.Jitter)
	case b.Max < 0:
		return fmt.Errorf("webhook retry maximum backoff %v is negative", b.Max)
	}
	d := b.withDefaults()
	if d.Max < d.Initial {
		return fmt.Errorf("webhook retry maximum backoff %v is under the initial backoff %v", d.Max, d.Initial)
	}
	return nil
}

func validateAttributes(attrs map[string]string) error {
	if len(attrs) > MaxCommonAttributes {
		return fmt.Errorf("webhook has %d common attributes: at most %d are allowed", len(attrs), MaxCommonAttributes)
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names) // the same error for the same config
	for _, k := range names {
		v := attrs[k]
		switch n := utf8.RuneCountInString(k); {
		case !utf8.ValidString(k) || !utf8.ValidString(v):
			return fmt.Errorf("webhook common attribute %q is not valid UTF-8", k)
		case n == 0 || n > MaxAttributeNameLen:
			return fmt.Errorf("webhook common attribute name %q has %d characters: use 1 to %d", k, n, MaxAttributeNameLen)
		case utf8.RuneCountInString(v) > MaxAttributeValueLen:
			return fmt.Errorf("webhook common attribute %q has a value of %d characters: at most %d are allowed", k, utf8.RuneCountInString(v), MaxAttributeValueLen)
		}
	}
	return nil
}

// parseURL checks an endpoint URL: http or https, a host, no credentials
// (they would show in logs; put them in the access key).
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("invalid webhook URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("invalid webhook URL %q: want https://host[:port]/path", s)
	case u.User != nil:
		return nil, errors.New("invalid webhook URL: it holds credentials: put them in the access key, which is sent in X-Amz-Firehose-Access-Key")
	case u.Fragment != "":
		return nil, fmt.Errorf("invalid webhook URL %s: it has a #fragment, which HTTP never sends", httpclient.RedactURL(u))
	}
	return u, nil
}

// String shows the config without the access key, so printing a config
// never leaks it.
func (c Config) String() string {
	key := ""
	if c.AccessKey != "" {
		key = "<secret>"
	}
	u := c.URL
	if p, err := url.Parse(c.URL); err == nil {
		u = httpclient.RedactURL(p)
	}
	return fmt.Sprintf("{URL:%s AllowInsecureHTTP:%t AccessKey:%s CommonAttributes:%v SourceARN:%s ContentEncoding:%s CAFile:%s InsecureSkipVerify:%t RequestTimeout:%v Retry:%+v RetryDuration:%v MaxRecordsPerRequest:%d MaxBytesPerRequest:%d}",
		u, c.AllowInsecureHTTP, key, c.CommonAttributes, c.SourceARN, c.ContentEncoding, c.CAFile, c.InsecureSkipVerify, c.RequestTimeout, c.Retry, c.RetryDuration, c.MaxRecordsPerRequest, c.MaxBytesPerRequest)
}
