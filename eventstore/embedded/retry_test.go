package embedded

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

// openTempStore opens a store in a temporary directory, closed when the
// test ends.
func openTempStore(t *testing.T) *Store {
	t.Helper()
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { _ = s.Close() }) //nolint:errcheck // test
	return s
}

// mustAppend appends evs to stream or fails the test.
func mustAppend(t *testing.T, s *Store, stream string, expected eventstore.ExpectedVersion, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	r, err := s.Append(t.Context(), stream, expected, evs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fileDB runs fn on the store's file at path opened directly, without the
// store (which must be closed).
func fileDB(t *testing.T, path string, fn func(*sql.DB)) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck // test
	fn(db)
}

func newEvents(n int) []eventstore.EventData {
	evs := make([]eventstore.EventData, n)
	for i := range evs {
		evs[i] = eventstore.EventData{ID: uuid.New(), Type: "Tested", Data: json.RawMessage(`{}`)}
	}
	return evs
}

// TestAnyAppendColumn: each kind of append records how its retry is
// recognised, and only Any and StreamExists appends enter events_any_id.
func TestAnyAppendColumn(t *testing.T) {
	t.Parallel()
	s := openTempStore(t)
	ctx := t.Context()
	r := mustAppend(t, s, "s-1", eventstore.NoStream, newEvents(2)...)
	mustAppend(t, s, "s-1", eventstore.Exact(r.Version), newEvents(1)...)
	mustAppend(t, s, "s-1", eventstore.Any, newEvents(1)...)
	mustAppend(t, s, "s-1", eventstore.StreamExists, newEvents(1)...)
	// A NoStream append larger than maxCreating is indexed instead, so that
	// no Any append scans more than maxCreating rows for it.
	mustAppend(t, s, "s-big", eventstore.NoStream, newEvents(maxCreating+1)...)
	var big int
	if err := s.readDB.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE stream = 's-big' AND any_append = 1`).Scan(&big); err != nil || big != maxCreating+1 {
		t.Fatalf("%d of the large NoStream append's %d events are indexed (err %v)", big, maxCreating+1, err)
	}
	want := []int{appendCreating, appendCreating, appendByPlace, appendByID, appendByID}
	rows, err := s.readDB.QueryContext(ctx, `SELECT any_append FROM events WHERE stream = 's-1' ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // test
	var got []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("any_append = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("any_append = %v, want %v", got, want)
		}
	}
	var indexed int
	if err := s.readDB.QueryRowContext(ctx, `SELECT count(*) FROM events INDEXED BY events_any_id WHERE stream = 's-1' AND any_append = 1`).Scan(&indexed); err != nil || indexed != 2 {
		t.Fatalf("events_any_id holds %d events of s-1 (err %v), want the 2 of Any and StreamExists", indexed, err)
	}
}

// TestRetryOfCreatingAppend: a retry with Any or StreamExists of a
// NoStream append is recognised however long the stream has grown, and
// an append reusing its IDs in another order is refused.
func TestRetryOfCreatingAppend(t *testing.T) {
	t.Parallel()
	s := openTempStore(t)
	ctx := t.Context()
	created := newEvents(3)
	r1 := mustAppend(t, s, "s-2", eventstore.NoStream, created...)
	for range 5 {
		mustAppend(t, s, "s-2", eventstore.Any, newEvents(2)...)
	}
	for _, exp := range []eventstore.ExpectedVersion{eventstore.Any, eventstore.StreamExists} {
		again, err := s.Append(ctx, "s-2", exp, created...)
		if err != nil || again != r1 {
			t.Fatalf("retry with %v: %+v, err %v; want the original %+v", exp, again, err, r1)
		}
	}
	// Its last two events alone are found where they were written, as
	// they were for an Any append: nothing is written again.
	tail, err := s.Append(ctx, "s-2", eventstore.Any, created[1:]...)
	if err != nil || tail != r1 {
		t.Fatalf("the creating append's last events with Any: %+v, err %v; want %+v", tail, err, r1)
	}
	// In another order they are refused.
	if _, err := s.Append(ctx, "s-2", eventstore.Any, created[2], created[1]); !errors.Is(err, eventstore.ErrDuplicateEventID) {
		t.Fatalf("the creating append's events in another order: err = %v, want ErrDuplicateEventID", err)
	}
	got, err := s.ReadStream(ctx, "s-2", 0, 0)
	if err != nil || len(got) != 13 {
		t.Fatalf("s-2 holds %d events (err %v), want 13", len(got), err)
	}
}

