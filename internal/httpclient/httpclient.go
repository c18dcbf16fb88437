// Package httpclient holds what Hydrant's HTTP clients share: the
// webhook sink (sinks/webhook) and the http transformation runtime
// (transform/http) both POST to a URL a user configures, over TLS
// verified against the system's CAs and an optional CA file.
package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Transport returns a clone of Go's default transport whose TLS verifies
// certificates against the system's CAs and caFile's, unless insecure.
// what names the client in errors about the CA file ("webhook", "http
// function's").
func Transport(caFile string, insecure bool, what string) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if caFile == "" {
		return tr, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the %s CA file: %w", what, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool() // no system pool: the file's CAs only
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the %s CA file %s holds no PEM certificate: want one or more -----BEGIN CERTIFICATE----- blocks", what, caFile)
	}
	tr.TLSClientConfig.RootCAs = pool
	return tr, nil
}

// IsLoopback reports whether host names this machine only.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsCTL reports whether r is a control character HTTP field values must
// not hold.
func IsCTL(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// RedactURL returns u without its query, which may carry a token or a
// key (as Azure's ?code= does), for messages and logs.
func RedactURL(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.RawQuery != "" {
		return r.String() + "?…"
	}
	return r.String()
}
