package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/delivery/encrypt"
)

// encFixture is a closed log of encrypted segments of a few entries each,
// under encFixtureKeys.
func encFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentBytes: 1024, Keys: encFixtureKeys(t)})
	if err := l.SetEncryption(true); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 60, 3, fixtureMaxSize)
	for files := segFiles(t, dir); len(entriesOf(t, files[len(files)-1])) < 2; files = segFiles(t, dir) {
		appendN(t, l, 3, 3, fixtureMaxSize) // the tests need 2 entries in the last segment
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return loadFixture(t, dir)
}

func encFixtureKeys(t testing.TB) *encrypt.Keyring { return testKeys(t, "k1") }

// nonceAt returns the nonce of the encrypted entry at pos of path.
func nonceAt(t *testing.T, path string, pos int64) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[pos+entryHeaderLen : pos+entryHeaderLen+nonceLen]
}

func TestEncryptedTornTail(t *testing.T) {
	fx := encFixture(t)
	last := fx.last()
	e := last.entries[len(last.entries)-1]
	oldNonce := nonceAt(t, last.path, e.pos)
	cuts := []int64{1, entryHeaderLen - 1, entryHeaderLen, entryHeaderLen + nonceLen/2, entryHeaderLen + nonceLen + 3, e.size - tagLen, e.size - 1}
	type tornCase struct {
		name   string
		mutate func(t *testing.T, path string)
	}
	var cases []tornCase
	for _, cut := range cuts {
		cases = append(cases, tornCase{fmt.Sprintf("cut at %d of %d", cut, e.size), func(t *testing.T, path string) { truncate(t, path, e.pos+cut) }})
	}
	cases = append(cases,
		tornCase{"checksum mismatch in the tag", func(t *testing.T, path string) { flipByte(t, path, e.pos+e.size-1) }},
		tornCase{"checksum mismatch in the nonce", func(t *testing.T, path string) { flipByte(t, path, e.pos+entryHeaderLen+1) }},
		tornCase{"zeroed last entry", func(t *testing.T, path string) { writeAt(t, path, e.pos, make([]byte, e.size)) }},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, fx.dir)
			path := filepath.Join(dir, filepath.Base(last.path))
			tc.mutate(t, path)
			var logs logBuffer
			l, err := Open(dir, Options{SegmentBytes: 1024, Keys: encFixtureKeys(t), Logger: slogTo(&logs)})
			if err != nil {
				t.Fatalf("Open() = %v; want the torn tail truncated", err)
			}
			defer l.Close()
			if got := l.Stats().NextOffset; got != e.base {
				t.Fatalf("NextOffset = %d; want %d", got, e.base)
			}
			if !strings.Contains(logs.String(), "torn write") {
				t.Errorf("log = %q; want a torn write warning", logs.String())
			}
			checkAll(t, l, 0, fixtureMaxSize)
			// The writer appends at the same position, under the same data
			// key: with a new nonce.
			if first, err := l.Append(context.Background(), recs(e.base, int(e.count), fixtureMaxSize)); err != nil || first != e.base {
				t.Fatalf("Append() after recovery = %d, %v; want %d, nil", first, err, e.base)
			}
			if got := nonceAt(t, path, e.pos); bytes.Equal(got, oldNonce) {
				t.Fatalf("the entry rewritten at byte %d reuses the nonce %x", e.pos, got)
			}
			checkAll(t, l, 0, fixtureMaxSize)
			l.Close()
			l2 := openLog(t, dir, Options{SegmentBytes: 1024, Keys: encFixtureKeys(t)})
			checkAll(t, l2, 0, fixtureMaxSize)
		})
	}
}

