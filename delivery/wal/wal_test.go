package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/record"
)

func TestAppendRead(t *testing.T) {
	tests := []struct {
		name         string
		segmentBytes int64
		batches      []int // records per Append
		maxSize      int   // record data sizes are in [0, maxSize]
		minSegments  int
	}{
		{name: "one record", batches: []int{1}, maxSize: 10, minSegments: 1},
		{name: "empty records", batches: []int{3, 1}, maxSize: 0, minSegments: 1},
		{name: "batches", batches: []int{1, 2, 3, 500, 7}, maxSize: 1024, minSegments: 1},
		{name: "rollover", segmentBytes: 4096, batches: slices.Repeat([]int{10}, 40), maxSize: 300, minSegments: 10},
		{name: "batch larger than a segment", segmentBytes: 4096, batches: []int{100, 3, 100}, maxSize: 200, minSegments: 5},
		{name: "record larger than a segment", segmentBytes: 512, batches: []int{1, 1, 4}, maxSize: 3000, minSegments: 3},
		{name: "tiny segments", segmentBytes: 1, batches: []int{5, 5}, maxSize: 20, minSegments: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentBytes: tt.segmentBytes}
			l := openLog(t, dir, opts)
			var total uint64
			for _, n := range tt.batches {
				first, err := l.Append(context.Background(), recs(total, n, tt.maxSize))
				if err != nil || first != total {
					t.Fatalf("Append(%d records) = %d, %v; want %d, nil", n, first, err, total)
				}
				total += uint64(n)
			}
			st := l.Stats()
			if st.NextOffset != total || st.FirstOffset != 0 || st.Segments < tt.minSegments {
				t.Fatalf("Stats() = %+v; want NextOffset %d, FirstOffset 0, Segments >= %d", st, total, tt.minSegments)
			}
			if got := filesBytes(t, dir); got != st.DiskBytes {
				t.Errorf("segment files hold %d bytes; Stats().DiskBytes = %d", got, st.DiskBytes)
			}
			checkAll(t, l, 0, tt.maxSize)
			if err := l.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			l = openLog(t, dir, opts)
			if got := l.Stats(); got.NextOffset != st.NextOffset || got.Segments != st.Segments || got.DiskBytes != st.DiskBytes {
				t.Fatalf("after reopen Stats() = %+v; want %+v", got, st)
			}
			checkAll(t, l, 0, tt.maxSize)
		})
	}
}

func TestAppendEmpty(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	appendN(t, l, 3, 3, 10)
	for _, rs := range [][]record.Record{nil, {}} {
		if first, err := l.Append(context.Background(), rs); first != 3 || err != nil {
			t.Errorf("Append(%v) = %d, %v; want 3, nil", rs, first, err)
		}
	}
	if st := l.Stats(); st.Appends != 1 || st.NextOffset != 3 {
		t.Errorf("Stats() = %+v; want 1 append, NextOffset 3", st)
	}
}

