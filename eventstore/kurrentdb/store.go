package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/orderstore/orderstore/eventstore"
)

var _ eventstore.Store = (*Store)(nil)

// Options tune a Store. The zero value is ready to use.
type Options struct {
	// Logger receives lifecycle messages and, at debug level, the client's
	// own; nil discards them.
	Logger *slog.Logger
	// StreamPrefixes, if set, narrow the store's view of $all to streams
	// with these prefixes: ReadAll, Head and Subscribe show only their
	// events, so that on a cluster shared with other applications, theirs
	// never reach this one. Subscriptions are filtered on the server, reads
	// while they page. Empty means every stream except system ones. Append
	// and ReadStream are not narrowed.
	StreamPrefixes []string
}

// Store is the KurrentDB event store. Open it with Open; it is safe for
// concurrent use.
type Store struct {
	conn   *conn
	logger *slog.Logger
	view   view
}

// Open validates connString and prepares a store on it. It does no I/O, so
// it succeeds while the server is down (the first call connects, and Ping
// reports the server's state); it fails with ErrInvalidConnString when the
// string is malformed or uses a scheme other than esdb:// and
// esdb+discover://. ctx is only checked: nothing outlives Open on it.
func Open(ctx context.Context, connString string, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := parseConnString(connString, logger)
	if err != nil {
		return nil, err
	}
	target := cfg.Address
	if len(cfg.GossipSeeds) > 0 {
		seeds := make([]string, len(cfg.GossipSeeds))
		for i, seed := range cfg.GossipSeeds {
			seeds[i] = seed.String()
		}
		target = strings.Join(seeds, ",")
	}
	// Nothing has connected yet: Ping (GET /readyz) tells whether the
	// server answers.
	logger.Info("event store configured", "target", target, "tls", !cfg.DisableTLS, "discover", cfg.DnsDiscover)
	v := view{prefixes: slices.Clone(opts.StreamPrefixes)}
	return &Store{conn: newConn(cfg, logger), logger: logger, view: v}, nil
}

// Ping reads the last event of $all: it returns nil when the server answers,
// an error matching ErrUnavailable when it cannot be reached, ErrClosed after
// Close, or ctx's error if ctx ends first.
func (s *Store) Ping(ctx context.Context) error {
	err := s.conn.do(ctx, func(ctx context.Context, c *esdb.Client) error {
		rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
		if err != nil {
			return err
		}
		_, err = each(rs, func(*esdb.RecordedEvent) bool { return false })
		return err
	})
	return s.fail(ctx, "ping", err)
}

// Close makes every later call fail with ErrClosed and ends running
// subscriptions with ErrClosed. Calls in flight finish; the client closes
// after the last one. Close is idempotent and always returns nil.
func (s *Store) Close() error {
	s.conn.close()
	return nil
}

// fail reports err of operation op in the port's terms; ctx's end takes
// precedence, as the client turns cancellation into an unknown error.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if f := (*failure)(nil); errors.As(err, &f) {
		return fmt.Errorf("%s: %w", op, err) // no client to call: see acquire
	}
	return translate(op, err)
}
