package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/record"
)

// phase is a stretch of a test log: encryption set to encrypted, then n
// records appended in batches of 3.
type phase struct {
	encrypted bool
	n         int
}

// parsePhases parses "on:20 off:5 …".
func parsePhases(t *testing.T, s string) []phase {
	t.Helper()
	var out []phase
	for _, f := range strings.Fields(s) {
		mode, n, _ := strings.Cut(f, ":")
		k, err := strconv.Atoi(n)
		if err != nil || mode != "on" && mode != "off" {
			t.Fatalf("bad phase %q", f)
		}
		out = append(out, phase{encrypted: mode == "on", n: k})
	}
	return out
}

// checkModes checks that every entry of every segment file of dir is in
// the mode of the phase its records were appended in (ranges[i] is the
// first offset of phase i), that encrypted segment files hold no
// plaintext, and that Stats counts the segments by mode.
func checkModes(t *testing.T, l *Log, phases []phase, ranges []uint64) {
	t.Helper()
	var enc int
	for _, path := range segFiles(t, l.dir) {
		h := headerOf(t, path)
		if h.encrypted() {
			enc++
			b, _ := os.ReadFile(path)
			if bytes.Contains(b, []byte("key-")) {
				t.Errorf("encrypted segment %s holds a partition key in plaintext", filepath.Base(path))
			}
		}
		for _, e := range entriesOf(t, path) {
			i := phaseOf(ranges, e.base)
			if phases[i].encrypted != h.encrypted() {
				t.Errorf("entry at offset %d (phase %d, encrypted %v) is in segment %s, encrypted %v",
					e.base, i, phases[i].encrypted, filepath.Base(path), h.encrypted())
			}
		}
	}
	st := l.Stats()
	if st.EncryptedSegments != enc || st.PlaintextSegments != st.Segments-enc || st.Segments != len(segFiles(t, l.dir)) {
		t.Errorf("Stats() = %+v; want %d encrypted segments of %d", st, enc, len(segFiles(t, l.dir)))
	}
}

// phaseOf returns the phase that offset off was appended in.
func phaseOf(ranges []uint64, off uint64) int {
	i := 0
	for i+1 < len(ranges) && ranges[i+1] <= off {
		i++
	}
	return i
}

func TestEncryptionRoundTrip(t *testing.T) {
	tests := []struct{ name, phases string }{
		{"encrypted from the start", "on:60"},
		{"turned on", "off:30 on:30"},
		{"turned off", "on:30 off:30"},
		{"toggled", "on:20 off:20 on:20 off:5 on:1 off:1"},
		{"toggled without appends", "on:0 off:0 on:10 off:0 on:0"},
		{"set twice", "off:10 off:10 on:10 on:10"},
	}
	keys := testKeys(t, "k1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := Options{SegmentBytes: 1024, Keys: keys}
			l := openLog(t, dir, opts)
			phases := parsePhases(t, tt.phases)
			var ranges []uint64
			for _, p := range phases {
				if err := l.SetEncryption(p.encrypted); err != nil {
					t.Fatalf("SetEncryption(%v) = %v", p.encrypted, err)
				}
				if l.Encrypted() != p.encrypted || l.Stats().Encrypted != p.encrypted {
					t.Fatalf("after SetEncryption(%v) Encrypted() = %v", p.encrypted, l.Encrypted())
				}
				ranges = append(ranges, l.Stats().NextOffset)
				appendN(t, l, p.n, 3, fixtureMaxSize)
				checkAll(t, l, 0, fixtureMaxSize)
			}
			checkModes(t, l, phases, ranges)
			st := l.Stats()
			if got := filesBytes(t, dir); got != st.DiskBytes {
				t.Errorf("segment files hold %d bytes; Stats().DiskBytes = %d", got, st.DiskBytes)
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*"+tmpSuffix)); len(m) > 0 {
				t.Errorf("temporary files left behind: %v", m)
			}
			l.Close()

			l = openLog(t, dir, opts)
			got := l.Stats()
			if got.NextOffset != st.NextOffset || got.Segments != st.Segments || got.DiskBytes != st.DiskBytes ||
				got.EncryptedSegments != st.EncryptedSegments || got.Encrypted != st.Encrypted {
				t.Fatalf("after reopen Stats() = %+v; want %+v", got, st)
			}
			checkAll(t, l, 0, fixtureMaxSize)
			// The mode survives the restart, and appends go on in it.
			ranges = append(ranges, got.NextOffset)
			phases = append(phases, phase{encrypted: st.Encrypted, n: 7})
			appendN(t, l, 7, 3, fixtureMaxSize)
			checkModes(t, l, phases, ranges)
			checkAll(t, l, 0, fixtureMaxSize)
		})
	}
}

