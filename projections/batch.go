package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

const (
	// pageSize is the number of events read from $all at a time.
	pageSize = 1000
	// maxTxEvents bounds the events a replay applies in one transaction.
	// Large transactions write each order and counter row once for many
	// events, which is most of what makes a rebuild fast.
	maxTxEvents = 16_000
	// queuedPages is how many decoded pages a replay keeps ready: enough to
	// fill a maximal transaction while the previous one commits.
	queuedPages = maxTxEvents / pageSize
)

// batch is a run of consecutive events of $all, decoded. Positions are
// tokens of the store: the batch carries the ones it read, and computes
// none (a store's positions need not be consecutive).
type batch struct {
	events  []readmodel.Event // the events decoded, of the types handled
	unknown []uint64          // positions of events of unknown types, skipped
	bad     []failure         // events of handled types that did not decode
	read    int               // events in the batch, of any type
	last    uint64            // position of the last event of the batch, 0 if none
	first   *eventRef         // the first event of the batch, of any type
	// all holds every event of the batch, decoded where a projection
	// handles its type (Payload nil otherwise), when a projection that
	// takes events as recorded asked for it (see recordedView).
	all []readmodel.Event
}

// failure is an event that a projection cannot apply, or a failure of the
// projection that no event is to blame for (position 0).
type failure struct {
	position  uint64
	eventType string
	err       error
	// prev is the position of the event read before it, 0 if it came
	// first in its batch: the checkpoint can move up to prev.
	prev uint64
}

// decodeBatch decodes the events of the types handles accepts. Events of
// other types are passed over, and listed as unknown if the domain does
// not know their type. With keepAll, the batch also keeps every event in
// all, for the projections that take events as recorded.
func decodeBatch(events []eventstore.RecordedEvent, handles func(eventType string) bool, keepAll bool) *batch {
	b := &batch{events: make([]readmodel.Event, 0, len(events)), read: len(events)}
	if len(events) > 0 {
		b.first = refOf(events[0])
	}
	if keepAll {
		b.all = make([]readmodel.Event, 0, len(events))
	}
	for _, ev := range events {
		e := readmodel.Event{ID: ev.ID, Position: ev.Position, Stream: ev.Stream, Version: ev.Version,
			Type: ev.Type, Metadata: ev.Metadata, Prev: b.last}
		switch {
		case handles(ev.Type):
			payload, err := domain.Decode(ev.Type, ev.Data)
			if err != nil {
				b.bad = append(b.bad, failure{position: ev.Position, eventType: ev.Type, prev: b.last,
					err: fmt.Errorf("event %s at position %d in %s: %w", ev.ID, ev.Position, ev.Stream, err)})
				break // view ends its owner's view before it
			}
			e.Payload = payload
			b.events = append(b.events, e)
		case !knownType(ev.Type):
			b.unknown = append(b.unknown, ev.Position)
		}
		if keepAll {
			b.all = append(b.all, e)
		}
		b.last = ev.Position
	}
	return b
}

// recordedView returns what a projection that takes events as recorded
// gets of b, which decodeBatch made with keepAll: every event, in order,
// none skipped and none bad.
func (b *batch) recordedView() *batch {
	return &batch{events: b.all, read: b.read, last: b.last, first: b.first}
}

// view returns what a projection handling the types handles gets of b:
// its events, up to the first of them that did not decode, which ends the
// view as its only bad event.
func (b *batch) view(handles func(eventType string) bool) *batch {
	v := &batch{read: b.read, last: b.last, unknown: b.unknown, first: b.first}
	end := ^uint64(0)
	for _, f := range b.bad {
		if handles(f.eventType) {
			v.bad, end = []failure{f}, f.position
			break
		}
	}
	v.events = b.events // shared while nothing is left out
	for i, ev := range b.events {
		if ev.Position > end || !handles(ev.Type) {
			v.events = slices.Clip(b.events[:i])
			for _, ev := range b.events[i:] {
				if ev.Position > end {
					break
				}
				if handles(ev.Type) {
					v.events = append(v.events, ev)
				}
			}
			break
		}
	}
	if len(v.bad) > 0 {
		v.last = v.bad[0].prev // 0: nothing before the bad event in this batch
		i := 0
		for i < len(v.unknown) && v.unknown[i] < end {
			i++
		}
		v.unknown = v.unknown[:i]
		v.read = len(v.events) + i // an estimate, for progress only
	}
	return v
}

