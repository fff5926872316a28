package orderlist

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

// Name is the projection's name, as used in checkpoints, status and URLs.
const Name = "orders"

// Version is the version of the projection's tables and rules. Bumping it
// makes the runner rebuild the read model at startup.
const Version = 2

// Projection applies events to the order list. The zero value is ready to
// use and has no state of its own: it is safe for concurrent use.
type Projection struct{}

// Name returns Name.
func (Projection) Name() string { return Name }

// Version returns Version.
func (Projection) Version() int { return Version }

// Handles reports whether Apply needs events of type eventType: the order
// event types.
func (Projection) Handles(eventType string) bool {
	switch eventType {
	case domain.TypeOrderPlaced, domain.TypeOrderLineAdded, domain.TypeOrderLineRemoved, domain.TypeOrderPaid,
		domain.TypeOrderShipped, domain.TypeOrderCancelled, domain.TypeOrderStockReserved, domain.TypeOrderRejected:
		return true
	}
	return false
}

// Schema returns the DDL creating the projection's tables, named with
// prefix. placed, the position of the order's OrderPlaced event, is the
// rowid: the table is stored in listing order.
func (Projection) Schema(prefix string) string {
	return `CREATE TABLE ` + prefix + `list (
	placed        INTEGER PRIMARY KEY,
	id            TEXT    NOT NULL UNIQUE,
	customer_id   TEXT    NOT NULL,
	status        TEXT    NOT NULL,
	currency      TEXT    NOT NULL,
	total         INTEGER NOT NULL,
	line_count    INTEGER NOT NULL,
	version       INTEGER NOT NULL,
	position      INTEGER NOT NULL,
	placed_at     TEXT    NOT NULL,
	paid_at       TEXT,
	shipped_at    TEXT,
	cancelled_at  TEXT,
	cancel_reason TEXT    NOT NULL
) STRICT;
` + readmodel.OrdersSchema(prefix+"orders")
}

// Indexes returns the DDL of the indexes of the filters: a rebuild
// creates them after its replay, which makes it about a fifth faster
// than keeping them up to date order by order.
func (Projection) Indexes(prefix string) string {
	return `CREATE INDEX ` + prefix + `list_customer ON ` + prefix + `list (customer_id, placed);
CREATE INDEX ` + prefix + `list_status ON ` + prefix + `list (status, placed);`
}

// Apply applies events, in position order, to the tables t within tx. If an
// event cannot be applied (an order event outside an order stream, an order
// event for an order that is not open, an OrderPlaced for one that is),
// Apply returns its index n in events with the error: when n > 0 tx holds
// exactly the effects of events[:n]; when n == 0 the caller must roll tx
// back. Events it does not handle are passed over.
func (Projection) Apply(ctx context.Context, tx *sql.Tx, t *readmodel.Tables, events []readmodel.Event) (int, error) {
	d := rows{}
	return readmodel.ApplyEvents(ctx, tx, t, events, d.apply, d.flush)
}

// row is what one batch changes of an order's summary.
type row struct {
	// placed: the batch placed the order, so every column is written;
	// otherwise only the ones that change after placement.
	placed     bool
	placedPos  uint64
	customerID string
	currency   string
	placedAt   string

	status    domain.Status
	total     int64
	lineCount int
	version   int64
	position  uint64
	// Set by the batch if not nil; kept as stored otherwise.
	paidAt, shippedAt, cancelledAt, cancelReason *string
}

// rows are the summaries one batch changes, by order ID.
type rows map[string]*row

