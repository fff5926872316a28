package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded/embeddedtest"
)

// testKey seals the tests' secrets.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// opener, openEmbedded, openSparse and eachStore are embeddedtest's: the
// embedded store as itself and through storetest.Sparse.
type opener = embeddedtest.Opener

func openEmbedded(tb testing.TB, dir string) eventstore.Store {
	tb.Helper()
	return embeddedtest.Open(tb, dir)
}

func openSparse(tb testing.TB, dir string) eventstore.Store {
	tb.Helper()
	return embeddedtest.OpenSparse(tb, dir)
}

func eachStore(t *testing.T, test func(t *testing.T, open opener)) {
	t.Helper()
	embeddedtest.Each(t, test)
}

// fastOptions are options for tests: loopback receivers allowed, a
// millisecond retry schedule.
func fastOptions() Options {
	return Options{Key: testKey, AllowPrivate: true, Timeout: 5 * time.Second,
		RetrySchedule: []time.Duration{0, time.Millisecond, 2 * time.Millisecond}}
}

func openNotifier(tb testing.TB, dir string, store eventstore.Store, opts Options) *Notifier {
	tb.Helper()
	n, err := Open(dir, store, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Error(err)
		}
	})
	return n
}

// run runs n until the returned stop is called (or the test ends).
func run(tb testing.TB, n *Notifier) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				tb.Errorf("Run: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// appendEvents appends k events to order-<id>, each an OrderLineAdded
// whose sku tells its place, and returns the last position.
func appendEvents(tb testing.TB, store eventstore.Store, id string, k int) uint64 {
	tb.Helper()
	var last uint64
	for i := range k {
		res, err := store.Append(tb.Context(), "order-"+id, eventstore.Any, eventstore.EventData{
			ID: uuid.New(), Type: "OrderLineAdded",
			Data:     json.RawMessage(fmt.Sprintf(`{"sku":"s-%d","quantity":1,"unit_price":100}`, i)),
			Metadata: json.RawMessage(`{"correlation_id":"c","causation_id":"c","schema":1}`),
		})
		if err != nil {
			tb.Fatal(err)
		}
		last = res.Position
	}
	return last
}

// received is one delivery as a receiver got it.
type received struct {
	ID, Timestamp string
	Signatures    []string
	Stream        string
	Version       int64
	Position      uint64
	Type          string
	EventID       string
	At            time.Time
}

// receiver is a webhook receiver written from the spec, independent of
// the package's signing code: it checks the headers and each signature
// (HMAC-SHA256 of id.timestamp.body under the base64-decoded part of a
// whsec_ secret), records what it got, and answers what respond says.
type receiver struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	secrets  []string // accepted secrets; a delivery must verify with each in need
	need     []string // secrets every delivery must be signed with
	got      []received
	respond  func(r received, n int) (status int, header http.Header)
	signal   chan struct{}
	verified int
	now      func() time.Time // the clock timestamps are checked against
}

func newReceiver(t testing.TB, respond func(r received, n int) (int, http.Header)) *receiver {
	t.Helper()
	rc := &receiver{t: t, respond: respond, signal: make(chan struct{}, 1), now: time.Now}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// expect makes every later delivery carry a valid signature of secret.
func (rc *receiver) expect(secrets ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.need = secrets
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	x := received{ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
		Signatures: strings.Fields(r.Header.Get("webhook-signature")), At: time.Now()}
	var ev struct {
		ID       string `json:"id"`
		Stream   string `json:"stream"`
		Version  int64  `json:"version"`
		Position uint64 `json:"position"`
		Type     string `json:"type"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.t.Errorf("receiver: body is not an event: %v: %s", err, body)
	}
	x.Stream, x.Version, x.Position, x.Type, x.EventID = ev.Stream, ev.Version, ev.Position, ev.Type, ev.ID
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("receiver: %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(x.ID, "msg_") {
		rc.t.Errorf("receiver: webhook-id %q", x.ID)
	}
	ts, err := strconv.ParseInt(x.Timestamp, 10, 64)
	if err != nil || rc.now().Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		rc.t.Errorf("receiver: webhook-timestamp %q is not now in Unix seconds", x.Timestamp)
	}
	rc.mu.Lock()
	for _, secret := range rc.need {
		if !verifies(secret, x.ID, x.Timestamp, body, x.Signatures) {
			rc.t.Errorf("receiver: delivery %s: no signature of %d verifies with the expected secret", x.ID, len(x.Signatures))
		} else {
			rc.verified++
		}
	}
	rc.got = append(rc.got, x)
	k := len(rc.got)
	respond := rc.respond
	rc.mu.Unlock()
	select {
	case rc.signal <- struct{}{}:
	default:
	}
	status, header := http.StatusNoContent, http.Header(nil)
	if respond != nil {
		status, header = respond(x, k)
	}
	for name, v := range header {
		w.Header()[name] = v
	}
	w.WriteHeader(status)
}

// verifies checks signatures against secret as the spec says, with the
// test's own HMAC.
func verifies(secret, id, ts string, body []byte, signatures []string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") || len(key) < 24 {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range signatures {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

func (rc *receiver) deliveries() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor waits until cond holds, checking it at each delivery and every
// few milliseconds (for states that change without one), for up to 20 s.
func waitFor(tb testing.TB, what string, signal <-chan struct{}, cond func() bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			tb.Fatalf("timed out waiting for %s", what)
		case <-signal:
		case <-tick.C:
		}
	}
}

// unique returns the deliveries by webhook-id, first arrival each.
func unique(got []received) map[string]received {
	out := map[string]received{}
	for _, r := range got {
		if _, ok := out[r.ID]; !ok {
			out[r.ID] = r
		}
	}
	return out
}

// checkOrder checks that each stream's first arrivals came in version
// order without gaps from its first version.
func checkOrder(tb testing.TB, got []received) {
	tb.Helper()
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, r := range got {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		if v, ok := last[r.Stream]; ok && r.Version != v+1 {
			tb.Errorf("stream %s: version %d arrived after %d", r.Stream, r.Version, v)
		}
		last[r.Stream] = r.Version
	}
}

func deliveriesOf(tb testing.TB, n *Notifier, id string, state DeliveryState) []Delivery {
	tb.Helper()
	page, err := n.Deliveries(tb.Context(), id, DeliveryFilter{State: state, Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	return page.Deliveries
}
