package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// benchGet sends GETs to url with Host host over one keep-alive connection
// and checks each answer.
func benchGet(b *testing.B, url, host string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Host = host
	buf := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.ReadFull(res.Body, buf)
		res.Body.Close()
		if res.StatusCode != 200 || n != 5 {
			b.Fatalf("got %d, %d bytes", res.StatusCode, n)
		}
	}
}

func benchBackend(b *testing.B) *backend {
	return newBackend(b, "bench", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
}

// BenchmarkProxy measures one request through the proxy (rule match with a
// few rules, weighted pick, round robin, header rewrite, upstream round trip
// over a pooled keep-alive connection). Allocations include the client's
// and both servers' (see BenchmarkDirect for the share without the proxy).
func BenchmarkProxy(b *testing.B) {
	b.Run("server=trellis", func(b *testing.B) { benchProxy(b, false) })
	b.Run("server=net-http", func(b *testing.B) { benchProxy(b, true) })
}

func benchProxy(b *testing.B, std bool) {
	benchProxyServer(b, std, nil, nil)
}

func benchProxyObserved(b *testing.B, obs Observer, bind func(*snapshot.Snapshot)) {
	benchProxyServer(b, false, obs, bind)
}

func benchProxyServer(b *testing.B, std bool, obs Observer, bind func(*snapshot.Snapshot)) {
	be := benchBackend(b)
	e := newEnv(b, func(c *testConfig) { c.StdServer, c.Observer = std, obs })
	port := freePort(b, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-bench", be.addr())
	svc := service("svc-0bench", "bench.example.com", port,
		rule("r1", 1, snapshot.Match{Method: "POST"}, to(tg)),
		rule("r2", 2, snapshot.Match{Path: &snapshot.PathMatch{Value: "/admin"}}, snapshot.Action{FixedStatus: 404}),
		rule("r3", 3, snapshot.Match{Headers: []snapshot.HeaderMatch{{Name: "X-Canary", Value: "yes"}}}, to(tg)),
		defaultRule(forwardAction(weighted{tg, 90}, weighted{tg, 10})))
	v := e.simple(svc)
	if bind != nil {
		bind(e.holder.Load())
	}
	benchGet(b, "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/api/items?id=1", "bench.example.com")
}

// BenchmarkDirect is the baseline: the same client and backend, no proxy.
func BenchmarkDirect(b *testing.B) {
	be := benchBackend(b)
	benchGet(b, be.URL+"/api/items?id=1", "bench.example.com")
}

// BenchmarkProxyServices compares a request through a VPC that reaches one
// service with the same request through a VPC that reaches 10,000 (each
// with its own listener and target group; the measured one among them):
// the data plane's cost must not grow with the size of the installation.
func BenchmarkProxyServices(b *testing.B) {
	for _, n := range []int{1, 10000} {
		b.Run("services="+strconv.Itoa(n), func(b *testing.B) {
			be := benchBackend(b)
			e := newEnv(b, nil)
			port := freePort(b, netip.MustParseAddr("127.0.0.1"))
			svcs := make([]*snapshot.Service, 0, n)
			for i := 1; i < n; i++ {
				id := fmt.Sprintf("svc-%017d", i)
				svcs = append(svcs, service(id, "", port, defaultRule(to(ipGroup("tg-"+id, be.addr())))))
			}
			svcs = append(svcs, service("svc-0bench", "bench.example.com", port, defaultRule(to(ipGroup("tg-bench", be.addr())))))
			v := e.simple(svcs...)
			if v.Hosts.Len() < n {
				b.Fatalf("%d hosts, want at least %d", v.Hosts.Len(), n)
			}
			benchGet(b, "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/api/items?id=1", "bench.example.com")
		})
	}
}

// TestAllocationBudget pins what the proxy allocates per request on its
// hot path (the own HTTP/1.x server, a rule match, a weighted pick, the
// header rewrite, the own HTTP/1.1 client over a pooled connection): the
// allocations of a request through the proxy minus those of the same
// request sent straight to the backend. The backend reads request heads
// without parsing them, so the fields the proxy adds cost it nothing and
// the difference is the proxy's own. Raise the budget only with a reason.
func TestAllocationBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures real requests; allocation counts differ under the race detector")
	}
	const budget = 12
	ln := helloBackend(t)
	e := newEnv(t, nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-bench", ln.Addr().String())
	svc := service("svc-0bench", "bench.example.com", port,
		rule("r1", 1, snapshot.Match{Method: "POST"}, to(tg)),
		rule("r2", 2, snapshot.Match{Path: &snapshot.PathMatch{Value: "/admin"}}, snapshot.Action{FixedStatus: 404}),
		defaultRule(forwardAction(weighted{tg, 90}, weighted{tg, 10})))
	v := e.simple(svc)
	perRequest := func(url string) float64 { return allocsPerRequest(t, url) }
	// The smallest of a few rounds: a background goroutine (a GC, a
	// timer) may allocate during one.
	proxied, direct := 1e9, 1e9
	for range 3 {
		proxied = min(proxied, perRequest("http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/api/items?id=1"))
		direct = min(direct, perRequest("http://"+ln.Addr().String()+"/api/items?id=1"))
	}
	own := proxied - direct
	t.Logf("allocations per request: %.1f through the proxy, %.1f direct: the proxy's own %.1f (budget %d)", proxied, direct, own, budget)
	if own > budget {
		t.Fatalf("the proxy allocates %.1f times per request, over its budget of %d", own, budget)
	}
}

// helloBackend is a target that reads request heads without parsing them
// and answers each with "hello": it allocates nothing per request.
func helloBackend(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln
}

// allocsPerRequest is the allocations of one GET of url (Host
// bench.example.com) over a warm keep-alive connection.
func allocsPerRequest(t *testing.T, url string) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = "bench.example.com"
	buf := make([]byte, 512)
	do := func() {
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(res.Body, buf)
		res.Body.Close()
	}
	for range 50 {
		do() // warm pools and connections
	}
	return testing.AllocsPerRun(500, do)
}

