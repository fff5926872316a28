package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/orderstore/orderstore/webhooks"
)

// webhookFlags are serve's flags of the webhook notifier (DESIGN §9).
type webhookFlags struct {
	enabled      bool
	schedule     string
	timeout      time.Duration
	allowPrivate bool
	keyFile      string
	key          string // base64, from the environment only
}

func (w *webhookFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	enabled := true
	if v := getenv("ORDERSTORE_WEBHOOKS"); v != "" {
		if b, err := strconv.ParseBool(v); err == nil {
			enabled = b
		}
	}
	fs.BoolVar(&w.enabled, "webhooks", enabled,
		"deliver webhooks and serve the /webhooks routes in this process; false on the\n"+
			"replicas where another process delivers: there must be exactly one deliverer\n"+
			"(env ORDERSTORE_WEBHOOKS)")
	fs.StringVar(&w.schedule, "webhook-retry-schedule", envOr(getenv, "ORDERSTORE_WEBHOOK_RETRY_SCHEDULE", formatSchedule(webhooks.DefaultRetrySchedule)),
		"comma-separated delays before each delivery attempt; after the last, the delivery\n"+
			"is dead-lettered (env ORDERSTORE_WEBHOOK_RETRY_SCHEDULE)")
	timeout := webhooks.DefaultTimeout
	if d, err := time.ParseDuration(getenv("ORDERSTORE_WEBHOOK_TIMEOUT")); err == nil {
		timeout = d
	}
	fs.DurationVar(&w.timeout, "webhook-timeout", timeout, "bound on one delivery attempt (env ORDERSTORE_WEBHOOK_TIMEOUT)")
	fs.BoolVar(&w.allowPrivate, "webhook-allow-private", false,
		"allow webhook targets on loopback, private and link-local addresses (tests, closed\n"+
			"networks; no environment fallback, on purpose)")
	fs.StringVar(&w.keyFile, "webhook-key-file", getenv("ORDERSTORE_WEBHOOK_KEY_FILE"),
		"`file` holding the key (base64 of 32 bytes) that seals webhook secrets at rest\n"+
			"(env ORDERSTORE_WEBHOOK_KEY_FILE; or the key itself in ORDERSTORE_WEBHOOK_KEY).\n"+
			"Default: webhooks.key in --data, created with mode 0600")
	w.key = getenv("ORDERSTORE_WEBHOOK_KEY")
}

// options validates the flags into the notifier's options.
func (w *webhookFlags) options() (webhooks.Options, error) {
	var opts webhooks.Options
	schedule, err := parseSchedule(w.schedule)
	if err != nil {
		return opts, err
	}
	if w.timeout <= 0 {
		return opts, fmt.Errorf("--webhook-timeout %s: want a positive duration", w.timeout)
	}
	opts.RetrySchedule, opts.Timeout, opts.AllowPrivate, opts.KeyFile = schedule, w.timeout, w.allowPrivate, w.keyFile
	if w.key != "" {
		if w.keyFile != "" {
			return opts, fmt.Errorf("ORDERSTORE_WEBHOOK_KEY and --webhook-key-file both give the key: give one")
		}
		if opts.Key, err = webhooks.ParseKey([]byte(w.key)); err != nil {
			return opts, fmt.Errorf("ORDERSTORE_WEBHOOK_KEY: %w", err)
		}
	}
	return opts, nil
}

// maxAttempts bounds the retry schedule's length.
const maxAttempts = 50

func parseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("--webhook-retry-schedule %q: %q is not a duration ≥ 0 (e.g. 0s,5s,5m,30m,2h)", s, part)
		}
		out = append(out, d)
	}
	if len(out) > maxAttempts {
		return nil, fmt.Errorf("--webhook-retry-schedule: %d attempts, at most %d", len(out), maxAttempts)
	}
	return out, nil
}

func formatSchedule(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		switch {
		case d == 0:
			parts[i] = "0s"
		case d%time.Hour == 0:
			parts[i] = strconv.FormatInt(int64(d/time.Hour), 10) + "h"
		case d%time.Minute == 0:
			parts[i] = strconv.FormatInt(int64(d/time.Minute), 10) + "m"
		default:
			parts[i] = d.String()
		}
	}
	return strings.Join(parts, ",")
}
