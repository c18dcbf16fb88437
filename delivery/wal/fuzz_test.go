package wal

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/record"
)

var discardLogger = slog.New(slog.DiscardHandler)

// fuzzKeys is the keyring of the fuzz tests. Its keys are fixed (testKey),
// so that the encrypted segments in testdata/fuzz open.
func fuzzKeys(tb testing.TB) *encrypt.Keyring { return testKeys(tb, "k1") }

// FuzzOpen feeds arbitrary bytes to recovery as the only segment of a log.
// Open must not panic, and must either recover (then every record it kept
// reads back, and the log takes appends) or report a *CorruptionError that
// Repair fixes. With fixCRCs, the CRC of the header of an encrypted
// segment and of every entry whose framing fits the input is corrected
// first, so that the fuzzer gets past the CRC checks to the framing,
// continuity, authentication and payload checks.
func FuzzOpen(f *testing.F) {
	for _, seed := range fuzzSegmentSeeds(f) {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, seg []byte, fixCRCs bool) {
		if fixCRCs {
			seg = fixEntryCRCs(seg)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(0)), seg, 0o644); err != nil {
			t.Fatal(err)
		}
		checkOpenRecovers(t, dir)
	})
}

// FuzzReader fuzzes entry payloads, which FuzzOpen rarely reaches past the
// CRC: the fuzzer's bytes become the payload of an entry claiming count
// records, with a correct CRC, between two valid entries, once in a
// plaintext segment and once, sealed, in an encrypted one. Open must
// accept exactly the payloads that hold count well-formed records, and a
// Reader must then return them intact.
func FuzzReader(f *testing.F) {
	valid := appendEntry(nil, 0, []record.Record{{PartitionKey: "k", Data: []byte("hello")}, {Data: []byte{}}})
	f.Add(valid[entryHeaderLen:], uint32(2))
	f.Add(valid[entryHeaderLen:], uint32(1))
	f.Add([]byte{}, uint32(0))
	f.Add(make([]byte, 10), uint32(1))
	f.Add(append(make([]byte, 8), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), uint32(1))
	keys := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, payload []byte, count uint32) {
		if len(payload) > 1<<20 {
			return
		}
		checkMiddleEntry(t, payload, count, nil)
		checkMiddleEntry(t, payload, count, keys)
	})
}

// checkMiddleEntry is FuzzReader's check, of a plaintext segment if keys
// is nil, else of an encrypted one.
func checkMiddleEntry(t *testing.T, payload []byte, count uint32, keys *encrypt.Keyring) {
	t.Helper()
	seg := appendSegmentHeader(nil)
	var aead cipher.AEAD
	if keys != nil {
		var err error
		if seg, aead, err = appendEncryptedSegmentHeader(nil, keys); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(dst []byte, base uint64, recs []record.Record) []byte {
		if aead != nil {
			return appendSealedEntry(dst, base, recs, aead)
		}
		return appendEntry(dst, base, recs)
	}
	seg = entry(seg, 0, []record.Record{{Data: []byte("before")}})
	start := len(seg)
	hdr := make([]byte, entryHeaderLen)
	binary.LittleEndian.PutUint64(hdr[12:], 1)
	binary.LittleEndian.PutUint32(hdr[20:], count)
	stored := payload
	if aead != nil {
		hdr[8] = flagEncrypted
		nonce := make([]byte, nonceLen)
		stored = aead.Seal(nonce, nonce, payload, hdr[8:])
	}
	putEntryHeader(hdr, stored)
	seg = append(append(seg, hdr...), stored...)
	seg = entry(seg, 1+uint64(count), []record.Record{{Data: []byte("after")}})

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, segmentName(0)), seg, 0o644); err != nil {
		t.Fatal(err)
	}
	h := parseEntryHeader(hdr)
	wellFormed := h.check(aead != nil) == "" && checkPayload(payload, count) == ""
	l, err := Open(dir, Options{Logger: discardLogger, Keys: keys})
	if !wellFormed {
		var cerr *CorruptionError
		if !errors.As(err, &cerr) || cerr.ByteOffset != int64(start) || cerr.Offset != 1 {
			t.Fatalf("Open() with a malformed middle entry = %v; want a *CorruptionError at byte %d, offset 1", err, start)
		}
		return
	}
	if err != nil {
		t.Fatalf("Open() = %v; want success", err)
	}
	defer l.Close()
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := payload
	for off := uint64(0); off < uint64(count)+2; off++ {
		got, err := r.Next()
		if err != nil || got.Offset != off {
			t.Fatalf("Next() = offset %d, %v; want %d", got.Offset, err, off)
		}
		switch {
		case off == 0 && string(got.Data) != "before", off == uint64(count)+1 && string(got.Data) != "after":
			t.Fatalf("record %d = %q", off, got.Data)
		case off > 0 && off <= uint64(count):
			ns, key, data, rest, _ := decodeRecord(p)
			p = rest
			if !got.ArrivalTime.Equal(decodeTime(ns)) || got.PartitionKey != string(key) || !bytes.Equal(got.Data, data) {
				t.Fatalf("record %d = %+v; want time %d, key %q, data %q", off, got, ns, key, data)
			}
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next() at the end = %v; want io.EOF", err)
	}
}

