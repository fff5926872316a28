package projections

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/eventstore/storetest"
	"github.com/orderstore/orderstore/projections/analytics"
)

// crashChildEnv makes the test binary run crashChild instead of the tests;
// crashSparseEnv makes it see the store through storetest.Sparse.
const (
	crashChildEnv  = "ORDERSTORE_PROJECTIONS_CRASH_DIR"
	crashSparseEnv = "ORDERSTORE_PROJECTIONS_CRASH_SPARSE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		if err := crashChild(dir, os.Getenv(crashSparseEnv) != ""); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild runs the projections over the store in dir while appending
// random commands, until it is killed. It prints a line once the
// projections have committed their first batch (catching up with the
// history), then one after every 20 commands.
func crashChild(dir string, sparse bool) error {
	ctx := context.Background()
	var s eventstore.Store
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		return err
	}
	if sparse {
		s = storetest.NewSparse(s)
	}
	m, err := Open(dir, s, Options{})
	if err != nil {
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	if err := m.WaitFor(ctx, analytics.Name, 1); err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "running")
	if err := out.Flush(); err != nil {
		return err
	}
	w, err := resumeWorkload(ctx, s, 99, "crash-")
	if err != nil {
		return err
	}
	for {
		for range 20 {
			if _, err := w.step(ctx, s); err != nil {
				return err
			}
		}
		select {
		case err := <-runErr:
			return fmt.Errorf("projections stopped: %v", err)
		default:
		}
		head, _ := s.Head(ctx)
		fmt.Fprintln(out, "head", head)
		if err := out.Flush(); err != nil {
			return err
		}
	}
}

// TestManager_KillDuringProjection kills (SIGKILL) a process that runs the
// projections while it catches up with a long history and while it
// follows new appends, then restarts them: the read models must equal a
// fresh rebuild, so no event was counted twice or skipped.
func TestManager_KillDuringProjection(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the child-process crash test")
	}
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		if err := writeConcurrently(t.Context(), s, 3, 16, 20_000, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		_, sparse := s.(*storetest.Sparse)
		// One line: killed while catching up with the history; more: while
		// following live appends.
		for round, lines := range []int{1, 1, 10, 40} {
			killChild(t, dir, sparse, lines)

			s := openStore(t, dir)
			m, err := Open(dir, s, Options{})
			if err != nil {
				t.Fatal(err)
			}
			head, _ := s.Head(t.Context())
			var positions []uint64
			for _, r := range m.runners {
				positions = append(positions, r.checkpoint().Position)
			}
			t.Logf("round %d: killed with checkpoints %v, head %d", round, positions, head)
			stop := run(t, m)
			waitAll(t, m, head)
			if got, want := readModels(t, m), offline(t, m); got != want {
				t.Fatalf("round %d: read models after kill -9 and restart differ from a rebuild: %s", round, diff(got, want))
			}
			stop()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// killChild starts crashChild on dir, kills it after it printed lines
// lines, and waits for it to die.
func killChild(t *testing.T, dir string, sparse bool, lines int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	if sparse {
		cmd.Env = append(cmd.Env, crashSparseEnv+"=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	n := 0
	for n < lines && sc.Scan() {
		n++
	}
	if n < lines {
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d lines: %s", n, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the error is the signal
}
