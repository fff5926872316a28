package webhooks

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/eventjson"
)

const (
	// maxResponseBytes is how much of an answer's body is read (and
	// dropped): enough to reuse the connection after a short answer, and a
	// bound on what a hostile receiver can make us read.
	maxResponseBytes = 64 << 10
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = 24 * time.Hour
	// forever is the wait of a worker with nothing scheduled: it sleeps
	// until woken.
	forever = 365 * 24 * time.Hour
	// answeredPerSlot bounds the answered deliveries whose outcome awaits
	// its commit, per slot (Options.Concurrency): a crash re-sends at most
	// (1+answeredPerSlot) × Concurrency deliveries per endpoint. The bound
	// also caps a commit's outcomes: with 1, a commit carried at most as
	// many as the slots, and BenchmarkDeliver (1 endpoint) measured
	// ratios of 0.25-0.30 against 0.32-0.34 with 3, alternated runs.
	answeredPerSlot = 3
)

func mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("open webhooks: %w", err)
	}
	return nil
}

// worker delivers to one endpoint. It keeps the endpoint's window (the
// deliveries taken from the log and not yet delivered or dead, at most
// Options.Window) in memory. A delivery gets its row in the database with
// its first outcome, written once, whole (a delivered one without its
// body): until then it lives in memory only, and the endpoint's checkpoint
// stays before it, so a crash reads it from the log again. The rows of
// deliveries still to be retried are the database's part of the window;
// the API's changes (retries, pause, rotation) mark the worker dirty and
// it reloads them, and reads the log again from the checkpoint.
//
// A delivery holds one of the endpoint's Concurrency slots from its send
// until its answer; then, until its outcome is committed, it counts
// against a second bound of answeredPerSlot × Concurrency answered
// deliveries awaiting their commit. So the deliveries a crash can repeat
// are at most (1+answeredPerSlot) × Concurrency (after a crash, the
// events after the checkpoint that have a row are not sent again). An event is sent only after every earlier
// one of its stream has been answered 2xx (its outcome committed or on
// its way, in the same or an earlier commit) or is dead: a failed
// answer holds the stream until its outcome is committed. Outcomes and
// the checkpoint commit through the notifier's committer, one commit in
// flight per worker, while sends go on: the answers arriving during a
// commit go into the next one.
type worker struct {
	n      *Notifier
	id     string
	kick   chan struct{}
	cancel context.CancelFunc
	logger *slog.Logger
	dirty  atomic.Bool
	client *http.Client
	peek   chan chan []item // Deliveries asks for the deliveries without a row
	done   chan struct{}    // closed when run returns

	// Owned by run's goroutine.
	ep       row
	keys     signingKeys
	items    []*item           // the window, in position order
	index    map[uint64]*item  // items by position
	sending  map[uint64]string // position → stream: sent, no answer yet
	results  []result          // attempts answered, outcome not committed
	caughtUp bool              // the last read of the log found nothing more
	readPos  uint64            // the last position read from the log
	// rowsUpTo is, after a reload, the last position after the checkpoint
	// that has a row (0 if none): events read from the log up to it may
	// have been delivered already.
	rowsUpTo uint64
	ns       uuid.UUID       // the namespace of the endpoint's webhook-ids
	busy     map[string]bool // step's scratch
	// taken holds, during step, the positions sent and not yet
	// committed: sending, or answered (in results).
	taken map[uint64]bool

	// commitDelay and commitAfter back off commits after a failed one.
	commitDelay time.Duration
	commitAfter time.Time

	// sincePrune counts deliveries delivered since the last pruning;
	// written by write, which runs on the committer's goroutine while
	// run waits for it, or on run's own at the end.
	sincePrune int
}

// item is one delivery of the window.
type item struct {
	position   uint64
	id         string
	eventID    string
	eventType  string
	stream     string
	state      DeliveryState
	nextAt     time.Time
	recordedAt time.Time
	manual     bool
	tries      int
	body       []byte
	// recorded tells that the delivery has a row; one without has the
	// position read from the log before it in prev: the checkpoint can
	// move there, not further, until it has one.
	recorded bool
	prev     uint64
}

