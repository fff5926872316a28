package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/orderstore/orderstore/domain"
)

// Bench parameters that are not flags.
const (
	defaultMix = "place=30,add=10,remove=5,pay=20,ship=10,cancel=5,receipt=5,read=15"
	// benchSKUs is the size of the SKU pool, shared by every client and run
	// so that stock rows accumulate instead of multiplying.
	benchSKUs = 64
	// maxTrackedOrders bounds the orders a client remembers; older ones
	// stay in the store but leave the working set.
	maxTrackedOrders = 64
	// maxBenchLines keeps orders small: add skips orders that have as many.
	maxBenchLines = 10
	// benchRequestTimeout bounds one request; min_position waits take ≤ 5 s.
	benchRequestTimeout = 30 * time.Second
	// catchUpPoll is the interval of GET /projections after the load.
	catchUpPoll = 20 * time.Millisecond
	// maxResponseBytes bounds the part of a response body read.
	maxResponseBytes = 1 << 20
)

// op is one kind of request the bench sends.
type op int

const (
	opPlace op = iota
	opAdd
	opRemove
	opPay
	opShip
	opCancel
	opReceipt
	opReadStock
	opReadAnalytics
	opReadOrder
	numOps
)

func (o op) String() string {
	switch o {
	case opPlace:
		return "place"
	case opAdd:
		return "add"
	case opRemove:
		return "remove"
	case opPay:
		return "pay"
	case opShip:
		return "ship"
	case opCancel:
		return "cancel"
	case opReceipt:
		return "receipt"
	case opReadStock:
		return "read_stock"
	case opReadAnalytics:
		return "read_analytics"
	case opReadOrder:
		return "read_order"
	}
	return "op" + strconv.Itoa(int(o))
}

// isWrite reports whether o appends an event.
func (o op) isWrite() bool { return o <= opReceipt }

// benchConfig is the validated command line of bench.
type benchConfig struct {
	base      string
	clients   int
	duration  time.Duration
	requests  int64 // > 0: count mode, else duration mode
	mix       [numOps]float64
	mixText   string
	keepalive bool
	seed      uint64
	json      bool
	catchUp   time.Duration
}

func parseBenchFlags(args []string, getenv func(string) string, stderr io.Writer) (benchConfig, bool, error) {
	fs := flag.NewFlagSet("orderstore bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c benchConfig
	fs.StringVar(&c.base, "url", envOr(getenv, "ORDERSTORE_URL", "http://127.0.0.1:8080"), "base URL of the running service (env ORDERSTORE_URL)")
	fs.IntVar(&c.clients, "clients", 64, "concurrent clients, each with its own orders and one request in flight")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to send load (exclusive with --requests)")
	fs.Int64Var(&c.requests, "requests", 0, "send exactly this many requests instead of running for --duration")
	fs.StringVar(&c.mixText, "mix", defaultMix, "relative weights of the operations: place, add, remove, pay, ship, cancel,\n"+
		"receipt, read (split evenly over read_stock, read_analytics, read_order) or\n"+
		"those three separately; operations not named get 0. An operation with no\n"+
		"suitable order (pay with no unpaid order…) places an order instead")
	fs.BoolVar(&c.keepalive, "keepalive", true, "reuse connections (--keepalive=false opens one per request)")
	fs.Uint64Var(&c.seed, "seed", 0, "seed of the clients' random choices; 0 picks one (the report shows it)")
	fs.BoolVar(&c.json, "json", false, "print the final report as JSON on stdout")
	fs.DurationVar(&c.catchUp, "catchup-timeout", time.Minute, "how long to wait after the load for the projections to reach the head")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: orderstore bench [flags]\n\n"+
			"Drives a running orderstore over HTTP with a mix of commands and reads,\n"+
			"then reports throughput, latency per operation, errors and projection lag.\n"+
			"Exits 1 if any request got an unexpected answer or the projections did\n"+
			"not catch up.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if help, err := parse(fs, args); help || err != nil {
		return c, help, err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	bad := func(format string, a ...any) (benchConfig, bool, error) {
		return c, false, &usageError{msg: fmt.Sprintf(format, a...)}
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return bad("--url %q: want http://host:port", c.base)
	}
	c.base = strings.TrimRight(c.base, "/")
	switch {
	case c.clients < 1 || c.clients > 10000:
		return bad("--clients %d: want 1 to 10000", c.clients)
	case explicit["duration"] && explicit["requests"]:
		return bad("--duration and --requests exclude each other")
	case c.duration <= 0:
		return bad("--duration %s: want a positive duration", c.duration)
	case c.requests < 0 || explicit["requests"] && c.requests == 0:
		return bad("--requests %d: want a positive count", c.requests)
	case c.catchUp <= 0:
		return bad("--catchup-timeout %s: want a positive duration", c.catchUp)
	}
	if c.mix, err = parseMix(c.mixText); err != nil {
		return bad("--mix %q: %v", c.mixText, err)
	}
	if c.seed == 0 {
		c.seed = mrand.Uint64() | 1
	}
	return c, false, nil
}

// parseMix reads "place=30,add=10,…" into weights.
func parseMix(s string) ([numOps]float64, error) {
	var w [numOps]float64
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if !ok || err != nil || n < 0 {
			return w, fmt.Errorf("%q: want name=weight, a non-negative integer", part)
		}
		if seen[name] {
			return w, fmt.Errorf("%s given twice", name)
		}
		seen[name] = true
		if name == "read" {
			for _, r := range []op{opReadStock, opReadAnalytics, opReadOrder} {
				w[r] += float64(n) / 3
			}
			continue
		}
		o := slices.IndexFunc(allOps(), func(o op) bool { return o.String() == name })
		if o < 0 {
			return w, fmt.Errorf("unknown operation %q", name)
		}
		w[o] += float64(n)
	}
	var sum float64
	for _, x := range w {
		sum += x
	}
	if sum == 0 {
		return w, errors.New("no operation has a weight")
	}
	return w, nil
}

