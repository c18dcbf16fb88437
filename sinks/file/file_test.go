package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t testing.TB, s *Store, bucket, key string, body []byte) {
	t.Helper()
	if err := s.PutObject(context.Background(), bucket, key, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("PutObject(%q, %q) = %v", bucket, key, err)
	}
}

func read(t testing.TB, s *Store, bucket, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Root(), bucket, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// files lists the regular files under dir, as slash-separated paths
// relative to it.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestPutObject(t *testing.T) {
	s := newStore(t)
	tests := []struct{ bucket, key, body string }{
		{"bucket", "object.gz", "hello"},
		{"bucket", "2024/05/01/13/clicks-1-2024-05-01-13-00-00-00000000000000000000-00000000000000000499-3fb245c6.gz", "nested"},
		{"other-bucket", "a/b/c/d/e/f", "deep"},
		{"bucket", "empty", ""},
		{"bucket", "ünïcödé/with space/and=equals!", "unicode"},
		{"bucket", ".hidden", "dot"},
	}
	for _, tt := range tests {
		put(t, s, tt.bucket, tt.key, []byte(tt.body))
	}
	for _, tt := range tests {
		if got := read(t, s, tt.bucket, tt.key); string(got) != tt.body {
			t.Errorf("object %s/%s = %q; want %q", tt.bucket, tt.key, got, tt.body)
		}
		fi, err := os.Stat(filepath.Join(s.Root(), tt.bucket, filepath.FromSlash(tt.key)))
		if err != nil || fi.Mode().Perm()&0o600 != 0o600 {
			t.Errorf("object %s/%s: %v, mode %v", tt.bucket, tt.key, err, fi.Mode())
		}
	}
	if got := files(t, s.Root()); len(got) != len(tests) {
		t.Errorf("store holds %q; want exactly the %d objects (no temporary files)", got, len(tests))
	}
}

func TestPutObjectOverwrites(t *testing.T) {
	s := newStore(t)
	put(t, s, "b", "k", []byte("first, longer body"))
	put(t, s, "b", "k", []byte("second"))
	if got := read(t, s, "b", "k"); string(got) != "second" {
		t.Fatalf("object = %q; want %q", got, "second")
	}
	if got := files(t, s.Root()); !slices.Equal(got, []string{"b/k"}) {
		t.Fatalf("store holds %q; want [b/k]", got)
	}
}

// TestPutObjectAtomic reads an object while it is being replaced: every
// read sees one whole version.
func TestPutObjectAtomic(t *testing.T) {
	s := newStore(t)
	versions := [][]byte{
		bytes.Repeat([]byte{'a'}, 1<<20),
		bytes.Repeat([]byte{'b'}, 3<<20),
		bytes.Repeat([]byte{'c'}, 100),
	}
	put(t, s, "b", "obj", versions[0])
	path := filepath.Join(s.Root(), "b", "obj")

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		defer cancel()
		for i := range 30 {
			if err := s.PutObject(context.Background(), "b", "obj", bytes.NewReader(versions[i%len(versions)]), int64(len(versions[i%len(versions)]))); err != nil {
				t.Error(err)
				return
			}
		}
	})
	reads := 0
	for ctx.Err() == nil {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read during overwrite: %v", err)
		}
		if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, got) }) {
			t.Fatalf("read %d bytes that are no whole version", len(got))
		}
		reads++
	}
	wg.Wait()
	t.Logf("%d reads during 30 overwrites", reads)
}

func TestPutObjectRejectsBadNames(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "objects")
	s, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ bucket, key string }{
		{"", "k"},
		{".", "k"},
		{"..", "k"},
		{"a/b", "k"},
		{"b\x00", "k"},
		{"b", ""},
		{"b", "/abs"},
		{"b", "a//b"},
		{"b", "a/"},
		{"b", "."},
		{"b", ".."},
		{"b", "../escape"},
		{"b", "../../escape"},
		{"b", "a/../../../escape"},
		{"b", "./a"},
		{"b", "a/./b"},
		{"b", "a\x00b"},
		{"b", "a\xffb"},
		{"b", ".hydrant-tmp-123-x"},
		{"b", "dir/.hydrant-tmp-x/y"},
		{"b", strings.Repeat("a", 256)},
		{"b", strings.Repeat("a/", 512) + "a"},
	}
	for _, tt := range tests {
		err := s.PutObject(context.Background(), tt.bucket, tt.key, strings.NewReader("x"), 1)
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("PutObject(%q, %q) = %v; want an error wrapping ErrInvalidName", tt.bucket, tt.key, err)
		}
	}
	if got := files(t, parent); len(got) != 0 {
		t.Errorf("rejected puts left files: %q", got)
	}
}

