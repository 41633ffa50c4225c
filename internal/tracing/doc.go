// Package tracing owns Trellis's OpenTelemetry setup: the tracer provider,
// its sampler and the OTLP/HTTP exporter of `trellis serve --otlp-endpoint`,
// and the implementation of the data plane's proxy.Tracer seam (one server
// span per request with Lattice attributes, one client span per upstream
// hop, W3C Trace Context propagation).
//
// The data plane never imports the OTel SDK (internal/archtest): it calls
// the proxy.Tracer interface only, and only when tracing is configured.
// This package must not import the store, the service, the API, app or cli;
// app builds it and hands it to the proxy.
package tracing
