package webhooks

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the notifier's Prometheus metrics. Endpoints are labelled by
// ID, never by URL (a URL may carry a receiver's token).
type metrics struct {
	deliveries *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	latency    prometheus.Histogram
	pending    *prometheus.GaugeVec
	lagSeconds *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
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
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "orderstore_webhook_pending_deliveries",
			Help: "Deliveries taken from the log and not yet delivered or dead, per endpoint (bounded by the window)."},
			[]string{"endpoint"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "orderstore_webhook_lag_seconds",
			Help: "Age of the oldest event taken for an endpoint and not yet delivered or dead."},
			[]string{"endpoint"}),
	}
	for _, r := range []string{"delivered", "failed", "dead", "gone"} {
		m.deliveries.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.attempts, m.latency, m.pending, m.lagSeconds)
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

func (m *metrics) observeLag(endpoint string, pending []*item, now time.Time) {
	m.pending.WithLabelValues(endpoint).Set(float64(len(pending)))
	lag := 0.0
	if len(pending) > 0 {
		lag = max(0, now.Sub(pending[0].recordedAt).Seconds())
	}
	m.lagSeconds.WithLabelValues(endpoint).Set(lag)
}

func (m *metrics) forget(endpoint string) {
	m.pending.DeleteLabelValues(endpoint)
	m.lagSeconds.DeleteLabelValues(endpoint)
}
