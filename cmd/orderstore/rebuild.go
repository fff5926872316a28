package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/projections"
)

func rebuild(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("orderstore rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, getenv)
	name := fs.String("projection", "all", "projection to rebuild: stock, analytics, orders, fulfilment, all,\nor with a KurrentDB store correlations")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: orderstore rebuild [flags]\n\n"+
			"Replays the whole event history into fresh read models and swaps them in.\n"+
			"Offline: stop \"orderstore serve\" on this data directory first, or use\n"+
			"POST /projections/{name}/rebuild on the running service instead.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if help, err := parse(fs, args, stdout); help || err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return &usageError{msg: err.Error()}
	}
	switch {
	case *name == "correlations" && c.store == "embedded":
		return &usageError{msg: "--projection correlations: the embedded store indexes correlation IDs itself; " +
			"the correlations projection exists only with a KurrentDB --store"}
	case slices.Contains([]string{"stock", "analytics", "orders", "fulfilment", "correlations", "all"}, *name):
	default:
		return &usageError{msg: fmt.Sprintf("--projection %q: want stock, analytics, orders, fulfilment or all "+
			"(with a KurrentDB store, also correlations)", *name)}
	}
	logger := c.logger(stderr)
	if c.store == "embedded" {
		// A mistyped --data would otherwise create an empty store and
		// "rebuild" nothing, successfully.
		if _, err := os.Stat(filepath.Join(c.data, embedded.FileName)); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no event store in %s (%s not found): check --data", c.data, embedded.FileName)
		}
	}

	store, err := openStore(ctx, c, logger)
	if errors.Is(err, embedded.ErrLocked) {
		return inUse(c.data, *name, getenv)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()

	pp := newProgressPrinter(stderr, logger.Info)
	start := time.Now()
	err = projections.RebuildOffline(ctx, c.data, store, modelOptions(c), []string{*name}, pp.show)
	took := time.Since(start)
	if errors.Is(err, projections.ErrLocked) {
		return inUse(c.data, *name, getenv)
	}
	if err != nil && ctx.Err() != nil {
		pp.finish("rebuild interrupted", took)
		return fmt.Errorf("rebuild %s interrupted after %s: the read models are unchanged; run it again", *name, took.Round(time.Millisecond))
	}
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", *name, err)
	}
	pp.finish("rebuild done", took)
	fmt.Fprintf(stdout, "rebuilt %s in %s\n", *name, took.Round(time.Millisecond))
	return nil
}

// inUse is the refusal of an offline rebuild on a directory a service has
// open, with the online rebuild of the same projection to run instead, at
// the address serve takes by default (ORDERSTORE_ADDR, else its default).
func inUse(dir, name string, getenv func(string) string) error {
	addr := envOr(getenv, "ORDERSTORE_ADDR", "127.0.0.1:8080")
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	return fmt.Errorf("data directory %s is in use by a running orderstore serve; "+
		"rebuild online instead with: curl -X POST http://%s/projections/%s/rebuild "+
		"(at that service's --addr, with an admin token if it requires one)", dir, addr, url.PathEscape(name))
}

// progressPrinter shows an offline rebuild's progress: one rewritten line
// on a terminal, a log line every few seconds otherwise, and at the end one
// line per projection with the duration. The first progress (nothing
// replayed: no rate, no ETA) and the last (the end's line says it) are
// not shown as progress.
type progressPrinter struct {
	w       io.Writer
	tty     bool
	logf    func(msg string, args ...any)
	every   time.Duration
	last    time.Time // of the last log line
	pending bool      // a terminal line waits for its newline
	order   []string
	latest  map[string]projections.Progress
}

func newProgressPrinter(w io.Writer, logf func(msg string, args ...any)) *progressPrinter {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressPrinter{w: w, tty: tty, logf: logf, every: 2 * time.Second, last: time.Now(),
		latest: map[string]projections.Progress{}}
}

// show is RebuildOffline's progress callback.
func (pp *progressPrinter) show(p projections.Progress) {
	if _, ok := pp.latest[p.Projection]; !ok {
		pp.order = append(pp.order, p.Projection)
	}
	pp.latest[p.Projection] = p
	if p.Done == 0 || p.Done >= p.Total {
		return
	}
	if pp.tty {
		fmt.Fprintf(pp.w, "\r%-10s %5.1f%%  %d/%d events  %.0f events/s  ETA %s   ", p.Projection, p.Percent,
			p.Done, p.Total, p.Rate, (time.Duration(p.ETASeconds * float64(time.Second))).Round(time.Second))
		pp.pending = true
		return
	}
	if time.Since(pp.last) >= pp.every {
		pp.last = time.Now()
		pp.logf("rebuild progress", "projection", p.Projection, "done", p.Done, "total", p.Total,
			"percent", p.Percent, "rate", int(p.Rate), "eta_seconds", int(p.ETASeconds))
	}
}

// finish prints msg once for each projection, with where it ended and
// the time the rebuild took.
func (pp *progressPrinter) finish(msg string, took time.Duration) {
	if pp.pending {
		fmt.Fprintln(pp.w)
		pp.pending = false
	}
	for _, name := range pp.order {
		p := pp.latest[name]
		rate := 0
		if took > 0 {
			rate = int(float64(p.Done) / took.Seconds())
		}
		pp.logf(msg, "projection", name, "events", p.Done, "total", p.Total, "percent", p.Percent,
			"duration", took.Round(time.Millisecond), "rate", rate)
	}
}