func TestSetEncryptionReplacesEmptySegment(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{Keys: testKeys(t, "k1")})
	r, err := l.NewReader(0) // holds the segment about to be replaced
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, on := range []bool{true, false, true} {
		if err := l.SetEncryption(on); err != nil {
			t.Fatalf("SetEncryption(%v) = %v", on, err)
		}
		st := l.Stats()
		files := segFiles(t, dir)
		if st.Segments != 1 || len(files) != 1 || headerOf(t, files[0]).encrypted() != on || st.Encrypted != on ||
			st.DiskBytes != filesBytes(t, dir) {
			t.Fatalf("after SetEncryption(%v) on an empty log: Stats() = %+v, files %v", on, st, files)
		}
	}
	appendN(t, l, 5, 2, 10)
	for want := uint64(0); want < 5; want++ {
		got, err := r.Next()
		if err != nil || got.Offset != want {
			t.Fatalf("Next() = offset %d, %v; want %d", got.Offset, err, want)
		}
		checkRec(t, got, 10)
	}
}

func TestSetEncryptionConcurrent(t *testing.T) {
	// Appenders and a tailing reader run while encryption is toggled.
	// After each SetEncryption returns, an append lands in a segment of
	// the new mode.
	const (
		appenders = 4
		perAppend = 80
		toggles   = 12
	)
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 4096, Keys: testKeys(t, "k1")})
	modeAt := func(off uint64) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		i := len(l.segs) - 1
		for l.segs[i].first > off {
			i--
		}
		return l.segs[i].aead != nil
	}
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for i := range perAppend {
				rs := []record.Record{{Data: fmt.Appendf(nil, "%d/%d", a, i)}, {PartitionKey: "k", Data: make([]byte, 50)}}
				if _, err := l.Append(context.Background(), rs); err != nil {
					t.Errorf("Append() = %v", err)
					return
				}
			}
		})
	}
	marks := 0
	wg.Go(func() {
		for i := range toggles {
			on := i%2 == 0
			if err := l.SetEncryption(on); err != nil {
				t.Errorf("SetEncryption(%v) = %v", on, err)
				return
			}
			first, err := l.Append(context.Background(), []record.Record{{Data: []byte("mark")}})
			if err != nil {
				t.Errorf("Append() = %v", err)
				return
			}
			if got := modeAt(first); got != on {
				t.Errorf("append after SetEncryption(%v) at offset %d is in a segment encrypted %v", on, first, got)
			}
			marks++
			time.Sleep(time.Millisecond)
		}
	})

	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	total := uint64(appenders*perAppend*2 + toggles)
	last := map[int]int{}
	timeout := time.After(20 * time.Second)
	for want := uint64(0); want < total; {
		ch := l.Appended()
		got, err := r.Next()
		if err == io.EOF {
			select {
			case <-ch:
			case <-timeout:
				t.Fatalf("tail stuck at offset %d", want)
			}
			continue
		}
		if err != nil || got.Offset != want {
			t.Fatalf("Next() = offset %d, %v; want %d", got.Offset, err, want)
		}
		var a, i int
		if _, err := fmt.Sscanf(string(got.Data), "%d/%d", &a, &i); err == nil {
			if prev, ok := last[a]; ok && i != prev+1 || !ok && i != 0 {
				t.Fatalf("appender %d: record %d after %d", a, i, prev)
			}
			last[a] = i
		}
		want++
	}
	wg.Wait()
	st := l.Stats()
	if marks != toggles || st.EncryptedSegments == 0 || st.PlaintextSegments == 0 || st.Encrypted {
		t.Fatalf("Stats() = %+v after %d toggles; want segments of both modes, not encrypted", st, marks)
	}
	dir := l.dir
	l.Close()
	l = openLog(t, dir, Options{SegmentBytes: 4096, Keys: testKeys(t, "k1")})
	if n := len(readAll(t, l, 0)); n != int(total) {
		t.Fatalf("after reopen read %d records; want %d", n, total)
	}
}

