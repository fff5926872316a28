package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/orderstore/orderstore/api"
)

const (
	// servicePort is the port orderstore listens on in its image.
	servicePort = "8080/tcp"
	// readyTimeout bounds the wait for /readyz after a (re)start, and for a
	// container to exit.
	readyTimeout = time.Minute
	// pollEvery is the interval of condition polls.
	pollEvery = 50 * time.Millisecond
	// requestTimeout bounds one HTTP request to the service.
	requestTimeout = 15 * time.Second
)

// service is one orderstore container, reached from the host over HTTP.
type service struct {
	t    *testing.T
	p    *dockertest.Pool
	r    *dockertest.Resource
	base string // http://host:port; the port changes on every start
	http *http.Client
	// token is sent with every request: the service reads a tokens file,
	// as the compose stack does, and this token has every scope.
	token string
}

// startService runs the orderstore image on network with volume at /data
// (serve on the embedded store, with a tokens file mounted read-only, as
// docker-compose.yml runs it) and waits until it is ready. The container
// is removed when t ends.
func startService(t *testing.T, p *dockertest.Pool, network *dockertest.Network, volume string) *service {
	t.Helper()
	repository, tag := orderstoreImage(t, p)
	tokensDir, token := tokensFile(t)
	r := runContainer(t, p, &dockertest.RunOptions{
		Name:       uniqueName("orderstore-it"),
		Repository: repository,
		Tag:        tag,
		// Under the track policy: the suite's workloads and its check of
		// the stock figures against the log model orders without the
		// fulfilment saga (tested on the real store in ./fulfilment).
		Cmd: []string{"serve", "--addr", "0.0.0.0:8080", "--data", "/data", "--tokens-file", "/etc/orderstore/tokens",
			"--stock-policy", "track"},
		Networks: []*dockertest.Network{network},
		Mounts:   []string{volume + ":/data", tokensDir + ":/etc/orderstore:ro"},
	})
	s := &service{t: t, p: p, r: r, token: token, http: &http.Client{
		Timeout:   requestTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32, DisableCompression: true},
	}}
	t.Cleanup(s.http.CloseIdleConnections)
	s.refresh()
	s.waitReady()
	return s
}

