package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
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
	be := benchBackend(b)
	e := newEnv(b, func(c *Config) { c.StdServer = std })
	port := freePort(b, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-bench", be.addr())
	svc := service("svc-0bench", "bench.example.com", port,
		rule("r1", 1, snapshot.Match{Method: "POST"}, to(tg)),
		rule("r2", 2, snapshot.Match{Path: &snapshot.PathMatch{Value: "/admin"}}, snapshot.Action{FixedStatus: 404}),
		rule("r3", 3, snapshot.Match{Headers: []snapshot.HeaderMatch{{Name: "X-Canary", Value: "yes"}}}, to(tg)),
		defaultRule(forwardAction(weighted{tg, 90}, weighted{tg, 10})))
	v := e.simple(svc)
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
			if len(v.Hosts) < n {
				b.Fatalf("%d hosts, want at least %d", len(v.Hosts), n)
			}
			benchGet(b, "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/api/items?id=1", "bench.example.com")
		})
	}
}
