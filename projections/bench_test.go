package projections

import (
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/orderlist"
	"github.com/orderstore/orderstore/projections/sagas"
	"github.com/orderstore/orderstore/projections/stock"
)

// The benchmarks report rates and latencies as custom metrics. Run them with
//
//	go test -run '^$' -bench Rebuild -benchtime 3x ./projections/
//	go test -run '^$' -bench LiveLag -benchtime 15000x ./projections/
//
// BenchmarkRebuild times, in each iteration, a raw read of $all from the
// embedded store and an offline rebuild over it, so that x-read (rebuild
// rate / read rate) compares runs made under the same machine load.

// benchHistory is the number of random commands written before rebuilding.
const benchHistory = 120_000

func BenchmarkRebuild(b *testing.B) {
	dir := b.TempDir()
	s := openStore(b, dir)
	ctx := b.Context()
	if err := writeConcurrently(ctx, s, 5, 64, benchHistory, nil); err != nil {
		b.Fatal(err)
	}
	head, err := s.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{stock.Name, analytics.Name, orderlist.Name, sagas.Name, all} {
		b.Run(name, func(b *testing.B) {
			rm := b.TempDir()
			var reading, rebuilding, cpu time.Duration
			for b.Loop() {
				t0 := time.Now()
				var after uint64
				for {
					page, err := s.ReadAll(ctx, after, pageSize)
					if err != nil {
						b.Fatal(err)
					}
					if len(page) == 0 {
						break
					}
					after = page[len(page)-1].Position
				}
				t1, cpu0 := time.Now(), cpuTime(b)
				if err := RebuildOffline(ctx, rm, s, Options{}, []string{name}, nil); err != nil {
					b.Fatal(err)
				}
				reading, rebuilding, cpu = reading+t1.Sub(t0), rebuilding+time.Since(t1), cpu+cpuTime(b)-cpu0
			}
			events := float64(head) * float64(b.N)
			b.ReportMetric(events/reading.Seconds(), "read-events/s")
			b.ReportMetric(events/rebuilding.Seconds(), "rebuild-events/s")
			b.ReportMetric(reading.Seconds()/rebuilding.Seconds(), "x-read")
			b.ReportMetric(cpu.Seconds()/rebuilding.Seconds(), "cores")
			b.ReportMetric(float64(head), "events")
		})
	}
}

// cpuTime returns the CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLiveLag offers commands at a steady rate (open loop) from 64
// writers while the projections run, and measures the time from each
// append's acknowledgement to both projections having applied it. Writers
// do not wait for the projections before their next command: the offered
// rate is the target load, whatever the lag.
func BenchmarkLiveLag(b *testing.B) {
	const (
		rate    = 5_000 // commands per second (the target load)
		writers = 64
	)
	dir := b.TempDir()
	s := openStore(b, dir)
	m, _ := start(b, dir, s, Options{})
	ctx := b.Context()
	work := make(chan struct{}, 1024)
	var (
		mu      sync.Mutex
		lags    []time.Duration
		waiters sync.WaitGroup
	)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			w := newWorkload(uint64(i), fmt.Sprintf("lag-%d-", i))
			for range work {
				pos, err := w.step(ctx, s)
				if err != nil {
					b.Error(err)
					return
				}
				if pos == 0 {
					continue // refused command
				}
				acked := time.Now()
				waiters.Go(func() {
					for _, name := range []string{stock.Name, analytics.Name} {
						if err := m.WaitFor(ctx, name, pos); err != nil {
							b.Error(err)
							return
						}
					}
					lag := time.Since(acked)
					mu.Lock()
					lags = append(lags, lag)
					mu.Unlock()
				})
			}
		})
	}
	// Pace by schedule, not by ticker: a ticker drops ticks it could not
	// deliver in time, which would lower the offered rate.
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	waiters.Wait()
	slices.Sort(lags)
	if len(lags) == 0 {
		b.Fatal("no command accepted")
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commands/s")
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds()), "p99-µs")
}
