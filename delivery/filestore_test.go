package delivery

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/delivery/compress"
	"github.com/hydrantio/hydrant/sinks/file"
)

// TestDeliveryMovesSpoolIntoFileStore drives the embedded store, which
// takes each batch's spool by renaming it: several batches in a row (each
// with a fresh spool), then a restart, must hold every record exactly once.
func TestDeliveryMovesSpoolIntoFileStore(t *testing.T) {
	dir := t.TempDir()
	objects := filepath.Join(dir, "objects")
	store, err := file.New(objects, nil)
	if err != nil {
		t.Fatal(err)
	}
	var _ ObjectMover = store
	m := testManager(t, dir, store, nil)
	ctx := context.Background()
	if _, err := m.Create(ctx, streamConfig("moved", 1, 0, GZIP)); err != nil {
		t.Fatal(err)
	}
	const n = 4000 // about 4 MiB: several 1 MiB buffers
	for i := 0; i < n; i += 500 {
		if _, err := m.Put(ctx, "moved", makeRecords("mv", i, 500, 1024)); err != nil {
			t.Fatal(err)
		}
	}
	count := func() map[string]int {
		got := map[string]int{}
		_ = filepath.WalkDir(filepath.Join(objects, "bucket-moved"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := compress.NewReader(GZIP, f)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			raw, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, line := range strings.SplitAfter(string(raw), "\n") {
				if line != "" {
					got[line]++
				}
			}
			return nil
		})
		return got
	}
	waitFor(t, "every record in the file store", 10*time.Second, func() bool { return len(count()) == n })
	checkExactlyOnce(t, count(), "mv", n)
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m2 := testManager(t, dir, store, nil)
	if _, err := m2.Put(ctx, "moved", makeRecords("mv", n, 100, 1024)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the records put after the restart", 10*time.Second, func() bool { return len(count()) == n+100 })
	checkExactlyOnce(t, count(), "mv", n+100)
}
