package analytics_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/internal/readmodeltest"

	_ "modernc.org/sqlite"
)

const prefix = "t_"

var (
	day1 = time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	day2 = time.Date(2026, 3, 2, 0, 30, 0, 0, time.UTC)
	// day2Paris is day2 in another zone, 01:30 on 2 March: still 2 March in UTC.
	day2Paris = day2.In(time.FixedZone("CET", 3600))
)

type recorded = readmodeltest.Recorded

func placedIn(id, currency string, at time.Time, lines ...domain.Line) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: domain.OrderPlaced{OrderID: id, CustomerID: "c1", Currency: currency, Lines: lines, PlacedAt: at}}
}

func placed(id string, lines ...domain.Line) recorded { return placedIn(id, "EUR", day1, lines...) }

func paid(id string, amount int64, at time.Time) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: domain.OrderPaid{Amount: amount, PaymentRef: "p", PaidAt: at}}
}

func shipped(id string) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: domain.OrderShipped{Carrier: "c", Tracking: "t", ShippedAt: day2}}
}

func cancelled(id string, refund int64) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: domain.OrderCancelled{Reason: "r", RefundedAmount: refund, CancelledAt: day2}}
}

func on(id string, e domain.Event) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: e}
}

func line(sku string, q, price int64) domain.Line {
	return domain.Line{SKU: sku, Quantity: q, UnitPrice: price}
}

