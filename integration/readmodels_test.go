package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ory/dockertest/v3"

	"github.com/orderstore/orderstore/domain"
)

// TestContainer_ReadModels crashes the service under load and requires the
// read models it rebuilds on restart to match an offline
// `orderstore rebuild --projection all` over the same volume, and to agree
// with the event log.
func TestContainer_ReadModels(t *testing.T) {
	p := requireDocker(t)
	t.Parallel()
	network, volume := newNetwork(t, p), newVolume(t, p)
	s := startService(t, p, network, volume)

	r := s.call(http.MethodGet, "/projections", nil)
	if r.isProblem(http.StatusServiceUnavailable, "read_models_unavailable") {
		t.Skip("read models not wired into this build yet")
	}
	r.want(t, http.StatusOK, nil)

	l := startLoad(t, s, 6, 300)
	l.waitTarget()
	l.halt(func() { s.signal(0) }) // SIGKILL: projections die mid-batch
	if code := s.wait(); code != 137 {
		t.Errorf("exit code %d after SIGKILL, want 137", code)
	}
	s.start()
	log := readLog(t, s)
	checkAcked(t, s, l, log)
	head := uint64(len(log))

	before := readModels(t, s, head)
	checkAgainstLog(t, before, log)
	checkProjections(t, s, head)

	// Offline rebuild on the same volume: the service must be stopped (the
	// store is locked by one process at a time).
	s.stop()
	repository, tag := orderstoreImage(t, p)
	rb := runContainer(t, p, &dockertest.RunOptions{
		Name:       uniqueName("orderstore-it-rebuild"),
		Repository: repository,
		Tag:        tag,
		Networks:   []*dockertest.Network{network},
		Mounts:     []string{volume + ":/data"},
		Cmd:        []string{"rebuild", "--data", "/data", "--projection", "all"},
	})
	if code := waitExit(t, p, rb); code != 0 {
		t.Fatalf("orderstore rebuild exited with code %d:\n%s", code, containerLogs(p, rb))
	}

	s.start()
	after := readModels(t, s, head)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("read models after the crash differ from an offline rebuild:\nstock     %s\nrebuilt   %s\nanalytics %s\nrebuilt   %s",
			before.Stock, after.Stock, before.Analytics, after.Analytics)
	}
	checkProjections(t, s, head)
	t.Logf("read models at position %d equal after an offline rebuild: stock %.300s…; analytics %.300s…", head, after.Stock, after.Analytics)
}

// models holds the contract fields (DESIGN §6) of the stock and analytics
// read models, as canonical JSON values.
type models struct {
	Stock     string // items, sorted by SKU, contract fields only
	Analytics string // every contract field
}

// readModels reads GET /stock and GET /analytics at min_position head.
func readModels(t *testing.T, s *service, head uint64) models {
	t.Helper()
	var stock struct {
		Items []map[string]any `json:"items"`
	}
	s.get(fmt.Sprintf("/stock?min_position=%d", head), &stock)
	items := make([]map[string]any, len(stock.Items))
	for i, it := range stock.Items {
		items[i] = map[string]any{}
		for _, k := range []string{"sku", "received", "reserved", "shipped", "on_hand", "available"} {
			v, ok := it[k]
			if !ok {
				t.Errorf("GET /stock: item without %q: %v", k, it)
			}
			items[i][k] = v
		}
	}
	slices.SortFunc(items, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["sku"]), fmt.Sprint(b["sku"]))
	})
	var analytics map[string]any
	s.get(fmt.Sprintf("/analytics?min_position=%d", head), &analytics)
	contract := map[string]any{}
	for _, k := range []string{"orders_by_status", "orders_total", "cancellation_rate", "revenue", "top_skus", "daily"} {
		v, ok := analytics[k]
		if !ok {
			t.Errorf("GET /analytics: no %q", k)
		}
		contract[k] = v
	}
	return models{Stock: canonical(t, items), Analytics: canonical(t, contract)}
}

