package orderlist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orderstore/orderstore/domain"
)

// Summary is one order of the list, in the JSON shape of GET /orders: the
// fields of the order resource but its lines, of which it gives the count.
type Summary struct {
	ID         string        `json:"id"`
	CustomerID string        `json:"customer_id"`
	Status     domain.Status `json:"status"`
	Currency   string        `json:"currency"`
	// Total is the sum of quantity × unit_price of the current lines.
	Total     int64 `json:"total"`
	LineCount int   `json:"line_count"`
	// Version is the version of the order's last event (its ETag).
	Version int64 `json:"version"`
	// Position is the position of the order's last event.
	Position     uint64     `json:"position"`
	PlacedAt     time.Time  `json:"placed_at"`
	PaidAt       *time.Time `json:"paid_at"`
	ShippedAt    *time.Time `json:"shipped_at"`
	CancelledAt  *time.Time `json:"cancelled_at"`
	CancelReason string     `json:"cancel_reason"`
}

// Filter selects a page of the list.
type Filter struct {
	// CustomerID, if not empty, keeps the orders of that customer.
	CustomerID string
	// Status, if not empty, keeps the orders in that status.
	Status domain.Status
	// After is the cursor: the Next of the page before, 0 for the first.
	After uint64
	// Limit bounds the orders of the page; it must be positive.
	Limit int
}

// Page is one page of the list.
type Page struct {
	// Orders are sorted by the position of their OrderPlaced event.
	Orders []Summary
	// Next is the cursor of the next page: the placed position of the
	// last order of this one, or Filter.After if it is empty.
	Next uint64
}

// List returns the page of orders f selects from the tables named with
// prefix.
func List(ctx context.Context, tx *sql.Tx, prefix string, f Filter) (_ Page, err error) {
	if f.Limit <= 0 {
		return Page{}, fmt.Errorf("list orders: limit %d is not positive", f.Limit)
	}
	where, args := []string{"placed > ?"}, []any{int64(f.After)}
	from := prefix + "list"
	if f.CustomerID != "" {
		where, args = append(where, "customer_id = ?"), append(args, f.CustomerID)
		// A customer has few orders, a status may have most of them: with
		// both filters, read the customer's (the planner, without
		// statistics, would pick either).
		from += " INDEXED BY " + prefix + "list_customer"
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	args = append(args, f.Limit)
	rows, err := tx.QueryContext(ctx, `SELECT placed, id, customer_id, status, currency, total, line_count, version,
		position, placed_at, paid_at, shipped_at, cancelled_at, cancel_reason FROM `+from+`
		WHERE `+strings.Join(where, " AND ")+` ORDER BY placed LIMIT ?`, args...)
	if err != nil {
		return Page{}, fmt.Errorf("list orders: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	p := Page{Orders: []Summary{}, Next: f.After}
	for rows.Next() {
		var (
			s                        Summary
			placed, position         int64
			status, placedAt         string
			paid, shipped, cancelled sql.NullString
		)
		if err := rows.Scan(&placed, &s.ID, &s.CustomerID, &status, &s.Currency, &s.Total, &s.LineCount, &s.Version,
			&position, &placedAt, &paid, &shipped, &cancelled, &s.CancelReason); err != nil {
			return Page{}, fmt.Errorf("list orders: %w", err)
		}
		s.Status, s.Position, p.Next = domain.Status(status), uint64(position), uint64(placed)
		if s.PlacedAt, err = time.Parse(time.RFC3339Nano, placedAt); err != nil {
			return Page{}, fmt.Errorf("list orders: order %s: %w", s.ID, err)
		}
		for _, t := range []struct {
			in  sql.NullString
			out **time.Time
		}{{paid, &s.PaidAt}, {shipped, &s.ShippedAt}, {cancelled, &s.CancelledAt}} {
			if !t.in.Valid {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, t.in.String)
			if err != nil {
				return Page{}, fmt.Errorf("list orders: order %s: %w", s.ID, err)
			}
			*t.out = &at
		}
		p.Orders = append(p.Orders, s)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list orders: %w", err)
	}
	return p, nil
}