// fixEntryCRCs walks seg as a segment and sets the CRC of an encrypted
// segment's header and of each entry that fits in it.
func fixEntryCRCs(seg []byte) []byte {
	seg = bytes.Clone(seg)
	start := segHeaderLen
	if len(seg) >= segHeaderLen+2 && seg[4] == segVersionEncrypted {
		idLen := int(seg[segHeaderLen+1])
		if n := int(encHeaderLen(idLen)); idLen > 0 && idLen <= maxKeyIDLen && n <= len(seg) {
			binary.LittleEndian.PutUint32(seg[n-4:], crc32.Checksum(seg[:n-4], castagnoli))
			start = n
		}
	}
	for pos := start; pos+entryHeaderLen <= len(seg); {
		h := parseEntryHeader(seg[pos:])
		end := int64(pos) + h.size()
		if end > int64(len(seg)) {
			break
		}
		hdr := seg[pos : pos+entryHeaderLen]
		binary.LittleEndian.PutUint32(hdr[4:], entryCRC(hdr, seg[pos+entryHeaderLen:end]))
		pos = int(end)
	}
	return seg
}

// checkOpenRecovers opens the log in dir and checks the recovery contract.
// A segment of a format it does not know, or encrypted under a key it
// does not have, is not for recovery to fix.
func checkOpenRecovers(t *testing.T, dir string) {
	t.Helper()
	opts := Options{SegmentBytes: 4096, Logger: discardLogger, Keys: fuzzKeys(t)}
	l, err := Open(dir, opts)
	var uerr *encrypt.UnknownKeyError
	var werr *encrypt.WrongKeyError
	if errors.Is(err, ErrUnsupported) || errors.As(err, &uerr) || errors.As(err, &werr) {
		return
	}
	if err != nil {
		var cerr *CorruptionError
		if !errors.As(err, &cerr) {
			t.Fatalf("Open() = %v; want success or a *CorruptionError", err)
		}
		if err := Repair(dir, cerr); err != nil {
			t.Fatalf("Repair(%v) = %v", cerr, err)
		}
		if l, err = Open(dir, opts); err != nil {
			t.Fatalf("Open() after Repair(%v) = %v; want success", cerr, err)
		}
	}
	defer l.Close()
	st := l.Stats()
	r, err := l.NewReader(st.FirstOffset)
	if err != nil {
		t.Fatalf("NewReader(%d) = %v", st.FirstOffset, err)
	}
	defer r.Close()
	for want := st.FirstOffset; want < st.NextOffset; want++ {
		if got, err := r.Next(); err != nil || got.Offset != want {
			t.Fatalf("Next() = offset %d, %v; want %d (recovered log %+v)", got.Offset, err, want, st)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next() at the end = %v; want io.EOF", err)
	}
	if first, err := l.Append(context.Background(), []record.Record{{Data: []byte("new")}}); err != nil || first != st.NextOffset {
		t.Fatalf("Append() after recovery = %d, %v; want %d, nil", first, err, st.NextOffset)
	}
}

// fuzzSegmentSeeds are hand-made segment files: valid, torn and damaged.
func fuzzSegmentSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	one := appendEntry(appendSegmentHeader(nil), 0, []record.Record{{PartitionKey: "k", Data: []byte("hello")}})
	three := appendEntry(one, 1, recs(1, 3, 40))
	three = appendEntry(three, 4, []record.Record{{}})
	zeroTail := append(append([]byte(nil), three...), make([]byte, 64)...)
	flipped := append([]byte(nil), three...)
	flipped[len(one)+30] ^= 1
	gap := appendEntry(append([]byte(nil), one...), 2, []record.Record{{Data: []byte("x")}})

	// The same in an encrypted segment, under fuzzKeys.
	hdr, aead, err := appendEncryptedSegmentHeader(nil, fuzzKeys(tb))
	if err != nil {
		tb.Fatal(err)
	}
	seal := func(seg []byte, base uint64, rs ...record.Record) []byte {
		return appendSealedEntry(bytes.Clone(seg), base, rs, aead)
	}
	encOne := seal(hdr, 0, record.Record{PartitionKey: "k", Data: []byte("hello")})
	encThree := seal(encOne, 1, recs(1, 3, 40)...)
	encThree = seal(encThree, 4, record.Record{})
	encFlipped := bytes.Clone(encThree)
	encFlipped[len(encOne)+50] ^= 1 // ciphertext: with fixCRCs, fails authentication
	return [][]byte{
		{},
		[]byte(segMagic),
		appendSegmentHeader(nil),
		one,
		three,
		three[:len(three)-3],                 // torn payload
		three[:len(one)+10],                  // torn header
		zeroTail,                             // zeros after the end
		flipped,                              // bad CRC, valid entries after
		gap,                                  // offset gap
		append([]byte("XXXX"), three[4:]...), // bad magic
		hdr,
		encOne,
		encThree,
		encThree[:len(encThree)-3], // torn payload
		encThree[:len(encOne)+10],  // torn entry header
		append(bytes.Clone(encThree), make([]byte, 64)...), // zeros after the end
		encFlipped, // bad CRC, valid entries after
		seal(encOne, 2, record.Record{Data: []byte("x")}),                             // offset gap
		append(bytes.Clone(hdr[:len(hdr)-7]), encThree[len(hdr):]...),                 // torn segment header
		appendEntry(bytes.Clone(encOne), 1, []record.Record{{Data: []byte("plain")}}), // plaintext entry
	}
}

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "write the hand-made fuzz seeds to testdata/fuzz")

// TestWriteFuzzSeeds regenerates the hand-made seed corpus files after a
// format change: go test -run TestWriteFuzzSeeds -write-fuzz-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-fuzz-seeds to regenerate")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range fuzzSegmentSeeds(t) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nbool(%v)\n", strconv.Quote(string(seed)), i%2 == 1)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
