package embedded

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

func openTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appendFlow appends n events to stream in appends of up to 500, with
// correlation corr and type typ.
func appendFlow(t *testing.T, s *Store, stream, corr, typ string, n int) {
	t.Helper()
	for n > 0 {
		batch := make([]eventstore.EventData, min(n, 500))
		for i := range batch {
			batch[i] = eventstore.EventData{ID: uuid.New(), Type: typ, Data: json.RawMessage(`{}`),
				Metadata: json.RawMessage(fmt.Sprintf(`{"correlation_id":%q}`, corr))}
		}
		if _, err := s.Append(t.Context(), stream, eventstore.Any, batch...); err != nil {
			t.Fatal(err)
		}
		n -= len(batch)
	}
}

// TestReadFiltered_PrefixPlans reads a prefix with more events than
// prefixScanThreshold (along the log) and one with fewer (through the
// stream index): both return exactly the matching events.
func TestReadFiltered_PrefixPlans(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { _ = s.Close() }) //nolint:errcheck // test
	for i := range 4 {
		appendFlow(t, s, fmt.Sprintf("big-%d", i), "c-big", "Big", prefixScanThreshold/3)
		appendFlow(t, s, fmt.Sprintf("small-%d", i), "c-small", "Small", 3)
	}
	all, err := s.ReadAll(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"big-", "small-", "big-3", "s", "\xff"} {
		f := eventstore.Filter{StreamPrefix: prefix}
		lo, hi, bounded := prefixRange(prefix)
		few, err := s.fewInPrefix(t.Context(), lo, hi, bounded)
		if err != nil {
			t.Fatal(err)
		}
		var want []eventstore.RecordedEvent
		for _, ev := range all {
			if f.Match(ev) {
				want = append(want, ev)
			}
		}
		if few != (len(want) < prefixScanThreshold) {
			t.Errorf("prefix %q: few = %v with %d events", prefix, few, len(want))
		}
		var got []eventstore.RecordedEvent
		for after := uint64(0); ; {
			page, err := s.ReadFiltered(t.Context(), after, 1000, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Position
		}
		if len(got) != len(want) {
			t.Fatalf("prefix %q: %d events, want %d", prefix, len(got), len(want))
		}
		for i := range got {
			if got[i].Position != want[i].Position {
				t.Fatalf("prefix %q: event %d at %d, want %d", prefix, i, got[i].Position, want[i].Position)
			}
		}
	}
}

// TestReadFiltered_UsesIndexes checks the query plans: a correlation ID
// and a type are read through their indexes, in position order, without
// a sort or a scan of the log.
func TestReadFiltered_UsesIndexes(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { _ = s.Close() }) //nolint:errcheck // test
	for _, tc := range []struct {
		query, index string
	}{
		{`SELECT position FROM events INDEXED BY events_correlation WHERE ` + correlationExpr + ` = 'c' AND position > 0 ORDER BY position LIMIT 10`, "events_correlation"},
		{`SELECT position FROM events INDEXED BY events_type WHERE type = 't' AND position > 0 ORDER BY position LIMIT 10`, "events_type"},
	} {
		rows, err := s.readDB.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, "INDEX "+tc.index) || !strings.Contains(joined, "rowid>?") || strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("plan of %s: %s", tc.query, joined)
		}
	}
}

// TestReadFiltered_Migration opens a data directory written before the
// filter indexes existed: Open builds them, and filtered reads find the
// events written before.
func TestReadFiltered_Migration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	appendFlow(t, s, "order-1", "c-1", "OrderPlaced", 3)
	appendFlow(t, s, "order-2", "c-2", "OrderPlaced", 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `DROP INDEX events_correlation; DROP INDEX events_type`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, dir)
	t.Cleanup(func() { _ = s.Close() }) //nolint:errcheck // test
	var n int
	if err := s.readDB.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema WHERE name IN ('events_correlation', 'events_type')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d filter indexes after reopening, err %v", n, err)
	}
	got, err := s.ReadFiltered(t.Context(), 0, 0, eventstore.Filter{CorrelationID: "c-2"})
	if err != nil || len(got) != 2 || got[0].Stream != "order-2" {
		t.Fatalf("correlation c-2 after migration: %d events, err %v", len(got), err)
	}
}
