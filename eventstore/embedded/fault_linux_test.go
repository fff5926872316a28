//go:build linux && (amd64 || arm64)

package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
)

// TestStore_ReadOnlyDataDir makes the data directory and its files
// immutable (chattr +i) under appenders running in this process, then
// clears the flag. Permission bits would not do: the tests may run as root,
// and they are checked at open, not on the descriptors SQLite holds; the
// immutable attribute fails writes on open descriptors, for root too.
//
// While the directory is read-only, appends fail with ErrUnavailable and
// Ping reports it; once writable, appends at the very versions that failed
// succeed and Ping is nil, without reopening. Nothing acknowledged is lost,
// nothing failed is written, no gaps.
func TestStore_ReadOnlyDataDir(t *testing.T) {
	t.Parallel()
	requireImmutable(t)
	dir := t.TempDir()
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = s.Close() //nolint:errcheck // the test failed already
		}
	}()
	tl := newTally()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for w := range faultAppenders {
		wg.Go(func() { appendUntil(ctx, s, fmt.Sprintf("order-ro-%d", w), tl.add) })
	}

	tl.waitFor(t, "200 acknowledged appends", func(acks, _ int) bool { return acks >= 200 })
	marked := markImmutable(t, dir)
	_, failsBefore := tl.counts()
	tl.waitFor(t, "appends failing on the read-only directory", func(_, fails int) bool { return fails >= failsBefore+2*faultAppenders })
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Ping on a read-only directory: %v, want an error matching ErrUnavailable", err)
	}
	for _, p := range marked {
		if err := setImmutable(p, false); err != nil {
			t.Fatal(err)
		}
	}
	acksHealed, _ := tl.counts()
	tl.waitFor(t, "appends succeeding again", func(acks, _ int) bool { return acks >= acksHealed+200 })
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping once writable again: %v", err)
	}
	cancel()
	wg.Wait()
	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	acks, fails := tl.counts()
	t.Logf("%d appends acknowledged, %d failed while read-only", acks, fails)
	tl.verify(t, dir)
}

// The inode flag ioctls of linux/fs.h (_IOR/_IOW('f', 1/2, long) on 64-bit).
const (
	fsIocGetFlags = 0x80086601
	fsIocSetFlags = 0x40086602
	fsImmutableFl = 0x10
)

// setImmutable sets or clears the immutable attribute of path (chattr ±i).
func setImmutable(path string, on bool) (err error) {
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

// requireImmutable skips t unless the immutable attribute can be set on a
// file in a temporary directory and then stops writes to an open
// descriptor.
func requireImmutable(t *testing.T) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // probe
	if err := setImmutable(path, true); err != nil {
		t.Skipf("cannot set the immutable attribute (%v): needs Linux, CAP_LINUX_IMMUTABLE (root) and a file system "+
			"that supports it (ext4, xfs, btrfs; not tmpfs or overlayfs)", err)
	}
	defer func() {
		if err := setImmutable(path, false); err != nil {
			t.Fatal(err)
		}
	}()
	if _, err := f.Write([]byte("x")); err == nil {
		t.Skip("the file system accepts writes to an open immutable file: cannot make the data directory read-only under a running store here")
	}
}

// markImmutable makes dir and the files in it immutable, except the
// shared-memory WAL index (*-shm): it is written through mmap, and a write
// to a mapped page of an immutable file raises SIGBUS, which is a property
// of the flag rather than of a read-only disk. It returns what it marked
// and clears the marks at the end of the test.
func markImmutable(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var marked []string
	t.Cleanup(func() {
		for _, p := range marked {
			if err := setImmutable(p, false); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("clear the immutable attribute: %v", err)
			}
		}
	})
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-shm") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := setImmutable(p, true); err != nil {
			t.Fatal(err)
		}
		marked = append(marked, p)
	}
	if err := setImmutable(dir, true); err != nil {
		t.Fatal(err)
	}
	marked = append(marked, dir)
	return marked
}
