package embedded

import (
	"os"
	"runtime"
)

// AddSyncProc raises GOMAXPROCS by one for a process whose store takes
// concurrent appends (orderstore serve), unless the GOMAXPROCS environment
// variable sets it; restore sets the value back.
//
// The writer spends much of each commit blocked in fsync. Go counts a
// goroutine blocked in a system call against GOMAXPROCS until the
// runtime's monitor takes its P back, a tick or more later (20 µs at the
// soonest, and not while another P is idle or spinning): the runtime
// cannot be told that a call will block (golang/go#29734). On two cores
// that leaves the handlers woken by the previous commit one P for much of
// every commit, while a core idles. One more P than cores gives them that
// core; while the writer is not blocked, the kernel shares the cores among
// the threads. POST /orders at 64 clients ran 12–17% faster with it, in
// three sittings of alternated runs of api's BenchmarkHTTP (GOMAXPROCS=2
// against 3); a CPU-bound handler that never blocks has nothing to gain
// and keeps Go's default (docs/performance.md).
//
// Calling runtime.GOMAXPROCS ends the runtime's own tracking of a
// container's CPU limit: the value set follows the limit at the call.
func AddSyncProc() (restore func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	prev := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(prev + 1)
	return func() { runtime.GOMAXPROCS(prev) }
}
