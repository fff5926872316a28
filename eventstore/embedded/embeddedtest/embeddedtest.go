// Package embeddedtest opens the embedded store for other packages' tests:
// as itself, and through storetest.Sparse (positions shaped like
// KurrentDB's, another application's events hidden by the view), so that
// a test runs on both shapes of the log with Each.
package embeddedtest

import (
	"testing"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/eventstore/storetest"
)

// Opener opens the event store kept in dir and closes it at cleanup.
type Opener func(tb testing.TB, dir string) eventstore.Store

// Open opens the embedded store in dir and closes it at cleanup.
func Open(tb testing.TB, dir string) eventstore.Store {
	tb.Helper()
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// OpenSparse opens the embedded store in dir seen through storetest.Sparse
// and closes it at cleanup.
func OpenSparse(tb testing.TB, dir string) eventstore.Store {
	tb.Helper()
	inner, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	s := storetest.NewSparse(inner)
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// Each runs test once per shape of store, "embedded" and "sparse", as
// parallel subtests; test opens its stores with the Opener it is given.
func Each(t *testing.T, test func(t *testing.T, open Opener)) {
	t.Helper()
	for _, kind := range []struct {
		name string
		open Opener
	}{{"embedded", Open}, {"sparse", OpenSparse}} {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			test(t, kind.open)
		})
	}
}
