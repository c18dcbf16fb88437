package delivery

import (
	"os"
	"syscall"
)

// datasync makes f's written data durable with fdatasync(2), sparing the
// journal write of timestamps that fsync(2) adds.
func datasync(f *os.File) error {
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
