package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	"time"
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
	// minConnFailures is the least run of consecutive transport failures
	// (no answer at all: refused, reset, timed out) that ends the load:
	// the service is gone, and hammering it only adds noise. The run is
	// at least twice the clients, so that every client has failed at
	// least once or twice in a row (see benchRun.transportFailed).
	minConnFailures = 100
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

func parseBenchFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (benchConfig, bool, error) {
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
	if help, err := parse(fs, args, stdout); help || err != nil {
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
	cfg, help, err := parseBenchFlags(args, getenv, stdout, stderr)
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
	if !rep.Interrupted && rep.Aborted == "" {
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
	case rep.Aborted != "":
		return fmt.Errorf("bench: %s", rep.Aborted)
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

	// connFails counts the transport failures since the last answer;
	// stop ends the load when they reach failLimit, with aborted saying
	// why (under mu).
	connFails atomic.Int64
	failLimit int64
	stop      context.CancelFunc
	aborted   string

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
		runID:     strings.ToLower(rand.Text()[:8]),
		errs:      map[errKey]*errAgg{},
		failLimit: max(minConnFailures, 2*int64(cfg.clients)),
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
	if f := out.fail; f != nil && f.status == 0 && f.code == "transport" {
		b.transportFailed(f)
	} else if out.fail == nil || out.fail.status != 0 {
		b.connFails.Store(0) // the service answered
	}
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

// transportFailed counts a request that got no answer, and ends the load
// once failLimit of them came in a row: the service is down or unreachable.
func (b *benchRun) transportFailed(f *failure) {
	if b.connFails.Add(1) != b.failLimit {
		return
	}
	b.mu.Lock()
	b.aborted = fmt.Sprintf("stopped after %d requests in a row got no answer from %s: "+
		"the service is down or unreachable (last error: %s)", b.failLimit, b.cfg.base, f.detail)
	b.mu.Unlock()
	b.stop()
}

// load runs the clients to the end of the run and summarises them.
func (b *benchRun) load(ctx context.Context, stderr io.Writer) benchReport {
	parent := ctx
	ctx, b.stop = context.WithCancel(ctx)
	defer b.stop()
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
	return b.report(parent.Err() != nil)
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
