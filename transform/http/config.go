package http

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/hydrantio/hydrant/internal/httpclient"
)

// DefaultMaxConnections is Config.MaxConnections's default.
const DefaultMaxConnections = 64

// MaxMaxConnections is the largest Config.MaxConnections.
const MaxMaxConnections = 10000

// Config says where the function is and how to reach it. The zero value
// of every field but URL is its default.
type Config struct {
	// URL is where events are POSTed, sent as configured with its path and
	// query: a Lambda function URL, an OpenWhisk web action (…/default/
	// action.json), a Knative service, any HTTP function. It must be
	// https:// unless its host is a loopback address (localhost,
	// 127.0.0.0/8, ::1) or AllowInsecureHTTP is set, and must not hold
	// credentials (user:password@), which would show wherever the URL
	// does: put them in Headers or BearerToken.
	URL string
	// AllowInsecureHTTP accepts an http:// URL to a host that is not a
	// loopback address, such as a cluster-local Knative service. Every
	// record and header then crosses the network in the clear.
	AllowInsecureHTTP bool
	// Headers are sent with every request as given, e.g. an API key
	// (X-Api-Key) or OpenWhisk's X-Require-Whisk-Auth. Their values are
	// secrets: never logged, left out of String, and blanked out of error
	// messages that quote the function's answer. Names must be HTTP
	// tokens, unique regardless of case; the headers Hydrant sets itself
	// (Content-Type, Content-Length, Content-Encoding, Transfer-Encoding,
	// Accept-Encoding, Host, Connection and the other hop-by-hop ones) are
	// refused. Values must not hold control characters.
	Headers map[string]string
	// BearerToken, when set, is sent as Authorization: Bearer <token>,
	// for functions behind OIDC or JWT authentication. It is a secret, as
	// header values are, and excludes an Authorization header in Headers.
	BearerToken string
	// CAFile names a PEM file of CA certificates trusted for the function
	// besides the system's: for a private CA. Certificates are always
	// verified unless InsecureSkipVerify is set.
	CAFile string
	// InsecureSkipVerify accepts any certificate from the function, which
	// lets anyone on the path read and change events, answers and
	// headers. It is for tests only; use CAFile for a private CA.
	// Default false: certificates are verified.
	InsecureSkipVerify bool
	// MaxConnections caps the connections open to the function at once,
	// and the idle ones kept for reuse: 1 to MaxMaxConnections; 0 means
	// DefaultMaxConnections. An invocation that finds them all busy waits
	// for one within its timeout. Over HTTP/2 one connection carries many
	// invocations at once.
	MaxConnections int
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	return c
}

// reservedHeaders are the headers Hydrant sets itself, or the transport
// does: a value from Headers would break the request or its framing.
// Accept-Encoding is among them because the transport undoes a gzip
// answer only when it asked for gzip itself.
var reservedHeaders = map[string]bool{
	"Content-Type":      true,
	"Content-Length":    true,
	"Content-Encoding":  true,
	"Transfer-Encoding": true,
	"Accept-Encoding":   true,
	"Host":              true,
	"Connection":        true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Te":                true,
	"Trailer":           true,
	"Upgrade":           true,
}

