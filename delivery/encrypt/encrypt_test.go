package encrypt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// plaintext returns n deterministic pseudo-random bytes.
func plaintext(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// seal encrypts plain as one object with w, reset to a new buffer, in
// writes of the sizes step returns.
func seal(t testing.TB, w *Writer, plain []byte, step func() int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := w.Reset(&buf); err != nil {
		t.Fatal(err)
	}
	for p := plain; len(p) > 0; {
		n := min(step(), len(p))
		if m, err := w.Write(p[:n]); m != n || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", n, m, err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// open decrypts obj with Read calls and returns what it read before any
// error.
func open(obj []byte, kr *Keyring) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(obj), kr)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// sealedLen is the size of the object of n bytes of plaintext under key id.
func sealedLen(id string, n int) int {
	chunks := max(1, (n+chunkSize-1)/chunkSize)
	return fixedHdrLen + len(id) + prefixSize + wrappedSize + n + chunks*tagSize
}

func TestRoundTrip(t *testing.T) {
	kr := testKeyring(t, "k1")
	w, err := NewWriter(io.Discard, kr)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 100, chunkSize - 1, chunkSize, chunkSize + 1, 2 * chunkSize, 3*chunkSize + 7, 5<<20 + 3}
	steps := map[string]func() int{
		"one write": func() int { return 1 << 30 },
		"1000-byte": func() int { return 1000 },
		"chunk":     func() int { return chunkSize },
		"random":    func() int { return rand.IntN(3 * chunkSize) },
	}
	for _, n := range sizes {
		plain := plaintext(n, 1)
		for name, step := range steps {
			obj := seal(t, w, plain, step)
			if len(obj) != sealedLen("k1", n) {
				t.Errorf("%d bytes in %s writes: object of %d bytes; want %d", n, name, len(obj), sealedLen("k1", n))
			}
			if !IsEncrypted(obj) {
				t.Errorf("%d bytes: IsEncrypted(object) = false", n)
			}
			got, err := open(obj, kr)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%d bytes in %s writes: read back %d bytes, %v; want the %d bytes written", n, name, len(got), err, n)
			}
		}
		// WriteTo, and a source that returns one byte at a time.
		obj := seal(t, w, plain, steps["random"])
		r, err := NewReader(iotest.OneByteReader(bytes.NewReader(obj)), kr)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if m, err := io.Copy(&out, r); err != nil || m != int64(n) || !bytes.Equal(out.Bytes(), plain) {
			t.Errorf("%d bytes: io.Copy from a one-byte source = %d, %v; want the %d bytes written", n, m, err, n)
		}
		if n < 3*chunkSize {
			r, _ := NewReader(bytes.NewReader(obj), kr)
			if err := iotest.TestReader(r, plain); err != nil {
				t.Errorf("%d bytes: %v", n, err)
			}
		}
	}
}

func TestFreshDataKey(t *testing.T) {
	kr := testKeyring(t, "k1")
	w, _ := NewWriter(io.Discard, kr)
	plain := []byte("the same records, delivered twice")
	a := seal(t, w, plain, func() int { return 100 })
	b := seal(t, w, plain, func() int { return 100 })
	if bytes.Equal(a, b) {
		t.Fatal("two objects of the same plaintext are identical; want a new data key and nonce each")
	}
	h := sealedLen("k1", 0) - tagSize // header length
	if bytes.Equal(a[h-wrappedSize:h], b[h-wrappedSize:h]) || bytes.Equal(a[h-wrappedSize-prefixSize:h-wrappedSize], b[h-wrappedSize-prefixSize:h-wrappedSize]) {
		t.Error("two objects share a wrapped key or nonce prefix")
	}
}

func TestRotation(t *testing.T) {
	k1 := "k1:" + testKey("k1", 0)
	old, _ := ParseKeys([]byte(k1), "keys.txt")
	rotated, err := ParseKeys([]byte(k1+"\nk2:"+testKey("k2", 0)+"\n"), "keys.txt")
	if err != nil {
		t.Fatal(err)
	}
	plain := plaintext(3*chunkSize, 2)
	w, _ := NewWriter(io.Discard, old)
	before := seal(t, w, plain, func() int { return 4096 })
	w, _ = NewWriter(io.Discard, rotated)
	after := seal(t, w, plain, func() int { return 4096 })

	if id := headerKeyID(before); id != "k1" {
		t.Errorf("object written before rotation names key %q; want k1", id)
	}
	if id := headerKeyID(after); id != "k2" {
		t.Errorf("object written after rotation names key %q; want k2", id)
	}
	for _, tt := range []struct {
		name string
		obj  []byte
		kr   *Keyring
	}{{"old object, old keys", before, old}, {"old object, new keys", before, rotated}, {"new object, new keys", after, rotated}} {
		if got, err := open(tt.obj, tt.kr); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %d bytes, %v; want the plaintext", tt.name, len(got), err)
		}
	}
	_, err = open(after, old)
	var uerr *UnknownKeyError
	if !errors.As(err, &uerr) || uerr.ID != "k2" {
		t.Errorf("new object, old keys: %v; want *UnknownKeyError for k2", err)
	}
}

