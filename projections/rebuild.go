package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

// Progress is the progress of a rebuild, in events of $all.
type Progress struct {
	// Projection is the projection being rebuilt.
	Projection string `json:"projection"`
	// Done counts the events replayed so far.
	Done uint64 `json:"done"`
	// Total is Done plus an estimate of the events between the replay's
	// position and the head of $all: the distance left, scaled by the
	// events per unit of position replayed so far. Exact on the embedded
	// store, whose positions count events; an estimate on stores whose
	// positions are log offsets (KurrentDB). It grows while events are
	// appended during an online rebuild.
	Total uint64 `json:"total"`
	// Rate is the average number of events replayed per second.
	Rate float64 `json:"rate"`
	// ETASeconds estimates the seconds left at Rate.
	ETASeconds float64 `json:"eta_seconds"`
	// Percent is Done as a percentage of Total, from 0 to 100, rounded
	// down to a tenth: an estimate, as Total is.
	Percent float64 `json:"percent"`
}

// rebuildLogEvery is the interval of an online rebuild's progress lines.
const rebuildLogEvery = 5 * time.Second

// progressLog spaces out a rebuild's progress lines: one per projection
// every interval, none before the first interval has passed.
type progressLog struct {
	every time.Duration
	start time.Time
	last  map[string]time.Time
}

func newProgressLog(every time.Duration, start time.Time) *progressLog {
	return &progressLog{every: every, start: start, last: map[string]time.Time{}}
}

// due reports whether p deserves a line at now, and if so counts it as
// printed. The first progress (nothing replayed) and the last (shown by
// "rebuild done" with its duration) never do.
func (l *progressLog) due(p Progress, now time.Time) bool {
	if p.Done == 0 || p.Done >= p.Total {
		return false
	}
	last, ok := l.last[p.Projection]
	if !ok {
		last = l.start
	}
	if now.Sub(last) < l.every {
		return false
	}
	l.last[p.Projection] = now
	return true
}

// progressAttrs are the log attributes of a rebuild's progress.
func progressAttrs(p Progress) []any {
	return []any{"done", p.Done, "total", p.Total, "percent", p.Percent,
		"rate", int(p.Rate), "eta_seconds", int(p.ETASeconds)}
}

// tracker accumulates a rebuild's progress; guarded by its runner's mu.
type tracker struct {
	start       time.Time
	done, total uint64
}

func newTracker(now time.Time) *tracker { return &tracker{start: now} }

// update counts read more events replayed, up to position pos, with the
// head at head. Replays start at the beginning of $all, so pos measures the
// part of the log replayed.
func (t *tracker) update(read int, pos, head uint64) {
	t.done += uint64(read)
	t.total = t.done
	if head > pos && pos > 0 {
		t.total += uint64(float64(head-pos) * float64(t.done) / float64(pos))
	}
}

func (t *tracker) progress(name string, now time.Time) Progress {
	p := Progress{Projection: name, Done: t.done, Total: t.total}
	if elapsed := now.Sub(t.start).Seconds(); elapsed > 0 {
		p.Rate = float64(t.done) / elapsed
	}
	if p.Rate > 0 {
		p.ETASeconds = float64(t.total-t.done) / p.Rate
	}
	if t.total > 0 {
		p.Percent = math.Floor(1000*float64(t.done)/float64(t.total)) / 10
	}
	return p
}

// Rebuild starts an online rebuild of the projection name, or of every
// projection for "all": $all is replayed from the start into shadow tables
// while the live tables keep serving queries and following new events;
// once the shadow has caught up, it replaces them atomically. Projections
// rebuilt together share one replay. Rebuild returns at once (the rebuild
// runs under Run, and waits for Run if it is not running); Status shows its
// progress, and its error, if any, as last_error. A rebuild also retries a
// failed projection.
//
// It fails with ErrUnknownProjection for another name, ErrRebuildRunning
// if one of the projections is already being rebuilt (none is started
// then), and ErrClosed after Close.
func (m *Manager) Rebuild(name string) error {
	targets, err := m.lookup([]string{name})
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, r := range targets {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.rebuild != nil {
			return fmt.Errorf("%w: %s", ErrRebuildRunning, r.p.Name())
		}
	}
	for _, r := range targets {
		r.rebuild = newTracker(m.now())
		r.changed()
	}
	// A projection is in at most one pending or running request, so the
	// buffer of one slot per projection never fills.
	m.rebuilds <- targets
	return nil
}

