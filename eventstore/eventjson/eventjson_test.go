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

// Append writes what json.Marshal of From writes, byte for byte, whether
// it takes its direct path or falls back to encoding/json.
func TestAppend_AsMarshal(t *testing.T) {
	at := time.Date(2026, 12, 6, 20, 15, 51, 123456789, time.UTC)
	base := eventstore.RecordedEvent{ID: uuid.MustParse("0193a6f4-7c2d-7e11-9c4f-3f5e024a4738"), Position: 42, Stream: "order-1",
		Version: 3, Type: "OrderPlaced", Data: []byte(`{"a":1}`), Metadata: []byte(`{"correlation_id":"c"}`), RecordedAt: at}
	cases := map[string]func(e *eventstore.RecordedEvent){
		"plain":                    func(e *eventstore.RecordedEvent) {},
		"no metadata":              func(e *eventstore.RecordedEvent) { e.Metadata = nil },
		"space in a string":        func(e *eventstore.RecordedEvent) { e.Metadata = []byte(`{"request":"POST /orders"}`) },
		"space outside strings":    func(e *eventstore.RecordedEvent) { e.Data = []byte(`{"a": 1, "b" :[1, 2]}`) },
		"newline outside strings":  func(e *eventstore.RecordedEvent) { e.Data = []byte("{\n\"a\":1\r\n}") },
		"tab outside strings":      func(e *eventstore.RecordedEvent) { e.Data = []byte("{\t\"a\":1}") },
		"html in a string":         func(e *eventstore.RecordedEvent) { e.Data = []byte(`{"a":"<b>&</b>"}`) },
		"line separator":           func(e *eventstore.RecordedEvent) { e.Data = []byte("{\"a\":\"x\u2028y\u2029\"}") },
		"escaped quote and slash":  func(e *eventstore.RecordedEvent) { e.Data = []byte(`{"a":"q\"\\ <"}`) },
		"escaped quote then space": func(e *eventstore.RecordedEvent) { e.Data = []byte(`{"a":"q\\", "b":1}`) },
		"unicode":                  func(e *eventstore.RecordedEvent) { e.Data = []byte(`{"a":"Grüße €"}`) },
		"stream to escape":         func(e *eventstore.RecordedEvent) { e.Stream = `order-"x"<y>` },
		"type to escape":           func(e *eventstore.RecordedEvent) { e.Type = "Ty\u00e9pe" },
		"time with an offset":      func(e *eventstore.RecordedEvent) { e.RecordedAt = at.In(time.FixedZone("x", 3600)) },
		"zero time":                func(e *eventstore.RecordedEvent) { e.RecordedAt = time.Time{} },
		"array data, scalar meta":  func(e *eventstore.RecordedEvent) { e.Data, e.Metadata = []byte(`[1,"<",{}]`), []byte(`7`) },
		"largest position":         func(e *eventstore.RecordedEvent) { e.Position, e.Version = 1<<64-1, 1<<63-1 },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			e := base
			change(&e)
			want, err := json.Marshal(From(e))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Append([]byte("prefix"), e)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+string(want) {
				t.Fatalf("Append:\n got %s\nwant prefix%s", got, want)
			}
		})
	}
}

func FuzzAppend(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`{"request":"POST /orders"}`), "order-1", "OrderPlaced")
	f.Add([]byte("{\n\"a\": \"<\\\"\"}"), []byte(`{}`), `s"`, "T\u2028")
	f.Fuzz(func(t *testing.T, data, meta []byte, stream, typ string) {
		if !json.Valid(data) || (len(meta) > 0 && !json.Valid(meta)) {
			return // the store accepts valid JSON only
		}
		e := eventstore.RecordedEvent{ID: uuid.New(), Position: 9, Stream: stream, Version: 1, Type: typ,
			Data: data, Metadata: meta, RecordedAt: time.Unix(1, 5).UTC()}
		want, err := json.Marshal(From(e))
		if err != nil {
			t.Skipf("encoding/json refuses the event: %v", err)
		}
		got, err := Append(nil, e)
		if err != nil || string(got) != string(want) {
			t.Fatalf("Append = %s, %v; want %s", got, err, want)
		}
	})
}
