package sqlitefile_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/orderstore/orderstore/internal/sqlitefile"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := sql.Open("sqlite", good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (x BLOB); INSERT INTO t VALUES (randomblob(20000))`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path string
		want error
	}{
		{good, nil},
		{filepath.Join(dir, "missing.db"), nil},
		{write("empty.db", nil), nil},
		{write("text.db", []byte("hello")), sqlitefile.ErrNotSQLite},
		{write("short.db", raw[:50]), sqlitefile.ErrTruncated},
		{write("truncated.db", raw[:len(raw)-4096]), sqlitefile.ErrTruncated},
	}
	for _, tc := range cases {
		if err := sqlitefile.Check(tc.path); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("Check(%s) = %v, want %v", filepath.Base(tc.path), err, tc.want)
		}
	}
}