func TestNewReaderFrom(t *testing.T) {
	tests := []struct {
		name         string
		segmentBytes int64
		n, batch     int
		maxSize      int
		step         int
	}{
		{name: "small segments", segmentBytes: 2048, n: 300, batch: 7, maxSize: 100, step: 1},
		{name: "indexed segment", n: 4000, batch: 250, maxSize: 1024, step: 97}, // > indexInterval
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, t.TempDir(), Options{SegmentBytes: tt.segmentBytes})
			appendN(t, l, tt.n, tt.batch, tt.maxSize)
			checkAll(t, l, 0, tt.maxSize)
			froms := []uint64{uint64(tt.n)}
			for from := 0; from < tt.n; from += tt.step {
				froms = append(froms, uint64(from))
			}
			for _, from := range froms {
				r, err := l.NewReader(from)
				if err != nil {
					t.Fatalf("NewReader(%d) = %v", from, err)
				}
				for want := from; ; want++ {
					got, err := r.Next()
					if err == io.EOF && want == uint64(tt.n) {
						break
					}
					if err != nil || got.Offset != want {
						t.Fatalf("from %d: Next() = offset %d, %v; want %d", from, got.Offset, err, want)
					}
					if want < from+20 {
						checkRec(t, got, tt.maxSize)
					}
				}
				r.Close()
			}
			if _, err := l.NewReader(uint64(tt.n) + 1); !errors.Is(err, ErrOutOfRange) {
				t.Errorf("NewReader(%d) = %v; want ErrOutOfRange", tt.n+1, err)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	appendN(t, l, 5000, 500, 1024)
	l.mu.Lock()
	idx := slices.Clone(l.segs[0].index)
	l.mu.Unlock()
	if len(idx) < 2 {
		t.Fatalf("segment index has %d points after ~2.5 MiB; want >= 2", len(idx))
	}
	path := filepath.Join(l.dir, segmentName(0))
	starts := map[int64]uint64{}
	for _, e := range entriesOf(t, path) {
		starts[e.pos] = e.base
	}
	for _, p := range idx {
		if base, ok := starts[p.pos]; !ok || base != p.off {
			t.Errorf("index point %+v does not match an entry (base %d, found %v)", p, base, ok)
		}
	}
	l.Close()
	l2 := openLog(t, l.dir, Options{})
	if got := l2.segs[0].index; !slices.Equal(got, idx) {
		t.Errorf("index rebuilt by Open = %v; want %v", got, idx)
	}
}

func TestConcurrentAppend(t *testing.T) {
	const (
		writers   = 8
		perWriter = 60
	)
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 4096})
	type call struct {
		first uint64
		w, i  int
		n     int
	}
	calls := make(chan call, writers*perWriter)
	data := func(w, i, j int) []byte { return fmt.Appendf(nil, "w%d-i%d-j%d", w, i, j) }

	// A tailing reader checks that it never sees a record beyond the
	// durable end and that offsets are contiguous.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tailErr := make(chan error, 1)
	go func() {
		tailErr <- func() error {
			r, err := l.NewReader(0)
			if err != nil {
				return err
			}
			defer r.Close()
			var want uint64
			for want < writers*perWriter*3 {
				ch := l.Appended()
				got, err := r.Next()
				if err == io.EOF {
					select {
					case <-ch:
						continue
					case <-ctx.Done():
						return fmt.Errorf("tail stopped at offset %d", want)
					}
				}
				if err != nil {
					return err
				}
				if got.Offset != want {
					return fmt.Errorf("tail read offset %d; want %d", got.Offset, want)
				}
				if next := l.Stats().NextOffset; got.Offset >= next {
					return fmt.Errorf("tail read offset %d before it was durable (durable end %d)", got.Offset, next)
				}
				want++
			}
			return nil
		}()
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				n := 1 + (w+i)%5 // 1..5 records; 3 on average
				rs := make([]record.Record, n)
				for j := range rs {
					rs[j] = record.Record{Data: data(w, i, j), PartitionKey: "k"}
				}
				first, err := l.Append(context.Background(), rs)
				if err != nil {
					t.Errorf("Append() = %v", err)
					return
				}
				calls <- call{first: first, w: w, i: i, n: n}
			}
		})
	}
	wg.Wait()
	close(calls)

	var all []call
	for c := range calls {
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b call) int { return int(a.first) - int(b.first) })
	var next uint64
	for _, c := range all {
		if c.first != next {
			t.Fatalf("Append ranges are not contiguous: one starts at %d, want %d", c.first, next)
		}
		next += uint64(c.n)
	}
	if next != writers*perWriter*3 {
		t.Fatalf("appended %d records; want %d", next, writers*perWriter*3)
	}
	got := readAll(t, l, 0)
	for _, c := range all {
		for j := range c.n {
			r := got[c.first+uint64(j)]
			if want := data(c.w, c.i, j); string(r.Data) != string(want) {
				t.Fatalf("record %d = %q; want %q", r.Offset, r.Data, want)
			}
		}
	}
	if err := <-tailErr; err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Appends != writers*perWriter || st.Fsyncs >= st.Appends {
		t.Errorf("Stats() = %+v; want %d appends sharing fewer fsyncs", st, writers*perWriter)
	}
	t.Logf("%d appends, %d fsyncs, %d segments", st.Appends, st.Fsyncs, st.Segments)
}

func TestAppended(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	ch := l.Appended()
	select {
	case <-ch:
		t.Fatal("Appended() channel closed before any append")
	default:
	}
	if l.Appended() != ch {
		t.Fatal("Appended() changed without an append")
	}
	appendN(t, l, 2, 2, 10)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Appended() channel not closed after an append")
	}
	ch2 := l.Appended()
	select {
	case <-ch2:
		t.Fatal("new Appended() channel already closed")
	default:
	}
	// A blocked waiter is woken.
	woke := make(chan struct{})
	go func() { <-ch2; close(woke) }()
	appendN(t, l, 1, 1, 10)
	<-woke
	l.Close()
	select {
	case <-l.Appended():
	default:
		t.Fatal("Appended() not closed after Close")
	}
}

