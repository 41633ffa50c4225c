package proxy

import (
	"net/netip"
	"testing"
)

// TestObserversFanOut: Observers hands every observation to each of its
// observers and adds no allocation to a request (the metrics and the
// traffic aggregates both observe every request).
func TestObserversFanOut(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures real requests; allocation counts differ under the race detector")
	}
	ln := helloBackend(t)
	a, b := &countingObserver{}, &countingObserver{}
	url := func(observer Observer) string {
		e := newEnv(t, func(c *testConfig) { c.Observer = observer })
		port := freePort(t, netip.MustParseAddr("127.0.0.1"))
		tg := ipGroup("tg-bench", ln.Addr().String())
		v := e.simple(service("svc-0bench", "bench.example.com", port, defaultRule(to(tg))))
		return "http://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String() + "/api/items?id=1"
	}
	oneURL, bothURL := url(a), url(Observers{a, b})
	one, both := 1e9, 1e9
	for range 3 {
		one = min(one, allocsPerRequest(t, oneURL))
		both = min(both, allocsPerRequest(t, bothURL))
	}
	if both > one {
		t.Fatalf("the fan-out adds %.1f allocations per request", both-one)
	}
	if nb := b.done.Load(); nb == 0 || b.started.Load() != nb || b.ok.Load() != nb {
		t.Fatalf("the second observer saw %d requests, %d started, %d ok", nb, b.started.Load(), b.ok.Load())
	}
	if a.done.Load() <= b.done.Load() {
		t.Fatalf("the first observer saw %d requests, the second %d: want more (it saw the single-observer proxy's too)", a.done.Load(), b.done.Load())
	}
}
