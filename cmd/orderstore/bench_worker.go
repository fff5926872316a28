package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orderstore/orderstore/domain"
)

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
