package proxy

import (
	"io"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
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

// endObserver keeps the last observation's end and duration.
type endObserver struct {
	mu  sync.Mutex
	end time.Time
	dur time.Duration
}

func (*endObserver) RequestStarted(*snapshot.Snapshot, *snapshot.Service, *snapshot.TargetGroup) {}
func (o *endObserver) RequestDone(ob Observation) {
	o.mu.Lock()
	o.end, o.dur = ob.End, ob.Duration
	o.mu.Unlock()
}

// TestObservationEnd: Observation.End is when the response ended, so
// observers that bucket requests by time (the traffic aggregates) need not
// read the clock again.
func TestObservationEnd(t *testing.T) {
	ln := helloBackend(t)
	obs := &endObserver{}
	e := newEnv(t, func(c *testConfig) { c.Observer = obs })
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	v := e.simple(service("svc-0end", "end.example.com", port, defaultRule(to(ipGroup("tg-end", ln.Addr().String())))))
	before := time.Now()
	resp, err := http.Get("http://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		obs.mu.Lock()
		end, dur := obs.end, obs.dur
		obs.mu.Unlock()
		if !end.IsZero() {
			if end.Before(before) || end.After(time.Now()) || dur <= 0 || end.Add(-dur).Before(before) {
				t.Fatalf("end %v, duration %v: want within the request (sent at %v)", end, dur, before)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no observation with an end")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
