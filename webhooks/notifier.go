package webhooks

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderstore/orderstore/eventstore"
)

// DefaultRetrySchedule is the delay before each attempt of a delivery (the
// Standard Webhooks example): after the last, the delivery is dead.
var DefaultRetrySchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Defaults of Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultConcurrency   = 8
	DefaultWindow        = 256
	DefaultRotationGrace = 24 * time.Hour
	// KeyFileName is the key file Open creates in the data directory when
	// no key is given.
	KeyFileName = "webhooks.key"
)

// Options configure a Notifier. The zero value is usable.
type Options struct {
	// Logger receives lifecycle and failure logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the delivery metrics; nil registers none.
	Registerer prometheus.Registerer
	// RetrySchedule is the delay before each attempt; nil means
	// DefaultRetrySchedule. Its length is the number of attempts.
	RetrySchedule []time.Duration
	// Timeout bounds one attempt, from connecting to reading the answer;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// AllowPrivate allows loopback, private and link-local targets.
	AllowPrivate bool
	// Key seals the signing secrets at rest (KeySize bytes). Nil: the key
	// in KeyFile.
	Key []byte
	// KeyFile holds the key (base64); "" means KeyFileName in the data
	// directory, created (mode 0600) when missing. A KeyFile given must
	// exist.
	KeyFile string
	// Concurrency bounds the deliveries in flight per endpoint (each to a
	// different order or SKU stream); 0 means DefaultConcurrency.
	Concurrency int
	// Window bounds the deliveries per endpoint taken from the log and not
	// yet delivered or dead; the rest waits in the log. 0 means
	// DefaultWindow.
	Window int
	// RotationGrace is how long a rotated-out secret keeps signing beside
	// the new one; 0 means DefaultRotationGrace.
	RotationGrace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Resolver resolves endpoint hosts at registration; nil means
	// net.DefaultResolver.
	Resolver *net.Resolver
}

// Notifier delivers the event log to registered endpoints as signed
// webhooks, and manages the endpoints. Its methods are safe for concurrent
// use. Deliveries happen while Run runs; the management methods work
// without it.
type Notifier struct {
	store    eventstore.Store
	db       *db
	sealer   *sealer
	logger   *slog.Logger
	metrics  *metrics
	now      func() time.Time
	resolver *net.Resolver

	schedule     []time.Duration
	timeout      time.Duration
	allowPrivate bool
	concurrency  int
	window       int
	grace        time.Duration

	mu        sync.Mutex
	closed    bool
	running   bool
	workers   map[string]*worker
	reconcile chan struct{}
	commits   chan commitReq
}

// commitReq is a write of a worker for the committer.
type commitReq struct {
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// maxCommitBatch bounds the writes the committer takes into one
// transaction.
const maxCommitBatch = 256

// Open opens the webhooks of the data directory dir over store. Only one
// process may have them open (ErrLocked): it is the one deliverer.
func Open(dir string, store eventstore.Store, opts Options) (_ *Notifier, err error) {
	key := opts.Key
	if key == nil {
		path, create := opts.KeyFile, false
		if path == "" {
			path, create = filepath.Join(dir, KeyFileName), true
		}
		if create {
			if err := mkdir(dir); err != nil {
				return nil, err
			}
		}
		if key, err = LoadKey(path, create); err != nil {
			return nil, err
		}
	}
	s, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	d, err := openDB(dir)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		store: store, db: d, sealer: s,
		logger: opts.Logger, now: opts.Now, resolver: opts.Resolver,
		schedule: opts.RetrySchedule, timeout: opts.Timeout, allowPrivate: opts.AllowPrivate,
		concurrency: opts.Concurrency, window: opts.Window, grace: opts.RotationGrace,
		workers: map[string]*worker{}, reconcile: make(chan struct{}, 1), commits: make(chan commitReq),
	}
	if n.logger == nil {
		n.logger = slog.New(slog.DiscardHandler)
	}
	n.logger = n.logger.With("component", "webhooks")
	if n.now == nil {
		n.now = time.Now
	}
	if n.resolver == nil {
		n.resolver = net.DefaultResolver
	}
	if len(n.schedule) == 0 {
		n.schedule = DefaultRetrySchedule
	}
	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	if n.concurrency <= 0 {
		n.concurrency = DefaultConcurrency
	}
	if n.window <= 0 {
		n.window = DefaultWindow
	}
	if n.window < n.concurrency {
		n.window = n.concurrency
	}
	if n.grace <= 0 {
		n.grace = DefaultRotationGrace
	}
	// A wrong key shows now, not at the first delivery.
	if err := n.checkKey(); err != nil {
		return nil, errors.Join(err, d.close())
	}
	n.metrics = newMetrics(opts.Registerer, n.now)
	return n, nil
}

