package integration

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// The WAL layout, as delivery/wal/FORMAT.md specifies it: a segment is an
// 8-byte header ("HWAL", version, 3 reserved bytes) and then entries, each
// a 24-byte header (payload length u32, CRC u32, flags u8, 3 reserved,
// base offset u64, record count u32; little endian) and its payload of
// records (arrival u64, uvarint key length, key, uvarint data length,
// data). The test reads it independently of the wal package, so that a
// change of format shows up here as a failure to update FORMAT.md too.
const (
	walSegHeader   = 8
	walEntryHeader = 24
)

// walEntry is one entry of a segment file.
type walEntry struct {
	pos     int64 // byte offset of its header in the segment
	size    int64 // header and payload
	base    uint64
	records []string // the records' data
}

// readSegment parses a segment file into its entries.
func readSegment(t *testing.T, path string) []walEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < walSegHeader || string(b[:4]) != "HWAL" {
		t.Fatalf("%s: no segment header (FORMAT.md changed?): %q", path, b[:min(len(b), 8)])
	}
	var out []walEntry
	for pos := int64(walSegHeader); pos < int64(len(b)); {
		if int64(len(b))-pos < walEntryHeader {
			t.Fatalf("%s: %d trailing bytes at %d, less than an entry header", path, int64(len(b))-pos, pos)
		}
		h := b[pos : pos+walEntryHeader]
		plen := int64(binary.LittleEndian.Uint32(h[0:]))
		e := walEntry{pos: pos, size: walEntryHeader + plen, base: binary.LittleEndian.Uint64(h[12:])}
		count := int(binary.LittleEndian.Uint32(h[20:]))
		if pos+e.size > int64(len(b)) {
			t.Fatalf("%s: entry at %d claims %d bytes, past the end of the file", path, pos, e.size)
		}
		p := b[pos+walEntryHeader : pos+e.size]
		for range count {
			if len(p) < 8 {
				t.Fatalf("%s: entry at %d: payload too short for its %d records", path, pos, count)
			}
			p = p[8:]
			klen, n := binary.Uvarint(p)
			p = p[n+int(klen):]
			dlen, n := binary.Uvarint(p)
			e.records = append(e.records, string(p[n:n+int(dlen)]))
			p = p[n+int(dlen):]
		}
		out = append(out, e)
		pos += e.size
	}
	return out
}

// segments returns the segment files of a stream's log, in order.
func segments(t *testing.T, dataDir, stream string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dataDir, "streams", stream, "wal", "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segment files for stream %q (%v)", stream, err)
	}
	slices.Sort(segs)
	return segs
}