// Validate checks the config without touching the network or the file
// system: the URL, the headers and token, the TLS options and the
// connection limit. New calls it; the CA file is read by New. Its
// messages never hold a header's value or the token.
func (c Config) Validate() error {
	u, err := parseURL(c.URL)
	if err != nil {
		return err
	}
	if u.Scheme == "http" {
		switch {
		case c.CAFile != "":
			return fmt.Errorf("a CA file is set for the http function but its URL %s is not https://: use https://, or remove the CA file", httpclient.RedactURL(u))
		case c.InsecureSkipVerify:
			return fmt.Errorf("TLS verification is turned off for the http function but its URL %s is not https://: use https://, or turn verification back on", httpclient.RedactURL(u))
		case !c.AllowInsecureHTTP && !httpclient.IsLoopback(u.Hostname()):
			return fmt.Errorf("http function URL %s is http://: use https://, or allow plain HTTP explicitly (allow_insecure_http), which sends every record and header in the clear; http:// is accepted without it only for a loopback host", httpclient.RedactURL(u))
		}
	}
	if c.CAFile != "" && c.InsecureSkipVerify {
		return errors.New("the http function has a CA file and TLS verification turned off: the CA file would be ignored; keep one of the two")
	}
	names := make([]string, 0, len(c.Headers))
	for name := range c.Headers {
		names = append(names, name)
	}
	sort.Strings(names) // the same error for the same config
	seen := make(map[string]string, len(names))
	for _, name := range names {
		canon := http.CanonicalHeaderKey(name)
		switch {
		case name == "" || strings.IndexFunc(name, isNotTokenChar) >= 0:
			return fmt.Errorf("http function header name %q is not an HTTP token: use letters, digits and !#$%%&'*+-.^_`|~", name)
		case reservedHeaders[canon]:
			return fmt.Errorf("http function header %s is set by Hydrant: remove it from the headers", canon)
		case seen[canon] != "":
			return fmt.Errorf("http function headers %q and %q are the same header: keep one", seen[canon], name)
		case canon == "Authorization" && c.BearerToken != "":
			return errors.New("the http function has both a bearer token and an Authorization header: keep one")
		}
		if i := strings.IndexFunc(c.Headers[name], httpclient.IsCTL); i >= 0 {
			return fmt.Errorf("http function header %s has a control character at byte %d of its value: an HTTP header cannot carry it", canon, i)
		}
		seen[canon] = name
	}
	if i := strings.IndexFunc(c.BearerToken, httpclient.IsCTL); i >= 0 {
		return fmt.Errorf("the http function's bearer token has a control character at byte %d: an HTTP header cannot carry it", i)
	}
	if len(c.BearerToken) > len("Bearer ") && strings.EqualFold(c.BearerToken[:len("Bearer ")], "Bearer ") {
		return errors.New(`the http function's bearer token starts with "Bearer ": give the token alone; Hydrant sends "Authorization: Bearer <token>"`)
	}
	if c.MaxConnections < 0 || c.MaxConnections > MaxMaxConnections {
		return fmt.Errorf("http function max connections %d is out of range: use 1 to %d, or 0 for %d", c.MaxConnections, MaxMaxConnections, DefaultMaxConnections)
	}
	return nil
}

// parseURL checks a function URL: http or https, a host, no credentials
// and no fragment.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return nil, errors.New("the http function has no URL: set it to the function's https:// URL")
	case err != nil:
		var ue *url.Error // its message holds the URL, and maybe a key in it
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid http function URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("invalid http function URL %q: want https://host[:port]/path", s)
	case u.User != nil:
		return nil, errors.New("invalid http function URL: it holds credentials: put them in a header or the bearer token, which are kept secret")
	case u.Fragment != "":
		return nil, fmt.Errorf("invalid http function URL %s: it has a #fragment, which HTTP never sends", httpclient.RedactURL(u))
	}
	return u, nil
}

// isNotTokenChar reports whether r may not appear in an HTTP token
// (RFC 9110, section 5.6.2), such as a header name.
func isNotTokenChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// String shows the config without its secrets (header values, token and
// the URL's query), so printing a config never leaks them.
func (c Config) String() string {
	headers := make([]string, 0, len(c.Headers))
	for name := range c.Headers {
		headers = append(headers, name+":<secret>")
	}
	sort.Strings(headers)
	token := ""
	if c.BearerToken != "" {
		token = "<secret>"
	}
	u := c.URL
	if p, err := url.Parse(c.URL); err == nil {
		u = httpclient.RedactURL(p)
	}
	return fmt.Sprintf("{URL:%s AllowInsecureHTTP:%t Headers:[%s] BearerToken:%s CAFile:%s InsecureSkipVerify:%t MaxConnections:%d}",
		u, c.AllowInsecureHTTP, strings.Join(headers, " "), token, c.CAFile, c.InsecureSkipVerify, c.MaxConnections)
}
