//go:build linux && (amd64 || arm64)

package campaign

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"github.com/orderstore/orderstore/internal/fsfault"
)

// TestServe_StoreFaults breaks the storage under a running serve and
// heals it: commands must fail with 503 store_unavailable (nothing
// written), /readyz must say not ready, reads keep working, and once the
// storage is back the next command succeeds, /readyz is ready again and the
// read models catch up, all without a restart; nothing acknowledged is lost.
func TestServe_StoreFaults(t *testing.T) {
	bin := binary(t)
	t.Parallel()

	t.Run("DiskFull", func(t *testing.T) {
		t.Parallel()
		// RLIMIT_FSIZE, set on the running server with prlimit(2), makes
		// every write past the limit fail with EFBIG, as a full disk fails
		// writes that need new blocks. Go ignores SIGXFSZ, so the process
		// lives on.
		var before rlimit
		storeFault(t, bin,
			func(srv *server) {
				st, err := os.Stat(filepath.Join(srv.dir, "events.db-wal"))
				if err != nil {
					t.Fatal(err)
				}
				if err := prlimit(srv.cmd.Process.Pid, syscall.RLIMIT_FSIZE, nil, &before); err != nil {
					t.Skipf("prlimit(2) on the server process failed (%v): cannot limit its file size here", err)
				}
				limit := rlimit{Cur: uint64(st.Size()), Max: before.Max}
				if err := prlimit(srv.cmd.Process.Pid, syscall.RLIMIT_FSIZE, &limit, nil); err != nil {
					t.Fatal(err)
				}
			},
			func(srv *server) {
				if err := prlimit(srv.cmd.Process.Pid, syscall.RLIMIT_FSIZE, &before, nil); err != nil {
					t.Fatal(err)
				}
			})
	})

	t.Run("ReadOnlyDataDir", func(t *testing.T) {
		t.Parallel()
		// The tests may run as root, whom permission bits do not stop, and
		// permissions are checked at open, not on the descriptors SQLite
		// already holds. The immutable attribute stops writes on open
		// descriptors too, for root as well (EPERM).
		fsfault.RequireImmutable(t)
		var marked []string
		storeFault(t, bin,
			func(srv *server) {
				marked = fsfault.MarkImmutable(t, srv.dir)
			},
			func(srv *server) {
				for _, p := range marked {
					if err := fsfault.SetImmutable(p, false); err != nil {
						t.Fatal(err)
					}
				}
			})
	})
}

// storeFault runs the fault scenario: load, inject, check the failures,
// heal, check the recovery.
func storeFault(t *testing.T, bin string, inject, heal func(*server)) {
	t.Helper()
	srv := startServer(t, bin, t.TempDir())
	place := func(id string) reply {
		return mustCall(t, "POST", srv.url+"/orders", []byte(fmt.Sprintf(
			`{"id":%q,"customer_id":"c","currency":"EUR","lines":[{"sku":"SKU-1","quantity":2,"unit_price":150}]}`, id)))
	}
	var acked []string
	for i := range 40 {
		id := fmt.Sprintf("before-%d", i)
		if r := place(id); r.status != http.StatusCreated {
			t.Fatalf("place %s: %d %s", id, r.status, r.body)
		}
		acked = append(acked, id)
	}
	head := logLength(t, srv)

	inject(srv)
	refused := []struct {
		name string
		do   func() reply
	}{
		{"place", func() reply { return place("during") }},
		{"pay", func() reply {
			return mustCall(t, "POST", srv.url+"/orders/before-0/payment", []byte(`{"amount":300,"payment_ref":"p"}`))
		}},
		{"stock receipt", func() reply {
			return mustCall(t, "POST", srv.url+"/stock/SKU-1/receipts", []byte(`{"quantity":5}`), "Idempotency-Key", "receipt-1")
		}},
		{"place again", func() reply { return place("during") }},
	}
	for _, c := range refused {
		r := c.do()
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("%s while the storage fails: %d %s, want 503", c.name, r.status, r.body)
		}
		if code := problemCode(t, r); code != "store_unavailable" {
			t.Fatalf("%s while the storage fails: code %s, want store_unavailable", c.name, code)
		}
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("%s: 503 without Retry-After", c.name)
		}
	}
	if r := mustCall(t, "GET", srv.url+"/readyz", nil); r.status != http.StatusServiceUnavailable || problemCode(t, r) != "store_unavailable" {
		t.Fatalf("/readyz while the storage fails: %d %s, want 503 store_unavailable", r.status, r.body)
	}
	if r := mustCall(t, "GET", srv.url+"/orders/before-7", nil); r.status != http.StatusOK {
		t.Fatalf("a read while the storage fails: %d %s, want 200", r.status, r.body)
	}

	heal(srv)
	r := place("after")
	if r.status != http.StatusCreated {
		t.Fatalf("the first command after the storage came back: %d %s, want 201 (without a restart)\n%s", r.status, r.body, srv.log)
	}
	acked = append(acked, "after")
	if r := mustCall(t, "GET", srv.url+"/readyz", nil); r.status != http.StatusOK {
		t.Fatalf("/readyz after recovery: %d %s", r.status, r.body)
	}
	pos := r.header.Get("X-Position")
	if want := strconv.FormatUint(head+1, 10); pos != want {
		t.Fatalf("the command after recovery is at position %s, want %s: the failed commands took positions", pos, want)
	}
	for _, id := range acked {
		if r := mustCall(t, "GET", srv.url+"/orders/"+id, nil); r.status != http.StatusOK {
			t.Fatalf("acknowledged order %s after the fault: %d %s", id, r.status, r.body)
		}
	}
	if r := mustCall(t, "GET", srv.url+"/orders/during", nil); r.status != http.StatusNotFound {
		t.Fatalf("a refused order was written: GET answers %d %s", r.status, r.body)
	}
	if n := logLength(t, srv); n != head+1 {
		t.Fatalf("the log holds %d events, want %d", n, head+1)
	}
	// The read models catch up without a restart.
	for _, path := range []string{"/stock", "/analytics"} {
		if r := mustCall(t, "GET", srv.url+path+"?min_position="+pos, nil); r.status != http.StatusOK {
			t.Fatalf("GET %s?min_position=%s after recovery: %d %s\n%s", path, pos, r.status, r.body, srv.log)
		}
	}
	var st struct {
		Projections []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"projections"`
	}
	if err := json.Unmarshal(mustCall(t, "GET", srv.url+"/projections", nil).body, &st); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Projections {
		if p.State == "failed" {
			t.Fatalf("projection %s failed over a storage fault it should have retried", p.Name)
		}
	}
	srv.stop()
}

// logLength pages through GET /events and returns the number of events,
// checking that positions run from 1 without gaps.
func logLength(t *testing.T, srv *server) uint64 {
	t.Helper()
	var after uint64
	for {
		r := mustCall(t, "GET", fmt.Sprintf("%s/events?after=%d&limit=1000", srv.url, after), nil)
		var page struct {
			Events []struct {
				Position uint64 `json:"position"`
			} `json:"events"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatalf("GET /events: %d %s", r.status, r.body)
		}
		if len(page.Events) == 0 {
			return after
		}
		for _, ev := range page.Events {
			if ev.Position != after+1 {
				t.Fatalf("position %d follows %d: a gap", ev.Position, after)
			}
			after = ev.Position
		}
	}
}

// rlimit is the struct of prlimit(2).
type rlimit struct{ Cur, Max uint64 }

// prlimit sets (if set is not nil) and reads (if old is not nil) a
// resource limit of process pid.
func prlimit(pid, resource int, set, old *rlimit) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(resource),
		uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(old)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
