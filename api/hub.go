package api

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderstore/orderstore/eventstore"
)

// frame is one event as every live stream sends it, encoded once.
type frame struct {
	ev   eventstore.RecordedEvent // for the streams' filters
	data []byte                   // the Server-Sent Event
}

// hub follows $all once for all the live streams of GET /events/stream:
// one subscription, each event encoded once, the frames handed to every
// stream's bounded buffer. It runs while some stream is joined.
type hub struct {
	store  eventstore.Store
	logger *slog.Logger
	max    int           // events a stream's buffer holds
	pace   time.Duration // the least time between two reads of a live hub

	mu     sync.Mutex
	subs   map[*hubSub]struct{}
	gen    uint64             // the run of the subscription; a stale one stops
	cancel context.CancelFunc // of the running subscription, nil if none
	last   uint64             // the position the hub has handed out up to
}

// hubSub is one stream's place in the hub.
type hubSub struct {
	frames   chan []frame  // batches; the hub never blocks on it (see queued)
	queued   atomic.Int64  // events in frames
	overflow chan struct{} // closed when the buffer was full: cut the client off
	failed   chan error    // the hub's subscription failed (buffered, 1)
}

func newHub(store eventstore.Store, logger *slog.Logger, max int, pace time.Duration) *hub {
	return &hub{store: store, logger: logger, max: max, pace: pace, subs: map[*hubSub]struct{}{}}
}

// frameOverhead is about what a frame adds to an event's data, metadata,
// stream and type: its SSE fields and the JSON names, ID, position,
// version and time; a batch's buffer is sized once from it.
const frameOverhead = 200

// paceBatch is the size of a batch under which the hub takes itself to be
// live rather than behind: after a smaller one it waits out its pace
// before reading again (a subscription reads up to 500 or 1,000 events at
// once, by backend).
const paceBatch = 100

// join registers a stream and returns the position after which the hub
// will hand it every event: the stream reads up to it by itself.
func (h *hub) join(ctx context.Context) (*hubSub, uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel == nil {
		head, err := h.store.Head(ctx)
		if err != nil {
			return nil, 0, err
		}
		h.gen++
		h.last = head
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		h.cancel = cancel
		go h.run(sctx, h.gen, head)
	}
	sub := &hubSub{frames: make(chan []frame, h.max), overflow: make(chan struct{}), failed: make(chan error, 1)}
	h.subs[sub] = struct{}{}
	return sub, h.last, nil
}

// leave unregisters a stream; the last one stops the subscription.
func (h *hub) leave(sub *hubSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
	if len(h.subs) == 0 && h.cancel != nil {
		h.cancel()
		h.cancel = nil
	}
}

var errStaleHub = errors.New("hub restarted")

// run follows $all from after and hands each batch to every stream.
func (h *hub) run(ctx context.Context, gen, after uint64) {
	// Live, the hub reads at most once per pace: the store's subscription
	// would read after every commit, and hand every stream a batch of a
	// few events each time. Behind, it reads on at once.
	var timer *time.Timer
	if h.pace > 0 {
		timer = time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
	}
	err := h.store.Subscribe(ctx, after, func(events []eventstore.RecordedEvent) error {
		if err := h.handOut(gen, events); err != nil {
			return err
		}
		if timer != nil && len(events) < paceBatch {
			timer.Reset(h.pace)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	if ctx.Err() != nil || errors.Is(err, errStaleHub) {
		return
	}
	h.logger.Warn("live event stream: the subscription ended", logKeyErr, err)
	h.mu.Lock()
	defer h.mu.Unlock()
	if gen != h.gen {
		return
	}
	for sub := range h.subs {
		sub.failed <- err
		delete(h.subs, sub)
	}
	if h.cancel != nil {
		h.cancel()
		h.cancel = nil
	}
}

// handOut encodes a batch of the subscription and hands it to every stream,
// cutting off those whose buffer it would overfill.
func (h *hub) handOut(gen uint64, events []eventstore.RecordedEvent) error {
	// One buffer for the batch's frames, each a slice of it.
	var buf bytes.Buffer
	size := 0
	for _, e := range events {
		size += len(e.Data) + len(e.Metadata) + len(e.Stream) + 2*len(e.Type) + frameOverhead
	}
	buf.Grow(size)
	ends := make([]int, len(events))
	for i, e := range events {
		writeEvent(&buf, e)
		ends[i] = buf.Len()
	}
	data := buf.Bytes()
	batch := make([]frame, len(events))
	start := 0
	for i, e := range events {
		batch[i] = frame{ev: e, data: data[start:ends[i]:ends[i]]}
		start = ends[i]
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if gen != h.gen {
		return errStaleHub
	}
	h.last = events[len(events)-1].Position
	for sub := range h.subs {
		if sub.queued.Load()+int64(len(batch)) > int64(h.max) {
			close(sub.overflow)
			delete(h.subs, sub)
			continue
		}
		sub.queued.Add(int64(len(batch)))
		sub.frames <- batch // room: at most max events, each batch at least one
	}
	return nil
}
