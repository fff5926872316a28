package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/orderstore/orderstore/projections"
)

// common holds the flags every command shares.
type common struct {
	data      string
	store     string
	logFormat string
	logLevel  string
}

// register defines the shared flags with their environment fallbacks.
func (c *common) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.data, "data", envOr(getenv, "ORDERSTORE_DATA", "./data"),
		"data directory: the embedded event store and the read models (env ORDERSTORE_DATA)")
	fs.StringVar(&c.store, "store", envOr(getenv, "ORDERSTORE_STORE", "embedded"),
		"event store: \"embedded\" (in --data) or a KurrentDB connection string,\n"+
			"esdb://host:2113?tls=false or esdb+discover://host:2113 (env ORDERSTORE_STORE)")
	fs.StringVar(&c.logFormat, "log-format", envOr(getenv, "ORDERSTORE_LOG_FORMAT", "text"), "log format: text or json (env ORDERSTORE_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", envOr(getenv, "ORDERSTORE_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env ORDERSTORE_LOG_LEVEL)")
}

func (c *common) validate() error {
	if c.data == "" {
		return errors.New("--data must not be empty")
	}
	if c.store != "embedded" && !strings.HasPrefix(c.store, "esdb://") && !strings.HasPrefix(c.store, "esdb+discover://") {
		return fmt.Errorf("--store %q: want \"embedded\", esdb://… or esdb+discover://…", c.store)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.logFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	return nil
}

// indexWait bounds how long a read by correlation ID waits for the
// correlations projection to reach the store's head (KurrentDB), as
// ?min_position waits for a read model.
const indexWait = 5 * time.Second

// modelOptions returns the projections a store needs: with KurrentDB, the
// correlation index as well, which the embedded store has in its own file.
func modelOptions(c common) projections.Options {
	return projections.Options{CorrelationIndex: c.store != "embedded"}
}

func (c *common) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.logLevel)) //nolint:errcheck // validated
	opts := &slog.HandlerOptions{Level: lvl}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Stock policies of serve --stock-policy.
const (
	stockPolicyReserve = "reserve"
	stockPolicyTrack   = "track"
)

// envDuration returns the duration in the environment variable key, def
// if it is unset or does not parse (the flag's own parsing then reports
// nothing: the variable is a default, as for the other flags).
func envDuration(getenv func(string) string, key string, def time.Duration) time.Duration {
	if v := getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// parse parses args, turning flag errors into usage errors and --help into
// a clean exit. The usage goes to stdout when asked for (like the top
// level's), to the flag set's output (stderr) after a mistake.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (help bool, err error) {
	usage := fs.Usage
	if usage == nil {
		usage = func() {
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
	}
	fs.Usage = func() {} // shown below, where it belongs
	err = fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		out := fs.Output()
		fs.SetOutput(stdout)
		usage()
		fs.SetOutput(out)
		return true, nil
	}
	if err != nil {
		// The flag package has printed the error; the usage follows.
		usage()
		return false, &usageError{}
	}
	if fs.NArg() > 0 {
		return false, &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return false, nil
}
