package traces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections/sagas"
)

// FulfilmentReader is what Sagas needs of the read models.
type FulfilmentReader interface {
	// Fulfilment returns the saga of an order, or sagas.ErrNotFound.
	Fulfilment(ctx context.Context, orderID string) (sagas.Saga, uint64, error)
}

// Sagas is the Source of the fulfilment saga: a node per step the sagas
// read model records for the flow's orders, kind "saga", ID
// "saga/<order id>/<n>" (n counts the order's steps from 1), Name the
// step, State and Detail.result its result, Detail.sku and
// Detail.event_id what it concerned and wrote. At is the step's time as
// the saga recorded it. Its parent is the event that caused the event the
// step wrote, when that is in the flow (the saga writes with causation =
// its trigger), else the order's first event in the flow. Orders without
// a saga (placed under the track policy) add nothing.
type Sagas struct {
	Models FulfilmentReader
}

// TraceNodes implements Source.
func (s Sagas) TraceNodes(ctx context.Context, _ string, events []eventstore.RecordedEvent) ([]Node, error) {
	byID := make(map[string]eventstore.RecordedEvent, len(events))
	first := map[string]string{} // order ID → its first event in the flow
	var orders []string
	for _, e := range events {
		id := e.ID.String()
		byID[id] = e
		if order, ok := strings.CutPrefix(e.Stream, domain.OrderStreamPrefix); ok {
			if _, seen := first[order]; !seen {
				first[order] = id
				orders = append(orders, order)
			}
		}
	}
	var nodes []Node
	for _, order := range orders {
		saga, _, err := s.Models.Fulfilment(ctx, order)
		if errors.Is(err, sagas.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("saga of order %s: %w", order, err)
		}
		for i, st := range saga.Steps {
			parent := first[order]
			if written, ok := byID[st.EventID]; ok {
				var m meta
				_ = json.Unmarshal(written.Metadata, &m) //nolint:errcheck // no causation: the order's first event
				if _, ok := byID[m.CausationID]; ok {
					parent = m.CausationID
				}
			}
			at := st.At
			n := Node{ID: fmt.Sprintf("saga/%s/%d", order, i+1), Parent: ptr(parent), Kind: KindSaga, At: &at,
				Name: st.Step, State: st.Result, Detail: map[string]any{"result": st.Result}}
			if st.SKU != "" {
				n.Detail["sku"] = st.SKU
			}
			if st.EventID != "" {
				n.Detail["event_id"] = st.EventID
			}
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}
