package sagas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

// Name is the projection's name, as used in checkpoints, status and URLs.
const Name = "fulfilment"

// Version is the version of the projection's tables and rules.
const Version = 1

// Saga states.
const (
	StateReserving    = "reserving"
	StateReserved     = "reserved"
	StateCompensating = "compensating"
	StateRejected     = "rejected"
	StateCancelled    = "cancelled"
	StateShipped      = "shipped"
)

// States lists the saga states, pending ones first.
var States = []string{StateReserving, StateCompensating, StateReserved, StateRejected, StateCancelled, StateShipped}

// Projection applies events to the fulfilment read model. The zero value
// is ready to use and safe for concurrent use.
type Projection struct{}

// Name returns Name.
func (Projection) Name() string { return Name }

// Version returns Version.
func (Projection) Version() int { return Version }

// Handles reports whether Apply needs events of type eventType: the order
// events and the stock reservation events.
func (Projection) Handles(eventType string) bool {
	switch eventType {
	case domain.TypeOrderPlaced, domain.TypeOrderLineAdded, domain.TypeOrderLineRemoved, domain.TypeOrderPaid,
		domain.TypeOrderShipped, domain.TypeOrderCancelled, domain.TypeOrderStockReserved, domain.TypeOrderRejected,
		domain.TypeStockReserved, domain.TypeStockReservationRefused, domain.TypeStockReleased, domain.TypeStockShipped:
		return true
	}
	return false
}

// Schema returns the DDL creating the projection's tables, named with
// prefix. Times are stored as Unix nanoseconds.
func (Projection) Schema(prefix string) string {
	return `CREATE TABLE ` + prefix + `sagas (
	order_id    TEXT PRIMARY KEY,
	state       TEXT    NOT NULL,
	paid        INTEGER NOT NULL,
	placed_at   INTEGER NOT NULL,
	reserved_at INTEGER,
	updated_at  INTEGER NOT NULL,
	steps       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE ` + prefix + `steps (
	order_id TEXT    NOT NULL,
	seq      INTEGER NOT NULL,
	at       INTEGER NOT NULL,
	step     TEXT    NOT NULL,
	sku      TEXT    NOT NULL,
	result   TEXT    NOT NULL,
	event_id TEXT    NOT NULL,
	PRIMARY KEY (order_id, seq)
) STRICT, WITHOUT ROWID;
`
}

// Indexes returns the DDL of the indexes of the deadline and state
// queries.
func (Projection) Indexes(prefix string) string {
	return `CREATE INDEX ` + prefix + `sagas_due ON ` + prefix + `sagas (reserved_at) WHERE state = 'reserved' AND paid = 0;
CREATE INDEX ` + prefix + `sagas_state ON ` + prefix + `sagas (state, placed_at);`
}

// saga is a row of the sagas table as a batch changes it.
type saga struct {
	state      string
	paid       bool
	placedAt   int64
	reservedAt sql.NullInt64
	updatedAt  int64
	steps      int64
	stored     bool
	dirty      bool
}

type step struct {
	orderID string
	seq     int64
	at      int64
	step    string
	sku     string
	result  string
	eventID string
}

// Apply applies events, in position order, to the tables t within tx. It
// refuses nothing: events of orders that are not the saga's are passed
// over. It returns len(events) or a storage error (with 0).
func (Projection) Apply(ctx context.Context, tx *sql.Tx, t *readmodel.Tables, events []readmodel.Event) (int, error) {
	b := batch{tx: tx, prefix: t.Prefix, sagas: make(map[string]*saga)}
	if err := b.load(ctx, events); err != nil {
		return 0, readmodel.Storage(err)
	}
	for _, ev := range events {
		b.apply(ev)
	}
	if err := b.flush(ctx); err != nil {
		return 0, readmodel.Storage(err)
	}
	return len(events), nil
}

type batch struct {
	tx     *sql.Tx
	prefix string
	sagas  map[string]*saga // nil entry: not a saga
	steps  []step
}

// orderOf returns the order an event concerns.
func orderOf(ev readmodel.Event) string {
	switch e := ev.Payload.(type) {
	case domain.StockReserved:
		return e.OrderID
	case domain.StockReservationRefused:
		return e.OrderID
	case domain.StockReleased:
		return e.OrderID
	case domain.StockShipped:
		return e.OrderID
	case domain.StockReceived:
		return ""
	}
	id, err := readmodel.OrderID(ev.Stream)
	if err != nil {
		return ""
	}
	return id
}

