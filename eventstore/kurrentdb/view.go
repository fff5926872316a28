package kurrentdb

import (
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// view is the part of $all that the store shows: events that are not
// KurrentDB's own, in streams with one of the prefixes if any are set.
// ReadAll, Head and Subscribe all decide with shows, so that they show one
// log: the same events, at the same positions.
type view struct {
	prefixes []string
}

// shows reports whether ev is in the view.
func (v view) shows(ev *esdb.RecordedEvent) bool {
	if isSystem(ev) {
		return false
	}
	if len(v.prefixes) == 0 {
		return true
	}
	for _, p := range v.prefixes {
		if strings.HasPrefix(ev.StreamID, p) {
			return true
		}
	}
	return false
}

// filter is the server-side filter of subscriptions: the stream prefixes,
// or, without any, every event whose type does not start with '$'. It only
// saves traffic: a stream filter lets system event types through, and an
// event type filter system streams, so receive still asks shows.
func (v view) filter() *esdb.SubscriptionFilter {
	if len(v.prefixes) == 0 {
		return esdb.ExcludeSystemEventsFilter()
	}
	return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: v.prefixes}
}

// isSystem reports whether ev is KurrentDB's own: its type or stream starts
// with '$'. Links ("$>") are system events too.
func isSystem(ev *esdb.RecordedEvent) bool {
	return strings.HasPrefix(ev.EventType, "$") || strings.HasPrefix(ev.StreamID, "$")
}
