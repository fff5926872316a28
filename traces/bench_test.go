package traces_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/projections"
	"github.com/orderstore/orderstore/traces"
)

// benchStore opens the store that scripts/genevents filled in
// $ORDERSTORE_BENCH_DATA, and picks up to 1000 order flows spread over its
// log:
//
//	go run ./scripts/genevents -data /tmp/big -events 1000000
//	ORDERSTORE_BENCH_DATA=/tmp/big go test -run '^$' -bench . -benchtime 2000x ./traces/
func benchStore(b *testing.B) (*embedded.Store, []string) {
	b.Helper()
	dir := os.Getenv("ORDERSTORE_BENCH_DATA")
	if dir == "" {
		b.Skip("ORDERSTORE_BENCH_DATA is not set: fill a store with scripts/genevents and name its directory")
	}
	store, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() }) //nolint:errcheck // benchmark
	var flows []string
	for after := uint64(0); ; {
		page, err := store.ReadFiltered(b.Context(), after, 250, eventstore.Filter{Type: "OrderPlaced"})
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		flows = append(flows, eventstore.CorrelationID(page[0].Metadata))
		after = page[len(page)-1].Position
	}
	if len(flows) == 0 {
		b.Skip("the store holds no orders")
	}
	return store, flows
}

// reportPercentiles reports the 50th and 99th percentiles of d.
func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	ms := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}

// BenchmarkTrace builds the trace of an order's flow, as GET
// /traces/{correlation_id} does: its events alone, and with the read
// models' nodes.
func BenchmarkTrace(b *testing.B) {
	store, flows := benchStore(b)
	models, err := projections.Open(b.TempDir(), store, projections.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = models.Close() }) //nolint:errcheck // benchmark
	for _, tc := range []struct {
		name    string
		builder *traces.Builder
	}{
		{"events", traces.New(store)},
		{"with-projections", traces.New(store, traces.Projections{Models: models})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				t, err := tc.builder.Trace(ctx, flows[i%len(flows)])
				d = append(d, time.Since(start))
				if err != nil || len(t.Nodes) == 0 {
					b.Fatalf("trace: %v", err)
				}
			}
			reportPercentiles(b, d)
		})
	}
}

// BenchmarkFlowRead reads one order's flow by its correlation ID (the
// index) and the order's stream (the stream index), for the ratio of the
// two.
func BenchmarkFlowRead(b *testing.B) {
	store, flows := benchStore(b)
	ctx := context.Background()
	for _, how := range []string{"correlation", "stream"} {
		b.Run(how, func(b *testing.B) {
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				flow := flows[i%len(flows)]
				start := time.Now()
				var err error
				var evs []eventstore.RecordedEvent
				if how == "correlation" {
					evs, err = store.ReadFiltered(ctx, 0, 0, eventstore.Filter{CorrelationID: flow})
				} else {
					evs, err = store.ReadStream(ctx, "order-"+strings.TrimPrefix(flow, "flow-"), 0, 0)
				}
				d = append(d, time.Since(start))
				if err != nil || len(evs) == 0 {
					b.Fatal(fmt.Errorf("%s read of %s: %d events, %w", how, flow, len(evs), err))
				}
			}
			reportPercentiles(b, d)
		})
	}
}
