package fulfilment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CheckpointFileName is the name of the saga's checkpoint file in the
// data directory.
const CheckpointFileName = "fulfilment.checkpoint"

// loadCheckpoint returns the position saved in path, 0 if there is none
// (or path is ""). A file that does not hold a position (a crash in
// the middle of the very first write on a file system that does not order
// it) counts as none: replaying changes nothing.
func loadCheckpoint(path string) (uint64, error) {
	if path == "" {
		return 0, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read fulfilment checkpoint: %w", err)
	}
	p, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, nil
	}
	return p, nil
}

// saveCheckpoint replaces the position in path: a temporary file, synced,
// renamed over it, so that a crash leaves the old position or the new.
// The directory is not synced: losing the rename replays a batch, which
// changes nothing.
func saveCheckpoint(path string, p uint64) (err error) {
	if path == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save fulfilment checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(tmp.Name()))
		}
	}()
	_, err = tmp.WriteString(strconv.FormatUint(p, 10) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save fulfilment checkpoint: %w", err)
	}
	return nil
}
