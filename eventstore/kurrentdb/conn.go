package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/metadata"

	"github.com/orderstore/orderstore/eventstore"
)

const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// parseConnString validates a connection string and returns the client
// configuration for it, logging to logger.
func parseConnString(s string, logger *slog.Logger) (*esdb.Configuration, error) {
	const want = "want esdb://host:2113?tls=false or esdb+discover://host:2113"
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConnString, want)
	}
	switch strings.ToLower(scheme) {
	case "esdb", "esdb+discover":
	case "kurrentdb", "kurrentdb+discover", "kdb", "kdb+discover", "kurrent", "kurrent+discover":
		return nil, fmt.Errorf("%w: scheme %s:// is not supported by EventStore-Client-Go v4; "+
			"write esdb:// (or esdb+discover://) with the same hosts and settings", ErrInvalidConnString, scheme)
	default:
		return nil, fmt.Errorf("%w: scheme %q: %s", ErrInvalidConnString, scheme, want)
	}
	if err := checkSettings(rest); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConnString, err)
	}
	cfg, err := esdb.ParseConnectionString(s)
	if err != nil {
		// url.Error repeats the whole string, credentials included.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidConnString, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidConnString, err)
	}
	cfg.Logger = clientLogging(logger)
	return cfg, nil
}

// checkSettings refuses query settings the client would only warn about:
// it warns through log.Printf, before our logger is installed.
func checkSettings(rest string) error {
	_, query, ok := strings.Cut(rest, "?")
	if !ok {
		return nil
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	for key, vals := range values {
		switch strings.ToLower(key) {
		case "tls", "tlsverifycert", "tlscafile", "usercertfile", "userkeyfile",
			"maxdiscoverattempts", "discoveryinterval", "gossiptimeout", "keepalivetimeout", "defaultdeadline":
		case "nodepreference":
			// Every call requires the leader (see leaderOnly): a client
			// that discovers another node only meets refusals.
			if !strings.EqualFold(vals[0], "leader") {
				return fmt.Errorf("setting %s=%s: orderstore reads its own writes, which only the leader is sure "+
					"to have, so it talks to the leader only; leave the setting out or write nodePreference=leader", key, vals[0])
			}
		case "keepaliveinterval":
			// gRPC raises intervals below 10 s to 10 s; -1 disables keepalive.
			if n, err := strconv.Atoi(vals[0]); err == nil && n >= 0 && n < 10000 {
				return fmt.Errorf("setting %s=%d: want at least 10000 (ms) or -1", key, n)
			}
		default:
			return fmt.Errorf("unknown setting %q", key)
		}
	}
	return nil
}

// clientLogging sends the client's messages to logger at debug level: the
// errors it reports are returned to our callers, who handle them.
func clientLogging(logger *slog.Logger) esdb.LoggingFunc {
	return func(level esdb.LogLevel, format string, args ...any) {
		logger.Debug(fmt.Sprintf(format, args...), "client_level", level)
	}
}

// session is one esdb.Client and what is known about it.
type session struct {
	client *esdb.Client
	// gate admits one call at a time until the client has reached the
	// server: callers that arrive during a failing discovery would hang.
	gate     chan struct{}
	ready    bool // a call reached the server
	inflight int  // calls running on client
	retired  bool // replaced; closed once inflight drops to 0
}

// conn owns the current session and replaces it when its client dies.
type conn struct {
	cfg    *esdb.Configuration
	logger *slog.Logger

	mu        sync.Mutex
	cur       *session // nil: make one at the next call, once retryAt has passed
	closed    bool
	closing   chan struct{} // closed by close
	backoff   time.Duration
	retryAt   time.Time
	lastErr   string // why the last session was retired
	connected bool   // the last session state logged was "connected"
}

func newConn(cfg *esdb.Configuration, logger *slog.Logger) *conn {
	return &conn{cfg: cfg, logger: logger, closing: make(chan struct{})}
}

// requiresLeader is the gRPC header by which a call asks the server to
// serve it on the leader only: a follower refuses it and names the leader,
// and the client then reconnects to that node.
const requiresLeader = "requires-leader"

// leaderOnly returns ctx carrying the requires-leader header. The client's
// own RequiresLeader option and nodePreference=leader put the header in the
// incoming metadata of the call's context (esdb/options.go,
// configureGrpcCall: metadata.NewIncomingContext), which gRPC never sends;
// outgoing metadata of the context we pass in is sent.
func leaderOnly(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, requiresLeader, "true")
}

// do runs fn with a client and returns its error, or ctx's error as soon as
// ctx ends: fn runs in a goroutine of its own, which finishes in the
// background if the client does not honour ctx. fn gets ctx with the
// requires-leader header: every call is served by the leader.
func (c *conn) do(ctx context.Context, fn func(context.Context, *esdb.Client) error) error {
	return c.run(ctx, func(ctx context.Context, cl *esdb.Client, _ func()) error { return fn(ctx, cl) })
}

