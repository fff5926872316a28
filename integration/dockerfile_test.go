package integration

import (
	"bufio"
	"context"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/eventstore/kurrentdb"
)

// The default Dockerfile builds from source in the official Go image,
// which cannot be pulled here: these tests check what they can without a
// registry (the image tests build Dockerfile.prebuilt for real).

// instruction is one line of a Dockerfile, continuation lines joined.
type instruction struct {
	cmd   string // upper case: FROM, COPY…
	args  string
	stage int // index of the FROM it belongs to; -1 before the first
}

func readDockerfile(t *testing.T, name string) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // read only
	var out []instruction
	stage := -1
	var cont strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cont.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cont.WriteString(line)
		full := cont.String()
		cont.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{cmd: cmd, args: strings.TrimSpace(args), stage: stage})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cont.Len() > 0 {
		t.Fatalf("%s ends with a continuation line", name)
	}
	return out
}

// copyArgs splits the arguments of COPY into its --from (if any), its
// sources and its destination.
func copyArgs(t *testing.T, args string) (from string, srcs []string, dst string) {
	t.Helper()
	fields := strings.Fields(args)
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
		if v, ok := strings.CutPrefix(fields[0], "--from="); ok {
			from = v
		}
		fields = fields[1:]
	}
	if len(fields) < 2 {
		t.Fatalf("COPY %s: want sources and a destination", args)
	}
	return from, fields[:len(fields)-1], fields[len(fields)-1]
}

// imageConfig returns the instructions from the final stage's USER on: the
// configuration both Dockerfiles must share.
func imageConfig(t *testing.T, name string, ins []instruction) []instruction {
	t.Helper()
	last := ins[len(ins)-1].stage
	i := slices.IndexFunc(ins, func(x instruction) bool { return x.stage == last && x.cmd == "USER" })
	if i < 0 {
		t.Fatalf("%s: no USER in the final stage", name)
	}
	return ins[i:]
}

func TestDockerfile_FromSource(t *testing.T) {
	ins := readDockerfile(t, "Dockerfile")

	// The Go image is that of go.mod's go line.
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if i := slices.Index(ins, instruction{cmd: "ARG", args: "GO_VERSION=" + string(m[1]), stage: -1}); i < 0 {
		t.Errorf("no ARG GO_VERSION=%s before the first FROM", m[1])
	}

	froms := map[int]string{}
	for _, x := range ins {
		if x.cmd == "FROM" {
			froms[x.stage] = x.args
		}
	}
	if froms[0] != "golang:${GO_VERSION} AS build" {
		t.Errorf("first stage FROM %s, want golang:${GO_VERSION} AS build", froms[0])
	}
	final := ins[len(ins)-1].stage
	if final == 0 || froms[final] != "scratch" {
		t.Errorf("final stage FROM %s, want scratch after the build stage", froms[final])
	}

	var build strings.Builder // what the build stage runs
	for _, x := range ins {
		if x.stage == 0 && x.cmd == "RUN" {
			build.WriteString(x.args + "\n")
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "go build -trimpath -o /out/orderstore ./cmd/orderstore", "go mod download"} {
		if !strings.Contains(build.String(), want) {
			t.Errorf("the build stage does not run %q", want)
		}
	}

	ignore := readDockerignore(t)
	for _, x := range ins {
		if x.cmd != "COPY" {
			continue
		}
		from, srcs, _ := copyArgs(t, x.args)
		for _, src := range srcs {
			switch {
			case from == "" && x.stage == 0:
				// From the build context: there, and not ignored.
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
				if src != "." && ignore.excludes(src) {
					t.Errorf("COPY %s: .dockerignore excludes it", src)
				}
			case from == "build" && x.stage == final:
				// Made by the build stage, or the Go image's CA bundle.
				if src != "/etc/ssl/certs/ca-certificates.crt" && !strings.Contains(build.String(), strings.TrimSuffix(src, "/")) {
					t.Errorf("COPY --from=build %s: the build stage makes no such path", src)
				}
			default:
				t.Errorf("COPY %s in stage %d: want the context in the build stage, --from=build in the final one", x.args, x.stage)
			}
		}
	}
	// COPY . . takes the module; none of the host's build output, data or
	// secrets.
	for _, p := range []string{"go.mod", "go.sum", "cmd/orderstore/main.go", "api/openapi.json"} {
		if ignore.excludes(p) {
			t.Errorf(".dockerignore excludes %s, which the build needs", p)
		}
	}
	for _, p := range []string{".git/HEAD", "bin/orderstore", "orderstore", "orderstore-tokens", "data/events.db", "api/api.test"} {
		if !ignore.excludes(p) {
			t.Errorf(".dockerignore sends %s to the daemon", p)
		}
	}

	rt := imageConfig(t, "Dockerfile", ins)
	same := func(x, y instruction) bool { return x.cmd == y.cmd && x.args == y.args }
	if !slices.EqualFunc(rt, imageConfig(t, "Dockerfile.prebuilt", readDockerfile(t, "Dockerfile.prebuilt")), same) {
		t.Errorf("Dockerfile and Dockerfile.prebuilt configure the image differently from USER on")
	}
	user := rt[0].args
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric user other than root", user)
	}
	if !slices.ContainsFunc(rt, func(x instruction) bool {
		return x.cmd == "HEALTHCHECK" && strings.Contains(x.args, `CMD ["/orderstore", "health"`)
	}) {
		t.Errorf("no HEALTHCHECK running /orderstore health")
	}
}

