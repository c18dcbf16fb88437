//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wal

// lockDir is a no-op where flock is not available: the caller must make
// sure only one Log uses a directory.
func lockDir(dir string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
