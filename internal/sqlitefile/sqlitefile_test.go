package sqlitefile_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/orderstore/orderstore/internal/dirlock"
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

func TestPrepare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, _, err := sqlitefile.Prepare(dir+"?x", "LOCK", "db"); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("a '?' in the path: %v", err)
	}
	lock, path, err := sqlitefile.Prepare(dir, "LOCK", "db")
	if err != nil || path != filepath.Join(dir, "db") {
		t.Fatalf("Prepare = %q, %v", path, err)
	}
	if _, _, err := sqlitefile.Prepare(dir, "LOCK", "db"); !errors.Is(err, dirlock.ErrHeld) {
		t.Errorf("a second Prepare while the lock is held: %v, want dirlock.ErrHeld", err)
	}
	if err := lock.Close(); err != nil {
		t.Fatal(err)
	}
	// A foreign file is refused, and the lock is not kept.
	if err := os.WriteFile(path, []byte("not a database, but long enough to have a header of a hundred bytes.........................."), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sqlitefile.Prepare(dir, "LOCK", "db"); !errors.Is(err, sqlitefile.ErrNotSQLite) {
		t.Errorf("a foreign file: %v, want sqlitefile.ErrNotSQLite", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	lock, _, err = sqlitefile.Prepare(dir, "LOCK", "db")
	if err != nil {
		t.Fatalf("Prepare after a refused file: %v (was the lock kept?)", err)
	}
	if err := lock.Close(); err != nil {
		t.Fatal(err)
	}
}