func TestEncryptedCorruption(t *testing.T) {
	flipPayload := func(off func(e entryInfo) int64) func(t *testing.T, path string, e entryInfo) {
		return func(t *testing.T, path string, e entryInfo) {
			rewriteEntry(t, path, e.pos, func(h, p []byte) []byte { p[off(e)] ^= 0x20; return p })
		}
	}
	tests := []struct {
		name   string
		seg    int
		entry  int
		mutate func(t *testing.T, path string, e entryInfo)
		reason string
	}{
		{"ciphertext byte flipped, CRC fixed", 1, 1, flipPayload(func(e entryInfo) int64 { return nonceLen + 5 }), "authentication"},
		{"nonce byte flipped, CRC fixed", 2, 0, flipPayload(func(e entryInfo) int64 { return 3 }), "authentication"},
		{"tag byte flipped, CRC fixed", -1, 0, flipPayload(func(e entryInfo) int64 { return e.size - entryHeaderLen - 1 }), "authentication"},
		{"record count changed, CRC fixed", 1, 0, func(t *testing.T, path string, e entryInfo) {
			rewriteEntry(t, path, e.pos, func(h, p []byte) []byte { h[20]--; return p })
		}, "authentication"},
		{"entry not encrypted", 1, 1, func(t *testing.T, path string, e entryInfo) {
			rewriteEntry(t, path, e.pos, func(h, p []byte) []byte { h[8] = flagsNone; return p })
		}, "unencrypted entry"},
		{"header damaged", 1, -1, func(t *testing.T, path string, e entryInfo) { flipByte(t, path, 12) }, "header checksum"},
		{"last segment's header damaged", -1, -1, func(t *testing.T, path string, e entryInfo) { flipByte(t, path, 20) }, "header checksum"},
		{"header truncated", -1, -1, func(t *testing.T, path string, e entryInfo) { truncate(t, path, 40) }, "header truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := encFixture(t)
			s := fx.at(tt.seg)
			var e entryInfo
			if tt.entry >= 0 {
				e = s.entry(tt.entry)
			} else {
				e = entryInfo{pos: 0, base: s.first}
			}
			tt.mutate(t, s.path, e)
			before := snapshot(t, fx.dir)
			opts := Options{SegmentBytes: 1024, Keys: encFixtureKeys(t), Logger: testLogger(t)}
			_, err := Open(fx.dir, opts)
			cerr := asCorruption(t, err)
			if cerr.Segment != filepath.Base(s.path) || cerr.ByteOffset != e.pos || cerr.Offset != e.base || !strings.Contains(cerr.Reason, tt.reason) {
				t.Fatalf("Open() = %v;\nwant segment %s, byte %d, offset %d, reason containing %q",
					cerr, filepath.Base(s.path), e.pos, e.base, tt.reason)
			}
			if snapshot(t, fx.dir) != before {
				t.Fatal("a failed Open changed the directory")
			}
			// Repair needs no keys.
			if err := Repair(fx.dir, cerr); err != nil {
				t.Fatalf("Repair() = %v", err)
			}
			l := openLog(t, fx.dir, opts)
			st := l.Stats()
			if st.NextOffset != e.base {
				t.Fatalf("after Repair Stats() = %+v; want NextOffset %d", st, e.base)
			}
			checkAll(t, l, 0, fixtureMaxSize)
			appendN(t, l, 4, 2, fixtureMaxSize)
			l.Close()
			l = openLog(t, fx.dir, opts)
			checkAll(t, l, 0, fixtureMaxSize)
		})
	}
}

func TestEncryptedHeaderErrors(t *testing.T) {
	// A header with a correct CRC whose wrapped key does not open cannot
	// be told from a wrong key; a cipher or flags from a newer version are
	// unsupported. None of these is for Repair.
	fx := encFixture(t)
	rewriteHeader := func(path string, edit func(h []byte)) {
		b, _ := os.ReadFile(path)
		n := headerOf(t, path).len
		edit(b[:n])
		binary.LittleEndian.PutUint32(b[n-4:n], crc32.Checksum(b[:n-4], castagnoli))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		mutate func(path string)
		check  func(err error) bool
	}{
		{"wrapped key changed", func(path string) {
			rewriteHeader(path, func(h []byte) { h[len(h)-10] ^= 1 })
		}, func(err error) bool { var w *encrypt.WrongKeyError; return errors.As(err, &w) }},
		{"key id changed", func(path string) {
			rewriteHeader(path, func(h []byte) { h[segHeaderLen+2] = 'x' })
		}, func(err error) bool { var u *encrypt.UnknownKeyError; return errors.As(err, &u) && u.ID == "x1" }},
		{"unknown cipher", func(path string) {
			rewriteHeader(path, func(h []byte) { h[segHeaderLen] = 2 })
		}, func(err error) bool { return errors.Is(err, ErrUnsupported) }},
		{"unknown entry flags", func(path string) {
			e := entriesOf(t, path)[0]
			rewriteEntry(t, path, e.pos, func(h, p []byte) []byte { h[8] = flagEncrypted | 2; return p })
		}, func(err error) bool { return errors.Is(err, ErrUnsupported) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, fx.dir)
			tt.mutate(filepath.Join(dir, filepath.Base(fx.segs[1].path)))
			_, err := Open(dir, Options{Keys: encFixtureKeys(t), Logger: testLogger(t)})
			var cerr *CorruptionError
			if !tt.check(err) || errors.As(err, &cerr) {
				t.Fatalf("Open() = %v; want another error than corruption", err)
			}
		})
	}
}

