//go:build !linux

package wal

import "os"

// datasync makes f's written data durable; without fdatasync(2), fsync.
func datasync(f *os.File) error { return f.Sync() }
