//go:build linux && (amd64 || arm64)

// Package fsfault makes file-system faults for tests: it turns a running
// store's data directory read-only with the immutable attribute, which
// holds even for root, where permission bits do not (they are checked at
// open, and SQLite keeps its files open).
package fsfault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// The inode flag ioctls of linux/fs.h (_IOR/_IOW('f', 1/2, long) on 64-bit).
const (
	fsIocGetFlags = 0x80086601
	fsIocSetFlags = 0x40086602
	fsImmutableFl = 0x10
)

// SetImmutable sets or clears the immutable attribute of path (chattr ±i).
func SetImmutable(path string, on bool) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	var attr int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIocGetFlags, uintptr(unsafe.Pointer(&attr))); e != 0 {
		return fmt.Errorf("FS_IOC_GETFLAGS %s: %w", path, e)
	}
	if on {
		attr |= fsImmutableFl
	} else {
		attr &^= fsImmutableFl
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIocSetFlags, uintptr(unsafe.Pointer(&attr))); e != 0 {
		return fmt.Errorf("FS_IOC_SETFLAGS %s: %w", path, e)
	}
	return nil
}

// RequireImmutable skips t unless the immutable attribute can be set on a
// file in a temporary directory and then stops writes to an open
// descriptor.
func RequireImmutable(t testing.TB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // probe
	if err := SetImmutable(path, true); err != nil {
		t.Skipf("cannot set the immutable attribute (%v): needs Linux, CAP_LINUX_IMMUTABLE (root) and a file system "+
			"that supports it (ext4, xfs, btrfs; not tmpfs or overlayfs)", err)
	}
	defer func() {
		if err := SetImmutable(path, false); err != nil {
			t.Fatal(err)
		}
	}()
	if _, err := f.Write([]byte("x")); err == nil {
		t.Skip("the file system accepts writes to an open immutable file: cannot make the data directory read-only under a running store here")
	}
}

// MarkImmutable makes dir and the files in it immutable, except the
// shared-memory WAL index (*-shm): it is written through mmap, and a write
// to a mapped page of an immutable file raises SIGBUS, which is a property
// of the flag rather than of a read-only disk. It returns what it marked
// and clears the marks at the end of the test.
func MarkImmutable(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var marked []string
	t.Cleanup(func() {
		for _, p := range marked {
			if err := SetImmutable(p, false); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("clear the immutable attribute: %v", err)
			}
		}
	})
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-shm") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := SetImmutable(p, true); err != nil {
			t.Fatal(err)
		}
		marked = append(marked, p)
	}
	if err := SetImmutable(dir, true); err != nil {
		t.Fatal(err)
	}
	marked = append(marked, dir)
	return marked
}
