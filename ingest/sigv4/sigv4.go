// Package sigv4 verifies AWS Signature Version 4 request signatures.
//
// It never canonicalises a request itself: Verify rebuilds the request the
// client signed (exactly the headers it names in SignedHeaders), signs that
// copy with the AWS SDK's own signer, the secret of the access key, and the
// client's time, region and service, and compares the two signatures in
// constant time. Whatever the SDK signs, Verify therefore accepts.
//
// Only header-signed requests are supported (no presigned URLs, no session
// tokens, no chunked payload signing); the body is always hashed in full.
package sigv4

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Error codes, as AWS names them in the JSON protocols.
const (
	// CodeMissingAuthenticationToken: no Authorization header, or one that
	// is not a SigV4 header.
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeIncompleteSignature: a SigV4 header that lacks a part or has a
	// malformed one.
	CodeIncompleteSignature = "IncompleteSignatureException"
	// CodeUnrecognizedClient: an access key ID that is not configured.
	CodeUnrecognizedClient = "UnrecognizedClientException"
	// CodeInvalidSignature: the signature does not match, is out of its
	// time window, or is scoped to another service or region.
	CodeInvalidSignature = "InvalidSignatureException"
)

// MaxSkew is how far the X-Amz-Date of a request may be from the
// verifier's clock, either way.
const MaxSkew = 15 * time.Minute

// amzDateFormat is the ISO-8601 basic format of X-Amz-Date.
const amzDateFormat = "20060102T150405Z"

// Error is a verification failure with AWS's error code and message. The
// message never holds a secret.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// MismatchMessage is AWS's message for a signature that does not match.
const MismatchMessage = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."

var (
	errMissingToken = &Error{CodeMissingAuthenticationToken, "Missing Authentication Token"}
	errUnrecognized = &Error{CodeUnrecognizedClient, "The security token included in the request is invalid."}
	errMismatch     = &Error{CodeInvalidSignature, MismatchMessage}
)

func incomplete(msg string) *Error { return &Error{CodeIncompleteSignature, msg} }

