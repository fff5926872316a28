package orders_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
)

// TestService_HotOrderNotHeld: commands on one order queue on its lock,
// each announced to a store whose commits would wait an hour for an
// announced append. A command waiting for the lock must not stay
// announced: the holder's commit would wait for it while it waits for the
// holder. Every command ends, well within the test's bound.
func TestService_HotOrderNotHeld(t *testing.T) {
	store, err := embedded.Open(t.TempDir(), embedded.Options{CommitHold: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	}()
	svc := orders.New(store, orders.Options{})
	req := orders.Request{CorrelationID: "c"}
	if _, err := svc.Place(t.Context(), domain.PlaceOrder{ID: "hot", CustomerID: "c", Currency: "EUR",
		Lines: []domain.Line{{SKU: "S", Quantity: 1, UnitPrice: 1}}}, req); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const commands = 16
	var wg sync.WaitGroup
	for i := range commands {
		wg.Go(func() {
			if _, err := svc.Execute(ctx, "hot", domain.AddLine{SKU: fmt.Sprintf("L%d", i), Quantity: 1, UnitPrice: 1}, req); err != nil {
				t.Errorf("add line %d: %v (a commit held for a command waiting on the order's lock?)", i, err)
			}
		})
	}
	wg.Wait()
	o, version, err := svc.Load(t.Context(), "hot", -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Lines) != 1+commands || version != commands {
		t.Errorf("order has %d lines at version %d, want %d at %d", len(o.Lines), version, 1+commands, commands)
	}
}
