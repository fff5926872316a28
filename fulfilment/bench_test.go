package fulfilment_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/fulfilment"
	"github.com/orderstore/orderstore/orders"
)

const (
	benchSKUs    = 200
	benchClients = 64
)

// benchStore opens an embedded store in a temporary directory with stock
// for every bench SKU.
func benchStore(b *testing.B) (*embedded.Store, string) {
	b.Helper()
	dir := b.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "store"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := store.Close(); err != nil {
			b.Error(err)
		}
	})
	svc := orders.New(store, orders.Options{})
	for i := range benchSKUs {
		for range 4 {
			if _, err := svc.ReceiveStock(b.Context(), domain.ReceiveStock{SKU: benchSKU(i), Quantity: domain.MaxQuantity},
				orders.Request{CorrelationID: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return store, dir
}

func benchSKU(i int) string { return fmt.Sprintf("B-%03d", i) }

// benchOrder returns an order of two lines on distinct random SKUs.
func benchOrder(r *rand.Rand, id string) domain.PlaceOrder {
	a, c := r.IntN(benchSKUs), r.IntN(benchSKUs-1)
	if c >= a {
		c++
	}
	return domain.PlaceOrder{ID: id, CustomerID: "c", Currency: "EUR", Lines: []domain.Line{
		{SKU: benchSKU(a), Quantity: 1, UnitPrice: 100}, {SKU: benchSKU(c), Quantity: 1, UnitPrice: 100}}}
}

// placeAll places n orders from benchClients goroutines and returns the
// time it took.
func placeAll(b *testing.B, _ eventstore.Store, svc *orders.Service, prefix string, n int) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range benchClients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 1))
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if _, err := svc.Place(b.Context(), benchOrder(r, fmt.Sprintf("%s-%d", prefix, i)), orders.Request{CorrelationID: "bench"}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// reservedWatcher records when each order's event of one type (its
// OrderStockReserved, say) is seen in $all.
type reservedWatcher struct {
	mu   sync.Mutex
	seen map[string]time.Time
	all  chan struct{}
	want int
}

func watchReserved(ctx context.Context, store eventstore.Store, want int) *reservedWatcher {
	return watchType(ctx, store, 0, domain.TypeOrderStockReserved, want)
}

// watchType follows $all after position after, as the projections follow
// it under serve, and records each order's first event of type typ.
func watchType(ctx context.Context, store eventstore.Store, after uint64, typ string, want int) *reservedWatcher {
	w := &reservedWatcher{seen: make(map[string]time.Time, want), all: make(chan struct{}), want: want}
	go func() {
		_ = store.Subscribe(ctx, after, func(events []eventstore.RecordedEvent) error { //nolint:errcheck // ends with ctx
			now := time.Now()
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, ev := range events {
				if ev.Type == typ {
					w.seen[ev.Stream[len(domain.OrderStreamPrefix):]] = now
				}
			}
			if len(w.seen) >= w.want && w.all != nil {
				close(w.all)
				w.all = nil
			}
			return nil
		})
	}()
	return w
}

// done returns a channel closed once every wanted order was seen.
func (w *reservedWatcher) done() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.all == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return w.all
}

// wait waits until every wanted order was seen.
func (w *reservedWatcher) wait(b *testing.B, what string) {
	select {
	case <-w.done():
	case <-time.After(5 * time.Minute):
		b.Fatalf("orders not all %s", what)
	}
}

// BenchmarkFulfilment measures the saga on the embedded store: orders
// placed by 64 clients until all are reserved, as a ratio of the placement
// throughput under the track policy in the same run (each phase timed
// until a follower of $all has seen its last order through), with the
// store's commits per second and events per commit; and, placing 1,000
// orders/s, the latency from the placement's answer to the order's
// OrderStockReserved in $all. Run it alone (the figures are throughputs):
//
//	go test -run '^$' -bench Fulfilment -benchtime 1x ./fulfilment/
func BenchmarkFulfilment(b *testing.B) {
	const orders64 = 6000
	b.Run("Throughput", func(b *testing.B) { benchThroughput(b, orders64, placeAll) })
	// The same with the orders placed over HTTP, through the API on a
	// loopback server with keep-alive clients, as clients of serve place
	// them.
	b.Run("ThroughputHTTP", func(b *testing.B) { benchThroughput(b, orders64, placeAllHTTP) })
	b.Run("Latency1000", func(b *testing.B) {
		defer embedded.AddSyncProc()() // as benchThroughput
		const rate, seconds = 1000, 5
		for b.Loop() {
			store, _ := benchStore(b)
			ctx, cancel := context.WithCancel(b.Context())
			saga := fulfilment.New(store, fulfilment.Options{})
			done := make(chan error, 1)
			go func() { done <- saga.Run(ctx) }()
			head, _ := store.Head(ctx)
			if err := saga.WaitFor(ctx, head); err != nil {
				b.Fatal(err)
			}
			n := rate * seconds
			w := watchReserved(ctx, store, n)
			svc := orders.New(store, orders.Options{ReserveStock: true})
			placed := make([]time.Time, n)
			var wg sync.WaitGroup
			sem := make(chan struct{}, benchClients)
			tick := time.NewTicker(time.Second / rate)
			r := rand.New(rand.NewPCG(3, 4))
			for i := range n {
				<-tick.C
				cmd := benchOrder(r, fmt.Sprintf("lat-%d", i))
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					if _, err := svc.Place(ctx, cmd, orders.Request{CorrelationID: "bench"}); err != nil {
						b.Error(err)
					}
					placed[i] = time.Now()
				})
			}
			tick.Stop()
			wg.Wait()
			w.wait(b, "reserved")
			cancel()
			<-done
			w.mu.Lock()
			lat := make([]float64, 0, n)
			for i := range n {
				lat = append(lat, float64(w.seen[fmt.Sprintf("lat-%d", i)].Sub(placed[i]).Microseconds())/1000)
			}
			w.mu.Unlock()
			slices.Sort(lat)
			b.ReportMetric(lat[len(lat)/2], "p50_ms")
			b.ReportMetric(lat[len(lat)*99/100], "p99_ms")
			b.ReportMetric(lat[len(lat)-1], "max_ms")
		}
	})
}