func (w *worker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// touch marks the worker's cache stale (the API changed the endpoint or
// its deliveries) and wakes it.
func (w *worker) touch() {
	w.dirty.Store(true)
	w.wake()
}

// result is the outcome of one attempt.
type result struct {
	position    uint64
	stream      string
	at          time.Time
	status      int
	err         string
	duration    time.Duration
	retryAfter  time.Duration
	interrupted bool // the notifier stopped: not an attempt
}

// outcome is what an attempt's result does to its delivery.
type outcome struct {
	position uint64
	state    DeliveryState
	nextAt   time.Time // for failed and pending
	attempt  []byte    // the Attempt, JSON
	gone     bool      // 410: the endpoint is disabled
	tries    int
	// it is the delivery when it has no row yet: this outcome writes it.
	it *item
}

// commitDone reports a commit of the worker.
type commitDone struct {
	outcomes []outcome
	results  int     // how many of w.results it covered
	added    []*item // deliveries given a pending row
	position uint64  // the new checkpoint, 0 if unchanged
	err      error
}

// run delivers until ctx ends. Attempts in flight then are cut short and
// not recorded: their deliveries stay pending and are sent again.
func (w *worker) run(ctx context.Context) {
	n := w.n
	sent := make(chan result, n.concurrency)
	// Senders, one per slot, live as long as the worker: a goroutine per
	// attempt would grow a new stack for every HTTP exchange.
	type job struct {
		url  string
		keys signingKeys
		it   *item
	}
	jobs := make(chan job, n.concurrency)
	defer close(jobs) // after the deferred wait for the attempts in flight
	for range n.concurrency {
		go func() {
			for j := range jobs {
				sent <- w.send(ctx, j.url, j.keys, j.it)
			}
		}()
	}
	committed := make(chan commitDone, 1)
	sends, committing := 0, false
	w.sending = map[uint64]string{}
	w.ns = deliveryNamespace(w.id)
	w.dirty.Store(true)
	defer close(w.done)
	defer w.client.CloseIdleConnections()
	defer func() {
		// Attempts that got their answer before the end are recorded, so
		// that a clean stop re-sends only those it cut short.
		if committing {
			if c := <-committed; c.err == nil {
				w.apply(c)
			}
		}
		for ; sends > 0; sends-- {
			w.results = append(w.results, <-sent)
		}
		if len(w.results) > 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			outs := w.outcomes(w.results)
			position := w.checkpoint(outs, nil)
			if position <= w.ep.Position {
				position = 0 // unchanged
			}
			if err := n.db.inTx(rctx, func(tx *sql.Tx) error { return w.write(rctx, tx, outs, nil, position) }); err != nil {
				w.logger.Warn("recording the last attempts failed; they will be sent again", "err", err)
			}
		}
	}()
	delay := 100 * time.Millisecond
	timer := time.NewTimer(forever)
	defer timer.Stop()
	for {
		var wait time.Duration
		if err := w.step(ctx, &committing, committed, func(it *item, ep row) {
			w.sending[it.position] = it.stream
			sends++
			jobs <- job{url: ep.URL, keys: w.keys, it: it}
		}, &wait); err != nil {
			if errors.Is(err, ErrNotFound) {
				w.logger.Debug("endpoint gone; worker stops")
				return
			}
			if ctx.Err() != nil {
				return
			}
			w.logger.Error("webhook delivery step failed; retrying", "err", err, "in", delay)
			wait = delay
			delay = min(2*delay, 10*time.Second)
		} else {
			delay = 100 * time.Millisecond
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
			w.caughtUp = false
		case reply := <-w.peek:
			reply <- w.unrecorded()
		case r := <-sent:
			sends--
			delete(w.sending, r.position)
			w.results = append(w.results, r)
		case c := <-committed:
			committing = false
			w.caughtUp = false // the events read were not taken, if it failed
			switch {
			case c.err == nil:
				w.apply(c)
				w.commitDelay = 0
			case errors.Is(c.err, ErrNotFound):
				w.dirty.Store(true) // deleted: the reload stops the worker
			case ctx.Err() == nil:
				w.commitDelay = min(max(2*w.commitDelay, 100*time.Millisecond), 10*time.Second)
				w.commitAfter = n.now().Add(w.commitDelay)
				w.logger.Error("committing deliveries failed; retrying", "err", c.err, "in", w.commitDelay)
			}
		case <-timer.C:
		}
		timer.Stop()
		for drained := false; !drained; {
			select {
			case r := <-sent:
				sends--
				delete(w.sending, r.position)
				w.results = append(w.results, r)
			default:
				drained = true
			}
		}
	}
}

