package analytics

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

// Name is the projection's name, as used in checkpoints, status and URLs.
const Name = "analytics"

// Version is the version of the projection's tables and rules. Bumping it
// makes the runner rebuild the read model at startup.
const Version = 2

// Projection applies events to the analytics read model. The zero value is
// ready to use and has no state of its own: it is safe for concurrent use.
type Projection struct{}

// Name returns Name.
func (Projection) Name() string { return Name }

// Version returns Version.
func (Projection) Version() int { return Version }

// Handles reports whether Apply needs events of type eventType: the order
// event types. Stock receipts do not concern analytics, so a malformed one
// cannot stop it.
func (Projection) Handles(eventType string) bool {
	switch eventType {
	case domain.TypeOrderPlaced, domain.TypeOrderLineAdded, domain.TypeOrderLineRemoved, domain.TypeOrderPaid,
		domain.TypeOrderShipped, domain.TypeOrderCancelled, domain.TypeOrderStockReserved, domain.TypeOrderRejected:
		return true
	}
	return false
}

// Indexes returns "": the analytics tables need no secondary index.
func (Projection) Indexes(string) string { return "" }

// Schema returns the DDL creating the projection's tables, named with
// prefix.
func (Projection) Schema(prefix string) string {
	return `CREATE TABLE ` + prefix + `status (
	status TEXT PRIMARY KEY,
	orders INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE ` + prefix + `revenue (
	currency    TEXT PRIMARY KEY,
	gross       INTEGER NOT NULL,
	refunds     INTEGER NOT NULL,
	paid_orders INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE ` + prefix + `sku_sales (
	sku      TEXT NOT NULL,
	currency TEXT NOT NULL,
	quantity INTEGER NOT NULL,
	revenue  INTEGER NOT NULL,
	PRIMARY KEY (sku, currency)
) STRICT, WITHOUT ROWID;
CREATE TABLE ` + prefix + `daily (
	date     TEXT NOT NULL,
	currency TEXT NOT NULL,
	placed   INTEGER NOT NULL,
	paid     INTEGER NOT NULL,
	revenue  INTEGER NOT NULL,
	PRIMARY KEY (date, currency)
) STRICT, WITHOUT ROWID;
` + readmodel.OrdersSchema(prefix+"orders")
}

// Apply applies events, in position order, to the tables t within tx. If an
// event cannot be applied (an order event outside an order stream, an order
// event for an order that is not open, an OrderPlaced for one that is),
// Apply returns its index n in events with the error: when n > 0 tx holds
// exactly the effects of events[:n]; when n == 0 the caller must roll tx
// back. Events it does not handle are passed over.
func (Projection) Apply(ctx context.Context, tx *sql.Tx, t *readmodel.Tables, events []readmodel.Event) (int, error) {
	d := newDeltas()
	return readmodel.ApplyEvents(ctx, tx, t, events, d.apply, d.flush)
}

// deltas are the changes of one batch to the counters.
type deltas struct {
	status  map[domain.Status]int64
	revenue map[string]*[3]int64    // currency → gross, refunds, paid orders
	skus    map[[2]string]*[2]int64 // sku, currency → quantity, revenue
	daily   map[[2]string]*[3]int64 // date, currency → placed, paid, revenue
}

func newDeltas() *deltas {
	return &deltas{
		status:  map[domain.Status]int64{},
		revenue: map[string]*[3]int64{},
		skus:    map[[2]string]*[2]int64{},
		daily:   map[[2]string]*[3]int64{},
	}
}

// entry returns m[k], created zero: a zero delta still creates the row.
func entry[K comparable, V any](m map[K]*V, k K) *V {
	v := m[k]
	if v == nil {
		v = new(V)
		m[k] = v
	}
	return v
}

// day is the UTC date bucket of t.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// apply checks ev against the order's state and, only if it can be applied,
// records its effect.
func (d *deltas) apply(orders *readmodel.Orders, ev readmodel.Event) error {
	if !readmodel.IsOrderEvent(ev.Payload) {
		return nil
	}
	id, err := readmodel.OrderID(ev.Stream)
	if err != nil {
		return err
	}
	before := orders.Get(id)
	_, placing := ev.Payload.(domain.OrderPlaced)
	switch {
	case placing && before.Exists():
		return fmt.Errorf("order %s is already placed", id)
	case !placing && !before.Exists():
		return fmt.Errorf("order %s is not open (never placed, or already shipped or cancelled)", id)
	}
	after := domain.Evolve(before, ev.Payload)
	cur := after.Currency
	if before.Status != after.Status {
		if before.Exists() {
			d.status[before.Status]--
		}
		d.status[after.Status]++
	}
	switch e := ev.Payload.(type) {
	case domain.OrderPlaced:
		entry(d.daily, [2]string{day(e.PlacedAt), cur})[0]++
		entry(d.revenue, cur)
	case domain.OrderPaid:
		r := entry(d.revenue, cur)
		r[0] += e.Amount
		r[2]++
		dd := entry(d.daily, [2]string{day(e.PaidAt), cur})
		dd[1]++
		dd[2] += e.Amount
		for _, l := range before.Lines {
			s := entry(d.skus, [2]string{l.SKU, cur})
			s[0] += l.Quantity
			s[1] += l.Quantity * l.UnitPrice
		}
	case domain.OrderCancelled:
		entry(d.revenue, cur)[1] += e.RefundedAmount
	case domain.OrderRejected:
		entry(d.revenue, cur)[1] += e.RefundedAmount
	}
	orders.Put(id, after)
	return nil
}

func (d *deltas) flush(ctx context.Context, tx *sql.Tx, prefix string) error {
	var args []any
	for s, n := range d.status {
		if n != 0 {
			args = append(args, string(s), n)
		}
	}
	if err := readmodel.ExecValues(ctx, tx, `INSERT INTO `+prefix+`status (status, orders)`,
		`ON CONFLICT (status) DO UPDATE SET orders = orders + excluded.orders`, 2, args); err != nil {
		return fmt.Errorf("write status counts: %w", err)
	}
	args = args[:0]
	for cur, v := range d.revenue {
		args = append(args, cur, v[0], v[1], v[2])
	}
	if err := readmodel.ExecValues(ctx, tx, `INSERT INTO `+prefix+`revenue (currency, gross, refunds, paid_orders)`,
		`ON CONFLICT (currency) DO UPDATE SET gross = gross + excluded.gross,
		refunds = refunds + excluded.refunds, paid_orders = paid_orders + excluded.paid_orders`, 4, args); err != nil {
		return fmt.Errorf("write revenue: %w", err)
	}
	args = args[:0]
	for k, v := range d.skus {
		args = append(args, k[0], k[1], v[0], v[1])
	}
	if err := readmodel.ExecValues(ctx, tx, `INSERT INTO `+prefix+`sku_sales (sku, currency, quantity, revenue)`,
		`ON CONFLICT (sku, currency) DO UPDATE SET quantity = quantity + excluded.quantity,
		revenue = revenue + excluded.revenue`, 4, args); err != nil {
		return fmt.Errorf("write sku sales: %w", err)
	}
	args = args[:0]
	for k, v := range d.daily {
		args = append(args, k[0], k[1], v[0], v[1], v[2])
	}
	if err := readmodel.ExecValues(ctx, tx, `INSERT INTO `+prefix+`daily (date, currency, placed, paid, revenue)`,
		`ON CONFLICT (date, currency) DO UPDATE SET placed = placed + excluded.placed,
		paid = paid + excluded.paid, revenue = revenue + excluded.revenue`, 5, args); err != nil {
		return fmt.Errorf("write daily figures: %w", err)
	}
	return nil
}
