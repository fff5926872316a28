package orderlist_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodeltest"
	"github.com/orderstore/orderstore/projections/orderlist"

	_ "modernc.org/sqlite"
)

const prefix = "t_"

var (
	t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 3, 2, 11, 30, 0, 500, time.FixedZone("CET", 3600)) // stored and shown in UTC
)

type recorded = readmodeltest.Recorded

func placed(id, customer string, lines ...domain.Line) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: domain.OrderPlaced{OrderID: id, CustomerID: customer, Currency: "EUR", Lines: lines, PlacedAt: t0}}
}

func on(id string, e domain.Event) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: e}
}

func line(sku string, q, price int64) domain.Line {
	return domain.Line{SKU: sku, Quantity: q, UnitPrice: price}
}

var (
	paid      = domain.OrderPaid{Amount: 1, PaymentRef: "p", PaidAt: t1}
	shipped   = domain.OrderShipped{Carrier: "c", Tracking: "t", ShippedAt: t1}
	cancelled = domain.OrderCancelled{Reason: "changed mind", RefundedAmount: 1, CancelledAt: t1}
)

// apply applies given in batches of size (all at once if 0) to fresh
// tables.
func apply(t *testing.T, given []recorded, size int) *sql.DB {
	t.Helper()
	db := readmodeltest.OpenDB(t, orderlist.Projection{}.Schema(prefix)+orderlist.Projection{}.Indexes(prefix))
	if n, err := readmodeltest.Apply(t, db, orderlist.Projection{}.Apply, prefix, readmodeltest.Events(t, given), size); err != nil {
		t.Fatalf("Apply = %d, %v", n, err)
	}
	return db
}

func list(t *testing.T, db *sql.DB, f orderlist.Filter) orderlist.Page {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	if f.Limit == 0 {
		f.Limit = 100
	}
	p, err := orderlist.List(t.Context(), tx, prefix, f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compact(s string) string { return strings.NewReplacer("\n", "", "\t", "").Replace(s) }

func TestProjection_Apply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []recorded
		want  string
	}{
		{name: "Empty", want: `[]`},
		{name: "Placed", given: []recorded{placed("o1", "c1", line("A", 2, 500), line("B", 1, 3))},
			want: `[{"id":"o1","customer_id":"c1","status":"placed","currency":"EUR","total":1003,"line_count":2,"version":0,"position":1,
			"placed_at":"2026-03-01T10:00:00Z","paid_at":null,"shipped_at":null,"cancelled_at":null,"cancel_reason":""}]`},
		{name: "Lifecycle", given: []recorded{
			placed("o1", "c1", line("A", 2, 500)),
			placed("o2", "c2", line("A", 1, 500)),
			on("o1", domain.OrderLineAdded{SKU: "B", Quantity: 3, UnitPrice: 10}),
			on("o1", domain.OrderLineAdded{SKU: "A", Quantity: 1, UnitPrice: 500}),
			on("o2", cancelled),
			on("o1", domain.OrderLineRemoved{SKU: "B"}),
			on("o1", paid), on("o1", shipped),
			placed("o3", "c1", line("C", 1, 7)),
			on("o3", paid), on("o3", cancelled),
		}, want: `[{"id":"o1","customer_id":"c1","status":"shipped","currency":"EUR","total":1500,"line_count":1,"version":5,"position":8,
			"placed_at":"2026-03-01T10:00:00Z","paid_at":"2026-03-02T10:30:00.0000005Z","shipped_at":"2026-03-02T10:30:00.0000005Z","cancelled_at":null,"cancel_reason":""},
			{"id":"o2","customer_id":"c2","status":"cancelled","currency":"EUR","total":500,"line_count":1,"version":1,"position":5,
			"placed_at":"2026-03-01T10:00:00Z","paid_at":null,"shipped_at":null,"cancelled_at":"2026-03-02T10:30:00.0000005Z","cancel_reason":"changed mind"},
			{"id":"o3","customer_id":"c1","status":"cancelled","currency":"EUR","total":7,"line_count":1,"version":2,"position":11,
			"placed_at":"2026-03-01T10:00:00Z","paid_at":"2026-03-02T10:30:00.0000005Z","shipped_at":null,"cancelled_at":"2026-03-02T10:30:00.0000005Z","cancel_reason":"changed mind"}]`},
		{name: "StockReceiptsIgnored", given: []recorded{
			{Stream: domain.StockStream("A"), Event: domain.StockReceived{SKU: "A", Quantity: 5, ReceivedAt: t0}},
		}, want: `[]`},
	}
	for _, tt := range tests {
		for _, size := range []int{0, 1, 2, 3} {
			t.Run(fmt.Sprintf("%s/BatchesOf%d", tt.name, size), func(t *testing.T) {
				t.Parallel()
				db := apply(t, tt.given, size)
				if got, want := asJSON(t, list(t, db, orderlist.Filter{}).Orders), compact(tt.want); got != want {
					t.Errorf("orders\n got %s\nwant %s", got, want)
				}
			})
		}
	}
}

