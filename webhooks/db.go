package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/orderstore/orderstore/internal/dirlock"
	"github.com/orderstore/orderstore/internal/sqlitefile"
)

// FileName is the name of the webhooks database in the data directory.
const FileName = "webhooks.db"

const (
	lockFileName = "webhooks.lock"
	// applicationID marks the file as orderstore's webhooks ("OSWH").
	applicationID = 0x4f535748
	schemaVersion = 1
	readers       = 4
	// maxAttempts bounds the attempts a delivery keeps (the oldest go).
	maxAttempts = 50
	// keepDelivered is how many delivered deliveries an endpoint keeps for
	// GET /webhooks/{id}/deliveries; older ones are pruned.
	keepDelivered = 1000
)

// db is the webhooks database: endpoints (secrets sealed), checkpoints
// and deliveries. Unlike the read models it cannot be rebuilt from the log
// (secrets, attempts and checkpoints live only here), so every commit is
// synced (synchronous FULL): a commit that returned survives kill -9 and
// power loss.
type db struct {
	write *sql.DB
	read  *sql.DB
	lock  *os.File
	stmts statements
}

// statements are the delivery writes, prepared once on the write
// connection.
type statements struct {
	recordFirst, attempt, insert, checkpoint, endpointExists *sql.Stmt
}

func (d *db) prepare() (err error) {
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = d.write.Prepare(q)
		return st
	}
	d.stmts = statements{
		// A delivery's first outcome writes its row, whole: a delivered
		// one without its body. (A conflict means the row was written
		// already; that write stands.)
		recordFirst: prep(`INSERT INTO deliveries
			(endpoint, position, id, event_id, event_type, stream, recorded_at, body, state, attempts, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		attempt: prep(`UPDATE deliveries SET state = ?, next_at = ?, manual = 0,
			attempts = json_insert(CASE WHEN json_array_length(attempts) >= ? THEN json_remove(attempts, '$[0]') ELSE attempts END, '$[#]', json(?)),
			body = CASE WHEN ? THEN NULL ELSE body END WHERE endpoint = ? AND position = ?`),
		insert: prep(`INSERT INTO deliveries
			(endpoint, position, id, event_id, event_type, stream, recorded_at, body, state, attempts, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?) ON CONFLICT DO NOTHING`),
		checkpoint:     prep(`UPDATE endpoints SET checkpoint = ? WHERE id = ?`),
		endpointExists: prep(`SELECT 1 FROM endpoints WHERE id = ?`),
	}
	return err
}

func openDB(dir string) (_ *db, err error) {
	lock, path, err := sqlitefile.Prepare(dir, lockFileName, FileName)
	switch {
	case errors.Is(err, dirlock.ErrHeld):
		return nil, fmt.Errorf("open webhooks: %w: %s", ErrLocked, dir)
	case errors.Is(err, sqlitefile.ErrNotSQLite) || errors.Is(err, sqlitefile.ErrTruncated):
		return nil, fmt.Errorf("open webhooks %s: %w: %w", path, ErrForeignFile, err)
	case err != nil:
		return nil, fmt.Errorf("open webhooks: %w", err)
	}
	d := &db{lock: lock}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.close())
		}
	}()
	pragmas := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	if d.write, err = sql.Open("sqlite", path+pragmas+"&_txlock=immediate"); err != nil {
		return nil, fmt.Errorf("open webhooks: %w", err)
	}
	d.write.SetMaxOpenConns(1)
	d.write.SetMaxIdleConns(1)
	d.write.SetConnMaxIdleTime(0)
	if err := d.initSchema(); err != nil {
		return nil, fmt.Errorf("open webhooks %s: %w", path, err)
	}
	if err := d.prepare(); err != nil {
		return nil, fmt.Errorf("open webhooks %s: %w", path, err)
	}
	if d.read, err = sql.Open("sqlite", path+pragmas+"&_pragma=query_only(1)"); err != nil {
		return nil, fmt.Errorf("open webhooks: %w", err)
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
	case appID == applicationID && version > schemaVersion:
		return fmt.Errorf("%w: layout %d is newer than this binary's %d", ErrForeignFile, version, schemaVersion)
	case appID != applicationID && (appID != 0 || objects > 0):
		return fmt.Errorf("%w: application id %#x, %d schema objects", ErrForeignFile, appID, objects)
	}
	_, err := d.write.Exec(fmt.Sprintf(`
BEGIN;
CREATE TABLE endpoints (
	id          TEXT PRIMARY KEY,
	url         TEXT    NOT NULL,
	events      TEXT    NOT NULL,
	description TEXT    NOT NULL,
	secret      BLOB    NOT NULL,
	old_secret  BLOB,
	old_until   INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	state       TEXT    NOT NULL,
	reason      TEXT    NOT NULL DEFAULT '',
	checkpoint  INTEGER NOT NULL
) STRICT;
CREATE TABLE deliveries (
	endpoint    TEXT    NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
	position    INTEGER NOT NULL,
	id          TEXT    NOT NULL,
	event_id    TEXT    NOT NULL,
	event_type  TEXT    NOT NULL,
	stream      TEXT    NOT NULL,
	recorded_at INTEGER NOT NULL,
	body        BLOB,
	state       TEXT    NOT NULL,
	attempts    TEXT    NOT NULL,
	next_at     INTEGER,
	manual      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (endpoint, position)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX deliveries_id ON deliveries (endpoint, id);
CREATE INDEX deliveries_state ON deliveries (endpoint, state, position);
PRAGMA application_id = %d;
PRAGMA user_version = %d;
COMMIT;`, applicationID, schemaVersion))
	return err
}

func (d *db) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{d.stmts.recordFirst, d.stmts.attempt, d.stmts.insert, d.stmts.checkpoint, d.stmts.endpointExists} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
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
		return fmt.Errorf("close webhooks: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction, committed if fn succeeds.
func (d *db) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// row is an endpoint as stored, secrets sealed.
type row struct {
	Endpoint
	secret, oldSecret []byte
	oldUntil          time.Time
}

type rowScanner interface{ Scan(dest ...any) error }

const endpointColumns = `id, url, events, description, secret, old_secret, old_until, created_at, state, reason, checkpoint`

func scanEndpoint(s rowScanner) (row, error) {
	var (
		r                 row
		events, state     string
		oldUntil, created int64
		checkpoint        int64
	)
	if err := s.Scan(&r.ID, &r.URL, &events, &r.Description, &r.secret, &r.oldSecret, &oldUntil, &created, &state,
		&r.DisabledReason, &checkpoint); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(events), &r.Events); err != nil {
		return r, fmt.Errorf("endpoint %s: events: %w", r.ID, err)
	}
	r.State, r.Position = EndpointState(state), uint64(checkpoint)
	r.CreatedAt = time.UnixMilli(created).UTC()
	if oldUntil > 0 {
		r.oldUntil = time.UnixMilli(oldUntil).UTC()
	}
	return r, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func loadEndpoint(ctx context.Context, q querier, id string) (row, error) {
	r, err := scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("endpoint %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("read endpoint %s: %w", id, err)
	}
	return r, nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
