package embedded_test

import (
	"context"
	"testing"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
)

// TestStore_CancelledReadsThenClose: reads cancelled mid-query make the
// driver drop their connection; statements cached for it must not outlive
// it (finalizing them at Close crashed the process).
func TestStore_CancelledReadsThenClose(t *testing.T) {
	for round := range 40 {
		s, err := embedded.Open(t.TempDir(), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		evs := make([]eventstore.EventData, 50)
		for i := range evs {
			evs[i] = benchEvent()
		}
		if _, err := s.Append(t.Context(), "order-r", eventstore.NoStream, evs...); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ctx.Err() == nil {
					_, _ = s.ReadAll(ctx, 0, 0)
					_ = s.Ping(ctx)
				}
			}()
			if i%2 == 0 {
				_, _ = s.ReadAll(t.Context(), 0, 0)
			}
			cancel()
			<-done
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
}
