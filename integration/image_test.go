package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
)

const (
	// imageRepository names the images the tests build; each run tags its
	// own, so that concurrent runs on one daemon do not collide.
	imageRepository = "orderstore-it"
	// buildTimeout bounds the go build and the image build together; a cold
	// build of the static binary takes about a minute on two cores.
	buildTimeout = 5 * time.Minute
	// caBundle is the host's CA bundle, copied into the image when present:
	// the image is FROM scratch and nothing can be pulled to get one.
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
	// prebuiltDockerfile makes the image from a binary built on the host;
	// the default Dockerfile builds it from source in the Go image, which
	// cannot be pulled here (see dockerfile_test.go).
	prebuiltDockerfile = "Dockerfile.prebuilt"
)

// built is the orderstore image of this run: built by the first test that
// needs it, reused by the others, removed by TestMain.
var built struct {
	once  sync.Once
	image string // repository:tag, once built
	took  time.Duration
	err   error
}

// orderstoreImage returns the repository and tag of the image built from
// the working tree (binary and Dockerfile), building it on first use.
func orderstoreImage(t *testing.T, p *dockertest.Pool) (repository, tag string) {
	t.Helper()
	built.once.Do(func() {
		start := time.Now()
		built.image, built.err = buildImage(p)
		built.took = time.Since(start)
	})
	if built.err != nil {
		t.Fatalf("build the orderstore image: %v", built.err)
	}
	t.Logf("image %s (built in %s)", built.image, built.took.Round(time.Millisecond))
	return splitImage(built.image)
}

// buildImage does what integration/build-image.sh does, in a temporary
// build context: a static binary for the daemon's architecture and
// Dockerfile.prebuilt (nothing to pull: the default Dockerfile needs the
// Go image), then BuildImage (not BuildAndRunWithBuildOptions, which
// names the image after the container).
func buildImage(p *dockertest.Pool) (image string, err error) {
	root, err := filepath.Abs("..") // go test runs in the package directory
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "orderstore-image-")
	if err != nil {
		return "", err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	for _, d := range []string{"data", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := copyFile(filepath.Join(root, prebuiltDockerfile), filepath.Join(dir, "Dockerfile")); err != nil {
		return "", err
	}
	if _, err := os.Stat(caBundle); err == nil {
		if err := copyFile(caBundle, filepath.Join(dir, "rootfs", caBundle)); err != nil {
			return "", err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	goarch, err := daemonArch(p)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "orderstore"), "./cmd/orderstore")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/orderstore: %w\n%s", err, out)
	}

	image = imageRepository + ":" + uniqueName("run")
	var out bytes.Buffer
	err = p.Client.BuildImage(docker.BuildImageOptions{
		Context:             ctx,
		Name:                image,
		ContextDir:          dir,
		Dockerfile:          "Dockerfile",
		Labels:              map[string]string{labelKey: "image"},
		RmTmpContainer:      true,
		ForceRmTmpContainer: true,
		OutputStream:        &out,
	})
	if err != nil {
		return "", fmt.Errorf("docker build: %w\n%s", err, tail(out.String(), 2000))
	}
	return image, nil
}

// removeBuiltImage removes this run's image, if one was built.
func removeBuiltImage(p *dockertest.Pool) error {
	if p == nil || built.image == "" {
		return nil
	}
	err := p.Client.RemoveImageExtended(built.image, docker.RemoveImageOptions{Force: true})
	if err != nil {
		return fmt.Errorf("remove image %s: %w", built.image, err)
	}
	return nil
}

// daemonArch is the GOARCH of the Docker daemon's machine.
func daemonArch(p *dockertest.Pool) (string, error) {
	info, err := p.Client.Info()
	if err != nil {
		return "", fmt.Errorf("docker info: %w", err)
	}
	switch info.Architecture {
	case "x86_64", "amd64":
		return "amd64", nil
	case "aarch64", "arm64":
		return "arm64", nil
	case "":
		return runtime.GOARCH, nil
	}
	return "", fmt.Errorf("docker daemon architecture %q: not supported by the tests", info.Architecture)
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close() //nolint:errcheck // read only
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
