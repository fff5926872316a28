//go:build !unix

package projections

import (
	"os"
	"path/filepath"
)

// lockDir opens the lock file without locking it: without flock(2) the
// caller must keep a second process off the directory.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o644)
}
