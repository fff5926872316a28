package stock_test

import (
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
	"github.com/orderstore/orderstore/projections/internal/readmodeltest"
	"github.com/orderstore/orderstore/projections/stock"

	_ "modernc.org/sqlite"
)

const prefix = "t_"

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// recorded is an event as the store would deliver it.
type recorded = readmodeltest.Recorded

func placed(id string, lines ...domain.Line) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: domain.OrderPlaced{OrderID: id, CustomerID: "c1", Currency: "EUR", Lines: lines, PlacedAt: t0}}
}

// reserving is an order placed under the reserve stock policy.
func reserving(id string, lines ...domain.Line) recorded {
	r := placed(id, lines...)
	p := r.Event.(domain.OrderPlaced)
	p.ReserveStock = true
	r.Event = p
	return r
}

func stockEv(sku string, e domain.Event) recorded {
	return recorded{Stream: domain.StockStream(sku), Event: e}
}

func on(id string, e domain.Event) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: e}
}

func received(sku string, q int64) recorded {
	return recorded{Stream: domain.StockStream(sku), Event: domain.StockReceived{SKU: sku, Quantity: q, ReceivedAt: t0}}
}

func line(sku string, q int64) domain.Line { return domain.Line{SKU: sku, Quantity: q, UnitPrice: 100} }

var (
	paid      = domain.OrderPaid{Amount: 1, PaymentRef: "p", PaidAt: t0}
	shipped   = domain.OrderShipped{Carrier: "c", Tracking: "t", ShippedAt: t0}
	cancelled = domain.OrderCancelled{Reason: "r", CancelledAt: t0}
)

func decode(t *testing.T, given []recorded) []readmodel.Event { return readmodeltest.Events(t, given) }

func openDB(t *testing.T) *sql.DB { return readmodeltest.OpenDB(t, stock.Projection{}.Schema(prefix)) }

// apply applies events in batches of size (all at once if 0) and returns
// Apply's result for the last batch.
func apply(t *testing.T, db *sql.DB, events []readmodel.Event, size int) (int, error) {
	return readmodeltest.Apply(t, db, stock.Projection{}.Apply, prefix, events, size)
}