func headerKeyID(obj []byte) string {
	return string(obj[fixedHdrLen : fixedHdrLen+int(obj[fixedHdrLen-1])])
}

func TestWrongKey(t *testing.T) {
	w, _ := NewWriter(io.Discard, testKeyring(t, "k0", "k1"))
	obj := seal(t, w, []byte("secret"), func() int { return 6 })
	other, _ := ParseKeys([]byte("k1:"+testKey("k1", 1)), "keys.txt")
	_, err := NewReader(bytes.NewReader(obj), other)
	var werr *WrongKeyError
	if !errors.As(err, &werr) || werr.ID != "k1" {
		t.Fatalf("NewReader with another key under the id: %v; want *WrongKeyError", err)
	}
	if want := `master key "k1" does not open this object: wrong key for that id?`; err.Error() != want {
		t.Errorf("wrong key error = %q; want %q", err, want)
	}
}

func TestUnknownKey(t *testing.T) {
	w, _ := NewWriter(io.Discard, testKeyring(t, "k1"))
	obj := seal(t, w, []byte("secret"), func() int { return 6 })
	_, err := NewReader(bytes.NewReader(obj), testKeyring(t, "k2", "k3"))
	var uerr *UnknownKeyError
	if !errors.As(err, &uerr) || uerr.ID != "k1" {
		t.Fatalf("NewReader without the key: %v; want *UnknownKeyError for k1", err)
	}
	for _, want := range []string{`master key "k1"`, `"k2", "k3"`, "test keys", "k1:<base64 key>"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("unknown key error %q does not say %q", err, want)
		}
	}
}

// checkCorrupt checks that obj fails to decrypt with an ErrCorrupt whose
// message contains want, and that what was read before the error is a
// prefix of plain and shorter than it.
func checkCorrupt(t *testing.T, what string, obj, plain []byte, kr *Keyring, want string) {
	t.Helper()
	got, err := open(obj, kr)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v; want ErrCorrupt saying %q", what, err, want)
	}
	if len(got) >= len(plain) && len(plain) > 0 || !bytes.HasPrefix(plain, got) {
		t.Errorf("%s: read %d bytes before the error; want a shorter prefix of the %d bytes", what, len(got), len(plain))
	}
}

func TestTruncated(t *testing.T) {
	kr := testKeyring(t, "k1")
	w, _ := NewWriter(io.Discard, kr)
	for _, n := range []int{0, 10, chunkSize, 3*chunkSize + 5} {
		plain := plaintext(n, 3)
		obj := seal(t, w, plain, func() int { return 5000 })
		hdr := sealedLen("k1", 0) - tagSize
		// Every chunk boundary, and points inside chunks and the header.
		cuts := map[int]string{}
		for c := hdr; c < len(obj); c += encChunkSize {
			cuts[c] = "truncated"
			if c > hdr {
				cuts[c-1] = "fails authentication"
			}
			cuts[c+1] = "truncated"
			cuts[c+tagSize-1] = "truncated"
		}
		cuts[hdr] = "without chunks"
		cuts[len(obj)-1] = "fails authentication"
		if n == 0 {
			cuts[len(obj)-1] = "truncated" // 15 bytes of a 16-byte chunk
		}
		for cut, want := range cuts {
			if cut >= len(obj) {
				continue
			}
			checkCorrupt(t, fmt.Sprintf("%d-byte object cut at byte %d of %d", n, cut, len(obj)), obj[:cut], plain, kr, want)
		}
		for cut := 0; cut < hdr; cut++ {
			_, err := open(obj[:cut], kr)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "header") && cut > 0 {
				t.Errorf("object cut at byte %d in the header: %v; want ErrCorrupt about the header", cut, err)
			}
		}
		// After a full last chunk, the reader can tell extension from damage.
		want := "fails authentication"
		if n == chunkSize {
			want = "chunk 0 (byte 75) is the last chunk, but more bytes follow it"
		}
		checkCorrupt(t, fmt.Sprintf("%d-byte object with a byte appended", n), append(bytes.Clone(obj), 0), plain, kr, want)
	}
}

func TestFlippedBytes(t *testing.T) {
	kr := testKeyring(t, "k1", "k2")
	w, _ := NewWriter(io.Discard, kr)
	plain := plaintext(2*chunkSize+100, 4)
	obj := seal(t, w, plain, func() int { return 1 << 20 })
	for i := 0; i < len(obj); i += 1 + i/100 {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(obj)
			bad[i] ^= bit
			got, err := open(bad, kr)
			if err == nil || bytes.Equal(got, plain) {
				t.Fatalf("bit %#x of byte %d flipped: read %d bytes, %v; want an error", bit, i, len(got), err)
			}
			if !bytes.HasPrefix(plain, got) {
				t.Fatalf("bit %#x of byte %d flipped: read bytes that are not the plaintext", bit, i)
			}
		}
	}
}

