package fulfilment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
)

// TestMetadata_Encode: the saga's metadata is written byte for byte as
// encoding/json writes it, directly when its values are plain.
func TestMetadata_Encode(t *testing.T) {
	for _, tc := range []struct {
		m      metadata
		direct bool
	}{
		{metadata{Metadata: domain.Metadata{CorrelationID: "flow-1", CausationID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Schema: 1}, Actor: Actor}, true},
		{metadata{}, true},
		{metadata{Metadata: domain.Metadata{CorrelationID: "a<b>&c"}, Actor: Actor}, false},
		{metadata{Metadata: domain.Metadata{CorrelationID: "flow"}, Actor: "ünïcode"}, false},
	} {
		want, err := json.Marshal(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tc.m.encode()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%+v: encode %s (err %v), encoding/json %s", tc.m, got, err, want)
		}
		if _, direct := tc.m.appendJSON(nil); direct != tc.direct {
			t.Errorf("%+v: written directly %v, want %v", tc.m, direct, tc.direct)
		}
	}
}

// TestStepID_Derivation pins how the IDs of the saga's events are derived:
// a replay by a newer binary must write the IDs an older one wrote, or the
// store would not recognise its step as taken.
func TestStepID_Derivation(t *testing.T) {
	trigger := uuid.MustParse("6b78fcef-42af-46f2-ba8b-eeee565ef7ce")
	for _, tc := range []struct {
		step, stream string
		version      int64
		i            int
	}{
		{"reserve_stock", "stock-A", 0, 0},
		{"record_stock_reserved", "order-o-1", 41, 2},
		{"release_stock", "stock-SKU-ÿ", -1, 10},
	} {
		want := uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d\x00%d", trigger, tc.step, tc.stream, tc.version, tc.i))
		if got := stepID(trigger, tc.step, tc.stream, tc.version, tc.i); got != want {
			t.Errorf("stepID(%s, %d, %d) = %s, want %s", tc.stream, tc.version, tc.i, got, want)
		}
	}
}
