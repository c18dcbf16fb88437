package sigv4

import (
	"strings"
)

// Algorithm is the only signing algorithm Verify accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// terminator ends every SigV4 credential scope.
const terminator = "aws4_request"

// authorization is a parsed SigV4 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature=…
type authorization struct {
	AccessKeyID string
	Date        string // YYYYMMDD from the credential scope
	Region      string
	Service     string
	// SignedHeaders is the header list exactly as the client sent it
	// (lowercase names joined by ';').
	SignedHeaders string
	Signature     string
}

// signedHeaderNames returns the names in SignedHeaders.
func (a *authorization) signedHeaderNames() []string {
	return strings.Split(a.SignedHeaders, ";")
}

// maxEcho caps how much of a client's own input an error message repeats.
const maxEcho = 128

func echo(s string) string {
	if len(s) > maxEcho {
		return s[:maxEcho] + "…"
	}
	return s
}

// parseAuthorization parses an Authorization header value. It returns a
// *Error with MissingAuthenticationTokenException when the header is not a
// SigV4 header at all, and IncompleteSignatureException when it is one but
// lacks a part or has a malformed one.
func parseAuthorization(h string) (authorization, *Error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, Algorithm)
	if !ok || (rest != "" && rest[0] != ' ') {
		return a, errMissingToken
	}
	var credential string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, incomplete("Invalid key=value pair (missing equal-sign) in Authorization header.")
		}
		switch k {
		case "Credential":
			if haveCred {
				return a, incomplete("Authorization header has more than one 'Credential' parameter.")
			}
			credential, haveCred = v, true
		case "SignedHeaders":
			if haveSigned {
				return a, incomplete("Authorization header has more than one 'SignedHeaders' parameter.")
			}
			a.SignedHeaders, haveSigned = v, true
		case "Signature":
			if haveSig {
				return a, incomplete("Authorization header has more than one 'Signature' parameter.")
			}
			a.Signature, haveSig = v, true
		default:
			// AWS ignores parameters it does not know; so do we.
		}
	}
	var missing []string
	if !haveCred {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSig {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !haveSigned {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if len(missing) > 0 {
		return a, incomplete(strings.Join(missing, " "))
	}

	parts := strings.Split(credential, "/")
	if len(parts) != 5 {
		return a, incomplete("Credential must have the form ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request, not '" + echo(credential) + "'.")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	if parts[4] != terminator {
		return a, incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '" + echo(parts[4]) + "'.")
	}
	if a.AccessKeyID == "" {
		return a, incomplete("Credential should name an access key ID.")
	}
	if !isDate(a.Date) {
		return a, incomplete("Credential should be scoped to a date in the form YYYYMMDD, not '" + echo(a.Date) + "'.")
	}
	if a.Region == "" {
		return a, incomplete("Credential should be scoped to a valid region, not ''.")
	}
	if a.Service == "" {
		return a, incomplete("Credential should be scoped to a service, not ''.")
	}
	if a.SignedHeaders == "" {
		return a, incomplete("Authorization header requires a non-empty 'SignedHeaders' parameter.")
	}
	hasHost := false
	for name := range strings.SplitSeq(a.SignedHeaders, ";") {
		if name == "" {
			return a, incomplete("SignedHeaders must be header names separated by ';', not '" + echo(a.SignedHeaders) + "'.")
		}
		if name == "host" {
			hasHost = true
		}
	}
	if !hasHost {
		return a, incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if a.Signature == "" {
		return a, incomplete("Authorization header requires a non-empty 'Signature' parameter.")
	}
	return a, nil
}

func isDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
