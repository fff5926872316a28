package campaign

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
)

var (
	campaignRounds  = flag.Int("campaign.rounds", 3, "crash campaign: rounds of load, kill -9, restart and checks")
	campaignSeed    = flag.Uint64("campaign.seed", 0, "crash campaign: random seed; 0 takes one from the clock")
	campaignClients = flag.Int("campaign.clients", 8, "crash campaign: concurrent HTTP clients")
	campaignMaxAcks = flag.Int("campaign.max-acks", 400, "crash campaign: most acknowledgements before the kill of a round")
)

// TestCrashCampaign loads the real binary from several clients with a mix
// of commands, kills it with SIGKILL at a random moment (after a random
// number of acknowledgements), restarts it and checks, every round:
//
//   - every acknowledged command is in the log where its answer said
//     (stream, version, X-Position), with its Idempotency-Key, and the
//     order as of that version equals the order the answer showed;
//   - commands whose answer the kill swallowed, retried with the same
//     Idempotency-Key, succeed (replayed or applied), so that in the end
//     the log holds exactly the acknowledged commands;
//   - global positions and per-stream versions have no gaps;
//   - the read models served live equal those of an offline
//     "orderstore rebuild --projection all" of the same log.
func TestCrashCampaign(t *testing.T) {
	bin := binary(t)
	seed := *campaignSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -campaign.seed=%d), %d rounds, %d clients", seed, seed, *campaignRounds, *campaignClients)
	rng := rand.New(rand.NewPCG(seed, 0))
	c := &campaign{t: t, bin: bin, dir: t.TempDir(), seed: seed}
	c.srv = startServer(t, bin, c.dir)
	start := time.Now()
	for round := 1; round <= *campaignRounds; round++ {
		c.round(round, 1+rng.IntN(*campaignMaxAcks))
		if t.Failed() {
			break
		}
	}
	c.srv.stop()
	t.Logf("campaign: %d rounds in %s, %d commands acknowledged, %d answers lost to kill -9 and retried (%d of them had been recorded), faults found: %d",
		*campaignRounds, time.Since(start).Round(time.Millisecond), len(c.acks), c.retried, c.replayed, c.faults.Load())
}

// campaign is the state carried across rounds.
type campaign struct {
	t    *testing.T
	bin  string
	dir  string
	seed uint64
	srv  *server

	mu       sync.Mutex
	acks     []ack
	retried  int
	replayed int
	faults   atomic.Int64
}

// fault reports a broken guarantee.
func (c *campaign) fault(format string, args ...any) {
	if c.faults.Add(1) <= 30 {
		c.t.Errorf(format, args...)
	}
}

func (c *campaign) record(a ack) {
	c.mu.Lock()
	c.acks = append(c.acks, a)
	c.mu.Unlock()
}

// round runs one round: load until killAfter acknowledgements, kill -9,
// restart, retry the lost answers, verify, and compare the read models
// with an offline rebuild (which restarts the server once more).
func (c *campaign) round(round, killAfter int) {
	t := c.t
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var (
		acked  atomic.Int64
		killed = make(chan struct{})
		once   sync.Once
	)
	clients := make([]*client, *campaignClients)
	var wg sync.WaitGroup
	for i := range clients {
		cl := &client{
			id: i, round: round, c: c,
			rng: rand.New(rand.NewPCG(c.seed, uint64(round)<<16|uint64(i))),
			hc:  &http.Client{Timeout: 30 * time.Second},
		}
		clients[i] = cl
		wg.Go(func() {
			cl.run(ctx, c.srv.url, func() {
				if acked.Add(1) == int64(killAfter) {
					once.Do(func() { close(killed) })
				}
			})
		})
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-killed:
	case <-all: // every client stopped on a fault
	case <-ctx.Done():
	}
	c.srv.kill()
	<-all
	for _, cl := range clients {
		cl.hc.CloseIdleConnections()
	}

	c.srv = startServer(t, c.bin, c.dir)
	lost := 0
	for _, cl := range clients {
		if cl.pending != nil {
			lost++
			cl.retry(ctx, c.srv.url)
		}
	}
	head := c.verifyLog(ctx, round)
	live := c.readModels(head)
	c.srv.stop()
	if code, out, errOut := runBinary(t, c.bin, "rebuild", "--data", c.dir, "--projection", "all"); code != 0 {
		t.Fatalf("round %d: rebuild exited %d:\n%s%s", round, code, out, errOut)
	}
	c.srv = startServer(t, c.bin, c.dir)
	rebuilt := c.readModels(head)
	for name, got := range rebuilt {
		if !reflect.DeepEqual(live[name], got) {
			c.fault("round %d: %s served live differs from an offline rebuild:\nlive:    %s\nrebuilt: %s",
				round, name, mustJSON(live[name]), mustJSON(got))
		}
	}
	t.Logf("round %d: killed after %d acknowledgements (%d acknowledged in all), %d answers lost and retried, log head %d, faults so far %d",
		round, acked.Load(), len(c.acks), lost, head, c.faults.Load())
}

