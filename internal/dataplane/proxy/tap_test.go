package proxy

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
)

// TestAccessLogTapped: a tap (`trellis logs tail`) is a reason to build a
// request's record as a subscription is: a tapped service's requests, and
// every request through a tapped network, are handed to the logger
// although nothing subscribes; an untapped service's are not.
func TestAccessLogTapped(t *testing.T) {
	rec := &recorder{tapped: map[string]bool{}}
	e := newEnv(t, func(c *testConfig) { c.AccessLog = rec })
	be := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-tap", be.addr())
	tapped := service("svc-0tapped", "tapped.example.com", port, defaultRule(to(tg)))
	other := service("svc-0other", "other.example.com", port, defaultRule(to(tg)))
	v := e.simple(tapped, other)
	rec.tapped[tapped.ARN] = true

	expect(t, e.do(http.MethodGet, v.Ingress, port, "other.example.com", "/untapped", nil, nil), 204, "")
	expect(t, e.do(http.MethodGet, v.Ingress, port, "tapped.example.com", "/tapped", nil, nil), 204, "")
	got := rec.last(t, "/tapped")
	if got.e.ServiceARN != tapped.ARN || got.e.Status != 204 || len(got.svcSubs) != 0 || len(got.snSubs) != 0 {
		t.Fatalf("tapped record: %+v", got)
	}
	time.Sleep(50 * time.Millisecond) // the untapped request's record would have come first
	if n := rec.count(); n != 1 {
		t.Fatalf("%d records, want only the tapped service's", n)
	}

	// The network tapped: every request through it, to any service, and
	// to none (404 for an unknown host).
	rec.tapped = map[string]bool{v.ServiceNetwork.ARN: true}
	expect(t, e.do(http.MethodGet, v.Ingress, port, "other.example.com", "/via-network", nil, nil), 204, "")
	if got := rec.last(t, "/via-network"); got.e.ServiceARN != other.ARN || got.e.ServiceNetworkARN != v.ServiceNetwork.ARN {
		t.Fatalf("network tap record: %+v", got.e)
	}
	res := e.do(http.MethodGet, v.Ingress, port, "nobody.example.com", "/nowhere", nil, nil)
	if res.status != 404 {
		t.Fatalf("unknown host: %d", res.status)
	}
	if got := rec.last(t, "/nowhere"); got.e.ServiceARN != "" || got.e.Status != 404 {
		t.Fatalf("unknown host record: %+v", got.e)
	}
}

// TestTapAllocations pins that the tap check costs a request nothing while
// nobody tails it: the same request through a proxy whose access logger is
// a real accesslog.Logger (no subscriptions; a tap open on another
// service, so the check goes past its first atomic load) allocates as much
// as through a proxy with no access logger at all.
func TestTapAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures real requests; allocation counts differ under the race detector")
	}
	ln := helloBackend(t)
	lg, err := accesslog.New(accesslog.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lg.Close() })
	tp, err := lg.Taps().Open(account, latticeARN("service", "svc-0elsewhere"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	url := func(al AccessLogger) string {
		e := newEnv(t, func(c *testConfig) { c.AccessLog = al })
		port := freePort(t, netip.MustParseAddr("127.0.0.1"))
		tg := ipGroup("tg-bench", ln.Addr().String())
		v := e.simple(service("svc-0bench", "bench.example.com", port, defaultRule(to(tg))))
		return "http://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String() + "/api/items?id=1"
	}
	withURL, withoutURL := url(lg), url(nil)
	with, without := 1e9, 1e9
	for range 3 {
		with = min(with, allocsPerRequest(t, withURL))
		without = min(without, allocsPerRequest(t, withoutURL))
	}
	t.Logf("allocations per request: %.1f with an untapped access logger, %.1f without one", with, without)
	if with > without {
		t.Fatalf("the tap check adds %.1f allocations per request", with-without)
	}
	if n := len(tp.Records()); n != 0 {
		t.Fatalf("the tap of another service got %d records", n)
	}
}
