package embedded_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
)

// crashChildEnv makes the test binary act as the appender process of
// TestStore_KillDuringAppends instead of running tests.
const crashChildEnv = "ORDERSTORE_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		if err := crashChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild appends from 16 goroutines until killed, printing each
// acknowledged event as "stream id" on stdout after Append returned.
func crashChild(dir string) error {
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				stream := fmt.Sprintf("order-crash-%d-%d", w, i/5)
				ev := benchEvent()
				if _, err := s.Append(context.Background(), stream, eventstore.Any, ev); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				fmt.Fprintf(out, "%s %s\n", stream, ev.ID)
				err := out.Flush()
				mu.Unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	return <-errs
}

// TestStore_KillDuringAppends runs appenders in a child process, kills it
// with SIGKILL while appends are in flight, reopens the directory and checks
// that every acknowledged event is there, with gap-free positions.
func TestStore_KillDuringAppends(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the child-process crash test")
	}
	dir := t.TempDir()
	for round := range 3 {
		acked := runAndKill(t, dir, 300+round*200)
		s, err := embedded.Open(dir, embedded.Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		all, err := s.ReadAll(t.Context(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		found := map[uuid.UUID]string{}
		for i, ev := range all {
			if ev.Position != uint64(i)+1 {
				t.Fatalf("round %d: event %d has position %d: a gap", round, i, ev.Position)
			}
			found[ev.ID] = ev.Stream
		}
		for id, stream := range acked {
			if found[id] != stream {
				t.Fatalf("round %d: acknowledged event %s of %s lost after kill -9 (store holds %d events)", round, id, stream, len(all))
			}
		}
		t.Logf("round %d: %d acknowledged before the kill, %d in the store", round, len(acked), len(all))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill starts the appender child on dir, waits for n acknowledgements,
// kills it and returns every acknowledged event it printed.
func runAndKill(t *testing.T, dir string, n int) map[uuid.UUID]string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uuid.UUID]string{}
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		stream, id, ok := strings.Cut(sc.Text(), " ")
		u, err := uuid.Parse(id)
		if !ok || err != nil {
			t.Fatalf("child printed %q", sc.Text())
		}
		acked[u] = stream
		if len(acked) == n && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true // keep reading: lines already written were acknowledged too
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before %d acknowledgements: %v\n%s", n, err, stderr.String())
	}
	return acked
}
