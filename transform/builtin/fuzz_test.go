package builtin

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzGunzip decompresses arbitrary bytes under a large and a small limit
// and checks Gunzip against the standard library's reader: both accept
// the same records with the same content, within the limit; a record over
// the limit is one the standard library reads more than the limit of (or
// a corrupt one); and dst's bytes before the content never change.
func FuzzGunzip(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		gz(f, ""),
		gz(f, "hello, world\n"),
		gz(f, "ab", "cd"),
		gz(f, string(cwRecord(f, "DATA_MESSAGE", "a", "b"))),
		append(gz(f, "x"), "trailing"...),
		[]byte("not gzip"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, limit := range []int{1 << 20, 16} {
			got, err := Gunzip([]byte("pre"), src, limit)
			if !bytes.HasPrefix(got, []byte("pre")) {
				t.Fatalf("Gunzip(%q, %d) changed dst's prefix: %q", src, limit, got)
			}
			got = got[3:]
			want, wantErr := referenceGunzip(src, limit)
			var e *Error
			switch {
			case err == nil && wantErr == nil:
				if !bytes.Equal(got, want) {
					t.Fatalf("Gunzip(%q, %d) = %q; the standard library reads %q", src, limit, got, want)
				}
			case err != nil && !errors.As(err, &e):
				t.Fatalf("Gunzip(%q, %d) = %v; want an *Error", src, limit, err)
			case err != nil && len(got) != 0:
				t.Fatalf("Gunzip(%q, %d) = %q, %v; want dst as it was", src, limit, got, err)
			case (err == nil) != (wantErr == nil):
				t.Fatalf("Gunzip(%q, %d) = %q, %v; the standard library: %q, %s", src, limit, got, err, want, wantErr.Code)
			case e.Code != wantErr.Code:
				// A corrupt record over the limit may fail either way:
				// which one a reader sees first depends on how far
				// ahead it decodes.
				if _, whole := referenceGunzip(src, 64<<20); whole == nil || whole.Code != CodeNotGzip {
					t.Fatalf("Gunzip(%q, %d) = %v; the standard library: %s", src, limit, err, wantErr.Code)
				}
			}
		}
	})
}

// referenceGunzip is Gunzip after the standard library's gzip reader,
// member by member, with the check of RFC 1952 it leaves out: the
// reserved bits of a header's flags must be 0.
func referenceGunzip(src []byte, limit int) ([]byte, *Error) {
	notGzip, tooLarge := &Error{Code: CodeNotGzip}, &Error{Code: CodeTooLarge}
	br := bytes.NewReader(src)
	var zr gzip.Reader
	var out []byte
	for first := true; first || br.Len() > 0; first = false {
		if hdr := src[len(src)-br.Len():]; len(hdr) > 3 && hdr[3]&0xe0 != 0 {
			return nil, notGzip
		}
		if err := zr.Reset(br); err != nil {
			return nil, notGzip
		}
		zr.Multistream(false)
		b, err := io.ReadAll(io.LimitReader(&zr, int64(limit-len(out))+1))
		out = append(out, b...)
		switch {
		case len(out) > limit:
			return nil, tooLarge
		case err != nil:
			return nil, notGzip
		}
	}
	return out, nil
}

// FuzzExtractMessages feeds arbitrary bytes to ExtractMessages. It must
// not panic; it fails only with CodeNotCloudWatchLogs and only before
// emitting anything; a control record emits nothing; every message is
// valid UTF-8 (JSON strings are); and a record rebuilt from the messages
// yields them again.
func FuzzExtractMessages(f *testing.F) {
	for _, seed := range []string{
		string(cwRecord(f, "DATA_MESSAGE", `{"eventVersion":"1.03"}`, "plain\n", "")),
		controlRecord,
		`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"\u00e9\ud83d\ude00\/\n\\\""}]}`,
		`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"2"}]}`,
		`{"messageType":"OTHER"}`,
		`{"messagetype":"DATA_MESSAGE","LOGEVENTS":[{"Message":"case"}]}`,
		`[]`,
		"\x1f\x8b",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []string
		control, err := ExtractMessages(data, func(msg []byte) error {
			got = append(got, string(msg))
			return nil
		})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeNotCloudWatchLogs {
				t.Fatalf("ExtractMessages(%q) = %v; want an *Error of code %s", data, err, CodeNotCloudWatchLogs)
			}
			if got != nil || control {
				t.Fatalf("ExtractMessages(%q) emitted %q, control %t, then failed", data, got, control)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("ExtractMessages(%q) accepted invalid JSON", data)
		}
		if control {
			if got != nil {
				t.Fatalf("ExtractMessages(%q) emitted %q from a control record", data, got)
			}
			return
		}
		for _, m := range got {
			if !utf8.ValidString(m) {
				t.Fatalf("ExtractMessages(%q) emitted %q, not UTF-8", data, m)
			}
		}
		var again []string
		if _, err := ExtractMessages(cwRecord(t, MessageTypeData, got...), func(msg []byte) error {
			again = append(again, string(msg))
			return nil
		}); err != nil || !slices.Equal(again, got) {
			t.Fatalf("rebuilt from %q, ExtractMessages = %q, %v", got, again, err)
		}
	})
}
