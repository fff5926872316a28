package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	events, err := s.query(ctx, "read "+stream,
		selectEvents+`WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`, stream, from, sqlLimit(limit))
	if err != nil || len(events) > 0 {
		return events, err
	}
	// Nothing from this version on: tell a missing stream from a short one.
	var one int
	err = s.readDB.QueryRowContext(ctx, `SELECT 1 FROM events WHERE stream = ? LIMIT 1`, stream).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read %s: %w", stream, eventstore.ErrNotFound)
	}
	if err != nil {
		return nil, s.readError("read "+stream, ctx, err)
	}
	return nil, nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	return s.query(ctx, "read $all",
		selectEvents+`WHERE position > ? ORDER BY position LIMIT ?`, int64(after), sqlLimit(limit))
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

func (s *Store) query(ctx context.Context, op, query string, args ...any) (_ []eventstore.RecordedEvent, err error) {
	rows, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.readError(op, ctx, err)
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = s.readError(op, ctx, cerr)
		}
	}()
	var events []eventstore.RecordedEvent
	for rows.Next() {
		var (
			e        eventstore.RecordedEvent
			position int64
			id       []byte
			recorded int64
		)
		if err := rows.Scan(&position, &e.Stream, &e.Version, &id, &e.Type, &e.Data, &e.Metadata, &recorded); err != nil {
			return nil, s.readError(op, ctx, err)
		}
		if len(id) != len(e.ID) {
			return nil, fmt.Errorf("%s: corrupt event at position %d: ID has %d bytes", op, position, len(id))
		}
		copy(e.ID[:], id)
		e.Position = uint64(position)
		e.RecordedAt = time.Unix(0, recorded).UTC()
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readError(op, ctx, err)
	}
	return events, nil
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
