package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orderstore/orderstore/eventstore"
)

// eventRef names one event of a store. The first event a store shows
// identifies it: a checkpoint records the first event of the store its read
// model was built from, and a store that does not have that event (a reset
// store, another store) is not the one the checkpoint's position belongs to.
type eventRef struct {
	Stream   string `json:"stream"`
	Version  int64  `json:"version"`
	ID       string `json:"id"`
	Position uint64 `json:"position"`
}

func refOf(ev eventstore.RecordedEvent) *eventRef {
	return &eventRef{Stream: ev.Stream, Version: ev.Version, ID: ev.ID.String(), Position: ev.Position}
}

func (e *eventRef) String() string {
	return fmt.Sprintf("event %s (%s version %d, position %d)", e.ID, e.Stream, e.Version, e.Position)
}

// encodeRef is the column value of a checkpoint's store identity; "" for
// none (no event applied yet).
func encodeRef(e *eventRef) string {
	if e == nil {
		return ""
	}
	b, _ := json.Marshal(e) //nolint:errcheck // strings and integers
	return string(b)
}

func decodeRef(s string) (*eventRef, error) {
	if s == "" {
		return nil, nil
	}
	e := new(eventRef)
	if err := json.Unmarshal([]byte(s), e); err != nil {
		return nil, fmt.Errorf("store identity %q: %w", s, err)
	}
	return e, nil
}

// errOtherStore is the reason a projection fails when its checkpoint does
// not belong to the store: the read models were built from another store,
// or the store was reset under them.
var errOtherStore = errors.New("the read model was built from another event store")

// firstEvent returns the first event the store shows, nil if it has none.
func firstEvent(ctx context.Context, store eventstore.Store) (*eventRef, error) {
	first, err := store.ReadAll(ctx, 0, 1)
	if err != nil || len(first) == 0 {
		return nil, err
	}
	return refOf(first[0]), nil
}

// checkStore verifies that the checkpoint cp belongs to store: that store
// has the first event cp was built from, and its head is not behind cp. It
// returns an error matching errOtherStore when not, and the store's error
// if it could not tell.
func checkStore(ctx context.Context, store eventstore.Store, cp checkpoint) error {
	rebuild := fmt.Sprintf("rebuild it from this store: POST /projections/%s/rebuild, or orderstore rebuild --projection %s", cp.Name, cp.Name)
	if cp.Store != nil {
		got, err := store.ReadStream(ctx, cp.Store.Stream, cp.Store.Version, 1)
		if err != nil && !errors.Is(err, eventstore.ErrNotFound) {
			return fmt.Errorf("check the store's identity: %w", err)
		}
		same := len(got) == 1 && got[0].ID.String() == cp.Store.ID &&
			(got[0].Position == 0 || cp.Store.Position == 0 || got[0].Position == cp.Store.Position)
		if !same {
			return fmt.Errorf("%w: its first event was %s, which this store does not have; %s", errOtherStore, cp.Store, rebuild)
		}
	}
	if cp.Position == 0 {
		return nil
	}
	head, err := store.Head(ctx)
	if err != nil {
		return fmt.Errorf("check the checkpoint against the head: %w", err)
	}
	if cp.Position > head {
		return fmt.Errorf("%w, or the store was reset: the checkpoint %d is beyond the store's head %d; %s", errOtherStore, cp.Position, head, rebuild)
	}
	return nil
}
