package analytics

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TopSKUs is the number of entries of Report.TopSKUs.
const TopSKUs = 10

// Report is the analytics read model, in the JSON shape of the API.
type Report struct {
	OrdersByStatus StatusCounts `json:"orders_by_status"`
	// OrdersTotal is the number of orders ever placed.
	OrdersTotal int64 `json:"orders_total"`
	// CancellationRate is Cancelled / OrdersTotal, 0 without orders.
	CancellationRate float64 `json:"cancellation_rate"`
	// Revenue maps a currency code to its figures; never nil.
	Revenue map[string]Revenue `json:"revenue"`
	// TopSKUs holds the best sellers; never nil.
	TopSKUs []SKUSales `json:"top_skus"`
	// Daily holds one entry per date and currency; never nil.
	Daily []Day `json:"daily"`
}

// StatusCounts counts orders by current status.
type StatusCounts struct {
	Placed    int64 `json:"placed"`
	Paid      int64 `json:"paid"`
	Shipped   int64 `json:"shipped"`
	Cancelled int64 `json:"cancelled"`
	// Rejected counts the orders the fulfilment saga rejected (stock
	// policy reserve).
	Rejected int64 `json:"rejected"`
}

// Revenue holds the money figures of one currency, in minor units.
type Revenue struct {
	Gross   int64 `json:"gross"`
	Refunds int64 `json:"refunds"`
	// Net is Gross − Refunds.
	Net int64 `json:"net"`
	// AverageOrderValue is Gross / PaidOrders, truncated; 0 when none.
	AverageOrderValue int64 `json:"average_order_value"`
	// PaidOrders is the number of orders paid in this currency.
	PaidOrders int64 `json:"paid_orders"`
}

// SKUSales is what paid orders in one currency bought of a SKU.
type SKUSales struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
	// Revenue is the sum of quantity × unit_price, in Currency.
	Revenue  int64  `json:"revenue"`
	Currency string `json:"currency"`
}

// Day holds one UTC date's figures in one currency.
type Day struct {
	// Date is the UTC date, YYYY-MM-DD.
	Date   string `json:"date"`
	Placed int64  `json:"placed"`
	Paid   int64  `json:"paid"`
	// Revenue is the amount paid that day, in Currency.
	Revenue  int64  `json:"revenue"`
	Currency string `json:"currency"`
}

// MaxDays bounds the dates Report.Daily covers.
const MaxDays = 366

// Window selects the dates of Report.Daily: From through To, UTC dates
// (YYYY-MM-DD), both included, at most MaxDays of them. Either may be
// empty: To then defaults to From + MaxDays − 1 days, or, without From, to
// the latest date with figures; From defaults to To − (MaxDays − 1) days.
// The zero Window is the MaxDays dates ending with the latest one, which
// is every date of a store younger than a year.
type Window struct{ From, To string }

// dates resolves w's defaults; ok is false when there is no date at all.
func (w Window) dates(ctx context.Context, tx *sql.Tx, prefix string) (from, to string, ok bool, err error) {
	const span = (MaxDays - 1) * 24 * time.Hour
	shift := func(date string, d time.Duration) (string, error) {
		t, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return "", fmt.Errorf("window: %w", err)
		}
		return t.Add(d).Format(time.DateOnly), nil
	}
	from, to = w.From, w.To
	if to == "" && from == "" {
		var latest sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT max(date) FROM `+prefix+`daily`).Scan(&latest); err != nil {
			return "", "", false, err
		}
		if !latest.Valid {
			return "", "", false, nil
		}
		to = latest.String
	}
	if to == "" {
		if to, err = shift(from, span); err != nil {
			return "", "", false, err
		}
	}
	if from == "" {
		if from, err = shift(to, -span); err != nil {
			return "", "", false, err
		}
	}
	return from, to, true, nil
}

// Query reads the report from the tables named with prefix, with the
// daily figures of the zero Window.
func Query(ctx context.Context, tx *sql.Tx, prefix string) (Report, error) {
	return QueryWindow(ctx, tx, prefix, Window{})
}

// QueryWindow reads the report from the tables named with prefix, with
// the daily figures of the dates w selects.
func QueryWindow(ctx context.Context, tx *sql.Tx, prefix string, w Window) (Report, error) {
	r := Report{Revenue: map[string]Revenue{}, TopSKUs: []SKUSales{}, Daily: []Day{}}
	err := each(ctx, tx, `SELECT status, orders FROM `+prefix+`status`, func(scan func(...any) error) error {
		var (
			status string
			n      int64
		)
		if err := scan(&status, &n); err != nil {
			return err
		}
		switch status {
		case "placed":
			r.OrdersByStatus.Placed = n
		case "paid":
			r.OrdersByStatus.Paid = n
		case "shipped":
			r.OrdersByStatus.Shipped = n
		case "cancelled":
			r.OrdersByStatus.Cancelled = n
		case "rejected":
			r.OrdersByStatus.Rejected = n
		}
		r.OrdersTotal += n
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("query analytics: %w", err)
	}
	if r.OrdersTotal > 0 {
		r.CancellationRate = float64(r.OrdersByStatus.Cancelled) / float64(r.OrdersTotal)
	}
	err = each(ctx, tx, `SELECT currency, gross, refunds, paid_orders FROM `+prefix+`revenue`, func(scan func(...any) error) error {
		var (
			cur string
			v   Revenue
		)
		if err := scan(&cur, &v.Gross, &v.Refunds, &v.PaidOrders); err != nil {
			return err
		}
		v.Net = v.Gross - v.Refunds
		if v.PaidOrders > 0 {
			v.AverageOrderValue = v.Gross / v.PaidOrders
		}
		r.Revenue[cur] = v
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("query analytics: %w", err)
	}
	err = each(ctx, tx, `SELECT sku, currency, quantity, revenue FROM `+prefix+`sku_sales
		ORDER BY quantity DESC, revenue DESC, sku, currency LIMIT `+fmt.Sprint(TopSKUs), func(scan func(...any) error) error {
		var s SKUSales
		if err := scan(&s.SKU, &s.Currency, &s.Quantity, &s.Revenue); err != nil {
			return err
		}
		r.TopSKUs = append(r.TopSKUs, s)
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("query analytics: %w", err)
	}
	from, to, ok, err := w.dates(ctx, tx, prefix)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("query analytics: %w", err)
		}
		return r, err
	}
	err = each(ctx, tx, `SELECT date, currency, placed, paid, revenue FROM `+prefix+`daily
		WHERE date BETWEEN ? AND ? ORDER BY date, currency`, func(scan func(...any) error) error {
		var d Day
		if err := scan(&d.Date, &d.Currency, &d.Placed, &d.Paid, &d.Revenue); err != nil {
			return err
		}
		r.Daily = append(r.Daily, d)
		return nil
	}, from, to)
	if err != nil {
		return Report{}, fmt.Errorf("query analytics: %w", err)
	}
	return r, nil
}

// each runs query with args and calls row for each result row.
func each(ctx context.Context, tx *sql.Tx, query string, row func(scan func(...any) error) error, args ...any) (err error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}
