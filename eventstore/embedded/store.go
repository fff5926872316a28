package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/internal/dirlock"
	"github.com/orderstore/orderstore/internal/sqlitefile"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the name of the event database inside the data directory.
const FileName = "events.db"

const (
	// applicationID marks the database file as orderstore's ("OSEV").
	applicationID = 0x4f534556
	// schemaVersion is the layout this code writes; Open refuses newer ones
	// and brings older ones up to it. 2: small NoStream appends are marked
	// any_append = 2 and left out of events_any_id (see appendCreating),
	// where a binary of version 1 would look for their retries in vain.
	schemaVersion = 2

	defaultReaders  = 4
	defaultMaxBatch = 1024

	defaultCommitHold = 150 * time.Microsecond
)

var (
	_ eventstore.Store           = (*Store)(nil)
	_ eventstore.GroupCommitter  = (*Store)(nil)
	_ eventstore.StreamVersioner = (*Store)(nil)
)

// Options tune a Store. The zero value is ready to use.
type Options struct {
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
	// Now stamps recorded events; nil means time.Now.
	Now func() time.Time
	// Readers is the number of read connections (default 4).
	Readers int
	// MaxBatch caps the appends committed in one transaction (default 1024).
	MaxBatch int
	// CommitHold is the longest a commit waits for appends announced with
	// Expect (default 150µs; negative: never).
	CommitHold time.Duration
}

// Store is the embedded event store. Open it with Open; it is safe for
// concurrent use.
type Store struct {
	dir    string
	logger *slog.Logger
	now    func() time.Time

	lock    *os.File
	writeDB *sql.DB // one connection, used only by the writer goroutine
	readDB  *sql.DB
	stmts   stmtCache    // prepared statements of readDB's connections
	readMu  sync.RWMutex // held shared by reads, exclusively by Close

	reqs       chan *appendRequest
	maxBatch   int
	closing    chan struct{} // closed by Close
	writerDone chan struct{} // closed when the writer goroutine returns
	closeOnce  sync.Once
	closeErr   error

	head     atomic.Uint64 // position of the last committed event
	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after each commit

	commitHold time.Duration
	expected   atomic.Int64  // appends announced with Expect and not yet queued
	expectNone chan struct{} // a token: expected fell to 0
	holding    atomic.Bool   // the writer is in hold (for tests)

	committed    committedVersions // see StreamVersion
	wstmts       *writeStmts       // prepared on writeDB
	stats        Stats
	versions     versionCache          // owned by the writer goroutine
	lastWriteErr atomic.Pointer[error] // the last commit's failure; nil once one succeeds
}

// Stats counts the writer's work since Open.
type Stats struct {
	Commits atomic.Uint64 // transactions committed (one fsync each)
	Appends atomic.Uint64 // append calls committed
	Events  atomic.Uint64 // events written

	// The writer's time in nanoseconds: holding a commit for announced
	// appends (see Options.CommitHold; the appends it applies meanwhile
	// count in ApplyNanos too), applying appends (version checks and
	// inserts), and committing (writing the log's page frames and their
	// fsync). The single writer is saturated when ApplyNanos plus
	// CommitNanos grows as fast as the clock.
	HoldNanos   atomic.Uint64
	ApplyNanos  atomic.Uint64
	CommitNanos atomic.Uint64
}

