package stock

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

// Name is the projection's name, as used in checkpoints, status and URLs.
const Name = "stock"

// Version is the version of the projection's tables and rules. Bumping it
// makes the runner rebuild the read model at startup.
const Version = 2

// Projection applies events to the stock read model. The zero value is
// ready to use and has no state of its own: it is safe for concurrent use.
type Projection struct{}

// Name returns Name.
func (Projection) Name() string { return Name }

// Version returns Version.
func (Projection) Version() int { return Version }

// Handles reports whether Apply needs events of type eventType: every order
// and stock event type.
func (Projection) Handles(eventType string) bool {
	switch eventType {
	case domain.TypeOrderPlaced, domain.TypeOrderLineAdded, domain.TypeOrderLineRemoved, domain.TypeOrderPaid,
		domain.TypeOrderShipped, domain.TypeOrderCancelled, domain.TypeOrderStockReserved, domain.TypeOrderRejected,
		domain.TypeStockReceived, domain.TypeStockReserved, domain.TypeStockReservationRefused,
		domain.TypeStockReleased, domain.TypeStockShipped:
		return true
	}
	return false
}

// Indexes returns "": the stock tables need no secondary index.
func (Projection) Indexes(string) string { return "" }

// Schema returns the DDL creating the projection's tables, named with
// prefix.
func (Projection) Schema(prefix string) string {
	return `CREATE TABLE ` + prefix + `items (
	sku      TEXT PRIMARY KEY,
	received INTEGER NOT NULL,
	reserved INTEGER NOT NULL,
	shipped  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
` + readmodel.OrdersSchema(prefix+"orders")
}

// Apply applies events, in position order, to the tables t within tx. If an
// event cannot be applied (an order event outside an order stream, an order
// event for an order that is not open, an OrderPlaced for one that is, a
// receipt without SKU), Apply returns its index n in events with the error:
// when n > 0 tx holds exactly the effects of events[:n]; when n == 0 the
// caller must roll tx back.
func (Projection) Apply(ctx context.Context, tx *sql.Tx, t *readmodel.Tables, events []readmodel.Event) (int, error) {
	d := deltas{}
	return readmodel.ApplyEvents(ctx, tx, t, events, d.apply, d.flush)
}

// deltas are the changes of one batch to each SKU's figures.
type deltas map[string]*[3]int64 // received, reserved, shipped

const (
	received = iota
	reserved
	shipped
)

func (d deltas) add(sku string, figure int, q int64) {
	v := d[sku]
	if v == nil {
		v = new([3]int64)
		d[sku] = v
	}
	v[figure] += q
}

// apply checks ev against the orders' state and, only if it can be applied,
// records its effect.
//
// The figures of an order placed under the track policy follow its order
// events; those of one placed under the reserve policy follow the stock
// events the fulfilment saga records (StockReserved, StockReleased,
// StockShipped), which are what the reservation decisions were made on.
func (d deltas) apply(orders *readmodel.Orders, ev readmodel.Event) error {
	switch e := ev.Payload.(type) {
	case domain.StockReceived:
		if e.SKU == "" {
			return fmt.Errorf("stock receipt without SKU")
		}
		d.add(e.SKU, received, e.Quantity)
		return nil
	case domain.StockReserved:
		d.add(e.SKU, reserved, e.Quantity)
		return nil
	case domain.StockReleased:
		d.add(e.SKU, reserved, -e.Quantity)
		return nil
	case domain.StockShipped:
		d.add(e.SKU, reserved, -e.Quantity)
		d.add(e.SKU, shipped, e.Quantity)
		return nil
	case domain.StockReservationRefused:
		d.add(e.SKU, reserved, 0) // the SKU is named
		return nil
	}
	id, err := readmodel.OrderID(ev.Stream)
	if err != nil {
		return err
	}
	before := orders.Get(id)
	if err := checkOpen(id, before, ev.Payload); err != nil {
		return err
	}
	after := domain.Evolve(before, ev.Payload)
	if after.ReserveStock {
		orders.Put(id, after)
		return nil
	}
	// The figures follow the order's state: a status or line change moves
	// the order's lines out of one figure and into another.
	if rb, ra := reservedLines(before), reservedLines(after); !slices.Equal(rb, ra) {
		d.move(rb, reserved, -1)
		d.move(ra, reserved, +1)
	}
	if sb, sa := shippedLines(before), shippedLines(after); !slices.Equal(sb, sa) {
		d.move(sb, shipped, -1)
		d.move(sa, shipped, +1)
	}
	orders.Put(id, after)
	return nil
}

func (d deltas) move(lines []domain.Line, figure int, sign int64) {
	for _, l := range lines {
		d.add(l.SKU, figure, sign*l.Quantity)
	}
}

// checkOpen refuses an order event that does not fit the order's state: the
// stream is the order's history, so this is a store or data problem.
func checkOpen(id string, o domain.Order, e domain.Event) error {
	_, placing := e.(domain.OrderPlaced)
	switch {
	case placing && o.Exists():
		return fmt.Errorf("order %s is already placed", id)
	case !placing && !o.Exists():
		return fmt.Errorf("order %s is not open (never placed, or already shipped or cancelled)", id)
	}
	return nil
}

func reservedLines(o domain.Order) []domain.Line {
	if o.Status == domain.StatusPlaced || o.Status == domain.StatusPaid {
		return o.Lines
	}
	return nil
}

func shippedLines(o domain.Order) []domain.Line {
	if o.Status == domain.StatusShipped {
		return o.Lines
	}
	return nil
}

func (d deltas) flush(ctx context.Context, tx *sql.Tx, prefix string) error {
	args := make([]any, 0, 4*len(d))
	for sku, v := range d {
		args = append(args, sku, v[received], v[reserved], v[shipped])
	}
	err := readmodel.ExecValues(ctx, tx, `INSERT INTO `+prefix+`items (sku, received, reserved, shipped)`,
		`ON CONFLICT (sku) DO UPDATE SET received = received + excluded.received,
		reserved = reserved + excluded.reserved, shipped = shipped + excluded.shipped`, 4, args)
	if err != nil {
		return fmt.Errorf("write stock items: %w", err)
	}
	return nil
}
