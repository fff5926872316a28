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
	"net/url"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/eventstore/kurrentdb"
	"github.com/orderstore/orderstore/fulfilment"
	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/projections"
	"github.com/orderstore/orderstore/telemetry"
	"github.com/orderstore/orderstore/webhooks"
)

// shutdownTimeout bounds the wait for in-flight requests at SIGTERM.
const shutdownTimeout = 25 * time.Second

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("orderstore serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, getenv)
	addr := fs.String("addr", envOr(getenv, "ORDERSTORE_ADDR", "127.0.0.1:8080"), "listen address (env ORDERSTORE_ADDR)")
	tokensFile := fs.String("tokens-file", getenv("ORDERSTORE_TOKENS_FILE"),
		"`file` of API tokens, one \"name scope[,scope] sha256-hex\" a line, printed by\n"+
			"\"orderstore token new\"; requests then need Authorization: Bearer <token>\n"+
			"(env ORDERSTORE_TOKENS_FILE). Without it, serve listens on loopback only")
	insecure := fs.Bool("insecure-no-auth", false,
		"serve without tokens on an address other machines can reach: anyone who\n"+
			"reaches it may read, write and rebuild (no environment fallback, on purpose)")
	metricsAuth := fs.Bool("metrics-auth", false, "GET /metrics needs a token with scope read (default: open, like /healthz)")
	var wh webhookFlags
	wh.register(fs, getenv)
	policy := fs.String("stock-policy", envOr(getenv, "ORDERSTORE_STOCK_POLICY", stockPolicyReserve),
		"stock policy of new orders: \"reserve\" (the fulfilment saga reserves their lines,\n"+
			"rejecting an order it cannot) or \"track\" (no reservation; available may go\n"+
			"negative, for shops selling on backorder) (env ORDERSTORE_STOCK_POLICY)")
	paymentTimeout := fs.Duration("payment-timeout", envDuration(getenv, "ORDERSTORE_PAYMENT_TIMEOUT", 30*time.Minute),
		"cancel (reason payment_timeout) an order whose stock is reserved but that is\n"+
			"not paid within this `duration`; 0 turns it off (env ORDERSTORE_PAYMENT_TIMEOUT)")
	otlpEndpoint := fs.String("otlp-endpoint", getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		"export OpenTelemetry spans (requests, appends, projection batches) over OTLP/HTTP to\n"+
			"this collector `URL` (spans go to its /v1/traces; env OTEL_EXPORTER_OTLP_ENDPOINT).\n"+
			"Off by default")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: orderstore serve [flags]\n\nServes the HTTP API on the event store.\n\n"+
			"Access: with --tokens-file every route but /healthz, /readyz, /openapi.json,\n"+
			"the console's / and /ui/* (and /metrics, unless --metrics-auth) needs a bearer\n"+
			"token: scope read for GET,\n"+
			"write for commands, admin for rebuilds and webhooks. Without tokens serve refuses an address\n"+
			"other machines can reach, unless --insecure-no-auth.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if help, err := parse(fs, args, stdout); help || err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return &usageError{msg: err.Error()}
	}
	if *policy != stockPolicyReserve && *policy != stockPolicyTrack {
		return &usageError{msg: fmt.Sprintf("--stock-policy %q: want reserve or track", *policy)}
	}
	if *paymentTimeout < 0 {
		return &usageError{msg: fmt.Sprintf("--payment-timeout %s: want a duration ≥ 0 (0: off)", *paymentTimeout)}
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return &usageError{msg: fmt.Sprintf("--addr %q: want host:port (%v)", *addr, err)}
	}
	whOpts, err := wh.options()
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	if *otlpEndpoint != "" {
		if _, err := telemetry.TracesURL(*otlpEndpoint); err != nil {
			return &usageError{msg: "--otlp-endpoint: " + err.Error()}
		}
	}
	// Before anything is created: a refusal leaves nothing behind.
	tokens, err := accessControl(*addr, *tokensFile, *insecure)
	if err != nil {
		return err
	}
	logger := c.logger(stderr)
	switch {
	case tokens != nil:
		logger.Info("access control on", "tokens", tokens.Len(), "tokens_file", *tokensFile, "metrics_auth", *metricsAuth)
	case *insecure:
		logger.Warn("access control off (--insecure-no-auth): anyone who reaches the address may read, write and rebuild", "addr", *addr)
	default:
		logger.Info("access control off: listening on loopback only; give --tokens-file to serve other machines")
	}

	// Listen before opening the store: a bad or busy address must not
	// leave a new, empty data directory behind.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close() //nolint:errcheck // Serve closes it; a second Close only fails

	store, err := openStore(ctx, c, logger)
	if errors.Is(err, embedded.ErrLocked) {
		return fmt.Errorf("%w (another orderstore serve or rebuild has it open: stop it, or choose another --data)", err)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	if c.store == "embedded" {
		// A P for the handlers while the writer waits in fsync.
		defer embedded.AddSyncProc()()
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := readBuildInfo()
	registerBuildInfo(reg, build)
	registerStoreMetrics(reg, store)
	var tracers struct{ http, orders, projections trace.Tracer }
	if *otlpEndpoint != "" {
		spans, err := telemetry.Open(ctx, *otlpEndpoint, build.Version)
		if err != nil {
			return err
		}
		defer func() {
			// Last: the spans of everything that stops before.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			err = errors.Join(err, spans.Close(fctx))
		}()
		tracers.http, tracers.orders, tracers.projections = spans.Tracer("api"), spans.Tracer("orders"), spans.Tracer("projections")
		logger.Info("exporting spans over OTLP/HTTP", "endpoint", *otlpEndpoint)
	}
	storeMetrics := api.NewStoreMetrics(reg)
	svc := orders.New(store, orders.Options{Logger: logger.With("component", "orders"), OnAppend: storeMetrics.ObserveAppend,
		ReserveStock: *policy == stockPolicyReserve, Tracer: tracers.orders})
	mopts := modelOptions(c)
	mopts.Logger, mopts.Registerer, mopts.Tracer = logger, reg, tracers.projections
	models, err := projections.Open(c.data, store, mopts)
	if err != nil {
		return fmt.Errorf("open read models: %w", err)
	}
	defer func() { err = errors.Join(err, models.Close()) }()
	runCtx, stopProjections := context.WithCancel(context.WithoutCancel(ctx))
	projectionsDone := make(chan error, 1)
	go func() { projectionsDone <- models.Run(runCtx) }()
	defer func() {
		stopProjections()
		if perr := <-projectionsDone; perr != nil && !errors.Is(perr, context.Canceled) && !errors.Is(perr, projections.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("projections: %w", perr))
		}
	}()
	// The saga runs under either policy: under track it has no new orders
	// to reserve, and settles those placed under reserve before a switch.
	saga := fulfilment.New(store, fulfilment.Options{
		Logger: logger.With("component", "fulfilment"), PaymentTimeout: *paymentTimeout,
		CheckpointFile: filepath.Join(c.data, fulfilment.CheckpointFileName), Deadlines: models, Registerer: reg,
	})
	registerSagaGauges(reg, models)
	sagaDone := make(chan error, 1)
	go func() { sagaDone <- saga.Run(runCtx) }()
	defer func() {
		stopProjections()
		if serr := <-sagaDone; serr != nil && !errors.Is(serr, eventstore.ErrClosed) {
			err = errors.Join(err, serr)
		}
	}()
	logger.Info("fulfilment", "stock_policy", *policy, "payment_timeout", *paymentTimeout)
	apiStore := store
	if mopts.CorrelationIndex {
		apiStore = projections.CorrelatedStore(store, models, indexWait)
	}
	cfg := api.Config{
		Store: apiStore, Orders: svc, ReadModels: models, Logger: logger.With("component", "http"),
		Registerer: reg, Gatherer: reg, Tokens: tokens, MetricsAuth: *metricsAuth, Fulfilment: saga,
		Tracer: tracers.http,
	}
	if wh.enabled {
		whOpts.Logger, whOpts.Registerer = logger, reg
		var notifier *webhooks.Notifier
		notifier, err = webhooks.Open(c.data, store, whOpts)
		if errors.Is(err, webhooks.ErrLocked) {
			return fmt.Errorf("%w (another process delivers this data directory's webhooks: stop it, or run this one with --webhooks=false)", err)
		}
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, notifier.Close()) }()
		notifyCtx, stopNotifier := context.WithCancel(context.WithoutCancel(ctx))
		notifierDone := make(chan error, 1)
		go func() { notifierDone <- notifier.Run(notifyCtx) }()
		defer func() {
			stopNotifier()
			if nerr := <-notifierDone; nerr != nil && !errors.Is(nerr, context.Canceled) {
				err = errors.Join(err, fmt.Errorf("webhooks: %w", nerr))
			}
		}()
		cfg.Webhooks = notifier
		cfg.TraceSources = append(cfg.TraceSources, notifier) // delivery attempts in traces
	} else {
		logger.Info("webhooks off (--webhooks=false): another process must deliver them; /webhooks answers 503 here")
	}
	srv := api.New(cfg)

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", append(listenAttrs(*addr, ln.Addr()), "data", c.data, "store", storeName(c.store), "gomaxprocs", runtime.GOMAXPROCS(0))...)

	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// listenAttrs are the log attributes of the address serve listens on:
// addr, the URL of the address as configured (with the port the listener
// got, for port 0), and for a wildcard host, which Go reports as [::],
// url, a form a client on this machine can reach.
func listenAttrs(configured string, got net.Addr) []any {
	host, _, _ := net.SplitHostPort(configured) // validated
	_, port, err := net.SplitHostPort(got.String())
	if err != nil {
		return []any{"addr", "http://" + got.String()}
	}
	attrs := []any{"addr", "http://" + net.JoinHostPort(host, port)}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		attrs = append(attrs, "url", "http://"+net.JoinHostPort("127.0.0.1", port))
	}
	return attrs
}

// openStore opens the configured event store.
func openStore(ctx context.Context, c common, logger *slog.Logger) (eventstore.Store, error) {
	if c.store == "embedded" {
		s, err := embedded.Open(c.data, embedded.Options{Logger: logger.With("component", "eventstore")})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := kurrentdb.Open(ctx, c.store, kurrentdb.Options{
		Logger: logger.With("component", "eventstore"),
		// Only orderstore's streams: a shared cluster may hold other
		// applications' events, which the projections must not see.
		StreamPrefixes: []string{domain.OrderStreamPrefix, domain.StockStreamPrefix},
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// storeName hides a password in a connection string for logs.
func storeName(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