// mixedLog writes a closed log in dir: plaintext records [0, 30),
// encrypted ones [30, 60) under keys, in segments of 1 KiB.
func mixedLog(t *testing.T, dir string, keys *encrypt.Keyring) {
	t.Helper()
	l := openLog(t, dir, Options{SegmentBytes: 1024, Keys: keys})
	appendN(t, l, 30, 3, fixtureMaxSize)
	if err := l.SetEncryption(true); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 30, 3, fixtureMaxSize)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptedRestartKeys(t *testing.T) {
	dir := t.TempDir()
	mixedLog(t, dir, testKeys(t, "k1"))
	before := snapshot(t, dir)
	firstEnc := ""
	for _, p := range segFiles(t, dir) {
		if headerOf(t, p).encrypted() {
			firstEnc = p
			break
		}
	}

	wrongKey, err := encrypt.ParseKeys([]byte(testKey("k1", 1)), "keys.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		keys    *encrypt.Keyring
		unknown bool // else wrong
		msg     []string
	}{
		{"no keys", nil, true, []string{firstEnc, `master key "k1"`, "no master keys are configured"}},
		{"other keys", testKeys(t, "k2", "k3"), true, []string{firstEnc, `master key "k1", which is not in the keyring`, `test keys holds "k2", "k3"`, "k1:<base64 key>"}},
		{"wrong key under the id", wrongKey, false, []string{firstEnc, `master key "k1"`, "wrong key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(dir, Options{SegmentBytes: 1024, Keys: tt.keys, Logger: testLogger(t)})
			var uerr *encrypt.UnknownKeyError
			var werr *encrypt.WrongKeyError
			var cerr *CorruptionError
			if tt.unknown && (!errors.As(err, &uerr) || uerr.ID != "k1") || !tt.unknown && (!errors.As(err, &werr) || werr.ID != "k1") ||
				errors.As(err, &cerr) {
				t.Fatalf("Open() = %v; want a key error for k1 (unknown %v), not corruption", err, tt.unknown)
			}
			for _, want := range tt.msg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open() error %q does not say %q", err, want)
				}
			}
			if snapshot(t, dir) != before {
				t.Fatal("a failed Open changed the directory")
			}
		})
	}

	// With the key: mixed segments read back, and the log is ENABLING
	// until the plaintext records are delivered, then ENABLED.
	l := openLog(t, dir, Options{SegmentBytes: 1024, Keys: testKeys(t, "k1")})
	checkAll(t, l, 0, fixtureMaxSize)
	st := l.Stats()
	if !st.Encrypted || st.PlaintextSegments == 0 || st.EncryptedSegments == 0 {
		t.Fatalf("Stats() = %+v; want encrypted, with segments of both modes", st)
	}
	if err := l.Commit(30); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.PlaintextSegments != 0 || !st.Encrypted {
		t.Fatalf("after committing the plaintext records Stats() = %+v; want no plaintext segments", st)
	}
	checkAll(t, l, 30, fixtureMaxSize)
}