// TestCorruptSegment damages stream logs between runs: (a) a torn last
// entry is truncated with a warning and the server serves on, delivering
// everything before it exactly once; (b) a corrupted entry with valid data
// after it stops `hydrant serve` with an error naming the segment file and
// byte offset, never a panic.
func TestCorruptSegment(t *testing.T) {
	needServer(t)
	srv := startServer(t, "")
	c := newClient(srv.Endpoint())
	// A 15-minute buffer keeps everything undelivered in the logs, until a
	// draining delete (or a graceful stop) delivers it.
	la, lb := newLedger(), newLedger()
	for _, s := range []struct {
		name string
		l    *ledger
	}{{"torn", la}, {"flipped", lb}} {
		createS3Stream(t, c, s.name, s.name, "", 1, 900, types.CompressionFormatGzip)
		for i := range 12 {
			// One call at a time: each batch is one entry of the log.
			putAll(t, c, s.name, genRecords(fmt.Sprintf("%s-%02d", s.name, i), 40, 100), 40, 1, s.l)
		}
	}
	// Killed, not stopped: a graceful stop delivers what the logs hold.
	srv.Kill()
	for _, b := range []string{"torn", "flipped"} {
		if objs := readBucket(t, srv.dataDir, b); len(objs.keys) > 0 {
			t.Fatalf("precondition: stream %s delivered %d objects with a 900 s buffer; the test needs its records in the log", b, len(objs.keys))
		}
	}

	// (a) A torn write: the last entry of "torn" loses its second half.
	segs := segments(t, srv.dataDir, "torn")
	last := segs[len(segs)-1]
	entries := readSegment(t, last)
	if len(entries) < 4 {
		t.Fatalf("%s holds %d entries after 12 sequential batches; want at least 4", last, len(entries))
	}
	torn := entries[len(entries)-1]
	if err := os.Truncate(last, torn.pos+torn.size/2); err != nil {
		t.Fatal(err)
	}
	// Its records are gone: a torn entry is one whose write a crash
	// interrupted, so they were never acknowledged.
	la.forget(torn.records...)
	srv.Start()
	warn := regexp.MustCompile(`(?m)^.*level=WARN.*` + regexp.QuoteMeta(filepath.Base(last)) + `.*$`)
	if m := warn.FindString(srv.Log()); m == "" {
		t.Errorf("restart after a torn last entry logged no WARN line naming %s", filepath.Base(last))
	} else {
		t.Logf("warning: %s", m)
	}
	c = newClient(srv.Endpoint())
	putAll(t, c, "torn", genRecords("torn-after-restart", 40, 100), 40, 1, la)
	deleteStream(t, c, "torn", false)
	waitGone(t, c, "torn", 30*time.Second)
	checkExactlyOnce(t, readBucket(t, srv.dataDir, "torn"), la)
	srv.Kill() // keeps "flipped" undelivered in its log

	// (b) A flipped byte in the middle of an earlier entry of "flipped",
	// with valid entries after it: starting would lose data silently, so
	// serve refuses.
	segs = segments(t, srv.dataDir, "flipped")
	last = segs[len(segs)-1]
	entries = readSegment(t, last)
	victim := entries[len(entries)/2]
	flipByte(t, last, victim.pos+walEntryHeader+(victim.size-walEntryHeader)/2)
	stderr, err := srv.RunToExit(30 * time.Second)
	if err == nil {
		t.Fatalf("hydrant serve started on a log with a corrupted entry followed by valid ones; want it to exit non-zero")
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if strings.Contains(stderr, bad) {
			t.Errorf("hydrant serve on a corrupted log: stderr has %q; want an error message, not a crash:\n%s", bad, stderr)
		}
	}
	if !strings.Contains(stderr, filepath.Base(last)) {
		t.Errorf("hydrant serve on a corrupted log: the error does not name the segment %s:\n%s", filepath.Base(last), lastLines(stderr, 5))
	}
	if !regexp.MustCompile(`\b` + fmt.Sprint(victim.pos) + `\b`).MatchString(stderr) {
		t.Errorf("hydrant serve on a corrupted log: the error does not name byte offset %d, where the damaged entry starts:\n%s", victim.pos, lastLines(stderr, 5))
	}
	if !strings.Contains(stderr, "hydrant repair") {
		t.Errorf("hydrant serve on a corrupted log: the error does not point to `hydrant repair`, the documented recovery:\n%s", lastLines(stderr, 5))
	}
	t.Logf("hydrant serve refused to start (%v):\n%s", err, lastLines(stderr, 3))
	repairCorruptLog(t, srv, lb, filepath.Base(last), entries, victim)
}

// repairCorruptLog runs the documented recovery, `hydrant repair`, on the
// damaged log of stream "flipped", and checks that the stream then serves
// and delivers what was before the damage exactly once, and nothing of
// what was cut.
func repairCorruptLog(t *testing.T, srv *server, l *ledger, seg string, entries []walEntry, victim walEntry) {
	t.Helper()
	r := runHydrant(t, "", "repair", "--data-dir", srv.dataDir, "flipped")
	if r.code == 0 {
		t.Fatalf("hydrant repair flipped (no --truncate) on a damaged log: exit 0; want non-zero\n%v", r)
	}
	if !strings.Contains(r.stdout+r.stderr, seg) || !strings.Contains(r.stdout+r.stderr, fmt.Sprint(victim.pos)) {
		t.Errorf("hydrant repair flipped does not name the damage (%s, byte %d):\n%v", seg, victim.pos, r)
	}
	r = runHydrant(t, "", "repair", "--data-dir", srv.dataDir, "--truncate", "flipped")
	if r.code != 0 {
		t.Fatalf("hydrant repair --truncate flipped: %v; want exit 0", r)
	}
	t.Logf("hydrant repair --truncate: %s", strings.TrimSpace(r.stdout))
	if r = runHydrant(t, "", "repair", "--data-dir", srv.dataDir, "flipped"); r.code != 0 {
		t.Errorf("hydrant repair flipped after --truncate: %v; want exit 0 (the log is sound)", r)
	}

	// The damaged entry and everything after it are gone.
	for _, e := range entries {
		if e.pos >= victim.pos {
			l.forget(e.records...)
		}
	}
	srv.Start()
	c := newClient(srv.Endpoint())
	checkEq(t, "flipped status after repair", describe(t, c, "flipped").DeliveryStreamStatus, "ACTIVE")
	putAll(t, c, "flipped", genRecords("flipped-after-repair", 40, 100), 40, 1, l)
	deleteStream(t, c, "flipped", false)
	waitGone(t, c, "flipped", 30*time.Second)
	checkExactlyOnce(t, readBucket(t, srv.dataDir, "flipped"), l)
	srv.Stop()
}

func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
