package fulfilment_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/fulfilment"
	"github.com/orderstore/orderstore/orders"
)

// campaignChildEnv makes the test binary run campaignChild on the
// directory it names instead of the tests.
const campaignChildEnv = "ORDERSTORE_FULFILMENT_CAMPAIGN_DIR"

// campaignSKUs are the SKUs of the campaign, short of stock on purpose.
var campaignSKUs = []string{"K-1", "K-2", "K-3", "K-4"}

// campaignTimeout is the payment timeout of the campaign's saga: short, so
// that deadlines fire (and race payments) between the kills.
const campaignTimeout = 150 * time.Millisecond

func TestMain(m *testing.M) {
	if dir := os.Getenv(campaignChildEnv); dir != "" {
		if err := campaignChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// campaignChild runs the saga over the store in dir while placing, paying,
// shipping, cancelling and adding to orders at random, from several
// goroutines, until it is killed. It prints a line after every 10
// commands.
func campaignChild(dir string) error {
	ctx := context.Background()
	store, err := embedded.Open(filepath.Join(dir, "store"), embedded.Options{})
	if err != nil {
		return err
	}
	saga := fulfilment.New(store, fulfilment.Options{PaymentTimeout: campaignTimeout,
		CheckpointFile: filepath.Join(dir, fulfilment.CheckpointFileName)})
	sagaErr := make(chan error, 1)
	go func() { sagaErr <- saga.Run(ctx) }()
	svc := orders.New(store, orders.Options{ReserveStock: true})
	out := make(chan struct{}, 64)
	for w := range 4 {
		go campaignWorker(ctx, svc, uint64(w), out)
	}
	stdout := bufio.NewWriter(os.Stdout)
	for n := 0; ; n++ {
		select {
		case <-out:
		case err := <-sagaErr:
			return fmt.Errorf("saga stopped: %w", err)
		}
		if n%10 == 9 {
			fmt.Fprintln(stdout, "commands", n+1)
			if err := stdout.Flush(); err != nil {
				return err
			}
		}
	}
}

// campaignWorker issues random commands on orders of its own; commands
// the orders' state refuses (a payment after a rejection or a deadline)
// are part of the game.
func campaignWorker(ctx context.Context, svc *orders.Service, seed uint64, done chan<- struct{}) {
	r := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	var mine []string
	req := orders.Request{CorrelationID: "campaign"}
	for {
		var err error
		switch n := r.IntN(10); {
		case n <= 1:
			_, err = svc.ReceiveStock(ctx, domain.ReceiveStock{SKU: campaignSKUs[r.IntN(len(campaignSKUs))], Quantity: 1 + r.Int64N(8)}, req)
		case n <= 3 || len(mine) == 0:
			id := uuid.NewString()
			lines := []domain.Line{}
			for _, i := range r.Perm(len(campaignSKUs))[:1+r.IntN(2)] {
				lines = append(lines, domain.Line{SKU: campaignSKUs[i], Quantity: 1 + r.Int64N(3), UnitPrice: 100})
			}
			_, err = svc.Place(ctx, domain.PlaceOrder{ID: id, CustomerID: "c", Currency: "EUR", Lines: lines}, req)
			mine = append(mine, id)
		default:
			id := mine[r.IntN(len(mine))]
			var o domain.Order
			if o, _, err = svc.Load(ctx, id, -1); err != nil {
				break
			}
			var cmd domain.Command
			switch m := r.IntN(10); {
			case m < 5:
				cmd = domain.Pay{Amount: o.Total(), PaymentRef: "p"}
			case m < 8:
				cmd = domain.Ship{Carrier: "c", Tracking: "t"}
			case m < 9:
				cmd = domain.Cancel{Reason: "campaign"}
			default:
				// A line for a SKU the order never had: one reservation
				// per (order, SKU), which the final check counts.
				for _, sku := range r.Perm(len(campaignSKUs)) {
					if !hadSKU(o, campaignSKUs[sku]) {
						cmd = domain.AddLine{SKU: campaignSKUs[sku], Quantity: 1, UnitPrice: 100}
						break
					}
				}
			}
			if cmd != nil {
				_, err = svc.Execute(ctx, id, cmd, req)
			}
		}
		if err != nil && !errors.Is(err, domain.ErrNotAllowed) && !errors.Is(err, domain.ErrInvalid) && !errors.Is(err, orders.ErrConflict) {
			fmt.Fprintln(os.Stderr, "campaign command:", err)
			os.Exit(1)
		}
		done <- struct{}{}
	}
}

func hadSKU(o domain.Order, sku string) bool {
	for _, l := range o.Lines {
		if l.SKU == sku {
			return true
		}
	}
	return false
}

// TestCampaign_KillNine kills (SIGKILL) a process running the saga under a
// random workload at random points, several times, restarts a saga, and
// checks the invariants: every order settled, every SKU's reserved equal
// to the open reserved orders' quantities and available ≥ 0, no
// reservation, release, compensation or refund recorded twice.
func TestCampaign_KillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the child-process kill -9 campaign")
	}
	t.Parallel()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(11, 12))
	for round := range 8 {
		lines := 1 + r.IntN(30)
		killCampaignChild(t, dir, lines)
		t.Logf("round %d: killed after %d lines", round, lines)
	}
	// Restart from the checkpoint, as after a crash, and settle.
	e := &env{t: t, dir: dir, clock: newClock()}
	e.store = openStore(t, filepath.Join(dir, "store"))
	e.svc = orders.New(e.store, orders.Options{ReserveStock: true})
	// The runner that finishes the campaign's reactions fires no deadlines:
	// one firing after settle saw the head stable would append a
	// cancellation that stop() then leaves without its release, and the
	// invariants would see a test's race, not the saga's. Deadlines fire
	// below, from a runner whose clock is an hour on.
	saga := fulfilment.New(e.store, fulfilment.Options{
		CheckpointFile: filepath.Join(dir, fulfilment.CheckpointFileName)})
	stop := e.run(saga)
	e.settle(saga)
	stop()
	var ids []string
	for _, ev := range e.all() {
		if ev.Type == domain.TypeOrderPlaced {
			ids = append(ids, strings.TrimPrefix(ev.Stream, domain.OrderStreamPrefix))
		}
	}
	if len(ids) < 20 {
		t.Fatalf("only %d orders placed over the campaign", len(ids))
	}
	e.checkInvariants(ids, campaignSKUs)

	// A runner without checkpoint (nor deadlines) replays the whole
	// campaign and writes nothing.
	before := len(e.all())
	replay := fulfilment.New(e.store, fulfilment.Options{})
	stop = e.run(replay)
	e.settle(replay)
	stop()
	if after := len(e.all()); after != before {
		t.Errorf("replaying the campaign wrote %d events", after-before)
	}
	// Another, whose clock is an hour on, finds every deadline due.
	late := fulfilment.New(e.store, fulfilment.Options{PaymentTimeout: campaignTimeout,
		Now: func() time.Time { return time.Now().Add(time.Hour) }})
	e.run(late)
	e.settle(late)
	if _, err := late.FireDeadlines(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.settle(late)
	counts := map[domain.Status]int{}
	for _, id := range ids {
		o := e.order(id)
		counts[o.Status]++
		if !o.PaymentDeadline(campaignTimeout).IsZero() {
			t.Errorf("order %s still waits for its payment", id)
		}
	}
	t.Logf("%d orders: %v", len(ids), counts)
	e.checkInvariants(ids, campaignSKUs)
	for _, id := range ids {
		var rejected, cancelled int
		for _, ev := range e.events(domain.OrderStream(id)) {
			switch ev.event.(type) {
			case domain.OrderRejected:
				rejected++
			case domain.OrderCancelled:
				cancelled++
			}
		}
		if rejected+cancelled > 1 {
			t.Errorf("order %s ended %d times", id, rejected+cancelled)
		}
	}
}

// killCampaignChild starts campaignChild on dir, kills it after it printed
// lines lines, and waits for it to die.
func killCampaignChild(t *testing.T, dir string, lines int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), campaignChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	n := 0
	for n < lines && sc.Scan() {
		n++
	}
	if n < lines {
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d lines: %s", n, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the error is the signal
}
