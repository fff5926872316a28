package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

type appendRequest struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedVersion
	events   []eventstore.EventData
	reply    chan appendReply // buffered, capacity 1
}

type appendReply struct {
	res eventstore.AppendResult
	err error
}

// Append implements eventstore.Store. The call returns once the transaction
// holding the events has been committed and synced to disk.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := validateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	req := &appendRequest{ctx: ctx, stream: stream, expected: expected, events: events, reply: make(chan appendReply, 1)}
	select {
	case s.reqs <- req:
	case <-s.closing:
		return eventstore.AppendResult{}, eventstore.ErrClosed
	case <-ctx.Done():
		return eventstore.AppendResult{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.res, r.err
	case <-s.writerDone:
		// The writer answers everything it took before it returns; a request
		// it never took was not written.
		select {
		case r := <-req.reply:
			return r.res, r.err
		default:
			return eventstore.AppendResult{}, eventstore.ErrClosed
		}
	case <-ctx.Done():
		return eventstore.AppendResult{}, ctx.Err()
	}
}

func validateAppend(stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData) error {
	if stream == "" || stream[0] == '$' {
		return fmt.Errorf("append: %w: stream name %q is empty or reserved", eventstore.ErrInvalidArgument, stream)
	}
	if !expected.Valid() {
		return fmt.Errorf("append %s: %w: expected version %s", stream, eventstore.ErrInvalidArgument, expected)
	}
	if len(events) == 0 {
		return fmt.Errorf("append %s: %w: no events", stream, eventstore.ErrInvalidArgument)
	}
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("append %s: %w", stream, err)
		}
		for _, prev := range events[:i] {
			if prev.ID == e.ID {
				return fmt.Errorf("append %s: %w: event ID %s appears twice", stream, eventstore.ErrInvalidArgument, e.ID)
			}
		}
	}
	return nil
}

// writeLoop is the only writer. Each round takes every queued request (up to
// maxBatch), applies them in one transaction and commits once, so concurrent
// appends share one fsync.
func (s *Store) writeLoop(head uint64) {
	defer close(s.writerDone)
	batch := make([]*appendRequest, 0, s.maxBatch)
	for {
		batch = batch[:0]
		select {
		case req := <-s.reqs:
			batch = append(batch, req)
		case <-s.closing:
			s.refuseQueued()
			return
		}
	fill:
		for len(batch) < s.maxBatch {
			select {
			case req := <-s.reqs:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		head = s.commit(batch, head)
	}
}

func (s *Store) refuseQueued() {
	for {
		select {
		case req := <-s.reqs:
			req.reply <- appendReply{err: eventstore.ErrClosed}
		default:
			return
		}
	}
}

// commit writes batch in one transaction and answers every request. It
// returns the new head position.
func (s *Store) commit(batch []*appendRequest, head uint64) uint64 {
	replies := make([]appendReply, len(batch))
	ctx := context.Background() // requests are checked one by one below
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		s.fail(batch, unavailable("begin", err))
		return head
	}
	w, err := prepareWriter(ctx, tx)
	if err != nil {
		s.fail(batch, errors.Join(unavailable("prepare", err), tx.Rollback()))
		return head
	}
	next := head
	now := s.now().UTC().UnixNano()
	written, events := 0, 0
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			replies[i].err = err // the caller has gone; write nothing for it
			continue
		}
		res, n, err := w.apply(ctx, req, next, now)
		if err != nil && !isRequestError(err) {
			// The engine failed: nothing of this batch may be acknowledged.
			s.fail(batch, errors.Join(err, w.close(), tx.Rollback()))
			return head
		}
		replies[i] = appendReply{res: res, err: err}
		next += uint64(n)
		if err == nil && n > 0 {
			written++
			events += n
		}
	}
	if err := w.close(); err != nil {
		s.fail(batch, errors.Join(unavailable("close statements", err), tx.Rollback()))
		return head
	}
	if err := tx.Commit(); err != nil {
		s.fail(batch, unavailable("commit", err))
		return head
	}
	s.stats.Commits.Add(1)
	s.stats.Appends.Add(uint64(written))
	s.stats.Events.Add(uint64(events))
	if next != head {
		s.published(next)
	}
	for i, req := range batch {
		req.reply <- replies[i]
	}
	return next
}

func (s *Store) fail(batch []*appendRequest, err error) {
	s.logger.Error("append batch failed", "appends", len(batch), "err", err)
	for _, req := range batch {
		req.reply <- appendReply{err: err}
	}
}

// isRequestError tells errors that concern one request (its expected version
// or IDs) from failures of the engine.
func isRequestError(err error) bool {
	return errors.Is(err, eventstore.ErrWrongExpectedVersion) || errors.Is(err, eventstore.ErrDuplicateEventID)
}