func canonical(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkAgainstLog recomputes from the event log what the contract defines
// exactly: per SKU received, reserved (in placed or paid orders), shipped,
// on_hand and available, and the orders by status.
func checkAgainstLog(t *testing.T, m models, log []feedEvent) {
	t.Helper()
	type orderState struct {
		status string
		qty    map[string]int64
	}
	orders := map[string]*orderState{}
	received := map[string]int64{}
	for _, e := range log {
		var d struct {
			SKU      string `json:"sku"`
			Quantity int64  `json:"quantity"`
			Lines    []line `json:"lines"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("event %d: %v", e.Position, err)
		}
		o := orders[e.Stream]
		switch e.Type {
		case domain.TypeStockReceived:
			received[d.SKU] += d.Quantity
		case domain.TypeOrderPlaced:
			o = &orderState{status: "placed", qty: map[string]int64{}}
			orders[e.Stream] = o
			for _, l := range d.Lines {
				o.qty[l.SKU] += l.Quantity
			}
		case domain.TypeOrderLineAdded:
			o.qty[d.SKU] += d.Quantity
		case domain.TypeOrderLineRemoved:
			delete(o.qty, d.SKU)
		case domain.TypeOrderPaid:
			o.status = "paid"
		case domain.TypeOrderShipped:
			o.status = "shipped"
		case domain.TypeOrderCancelled:
			o.status = "cancelled"
		}
	}
	type item struct {
		SKU                                            string
		Received, Reserved, Shipped, OnHand, Available int64
	}
	want := map[string]*item{}
	at := func(sku string) *item {
		if want[sku] == nil {
			want[sku] = &item{SKU: sku}
		}
		return want[sku]
	}
	byStatus := map[string]int64{"placed": 0, "paid": 0, "shipped": 0, "cancelled": 0, "rejected": 0}
	for sku, q := range received {
		at(sku).Received += q
	}
	for _, o := range orders {
		byStatus[o.status]++
		for sku, q := range o.qty {
			switch o.status {
			case "placed", "paid":
				at(sku).Reserved += q
			case "shipped":
				at(sku).Shipped += q
			}
		}
	}

	var items []struct {
		SKU       string `json:"sku"`
		Received  int64  `json:"received"`
		Reserved  int64  `json:"reserved"`
		Shipped   int64  `json:"shipped"`
		OnHand    int64  `json:"on_hand"`
		Available int64  `json:"available"`
	}
	if err := json.Unmarshal([]byte(m.Stock), &items); err != nil {
		t.Fatalf("stock items %s: %v", m.Stock, err)
	}
	seen := map[string]bool{}
	for _, it := range items {
		seen[it.SKU] = true
		w := at(it.SKU)
		w.OnHand, w.Available = w.Received-w.Shipped, w.Received-w.Shipped-w.Reserved
		got := item{it.SKU, it.Received, it.Reserved, it.Shipped, it.OnHand, it.Available}
		if got != *w {
			t.Errorf("GET /stock %s: %+v, the log says %+v", it.SKU, got, *w)
		}
	}
	for sku := range want {
		if !seen[sku] {
			t.Errorf("GET /stock: no item for %s, which the log has", sku)
		}
	}

	var a struct {
		OrdersByStatus map[string]int64 `json:"orders_by_status"`
		OrdersTotal    int64            `json:"orders_total"`
	}
	if err := json.Unmarshal([]byte(m.Analytics), &a); err != nil {
		t.Fatalf("analytics %s: %v", m.Analytics, err)
	}
	if !reflect.DeepEqual(a.OrdersByStatus, byStatus) || a.OrdersTotal != int64(len(orders)) {
		t.Errorf("GET /analytics: orders_by_status %v, orders_total %d; the log says %v, %d",
			a.OrdersByStatus, a.OrdersTotal, byStatus, len(orders))
	}
}

// checkProjections requires every projection to have reached head, without
// an error.
func checkProjections(t *testing.T, s *service, head uint64) {
	t.Helper()
	var st struct {
		Projections []struct {
			Name      string `json:"name"`
			Position  uint64 `json:"position"`
			State     string `json:"state"`
			LastError string `json:"last_error"`
		} `json:"projections"`
	}
	s.get("/projections", &st)
	if len(st.Projections) == 0 {
		t.Fatal("GET /projections: none")
	}
	for _, p := range st.Projections {
		if p.Position < head || p.LastError != "" || p.State == "failed" {
			t.Errorf("projection %s: position %d (head %d), state %q, last error %q", p.Name, p.Position, head, p.State, p.LastError)
		}
	}
}