func TestDockerfile_Prebuilt(t *testing.T) {
	ins := readDockerfile(t, prebuiltDockerfile)
	if ins[0].cmd != "FROM" || ins[0].args != "scratch" || ins[len(ins)-1].stage != 0 {
		t.Fatalf("%s: want a single stage FROM scratch: nothing to pull", prebuiltDockerfile)
	}
	// Only what buildImage and build-image.sh put in the context.
	script, err := os.ReadFile("build-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ins {
		if x.cmd != "COPY" {
			continue
		}
		_, srcs, _ := copyArgs(t, x.args)
		for _, src := range srcs {
			if !slices.Contains([]string{"rootfs/", "data/", "orderstore"}, src) {
				t.Errorf("COPY %s: not in the context the tests prepare", src)
			}
			if !strings.Contains(string(script), `"$ctx/`+strings.TrimSuffix(src, "/")) {
				t.Errorf("COPY %s: integration/build-image.sh does not prepare it", src)
			}
		}
	}
}

// dockerignore is the patterns of .dockerignore, in order.
type dockerignore []string

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var d dockerignore
	for l := range strings.Lines(string(b)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			d = append(d, l)
		}
	}
	return d
}

// excludes reports whether the path (slash-separated, relative to the
// context) is left out: the last pattern matching it or a parent
// directory decides, as for docker. "**/" matches any depth.
func (d dockerignore) excludes(path string) bool {
	parts := strings.Split(path, "/")
	out := false
	for _, p := range d {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		match := false
		for i := 1; i <= len(parts) && !match; i++ {
			prefix := strings.Join(parts[:i], "/")
			if rest, ok := strings.CutPrefix(p, "**/"); ok {
				match, _ = filepath.Match(rest, parts[i-1])
			} else {
				match, _ = filepath.Match(p, prefix)
			}
		}
		if match {
			out = !neg
		}
	}
	return out
}

func TestCompose(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	compose := string(b)

	// build: . builds the default Dockerfile: the path that works with a
	// registry.
	if !regexp.MustCompile(`(?m)^\s+build: \.$`).MatchString(compose) {
		t.Errorf("docker-compose.yml does not build orderstore with build: .")
	}

	// One KurrentDB image, named as KurrentDB's documentation does.
	m := regexp.MustCompile(`\$\{KURRENTDB_IMAGE:-([^}]+)\}`).FindAllStringSubmatch(compose, -1)
	if len(m) != 1 || m[0][1] != defaultKurrentDBImage {
		t.Errorf("compose KurrentDB image %q, want one default, %s, as the tests", m, defaultKurrentDBImage)
	}
	if !strings.HasPrefix(defaultKurrentDBImage, "docker.kurrent.io/kurrent-latest/kurrentdb:") {
		t.Errorf("default KurrentDB image %s: want docker.kurrent.io/kurrent-latest/kurrentdb:<version>", defaultKurrentDBImage)
	}

	// Cluster discovery outlasts a leader election, and the adapter
	// accepts the string (Open does no I/O).
	discover := regexp.MustCompile(`esdb\+discover://[^"\s]+`).FindAllString(compose, -1)
	if len(discover) == 0 {
		t.Fatal("no esdb+discover:// connection string in docker-compose.yml")
	}
	for _, s := range discover {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		interval, _ := strconv.Atoi(q.Get("discoveryInterval"))
		attempts, _ := strconv.Atoi(q.Get("maxDiscoverAttempts"))
		if d := time.Duration(interval) * time.Millisecond * time.Duration(attempts); d < 20*time.Second {
			t.Errorf("%s: discovery gives up after %s, before a leader election may end", s, d)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		store, err := kurrentdb.Open(ctx, s, kurrentdb.Options{})
		cancel()
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	}

	// The cluster's subnet is not KurrentDB's sample's, and holds every
	// fixed address.
	sm := regexp.MustCompile(`subnet: (\S+)`).FindStringSubmatch(compose)
	if sm == nil {
		t.Fatal("no subnet in docker-compose.yml")
	}
	subnet, err := netip.ParsePrefix(sm[1])
	if err != nil {
		t.Fatal(err)
	}
	if subnet.Overlaps(netip.MustParsePrefix("172.30.240.0/24")) {
		t.Errorf("subnet %s overlaps KurrentDB's cluster sample's 172.30.240.0/24", subnet)
	}
	addrs := regexp.MustCompile(`(?:ipv4_address|KURRENTDB_REPLICATION_IP|KURRENTDB_GOSSIP_SEED): (\S+)`).FindAllStringSubmatch(compose, -1)
	if len(addrs) != 9 {
		t.Errorf("%d fixed addresses, want 9 (3 nodes)", len(addrs))
	}
	for _, a := range addrs {
		for _, hp := range strings.Split(a[1], ",") {
			host, _, _ := strings.Cut(hp, ":")
			ip, err := netip.ParseAddr(host)
			if err != nil || !subnet.Contains(ip) {
				t.Errorf("address %s is not in the subnet %s", hp, subnet)
			}
		}
	}
}
