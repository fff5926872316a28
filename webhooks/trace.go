package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/traces"
)

var _ traces.Source = (*Notifier)(nil)

// TraceNodes implements traces.Source: a node per recorded attempt to
// deliver one of the flow's events, kind "delivery", ID
// "delivery/<delivery id>/<n>" (n counts the delivery's attempts from 1),
// parent the delivered event, Name the endpoint's URL, State the
// delivery's state now, At the attempt's time; Detail holds endpoint_id,
// url, attempt, status, error (if any), duration_ms and event_id. A
// delivery without a row yet (its first attempt pending or in flight)
// adds nothing until its first outcome. Each event costs one primary-key
// lookup per endpoint.
func (n *Notifier) TraceNodes(ctx context.Context, _ string, events []eventstore.RecordedEvent) ([]traces.Node, error) {
	if len(events) == 0 {
		return nil, nil
	}
	endpoints, err := n.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("trace deliveries: %w", err)
	}
	var nodes []traces.Node
	for _, ep := range endpoints {
		for _, e := range events {
			var id, eventID, state, attempts string
			err := n.db.read.QueryRowContext(ctx, `SELECT id, event_id, state, attempts FROM deliveries WHERE endpoint = ? AND position = ?`,
				ep.ID, int64(e.Position)).Scan(&id, &eventID, &state, &attempts)
			if errors.Is(err, sql.ErrNoRows) || err == nil && eventID != e.ID.String() {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("trace deliveries of %s: %w", ep.ID, err)
			}
			var as []Attempt
			if err := json.Unmarshal([]byte(attempts), &as); err != nil {
				return nil, fmt.Errorf("trace delivery %s: %w", id, err)
			}
			for i, a := range as {
				at := a.At
				node := traces.Node{ID: fmt.Sprintf("delivery/%s/%d", id, i+1), Parent: &eventID, Kind: traces.KindDelivery,
					At: &at, Name: ep.URL, State: state, Detail: map[string]any{
						"endpoint_id": ep.ID, "url": ep.URL, "attempt": i + 1, "status": a.Status,
						"duration_ms": a.DurationMS, "event_id": eventID,
					}}
				if a.Error != "" {
					node.Detail["error"] = a.Error
				}
				nodes = append(nodes, node)
			}
		}
	}
	return nodes, nil
}