func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	mixedLog(t, dir, testKeys(t, "k1"))
	rotated := testKeys(t, "k1", "k2")
	l := openLog(t, dir, Options{SegmentBytes: 1024, Keys: rotated})
	appendN(t, l, 40, 3, fixtureMaxSize) // goes on in k1's segment, then rolls over to k2
	checkAll(t, l, 0, fixtureMaxSize)
	ids := map[string]int{}
	for _, p := range segFiles(t, dir) {
		ids[headerOf(t, p).keyID]++
	}
	if ids["k1"] == 0 || ids["k2"] == 0 || headerOf(t, segFiles(t, dir)[len(segFiles(t, dir))-1]).keyID != "k2" {
		t.Fatalf("segments by key id: %v; want both, the last k2", ids)
	}
	l.Close()

	_, err := Open(dir, Options{Keys: testKeys(t, "k2"), Logger: testLogger(t)})
	var uerr *encrypt.UnknownKeyError
	if !errors.As(err, &uerr) || uerr.ID != "k1" {
		t.Fatalf("Open() without the old key = %v; want *UnknownKeyError for k1", err)
	}
	// Once the k1 segments are delivered, the old key can go.
	l = openLog(t, dir, Options{SegmentBytes: 1024, Keys: rotated})
	var firstK2 uint64
	for _, p := range segFiles(t, dir) {
		if headerOf(t, p).keyID == "k2" {
			firstK2, _ = parseSegmentName(filepath.Base(p))
			break
		}
	}
	if err := l.Commit(firstK2); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, dir, Options{SegmentBytes: 1024, Keys: testKeys(t, "k2")})
	checkAll(t, l, firstK2, fixtureMaxSize)
}

func TestSetEncryptionErrors(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	if err := l.SetEncryption(true); err == nil || l.Encrypted() {
		t.Fatalf("SetEncryption(true) without keys = %v; want an error", err)
	}
	if err := l.SetEncryption(false); err != nil {
		t.Fatalf("SetEncryption(false) without keys = %v; want a no-op", err)
	}
	l.Close()
	if err := l.SetEncryption(false); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetEncryption after Close = %v; want ErrClosed", err)
	}

	// A full log has no room for a new segment header, until its records
	// are committed.
	l = openLog(t, t.TempDir(), Options{SegmentBytes: 4096, MaxBytes: 4096, Keys: testKeys(t, "k1")})
	for {
		// 8 entries of 511 bytes fill a segment to the byte.
		_, err := l.Append(context.Background(), []record.Record{{Data: make([]byte, 476)}})
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	before := l.Stats()
	if err := l.SetEncryption(true); !errors.Is(err, ErrFull) {
		t.Fatalf("SetEncryption(true) on a full log = %v; want ErrFull", err)
	}
	if st := l.Stats(); st.Encrypted || st.Segments != before.Segments || st.DiskBytes != before.DiskBytes {
		t.Fatalf("a failed SetEncryption changed the log: %+v, was %+v", st, before)
	}
	if err := l.Commit(before.NextOffset); err != nil {
		t.Fatal(err)
	}
	if err := l.SetEncryption(true); err != nil {
		t.Fatalf("SetEncryption(true) after Commit = %v", err)
	}
	if st := l.Stats(); !st.Encrypted || st.PlaintextSegments != 0 || st.DiskBytes > 4096 || st.DiskBytes != filesBytes(t, l.dir) {
		t.Fatalf("Stats() = %+v; want only an encrypted segment, within MaxBytes", st)
	}
	for range 10 { // it fills and frees again, in the new mode
		first, err := l.Append(context.Background(), []record.Record{{Data: make([]byte, 476)}})
		if errors.Is(err, ErrFull) {
			if err := l.Commit(l.Stats().NextOffset); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Append() = %d, %v", first, err)
		}
		if st := l.Stats(); st.DiskBytes > 4096 {
			t.Fatalf("Stats().DiskBytes = %d over MaxBytes", st.DiskBytes)
		}
	}
}

