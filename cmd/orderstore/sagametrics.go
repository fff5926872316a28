package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderstore/orderstore/projections"
	"github.com/orderstore/orderstore/projections/sagas"
)

// sagaQueryTimeout bounds the read-model query behind the saga gauges.
const sagaQueryTimeout = 2 * time.Second

// sagaCollector exposes the fulfilment read model's counts by state and
// the age of the oldest pending saga, queried at each scrape.
type sagaCollector struct {
	models *projections.Manager
	states *prometheus.Desc
	oldest *prometheus.Desc
}

func registerSagaGauges(reg prometheus.Registerer, models *projections.Manager) {
	reg.MustRegister(&sagaCollector{
		models: models,
		states: prometheus.NewDesc("orderstore_fulfilment_sagas", "Fulfilment sagas by state, from the fulfilment read model.", []string{"state"}, nil),
		oldest: prometheus.NewDesc("orderstore_fulfilment_oldest_pending_seconds",
			"Age of the oldest saga still reserving or compensating (since its order was placed), 0 if none.", nil, nil),
	})
}

// Describe implements prometheus.Collector.
func (c *sagaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.states
	ch <- c.oldest
}

// Collect implements prometheus.Collector. A failed query exposes nothing
// (the projection's own metrics tell why).
func (c *sagaCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), sagaQueryTimeout)
	defer cancel()
	sum, err := c.models.SagaSummary(ctx)
	if err != nil {
		return
	}
	for _, st := range sagas.States {
		ch <- prometheus.MustNewConstMetric(c.states, prometheus.GaugeValue, float64(sum.ByState[st]), st)
	}
	age := 0.0
	if !sum.OldestPending.IsZero() {
		age = max(time.Since(sum.OldestPending).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
