package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderstore_http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orderstore_http_request_duration_seconds",
			Help:    "HTTP request latency by route template, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(route, method, code).Inc()
	m.duration.WithLabelValues(route, method, code).Observe(d.Seconds())
}

func (s *Server) metricsHandler() http.Handler {
	if s.cfg.Gatherer == nil {
		return promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})
	}
	return promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
}

// StoreMetrics are the event-store metrics the orders service feeds.
type StoreMetrics struct {
	appendDuration prometheus.Histogram
	events         prometheus.Counter
}

// NewStoreMetrics registers the append metrics on reg (nil: unregistered).
func NewStoreMetrics(reg prometheus.Registerer) *StoreMetrics {
	m := &StoreMetrics{
		appendDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderstore_append_duration_seconds",
			Help:    "Latency of durable appends to the event store.",
			Buckets: []float64{.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orderstore_events_appended_total",
			Help: "Events appended to the event store by this process.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.appendDuration, m.events)
	}
	return m
}

// ObserveAppend records one append; pass it as orders.Options.OnAppend.
func (m *StoreMetrics) ObserveAppend(d time.Duration, events int) {
	m.appendDuration.Observe(d.Seconds())
	m.events.Add(float64(events))
}
