//go:build unix

package dirlock_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/orderstore/orderstore/internal/dirlock"
)

// TestLock: a second holder is refused while the first holds the lock (flock
// locks are per open file, so a second open in one process stands for a
// second process), and the lock is free again after Close.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "LOCK")
	f, err := dirlock.Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dirlock.Lock(path); !errors.Is(err, dirlock.ErrHeld) {
		t.Fatalf("second lock: %v, want ErrHeld", err)
	}
	if flock, err := exec.LookPath("flock"); err == nil {
		// A real second process sees it too.
		if err := exec.Command(flock, "--nonblock", path, "true").Run(); err == nil {
			t.Fatalf("flock(1) took a lock this process holds")
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := dirlock.Lock(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
