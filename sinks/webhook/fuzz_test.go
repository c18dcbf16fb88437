package webhook

import (
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"
)

// fuzzID is the request id the fuzzed responses answer.
const fuzzID = "3f2b8c1e-9a4d-8e7f-b012-3456789abcde"

// FuzzResponse checks the response judge on any status, content type and
// body: it never panics, it calls a response a success only when it is a
// 200 of application/json whose body parses with the request's id, only a
// 413 is permanent, and its messages stay short valid UTF-8. The committed
// corpus is in testdata/fuzz/FuzzResponse.
func FuzzResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"requestId":"`+fuzzID+`","timestamp":1578090903599}`))
	f.Add(500, "application/json", []byte(`{"requestId":"`+fuzzID+`","timestamp":"1578090903599","errorMessage":"Unable to deliver records due to unknown error."}`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		h := http.Header{"Content-Type": {contentType}}
		o := judge(status, h, body, false, fuzzID)
		r, perr := parseResponse(body)
		if o.ok {
			if status != 200 || perr != nil || r.RequestID != fuzzID {
				t.Fatalf("judge(%d, %q, %q) = success; parse = %+v, %v", status, contentType, body, r, perr)
			}
			if o.msg != "" || o.code != "" || o.permanent {
				t.Fatalf("judge(%d, %q, %q) = %+v: a success with a failure's fields", status, contentType, body, o)
			}
		} else {
			if o.code == "" || o.msg == "" {
				t.Fatalf("judge(%d, %q, %q) = %+v: a failure without code or message", status, contentType, body, o)
			}
			if len(o.msg) > maxErrorMessage || !utf8.ValidString(o.msg) {
				t.Fatalf("judge(%d, %q, %q): message of %d bytes, valid UTF-8 %t", status, contentType, body, len(o.msg), utf8.ValidString(o.msg))
			}
		}
		if o.permanent != (status == 413) {
			t.Fatalf("judge(%d, …) permanent = %t", status, o.permanent)
		}
		if perr != nil {
			return
		}
		// What parses survives a round trip through its own encoding.
		fields := map[string]any{"requestId": r.RequestID, "timestamp": r.Timestamp}
		if r.HasMessage {
			fields["errorMessage"] = r.ErrorMessage
		}
		again, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := parseResponse(again)
		if err != nil || r2 != r {
			t.Fatalf("parseResponse(%q) = %+v; its re-encoding %s parses as %+v, %v", body, r, again, r2, err)
		}
	})
}