// step reloads the cache if dirty, takes events of the log into the
// window, starts a commit of finished attempts (and of the checkpoint) if
// none is in flight, and sends the deliveries whose turn has come. It
// sets wait to the time until the next due attempt.
func (w *worker) step(ctx context.Context, committing *bool, committed chan<- commitDone, start func(*item, row), wait *time.Duration) error {
	*wait = forever
	if !*committing && w.dirty.Swap(false) {
		if err := w.reload(ctx); err != nil {
			w.dirty.Store(true)
			return err
		}
	}
	if w.busy == nil {
		w.busy = make(map[string]bool, w.n.window)
		w.taken = make(map[uint64]bool, (1+answeredPerSlot)*w.n.concurrency)
	}
	busy, taken := w.busy, w.taken
	clear(taken)
	for p := range w.sending {
		taken[p] = true
	}
	for _, r := range w.results {
		taken[r.position] = true
	}
	if err := w.fill(ctx); err != nil {
		return err
	}
	if !*committing {
		if pause := w.commitAfter.Sub(w.n.now()); pause > 0 {
			*wait = pause // after a failed commit
		} else {
			w.startCommit(ctx, committing, committed)
		}
	}
	if w.ep.State != StateActive {
		return nil
	}
	now := w.n.now()
	clear(busy)
	for _, s := range w.sending {
		busy[s] = true
	}
	for _, r := range w.results {
		if r.interrupted || r.status/100 != 2 {
			busy[r.stream] = true // its outcome decides what comes next
		}
		if r.status == http.StatusGone {
			return nil // the endpoint is being disabled
		}
	}
	// free tells whether a send can start: a slot is free, and the
	// answered deliveries awaiting their commit leave room.
	free := func() bool {
		return len(w.sending) < w.n.concurrency && len(w.sending)+len(w.results) < (1+answeredPerSlot)*w.n.concurrency
	}
	if !free() {
		// Nothing can start before an answer or a commit, which wake the
		// worker: the scan of the window waits for them.
		return nil
	}
	full := false // a due delivery waits for a slot
	for _, it := range w.items {
		if full && !free() {
			break // nothing more can start: an answer or a commit wakes the worker
		}
		if taken[it.position] {
			continue // sent: in flight, or answered 2xx and its commit to come
		}
		if busy[it.stream] {
			continue // an earlier event of its stream is not done yet
		}
		busy[it.stream] = true
		if due := it.nextAt.Sub(now); due > 0 {
			*wait = min(*wait, due)
			continue
		}
		if !free() {
			full = true // woken when a slot frees
			continue
		}
		start(it, w.ep)
	}
	return nil
}

