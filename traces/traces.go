package traces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/orderstore/orderstore/eventstore"
)

// ErrNotFound is returned by Builder.Trace when no event carries the
// correlation ID.
var ErrNotFound = errors.New("no events with this correlation ID")

// Kind is what a node stands for.
type Kind string

// The kinds of nodes.
const (
	KindRequest    Kind = "request"
	KindEvent      Kind = "event"
	KindProjection Kind = "projection"
	KindSaga       Kind = "saga"
	KindDelivery   Kind = "delivery"
)

// Node is one step of a flow.
type Node struct {
	// ID is unique in the trace: a request's ID, an event's ID, or for
	// other kinds an ID their source makes (e.g. "<event id>/<projection>").
	ID string `json:"id"`
	// Parent is the ID of the node that caused this one; nil for a root.
	Parent *string `json:"parent"`
	Kind   Kind    `json:"kind"`
	// At is when it happened; nil when that is not known (see each kind).
	At *time.Time `json:"at"`
	// SinceRootMS is At less the root's At, in milliseconds; absent when
	// either is not known.
	SinceRootMS *float64 `json:"since_root_ms,omitempty"`
	// Name says what it is: a request's "METHOD route", an event's type,
	// a projection's name, a saga step, a delivery's endpoint.
	Name string `json:"name,omitempty"`

	// Stream, Version and Position place an event.
	Stream   string  `json:"stream,omitempty"`
	Version  *int64  `json:"version,omitempty"`
	Position *uint64 `json:"position,omitempty"`
	// Actor is the name of the token whose request wrote the events.
	Actor string `json:"actor,omitempty"`
	// Traceparent is the W3C trace context recorded with a request.
	Traceparent string `json:"traceparent,omitempty"`

	// Applied tells, for a projection node, whether the read model has
	// applied the event (its checkpoint is at or past it).
	Applied *bool `json:"applied,omitempty"`
	// AtExact is false when At is a bound rather than the time itself
	// (see Projections).
	AtExact *bool `json:"at_exact,omitempty"`
	// State is a consumer's state for the node: a projection's, a saga
	// step's result, a delivery's.
	State string `json:"state,omitempty"`
	// Detail holds what a source adds beyond these fields.
	Detail map[string]any `json:"detail,omitempty"`
}

// Trace is the causal tree of one flow.
type Trace struct {
	CorrelationID string `json:"correlation_id"`
	// Root is the ID of the first root node: the request that started
	// the flow. Other requests with the same correlation ID are roots too.
	Root  string `json:"root"`
	Nodes []Node `json:"nodes"`
	// Truncated tells that the flow has more than MaxEvents events: the
	// trace shows the first ones.
	Truncated bool `json:"truncated,omitempty"`
}

// Source contributes the nodes of one consumer to a trace.
type Source interface {
	// TraceNodes returns the consumer's nodes for the events of a flow
	// (in position order, all with correlationID). Their parents are IDs
	// of those events or of the source's own nodes. It must not keep
	// events. Errors fail the trace.
	TraceNodes(ctx context.Context, correlationID string, events []eventstore.RecordedEvent) ([]Node, error)
}

// MaxEvents bounds the events of one trace.
const MaxEvents = 10000

// Builder builds traces from a store and sources. It is safe for
// concurrent use.
type Builder struct {
	store   eventstore.Store
	sources []Source
}

// New returns a Builder over store, with the nodes of sources.
func New(store eventstore.Store, sources ...Source) *Builder {
	return &Builder{store: store, sources: sources}
}

// Trace builds the trace of correlationID. It returns ErrNotFound if no
// event carries it, and the store's errors (eventstore.ErrUnsupported on
// a store without a correlation index).
func (b *Builder) Trace(ctx context.Context, correlationID string) (Trace, error) {
	events, truncated, err := b.events(ctx, correlationID)
	if err != nil {
		return Trace{}, err
	}
	if len(events) == 0 {
		return Trace{}, fmt.Errorf("trace %q: %w", correlationID, ErrNotFound)
	}
	nodes := eventNodes(events)
	for _, src := range b.sources {
		more, err := src.TraceNodes(ctx, correlationID, events)
		if err != nil {
			return Trace{}, fmt.Errorf("trace %q: %w", correlationID, err)
		}
		nodes = append(nodes, more...)
	}
	t := Trace{CorrelationID: correlationID, Nodes: nodes, Truncated: truncated}
	t.time()
	return t, nil
}

