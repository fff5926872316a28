package webhooks

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestMetrics: deliveries, dead letters, attempts and the per-endpoint
// backlog show in Prometheus, labelled by endpoint ID, never by URL.
func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	reg := prometheus.NewRegistry()
	opts := fastOptions()
	opts.Registerer = reg
	n := openNotifier(t, dir, store, opts)
	ok := newReceiver(t, nil)
	bad := newReceiver(t, func(received, int) (int, http.Header) { return http.StatusBadGateway, nil })
	good, err := n.Create(t.Context(), NewEndpoint{URL: ok.srv.URL + "/?token=SECRETTOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	dead, err := n.Create(t.Context(), NewEndpoint{URL: bad.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	run(t, n)
	appendEvents(t, store, "a", 2)
	// Both events of the order end dead for the failing receiver (the
	// first dead does not hold the second): waiting for exactly one
	// could miss the moment.
	waitFor(t, "deliveries and dead letters", nil, func() bool {
		return len(deliveriesOf(t, n, good.ID, DeliveryDelivered)) == 2 && len(deliveriesOf(t, n, dead.ID, DeliveryDead)) == 2
	})
	waitFor(t, "the metrics", nil, func() bool {
		text := gather(t, reg)
		return strings.Contains(text, `orderstore_webhook_deliveries_total{result="delivered"} 2`) &&
			strings.Contains(text, `orderstore_webhook_deliveries_total{result="dead"} 2`)
	})
	text := gather(t, reg)
	for _, want := range []string{
		`orderstore_webhook_attempts_total{outcome="2xx"} 2`,
		`orderstore_webhook_attempts_total{outcome="5xx"}`,
		`orderstore_webhook_pending_deliveries{endpoint="` + good.ID + `"} 0`,
		`orderstore_webhook_lag_seconds{endpoint="` + dead.ID + `"}`,
		`orderstore_webhook_receiver_seconds_count`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "SECRETTOKEN") || strings.Contains(text, "whsec_") {
		t.Error("metrics show a URL or a secret")
	}
}

func gather(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
