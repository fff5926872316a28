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
)

func mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("open webhooks: %w", err)
	}
	return nil
}

// worker delivers to one endpoint. It keeps the endpoint's window (the
// deliveries taken from the log and not yet delivered or dead, at most
// Options.Window) in memory, as a cache of the database: the API's changes
// (retries, pause, rotation) mark it dirty and it reloads.
//
// A delivery holds one of the endpoint's Concurrency slots from its send
// until its outcome is committed, and its stream until then: so the
// deliveries a crash can repeat are at most the slots, and an event is
// sent only after every earlier one of its stream is delivered or dead.
// Outcomes and new events commit through the notifier's committer, one
// commit in flight per worker, while other streams keep being sent.
type worker struct {
	n      *Notifier
	id     string
	kick   chan struct{}
	cancel context.CancelFunc
	logger *slog.Logger
	dirty  atomic.Bool

	// Owned by run's goroutine.
	ep       row
	items    []*item           // the window, in position order
	index    map[uint64]*item  // items by position
	inflight map[uint64]string // position → stream: sent, outcome not committed
	results  []result          // attempts finished, outcome not committed
	caughtUp bool              // the last read of the log found nothing more

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
	first    bool // the delivery's first attempt: its attempts are just this one
}

// commitDone reports a commit of the worker.
type commitDone struct {
	outcomes []outcome
	results  int // how many of w.results it covered
	added    []*item
	position uint64 // the new checkpoint, 0 if unchanged
	err      error
}

// run delivers until ctx ends. Attempts in flight then are cut short and
// not recorded: their deliveries stay pending and are sent again.
func (w *worker) run(ctx context.Context) {
	n := w.n
	sent := make(chan result, n.concurrency)
	committed := make(chan commitDone, 1)
	sends, committing := 0, false
	w.inflight = map[uint64]string{}
	w.dirty.Store(true)
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
			if err := n.db.inTx(rctx, func(tx *sql.Tx) error { return w.write(rctx, tx, outs, nil, 0) }); err != nil {
				w.logger.Warn("recording the last attempts failed; they will be sent again", "err", err)
			}
		}
	}()
	delay := 100 * time.Millisecond
	for {
		var wait time.Duration
		if err := w.step(ctx, &committing, committed, func(it *item, ep row) {
			w.inflight[it.position] = it.stream
			sends++
			go func() { sent <- w.send(ctx, ep, it) }()
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
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-w.kick:
			w.caughtUp = false
		case r := <-sent:
			sends--
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
				w.results = append(w.results, r)
			default:
				drained = true
			}
		}
	}
}

// step reloads the cache if dirty, starts a commit of finished attempts
// and new events of the log if none is in flight, and sends the
// deliveries whose turn has come. It sets wait to the time until the next
// due attempt.
func (w *worker) step(ctx context.Context, committing *bool, committed chan<- commitDone, start func(*item, row), wait *time.Duration) error {
	*wait = forever
	if !*committing && w.dirty.Swap(false) {
		if err := w.reload(ctx); err != nil {
			w.dirty.Store(true)
			return err
		}
	}
	if !*committing {
		if pause := w.commitAfter.Sub(w.n.now()); pause > 0 {
			*wait = pause // after a failed commit
		} else if err := w.startCommit(ctx, committing, committed); err != nil {
			return err
		}
	}
	if w.ep.State != StateActive {
		return nil
	}
	now := w.n.now()
	busy := make(map[string]bool, len(w.inflight))
	for _, s := range w.inflight {
		busy[s] = true
	}
	for _, it := range w.items {
		if busy[it.stream] {
			continue // an earlier event of its stream is not done yet
		}
		busy[it.stream] = true
		if due := it.nextAt.Sub(now); due > 0 {
			*wait = min(*wait, due)
			continue
		}
		if len(w.inflight) >= w.n.concurrency {
			continue // woken when a slot frees
		}
		start(it, w.ep)
	}
	return nil
}

