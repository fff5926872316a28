package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/orders"
)

// sseEvent is one event of a Server-Sent Events stream; comment is the
// text of a comment line instead.
type sseEvent struct {
	id, event, data, comment string
}

// sseClient reads a GET /events/stream answer line by line.
type sseClient struct {
	t      *testing.T
	res    *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

// openStream opens GET /events/stream?query on base; headers come in
// name, value pairs.
func openStream(t *testing.T, base, query string, headers ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/events/stream?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(res.Body) //nolint:errcheck // test
		t.Fatalf("stream answered %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	c := &sseClient{t: t, res: res, rd: bufio.NewReader(res.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() {
	c.cancel()
	_ = c.res.Body.Close() //nolint:errcheck // test
}

// next reads the next event or comment; io.EOF when the stream ended.
func (c *sseClient) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			return sseEvent{comment: strings.TrimSpace(line[1:])}, nil
		default:
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data = value
			}
		}
	}
}

// events reads n events, skipping comments.
func (c *sseClient) events(n int) []sseEvent {
	c.t.Helper()
	var out []sseEvent
	for len(out) < n {
		ev, err := c.next()
		if err != nil {
			c.t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		if ev.comment == "" {
			out = append(out, ev)
		}
	}
	return out
}

// checkSame checks that the stream's events are the feed's, id for
// position, type for event, the event JSON for data.
func checkSame(t *testing.T, got []sseEvent, want []feedEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events streamed, want %d", len(got), len(want))
	}
	for i := range got {
		var data feedEvent
		if err := json.Unmarshal([]byte(got[i].data), &data); err != nil {
			t.Fatalf("event %d data: %v: %s", i, err, got[i].data)
		}
		if got[i].id != fmt.Sprint(want[i].Position) || got[i].event != want[i].Type || data.ID != want[i].ID || data.Position != want[i].Position {
			t.Fatalf("event %d: id %s, event %s, data %s; want position %d, type %s, id %s", i, got[i].id, got[i].event, got[i].data,
				want[i].Position, want[i].Type, want[i].ID)
		}
	}
}

func TestStream_ResumeLosesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		place := func(from, to int) {
			for i := from; i < to; i++ {
				e.expect(e.do("POST", "/orders", placeBody(fmt.Sprintf("s-%d", i))), 201)
			}
		}
		place(0, 3)
		c := openStream(t, e.srv.URL, "after=0")
		got := c.events(3) // caught up
		place(3, 5)
		got = append(got, c.events(2)...) // live
		c.close()
		place(5, 7) // while away
		// A reconnecting EventSource sends Last-Event-ID and the URL it
		// started with: the header wins.
		c = openStream(t, e.srv.URL, "after=0", "Last-Event-ID", got[len(got)-1].id)
		got = append(got, c.events(2)...)
		place(7, 8)
		got = append(got, c.events(1)...)
		checkSame(t, got, e.feed(t, url.Values{}, 1000))

		// ?after alone resumes too; a number that is no position is refused.
		c = openStream(t, e.srv.URL, "after="+got[5].id)
		checkSame(t, c.events(2), e.feed(t, url.Values{}, 1000)[6:8])
		e.expect(e.do("GET", "/events/stream?after=99999999", nil), 400)
		e.expect(e.do("GET", "/events/stream", nil, "Last-Event-ID", "abc"), 400)
		e.expect(e.do("GET", "/events/stream?type=", nil), 400)
	})
}

func TestStream_Filters(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		place := func(id, flow string) {
			e.expect(e.do("POST", "/orders", placeBody(id), "X-Correlation-ID", flow), 201)
		}
		place("fa-1", "flow-a")
		place("fb-1", "flow-b")
		place("fa-2", "flow-a")
		c := openStream(t, e.srv.URL, "correlation_id=flow-a")
		p := openStream(t, e.srv.URL, "type=OrderPaid&stream_prefix=order-fb-")
		got := c.events(2)
		place("fb-2", "flow-b")
		place("fa-3", "flow-a")
		e.expect(e.do("POST", "/orders/fb-2/payment", map[string]any{"amount": 2500, "payment_ref": "x"}, "X-Correlation-ID", "flow-a"), 200)
		got = append(got, c.events(2)...)
		checkSame(t, got, e.feed(t, url.Values{"correlation_id": {"flow-a"}}, 1000))
		checkSame(t, p.events(1), e.feed(t, url.Values{"type": {"OrderPaid"}}, 1000))
	})
}

func TestStream_Heartbeat(t *testing.T) {
	t.Parallel()
	e := variant{name: "embedded"}.openEnvWith(t, t.TempDir(), envOptions{streamHeartbeat: 5 * time.Millisecond})
	c := openStream(t, e.srv.URL, "")
	ev, err := c.next()
	if err != nil || ev.comment != "heartbeat" {
		t.Fatalf("first line of an idle stream: %+v, %v; want the heartbeat comment", ev, err)
	}
}

