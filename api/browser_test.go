package api_test

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the console's screenshots into docs/ too")

// chromium finds a Chromium or Chrome binary: $CHROMIUM, else one on PATH.
func chromium() string {
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

// TestConsole_Browser drives the web console in headless Chromium against
// a real server: every view loads without errors, an order placed through
// the API appears in the live feed, its page shows its trace, a rebuild
// runs to live from its button, and event data holding markup renders as
// text. Screenshots of each view go to the test's temp dir (and, with
// -update-screenshots, to docs/).
func TestConsole_Browser(t *testing.T) {
	t.Parallel()
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium binary on PATH (nor $CHROMIUM): browser tests skipped; install Debian's chromium (apt-get install -y chromium), as .ci/run does")
	}
	e := variant{name: "embedded"}.newEnv(t)
	// A webhook endpoint whose receiver fails until told otherwise: its
	// deliveries end as dead letters for the webhooks view to retry.
	var failing atomic.Bool
	failing.Store(true)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(rcv.Close)
	hook, _ := e.expect(e.do("POST", "/webhooks", map[string]any{"url": rcv.URL + "/hook", "events": []string{"OrderPlaced"},
		"description": "browser"}), 201).json(t)["id"].(string)
	const xss = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`
	e.expect(e.do("POST", "/orders", placeBody("b-1"), "X-Correlation-ID", "flow-b1"), 201)
	e.expect(e.do("POST", "/orders/b-1/cancellation", map[string]any{"reason": xss}, "X-Correlation-ID", "flow-b1"), 200)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)

	var (
		mu   sync.Mutex
		errs []string
	)
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			errs = append(errs, "exception: "+ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				errs = append(errs, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		}
	})
	shots := t.TempDir()
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			if *updateScreenshots {
				if err := os.WriteFile(filepath.Join("..", "docs", "console-"+name+".png"), png, 0o644); err != nil {
					return err
				}
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	run("overview", chromedp.Navigate(e.srv.URL+"/"),
		chromedp.WaitVisible(`#ov-projections tbody tr[data-name="stock"]`, chromedp.ByQuery), shot("overview"))

	run("live feed", chromedp.Navigate(e.srv.URL+"/#/live"),
		chromedp.WaitVisible(`#live-table[data-live="on"]`, chromedp.ByQuery))
	start := time.Now()
	e.expect(e.do("POST", "/orders", placeBody("b-2"), "X-Correlation-ID", "flow-b2"), 201)
	run("the new order in the live feed", chromedp.WaitVisible(`#live-table tr[data-stream="order-b-2"]`, chromedp.ByQuery))
	t.Logf("the order reached the live feed %v after its answer", time.Since(start))
	// Paused, the feed takes nothing; resumed, it catches up.
	run("pause", chromedp.Click(`#live-pause`, chromedp.ByQuery), chromedp.WaitVisible(`#live-table[data-live="paused"]`, chromedp.ByQuery))
	e.expect(e.do("POST", "/orders", placeBody("b-3")), 201)
	run("resume", chromedp.Click(`#live-pause`, chromedp.ByQuery),
		chromedp.WaitVisible(`#live-table tr[data-stream="order-b-3"]`, chromedp.ByQuery), shot("live"))

	var text string
	var injected bool
	var elements int
	run("stream browser", chromedp.Navigate(e.srv.URL+"/#/streams/order-b-1"),
		chromedp.WaitVisible(`#streams-table tr[data-type="OrderCancelled"] button`, chromedp.ByQuery),
		chromedp.Click(`#streams-table tr[data-type="OrderCancelled"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#streams-json`, chromedp.ByQuery),
		chromedp.Text(`#streams-json`, &text, chromedp.ByQuery),
		chromedp.Evaluate(`window.__xss !== undefined`, &injected),
		chromedp.Evaluate(`document.querySelectorAll('#streams-json *').length`, &elements),
		shot("streams"))
	if !strings.Contains(text, `<script>window.__xss=1</script>`) || injected || elements != 0 {
		t.Fatalf("event data with markup: shown %q, script ran %v, %d elements made of it", text, injected, elements)
	}

	var nodes int
	run("order page", chromedp.Navigate(e.srv.URL+"/#/order/b-1"),
		chromedp.WaitVisible(`#order-trace section[data-correlation="flow-b1"] li[data-kind="request"] li[data-kind="event"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#order-timeline li[data-type="OrderCancelled"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#order-trace li[data-kind="event"]').length`, &nodes),
		chromedp.Evaluate(`window.__xss !== undefined`, &injected),
		shot("order"))
	if nodes != 2 || injected {
		t.Fatalf("order page: %d event nodes in the trace (want 2), script ran %v", nodes, injected)
	}

	var saga string
	run("no saga for a track order", chromedp.Text(`#order-saga`, &saga, chromedp.ByQuery))
	if !strings.Contains(saga, "track") {
		t.Errorf("order page's fulfilment for a track order: %q", saga)
	}

	waitDeliveries(t, e, hook, "dead", 3)
	run("webhooks: dead letters", chromedp.Navigate(e.srv.URL+"/#/webhooks/"+hook),
		chromedp.WaitVisible(`#wh-table tr[data-id="`+hook+`"][data-dead="3"] .retry-dead`, chromedp.ByQuery),
		chromedp.WaitVisible(`#wh-dead tr[data-delivery]`, chromedp.ByQuery), shot("webhooks"))
	failing.Store(false)
	run("webhooks: retry the dead", chromedp.Click(`#wh-table tr[data-id="`+hook+`"] .retry-dead`, chromedp.ByQuery),
		chromedp.WaitVisible(`#wh-table tr[data-id="`+hook+`"][data-dead="0"]`, chromedp.ByQuery))
	waitDeliveries(t, e, hook, "delivered", 3)

	run("projections", chromedp.Navigate(e.srv.URL+"/#/projections"),
		chromedp.WaitVisible(`#pj-table tr[data-name="stock"] button`, chromedp.ByQuery),
		chromedp.Click(`#pj-table tr[data-name="stock"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#pj-table tr[data-name="stock"] .rebuild-done`, chromedp.ByQuery),
		shot("projections"))

	// A phone's width: the views still render.
	run("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.srv.URL+"/#/order/b-1"),
		chromedp.WaitVisible(`#order-trace li[data-kind="event"]`, chromedp.ByQuery), shot("order-phone"))

	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("the console logged errors:\n%s", strings.Join(errs, "\n"))
	}
}
