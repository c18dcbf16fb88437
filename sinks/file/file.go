// Package file is Hydrant's embedded object store: bucket B is the
// directory <root>/B and an object key is a path below it, '/' separating
// directories. It is what object destinations write to when no S3
// endpoint is configured.
//
// Writes are atomic and durable: PutObject writes the body to a temporary
// file in the object's directory, fsyncs it, renames it over the object's
// name and fsyncs the directory, so a reader sees the old object or the new
// one, never part of one, and an object PutObject reported is still there
// after a power loss. Temporary files are named .hydrant-tmp-<random>-<name>;
// keys may not use that prefix in any path segment, so they never collide
// with an object. Those a crash left behind are removed by New.
//
// Keys that a file system cannot hold as a path are rejected with an error
// wrapping ErrInvalidName: empty segments ("a//b", a trailing '/'), "." and
// ".." segments, a leading '/', NUL bytes, invalid UTF-8, segments longer
// than 255 bytes. So is a key whose path is another object's directory
// ("a" and "a/b"), which S3 allows and a file system does not.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"
)

// ErrInvalidName is wrapped by the errors of PutObject for a bucket or key
// that the store cannot hold.
var ErrInvalidName = errors.New("invalid object name")

// ErrClosed is returned by PutObject after Close.
var ErrClosed = errors.New("file store is closed")

const (
	// tempPrefix starts the name of every temporary file.
	tempPrefix = ".hydrant-tmp-"
	// maxKeyLen is S3's limit on key length, in bytes.
	maxKeyLen = 1024
	// maxSegmentLen is the longest file name most file systems accept.
	maxSegmentLen = 255
	// maxSyncedDirs bounds the set of directories known to be durable.
	maxSyncedDirs = 16384

	filePerm = 0o644
	dirPerm  = 0o755
)

// Store is an object store in a local directory. It is safe for concurrent
// use.
type Store struct {
	root   string
	logger *slog.Logger

	// dirMu guards synced: the directories whose entry in their parent
	// this process has made durable (or found durable), so that a put into
	// an existing directory fsyncs that directory only.
	dirMu  sync.Mutex
	synced map[string]bool

	// mu guards closed and the registration of in-flight puts in wg.
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// New opens the store at root, creating the directory if needed, and
// removes the temporary files that a crash left under it. That walks the
// whole tree once, reading directories only (no stat per file).
func New(root string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve object store root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("cannot create object store root %q: %w", abs, err)
	}
	s := &Store{root: abs, logger: logger, synced: make(map[string]bool)}
	// The root's own entry, in case MkdirAll just created it.
	if err := syncDir(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	s.synced[abs] = true
	if err := s.removeTempFiles(); err != nil {
		return nil, err
	}
	return s, nil
}

// removeTempFiles deletes the temporary files under the root.
func (s *Store) removeTempFiles() error {
	removed := 0
	err := filepath.WalkDir(s.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == s.root {
				return err
			}
			s.logger.Warn("cannot scan object store directory for temporary files", "path", path, "err", err)
			return nil // skip it
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot remove temporary file %q: %w", path, err)
		}
		removed++
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot clean up object store %q: %w", s.root, err)
	}
	if removed > 0 {
		s.logger.Info("removed temporary files of interrupted object writes", "root", s.root, "files", removed)
	}
	return nil
}

// Root returns the store's root directory, as an absolute path.
func (s *Store) Root() string { return s.root }

// Path returns the file path of an object, or an error wrapping
// ErrInvalidName.
func (s *Store) Path(bucket, key string) (string, error) {
	if err := checkBucket(bucket); err != nil {
		return "", err
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, bucket, filepath.FromSlash(key)), nil
}

// PutObject writes body as the object key in bucket, replacing any object
// of that name atomically, and returns once the object is durable. It does
// not keep body. An error leaves the previous object, if any, in place.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64) error {
	return s.write(ctx, bucket, key, func(path string) error {
		tmp, err := writeTemp(filepath.Dir(path), filepath.Base(path), body, size)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return renameError(tmp, path, err)
		}
		return nil
	})
}

// MoveObject makes the file at src the object bucket/key by renaming it
// into place, which spares PutObject's copy when the caller has the object
// in a file already (delivery's spool). It makes src's data durable first,
// replaces the object atomically, and makes the directory entry durable. If
// src is gone but the object exists, an earlier call moved it and failed
// only to sync the directory: MoveObject syncs it and succeeds. When src is
// on another filesystem it changes nothing and returns an error wrapping
// errors.ErrUnsupported: the caller copies with PutObject instead.
func (s *Store) MoveObject(ctx context.Context, bucket, key, src string) error {
	return s.write(ctx, bucket, key, func(path string) error {
		f, err := os.Open(src)
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(path); serr == nil {
				return nil // moved by an earlier call
			}
		}
		if err != nil {
			return fmt.Errorf("cannot open %q: %w", src, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("cannot sync %q: %w", src, err)
		}
		err = os.Rename(src, path)
		if errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("cannot move %q into the object store on another filesystem: %w", src, errors.ErrUnsupported)
		}
		if err != nil {
			return renameError(src, path, err)
		}
		return nil
	})
}

