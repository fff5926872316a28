package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// benchReport is the final report; --json prints it as is.
type benchReport struct {
	URL       string `json:"url"`
	Clients   int    `json:"clients"`
	Mix       string `json:"mix"`
	KeepAlive bool   `json:"keepalive"`
	Seed      uint64 `json:"seed"`
	// Interrupted is true when SIGINT/SIGTERM ended the load early.
	Interrupted bool `json:"interrupted"`
	// Aborted says why the bench ended the load early itself: a run of
	// requests that got no answer at all (the service died).
	Aborted        string  `json:"aborted,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Requests       int64   `json:"requests"`
	// Throughput is Requests per second of load.
	Throughput       float64 `json:"throughput"`
	UnexpectedErrors int64   `json:"unexpected_errors"`
	// FallbackPlaces counts operations that found no suitable order and
	// placed one instead; they are counted as place.
	FallbackPlaces int64             `json:"fallback_places"`
	Operations     []opReport        `json:"operations"`
	Errors         []errorReport     `json:"errors"`
	Projections    projectionsReport `json:"projections"`
}

type opReport struct {
	Op        string        `json:"op"`
	Count     int64         `json:"count"`
	Rate      float64       `json:"rate"`
	Errors    int64         `json:"errors"`
	LatencyMS latencyReport `json:"latency_ms"`
}

type latencyReport struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

type errorReport struct {
	Op string `json:"op"`
	// Status is the HTTP status; 0 for a transport error.
	Status int    `json:"status"`
	Code   string `json:"code"`
	Count  int64  `json:"count"`
	// Detail and CorrelationID are those of the first occurrence.
	Detail        string `json:"detail"`
	CorrelationID string `json:"correlation_id"`
}

type projectionsReport struct {
	// StartHead is the head of the global log before the load.
	StartHead uint64 `json:"start_head"`
	// AtEnd is GET /projections right after the load stopped.
	AtEnd []projectionStatus `json:"at_end"`
	// Target is the head when the load stopped.
	Target   uint64 `json:"target_position"`
	CaughtUp bool   `json:"caught_up"`
	// CatchUpSeconds is the time from the end of the load until every
	// projection had reached Target.
	CatchUpSeconds float64            `json:"catch_up_seconds"`
	Final          []projectionStatus `json:"final"`
}

func (b *benchRun) abortReason() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.aborted
}

func (b *benchRun) report(interrupted bool) benchReport {
	elapsed := b.loadEnd.Sub(b.start).Seconds()
	rep := benchReport{
		URL: b.cfg.base, Clients: b.cfg.clients, Mix: b.cfg.mixText, KeepAlive: b.cfg.keepalive, Seed: b.cfg.seed,
		Interrupted: interrupted, Aborted: b.abortReason(), ElapsedSeconds: elapsed, Requests: b.done.Load(),
		UnexpectedErrors: b.unexpected.Load(), FallbackPlaces: b.fallbacks.Load(),
		Operations: []opReport{}, Errors: []errorReport{},
	}
	rate := func(n int64) float64 {
		if elapsed <= 0 {
			return 0
		}
		return float64(n) / elapsed
	}
	rep.Throughput = rate(rep.Requests)
	for _, o := range allOps() {
		s := &b.ops[o]
		n := s.count.Load()
		if n == 0 && b.cfg.mix[o] == 0 {
			continue
		}
		h := s.latency.snapshot()
		ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
		rep.Operations = append(rep.Operations, opReport{Op: o.String(), Count: n, Rate: rate(n), Errors: s.errors.Load(),
			LatencyMS: latencyReport{P50: ms(h.quantile(0.50)), P95: ms(h.quantile(0.95)), P99: ms(h.quantile(0.99)),
				P999: ms(h.quantile(0.999)), Max: ms(h.max)}})
	}
	b.mu.Lock()
	for k, a := range b.errs {
		rep.Errors = append(rep.Errors, errorReport{Op: k.op.String(), Status: k.status, Code: k.code, Count: a.count,
			Detail: a.detail, CorrelationID: a.correlationID})
	}
	b.mu.Unlock()
	slices.SortFunc(rep.Errors, func(x, y errorReport) int {
		if x.Count != y.Count {
			return int(y.Count - x.Count)
		}
		return strings.Compare(x.Op+x.Code, y.Op+y.Code)
	})
	return rep
}

func (r *benchReport) writeText(w io.Writer) {
	mode := "keep-alive"
	if !r.KeepAlive {
		mode = "no keep-alive"
	}
	fmt.Fprintf(w, "orderstore bench %s: %d clients, %s, seed %d, mix %s\n", r.URL, r.Clients, mode, r.Seed, r.Mix)
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted: the figures cover the load until the signal")
	}
	if r.Aborted != "" {
		fmt.Fprintf(w, "ABORTED: %s\n", r.Aborted)
	}
	fmt.Fprintf(w, "%d requests in %.2f s: %.1f req/s, %d unexpected errors, %d fallbacks to place\n\n",
		r.Requests, r.ElapsedSeconds, r.Throughput, r.UnexpectedErrors, r.FallbackPlaces)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation     \tcount\treq/s\tp50 ms\tp95 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\t")
	for _, o := range r.Operations {
		l := o.LatencyMS
		fmt.Fprintf(tw, "%-14s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n", o.Op, o.Count, o.Rate, l.P50, l.P95, l.P99, l.P999, l.Max, o.Errors)
	}
	_ = tw.Flush() //nolint:errcheck // a report on stdout

	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "\nerrors (first detail and correlation ID of each):")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  %-14s %3d %-24s %6d  %s [%s]\n", e.Op, e.Status, e.Code, e.Count, e.Detail, e.CorrelationID)
		}
	}
	p := r.Projections
	if len(p.AtEnd) == 0 {
		return
	}
	fmt.Fprintln(w, "\nprojections when the load stopped:")
	for _, s := range p.AtEnd {
		fmt.Fprintf(w, "  %-10s position %d  head %d  lag %d  %s\n", s.Name, s.Position, s.Head, s.Lag, s.State)
	}
	if p.CaughtUp {
		fmt.Fprintf(w, "all caught up with position %d %s after the load stopped (%d events since the start)\n",
			p.Target, time.Duration(p.CatchUpSeconds*float64(time.Second)).Round(time.Microsecond), p.Target-min(p.Target, p.StartHead))
		return
	}
	fmt.Fprintf(w, "NOT caught up with position %d:\n", p.Target)
	for _, s := range p.Final {
		fmt.Fprintf(w, "  %-10s position %d  lag %d  %s %s\n", s.Name, s.Position, s.Lag, s.State, s.LastError)
	}
}
