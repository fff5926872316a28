package sagas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned by Get for an order that has no saga: never
// placed, placed under the track policy, or not yet projected.
var ErrNotFound = errors.New("no fulfilment saga for the order")

// Step is one step of a saga, as GET /orders/{id}/fulfilment shows it.
type Step struct {
	At      time.Time `json:"at"`
	Step    string    `json:"step"`
	SKU     string    `json:"sku,omitempty"`
	Result  string    `json:"result"`
	EventID string    `json:"event_id,omitempty"`
}

// Saga is the fulfilment state of one order.
type Saga struct {
	OrderID string
	State   string
	Paid    bool
	// ReservedAt is when the order's stock was first reserved; zero if
	// never.
	ReservedAt time.Time
	PlacedAt   time.Time
	Steps      []Step
}

// Get returns the saga of order id from the tables named with prefix.
func Get(ctx context.Context, tx *sql.Tx, prefix, id string) (_ Saga, err error) {
	s := Saga{OrderID: id, Steps: []Step{}}
	var placed int64
	var reserved sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT state, paid, placed_at, reserved_at FROM `+prefix+`sagas WHERE order_id = ?`, id).
		Scan(&s.State, &s.Paid, &placed, &reserved)
	if errors.Is(err, sql.ErrNoRows) {
		return Saga{}, fmt.Errorf("order %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Saga{}, fmt.Errorf("query saga %s: %w", id, err)
	}
	s.PlacedAt = time.Unix(0, placed).UTC()
	if reserved.Valid {
		s.ReservedAt = time.Unix(0, reserved.Int64).UTC()
	}
	rows, err := tx.QueryContext(ctx, `SELECT at, step, sku, result, event_id FROM `+prefix+`steps WHERE order_id = ? ORDER BY seq`, id)
	if err != nil {
		return Saga{}, fmt.Errorf("query saga steps %s: %w", id, err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var st Step
		var at int64
		if err := rows.Scan(&at, &st.Step, &st.SKU, &st.Result, &st.EventID); err != nil {
			return Saga{}, fmt.Errorf("query saga steps %s: %w", id, err)
		}
		st.At = time.Unix(0, at).UTC()
		s.Steps = append(s.Steps, st)
	}
	if err := rows.Err(); err != nil {
		return Saga{}, fmt.Errorf("query saga steps %s: %w", id, err)
	}
	return s, nil
}

// PaymentsDue returns up to limit orders whose stock was first reserved at
// or before reservedBy, reserved now and unpaid, oldest first.
func PaymentsDue(ctx context.Context, tx *sql.Tx, prefix string, reservedBy time.Time, limit int) (_ []string, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT order_id FROM `+prefix+`sagas
		WHERE state = 'reserved' AND paid = 0 AND reserved_at <= ? ORDER BY reserved_at LIMIT ?`, reservedBy.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("query payments due: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("query payments due: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query payments due: %w", err)
	}
	return ids, nil
}

// Summary counts the sagas by state and tells when the oldest pending one
// (reserving or compensating) was placed.
type Summary struct {
	ByState       map[string]int64
	OldestPending time.Time // zero if none is pending
}

// Summarize returns the Summary of the tables named with prefix.
func Summarize(ctx context.Context, tx *sql.Tx, prefix string) (_ Summary, err error) {
	sum := Summary{ByState: make(map[string]int64, len(States))}
	for _, st := range States {
		sum.ByState[st] = 0
	}
	rows, err := tx.QueryContext(ctx, `SELECT state, count(*) FROM `+prefix+`sagas GROUP BY state`)
	if err != nil {
		return Summary{}, fmt.Errorf("summarize sagas: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return Summary{}, fmt.Errorf("summarize sagas: %w", err)
		}
		sum.ByState[st] = n
	}
	if err := rows.Err(); err != nil {
		return Summary{}, fmt.Errorf("summarize sagas: %w", err)
	}
	var oldest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT min(placed_at) FROM `+prefix+`sagas WHERE state IN ('reserving', 'compensating')`).
		Scan(&oldest); err != nil {
		return Summary{}, fmt.Errorf("summarize sagas: %w", err)
	}
	if oldest.Valid {
		sum.OldestPending = time.Unix(0, oldest.Int64).UTC()
	}
	return sum, nil
}