func items(t *testing.T, db *sql.DB) []stock.Item {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	got, err := stock.Items(t.Context(), tx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// item builds the expected figures of a SKU.
func item(sku string, received, reserved, shipped int64) stock.Item {
	return stock.Item{SKU: sku, Received: received, Reserved: reserved, Shipped: shipped,
		OnHand: received - shipped, Available: received - shipped - reserved}
}

func TestProjection_Apply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given []recorded
		want  []stock.Item
	}{
		{name: "Empty", want: []stock.Item{}},
		{name: "Receipts", given: []recorded{received("A", 10), received("B", 1), received("A", 5)},
			want: []stock.Item{item("A", 15, 0, 0), item("B", 1, 0, 0)}},
		{name: "PlacedReserves", given: []recorded{received("A", 10), placed("o1", line("A", 3), line("B", 2))},
			want: []stock.Item{item("A", 10, 3, 0), item("B", 0, 2, 0)}}, // B oversold: available −2
		{name: "PaidStaysReserved", given: []recorded{placed("o1", line("A", 3)), on("o1", paid)},
			want: []stock.Item{item("A", 0, 3, 0)}},
		{name: "ShippedMovesToShipped", given: []recorded{received("A", 10), placed("o1", line("A", 3), line("B", 1)), on("o1", paid), on("o1", shipped)},
			want: []stock.Item{item("A", 10, 0, 3), item("B", 0, 0, 1)}},
		{name: "CancelPlacedReleases", given: []recorded{placed("o1", line("A", 3)), on("o1", cancelled)},
			want: []stock.Item{item("A", 0, 0, 0)}},
		{name: "CancelPaidReleases", given: []recorded{placed("o1", line("A", 3)), on("o1", paid), on("o1", cancelled)},
			want: []stock.Item{item("A", 0, 0, 0)}},
		{name: "LineAddedToExisting", given: []recorded{placed("o1", line("A", 3)), on("o1", domain.OrderLineAdded{SKU: "A", Quantity: 2, UnitPrice: 100})},
			want: []stock.Item{item("A", 0, 5, 0)}},
		{name: "LineAddedAndRemoved", given: []recorded{
			placed("o1", line("A", 3)),
			on("o1", domain.OrderLineAdded{SKU: "B", Quantity: 4, UnitPrice: 100}),
			on("o1", domain.OrderLineRemoved{SKU: "A"}),
			on("o1", paid), on("o1", shipped),
		}, want: []stock.Item{item("A", 0, 0, 0), item("B", 0, 0, 4)}},
		{name: "ReserveFollowsStockEvents", given: []recorded{
			received("A", 10),
			reserving("o1", line("A", 3), line("B", 2)), // nothing until the saga reserves
			stockEv("A", domain.StockReserved{SKU: "A", OrderID: "o1", Quantity: 3}),
			stockEv("B", domain.StockReservationRefused{SKU: "B", OrderID: "o1", Requested: 2}),
			stockEv("A", domain.StockReleased{SKU: "A", OrderID: "o1", Quantity: 3, Reason: domain.ReleaseRejected}),
			on("o1", domain.OrderRejected{Reason: domain.RejectOutOfStock}),
			reserving("o2", line("A", 4)),
			stockEv("A", domain.StockReserved{SKU: "A", OrderID: "o2", Quantity: 4}),
			on("o2", domain.OrderStockReserved{}), on("o2", paid), on("o2", shipped),
			stockEv("A", domain.StockShipped{SKU: "A", OrderID: "o2", Quantity: 4}),
			reserving("o3", line("A", 1)),
			stockEv("A", domain.StockReserved{SKU: "A", OrderID: "o3", Quantity: 1}),
		}, want: []stock.Item{item("A", 10, 1, 4), item("B", 0, 0, 0)}},
		{name: "SeveralOrders", given: []recorded{
			received("A", 10),
			placed("o1", line("A", 3)), placed("o2", line("A", 4)), placed("o3", line("A", 5)),
			on("o1", paid), on("o1", shipped), on("o2", cancelled),
		}, want: []stock.Item{item("A", 10, 5, 3)}},
	}
	for _, tt := range tests {
		for _, size := range []int{0, 1, 2} {
			name := tt.name
			if size > 0 {
				name += "/BatchesOf" + string(rune('0'+size))
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				db := openDB(t)
				events := decode(t, tt.given)
				if n, err := apply(t, db, events, size); err != nil || (size == 0 && n != len(events)) {
					t.Fatalf("Apply = %d, %v", n, err)
				}
				if got := items(t, db); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("items\n got %+v\nwant %+v", got, tt.want)
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
		want    []stock.Item // the effect of the events before the refused one
	}{
		{name: "NotPlaced", given: []recorded{placed("o1", line("A", 1)), on("o2", paid)},
			wantN: 1, wantErr: "order o2 is not open", want: []stock.Item{item("A", 0, 1, 0)}},
		{name: "PlacedTwice", given: []recorded{placed("o1", line("A", 1)), placed("o1", line("A", 1))},
			wantN: 1, wantErr: "already placed", want: []stock.Item{item("A", 0, 1, 0)}},
		{name: "AfterShipped", given: []recorded{placed("o1", line("A", 1)), on("o1", paid), on("o1", shipped), on("o1", cancelled)},
			wantN: 3, wantErr: "order o1 is not open", want: []stock.Item{item("A", 0, 0, 1)}},
		{name: "OrderEventOutsideOrderStream", given: []recorded{received("A", 1), {Stream: "stock-A", Event: paid}},
			wantN: 1, wantErr: "not an order stream", want: []stock.Item{item("A", 1, 0, 0)}},
		{name: "FirstEvent", given: []recorded{on("o1", shipped)}, wantN: 0, wantErr: "not open", want: []stock.Item{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openDB(t)
			n, err := apply(t, db, decode(t, tt.given), 0)
			if n != tt.wantN || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Apply = %d, %v; want %d, %q", n, err, tt.wantN, tt.wantErr)
			}
			if got := items(t, db); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("items\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	if _, err := apply(t, db, decode(t, []recorded{received("A", 3)}), 0); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	if got, err := stock.Get(t.Context(), tx, prefix, "A"); err != nil || got != item("A", 3, 0, 0) {
		t.Errorf("Get(A) = %+v, %v", got, err)
	}
	if _, err := stock.Get(t.Context(), tx, prefix, "B"); !errors.Is(err, stock.ErrNotFound) {
		t.Errorf("Get(B) error = %v, want ErrNotFound", err)
	}
}

func TestItemsAfter(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	if _, err := apply(t, db, decode(t, []recorded{received("C", 1), received("A", 1), received("B", 1), received("D", 1), received("E", 1)}), 0); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var (
		got   []string
		after string
		pages int
	)
	for {
		p, err := stock.ItemsAfter(t.Context(), tx, prefix, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range p.Items {
			got = append(got, it.SKU)
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if strings.Join(got, ",") != "A,B,C,D,E" || pages != 3 {
		t.Errorf("paged %v in %d pages", got, pages)
	}
	// A last page that is full still says it is the last.
	if p, err := stock.ItemsAfter(t.Context(), tx, prefix, "C", 2); err != nil || len(p.Items) != 2 || p.Next != "" {
		t.Errorf("ItemsAfter(C, 2) = %+v, %v", p, err)
	}
}
