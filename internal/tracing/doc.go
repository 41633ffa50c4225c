// Package tracing owns Trellis's OpenTelemetry setup: the tracer provider,
// its sampler and the OTLP/HTTP exporter of `trellis serve --otlp-endpoint`,
// and the implementation of the data plane's proxy.Tracer seam (one server
// span per request with Lattice attributes, one client span per upstream
// hop, W3C Trace Context propagation).
//
// Cost: a request whose trace is not sampled never reaches the SDK (its
// span is a lightSpan that only propagates IDs); sampled spans go through
// the SDK's batch processor to the own OTLP/HTTP encoder (export.go), which
// writes the protobuf straight from the SDK's read-only spans into a
// reused buffer.
//
// The data plane never imports the OTel SDK (internal/archtest): it calls
// the proxy.Tracer interface only, and only when tracing is configured.
// This package must not import the store, the service, the API, app or cli;
// app builds it and hands it to the proxy.
package tracing