// knownType reports whether the domain knows eventType. Decode checks the
// type before it looks at the payload, so this parses no JSON.
func knownType(eventType string) bool {
	_, err := domain.Decode(eventType, nil)
	return !errors.Is(err, domain.ErrUnknownEventType)
}

// trim drops the events at or before pos, already applied, from a view.
func (b *batch) trim(pos uint64) {
	if b.last <= pos && (len(b.bad) == 0 || b.bad[0].position <= pos) {
		*b = batch{}
		return
	}
	i := 0
	for i < len(b.events) && b.events[i].Position <= pos {
		i++
	}
	j := 0
	for j < len(b.unknown) && b.unknown[j] <= pos {
		j++
	}
	b.events, b.unknown, b.read = b.events[i:], b.unknown[j:], max(0, b.read-i-j)
}

// empty reports whether the view holds nothing to apply.
func (b *batch) empty() bool { return b.last == 0 && len(b.bad) == 0 }

// merge appends next, which follows b: what came first in next now
// follows b's last event.
func (b *batch) merge(next *batch) {
	if len(next.events) > 0 && next.events[0].Prev == 0 {
		next.events[0].Prev = b.last
	}
	if len(next.bad) > 0 && next.bad[0].prev == 0 {
		next.bad[0].prev = b.last
	}
	if b.first == nil {
		b.first = next.first
	}
	if len(next.all) > 0 && next.all[0].Prev == 0 {
		next.all[0].Prev = b.last
	}
	b.events = append(b.events, next.events...)
	b.all = append(b.all, next.all...)
	b.unknown = append(b.unknown, next.unknown...)
	b.bad = append(b.bad, next.bad...)
	b.read += next.read
	if next.last != 0 {
		b.last = next.last
	}
}

// replay reads $all after from until a read comes back empty and hands
// the events, decoded as decodeBatch does with handles and keepAll, to apply in batches of up to maxTxEvents. Reading, decoding
// and applying run on three goroutines, so a replay keeps two cores busy;
// a batch is whatever has been decoded while the previous one was applied,
// so batches grow only when applying is the bottleneck. Memory stays
// bounded by the queued pages.
func replay(ctx context.Context, store eventstore.Store, from uint64, handles func(string) bool, keepAll bool, apply func(*batch) error) error {
	// stop ends the reader and decoder after the page in hand: a page is
	// bounded, and only ctx (shutdown) should interrupt a read.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)

	pages := make(chan []eventstore.RecordedEvent, 2)
	decoded := make(chan *batch, queuedPages)
	var readErr error // set before pages is closed
	wg.Go(func() {
		defer close(pages)
		after := from
		for {
			evs, err := store.ReadAll(ctx, after, pageSize)
			if err != nil || len(evs) == 0 {
				readErr = err
				return
			}
			select {
			case pages <- evs:
			case <-stop:
				return
			}
			after = evs[len(evs)-1].Position
		}
	})
	wg.Go(func() {
		defer close(decoded)
		for evs := range pages {
			select {
			case decoded <- decodeBatch(evs, handles, keepAll):
			case <-stop:
				return
			}
		}
	})
	for b := range decoded {
		for len(b.bad) == 0 && b.read < maxTxEvents && len(decoded) > 0 {
			b.merge(<-decoded)
		}
		if err := apply(b); err != nil {
			return err
		}
	}
	wg.Wait() // the reader has returned: readErr is set
	if err := ctx.Err(); err != nil {
		return err
	}
	if readErr != nil {
		// The store names its operation ("read $all …"); replay names
		// its own rather than repeating the store's.
		return fmt.Errorf("replay $all: %w", readErr)
	}
	return nil
}