func allOps() []op {
	ops := make([]op, numOps)
	for i := range ops {
		ops[i] = op(i)
	}
	return ops
}

// bench drives a running service with load and reports on it.
func bench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, help, err := parseBenchFlags(args, getenv, stderr)
	if help || err != nil {
		return err
	}
	b := newBenchRun(cfg)
	defer b.transport.CloseIdleConnections()

	startHead, err := b.head(ctx)
	if err != nil {
		return fmt.Errorf("bench %s: %w", cfg.base, err)
	}
	rep := b.load(ctx, stderr)
	var waitErr error
	if !rep.Interrupted {
		rep.Projections, waitErr = b.waitCatchUp(ctx, b.loadEnd)
	}
	rep.Projections.StartHead = startHead
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else {
		rep.writeText(stdout)
	}
	switch {
	case rep.UnexpectedErrors > 0:
		return fmt.Errorf("bench: %d requests got an unexpected answer", rep.UnexpectedErrors)
	case rep.Interrupted:
		return nil
	case waitErr != nil:
		return fmt.Errorf("bench: projections: %w", waitErr)
	case !rep.Projections.CaughtUp:
		return fmt.Errorf("bench: the projections did not reach position %d within %s", rep.Projections.Target, cfg.catchUp)
	}
	return nil
}

// benchRun is the shared state of one bench run. Workers touch it only
// through atomics and mu.
type benchRun struct {
	cfg       benchConfig
	transport *http.Transport
	client    *http.Client
	runID     string
	cum       [numOps]float64 // cumulative weights

	start, deadline, loadEnd time.Time

	issued, done, unexpected, fallbacks atomic.Int64
	ops                                 [numOps]opStats

	mu   sync.Mutex
	errs map[errKey]*errAgg
}

type opStats struct {
	count, errors atomic.Int64
	latency       histogram
}

type errKey struct {
	op     op
	status int
	code   string
}

type errAgg struct {
	count         int64
	detail        string
	correlationID string
}

func newBenchRun(cfg benchConfig) *benchRun {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.clients,
		MaxIdleConnsPerHost: cfg.clients,
		MaxConnsPerHost:     cfg.clients,
		IdleConnTimeout:     90 * time.Second,
		DisableKeepAlives:   !cfg.keepalive,
		DisableCompression:  true,
	}
	b := &benchRun{
		cfg:       cfg,
		transport: tr,
		client:    &http.Client{Transport: tr, Timeout: benchRequestTimeout},
		// Order IDs must be new on every run against the same service,
		// whatever the seed.
		runID: strings.ToLower(rand.Text()[:8]),
		errs:  map[errKey]*errAgg{},
	}
	var sum float64
	for i, w := range cfg.mix {
		sum += w
		b.cum[i] = sum
	}
	return b
}

// next takes the right to send one more request.
func (b *benchRun) next(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if b.cfg.requests > 0 {
		return b.issued.Add(1) <= b.cfg.requests
	}
	return time.Now().Before(b.deadline)
}

func (b *benchRun) pickOp(rng *mrand.Rand) op {
	x := rng.Float64() * b.cum[numOps-1]
	for i, c := range b.cum {
		if x < c {
			return op(i)
		}
	}
	return opPlace
}