// reload reads the endpoint and the deliveries it has rows of still to be
// sent from the database; the log is read again from the checkpoint.
func (w *worker) reload(ctx context.Context) error {
	ep, err := loadEndpoint(ctx, w.n.db.read, w.id)
	if err != nil {
		return err
	}
	rows, err := w.n.db.read.QueryContext(ctx, `SELECT position, id, event_id, event_type, stream, state, next_at, recorded_at, manual,
		json_array_length(attempts), body FROM deliveries
		WHERE endpoint = ? AND state IN (?, ?) ORDER BY position`, w.id, string(DeliveryPending), string(DeliveryFailed))
	if err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	var items []*item
	for rows.Next() {
		var (
			it               item
			pos, next, recAt int64
			state            string
		)
		if err := rows.Scan(&pos, &it.id, &it.eventID, &it.eventType, &it.stream, &state, &next, &recAt, &it.manual, &it.tries, &it.body); err != nil {
			return errors.Join(fmt.Errorf("read deliveries: %w", err), rows.Close())
		}
		it.position, it.state, it.nextAt, it.recordedAt = uint64(pos), DeliveryState(state), fromMillis(next), fromMillis(recAt)
		it.recorded = true
		items = append(items, &it)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	var upTo sql.NullInt64
	if err := w.n.db.read.QueryRowContext(ctx, `SELECT max(position) FROM deliveries WHERE endpoint = ? AND position > ?`,
		w.id, int64(ep.Position)).Scan(&upTo); err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	w.ep, w.items = ep, items
	w.keys = w.n.signingKeys(ep)
	w.index = make(map[uint64]*item, len(items))
	for _, it := range items {
		w.index[it.position] = it
	}
	w.readPos, w.rowsUpTo = ep.Position, uint64(upTo.Int64)
	w.caughtUp = false
	w.n.metrics.observeLag(w.id, w.items)
	return nil
}

// fill takes the events after the last one read that fit in the window.
// Up to rowsUpTo, those that have a row already are skipped.
func (w *worker) fill(ctx context.Context) error {
	room := w.n.window - len(w.items)
	if w.ep.State != StateActive || room <= 0 || w.caughtUp {
		return nil
	}
	if room < w.n.window/4 {
		// Read the log in larger batches, unless the deliveries to send
		// run low. (At least fresh of them are not sent yet: a bound
		// without a lookup per delivery of the window.)
		fresh := -len(w.taken)
		for _, it := range w.items {
			if !it.recorded {
				fresh++
			}
		}
		if fresh >= 2*w.n.concurrency {
			return nil
		}
	}
	events, err := w.n.store.ReadAll(ctx, w.readPos, room)
	if err != nil {
		return fmt.Errorf("read the log: %w", err)
	}
	w.caughtUp = len(events) < room
	if len(events) == 0 {
		return nil
	}
	last := events[len(events)-1].Position
	var have map[uint64]bool
	if w.rowsUpTo != 0 {
		if have, err = w.rowsIn(ctx, w.readPos, min(last, w.rowsUpTo)); err != nil {
			return err
		}
		if last >= w.rowsUpTo {
			w.rowsUpTo = 0
		}
	}
	prev, now := w.readPos, w.n.now()
	for _, e := range events {
		p := prev
		prev = e.Position
		if have[e.Position] || !wants(w.ep.Events, e.Stream, e.Type) {
			continue
		}
		body, err := eventjson.Append(nil, e)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", e.ID, err)
		}
		it := &item{position: e.Position, id: deliveryID(w.ns, e), eventID: e.ID.String(), eventType: e.Type, stream: e.Stream,
			state: DeliveryPending, nextAt: now, recordedAt: e.RecordedAt, body: body, prev: p}
		w.items = append(w.items, it)
		w.index[it.position] = it
	}
	w.readPos = last
	w.n.metrics.observeLag(w.id, w.items)
	return nil
}

// rowsIn returns the positions after from and up to to that have a row.
func (w *worker) rowsIn(ctx context.Context, from, to uint64) (map[uint64]bool, error) {
	rows, err := w.n.db.read.QueryContext(ctx, `SELECT position FROM deliveries WHERE endpoint = ? AND position > ? AND position <= ?`,
		w.id, int64(from), int64(to))
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	have := map[uint64]bool{}
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			return nil, errors.Join(fmt.Errorf("read deliveries: %w", err), rows.Close())
		}
		have[uint64(p)] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	return have, nil
}