func TestProjection_ApplyRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		given   []recorded
		wantN   int
		wantErr string
		want    []string // the orders listed after the events before the refused one
	}{
		{name: "NotPlaced", given: []recorded{placed("o1", "c"), on("o2", paid)}, wantN: 1, wantErr: "order o2 is not open", want: []string{"o1"}},
		{name: "PlacedTwice", given: []recorded{placed("o1", "c"), placed("o1", "c")}, wantN: 1, wantErr: "already placed", want: []string{"o1"}},
		{name: "AfterShipped", given: []recorded{placed("o1", "c"), on("o1", paid), on("o1", shipped), on("o1", cancelled)},
			wantN: 3, wantErr: "order o1 is not open", want: []string{"o1"}},
		{name: "OrderEventOutsideOrderStream", given: []recorded{placed("o1", "c"), {Stream: "stock-A", Event: paid}},
			wantN: 1, wantErr: "not an order stream", want: []string{"o1"}},
		{name: "FirstEvent", given: []recorded{on("o1", shipped)}, wantN: 0, wantErr: "not open", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := readmodeltest.OpenDB(t, orderlist.Projection{}.Schema(prefix)+orderlist.Projection{}.Indexes(prefix))
			n, err := readmodeltest.Apply(t, db, orderlist.Projection{}.Apply, prefix, readmodeltest.Events(t, tt.given), 0)
			if n != tt.wantN || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Apply = %d, %v; want %d, %q", n, err, tt.wantN, tt.wantErr)
			}
			if got := ids(list(t, db, orderlist.Filter{}).Orders); asJSON(t, got) != asJSON(t, tt.want) {
				t.Errorf("orders %v, want %v", got, tt.want)
			}
		})
	}
}

func ids(orders []orderlist.Summary) []string {
	out := []string{}
	for _, o := range orders {
		out = append(out, o.ID)
	}
	return out
}

func TestList_Filters(t *testing.T) {
	t.Parallel()
	db := apply(t, []recorded{
		placed("o1", "c1", line("A", 1, 1)),
		placed("o2", "c2", line("A", 1, 1)),
		placed("o3", "c1", line("A", 1, 1)),
		placed("o4", "c1", line("A", 1, 1)),
		on("o1", paid), on("o2", paid), on("o3", cancelled), on("o2", shipped),
		placed("o5", "c2", line("A", 1, 1)),
	}, 0)
	tests := []struct {
		f    orderlist.Filter
		want string
	}{
		{orderlist.Filter{}, `["o1","o2","o3","o4","o5"]`},
		{orderlist.Filter{CustomerID: "c1"}, `["o1","o3","o4"]`},
		{orderlist.Filter{CustomerID: "c2"}, `["o2","o5"]`},
		{orderlist.Filter{CustomerID: "nobody"}, `[]`},
		{orderlist.Filter{Status: domain.StatusPlaced}, `["o4","o5"]`},
		{orderlist.Filter{Status: domain.StatusPaid}, `["o1"]`},
		{orderlist.Filter{Status: domain.StatusShipped}, `["o2"]`},
		{orderlist.Filter{Status: domain.StatusCancelled}, `["o3"]`},
		{orderlist.Filter{CustomerID: "c1", Status: domain.StatusPlaced}, `["o4"]`},
		{orderlist.Filter{CustomerID: "c2", Status: domain.StatusPaid}, `[]`},
		{orderlist.Filter{CustomerID: "c1", Limit: 2}, `["o1","o3"]`},
		{orderlist.Filter{CustomerID: "c1", After: 3}, `["o4"]`}, // o3 was placed at position 3
	}
	for _, tt := range tests {
		if got := asJSON(t, ids(list(t, db, tt.f).Orders)); got != tt.want {
			t.Errorf("List(%+v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

// TestList_Paging pages through the list with each filter, a page at a
// time, and checks that the pages add up to the whole list.
func TestList_Paging(t *testing.T) {
	t.Parallel()
	var given []recorded
	for i := range 23 {
		id := fmt.Sprintf("o%02d", i)
		given = append(given, placed(id, fmt.Sprintf("c%d", i%3), line("A", 1, 1)))
		if i%4 == 0 {
			given = append(given, on(id, paid))
		}
	}
	db := apply(t, given, 5)
	for _, f := range []orderlist.Filter{{}, {CustomerID: "c1"}, {Status: domain.StatusPaid}, {CustomerID: "c0", Status: domain.StatusPlaced}} {
		all := ids(list(t, db, f).Orders)
		var paged []string
		f.Limit = 2
		for {
			p := list(t, db, f)
			if len(p.Orders) == 0 {
				if p.Next != f.After {
					t.Errorf("%+v: an empty page moves the cursor to %d", f, p.Next)
				}
				break
			}
			paged = append(paged, ids(p.Orders)...)
			f.After = p.Next
		}
		if asJSON(t, paged) != asJSON(t, all) {
			t.Errorf("%+v: pages %v, want %v", f, paged, all)
		}
	}
}
