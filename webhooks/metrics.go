package webhooks

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the notifier's Prometheus metrics. Endpoints are labelled by
// ID, never by URL (a URL may carry a receiver's token).
type metrics struct {
	deliveries *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	latency    prometheus.Histogram
	backlog    *backlogCollector
}

func newMetrics(reg prometheus.Registerer, now func() time.Time) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orderstore_webhook_deliveries_total",
			Help: "Outcomes of delivery attempts: delivered, failed (to be retried), dead (dead-lettered), gone (410: endpoint disabled)."},
			[]string{"result"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orderstore_webhook_attempts_total",
			Help: "Delivery attempts by answer: the status class (2xx, 3xx, 4xx, 5xx) or error (no answer)."},
			[]string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "orderstore_webhook_receiver_seconds",
			Help:    "Time from sending a delivery to the receiver's answer (or the attempt's failure).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		backlog: &backlogCollector{now: now, endpoints: map[string]*backlog{},
			pending: prometheus.NewDesc("orderstore_webhook_pending_deliveries",
				"Deliveries taken from the log for the endpoint and not yet delivered or dead (at most the window).", []string{"endpoint"}, nil),
			lag: prometheus.NewDesc("orderstore_webhook_lag_seconds",
				"Age of the oldest event taken for the endpoint and not yet delivered or dead; 0 when none.", []string{"endpoint"}, nil),
		},
	}
	for _, r := range []string{"delivered", "failed", "dead", "gone"} {
		m.deliveries.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.attempts, m.latency, m.backlog)
	}
	return m
}

func (m *metrics) observeAttempt(r result) {
	m.latency.Observe(r.duration.Seconds())
	outcome := "error"
	if r.status > 0 {
		outcome = strconv.Itoa(r.status/100) + "xx"
	}
	m.attempts.WithLabelValues(outcome).Inc()
}

// observeLag records an endpoint's window: its size and its oldest
// event's time (the lag grows with the clock, so it is computed when
// scraped).
func (m *metrics) observeLag(endpoint string, pending []*item) {
	var oldest int64
	for _, it := range pending {
		if t := it.recordedAt.UnixMilli(); oldest == 0 || t < oldest {
			oldest = t
		}
	}
	b := m.backlog.of(endpoint)
	b.pending.Store(int64(len(pending)))
	b.oldest.Store(oldest)
}

func (m *metrics) forget(endpoint string) {
	m.backlog.mu.Lock()
	defer m.backlog.mu.Unlock()
	delete(m.backlog.endpoints, endpoint)
}

// backlog is one endpoint's window as last observed.
type backlog struct {
	pending atomic.Int64
	oldest  atomic.Int64 // Unix ms of the oldest event, 0 if none
}

// backlogCollector exposes each endpoint's window to Prometheus.
type backlogCollector struct {
	pending, lag *prometheus.Desc
	now          func() time.Time

	mu        sync.Mutex
	endpoints map[string]*backlog
}

func (c *backlogCollector) of(endpoint string) *backlog {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.endpoints[endpoint]
	if b == nil {
		b = &backlog{}
		c.endpoints[endpoint] = b
	}
	return b
}

// Describe implements prometheus.Collector.
func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.lag
}

// Collect implements prometheus.Collector.
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for id, b := range c.endpoints {
		lag := 0.0
		if t := b.oldest.Load(); t != 0 {
			lag = max(0, now.Sub(time.UnixMilli(t)).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(b.pending.Load()), id)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag, id)
	}
}