// record accounts one answered request.
func (b *benchRun) record(o op, out outcome) {
	s := &b.ops[o]
	s.count.Add(1)
	s.latency.record(out.latency)
	b.done.Add(1)
	if f := out.fail; f != nil {
		s.errors.Add(1)
		b.unexpected.Add(1)
		b.mu.Lock()
		k := errKey{op: o, status: f.status, code: f.code}
		a := b.errs[k]
		if a == nil {
			a = &errAgg{detail: f.detail, correlationID: f.correlationID}
			b.errs[k] = a
		}
		a.count++
		b.mu.Unlock()
	}
}

// load runs the clients to the end of the run and summarises them.
func (b *benchRun) load(ctx context.Context, stderr io.Writer) benchReport {
	b.start = time.Now()
	b.deadline = b.start.Add(b.cfg.duration)
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		b.progress(stderr, stopProgress)
	}()
	var wg sync.WaitGroup
	for i := range b.cfg.clients {
		w := &worker{b: b, id: i, rng: mrand.New(mrand.NewPCG(b.cfg.seed, uint64(i)))}
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	b.loadEnd = time.Now()
	close(stopProgress)
	<-progressDone
	return b.report(ctx.Err() != nil)
}

// progress prints a status line every second until stop closes: one
// rewritten line on a terminal, plain lines otherwise.
func (b *benchRun) progress(w io.Writer, stop <-chan struct{}) {
	tty := isTerminal(w)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var prev int64
	prevAt := b.start
	printed := false
	for {
		select {
		case <-stop:
			if tty && printed {
				fmt.Fprintln(w)
			}
			return
		case now := <-t.C:
			d := b.done.Load()
			rate := float64(d-prev) / now.Sub(prevAt).Seconds()
			prev, prevAt = d, now
			line := fmt.Sprintf("bench %4.0fs  %9d requests  %7.0f req/s  %d errors",
				now.Sub(b.start).Seconds(), d, rate, b.unexpected.Load())
			if tty {
				fmt.Fprintf(w, "\r%s   ", line)
			} else {
				fmt.Fprintln(w, line)
			}
			printed = true
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// projectionStatus is the part of GET /projections the bench reports.
type projectionStatus struct {
	Name      string `json:"name"`
	Position  uint64 `json:"position"`
	Head      uint64 `json:"head"`
	Lag       uint64 `json:"lag"`
	State     string `json:"state"`
	LastError string `json:"last_error,omitempty"`
}

func (b *benchRun) projections(ctx context.Context) ([]projectionStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, benchRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.cfg.base+"/projections", nil)
	if err != nil {
		return nil, err
	}
	res, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close() //nolint:errcheck // read-only
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /projections answered %s", res.Status)
	}
	var body struct {
		Projections []projectionStatus `json:"projections"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxResponseBytes)).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET /projections: %w", err)
	}
	if len(body.Projections) == 0 {
		return nil, errors.New("GET /projections lists no projection")
	}
	return body.Projections, nil
}

func (b *benchRun) head(ctx context.Context) (uint64, error) {
	st, err := b.projections(ctx)
	if err != nil {
		return 0, err
	}
	var h uint64
	for _, s := range st {
		h = max(h, s.Head)
	}
	return h, nil
}

// waitCatchUp polls GET /projections until every projection has reached
// the head as it was when the load stopped, or catchUp has passed.
func (b *benchRun) waitCatchUp(ctx context.Context, loadEnd time.Time) (projectionsReport, error) {
	var rep projectionsReport
	st, err := b.projections(ctx)
	if err != nil {
		return rep, err
	}
	rep.AtEnd = st
	for _, s := range st {
		rep.Target = max(rep.Target, s.Head)
	}
	deadline := time.Now().Add(b.cfg.catchUp)
	t := time.NewTicker(catchUpPoll)
	defer t.Stop()
	for {
		rep.Final = st
		reached, failed := true, false
		for _, s := range st {
			reached = reached && s.Position >= rep.Target
			failed = failed || s.State == "failed"
		}
		if reached {
			rep.CaughtUp = true
			rep.CatchUpSeconds = time.Since(loadEnd).Seconds()
			return rep, nil
		}
		if failed || time.Now().After(deadline) {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-t.C:
		}
		if st, err = b.projections(ctx); err != nil {
			return rep, err
		}
	}
}

// worker is one client: it keeps its own orders' state from the answers
// it gets, so that its commands are legal and carry the current ETag.
type worker struct {
	b       *benchRun
	id      int
	rng     *mrand.Rand
	orders  []*benchOrder
	placed  int
	reqs    int
	lastPos uint64          // position of this client's last write
	skus    []int           // SKUs its writes named, for stock reads
	touched [benchSKUs]bool // membership of skus

	// Lower bounds of what a read must show: the highest value this
	// client has read plus its own writes since. Read models only grow.
	minReceived [benchSKUs]int64
	minOrders   int64
}

// benchOrder is what a client knows of one of its orders.
type benchOrder struct {
	id      string
	status  domain.Status
	lines   []domain.Line
	version int64
	paid    int64
}

func (o *benchOrder) total() int64 { return domain.Order{Lines: o.lines}.Total() }

func (o *benchOrder) finished() bool {
	return o.status == domain.StatusShipped || o.status == domain.StatusCancelled
}

func skuName(i int) string { return fmt.Sprintf("BENCH-%02d", i) }

// skuPrice is fixed per SKU, so that adding a SKU an order has is legal.
func skuPrice(i int) int64 { return 100 + int64(i*7919%9900) }

func (w *worker) run(ctx context.Context) {
	for w.b.next(ctx) {
		o, target := w.choose()
		var out outcome
		switch o {
		case opPlace:
			out = w.place(ctx)
		case opAdd:
			out = w.add(ctx, target)
		case opRemove:
			out = w.remove(ctx, target)
		case opPay:
			out = w.command(ctx, opPay, target, "/payment",
				domain.Pay{Amount: target.total(), PaymentRef: "psp-" + target.id}, domain.StatusPaid)
		case opShip:
			out = w.command(ctx, opShip, target, "/shipment",
				domain.Ship{Carrier: "BENCH", Tracking: fmt.Sprintf("T%d-%d", w.id, w.rng.Uint32())}, domain.StatusShipped)
		case opCancel:
			out = w.command(ctx, opCancel, target, "/cancellation", domain.Cancel{Reason: "bench"}, domain.StatusCancelled)
		case opReceipt:
			out = w.receipt(ctx)
		case opReadStock:
			i := w.skus[w.rng.IntN(len(w.skus))]
			out = w.readModel(ctx, "/stock/"+skuName(i), "received", &w.minReceived[i])
		case opReadAnalytics:
			out = w.readModel(ctx, "/analytics", "orders_total", &w.minOrders)
		case opReadOrder:
			out = w.readOrder(ctx, target)
		}
		if out.interrupted {
			return
		}
		w.b.record(o, out)
	}
}

// choose picks the next operation and the order it applies to; without a
// suitable order it places one.
func (w *worker) choose() (op, *benchOrder) {
	o := w.b.pickOp(w.rng)
	var pred func(*benchOrder) bool
	switch o {
	case opPlace, opReceipt:
		return o, nil
	case opReadStock, opReadAnalytics:
		if w.lastPos > 0 && len(w.skus) > 0 {
			return o, nil
		}
	case opAdd:
		pred = func(x *benchOrder) bool { return x.status == domain.StatusPlaced && len(x.lines) < maxBenchLines }
	case opRemove:
		pred = func(x *benchOrder) bool { return x.status == domain.StatusPlaced && len(x.lines) >= 2 }
	case opPay:
		pred = func(x *benchOrder) bool { return x.status == domain.StatusPlaced }
	case opShip:
		pred = func(x *benchOrder) bool { return x.status == domain.StatusPaid }
	case opCancel:
		pred = func(x *benchOrder) bool { return x.status == domain.StatusPlaced || x.status == domain.StatusPaid }
	case opReadOrder:
		pred = func(*benchOrder) bool { return true }
	}
	if pred != nil {
		if t := w.pickOrder(pred); t != nil {
			return o, t
		}
	}
	w.b.fallbacks.Add(1)
	return opPlace, nil
}

// pickOrder returns a random order satisfying pred, or nil.
func (w *worker) pickOrder(pred func(*benchOrder) bool) *benchOrder {
	var pick *benchOrder
	n := 0
	for _, o := range w.orders {
		if pred(o) {
			n++
			if w.rng.IntN(n) == 0 {
				pick = o
			}
		}
	}
	return pick
}

func (w *worker) track(o *benchOrder) {
	if len(w.orders) >= maxTrackedOrders {
		i := slices.IndexFunc(w.orders, (*benchOrder).finished)
		w.forgetAt(max(i, 0))
	}
	w.orders = append(w.orders, o)
}

// forget drops an order whose state is no longer known, after a failure.
func (w *worker) forget(o *benchOrder) {
	if i := slices.Index(w.orders, o); i >= 0 {
		w.forgetAt(i)
	}
}

func (w *worker) forgetAt(i int) { w.orders = slices.Delete(w.orders, i, i+1) }

func (w *worker) touch(sku int) {
	if !w.touched[sku] {
		w.touched[sku] = true
		w.skus = append(w.skus, sku)
	}
}

func (w *worker) place(ctx context.Context) outcome {
	w.placed++
	o := &benchOrder{id: fmt.Sprintf("bench-%s-%d-%d", w.b.runID, w.id, w.placed), status: domain.StatusPlaced, version: -1}
	var skus []int
	for _, i := range w.rng.Perm(benchSKUs)[:1+w.rng.IntN(3)] {
		o.lines = append(o.lines, domain.Line{SKU: skuName(i), Quantity: 1 + w.rng.Int64N(5), UnitPrice: skuPrice(i)})
		skus = append(skus, i)
	}
	cmd := domain.PlaceOrder{ID: o.id, CustomerID: fmt.Sprintf("bench-%s-c%d", w.b.runID, w.id),
		Currency: [...]string{"EUR", "USD", "GBP"}[w.rng.IntN(3)], Lines: o.lines}
	res, out := w.call(ctx, http.MethodPost, "/orders", cmd, -1, http.StatusCreated)
	if out.fail != nil || out.interrupted {
		return out
	}
	if v, ok := w.checkOrder(res, &out, o); ok && w.checkWrite(res, &out) {
		o.version = v
		w.minOrders++
		w.track(o)
		for _, i := range skus {
			w.touch(i)
		}
	}
	return out
}

func (w *worker) add(ctx context.Context, o *benchOrder) outcome {
	i := w.rng.IntN(benchSKUs)
	l := domain.Line{SKU: skuName(i), Quantity: 1 + w.rng.Int64N(3), UnitPrice: skuPrice(i)}
	want := *o
	want.lines = slices.Clone(o.lines)
	if j := slices.IndexFunc(want.lines, func(x domain.Line) bool { return x.SKU == l.SKU }); j >= 0 {
		want.lines[j].Quantity += l.Quantity
	} else {
		want.lines = append(want.lines, l)
	}
	out := w.apply(ctx, o, http.MethodPost, "/lines", domain.AddLine(l), want)
	if out.fail == nil && !out.interrupted {
		w.touch(i)
	}
	return out
}

func (w *worker) remove(ctx context.Context, o *benchOrder) outcome {
	l := o.lines[w.rng.IntN(len(o.lines))]
	want := *o
	want.lines = slices.DeleteFunc(slices.Clone(o.lines), func(x domain.Line) bool { return x.SKU == l.SKU })
	return w.apply(ctx, o, http.MethodDelete, "/lines/"+l.SKU, nil, want)
}

// command sends a state transition: pay, ship or cancel.
func (w *worker) command(ctx context.Context, kind op, o *benchOrder, path string, body any, to domain.Status) outcome {
	want := *o
	want.status = to
	if kind == opPay {
		want.paid = o.total()
	}
	return w.apply(ctx, o, http.MethodPost, path, body, want)
}

// apply sends a command on o with If-Match and, if the answer is the
// expected state, takes it as o's new state.
func (w *worker) apply(ctx context.Context, o *benchOrder, method, path string, body any, want benchOrder) outcome {
	want.version = o.version + 1
	res, out := w.call(ctx, method, "/orders/"+o.id+path, body, o.version, http.StatusOK)
	if out.interrupted {
		return out
	}
	if out.fail == nil {
		if _, ok := w.checkOrder(res, &out, &want); ok && w.checkWrite(res, &out) {
			*o = want
			return out
		}
	}
	w.forget(o)
	return out
}

func (w *worker) receipt(ctx context.Context) outcome {
	i := w.rng.IntN(benchSKUs)
	q := 1 + w.rng.Int64N(100)
	res, out := w.call(ctx, http.MethodPost, "/stock/"+skuName(i)+"/receipts", map[string]int64{"quantity": q}, -1, http.StatusOK)
	if out.fail == nil && !out.interrupted && w.checkWrite(res, &out) {
		w.touch(i)
		w.minReceived[i] += q
	}
	return out
}

// readModel reads a read model at the position of the client's last
// write: the answer must show that write, and the counter field of the
// answer must be at least *floor, which it then raises.
func (w *worker) readModel(ctx context.Context, path, field string, floor *int64) outcome {
	res, out := w.call(ctx, http.MethodGet, path+"?min_position="+strconv.FormatUint(w.lastPos, 10), nil, -1, http.StatusOK)
	if out.fail != nil || out.interrupted {
		return out
	}
	pos, err := strconv.ParseUint(res.header.Get("X-Position"), 10, 64)
	var body map[string]json.RawMessage
	var n int64
	switch {
	case err != nil:
		out.failf(res, "bad_position", "X-Position %q", res.header.Get("X-Position"))
	case pos < w.lastPos:
		out.failf(res, "stale_read", "asked min_position=%d, answered X-Position %d", w.lastPos, pos)
	case json.Unmarshal(res.body, &body) != nil || json.Unmarshal(body[field], &n) != nil:
		out.failf(res, "bad_body", "%s: no integer %s", path, field)
	case n < *floor:
		out.failf(res, "read_went_back", "%s at min_position=%d (X-Position %d): %s %d, but this client saw or wrote %d",
			path, w.lastPos, pos, field, n, *floor)
	default:
		*floor = n
	}
	return out
}

func (w *worker) readOrder(ctx context.Context, o *benchOrder) outcome {
	res, out := w.call(ctx, http.MethodGet, "/orders/"+o.id, nil, -1, http.StatusOK)
	if out.fail == nil && !out.interrupted {
		if _, ok := w.checkOrder(res, &out, o); !ok {
			w.forget(o)
		}
	}
	return out
}

// orderAnswer is the part of the order resource the bench checks.
type orderAnswer struct {
	ID             string        `json:"id"`
	Status         domain.Status `json:"status"`
	Lines          []domain.Line `json:"lines"`
	Total          int64         `json:"total"`
	Version        int64         `json:"version"`
	PaidAmount     int64         `json:"paid_amount"`
	RefundedAmount int64         `json:"refunded_amount"`
}

// checkOrder compares an order answer with the state the client expects
// (want.version < 0: any version) and returns the answer's version.
func (w *worker) checkOrder(res *benchResponse, out *outcome, want *benchOrder) (int64, bool) {
	tag := res.header.Get("ETag")
	v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64)
	if err != nil {
		return 0, out.failf(res, "bad_etag", "ETag %q", tag)
	}
	var got orderAnswer
	if err := json.Unmarshal(res.body, &got); err != nil {
		return 0, out.failf(res, "bad_body", "order: %v", err)
	}
	var refund int64
	if want.status == domain.StatusCancelled {
		refund = want.paid
	}
	switch {
	case got.ID != want.id || got.Version != v:
		return 0, out.failf(res, "unexpected_order", "answer for %s version %d with ETag %s, want %s", got.ID, got.Version, tag, want.id)
	case want.version >= 0 && v != want.version:
		return 0, out.failf(res, "unexpected_version", "%s: version %d, want %d", want.id, v, want.version)
	case got.Status != want.status:
		return 0, out.failf(res, "unexpected_state", "%s: status %s, want %s", want.id, got.Status, want.status)
	case got.Total != want.total() || !slices.Equal(got.Lines, want.lines):
		return 0, out.failf(res, "unexpected_lines", "%s: lines %v total %d, want %v total %d", want.id, got.Lines, got.Total, want.lines, want.total())
	case got.PaidAmount != want.paid || got.RefundedAmount != refund:
		return 0, out.failf(res, "unexpected_amounts", "%s: paid %d refunded %d, want %d and %d", want.id, got.PaidAmount, got.RefundedAmount, want.paid, refund)
	}
	return v, true
}

// checkWrite checks a write's X-Position and makes it the client's last.
// One client's writes are sequential, so their positions must increase.
func (w *worker) checkWrite(res *benchResponse, out *outcome) bool {
	pos, err := strconv.ParseUint(res.header.Get("X-Position"), 10, 64)
	switch {
	case err != nil || pos == 0:
		return out.failf(res, "bad_position", "X-Position %q", res.header.Get("X-Position"))
	case pos <= w.lastPos:
		return out.failf(res, "position_not_increasing", "X-Position %d after this client's write at %d", pos, w.lastPos)
	}
	w.lastPos = pos
	return true
}

// benchResponse is a response read in full.
type benchResponse struct {
	status        int
	header        http.Header
	body          []byte
	correlationID string
}

// outcome is the result of one request for the report.
type outcome struct {
	latency     time.Duration
	fail        *failure
	interrupted bool // ctx ended: not counted
}

// failure is an unexpected answer: a transport error (status 0), an
// unexpected status with its problem code, or an answer that contradicts
// what the client knows (a code of the bench's own).
type failure struct {
	status        int
	code          string
	detail        string
	correlationID string
}

// failf records a failed check and returns false.
func (o *outcome) failf(res *benchResponse, code, format string, a ...any) bool {
	if o.fail == nil {
		o.fail = &failure{status: res.status, code: code, detail: fmt.Sprintf(format, a...), correlationID: res.correlationID}
	}
	return false
}

// call sends one request (with If-Match if ifMatch ≥ 0) and reads the
// answer; any status but want is a failure.
func (w *worker) call(ctx context.Context, method, path string, body any, ifMatch int64, want int) (*benchResponse, outcome) {
	w.reqs++
	corr := fmt.Sprintf("bench-%s-%d-%d", w.b.runID, w.id, w.reqs)
	var out outcome
	var rd io.Reader = http.NoBody
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			out.fail = &failure{code: "encode", detail: err.Error(), correlationID: corr}
			return nil, out
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.b.cfg.base+path, rd)
	if err != nil {
		out.fail = &failure{code: "request", detail: err.Error(), correlationID: corr}
		return nil, out
	}
	req.Header.Set("X-Correlation-ID", corr)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch >= 0 {
		req.Header.Set("If-Match", `"`+strconv.FormatInt(ifMatch, 10)+`"`)
	}
	start := time.Now()
	res, err := w.b.client.Do(req)
	var raw []byte
	if err == nil {
		var rerr error
		raw, rerr = io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
		err = errors.Join(rerr, res.Body.Close())
	}
	out.latency = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			out.interrupted = true
			return nil, out
		}
		out.fail = &failure{code: "transport", detail: err.Error(), correlationID: corr}
		return nil, out
	}
	r := &benchResponse{status: res.StatusCode, header: res.Header, body: raw, correlationID: corr}
	if res.StatusCode != want {
		f := &failure{status: res.StatusCode, code: "unexpected_status", correlationID: corr,
			detail: fmt.Sprintf("%s %s answered %d, want %d", method, path, res.StatusCode, want)}
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(raw, &p) == nil && p.Code != "" {
			f.code, f.detail = p.Code, p.Detail
		}
		out.fail = f
	}
	return r, out
}

// benchReport is the final report; --json prints it as is.
type benchReport struct {
	URL       string `json:"url"`
	Clients   int    `json:"clients"`
	Mix       string `json:"mix"`
	KeepAlive bool   `json:"keepalive"`
	Seed      uint64 `json:"seed"`
	// Interrupted is true when SIGINT/SIGTERM ended the load early.
	Interrupted    bool    `json:"interrupted"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Requests       int64   `json:"requests"`
	// Throughput is Requests per second of load.
	Throughput       float64 `json:"throughput"`
	UnexpectedErrors int64   `json:"unexpected_errors"`
	// FallbackPlaces counts operations that found no suitable order and
	// placed one instead; they are counted as place.
	FallbackPlaces int64             `json:"fallback_places"`
	Operations     []opReport        `json:"operations"`
	Errors         []errorReport     `json:"errors"`
	Projections    projectionsReport `json:"projections"`
}

type opReport struct {
	Op        string        `json:"op"`
	Count     int64         `json:"count"`
	Rate      float64       `json:"rate"`
	Errors    int64         `json:"errors"`
	LatencyMS latencyReport `json:"latency_ms"`
}

type latencyReport struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

type errorReport struct {
	Op string `json:"op"`
	// Status is the HTTP status; 0 for a transport error.
	Status int    `json:"status"`
	Code   string `json:"code"`
	Count  int64  `json:"count"`
	// Detail and CorrelationID are those of the first occurrence.
	Detail        string `json:"detail"`
	CorrelationID string `json:"correlation_id"`
}

type projectionsReport struct {
	// StartHead is the head of the global log before the load.
	StartHead uint64 `json:"start_head"`
	// AtEnd is GET /projections right after the load stopped.
	AtEnd []projectionStatus `json:"at_end"`
	// Target is the head when the load stopped.
	Target   uint64 `json:"target_position"`
	CaughtUp bool   `json:"caught_up"`
	// CatchUpSeconds is the time from the end of the load until every
	// projection had reached Target.
	CatchUpSeconds float64            `json:"catch_up_seconds"`
	Final          []projectionStatus `json:"final"`
}

func (b *benchRun) report(interrupted bool) benchReport {
	elapsed := b.loadEnd.Sub(b.start).Seconds()
	rep := benchReport{
		URL: b.cfg.base, Clients: b.cfg.clients, Mix: b.cfg.mixText, KeepAlive: b.cfg.keepalive, Seed: b.cfg.seed,
		Interrupted: interrupted, ElapsedSeconds: elapsed, Requests: b.done.Load(),
		UnexpectedErrors: b.unexpected.Load(), FallbackPlaces: b.fallbacks.Load(),
		Operations: []opReport{}, Errors: []errorReport{},
	}
	rate := func(n int64) float64 {
		if elapsed <= 0 {
			return 0
		}
		return float64(n) / elapsed
	}
	rep.Throughput = rate(rep.Requests)
	for _, o := range allOps() {
		s := &b.ops[o]
		n := s.count.Load()
		if n == 0 && b.cfg.mix[o] == 0 {
			continue
		}
		h := s.latency.snapshot()
		ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
		rep.Operations = append(rep.Operations, opReport{Op: o.String(), Count: n, Rate: rate(n), Errors: s.errors.Load(),
			LatencyMS: latencyReport{P50: ms(h.quantile(0.50)), P95: ms(h.quantile(0.95)), P99: ms(h.quantile(0.99)),
				P999: ms(h.quantile(0.999)), Max: ms(h.max)}})
	}
	b.mu.Lock()
	for k, a := range b.errs {
		rep.Errors = append(rep.Errors, errorReport{Op: k.op.String(), Status: k.status, Code: k.code, Count: a.count,
			Detail: a.detail, CorrelationID: a.correlationID})
	}
	b.mu.Unlock()
	slices.SortFunc(rep.Errors, func(x, y errorReport) int {
		if x.Count != y.Count {
			return int(y.Count - x.Count)
		}
		return strings.Compare(x.Op+x.Code, y.Op+y.Code)
	})
	return rep
}

func (r *benchReport) writeText(w io.Writer) {
	mode := "keep-alive"
	if !r.KeepAlive {
		mode = "no keep-alive"
	}
	fmt.Fprintf(w, "orderstore bench %s: %d clients, %s, seed %d, mix %s\n", r.URL, r.Clients, mode, r.Seed, r.Mix)
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted: the figures cover the load until the signal")
	}
	fmt.Fprintf(w, "%d requests in %.2f s: %.1f req/s, %d unexpected errors, %d fallbacks to place\n\n",
		r.Requests, r.ElapsedSeconds, r.Throughput, r.UnexpectedErrors, r.FallbackPlaces)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation     \tcount\treq/s\tp50 ms\tp95 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\t")
	for _, o := range r.Operations {
		l := o.LatencyMS
		fmt.Fprintf(tw, "%-14s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n", o.Op, o.Count, o.Rate, l.P50, l.P95, l.P99, l.P999, l.Max, o.Errors)
	}
	_ = tw.Flush() //nolint:errcheck // a report on stdout

	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "\nerrors (first detail and correlation ID of each):")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  %-14s %3d %-24s %6d  %s [%s]\n", e.Op, e.Status, e.Code, e.Count, e.Detail, e.CorrelationID)
		}
	}
	p := r.Projections
	if len(p.AtEnd) == 0 {
		return
	}
	fmt.Fprintln(w, "\nprojections when the load stopped:")
	for _, s := range p.AtEnd {
		fmt.Fprintf(w, "  %-10s position %d  head %d  lag %d  %s\n", s.Name, s.Position, s.Head, s.Lag, s.State)
	}
	if p.CaughtUp {
		fmt.Fprintf(w, "all caught up with position %d %s after the load stopped (%d events since the start)\n",
			p.Target, time.Duration(p.CatchUpSeconds*float64(time.Second)).Round(time.Microsecond), p.Target-min(p.Target, p.StartHead))
		return
	}
	fmt.Fprintf(w, "NOT caught up with position %d:\n", p.Target)
	for _, s := range p.Final {
		fmt.Fprintf(w, "  %-10s position %d  lag %d  %s %s\n", s.Name, s.Position, s.Lag, s.State, s.LastError)
	}
}