// startCommit commits, asynchronously, the outcomes of finished attempts,
// a pending row for each delivery without one that waits behind a
// delivery to be retried, and the checkpoint moved as far as the
// deliveries without a row allow.
func (w *worker) startCommit(ctx context.Context, committing *bool, committed chan<- commitDone) {
	k := len(w.results)
	outs := w.outcomes(w.results[:k])
	// A delivery waiting behind one to be retried (hours, maybe) gets a
	// row, so that it does not hold the checkpoint meanwhile.
	var added []*item
	var held map[string]bool // made at the first recorded delivery: rare
	for _, it := range w.items {
		switch {
		case it.recorded:
			if held == nil {
				held = map[string]bool{}
			}
			held[it.stream] = true
		case held[it.stream]:
			if !w.taken[it.position] {
				added = append(added, it)
			}
		}
	}
	position := w.checkpoint(outs, added)
	if position <= w.ep.Position {
		position = 0 // unchanged
	}
	if k == 0 && len(added) == 0 && position == 0 {
		return
	}
	*committing = true
	go func() {
		err := w.n.commit(ctx, func(ctx context.Context, tx *sql.Tx) error {
			return w.write(ctx, tx, outs, added, position)
		})
		committed <- commitDone{outcomes: outs, results: k, added: added, position: position, err: err}
	}()
}

// checkpoint is where the checkpoint can move once outs and added are
// written: before the first delivery left without a row, or to the last
// position read if there is none.
func (w *worker) checkpoint(outs []outcome, added []*item) uint64 {
	var writes map[uint64]bool
	if len(outs)+len(added) > 0 {
		writes = make(map[uint64]bool, len(outs)+len(added))
	}
	for _, o := range outs {
		writes[o.position] = true
	}
	for _, it := range added {
		writes[it.position] = true
	}
	for _, it := range w.items {
		if !it.recorded && !writes[it.position] {
			return it.prev
		}
	}
	return w.readPos
}

// unrecorded returns the deliveries of the window that have no row yet.
func (w *worker) unrecorded() []item {
	var out []item
	for _, it := range w.items {
		if !it.recorded {
			c := *it
			c.body = nil
			out = append(out, c)
		}
	}
	return out
}

// outcomes decides what each result does to its delivery.
func (w *worker) outcomes(results []result) []outcome {
	n := w.n
	var outs []outcome
	for _, r := range results {
		if r.interrupted {
			continue
		}
		it := w.index[r.position]
		if it == nil {
			continue // deleted, or no longer in the window
		}
		a, _ := json.Marshal(Attempt{At: r.at, Status: r.status, Error: r.err, DurationMS: r.duration.Milliseconds()}) //nolint:errcheck // plain values
		o := outcome{position: r.position, attempt: a, tries: it.tries + 1}
		if !it.recorded {
			o.it = it
		}
		switch {
		case r.status >= 200 && r.status < 300:
			o.state = DeliveryDelivered
		case r.status == http.StatusGone:
			// Sent again, in order, when the endpoint is resumed.
			o.state, o.nextAt, o.gone = DeliveryFailed, r.at, true
		case it.manual || o.tries >= len(n.schedule):
			o.state = DeliveryDead
		default:
			o.state, o.nextAt = DeliveryFailed, r.at.Add(max(jitter(n.schedule[o.tries]), r.retryAfter))
		}
		outs = append(outs, o)
	}
	return outs
}