func TestTail(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 2048})
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next() on an empty log = %v; want io.EOF", err)
	}
	const n = 200
	go func() {
		for i := uint64(0); i < n; i += 4 {
			if _, err := l.Append(context.Background(), recs(i, 4, 100)); err != nil {
				t.Errorf("Append() = %v", err)
				return
			}
		}
	}()
	timeout := time.After(10 * time.Second)
	for want := uint64(0); want < n; {
		ch := l.Appended()
		got, err := r.Next()
		if err == io.EOF {
			select {
			case <-ch:
			case <-timeout:
				t.Fatalf("timed out waiting for offset %d", want)
			}
			continue
		}
		if err != nil || got.Offset != want {
			t.Fatalf("Next() = offset %d, %v; want %d", got.Offset, err, want)
		}
		checkRec(t, got, 100)
		want++
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next() at the end = %v; want io.EOF", err)
	}
}

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024}
	l := openLog(t, dir, opts)
	appendN(t, l, 100, 1, 100)
	before := l.Stats()
	if before.Segments < 5 {
		t.Fatalf("Stats().Segments = %d; want several", before.Segments)
	}
	if err := l.Commit(50); err != nil {
		t.Fatalf("Commit(50) = %v", err)
	}
	st := l.Stats()
	if st.Committed != 50 || st.FirstOffset == 0 || st.FirstOffset > 50 || st.DiskBytes >= before.DiskBytes || st.Segments >= before.Segments {
		t.Fatalf("after Commit(50) Stats() = %+v (before %+v)", st, before)
	}
	if n := len(segFiles(t, dir)); n != st.Segments || filesBytes(t, dir) != st.DiskBytes {
		t.Fatalf("%d segment files of %d bytes; Stats() = %+v", n, filesBytes(t, dir), st)
	}
	// The segment holding offset 50 stays: its records from 50 on are not delivered.
	checkAll(t, l, 50, 100)
	checkAll(t, l, st.FirstOffset, 100)
	if _, err := l.NewReader(st.FirstOffset - 1); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("NewReader below FirstOffset = %v; want ErrOutOfRange", err)
	}

	if err := l.Commit(10); err != nil || l.Committed() != 50 {
		t.Errorf("Commit(10) = %v, Committed() = %d; want nil, 50 (monotonic)", err, l.Committed())
	}
	if err := l.Commit(101); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("Commit(101) = %v; want ErrOutOfRange", err)
	}

	l.Close()
	l = openLog(t, dir, opts)
	if got := l.Stats(); got.Committed != 50 || got.FirstOffset != st.FirstOffset || got.NextOffset != 100 {
		t.Fatalf("after reopen Stats() = %+v; want Committed 50, FirstOffset %d, NextOffset 100", got, st.FirstOffset)
	}
	if err := l.Commit(100); err != nil {
		t.Fatalf("Commit(100) = %v", err)
	}
	if st := l.Stats(); st.Segments != 1 || st.FirstOffset > 100 {
		t.Fatalf("after committing everything Stats() = %+v; want only the last segment", st)
	}
	checkAll(t, l, 100, 100)
	appendN(t, l, 3, 3, 100)
	checkAll(t, l, 100, 100)
}

func TestCommitCrashLeftovers(t *testing.T) {
	// A crash between writing the commit file and removing the segments
	// leaves committed segments behind; Open removes them.
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentBytes: 1024})
	appendN(t, l, 60, 3, 100)
	l.Close()
	files := segFiles(t, dir)
	if err := writeCommit(dir, 40); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, commitTmpFile), []byte("half-written"), 0o644); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, Options{SegmentBytes: 1024})
	st := l.Stats()
	if st.Committed != 40 || st.FirstOffset > 40 || st.Segments >= len(files) || len(segFiles(t, dir)) != st.Segments {
		t.Fatalf("Stats() = %+v with %d files; want committed segments removed", st, len(segFiles(t, dir)))
	}
	if _, err := os.Stat(filepath.Join(dir, commitTmpFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary commit file left behind: %v", err)
	}
	checkAll(t, l, st.FirstOffset, 100)
}