// Open opens the store in dir, creating the directory and database if
// needed. It fails with ErrLocked if another process has the directory open,
// and with ErrForeignFile if the database there is not orderstore's.
func Open(dir string, opts Options) (_ *Store, err error) {
	if strings.ContainsAny(dir, "?#") {
		return nil, fmt.Errorf("open store: data directory %q: '?' and '#' are not supported in the path", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		dir:        dir,
		logger:     opts.Logger,
		now:        opts.Now,
		maxBatch:   opts.MaxBatch,
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		notify:     make(chan struct{}),
		versions:   versionCache{},
		commitHold: opts.CommitHold,
		expectNone: make(chan struct{}, 1),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBatch <= 0 {
		s.maxBatch = defaultMaxBatch
	}
	if s.commitHold == 0 {
		s.commitHold = defaultCommitHold
	}
	readers := opts.Readers
	if readers <= 0 {
		readers = defaultReaders
	}
	s.reqs = make(chan *appendRequest, s.maxBatch)

	if s.lock, err = dirlock.Lock(filepath.Join(dir, "LOCK")); err != nil {
		if errors.Is(err, dirlock.ErrHeld) {
			return nil, fmt.Errorf("open store: %w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.closeFiles())
		}
	}()

	path := filepath.Join(dir, FileName)
	if err := checkForeign(path); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	pragmas := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(16384)"
	// The writer's page cache holds the hot ends of the indexes (64 MiB);
	// readers mostly stream $all or fetch a few pages, so 16 MiB each keeps
	// memory bounded whatever the history's size.
	if s.writeDB, err = sql.Open("sqlite", path+pragmas+"&_pragma=cache_size(-65536)&_txlock=immediate"); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.writeDB.SetMaxOpenConns(1)
	s.writeDB.SetMaxIdleConns(1)
	s.writeDB.SetConnMaxLifetime(0)
	s.writeDB.SetConnMaxIdleTime(0)
	ctx := context.Background()
	if err := s.initSchema(ctx); err != nil {
		if strings.Contains(err.Error(), "file is not a database") {
			// SQLITE_NOTADB: not a passing failure but a foreign file.
			return nil, fmt.Errorf("open store %s: %w: %s", path, ErrForeignFile, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if s.readDB, err = sql.Open("sqlite", path+pragmas+"&_pragma=cache_size(-16384)&_pragma=query_only(1)"); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.readDB.SetMaxOpenConns(readers)
	s.readDB.SetMaxIdleConns(readers)
	s.readDB.SetConnMaxIdleTime(0)

	if s.wstmts, err = prepareWriteStmts(ctx, s.writeDB); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	var head sql.NullInt64
	if err := s.writeDB.QueryRowContext(ctx, `SELECT max(position) FROM events`).Scan(&head); err != nil {
		return nil, fmt.Errorf("open store: read head: %w", unavailable("read head", err))
	}
	s.head.Store(uint64(head.Int64))

	go s.writeLoop(uint64(head.Int64))
	s.logger.Info("event store open", "dir", dir, "head", head.Int64)
	return s, nil
}

// checkForeign refuses a file that is no SQLite database, or a truncated
// one, before SQLite gets a chance to treat it as one.
func checkForeign(path string) error {
	if err := sqlitefile.Check(path); err != nil {
		if errors.Is(err, sqlitefile.ErrNotSQLite) || errors.Is(err, sqlitefile.ErrTruncated) {
			return fmt.Errorf("%w: %w", ErrForeignFile, err)
		}
		return err
	}
	return nil
}

func (s *Store) initSchema(ctx context.Context) error {
	var mode string
	if err := s.writeDB.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return unavailable("read journal mode", err)
	}
	var syncMode int
	if err := s.writeDB.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&syncMode); err != nil {
		return unavailable("read synchronous", err)
	}
	// Durability rests on these two settings; refuse to run without them.
	if !strings.EqualFold(mode, "wal") || syncMode != 2 {
		return fmt.Errorf("durability settings not in effect: journal_mode=%s synchronous=%d (want wal, 2)", mode, syncMode)
	}

	var appID, version int64
	if err := s.writeDB.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return unavailable("read application id", err)
	}
	if err := s.writeDB.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return unavailable("read schema version", err)
	}
	switch {
	case appID == applicationID && version >= 1 && version <= schemaVersion:
		return s.migrate(ctx, version)
	case appID == applicationID && version > schemaVersion:
		return fmt.Errorf("%w: schema version %d is newer than this binary's %d", ErrForeignFile, version, schemaVersion)
	case appID != 0 && appID != applicationID:
		return fmt.Errorf("%w: application id %#x", ErrForeignFile, appID)
	}
	var tables int
	if err := s.writeDB.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
		return unavailable("read schema", err)
	}
	if appID == 0 && tables > 0 {
		return fmt.Errorf("%w: it holds %d unknown schema objects", ErrForeignFile, tables)
	}
	_, err := s.writeDB.ExecContext(ctx, fmt.Sprintf("BEGIN;\n%s\nPRAGMA application_id = %d;\nPRAGMA user_version = %d;\nCOMMIT;",
		schemaDDL, applicationID, schemaVersion))
	if err != nil {
		return unavailable("create schema", err)
	}
	return syncDir(s.dir)
}

// schemaDDL creates the event table and its indexes.
const schemaDDL = `
CREATE TABLE events (
	position    INTEGER PRIMARY KEY,
	stream      TEXT    NOT NULL,
	version     INTEGER NOT NULL,
	id          BLOB    NOT NULL,
	type        TEXT    NOT NULL,
	data        BLOB    NOT NULL,
	metadata    BLOB    NOT NULL,
	recorded_at INTEGER NOT NULL,
	any_append  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX events_stream_version ON events (stream, version);
CREATE INDEX events_any_id ON events (stream, id) WHERE any_append = 1;
` + filterDDL

// filterDDL creates the indexes of ReadFiltered. Each ends, as every
// SQLite index does, with the rowid (the position), so that the events of
// one correlation ID or type come in position order: a page costs its own
// size, not a scan. They are plain indexes, on a column and on an
// expression of the metadata, so a file stays readable and writable by a
// binary that predates them (SQLite maintains them all the same).
const filterDDL = `
CREATE INDEX IF NOT EXISTS events_correlation ON events (` + correlationExpr + `);
CREATE INDEX IF NOT EXISTS events_type ON events (type);`

// correlationExpr is the metadata's correlation_id as SQL: the index of
// ReadFiltered and its queries must spell it alike. Metadata is a BLOB,
// which SQLite's JSON functions would take for its binary JSONB: it is
// read as the text it is.
const correlationExpr = `json_extract(CAST(metadata AS TEXT), '$.correlation_id')`

// migrate brings a database of schema version 1 or 2 up to date: the
// any_append column and its partial index, and the indexes of
// ReadFiltered, arrived after the first files were written; then the
// file's version becomes schemaVersion.
func (s *Store) migrate(ctx context.Context, version int64) error {
	var n int
	err := s.writeDB.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('events') WHERE name = 'any_append'`).Scan(&n)
	if err != nil {
		return unavailable("migrate", err)
	}
	if n == 0 {
		if _, err := s.writeDB.ExecContext(ctx, `ALTER TABLE events ADD COLUMN any_append INTEGER NOT NULL DEFAULT 0`); err != nil {
			return unavailable("migrate", err)
		}
	}
	if _, err := s.writeDB.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS events_any_id ON events (stream, id) WHERE any_append = 1`); err != nil {
		return unavailable("migrate", err)
	}
	// The indexes of ReadFiltered arrived later still: building them reads
	// the whole log once (seconds for a million events), at the first
	// open by a binary that has them.
	var have int
	if err := s.writeDB.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('events_correlation', 'events_type')`).Scan(&have); err != nil {
		return unavailable("migrate", err)
	}
	if have < 2 {
		start := time.Now()
		if _, err := s.writeDB.ExecContext(ctx, filterDDL); err != nil {
			return unavailable("migrate: create filter indexes", err)
		}
		s.logger.Info("event store: built the correlation and type indexes", "took", time.Since(start))
	}
	// Version 2 changes what new rows mean, not the old ones: from here
	// on, a binary of version 1 must refuse the file.
	if version < schemaVersion {
		if _, err := s.writeDB.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)); err != nil {
			return unavailable("migrate: schema version", err)
		}
		s.logger.Info("event store: schema version updated", "from", version, "to", schemaVersion)
	}
	return nil
}

// syncDir makes the creation of the database file itself durable.
func syncDir(dir string) (err error) {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync data directory: %w", err)
	}
	defer func() { err = errors.Join(err, d.Close()) }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync data directory: %w", err)
	}
	return nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Stats returns the writer's counters.
func (s *Store) Stats() *Stats { return &s.stats }

// Head returns the position of the last committed event.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	select {
	case <-s.closing:
		return 0, eventstore.ErrClosed
	default:
	}
	return s.head.Load(), ctx.Err()
}

// Ping checks that the store can serve: the database answers a read, and
// the last commit did not fail (a full disk or a read-only directory keeps
// failing commits until it is fixed).
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.query(ctx, "ping", 1, selectEvents+`WHERE position > ? ORDER BY position LIMIT 1`, int64(s.head.Load())); err != nil {
		return err
	}
	if err := s.lastWriteErr.Load(); err != nil {
		return fmt.Errorf("ping: last commit failed: %w", *err)
	}
	return nil
}

// Close stops the writer after the appends already queued, then closes the
// database and releases the directory lock.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.writerDone
		s.closeErr = s.closeFiles()
		s.logger.Info("event store closed", "dir", s.dir)
	})
	return s.closeErr
}

func (s *Store) closeFiles() error {
	var errs []error
	if s.readDB != nil {
		s.readMu.Lock()
		errs = append(errs, s.stmts.close(), s.readDB.Close())
		s.readMu.Unlock()
	}
	if s.wstmts != nil {
		errs = append(errs, s.wstmts.close())
	}
	if s.writeDB != nil {
		errs = append(errs, s.writeDB.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// wakeup returns a channel closed at the next commit.
func (s *Store) wakeup() <-chan struct{} {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.notify
}

// published records a commit up to head and wakes subscribers.
func (s *Store) published(head uint64) {
	s.head.Store(head)
	s.notifyMu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.notifyMu.Unlock()
}
