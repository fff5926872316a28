//go:build !unix

// Package dirlock keeps two processes off one data directory with an
// exclusive flock(2) on a lock file.
package dirlock

import (
	"errors"
	"os"
)

// ErrHeld is returned by Lock when another process holds the lock.
var ErrHeld = errors.New("lock held by another process")

// Lock needs flock(2), whose lock dies with its process; without it a crash
// would leave a stale lock, so other systems are refused plainly.
func Lock(path string) (*os.File, error) {
	return nil, errors.New("data directories need a Unix system (flock); this one is not")
}
