package wal

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hydrantio/hydrant/record"
)

// fixture is a closed log of several segments of a few entries each.
type fixture struct {
	dir  string
	segs []fixtureSeg
	next uint64
}

type fixtureSeg struct {
	path    string
	first   uint64
	entries []entryInfo
}

const fixtureMaxSize = 100

// newFixture returns a fresh copy of the fixture log, built once per test
// binary: building it takes dozens of fsyncs, copying it none.
func newFixture(t *testing.T) fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wal-fixture-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureDir = dir
		l, err := Open(dir, Options{SegmentBytes: 1024, Logger: testLogger(t)})
		if err != nil {
			fixtureErr = err
			return
		}
		for next := uint64(0); next < 60 && err == nil; next += 3 {
			_, err = l.Append(context.Background(), recs(next, 3, fixtureMaxSize))
		}
		fixtureErr = errors.Join(err, l.Close())
	})
	if fixtureErr != nil {
		t.Fatalf("cannot build the fixture log: %v", fixtureErr)
	}
	return loadFixture(t, copyDir(t, fixtureDir))
}

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func loadFixture(t *testing.T, dir string) fixture {
	t.Helper()
	fx := fixture{dir: dir}
	for _, p := range segFiles(t, dir) {
		first, _ := parseSegmentName(filepath.Base(p))
		fx.segs = append(fx.segs, fixtureSeg{path: p, first: first, entries: entriesOf(t, p)})
	}
	last := fx.segs[len(fx.segs)-1]
	e := last.entries[len(last.entries)-1]
	fx.next = e.base + uint64(e.count)
	if len(fx.segs) < 4 || len(last.entries) < 2 {
		t.Fatalf("fixture has %d segments, %d entries in the last; the tests need more", len(fx.segs), len(last.entries))
	}
	return fx
}

func (fx fixture) last() fixtureSeg { return fx.segs[len(fx.segs)-1] }

// snapshot hashes every file in dir, to check that a failed Open changed
// nothing.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return string(h.Sum(nil))
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

