package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
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

// backlogCheckpoints are the events appended when BacklogMemory reads the
// resident set: a plateau shows over several, not two points.
var backlogCheckpoints = []int{25_000, 50_000, 100_000, 200_000}

// backlogEnv names the case TestBacklogMemoryChild runs: "none" (no
// notifier) or "down" (an endpoint whose receiver answers 503).
const backlogEnv = "WEBHOOKS_BACKLOG_MEMORY"

// backlogResult is what TestBacklogMemoryChild prints, after
// backlogPrefix, as one line of JSON.
type backlogResult struct {
	RSS        []float64 // MiB, before the appends and at each checkpoint
	HeapBefore float64   // MiB
	HeapAfter  float64   // MiB
	Held       int       // the endpoint's deliveries at the end ("down")
}

const backlogPrefix = "backlog-memory: "

// BenchmarkBacklogMemory appends 200,000 events (16 appenders, batches of
// 10) in a process without a notifier (none) and in one whose only
// endpoint's receiver answers 503 (down), and reads each one's resident
// set before the appends and after 25,000, 50,000, 100,000 and 200,000
// events. share_* is down's minus none's at the same point: the memory
// the notifier holds for a dead receiver's backlog, SQLite's page caches
// included (modernc.org/sqlite allocates them outside the Go heap, so the
// Go heap alone cannot tell). It reports down's Go heap before and after,
// and the deliveries its endpoint holds: its window, not the backlog.
//
// Each case runs in a child process of its own (this test binary re-run
// with -test.run TestBacklogMemoryChild): a process's resident set never
// shrinks by much once the event store's caches have filled, so a case
// run after another in the same process would start from the other's
// high-water mark and a difference would mean nothing. Both children have
// the same shape otherwise: the same store, appenders and a 503 receiver
// listening (to which only down's endpoint points).
func BenchmarkBacklogMemory(b *testing.B) {
	var none, down backlogResult
	for range b.N {
		none = backlogChild(b, "none")
		down = backlogChild(b, "down")
	}
	points := append([]int{0}, backlogCheckpoints...)
	for i, p := range points {
		k := fmt.Sprintf("%03dk", p/1000)
		b.ReportMetric(none.RSS[i], "none_rss_"+k+"_MiB")
		b.ReportMetric(down.RSS[i], "down_rss_"+k+"_MiB")
		b.ReportMetric(down.RSS[i]-none.RSS[i], "share_"+k+"_MiB")
	}
	b.ReportMetric(down.HeapBefore, "heap_before_MiB")
	b.ReportMetric(down.HeapAfter, "heap_after_MiB")
	b.ReportMetric(float64(down.Held), "deliveries_held")
}

// backlogChild runs TestBacklogMemoryChild in a child process for the
// case and returns what it measured.
func backlogChild(b *testing.B, which string) backlogResult {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestBacklogMemoryChild$", "-test.count=1", "-test.v=true")
	cmd.Env = append(os.Environ(), backlogEnv+"="+which)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("backlog memory, %s: %v\n%s", which, err, out)
	}
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, backlogPrefix); ok {
			var r backlogResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				b.Fatalf("backlog memory, %s: %v", which, err)
			}
			if len(r.RSS) != len(backlogCheckpoints)+1 {
				b.Fatalf("backlog memory, %s: %d readings", which, len(r.RSS))
			}
			return r
		}
	}
	b.Fatalf("backlog memory, %s: no result in\n%s", which, out)
	return backlogResult{}
}

// TestBacklogMemoryChild is BenchmarkBacklogMemory's child process; it
// runs only when that sets backlogEnv.
func TestBacklogMemoryChild(t *testing.T) {
	which := os.Getenv(backlogEnv)
	if which == "" {
		t.Skip("run by BenchmarkBacklogMemory")
	}
	if which != "none" && which != "down" {
		t.Fatalf("%s=%q", backlogEnv, which)
	}
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(rcv.Close)
	var (
		n  *Notifier
		ep Endpoint
	)
	if which == "down" {
		n = openNotifier(t, dir, store, Options{Key: testKey, AllowPrivate: true})
		var err error
		if ep, err = n.Create(t.Context(), NewEndpoint{URL: rcv.URL}); err != nil {
			t.Fatal(err)
		}
		run(t, n)
	}
	// Both after a collection that returns freed memory to the system:
	// what is left is what is held.
	heap := func() float64 {
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapInuse) / (1 << 20)
	}
	// settled waits, with a receiver down, until the endpoint holds its
	// full window: the notifier has read what it will of the backlog.
	settled := func() {
		if n != nil {
			waitFor(t, "the window full", nil, func() bool {
				return len(deliveriesOf(t, n, ep.ID, "")) >= DefaultWindow
			})
		}
	}
	res := backlogResult{HeapBefore: heap()}
	res.RSS = append(res.RSS, rssMiB())
	const batches, each = 10, 10 // 100 events an order
	orders := 0
	for _, upTo := range backlogCheckpoints {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for ; orders < upTo/(batches*each); orders++ {
			sem <- struct{}{}
			o := orders
			wg.Go(func() {
				defer func() { <-sem }()
				for range batches {
					evs := make([]eventstore.EventData, each)
					for i := range evs {
						evs[i] = paid()
					}
					if _, err := store.Append(t.Context(), fmt.Sprintf("order-m%d", o), eventstore.Any, evs...); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		settled()
		heap()
		res.RSS = append(res.RSS, rssMiB())
	}
	res.HeapAfter = heap()
	if n != nil {
		res.Held = len(deliveriesOf(t, n, ep.ID, ""))
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", backlogPrefix, raw)
}
