package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/orderstore/orderstore/internal/dirlock"
	"github.com/orderstore/orderstore/internal/sqlitefile"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

// FileName is the name of the read-model database inside the data
// directory, beside (and independent of) the event store's files.
const FileName = "readmodels.db"

const (
	lockFileName = "readmodels.lock"
	// applicationID marks the file as orderstore's read models ("OSRM").
	applicationID = 0x4f53524d
	// schemaVersion 2 added the checkpoints' store identity.
	schemaVersion = 2
	readers       = 4
	// writeCacheKiB is the page cache of the write connection. Past it,
	// pages come back from the OS's file cache; measured on a 2M-event
	// rebuild (21 MiB of read models): 16 MiB against 64 MiB costs 5% of
	// the time and saves 19 MiB of peak RSS, and nothing at 1M events.
	writeCacheKiB = 16 << 10
)

// db is the read-model database: one write connection shared by every
// projection and rebuild (SQLite has one writer anyway), and a pool of
// read-only connections for queries, which in WAL mode never wait for it.
// Read models can be rebuilt, so commits are not fsynced (synchronous
// NORMAL); a crash may lose the last commits but never splits one, and the
// checkpoint commits with the data it covers.
type db struct {
	write *sql.DB
	read  *sql.DB
	lock  *os.File
}

func openDB(dir string) (_ *db, err error) {
	// The lock keeps an offline rebuild from swapping tables under a
	// running server (with KurrentDB nothing else keeps two processes off
	// one directory).
	lock, path, err := sqlitefile.Prepare(dir, lockFileName, FileName)
	switch {
	case errors.Is(err, dirlock.ErrHeld):
		return nil, fmt.Errorf("open read models: %w: %s", ErrLocked, dir)
	case errors.Is(err, sqlitefile.ErrNotSQLite) || errors.Is(err, sqlitefile.ErrTruncated):
		return nil, fmt.Errorf("open read models %s: %w: %w", path, ErrForeignFile, err)
	case err != nil:
		return nil, fmt.Errorf("open read models: %w", err)
	}
	d := &db{lock: lock}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.close())
		}
	}()
	pragmas := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	if d.write, err = sql.Open("sqlite", path+pragmas+"&_pragma=cache_size("+strconv.Itoa(-writeCacheKiB)+")&_txlock=immediate"); err != nil {
		return nil, fmt.Errorf("open read models: %w", err)
	}
	d.write.SetMaxOpenConns(1)
	d.write.SetMaxIdleConns(1)
	d.write.SetConnMaxIdleTime(0)
	if err := d.initSchema(); err != nil {
		return nil, fmt.Errorf("open read models %s: %w", path, err)
	}
	if d.read, err = sql.Open("sqlite", path+pragmas+"&_pragma=query_only(1)"); err != nil {
		return nil, fmt.Errorf("open read models: %w", err)
	}
	d.read.SetMaxOpenConns(readers)
	d.read.SetMaxIdleConns(readers)
	return d, nil
}

func (d *db) initSchema() error {
	var appID, version, objects int64
	if err := d.write.QueryRow(`PRAGMA application_id`).Scan(&appID); err != nil {
		return err
	}
	if err := d.write.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if err := d.write.QueryRow(`SELECT count(*) FROM sqlite_schema`).Scan(&objects); err != nil {
		return err
	}
	switch {
	case appID == applicationID && version == schemaVersion:
		return nil
	case appID == applicationID && version == 1:
		// Checkpoints of layout 1 have no store identity: the next start
		// records the store's, after checking the checkpoint against its
		// head.
		_, err := d.write.Exec(fmt.Sprintf(`
BEGIN;
ALTER TABLE checkpoints ADD COLUMN store TEXT NOT NULL DEFAULT '';
PRAGMA user_version = %d;
COMMIT;`, schemaVersion))
		return err
	case appID == applicationID && version > schemaVersion:
		return fmt.Errorf("%w: layout %d is newer than this binary's %d", ErrForeignFile, version, schemaVersion)
	case appID != applicationID && (appID != 0 || objects > 0):
		return fmt.Errorf("%w: application id %#x, %d schema objects", ErrForeignFile, appID, objects)
	}
	_, err := d.write.Exec(fmt.Sprintf(`
BEGIN;
CREATE TABLE checkpoints (
	name       TEXT PRIMARY KEY,
	version    INTEGER NOT NULL,
	generation INTEGER NOT NULL,
	position   INTEGER NOT NULL,
	skipped    INTEGER NOT NULL,
	updated_at TEXT    NOT NULL,
	store      TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
PRAGMA application_id = %d;
PRAGMA user_version = %d;
COMMIT;`, applicationID, schemaVersion))
	return err
}