// countingObserver counts what it is told, allocating nothing.
type countingObserver struct {
	started, done, ok atomic.Int64
	bytes             atomic.Int64
}

func (o *countingObserver) RequestStarted(*snapshot.Snapshot, *snapshot.Service, *snapshot.TargetGroup) {
	o.started.Add(1)
}

func (o *countingObserver) RequestDone(ob Observation) {
	o.done.Add(1)
	if ob.Status == 200 && ob.TargetGroup != nil && ob.Service != nil && ob.Forwarded {
		o.ok.Add(1)
	}
	o.bytes.Add(ob.BytesSent)
}

// TestObserverAllocations pins that the observation seam (Config.Observer)
// adds no allocation to a request: the same request through a proxy with
// an observer and through one without allocates the same.
func TestObserverAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures real requests; allocation counts differ under the race detector")
	}
	ln := helloBackend(t)
	obs := &countingObserver{}
	url := func(observer Observer) string {
		e := newEnv(t, func(c *testConfig) { c.Observer = observer })
		port := freePort(t, netip.MustParseAddr("127.0.0.1"))
		tg := ipGroup("tg-bench", ln.Addr().String())
		v := e.simple(service("svc-0bench", "bench.example.com", port, defaultRule(to(tg))))
		return "http://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String() + "/api/items?id=1"
	}
	withURL, withoutURL := url(obs), url(nil)
	with, without := 1e9, 1e9
	for range 3 {
		with = min(with, allocsPerRequest(t, withURL))
		without = min(without, allocsPerRequest(t, withoutURL))
	}
	t.Logf("allocations per request: %.1f with an observer, %.1f without", with, without)
	if with > without {
		t.Fatalf("the observer seam adds %.1f allocations per request", with-without)
	}
	if n, ok := obs.done.Load(), obs.ok.Load(); n == 0 || n != ok || obs.started.Load() != n {
		t.Fatalf("observer saw %d requests, %d forwarded with 200, %d started", n, ok, obs.started.Load())
	}
	if b, n := obs.bytes.Load(), obs.done.Load(); b != 5*n {
		t.Fatalf("observer counted %d bytes sent for %d requests of 5", b, n)
	}
}