// runRebuilds carries out rebuild requests until ctx ends, each in its own
// goroutine, so that one projection's rebuild does not wait for another's.
func (m *Manager) runRebuilds(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case targets := <-m.rebuilds:
			wg.Go(func() {
				lines := newProgressLog(rebuildLogEvery, m.now())
				errs := rebuild(ctx, targets, func(p Progress) {
					if !lines.due(p, m.now()) {
						return
					}
					for _, r := range targets {
						if r.p.Name() == p.Projection {
							r.logger.Info("rebuild progress", progressAttrs(p)...)
						}
					}
				})
				for i, r := range targets {
					r.mu.Lock()
					r.rebuild = nil
					if errs[i] != nil && ctx.Err() == nil {
						r.lastErr = errs[i].Error()
						r.logger.Error("rebuild failed", logErr, errs[i])
					}
					r.changed()
					r.mu.Unlock()
				}
			})
		}
	}
}

// RebuildOffline rebuilds the read models of the named projections ("all"
// or no name for every one) in dir from the start of $all, the same way as
// an online rebuild, for a process that does not serve them: the command
// line's rebuild. progress, if not nil, is called for each projection after
// each transaction. opts says which projections exist (its other fields
// are used as Open uses them). It fails with ErrLocked if another process
// has the read models open.
func RebuildOffline(ctx context.Context, dir string, store eventstore.Store, opts Options, names []string, progress func(Progress)) (err error) {
	m, err := open(dir, store, opts, builtin(opts))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.Close()) }()
	if len(names) == 0 {
		names = []string{all}
	}
	targets, err := m.lookup(names)
	if err != nil {
		return err
	}
	return errors.Join(rebuild(ctx, targets, progress)...)
}

// shadow is the next generation of a projection's tables, being filled.
type shadow struct {
	r            *runner
	tables       *readmodel.Tables
	generation   int64
	tr           *tracker
	pos, skipped uint64
	store        *eventRef // the store's first event, once replayed
	err          error
}

// rebuild fills a new generation of tables for each runner from one replay
// of $all, decoded once, and swaps each in when it has caught up. A
// projection that fails does not stop the others. It returns each runner's
// error, "rebuild: "-prefixed.
func rebuild(ctx context.Context, runners []*runner, progress func(Progress)) []error {
	shadows := make([]*shadow, len(runners))
	for i, r := range runners {
		if shadows[i] = r.newShadow(ctx); shadows[i].err == nil {
			shadows[i].report(ctx, 0, progress)
		}
	}
	handles := func(eventType string) bool {
		return slices.ContainsFunc(runners, func(r *runner) bool { return r.p.Handles(eventType) })
	}
	keepAll := slices.ContainsFunc(runners, func(r *runner) bool { return takesRecorded(r.p) })
	store := runners[0].store
	errStop := errors.New("every rebuild failed")
	err := replay(ctx, store, 0, handles, keepAll, func(b *batch) error {
		going := 0
		for _, sh := range shadows {
			if sh.err == nil {
				sh.err = sh.apply(ctx, sh.r.view(b), progress)
			}
			if sh.err == nil {
				going++
			}
		}
		if going == 0 {
			return errStop
		}
		return nil
	})
	errs := make([]error, len(shadows))
	for i, sh := range shadows {
		if sh.err == nil && err != nil && !errors.Is(err, errStop) {
			sh.err = err
		}
		if sh.err == nil {
			sh.err = sh.swap(ctx, progress)
		}
		if sh.err != nil {
			errs[i] = fmt.Errorf("rebuild: %w", sh.err)
			if ctx.Err() == nil { // at shutdown, leave them to Open
				sh.drop(ctx)
			} else {
				sh.interrupted()
			}
		}
	}
	return errs
}

// interrupted logs where a rebuild stopped when its ctx ended (SIGTERM):
// the live tables stay as they were, and the next Open drops the shadow.
func (sh *shadow) interrupted() {
	r := sh.r
	r.mu.Lock()
	p := sh.tr.progress(r.p.Name(), r.now())
	r.mu.Unlock()
	r.logger.Warn("rebuild interrupted: the live tables are unchanged; start the rebuild again",
		append([]any{"tables", sh.tables.Prefix, logPosition, sh.pos, "duration", r.now().Sub(sh.tr.start)},
			progressAttrs(p)...)...)
}

// newShadow creates the tables of r's next generation, fresh.
func (r *runner) newShadow(ctx context.Context) *shadow {
	r.mu.Lock()
	sh := &shadow{r: r, generation: r.cp.Generation + 1, tr: r.rebuild}
	if sh.tr == nil {
		sh.tr = newTracker(r.now())
		r.rebuild = sh.tr
	}
	r.mu.Unlock()
	sh.tables = readmodel.NewTables(tablePrefix(r.p.Name(), sh.generation), true, cachedOrders)
	r.logger.Info("rebuild started", "tables", sh.tables.Prefix)
	sh.err = r.db.inTx(ctx, nil, func(tx *sql.Tx) error {
		if err := dropTables(ctx, tx, generationOf(sh.tables.Prefix)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, r.p.Schema(sh.tables.Prefix))
		return err
	})
	if sh.err != nil {
		sh.err = fmt.Errorf("create tables: %w", sh.err)
	}
	return sh
}