func TestReorderedChunks(t *testing.T) {
	kr := testKeyring(t, "k1")
	w, _ := NewWriter(io.Discard, kr)
	plain := plaintext(3*chunkSize+10, 5)
	obj := seal(t, w, plain, func() int { return 1 << 20 })
	hdr := sealedLen("k1", 0) - tagSize
	chunk := func(i int) []byte { return obj[hdr+i*encChunkSize : min(hdr+(i+1)*encChunkSize, len(obj))] }
	join := func(order ...int) []byte {
		b := bytes.Clone(obj[:hdr])
		for _, i := range order {
			b = append(b, chunk(i)...)
		}
		return b
	}
	other := seal(t, w, plain, func() int { return 1 << 20 }) // same plaintext, other data key
	tests := []struct {
		name string
		obj  []byte
		want string
	}{
		{"swapped 0 and 1", join(1, 0, 2, 3), "chunk 0 (65552 bytes at byte 75) fails authentication"},
		{"swapped 1 and 2", join(0, 2, 1, 3), "chunk 1 "},
		{"dropped 1", join(0, 2, 3), "chunk 1 "},
		{"dropped the last", join(0, 1, 2), "which is not the last chunk: truncated"},
		{"duplicated 0", join(0, 0, 1, 2, 3), "chunk 1 "},
		{"last moved first", join(3, 0, 1, 2), "chunk 0 "},
		{"a chunk of another object", append(join(0), other[hdr+encChunkSize:]...), "chunk 1 "},
		{"another object's header", append(bytes.Clone(other[:hdr]), obj[hdr:]...), "chunk 0 "},
		{"another object appended", append(bytes.Clone(obj), other[hdr:]...), "chunk 3 "},
		{"another object's chunk appended", append(join(0, 1, 2), other[hdr+3*encChunkSize:]...), "chunk 3 "},
	}
	for _, tt := range tests {
		checkCorrupt(t, tt.name, tt.obj, plain, kr, tt.want)
	}
}

func TestHeaderTampering(t *testing.T) {
	kr := testKeyring(t, "k2", "k1")
	w, _ := NewWriter(io.Discard, kr)
	obj := seal(t, w, []byte("hello"), func() int { return 5 })
	idAt, randomAt := fixedHdrLen, fixedHdrLen+2
	set := func(i int, b ...byte) []byte {
		bad := bytes.Clone(obj)
		copy(bad[i:], b)
		return bad
	}
	var werr *WrongKeyError
	var uerr *UnknownKeyError
	tests := []struct {
		name string
		obj  []byte
		ok   func(error) bool
		want string
	}{
		{"magic", set(0, 'X'), func(err error) bool { return errors.Is(err, ErrNotEncrypted) }, `does not start with "HENC"`},
		{"version 2", set(4, 2), func(err error) bool { return errors.Is(err, ErrUnsupported) }, "version 2"},
		{"version 0", set(4, 0), func(err error) bool { return errors.Is(err, ErrUnsupported) }, "reads version 1"},
		{"id length 0", set(5, 0), func(err error) bool { return errors.Is(err, ErrCorrupt) }, "key id of 0 bytes"},
		{"id length 65", set(5, 65), func(err error) bool { return errors.Is(err, ErrCorrupt) }, "key id of 65 bytes"},
		{"id length 3", set(5, 3), func(err error) bool { return errors.As(err, &uerr) || errors.Is(err, ErrCorrupt) }, ""},
		{"id invalid", set(idAt, ' '), func(err error) bool { return errors.Is(err, ErrCorrupt) }, "not a valid id"},
		{"id of another key", set(idAt+1, '2'), func(err error) bool { return errors.As(err, &werr) && werr.ID == "k2" }, `master key "k2" does not open`},
		{"id of no key", set(idAt+1, '3'), func(err error) bool { return errors.As(err, &uerr) && uerr.ID == "k3" }, `"k3"`},
		{"nonce prefix", set(randomAt, obj[randomAt]^1), func(err error) bool { return errors.As(err, &werr) }, ""},
		{"wrap nonce", set(randomAt+prefixSize, obj[randomAt+prefixSize]^1), func(err error) bool { return errors.As(err, &werr) }, ""},
		{"wrapped key", set(randomAt+prefixSize+nonceSize+3, obj[randomAt+prefixSize+nonceSize+3]^1), func(err error) bool { return errors.As(err, &werr) }, ""},
		{"wrap tag", set(randomAt+prefixSize+wrappedSize-1, obj[randomAt+prefixSize+wrappedSize-1]^1), func(err error) bool { return errors.As(err, &werr) }, ""},
		{"not encrypted", []byte(`{"a":1}`), func(err error) bool { return errors.Is(err, ErrNotEncrypted) }, ""},
		{"empty", nil, func(err error) bool { return errors.Is(err, ErrCorrupt) }, "it is empty"},
		{"short non-magic", []byte("HE!"), func(err error) bool { return errors.Is(err, ErrNotEncrypted) }, ""},
	}
	for _, tt := range tests {
		_, err := NewReader(bytes.NewReader(tt.obj), kr)
		if !tt.ok(err) || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("%s: NewReader = %v; want another error (saying %q)", tt.name, err, tt.want)
		}
	}
}