// write checks the store is open and the name valid, makes the object's
// directory exist durably, lets put place the object at path, and makes
// the directory entry durable.
func (s *Store) write(ctx context.Context, bucket, key string, put func(path string) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	path, err := s.Path(bucket, key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := s.ensureDir(dir); err != nil {
		return err
	}
	if err := put(path); err != nil {
		return err
	}
	return syncDir(dir)
}

// renameError explains a failed rename of from over the object at path.
func renameError(from, path string, err error) error {
	if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
		return fmt.Errorf("cannot write %q: it is the directory of other objects: %w", path, ErrInvalidName)
	}
	return fmt.Errorf("cannot rename %q to %q: %w", from, path, err)
}

// writeTemp writes the size bytes of body to a new, fsynced temporary file
// in dir and returns its path.
func writeTemp(dir, name string, body io.Reader, size int64) (string, error) {
	// Enough of the name to tell what the file was for, cut at a rune
	// boundary so the name stays valid UTF-8.
	if len(name) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	var f *os.File
	var path string
	for attempt := 0; ; attempt++ {
		path = filepath.Join(dir, tempPrefix+strconv.FormatUint(rand.Uint64(), 36)+"-"+name)
		var err error
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || attempt == 10 {
			return "", fmt.Errorf("cannot create temporary file %q: %w", path, err)
		}
	}
	n, err := io.Copy(f, io.LimitReader(body, size+1))
	switch {
	case err != nil:
		err = fmt.Errorf("cannot write %q: %w", path, err)
	case n != size:
		err = fmt.Errorf("cannot write %q: the body holds %d bytes, not the %d announced", path, n, size)
	default:
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("cannot sync %q: %w", path, err)
		}
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("cannot close %q: %w", path, cerr)
	}
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// ensureDir makes sure dir exists and that its entry, and those of its
// ancestors up to the root, are durable: it creates missing directories
// and fsyncs the parent of every directory not yet known to be durable.
func (s *Store) ensureDir(dir string) error {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	if s.synced[dir] {
		return nil
	}
	// The directories from dir up to the first known durable one.
	var chain []string
	for d := dir; !s.synced[d]; d = filepath.Dir(d) {
		if len(d) <= len(s.root) {
			// Not reachable: every path is below the root, which is synced.
			return fmt.Errorf("cannot create directory %q: it is not below %q", dir, s.root)
		}
		chain = append(chain, d)
	}
	if len(s.synced) >= maxSyncedDirs {
		clear(s.synced)
	}
	s.synced[s.root] = true
	for i := len(chain) - 1; i >= 0; i-- {
		d := chain[i]
		if err := os.Mkdir(d, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("cannot create directory %q: %w", d, err)
		}
		if fi, err := os.Stat(d); err != nil {
			return fmt.Errorf("cannot create directory %q: %w", d, err)
		} else if !fi.IsDir() {
			return fmt.Errorf("cannot create directory %q: an object of that name exists: %w", d, ErrInvalidName)
		}
		// Also for a directory that existed: an earlier process may
		// have created it and stopped before making it durable.
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
		s.synced[d] = true
	}
	return nil
}

// syncDir fsyncs a directory, making the entries created or renamed in it
// durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for fsync there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open directory %q to sync it: %w", dir, err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return fmt.Errorf("cannot sync directory %q: %w", dir, err)
	}
	return nil
}

// Close stops the store: it makes later PutObject calls fail with
// ErrClosed and waits for the calls in flight, or for ctx to be done.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cannot close file store: writes still in flight: %w", ctx.Err())
	}
}

func checkBucket(bucket string) error {
	if err := checkSegment(bucket); err != nil {
		return fmt.Errorf("bucket %q: %w", bucket, err)
	}
	return nil
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrInvalidName)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("key of %d bytes is longer than %d: %w", len(key), maxKeyLen, ErrInvalidName)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("key %q is not valid UTF-8: %w", key, ErrInvalidName)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(seg); err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
	}
	return nil
}

// checkSegment checks a bucket name or one '/'-separated part of a key.
func checkSegment(seg string) error {
	switch {
	case seg == "":
		return fmt.Errorf("empty path segment: %w", ErrInvalidName)
	case seg == "." || seg == "..":
		return fmt.Errorf("path segment %q: %w", seg, ErrInvalidName)
	case strings.IndexByte(seg, 0) >= 0:
		return fmt.Errorf("NUL byte: %w", ErrInvalidName)
	case strings.Contains(seg, "/"):
		return fmt.Errorf("'/' in a bucket name: %w", ErrInvalidName)
	case os.PathSeparator != '/' && strings.ContainsRune(seg, os.PathSeparator):
		return fmt.Errorf("path separator %q: %w", os.PathSeparator, ErrInvalidName)
	case strings.HasPrefix(seg, tempPrefix):
		return fmt.Errorf("path segment %q uses the reserved prefix %s: %w", seg, tempPrefix, ErrInvalidName)
	case len(seg) > maxSegmentLen:
		return fmt.Errorf("path segment of %d bytes is longer than %d: %w", len(seg), maxSegmentLen, ErrInvalidName)
	}
	return nil
}
