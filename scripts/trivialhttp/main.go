// Command trivialhttp serves the trivial handler of api's BenchmarkHTTP on
// a TCP address, so that an external load generator can measure POST
// /orders of orderstore serve against it in the same run (scripts/perf.sh):
//
//	go run ./scripts/trivialhttp -addr 127.0.0.1:8099
//
// It reads the body and answers a small JSON 201 with the server settings
// of orderstore serve: the cost of net/http alone, the ceiling of any
// handler on this machine.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on; the chosen one is printed on stdout")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "trivialhttp:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"x","status":"placed"}`))
		}),
		// The timeouts of orderstore serve: each costs a deadline per
		// request, and the comparison is of the handlers alone.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "trivialhttp:", err)
		os.Exit(1)
	}
}