// benchThroughput places orders64 orders with place under the track
// policy, then as many under reserve with the saga running, and reports
// the reserved orders/s as a ratio of the track placement rate.
func benchThroughput(b *testing.B, orders64 int, place func(b *testing.B, store eventstore.Store, svc *orders.Service, prefix string, n int) time.Duration) {
	// Both policies run as serve runs them, with one P more than cores
	// (see embedded.AddSyncProc); GOMAXPROCS=N in the environment sets N.
	defer embedded.AddSyncProc()()
	for b.Loop() {
		store, _ := benchStore(b)
		ctx, cancel := context.WithCancel(b.Context())
		// Both phases end when a follower of $all has seen the last order
		// through, and have that follower's cost.
		from, err := store.Head(ctx)
		if err != nil {
			b.Fatal(err)
		}
		// The track phase's follower stops with it: the reserve phase has
		// its own.
		trackCtx, trackDone := context.WithCancel(ctx)
		placed := watchType(trackCtx, store, from, domain.TypeOrderPlaced, orders64)
		track := orders.New(store, orders.Options{})
		trackCommits := store.Stats().Commits.Load()
		trackBusy := writerBusy(store)
		trackCPU := processCPU(b)
		trackStart := time.Now()
		place(b, store, track, "track", orders64)
		placed.wait(b, "placed")
		trackTime := time.Since(trackStart)
		trackCPU = processCPU(b) - trackCPU
		trackDone()
		trackCommits = store.Stats().Commits.Load() - trackCommits
		trackBusy = writerBusy(store) - trackBusy

		w := watchReserved(ctx, store, orders64)
		saga := fulfilment.New(store, fulfilment.Options{})
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- saga.Run(ctx) }()
		// Catch up past the track orders first: not part of the figure.
		head, _ := store.Head(ctx)
		if err := saga.WaitFor(ctx, head); err != nil {
			b.Fatal(err)
		}
		catchUp := time.Since(start)
		reserve := orders.New(store, orders.Options{ReserveStock: true})
		commits, events := store.Stats().Commits.Load(), store.Stats().Events.Load()
		busy := writerBusy(store)
		cpu := processCPU(b)
		start = time.Now()
		placeTime := place(b, store, reserve, "reserve", orders64)
		w.wait(b, "reserved")
		reserveTime := time.Since(start)
		cpu = processCPU(b) - cpu
		commits, events = store.Stats().Commits.Load()-commits, store.Stats().Events.Load()-events
		busy = writerBusy(store) - busy
		cancel()
		<-done
		trackRate := float64(orders64) / trackTime.Seconds()
		reserveRate := float64(orders64) / reserveTime.Seconds()
		b.ReportMetric(trackRate, "track_orders/s")
		b.ReportMetric(float64(orders64)/placeTime.Seconds(), "reserve_placed/s")
		b.ReportMetric(reserveRate, "reserved_orders/s")
		b.ReportMetric(reserveRate/trackRate, "ratio")
		b.ReportMetric(catchUp.Seconds()*1000, "catchup_ms")
		b.ReportMetric(float64(commits)/reserveTime.Seconds(), "commits/s")
		b.ReportMetric(float64(events)/float64(commits), "events/commit")
		b.ReportMetric(float64(orders64)/float64(trackCommits), "track_events/commit")
		// The share of each phase the store's single writer spent applying
		// and committing (not waiting for work or holding a commit): near
		// 1, the writer is what bounds the phase.
		b.ReportMetric(trackBusy.Seconds()/trackTime.Seconds(), "track_writer_busy")
		// CPU time of the whole process (clients, server, store, saga,
		// follower) per order in each phase: steadier than throughput on
		// a shared machine, and what the phases compete for on a small one.
		b.ReportMetric(float64(trackCPU.Microseconds())/float64(orders64), "track_cpu_µs/order")
		b.ReportMetric(float64(cpu.Microseconds())/float64(orders64), "cpu_µs/order")
		b.ReportMetric(busy.Seconds()/reserveTime.Seconds(), "writer_busy")
	}
}

// writerBusy is the time the embedded store's writer has spent applying
// appends and committing them.
func writerBusy(store *embedded.Store) time.Duration {
	st := store.Stats()
	return time.Duration(st.ApplyNanos.Load() + st.CommitNanos.Load())
}

// placeAllHTTP places n orders as placeAll does, over HTTP: POST /orders
// through the API over svc on a loopback server, from benchClients
// keep-alive clients.
func placeAllHTTP(b *testing.B, store eventstore.Store, svc *orders.Service, prefix string, n int) time.Duration {
	b.Helper()
	srv := httptest.NewServer(api.New(api.Config{Store: store, Orders: svc}).Handler())
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range benchClients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 1))
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				body, err := json.Marshal(benchOrder(r, fmt.Sprintf("%s-%d", prefix, i)))
				if err != nil {
					b.Error(err)
					return
				}
				res, err := client.Post(srv.URL+"/orders", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					b.Errorf("POST /orders: status %d", res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
