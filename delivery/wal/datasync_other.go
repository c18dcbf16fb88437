//go:build !linux

package wal

import "os"

// SyncData makes f's written data durable; without fdatasync(2), fsync.
func SyncData(f *os.File) error { return f.Sync() }
