package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkConsoleFirstRender measures the console's first render in
// headless Chromium, served by serve over the store in
// $ORDERSTORE_BENCH_DATA (a million events from scripts/genevents):
//
//	go run ./scripts/genevents -data /tmp/big -events 1000000
//	ORDERSTORE_BENCH_DATA=/tmp/big go test -run '^$' -bench ConsoleFirstRender -benchtime 10x ./cmd/orderstore/
//
// Each iteration loads the overview (/) and an order's page (/#/order/ID)
// in a fresh document and reads the console's performance marks
// orderstore:render:overview and orderstore:render:order: the time from
// the navigation's start to the view's data being in the DOM (the
// overview's projections and head; the order's state, timeline, trace and
// saga). The first serve of a store builds its read models: the benchmark
// waits until the projections are live (logging their progress) before it
// measures.
func BenchmarkConsoleFirstRender(b *testing.B) {
	dir := os.Getenv("ORDERSTORE_BENCH_DATA")
	if dir == "" {
		b.Skip("ORDERSTORE_BENCH_DATA is not set: fill a store with `go run ./scripts/genevents -data DIR -events 1000000` and run ORDERSTORE_BENCH_DATA=DIR go test -run '^$' -bench ConsoleFirstRender ./cmd/orderstore/")
	}
	bin := chromiumBinary()
	if bin == "" {
		b.Skip("no Chromium binary on PATH (nor $CHROMIUM): install Debian's chromium (apt-get install -y chromium)")
	}
	base, stop := serveArgs(b, []string{"--data", dir, "--addr", "127.0.0.1:0"}, nil)
	defer func() {
		if err := stop(); err != nil {
			b.Error(err)
		}
	}()
	head := waitLive(b, base)
	order := orderNear(b, base, head/2)
	b.Logf("store head %d; order page of %s", head, order)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(b.Context(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Run(ctx); err != nil { // start the browser outside the measure
		b.Fatal(err)
	}
	render := func(path, view string) float64 {
		var ms float64
		mark := fmt.Sprintf(`(() => { const e = performance.getEntriesByName('orderstore:render:%s'); return e.length ? e[0].startTime : 0; })()`, view)
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		// about:blank first: a URL that differs only in its hash would not
		// load a new document.
		if err := chromedp.Run(rctx, chromedp.Navigate("about:blank"), chromedp.Navigate(base+path)); err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		// The mark's time is the browser's: how often it is asked only
		// delays the answer.
		for {
			if err := chromedp.Run(rctx, chromedp.Evaluate(mark, &ms)); err != nil && rctx.Err() != nil {
				b.Fatalf("%s: no render mark: %v", path, err)
			}
			if ms > 0 {
				return ms
			}
			select {
			case <-time.After(10 * time.Millisecond):
			case <-rctx.Done():
			}
		}
	}
	var overview, orderPage []float64
	b.ResetTimer()
	for b.Loop() {
		overview = append(overview, render("/", "overview"))
		orderPage = append(orderPage, render("/#/order/"+url.PathEscape(order), "order"))
	}
	b.StopTimer()
	b.Logf("overview first render (ms, in order): %.0f", overview)
	b.Logf("order page first render (ms, in order): %.0f", orderPage)
	for name, ms := range map[string][]float64{"overview": overview, "order": orderPage} {
		b.ReportMetric(ms[0], name+"-cold-ms")
		slices.Sort(ms)
		b.ReportMetric(ms[len(ms)/2], name+"-p50-ms")
		b.ReportMetric(ms[len(ms)-1], name+"-max-ms")
	}
}

// chromiumBinary finds a Chromium or Chrome binary: $CHROMIUM, else one on
// PATH.
func chromiumBinary() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// waitLive waits until every projection is live and returns the head.
func waitLive(b *testing.B, base string) uint64 {
	b.Helper()
	var st struct {
		Projections []struct {
			Name     string `json:"name"`
			State    string `json:"state"`
			Position uint64 `json:"position"`
			Head     uint64 `json:"head"`
		} `json:"projections"`
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	logged := time.Now()
	for {
		getJSON(b, base+"/projections", &st)
		live := len(st.Projections) > 0
		var progress []string
		for _, p := range st.Projections {
			live = live && p.State == "live"
			progress = append(progress, fmt.Sprintf("%s %s %d/%d", p.Name, p.State, p.Position, p.Head))
		}
		if live {
			return st.Projections[0].Head
		}
		if time.Since(logged) > 15*time.Second {
			b.Logf("waiting for the projections to be live: %s", strings.Join(progress, ", "))
			logged = time.Now()
		}
		select {
		case <-tick.C:
		case <-b.Context().Done():
			b.Fatal("ended while the projections caught up")
		}
	}
}

// orderNear returns the ID of an order placed after position after.
func orderNear(b *testing.B, base string, after uint64) string {
	b.Helper()
	var page struct {
		Events []struct {
			Stream string `json:"stream"`
		} `json:"events"`
	}
	getJSON(b, fmt.Sprintf("%s/events?type=OrderPlaced&after=%d&limit=1", base, after), &page)
	if len(page.Events) == 0 {
		b.Fatalf("no OrderPlaced after position %d", after)
	}
	id, ok := strings.CutPrefix(page.Events[0].Stream, "order-")
	if !ok {
		b.Fatalf("OrderPlaced in stream %q", page.Events[0].Stream)
	}
	return id
}

func getJSON(b *testing.B, u string, v any) {
	b.Helper()
	req, err := http.NewRequestWithContext(b.Context(), "GET", u, nil)
	if err != nil {
		b.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close() //nolint:errcheck // read only
	if res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s", u, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		b.Fatalf("GET %s: %v", u, err)
	}
}