// events reads the flow's events through the correlation index.
func (b *Builder) events(ctx context.Context, correlationID string) (_ []eventstore.RecordedEvent, truncated bool, _ error) {
	f := eventstore.Filter{CorrelationID: correlationID}
	var out []eventstore.RecordedEvent
	for after := uint64(0); ; {
		page, err := b.store.ReadFiltered(ctx, after, 1000, f)
		if err != nil {
			return nil, false, fmt.Errorf("trace %q: %w", correlationID, err)
		}
		out = append(out, page...)
		if len(out) > MaxEvents {
			return out[:MaxEvents], true, nil
		}
		if len(page) < 1000 {
			return out, false, nil
		}
		after = page[len(page)-1].Position
	}
}

// meta is the part of event metadata a trace reads.
type meta struct {
	CausationID string     `json:"causation_id"`
	Request     string     `json:"request"`
	RequestedAt *time.Time `json:"requested_at"`
	Actor       string     `json:"actor"`
	Traceparent string     `json:"traceparent"`
}

// eventNodes makes a node of each event, and one of each request that
// caused some: an event's parent is the event its causation_id names if
// that is one of the flow's events, else the request it names.
func eventNodes(events []eventstore.RecordedEvent) []Node {
	ids := make(map[string]bool, len(events))
	for _, e := range events {
		ids[e.ID.String()] = true
	}
	var (
		nodes    = make([]Node, 0, len(events)+4)
		requests = map[string]int{} // request ID → index in nodes
	)
	for _, e := range events {
		var m meta
		_ = json.Unmarshal(e.Metadata, &m) //nolint:errcheck // metadata without these members makes a root event
		at := e.RecordedAt
		version, position := e.Version, e.Position
		n := Node{ID: e.ID.String(), Kind: KindEvent, At: &at, Name: e.Type,
			Stream: e.Stream, Version: &version, Position: &position}
		switch {
		case m.CausationID == "":
		case ids[m.CausationID]:
			n.Parent = ptr(m.CausationID)
		default:
			n.Parent = ptr(m.CausationID)
			if i, ok := requests[m.CausationID]; ok {
				// A request's time is when it arrived; without a
				// recorded one, its first event's.
				if m.RequestedAt == nil && nodes[i].At.After(at) {
					nodes[i].At = &at
				}
				break
			}
			req := Node{ID: m.CausationID, Kind: KindRequest, At: m.RequestedAt, Name: m.Request,
				Actor: m.Actor, Traceparent: m.Traceparent}
			if req.At == nil {
				req.At = &at
			}
			requests[m.CausationID] = len(nodes)
			nodes = append(nodes, req)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// time orders the nodes by time (unknown last, ties as they came), picks
// the root and times every node from it.
func (t *Trace) time() {
	slices.SortStableFunc(t.Nodes, func(a, b Node) int {
		switch {
		case a.At == nil && b.At == nil:
			return 0
		case a.At == nil:
			return 1
		case b.At == nil:
			return -1
		}
		return a.At.Compare(*b.At)
	})
	var root *Node
	for i := range t.Nodes {
		if t.Nodes[i].Parent == nil {
			root = &t.Nodes[i]
			break
		}
	}
	if root == nil {
		return // a cycle of causations: no root to time from
	}
	t.Root = root.ID
	if root.At == nil {
		return
	}
	start := *root.At
	for i := range t.Nodes {
		if at := t.Nodes[i].At; at != nil {
			ms := float64(at.Sub(start).Microseconds()) / 1000
			t.Nodes[i].SinceRootMS = &ms
		}
	}
}

func ptr[T any](v T) *T { return &v }
