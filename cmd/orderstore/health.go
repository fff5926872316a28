package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// health asks a running service whether it is ready: exit 0 if GET /readyz
// answers 200, else 1. Images without a shell use it as their health check.
func health(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("orderstore health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(getenv, "ORDERSTORE_ADDR", "127.0.0.1:8080"), "address of the running service (env ORDERSTORE_ADDR)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: orderstore health [flags]\n\nExits 0 if the service at --addr is ready (GET /readyz answers 200).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if help, err := parse(fs, args, stdout); help || err != nil {
		return err
	}
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(*addr, "http://"), "https://"), "/")
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/readyz", nil)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("--addr %q: %v", *addr, err)}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer res.Body.Close() //nolint:errcheck // read-only
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: GET /readyz answered %s", res.Status)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}
