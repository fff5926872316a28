package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
)

// BenchmarkHTTP measures POST /orders through real HTTP on loopback with 64
// keep-alive clients, next to a trivial net/http handler answering a
// similar JSON body in the same run:
//
//	go test -run '^$' -bench HTTP -benchtime 20000x ./api/
//
// The load generator is this Go code (net/http client), not wrk.
func BenchmarkHTTP(b *testing.B) {
	const clients = 64
	b.Run("trivial", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"x","status":"placed"}`))
		})
		runLoad(b, h, clients, http.StatusCreated)
	})
	b.Run("orders", func(b *testing.B) {
		// As serve runs it, with one P more than cores (see
		// embedded.AddSyncProc); the trivial handler runs at Go's
		// default, which suits it at least as well. Set in the benchmark
		// that runs: the testing package sets GOMAXPROCS before each.
		// GOMAXPROCS=N in the environment sets N for both.
		defer embedded.AddSyncProc()()
		store := openBenchStore(b)
		h := api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{})}).Handler()
		runLoad(b, h, clients, http.StatusCreated)
		st := store.Stats()
		b.ReportMetric(float64(st.Events.Load())/float64(st.Commits.Load()), "events/fsync")
	})
}

// BenchmarkHotOrder: 16 clients on one order, each adding a line of its
// own SKU and removing it again, through real HTTP: every command waits for
// the order's lock, the case a commit hold would cost most (see the
// embedded store's doc). The order's stream grows by one event a command,
// so keep -benchtime to a few hundred commands:
//
//	go test -run '^$' -bench HotOrder -benchtime 600x ./api/
func BenchmarkHotOrder(b *testing.B) {
	defer embedded.AddSyncProc()() // as serve runs (see BenchmarkHTTP)
	store := openBenchStore(b)
	srv := httptest.NewServer(api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{})}).Handler())
	defer srv.Close()
	hot := []byte(`{"id":"hot","customer_id":"c","currency":"EUR","lines":[{"sku":"BASE","quantity":1,"unit_price":100}]}`)
	res, err := http.Post(srv.URL+"/orders", "application/json", bytes.NewReader(hot))
	if err != nil {
		b.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		b.Fatalf("place the hot order: status %d", res.StatusCode)
	}
	const hotClients = 16
	client := keepAliveClient(b, hotClients)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range hotClients {
		wg.Go(func() {
			sku := fmt.Sprintf("HOT-%d", c)
			add := []byte(`{"sku":"` + sku + `","quantity":1,"unit_price":100}`)
			added := false
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders/hot/lines", bytes.NewReader(add))
				if added {
					req, _ = http.NewRequest(http.MethodDelete, srv.URL+"/orders/hot/lines/"+sku, nil)
				}
				added = !added
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("%s %s: status %d", req.Method, req.URL.Path, res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
}

// keepAliveClient is an HTTP client keeping conns connections to one
// server open, closed when the benchmark ends.
func keepAliveClient(b *testing.B, conns int) *http.Client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// openBenchStore opens an embedded store in a temp directory, closed when
// the benchmark ends.
func openBenchStore(b *testing.B) *embedded.Store {
	b.Helper()
	store, err := embedded.Open(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := store.Close(); err != nil {
			b.Error(err)
		}
	})
	return store
}

var orderBody = []byte(`{"customer_id":"cust-1","currency":"EUR","lines":[{"sku":"SKU-1","quantity":2,"unit_price":1250},{"sku":"SKU-2","quantity":1,"unit_price":990}]}`)

// runLoad sends b.N POST /orders from clients goroutines and reports
// requests/s and latency percentiles.
func runLoad(b *testing.B, h http.Handler, clients, want int) {
	runLoadAt(b, h, clients, want, 0)
}

// runLoadAt is runLoad with the requests paced at rate a second (request i
// starts no sooner than i/rate after the first), as fast as the clients go
// when rate is 0.
func runLoadAt(b *testing.B, h http.Handler, clients, want int, rate float64) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := keepAliveClient(b, clients)
	lat := make([][]time.Duration, clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if rate > 0 { // the pace: request i's start, not a wait for a condition
					time.Sleep(time.Until(start.Add(time.Duration(float64(i-1) / rate * float64(time.Second)))))
				}
				t0 := time.Now()
				res, err := client.Post(srv.URL+"/orders", "application/json", bytes.NewReader(orderBody))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != want {
					b.Error(fmt.Errorf("status %d", res.StatusCode))
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(pct(all, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(all, 0.99).Microseconds())/1000, "p99-ms")
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}