func TestTornTail(t *testing.T) {
	// The fixture's last entry: a small one, so every cut is quick to try.
	fx := newFixture(t)
	l := openLog(t, fx.dir, Options{SegmentBytes: 1024})
	if _, err := l.Append(context.Background(), []record.Record{rec(fx.next, fixtureMaxSize)}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	fx = loadFixture(t, fx.dir)
	last := fx.last()
	lastEntry := last.entries[len(last.entries)-1]
	st, err := os.Stat(last.path)
	if err != nil {
		t.Fatal(err)
	}

	type tornCase struct {
		name     string
		mutate   func(t *testing.T, path string)
		wantNext uint64
		wantSize int64 // of the last segment after recovery
		wantLog  string
		// appendAfter also checks that the log takes appends and reads
		// them back; it costs an fsync, so not every cut does it.
		appendAfter bool
	}
	var cases []tornCase
	for cut := lastEntry.pos + 1; cut < lastEntry.pos+lastEntry.size; cut++ {
		cases = append(cases, tornCase{
			name:     "cut at byte " + itoa(cut),
			mutate:   func(t *testing.T, path string) { truncate(t, path, cut) },
			wantNext: lastEntry.base, wantSize: lastEntry.pos, wantLog: "byte_offset=" + itoa(lastEntry.pos),
			appendAfter: cut == lastEntry.pos+1 || cut == lastEntry.pos+entryHeaderLen || cut == lastEntry.pos+lastEntry.size-1,
		})
	}
	for cut := int64(0); cut < segHeaderLen; cut++ {
		cases = append(cases, tornCase{
			name:     "segment header cut at byte " + itoa(cut),
			mutate:   func(t *testing.T, path string) { truncate(t, path, cut) },
			wantNext: last.first, wantSize: segHeaderLen, wantLog: "byte_offset=0", appendAfter: true,
		})
	}
	cases = append(cases,
		tornCase{
			name:     "checksum mismatch in the last entry",
			mutate:   func(t *testing.T, path string) { flipByte(t, path, lastEntry.pos+lastEntry.size-1) },
			wantNext: lastEntry.base, wantSize: lastEntry.pos, wantLog: "byte_offset=" + itoa(lastEntry.pos), appendAfter: true,
		},
		tornCase{
			name:     "length of the last entry damaged",
			mutate:   func(t *testing.T, path string) { flipByte(t, path, lastEntry.pos+2) },
			wantNext: lastEntry.base, wantSize: lastEntry.pos, wantLog: "byte_offset=" + itoa(lastEntry.pos), appendAfter: true,
		},
		tornCase{
			name: "zeroed last entry",
			mutate: func(t *testing.T, path string) {
				writeAt(t, path, lastEntry.pos, make([]byte, lastEntry.size))
			},
			wantNext: lastEntry.base, wantSize: lastEntry.pos, wantLog: "byte_offset=" + itoa(lastEntry.pos), appendAfter: true,
		},
		tornCase{
			name: "zeros after the last entry",
			mutate: func(t *testing.T, path string) {
				writeAt(t, path, st.Size(), make([]byte, 8192))
			},
			wantNext: fx.next, wantSize: st.Size(), wantLog: "byte_offset=" + itoa(st.Size()), appendAfter: true,
		},
		tornCase{
			name: "zeroed segment header",
			mutate: func(t *testing.T, path string) {
				truncate(t, path, 0)
				writeAt(t, path, 0, make([]byte, 100))
			},
			wantNext: last.first, wantSize: segHeaderLen, wantLog: "byte_offset=0", appendAfter: true,
		},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the cases wait on fsyncs: let them share the wait
			dir := copyDir(t, fx.dir)
			path := filepath.Join(dir, filepath.Base(last.path))
			tc.mutate(t, path)
			var logs logBuffer
			l, err := Open(dir, Options{SegmentBytes: 1024, Logger: slogTo(&logs)})
			if err != nil {
				t.Fatalf("Open() = %v; want the torn tail truncated", err)
			}
			defer l.Close()
			if got := l.Stats().NextOffset; got != tc.wantNext {
				t.Fatalf("NextOffset = %d; want %d", got, tc.wantNext)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != tc.wantSize {
				t.Fatalf("last segment is %d bytes (%v); want %d", fi.Size(), err, tc.wantSize)
			}
			if want := "torn write at the end of the log\" wal=" + dir + " segment=" + filepath.Base(path) +
				" " + tc.wantLog; !strings.Contains(logs.String(), want) {
				t.Errorf("log = %q; want a warning containing %q", logs.String(), want)
			}
			checkAll(t, l, 0, fixtureMaxSize)
			if !tc.appendAfter {
				return
			}
			if got := filesBytes(t, dir); got != l.Stats().DiskBytes {
				t.Fatalf("segment files hold %d bytes; Stats().DiskBytes = %d", got, l.Stats().DiskBytes)
			}
			if first, err := l.Append(context.Background(), recs(tc.wantNext, 2, fixtureMaxSize)); err != nil || first != tc.wantNext {
				t.Fatalf("Append() after recovery = %d, %v; want %d, nil", first, err, tc.wantNext)
			}
			checkAll(t, l, 0, fixtureMaxSize)
			if got := filesBytes(t, dir); got != l.Stats().DiskBytes {
				t.Fatalf("after Append segment files hold %d bytes; Stats().DiskBytes = %d", got, l.Stats().DiskBytes)
			}
		})
	}

	// Recovery leaves a log that takes appends and reopens cleanly.
	dir := copyDir(t, fx.dir)
	truncate(t, filepath.Join(dir, filepath.Base(last.path)), lastEntry.pos+5)
	l = openLog(t, dir, Options{SegmentBytes: 1024})
	if first, err := l.Append(context.Background(), recs(lastEntry.base, 2, fixtureMaxSize)); err != nil || first != lastEntry.base {
		t.Fatalf("Append() after recovery = %d, %v; want %d, nil", first, err, lastEntry.base)
	}
	l.Close()
	var logs logBuffer
	l, err = Open(dir, Options{SegmentBytes: 1024, Logger: slogTo(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if strings.Contains(logs.String(), "torn") {
		t.Errorf("second recovery found a torn entry: %q", logs.String())
	}
	checkAll(t, l, 0, fixtureMaxSize)
}

func TestCorruption(t *testing.T) {
	type want struct {
		segment  func(fx fixture) string // file name
		pos      func(fx fixture) int64
		offset   func(fx fixture) uint64
		reason   string
		next     func(fx fixture) uint64 // after Repair
		first    func(fx fixture) uint64 // after Repair
		commited func(fx fixture) uint64 // after Repair
	}
	lastSeg := func(fx fixture) string { return filepath.Base(fx.last().path) }
	seg := func(i int) func(fixture) string {
		return func(fx fixture) string { return filepath.Base(fx.segs[i].path) }
	}
	commit := func(fixture) string { return commitFile }
	zeroPos := func(fixture) int64 { return 0 }
	zero := func(fixture) uint64 { return 0 }
	entryPos := func(i, e int) func(fixture) int64 {
		return func(fx fixture) int64 { return fx.at(i).entry(e).pos }
	}
	entryBase := func(i, e int) func(fixture) uint64 {
		return func(fx fixture) uint64 { return fx.at(i).entry(e).base }
	}
	segFirst := func(i int) func(fixture) uint64 {
		return func(fx fixture) uint64 { return fx.at(i).first }
	}
	end := func(fx fixture) uint64 { return fx.next }

	tests := []struct {
		name   string
		mutate func(t *testing.T, fx fixture)
		want   want
	}{
		{
			name:   "checksum mismatch followed by valid entries",
			mutate: func(t *testing.T, fx fixture) { flipByte(t, fx.last().path, fx.last().entries[0].pos+30) },
			want: want{segment: lastSeg, pos: entryPos(-1, 0), offset: entryBase(-1, 0), reason: "checksum mismatch",
				next: entryBase(-1, 0), first: zero, commited: zero},
		},
		{
			name: "checksum mismatch at the end of an earlier segment",
			mutate: func(t *testing.T, fx fixture) {
				flipByte(t, fx.segs[1].path, fx.segs[1].entries[len(fx.segs[1].entries)-1].pos+30)
			},
			want: want{segment: seg(1), pos: entryPos(1, -1), offset: entryBase(1, -1), reason: "checksum mismatch",
				next: entryBase(1, -1), first: zero, commited: zero},
		},
		{
			name: "earlier segment truncated",
			mutate: func(t *testing.T, fx fixture) {
				e := fx.segs[1].entries[len(fx.segs[1].entries)-1]
				truncate(t, fx.segs[1].path, e.pos+e.size-3)
			},
			want: want{segment: seg(1), pos: entryPos(1, -1), offset: entryBase(1, -1), reason: "past the end",
				next: entryBase(1, -1), first: zero, commited: zero},
		},
		{
			name:   "bad framing followed by valid entries",
			mutate: func(t *testing.T, fx fixture) { flipByte(t, fx.last().path, fx.last().entries[0].pos+9) },
			want: want{segment: lastSeg, pos: entryPos(-1, 0), offset: entryBase(-1, 0), reason: "reserved",
				next: entryBase(-1, 0), first: zero, commited: zero},
		},
		{
			name: "missing segment",
			mutate: func(t *testing.T, fx fixture) {
				if err := os.Remove(fx.segs[2].path); err != nil {
					t.Fatal(err)
				}
			},
			want: want{segment: seg(3), pos: zeroPos, offset: segFirst(2), reason: "missing",
				next: segFirst(2), first: zero, commited: zero},
		},
		{
			name: "offset gap between entries",
			mutate: func(t *testing.T, fx fixture) {
				rewriteEntry(t, fx.last().path, fx.last().entries[1].pos, func(h, p []byte) []byte { h[12]++; return p })
			},
			want: want{segment: lastSeg, pos: entryPos(-1, 1), offset: entryBase(-1, 1), reason: "gap",
				next: entryBase(-1, 1), first: zero, commited: zero},
		},
		{
			name: "offset overlap between entries",
			mutate: func(t *testing.T, fx fixture) {
				rewriteEntry(t, fx.segs[1].path, fx.segs[1].entries[1].pos, func(h, p []byte) []byte { h[12]--; return p })
			},
			want: want{segment: seg(1), pos: entryPos(1, 1), offset: entryBase(1, 1), reason: "overlap",
				next: entryBase(1, 1), first: zero, commited: zero},
		},
		{
			name: "segment name does not match its entries",
			mutate: func(t *testing.T, fx fixture) {
				l := fx.last()
				if err := os.Rename(l.path, filepath.Join(fx.dir, segmentName(l.first-1))); err != nil {
					t.Fatal(err)
				}
			},
			want: want{segment: func(fx fixture) string { return segmentName(fx.last().first - 1) }, pos: zeroPos,
				offset: segFirst(-1), reason: "overlap", next: segFirst(-1), first: zero, commited: zero},
		},
		{
			name: "well-framed entry with a malformed payload",
			mutate: func(t *testing.T, fx fixture) {
				rewriteEntry(t, fx.last().path, fx.last().entries[0].pos, func(h, p []byte) []byte { return p[:len(p)-1] })
			},
			want: want{segment: lastSeg, pos: entryPos(-1, 0), offset: entryBase(-1, 0), reason: "malformed",
				next: entryBase(-1, 0), first: zero, commited: zero},
		},
		{
			name: "trailing bytes in an entry",
			mutate: func(t *testing.T, fx fixture) {
				rewriteEntry(t, fx.segs[0].path, fx.segs[0].entries[0].pos, func(h, p []byte) []byte { return append(p, 0) })
			},
			want: want{segment: seg(0), pos: entryPos(0, 0), offset: zero, reason: "follow",
				next: zero, first: zero, commited: zero},
		},
		{
			name:   "bad segment header",
			mutate: func(t *testing.T, fx fixture) { flipByte(t, fx.segs[1].path, 1) },
			want: want{segment: seg(1), pos: zeroPos, offset: segFirst(1), reason: "segment header",
				next: segFirst(1), first: zero, commited: zero},
		},
		{
			name: "garbage commit file",
			mutate: func(t *testing.T, fx fixture) {
				writeAt(t, filepath.Join(fx.dir, commitFile), 0, []byte("garbage"))
			},
			want: want{segment: commit, pos: zeroPos, offset: zero, reason: "commit file is 7 bytes",
				next: end, first: zero, commited: zero},
		},
		{
			name: "commit file checksum mismatch",
			mutate: func(t *testing.T, fx fixture) {
				if err := writeCommit(fx.dir, 5); err != nil {
					t.Fatal(err)
				}
				flipByte(t, filepath.Join(fx.dir, commitFile), 9)
			},
			want: want{segment: commit, pos: zeroPos, offset: zero, reason: "checksum",
				next: end, first: zero, commited: zero},
		},
		{
			name: "commit beyond the end of the log",
			mutate: func(t *testing.T, fx fixture) {
				if err := writeCommit(fx.dir, fx.next+5); err != nil {
					t.Fatal(err)
				}
			},
			want: want{segment: commit, pos: zeroPos, offset: func(fx fixture) uint64 { return fx.next + 5 }, reason: "beyond",
				next:     func(fx fixture) uint64 { return fx.next + 5 },
				first:    func(fx fixture) uint64 { return fx.next + 5 },
				commited: func(fx fixture) uint64 { return fx.next + 5 }},
		},
		{
			name: "first segment missing",
			mutate: func(t *testing.T, fx fixture) {
				if err := os.Remove(fx.segs[0].path); err != nil {
					t.Fatal(err)
				}
			},
			want: want{segment: commit, pos: zeroPos, offset: zero, reason: "missing",
				next: end, first: segFirst(1), commited: segFirst(1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			tt.mutate(t, fx)
			before := snapshot(t, fx.dir)
			_, err := Open(fx.dir, Options{SegmentBytes: 1024, Logger: testLogger(t)})
			cerr := asCorruption(t, err)
			w := tt.want
			if cerr.Segment != w.segment(fx) || cerr.ByteOffset != w.pos(fx) || cerr.Offset != w.offset(fx) ||
				!strings.Contains(cerr.Reason, w.reason) || cerr.Dir != fx.dir {
				t.Fatalf("Open() = %v;\nwant segment %s, byte %d, offset %d, reason containing %q",
					cerr, w.segment(fx), w.pos(fx), w.offset(fx), w.reason)
			}
			if snapshot(t, fx.dir) != before {
				t.Fatal("a failed Open changed the directory")
			}
			if err := Repair(fx.dir, cerr); err != nil {
				t.Fatalf("Repair() = %v", err)
			}
			l := openLog(t, fx.dir, Options{SegmentBytes: 1024})
			st := l.Stats()
			if st.NextOffset != w.next(fx) || st.FirstOffset != w.first(fx) || st.Committed != w.commited(fx) {
				t.Fatalf("after Repair Stats() = %+v; want FirstOffset %d, NextOffset %d, Committed %d",
					st, w.first(fx), w.next(fx), w.commited(fx))
			}
			checkAll(t, l, st.FirstOffset, fixtureMaxSize)
			if first, err := l.Append(context.Background(), recs(st.NextOffset, 3, fixtureMaxSize)); err != nil || first != st.NextOffset {
				t.Fatalf("Append() after Repair = %d, %v; want %d, nil", first, err, st.NextOffset)
			}
			l.Close()
			l = openLog(t, fx.dir, Options{SegmentBytes: 1024})
			checkAll(t, l, st.FirstOffset, fixtureMaxSize)
		})
	}
}

// at returns segment i, counting from the end if i is negative.
func (fx fixture) at(i int) fixtureSeg {
	if i < 0 {
		i += len(fx.segs)
	}
	return fx.segs[i]
}

// entry returns entry e of the segment, counting from the end if e is
// negative.
func (s fixtureSeg) entry(e int) entryInfo {
	if e < 0 {
		e += len(s.entries)
	}
	return s.entries[e]
}

func TestUnsupported(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, fx fixture)
	}{
		{"entry flags", func(t *testing.T, fx fixture) {
			rewriteEntry(t, fx.segs[1].path, fx.segs[1].entries[0].pos, func(h, p []byte) []byte { h[8] = 1; return p })
		}},
		{"segment version", func(t *testing.T, fx fixture) { writeAt(t, fx.segs[0].path, 4, []byte{3}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			tt.mutate(t, fx)
			_, err := Open(fx.dir, Options{Logger: testLogger(t)})
			var cerr *CorruptionError
			if !errors.Is(err, ErrUnsupported) || errors.As(err, &cerr) {
				t.Fatalf("Open() = %v; want ErrUnsupported, not corruption", err)
			}
		})
	}
}

func TestReaderDetectsCorruption(t *testing.T) {
	// Damage after Open (bit rot) is caught by the entry CRC on read.
	fx := newFixture(t)
	l := openLog(t, fx.dir, Options{SegmentBytes: 1024})
	e := fx.segs[1].entries[1]
	flipByte(t, fx.segs[1].path, e.pos+40)
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for want := uint64(0); ; want++ {
		got, err := r.Next()
		if err != nil {
			cerr := asCorruption(t, err)
			if want != e.base || cerr.ByteOffset != e.pos || cerr.Segment != filepath.Base(fx.segs[1].path) {
				t.Fatalf("Next() at offset %d = %v; want corruption at entry %+v", want, err, e)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Fatalf("Next() after corruption = %v; want the same error again", err2)
			}
			return
		}
		if got.Offset != want {
			t.Fatalf("Next() = offset %d; want %d", got.Offset, want)
		}
	}
}

func TestRepairArguments(t *testing.T) {
	fx := newFixture(t)
	if err := Repair(fx.dir, nil); err == nil {
		t.Error("Repair(nil) succeeded")
	}
	if err := Repair(fx.dir, &CorruptionError{Segment: segmentName(12345)}); err == nil {
		t.Error("Repair of a segment that does not exist succeeded")
	}
	if err := Repair(fx.dir, &CorruptionError{Segment: "notes.txt"}); err == nil {
		t.Error("Repair of a file that is not a segment succeeded")
	}
	l := openLog(t, fx.dir, Options{})
	if err := Repair(fx.dir, &CorruptionError{Segment: filepath.Base(fx.last().path), ByteOffset: 8}); err == nil {
		t.Error("Repair of an open log succeeded")
	}
	l.Close()
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func writeAt(t *testing.T, path string, pos int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