func TestErrFull(t *testing.T) {
	tests := []struct {
		name                   string
		segmentBytes, maxBytes int64
	}{
		{name: "several segments", segmentBytes: 4096, maxBytes: 16 << 10},
		{name: "limit below a segment", segmentBytes: 64 << 10, maxBytes: 8 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, t.TempDir(), Options{SegmentBytes: tt.segmentBytes, MaxBytes: tt.maxBytes})
			batch := func(first uint64) []record.Record {
				rs := recs(first, 4, 0)
				for i := range rs {
					rs[i].Data = make([]byte, 250)
				}
				return rs
			}
			var next uint64
			for {
				first, err := l.Append(context.Background(), batch(next))
				if errors.Is(err, ErrFull) {
					break
				}
				if err != nil || first != next {
					t.Fatalf("Append() = %d, %v; want %d, nil", first, err, next)
				}
				next += 4
				if next > 1000 {
					t.Fatal("Append never returned ErrFull")
				}
			}
			st := l.Stats()
			if st.NextOffset != next || st.DiskBytes > tt.maxBytes || st.DiskBytes != filesBytes(t, l.dir) {
				t.Fatalf("after ErrFull Stats() = %+v (files %d bytes); want NextOffset %d, DiskBytes <= %d",
					st, filesBytes(t, l.dir), next, tt.maxBytes)
			}
			if _, err := l.Append(context.Background(), batch(next)); !errors.Is(err, ErrFull) {
				t.Fatalf("Append() again = %v; want ErrFull", err)
			}
			if got := l.Stats(); got.NextOffset != st.NextOffset || got.DiskBytes != st.DiskBytes {
				t.Fatalf("a full Append wrote something: Stats() = %+v, was %+v", got, st)
			}
			if err := l.Commit(next); err != nil {
				t.Fatal(err)
			}
			for range 3 { // room again, repeatedly
				first, err := l.Append(context.Background(), batch(next))
				if err != nil || first != next {
					t.Fatalf("Append() after Commit = %d, %v; want %d, nil", first, err, next)
				}
				next += 4
				if err := l.Commit(next); err != nil {
					t.Fatal(err)
				}
			}
			if st := l.Stats(); st.DiskBytes > tt.maxBytes {
				t.Fatalf("Stats().DiskBytes = %d; want <= %d", st.DiskBytes, tt.maxBytes)
			}
			// An entry larger than the whole limit never fits.
			huge := []record.Record{{Data: make([]byte, tt.maxBytes)}}
			if _, err := l.Append(context.Background(), huge); !errors.Is(err, ErrFull) {
				t.Fatalf("Append(larger than MaxBytes) = %v; want ErrFull", err)
			}
		})
	}
}

