package fulfilment

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the saga's own counters; the sagas by state and the age of
// the oldest pending one come from the fulfilment read model (see
// projections).
type metrics struct {
	compensations, deadlines, failures, storeErrors prometheus.Counter
}

func newMetrics(s *Saga, reg prometheus.Registerer) *metrics {
	m := &metrics{
		compensations: prometheus.NewCounter(prometheus.CounterOpts{Name: "orderstore_fulfilment_compensations_total",
			Help: "Orders this process rejected after releasing their reservations (a line could not be reserved)."}),
		deadlines: prometheus.NewCounter(prometheus.CounterOpts{Name: "orderstore_fulfilment_deadline_firings_total",
			Help: "Orders this process cancelled because their payment deadline passed."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "orderstore_fulfilment_failures_total",
			Help: "Saga steps that ended in an error particular to their order."}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "orderstore_fulfilment_store_errors_total",
			Help: "Times the saga stopped on a store error and retried its batch."}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.compensations, m.deadlines, m.failures, m.storeErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "orderstore_fulfilment_failed_sagas",
			Help: "Orders whose last saga step failed and has not succeeded since."}, func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return float64(len(s.failures))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "orderstore_fulfilment_pending_deadlines",
			Help: "Payment deadlines this process is waiting for."}, func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return float64(len(s.deadlines))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "orderstore_fulfilment_next_deadline_seconds",
			Help: "Seconds until the earliest payment deadline this process knows (negative: overdue), 0 if none."}, func() float64 {
			next, ok := s.nextDeadline()
			if !ok {
				return 0
			}
			return next.Sub(s.now()).Round(time.Millisecond).Seconds()
		}),
	)
	return m
}
