package readmodel_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
	"github.com/orderstore/orderstore/projections/internal/readmodeltest"
)

// replica applies order events to one orders table through LoadOrders,
// Evolve and Flush, as the projections do, keeping the states it saw.
type replica struct {
	db     *sql.DB
	tables *readmodel.Tables
	seen   []domain.Order // the state each event found, in order
}

// apply applies events in one transaction, committed or rolled back, and
// reports the outcome to the Tables as told: an ambiguous commit is one
// that happened or not, reported as Unknown.
func (r *replica) apply(t *testing.T, events []readmodel.Event, commit bool, report readmodel.Outcome) {
	t.Helper()
	tx, err := r.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	orders, err := readmodel.LoadOrders(t.Context(), tx, r.tables, events)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		id, err := readmodel.OrderID(ev.Stream)
		if err != nil {
			t.Fatal(err)
		}
		before := orders.Get(id)
		r.seen = append(r.seen, before)
		orders.Put(id, domain.Evolve(before, ev.Payload))
	}
	if err := orders.Flush(t.Context(), tx); err != nil {
		t.Fatal(err)
	}
	if commit {
		err = tx.Commit()
	} else {
		err = tx.Rollback()
	}
	if err != nil {
		t.Fatal(err)
	}
	r.tables.Done(report)
}

// rows returns the table's content.
func (r *replica) rows(t *testing.T) map[string][]byte {
	t.Helper()
	rows, err := r.db.Query(`SELECT id, state FROM t_orders`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string][]byte{}
	for rows.Next() {
		var (
			id    string
			state []byte
		)
		if err := rows.Scan(&id, &state); err != nil {
			t.Fatal(err)
		}
		m[id] = state
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// randomOrderEvents returns n events of a few orders at a time, each
// fitting its order's state, so that orders open, change and end.
func randomOrderEvents(t *testing.T, r *rand.Rand, n int) []readmodeltest.Recorded {
	state := map[string]domain.Order{}
	var out []readmodeltest.Recorded
	for next := 0; len(out) < n; {
		id := fmt.Sprintf("o%d", r.IntN(next+1))
		o := state[id]
		var e domain.Event
		switch {
		case !o.Exists():
			id = fmt.Sprintf("o%d", next)
			next++
			e = domain.OrderPlaced{OrderID: id, Currency: "EUR", Lines: []domain.Line{{SKU: "A", Quantity: 1, UnitPrice: 5}}}
		case r.IntN(3) == 0:
			e = domain.OrderLineAdded{SKU: fmt.Sprintf("S%d", r.IntN(4)), Quantity: 1, UnitPrice: 3}
		case o.Status == domain.StatusPlaced && r.IntN(2) == 0:
			e = domain.OrderPaid{Amount: o.Total()}
		case o.Status == domain.StatusPaid && r.IntN(2) == 0:
			e = domain.OrderShipped{Carrier: "c"}
		default:
			e = domain.OrderCancelled{}
		}
		state[id] = domain.Evolve(o, e)
		out = append(out, readmodeltest.Recorded{Stream: domain.OrderStreamPrefix + id, Event: e})
	}
	return out
}

// The cache of open orders must never change what a projection sees or
// writes: replicas with caches of several sizes, some starting from a
// table they are told is empty, one that stops caching halfway, apply the
// same random batches (some rolled back and applied again, some with a
// commit of unknown outcome) and must agree with a replica without cache.
func TestTables_CacheChangesNothing(t *testing.T) {
	t.Parallel()
	const schema = `CREATE TABLE t_orders (id TEXT PRIMARY KEY, state BLOB NOT NULL) STRICT, WITHOUT ROWID;`
	replicas := []*replica{
		{tables: readmodel.NewTables("t_", false, 0)},    // no cache: the reference
		{tables: readmodel.NewTables("t_", true, 400)},   // evicts all the time
		{tables: readmodel.NewTables("t_", true, 6000)},  // evicts now and then
		{tables: readmodel.NewTables("t_", false, 6000)}, // must look up what it lacks
		{tables: readmodel.NewTables("t_", true, 1e8)},   // never evicts, never looks up
		{tables: readmodel.NewTables("t_", true, 1e8)},   // the same, until it stops caching
	}
	stopping := replicas[len(replicas)-1]
	for _, rep := range replicas {
		rep.db = readmodeltest.OpenDB(t, schema)
	}
	r := rand.New(rand.NewPCG(7, 8))
	events := readmodeltest.Events(t, randomOrderEvents(t, r, 3000))
	half := len(events) / 2
	for len(events) > 0 {
		if len(events) <= half {
			stopping.tables.StopCaching()
		}
		batch := events[:min(len(events), 1+r.IntN(40))]
		rollback, ambiguous := r.IntN(5) == 0, r.IntN(7) == 0
		for _, rep := range replicas {
			if rollback {
				seen := len(rep.seen)
				outcome := readmodel.RolledBack
				if ambiguous {
					outcome = readmodel.Unknown // a failed commit that did not happen
				}
				rep.apply(t, batch, false, outcome)
				rep.seen = rep.seen[:seen]
			}
			outcome := readmodel.Committed
			if ambiguous && !rollback {
				outcome = readmodel.Unknown // a failed commit that did happen
			}
			rep.apply(t, batch, true, outcome)
		}
		events = events[len(batch):]
	}
	want := replicas[0]
	for i, rep := range replicas[1:] {
		if !reflect.DeepEqual(rep.seen, want.seen) {
			for j := range rep.seen {
				if !reflect.DeepEqual(rep.seen[j], want.seen[j]) {
					t.Fatalf("replica %d: event %d found %+v, want %+v", i+1, j, rep.seen[j], want.seen[j])
				}
			}
		}
		if got, want := rep.rows(t), want.rows(t); !reflect.DeepEqual(got, want) {
			t.Errorf("replica %d: table holds %d orders, want %d (or different states)", i+1, len(got), len(want))
		}
	}
	if len(want.rows(t)) == 0 {
		t.Fatal("no order left open: the workload tests little")
	}
}
