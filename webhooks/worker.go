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
	"strconv"
	"strings"
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

// worker delivers to one endpoint. It alone writes the endpoint's
// checkpoint and deliveries (besides the retries and deletes of the API,
// which it reads back when woken).
type worker struct {
	n      *Notifier
	id     string
	kick   chan struct{}
	cancel context.CancelFunc
	logger *slog.Logger
}

func (w *worker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
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

// run delivers until ctx ends. Attempts in flight then are cut short and
// not recorded: their deliveries stay pending and are sent again.
func (w *worker) run(ctx context.Context) {
	results := make(chan result, w.n.concurrency)
	inflight := map[uint64]string{} // position → stream
	var done []result
	sends := 0
	defer func() {
		// Attempts that got their answer before the end are recorded, so
		// that a clean stop re-sends only those it cut short.
		for ; sends > 0; sends-- {
			done = append(done, <-results)
		}
		if len(done) > 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := w.record(rctx, done); err != nil {
				w.logger.Warn("recording the last attempts failed; they will be sent again", "err", err)
			}
		}
	}()
	delay := 100 * time.Millisecond
	for {
		if len(done) > 0 {
			if err := w.record(ctx, done); err != nil {
				if ctx.Err() != nil {
					return
				}
				w.logger.Error("recording delivery attempts failed; retrying", "err", err)
			} else {
				done = done[:0]
			}
		}
		wait, stop, err := w.step(ctx, inflight, func(p pendingRow, body []byte, ep row) {
			inflight[p.position] = p.stream
			sends++
			go func() { results <- w.send(ctx, ep, p, body) }()
		})
		switch {
		case ctx.Err() != nil:
			return
		case stop:
			w.logger.Debug("endpoint gone; worker stops")
			return
		case err != nil:
			w.logger.Error("webhook delivery step failed; retrying", "err", err, "in", delay)
			wait = delay
			delay = min(2*delay, 10*time.Second)
		default:
			delay = 100 * time.Millisecond
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-w.kick:
		case r := <-results:
			sends--
			delete(inflight, r.position)
			done = append(done, r)
		case <-timer.C:
		}
		timer.Stop()
		for drained := false; !drained; {
			select {
			case r := <-results:
				sends--
				delete(inflight, r.position)
				done = append(done, r)
			default:
				drained = true
			}
		}
	}
}

// step takes new events from
// the log into the window, and starts the deliveries whose turn has come.
// It returns how long to wait for the next due attempt, or stop when the
// endpoint is gone.
func (w *worker) step(ctx context.Context, inflight map[uint64]string,
	start func(pendingRow, []byte, row)) (wait time.Duration, stop bool, err error) {
	ep, err := loadEndpoint(ctx, w.n.db.read, w.id)
	if errors.Is(err, ErrNotFound) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	if ep.State != StateActive {
		w.n.metrics.pending.WithLabelValues(w.id).Set(0)
		return forever, false, nil
	}
	more, err := w.fill(ctx, ep)
	if err != nil {
		return 0, false, fmt.Errorf("take events: %w", err)
	}
	pending, err := w.pending(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("read deliveries: %w", err)
	}
	now := w.n.now()
	w.n.metrics.observeLag(w.id, pending, now)
	wait = forever
	busy := map[string]bool{}
	for _, s := range inflight {
		busy[s] = true
	}
	for _, p := range pending {
		if busy[p.stream] {
			continue // an earlier event of its stream is not delivered yet
		}
		busy[p.stream] = true
		if _, ok := inflight[p.position]; ok {
			continue
		}
		if due := p.nextAt.Sub(now); due > 0 {
			wait = min(wait, due)
			continue
		}
		if len(inflight) >= w.n.concurrency {
			continue // woken when one finishes
		}
		body, err := w.body(ctx, p.position)
		if err != nil {
			return 0, false, err
		}
		start(p, body, ep)
	}
	if more {
		wait = 0
	}
	return wait, false, nil
}

