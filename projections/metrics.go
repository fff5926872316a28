package projections

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsInterval is how often Run refreshes the gauges: lag grows with
// the head and the clock, not only when a projection commits.
const metricsInterval = time.Second

var allStates = []State{StateCatchingUp, StateLive, StateRebuilding, StateFailed}

// collector exposes the last Status snapshot to Prometheus.
type collector struct {
	position, lagEvents, lagSeconds, state, skipped *prometheus.Desc

	// refreshMu is held from taking a snapshot to storing it, so that
	// snapshots are stored in the order they were taken: without it, the
	// ticker's refresh could overwrite a newer one with an older one.
	refreshMu sync.Mutex
	mu        sync.Mutex
	last      []Status
}

func newCollector() *collector {
	label := []string{"projection"}
	return &collector{
		position:   prometheus.NewDesc("orderstore_projection_position", "Checkpoint: position in $all up to which the projection has applied events.", label, nil),
		lagEvents:  prometheus.NewDesc("orderstore_projection_lag_events", "Events of $all after the projection's checkpoint, counted up to 1000.", label, nil),
		lagSeconds: prometheus.NewDesc("orderstore_projection_lag_seconds", "Age of the oldest event the projection has not applied yet.", label, nil),
		state:      prometheus.NewDesc("orderstore_projection_state", "1 for the projection's current state, 0 for the others.", []string{"projection", "state"}, nil),
		skipped:    prometheus.NewDesc("orderstore_projection_skipped_events_total", "Events of unknown types skipped since the read model was built.", label, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.position, c.lagEvents, c.lagSeconds, c.state, c.skipped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.last {
		ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(s.Position), s.Name)
		ch <- prometheus.MustNewConstMetric(c.lagEvents, prometheus.GaugeValue, float64(s.Lag), s.Name)
		ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, s.LagSeconds, s.Name)
		ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(s.SkippedEvents), s.Name)
		for _, st := range allStates {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, s.Name, string(st))
		}
	}
}

// runMetrics refreshes the collector's snapshot until ctx ends.
func (m *Manager) runMetrics(ctx context.Context) {
	t := time.NewTicker(metricsInterval)
	defer t.Stop()
	for {
		m.refreshMetrics(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// refreshMetrics takes a new Status snapshot for the collector.
func (m *Manager) refreshMetrics(ctx context.Context) {
	m.metrics.refreshMu.Lock()
	defer m.metrics.refreshMu.Unlock()
	st, err := m.Status(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.logger.Debug("projection metrics not refreshed", logErr, err)
		}
		return
	}
	m.metrics.mu.Lock()
	m.metrics.last = st
	m.metrics.mu.Unlock()
}
