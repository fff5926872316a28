package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/orderstore/orderstore/eventstore"
)

// all names every projection in Rebuild and RebuildOffline.
const all = "all"

// Options configure a Manager. The zero value is ready to use.
type Options struct {
	// Logger receives lifecycle messages and failures; nil discards them.
	Logger *slog.Logger
	// Registerer, if not nil, gets the projection gauges (see the package
	// documentation); Close unregisters them.
	Registerer prometheus.Registerer
	// Now is the clock of checkpoints, lag and rates; nil means time.Now.
	Now func() time.Time
	// Tracer, if not nil, makes a span of every live batch, linked to the
	// spans that wrote its events (their metadata's traceparent).
	Tracer trace.Tracer
	// CorrelationIndex adds the correlations projection: an index of the
	// events of each correlation ID, for a store that has none of its own
	// (KurrentDB). CorrelatedStore serves ReadFiltered from it.
	CorrelationIndex bool
}

// Manager runs the stock and analytics projections over an event store and
// serves their read models. Its methods are safe for concurrent use.
type Manager struct {
	store   eventstore.Store
	db      *db
	logger  *slog.Logger
	now     func() time.Time
	runners []*runner
	metrics *collector
	reg     prometheus.Registerer
	tracer  trace.Tracer

	rebuilds chan []*runner // rebuild requests, waiting for Run

	statusMu sync.Mutex
	last     lastKnown // see Status

	mu      sync.Mutex
	running bool
	closed  bool
	stop    chan struct{} // closed by Close: ends Run
	runWG   sync.WaitGroup
}

// Open opens the read models in dir (the file readmodels.db, created if
// needed) over store. A projection whose stored version differs from the
// code's gets fresh, empty tables, which Run refills from the start of $all
// (state rebuilding). Open fails with ErrLocked if another process has the
// read models open and ErrForeignFile if the file is not orderstore's.
func Open(dir string, store eventstore.Store, opts Options) (*Manager, error) {
	return open(dir, store, opts, builtin(opts))
}

func open(dir string, store eventstore.Store, opts Options, projections []projection) (_ *Manager, err error) {
	m := &Manager{store: store, logger: opts.Logger, now: opts.Now, reg: opts.Registerer, tracer: opts.Tracer, stop: make(chan struct{})}
	if m.logger == nil {
		m.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m.logger = m.logger.With("component", "projections")
	if m.now == nil {
		m.now = time.Now
	}
	if m.db, err = openDB(dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, m.db.close())
		}
	}()
	// Opening is local file work with nothing to cancel; Open keeps the
	// signature of a constructor.
	ctx := context.Background()
	for _, p := range projections {
		cp, reset, created, err := m.prepare(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("open projection %s: %w", p.Name(), err)
		}
		m.runners = append(m.runners, newRunner(p, cp, reset, created, m))
		m.logger.Info("projection open", logProjection, p.Name(), "version", cp.Version, logPosition, cp.Position, "reset", reset)
	}
	m.rebuilds = make(chan []*runner, len(m.runners))
	if m.reg != nil {
		m.metrics = newCollector()
		if err := m.reg.Register(m.metrics); err != nil {
			return nil, fmt.Errorf("register projection metrics: %w", err)
		}
	}
	return m, nil
}

// prepare loads p's checkpoint, gives it a fresh generation of tables
// (created) if it has none or one of another version, and drops tables of
// other generations that a crash or an interrupted rebuild left behind.
func (m *Manager) prepare(ctx context.Context, p projection) (cp checkpoint, reset, created bool, err error) {
	err = m.db.inTx(ctx, nil, func(tx *sql.Tx) error {
		stored, found, err := loadCheckpoint(ctx, tx, p.Name())
		if err != nil {
			return err
		}
		cp = stored
		if !found || cp.Version != p.Version() {
			reset, created = found, true
			cp = checkpoint{Name: p.Name(), Version: p.Version(), Generation: cp.Generation + 1, UpdatedAt: m.now().UTC()}
			if err := dropTables(ctx, tx, generationOf(cp.prefix())); err != nil {
				return err
			}
			// These tables serve while Run fills them: indexes at once.
			if _, err := tx.ExecContext(ctx, p.Schema(cp.prefix())+p.Indexes(cp.prefix())); err != nil {
				return fmt.Errorf("create tables: %w", err)
			}
			if err := saveCheckpoint(ctx, tx, cp); err != nil {
				return err
			}
		}
		mine, live := p.Name()+"_g", cp.prefix()
		return dropTables(ctx, tx, func(t string) bool {
			return strings.HasPrefix(t, mine) && !strings.HasPrefix(t, live)
		})
	})
	return cp, reset, created, err
}

// Run runs every projection until ctx ends or Close is called, and then
// returns nil; it returns an error only if the store closes under it.
// Failures of single projections do not end Run: they show in Status.
// Run may be called once.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return ErrClosed
	case m.running:
		m.mu.Unlock()
		return errors.New("projections: Run called twice")
	}
	m.running = true
	m.runWG.Add(1)
	m.mu.Unlock()
	defer m.runWG.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	})
	errs := make([]error, len(m.runners))
	for i, r := range m.runners {
		wg.Go(func() {
			if errs[i] = r.runLive(ctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Go(func() { m.runRebuilds(ctx) })
	if m.metrics != nil {
		wg.Go(func() { m.runMetrics(ctx) })
	}
	m.logger.Info("projections running")
	wg.Wait()
	return errors.Join(errs...)
}

// Close stops Run, waits for it to return and closes the read models.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	m.mu.Unlock()
	m.runWG.Wait()
	if m.metrics != nil {
		m.reg.Unregister(m.metrics)
	}
	return m.db.close()
}

// lookup returns the runners of names; "all" stands for every one.
func (m *Manager) lookup(names []string) ([]*runner, error) {
	var out []*runner
	for _, name := range names {
		if name == all {
			return m.runners, nil
		}
		r := m.runner(name)
		if r == nil {
			return nil, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *Manager) runner(name string) *runner {
	for _, r := range m.runners {
		if r.p.Name() == name {
			return r
		}
	}
	return nil
}
