package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/webhooks"
)

// notify runs the webhook deliverer as a process of its own: the one
// deliverer beside API replicas that run serve --webhooks=false (DESIGN
// §12). It serves the /webhooks routes (and the API's commands, but no
// read models) on --addr, since the endpoints live in its data directory.
func notify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("orderstore notify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, getenv)
	addr := fs.String("addr", envOr(getenv, "ORDERSTORE_NOTIFY_ADDR", "127.0.0.1:8081"),
		"listen address of the /webhooks routes (env ORDERSTORE_NOTIFY_ADDR)")
	tokensFile := fs.String("tokens-file", getenv("ORDERSTORE_TOKENS_FILE"), "`file` of API tokens, as for serve (env ORDERSTORE_TOKENS_FILE)")
	insecure := fs.Bool("insecure-no-auth", false, "serve without tokens on an address other machines can reach (no environment fallback)")
	var wh webhookFlags
	wh.register(fs, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: orderstore notify [flags]\n\nDelivers the webhooks of --data from the event store, as the one deliverer\n"+
			"beside API replicas that run serve --webhooks=false, and serves the /webhooks\n"+
			"routes (scope admin) on --addr. A second deliverer on the same --data is refused.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if help, err := parse(fs, args, stdout); help || err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return &usageError{msg: err.Error()}
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return &usageError{msg: fmt.Sprintf("--addr %q: want host:port (%v)", *addr, err)}
	}
	if !wh.enabled {
		return &usageError{msg: "notify delivers webhooks: --webhooks=false (or ORDERSTORE_WEBHOOKS=false) makes no sense here"}
	}
	whOpts, err := wh.options()
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	tokens, err := accessControl(*addr, *tokensFile, *insecure)
	if err != nil {
		return err
	}
	logger := c.logger(stderr)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close() //nolint:errcheck // Serve closes it; a second Close only fails

	store, err := openStore(ctx, c, logger)
	if errors.Is(err, embedded.ErrLocked) {
		return fmt.Errorf("%w (an orderstore serve has it open: with the embedded store, serve delivers the webhooks itself)", err)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(reg, readBuildInfo())
	whOpts.Logger, whOpts.Registerer = logger, reg
	notifier, err := webhooks.Open(c.data, store, whOpts)
	if errors.Is(err, webhooks.ErrLocked) {
		return fmt.Errorf("%w (another notify or serve delivers this data directory's webhooks: there must be one deliverer)", err)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, notifier.Close()) }()
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- notifier.Run(runCtx) }()
	defer func() {
		stop()
		if nerr := <-done; nerr != nil && !errors.Is(nerr, context.Canceled) {
			err = errors.Join(err, fmt.Errorf("webhooks: %w", nerr))
		}
	}()
	srv := api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{Logger: logger.With("component", "orders")}),
		Logger: logger.With("component", "http"), Registerer: reg, Gatherer: reg, Tokens: tokens, Webhooks: notifier})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("listening", append(listenAttrs(*addr, ln.Addr()), "data", c.data, "store", storeName(c.store), "role", "notify")...)
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}
