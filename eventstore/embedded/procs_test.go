package embedded_test

import (
	"runtime"
	"testing"

	"github.com/orderstore/orderstore/eventstore/embedded"
)

func TestAddSyncProc(t *testing.T) {
	t.Setenv("GOMAXPROCS", "") // as if unset; Setenv restores it
	before := runtime.GOMAXPROCS(0)
	restore := embedded.AddSyncProc()
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Errorf("GOMAXPROCS = %d after AddSyncProc, want %d", got, before+1)
	}
	restore()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS = %d after restore, want %d", got, before)
	}
}

func TestAddSyncProc_EnvironmentDecides(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Setenv("GOMAXPROCS", "1")
	restore := embedded.AddSyncProc()
	defer restore()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS = %d with GOMAXPROCS set in the environment, want it left at %d", got, before)
	}
}
