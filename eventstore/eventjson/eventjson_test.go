package eventjson

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

func TestFrom(t *testing.T) {
	id := uuid.MustParse("6f1d3c52-8a0e-4b7e-9d51-2c4a7f0e9b13")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		meta json.RawMessage
		want string
	}{
		{"metadata", json.RawMessage(`{"schema":1}`), `{"id":"6f1d3c52-8a0e-4b7e-9d51-2c4a7f0e9b13","position":7,"stream":"order-o-1","version":2,"type":"OrderPaid","data":{"amount":1},"metadata":{"schema":1},"recorded_at":"2026-01-02T03:04:05Z"}`},
		{"no metadata", nil, `{"id":"6f1d3c52-8a0e-4b7e-9d51-2c4a7f0e9b13","position":7,"stream":"order-o-1","version":2,"type":"OrderPaid","data":{"amount":1},"metadata":{},"recorded_at":"2026-01-02T03:04:05Z"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := eventstore.RecordedEvent{ID: id, Stream: "order-o-1", Version: 2, Position: 7, Type: "OrderPaid",
				Data: json.RawMessage(`{"amount":1}`), Metadata: tc.meta, RecordedAt: at}
			got, err := json.Marshal(From(e))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if got := FromAll(nil); got == nil || len(got) != 0 {
		t.Errorf("FromAll(nil) = %#v, want an empty, non-nil slice", got)
	}
}
