// Command genevents fills an embedded store with a realistic order history,
// for rebuild and memory measurements:
//
//	go run ./scripts/genevents -data /tmp/big -events 1000000
//
// Orders go through the domain's deciders (place, add/remove lines, pay,
// ship or cancel) and stock receipts are mixed in, from 32 writers, so the
// log interleaves streams as production would.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "genevents:", err)
		os.Exit(1)
	}
}

func run() error {
	data := flag.String("data", "", "data directory to fill (required)")
	total := flag.Int64("events", 1_000_000, "events to write (approximately: whole orders)")
	writers := flag.Int("writers", 32, "concurrent writers")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *data == "" {
		return fmt.Errorf("-data is required")
	}
	store, err := embedded.Open(*data, embedded.Options{})
	if err != nil {
		return err
	}
	defer store.Close() //nolint:errcheck // reported below through the writes
	ctx := context.Background()
	var written atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *writers)
	for w := range *writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(*seed, uint64(w)))
			for written.Load() < *total {
				n, err := writeOrder(ctx, store, rng)
				if err != nil {
					errs <- err
					return
				}
				written.Add(int64(n))
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("wrote %d events in %s (%.0f events/s)\n", written.Load(), d.Round(time.Millisecond), float64(written.Load())/d.Seconds())
	return store.Close()
}

// writeOrder runs one order's life through Decide and appends each command's
// events, plus sometimes a stock receipt. Each order is a flow of its own
// (correlation_id flow-<order id>), each command a request (causation_id).
// It returns the events written.
func writeOrder(ctx context.Context, store eventstore.Store, rng *rand.Rand) (int, error) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(300*24)) * time.Hour)
	sku := func() string { return fmt.Sprintf("SKU-%03d", rng.IntN(200)) }
	cmds := []domain.Command{domain.PlaceOrder{ID: uuid.NewString(), CustomerID: fmt.Sprintf("c-%d", rng.IntN(10000)),
		Currency: []string{"EUR", "USD", "GBP"}[rng.IntN(3)], Lines: []domain.Line{{SKU: sku(), Quantity: 1 + rng.Int64N(5), UnitPrice: 100 + rng.Int64N(10000)}}}}
	if rng.IntN(3) == 0 {
		cmds = append(cmds, domain.AddLine{SKU: sku(), Quantity: 1 + rng.Int64N(3), UnitPrice: 100 + rng.Int64N(5000)})
	}
	var order domain.Order
	written := 0
	stream := domain.OrderStream(cmds[0].(domain.PlaceOrder).ID)
	flow := "flow-" + cmds[0].(domain.PlaceOrder).ID
	newMeta := func() ([]byte, error) {
		return json.Marshal(domain.Metadata{CorrelationID: flow, CausationID: uuid.NewString(), Schema: domain.SchemaVersion})
	}
	apply := func(cmd domain.Command) error {
		meta, err := newMeta()
		if err != nil {
			return err
		}
		events, err := domain.Decide(order, cmd, now)
		if err != nil {
			return nil // e.g. a duplicate SKU at another price: skip the command
		}
		data := make([]eventstore.EventData, len(events))
		for i, e := range events {
			typ, payload, err := domain.Encode(e)
			if err != nil {
				return err
			}
			data[i] = eventstore.EventData{ID: uuid.New(), Type: typ, Data: payload, Metadata: meta}
			order = domain.Evolve(order, e)
		}
		expected := eventstore.NoStream
		if written > 0 {
			expected = eventstore.Exact(int64(written - 1))
		}
		if _, err := store.Append(ctx, stream, expected, data...); err != nil {
			return err
		}
		written += len(data)
		return nil
	}
	for _, c := range cmds {
		if err := apply(c); err != nil {
			return written, err
		}
	}
	switch r := rng.IntN(10); {
	case r < 7:
		if err := apply(domain.Pay{Amount: order.Total(), PaymentRef: "psp"}); err != nil {
			return written, err
		}
		if r < 5 {
			if err := apply(domain.Ship{Carrier: "DHL", Tracking: "T"}); err != nil {
				return written, err
			}
		} else if r == 6 {
			if err := apply(domain.Cancel{Reason: "refund"}); err != nil {
				return written, err
			}
		}
	case r < 9:
		if err := apply(domain.Cancel{Reason: "changed mind"}); err != nil {
			return written, err
		}
	}
	if rng.IntN(10) == 0 {
		received := sku()
		events, err := domain.DecideStock(domain.ReceiveStock{SKU: received, Quantity: 10 + rng.Int64N(100)}, now)
		if err != nil {
			return written, err
		}
		typ, payload, err := domain.Encode(events[0])
		if err != nil {
			return written, err
		}
		meta, err := newMeta()
		if err != nil {
			return written, err
		}
		if _, err := store.Append(ctx, domain.StockStream(received), eventstore.Any,
			eventstore.EventData{ID: uuid.New(), Type: typ, Data: payload, Metadata: meta}); err != nil {
			return written, err
		}
		written++
	}
	return written, nil
}
