package wal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/record"
)

// testLogger logs warnings and errors to the test output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// logBuffer is a concurrency-safe buffer for capturing log output.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func openLog(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// rec is the test record for offset off: its content is a function of
// off, so any record read back can be checked on its own.
func rec(off uint64, maxSize int) record.Record {
	size := 0
	if maxSize > 0 {
		size = int(off*7919) % (maxSize + 1)
	}
	data := make([]byte, size)
	for i := range min(size, 256) {
		data[i] = byte(off*31 + uint64(i)*7)
	}
	for n := 256; n < size; n *= 2 { // the pattern repeats every 256 bytes
		copy(data[n:], data[:n])
	}
	r := record.Record{Data: data, PartitionKey: fmt.Sprintf("key-%d", off%5)}
	if off%11 != 3 { // now and then the zero time and an empty key
		r.ArrivalTime = time.Unix(1700000000, int64(off)).UTC()
	} else {
		r.PartitionKey = ""
	}
	return r
}

func recs(first uint64, n, maxSize int) []record.Record {
	rs := make([]record.Record, n)
	for i := range rs {
		rs[i] = rec(first+uint64(i), maxSize)
	}
	return rs
}

func checkRec(t testing.TB, got record.Record, maxSize int) {
	t.Helper()
	want := rec(got.Offset, maxSize)
	if !got.ArrivalTime.Equal(want.ArrivalTime) || got.ArrivalTime.IsZero() != want.ArrivalTime.IsZero() ||
		got.PartitionKey != want.PartitionKey || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("record at offset %d = {%v %q %d bytes}; want {%v %q %d bytes}", got.Offset,
			got.ArrivalTime, got.PartitionKey, len(got.Data), want.ArrivalTime, want.PartitionKey, len(want.Data))
	}
}

// appendN appends n records in batches of batch, checking the offsets.
func appendN(t testing.TB, l *Log, n, batch, maxSize int) {
	t.Helper()
	for done := 0; done < n; {
		k := min(batch, n-done)
		next := l.Stats().NextOffset
		first, err := l.Append(context.Background(), recs(next, k, maxSize))
		if err != nil {
			t.Fatalf("Append(%d records) = %v", k, err)
		}
		if first != next {
			t.Fatalf("Append returned first offset %d; want %d", first, next)
		}
		done += k
	}
}

// readAll reads from offset from up to the durable end and returns copies.
func readAll(t testing.TB, l *Log, from uint64) []record.Record {
	t.Helper()
	r, err := l.NewReader(from)
	if err != nil {
		t.Fatalf("NewReader(%d) = %v", from, err)
	}
	defer r.Close()
	var out []record.Record
	for {
		got, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d records from %d = %v", len(out), from, err)
		}
		got.Data = slices.Clone(got.Data)
		out = append(out, got)
	}
}

// checkAll checks that the log holds exactly the test records [from, next).
func checkAll(t testing.TB, l *Log, from uint64, maxSize int) {
	t.Helper()
	next := l.Stats().NextOffset
	got := readAll(t, l, from)
	if uint64(len(got)) != next-from {
		t.Fatalf("read %d records from offset %d; want %d", len(got), from, next-from)
	}
	for i, r := range got {
		if r.Offset != from+uint64(i) {
			t.Fatalf("record %d has offset %d; want %d", i, r.Offset, from+uint64(i))
		}
		checkRec(t, r, maxSize)
	}
}

// entryInfo locates one entry in a segment file.
type entryInfo struct {
	pos, size int64
	base      uint64
	count     uint32
}

// entriesOf parses the entry headers of a healthy segment file.
func entriesOf(t testing.TB, path string) []entryInfo {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []entryInfo
	for pos := headerOf(t, path).len; pos < int64(len(b)); {
		h := parseEntryHeader(b[pos:])
		out = append(out, entryInfo{pos: pos, size: h.size(), base: h.base, count: h.count})
		pos += h.size()
	}
	return out
}

// headerOf parses the header of a healthy segment file.
func headerOf(t testing.TB, path string) segHeader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, reason, _, err := parseSegmentHeader(b[:min(len(b), maxSegHeaderLen)])
	if reason != "" || err != nil {
		t.Fatalf("segment %s: header %q, %v", path, reason, err)
	}
	return h
}

// testKey returns a fixed master key for id and variant, in the key file
// format: tests and the fuzz corpus see the same keys.
func testKey(id string, variant int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "wal test key %s/%d", id, variant))
	return id + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// testKeys returns a keyring of the ids' testKey (variant 0), the last one
// current.
func testKeys(t testing.TB, ids ...string) *encrypt.Keyring {
	t.Helper()
	var lines []string
	for _, id := range ids {
		lines = append(lines, testKey(id, 0))
	}
	kr, err := encrypt.ParseKeys([]byte(strings.Join(lines, "\n")), "test keys")
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// segFiles lists the segment files of dir.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// filesBytes is the total size of dir's segment files.
func filesBytes(t testing.TB, dir string) int64 {
	var n int64
	for _, p := range segFiles(t, dir) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// rewriteEntry applies edit to the header and payload of the entry at pos
// of the segment file at path, then fixes its length and CRC, making a
// well-framed entry with whatever content edit chose.
func rewriteEntry(t testing.TB, path string, pos int64, edit func(h []byte, payload []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := parseEntryHeader(b[pos:])
	end := pos + h.size()
	hdr := slices.Clone(b[pos : pos+entryHeaderLen])
	payload := edit(hdr, slices.Clone(b[pos+entryHeaderLen:end]))
	putEntryHeader(hdr, payload)
	out := slices.Concat(b[:pos], hdr, payload, b[end:])
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// putEntryHeader sets hdr's length and CRC fields for payload.
func putEntryHeader(hdr, payload []byte) {
	hdr[0], hdr[1], hdr[2], hdr[3] = byte(len(payload)), byte(len(payload)>>8), byte(len(payload)>>16), byte(len(payload)>>24)
	c := entryCRC(hdr, payload)
	hdr[4], hdr[5], hdr[6], hdr[7] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
}

// asCorruption returns err as a *CorruptionError or fails the test.
func asCorruption(t testing.TB, err error) *CorruptionError {
	t.Helper()
	var cerr *CorruptionError
	if !errors.As(err, &cerr) {
		t.Fatalf("error = %v; want a *CorruptionError", err)
	}
	return cerr
}
