package webhooks

import (
	"net/http"
	"testing"
	"time"
)

// TestOutcomes checks what an attempt's answer does to its delivery, on a
// fixed clock: the schedule's delay (with at most ±10% jitter) before the
// next attempt, Retry-After when longer, dead after the schedule's last
// attempt or a retry by hand, 410 disabling the endpoint.
func TestOutcomes(t *testing.T) {
	schedule := []time.Duration{0, time.Minute, time.Hour, 10 * time.Hour}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		tries      int
		manual     bool
		status     int
		retryAfter time.Duration
		want       DeliveryState
		delay      time.Duration // before the next attempt, ±10%
		gone       bool
	}{
		{name: "2xx", status: 204, want: DeliveryDelivered},
		{name: "first failure", status: 500, want: DeliveryFailed, delay: time.Minute},
		{name: "second failure", tries: 1, status: 502, want: DeliveryFailed, delay: time.Hour},
		{name: "no answer", tries: 2, status: 0, want: DeliveryFailed, delay: 10 * time.Hour},
		{name: "last attempt", tries: 3, status: 500, want: DeliveryDead},
		{name: "redirect is a failure", status: 307, want: DeliveryFailed, delay: time.Minute},
		{name: "retry by hand fails", tries: 4, manual: true, status: 500, want: DeliveryDead},
		{name: "retry by hand delivers", tries: 4, manual: true, status: 200, want: DeliveryDelivered},
		{name: "Retry-After longer", status: 503, retryAfter: 2 * time.Hour, want: DeliveryFailed, delay: 2 * time.Hour},
		{name: "Retry-After shorter", tries: 1, status: 429, retryAfter: time.Second, want: DeliveryFailed, delay: time.Hour},
		{name: "gone", tries: 1, status: http.StatusGone, want: DeliveryFailed, gone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &worker{n: &Notifier{schedule: schedule}, index: map[uint64]*item{
				7: {position: 7, tries: tc.tries, manual: tc.manual},
			}}
			outs := w.outcomes([]result{{position: 7, at: at, status: tc.status, retryAfter: tc.retryAfter}})
			if len(outs) != 1 {
				t.Fatalf("%d outcomes", len(outs))
			}
			o := outs[0]
			if o.state != tc.want || o.gone != tc.gone || o.tries != tc.tries+1 {
				t.Fatalf("outcome %+v, want state %s, gone %v, tries %d", o, tc.want, tc.gone, tc.tries+1)
			}
			if tc.want == DeliveryFailed && !tc.gone {
				d := o.nextAt.Sub(at)
				lo, hi := tc.delay-tc.delay/10, tc.delay+tc.delay/10
				if tc.retryAfter > 0 && tc.retryAfter >= tc.delay {
					lo = tc.retryAfter
				}
				if d < lo || d > hi {
					t.Errorf("next attempt after %v, want %v..%v", d, lo, hi)
				}
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"-5":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
		"999999999":                     maxRetryAfter,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
