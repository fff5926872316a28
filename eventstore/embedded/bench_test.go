package embedded_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
)

// The benchmarks report rates as custom metrics. Run them all with
//
//	go test -run '^$' -bench . -benchtime 3s ./eventstore/embedded/
//
// and compare appends-per-second with BenchmarkFsync's fsyncs-per-second
// from the same run: the ratio is what group commit buys.

func openBench(b *testing.B) *embedded.Store {
	b.Helper()
	s, err := embedded.Open(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}

var payload = []byte(`{"order_id":"o-123456","customer_id":"c-42","currency":"EUR","lines":[{"sku":"SKU-1","quantity":2,"unit_price":1250}],"placed_at":"2026-11-25T10:00:00Z"}`)

func benchEvent() eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: "OrderPlaced", Data: payload,
		Metadata: []byte(`{"correlation_id":"3f1c","causation_id":"3f1c","schema":1}`)}
}

// BenchmarkFsync measures the disk's raw rate of small durable writes:
// append 200 bytes to a file and fsync it, one at a time.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // benchmark scratch file
	buf := make([]byte, 200)
	start := time.Now()
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "fsyncs/s")
}

// BenchmarkAppend appends single-event appends to distinct streams from 1
// and 64 concurrent writers.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := openBench(b)
			ctx := b.Context()
			latencies := make([][]time.Duration, writers)
			work := make(chan int, writers)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				wg.Go(func() {
					stream := fmt.Sprintf("order-bench-%d", w)
					expected := eventstore.NoStream
					for range work {
						t0 := time.Now()
						res, err := s.Append(ctx, stream, expected, benchEvent())
						if err != nil {
							b.Error(err)
							return
						}
						latencies[w] = append(latencies[w], time.Since(t0))
						expected = eventstore.Exact(res.Version)
					}
				})
			}
			for i := range b.N {
				work <- i
			}
			close(work)
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			st := s.Stats()
			all := slices.Concat(latencies...)
			slices.Sort(all)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
			b.ReportMetric(float64(st.Commits.Load())/float64(st.Events.Load()), "fsyncs/event")
			b.ReportMetric(float64(percentile(all, 0.99).Microseconds()), "p99-µs")
		})
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}

// BenchmarkReadAll reads $all from the start in pages of 1,000 over a store
// of 100,000 events.
func BenchmarkReadAll(b *testing.B) {
	s := openBench(b)
	const total = 100_000
	fill(b, s, total)
	ctx := b.Context()
	var read int
	start := time.Now()
	for b.Loop() {
		var after uint64
		for {
			page, err := s.ReadAll(ctx, after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			read += len(page)
			after = page[len(page)-1].Position
		}
	}
	b.ReportMetric(float64(read)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkReadStream loads one order-sized stream (8 events) from a store
// of 100,000 events: the read half of every command.
func BenchmarkReadStream(b *testing.B) {
	s := openBench(b)
	fill(b, s, 100_000)
	ctx := b.Context()
	for b.Loop() {
		evs, err := s.ReadStream(ctx, "order-fill-77", 0, 0)
		if err != nil || len(evs) != 8 {
			b.Fatalf("read: %d events, %v", len(evs), err)
		}
	}
}

// fill writes n events as 8-event streams, 100 events per append call.
func fill(b *testing.B, s *embedded.Store, n int) {
	b.Helper()
	for i := 0; i < n; i += 8 {
		evs := make([]eventstore.EventData, 8)
		for j := range evs {
			evs[j] = benchEvent()
		}
		if _, err := s.Append(b.Context(), fmt.Sprintf("order-fill-%d", i/8), eventstore.NoStream, evs...); err != nil {
			b.Fatal(err)
		}
	}
}