func TestReaderSurvivesCommit(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 1024})
	appendN(t, l, 100, 2, 100)
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for want := range uint64(3) {
		if got, err := r.Next(); err != nil || got.Offset != want {
			t.Fatalf("Next() = offset %d, %v; want %d", got.Offset, err, want)
		}
	}
	// The reader's segment is removed under it; it goes on with its open
	// file, then with the next segment, which is still there.
	second, _ := parseSegmentName(filepath.Base(segFiles(t, l.dir)[1]))
	if err := l.Commit(second); err != nil {
		t.Fatal(err)
	}
	if l.Stats().FirstOffset != second {
		t.Fatalf("Commit(%d) left FirstOffset at %d", second, l.Stats().FirstOffset)
	}
	for want := uint64(3); want < 100; want++ {
		got, err := r.Next()
		if err != nil || got.Offset != want {
			t.Fatalf("Next() = offset %d, %v; want %d", got.Offset, err, want)
		}
		checkRec(t, got, 100)
	}

	// A reader that falls behind by more than its own segment cannot go on.
	r2, err := l.NewReader(l.Stats().FirstOffset)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Next(); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(100); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := r2.Next()
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("Next() past removed segments = %v; want ErrOutOfRange", err)
		}
		break
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	appendN(t, l, 10, 5, 10)
	r, err := l.NewReader(8)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// Appends racing with Close either succeed, durably, or get ErrClosed.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok []uint64
	for range 4 {
		wg.Go(func() {
			for {
				first, err := l.Append(context.Background(), []record.Record{{Data: []byte("x")}})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append() = %v", err)
					return
				}
				mu.Lock()
				ok = append(ok, first)
				mu.Unlock()
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatalf("second Close() = %v", err)
	}
	if _, err := l.Append(context.Background(), recs(0, 1, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v; want ErrClosed", err)
	}
	if err := l.Commit(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close = %v; want ErrClosed", err)
	}
	if _, err := l.NewReader(0); !errors.Is(err, ErrClosed) {
		t.Errorf("NewReader after Close = %v; want ErrClosed", err)
	}
	// An open reader reads up to the end, then reports the close.
	n := 0
	for {
		_, err := r.Next()
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Next() at the end of a closed log = %v; want ErrClosed", err)
			}
			break
		}
		n++
	}
	if want := 2 + len(ok); n != want {
		t.Errorf("reader read %d records after Close; want %d", n, want)
	}

	l2 := openLog(t, dir, Options{})
	if got, want := l2.Stats().NextOffset, uint64(10+len(ok)); got != want {
		t.Errorf("after reopen NextOffset = %d; want %d (every acknowledged append)", got, want)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	if l2, err := Open(dir, Options{Logger: testLogger(t)}); err == nil {
		l2.Close()
		t.Fatal("second Open of a directory in use succeeded")
	}
	l.Close()
	openLog(t, dir, Options{})
}

func TestOpenOptions(t *testing.T) {
	for _, opts := range []Options{{SegmentBytes: -1}, {MaxBytes: -1}} {
		if l, err := Open(t.TempDir(), opts); err == nil {
			l.Close()
			t.Errorf("Open(%+v) succeeded; want an error", opts)
		}
	}
	l := openLog(t, filepath.Join(t.TempDir(), "a", "b"), Options{})
	if l.opts.SegmentBytes != DefaultSegmentBytes {
		t.Errorf("default SegmentBytes = %d; want %d", l.opts.SegmentBytes, DefaultSegmentBytes)
	}
}

func TestAppendCanceled(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, recs(0, 1, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append(canceled ctx) = %v; want context.Canceled", err)
	}
	if st := l.Stats(); st.NextOffset != 0 || st.Appends != 0 {
		t.Fatalf("canceled Append wrote: Stats() = %+v", st)
	}

	// Contexts canceled at random moments: an Append that failed wrote
	// nothing, and one that succeeded is in the log.
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := map[string]bool{}
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				id := fmt.Sprintf("%d/%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(2000))*time.Microsecond)
				_, err := l.Append(ctx, []record.Record{{Data: []byte(id)}})
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Append() = %v", err)
				}
				mu.Lock()
				written[id] = err == nil
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, r := range readAll(t, l, 0) {
		id := string(r.Data)
		if seen[id] {
			t.Fatalf("record %q written twice", id)
		}
		seen[id] = true
		if !written[id] {
			t.Fatalf("record %q is in the log but its Append failed", id)
		}
	}
	for id, ok := range written {
		if ok && !seen[id] {
			t.Fatalf("record %q was acknowledged but is not in the log", id)
		}
	}
}

func TestAppendTooLarge(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	big := []record.Record{{Data: make([]byte, maxEntryPayload)}}
	if _, err := l.Append(context.Background(), big); err == nil {
		t.Fatal("Append of a record over the entry limit succeeded")
	}
	if st := l.Stats(); st.NextOffset != 0 {
		t.Fatalf("Stats() = %+v; want nothing written", st)
	}
}

func TestWriteFailureIsSticky(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	appendN(t, l, 2, 2, 10)
	// Sabotage the writer's file: the next write fails.
	l.mu.Lock()
	l.w.f.Close()
	l.mu.Unlock()
	if _, err := l.Append(context.Background(), recs(2, 1, 10)); err == nil {
		t.Fatal("Append with a broken segment file succeeded")
	}
	if _, err := l.Append(context.Background(), recs(2, 1, 10)); err == nil {
		t.Fatal("Append after a write failure succeeded")
	}
	if st := l.Stats(); st.NextOffset != 2 {
		t.Fatalf("Stats().NextOffset = %d; want 2", st.NextOffset)
	}
	checkAll(t, l, 0, 10)
}

func TestSegmentNames(t *testing.T) {
	tests := []struct {
		name  string
		first uint64
		ok    bool
	}{
		{"00000000000000000000.seg", 0, true},
		{"00000000000000001234.seg", 1234, true},
		{"18446744073709551615.seg", 1<<64 - 1, true},
		{"18446744073709551616.seg", 0, false}, // overflows
		{"0000000000000000123.seg", 0, false},
		{"0000000000000000123x.seg", 0, false},
		{"00000000000000001234.sag", 0, false},
		{"commit", 0, false},
	}
	for _, tt := range tests {
		first, ok := parseSegmentName(tt.name)
		if first != tt.first || ok != tt.ok {
			t.Errorf("parseSegmentName(%q) = %d, %v; want %d, %v", tt.name, first, ok, tt.first, tt.ok)
		}
		if tt.ok && segmentName(first) != tt.name {
			t.Errorf("segmentName(%d) = %q; want %q", first, segmentName(first), tt.name)
		}
	}
}

func TestUnexpectedFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	appendN(t, l, 3, 3, 10)
	l.Close()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, Options{})
	checkAll(t, l, 0, 10)
}

