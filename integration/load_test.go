package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
)

// loadSKUs are the SKUs the load orders and receives.
var loadSKUs = [...]string{"sku-a", "sku-b", "sku-c", "sku-d", "sku-e"}

// order is the part of the order resource the tests read.
type order struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Currency string `json:"currency"`
	Total    int64  `json:"total"`
	Version  int64  `json:"version"`
	Lines    []line `json:"lines"`
}

type line struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// load runs order lifecycles (receive stock, place, add a line, pay, then
// ship or cancel) from several goroutines until the service stops
// answering, and records every write the service acknowledged with a 2xx.
type load struct {
	t       *testing.T
	s       *service
	prefix  string // of the order IDs, unique per test
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	target  int64
	reached chan struct{} // closed once target writes are acknowledged
	once    sync.Once

	stopping   atomic.Bool  // set just before the test stops the service
	acked      atomic.Int64 // writes acknowledged
	receipts   atomic.Int64 // of which stock receipts
	ackedLate  atomic.Int64 // of which answered after stopping was set
	unanswered atomic.Int64 // requests that got no answer after stopping

	mu       sync.Mutex
	versions map[string]int64 // order ID → highest acknowledged version
	failures []string         // unexpected answers, reported by halt
}

// startLoad starts workers goroutines against s; target is the number of
// acknowledged writes after which waitTarget returns.
func startLoad(t *testing.T, s *service, workers int, target int64) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	l := &load{
		t: t, s: s, prefix: uniqueName("o"), cancel: cancel,
		target: target, reached: make(chan struct{}), versions: map[string]int64{},
	}
	t.Cleanup(func() { // in case the test fails before halt
		cancel()
		l.wg.Wait()
	})
	for w := range workers {
		l.wg.Add(1)
		go l.worker(ctx, w)
	}
	return l
}

func (l *load) worker(ctx context.Context, w int) {
	defer l.wg.Done()
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-w%d-%d", l.prefix, w, i)
		sku := loadSKUs[(w+i)%len(loadSKUs)]
		other := loadSKUs[(w+i+1)%len(loadSKUs)]
		if i%4 == 0 {
			if _, ok := l.command(ctx, "/stock/"+sku+"/receipts", map[string]any{"quantity": 25}, http.StatusOK); !ok {
				return
			}
		}
		o, ok := l.command(ctx, "/orders", map[string]any{
			"id": id, "customer_id": fmt.Sprintf("c%d", w), "currency": "EUR",
			"lines": []line{{SKU: sku, Quantity: int64(1 + i%3), UnitPrice: 1000 + int64(w)*10}},
		}, http.StatusCreated)
		if !ok {
			return
		}
		if o, ok = l.command(ctx, "/orders/"+id+"/lines", line{SKU: other, Quantity: 1, UnitPrice: 250}, http.StatusOK); !ok {
			return
		}
		if i%5 == 4 { // cancelled before payment
			if _, ok = l.command(ctx, "/orders/"+id+"/cancellation", map[string]any{"reason": "changed mind"}, http.StatusOK); !ok {
				return
			}
			continue
		}
		if _, ok = l.command(ctx, "/orders/"+id+"/payment", map[string]any{"amount": o.Total, "payment_ref": "pay-" + id}, http.StatusOK); !ok {
			return
		}
		switch i % 5 {
		case 3: // refunded
			_, ok = l.command(ctx, "/orders/"+id+"/cancellation", map[string]any{"reason": "refund"}, http.StatusOK)
		case 0, 1:
			_, ok = l.command(ctx, "/orders/"+id+"/shipment", map[string]any{"carrier": "dhl", "tracking": "t-" + id}, http.StatusOK)
		} // case 2: left paid
		if !ok {
			return
		}
	}
}

// command POSTs body to path; ok reports whether the service acknowledged
// it with the status want.
func (l *load) command(ctx context.Context, path string, body any, want int) (o order, ok bool) {
	r, err := l.s.do(ctx, http.MethodPost, path, body)
	if err != nil {
		if l.stopping.Load() || ctx.Err() != nil {
			l.unanswered.Add(1)
		} else {
			l.fail("POST %s: %v", path, err)
		}
		return order{}, false
	}
	if r.status != want {
		l.fail("POST %s: status %d, want %d: %s", path, r.status, want, r.body)
		return order{}, false
	}
	if err := json.Unmarshal(r.body, &o); err != nil {
		l.fail("POST %s: decode %s: %v", path, r.body, err)
		return order{}, false
	}
	if o.ID == "" { // a stock receipt
		l.receipts.Add(1)
	} else {
		if etag := strconv.Quote(strconv.FormatInt(o.Version, 10)); r.header.Get("ETag") != etag {
			l.fail("POST %s: ETag %q, want %s (the version in the body)", path, r.header.Get("ETag"), etag)
		}
		l.mu.Lock()
		l.versions[o.ID] = max(l.versions[o.ID], o.Version)
		l.mu.Unlock()
	}
	if l.stopping.Load() {
		l.ackedLate.Add(1)
	}
	if l.acked.Add(1) == l.target {
		l.once.Do(func() { close(l.reached) })
	}
	return o, true
}