func TestEncryptedErrFull(t *testing.T) {
	// MaxBytes counts encrypted entries and headers exactly.
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 2048, MaxBytes: 8 << 10, Keys: testKeys(t, "k1")})
	if err := l.SetEncryption(true); err != nil {
		t.Fatal(err)
	}
	var next uint64
	for {
		first, err := l.Append(context.Background(), recs(next, 4, fixtureMaxSize))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil || first != next {
			t.Fatalf("Append() = %d, %v; want %d, nil", first, err, next)
		}
		next += 4
	}
	st := l.Stats()
	if st.DiskBytes > 8<<10 || st.DiskBytes != filesBytes(t, l.dir) || st.Segments < 3 || st.PlaintextSegments != 0 {
		t.Fatalf("Stats() = %+v (files %d bytes); want several encrypted segments within MaxBytes", st, filesBytes(t, l.dir))
	}
	checkAll(t, l, 0, fixtureMaxSize)
}

func TestEncryptedIndex(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Keys: testKeys(t, "k1")}
	l := openLog(t, dir, opts)
	if err := l.SetEncryption(true); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 4000, 250, 1024)
	check := func(l *Log) {
		t.Helper()
		l.mu.Lock()
		idx := slices.Clone(l.segs[0].index)
		l.mu.Unlock()
		if len(idx) < 1 {
			t.Fatal("no index points in a 2 MiB segment")
		}
		for _, from := range []uint64{0, 1, idx[0].off - 1, idx[0].off, idx[0].off + 1, 3999, 4000} {
			r, err := l.NewReader(from)
			if err != nil {
				t.Fatal(err)
			}
			for want := from; want < min(from+30, 4000); want++ {
				got, err := r.Next()
				if err != nil || got.Offset != want {
					t.Fatalf("from %d: Next() = offset %d, %v; want %d", from, got.Offset, err, want)
				}
				checkRec(t, got, 1024)
			}
			r.Close()
		}
	}
	check(l)
	l.Close()
	check(openLog(t, dir, opts))
}

func TestEncryptedEntries(t *testing.T) {
	// The same records twice make different ciphertexts; every nonce in
	// a segment is different.
	dir := t.TempDir()
	l := openLog(t, dir, Options{Keys: testKeys(t, "k1")})
	if err := l.SetEncryption(true); err != nil {
		t.Fatal(err)
	}
	same := []record.Record{{PartitionKey: "k", Data: []byte("the same record")}}
	for range 200 {
		if _, err := l.Append(context.Background(), same); err != nil {
			t.Fatal(err)
		}
	}
	path := segFiles(t, dir)[0]
	b, _ := os.ReadFile(path)
	seen := map[string]bool{}
	for _, e := range entriesOf(t, path) {
		n := string(nonceAt(t, path, e.pos))
		if seen[n] {
			t.Fatalf("nonce %x repeats", n)
		}
		seen[n] = true
		if want := int64(entryHeaderLen + sealOverhead + recordSize(&same[0])); e.size != want {
			t.Fatalf("entry is %d bytes; want %d", e.size, want)
		}
	}
	if bytes.Contains(b, []byte("the same record")) {
		t.Fatal("the segment holds the record in plaintext")
	}
}

func TestEncryptedNextAllocations(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{Keys: testKeys(t, "k1")})
	if err := l.SetEncryption(true); err != nil {
		t.Fatal(err)
	}
	rs := recs(0, 500, 1024)
	for i := range rs {
		rs[i].PartitionKey = "same-key"
	}
	for range 4 {
		if _, err := l.Append(t.Context(), rs); err != nil {
			t.Fatal(err)
		}
	}
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(); err != nil { // first entry: buffers grow
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.01 {
		t.Errorf("Next() allocates %.2f times per record; want ~0", allocs)
	}
}
