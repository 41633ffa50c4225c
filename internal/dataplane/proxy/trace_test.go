package proxy

import (
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// fixedTracer hands out one recording span that allocates nothing: what
// a traced request costs the proxy itself is measured, not a tracer.
type fixedTracer struct{ sp *fixedSpan }

func (t fixedTracer) Start(*http.Request, time.Time) Span { return t.sp }

type fixedSpan struct {
	tp    []string
	ended atomic.Int64
	fails atomic.Int64
}

func (s *fixedSpan) Upstream() ([]string, []string) { return s.tp, nil }
func (s *fixedSpan) TraceID() string                { return "" }
func (s *fixedSpan) Recording() bool                { return true }
func (s *fixedSpan) End(o Observation) {
	s.ended.Add(1)
	if o.Failure != "" {
		s.fails.Add(1)
	}
}

// TestTracedRequestAllocations pins what a recorded trace costs the proxy
// per request: its context (one object that keeps the server's seams, so
// that the upstream client hooks the client's departure as without
// tracing) and the request's copy that carries it — at most 2
// allocations more than the same request untraced.
func TestTracedRequestAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures real requests; allocation counts differ under the race detector")
	}
	ln := helloBackend(t)
	sp := &fixedSpan{tp: []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	url := func(tr Tracer) string {
		e := newEnv(t, func(c *testConfig) { c.Tracer = tr })
		port := freePort(t, netip.MustParseAddr("127.0.0.1"))
		tg := ipGroup("tg-bench", ln.Addr().String())
		v := e.simple(service("svc-0bench", "bench.example.com", port, defaultRule(to(tg))))
		return "http://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String() + "/api/items?id=1"
	}
	withURL, withoutURL := url(fixedTracer{sp}), url(nil)
	with, without := 1e9, 1e9
	for range 3 {
		with = min(with, allocsPerRequest(t, withURL))
		without = min(without, allocsPerRequest(t, withoutURL))
	}
	t.Logf("allocations per request: %.1f traced, %.1f untraced", with, without)
	if with > without+2 {
		t.Fatalf("a traced request allocates %.1f more than an untraced one; want at most 2", with-without)
	}
	if sp.ended.Load() == 0 || sp.fails.Load() != 0 {
		t.Fatalf("spans ended %d, with a failure %d", sp.ended.Load(), sp.fails.Load())
	}
}