// apply applies a view to the shadow tables in a transaction of its own.
func (sh *shadow) apply(ctx context.Context, b *batch, progress func(Progress)) error {
	var o outcome
	err := sh.r.db.inTx(ctx, sh.tables, func(tx *sql.Tx) error {
		if o = applyBatch(ctx, tx, sh.r.p, sh.tables, b); o.storage != nil {
			return o.storage
		}
		if o.fail != nil {
			return o.fail.err
		}
		return nil
	})
	if err != nil {
		return err
	}
	sh.pos, sh.skipped = o.through, sh.skipped+o.skipped
	if sh.store == nil {
		sh.store = b.first // the replay starts at the beginning of $all
	}
	sh.report(ctx, b.read, progress)
	return nil
}

func (sh *shadow) report(ctx context.Context, read int, progress func(Progress)) Progress {
	r := sh.r
	head, _ := r.store.Head(ctx) // for the estimate only
	r.mu.Lock()
	sh.tr.update(read, sh.pos, head)
	p := sh.tr.progress(r.p.Name(), r.now())
	r.mu.Unlock()
	if progress != nil {
		progress(p)
	}
	return p
}

// swap makes the shadow tables live (see runner.swap) and drops the
// tables they replace.
func (sh *shadow) swap(ctx context.Context, progress func(Progress)) error {
	r := sh.r
	if ddl := r.p.Indexes(sh.tables.Prefix); ddl != "" {
		// Not live yet: live batches do not wait for the index builds.
		err := r.db.inTx(ctx, nil, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, ddl)
			return err
		})
		if err != nil {
			return fmt.Errorf("create indexes: %w", err)
		}
	}
	old, tail, err := r.swap(ctx, sh.tables, sh.generation, sh.pos, sh.skipped, sh.store)
	if err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	sh.pos = r.checkpoint().Position
	p := sh.report(ctx, tail, progress)
	if err := r.db.inTx(ctx, nil, func(tx *sql.Tx) error { return dropTables(ctx, tx, generationOf(old.prefix())) }); err != nil {
		r.logger.Warn("could not drop the replaced tables; the next start will", logErr, err)
	}
	r.logger.Info("rebuild done", "tables", sh.tables.Prefix, logPosition, sh.pos,
		"events", p.Done, "duration", r.now().Sub(sh.tr.start))
	return nil
}

// drop removes the tables of a failed rebuild (Open would drop them too).
func (sh *shadow) drop(ctx context.Context) {
	err := sh.r.db.inTx(ctx, nil, func(tx *sql.Tx) error { return dropTables(ctx, tx, generationOf(sh.tables.Prefix)) })
	if err != nil {
		sh.r.logger.Warn("could not drop the tables of a failed rebuild; the next start will", logErr, err)
	}
}

// swap applies the tail of $all that the shadow tables t of generation gen
// have not seen (after pos, with store the first event of the store if
// any was replayed), and makes them live in the same transaction, while
// live batches wait. It returns the replaced checkpoint and the events
// applied.
func (r *runner) swap(ctx context.Context, t *readmodel.Tables, gen int64, pos, skipped uint64, store *eventRef) (old checkpoint, tail int, err error) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	old = r.checkpoint()
	next := checkpoint{Name: old.Name, Version: r.p.Version(), Generation: gen}
	err = r.db.inTx(ctx, t, func(tx *sql.Tx) error {
		for {
			events, err := r.store.ReadAll(ctx, pos, pageSize)
			if err != nil {
				return fmt.Errorf("read $all: %w", err)
			}
			if len(events) == 0 {
				break
			}
			b := r.view(r.decode(events))
			o := applyBatch(ctx, tx, r.p, t, b)
			if o.storage != nil {
				return o.storage
			}
			if o.fail != nil {
				return o.fail.err
			}
			if store == nil && pos == 0 {
				store = b.first
			}
			pos, skipped, tail = o.through, skipped+o.skipped, tail+b.read
		}
		next.Position, next.Skipped, next.UpdatedAt, next.Store = pos, skipped, r.now().UTC(), store
		return saveCheckpoint(ctx, tx, next)
	})
	if err != nil {
		return old, 0, err
	}
	r.tables = t
	t.StopCaching() // live now: see cachedOrders
	r.mu.Lock()
	r.cp, r.live, r.reset, r.lastErr = next, true, nil, ""
	failed := r.failure != nil
	r.failure = nil
	r.changed()
	r.mu.Unlock()
	if failed {
		select {
		case r.restart <- struct{}{}:
		default:
		}
	}
	return old, tail, nil
}
