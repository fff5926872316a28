package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

const (
	// expireAfter stops a container even if its test never cleans up.
	expireAfter = 15 * time.Minute
	// readyWait bounds pool.Retry while a server starts.
	readyWait = 2 * time.Minute
	// labelKey marks everything the tests create, for manual cleanup:
	// docker rm -f $(docker ps -aq --filter label=orderstore.integration)
	labelKey = "orderstore.integration"
)

// The Docker pool shared by all tests, set once by TestMain: pool is nil and
// poolErr says why when no daemon answers.
var (
	pool    *dockertest.Pool
	poolErr error
)

func TestMain(m *testing.M) {
	pool, poolErr = connectDocker()
	code := m.Run()
	// Containers, networks and volumes go with their tests (t.Cleanup); the
	// image the container tests built is shared, so it goes last.
	if err := removeBuiltImage(pool); err != nil {
		log.Print(err)
		code = max(code, 1)
	}
	os.Exit(code)
}

func connectDocker() (*dockertest.Pool, error) {
	p, err := dockertest.NewPool("") // DOCKER_HOST, else the local socket
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Client.PingWithContext(ctx); err != nil {
		return nil, err
	}
	p.MaxWait = readyWait
	return p, nil
}

// requireDocker returns the pool, or skips t when no Docker daemon answers.
func requireDocker(t *testing.T) *dockertest.Pool {
	t.Helper()
	if pool == nil {
		t.Skipf("no Docker daemon (%v): start one, or point DOCKER_HOST at one, to run the integration tests", poolErr)
	}
	return pool
}

// requireImage skips t unless image is present locally: the tests never
// pull. howTo tells the reader how to run the test anyway.
func requireImage(t *testing.T, p *dockertest.Pool, image, howTo string) {
	t.Helper()
	_, err := p.Client.InspectImage(image)
	if errors.Is(err, docker.ErrNoSuchImage) {
		t.Skipf("image %s is not present locally and the tests never pull; %s", image, howTo)
	}
	if err != nil {
		t.Fatalf("inspect image %s: %v", image, err)
	}
}

// splitImage splits "registry:5000/name:tag" into repository and tag
// ("latest" if none).
func splitImage(image string) (repository, tag string) {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[:i], image[i+1:]
	}
	return image, "latest"
}

// uniqueName returns prefix with a random suffix, for names that must not
// collide with other runs on the same daemon.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails
	return prefix + "-" + hex.EncodeToString(b)
}

// newNetwork creates a private network, removed when t ends (after the
// containers started later, as cleanups run last-in first-out).
func newNetwork(t *testing.T, p *dockertest.Pool) *dockertest.Network {
	t.Helper()
	n, err := p.CreateNetwork(uniqueName("orderstore-it"), func(o *docker.CreateNetworkOptions) {
		o.Labels = map[string]string{labelKey: t.Name()}
	})
	if err != nil {
		t.Fatalf("create network: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("remove network %s: %v", n.Network.Name, err)
		}
	})
	return n
}

// newVolume creates a named volume, which outlives its containers (to keep
// data across a container's replacement) and is removed when t ends.
func newVolume(t *testing.T, p *dockertest.Pool) string {
	t.Helper()
	v, err := p.Client.CreateVolume(docker.CreateVolumeOptions{
		Name: uniqueName("orderstore-it"), Labels: map[string]string{labelKey: t.Name()},
	})
	if err != nil {
		t.Fatalf("create volume: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Client.RemoveVolumeWithOptions(docker.RemoveVolumeOptions{Name: v.Name, Force: true}); err != nil {
			t.Errorf("remove volume %s: %v", v.Name, err)
		}
	})
	return v.Name
}

// runContainer starts a container of a local image. It is purged (with its
// anonymous volumes) when t ends, and stops after expireAfter in any case.
func runContainer(t *testing.T, p *dockertest.Pool, opts *dockertest.RunOptions, hc ...func(*docker.HostConfig)) *dockertest.Resource {
	t.Helper()
	if opts.Labels == nil {
		opts.Labels = map[string]string{}
	}
	opts.Labels[labelKey] = t.Name()
	r, err := p.RunWithOptions(opts, hc...)
	if err != nil {
		t.Fatalf("run %s:%s: %v", opts.Repository, opts.Tag, err)
	}
	t.Cleanup(func() {
		if err := p.Purge(r); err != nil {
			t.Errorf("purge container %s: %v", r.Container.Name, err)
		}
	})
	_ = r.Expire(uint(expireAfter.Seconds())) // always nil: it runs in the background
	return r
}

// containerLogs returns the tail of a container's output, for failure
// messages.
func containerLogs(p *dockertest.Pool, r *dockertest.Resource) string {
	var buf bytes.Buffer
	err := p.Client.Logs(docker.LogsOptions{
		Container: r.Container.ID, OutputStream: &buf, ErrorStream: &buf,
		Stdout: true, Stderr: true, Tail: "50",
	})
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	return buf.String()
}

func TestSplitImage(t *testing.T) {
	tests := map[string][2]string{
		"kurrentplatform/kurrentdb:26.1.1":               {"kurrentplatform/kurrentdb", "26.1.1"},
		"docker.kurrent.io/kurrent-latest/kurrentdb":     {"docker.kurrent.io/kurrent-latest/kurrentdb", "latest"},
		"localhost:5000/kurrentdb":                       {"localhost:5000/kurrentdb", "latest"},
		"localhost:5000/kurrentdb:dev":                   {"localhost:5000/kurrentdb", "dev"},
		"docker.kurrent.io/kurrent-lts/kurrentdb:25.0.1": {"docker.kurrent.io/kurrent-lts/kurrentdb", "25.0.1"},
	}
	for image, want := range tests {
		if repo, tag := splitImage(image); repo != want[0] || tag != want[1] {
			t.Errorf("splitImage(%q) = %q, %q; want %q, %q", image, repo, tag, want[0], want[1])
		}
	}
}
