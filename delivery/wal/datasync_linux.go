package wal

import (
	"os"
	"syscall"
)

// SyncData makes f's written data durable with fdatasync(2): the data and
// the metadata needed to read it back (the size an append changed), but not
// timestamps, which spares a journal write per group commit. A segment's
// own directory entry is made durable once, when the segment is created.
// The delivery intent file uses it too.
func SyncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
