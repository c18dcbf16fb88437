package sigv4

import (
	"strings"
	"testing"
)

// FuzzParseAuthorization checks that the Authorization header parser never
// panics, answers only its two codes, and that what it accepts is complete.
// The seed corpus is in testdata/fuzz/FuzzParseAuthorization.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			if err.Code != CodeMissingAuthenticationToken && err.Code != CodeIncompleteSignature {
				t.Fatalf("parseAuthorization(%q) code %q", h, err.Code)
			}
			if err.Message == "" {
				t.Fatalf("parseAuthorization(%q) has an empty message", h)
			}
			return
		}
		if !strings.HasPrefix(h, Algorithm) {
			t.Fatalf("parseAuthorization(%q) accepted a header without %s", h, Algorithm)
		}
		if a.AccessKeyID == "" || !isDate(a.Date) || a.Region == "" || a.Service == "" || a.Signature == "" {
			t.Fatalf("parseAuthorization(%q) = %+v: incomplete", h, a)
		}
		hasHost := false
		for _, n := range a.signedHeaderNames() {
			if n == "" {
				t.Fatalf("parseAuthorization(%q) = %+v: empty header name", h, a)
			}
			hasHost = hasHost || n == "host"
		}
		if !hasHost {
			t.Fatalf("parseAuthorization(%q) = %+v: host not signed", h, a)
		}
	})
}
