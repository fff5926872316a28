package fulfilment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
)

// ErrConflict is recorded as an order's failure when the order or a
// stock stream kept changing under the saga through every attempt.
var ErrConflict = errors.New("streams changed concurrently through every attempt")

// Actor is the metadata "actor" of the events the saga writes.
const Actor = "fulfilment"

// maxAttempts bounds the load-decide-append cycles of one reaction.
const maxAttempts = 20

// defaultWorkers is how many orders of one batch the saga works on at once.
const defaultWorkers = 32

// Retry delays after the store failed under the saga.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 10 * time.Second
)

// Deadlines finds the orders whose payment may be due, for the deadlines
// the saga has not seen since it started. The fulfilment read model
// (projections.Manager) implements it.
type Deadlines interface {
	// PaymentsDue returns the IDs of orders placed under the reserve
	// policy, whose stock was first reserved at or before reservedBy and
	// that are neither paid nor settled, at most limit of them.
	PaymentsDue(ctx context.Context, reservedBy time.Time, limit int) ([]string, error)
}

// Options configure a Saga.
type Options struct {
	Logger *slog.Logger
	// Now stamps decisions and tells which deadlines are due; nil means
	// time.Now. Tests move it instead of sleeping.
	Now func() time.Time
	// PaymentTimeout is how long an order whose stock is reserved may stay
	// unpaid before the saga cancels it; 0 turns deadlines off.
	PaymentTimeout time.Duration
	// CheckpointFile is where Run keeps the position it has handled; ""
	// starts from the beginning of $all each time (fine for tests: a
	// replay changes nothing).
	CheckpointFile string
	// Deadlines, if set, is asked for the deadlines the saga did not see
	// since it started.
	Deadlines Deadlines
	// Registerer, if set, gets the saga's metrics.
	Registerer prometheus.Registerer
	// Workers is how many orders of one batch are worked on at once;
	// 0 means 32.
	Workers int
}

// Saga is the fulfilment process manager. Its methods are safe for
// concurrent use; run one Run per Saga.
type Saga struct {
	store   eventstore.Store
	logger  *slog.Logger
	now     func() time.Time
	timeout time.Duration
	cpFile  string
	source  Deadlines
	workers int
	metrics *metrics

	stock stockCache

	mu        sync.Mutex
	deadlines map[string]time.Time // order ID → payment deadline
	failures  map[string]Failure
	written   map[string]order // see remember
	position  uint64           // handled up to
	notify    chan struct{}    // closed and replaced when position moves
	wake      chan struct{}    // a new deadline, for the deadline loop
}

// Failure is the error a saga step of an order last ended in.
type Failure struct {
	At    time.Time
	Error string
	// Trigger is the ID of the event the saga was reacting to.
	Trigger string
}

// New returns a Saga over store.
func New(store eventstore.Store, opts Options) *Saga {
	s := &Saga{
		store: store, logger: opts.Logger, now: opts.Now, timeout: opts.PaymentTimeout,
		cpFile: opts.CheckpointFile, source: opts.Deadlines, workers: opts.Workers,
		stock:     stockCache{skus: make(map[string]*skuState)},
		deadlines: make(map[string]time.Time),
		failures:  make(map[string]Failure),
		written:   make(map[string]order),
		notify:    make(chan struct{}),
		wake:      make(chan struct{}, 1),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.workers <= 0 {
		s.workers = defaultWorkers
	}
	s.metrics = newMetrics(s, opts.Registerer)
	return s
}

// Failure returns the failure the saga of order id last ended in, if it
// has not succeeded since.
func (s *Saga) Failure(id string) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[id]
	return f, ok
}

// Deadline returns the payment deadline of order id as the saga knows it
// since it started; false if it knows none.
func (s *Saga) Deadline(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deadlines[id]
	return d, ok
}

// Position returns the position in $all up to which the saga has handled
// events, 0 before the first.
func (s *Saga) Position() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.position
}

// WaitFor blocks until the saga has handled every event up to position p,
// or ctx ends.
func (s *Saga) WaitFor(ctx context.Context, p uint64) error {
	for {
		s.mu.Lock()
		done, ch := s.position >= p, s.notify
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for position %d: %w", p, ctx.Err())
		}
	}
}

// Run follows $all from the checkpoint, reacting to order events, and
// fires payment deadlines, until ctx ends (it returns nil) or the store
// closes. It retries with backoff when the store fails.
func (s *Saga) Run(ctx context.Context) error {
	cp, err := loadCheckpoint(s.cpFile)
	if err != nil {
		return err
	}
	s.setPosition(cp)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadlinesDone := make(chan struct{})
	go func() {
		defer close(deadlinesDone)
		s.deadlineLoop(ctx)
	}()
	defer func() {
		cancel()
		<-deadlinesDone
	}()
	delay := minRetry
	for {
		before := s.Position()
		err := s.follow(ctx)
		if s.Position() != before {
			delay = minRetry // it got somewhere: a new failure starts over
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, eventstore.ErrClosed):
			return fmt.Errorf("fulfilment: %w", err)
		case errors.Is(err, eventstore.ErrInvalidPosition):
			// The checkpoint belongs to another store (reset, or data
			// copied): replaying from the start changes nothing.
			s.logger.Warn("checkpoint is not a position of this store; starting from the beginning", logPosition, s.Position(), logErr, err)
			s.setPosition(0)
			continue
		}
		s.logger.Error("fulfilment saga stopped; retrying", logErr, err, logRetryIn, delay)
		s.metrics.storeErrors.Inc()
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil
		}
		delay = min(2*delay, maxRetry)
	}
}