// checkKey opens one stored secret, if any, with the key.
func (n *Notifier) checkKey() error {
	var (
		id     string
		sealed []byte
	)
	err := n.db.read.QueryRow(`SELECT id, secret FROM endpoints LIMIT 1`).Scan(&id, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open webhooks: %w", err)
	}
	if _, err := n.sealer.open(id, sealed); err != nil {
		return fmt.Errorf("open webhooks: %w (was the key file replaced?)", err)
	}
	return nil
}

// Close releases the database. Run must have returned.
func (n *Notifier) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	return n.db.close()
}

func (n *Notifier) check() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	return nil
}

// Run delivers until ctx ends (it then returns ctx's error), one worker per
// endpoint, woken by a subscription to the log. Deliveries interrupted by
// the end are sent again by the next Run: at least once.
func (n *Notifier) Run(ctx context.Context) error {
	n.mu.Lock()
	switch {
	case n.closed:
		n.mu.Unlock()
		return ErrClosed
	case n.running:
		n.mu.Unlock()
		return errors.New("webhooks: Run is already running")
	}
	n.running = true
	n.mu.Unlock()

	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		n.mu.Lock()
		n.running = false
		n.workers = map[string]*worker{}
		n.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { n.watch(ctx) })
	wg.Go(func() { n.commitLoop(ctx) })
	n.logger.Info("delivering webhooks", "retry_attempts", len(n.schedule), "timeout", n.timeout,
		"concurrency", n.concurrency, "allow_private", n.allowPrivate)
	for {
		if err := n.syncWorkers(ctx, &wg); err != nil && ctx.Err() == nil {
			n.logger.Error("list endpoints", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.reconcile:
		}
	}
}

// syncWorkers starts a worker for each endpoint that has none, and stops
// those of deleted endpoints.
func (n *Notifier) syncWorkers(ctx context.Context, wg *sync.WaitGroup) error {
	rows, err := n.db.read.QueryContext(ctx, `SELECT id FROM endpoints`)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return errors.Join(err, rows.Close())
		}
		ids[id] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, w := range n.workers {
		if !ids[id] {
			w.cancel()
			delete(n.workers, id)
			n.metrics.forget(id)
		}
	}
	for id := range ids {
		if n.workers[id] == nil {
			wctx, cancel := context.WithCancel(ctx)
			w := &worker{n: n, id: id, kick: make(chan struct{}, 1), cancel: cancel,
				logger: n.logger.With("endpoint", id), client: newClient(n.allowPrivate, n.concurrency),
				peek: make(chan chan []item), done: make(chan struct{})}
			n.workers[id] = w
			wg.Go(func() { w.run(wctx) })
		}
	}
	return nil
}

