package builtin

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// gz gzips each part as a member of its own, one after the other, with
// the standard library's writer: what CloudWatch Logs and gzip -c send.
func gz(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	var b bytes.Buffer
	for _, p := range parts {
		w := gzip.NewWriter(&b)
		if _, err := io.WriteString(w, p); err != nil {
			tb.Fatal(err)
		}
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestGunzip(t *testing.T) {
	hello := gz(t, "hello, world\n")
	flipped := bytes.Clone(hello)
	flipped[len(flipped)-6] ^= 1 // in the CRC-32
	long := strings.Repeat("log line\n", 1000)
	for _, tt := range []struct {
		name    string
		dst     string
		src     []byte
		max     int
		want    string
		code    string // the *Error's, or "" for none
		message string // part of the error message
	}{
		{name: "one member", src: hello, max: 100, want: "hello, world\n"},
		{name: "appends", dst: "prefix:", src: hello, max: 100, want: "prefix:hello, world\n"},
		{name: "members", src: gz(t, "ab", "", "cd"), max: 100, want: "abcd"},
		{name: "empty content", src: gz(t, ""), max: 0, want: ""},
		{name: "long", src: gz(t, long), max: len(long), want: long},
		{name: "long from the end of dst", dst: "x", src: gz(t, long, long), max: 2 * len(long), want: "x" + long + long},
		{name: "exactly the limit", src: hello, max: 13, want: "hello, world\n"},
		{name: "a byte over the limit", dst: "keep", src: hello, max: 12, want: "keep", code: CodeTooLarge, message: "more than 12 bytes"},
		{name: "limit 0", src: hello, max: 0, code: CodeTooLarge},
		{name: "members over the limit", src: gz(t, long, long), max: len(long) + 1, code: CodeTooLarge},
		{name: "empty", src: nil, max: 100, code: CodeNotGzip, message: "empty"},
		{name: "plain text", dst: "keep", src: []byte(`{"a":1}`), max: 100, want: "keep", code: CodeNotGzip, message: "starts 7b 22"},
		{name: "one byte of magic", src: hello[:1], max: 100, code: CodeNotGzip},
		{name: "magic only", src: hello[:2], max: 100, code: CodeNotGzip, message: "cut short"},
		{name: "header only", src: hello[:10], max: 100, code: CodeNotGzip, message: "cut short"},
		{name: "no trailer", src: hello[:len(hello)-8], max: 100, code: CodeNotGzip, message: "cut short"},
		{name: "half a trailer", src: hello[:len(hello)-3], max: 100, code: CodeNotGzip, message: "cut short"},
		{name: "bad checksum", src: flipped, max: 100, code: CodeNotGzip, message: "checksum"},
		{name: "bad method", src: append([]byte{0x1f, 0x8b, 7}, hello[3:]...), max: 100, code: CodeNotGzip, message: "header"},
		{name: "garbage after", src: append(bytes.Clone(hello), "a line after the member"...), max: 100, code: CodeNotGzip, message: "after the last gzip member"},
		{name: "a few bytes after", src: append(bytes.Clone(hello), "tail"...), max: 100, code: CodeNotGzip},
		{name: "a next member cut short in its name", src: append(bytes.Clone(hello), 0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 0xff, 'l', 'o', 'g'), max: 100, code: CodeNotGzip, message: "cut short"},
		{name: "zeros after", src: append(bytes.Clone(hello), 0, 0, 0, 0), max: 100, code: CodeNotGzip},
		{name: "corrupt deflate", src: append(append(bytes.Clone(hello[:10]), 0xff, 0xff, 0xff), hello[len(hello)-8:]...), max: 100, code: CodeNotGzip, message: "corrupt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Gunzip([]byte(tt.dst), tt.src, tt.max)
			var e *Error
			switch {
			case tt.code == "" && err != nil:
				t.Fatalf("Gunzip(%q) = %v; want %q", tt.src, err, tt.want)
			case tt.code != "" && (!errors.As(err, &e) || e.Code != tt.code):
				t.Fatalf("Gunzip(%q) = %q, %v; want an error of code %s", tt.src, got, err, tt.code)
			case tt.code != "" && !strings.Contains(err.Error(), tt.message):
				t.Fatalf("Gunzip(%q) = %v; want a message with %q", tt.src, err, tt.message)
			case tt.code != "" && string(got) != tt.dst:
				t.Fatalf("Gunzip(%q) = %q, %v; want dst as it was, %q", tt.src, got, err, tt.dst)
			case tt.code == "" && string(got) != tt.want:
				t.Fatalf("Gunzip(%q) = %q; want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestGunzipNegativeLimit(t *testing.T) {
	_, err := Gunzip(nil, gz(t, "x"), -1)
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("Gunzip with limit -1 = %v; want a plain error, not a record's", err)
	}
}

// TestGunzipBomb decompresses 256 MiB of zeros, 256 KiB compressed (a
// 1 MiB member 256 times, cheap to make), under a 1 MiB limit: it must
// fail having allocated about the limit, not the content.
func TestGunzipBomb(t *testing.T) {
	var member bytes.Buffer
	w, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	w.Write(make([]byte, 1<<20))
	w.Close()
	bomb := bytes.Repeat(member.Bytes(), 256)
	// A trailer that lies, claiming 4 GiB - 1 bytes, must not make Gunzip
	// allocate for them either.
	liar := bytes.Clone(bomb)
	copy(liar[len(liar)-4:], []byte{0xff, 0xff, 0xff, 0xff})
	for _, src := range [][]byte{bomb, liar} {
		const limit = 1 << 20
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Gunzip(nil, src, limit)
		runtime.ReadMemStats(&after)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeTooLarge {
			t.Fatalf("Gunzip(a %d-byte bomb) = %v; want %s", len(src), err, CodeTooLarge)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 4*limit {
			t.Errorf("Gunzip(a %d-byte bomb) allocated %d bytes under a limit of %d", len(src), n, limit)
		}
	}
}

// TestGunzipReuse checks that Gunzip into a dst with room does not
// allocate once its readers are pooled.
func TestGunzipReuse(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	src := gz(t, strings.Repeat("log line\n", 1000))
	dst := make([]byte, 0, 16<<10)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = Gunzip(dst[:0], src, 1<<20); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("Gunzip into a dst with room made %.1f allocations; want 0", allocs)
	}
}
