package embedded

import (
	"errors"
	"testing"

	"github.com/orderstore/orderstore/eventstore"
)

// StreamVersion knows the streams committed since Open, at their last
// version, as ReadStream shows them; not those of failed appends, nor
// those from before Open; and it forgets all at its bound and learns
// again from the commits that follow.
func TestStreamVersion(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if _, known := s.StreamVersion("order-a"); known {
		t.Fatal("a stream never written is known")
	}
	mustAppend(t, s, "order-a", eventstore.NoStream, newEvents(1)...)
	mustAppend(t, s, "order-b", eventstore.NoStream, newEvents(3)...)
	mustAppend(t, s, "order-a", eventstore.Exact(0), newEvents(2)...)
	for stream, want := range map[string]int64{"order-a": 2, "order-b": 2} {
		if v, known := s.StreamVersion(stream); !known || v != want {
			t.Errorf("StreamVersion(%s) = %d, %v; want %d", stream, v, known, want)
		}
		read, err := s.ReadStream(t.Context(), stream, 0, 0)
		if err != nil || read[len(read)-1].Version != want {
			t.Errorf("ReadStream(%s) disagrees: %v", stream, err)
		}
	}
	// A refused append changes nothing; nor does a retry.
	evs := newEvents(1)
	mustAppend(t, s, "order-c", eventstore.NoStream, evs...)
	if _, err := s.Append(t.Context(), "order-c", eventstore.Exact(5), newEvents(1)...); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("append at a wrong version: %v", err)
	}
	mustAppend(t, s, "order-c", eventstore.NoStream, evs...)
	if v, known := s.StreamVersion("order-c"); !known || v != 0 {
		t.Errorf("StreamVersion(order-c) = %d, %v; want 0", v, known)
	}

	// Past its bound it forgets everything, then learns again.
	s.committed.n.Store(committedVersionsSize)
	mustAppend(t, s, "order-d", eventstore.NoStream, newEvents(1)...)
	if _, known := s.StreamVersion("order-a"); known {
		t.Error("order-a known after the bound was passed")
	}
	if v, known := s.StreamVersion("order-d"); !known || v != 0 {
		t.Errorf("StreamVersion(order-d) = %d, %v; want 0 (written after the bound was passed)", v, known)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close() //nolint:errcheck // test
	if v, known := s.StreamVersion("order-a"); known {
		t.Errorf("after reopening, StreamVersion(order-a) = %d, known", v)
	}
	mustAppend(t, s, "order-a", eventstore.Exact(2), newEvents(1)...)
	if v, known := s.StreamVersion("order-a"); !known || v != 3 {
		t.Errorf("after reopening and an append, StreamVersion(order-a) = %d, %v; want 3", v, known)
	}
}
