package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ErrEndpoint is returned by Open for an endpoint that is not an http or
// https URL.
var ErrEndpoint = errors.New("OTLP endpoint must be an http:// or https:// URL")

// batchTimeout is how long spans wait to be exported with others.
const batchTimeout = time.Second

// Provider exports the spans of its tracers. Close it to flush them.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// Open returns a Provider exporting to endpoint, the base URL of an OTLP
// collector as OTEL_EXPORTER_OTLP_ENDPOINT gives it
// (http://collector:4318): spans go to its path /v1/traces.
func Open(ctx context.Context, endpoint, version string) (*Provider, error) {
	target, err := TracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(target))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "orderstore"), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(batchTimeout)), sdktrace.WithResource(res))
	return &Provider{tp: tp}, nil
}

// TracesURL is the URL spans are sent to for an endpoint base URL.
func TracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: %q", ErrEndpoint, endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	return u.String(), nil
}

// Tracer returns the tracer of a component (its instrumentation scope).
func (p *Provider) Tracer(component string) trace.Tracer {
	return p.tp.Tracer("github.com/orderstore/orderstore/" + component)
}

// Close exports the spans still waiting, within ctx, and stops.
func (p *Provider) Close(ctx context.Context) error {
	if err := p.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush spans: %w", err)
	}
	return nil
}
