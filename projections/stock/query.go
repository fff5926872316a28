package stock

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrNotFound is returned by Get for a SKU that no receipt or order line
// has named.
var ErrNotFound = errors.New("sku not found")

// Item is the stock of one SKU. It is the JSON shape of the API's stock
// item.
type Item struct {
	SKU      string `json:"sku"`
	Received int64  `json:"received"`
	Reserved int64  `json:"reserved"`
	Shipped  int64  `json:"shipped"`
	// OnHand is Received − Shipped.
	OnHand int64 `json:"on_hand"`
	// Available is OnHand − Reserved; negative when oversold.
	Available int64 `json:"available"`
}

const selectItems = `SELECT sku, received, reserved, shipped FROM `

// Items returns every SKU's stock from the tables named with prefix, sorted
// by SKU (byte order).
func Items(ctx context.Context, tx *sql.Tx, prefix string) (_ []Item, err error) {
	rows, err := tx.QueryContext(ctx, selectItems+prefix+`items ORDER BY sku`)
	if err != nil {
		return nil, fmt.Errorf("query stock: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	items := []Item{}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("query stock: %w", err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query stock: %w", err)
	}
	return items, nil
}

// Page is a page of the stock items, for GET /stock.
type Page struct {
	// Items are sorted by SKU (byte order).
	Items []Item
	// Next is the SKU to give as the after of the next page, "" when this
	// page is the last.
	Next string
}

// ItemsAfter returns, from the tables named with prefix, up to limit
// (positive) items whose SKU sorts after after (byte order; "" for the
// first page). A SKU that first appears behind a reader's cursor is not
// seen by that reader until it pages again from the start.
func ItemsAfter(ctx context.Context, tx *sql.Tx, prefix, after string, limit int) (_ Page, err error) {
	if limit <= 0 {
		return Page{}, fmt.Errorf("query stock: limit %d is not positive", limit)
	}
	// One more than asked tells whether a next page exists.
	rows, err := tx.QueryContext(ctx, selectItems+prefix+`items WHERE sku > ? ORDER BY sku LIMIT ?`, after, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("query stock: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	p := Page{Items: []Item{}}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return Page{}, fmt.Errorf("query stock: %w", err)
		}
		if len(p.Items) == limit {
			p.Next = p.Items[limit-1].SKU
			break
		}
		p.Items = append(p.Items, it)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("query stock: %w", err)
	}
	return p, nil
}

// Get returns the stock of sku from the tables named with prefix, or
// ErrNotFound.
func Get(ctx context.Context, tx *sql.Tx, prefix, sku string) (Item, error) {
	it, err := scanItem(tx.QueryRowContext(ctx, selectItems+prefix+`items WHERE sku = ?`, sku))
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, fmt.Errorf("stock of %s: %w", sku, ErrNotFound)
	}
	if err != nil {
		return Item{}, fmt.Errorf("query stock of %s: %w", sku, err)
	}
	return it, nil
}

func scanItem(row interface{ Scan(...any) error }) (Item, error) {
	var it Item
	if err := row.Scan(&it.SKU, &it.Received, &it.Reserved, &it.Shipped); err != nil {
		return Item{}, err
	}
	it.OnHand = it.Received - it.Shipped
	it.Available = it.OnHand - it.Reserved
	return it, nil
}