func (l *load) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
}

// waitTarget waits until the target number of writes is acknowledged.
func (l *load) waitTarget() {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.t.Context(), readyTimeout)
	defer cancel()
	select {
	case <-l.reached:
	case <-ctx.Done():
		l.t.Fatalf("only %d of %d writes acknowledged after %s; failures: %q\n%s",
			l.acked.Load(), l.target, readyTimeout, l.firstFailures(), l.s.logs())
	}
}

// halt runs stop (which stops the service) under load, then waits until
// every worker has given up on the stopped service, and requires that
// nothing unexpected was answered.
func (l *load) halt(stop func()) {
	l.t.Helper()
	l.stopping.Store(true)
	stop()
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * requestTimeout): // workers end on their own; this bounds a hung request
		l.cancel()
		<-done
	}
	l.cancel()
	if f := l.firstFailures(); len(f) > 0 {
		l.t.Fatalf("%d unexpected answers under load, first: %q", len(l.failures), f)
	}
	l.t.Logf("load: %d writes acknowledged (%d answered after the signal), %d requests unanswered, %d orders",
		l.acked.Load(), l.ackedLate.Load(), l.unanswered.Load(), len(l.versions))
}

func (l *load) firstFailures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures[:min(len(l.failures), 5)]
}

// feedEvent is an event of GET /events and GET /orders/{id}/events.
type feedEvent struct {
	ID       string          `json:"id"`
	Position uint64          `json:"position"`
	Stream   string          `json:"stream"`
	Version  int64           `json:"version"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata"`
}

// readLog pages through GET /events and requires positions 1..N without a
// gap and each stream's versions 0, 1, 2… in log order.
func readLog(t *testing.T, s *service) []feedEvent {
	t.Helper()
	var all []feedEvent
	next := map[string]int64{} // stream → expected version
	for {
		var page struct {
			Events []feedEvent `json:"events"`
			Next   *uint64     `json:"next"`
		}
		s.get(fmt.Sprintf("/events?after=%d&limit=1000", len(all)), &page)
		if page.Next == nil {
			t.Fatalf("GET /events: no next")
		}
		if len(page.Events) == 0 {
			if *page.Next != uint64(len(all)) {
				t.Fatalf("GET /events after %d: next %d on an empty page", len(all), *page.Next)
			}
			return all
		}
		for _, e := range page.Events {
			if want := uint64(len(all)) + 1; e.Position != want {
				t.Fatalf("GET /events: position %d where %d was due: the log has a gap or a duplicate", e.Position, want)
			}
			if e.Version != next[e.Stream] {
				t.Fatalf("GET /events position %d: %s version %d, want %d", e.Position, e.Stream, e.Version, next[e.Stream])
			}
			next[e.Stream]++
			all = append(all, e)
		}
		if *page.Next != uint64(len(all)) {
			t.Fatalf("GET /events: next %d, want %d (the last position of the page)", *page.Next, len(all))
		}
	}
}

// checkAcked requires every order the load saw acknowledged to be there at
// the acknowledged version or later, in GET /orders/{id} and in the log.
func checkAcked(t *testing.T, s *service, l *load, log []feedEvent) {
	t.Helper()
	inLog := map[string]int64{} // stream → last version
	for _, e := range log {
		inLog[e.Stream] = e.Version
	}
	if len(l.versions) == 0 {
		t.Fatal("the load acknowledged no order")
	}
	for id, acked := range l.versions {
		var o order
		s.get("/orders/"+id, &o)
		if o.Version < acked {
			t.Errorf("order %s: version %d after restart, but version %d was acknowledged", id, o.Version, acked)
		}
		if v, ok := inLog[domain.OrderStream(id)]; !ok || v < acked {
			t.Errorf("order %s: the log has it up to version %d (present: %t), but version %d was acknowledged", id, v, ok, acked)
		}
	}
}

// unanswered counts the writes in the log that the load made but never saw
// acknowledged: order events beyond an order's acknowledged version, and
// stock receipts beyond those acknowledged. Only a crash may leave any.
func unansweredWrites(l *load, log []feedEvent) (n int64) {
	receipts := int64(0)
	for _, e := range log {
		switch {
		case e.Type == domain.TypeStockReceived:
			receipts++
		case strings.HasPrefix(e.Stream, domain.OrderStream(l.prefix)):
			id := strings.TrimPrefix(e.Stream, domain.OrderStreamPrefix)
			if v, ok := l.versions[id]; !ok || e.Version > v {
				n++
			}
		}
	}
	return n + receipts - l.receipts.Load()
}