// fill takes the events after the checkpoint into deliveries, up to the
// window, advancing the checkpoint in the same transaction: an event is
// either before the checkpoint with its delivery recorded (or filtered
// out), or after it, still in the log. It reports whether more events may
// follow at once.
func (w *worker) fill(ctx context.Context, ep row) (more bool, err error) {
	var open int
	if err := w.n.db.read.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE endpoint = ? AND state IN (?, ?)`,
		w.id, string(DeliveryPending), string(DeliveryFailed)).Scan(&open); err != nil {
		return false, err
	}
	room := w.n.window - open
	if room <= 0 {
		return false, nil
	}
	events, err := w.n.store.ReadAll(ctx, ep.Position, room)
	if err != nil || len(events) == 0 {
		return false, err
	}
	now := millis(w.n.now())
	err = w.n.db.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range events {
			if !wants(ep.Events, e.Stream, e.Type) {
				continue
			}
			body, err := json.Marshal(eventjson.From(e))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries
				(endpoint, position, id, event_id, event_type, stream, recorded_at, body, state, attempts, next_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?) ON CONFLICT DO NOTHING`,
				w.id, int64(e.Position), deliveryID(w.id, e), e.ID.String(), e.Type, e.Stream, millis(e.RecordedAt), body,
				string(DeliveryPending), now); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE endpoints SET checkpoint = ? WHERE id = ?`, int64(events[len(events)-1].Position), w.id)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return errors.Join(err, fmt.Errorf("endpoint %s: %w", w.id, ErrNotFound))
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil // deleted meanwhile; the next step stops
	}
	return len(events) == room, err
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

// pending returns the deliveries not yet delivered nor dead, in position
// order: at most the window.
func (w *worker) pending(ctx context.Context) ([]pendingRow, error) {
	rows, err := w.n.db.read.QueryContext(ctx, `SELECT position, stream, state, next_at, recorded_at FROM deliveries
		WHERE endpoint = ? AND state IN (?, ?) ORDER BY position`, w.id, string(DeliveryPending), string(DeliveryFailed))
	if err != nil {
		return nil, err
	}
	var out []pendingRow
	for rows.Next() {
		var (
			p                pendingRow
			pos, next, recAt int64
			state            string
		)
		if err := rows.Scan(&pos, &p.stream, &state, &next, &recAt); err != nil {
			return nil, errors.Join(err, rows.Close())
		}
		p.position, p.state, p.nextAt, p.recordedAt = uint64(pos), DeliveryState(state), fromMillis(next), fromMillis(recAt)
		out = append(out, p)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

func (w *worker) body(ctx context.Context, position uint64) ([]byte, error) {
	var body []byte
	err := w.n.db.read.QueryRowContext(ctx, `SELECT body FROM deliveries WHERE endpoint = ? AND position = ?`, w.id, int64(position)).Scan(&body)
	if err != nil {
		return nil, fmt.Errorf("read delivery body: %w", err)
	}
	return body, nil
}

// send makes one attempt.
func (w *worker) send(ctx context.Context, ep row, p pendingRow, body []byte) result {
	n := w.n
	start := n.now()
	r := result{position: p.position, at: start.UTC()}
	id, err := w.idOf(ctx, p.position)
	if err != nil {
		r.interrupted = true
		return r
	}
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

func (w *worker) idOf(ctx context.Context, position uint64) (string, error) {
	var id string
	err := w.n.db.read.QueryRowContext(ctx, `SELECT id FROM deliveries WHERE endpoint = ? AND position = ?`, w.id, int64(position)).Scan(&id)
	return id, err
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

// record commits the outcomes of attempts in one transaction.
func (w *worker) record(ctx context.Context, done []result) error {
	n := w.n
	return n.db.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range done {
			if r.interrupted {
				continue
			}
			var (
				attempts string
				manual   bool
				state    string
			)
			err := tx.QueryRowContext(ctx, `SELECT attempts, manual, state FROM deliveries WHERE endpoint = ? AND position = ?`,
				w.id, int64(r.position)).Scan(&attempts, &manual, &state)
			if errors.Is(err, sql.ErrNoRows) {
				continue // the endpoint was deleted
			}
			if err != nil {
				return err
			}
			if DeliveryState(state) != DeliveryPending && DeliveryState(state) != DeliveryFailed {
				continue
			}
			var list []Attempt
			if err := json.Unmarshal([]byte(attempts), &list); err != nil {
				return err
			}
			list = append(list, Attempt{At: r.at, Status: r.status, Error: r.err, DurationMS: r.duration.Milliseconds()})
			tried := len(list) // attempts of the schedule so far (when not manual)
			if len(list) > maxAttempts {
				list = list[len(list)-maxAttempts:]
			}
			raw, err := json.Marshal(list)
			if err != nil {
				return err
			}
			var (
				next     any
				newState DeliveryState
				body     = "body"
			)
			switch {
			case r.status >= 200 && r.status < 300:
				newState, body = DeliveryDelivered, "NULL"
				n.metrics.deliveries.WithLabelValues("delivered").Inc()
			case r.status == http.StatusGone:
				// Sent again, in order, if the endpoint is resumed.
				newState, next = DeliveryFailed, millis(r.at)
				if err := n.disable(ctx, tx, w.id, fmt.Sprintf("the receiver answered 410 Gone at %s", r.at.Format(time.RFC3339))); err != nil {
					return err
				}
				n.metrics.deliveries.WithLabelValues("gone").Inc()
				w.logger.Warn("endpoint disabled: the receiver answered 410 Gone")
			case manual || tried >= len(n.schedule):
				newState = DeliveryDead
				n.metrics.deliveries.WithLabelValues("dead").Inc()
				w.logger.Warn("delivery dead-lettered", "position", r.position, "attempts", tried, "status", r.status, "err", r.err)
			default:
				delay := max(jitter(n.schedule[tried]), r.retryAfter)
				newState, next = DeliveryFailed, millis(r.at.Add(delay))
				n.metrics.deliveries.WithLabelValues("failed").Inc()
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = ?, attempts = ?, next_at = ?, manual = 0, body = `+body+`
				WHERE endpoint = ? AND position = ?`, string(newState), string(raw), next, w.id, int64(r.position)); err != nil {
				return err
			}
		}
		// Keep the newest delivered deliveries only.
		_, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE endpoint = ?1 AND state = ?2 AND position <
			(SELECT position FROM deliveries WHERE endpoint = ?1 AND state = ?2 ORDER BY position DESC LIMIT 1 OFFSET ?3)`,
			w.id, string(DeliveryDelivered), keepDelivered)
		return err
	})
}
