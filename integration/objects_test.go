package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hydrantio/hydrant/delivery/compress"
)

// objectSet is what a bucket of the embedded object store holds.
type objectSet struct {
	keys   []string       // object keys, sorted
	counts map[string]int // record (one line, incl. its '\n') → occurrences
	// byKey maps each key to its records, in order.
	byKey map[string][]string
}

// formatOfKey returns the compression format an object key's extension
// names. HADOOP_SNAPPY objects also end in .snappy; tests using it pass the
// format to readBucketAs.
func formatOfKey(key string) string {
	switch filepath.Ext(key) {
	case ".gz":
		return compress.GZIP
	case ".zip":
		return compress.ZIP
	case ".snappy":
		return compress.Snappy
	case ".zst":
		return compress.ZSTD
	}
	return compress.Uncompressed
}

// readBucket reads every object of <data-dir>/objects/<bucket>, skipping
// in-flight temp files (names starting with '.'), decompressing each by its
// extension and splitting it into '\n'-terminated records. Bytes after the
// last '\n' of an object count as one (unterminated) record, so that they
// show up as unexpected.
func readBucket(t *testing.T, dataDir, bucket string) objectSet {
	t.Helper()
	return readBucketAs(t, dataDir, bucket, "")
}

// readBucketAs is readBucket with every object read in the given format
// ("" infers it from the extension).
func readBucketAs(t *testing.T, dataDir, bucket, format string) objectSet {
	t.Helper()
	set := objectSet{counts: make(map[string]int), byKey: make(map[string][]string)}
	root := filepath.Join(dataDir, "objects", bucket)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		key := filepath.ToSlash(rel)
		f := format
		if f == "" {
			f = formatOfKey(key)
		}
		data, err := readObject(path, f)
		if err != nil {
			return fmt.Errorf("object %s/%s: %w", bucket, key, err)
		}
		recs := splitRecords(data)
		set.keys = append(set.keys, key)
		set.byKey[key] = recs
		for _, r := range recs {
			set.counts[r]++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("cannot read bucket %q: %v", bucket, err)
	}
	slices.Sort(set.keys)
	return set
}

func readObject(path, format string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := compress.NewReader(format, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("cannot decompress %s: %w", format, err)
	}
	return data, nil
}

func splitRecords(data []byte) []string {
	var out []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, string(data))
			break
		}
		out = append(out, string(data[:i+1]))
		data = data[i+1:]
	}
	return out
}

// ledger is a producer-side account of records: acknowledged ones (a
// successful response named them), uncertain ones (the request failed in a
// way that does not tell whether they were stored: they may be delivered
// once, never twice), and refused ones (the server said it stored nothing:
// they must not be delivered).
type ledger struct {
	mu        sync.Mutex
	acked     map[string]bool
	uncertain map[string]bool
	refused   map[string]bool
}

func newLedger() *ledger {
	return &ledger{acked: map[string]bool{}, uncertain: map[string]bool{}, refused: map[string]bool{}}
}

func (l *ledger) ack(recs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.acked[r] = true
		delete(l.refused, r)
	}
}

func (l *ledger) uncertainly(recs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.uncertain[r] = true
	}
}

func (l *ledger) refuse(recs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		if !l.acked[r] && !l.uncertain[r] {
			l.refused[r] = true
		}
	}
}

// forget moves acknowledged records to refused: the test destroyed them
// (a simulated torn write), so they must not be delivered.
func (l *ledger) forget(recs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		delete(l.acked, r)
		l.refused[r] = true
	}
}

func (l *ledger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *ledger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d acknowledged, %d uncertain, %d refused", len(l.acked), len(l.uncertain), len(l.refused))
}

// checkExactlyOnce asserts that every acknowledged record appears exactly
// once in objs, an uncertain one at most once, and nothing else appears.
func checkExactlyOnce(t *testing.T, objs objectSet, l *ledger) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var missing, dup, unexpected []string
	for r := range l.acked {
		switch n := objs.counts[r]; {
		case n == 0:
			missing = append(missing, r)
		case n > 1:
			dup = append(dup, fmt.Sprintf("%q×%d", r, n))
		}
	}
	delivered, uncertainDelivered := 0, 0
	for r, n := range objs.counts {
		delivered += n
		if l.acked[r] {
			continue
		}
		if l.uncertain[r] {
			uncertainDelivered++
			if n > 1 {
				dup = append(dup, fmt.Sprintf("%q×%d (uncertain)", r, n))
			}
			continue
		}
		what := "never sent"
		if l.refused[r] {
			what = "refused"
		}
		unexpected = append(unexpected, fmt.Sprintf("%q×%d (%s)", shorten(r), n, what))
	}
	if len(missing)+len(dup)+len(unexpected) == 0 {
		t.Logf("exactly once: %d acknowledged records (+%d of %d uncertain) in %d objects", len(l.acked), uncertainDelivered, len(l.uncertain), len(objs.keys))
		return
	}
	slices.Sort(missing)
	slices.Sort(dup)
	slices.Sort(unexpected)
	t.Errorf("delivery is not exactly once: %d objects hold %d records; ledger: %d acknowledged, %d uncertain, %d refused\n"+
		"  %d acknowledged records missing: %s\n  %d records delivered more than once: %s\n  %d unexpected records: %s\n  keys: %s",
		len(objs.keys), delivered, len(l.acked), len(l.uncertain), len(l.refused),
		len(missing), head(missing, 10), len(dup), head(dup, 10), len(unexpected), head(unexpected, 10), head(objs.keys, 20))
}

func shorten(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s…(%d bytes)", s[:60], len(s))
	}
	return s
}

func head(s []string, n int) string {
	if len(s) <= n {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v … (%d more)", s[:n], len(s)-n)
}
