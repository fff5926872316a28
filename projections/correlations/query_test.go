package correlations

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// TestFind_Pages: a page holds at most Limit events, except that it never
// ends inside the events of one position (KurrentDB's legacy transactions
// share one), and type and stream prefix narrow it in the query.
func TestFind_Pages(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck // a test's file
	if _, err := db.Exec(Projection{}.Schema("p_")); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		corr     string
		position int64
		stream   string
		version  int64
		typ      string
	}{
		{"a", 100, "order-1", 0, "T1"},
		{"b", 150, "order-9", 0, "T1"},
		{"a", 200, "stock-é", 0, "T2"}, // three events of one position
		{"a", 200, "stock-é", 1, "T1"},
		{"a", 200, "stock-é", 2, "T2"},
		{"a", 300, "order-1", 1, "T2"},
	}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO p_refs VALUES (?, ?, ?, ?, ?)`, r.corr, r.position, r.stream, r.version, r.typ); err != nil {
			t.Fatal(err)
		}
	}
	ref := func(pos uint64, stream string, version int64) Ref {
		return Ref{Position: pos, Stream: stream, Version: version}
	}
	for _, tc := range []struct {
		q    Query
		want []Ref
	}{
		{Query{CorrelationID: "a"}, []Ref{ref(100, "order-1", 0), ref(200, "stock-é", 0), ref(200, "stock-é", 1), ref(200, "stock-é", 2), ref(300, "order-1", 1)}},
		{Query{CorrelationID: "a", Limit: 1}, []Ref{ref(100, "order-1", 0)}},
		// The limit falls inside position 200: all of it comes.
		{Query{CorrelationID: "a", Limit: 2}, []Ref{ref(100, "order-1", 0), ref(200, "stock-é", 0), ref(200, "stock-é", 1), ref(200, "stock-é", 2)}},
		{Query{CorrelationID: "a", After: 200, Limit: 2}, []Ref{ref(300, "order-1", 1)}},
		{Query{CorrelationID: "a", Type: "T2"}, []Ref{ref(200, "stock-é", 0), ref(200, "stock-é", 2), ref(300, "order-1", 1)}},
		{Query{CorrelationID: "a", StreamPrefix: "stock-é"}, []Ref{ref(200, "stock-é", 0), ref(200, "stock-é", 1), ref(200, "stock-é", 2)}},
		{Query{CorrelationID: "a", StreamPrefix: "order-", Type: "T1"}, []Ref{ref(100, "order-1", 0)}},
		{Query{CorrelationID: "c"}, nil},
	} {
		t.Run(fmt.Sprintf("%+v", tc.q), func(t *testing.T) {
			tx, err := db.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // read only
			got, err := Find(t.Context(), tx, "p_", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
