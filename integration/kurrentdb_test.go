package integration

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ory/dockertest/v3"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/kurrentdb"
	"github.com/orderstore/orderstore/eventstore/storetest"
)

// defaultKurrentDBImage is the KurrentDB image the tests use unless
// ORDERSTORE_KURRENTDB_IMAGE names another: the one KurrentDB's
// documentation names, and docker-compose.yml's default (a test checks
// they agree). On arm64 see docs/docker.md.
const defaultKurrentDBImage = "docker.kurrent.io/kurrent-latest/kurrentdb:25.1"

// kurrentDBImage is ORDERSTORE_KURRENTDB_IMAGE, else KURRENTDB_IMAGE (which
// docker-compose.yml reads: one setting serves both), else the default.
func kurrentDBImage() string {
	for _, env := range []string{"ORDERSTORE_KURRENTDB_IMAGE", "KURRENTDB_IMAGE"} {
		if image := os.Getenv(env); image != "" {
			return image
		}
	}
	return defaultKurrentDBImage
}

// kurrentDBPort serves KurrentDB's gRPC and HTTP.
const kurrentDBPort = "2113/tcp"

// servePrefixes are the stream prefixes cmd/orderstore/serve.go opens the
// adapter with: the service's view of a shared $all.
var servePrefixes = []string{"order-", "stock-"}

// startKurrentDB starts an insecure single KurrentDB node of a local image,
// with extra environment settings, waits until it takes writes and returns
// its connection string. It skips t when Docker or the image is missing,
// saying how to run it.
func startKurrentDB(t *testing.T, env ...string) string {
	t.Helper()
	image := kurrentDBImage()
	howTo := fmt.Sprintf("run `docker pull %s && go test -count=1 -run KurrentDB -v ./integration/` "+
		"(or set ORDERSTORE_KURRENTDB_IMAGE or KURRENTDB_IMAGE to a KurrentDB image you have)", image)
	if pool == nil {
		t.Skipf("needs a Docker daemon (%v) and the image %s: start Docker or point DOCKER_HOST at one, then %s",
			poolErr, image, howTo)
	}
	p := requireDocker(t)
	requireImage(t, p, image, howTo)
	repository, tag := splitImage(image)
	r := runContainer(t, p, &dockertest.RunOptions{
		Repository: repository,
		Tag:        tag,
		Networks:   []*dockertest.Network{newNetwork(t, p)},
		// Declared, not left to the image's EXPOSE: GetHostPort below
		// needs 2113 published whatever image ORDERSTORE_KURRENTDB_IMAGE
		// names.
		ExposedPorts: []string{kurrentDBPort},
		Env: append([]string{
			"KURRENTDB_INSECURE=true", // no TLS, no auth: the client needs tls=false
			"KURRENTDB_CLUSTER_SIZE=1",
			"KURRENTDB_RUN_PROJECTIONS=None",
		}, env...),
	})
	url := "esdb://" + r.GetHostPort(kurrentDBPort) + "?tls=false"
	if err := p.Retry(func() error { return probe(t, url) }); err != nil {
		t.Fatalf("KurrentDB at %s never became ready: %v\n%s", url, err, containerLogs(p, r))
	}
	return url
}

// probe appends an event and reads it back: the node's HTTP liveness comes
// before it accepts writes.
func probe(t *testing.T, url string) error {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := kurrentdb.Open(ctx, url, kurrentdb.Options{})
	if err != nil {
		return err
	}
	defer s.Close() //nolint:errcheck // always nil
	stream := "orderstore-probe-" + uuid.NewString()
	ev := eventstore.EventData{ID: uuid.New(), Type: "Probe", Data: []byte(`{}`)}
	if _, err := s.Append(ctx, stream, eventstore.NoStream, ev); err != nil {
		return err
	}
	_, err = s.ReadStream(ctx, stream, 0, 1)
	return err
}

func TestKurrentDB_Conformance(t *testing.T) {
	url := startKurrentDB(t, "KURRENTDB_MEM_DB=true")
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() (eventstore.Store, error) {
			// A fresh client on the shared server each time: the suite's
			// streams are unique per test.
			return func() (eventstore.Store, error) {
				return kurrentdb.Open(t.Context(), url, kurrentdb.Options{})
			}
		},
		DensePositions: false, // commit positions grow by record sizes
		GlobalEventIDs: false, // KurrentDB deduplicates within a stream only
		// A read after a number inside a record is refused by the server
		// or caught by the adapter (see the kurrentdb package's Positions).
		SparsePositions: true,
	})
}

// TestKurrentDB_ConformanceAsServed runs the suite on the adapter as the
// service opens it, with its stream prefixes, on a server where another
// application writes too: ReadAll, Head and Subscribe must leave that
// application's events out, alike.
func TestKurrentDB_ConformanceAsServed(t *testing.T) {
	url := startKurrentDB(t, "KURRENTDB_MEM_DB=true")
	// The other application: an unfiltered adapter on the same server.
	other, err := kurrentdb.Open(t.Context(), url, kurrentdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := other.Close(); err != nil {
			t.Errorf("close the other application's store: %v", err)
		}
	})
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() (eventstore.Store, error) {
			return func() (eventstore.Store, error) {
				return kurrentdb.Open(t.Context(), url, kurrentdb.Options{StreamPrefixes: servePrefixes})
			}
		},
		SparsePositions: true,
		StreamPrefix:    "order-",
		WriteForeign: func(ctx context.Context, _ eventstore.Store, n int) error {
			for range n {
				ev := eventstore.EventData{ID: uuid.New(), Type: "ForeignThingHappened",
					Data: []byte(`{"note":"another application's event"}`)}
				if _, err := other.Append(ctx, storetest.ForeignStreamPrefix+uuid.NewString(), eventstore.NoStream, ev); err != nil {
					return fmt.Errorf("append another application's event: %w", err)
				}
			}
			return nil
		},
	})
}
