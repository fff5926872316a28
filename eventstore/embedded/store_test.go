package embedded_test

import (
	"context"
	"testing"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/eventstore/storetest"
)

func TestStore_Conformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() (eventstore.Store, error) {
			dir := t.TempDir()
			return func() (eventstore.Store, error) { return embedded.Open(dir, embedded.Options{}) }
		},
		DensePositions: true,
	})
}

// TestStore_ConformanceSparse runs the suite on the embedded store seen
// through storetest.Sparse: KurrentDB's shape of positions and a log shared
// with another application, filtered to our prefix as serve filters it.
func TestStore_ConformanceSparse(t *testing.T) {
	const prefix = "order-"
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() (eventstore.Store, error) {
			dir := t.TempDir()
			return func() (eventstore.Store, error) {
				s, err := embedded.Open(dir, embedded.Options{})
				if err != nil {
					return nil, err
				}
				return storetest.NewSparse(s, prefix), nil
			}
		},
		SparsePositions: true,
		StreamPrefix:    prefix,
		WriteForeign: func(ctx context.Context, s eventstore.Store, n int) error {
			return s.(*storetest.Sparse).AppendForeign(ctx, n)
		},
	})
}
