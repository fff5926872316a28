package api_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
)

// BenchmarkStreamFanout measures POST /orders (64 clients) with 0 and with
// 50 clients following GET /events/stream, and checks that every stream
// client got every event, once, in order:
//
//	go test -run '^$' -bench StreamFanout -benchtime 20000x ./api/
func BenchmarkStreamFanout(b *testing.B) {
	for _, followers := range []int{0, 50} {
		b.Run("followers="+strconv.Itoa(followers), func(b *testing.B) { fanout(b, followers, 0) })
	}
}

// BenchmarkStreamFanoutPaced is the wording: the order path paced
// at 5,000 orders (events) a second, followed by 0 or 50 stream clients,
// each checked to receive every event once and in order. The order path
// keeps its pace or falls behind it (req/s); cpu-us/order is the process's
// CPU time (server, order clients and followers alike) per order, the
// cost of the followers at that rate:
//
//	go test -run '^$' -bench StreamFanoutPaced -benchtime 20000x ./api/
func BenchmarkStreamFanoutPaced(b *testing.B) {
	for _, followers := range []int{0, 50} {
		b.Run("followers="+strconv.Itoa(followers), func(b *testing.B) { fanout(b, followers, 5000) })
	}
}

// fanout places b.N orders from 64 clients (at rate a second, or as fast
// as they go when 0) while followers clients follow GET /events/stream.
func fanout(b *testing.B, followers int, rate float64) {
	defer embedded.AddSyncProc()() // as serve runs (see BenchmarkHTTP)
	store, err := embedded.Open(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			b.Error(err)
		}
	}()
	h := api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{})}).Handler()
	streams := httptest.NewServer(h)
	defer streams.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counts := make([]int, followers)
	var (
		wg     sync.WaitGroup
		opened sync.WaitGroup
	)
	for i := range followers {
		opened.Add(1)
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", streams.URL+"/events/stream", nil) //nolint:errcheck // a constant URL
			res, err := http.DefaultClient.Do(req)
			opened.Done()
			if err != nil {
				b.Error(err)
				return
			}
			defer res.Body.Close() //nolint:errcheck // benchmark
			// The follower's own parsing runs on the server's cores
			// here: lines as bytes, no allocation per line.
			sc := bufio.NewScanner(res.Body)
			sc.Buffer(make([]byte, 256<<10), 1<<20)
			var last uint64
			for sc.Scan() {
				line := sc.Bytes()
				if id, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
					p, ok := parsePosition(id)
					if !ok || p <= last {
						b.Errorf("follower %d: id %q after %d", i, id, last)
						return
					}
					last = p
					counts[i]++
					if counts[i] == b.N {
						return
					}
				}
				if bytes.HasPrefix(line, []byte("event: cutoff")) {
					b.Errorf("follower %d cut off after %d events", i, counts[i])
					return
				}
			}
		})
	}
	opened.Wait()
	start := time.Now()
	cpu0 := cpuTime()
	runLoadAt(b, h, 64, http.StatusCreated, rate)
	// Every follower has every event, or the run is a failure.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cancel()
		<-done
	}
	for i, n := range counts {
		if n != b.N {
			b.Errorf("follower %d got %d of %d events", i, n, b.N)
		}
	}
	if followers > 0 {
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s-to-all")
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/order")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parsePosition parses an SSE id without a string of it.
func parsePosition(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