// TestStream_SlowClientCutOff: a client that does not read while events
// come gets, once it reads again, the events written before its buffer
// filled, then a cutoff event naming the last of them; reading on from
// there loses nothing.
func TestStream_SlowClientCutOff(t *testing.T) {
	t.Parallel()
	e := variant{name: "embedded"}.newEnv(t)
	// A server of its own: a buffer of 4 events that does not wait.
	slow := httptest.NewServer(api.New(api.Config{Store: e.store, Orders: orders.New(e.store, orders.Options{}),
		StreamBuffer: 4}).Handler())
	t.Cleanup(slow.Close)
	c := openStream(t, slow.URL, "")
	// Events far larger than the socket buffers: the server's writes
	// block while the client does not read.
	big := strings.Repeat("x", 256<<10)
	var last eventstore.AppendResult
	for i := range 64 {
		data, _ := json.Marshal(map[string]any{"sku": "SKU-1", "quantity": 1, "received_at": "2026-01-01T00:00:00Z", "note": big}) //nolint:errcheck // test
		res, err := e.store.Append(t.Context(), "stock-big-"+strconv.Itoa(i), eventstore.Any,
			eventstore.EventData{ID: uuid.New(), Type: "StockReceived", Data: data})
		if err != nil {
			t.Fatal(err)
		}
		last = res
	}
	var got []sseEvent
	var cut sseEvent
	for {
		ev, err := c.next()
		if err != nil {
			t.Fatalf("stream ended without a cutoff after %d events: %v", len(got), err)
		}
		if ev.comment != "" {
			continue
		}
		if ev.event == "cutoff" {
			cut = ev
			break
		}
		got = append(got, ev)
	}
	if _, err := c.next(); err != io.EOF {
		t.Fatalf("after the cutoff: %v, want the end of the stream", err)
	}
	var data struct {
		Reason      string `json:"reason"`
		ResumeAfter uint64 `json:"resume_after"`
	}
	if err := json.Unmarshal([]byte(cut.data), &data); err != nil {
		t.Fatal(err)
	}
	resume := "0"
	if len(got) > 0 {
		resume = got[len(got)-1].id
	}
	if data.Reason != "slow_client" || fmt.Sprint(data.ResumeAfter) != resume || cut.id != resume {
		t.Fatalf("cutoff %+v (id %s) after %d events; want slow_client resuming after %s", data, cut.id, len(got), resume)
	}
	if data.ResumeAfter == last.Position {
		t.Fatalf("the client got every event: not cut off early")
	}
	// Read from the store: the events are larger than the API's document
	// allows a StockReceived to be.
	all, err := e.store.ReadAll(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range got {
		if ev.id != fmt.Sprint(all[i].Position) {
			t.Fatalf("streamed event %d has id %s, the log's position %d", i, ev.id, all[i].Position)
		}
	}
	rest, err := e.store.ReadAll(t.Context(), data.ResumeAfter, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got)+len(rest) != len(all) || rest[len(rest)-1].Position != last.Position {
		t.Fatalf("%d streamed and %d after the cutoff, of %d", len(got), len(rest), len(all))
	}
}

// TestStream_OutlivesReadTimeout: a stream goes on past the server's
// ReadTimeout (serve sets one): net/http lifts the read deadline once the
// request is read, and the stream lifts the write deadline write by write.
func TestStream_OutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	e := variant{name: "embedded"}.newEnv(t)
	srv := httptest.NewUnstartedServer(api.New(api.Config{Store: e.store, Orders: orders.New(e.store, orders.Options{}),
		StreamHeartbeat: 5 * time.Millisecond}).Handler())
	srv.Config.ReadTimeout = 50 * time.Millisecond
	srv.Config.WriteTimeout = 50 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	c := openStream(t, srv.URL, "")
	start := time.Now()
	for n := 0; time.Since(start) < 4*srv.Config.ReadTimeout; n++ {
		if ev, err := c.next(); err != nil || ev.comment != "heartbeat" {
			t.Fatalf("after %d heartbeats (%v): %+v, %v", n, time.Since(start), ev, err)
		}
	}
}

// TestStream_BurstsWhileWritesWait: with writes paced far apart, the events
// committed by concurrent writers while a stream's write waits reach it,
// filtered or not, once each and in the log's order.
func TestStream_BurstsWhileWritesWait(t *testing.T) {
	t.Parallel()
	e := variant{name: "embedded"}.newEnv(t)
	srv := httptest.NewServer(api.New(api.Config{Store: e.store, Orders: orders.New(e.store, orders.Options{}),
		StreamFlush: 200 * time.Millisecond}).Handler())
	t.Cleanup(srv.Close)
	all := openStream(t, srv.URL, "")
	some := openStream(t, srv.URL, "stream_prefix=stock-a")
	const writers, each = 8, 60
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				sku := fmt.Sprintf("b%d", w)
				if i%3 == 0 {
					sku = fmt.Sprintf("a%d", w)
				}
				data, _ := json.Marshal(map[string]any{"sku": sku, "quantity": 1, "received_at": "2026-01-01T00:00:00Z"}) //nolint:errcheck // test
				if _, err := e.store.Append(t.Context(), "stock-"+sku, eventstore.Any,
					eventstore.EventData{ID: uuid.New(), Type: "StockReceived", Data: data}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	log, err := e.store.ReadAll(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want, wantSome []string
	for _, ev := range log {
		want = append(want, fmt.Sprint(ev.Position))
		if strings.HasPrefix(ev.Stream, "stock-a") {
			wantSome = append(wantSome, fmt.Sprint(ev.Position))
		}
	}
	for _, c := range []struct {
		name   string
		client *sseClient
		want   []string
	}{{"unfiltered", all, want}, {"stream_prefix=stock-a", some, wantSome}} {
		got := c.client.events(len(c.want))
		for i, ev := range got {
			if ev.id != c.want[i] {
				t.Fatalf("%s: event %d has id %s, want %s", c.name, i, ev.id, c.want[i])
			}
		}
	}
}
