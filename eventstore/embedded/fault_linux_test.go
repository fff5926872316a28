//go:build linux && (amd64 || arm64)

package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/internal/fsfault"
)

// TestStore_ReadOnlyDataDir makes the data directory and its files
// immutable (chattr +i) under appenders running in this process, then
// clears the flag. Permission bits would not do: the tests may run as root,
// and they are checked at open, not on the descriptors SQLite holds; the
// immutable attribute fails writes on open descriptors, for root too.
//
// While the directory is read-only, appends fail with ErrUnavailable and
// Ping reports it; once writable, appends at the very versions that failed
// succeed and Ping is nil, without reopening. Nothing acknowledged is lost,
// nothing failed is written, no gaps.
func TestStore_ReadOnlyDataDir(t *testing.T) {
	t.Parallel()
	fsfault.RequireImmutable(t)
	dir := t.TempDir()
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = s.Close() //nolint:errcheck // the test failed already
		}
	}()
	tl := newTally()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for w := range faultAppenders {
		wg.Go(func() { appendUntil(ctx, s, fmt.Sprintf("order-ro-%d", w), tl.add) })
	}

	tl.waitFor(t, "200 acknowledged appends", func(acks, _ int) bool { return acks >= 200 })
	marked := fsfault.MarkImmutable(t, dir)
	_, failsBefore := tl.counts()
	tl.waitFor(t, "appends failing on the read-only directory", func(_, fails int) bool { return fails >= failsBefore+2*faultAppenders })
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Ping on a read-only directory: %v, want an error matching ErrUnavailable", err)
	}
	for _, p := range marked {
		if err := fsfault.SetImmutable(p, false); err != nil {
			t.Fatal(err)
		}
	}
	acksHealed, _ := tl.counts()
	tl.waitFor(t, "appends succeeding again", func(acks, _ int) bool { return acks >= acksHealed+200 })
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping once writable again: %v", err)
	}
	cancel()
	wg.Wait()
	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	acks, fails := tl.counts()
	t.Logf("%d appends acknowledged, %d failed while read-only", acks, fails)
	tl.verify(t, dir)
}
