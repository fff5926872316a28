// Command httpref serves one of the two handlers of api's BenchmarkHTTP on
// a TCP address, so that an external load generator can compare them in
// the same run (scripts/perf.sh runs wrk against both):
//
//	go run ./scripts/httpref -handler trivial -addr 127.0.0.1:8099
//	go run ./scripts/httpref -handler orders -data /tmp/ref -addr 127.0.0.1:8098
//
// trivial reads the body and answers a small JSON 201: the cost of
// net/http alone, the ceiling of any handler on this machine. orders is
// the API over an embedded store in -data, as BenchmarkHTTP builds it: the
// order path (decode, validate, decide, durable append) without the
// projections and the request log that orderstore serve adds. Both use
// serve's server timeouts. The address listened on is printed on stdout.
// With -cpuprofile FILE, the server's own CPU profile (without the load
// generator's) is written there when it stops (SIGTERM).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "httpref:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	handler := flag.String("handler", "trivial", "trivial or orders")
	data := flag.String("data", "", "data directory of the embedded store (orders)")
	cpuprofile := flag.String("cpuprofile", "", "write the server's CPU profile to `FILE` until it stops")
	flag.Parse()

	var h http.Handler
	switch *handler {
	case "trivial":
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"x","status":"placed"}`))
		})
	case "orders":
		if *data == "" {
			return errors.New("-handler orders needs -data DIR")
		}
		// As serve runs it, with one P more than cores (see
		// embedded.AddSyncProc), unless the environment sets GOMAXPROCS;
		// trivial runs at Go's default.
		embedded.AddSyncProc()
		store, err := embedded.Open(*data, embedded.Options{})
		if err != nil {
			return err
		}
		defer store.Close() //nolint:errcheck // the process ends
		h = api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{})}).Handler()
	default:
		return fmt.Errorf("-handler %q: want trivial or orders", *handler)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	srv := &http.Server{
		Handler: h,
		// The timeouts of orderstore serve: each costs a deadline per
		// request, and the comparison is of the handlers alone.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close() //nolint:errcheck // written by StopCPUProfile
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