// watch wakes every worker whenever the log grows: on the store's commit
// signal where it has one (eventstore.CommitWatcher), else through a
// subscription from the head (live, pushed), restarted after a failure.
func (n *Notifier) watch(ctx context.Context) {
	if cw, ok := n.store.(eventstore.CommitWatcher); ok {
		// The workers read the log themselves: a commit is all they
		// need to hear of, and reading every event to hear of it cost
		// the order path a tenth of its throughput while a receiver
		// hung (BenchmarkIsolation).
		for {
			committed := cw.Committed()
			n.kickAll()
			select {
			case <-committed:
			case <-ctx.Done():
				return
			}
		}
	}
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		head, err := n.store.Head(ctx)
		if err == nil {
			// Events up to head are visible to the workers woken now;
			// the subscription wakes them for every later one.
			n.kickAll()
			err = n.store.Subscribe(ctx, head, func([]eventstore.RecordedEvent) error {
				n.kickAll()
				return nil
			})
		}
		if ctx.Err() != nil {
			return
		}
		n.logger.Warn("webhooks: following the log failed; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

func (n *Notifier) kickAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, w := range n.workers {
		w.wake()
	}
}

// changed tells Run that endpoint id was added, removed or changed.
func (n *Notifier) changed(id string) {
	n.mu.Lock()
	w := n.workers[id]
	n.mu.Unlock()
	if w != nil {
		w.touch()
	}
	select {
	case n.reconcile <- struct{}{}:
	default:
	}
}

// commit runs fn in a transaction of the committer, which groups the
// writes of every worker waiting at that moment into one transaction (one
// sync), each in a savepoint of its own: one write failing fails only
// itself. It returns fn's error, the commit's, or ctx's if Run ends before
// the committer takes it.
func (n *Notifier) commit(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	req := commitReq{fn: fn, done: make(chan error, 1)}
	select {
	case n.commits <- req:
		return <-req.done
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop is the committer: it runs until ctx ends, answering every
// write it took.
func (n *Notifier) commitLoop(ctx context.Context) {
	for {
		var batch []commitReq
		select {
		case <-ctx.Done():
			return
		case req := <-n.commits:
			batch = append(batch, req)
		}
		for more := true; more && len(batch) < maxCommitBatch; {
			select {
			case req := <-n.commits:
				batch = append(batch, req)
			default:
				more = false
			}
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		errs := make([]error, len(batch))
		err := n.db.inTx(wctx, func(tx *sql.Tx) error {
			if len(batch) == 1 {
				// Alone in its transaction, a write needs no savepoint.
				errs[0] = batch[0].fn(wctx, tx)
				return errs[0]
			}
			for i, req := range batch {
				if _, err := tx.ExecContext(wctx, `SAVEPOINT write`); err != nil {
					return err
				}
				if errs[i] = req.fn(wctx, tx); errs[i] != nil {
					if _, err := tx.ExecContext(wctx, `ROLLBACK TO write`); err != nil {
						return err
					}
				}
				if _, err := tx.ExecContext(wctx, `RELEASE write`); err != nil {
					return err
				}
			}
			return nil
		})
		cancel()
		for i, req := range batch {
			req.done <- errors.Join(err, errs[i])
		}
	}
}

// Create registers an endpoint. Its answer carries the secret, shown only
// there. Errors: a [*ValidationError] (matching ErrInvalid, and
// ErrPrivateTarget for an internal target), the store's errors.
func (n *Notifier) Create(ctx context.Context, ne NewEndpoint) (Endpoint, error) {
	if err := n.check(); err != nil {
		return Endpoint{}, err
	}
	u, err := checkURL(ctx, ne.URL, n.allowPrivate, n.resolver)
	if err != nil {
		return Endpoint{}, err
	}
	events, err := checkRegistration(ne)
	if err != nil {
		return Endpoint{}, err
	}
	var from uint64
	if ne.FromPosition != nil {
		from = *ne.FromPosition
		if from != 0 {
			if _, err := n.store.ReadAll(ctx, from, 1); errors.Is(err, eventstore.ErrInvalidPosition) {
				return Endpoint{}, &ValidationError{Field: "from_position",
					Msg: fmt.Sprintf("%d is not the position of an event of this store; positions are tokens: use 0 or a position the API returned", from)}
			} else if err != nil {
				return Endpoint{}, fmt.Errorf("check from_position: %w", err)
			}
		}
	} else if from, err = n.store.Head(ctx); err != nil {
		return Endpoint{}, fmt.Errorf("read head: %w", err)
	}
	ep := Endpoint{ID: uuid.NewString(), URL: u.String(), Events: events, Description: ne.Description,
		Secret: newSecret(), CreatedAt: n.now().UTC().Truncate(time.Millisecond), State: StateActive, Position: from}
	evJSON, err := json.Marshal(events)
	if err != nil {
		return Endpoint{}, err
	}
	err = n.db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO endpoints (id, url, events, description, secret, created_at, state, checkpoint)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ep.ID, ep.URL, string(evJSON), ep.Description, n.sealer.seal(ep.ID, ep.Secret),
			millis(ep.CreatedAt), string(ep.State), int64(from))
		return err
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("create endpoint: %w", err)
	}
	n.logger.Info("endpoint registered", "endpoint", ep.ID, "host", u.Host, "events", events, "position", from)
	n.changed(ep.ID)
	return ep, nil
}

// List returns every endpoint, oldest first, without secrets.
func (n *Notifier) List(ctx context.Context) ([]Endpoint, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	rows, err := n.db.read.QueryContext(ctx, `SELECT `+endpointColumns+` FROM endpoints ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	out := []Endpoint{}
	for rows.Next() {
		r, err := scanEndpoint(rows)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("list endpoints: %w", err), rows.Close())
		}
		out = append(out, r.Endpoint)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return out, nil
}

// Get returns endpoint id, without its secret, or ErrNotFound.
func (n *Notifier) Get(ctx context.Context, id string) (Endpoint, error) {
	if err := n.check(); err != nil {
		return Endpoint{}, err
	}
	r, err := loadEndpoint(ctx, n.db.read, id)
	return r.Endpoint, err
}

// Delete removes endpoint id and its deliveries; a delivery in flight
// finishes. ErrNotFound if there is no such endpoint.
func (n *Notifier) Delete(ctx context.Context, id string) error {
	if err := n.check(); err != nil {
		return err
	}
	err := n.db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM endpoints WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return errors.Join(err, fmt.Errorf("endpoint %s: %w", id, ErrNotFound))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete endpoint: %w", err)
	}
	n.logger.Info("endpoint deleted", "endpoint", id)
	n.changed(id)
	return nil
}

// RotateSecret gives endpoint id a new secret, returned in the answer (and
// only there). The previous secret keeps signing beside it for the
// rotation grace period, so receivers can switch without losing a
// delivery; a second rotation ends the grace of the first.
func (n *Notifier) RotateSecret(ctx context.Context, id string) (Endpoint, error) {
	if err := n.check(); err != nil {
		return Endpoint{}, err
	}
	secret := newSecret()
	var r row
	err := n.db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = loadEndpoint(ctx, tx, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE endpoints SET secret = ?, old_secret = secret, old_until = ? WHERE id = ?`,
			n.sealer.seal(id, secret), millis(n.now().Add(n.grace)), id)
		return err
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("rotate secret: %w", err)
	}
	n.logger.Info("endpoint secret rotated", "endpoint", id, "old_secret_until", n.now().Add(n.grace))
	n.changed(id)
	ep := r.Endpoint
	ep.Secret = secret
	return ep, nil
}

// Pause stops deliveries to endpoint id (those in flight finish); its
// events wait in the log.
func (n *Notifier) Pause(ctx context.Context, id string) (Endpoint, error) {
	return n.setState(ctx, id, StatePaused)
}

// Resume restarts deliveries to a paused or disabled endpoint.
func (n *Notifier) Resume(ctx context.Context, id string) (Endpoint, error) {
	return n.setState(ctx, id, StateActive)
}

func (n *Notifier) setState(ctx context.Context, id string, st EndpointState) (Endpoint, error) {
	if err := n.check(); err != nil {
		return Endpoint{}, err
	}
	var r row
	err := n.db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET state = ?, reason = '' WHERE id = ?`, string(st), id); err != nil {
			return err
		}
		var err error
		r, err = loadEndpoint(ctx, tx, id)
		return err
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("set endpoint state: %w", err)
	}
	n.logger.Info("endpoint "+string(st), "endpoint", id)
	n.changed(id)
	return r.Endpoint, nil
}

// disable marks endpoint id disabled (it answered 410 Gone).
func (n *Notifier) disable(ctx context.Context, tx *sql.Tx, id, reason string) error {
	_, err := tx.ExecContext(ctx, `UPDATE endpoints SET state = ?, reason = ? WHERE id = ? AND state = ?`,
		string(StateDisabled), reason, id, string(StateActive))
	return err
}

// Deliveries returns a page of endpoint id's deliveries, in position order.
func (n *Notifier) Deliveries(ctx context.Context, id string, f DeliveryFilter) (DeliveryPage, error) {
	if err := n.check(); err != nil {
		return DeliveryPage{}, err
	}
	if f.State != "" && !validState(f.State) {
		return DeliveryPage{}, &ValidationError{Field: "state", Msg: fmt.Sprintf("unknown delivery state %q", f.State)}
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if _, err := loadEndpoint(ctx, n.db.read, id); err != nil {
		return DeliveryPage{}, err
	}
	// Pending deliveries without a row yet are in the worker's memory;
	// asked first, so that one written meanwhile shows once, as its row.
	var unrecorded []item
	if f.State == "" || f.State == DeliveryPending {
		var err error
		if unrecorded, err = n.unrecorded(ctx, id); err != nil {
			return DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
		}
	}
	q := `SELECT id, event_id, event_type, stream, position, state, attempts, next_at FROM deliveries WHERE endpoint = ? AND position > ?`
	args := []any{id, int64(f.After)}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, string(f.State))
	}
	q += ` ORDER BY position LIMIT ?`
	args = append(args, f.Limit+1)
	rows, err := n.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
	}
	page := DeliveryPage{Deliveries: []Delivery{}}
	for rows.Next() {
		var (
			d        Delivery
			pos      int64
			state    string
			attempts string
			next     sql.NullInt64
		)
		if err := rows.Scan(&d.ID, &d.EventID, &d.EventType, &d.Stream, &pos, &state, &attempts, &next); err != nil {
			return DeliveryPage{}, errors.Join(fmt.Errorf("list deliveries: %w", err), rows.Close())
		}
		d.Position, d.State = uint64(pos), DeliveryState(state)
		if err := json.Unmarshal([]byte(attempts), &d.Attempts); err != nil {
			return DeliveryPage{}, errors.Join(fmt.Errorf("list deliveries: %w", err), rows.Close())
		}
		if next.Valid {
			t := fromMillis(next.Int64)
			d.NextAttemptAt = &t
		}
		page.Deliveries = append(page.Deliveries, d)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
	}
	if len(unrecorded) > 0 {
		rowed, err := n.rowed(ctx, id, unrecorded)
		if err != nil {
			return DeliveryPage{}, fmt.Errorf("list deliveries: %w", err)
		}
		for _, it := range unrecorded {
			if it.position <= f.After || rowed[it.position] {
				continue
			}
			next := it.nextAt
			page.Deliveries = append(page.Deliveries, Delivery{ID: it.id, EventID: it.eventID, EventType: it.eventType,
				Stream: it.stream, Position: it.position, State: DeliveryPending, Attempts: []Attempt{}, NextAttemptAt: &next})
		}
		slices.SortFunc(page.Deliveries, func(a, b Delivery) int { return cmp.Compare(a.Position, b.Position) })
		if len(page.Deliveries) > f.Limit+1 {
			page.Deliveries = page.Deliveries[:f.Limit+1]
		}
	}
	if len(page.Deliveries) > f.Limit {
		page.Deliveries = page.Deliveries[:f.Limit]
		next := page.Deliveries[f.Limit-1].Position
		page.Next = &next
	}
	return page, nil
}

// rowed returns which of the unrecorded deliveries of endpoint id have a
// row by now, whatever its state: one written after the worker was asked
// shows as its row, which a filter by state may leave out of the page,
// and never as pending.
func (n *Notifier) rowed(ctx context.Context, id string, unrecorded []item) (map[uint64]bool, error) {
	lo, hi := unrecorded[0].position, unrecorded[0].position
	for _, it := range unrecorded {
		lo, hi = min(lo, it.position), max(hi, it.position)
	}
	rows, err := n.db.read.QueryContext(ctx, `SELECT position FROM deliveries WHERE endpoint = ? AND position BETWEEN ? AND ?`, id, int64(lo), int64(hi))
	if err != nil {
		return nil, err
	}
	rowed := map[uint64]bool{}
	for rows.Next() {
		var pos int64
		if err := rows.Scan(&pos); err != nil {
			return nil, errors.Join(err, rows.Close())
		}
		rowed[uint64(pos)] = true
	}
	return rowed, errors.Join(rows.Err(), rows.Close())
}

// unrecorded returns the deliveries of endpoint id that its worker took
// from the log and that have no row yet (pending: not yet attempted, or
// their first attempt in flight); none when Run does not run.
func (n *Notifier) unrecorded(ctx context.Context, id string) ([]item, error) {
	n.mu.Lock()
	w := n.workers[id]
	n.mu.Unlock()
	if w == nil {
		return nil, nil
	}
	reply := make(chan []item, 1)
	select {
	case w.peek <- reply:
	case <-w.done:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case items := <-reply:
		return items, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func validState(s DeliveryState) bool {
	for _, st := range DeliveryStates {
		if s == st {
			return true
		}
	}
	return false
}

// Retry sends delivery deliveryID of endpoint id again now: a dead one
// gets one more attempt (dead again if it fails), a failed one its next
// attempt without waiting for the schedule. ErrNotRetryable for a
// delivery that is pending or delivered, ErrNotFound for none.
func (n *Notifier) Retry(ctx context.Context, id, deliveryID string) error {
	if err := n.check(); err != nil {
		return err
	}
	err := n.db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := loadEndpoint(ctx, tx, id); err != nil {
			return err
		}
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM deliveries WHERE endpoint = ? AND id = ?`, id, deliveryID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoRow
		}
		if err != nil {
			return err
		}
		switch DeliveryState(state) {
		case DeliveryDead:
			_, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = ?, manual = 1, next_at = ? WHERE endpoint = ? AND id = ?`,
				string(DeliveryPending), millis(n.now()), id, deliveryID)
		case DeliveryFailed:
			_, err = tx.ExecContext(ctx, `UPDATE deliveries SET next_at = ? WHERE endpoint = ? AND id = ?`, millis(n.now()), id, deliveryID)
		default:
			return fmt.Errorf("delivery %s is %s: %w", deliveryID, state, ErrNotRetryable)
		}
		return err
	})
	if errors.Is(err, errNoRow) {
		// A pending delivery may have no row yet: the worker is asked
		// outside the transaction (its last write may be waiting for it).
		held, err := n.unrecorded(ctx, id)
		if err != nil {
			return fmt.Errorf("retry delivery: %w", err)
		}
		if slices.ContainsFunc(held, func(it item) bool { return it.id == deliveryID }) {
			return fmt.Errorf("retry delivery: delivery %s is %s: %w", deliveryID, DeliveryPending, ErrNotRetryable)
		}
		return fmt.Errorf("retry delivery: delivery %s: %w", deliveryID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("retry delivery: %w", err)
	}
	n.changed(id)
	return nil
}

// errNoRow tells Retry that the delivery has no row.
var errNoRow = errors.New("no delivery row")

// RetryDead gives every dead delivery of endpoint id one more attempt, and
// returns how many there were.
func (n *Notifier) RetryDead(ctx context.Context, id string) (int, error) {
	if err := n.check(); err != nil {
		return 0, err
	}
	var k int64
	err := n.db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := loadEndpoint(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = ?, manual = 1, next_at = ? WHERE endpoint = ? AND state = ?`,
			string(DeliveryPending), millis(n.now()), id, string(DeliveryDead))
		if err != nil {
			return err
		}
		k, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("retry dead deliveries: %w", err)
	}
	n.changed(id)
	return int(k), nil
}
