package webhooks

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orderstore/orderstore/domain"
)

// EndpointState is an endpoint's state: it receives deliveries only while
// active.
type EndpointState string

// Endpoint states.
const (
	// StateActive endpoints receive deliveries.
	StateActive EndpointState = "active"
	// StatePaused endpoints receive nothing until resumed; their events
	// wait in the log.
	StatePaused EndpointState = "paused"
	// StateDisabled endpoints answered 410 Gone; resuming re-enables them.
	StateDisabled EndpointState = "disabled"
)

// DeliveryState is the state of one event's delivery to one endpoint.
type DeliveryState string

// Delivery states.
const (
	// DeliveryPending has not been attempted yet (or was retried by hand):
	// it is sent when its turn comes.
	DeliveryPending DeliveryState = "pending"
	// DeliveryFailed has failed attempts and waits for the next one of the
	// retry schedule.
	DeliveryFailed DeliveryState = "failed"
	// DeliveryDelivered got a 2xx answer.
	DeliveryDelivered DeliveryState = "delivered"
	// DeliveryDead failed every attempt of the schedule (or its retry by
	// hand): it waits for a retry by hand.
	DeliveryDead DeliveryState = "dead"
)

// DeliveryStates lists the delivery states, in their life's order.
var DeliveryStates = []DeliveryState{DeliveryPending, DeliveryFailed, DeliveryDelivered, DeliveryDead}

// Limits of an endpoint's registration.
const (
	MaxDescription = 500
	maxEventTypes  = 64
)

// EventTypes are the event types an endpoint may ask for; one that asks
// for none receives every event of the order and stock streams.
var EventTypes = []string{
	domain.TypeOrderPlaced, domain.TypeOrderLineAdded, domain.TypeOrderLineRemoved, domain.TypeOrderPaid,
	domain.TypeOrderShipped, domain.TypeOrderCancelled, domain.TypeStockReceived,
}

// Endpoint is a registered receiver. Secret is set only in the answers of
// Create and RotateSecret: it is shown once.
type Endpoint struct {
	ID          string        `json:"id"`
	URL         string        `json:"url"`
	Events      []string      `json:"events"`
	Description string        `json:"description"`
	Secret      string        `json:"secret,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	State       EndpointState `json:"state"`
	// DisabledReason says why a disabled endpoint was disabled.
	DisabledReason string `json:"disabled_reason,omitempty"`
	// Position is the endpoint's checkpoint: the events up to it have
	// been taken into its deliveries (or filtered out).
	Position uint64 `json:"position"`
}

// NewEndpoint is a registration.
type NewEndpoint struct {
	URL         string   `json:"url"`
	Events      []string `json:"events,omitempty"`
	Description string   `json:"description,omitempty"`
	// FromPosition, when set, is where delivery starts: the events after
	// it (0: the whole log). Unset, delivery starts after the store's
	// current head: with the events to come.
	FromPosition *uint64 `json:"from_position,omitempty"`
}

// Delivery is one event's delivery to one endpoint. Its ID is the
// webhook-id header: stable across attempts, so receivers deduplicate.
type Delivery struct {
	ID            string        `json:"id"`
	EventID       string        `json:"event_id"`
	EventType     string        `json:"event_type"`
	Stream        string        `json:"stream"`
	Position      uint64        `json:"position"`
	State         DeliveryState `json:"state"`
	Attempts      []Attempt     `json:"attempts"`
	NextAttemptAt *time.Time    `json:"next_attempt_at"`
}

// Attempt is one POST of a delivery. Status is the receiver's HTTP status,
// 0 when none came (Error says why).
type Attempt struct {
	At         time.Time `json:"at"`
	Status     int       `json:"status"`
	Error      string    `json:"error"`
	DurationMS int64     `json:"duration_ms"`
}

// DeliveryFilter selects a page of an endpoint's deliveries, in position
// order.
type DeliveryFilter struct {
	// State, if set, keeps deliveries in that state.
	State DeliveryState
	// After is the Next of the previous page, 0 for the first.
	After uint64
	// Limit bounds the page; ≤ 0 means 100.
	Limit int
}

// DeliveryPage is a page of deliveries; Next, when not nil, is the After
// of the next page.
type DeliveryPage struct {
	Deliveries []Delivery `json:"deliveries"`
	Next       *uint64    `json:"next,omitempty"`
}

// checkRegistration validates what Create takes besides the URL, and
// returns the event types sorted, without repeats.
func checkRegistration(ne NewEndpoint) ([]string, error) {
	if len(ne.Events) > maxEventTypes {
		return nil, &ValidationError{Field: "events", Msg: fmt.Sprintf("lists more than %d types", maxEventTypes)}
	}
	events := make([]string, 0, len(ne.Events))
	for i, t := range ne.Events {
		if !slices.Contains(EventTypes, t) {
			return nil, &ValidationError{Field: fmt.Sprintf("events[%d]", i),
				Msg: fmt.Sprintf("unknown event type %q; known: %s", t, strings.Join(EventTypes, ", "))}
		}
		if !slices.Contains(events, t) {
			events = append(events, t)
		}
	}
	slices.Sort(events)
	if !utf8.ValidString(ne.Description) || utf8.RuneCountInString(ne.Description) > MaxDescription {
		return nil, &ValidationError{Field: "description", Msg: fmt.Sprintf("must be at most %d characters", MaxDescription)}
	}
	return events, nil
}

// wants tells whether an endpoint that asked for events receives an event
// of type typ on stream.
func wants(events []string, stream, typ string) bool {
	if len(events) == 0 {
		return strings.HasPrefix(stream, domain.OrderStreamPrefix) || strings.HasPrefix(stream, domain.StockStreamPrefix)
	}
	return slices.Contains(events, typ)
}
