package traces

import (
	"context"
	"fmt"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections"
)

// StatusReader is what Projections needs of the read models.
type StatusReader interface {
	Status(ctx context.Context) ([]projections.Status, error)
}

// Projections is the Source of the read models: a node per event and
// projection, kind "projection", ID "<event id>/<projection>", whose
// Applied tells whether the projection's checkpoint is at or past the
// event. What is exact and what is not: Applied is exact (a checkpoint
// commits with the read-model changes of every event up to it). At is the
// time of the projection's last checkpoint commit, so it is when the event
// was applied only for the events of that last batch; for older events it
// is a bound (the event was applied at or before it), and AtExact says
// which. A node of an event not yet applied has no At.
type Projections struct {
	Models StatusReader
}

// TraceNodes implements Source.
func (p Projections) TraceNodes(ctx context.Context, _ string, events []eventstore.RecordedEvent) ([]Node, error) {
	status, err := p.Models.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections status: %w", err)
	}
	nodes := make([]Node, 0, len(events)*len(status))
	for _, e := range events {
		id := e.ID.String()
		for _, st := range status {
			applied := st.Position >= e.Position && st.Position != 0
			n := Node{ID: id + "/" + st.Name, Parent: ptr(id), Kind: KindProjection, Name: st.Name,
				Applied: &applied, State: string(st.State)}
			if applied {
				at := st.UpdatedAt
				// Exact only if the event is the checkpoint's own: no
				// later event can have been applied with it.
				exact := st.Position == e.Position
				n.At, n.AtExact = &at, &exact
			}
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}
