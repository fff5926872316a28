package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderstore/orderstore/eventstore"
)

// fillOrders appends orders×each events, each order's in a stream of its
// own.
func fillOrders(tb testing.TB, store eventstore.Store, orders, each int) {
	tb.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for o := range orders {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			appendEvents(tb, store, fmt.Sprintf("b%d", o), each)
		})
	}
	wg.Wait()
}

// BenchmarkDeliver measures deliveries per second of a backlog to local
// receivers (keep-alive), with 1 and 10 endpoints, against the rate at
// which the same receiver takes the same POSTs from a trivial client with
// as many connections (trivial_per_s). Each iteration is a round of both,
// one after the other, so that the machine's drift hits both alike: ratio
// is the median over the rounds of deliveries/s over trivial_per_s, with
// ratio_min and ratio_max. The CPU time of the process per delivery and
// per trivial POST (the receiver's included in both) is steadier than
// rates on a loaded machine: cpu_ratio is the trivial POST's over the
// delivery's (median, min, max).
func BenchmarkDeliver(b *testing.B) {
	for _, endpoints := range []int{1, 10} {
		b.Run(fmt.Sprintf("endpoints=%d", endpoints), func(b *testing.B) {
			const orders, each = 500, 4
			total := orders * each * endpoints
			posts := max(total, 10_000)
			dir := b.TempDir()
			store := openEmbedded(b, dir)
			fillOrders(b, store, orders, each)
			var got atomic.Int64
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				got.Add(1)
			}))
			b.Cleanup(rcv.Close)
			var rates, trivials, ratios, cpus, trivialCPUs, cpuRatios []float64
			b.ResetTimer()
			for range b.N {
				cpu0 := cpuTime()
				trivial := trivialRate(b, rcv.URL, benchConcurrency*endpoints, posts)
				trivialCPU := float64((cpuTime() - cpu0).Microseconds()) / float64(posts)

				n := openNotifier(b, b.TempDir(), store, Options{Key: testKey, AllowPrivate: true, Concurrency: benchConcurrency})
				for range endpoints {
					if _, err := n.Create(b.Context(), NewEndpoint{URL: rcv.URL, FromPosition: u64(0)}); err != nil {
						b.Fatal(err)
					}
				}
				got.Store(0)
				start, cpu0 := time.Now(), cpuTime()
				stop := run(b, n)
				waitFor(b, "the backlog delivered", nil, func() bool { return got.Load() >= int64(total) })
				elapsed, cpu := time.Since(start), cpuTime()-cpu0
				stop()

				rate := float64(total) / elapsed.Seconds()
				perDelivery := float64(cpu.Microseconds()) / float64(total)
				rates, trivials, ratios = append(rates, rate), append(trivials, trivial), append(ratios, rate/trivial)
				cpus, trivialCPUs = append(cpus, perDelivery), append(trivialCPUs, trivialCPU)
				cpuRatios = append(cpuRatios, trivialCPU/perDelivery)
			}
			b.ReportMetric(median(rates), "deliveries/s")
			b.ReportMetric(median(trivials), "trivial_per_s")
			b.ReportMetric(median(ratios), "ratio")
			b.ReportMetric(slices.Min(ratios), "ratio_min")
			b.ReportMetric(slices.Max(ratios), "ratio_max")
			b.ReportMetric(median(cpus), "cpu_us/delivery")
			b.ReportMetric(median(trivialCPUs), "cpu_us/trivial")
			b.ReportMetric(median(cpuRatios), "cpu_ratio")
			b.ReportMetric(slices.Min(cpuRatios), "cpu_ratio_min")
			b.ReportMetric(slices.Max(cpuRatios), "cpu_ratio_max")
		})
	}
}

