package webhooks

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeliver_HostileReceivers: an endpoint that hangs, one that answers
// an endless body and one that redirects do not hold a healthy endpoint:
// it gets every event while they misbehave. The endless body is cut off
// (the delivery still counts), the redirect is not followed.
func TestDeliver_HostileReceivers(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	opts := fastOptions()
	opts.Timeout = 30 * time.Second // longer than the test: only the healthy endpoint may finish
	n := openNotifier(t, dir, store, opts)

	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(hang) }) // runs before hanging.Close
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(huge.Close)
	var followed atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	healthy := newReceiver(t, nil)

	var ids []string
	for _, url := range []string{hanging.URL, huge.URL, redirect.URL, healthy.srv.URL} {
		ep, err := n.Create(t.Context(), NewEndpoint{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ep.ID)
	}
	run(t, n)
	appendEvents(t, store, "a", 5)
	appendEvents(t, store, "b", 5)
	waitFor(t, "the healthy endpoint served", healthy.signal, func() bool { return len(unique(healthy.deliveries())) == 10 })
	waitFor(t, "the endless bodies cut off", nil, func() bool { return len(deliveriesOf(t, n, ids[1], DeliveryDelivered)) == 10 })
	waitFor(t, "the redirects dead", nil, func() bool { return len(deliveriesOf(t, n, ids[2], DeliveryDead)) >= 1 })
	d := deliveriesOf(t, n, ids[2], DeliveryDead)[0]
	if d.Attempts[0].Status != http.StatusTemporaryRedirect {
		t.Errorf("redirect attempt %+v, want status 307", d.Attempts[0])
	}
	if followed.Load() != 0 {
		t.Error("a redirect was followed")
	}
	if got := deliveriesOf(t, n, ids[0], DeliveryDelivered); len(got) != 0 {
		t.Errorf("the hanging endpoint has %d delivered", len(got))
	}
}

// TestTarget_Private: internal targets are refused at registration,
// including a name that resolves to 127.0.0.1, and at connect time.
func TestTarget_Private(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	opts := fastOptions()
	opts.AllowPrivate = false
	n := openNotifier(t, dir, store, opts)
	for _, url := range []string{
		"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/", "http://192.168.0.1/",
		"http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[fd00::1]/", "http://0.0.0.0/",
		"http://100.100.100.200/", "http://[::ffff:127.0.0.1]/",
	} {
		_, err := n.Create(t.Context(), NewEndpoint{URL: url})
		if !errors.Is(err, ErrPrivateTarget) || !isField(err, "url") {
			t.Errorf("%s: %v, want ErrPrivateTarget", url, err)
		}
	}
	for _, url := range []string{"", "ftp://example.com/", "http:///x", "http://u:p@example.com/", "http://example.com/#f", "not a url"} {
		if _, err := n.Create(t.Context(), NewEndpoint{URL: url}); !isField(err, "url") || errors.Is(err, ErrPrivateTarget) {
			t.Errorf("%q: %v, want a ValidationError of url", url, err)
		}
	}
	// Connect time: the check sees the address dialled, whatever a name
	// resolved to at registration.
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a guarded client reached a loopback server")
	}))
	t.Cleanup(srv.Close)
	c := newClient(false, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), nil)
	if _, err := c.Do(req); !errors.Is(err, ErrPrivateTarget) {
		t.Errorf("dial to loopback: %v, want ErrPrivateTarget", err)
	}
	for addr, want := range map[string]bool{
		"169.254.169.254": true, "127.0.0.53": true, "::ffff:10.0.0.1": true, "2002:7f00:1::": true, "2002:c0a8:101::1": true,
		"2001:0:4136:e378::1": true, "fe80::1": true, "93.184.215.14": false, "2606:4700::6810:84e5": false, "2002:5db8:d70e::": false,
	} {
		if got := internal(mustAddr(t, addr)); got != want {
			t.Errorf("internal(%s) = %v, want %v", addr, got, want)
		}
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSecrets_AtRest: secrets are sealed in the database (never there in
// the clear), and a wrong key is refused at Open.
func TestSecrets_AtRest(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	opts := fastOptions()
	opts.Key = nil // the generated key file
	n, err := Open(dir, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := n.Create(t.Context(), NewEndpoint{URL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", st, err)
	}
	secretPart := strings.TrimPrefix(ep.Secret, "whsec_")
	for _, name := range []string{FileName, FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secretPart)) {
			t.Errorf("%s holds the secret in the clear", name)
		}
	}
	if _, err := Open(dir, store, fastOptions()); !errors.Is(err, ErrKey) {
		t.Errorf("Open with another key: %v, want ErrKey", err)
	}
	n2, err := Open(dir, store, opts) // the key file again
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, store, opts); !errors.Is(err, ErrLocked) {
		t.Errorf("a second Open: %v, want ErrLocked", err)
	}
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
}