func TestIsEncrypted(t *testing.T) {
	tests := []struct {
		prefix []byte
		want   bool
	}{
		{[]byte("HENC\x01\x02k1"), true},
		{[]byte("HENC"), true},
		{[]byte("HEN"), false},
		{[]byte("\x1f\x8b\x08"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsEncrypted(tt.prefix); got != tt.want {
			t.Errorf("IsEncrypted(%q) = %v; want %v", tt.prefix, got, tt.want)
		}
	}
}

func TestWriterLifecycle(t *testing.T) {
	kr := testKeyring(t, "k1")
	var buf bytes.Buffer
	w, err := NewWriter(&buf, kr)
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("NewWriter wrote %d bytes; want none before the first Write or Close", buf.Len())
	}
	w.Write([]byte("abc"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if err := w.Close(); err != nil || buf.Len() != n {
		t.Errorf("second Close = %v and wrote %d bytes; want nil and nothing", err, buf.Len()-n)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded; want an error")
	}

	// Reset instead of Close abandons the object: it reads as truncated.
	var abandoned bytes.Buffer
	w.Reset(&abandoned)
	w.Write(plaintext(2*chunkSize+1, 6))
	var next bytes.Buffer
	if err := w.Reset(&next); err != nil {
		t.Fatal(err)
	}
	checkCorrupt(t, "abandoned object", abandoned.Bytes(), plaintext(2*chunkSize+1, 6), kr, "truncated")
	w.Write([]byte("next"))
	w.Close()
	if got, err := open(next.Bytes(), kr); err != nil || string(got) != "next" {
		t.Errorf("object after an abandoned one = %q, %v; want next", got, err)
	}

	// Errors of dst are returned, and stick until Reset.
	fail := errors.New("disk full")
	w.Reset(errWriter{fail})
	if n, err := w.Write(plaintext(chunkSize+1, 7)); !errors.Is(err, fail) || n != 0 {
		t.Errorf("Write to a failing writer = %d, %v; want 0, %v", n, err, fail)
	}
	if err := w.Close(); !errors.Is(err, fail) {
		t.Errorf("Close after a failed Write = %v; want %v", err, fail)
	}
	buf.Reset()
	w.Reset(&buf)
	w.Write([]byte("ok"))
	if err := w.Close(); err != nil {
		t.Errorf("Close after Reset from a failure = %v", err)
	}
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

func TestWriterAllocs(t *testing.T) {
	kr := testKeyring(t, "k1")
	w, _ := NewWriter(io.Discard, kr)
	big, small := plaintext(1<<20, 8), plaintext(100, 8)
	for name, p := range map[string][]byte{"1 MiB": big, "100 bytes": small} {
		if a := testing.AllocsPerRun(100, func() { w.Write(p) }); a != 0 {
			t.Errorf("Write(%s) allocates %v times; want 0", name, a)
		}
	}
}

func TestReaderSourceError(t *testing.T) {
	kr := testKeyring(t, "k1")
	w, _ := NewWriter(io.Discard, kr)
	plain := plaintext(3*chunkSize, 12)
	obj := seal(t, w, plain, func() int { return chunkSize })
	fail := errors.New("connection reset")
	for _, cut := range []int{10, 100, 100 + encChunkSize, len(obj) - 1} {
		src := io.MultiReader(bytes.NewReader(obj[:cut]), iotest.ErrReader(fail))
		r, err := NewReader(src, kr)
		if err == nil {
			var got []byte
			got, err = io.ReadAll(r)
			if !bytes.HasPrefix(plain, got) || len(got) == len(plain) {
				t.Errorf("source failing at byte %d: read %d bytes; want a shorter prefix", cut, len(got))
			}
			if _, err2 := r.Read(make([]byte, 10)); !errors.Is(err2, fail) {
				t.Errorf("source failing at byte %d: Read after the error = %v; want it again", cut, err2)
			}
		}
		if !errors.Is(err, fail) {
			t.Errorf("source failing at byte %d: %v; want %v", cut, err, fail)
		}
	}
}