// Verifier checks request signatures against a fixed set of access keys.
// It is safe for concurrent use.
type Verifier struct {
	keys    map[string]string
	service string
	region  string
	now     func() time.Time
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithService makes Verify reject credentials scoped to any other service
// (for example "firehose"). By default any service is accepted.
func WithService(service string) Option { return func(v *Verifier) { v.service = service } }

// WithRegion makes Verify reject credentials scoped to any other region. By
// default any region is accepted: the signature covers the region either
// way, and a self-hosted server has no region of its own to insist on.
func WithRegion(region string) Option { return func(v *Verifier) { v.region = region } }

// WithClock sets the clock that X-Amz-Date is checked against (default
// time.Now).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// NewVerifier returns a Verifier for keys, a map of access key ID to secret
// access key. The map is copied.
func NewVerifier(keys map[string]string, opts ...Option) *Verifier {
	v := &Verifier{keys: make(map[string]string, len(keys)), now: time.Now}
	for id, secret := range keys {
		v.keys[id] = secret
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Verify checks the SigV4 signature of r, whose complete body is body (r.Body
// is not read). It returns the access key ID that signed the request, or a
// *Error with AWS's code and message.
func (v *Verifier) Verify(r *http.Request, body []byte) (accessKeyID string, err error) {
	c, err := v.check(r)
	if err != nil {
		return "", err
	}
	want, ok := v.sign(r, body, &c.auth, c.secret, c.signedAt)
	if !ok || want.SignedHeaders != c.auth.SignedHeaders ||
		subtle.ConstantTimeCompare([]byte(want.Signature), []byte(c.auth.Signature)) != 1 {
		return "", errMismatch
	}
	return c.auth.AccessKeyID, nil
}

// Precheck runs every check of Verify that does not need the body: the
// Authorization header, the date, the credential scope, the access key and
// the clock skew. A server calls it before reading the body, so that a
// request that cannot be valid costs no more than its headers. Verify runs
// these checks again.
func (v *Verifier) Precheck(r *http.Request) error {
	_, err := v.check(r)
	return err
}

// checked is what check learnt from a request's headers.
type checked struct {
	auth     authorization
	secret   string
	signedAt time.Time
}

func (v *Verifier) check(r *http.Request) (checked, error) {
	var c checked
	hs := r.Header["Authorization"]
	if len(hs) == 0 {
		return c, errMissingToken
	}
	if len(hs) > 1 {
		return c, incomplete("Request has more than one Authorization header.")
	}
	auth, perr := parseAuthorization(hs[0])
	if perr != nil {
		return c, perr
	}
	c.auth = auth

	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		if r.Header.Get("Date") != "" {
			return c, incomplete("Authorization header requires existence of a 'X-Amz-Date' header: Hydrant does not verify signatures dated with the 'Date' header.")
		}
		return c, incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	signedAt, terr := time.Parse(amzDateFormat, amzDate)
	if terr != nil {
		return c, incomplete("X-Amz-Date must be in the ISO-8601 basic format YYYYMMDD'T'HHMMSS'Z', not '" + echo(amzDate) + "'.")
	}
	c.signedAt = signedAt
	if amzDate[:8] != auth.Date {
		return c, &Error{CodeInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			auth.Date + "' != '" + amzDate[:8] + "', from '" + amzDate + "'."}
	}
	if v.service != "" && auth.Service != v.service {
		return c, &Error{CodeInvalidSignature, "Credential should be scoped to correct service: '" + v.service + "'."}
	}
	if v.region != "" && auth.Region != v.region {
		return c, &Error{CodeInvalidSignature, "Credential should be scoped to a valid region, not '" + echo(auth.Region) + "'."}
	}

	secret, ok := v.keys[auth.AccessKeyID]
	if !ok {
		return c, errUnrecognized
	}
	c.secret = secret
	// Session tokens belong to temporary credentials, which Hydrant never
	// issues: a request carrying one was signed with some other secret.
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return c, errUnrecognized
	}

	now := v.now().UTC()
	if earliest := now.Add(-MaxSkew); signedAt.Before(earliest) {
		return c, &Error{CodeInvalidSignature, "Signature expired: " + amzDate + " is now earlier than " +
			earliest.Format(amzDateFormat) + " (" + now.Format(amzDateFormat) + " - " + skewText + ".)"}
	}
	if latest := now.Add(MaxSkew); signedAt.After(latest) {
		return c, &Error{CodeInvalidSignature, "Signature not yet current: " + amzDate + " is still later than " +
			latest.Format(amzDateFormat) + " (" + now.Format(amzDateFormat) + " + " + skewText + ".)"}
	}
	return c, nil
}

var skewText = strconv.Itoa(int(MaxSkew/time.Minute)) + " min"

// sign signs a copy of r holding exactly the headers auth names, the way
// the client must have signed it, and returns the resulting Authorization.
func (v *Verifier) sign(r *http.Request, body []byte, auth *authorization, secret string, signedAt time.Time) (authorization, bool) {
	u := url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery, Host: r.Host, Scheme: "http"}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	clone := &http.Request{
		Method: r.Method,
		URL:    &u,
		Host:   r.Host,
		Header: make(http.Header, 8),
	}
	for _, name := range auth.signedHeaderNames() {
		switch name {
		case "host":
			// The signer takes Host from the request, not from Header
			// (net/http has moved it to r.Host as well).
		case "content-length":
			// The signer signs ContentLength, not the header, and only
			// when it is positive.
			clone.ContentLength = r.ContentLength
			if clone.ContentLength < 0 {
				clone.ContentLength = int64(len(body))
			}
		default:
			key := textproto.CanonicalMIMEHeaderKey(name)
			vals, ok := r.Header[key]
			if !ok {
				// A header named in SignedHeaders but absent from the
				// request cannot have been signed as sent.
				return authorization{}, false
			}
			// Copied: the signer rewrites X-Amz-Date in place.
			clone.Header[key] = append([]string(nil), vals...)
		}
	}

	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: auth.AccessKeyID, SecretAccessKey: secret}
	// A fresh signer per request: the SDK signer caches derived keys per
	// region and service, and both come from the client here, so a shared
	// cache would grow with whatever regions clients make up.
	err := v4.NewSigner().SignHTTP(context.Background(), creds, clone, hex.EncodeToString(sum[:]),
		auth.Service, auth.Region, signedAt)
	if err != nil {
		return authorization{}, false
	}
	got, perr := parseAuthorization(clone.Header.Get("Authorization"))
	if perr != nil {
		return authorization{}, false
	}
	return got, true
}