func TestLargeGroup(t *testing.T) {
	// A group larger than maxGroupBytes is written in several writes but
	// made durable with one fsync. The requests are handed to writeGroup
	// directly, so they are sure to form one group; the writer goroutine
	// is idle meanwhile.
	l := openLog(t, t.TempDir(), Options{})
	data := make([]byte, 64<<10)
	var q []*appendReq
	var total int64
	for range 5 {
		rs := make([]record.Record, 64)
		for i := range rs {
			rs[i] = record.Record{Data: data}
		}
		req := &appendReq{recs: rs, done: make(chan struct{})}
		req.plan, _ = planEntries(nil, rs, l.opts.SegmentBytes-segHeaderLen, 0)
		q = append(q, req)
		total += req.plan[0].size
	}
	if total <= maxGroupBytes {
		t.Fatalf("group of %d bytes is not larger than %d", total, maxGroupBytes)
	}
	before := l.Stats()
	l.writeGroup(q)
	for i, req := range q {
		<-req.done
		if req.err != nil || req.first != uint64(i*64) {
			t.Fatalf("request %d: first %d, err %v; want %d, nil", i, req.first, req.err, i*64)
		}
	}
	st := l.Stats()
	if st.Fsyncs != before.Fsyncs+1 || st.NextOffset != 5*64 || st.DiskBytes != segHeaderLen+total {
		t.Fatalf("Stats() = %+v; want one more fsync, NextOffset %d, DiskBytes %d", st, 5*64, segHeaderLen+total)
	}
	if cap(l.w.buf) > maxGroupBytes {
		t.Errorf("writer kept a %d-byte buffer", cap(l.w.buf))
	}
	if got := len(readAll(t, l, 0)); got != 5*64 {
		t.Fatalf("read %d records; want %d", got, 5*64)
	}
}

func TestConcurrentDelivery(t *testing.T) {
	// Producers append into a log capped near its segment size while a
	// consumer tails it and commits as it goes, as a delivery stream does:
	// producers see ErrFull and retry, segments are removed under the
	// reader, and every record arrives once, in order.
	const (
		producers = 4
		perProd   = 150
	)
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 2048, MaxBytes: 6144})
	var full atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range perProd {
				rs := []record.Record{{Data: fmt.Appendf(nil, "%d/%d", p, i)}, {Data: make([]byte, 100)}}
				for {
					_, err := l.Append(context.Background(), rs)
					if errors.Is(err, ErrFull) {
						full.Add(1)
						select {
						case <-l.Appended():
						case <-time.After(time.Millisecond):
						}
						continue
					}
					if err != nil {
						t.Errorf("Append() = %v", err)
						return
					}
					break
				}
			}
		})
	}
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	last := map[int]int{}
	timeout := time.After(20 * time.Second)
	for want := uint64(0); want < producers*perProd*2; {
		ch := l.Appended()
		got, err := r.Next()
		if err == io.EOF {
			select {
			case <-ch:
			case <-time.After(2 * time.Millisecond):
				// Nothing new: the producers may be waiting for room.
				if err := l.Commit(want); err != nil {
					t.Fatal(err)
				}
			case <-timeout:
				t.Fatalf("stuck at offset %d", want)
			}
			continue
		}
		if err != nil || got.Offset != want {
			t.Fatalf("Next() = offset %d, %v; want %d", got.Offset, err, want)
		}
		if want%2 == 0 {
			var p, i int
			if _, err := fmt.Sscanf(string(got.Data), "%d/%d", &p, &i); err != nil {
				t.Fatalf("record %d = %q", want, got.Data)
			}
			if prev, ok := last[p]; ok && i != prev+1 || !ok && i != 0 {
				t.Fatalf("producer %d: record %d after %d", p, i, prev)
			}
			last[p] = i
		}
		want++
		if want%64 == 0 { // deliver in batches, lagging behind
			if err := l.Commit(want); err != nil {
				t.Fatal(err)
			}
		}
		if st := l.Stats(); st.DiskBytes > 6144 {
			t.Fatalf("Stats().DiskBytes = %d over MaxBytes", st.DiskBytes)
		}
	}
	wg.Wait()
	if full.Load() == 0 {
		t.Error("the producers never hit ErrFull; the test does not test it")
	}
	t.Logf("%d ErrFull, %+v", full.Load(), l.Stats())
}
