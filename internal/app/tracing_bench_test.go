package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// BenchmarkDataPlaneTracing compares requests through the data plane with
// tracing off (no --otlp-endpoint: no Tracer), on at 100% sampling (every
// request's server and client spans exported to an OTLP/HTTP receiver in
// the process) and on at 0% (spans started, none recorded). Like
// BenchmarkDataPlaneMetrics: one keep-alive connection, sequential, so
// ns/op is the per-request latency. The bar is req/s with tracing
// at 100% ≥ 0.85× off. The client sends a traceparent, as a traced caller
// would.
func BenchmarkDataPlaneTracing(b *testing.B) {
	for _, c := range []struct {
		name   string
		on     bool
		sample float64
	}{{"tracing=off", false, 0}, {"tracing=100%", true, 1}, {"tracing=0%", true, 0}} {
		b.Run(c.name, func(b *testing.B) {
			o := apptest.Options{}
			if c.on {
				rc := newBenchReceiver(b)
				o.OTLPEndpoint, o.TraceSample = rc.URL+"/v1/traces", c.sample
			}
			benchDataPlane(b, o, 18087, http.Header{"Traceparent": {"00-" + clientTraceID + "-" + clientSpanID + "-01"}})
		})
	}
}

// newBenchReceiver is an OTLP/HTTP endpoint that reads and drops exports.
func newBenchReceiver(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(s.Close)
	return s
}
