//go:build !unix

package embedded

import (
	"errors"
	"os"
)

// lockDir needs flock(2), whose lock dies with its process; without it a
// crash would leave a stale lock, so other systems are refused plainly.
func lockDir(dir string) (*os.File, error) {
	return nil, errors.New("the embedded store needs a Unix system (flock); use --store esdb://")
}