// writer holds the statements of one transaction.
type writer struct {
	version, byID, insert *sql.Stmt
}

func prepareWriter(ctx context.Context, tx *sql.Tx) (*writer, error) {
	var w writer
	var err error
	if w.version, err = tx.PrepareContext(ctx, `SELECT version FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1`); err != nil {
		return nil, err
	}
	if w.byID, err = tx.PrepareContext(ctx, `SELECT stream, version, position FROM events WHERE id = ?`); err != nil {
		return nil, errors.Join(err, w.close())
	}
	if w.insert, err = tx.PrepareContext(ctx, `INSERT INTO events (position, stream, version, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		return nil, errors.Join(err, w.close())
	}
	return &w, nil
}

func (w *writer) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.version, w.byID, w.insert} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// apply checks one request against the transaction's view and inserts its
// events at positions after head. It returns how many events it inserted.
func (w *writer) apply(ctx context.Context, req *appendRequest, head uint64, now int64) (eventstore.AppendResult, int, error) {
	actual := eventstore.NoVersion
	err := w.version.QueryRowContext(ctx, req.stream).Scan(&actual)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return eventstore.AppendResult{}, 0, unavailable("read stream version", err)
	}

	res, repeat, err := w.repeated(ctx, req)
	if err != nil || repeat {
		return res, 0, err
	}
	if !req.expected.Matches(actual) {
		return eventstore.AppendResult{}, 0, &eventstore.VersionError{Stream: req.stream, Expected: req.expected, Actual: actual}
	}
	for i, e := range req.events {
		meta := []byte(e.Metadata)
		if len(meta) == 0 {
			meta = []byte("{}")
		}
		_, err := w.insert.ExecContext(ctx, head+uint64(i)+1, req.stream, actual+int64(i)+1, e.ID[:], e.Type, []byte(e.Data), meta, now)
		if err != nil {
			return eventstore.AppendResult{}, 0, unavailable("insert event", err)
		}
	}
	n := len(req.events)
	return eventstore.AppendResult{Version: actual + int64(n), Position: head + uint64(n)}, n, nil
}

// repeated reports whether req's events are already recorded, in order, as
// consecutive events of its stream at a place req's expected version allows.
// Then the append is an idempotent retry and res is the original result. Any
// other reuse of a recorded ID is ErrDuplicateEventID.
func (w *writer) repeated(ctx context.Context, req *appendRequest) (res eventstore.AppendResult, repeat bool, err error) {
	first, found, err := w.lookup(ctx, req.events[0].ID)
	if err != nil {
		return res, false, err
	}
	if !found {
		for _, e := range req.events[1:] {
			loc, found, err := w.lookup(ctx, e.ID)
			if err != nil {
				return res, false, err
			}
			if found {
				return res, false, duplicate(req.stream, e.ID, loc)
			}
		}
		return res, false, nil
	}
	if first.stream != req.stream || !repeatAllowed(req.expected, first.version) {
		return res, false, duplicate(req.stream, req.events[0].ID, first)
	}
	last := first
	for i, e := range req.events[1:] {
		loc, found, err := w.lookup(ctx, e.ID)
		if err != nil {
			return res, false, err
		}
		if !found || loc.stream != req.stream || loc.version != first.version+int64(i)+1 {
			return res, false, fmt.Errorf("append %s: %w: event %s was recorded as version %d, but event %s is not recorded right after it",
				req.stream, eventstore.ErrDuplicateEventID, req.events[0].ID, first.version, e.ID)
		}
		last = loc
	}
	return eventstore.AppendResult{Version: last.version, Position: last.position}, true, nil
}

type location struct {
	stream   string
	version  int64
	position uint64
}

func (w *writer) lookup(ctx context.Context, id uuid.UUID) (loc location, found bool, err error) {
	err = w.byID.QueryRowContext(ctx, id[:]).Scan(&loc.stream, &loc.version, &loc.position)
	if errors.Is(err, sql.ErrNoRows) {
		return loc, false, nil
	}
	if err != nil {
		return loc, false, unavailable("look up event ID", err)
	}
	return loc, true, nil
}

func duplicate(stream string, id uuid.UUID, loc location) error {
	return fmt.Errorf("append %s: %w: event %s is recorded as version %d of %s",
		stream, eventstore.ErrDuplicateEventID, id, loc.version, loc.stream)
}

// repeatAllowed reports whether an append with expected version e could have
// put its first event at version v.
func repeatAllowed(e eventstore.ExpectedVersion, v int64) bool {
	switch e {
	case eventstore.Any:
		return true
	case eventstore.NoStream:
		return v == 0
	case eventstore.StreamExists:
		return v > 0
	}
	return v == int64(e)+1
}
