package embedded

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/orderstore/orderstore/eventstore"
)

const selectEvents = `SELECT position, stream, version, id, type, data, metadata, recorded_at FROM events `

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	if from < 0 {
		from = 0
	}
	events, err := s.query(ctx, "read "+stream, limit,
		selectEvents+`WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`, stream, from, sqlLimit(limit))
	if err != nil || len(events) > 0 {
		return events, err
	}
	if from == 0 {
		return nil, fmt.Errorf("read %s: %w", stream, eventstore.ErrNotFound)
	}
	// Nothing from this version on: tell a missing stream from a short one.
	first, err := s.query(ctx, "read "+stream, 1, selectEvents+`WHERE stream = ? ORDER BY version LIMIT 1`, stream)
	if err != nil {
		return nil, err
	}
	if len(first) == 0 {
		return nil, fmt.Errorf("read %s: %w", stream, eventstore.ErrNotFound)
	}
	return nil, nil
}

// ReadAll implements eventstore.Store. Positions are dense, so every after
// up to the head is a position; one beyond it is refused.
func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	if err := s.checkAfter(ctx, after); err != nil {
		return nil, err
	}
	// $all shows what the writer has published: a commit is published
	// once everything kept of it in memory is up to date (StreamVersion),
	// so that a follower of $all never sees an event before the store's
	// other answers about it. Positions are dense, so the head also bounds
	// what there is to read (a live subscriber reads a few events at a
	// time, with a limit of a thousand).
	head := s.head.Load()
	size := limit
	if head > after && (size <= 0 || head-after < uint64(size)) {
		size = int(min(head-after, 4096))
	}
	return s.query(ctx, "read $all", size,
		selectEvents+`WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`, int64(after), int64(head), sqlLimit(limit))
}

// checkAfter refuses a position beyond the head: no event has it yet. The
// writer publishes the head just after its commit, so a reader of a stream
// may have seen events past the published head: those positions are
// looked up (and $all shows nothing after them until the head moves).
func (s *Store) checkAfter(ctx context.Context, after uint64) error {
	head := s.head.Load()
	if after <= head {
		return nil
	}
	at, err := s.query(ctx, "read $all", 1, selectEvents+`WHERE position = ?`, int64(after))
	if err != nil || len(at) == 1 {
		return err
	}
	return fmt.Errorf("read $all after %d: %w: the head is at %d", after, eventstore.ErrInvalidPosition, head)
}

func sqlLimit(limit int) int64 {
	if limit <= 0 {
		return -1 // SQLite: no limit
	}
	return int64(limit)
}

func (s *Store) open() error {
	select {
	case <-s.closing:
		return eventstore.ErrClosed
	default:
		return nil
	}
}

// query runs a query selecting events; size (if > 0) is how many it
// expects at most, to size the result.
// It reads rows through the driver directly: database/sql's per-row
// locking and conversions cost a third of a full $all scan.
func (s *Store) query(ctx context.Context, op string, size int, query string, args ...any) (_ []eventstore.RecordedEvent, err error) {
	// Close waits for running reads before it closes their statements.
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	if err := s.open(); err != nil {
		return nil, err
	}
	conn, err := s.readDB.Conn(ctx)
	if err != nil {
		return nil, s.readError(op, ctx, err)
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	var events []eventstore.RecordedEvent
	if size > 0 {
		events = make([]eventstore.RecordedEvent, 0, min(size, 4096))
	}
	err = conn.Raw(func(dc any) (err error) {
		defer func() {
			// A failed or interrupted call makes database/sql discard this
			// connection when it is released: its statements go first,
			// while the connection is still open and ours alone.
			if v, ok := dc.(driver.Validator); err != nil || (ok && !v.IsValid()) {
				err = errors.Join(err, s.stmts.evict(dc))
			}
		}()
		stmt, err := s.stmts.get(ctx, dc, query)
		if err != nil {
			return err
		}
		rows, err := stmt.QueryContext(ctx, named)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, rows.Close()) }()
		row := make([]driver.Value, 8)
		for {
			if err := rows.Next(row); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			e, err := decodeRow(row)
			if err != nil {
				return err
			}
			events = append(events, e)
		}
	})
	if err != nil {
		return nil, s.readError(op, ctx, err)
	}
	return events, nil
}

// decodeRow turns one row of selectEvents into an event.
func decodeRow(row []driver.Value) (eventstore.RecordedEvent, error) {
	var e eventstore.RecordedEvent
	position, ok1 := row[0].(int64)
	stream, ok2 := row[1].(string)
	version, ok3 := row[2].(int64)
	id, ok4 := row[3].([]byte)
	typ, ok5 := row[4].(string)
	data, ok6 := row[5].([]byte)
	meta, ok7 := row[6].([]byte)
	recorded, ok8 := row[7].(int64)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || len(id) != len(e.ID) {
		return e, fmt.Errorf("corrupt event row at position %v", row[0])
	}
	e.Position = uint64(position)
	e.Stream = stream
	e.Version = version
	copy(e.ID[:], id)
	e.Type = typ
	e.Data = data
	e.Metadata = meta
	e.RecordedAt = time.Unix(0, recorded).UTC()
	return e, nil
}

// readError reports ctx's end as itself, a closed store as ErrClosed and
// anything else as the engine's failure.
func (s *Store) readError(op string, ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if s.open() != nil {
		return eventstore.ErrClosed
	}
	return unavailable(op, err)
}

// stmtCache keeps one prepared statement per read connection and query:
// preparing costs more than running an order-sized read.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[stmtKey]driver.Stmt
}

type stmtKey struct {
	conn  any // the driver connection, stable while the pool keeps it
	query string
}

type queryStmt interface {
	driver.Stmt
	driver.StmtQueryContext
}

func (c *stmtCache) get(ctx context.Context, conn any, query string) (queryStmt, error) {
	key := stmtKey{conn, query}
	c.mu.Lock()
	st, ok := c.stmts[key]
	c.mu.Unlock()
	if !ok {
		p, ok := conn.(driver.ConnPrepareContext)
		if !ok {
			return nil, fmt.Errorf("driver connection %T cannot prepare", conn)
		}
		var err error
		if st, err = p.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.stmts == nil {
			c.stmts = map[stmtKey]driver.Stmt{}
		}
		c.stmts[key] = st
		c.mu.Unlock()
	}
	q, ok := st.(queryStmt)
	if !ok {
		return nil, fmt.Errorf("driver statement %T cannot query with a context", st)
	}
	return q, nil
}

// evict closes and forgets the statements of one connection.
func (c *stmtCache) evict(conn any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for k, st := range c.stmts {
		if k.conn == conn {
			errs = append(errs, st.Close())
			delete(c.stmts, k)
		}
	}
	return errors.Join(errs...)
}

// close closes every statement; the connections must be idle.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for k, st := range c.stmts {
		errs = append(errs, st.Close())
		delete(c.stmts, k)
	}
	return errors.Join(errs...)
}
