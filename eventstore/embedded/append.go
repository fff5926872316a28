package embedded

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	req := &appendRequest{ctx: ctx, stream: stream, expected: expected, events: events, reply: make(chan appendReply, 1)}
	select {
	case s.reqs <- req:
		arrived(ctx)
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

// writeLoop is the only writer. Each round takes every queued request (up
// to maxBatch), and those announced and on their way (see hold), applying
// each in one transaction as it comes, and commits once, so concurrent
// appends share one fsync. Applying while the round still waits for
// requests takes the inserts out of the time between two fsyncs.
func (s *Store) writeLoop(head uint64) {
	defer close(s.writerDone)
	holdTimer := time.NewTimer(time.Hour)
	holdTimer.Stop()
	for {
		var first *appendRequest
		select {
		case first = <-s.reqs:
		case <-s.closing:
			s.refuseQueued()
			return
		}
		r := s.begin(head)
		r.add(first)
	fill:
		for r.open() {
			select {
			case req := <-s.reqs:
				r.add(req)
			default:
				break fill
			}
		}
		held := time.Now()
		s.hold(r, holdTimer)
		s.stats.HoldNanos.Add(uint64(time.Since(held)))
		head = r.commit()
	}
}

// hold adds to r the appends that arrive while commands announced
// with Expect are in progress, for at most CommitHold, and returns as soon
// as none is announced any more. A commit costs the writer about as much
// CPU for one event as for dozens (the fsync, the log's page frames), and
// under load that CPU is what the requests in progress lack: holding the
// commit a moment lets more of them into it. Like PostgreSQL's
// commit_delay with commit_siblings, it counts the commands in progress,
// except those waiting for a lock (see Wait): those cannot join before the
// lock's holder commits. With nothing announced (a single writer, the
// projections, the saga) a commit is never held.
func (s *Store) hold(r *round, t *time.Timer) {
	if s.commitHold <= 0 || s.expected.Load() == 0 {
		return
	}
	t.Reset(s.commitHold)
	s.holding.Store(true)
	defer func() {
		t.Stop()
		s.holding.Store(false)
	}()
	for r.open() && s.expected.Load() > 0 {
		select {
		case req := <-s.reqs:
			r.add(req)
		case <-s.expectNone:
		case <-t.C:
			return
		case <-s.closing:
			return
		}
	}
}

// expectKey is the context key of an expectation.
type expectKey struct{}

// expectation is an append announced with Expect. Its state moves from
// active to done once; while paused (see Wait) it does not count.
type expectation struct {
	s     *Store
	state atomic.Int32
}

const (
	expectActive int32 = iota
	expectPaused
	expectDone
)

// Expect implements eventstore.GroupCommitter. Within a context that
// already announces an append to this store, it announces nothing more:
// the one append counts once.
func (s *Store) Expect(ctx context.Context) (context.Context, func()) {
	if e, ok := ctx.Value(expectKey{}).(*expectation); ok && e.s == s && e.state.Load() != expectDone {
		return ctx, func() {}
	}
	e := &expectation{s: s}
	s.expected.Add(1)
	return context.WithValue(ctx, expectKey{}, e), e.arrive
}

// Wait implements eventstore.GroupCommitter: the command announced in ctx
// stops counting until resume, so that a commit is not held for a command
// that waits for a lock the commit's own appends hold.
func (s *Store) Wait(ctx context.Context) (resume func()) {
	e, ok := ctx.Value(expectKey{}).(*expectation)
	if !ok || e.s != s || !e.state.CompareAndSwap(expectActive, expectPaused) {
		return func() {}
	}
	e.uncount()
	return func() {
		// Counted before it is active again, so that an end racing the
		// resume never takes the count below zero.
		s.expected.Add(1)
		if !e.state.CompareAndSwap(expectPaused, expectActive) {
			e.uncount() // resumed already, or ended while it waited
		}
	}
}

// arrive ends the expectation once; the last one wakes a holding writer.
func (e *expectation) arrive() {
	for {
		switch st := e.state.Load(); st {
		case expectDone:
			return
		case expectPaused:
			if e.state.CompareAndSwap(st, expectDone) {
				return // it no longer counted
			}
		default:
			if e.state.CompareAndSwap(st, expectDone) {
				e.uncount()
				return
			}
		}
	}
}

// uncount takes the expectation off the count; the last one wakes a
// holding writer.
func (e *expectation) uncount() {
	if e.s.expected.Add(-1) == 0 {
		select {
		case e.s.expectNone <- struct{}{}:
		default:
		}
	}
}

// arrived ends the expectation ctx carries, if any: its append is queued.
func arrived(ctx context.Context) {
	if e, ok := ctx.Value(expectKey{}).(*expectation); ok {
		e.arrive()
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

// round is one transaction of the writer: the requests it took, applied
// as they came, and their replies, sent once it is committed.
type round struct {
	s       *Store
	tx      *sql.Tx
	w       *writer
	batch   []*appendRequest
	replies []appendReply
	start   uint64 // the head before the round
	head    uint64 // the position of the last event applied
	now     int64  // recorded_at of the round's events
	written int
	events  int
	streams []streamVersion // the versions the round's appends reached, in order
	err     error           // the engine's failure: the round writes nothing
	applied time.Duration   // in apply, for Stats.ApplyNanos
}

// begin starts a round after position head.
func (s *Store) begin(head uint64) *round {
	r := &round{s: s, start: head, head: head, now: s.now().UTC().UnixNano()}
	ctx := context.Background() // requests are checked one by one in add
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		r.err = unavailable("begin", err)
		return r
	}
	w, err := prepareWriter(ctx, tx, s.wstmts, s.versions)
	if err != nil {
		r.err = errors.Join(unavailable("prepare", err), tx.Rollback())
		return r
	}
	r.tx, r.w = tx, w
	return r
}

// open reports whether the round takes more requests.
func (r *round) open() bool { return len(r.batch) < r.s.maxBatch }

// add applies req in the round's transaction. Once the engine has failed,
// the round only collects requests, to answer them with its failure.
func (r *round) add(req *appendRequest) {
	r.batch = append(r.batch, req)
	r.replies = append(r.replies, appendReply{})
	if r.err != nil {
		return
	}
	reply := &r.replies[len(r.replies)-1]
	if err := req.ctx.Err(); err != nil {
		reply.err = err // the caller has gone; write nothing for it
		return
	}
	t := time.Now()
	res, n, err := r.w.apply(context.Background(), req, r.head, r.now)
	r.applied += time.Since(t)
	if err != nil && !isRequestError(err) {
		// The engine failed: nothing of this round may be acknowledged.
		r.err = errors.Join(err, r.w.close(), r.tx.Rollback())
		return
	}
	*reply = appendReply{res: res, err: err}
	r.head += uint64(n)
	if err == nil && n > 0 {
		r.written++
		r.events += n
		r.streams = append(r.streams, streamVersion{req.stream, res.Version})
	}
}

// commit commits the round, answers every request, and returns the new
// head position (the old one if the round failed).
func (r *round) commit() uint64 {
	s := r.s
	if r.err != nil {
		s.fail(r.batch, r.err)
		return r.start
	}
	if err := r.w.close(); err != nil {
		s.fail(r.batch, errors.Join(unavailable("close statements", err), r.tx.Rollback()))
		return r.start
	}
	committing := time.Now()
	if err := r.tx.Commit(); err != nil {
		s.fail(r.batch, unavailable("commit", err))
		return r.start
	}
	s.stats.ApplyNanos.Add(uint64(r.applied))
	s.stats.CommitNanos.Add(uint64(time.Since(committing)))
	s.lastWriteErr.Store(nil)
	s.committed.record(r.streams)
	s.stats.Commits.Add(1)
	s.stats.Appends.Add(uint64(r.written))
	s.stats.Events.Add(uint64(r.events))
	if r.head != r.start {
		s.published(r.head)
	}
	for i, req := range r.batch {
		req.reply <- r.replies[i]
	}
	return r.head
}

func (s *Store) fail(batch []*appendRequest, err error) {
	// The transaction rolled back: cached versions may be ahead of disk.
	clear(s.versions)
	s.lastWriteErr.Store(&err)
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

// The any_append column says how a retry of the event's append is
// recognised (see writer.repeated).
const (
	// appendByPlace: appended with an exact version; a retry names the
	// same place.
	appendByPlace = 0
	// appendByID: appended with Any or StreamExists; a retry may come
	// after later appends, and is found by its first event's ID in the
	// partial index events_any_id.
	appendByID = 1
	// appendCreating: appended with NoStream, at most maxCreating events,
	// so leading its stream; a retry with Any or StreamExists finds it
	// there (findCreating). Kept out of events_any_id, whose every entry
	// costs each new stream about a page written per commit. Larger
	// NoStream appends, and those of files from before schema version 2,
	// carry appendByID and are found by the index.
	appendCreating = 2
)

// maxCreating bounds the events of a NoStream append that findCreating
// scans for on every new Any or StreamExists append to its stream.
const maxCreating = 16

// writer holds the statements of one transaction.
type writer struct {
	version, idAt, findID, creating, insert *sql.Stmt
	versions                                versionCache
}

// versionCache remembers the last version of recently written streams, so
// that most appends skip a query. Only the writer goroutine touches it; it
// is cleared when a transaction fails, and when it grows past its bound.
type versionCache map[string]int64

const versionCacheSize = 1 << 16

func (c versionCache) set(stream string, v int64) {
	if len(c) >= versionCacheSize {
		clear(c)
	}
	c[stream] = v
}

// writeStmts are the writer's statements, prepared once on its connection;
// each transaction binds them with Tx.StmtContext, which reuses them
// rather than preparing again.
type writeStmts struct {
	version, idAt, findID, creating, insert *sql.Stmt
}

func prepareWriteStmts(ctx context.Context, db *sql.DB) (_ *writeStmts, err error) {
	var st writeStmts
	defer func() {
		if err != nil {
			err = errors.Join(err, st.close())
		}
	}()
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.version, `SELECT version FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1`},
		{&st.idAt, `SELECT id, position FROM events WHERE stream = ? AND version = ?`},
		{&st.findID, `SELECT version FROM events WHERE stream = ? AND id = ? AND any_append = 1 LIMIT 1`},
		{&st.creating, fmt.Sprintf(`SELECT version, id, any_append FROM events WHERE stream = ? ORDER BY version LIMIT %d`, maxCreating)},
		{&st.insert, `INSERT INTO events (position, stream, version, id, type, data, metadata, recorded_at, any_append) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		if *p.dst, err = db.PrepareContext(ctx, p.query); err != nil {
			return nil, unavailable("prepare", err)
		}
	}
	return &st, nil
}

func (st *writeStmts) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.version, st.idAt, st.findID, st.creating, st.insert} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

func prepareWriter(ctx context.Context, tx *sql.Tx, st *writeStmts, versions versionCache) (*writer, error) {
	return &writer{
		version:  tx.StmtContext(ctx, st.version),
		idAt:     tx.StmtContext(ctx, st.idAt),
		findID:   tx.StmtContext(ctx, st.findID),
		creating: tx.StmtContext(ctx, st.creating),
		insert:   tx.StmtContext(ctx, st.insert),
		versions: versions,
	}, nil
}

func (w *writer) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.version, w.idAt, w.findID, w.creating, w.insert} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// apply checks one request against the transaction's view and inserts its
// events at positions after head. It returns how many events it inserted.
//
// Idempotency: an exact or NoStream append whose stream has moved past the
// expected version is a retry if its events sit right after that version;
// an Any or StreamExists append is a retry if its first event was written
// by an append without an exact version (Any, StreamExists, NoStream)
// anywhere in the stream, followed by the others. Both look up indexes
// clustered by stream — (stream, version), and (stream, id) over Any and
// StreamExists appends only, NoStream appends being at the stream's start
// — so they hold for the whole history, across restarts, without a
// random-key index on the hot path of exact and creating appends.
func (w *writer) apply(ctx context.Context, req *appendRequest, head uint64, now int64) (eventstore.AppendResult, int, error) {
	actual, cached := w.versions[req.stream]
	if !cached && req.expected == eventstore.NoStream {
		// Most appends that create a stream create a new one: insert
		// first, and only if the stream's first version is taken look at
		// what the stream holds. A refused statement leaves the
		// transaction as it was.
		res, n, err := w.insertEvents(ctx, req, eventstore.NoVersion, head, now)
		if !isUniqueViolation(err) {
			return res, n, err
		}
	}
	if !cached {
		actual = eventstore.NoVersion
		err := w.version.QueryRowContext(ctx, req.stream).Scan(&actual)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return eventstore.AppendResult{}, 0, unavailable("read stream version", err)
		}
	}
	if actual != eventstore.NoVersion {
		res, repeat, err := w.repeated(ctx, req, actual)
		if err != nil || repeat {
			return res, 0, err
		}
	}
	if !req.expected.Matches(actual) {
		return eventstore.AppendResult{}, 0, &eventstore.VersionError{Stream: req.stream, Expected: req.expected, Actual: actual}
	}
	res, n, err := w.insertEvents(ctx, req, actual, head, now)
	if isUniqueViolation(err) {
		// The version was checked above: the engine and the writer's
		// view disagree.
		return res, n, unavailable("insert event", err)
	}
	return res, n, err
}

// insertEvents inserts req's events after version actual of their stream
// and position head. An error from the engine is returned as is when it is
// a unique constraint's (see isUniqueViolation), else as ErrUnavailable.
func (w *writer) insertEvents(ctx context.Context, req *appendRequest, actual int64, head uint64, now int64) (eventstore.AppendResult, int, error) {
	anyAppend := appendByPlace
	switch req.expected {
	case eventstore.NoStream:
		anyAppend = appendCreating
		if len(req.events) > maxCreating {
			anyAppend = appendByID
		}
	case eventstore.Any, eventstore.StreamExists:
		anyAppend = appendByID
	}
	for i, e := range req.events {
		meta := []byte(e.Metadata)
		if len(meta) == 0 {
			meta = []byte("{}")
		}
		_, err := w.insert.ExecContext(ctx, head+uint64(i)+1, req.stream, actual+int64(i)+1, e.ID[:], e.Type, []byte(e.Data), meta, now, anyAppend)
		if isUniqueViolation(err) {
			return eventstore.AppendResult{}, 0, err
		}
		if err != nil {
			return eventstore.AppendResult{}, 0, unavailable("insert event", err)
		}
	}
	n := len(req.events)
	w.versions.set(req.stream, actual+int64(n))
	return eventstore.AppendResult{Version: actual + int64(n), Position: head + uint64(n)}, n, nil
}

// isUniqueViolation reports whether err is SQLite's refusal of a row that
// repeats a unique index's key: here, a stream's version that is taken.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return err != nil && errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// repeated reports whether req is a retry of an append already recorded in
// its stream, whose last version is actual; then res is the original result.
func (w *writer) repeated(ctx context.Context, req *appendRequest, actual int64) (res eventstore.AppendResult, repeat bool, err error) {
	var first int64
	switch req.expected {
	case eventstore.Any, eventstore.StreamExists:
		// The earliest append of the ID is the one a retry repeats: the
		// stream's creating append, if it has the ID, comes first.
		var found bool
		if first, found, err = w.findCreating(ctx, req); err != nil {
			return res, false, err
		}
		if !found {
			err := w.findID.QueryRowContext(ctx, req.stream, req.events[0].ID[:]).Scan(&first)
			if errors.Is(err, sql.ErrNoRows) {
				return res, false, nil
			}
			if err != nil {
				return res, false, unavailable("look up event ID", err)
			}
		}
	case eventstore.NoStream:
		first = 0
	default:
		if req.expected.Matches(actual) {
			return res, false, nil // the stream is where the caller saw it: a new append
		}
		first = int64(req.expected) + 1
	}
	last := first + int64(len(req.events)) - 1
	if first > actual || last > actual {
		return res, false, w.notRepeat(req, first, actual)
	}
	for i, e := range req.events {
		var id []byte
		var position uint64
		if err := w.idAt.QueryRowContext(ctx, req.stream, first+int64(i)).Scan(&id, &position); err != nil {
			return res, false, unavailable("read recorded event", err)
		}
		if !bytes.Equal(id, e.ID[:]) {
			if i == 0 {
				return res, false, w.notRepeat(req, first, actual)
			}
			return res, false, fmt.Errorf("append %s: %w: event %s is recorded at version %d but event %s does not follow it",
				req.stream, eventstore.ErrDuplicateEventID, req.events[0].ID, first, e.ID)
		}
		res = eventstore.AppendResult{Version: first + int64(i), Position: position}
	}
	return res, true, nil
}

// findCreating looks for req's first event among the events of the append
// that created req's stream with NoStream: they lead the stream, so its
// first events, as long as they carry appendCreating, are all there is to
// look at, and there are at most maxCreating of them.
func (w *writer) findCreating(ctx context.Context, req *appendRequest) (version int64, found bool, _ error) {
	rows, err := w.creating.QueryContext(ctx, req.stream)
	if err != nil {
		return 0, false, unavailable("look up event ID", err)
	}
	defer rows.Close() //nolint:errcheck // read-only; rows.Err is checked
	for rows.Next() {
		var id []byte
		var how int
		if err := rows.Scan(&version, &id, &how); err != nil {
			return 0, false, unavailable("look up event ID", err)
		}
		if how != appendCreating {
			break
		}
		if bytes.Equal(id, req.events[0].ID[:]) {
			return version, true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return 0, false, unavailable("look up event ID", err)
	}
	return 0, false, nil
}

// notRepeat is the error for an append that is neither new nor a retry.
func (w *writer) notRepeat(req *appendRequest, first, actual int64) error {
	if req.expected == eventstore.Any || req.expected == eventstore.StreamExists {
		return fmt.Errorf("append %s: %w: event %s is recorded at version %d, but the events after it differ",
			req.stream, eventstore.ErrDuplicateEventID, req.events[0].ID, first)
	}
	return &eventstore.VersionError{Stream: req.stream, Expected: req.expected, Actual: actual}
}
