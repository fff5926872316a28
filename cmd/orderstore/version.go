package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is what the binary knows of its own build.
type buildInfo struct {
	// Version is the main module's version: a tag for `go install
	// …@v1.2.3`, "(devel)" for a build from a checkout.
	Version string
	// Revision and Time are the VCS commit and its time, when the build
	// ran in a checkout with the VCS tool at hand; Modified reports
	// uncommitted changes. Empty otherwise (go test, -buildvcs=false).
	Revision, Time string
	Modified       bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// readBuildInfo reads the build information embedded by the Go toolchain.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// revision is the short form of the revision for display, "+dirty" when
// the working tree had changes, "unknown" without VCS information.
func (b buildInfo) revision() string {
	r := b.Revision
	if r == "" {
		return "unknown"
	}
	if len(r) > 12 {
		r = r[:12]
	}
	if b.Modified {
		r += "+dirty"
	}
	return r
}

// registerBuildInfo registers orderstore_build_info, a gauge at 1 whose
// labels say which build is running (the usual Prometheus idiom: join on
// it to tell versions apart across a rollout).
func registerBuildInfo(reg prometheus.Registerer, b buildInfo) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "orderstore_build_info",
		Help: "Build of the running orderstore: always 1, the labels say which.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(b.Version, b.revision(), b.GoVersion).Set(1)
	reg.MustRegister(g)
}

// version prints the build information.
func version(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("orderstore version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: orderstore version\n\n"+
			"Prints the module version, the VCS revision and time of the build and\n"+
			"the Go version that built it.\n")
	}
	if help, err := parse(fs, args, stdout); help || err != nil {
		return err
	}
	b := readBuildInfo()
	t := b.Time
	if t == "" {
		t = "unknown"
	}
	fmt.Fprintf(stdout, "orderstore %s\nrevision:  %s\ntime:      %s\ngo:        %s %s/%s\n",
		b.Version, b.revision(), t, b.GoVersion, runtime.GOOS, runtime.GOARCH)
	return nil
}
