package encrypt

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/iotest"
)

// FuzzReader feeds arbitrary bytes to NewReader and reads them to the end,
// with Read and with WriteTo. It must not panic; both ways must agree; and
// what it returns is never longer than its input. The keyring holds fixed
// keys (testKey), so the seeds in testdata/fuzz/FuzzReader, sealed under
// k1 and k2, decrypt, and the fuzzer mutates valid objects.
func FuzzReader(f *testing.F) {
	kr := testKeyring(f, "k1", "k2")
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		got, err := open(obj, kr)
		if len(got) > len(obj) {
			t.Fatalf("read %d bytes from a %d-byte object", len(got), len(obj))
		}
		var out bytes.Buffer
		r, err2 := NewReader(iotest.HalfReader(bytes.NewReader(obj)), kr)
		if err2 == nil {
			_, err2 = io.Copy(&out, r)
		}
		if (err == nil) != (err2 == nil) || !bytes.Equal(got, out.Bytes()) {
			t.Fatalf("Read gave %d bytes, %v; WriteTo gave %d bytes, %v", len(got), err, out.Len(), err2)
		}
		if err == nil && len(obj) != sealedLen(headerKeyID(obj), len(got)) {
			t.Fatalf("decrypted %d bytes from an object of %d bytes; a valid one is %d bytes", len(got), len(obj), sealedLen(headerKeyID(obj), len(got)))
		}
		var uerr *UnknownKeyError
		var werr *WrongKeyError
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotEncrypted) && !errors.Is(err, ErrUnsupported) &&
			!errors.As(err, &uerr) && !errors.As(err, &werr) {
			t.Fatalf("error of an unexpected kind: %v", err)
		}
	})
}

// fuzzSeeds returns valid objects under k1 and k2 (testKey) and damaged
// ones, for the fuzzer to start from.
func fuzzSeeds(t testing.TB) [][]byte {
	k1, k2 := testKeyring(t, "k1"), testKeyring(t, "k2")
	w1, _ := NewWriter(io.Discard, k1)
	w2, _ := NewWriter(io.Discard, k2)
	small := func() int { return 64 }
	empty := seal(t, w1, nil, small)
	hello := seal(t, w2, []byte("hello\n"), small)
	lines := seal(t, w1, bytes.Repeat([]byte(`{"event":"click","n":1}`+"\n"), 8), small)
	hdr := sealedLen("k1", 0) - tagSize
	otherID := bytes.Clone(lines)
	otherID[fixedHdrLen+1] = '2' // names k2, which does not open it
	unknownID := bytes.Clone(lines)
	unknownID[fixedHdrLen+1] = '9'
	flipped := bytes.Clone(lines)
	flipped[hdr+10] ^= 1
	v2 := bytes.Clone(hello)
	v2[len(magic)] = 2
	return [][]byte{
		empty,
		hello,
		lines,
		lines[:hdr],                   // no chunks
		lines[:len(lines)-1],          // last chunk cut short
		append(bytes.Clone(empty), 0), // a byte after the last chunk
		otherID,
		unknownID,
		flipped,
		v2,
		lines[:20], // header cut short
		[]byte(magic),
		[]byte(`{"not":"encrypted"}`),
	}
}

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "write the hand-made fuzz seeds to testdata/fuzz")

// TestWriteFuzzSeeds regenerates the hand-made seed corpus files after a
// format change: go test -run TestWriteFuzzSeeds -write-fuzz-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-fuzz-seeds to regenerate")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range fuzzSeeds(t) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(seed)))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
