package projections

import (
	"context"
	"database/sql"

	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/correlations"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
	"github.com/orderstore/orderstore/projections/orderlist"
	"github.com/orderstore/orderstore/projections/sagas"
	"github.com/orderstore/orderstore/projections/stock"
)

// projection is what the runner needs of a read model; stock.Projection,
// analytics.Projection and orderlist.Projection implement it.
type projection interface {
	// Name identifies the projection in checkpoints, status and table names.
	Name() string
	// Version changes when the tables or rules change; a stored read model
	// of another version is rebuilt.
	Version() int
	// Handles reports whether Apply needs events of type eventType; the
	// runner decodes only those.
	Handles(eventType string) bool
	// Schema returns the DDL creating the tables named with prefix.
	Schema(prefix string) string
	// Indexes returns the DDL creating the secondary indexes of those
	// tables, "" if none. A rebuild creates them after its replay: one
	// index built over a full table costs less than one kept up to date
	// row by row. Tables that serve while they fill get them at once.
	Indexes(prefix string) string
	// Apply applies events to the tables t within tx and returns
	// len(events), or the index n of an event it cannot apply and why: tx
	// then holds exactly the effects of events[:n] if n > 0, and must be
	// rolled back if n == 0. The caller tells t.Done whether tx committed.
	Apply(ctx context.Context, tx *sql.Tx, t *readmodel.Tables, events []readmodel.Event) (int, error)
}

// recordedTaker is implemented by a projection that takes every event of
// $all as recorded, whatever its type (its Handles is not asked): an
// index of where events are, which never fails on a payload. Payload is
// set only where another projection needed the event decoded.
type recordedTaker interface {
	TakesRecorded() bool
}

// takesRecorded reports whether p takes every event as recorded.
func takesRecorded(p projection) bool {
	t, ok := p.(recordedTaker)
	return ok && t.TakesRecorded()
}

var (
	_ projection = stock.Projection{}
	_ projection = analytics.Projection{}
	_ projection = orderlist.Projection{}
	_ projection = sagas.Projection{}
	_ projection = correlations.Projection{}

	_ recordedTaker = correlations.Projection{}
)

// builtin returns the projections a Manager runs: the read models, and
// the correlation index when opts asks for it.
func builtin(opts Options) []projection {
	ps := []projection{stock.Projection{}, analytics.Projection{}, orderlist.Projection{}, sagas.Projection{}}
	if opts.CorrelationIndex {
		ps = append(ps, correlations.Projection{})
	}
	return ps
}

// State is the state of a projection.
type State string

// The states of a projection.
const (
	// StateCatchingUp: applying events recorded before it started, not yet
	// at the head of $all.
	StateCatchingUp State = "catching-up"
	// StateLive: has reached the head of $all and applies new events as
	// they are committed.
	StateLive State = "live"
	// StateRebuilding: filling shadow tables from the start of $all (an
	// online rebuild; the live tables keep serving), or refilling its
	// tables after a version change.
	StateRebuilding State = "rebuilding"
	// StateFailed: stopped at an event it cannot apply, or found that its
	// checkpoint belongs to another event store (a reset or a different
	// one). A rebuild retries (and is the way out of the second); a
	// restart retries the first.
	StateFailed State = "failed"
)
