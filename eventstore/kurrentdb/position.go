package kurrentdb

import (
	"context"
	"fmt"
	"math"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/orderstore/orderstore/eventstore"
)

// The port's position of an event is the commit position of KurrentDB's
// (commit, prepare) pair: see "Positions" in the package documentation for
// why that is one number per event. Inside the package the whole pair
// orders events, so that events sharing a commit position are never taken
// for one another.

// before reports whether a comes before b in $all.
func before(a, b esdb.Position) bool {
	return a.Commit < b.Commit || a.Commit == b.Commit && a.Prepare < b.Prepare
}

// delivered is the last place in $all that a read or subscription after
// the port's position after has delivered: every event committed at after,
// whatever its prepare position. Events at or before it are skipped.
func delivered(after uint64) esdb.Position {
	if after == 0 {
		return esdb.Position{}
	}
	return esdb.Position{Commit: after, Prepare: math.MaxUint64}
}

// readFrom is where a forward read of $all after a port position starts.
// Reads are inclusive, and prepare 0 includes every event committed at
// after: the first one read is the event at after itself, which proves
// that after is a position (checkStart).
func readFrom(after uint64) esdb.AllPosition {
	if after == 0 {
		return esdb.Start{}
	}
	return esdb.Position{Commit: after, Prepare: 0}
}

// subscribeFrom is where a subscription to $all after a port position
// starts. Subscriptions are exclusive: the server sends events after the
// pair, and none of those committed at after has a prepare position above
// it.
func subscribeFrom(after uint64) esdb.AllPosition {
	if after == 0 {
		return esdb.Start{}
	}
	return esdb.Position{Commit: after, Prepare: after}
}

// refuse is the error for an after that is not a position of the store.
func refuse(op string, after uint64, why string) error {
	return fmt.Errorf("%s after %d: %w: %s", op, after, eventstore.ErrInvalidPosition, why)
}

// checkRange refuses, before any I/O, an after that no log offset can be:
// the server keeps positions in an int64.
func checkRange(op string, after uint64) error {
	if after > math.MaxInt64 {
		return refuse(op, after, "beyond any log position")
	}
	return nil
}

// checkStart checks the first event of a forward read from readFrom(after):
// the server starts such a read at the first record at or after the byte
// offset after, so only an event committed at after proves it a position.
// first is nil if the read found nothing: after is beyond the head.
//
// A number inside a record mostly makes the server refuse the read (the
// bytes there do not parse as a record, see refusedPosition), but not
// always: in a scavenged chunk the server moves on to the next record, and
// past the last record it answers with an empty read. This check catches
// all three.
func checkStart(op string, after uint64, first *esdb.RecordedEvent) error {
	switch {
	case after == 0:
		return nil
	case first == nil:
		return refuse(op, after, "beyond the head of $all")
	case first.Position.Commit != after:
		return refuse(op, after, fmt.Sprintf("no event was committed there (the next is at %d)", first.Position.Commit))
	}
	return nil
}

// checkAfter checks that after is 0 or the position of an event, with a
// read of one event.
func checkAfter(ctx context.Context, c *esdb.Client, op string, after uint64) error {
	if after == 0 {
		return nil
	}
	if err := checkRange(op, after); err != nil {
		return err
	}
	rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{From: readFrom(after)}, 1)
	if err != nil {
		return err
	}
	var first *esdb.RecordedEvent
	if _, err := each(rs, func(ev *esdb.RecordedEvent) bool { first = ev; return false }); err != nil {
		return err
	}
	return checkStart(op, after, first)
}

// knownPosition maps the "no position" markers of the server (0 and, on
// some versions, the maximum uint64, i.e. -1) to 0.
func knownPosition(p uint64) uint64 {
	if p == math.MaxUint64 {
		return 0
	}
	return p
}
