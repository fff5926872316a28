package sagas_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodeltest"
	"github.com/orderstore/orderstore/projections/sagas"
)

const prefix = "t_"

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type recorded = readmodeltest.Recorded

func placed(id string, reserve bool, skus ...string) recorded {
	var lines []domain.Line
	for _, sku := range skus {
		lines = append(lines, domain.Line{SKU: sku, Quantity: 1, UnitPrice: 100})
	}
	return recorded{Stream: domain.OrderStream(id), Event: domain.OrderPlaced{OrderID: id, CustomerID: "c", Currency: "EUR",
		Lines: lines, PlacedAt: t0, ReserveStock: reserve}}
}

func on(id string, e domain.Event) recorded {
	return recorded{Stream: domain.OrderStream(id), Event: e}
}

func stockEv(sku string, e domain.Event) recorded {
	return recorded{Stream: domain.StockStream(sku), Event: e}
}

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// flow: o-1 reserved then paid and shipped; o-2 refused and rejected; o-3
// reserved, unpaid; o-4 a track order; o-5 reserved, then a line added.
var flow = []recorded{
	stockEv("A", domain.StockReceived{SKU: "A", Quantity: 3, ReceivedAt: t0}),
	placed("o-1", true, "A"),
	stockEv("A", domain.StockReserved{SKU: "A", OrderID: "o-1", Quantity: 1, ReservedAt: at(1)}),
	on("o-1", domain.OrderStockReserved{ReservedAt: at(1)}),
	on("o-1", domain.OrderPaid{Amount: 100, PaymentRef: "p", PaidAt: at(2)}),
	on("o-1", domain.OrderShipped{Carrier: "c", Tracking: "t", ShippedAt: at(3)}),
	stockEv("A", domain.StockShipped{SKU: "A", OrderID: "o-1", Quantity: 1, ShippedAt: at(3)}),
	placed("o-2", true, "A", "B"),
	stockEv("A", domain.StockReserved{SKU: "A", OrderID: "o-2", Quantity: 1, ReservedAt: at(4)}),
	stockEv("B", domain.StockReservationRefused{SKU: "B", OrderID: "o-2", Requested: 1, RefusedAt: at(4)}),
	stockEv("A", domain.StockReleased{SKU: "A", OrderID: "o-2", Quantity: 1, Reason: domain.ReleaseRejected, ReleasedAt: at(4)}),
	on("o-2", domain.OrderRejected{Reason: domain.RejectOutOfStock, Short: []domain.Shortage{{SKU: "B", Requested: 1}}, RejectedAt: at(4)}),
	placed("o-3", true, "A"),
	stockEv("A", domain.StockReserved{SKU: "A", OrderID: "o-3", Quantity: 1, ReservedAt: at(5)}),
	on("o-3", domain.OrderStockReserved{ReservedAt: at(5)}),
	placed("o-4", false, "A"),
	placed("o-5", true, "A"),
	stockEv("A", domain.StockReserved{SKU: "A", OrderID: "o-5", Quantity: 1, ReservedAt: at(6)}),
	on("o-5", domain.OrderStockReserved{ReservedAt: at(6)}),
	on("o-5", domain.OrderLineAdded{SKU: "C", Quantity: 1, UnitPrice: 100}),
}

func TestProjection(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 1, 2, 3} {
		t.Run(fmt.Sprint("BatchesOf", size), func(t *testing.T) {
			t.Parallel()
			db := readmodeltest.OpenDB(t, sagas.Projection{}.Schema(prefix)+sagas.Projection{}.Indexes(prefix))
			events := readmodeltest.Events(t, flow)
			if _, err := readmodeltest.Apply(t, db, sagas.Projection{}.Apply, prefix, events, size); err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // read only

			want := map[string]string{
				"o-1": "shipped: place placed, reserve A reserved, record_reserved reserved, payment paid, shipment shipped, ship A shipped",
				"o-2": "rejected: place placed, reserve A reserved, reserve B refused, release A released, reject out_of_stock",
				"o-3": "reserved: place placed, reserve A reserved, record_reserved reserved",
				"o-5": "reserving: place placed, reserve A reserved, record_reserved reserved, line_added C pending",
			}
			for id, w := range want {
				s, err := sagas.Get(t.Context(), tx, prefix, id)
				if err != nil {
					t.Fatal(err)
				}
				var steps []string
				for _, st := range s.Steps {
					steps = append(steps, strings.Join(strings.Fields(st.Step+" "+st.SKU+" "+st.Result), " "))
					if st.EventID == "" || st.At.IsZero() {
						t.Errorf("%s step %+v without event or time", id, st)
					}
				}
				if got := s.State + ": " + strings.Join(steps, ", "); got != w {
					t.Errorf("%s:\n got %s\nwant %s", id, got, w)
				}
			}
			if _, err := sagas.Get(t.Context(), tx, prefix, "o-4"); err == nil {
				t.Error("a track order has a saga")
			}
			due, err := sagas.PaymentsDue(t.Context(), tx, prefix, at(5), 10)
			if err != nil || fmt.Sprint(due) != "[o-3]" {
				t.Errorf("PaymentsDue(reserved by minute 5) = %v, %v; want [o-3]", due, err)
			}
			if due, _ := sagas.PaymentsDue(t.Context(), tx, prefix, at(4), 10); len(due) != 0 {
				t.Errorf("PaymentsDue(reserved by minute 4) = %v", due)
			}
			sum, err := sagas.Summarize(t.Context(), tx, prefix)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(sum.ByState) != "map[cancelled:0 compensating:0 rejected:1 reserved:1 reserving:1 shipped:1]" || !sum.OldestPending.Equal(t0) {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}