// reload reads the endpoint and its window from the database.
func (w *worker) reload(ctx context.Context) error {
	ep, err := loadEndpoint(ctx, w.n.db.read, w.id)
	if err != nil {
		return err
	}
	rows, err := w.n.db.read.QueryContext(ctx, `SELECT position, id, stream, state, next_at, recorded_at, manual,
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
		if err := rows.Scan(&pos, &it.id, &it.stream, &state, &next, &recAt, &it.manual, &it.tries, &it.body); err != nil {
			return errors.Join(fmt.Errorf("read deliveries: %w", err), rows.Close())
		}
		it.position, it.state, it.nextAt, it.recordedAt = uint64(pos), DeliveryState(state), fromMillis(next), fromMillis(recAt)
		items = append(items, &it)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	w.ep, w.items = ep, items
	w.index = make(map[uint64]*item, len(items))
	for _, it := range items {
		w.index[it.position] = it
	}
	w.caughtUp = false
	w.n.metrics.observeLag(w.id, w.items)
	return nil
}

// startCommit commits, asynchronously, the outcomes of finished attempts
// and the events after the checkpoint that fit in the window.
func (w *worker) startCommit(ctx context.Context, committing *bool, committed chan<- commitDone) error {
	var (
		added    []*item
		position uint64
	)
	if room := w.n.window - len(w.items); w.ep.State == StateActive && room > 0 && !w.caughtUp {
		events, err := w.n.store.ReadAll(ctx, w.ep.Position, room)
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		w.caughtUp = len(events) < room
		if len(events) > 0 {
			position = events[len(events)-1].Position
		}
		for _, e := range events {
			if !wants(w.ep.Events, e.Stream, e.Type) {
				continue
			}
			body, err := json.Marshal(eventjson.From(e))
			if err != nil {
				return fmt.Errorf("encode event %s: %w", e.ID, err)
			}
			added = append(added, &item{position: e.Position, id: deliveryID(w.id, e), eventID: e.ID.String(), eventType: e.Type, stream: e.Stream,
				state: DeliveryPending, nextAt: w.n.now(), recordedAt: e.RecordedAt, body: body})
		}
	}
	k := len(w.results)
	if k == 0 && position == 0 {
		return nil
	}
	outs := w.outcomes(w.results[:k])
	*committing = true
	go func() {
		err := w.n.commit(ctx, func(ctx context.Context, tx *sql.Tx) error {
			return w.write(ctx, tx, outs, added, position)
		})
		committed <- commitDone{outcomes: outs, results: k, added: added, position: position, err: err}
	}()
	return nil
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
		o := outcome{position: r.position, attempt: a, tries: it.tries + 1, first: it.tries == 0}
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

// write records outcomes, adds deliveries and moves the checkpoint (if
// position is not 0), in tx. ErrNotFound if the endpoint is gone.
func (w *worker) write(ctx context.Context, tx *sql.Tx, outs []outcome, added []*item, position uint64) error {
	st := w.n.db.stmts
	delivered := 0
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
		if o.first {
			// The common case, in Go: the attempts are this one.
			_, err = tx.StmtContext(ctx, st.firstAttempt).ExecContext(ctx, string(o.state), next, "["+string(o.attempt)+"]",
				dropBody, w.id, int64(o.position))
		} else {
			_, err = tx.StmtContext(ctx, st.attempt).ExecContext(ctx, string(o.state), next, maxAttempts, string(o.attempt),
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
	// keeps the scan of the kept ones off most commits.
	if w.sincePrune += delivered; w.sincePrune >= keepDelivered/10 {
		w.sincePrune = 0
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE endpoint = ?1 AND state = ?2 AND position <
			(SELECT position FROM deliveries WHERE endpoint = ?1 AND state = ?2 ORDER BY position DESC LIMIT 1 OFFSET ?3)`,
			w.id, string(DeliveryDelivered), keepDelivered); err != nil {
			return fmt.Errorf("prune deliveries: %w", err)
		}
	}
	return nil
}

// apply brings the cache up to a successful commit.
func (w *worker) apply(c commitDone) {
	m := w.n.metrics
	// The attempts covered free their slots, whatever became of them.
	for _, r := range w.results[:c.results] {
		delete(w.inflight, r.position)
	}
	w.results = slices.Delete(w.results, 0, c.results)
	done := false
	for _, o := range c.outcomes {
		it := w.index[o.position]
		if it == nil {
			continue
		}
		it.state, it.nextAt, it.tries, it.manual = o.state, o.nextAt, o.tries, false
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
	for _, it := range c.added {
		w.items = append(w.items, it)
		w.index[it.position] = it
	}
	if c.position != 0 {
		w.ep.Position = c.position
	}
	m.observeLag(w.id, w.items)
}

// deliveryID is the webhook-id of event e for endpoint: the same for every
// attempt and after any restart, different for each endpoint.
func deliveryID(endpoint string, e eventstore.RecordedEvent) string {
	ns, err := uuid.Parse(endpoint)
	if err != nil {
		ns = uuid.NewSHA1(uuid.NameSpaceURL, []byte(endpoint))
	}
	return "msg_" + strings.ReplaceAll(uuid.NewSHA1(ns, e.ID[:]).String(), "-", "")
}

// send makes one attempt.
func (w *worker) send(ctx context.Context, ep row, it *item) result {
	n := w.n
	start := n.now()
	r := result{position: it.position, at: start.UTC()}
	id, body := it.id, it.body
	ts := strconv.FormatInt(start.Unix(), 10)
	sig, err := n.signatures(ep, start, id, ts, body)
	if err != nil {
		r.err = "cannot sign: " + err.Error()
		return r
	}
	actx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		r.err = "bad request: " + err.Error()
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "orderstore-webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	resp, err := n.client.Do(req)
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

// signatures returns the webhook-signature value: the current secret's
// signature, then, during a rotation's grace, the previous secret's.
func (n *Notifier) signatures(ep row, now time.Time, id, ts string, body []byte) (string, error) {
	secret, err := n.sealer.open(ep.ID, ep.secret)
	if err != nil {
		return "", err
	}
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	sig := sign(key, id, ts, body)
	if ep.oldSecret != nil && now.Before(ep.oldUntil) {
		old, err := n.sealer.open(ep.ID, ep.oldSecret)
		if err != nil {
			return "", err
		}
		oldKey, err := secretKey(old)
		if err != nil {
			return "", err
		}
		sig += " " + sign(oldKey, id, ts, body)
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
