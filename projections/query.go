package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/orderstore/orderstore/projections/analytics"
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

// Analytics returns the analytics report and the position it reflects.
func (m *Manager) Analytics(ctx context.Context) (report analytics.Report, position uint64, err error) {
	position, err = m.query(ctx, analytics.Name, func(tx *sql.Tx, prefix string) (err error) {
		report, err = analytics.Query(ctx, tx, prefix)
		return err
	})
	return report, position, err
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