// trivialRate is how many POSTs per second of an event-sized body the
// receiver at url takes from clients goroutines over keep-alive.
func trivialRate(tb testing.TB, url string, clients, total int) float64 {
	tb.Helper()
	body := bytes.Repeat([]byte("x"), 400)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var left atomic.Int64
	left.Store(int64(total))
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				res, err := c.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					tb.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

// BenchmarkLatency appends events at a steady rate (1,000/s, 100 orders)
// to one endpoint and reports the time from append to delivered: p50 and
// p99.
func BenchmarkLatency(b *testing.B) {
	dir := b.TempDir()
	store := openEmbedded(b, dir)
	n := openNotifier(b, dir, store, Options{Key: testKey, AllowPrivate: true})
	var (
		mu      sync.Mutex
		arrived = map[uint64]time.Time{}
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Position uint64 `json:"position"`
		}
		raw, _ := io.ReadAll(r.Body)
		if err := jsonUnmarshal(raw, &ev); err == nil {
			mu.Lock()
			if _, ok := arrived[ev.Position]; !ok {
				arrived[ev.Position] = time.Now()
			}
			mu.Unlock()
		}
	}))
	b.Cleanup(rcv.Close)
	if _, err := n.Create(b.Context(), NewEndpoint{URL: rcv.URL}); err != nil {
		b.Fatal(err)
	}
	run(b, n)
	const rate, seconds = 1000, 3
	var (
		sentMu sync.Mutex
		sent   = map[uint64]time.Time{}
	)
	b.ResetTimer()
	for range b.N {
		// Appends are paced by a ticker and made by 16 appenders; the
		// latency runs from the start of the append to the arrival.
		ticks := make(chan int, rate*seconds)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range ticks {
					t0 := time.Now()
					pos := appendEvents(b, store, fmt.Sprintf("l%d", i%100), 1)
					sentMu.Lock()
					sent[pos] = t0
					sentMu.Unlock()
				}
			})
		}
		start := time.Now()
		tick := time.NewTicker(time.Second / rate)
		for i := range rate * seconds {
			<-tick.C
			ticks <- i
		}
		tick.Stop()
		close(ticks)
		wg.Wait()
		b.ReportMetric(float64(rate*seconds)/time.Since(start).Seconds(), "events/s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(b, "every event delivered", ctx.Done(), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrived) >= len(sent)
	})
	var lat []time.Duration
	mu.Lock()
	for p, t0 := range sent {
		lat = append(lat, arrived[p].Sub(t0))
	}
	mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}

// benchConcurrency is the deliveries in flight per endpoint in
// BenchmarkDeliver.
const benchConcurrency = 32

// BenchmarkBacklogMemory keeps a receiver down (503) while 100,000 events
// pile up, and reports the heap and the resident set before and after,
// and the deliveries the endpoint holds: its window, not the backlog.
func BenchmarkBacklogMemory(b *testing.B) {
	dir := b.TempDir()
	store := openEmbedded(b, dir)
	n := openNotifier(b, dir, store, Options{Key: testKey, AllowPrivate: true})
	var attempts atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	b.Cleanup(rcv.Close)
	ep, err := n.Create(b.Context(), NewEndpoint{URL: rcv.URL})
	if err != nil {
		b.Fatal(err)
	}
	run(b, n)
	// Both after a collection that returns freed memory to the system:
	// what is left is what is held.
	heap := func() float64 {
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapInuse) / (1 << 20)
	}
	before, rssBefore := heap(), rssMiB()
	b.ResetTimer()
	for range b.N {
		const orders, batches, each = 1000, 10, 10 // 100,000 events
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for o := range orders {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				for range batches {
					evs := make([]eventstore.EventData, each)
					for i := range evs {
						evs[i] = paid()
					}
					if _, err := store.Append(b.Context(), fmt.Sprintf("order-m%d", o), eventstore.Any, evs...); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	waitFor(b, "the window full", nil, func() bool {
		return len(deliveriesOf(b, n, ep.ID, "")) >= DefaultWindow
	})
	b.ReportMetric(before, "heap_before_MiB")
	b.ReportMetric(heap(), "heap_after_MiB")
	b.ReportMetric(rssBefore, "rss_before_MiB")
	b.ReportMetric(rssMiB(), "rss_after_MiB")
	b.ReportMetric(float64(len(deliveriesOf(b, n, ep.ID, ""))), "deliveries_held")
}