// logEvent is an event of GET /events, as far as the checks need it.
type logEvent struct {
	ID       string `json:"id"`
	Position uint64 `json:"position"`
	Stream   string `json:"stream"`
	Version  int64  `json:"version"`
	Type     string `json:"type"`
	Metadata struct {
		IdempotencyKey string `json:"idempotency_key"`
	} `json:"metadata"`
}

// verifyLog pages through the whole log, checks positions and versions
// for gaps and every acknowledgement against it, and returns the head.
func (c *campaign) verifyLog(ctx context.Context, round int) uint64 {
	t := c.t
	byPos := map[uint64]logEvent{}
	versions := map[string]int64{}
	var after uint64
	for {
		r := mustCall(t, "GET", fmt.Sprintf("%s/events?after=%d&limit=1000", c.srv.url, after), nil)
		if r.status != http.StatusOK {
			t.Fatalf("round %d: GET /events: %d %s", round, r.status, r.body)
		}
		var page struct {
			Events []logEvent `json:"events"`
			Next   uint64     `json:"next"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Events) == 0 {
			break
		}
		for _, ev := range page.Events {
			if ev.Position != after+1 {
				c.fault("round %d: position %d follows %d: a gap in the global log", round, ev.Position, after)
			}
			after = ev.Position
			want, seen := versions[ev.Stream]
			if !seen {
				want = 0
			}
			if ev.Version != want {
				c.fault("round %d: %s has version %d at position %d, want %d: a gap in the stream", round, ev.Stream, ev.Version, ev.Position, want)
			}
			versions[ev.Stream] = ev.Version + 1
			byPos[ev.Position] = ev
		}
		if page.Next != after {
			c.fault("round %d: page next=%d, but its last event has position %d", round, page.Next, after)
		}
	}

	c.mu.Lock()
	acks := append([]ack(nil), c.acks...)
	c.mu.Unlock()
	positions := map[uint64]bool{}
	for _, a := range acks {
		ev, ok := byPos[a.position]
		switch {
		case !ok:
			c.fault("round %d: acknowledged %s (round %d, key %s, %s v%d) at position %d is not in the log (head %d): lost",
				round, a.cmd.kind, a.round, a.cmd.key, a.cmd.stream, a.version, a.position, after)
			continue
		case ev.Stream != a.cmd.stream || ev.Version != a.version || ev.Metadata.IdempotencyKey != a.cmd.key:
			c.fault("round %d: acknowledged %s (key %s) as %s v%d at position %d, but the log has %s v%d (key %q) there",
				round, a.cmd.kind, a.cmd.key, a.cmd.stream, a.version, a.position, ev.Stream, ev.Version, ev.Metadata.IdempotencyKey)
		case positions[a.position]:
			c.fault("round %d: two acknowledged commands at position %d", round, a.position)
		}
		positions[a.position] = true
		if a.round == round && a.cmd.orderID != "" {
			c.checkOrderAt(ctx, round, a)
		}
	}
	if len(byPos) != len(acks) {
		c.fault("round %d: the log holds %d events but %d commands were acknowledged (each writes one event)", round, len(byPos), len(acks))
	}
	return after
}

// checkOrderAt checks that the order as of the acknowledged version is the
// order the acknowledgement showed.
func (c *campaign) checkOrderAt(ctx context.Context, round int, a ack) {
	r, err := call(ctx, http.DefaultClient, "GET", fmt.Sprintf("%s/orders/%s?version=%d", c.srv.url, a.cmd.orderID, a.version), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if r.status != http.StatusOK {
		c.fault("round %d: acknowledged order %s v%d: GET answers %d %s", round, a.cmd.orderID, a.version, r.status, r.body)
		return
	}
	var got, want any
	if err := json.Unmarshal(r.body, &got); err != nil {
		c.t.Fatal(err)
	}
	if err := json.Unmarshal(a.body, &want); err != nil {
		c.t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		c.fault("round %d: order %s as of v%d differs from its acknowledgement (%s):\nack: %s\nnow: %s",
			round, a.cmd.orderID, a.version, a.cmd.kind, a.body, r.body)
	}
}

// readModels reads /stock and /analytics once they have applied head.
func (c *campaign) readModels(head uint64) map[string]any {
	out := map[string]any{}
	for _, path := range []string{"/stock", "/analytics"} {
		r := mustCall(c.t, "GET", fmt.Sprintf("%s%s?min_position=%d", c.srv.url, path, head), nil)
		if r.status != http.StatusOK {
			c.t.Fatalf("GET %s?min_position=%d: %d %s", path, head, r.status, r.body)
		}
		if pos := r.header.Get("X-Position"); pos != strconv.FormatUint(head, 10) {
			c.fault("GET %s?min_position=%d reflects position %s", path, head, pos)
		}
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			c.t.Fatal(err)
		}
		out[path] = v
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// command is one request of the load, kept to retry it.
type command struct {
	kind         string // place, add_line, remove_line, pay, ship, cancel, receive
	method, path string
	body         []byte // nil for a body-less DELETE
	key          string // Idempotency-Key
	ifMatch      string // If-Match, or ""
	stream       string
	orderID      string // "" for a stock receipt
}

// ack is an acknowledged command.
type ack struct {
	cmd      *command
	round    int
	version  int64
	position uint64
	body     []byte // the answer: the order, or the stock receipt
}

// orderState is what a client knows of one of its orders.
type orderState struct {
	ID      string      `json:"id"`
	Status  string      `json:"status"`
	Lines   []orderLine `json:"lines"`
	Total   int64       `json:"total"`
	Version int64       `json:"version"`
}

type orderLine struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// client is one load client: it owns the orders it places, so that its
// commands never conflict with another client's and it can predict each
// one's outcome.
type client struct {
	id, round int
	c         *campaign
	rng       *rand.Rand
	hc        *http.Client
	orders    []*orderState // placed or paid
	placed    int
	seq       int
	pending   *command // sent when the server died; its outcome is unknown
}

const skus = 16

func skuName(i int) string { return fmt.Sprintf("SKU-%02d", i) }

// price is fixed per SKU so that adding to an existing line never clashes.
func price(sku string) int64 {
	n, _ := strconv.Atoi(sku[len("SKU-"):]) //nolint:errcheck // our own names
	return 100 + int64(n)*37
}

var currencies = []string{"EUR", "USD", "JPY"}

// run sends commands until one fails to get an answer (the server was
// killed) or one gets an unexpected answer (a fault).
func (cl *client) run(ctx context.Context, base string, acked func()) {
	for ctx.Err() == nil {
		cmd := cl.next()
		r, err := cl.send(ctx, base, cmd)
		if err != nil {
			cl.pending = cmd
			return
		}
		if !cl.accept(cmd, r, false) {
			return
		}
		acked()
	}
}

func (cl *client) send(ctx context.Context, base string, cmd *command) (reply, error) {
	headers := []string{"Idempotency-Key", cmd.key, "X-Correlation-ID", cmd.key}
	if cmd.ifMatch != "" {
		headers = append(headers, "If-Match", cmd.ifMatch)
	}
	return call(ctx, cl.hc, cmd.method, base+cmd.path, cmd.body, headers...)
}

// retry resends the command whose answer was lost, after the restart. It
// must succeed: replayed if the first attempt was recorded, applied now if
// not.
func (cl *client) retry(ctx context.Context, base string) {
	cmd := cl.pending
	cl.pending = nil
	r, err := cl.send(ctx, base, cmd)
	if err != nil {
		cl.c.t.Fatalf("retry of %s %s after restart: %v", cmd.method, cmd.path, err)
	}
	cl.c.mu.Lock()
	cl.c.retried++
	if r.header.Get("Idempotent-Replayed") == "true" {
		cl.c.replayed++
	}
	cl.c.mu.Unlock()
	cl.accept(cmd, r, true)
}

// accept checks an answer, records it and updates the client's model.
func (cl *client) accept(cmd *command, r reply, retry bool) bool {
	what := "answer"
	if retry {
		what = "retry after restart"
	}
	if r.status != http.StatusOK && r.status != http.StatusCreated {
		cl.c.fault("round %d client %d: %s %s (key %s, If-Match %q): %s %d %s",
			cl.round, cl.id, cmd.method, cmd.path, cmd.key, cmd.ifMatch, what, r.status, r.body)
		return false
	}
	pos, err := strconv.ParseUint(r.header.Get("X-Position"), 10, 64)
	if err != nil {
		cl.c.fault("round %d: %s %s answered without X-Position: %v", cl.round, cmd.method, cmd.path, r.header)
		return false
	}
	a := ack{cmd: cmd, round: cl.round, position: pos, body: r.body}
	if cmd.orderID == "" {
		var rec struct {
			Version int64 `json:"version"`
		}
		if err := json.Unmarshal(r.body, &rec); err != nil {
			cl.c.fault("round %d: receipt answer %s: %v", cl.round, r.body, err)
			return false
		}
		a.version = rec.Version
		cl.c.record(a)
		return true
	}
	var o orderState
	if err := json.Unmarshal(r.body, &o); err != nil {
		cl.c.fault("round %d: order answer %s: %v", cl.round, r.body, err)
		return false
	}
	if etag := r.header.Get("ETag"); etag != strconv.Quote(strconv.FormatInt(o.Version, 10)) {
		cl.c.fault("round %d: order %s answered version %d with ETag %s", cl.round, o.ID, o.Version, etag)
	}
	a.version = o.Version
	cl.c.record(a)
	cl.update(&o)
	return true
}

// update replaces the client's view of an order; finished orders leave.
func (cl *client) update(o *orderState) {
	for i, known := range cl.orders {
		if known.ID == o.ID {
			cl.orders = append(cl.orders[:i], cl.orders[i+1:]...)
			break
		}
	}
	if o.Status == "placed" || o.Status == "paid" {
		cl.orders = append(cl.orders, o)
	}
}

// next picks the next command: place 15 %, stock receipt 10 %, else a
// command that the state of one of its orders allows.
func (cl *client) next() *command {
	cl.seq++
	key := fmt.Sprintf("r%d-c%d-k%d", cl.round, cl.id, cl.seq)
	cmd := &command{key: key, method: "POST"}
	n := cl.rng.IntN(100)
	switch {
	case n < 15 || len(cl.orders) == 0:
		cl.placed++
		id := fmt.Sprintf("r%d-c%d-o%d", cl.round, cl.id, cl.placed)
		var lines []orderLine
		for _, i := range cl.rng.Perm(skus)[:1+cl.rng.IntN(3)] {
			lines = append(lines, orderLine{SKU: skuName(i), Quantity: 1 + cl.rng.Int64N(3), UnitPrice: price(skuName(i))})
		}
		cmd.kind, cmd.path, cmd.orderID = "place", "/orders", id
		cmd.body = mustMarshal(map[string]any{"id": id, "customer_id": fmt.Sprintf("cust-%d", cl.rng.IntN(20)),
			"currency": currencies[cl.rng.IntN(len(currencies))], "lines": lines})
	case n < 25:
		sku := skuName(cl.rng.IntN(skus))
		cmd.kind, cmd.path, cmd.stream = "receive", "/stock/"+sku+"/receipts", domain.StockStream(sku)
		cmd.body = mustMarshal(map[string]any{"quantity": 1 + cl.rng.IntN(50)})
		return cmd
	default:
		o := cl.orders[cl.rng.IntN(len(cl.orders))]
		cmd.orderID = o.ID
		if cl.rng.IntN(2) == 0 {
			cmd.ifMatch = strconv.Quote(strconv.FormatInt(o.Version, 10))
		}
		base := "/orders/" + o.ID
		m := cl.rng.IntN(100)
		switch {
		case o.Status == "paid" && m < 75:
			cmd.kind, cmd.path = "ship", base+"/shipment"
			cmd.body = mustMarshal(map[string]any{"carrier": "DHL", "tracking": "T-" + key})
		case o.Status == "paid":
			cmd.kind, cmd.path = "cancel", base+"/cancellation"
			cmd.body = mustMarshal(map[string]any{"reason": "campaign: changed mind after paying"})
		case m < 30:
			sku := skuName(cl.rng.IntN(skus))
			cmd.kind, cmd.path = "add_line", base+"/lines"
			cmd.body = mustMarshal(map[string]any{"sku": sku, "quantity": 1 + cl.rng.IntN(3), "unit_price": price(sku)})
		case m < 40 && len(o.Lines) > 1:
			cmd.kind, cmd.method, cmd.path = "remove_line", "DELETE", base+"/lines/"+o.Lines[cl.rng.IntN(len(o.Lines))].SKU
		case m < 85:
			cmd.kind, cmd.path = "pay", base+"/payment"
			cmd.body = mustMarshal(map[string]any{"amount": o.Total, "payment_ref": "pay-" + key})
		default:
			cmd.kind, cmd.path = "cancel", base+"/cancellation"
			cmd.body = mustMarshal(map[string]any{"reason": "campaign"})
		}
	}
	cmd.stream = domain.OrderStream(cmd.orderID)
	return cmd
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own values always marshal
	}
	return b
}
