package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/orderlist"
	"github.com/orderstore/orderstore/projections/sagas"
	"github.com/orderstore/orderstore/projections/stock"
)

// Stock returns every SKU's stock, sorted by SKU, and the position the
// read model reflects (its checkpoint, read in the same snapshot).
func (m *Manager) Stock(ctx context.Context) (items []stock.Item, position uint64, err error) {
	position, err = m.query(ctx, stock.Name, func(tx *sql.Tx, prefix string) (err error) {
		items, err = stock.Items(ctx, tx, prefix)
		return err
	})
	return items, position, err
}

// StockPage returns up to limit (positive) SKUs' stock sorted after the
// SKU after, and the position the read model reflects.
func (m *Manager) StockPage(ctx context.Context, after string, limit int) (page stock.Page, position uint64, err error) {
	position, err = m.query(ctx, stock.Name, func(tx *sql.Tx, prefix string) (err error) {
		page, err = stock.ItemsAfter(ctx, tx, prefix, after, limit)
		return err
	})
	return page, position, err
}

// StockItem returns the stock of sku and the position the read model
// reflects. It fails with stock.ErrNotFound for a SKU that no receipt or
// order line has named.
func (m *Manager) StockItem(ctx context.Context, sku string) (item stock.Item, position uint64, err error) {
	position, err = m.query(ctx, stock.Name, func(tx *sql.Tx, prefix string) (err error) {
		item, err = stock.Get(ctx, tx, prefix, sku)
		return err
	})
	return item, position, err
}

// Analytics returns the analytics report, with the daily figures of the
// zero analytics.Window, and the position it reflects.
func (m *Manager) Analytics(ctx context.Context) (report analytics.Report, position uint64, err error) {
	return m.AnalyticsWindow(ctx, analytics.Window{})
}

// AnalyticsWindow returns the analytics report, with the daily figures of
// the dates w selects, and the position it reflects.
func (m *Manager) AnalyticsWindow(ctx context.Context, w analytics.Window) (report analytics.Report, position uint64, err error) {
	position, err = m.query(ctx, analytics.Name, func(tx *sql.Tx, prefix string) (err error) {
		report, err = analytics.QueryWindow(ctx, tx, prefix, w)
		return err
	})
	return report, position, err
}

// Orders returns the page of the order list that f selects and the
// position the read model reflects.
func (m *Manager) Orders(ctx context.Context, f orderlist.Filter) (page orderlist.Page, position uint64, err error) {
	position, err = m.query(ctx, orderlist.Name, func(tx *sql.Tx, prefix string) (err error) {
		page, err = orderlist.List(ctx, tx, prefix, f)
		return err
	})
	return page, position, err
}

// Fulfilment returns the fulfilment saga of order id and the position the
// read model reflects. It fails with sagas.ErrNotFound for an order that
// has no saga (yet).
func (m *Manager) Fulfilment(ctx context.Context, id string) (saga sagas.Saga, position uint64, err error) {
	position, err = m.query(ctx, sagas.Name, func(tx *sql.Tx, prefix string) (err error) {
		saga, err = sagas.Get(ctx, tx, prefix, id)
		return err
	})
	return saga, position, err
}

// PaymentsDue returns up to limit orders whose stock was first reserved at
// or before reservedBy and that are still reserved and unpaid: the
// fulfilment saga's deadlines (it implements fulfilment.Deadlines).
func (m *Manager) PaymentsDue(ctx context.Context, reservedBy time.Time, limit int) (ids []string, err error) {
	_, err = m.query(ctx, sagas.Name, func(tx *sql.Tx, prefix string) (err error) {
		ids, err = sagas.PaymentsDue(ctx, tx, prefix, reservedBy, limit)
		return err
	})
	return ids, err
}

// SagaSummary counts the fulfilment sagas by state.
func (m *Manager) SagaSummary(ctx context.Context) (sum sagas.Summary, err error) {
	_, err = m.query(ctx, sagas.Name, func(tx *sql.Tx, prefix string) (err error) {
		sum, err = sagas.Summarize(ctx, tx, prefix)
		return err
	})
	return sum, err
}

// query runs fn in one read transaction, a snapshot in which it reads the
// projection's checkpoint and then its live tables: a swap or a batch
// committing meanwhile is either wholly visible or not at all.
func (m *Manager) query(ctx context.Context, name string, fn func(tx *sql.Tx, prefix string) error) (_ uint64, err error) {
	tx, err := m.db.read.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("query %s: %w", name, err)
	}
	defer func() { err = errors.Join(err, tx.Rollback()) }()
	cp, found, err := loadCheckpoint(ctx, tx, name)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("query %s: %w", name, ErrUnknownProjection)
	}
	if err := fn(tx, cp.prefix()); err != nil {
		return 0, err
	}
	return cp.Position, nil
}
