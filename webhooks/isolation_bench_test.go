package webhooks

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/orders"
)

// BenchmarkIsolation places orders through the orders service from 32
// clients for 3 s, three ways, three rounds in one run: no notifier, a notifier with a
// healthy endpoint, and one with an endpoint whose receiver hangs every
// request. It reports orders/s of each and the ratios against none: a
// receiver, however bad, must not slow the order path.
func BenchmarkIsolation(b *testing.B) {
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	b.Cleanup(hanging.Close)
	b.Cleanup(func() { close(hang) })
	healthy := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.Cleanup(healthy.Close)

	rate := func(url string) float64 {
		dir := b.TempDir()
		store := openEmbedded(b, dir)
		if url != "" {
			n := openNotifier(b, dir, store, Options{Key: testKey, AllowPrivate: true, Timeout: time.Minute})
			if _, err := n.Create(b.Context(), NewEndpoint{URL: url}); err != nil {
				b.Fatal(err)
			}
			defer run(b, n)()
		}
		svc := orders.New(store, orders.Options{})
		var placed atomic.Int64
		deadline := time.Now().Add(3 * time.Second)
		var wg sync.WaitGroup
		for c := range 32 {
			wg.Go(func() {
				for i := 0; time.Now().Before(deadline); i++ {
					_, err := svc.Place(b.Context(), domain.PlaceOrder{ID: fmt.Sprintf("c%d-%d", c, i), CustomerID: "c", Currency: "EUR",
						Lines: []domain.Line{{SKU: "S", Quantity: 1, UnitPrice: 100}}}, orders.Request{CorrelationID: "bench"})
					if err != nil {
						b.Error(err)
						return
					}
					placed.Add(1)
				}
			})
		}
		wg.Wait()
		return float64(placed.Load()) / 3
	}
	for range b.N {
		// Three rounds, interleaved, medians: the machine's load drifts.
		var none, good, bad []float64
		for range 3 {
			none = append(none, rate(""))
			bad = append(bad, rate(hanging.URL))
			good = append(good, rate(healthy.URL))
		}
		b.ReportMetric(median(none), "orders/s_none")
		b.ReportMetric(median(bad)/median(none), "ratio_hanging")
		b.ReportMetric(median(good)/median(none), "ratio_healthy")
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
