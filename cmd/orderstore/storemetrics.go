package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
)

// storeCollector exposes the embedded store's writer counters, read at
// each scrape: how many commits (one fsync each) carried how many appends
// and events, and where the single writer's time went.
type storeCollector struct {
	stats                            *embedded.Stats
	commits, appends, events, writer *prometheus.Desc
}

// registerStoreMetrics registers the writer's metrics when store is the
// embedded store; KurrentDB's own server exports its metrics.
func registerStoreMetrics(reg prometheus.Registerer, store eventstore.Store) {
	s, ok := store.(*embedded.Store)
	if !ok {
		return
	}
	reg.MustRegister(&storeCollector{
		stats:   s.Stats(),
		commits: prometheus.NewDesc("orderstore_store_commits_total", "Transactions the embedded store's writer committed, one fsync each.", nil, nil),
		appends: prometheus.NewDesc("orderstore_store_appends_committed_total", "Appends the embedded store's writer committed.", nil, nil),
		events:  prometheus.NewDesc("orderstore_store_events_written_total", "Events the embedded store's writer committed.", nil, nil),
		writer: prometheus.NewDesc("orderstore_store_writer_seconds_total",
			"Time the embedded store's single writer spent, by phase: hold (a commit waiting for announced appends, which are applied meanwhile), apply (version checks and inserts), commit (the log's frames and fsync). Apply plus commit growing as fast as the clock means the writer is saturated.",
			[]string{"phase"}, nil),
	})
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.commits
	ch <- c.appends
	ch <- c.events
	ch <- c.writer
}

// Collect implements prometheus.Collector.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats
	ch <- prometheus.MustNewConstMetric(c.commits, prometheus.CounterValue, float64(st.Commits.Load()))
	ch <- prometheus.MustNewConstMetric(c.appends, prometheus.CounterValue, float64(st.Appends.Load()))
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(st.Events.Load()))
	for _, p := range []struct {
		phase string
		nanos uint64
	}{{"hold", st.HoldNanos.Load()}, {"apply", st.ApplyNanos.Load()}, {"commit", st.CommitNanos.Load()}} {
		ch <- prometheus.MustNewConstMetric(c.writer, prometheus.CounterValue, float64(p.nanos)/1e9, p.phase)
	}
}