func (d *db) close() error {
	var errs []error
	if d.read != nil {
		errs = append(errs, d.read.Close())
	}
	if d.write != nil {
		errs = append(errs, d.write.Close())
	}
	if d.lock != nil {
		errs = append(errs, d.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close read models: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction and commits it if fn succeeds. If
// fn applies events to the tables t (nil otherwise), t learns the outcome:
// committed, rolled back, or unknown when the commit itself failed (or fn
// panicked), which makes t forget what it cached.
func (d *db) inTx(ctx context.Context, t *readmodel.Tables, fn func(*sql.Tx) error) error {
	outcome := readmodel.Unknown
	if t != nil {
		defer func() { t.Done(outcome) }()
	}
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		outcome = readmodel.RolledBack
		return err
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		outcome = readmodel.RolledBack
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	outcome = readmodel.Committed
	return nil
}

// checkpoint is a projection's row in the checkpoints table: which
// generation of tables is live, the position they reflect and the store
// that position belongs to. Positions are stored as SQLite integers
// (int64); every backend's fit.
type checkpoint struct {
	Name       string
	Version    int
	Generation int64
	// Position is the position of the last event applied or skipped, a
	// token of the store; 0 before the first.
	Position uint64
	// Skipped counts events of unknown types passed over since the tables
	// were created.
	Skipped   uint64
	UpdatedAt time.Time
	// Store is the first event of the store the tables were built from
	// (see eventRef), nil until an event is applied.
	Store *eventRef
}

// prefix names the tables of the checkpoint's generation.
func (c checkpoint) prefix() string { return tablePrefix(c.Name, c.Generation) }

// tablePrefix names the tables of one generation of a projection's read
// model. Each rebuild fills a new generation and switches the checkpoint to
// it, so no table is ever renamed.
func tablePrefix(name string, generation int64) string {
	return name + "_g" + strconv.FormatInt(generation, 10) + "_"
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func loadCheckpoint(ctx context.Context, q querier, name string) (checkpoint, bool, error) {
	c := checkpoint{Name: name}
	var (
		pos, skipped   int64
		updated, store string
	)
	err := q.QueryRowContext(ctx, `SELECT version, generation, position, skipped, updated_at, store FROM checkpoints WHERE name = ?`, name).
		Scan(&c.Version, &c.Generation, &pos, &skipped, &updated, &store)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read checkpoint of %s: %w", name, err)
	}
	c.Position, c.Skipped = uint64(pos), uint64(skipped)
	if c.UpdatedAt, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return c, false, fmt.Errorf("read checkpoint of %s: %w", name, err)
	}
	if c.Store, err = decodeRef(store); err != nil {
		return c, false, fmt.Errorf("read checkpoint of %s: %w", name, err)
	}
	return c, true, nil
}

func saveCheckpoint(ctx context.Context, tx *sql.Tx, c checkpoint) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (name, version, generation, position, skipped, updated_at, store)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET version = excluded.version, generation = excluded.generation,
		position = excluded.position, skipped = excluded.skipped, updated_at = excluded.updated_at, store = excluded.store`,
		c.Name, c.Version, c.Generation, int64(c.Position), int64(c.Skipped), c.UpdatedAt.UTC().Format(time.RFC3339Nano), encodeRef(c.Store))
	if err != nil {
		return fmt.Errorf("write checkpoint of %s: %w", c.Name, err)
	}
	return nil
}

// dropTables drops every table whose name match accepts.
func dropTables(ctx context.Context, tx *sql.Tx, match func(table string) bool) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	var drop []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return errors.Join(fmt.Errorf("list tables: %w", err), rows.Close())
		}
		if match(name) {
			drop = append(drop, name)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	for _, name := range drop {
		if _, err := tx.ExecContext(ctx, `DROP TABLE "`+name+`"`); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
	}
	return nil
}

// generationOf matches the tables of one generation.
func generationOf(prefix string) func(string) bool {
	return func(t string) bool { return strings.HasPrefix(t, prefix) }
}