func (s *Saga) setPosition(p uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.position = p
	close(s.notify)
	s.notify = make(chan struct{})
}

// follow subscribes from the saga's position and hands the events to a
// pipeline (see pipeline.go) until ctx ends, the store fails, or a
// reaction fails on something that is not particular to its order.
func (s *Saga) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := newPipeline(ctx, s, cancel)
	err := s.store.Subscribe(ctx, s.Position(), p.dispatch)
	if serr := p.stop(); err == nil || errors.Is(err, context.Canceled) {
		err = serr
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// HandleBatch reacts to events, in position order: the events of one
// order in turn, several orders at once. It returns the first error that
// is not particular to an order (the store unavailable or closed, ctx
// ended); the batch is then to be handled again.
func (s *Saga) HandleBatch(ctx context.Context, events []eventstore.RecordedEvent) error {
	byOrder := make(map[string][]eventstore.RecordedEvent)
	var ids []string
	for _, ev := range events {
		id, ok := triggers(ev)
		if !ok {
			continue
		}
		if _, seen := byOrder[id]; !seen {
			ids = append(ids, id)
		}
		byOrder[id] = append(byOrder[id], ev)
	}
	if len(ids) == 0 {
		return nil
	}
	sem := make(chan struct{}, s.workers)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, ev := range byOrder[id] {
				if err := s.react(ctx, id, ev); err != nil {
					errMu.Lock()
					firstErr = cmpErr(firstErr, err)
					errMu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

func cmpErr(first, err error) error {
	if first == nil {
		return err
	}
	return first
}

// triggers reports whether ev is one the saga reacts to, and its order:
// a placement under the reserve policy, or any later order event (the
// order's stream tells whether it is the saga's).
func triggers(ev eventstore.RecordedEvent) (string, bool) {
	id, ok := orderID(ev.Stream)
	if !ok {
		return "", false
	}
	switch ev.Type {
	case domain.TypeOrderPlaced:
		// Decoding the placement tells without reading the stream.
		e, err := domain.Decode(ev.Type, ev.Data)
		if err != nil {
			return id, true // react reports it
		}
		return id, e.(domain.OrderPlaced).ReserveStock
	case domain.TypeOrderLineAdded, domain.TypeOrderLineRemoved, domain.TypeOrderPaid, domain.TypeOrderShipped,
		domain.TypeOrderCancelled, domain.TypeOrderStockReserved, domain.TypeOrderRejected:
		return id, true
	}
	return "", false
}

func orderID(stream string) (string, bool) {
	if len(stream) <= len(domain.OrderStreamPrefix) || stream[:len(domain.OrderStreamPrefix)] != domain.OrderStreamPrefix {
		return "", false
	}
	return stream[len(domain.OrderStreamPrefix):], true
}

// transient reports whether err is not particular to an order: the batch
// is to be retried rather than the order marked failed.
func transient(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// react reconciles order id after trigger, recording a failure particular
// to the order and returning the others. A payment or the saga's own
// OrderStockReserved change nothing the stock streams hold: for them the
// saga only notes the order's deadline, unless the order's last reaction
// failed (then it reconciles, as a retry).
func (s *Saga) react(ctx context.Context, id string, trigger eventstore.RecordedEvent) error {
	var err error
	s.mu.Lock()
	_, failed := s.failures[id]
	s.mu.Unlock()
	if (trigger.Type == domain.TypeOrderPaid || trigger.Type == domain.TypeOrderStockReserved) && !failed {
		o, ok := s.recall(id, trigger)
		if !ok {
			o, err = s.loadOrder(ctx, id)
		}
		if err == nil {
			s.track(o)
			return nil
		}
	} else {
		s.forget(id) // remembered for the reaction above only
		err = s.Reconcile(ctx, id, trigger)
	}
	if err == nil {
		s.mu.Lock()
		_, failed := s.failures[id]
		delete(s.failures, id)
		s.mu.Unlock()
		if failed {
			s.logger.Info("fulfilment of order recovered", logOrder, id, logTrigger, trigger.ID)
		}
		return nil
	}
	if transient(ctx, err) {
		return err
	}
	s.logger.Error("fulfilment of order failed", logOrder, id, logTrigger, trigger.ID, logErr, err)
	s.metrics.failures.Inc()
	s.mu.Lock()
	s.failures[id] = Failure{At: s.now().UTC(), Error: err.Error(), Trigger: trigger.ID.String()}
	s.mu.Unlock()
	return nil
}

// PaymentTimeout returns the payment timeout the saga was configured with;
// 0 when deadlines are off.
func (s *Saga) PaymentTimeout() time.Duration { return s.timeout }
