package store

import (
	"os"
	"syscall"
)

// fdatasync syncs f's data, and its size if that changed, as bbolt does
// on Linux: no inode timestamps.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
