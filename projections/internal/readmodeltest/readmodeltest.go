// Package readmodeltest holds what the projections' handler tests share:
// events as the store would deliver them, fresh read-model tables, and
// applying events in batches as the runner does.
package readmodeltest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

// Recorded is an event as the store would deliver it: in a stream.
type Recorded struct {
	Stream string
	Event  domain.Event
}

// Events encodes each event with domain.Encode and decodes it back, as the
// runner does, at positions 1, 2, … and versions 0, 1, … in each stream,
// with IDs derived from the positions.
func Events(t testing.TB, given []Recorded) []readmodel.Event {
	t.Helper()
	out := make([]readmodel.Event, len(given))
	versions := map[string]int64{}
	for i, g := range given {
		typ, data, err := domain.Encode(g.Event)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := domain.Decode(typ, data)
		if err != nil {
			t.Fatal(err)
		}
		id := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "event %d", i+1))
		out[i] = readmodel.Event{ID: id, Position: uint64(i + 1), Stream: g.Stream, Version: versions[g.Stream], Type: typ, Payload: payload}
		versions[g.Stream]++
	}
	return out
}

// OpenDB opens a read-model database in a temporary directory with the
// tables of schema, closed at the end of the test.
func OpenDB(t testing.TB, schema string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "rm.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	return db
}

// ApplyFunc is a projection's Apply.
type ApplyFunc func(ctx context.Context, tx *sql.Tx, t *readmodel.Tables, events []readmodel.Event) (int, error)

// Apply applies events to the tables named with prefix, freshly created,
// in batches of size (all at once if 0), one transaction each, committing
// a batch when Apply applied some of it (as the runner does) and rolling
// it back otherwise. It returns Apply's result for the last batch,
// stopping at the first error. Odd batch sizes run without the order
// cache, so that the tests cover reading orders back from the table too.
func Apply(t testing.TB, db *sql.DB, apply ApplyFunc, prefix string, events []readmodel.Event, size int) (int, error) {
	t.Helper()
	tables := readmodel.NewTables(prefix, true, 1000) // a few orders: evicts too
	if size%2 == 1 {
		tables = readmodel.NewTables(prefix, false, 0)
	}
	if size == 0 {
		size = max(1, len(events))
	}
	n, err := 0, error(nil)
	for len(events) > 0 {
		k := min(size, len(events))
		tx, txErr := db.Begin()
		if txErr != nil {
			t.Fatal(txErr)
		}
		n, err = apply(t.Context(), tx, tables, events[:k])
		if n > 0 {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		} else if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			tables.Done(readmodel.Committed)
		} else {
			tables.Done(readmodel.RolledBack)
		}
		if err != nil {
			return n, err
		}
		events = events[k:]
	}
	return n, nil
}