func TestReaderDetectsTampering(t *testing.T) {
	// Ciphertext changed after Open, with its CRC fixed: the GCM tag
	// catches it on read.
	fx := encFixture(t)
	l := openLog(t, fx.dir, Options{SegmentBytes: 1024, Keys: encFixtureKeys(t)})
	e := fx.segs[1].entries[1]
	rewriteEntry(t, fx.segs[1].path, e.pos, func(h, p []byte) []byte { p[nonceLen] ^= 1; return p })
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for want := uint64(0); ; want++ {
		got, err := r.Next()
		if err != nil {
			cerr := asCorruption(t, err)
			if want != e.base || cerr.ByteOffset != e.pos || !strings.Contains(cerr.Reason, "authentication") {
				t.Fatalf("Next() at offset %d = %v; want an authentication failure at entry %+v", want, err, e)
			}
			return
		}
		if got.Offset != want {
			t.Fatalf("Next() = offset %d; want %d", got.Offset, want)
		}
	}
}

func TestEncryptedCommitRepair(t *testing.T) {
	// Repair of the commit file scans encrypted segments without keys.
	fx := encFixture(t)
	if err := writeCommit(fx.dir, fx.next+5); err != nil {
		t.Fatal(err)
	}
	_, err := Open(fx.dir, Options{Keys: encFixtureKeys(t), Logger: testLogger(t)})
	if err := Repair(fx.dir, asCorruption(t, err)); err != nil {
		t.Fatalf("Repair() = %v", err)
	}
	l := openLog(t, fx.dir, Options{Keys: encFixtureKeys(t)})
	if st := l.Stats(); st.NextOffset != fx.next+5 || st.FirstOffset != fx.next+5 {
		t.Fatalf("after Repair Stats() = %+v; want the log restarted at %d", st, fx.next+5)
	}
}

func TestVersion1Compatibility(t *testing.T) {
	// testdata/v1log was written by the version-1 code (before encryption):
	// offsets [0, 45) in 4 segments of 1 KiB, committed up to 10.
	dir := copyDir(t, filepath.Join("testdata", "v1log"))
	orig := map[string][]byte{}
	for _, p := range segFiles(t, dir) {
		orig[filepath.Base(p)], _ = os.ReadFile(p)
	}
	l := openLog(t, dir, Options{SegmentBytes: 1024}) // no keys needed
	st := l.Stats()
	if st.NextOffset != 45 || st.Committed != 10 || st.Segments != 4 || st.EncryptedSegments != 0 || st.Encrypted {
		t.Fatalf("Stats() = %+v; want 45 records in 4 plaintext segments, committed 10", st)
	}
	checkAll(t, l, 0, fixtureMaxSize)
	l.Close()
	for name, b := range orig {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(got, b) {
			t.Errorf("Open changed %s", name)
		}
	}
	// Turn encryption on: the old segments stay as they are and readable.
	l = openLog(t, dir, Options{SegmentBytes: 1024, Keys: testKeys(t, "k1")})
	if err := l.SetEncryption(true); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 10, 3, fixtureMaxSize)
	l.Close()
	l = openLog(t, dir, Options{SegmentBytes: 1024, Keys: testKeys(t, "k1")})
	checkAll(t, l, 0, fixtureMaxSize)
	if st := l.Stats(); st.PlaintextSegments != 4 || st.EncryptedSegments != 1 {
		t.Fatalf("Stats() = %+v; want the 4 old segments and 1 encrypted one", st)
	}
}

func TestEncryptedHeaderForOlderReaders(t *testing.T) {
	// Version-1 readers check the magic and bytes 5-7 before the version:
	// they must find an encrypted segment's header well-formed and of an
	// unknown version (ErrUnsupported, left alone), not damaged (repaired
	// away).
	hdr, _, err := appendEncryptedSegmentHeader(nil, testKeys(t, "a-long-key-id"))
	if err != nil {
		t.Fatal(err)
	}
	if string(hdr[:4]) != segMagic || hdr[4] == segVersion || !bytes.Equal(hdr[5:8], []byte{0, 0, 0}) {
		t.Fatalf("encrypted segment header starts %x; a version-1 reader would take it for damage", hdr[:8])
	}
	if int64(len(hdr)) != encHeaderLen(len("a-long-key-id")) || len(hdr) > maxSegHeaderLen {
		t.Fatalf("encrypted segment header is %d bytes", len(hdr))
	}
}
