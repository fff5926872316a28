package fulfilment_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/fulfilment"
	"github.com/orderstore/orderstore/projections"
)

// A deadline the saga did not see since it started (it was recorded before
// the saga's checkpoint) is found again through the fulfilment read model,
// and fires once.
func TestSaga_DeadlineFoundAfterRestart(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		const timeout = time.Hour
		models, err := projections.Open(filepath.Join(e.dir, "models"), e.store, projections.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := models.Close(); err != nil {
				t.Error(err)
			}
		})
		stopModels := e.run(models)

		first := e.saga("saga", timeout)
		stop := e.run(first)
		e.receive("A", 10)
		e.place("o-1", line("A", 1))
		e.place("o-2", line("A", 1))
		e.settle(first)
		if err := e.exec("o-2", domain.Pay{Amount: 100, PaymentRef: "p"}); err != nil {
			t.Fatal(err)
		}
		e.settle(first)
		stop()
		head, err := e.store.Head(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := models.WaitFor(t.Context(), "fulfilment", head); err != nil {
			t.Fatal(err)
		}
		stopModels()

		// The restarted saga resumes after every event: it knows no
		// deadline of its own. (It fires them by hand here, not from Run's
		// timer, for the counts: a second one runs to release the stock.)
		again := fulfilment.New(e.store, fulfilment.Options{Now: e.clock.Now, PaymentTimeout: timeout, Deadlines: models,
			CheckpointFile: filepath.Join(e.dir, "saga.checkpoint")})
		if _, known := again.Deadline("o-1"); known {
			t.Fatal("the restarted saga saw o-1's reservation again; the test needs it not to")
		}
		releaser := e.saga("saga", 0)
		e.run(releaser)
		e.clock.Advance(timeout - time.Nanosecond)
		if n, err := again.FireDeadlines(t.Context()); err != nil || n != 0 {
			t.Fatalf("FireDeadlines before the deadline = %d, %v", n, err)
		}
		e.clock.Advance(time.Nanosecond)
		if n, err := again.FireDeadlines(t.Context()); err != nil || n != 1 {
			t.Fatalf("FireDeadlines at the deadline = %d, %v; want 1", n, err)
		}
		if n, err := again.FireDeadlines(t.Context()); err != nil || n != 0 {
			t.Fatalf("FireDeadlines again = %d, %v; want 0", n, err)
		}
		e.settle(releaser)
		if o := e.order("o-1"); o.Status != domain.StatusCancelled || o.CancelReason != domain.CancelPaymentTimeout {
			t.Errorf("o-1 %s (%s)", o.Status, o.CancelReason)
		}
		if o := e.order("o-2"); o.Status != domain.StatusPaid {
			t.Errorf("paid o-2 %s", o.Status)
		}
		e.checkInvariants([]string{"o-1", "o-2"}, []string{"A"})
	})
}
