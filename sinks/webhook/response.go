package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error codes of a failed request, as Firehose names them in its logs and
// error output (its "Troubleshooting HTTP endpoints" page), and one of
// Hydrant's own.
const (
	// CodeDestinationException: the endpoint answered a status other
	// than 200.
	CodeDestinationException = "HttpEndpoint.DestinationException"
	// CodeInvalidResponse: a 200 whose body or headers break the response
	// format (not JSON, unknown fields, no or another requestId, no
	// integer timestamp, not application/json, content-encoded).
	CodeInvalidResponse = "HttpEndpoint.InvalidResponseFromDestination"
	// CodeRequestTimeout: no whole response within the request timeout.
	CodeRequestTimeout = "HttpEndpoint.RequestTimeout"
	// CodeResponseTooLarge: a response body over 1 MiB.
	CodeResponseTooLarge = "HttpEndpoint.ResponseTooLarge"
	// CodeConnectionFailed: no connection could be made.
	CodeConnectionFailed = "HttpEndpoint.ConnectionFailed"
	// CodeConnectionReset: the connection broke before a whole response.
	CodeConnectionReset = "HttpEndpoint.ConnectionReset"
	// CodeSSLHandshakeFailure: the TLS handshake failed, a certificate
	// that does not verify included.
	CodeSSLHandshakeFailure = "HttpEndpoint.SSLHandshakeFailure"
	// CodeRecordTooLarge (Hydrant's): one record does not fit in
	// MaxBytesPerRequest, so it was never sent.
	CodeRecordTooLarge = "HttpEndpoint.RecordTooLarge"
)

const (
	// maxResponseBytes is the protocol's limit on a response body.
	maxResponseBytes = 1 << 20
	// maxErrorMessage is the longest errorMessage the protocol allows,
	// and the longest message an attempt reports.
	maxErrorMessage = 8192
	// maxRawShown is how much of a body that is not a Firehose response
	// a message quotes.
	maxRawShown = 512
)

// outcome is what one attempt came to.
type outcome struct {
	ok        bool
	permanent bool   // no retry: 413
	status    int    // 0 without a response
	code      string // one of the Code constants, when not ok
	msg       string // bounded, valid UTF-8
}

// response is a parsed response body.
type response struct {
	RequestID    string
	Timestamp    int64
	ErrorMessage string
	HasMessage   bool
}

// parseResponse parses a response body strictly, as Firehose does: a JSON
// object of requestId (a string), timestamp (an integer, not a string)
// and optionally errorMessage (a string of up to 8,192 characters), with
// no other field; requestId and timestamp are required.
func parseResponse(body []byte) (response, error) {
	var r response
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return r, fmt.Errorf("not a JSON object: %v", err)
	}
	if fields == nil {
		return r, errors.New("not a JSON object: null")
	}
	if _, err := dec.Token(); err == nil {
		return r, errors.New("data after the JSON object")
	}
	var haveID, haveTS bool
	for k, v := range fields {
		switch k {
		case "requestId":
			if err := json.Unmarshal(v, &r.RequestID); err != nil || v[0] != '"' {
				return r, errors.New("requestId is not a string")
			}
			haveID = true
		case "timestamp":
			ts, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return r, fmt.Errorf("timestamp %.40q is not an integer", v)
			}
			r.Timestamp, haveTS = ts, true
		case "errorMessage":
			if err := json.Unmarshal(v, &r.ErrorMessage); err != nil || v[0] != '"' {
				return r, errors.New("errorMessage is not a string")
			}
			if utf8.RuneCountInString(r.ErrorMessage) > maxErrorMessage {
				return r, fmt.Errorf("errorMessage is over %d characters", maxErrorMessage)
			}
			r.HasMessage = true
		default:
			return r, fmt.Errorf("unexpected field %.80q", k)
		}
	}
	switch {
	case !haveID:
		return r, errors.New("no requestId")
	case !haveTS:
		return r, errors.New("no timestamp")
	}
	return r, nil
}

// judge decides what a response to the request wantID means: success only
// for a 200 that conforms (application/json, not content-encoded, a body
// parseResponse accepts with requestId wantID); 413 is permanent; anything
// else is retried. truncated says the body went past maxResponseBytes.
func judge(status int, h http.Header, body []byte, truncated bool, wantID string) (o outcome) {
	defer func() { o.msg = bound(o.msg) }()
	o.status = status
	if status != http.StatusOK {
		o.code = CodeDestinationException
		o.permanent = status == http.StatusRequestEntityTooLarge
		o.msg = errorMessage(status, body, truncated)
		return o
	}
	o.code = CodeInvalidResponse
	if truncated {
		o.code = CodeResponseTooLarge
		o.msg = fmt.Sprintf("200: the response body is over %d bytes", maxResponseBytes)
		return o
	}
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err != nil || mt != "application/json" {
		o.msg = fmt.Sprintf("200: Content-Type is %s, not application/json", quote(h.Get("Content-Type")))
		return o
	}
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		o.msg = fmt.Sprintf("200: the response is content-encoded (%s), which the protocol forbids", quote(ce))
		return o
	}
	r, err := parseResponse(body)
	switch {
	case err != nil:
		o.msg = fmt.Sprintf("200: the body is not a Firehose response (%v): %s", err, quote(string(body)))
	case r.RequestID != wantID:
		o.msg = fmt.Sprintf("200: the response's requestId %s is not the request's %s", quote(r.RequestID), wantID)
	default:
		return outcome{ok: true, status: status}
	}
	return o
}

// errorMessage is the message of a response that is not a 200: its
// errorMessage when it has one, which Firehose copies to the error output,
// or the start of the body.
func errorMessage(status int, body []byte, truncated bool) string {
	if !truncated {
		if r, err := parseResponse(body); err == nil && r.HasMessage && r.ErrorMessage != "" {
			return bound(fmt.Sprintf("%d: %s", status, r.ErrorMessage))
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Sprintf("%d %s", status, http.StatusText(status))
	}
	return fmt.Sprintf("%d: %s", status, quote(string(body)))
}

// transportOutcome classifies an attempt that got no whole response.
// timedOut says the attempt's own deadline passed.
func transportOutcome(err error, timedOut bool) outcome {
	o := outcome{msg: bound(err.Error())}
	var (
		certErr   *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		alert     tls.AlertError
		recordErr tls.RecordHeaderError
		opErr     *net.OpError
	)
	switch {
	case timedOut || errors.Is(err, context.DeadlineExceeded):
		o.code = CodeRequestTimeout
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &alert), errors.As(err, &recordErr):
		o.code = CodeSSLHandshakeFailure
	case errors.As(err, &opErr) && opErr.Op == "dial":
		o.code = CodeConnectionFailed
	default:
		o.code = CodeConnectionReset
	}
	return o
}

// quote shows up to maxRawShown bytes of s, quoted, so a message stays
// short, printable and valid UTF-8.
func quote(s string) string {
	if len(s) > maxRawShown {
		s = strings.ToValidUTF8(s[:maxRawShown], "") + "…"
	}
	return strconv.Quote(s)
}

// bound cuts s to maxErrorMessage bytes of valid UTF-8.
func bound(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxErrorMessage {
		return s
	}
	s = s[:maxErrorMessage]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