// TestRetryOfCreatingAppend_OlderFile: a file written before creating
// appends had their own value recorded them as Any appends, indexed; their
// retries are recognised all the same.
func TestRetryOfCreatingAppend_OlderFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	created := newEvents(2)
	r1 := mustAppend(t, s, "s-3", eventstore.NoStream, created...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fileDB(t, filepath.Join(dir, FileName), func(db *sql.DB) {
		if _, err := db.ExecContext(t.Context(), `UPDATE events SET any_append = 1 WHERE any_append = 2; PRAGMA user_version = 1`); err != nil {
			t.Fatal(err)
		}
	})
	s = openTestStore(t, dir)
	t.Cleanup(func() { _ = s.Close() }) //nolint:errcheck // test
	mustAppend(t, s, "s-3", eventstore.Any, newEvents(1)...)
	again, err := s.Append(t.Context(), "s-3", eventstore.StreamExists, created...)
	if err != nil || again != r1 {
		t.Fatalf("retry in an older file: %+v, err %v; want the original %+v", again, err, r1)
	}
}

// TestRetryOfCreatingAppend_IDAppendedAgain: an Any append may repeat an
// ID of the creating append at a later version; a retry of the creating
// append is still recognised where it was first written, as when every
// such event was indexed.
func TestRetryOfCreatingAppend_IDAppendedAgain(t *testing.T) {
	t.Parallel()
	s := openTempStore(t)
	ctx := t.Context()
	created := newEvents(2)
	r1 := mustAppend(t, s, "s-4", eventstore.NoStream, created...)
	mustAppend(t, s, "s-4", eventstore.Any, newEvents(1)[0], created[0])
	if again, err := s.Append(ctx, "s-4", eventstore.Any, created...); err != nil || again != r1 {
		t.Fatalf("retry with Any: %+v, err %v; want the original %+v", again, err, r1)
	}
	if again, err := s.Append(ctx, "s-4", eventstore.StreamExists, created[0]); err != nil || again.Version != 0 {
		t.Fatalf("retry of the first event with StreamExists: %+v, err %v; want version 0", again, err)
	}
}

// TestRetryOfCreatingAppend_Large: a NoStream append of more events than
// findCreating scans is recognised through the index.
func TestRetryOfCreatingAppend_Large(t *testing.T) {
	t.Parallel()
	s := openTempStore(t)
	ctx := t.Context()
	created := newEvents(3 * maxCreating)
	r1 := mustAppend(t, s, "s-5", eventstore.NoStream, created...)
	mustAppend(t, s, "s-5", eventstore.Any, newEvents(2)...)
	if again, err := s.Append(ctx, "s-5", eventstore.Any, created...); err != nil || again != r1 {
		t.Fatalf("retry with Any: %+v, err %v; want the original %+v", again, err, r1)
	}
	got, err := s.ReadStream(ctx, "s-5", 0, 0)
	if err != nil || len(got) != 3*maxCreating+2 {
		t.Fatalf("s-5 holds %d events (err %v), want %d", len(got), err, 3*maxCreating+2)
	}
}

// TestSchemaVersion: a new file has this version, a file of version 1 is
// brought up to it, and a newer one is refused, so that a binary that
// would misread appendCreating never opens a file holding it.
func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	version := func() (v int) {
		t.Helper()
		fileDB(t, path, func(db *sql.DB) {
			if err := db.QueryRowContext(t.Context(), `PRAGMA user_version`).Scan(&v); err != nil {
				t.Fatal(err)
			}
		})
		return v
	}
	setVersion := func(v int) {
		t.Helper()
		fileDB(t, path, func(db *sql.DB) {
			if _, err := db.ExecContext(t.Context(), fmt.Sprintf(`PRAGMA user_version = %d`, v)); err != nil {
				t.Fatal(err)
			}
		})
	}
	if v := version(); v != schemaVersion {
		t.Fatalf("a new file has schema version %d, want %d", v, schemaVersion)
	}
	setVersion(1)
	s = openTestStore(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != schemaVersion {
		t.Fatalf("a file of version 1 has schema version %d after an open, want %d", v, schemaVersion)
	}
	setVersion(schemaVersion + 1)
	if s, err := Open(dir, Options{}); !errors.Is(err, ErrForeignFile) {
		if err == nil {
			_ = s.Close() //nolint:errcheck // test
		}
		t.Fatalf("opening a file of schema version %d: err = %v, want ErrForeignFile", schemaVersion+1, err)
	}
}
