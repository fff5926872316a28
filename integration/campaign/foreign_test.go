package campaign

import (
	"bytes"
	"database/sql"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// TestServe_RefusesForeignFiles puts a foreign or corrupted file where
// serve expects events.db or readmodels.db: serve must exit with status 1
// before listening, name the file and say what is wrong with it on
// stderr, and leave the file as it was.
func TestServe_RefusesForeignFiles(t *testing.T) {
	bin := binary(t)
	t.Parallel()

	// Real databases of both kinds, from a server stopped cleanly.
	src := t.TempDir()
	srv := startServer(t, bin, src)
	if r := mustCall(t, "POST", srv.url+"/orders", []byte(`{"id":"o-1","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`)); r.status != 201 {
		t.Fatalf("place: %d %s", r.status, r.body)
	}
	srv.stop()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The fixtures must be whole files: fold any write-ahead log left
	// beside them into the main file before copying its bytes.
	for _, name := range []string{"events.db", "readmodels.db"} {
		checkpoint(t, filepath.Join(src, name))
	}
	events, models := read("events.db"), read("readmodels.db")
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	sqliteHeader := []byte("SQLite format 3\x00")

	cases := []struct {
		name, file string
		content    []byte
		want       string // in the error line
	}{
		{"events.db random bytes", "events.db", noise(8192), "not an orderstore event database"},
		{"events.db SQLite header then garbage", "events.db", append(sqliteHeader, noise(8176)...), "file is not a database"},
		{"events.db is a read-model database", "events.db", models, "not an orderstore event database"},
		{"events.db truncated", "events.db", events[:3000], "truncated"},
		{"events.db text", "events.db", []byte("hello, I am a text file\n"), "not an orderstore event database"},
		{"readmodels.db random bytes", "readmodels.db", noise(8192), "not a SQLite database"},
		{"readmodels.db SQLite header then garbage", "readmodels.db", append(sqliteHeader, noise(8176)...), "file is not a database"},
		{"readmodels.db is an event database", "readmodels.db", events, "not an orderstore read-model database"},
		{"readmodels.db truncated", "readmodels.db", models[:3000], "truncated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			code, errLine, log := serveRefused(t, bin, dir)
			if code != 1 {
				t.Fatalf("serve exited %d, want 1:\n%s", code, log)
			}
			if !strings.Contains(errLine, tc.file) || !strings.Contains(errLine, tc.want) {
				t.Fatalf("error line %q does not name %s and say %q", errLine, tc.file, tc.want)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, tc.content) {
				t.Fatalf("serve changed the foreign %s (%d bytes, was %d)", tc.file, len(after), len(tc.content))
			}
		})
	}
}

// serveRefused runs serve on dir and expects it to exit before it listens.
// It returns the exit code, the "orderstore: …" error line and the whole
// stderr.
func serveRefused(t *testing.T, bin, dir string) (code int, errLine, stderr string) {
	t.Helper()
	log := newProcessLog()
	s := &server{t: t, dir: dir, log: log, done: make(chan struct{})}
	s.cmd = newServeCmd(bin, dir)
	s.cmd.Stderr = log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case <-s.done:
	case addr := <-log.addr:
		s.kill()
		t.Fatalf("serve started (listening on %s) on a foreign file:\n%s", addr, log)
	case <-time.After(startWait):
		s.kill()
		t.Fatalf("serve neither started nor exited within %s:\n%s", startWait, log)
	}
	stderr = log.String()
	for line := range strings.Lines(stderr) {
		if rest, ok := strings.CutPrefix(line, "orderstore: "); ok {
			errLine = strings.TrimSpace(rest)
		}
	}
	return s.cmd.ProcessState.ExitCode(), errLine, stderr
}

// checkpoint folds the write-ahead log of the SQLite database at path into
// the file itself.
func checkpoint(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck // test fixture
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatalf("checkpoint %s: %v", path, err)
	}
}