// write records outcomes, adds pending rows and moves the checkpoint (if
// position is not 0), in tx. ErrNotFound if the endpoint is gone.
func (w *worker) write(ctx context.Context, tx *sql.Tx, outs []outcome, added []*item, position uint64) error {
	st := w.n.db.stmts
	if len(added) > 0 || slices.ContainsFunc(outs, func(o outcome) bool { return o.it != nil }) {
		// Rows of a deleted endpoint would break its foreign key.
		var one int
		err := tx.StmtContext(ctx, st.endpointExists).QueryRowContext(ctx, w.id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("endpoint %s: %w", w.id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read endpoint: %w", err)
		}
	}
	delivered := 0
	var recordFirst, attempt *sql.Stmt
	for _, o := range outs {
		var next any
		if o.state == DeliveryFailed || o.state == DeliveryPending {
			next = millis(o.nextAt)
		}
		dropBody := o.state == DeliveryDelivered
		if dropBody {
			delivered++
		}
		var err error
		if it := o.it; it != nil {
			// The common case: the delivery's row, written once.
			body := it.body
			if dropBody {
				body = nil
			}
			if recordFirst == nil {
				recordFirst = tx.StmtContext(ctx, st.recordFirst)
			}
			_, err = recordFirst.ExecContext(ctx, w.id, int64(it.position), it.id, it.eventID, it.eventType,
				it.stream, millis(it.recordedAt), body, string(o.state), "["+string(o.attempt)+"]", next)
		} else {
			if attempt == nil {
				attempt = tx.StmtContext(ctx, st.attempt)
			}
			_, err = attempt.ExecContext(ctx, string(o.state), next, maxAttempts, string(o.attempt),
				dropBody, w.id, int64(o.position))
		}
		if err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		if o.gone {
			if err := w.n.disable(ctx, tx, w.id, fmt.Sprintf("the receiver answered 410 Gone at %s", fromMillis(millis(o.nextAt)).Format(time.RFC3339))); err != nil {
				return fmt.Errorf("disable endpoint: %w", err)
			}
		}
	}
	insert := tx.StmtContext(ctx, st.insert)
	for _, it := range added {
		if _, err := insert.ExecContext(ctx, w.id, int64(it.position), it.id, it.eventID, it.eventType, it.stream,
			millis(it.recordedAt), it.body, string(DeliveryPending), millis(it.nextAt)); err != nil {
			return fmt.Errorf("add delivery: %w", err)
		}
	}
	if position != 0 {
		res, err := tx.StmtContext(ctx, st.checkpoint).ExecContext(ctx, int64(position), w.id)
		if err != nil {
			return fmt.Errorf("move checkpoint: %w", err)
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return errors.Join(err, fmt.Errorf("endpoint %s: %w", w.id, ErrNotFound))
		}
	}
	// Keep the newest delivered deliveries only; pruning now and then
	// keeps the scan of the kept ones off most commits. Rows after the
	// checkpoint stay: they tell, after a crash, what not to send again.
	if w.sincePrune += delivered; w.sincePrune >= keepDelivered/2 {
		w.sincePrune = 0
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE endpoint = ?1 AND state = ?2 AND position <
			(SELECT position FROM deliveries WHERE endpoint = ?1 AND state = ?2 ORDER BY position DESC LIMIT 1 OFFSET ?3)
			AND position <= (SELECT checkpoint FROM endpoints WHERE id = ?1)`,
			w.id, string(DeliveryDelivered), keepDelivered); err != nil {
			return fmt.Errorf("prune deliveries: %w", err)
		}
	}
	return nil
}

// apply brings the cache up to a successful commit.
func (w *worker) apply(c commitDone) {
	m := w.n.metrics
	// The attempts covered leave the bound of answers awaiting a commit.
	w.results = slices.Delete(w.results, 0, c.results)
	done := false
	for _, o := range c.outcomes {
		it := w.index[o.position]
		if it == nil {
			continue
		}
		it.state, it.nextAt, it.tries, it.manual, it.recorded = o.state, o.nextAt, o.tries, false, true
		switch o.state {
		case DeliveryDelivered:
			m.deliveries.WithLabelValues("delivered").Inc()
			done = true
		case DeliveryDead:
			m.deliveries.WithLabelValues("dead").Inc()
			w.logger.Warn("delivery dead-lettered", "position", o.position, "attempts", o.tries)
			done = true
		default:
			if o.gone {
				m.deliveries.WithLabelValues("gone").Inc()
				w.ep.State = StateDisabled
				w.logger.Warn("endpoint disabled: the receiver answered 410 Gone")
			} else {
				m.deliveries.WithLabelValues("failed").Inc()
			}
		}
	}
	if done {
		w.items = slices.DeleteFunc(w.items, func(it *item) bool {
			if it.state == DeliveryDelivered || it.state == DeliveryDead {
				delete(w.index, it.position)
				return true
			}
			return false
		})
	}
	for _, a := range c.added {
		if it := w.index[a.position]; it != nil {
			it.recorded = true
		}
	}
	if c.position != 0 {
		w.ep.Position = c.position
	}
	m.observeLag(w.id, w.items)
}

// deliveryNamespace is the namespace of an endpoint's webhook-ids; a
// worker keeps it rather than parse its endpoint's ID for every event.
func deliveryNamespace(endpoint string) uuid.UUID {
	ns, err := uuid.Parse(endpoint)
	if err != nil {
		ns = uuid.NewSHA1(uuid.NameSpaceURL, []byte(endpoint))
	}
	return ns
}

// deliveryID is the webhook-id of event e for the endpoint of namespace
// ns: the same for every attempt and after any restart, different for
// each endpoint.
func deliveryID(ns uuid.UUID, e eventstore.RecordedEvent) string {
	return "msg_" + strings.ReplaceAll(uuid.NewSHA1(ns, e.ID[:]).String(), "-", "")
}

// send makes one attempt.
func (w *worker) send(ctx context.Context, url string, keys signingKeys, it *item) result {
	n := w.n
	start := n.now()
	r := result{position: it.position, stream: it.stream, at: start.UTC()}
	id, body := it.id, it.body
	ts := strconv.FormatInt(start.Unix(), 10)
	sig, err := keys.signature(start, id, ts, body)
	if err != nil {
		r.err = "cannot sign: " + err.Error()
		return r
	}
	actx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		r.err = "bad request: " + err.Error()
		return r
	}
	// Keys in canonical form (as Header.Set would write them), in a map
	// made at its size: the headers of every attempt.
	req.Header = http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {"orderstore-webhooks/1"},
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {ts},
		"Webhook-Signature": {sig},
	}
	resp, err := w.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		err = errors.Join(err, resp.Body.Close())
		r.status = resp.StatusCode
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), n.now())
		}
		if err != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
			err = nil // the answer is what counts; its body is dropped anyway
		}
	}
	r.duration = n.now().Sub(start)
	if err != nil && ctx.Err() != nil {
		r.interrupted = true
		return r
	}
	if err != nil {
		r.err = attemptError(err, actx)
	}
	n.metrics.observeAttempt(r)
	return r
}

// attemptError says why an attempt got no usable answer, without the URL
// (its query may hold a receiver's token).
func attemptError(err error, actx context.Context) string {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return "timeout: no answer within the attempt's timeout"
	}
	if errors.Is(err, ErrPrivateTarget) {
		return "refused: the host resolves to an internal address"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// signingKeys are an endpoint's signing keys, opened from their seal
// once per reload of the worker rather than at every attempt.
type signingKeys struct {
	key, old []byte
	oldUntil time.Time
	err      error // the secrets do not open: every attempt fails with it
}

func (n *Notifier) signingKeys(ep row) signingKeys {
	var k signingKeys
	secret, err := n.sealer.open(ep.ID, ep.secret)
	if err == nil {
		k.key, err = secretKey(secret)
	}
	if err == nil && ep.oldSecret != nil {
		var old string
		if old, err = n.sealer.open(ep.ID, ep.oldSecret); err == nil {
			k.old, err = secretKey(old)
			k.oldUntil = ep.oldUntil
		}
	}
	k.err = err
	return k
}

// signature returns the webhook-signature value: the current secret's
// signature, then, during a rotation's grace, the previous secret's.
func (k signingKeys) signature(now time.Time, id, ts string, body []byte) (string, error) {
	if k.err != nil {
		return "", k.err
	}
	sig := sign(k.key, id, ts, body)
	if k.old != nil && now.Before(k.oldUntil) {
		sig += " " + sign(k.old, id, ts, body)
	}
	return sig, nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 if
// absent or unreadable, capped at maxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		d = time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// jitter spreads a retry delay by up to ±10%, so that deliveries failed
// together do not retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	spread := int64(d) / 10
	if spread == 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*spread+1)-spread)
}
