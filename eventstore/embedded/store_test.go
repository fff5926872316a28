package embedded_test

import (
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
