package storetest

import (
	"context"
	"fmt"

	"github.com/orderstore/orderstore/eventstore"
)

// Unindexed is a store with no index of correlation IDs, as the KurrentDB
// adapter: its ReadFiltered refuses a correlation ID with
// eventstore.ErrUnsupported, as that adapter's does, and passes every
// other call to the store it decorates. Tests stack it on Sparse to get
// the whole shape serve works with on KurrentDB, where the correlations
// projection serves that filter.
type Unindexed struct{ eventstore.Store }

var _ eventstore.Store = Unindexed{}

// ReadFiltered implements eventstore.Store.
func (s Unindexed) ReadFiltered(ctx context.Context, after uint64, limit int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if f.CorrelationID != "" {
		return nil, fmt.Errorf("read $all filtered by correlation_id: %w", eventstore.ErrUnsupported)
	}
	return s.Store.ReadFiltered(ctx, after, limit, f)
}
