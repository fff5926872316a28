package kurrentdb

import (
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

func TestView_Filter(t *testing.T) {
	f := view{prefixes: []string{"order-", "stock-"}}.filter()
	if f.Type != esdb.StreamFilterType || len(f.Prefixes) != 2 || f.Prefixes[0] != "order-" || f.Regex != "" {
		t.Fatalf("prefix filter: %+v", f)
	}
	if f := (view{}).filter(); f.Type != esdb.EventFilterType || f.Regex == "" {
		t.Fatalf("default filter should exclude system event types by regex: %+v", f)
	}
}

func TestView_Shows(t *testing.T) {
	tests := []struct {
		prefixes    []string
		typ, stream string
		want        bool
	}{
		{nil, "OrderPlaced", "order-1", true},
		{nil, "ThingDone", "foreign-1", true},
		{nil, "$metadata", "order-1", false},
		{nil, "OrderPlaced", "$ce-order", false},
		{[]string{"order-", "stock-"}, "OrderPlaced", "order-1", true},
		{[]string{"order-", "stock-"}, "StockReceived", "stock-sku1", true},
		{[]string{"order-", "stock-"}, "ThingDone", "foreign-1", false},
		{[]string{"order-", "stock-"}, "OrderPlaced", "orders", false},
		// A stream filter lets a system event type through: shows does not.
		{[]string{"order-"}, "$>", "order-1", false},
	}
	for _, tc := range tests {
		v := view{prefixes: tc.prefixes}
		if got := v.shows(&esdb.RecordedEvent{EventType: tc.typ, StreamID: tc.stream}); got != tc.want {
			t.Errorf("view%v.shows(%q in %q) = %t, want %t", tc.prefixes, tc.typ, tc.stream, got, tc.want)
		}
	}
}
