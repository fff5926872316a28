package campaign

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readHeaderTimeout is serve's http.Server.ReadHeaderTimeout
// (cmd/orderstore/serve.go).
const readHeaderTimeout = 5 * time.Second

// TestServe_Slowloris opens a connection to the real serve and sends a
// request's headers one byte every 100 ms, for longer than the server's
// ReadHeaderTimeout: the server must close the connection, without an
// answer, within that timeout plus slack, and keep serving other clients
// meanwhile.
func TestServe_Slowloris(t *testing.T) {
	bin := binary(t)
	t.Parallel()
	srv := startServer(t, bin, t.TempDir())

	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() //nolint:errcheck // test
	type readResult struct {
		n   int
		err error
	}
	closed := make(chan readResult, 1)
	go func() {
		n, err := conn.Read(make([]byte, 1024))
		closed <- readResult{n, err}
	}()

	start := time.Now()
	headers := "GET /healthz HTTP/1.1\r\nHost: orderstore\r\nX-Slow: " + strings.Repeat("a", 4096)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	bound := time.After(readHeaderTimeout + 3*time.Second)
	sent, checkedOthers := 0, false
	for {
		select {
		case r := <-closed:
			elapsed := time.Since(start)
			if r.n > 0 || r.err == nil {
				t.Fatalf("the server answered a request whose headers never ended: %d bytes, %v", r.n, r.err)
			}
			if !errors.Is(r.err, io.EOF) && !errors.Is(r.err, syscall.ECONNRESET) {
				t.Fatalf("read on the slow connection: %v, want EOF or a reset", r.err)
			}
			if elapsed < readHeaderTimeout-time.Second {
				t.Fatalf("the connection was closed after %s, before ReadHeaderTimeout (%s): not by the timeout", elapsed, readHeaderTimeout)
			}
			t.Logf("the server closed the slow connection after %s and %d header bytes", elapsed.Round(time.Millisecond), sent)
			if !checkedOthers {
				t.Fatal("the server closed the slow connection before the other client was checked")
			}
			return
		case <-tick.C:
			if sent < len(headers) {
				if _, err := conn.Write([]byte{headers[sent]}); err == nil {
					sent++
				}
			}
			if !checkedOthers && time.Since(start) > readHeaderTimeout/2 {
				// Another client is served while the slow one holds its
				// connection.
				if r := mustCall(t, "GET", srv.url+"/healthz", nil); r.status != http.StatusOK {
					t.Fatalf("GET /healthz during the slow request: %d %s", r.status, r.body)
				}
				checkedOthers = true
			}
		case <-bound:
			t.Fatalf("the server kept a connection open for %s with unfinished headers (ReadHeaderTimeout is %s)",
				time.Since(start).Round(time.Millisecond), readHeaderTimeout)
		}
	}
}