// load reads the rows of the sagas the events concern. An order placed in
// the batch needs none (its placement tells whether it is a saga); the
// others are read in chunks, one statement each, as most events of a
// history under the track policy concern no saga at all.
func (b *batch) load(ctx context.Context, events []readmodel.Event) error {
	var ids []any
	for _, ev := range events {
		id := orderOf(ev)
		if id == "" {
			continue
		}
		if _, seen := b.sagas[id]; seen {
			continue
		}
		b.sagas[id] = nil
		if _, placing := ev.Payload.(domain.OrderPlaced); !placing {
			ids = append(ids, id)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), loadChunk)
		if err := b.loadChunk(ctx, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// loadChunk bounds the IDs of one statement of load, well below SQLite's
// parameter limit.
const loadChunk = 500

func (b *batch) loadChunk(ctx context.Context, ids []any) (err error) {
	rows, err := b.tx.QueryContext(ctx, `SELECT order_id, state, paid, placed_at, reserved_at, updated_at, steps FROM `+
		b.prefix+`sagas WHERE order_id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, ids...)
	if err != nil {
		return fmt.Errorf("load sagas: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var id string
		s := &saga{stored: true}
		if err := rows.Scan(&id, &s.state, &s.paid, &s.placedAt, &s.reservedAt, &s.updatedAt, &s.steps); err != nil {
			return fmt.Errorf("load sagas: %w", err)
		}
		b.sagas[id] = s
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load sagas: %w", err)
	}
	return nil
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func (b *batch) apply(ev readmodel.Event) {
	id := orderOf(ev)
	if id == "" {
		return
	}
	s := b.sagas[id]
	if p, ok := ev.Payload.(domain.OrderPlaced); ok {
		if !p.ReserveStock || s != nil {
			return
		}
		s = &saga{state: StateReserving, placedAt: nanos(p.PlacedAt)}
		b.sagas[id] = s
		b.step(id, s, ev, p.PlacedAt, "place", "", "placed")
		return
	}
	if s == nil {
		return
	}
	switch e := ev.Payload.(type) {
	case domain.OrderLineAdded:
		if s.state == StateReserved {
			s.state = StateReserving
		}
		b.step(id, s, ev, time.Time{}, "line_added", e.SKU, "pending")
	case domain.OrderLineRemoved:
		b.step(id, s, ev, time.Time{}, "line_removed", e.SKU, "removed")
	case domain.OrderPaid:
		s.paid = true
		b.step(id, s, ev, e.PaidAt, "payment", "", "paid")
	case domain.OrderStockReserved:
		if s.state == StateReserving {
			s.state = StateReserved
		}
		if !s.reservedAt.Valid {
			s.reservedAt = sql.NullInt64{Int64: nanos(e.ReservedAt), Valid: true}
		}
		b.step(id, s, ev, e.ReservedAt, "record_reserved", "", "reserved")
	case domain.OrderRejected:
		s.state = StateRejected
		b.step(id, s, ev, e.RejectedAt, "reject", "", e.Reason)
	case domain.OrderCancelled:
		s.state = StateCancelled
		name := "cancel"
		if e.Reason == domain.CancelPaymentTimeout {
			name = "payment_deadline"
		}
		b.step(id, s, ev, e.CancelledAt, name, "", "cancelled")
	case domain.OrderShipped:
		s.state = StateShipped
		b.step(id, s, ev, e.ShippedAt, "shipment", "", "shipped")
	case domain.StockReserved:
		b.step(id, s, ev, e.ReservedAt, "reserve", e.SKU, "reserved")
	case domain.StockReservationRefused:
		if s.state == StateReserving || s.state == StateReserved {
			s.state = StateCompensating
		}
		b.step(id, s, ev, e.RefusedAt, "reserve", e.SKU, "refused")
	case domain.StockReleased:
		b.step(id, s, ev, e.ReleasedAt, "release", e.SKU, "released")
	case domain.StockShipped:
		b.step(id, s, ev, e.ShippedAt, "ship", e.SKU, "shipped")
	}
}

// step records a step; at zero means the event's time is that of the last
// step (line changes carry no time of their own).
func (b *batch) step(id string, s *saga, ev readmodel.Event, at time.Time, name, sku, result string) {
	t := s.updatedAt
	if !at.IsZero() {
		t = nanos(at)
	}
	s.steps++
	s.updatedAt = max(s.updatedAt, t)
	s.dirty = true
	b.steps = append(b.steps, step{orderID: id, seq: s.steps, at: t, step: name, sku: sku, result: result, eventID: ev.ID.String()})
}

func (b *batch) flush(ctx context.Context) error {
	var rows []any
	for id, s := range b.sagas {
		if s == nil || !s.dirty {
			continue
		}
		var paid int64
		if s.paid {
			paid = 1
		}
		var reserved any
		if s.reservedAt.Valid {
			reserved = s.reservedAt.Int64
		}
		rows = append(rows, id, s.state, paid, s.placedAt, reserved, s.updatedAt, s.steps)
	}
	if err := readmodel.ExecValues(ctx, b.tx, `INSERT INTO `+b.prefix+`sagas (order_id, state, paid, placed_at, reserved_at, updated_at, steps)`,
		`ON CONFLICT (order_id) DO UPDATE SET state = excluded.state, paid = excluded.paid, placed_at = excluded.placed_at,
		reserved_at = excluded.reserved_at, updated_at = excluded.updated_at, steps = excluded.steps`, 7, rows); err != nil {
		return fmt.Errorf("write sagas: %w", err)
	}
	steps := make([]any, 0, 7*len(b.steps))
	for _, st := range b.steps {
		steps = append(steps, st.orderID, st.seq, st.at, st.step, st.sku, st.result, st.eventID)
	}
	if err := readmodel.ExecValues(ctx, b.tx, `INSERT INTO `+b.prefix+`steps (order_id, seq, at, step, sku, result, event_id)`,
		`ON CONFLICT (order_id, seq) DO NOTHING`, 7, steps); err != nil {
		return fmt.Errorf("write saga steps: %w", err)
	}
	return nil
}
