package fulfilment

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/orderstore/orderstore/eventstore"
)

// Pipeline sizes: orders are spread over pipelineWorkers goroutines by a
// hash of their ID, so that one order's events are handled in turn and
// many orders at once; each worker queues up to pipelineQueue events.
const (
	pipelineWorkers = 256
	pipelineQueue   = 256
)

// checkpointEvery is how often the pipeline saves its checkpoint at most:
// a lost save only replays events.
const checkpointEvery = 200 * time.Millisecond

// pipeline handles the batches a subscription delivers without waiting for
// one to be done before taking the next: the saga's steps wait on the
// store's group commits, and a barrier per batch would leave it idle
// between them. The checkpoint moves past a batch once every reaction to
// its events (and to those of every batch before it) is done.
type pipeline struct {
	ctx    context.Context
	s      *Saga
	cancel context.CancelCauseFunc
	queues []chan job
	wg     sync.WaitGroup

	mu      sync.Mutex
	batches []*pending // delivered, not yet done, oldest first
	saved   time.Time
	unsaved bool // the position moved since the last save
	saveErr error
}

// pending is a delivered batch: its last position and the reactions to its
// events still to do.
type pending struct {
	last uint64
	left int
}

// job is one event to react to. The event's payload and metadata are
// copied: a subscription's handler must not keep what it is given, and a
// reaction to a placement, or to the saga's own OrderStockReserved, folds
// the event itself rather than read the order's stream.
type job struct {
	id string
	ev eventstore.RecordedEvent
	b  *pending
}

func newPipeline(ctx context.Context, s *Saga, cancel context.CancelCauseFunc) *pipeline {
	p := &pipeline{ctx: ctx, s: s, cancel: cancel, queues: make([]chan job, pipelineWorkers), saved: time.Now()}
	for i := range p.queues {
		q := make(chan job, pipelineQueue)
		p.queues[i] = q
		p.wg.Go(func() { p.work(q) })
	}
	return p
}

// dispatch queues the reactions to events; it blocks while the queue of
// an order's worker is full.
func (p *pipeline) dispatch(events []eventstore.RecordedEvent) error {
	b := &pending{last: events[len(events)-1].Position}
	var jobs []job
	for _, ev := range events {
		if id, ok := triggers(ev); ok {
			ev.Data, ev.Metadata = bytes.Clone(ev.Data), bytes.Clone(ev.Metadata)
			jobs = append(jobs, job{id: id, ev: ev, b: b})
		}
	}
	b.left = len(jobs)
	p.mu.Lock()
	p.batches = append(p.batches, b)
	if len(jobs) == 0 {
		p.advance()
	}
	p.mu.Unlock()
	for _, j := range jobs {
		select {
		case p.queues[fnv32a(j.id)%pipelineWorkers] <- j:
		case <-p.ctx.Done():
			return p.ctx.Err()
		}
	}
	return nil
}

func (p *pipeline) work(q <-chan job) {
	for j := range q {
		if p.ctx.Err() != nil {
			continue // stopping: the checkpoint stays before this batch
		}
		if err := p.s.react(p.ctx, j.id, j.ev); err != nil {
			p.cancel(err)
			continue
		}
		p.mu.Lock()
		j.b.left--
		p.advance()
		p.mu.Unlock()
	}
}

// advance moves the position past the batches that are done, in order,
// and saves it if the last save is old enough; p.mu must be held.
func (p *pipeline) advance() {
	var last uint64
	for len(p.batches) > 0 && p.batches[0].left == 0 {
		last = p.batches[0].last
		p.batches = p.batches[1:]
	}
	if last == 0 {
		return
	}
	p.s.setPosition(last)
	p.unsaved = true
	if time.Since(p.saved) >= checkpointEvery {
		p.save()
	}
}

// save writes the position; p.mu must be held. A failure stops the
// pipeline: Run retries from the last saved checkpoint.
func (p *pipeline) save() {
	if !p.unsaved || p.saveErr != nil {
		return
	}
	if err := saveCheckpoint(p.s.cpFile, p.s.Position()); err != nil {
		p.saveErr = err
		p.cancel(err)
		return
	}
	p.saved, p.unsaved = time.Now(), false
}

// stop waits for the workers to finish (those of an ended ctx drop their
// queues) and saves the position of the batches done.
func (p *pipeline) stop() error {
	for _, q := range p.queues {
		close(q)
	}
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.save()
	return p.saveErr
}

// fnv32a is the 32-bit FNV-1a hash of s (hash/fnv's, without its
// allocation).
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := range len(s) {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