// histogram is a log-linear latency histogram in nanoseconds, in the
// manner of HDR histograms: values below 256 ns are exact; above, each
// power-of-two range has 128 buckets, so a quantile is within 1/128
// (0.8 %) of the true value in constant memory however long the run.
// Exact sorted samples would cost 8 bytes a request; this costs 35 KB an
// operation. Recording is lock-free, so clients never contend on a mutex.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits  = 7
	histSub      = 1 << histSubBits
	histMaxShift = 32
	histBuckets  = (histMaxShift + 2) * histSub
	// histMaxValue (about 18 minutes) is where values are clamped.
	histMaxValue = 1<<(histMaxShift+histSubBits+1) - 1
)

// histIndex is the bucket of v: with s the shift that brings v into
// [128, 256), bucket s·128 + v>>s.
func histIndex(v int64) int {
	v = min(max(v, 0), histMaxValue)
	s := max(0, bits.Len64(uint64(v))-(histSubBits+1))
	return s*histSub + int(v>>s)
}

// histBounds returns the lowest value and the width of bucket i.
func histBounds(i int) (lo, width int64) {
	if i < 2*histSub {
		return int64(i), 1
	}
	s := i/histSub - 1
	return int64(i-s*histSub) << s, 1 << s
}

func (h *histogram) record(d time.Duration) {
	h.counts[histIndex(int64(d))].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

type histSnapshot struct {
	counts []uint64
	total  uint64
	max    time.Duration
}

func (h *histogram) snapshot() histSnapshot {
	s := histSnapshot{counts: make([]uint64, histBuckets), max: time.Duration(h.max.Load())}
	for i := range h.counts {
		s.counts[i] = h.counts[i].Load()
		s.total += s.counts[i]
	}
	return s
}

// quantile returns the highest value of the bucket holding the q-th
// quantile, capped at the maximum: never below the true value.
func (s histSnapshot) quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.total)))
	rank = min(max(rank, 1), s.total)
	var cum uint64
	for i, c := range s.counts {
		cum += c
		if cum >= rank {
			lo, width := histBounds(i)
			return min(time.Duration(lo+width-1), s.max)
		}
	}
	return s.max
}