// timestamp is how times are stored: sortable, and read back to the same
// instant and JSON as the order resource's.
func timestamp(t time.Time) *string {
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// apply checks ev against the order's state and, only if it can be
// applied, records its effect.
func (d rows) apply(orders *readmodel.Orders, ev readmodel.Event) error {
	if !readmodel.IsOrderEvent(ev.Payload) {
		return nil
	}
	id, err := readmodel.OrderID(ev.Stream)
	if err != nil {
		return err
	}
	before := orders.Get(id)
	placing, isPlaced := ev.Payload.(domain.OrderPlaced)
	switch {
	case isPlaced && before.Exists():
		return fmt.Errorf("order %s is already placed", id)
	case !isPlaced && !before.Exists():
		return fmt.Errorf("order %s is not open (never placed, or already shipped or cancelled)", id)
	}
	after := domain.Evolve(before, ev.Payload)
	orders.Put(id, after)

	r := d[id]
	if isPlaced || r == nil {
		r = &row{}
		d[id] = r
	}
	if isPlaced {
		r.placed, r.placedPos = true, ev.Position
		r.customerID, r.currency, r.placedAt = placing.CustomerID, placing.Currency, *timestamp(placing.PlacedAt)
	}
	r.status, r.total, r.lineCount = after.Status, after.Total(), len(after.Lines)
	r.version, r.position = ev.Version, ev.Position
	switch e := ev.Payload.(type) {
	case domain.OrderPaid:
		r.paidAt = timestamp(e.PaidAt)
	case domain.OrderShipped:
		r.shippedAt = timestamp(e.ShippedAt)
	case domain.OrderCancelled:
		r.cancelledAt, r.cancelReason = timestamp(e.CancelledAt), &e.Reason
	}
	return nil
}

// orNil is the SQL value of an optional column.
func orNil(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// flush writes the batch's summaries: orders placed in the batch whole
// (an order placed again after it ended, which the domain never does,
// starts over, as in the other projections), the others by updating the
// columns that change after placement.
func (d rows) flush(ctx context.Context, tx *sql.Tx, prefix string) error {
	var placed, updated []any
	for id, r := range d {
		if r.placed {
			reason := ""
			if r.cancelReason != nil {
				reason = *r.cancelReason
			}
			placed = append(placed, int64(r.placedPos), id, r.customerID, string(r.status), r.currency, r.total,
				r.lineCount, r.version, int64(r.position), r.placedAt,
				orNil(r.paidAt), orNil(r.shippedAt), orNil(r.cancelledAt), reason)
			continue
		}
		updated = append(updated, id, string(r.status), r.total, r.lineCount, r.version, int64(r.position),
			orNil(r.paidAt), orNil(r.shippedAt), orNil(r.cancelledAt), orNil(r.cancelReason))
	}
	table := prefix + "list"
	err := readmodel.ExecValues(ctx, tx, `INSERT INTO `+table+` (placed, id, customer_id, status, currency, total,
		line_count, version, position, placed_at, paid_at, shipped_at, cancelled_at, cancel_reason)`,
		`ON CONFLICT (id) DO UPDATE SET placed = excluded.placed, customer_id = excluded.customer_id,
		status = excluded.status, currency = excluded.currency, total = excluded.total,
		line_count = excluded.line_count, version = excluded.version, position = excluded.position,
		placed_at = excluded.placed_at, paid_at = excluded.paid_at, shipped_at = excluded.shipped_at,
		cancelled_at = excluded.cancelled_at, cancel_reason = excluded.cancel_reason`, 14, placed)
	if err != nil {
		return fmt.Errorf("write placed orders: %w", err)
	}
	err = readmodel.ExecValues(ctx, tx, `WITH v (id, status, total, line_count, version, position,
		paid_at, shipped_at, cancelled_at, cancel_reason) AS (`,
		`) UPDATE `+table+` SET status = v.status, total = v.total, line_count = v.line_count,
		version = v.version, position = v.position, paid_at = coalesce(v.paid_at, `+table+`.paid_at),
		shipped_at = coalesce(v.shipped_at, `+table+`.shipped_at),
		cancelled_at = coalesce(v.cancelled_at, `+table+`.cancelled_at),
		cancel_reason = coalesce(v.cancel_reason, `+table+`.cancel_reason)
		FROM v WHERE `+table+`.id = v.id`, 10, updated)
	if err != nil {
		return fmt.Errorf("write orders: %w", err)
	}
	return nil
}