func TestPutObjectNameConflicts(t *testing.T) {
	s := newStore(t)
	put(t, s, "b", "a", []byte("file"))
	if err := s.PutObject(context.Background(), "b", "a/b", bytes.NewReader([]byte("x")), int64(len([]byte("x")))); !errors.Is(err, ErrInvalidName) {
		t.Errorf("put below an object = %v; want ErrInvalidName", err)
	}
	put(t, s, "b", "d/e", []byte("x"))
	if err := s.PutObject(context.Background(), "b", "d", bytes.NewReader([]byte("x")), int64(len([]byte("x")))); !errors.Is(err, ErrInvalidName) {
		t.Errorf("put over a directory = %v; want ErrInvalidName", err)
	}
	if got := files(t, s.Root()); !slices.Equal(got, []string{"b/a", "b/d/e"}) {
		t.Errorf("store holds %q; want [b/a b/d/e]", got)
	}
}

func TestPutObjectConcurrent(t *testing.T) {
	s := newStore(t)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Shared and separate directories, created concurrently.
				key := fmt.Sprintf("2024/05/%02d/w%d-%d", i%3, w, i)
				body := []byte(key)
				if err := s.PutObject(context.Background(), "b", key, bytes.NewReader(body), int64(len(body))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := files(t, s.Root())
	if len(got) != workers*each {
		t.Fatalf("store holds %d objects; want %d", len(got), workers*each)
	}
	for _, f := range got {
		key := strings.TrimPrefix(f, "b/")
		if body := read(t, s, "b", key); string(body) != key {
			t.Errorf("object %s holds %q", key, body)
		}
	}
}

func TestNewRemovesTempFiles(t *testing.T) {
	root := t.TempDir()
	keep := []string{"b/obj", "b/.hidden", "b/x.tmp", "b/dir/.tmp-not-ours", "b/dir/hydrant-tmp-x"}
	stale := []string{"b/.hydrant-tmp-abc-obj", "b/dir/.hydrant-tmp-1-x", "c/1/2/3/.hydrant-tmp-zz-"}
	for _, f := range append(slices.Clone(keep), stale...) {
		path := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(root, nil); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keep)
	if got := files(t, root); !slices.Equal(got, keep) {
		t.Errorf("after New the store holds %q; want %q", got, keep)
	}
}

func TestNewCreatesRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data", "objects")
	s, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "b", "k", []byte("v"))
	if got := read(t, s, "b", "k"); string(got) != "v" {
		t.Fatalf("object = %q", got)
	}
}

func TestPutObjectContext(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutObject(ctx, "b", "k", bytes.NewReader([]byte("v")), int64(len([]byte("v")))); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutObject with a canceled context = %v; want context.Canceled", err)
	}
	if got := files(t, s.Root()); len(got) != 0 {
		t.Fatalf("canceled put left %q", got)
	}
}

func TestClose(t *testing.T) {
	s := newStore(t)
	put(t, s, "b", "k", []byte("v"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.PutObject(context.Background(), "b", "k2", bytes.NewReader([]byte("v")), int64(len([]byte("v")))); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutObject after Close = %v; want ErrClosed", err)
	}
}

func BenchmarkPutObject(b *testing.B) {
	s := newStore(b)
	body := bytes.Repeat([]byte(`{"user_id":"u-000123","event":"click"}`+"\n"), (5<<20)/39+1)[:5<<20]
	b.SetBytes(int64(len(body)))
	i := 0
	for b.Loop() {
		// A new key each time, in hourly directories, as delivery writes.
		key := fmt.Sprintf("2024/05/01/%02d/stream-1-%020d.gz", i/100%24, i)
		if err := s.PutObject(context.Background(), "bench", key, bytes.NewReader(body), int64(len(body))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestMoveObject(t *testing.T) {
	root := t.TempDir()
	s, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "spool")
	for i, body := range []string{"first version", "second"} {
		if err := os.WriteFile(src, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.MoveObject(context.Background(), "b", "dir/obj.gz", src); err != nil {
			t.Fatalf("MoveObject #%d = %v", i, err)
		}
		got, err := os.ReadFile(filepath.Join(root, "b", "dir", "obj.gz"))
		if err != nil || string(got) != body {
			t.Fatalf("object after MoveObject #%d = %q, %v; want %q", i, got, err, body)
		}
		if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("source still there after MoveObject: %v", err)
		}
	}
	// A retry after a move that succeeded: the source is gone, the object stays.
	if err := s.MoveObject(context.Background(), "b", "dir/obj.gz", src); err != nil {
		t.Errorf("MoveObject again after a successful move = %v; want nil", err)
	}
	// No source and no object: an error, nothing created.
	if err := s.MoveObject(context.Background(), "b", "missing", src); err == nil {
		t.Error("MoveObject of a missing file to a new key = nil; want an error")
	}
	if err := s.MoveObject(context.Background(), "b", "../escape", src); !errors.Is(err, ErrInvalidName) {
		t.Errorf("MoveObject to ../escape = %v; want ErrInvalidName", err)
	}
}
