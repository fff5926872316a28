// Package telemetry exports OpenTelemetry spans over OTLP/HTTP: requests
// (the API), appends (the orders service) and live projection batches
// (the projections), each consumer span linked to the spans that wrote its
// events (their metadata's traceparent).
//
// Export is off unless serve is given an endpoint (--otlp-endpoint, or the
// standard OTEL_EXPORTER_OTLP_ENDPOINT). Off, the packages that make spans
// hold a nil tracer and skip every span: no allocation, no clock read.
package telemetry
