package fulfilment

import (
	"bytes"
	"encoding/json"
	"testing"

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