// report applies given in batches of size (all at once if 0) to fresh
// tables and returns the report, as JSON.
func report(t *testing.T, given []recorded, size int) string {
	t.Helper()
	db := readmodeltest.OpenDB(t, analytics.Projection{}.Schema(prefix))
	events := readmodeltest.Events(t, given)
	if n, err := readmodeltest.Apply(t, db, analytics.Projection{}.Apply, prefix, events, size); err != nil {
		t.Fatalf("Apply = %d, %v", n, err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	r, err := analytics.Query(t.Context(), tx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compact removes the layout of a JSON literal.
func compact(s string) string {
	return strings.NewReplacer("\n", "", "\t", "", " ", "").Replace(s)
}

func TestProjection_Apply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []recorded
		want  string
	}{
		{name: "Empty", want: `{"orders_by_status":{"placed":0,"paid":0,"shipped":0,"cancelled":0,"rejected":0},"orders_total":0,
			"cancellation_rate":0,"revenue":{},"top_skus":[],"daily":[]}`},
		{name: "PlacedOnly", given: []recorded{placed("o1", line("A", 2, 500))},
			want: `{"orders_by_status":{"placed":1,"paid":0,"shipped":0,"cancelled":0,"rejected":0},"orders_total":1,"cancellation_rate":0,
			"revenue":{"EUR":{"gross":0,"refunds":0,"net":0,"average_order_value":0,"paid_orders":0}},"top_skus":[],
			"daily":[{"date":"2026-03-01","placed":1,"paid":0,"revenue":0,"currency":"EUR"}]}`},
		{name: "Lifecycle", given: []recorded{
			placed("o1", line("A", 2, 500), line("B", 1, 1000)), // 2000
			placed("o2", line("A", 1, 500)),                     // 500, cancelled unpaid
			placed("o3", line("B", 3, 1000)),                    // 3000, refunded
			placed("o4", line("C", 1, 1)),                       // stays placed
			paid("o1", 2000, day2Paris), shipped("o1"),
			cancelled("o2", 0),
			paid("o3", 3000, day1), cancelled("o3", 3000),
		}, want: `{"orders_by_status":{"placed":1,"paid":0,"shipped":1,"cancelled":2,"rejected":0},"orders_total":4,"cancellation_rate":0.5,
			"revenue":{"EUR":{"gross":5000,"refunds":3000,"net":2000,"average_order_value":2500,"paid_orders":2}},
			"top_skus":[{"sku":"B","quantity":4,"revenue":4000,"currency":"EUR"},{"sku":"A","quantity":2,"revenue":1000,"currency":"EUR"}],
			"daily":[{"date":"2026-03-01","placed":4,"paid":1,"revenue":3000,"currency":"EUR"},
			{"date":"2026-03-02","placed":0,"paid":1,"revenue":2000,"currency":"EUR"}]}`},
		{name: "Rejected", given: []recorded{
			placed("o1", line("A", 2, 500)), // rejected unpaid
			placed("o2", line("A", 1, 500)), // paid, then rejected: refunded
			on("o1", domain.OrderRejected{Reason: domain.RejectOutOfStock, RejectedAt: day1}),
			paid("o2", 500, day1),
			on("o2", domain.OrderRejected{Reason: domain.RejectOutOfStock, RefundedAmount: 500, RejectedAt: day1}),
		}, want: `{"orders_by_status":{"placed":0,"paid":0,"shipped":0,"cancelled":0,"rejected":2},"orders_total":2,"cancellation_rate":0,
			"revenue":{"EUR":{"gross":500,"refunds":500,"net":0,"average_order_value":500,"paid_orders":1}},
			"top_skus":[{"sku":"A","quantity":1,"revenue":500,"currency":"EUR"}],
			"daily":[{"date":"2026-03-01","placed":2,"paid":1,"revenue":500,"currency":"EUR"}]}`},
		{name: "LinesChangedBeforePayment", given: []recorded{
			placed("o1", line("A", 1, 100), line("B", 1, 50)),
			on("o1", domain.OrderLineAdded{SKU: "A", Quantity: 2, UnitPrice: 100}),
			on("o1", domain.OrderLineAdded{SKU: "C", Quantity: 1, UnitPrice: 7}),
			on("o1", domain.OrderLineRemoved{SKU: "B"}),
			paid("o1", 307, day1),
		}, want: `{"orders_by_status":{"placed":0,"paid":1,"shipped":0,"cancelled":0,"rejected":0},"orders_total":1,"cancellation_rate":0,
			"revenue":{"EUR":{"gross":307,"refunds":0,"net":307,"average_order_value":307,"paid_orders":1}},
			"top_skus":[{"sku":"A","quantity":3,"revenue":300,"currency":"EUR"},{"sku":"C","quantity":1,"revenue":7,"currency":"EUR"}],
			"daily":[{"date":"2026-03-01","placed":1,"paid":1,"revenue":307,"currency":"EUR"}]}`},
		{name: "Currencies", given: []recorded{
			placedIn("o1", "USD", day1, line("A", 1, 999)),
			placedIn("o2", "EUR", day1, line("A", 1, 500)),
			placedIn("o3", "EUR", day1, line("A", 1, 501)),
			paid("o1", 999, day1), paid("o2", 500, day1), paid("o3", 501, day1),
		}, want: `{"orders_by_status":{"placed":0,"paid":3,"shipped":0,"cancelled":0,"rejected":0},"orders_total":3,"cancellation_rate":0,
			"revenue":{"EUR":{"gross":1001,"refunds":0,"net":1001,"average_order_value":500,"paid_orders":2},
			"USD":{"gross":999,"refunds":0,"net":999,"average_order_value":999,"paid_orders":1}},
			"top_skus":[{"sku":"A","quantity":2,"revenue":1001,"currency":"EUR"},{"sku":"A","quantity":1,"revenue":999,"currency":"USD"}],
			"daily":[{"date":"2026-03-01","placed":2,"paid":2,"revenue":1001,"currency":"EUR"},
			{"date":"2026-03-01","placed":1,"paid":1,"revenue":999,"currency":"USD"}]}`},
		{name: "TopSKUTies", given: []recorded{
			placed("o1", line("B", 2, 10), line("A", 2, 10), line("C", 2, 20), line("D", 1, 1000)),
			paid("o1", 1100, day1),
		}, want: `{"orders_by_status":{"placed":0,"paid":1,"shipped":0,"cancelled":0,"rejected":0},"orders_total":1,"cancellation_rate":0,
			"revenue":{"EUR":{"gross":1100,"refunds":0,"net":1100,"average_order_value":1100,"paid_orders":1}},
			"top_skus":[{"sku":"C","quantity":2,"revenue":40,"currency":"EUR"},{"sku":"A","quantity":2,"revenue":20,"currency":"EUR"},
			{"sku":"B","quantity":2,"revenue":20,"currency":"EUR"},{"sku":"D","quantity":1,"revenue":1000,"currency":"EUR"}],
			"daily":[{"date":"2026-03-01","placed":1,"paid":1,"revenue":1100,"currency":"EUR"}]}`},
		{name: "StockReceiptsIgnored", given: []recorded{
			{Stream: domain.StockStream("A"), Event: domain.StockReceived{SKU: "A", Quantity: 5, ReceivedAt: day1}},
		}, want: `{"orders_by_status":{"placed":0,"paid":0,"shipped":0,"cancelled":0,"rejected":0},"orders_total":0,
			"cancellation_rate":0,"revenue":{},"top_skus":[],"daily":[]}`},
	}
	for _, tt := range tests {
		for _, size := range []int{0, 1, 2, 3} {
			t.Run(fmt.Sprintf("%s/BatchesOf%d", tt.name, size), func(t *testing.T) {
				t.Parallel()
				if got, want := report(t, tt.given, size), compact(tt.want); got != want {
					t.Errorf("report\n got %s\nwant %s", got, want)
				}
			})
		}
	}
}

// TestProjection_TopSKUsLimit checks that only the first TopSKUs entries
// are reported.
func TestProjection_TopSKUsLimit(t *testing.T) {
	t.Parallel()
	var lines []domain.Line
	var total int64
	for i := range analytics.TopSKUs + 5 {
		lines = append(lines, line(fmt.Sprintf("S%02d", i), int64(i+1), 10))
		total += int64(i+1) * 10
	}
	got := report(t, []recorded{placed("o1", lines...), paid("o1", total, day1)}, 0)
	var r analytics.Report
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.TopSKUs) != analytics.TopSKUs || r.TopSKUs[0].SKU != fmt.Sprintf("S%02d", analytics.TopSKUs+4) {
		t.Errorf("top_skus = %+v", r.TopSKUs)
	}
}

// TestQueryWindow checks the dates the daily figures cover.
func TestQueryWindow(t *testing.T) {
	t.Parallel()
	date := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(12 * time.Hour)
	}
	var given []recorded
	for i, d := range []string{"2025-01-01", "2025-01-02", "2025-06-01", "2026-01-01", "2026-01-02"} {
		given = append(given, placedIn(fmt.Sprintf("o%d", i), "EUR", date(d), line("A", 1, 1)))
	}
	db := readmodeltest.OpenDB(t, analytics.Projection{}.Schema(prefix))
	if n, err := readmodeltest.Apply(t, db, analytics.Projection{}.Apply, prefix, readmodeltest.Events(t, given), 0); err != nil {
		t.Fatalf("Apply = %d, %v", n, err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	for _, tt := range []struct {
		w    analytics.Window
		want string
	}{
		// 366 dates ending with the latest: 2025-01-02 through 2026-01-02.
		{analytics.Window{}, "2025-01-02 2025-06-01 2026-01-01 2026-01-02"},
		{analytics.Window{From: "2025-01-01"}, "2025-01-01 2025-01-02 2025-06-01 2026-01-01"},
		{analytics.Window{To: "2026-01-01"}, "2025-01-01 2025-01-02 2025-06-01 2026-01-01"},
		{analytics.Window{From: "2025-01-02", To: "2025-06-01"}, "2025-01-02 2025-06-01"},
		{analytics.Window{From: "2025-06-02", To: "2025-12-31"}, ""},
		{analytics.Window{From: "2027-01-01"}, ""},
	} {
		r, err := analytics.QueryWindow(t.Context(), tx, prefix, tt.w)
		if err != nil {
			t.Fatal(err)
		}
		var dates []string
		for _, d := range r.Daily {
			dates = append(dates, d.Date)
		}
		if got := strings.Join(dates, " "); got != tt.want {
			t.Errorf("%+v: daily dates %q, want %q", tt.w, got, tt.want)
		}
		if r.OrdersTotal != 5 {
			t.Errorf("%+v: the window changed orders_total: %d", tt.w, r.OrdersTotal)
		}
	}
	empty := readmodeltest.OpenDB(t, analytics.Projection{}.Schema(prefix))
	etx, err := empty.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer etx.Rollback() //nolint:errcheck // read only
	if r, err := analytics.QueryWindow(t.Context(), etx, prefix, analytics.Window{}); err != nil || len(r.Daily) != 0 || r.Daily == nil {
		t.Errorf("empty: %+v, %v", r.Daily, err)
	}
}
