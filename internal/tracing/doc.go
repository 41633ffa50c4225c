// Package tracing owns Trellis's OpenTelemetry tracing for `trellis serve
// --otlp-endpoint`: the implementation of the data plane's proxy.Tracer
// seam (one server span per request with Lattice attributes, one client
// span per upstream hop, W3C Trace Context propagation), its trace-ID
// ratio sampling, batching (batch.go) and OTLP/HTTP export (export.go).
//
// Cost: spans are recorded without the OTel SDK's tracer, with the OTel
// API's trace and attribute types: a request whose trace is not sampled
// only makes the IDs it propagates (lightSpan); a sampled one is one object
// holding both spans, queued when the request ends and encoded straight
// into the OTLP protobuf, attributes included, in a reused buffer
// (docs/tracing.md, "Cost").
//
// The data plane never imports the OTel SDK (internal/archtest): it calls
// the proxy.Tracer interface only, and only when tracing is configured.
// This package must not import the store, the service, the API, app or cli;
// app builds it and hands it to the proxy.
package tracing