// tokensFile writes a tokens file with one token of every scope into a
// new directory the service's user (65532) can read, removed when t ends;
// it holds only the token's hash.
func tokensFile(t *testing.T) (dir, token string) {
	t.Helper()
	token, tok, err := api.GenerateToken("integration", []api.Scope{api.ScopeRead, api.ScopeWrite, api.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	dir, err = os.MkdirTemp("", "orderstore-it-tokens-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(tok.Line()+"\n"), 0o644); err != nil { //nolint:gosec // hashes only
		t.Fatal(err)
	}
	return dir, token
}

// refresh re-inspects the container: its host port changes on restart.
// (s.r.Container stays as it is: Expire's goroutine reads it.)
func (s *service) refresh() {
	s.t.Helper()
	c, err := s.p.Client.InspectContainer(s.r.Container.ID)
	if err != nil {
		s.t.Fatalf("inspect %s: %v", s.r.Container.Name, err)
	}
	bindings := c.NetworkSettings.Ports[servicePort]
	if len(bindings) == 0 {
		s.t.Fatalf("%s publishes no %s (state %s)", s.r.Container.Name, servicePort, c.State.String())
	}
	host := bindings[0].HostIP
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	s.base = "http://" + net.JoinHostPort(host, bindings[0].HostPort)
}

// waitReady polls GET /readyz until it answers 200, failing fast if the
// container stops.
func (s *service) waitReady() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last string
	for {
		r, err := s.do(ctx, http.MethodGet, "/readyz", nil)
		switch {
		case err == nil && r.status == http.StatusOK:
			return
		case err == nil:
			last = fmt.Sprintf("%d %s", r.status, r.body)
		default:
			last = err.Error()
		}
		if c, err := s.p.Client.InspectContainer(s.r.Container.ID); err == nil && !c.State.Running {
			s.t.Fatalf("orderstore exited (code %d) instead of becoming ready:\n%s", c.State.ExitCode, s.logs())
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("orderstore not ready after %s: %s\n%s", readyTimeout, last, s.logs())
		case <-tick.C:
		}
	}
}

// signal sends sig to the service's process (0 = SIGKILL).
func (s *service) signal(sig docker.Signal) {
	s.t.Helper()
	if err := s.p.Client.KillContainer(docker.KillContainerOptions{ID: s.r.Container.ID, Signal: sig}); err != nil {
		s.t.Fatalf("signal %d to %s: %v", sig, s.r.Container.Name, err)
	}
}

// wait waits for the container to exit and returns its exit code.
func (s *service) wait() int {
	s.t.Helper()
	return waitExit(s.t, s.p, s.r)
}

// stop stops the service gracefully (SIGTERM) and requires exit code 0.
func (s *service) stop() {
	s.t.Helper()
	s.signal(docker.SIGTERM)
	if code := s.wait(); code != 0 {
		s.t.Fatalf("orderstore exited with code %d after SIGTERM, want 0:\n%s", code, s.logs())
	}
}

// start starts the stopped container again (same volume, new host port)
// and waits until it is ready.
func (s *service) start() {
	s.t.Helper()
	s.http.CloseIdleConnections() // they point at the old port
	if err := s.p.Client.StartContainer(s.r.Container.ID, nil); err != nil {
		s.t.Fatalf("start %s: %v", s.r.Container.Name, err)
	}
	_ = s.r.Expire(uint(expireAfter.Seconds())) // the first stop ended the previous one
	s.refresh()
	s.waitReady()
}

func (s *service) logs() string { return containerLogs(s.p, s.r) }

// waitExit waits (bounded) for r's container to exit and returns its code.
func waitExit(t *testing.T, p *dockertest.Pool, r *dockertest.Resource) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	code, err := p.Client.WaitContainerWithContext(r.Container.ID, ctx)
	if err != nil {
		t.Fatalf("wait for %s to exit: %v\n%s", r.Container.Name, err, containerLogs(p, r))
	}
	return code
}

// reply is an HTTP response, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// rawBody is a request body sent as it is, not JSON-encoded.
type rawBody []byte

// do sends a request with body (JSON-encoded unless nil or a rawBody) and
// extra header name/value pairs.
func (s *service) do(ctx context.Context, method, path string, body any, header ...string) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close() //nolint:errcheck // read in full below
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// call is do for test steps: a transport error fails the test.
func (s *service) call(method, path string, body any, header ...string) reply {
	s.t.Helper()
	r, err := s.do(s.t.Context(), method, path, body, header...)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// get GETs path, requires 200 and decodes the JSON body into v.
func (s *service) get(path string, v any) reply {
	s.t.Helper()
	r := s.call(http.MethodGet, path, nil)
	r.want(s.t, http.StatusOK, v)
	return r
}

// want requires status and a JSON body, decoded into v unless nil.
func (r reply) want(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json: %s", ct, r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// problem is an RFC 9457 body as the API sends it.
type problem struct {
	Type   *string `json:"type"`
	Title  *string `json:"title"`
	Status int     `json:"status"`
	Detail string  `json:"detail"`
	Code   string  `json:"code"`
}

// wantProblem requires an application/problem+json answer with status and,
// unless empty, code.
func (r reply) wantProblem(t *testing.T, status int, code string) problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (%s): %s", r.status, status, code, r.body)
	}
	mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || mt != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json: %s", r.header.Get("Content-Type"), r.body)
	}
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", r.body, err)
	}
	if p.Type == nil || p.Title == nil || *p.Title == "" || p.Status != status || p.Detail == "" {
		t.Fatalf("problem %s: want type, title, status %d and detail", r.body, status)
	}
	if code != "" && p.Code != code {
		t.Fatalf("problem code %q, want %q: %s", p.Code, code, r.body)
	}
	return p
}

// isProblem reports whether r is a problem with status and code.
func (r reply) isProblem(status int, code string) bool {
	var p problem
	return r.status == status && json.Unmarshal(r.body, &p) == nil && p.Code == code
}
