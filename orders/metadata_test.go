package orders

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
)

// checkMetadata fails if m's direct encoder writes other bytes than
// encoding/json, and reports whether it took m.
func checkMetadata(t *testing.T, m metadata) bool {
	t.Helper()
	want, wantErr := json.Marshal(m)
	got, err := m.encode()
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("%+v: encode %s (err %v), encoding/json %s (err %v)", m, got, err, want, wantErr)
	}
	_, direct := m.appendJSON(nil)
	return direct
}

// TestMetadata_Encode: metadata is written byte for byte as encoding/json
// writes it, directly for plain values (every field set, or each
// omitted), through encoding/json for the others.
func TestMetadata_Encode(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 120000000, time.UTC)
	base := domain.Metadata{CorrelationID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", CausationID: "req-1", Schema: domain.SchemaVersion}
	full := metadata{Metadata: base, IdempotencyKey: "k-1", Fingerprint: "f0f0", Events: 3, RequestID: "r",
		Actor: "alice", Request: "POST /orders", RequestedAt: &at, Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	plain := []metadata{
		full,
		{Metadata: base},
		{Metadata: domain.Metadata{}},
		{Metadata: base, Events: -1},
		{Metadata: base, RequestedAt: new(time.Time)},
		{Metadata: base, RequestedAt: ptr(at.In(time.FixedZone("", -150*60)))},
	}
	for _, m := range plain {
		if !checkMetadata(t, m) {
			t.Errorf("%+v took encoding/json", m)
		}
	}
	for _, m := range []metadata{
		{Metadata: domain.Metadata{CorrelationID: "a\"b"}},
		{Metadata: domain.Metadata{CausationID: "<x>"}},
		{Metadata: base, Actor: "zoë"},
		{Metadata: base, Request: "tab\there"},
		{Metadata: base, IdempotencyKey: `back\slash`},
		{Metadata: base, RequestedAt: ptr(at.In(time.FixedZone("", 30)))},
		{Metadata: base, RequestedAt: ptr(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}, // encoding/json fails too
	} {
		if checkMetadata(t, m) {
			t.Errorf("%+v was written directly; it needs encoding/json", m)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzMetadata_Encode: whatever the values, encode writes encoding/json's
// bytes.
func FuzzMetadata_Encode(f *testing.F) {
	f.Add("c", "r", "k", "alice", "POST /orders", 2, int64(1_700_000_000), 0)
	f.Add("a\"", "<", "", "zoë", "", 0, int64(-62135596800), 90)
	f.Fuzz(func(t *testing.T, corr, cause, key, actor, request string, events int, sec int64, offsetMin int) {
		at := time.Unix(sec, 0).In(time.FixedZone("", (offsetMin%1440)*60))
		checkMetadata(t, metadata{Metadata: domain.Metadata{CorrelationID: corr, CausationID: cause, Schema: 1},
			IdempotencyKey: key, Events: events, Actor: actor, Request: request, RequestedAt: &at})
	})
}
