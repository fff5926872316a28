//go:build unix

// Package dirlock keeps two processes off one data directory with an
// exclusive flock(2) on a lock file. The kernel releases the lock when its
// process dies, so a crash never leaves a stale lock behind.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrHeld is returned by Lock when another process holds the lock.
var ErrHeld = errors.New("lock held by another process")

// Lock creates (if needed) and exclusively locks the file at path, without
// waiting. Closing the returned file releases the lock.
func Lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close() //nolint:errcheck // the lock error is the one to report
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrHeld)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