// run is do for calls that outlive their handshake, such as subscriptions:
// fn calls up once the server has answered, so that other calls need not
// wait for fn to return. A panic in fn (the client's reader panics on
// messages it does not expect) ends this call only: it becomes its error,
// and the client, whose state is then unknown, is replaced.
func (c *conn) run(ctx context.Context, fn func(ctx context.Context, cl *esdb.Client, up func()) error) error {
	s, gated, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	callCtx := leaderOnly(ctx)
	done := make(chan error, 1)
	go func() {
		err := guard(func() error { return fn(callCtx, s.client, func() { c.markUp(s, &gated) }) })
		if p := (*panicked)(nil); errors.As(err, &p) {
			c.logger.Error("kurrentdb client panicked", "panic", p.value, "stack", string(p.stack))
		}
		c.release(s, gated, err)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// guard runs fn and returns a panic inside it as a *panicked error.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicked{value: fmt.Sprint(r), stack: debug.Stack()}
		}
	}()
	return fn()
}

// acquire returns the session to call, making one if needed. gated reports
// that the caller holds the session's gate.
func (c *conn) acquire(ctx context.Context) (s *session, gated bool, err error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, false, eventstore.ErrClosed
		}
		if c.cur == nil {
			if wait := time.Until(c.retryAt); wait > 0 {
				msg := fmt.Sprintf("reconnecting in %s; last error: %s", wait.Round(time.Millisecond), c.lastErr)
				c.mu.Unlock()
				return nil, false, &failure{op: "connect", kind: eventstore.ErrUnavailable, msg: msg}
			}
			cfg := *c.cfg
			cl, err := esdb.NewClient(&cfg) // no I/O: the first call discovers the node
			if err != nil {
				c.mu.Unlock()
				return nil, false, &failure{op: "connect", msg: err.Error()}
			}
			c.cur = &session{client: cl, gate: make(chan struct{}, 1)}
		}
		s = c.cur
		if s.ready {
			s.inflight++
			c.mu.Unlock()
			return s, false, nil
		}
		c.mu.Unlock()

		select {
		case s.gate <- struct{}{}:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-c.closing:
			return nil, false, eventstore.ErrClosed
		}
		c.mu.Lock()
		if c.closed || c.cur != s || s.ready {
			// Replaced or connected while we waited: look again.
			<-s.gate
			c.mu.Unlock()
			continue
		}
		s.inflight++
		c.mu.Unlock()
		return s, true, nil
	}
}

// markUp records that s reached the server and lets the gated calls in.
func (c *conn) markUp(s *session, gated *bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.up(s)
	if *gated {
		<-s.gate
		*gated = false
	}
}

// release ends a call on s that returned err.
func (c *conn) release(s *session, gated bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.inflight--
	switch {
	case answered(err):
		c.up(s)
	case connectionLost(err):
		c.retire(s, err)
	}
	if gated {
		<-s.gate
	}
	c.closeIdle(s)
}

func (c *conn) up(s *session) {
	if s.ready || s.retired {
		return
	}
	s.ready = true
	c.backoff = 0
	if !c.connected {
		c.connected = true
		c.logger.Info("kurrentdb connected")
	}
}

// retire replaces s after a connection failure: the next call makes a new
// client once the backoff has passed.
func (c *conn) retire(s *session, err error) {
	if s.retired || c.cur != s {
		return
	}
	s.retired = true
	c.cur = nil
	c.backoff = min(max(2*c.backoff, minBackoff), maxBackoff)
	c.retryAt = time.Now().Add(c.backoff)
	c.lastErr = err.Error()
	if c.connected {
		c.connected = false
		c.logger.Warn("kurrentdb connection lost", "err", c.lastErr)
	} else {
		c.logger.Debug("kurrentdb unreachable", "err", c.lastErr, "retry_in", c.backoff)
	}
}

// closeIdle closes the client of a retired session nobody uses. Closing is
// safe only then: the client panics callers blocked inside it when closed.
// A session with a call that never returns is abandoned instead.
func (c *conn) closeIdle(s *session) {
	if s.retired && s.inflight == 0 {
		_ = s.client.Close() // idempotent, always nil
	}
}

// done is closed when the store closes.
func (c *conn) done() <-chan struct{} { return c.closing }

// close makes every later call fail with ErrClosed. Calls in flight finish;
// the client is closed after the last of them.
func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	close(c.closing)
	if s := c.cur; s != nil {
		s.retired = true
		c.cur = nil
		c.closeIdle(s)
	}
}
