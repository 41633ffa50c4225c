package proxy

import (
	"io"
	"net/http"
	"net/netip"
	"testing"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// registryGroup is a compiled INSTANCE or ALB group as the snapshot
// compiler makes it (internal/snapshot/targets.go): its targets already
// resolved to addresses, an ALB target once per listener address.
func registryGroup(id, typ, targetID string, addrs ...string) *snapshot.TargetGroup {
	tg := &snapshot.TargetGroup{ID: id, ARN: latticeARN("targetgroup", id), Name: id, Account: account,
		Type: typ, Protocol: "HTTP", ProtocolVersion: "HTTP1", Port: 80, InUse: true}
	for _, a := range addrs {
		ap := netip.MustParseAddrPort(a)
		key := upstream.TargetKey(id, targetID, 80)
		if typ == "ALB" {
			key += "@" + ap.String()
		}
		tg.Targets = append(tg.Targets, &snapshot.Target{ID: targetID, Port: 80, Addr: ap, Key: key})
	}
	return tg
}

// INSTANCE and ALB groups forward like IP groups: the data plane no longer
// refuses them, and an ALB's addresses share its requests.
func TestRegistryTargetsForward(t *testing.T) {
	e := newEnv(t, nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	inst := newBackend(t, "instance", nil)
	a1, a2 := newBackend(t, "alb-1", nil), newBackend(t, "alb-2", nil)
	const albARN = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/0123456789abcdef"
	svc := service("svc-0reg", "", port,
		rule("r-alb", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/alb"}}, to(registryGroup("tg-0alb", "ALB", albARN, a1.addr(), a2.addr()))),
		defaultRule(to(registryGroup("tg-0inst", "INSTANCE", "i-0123456789abcdef0", inst.addr()))))
	v := e.simple(svc)
	expect(t, e.get(v, port, svc.DNSName, "/"), 200, "instance")
	for range 10 {
		expect(t, e.get(v, port, svc.DNSName, "/alb"), 200, "alb-")
	}
	if a1.hits.Load() != 5 || a2.hits.Load() != 5 {
		t.Fatalf("the ALB's addresses got %d and %d requests, want 5 each", a1.hits.Load(), a2.hits.Load())
	}
}

// An ALB group spread over several addresses costs a request no more
// allocations than an IP group with one target: the spread is the
// picker's round robin over compiled targets.
func TestRegistryTargetsAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures real requests; allocation counts differ under the race detector")
	}
	b1, b2 := newBackend(t, "one", nil), newBackend(t, "two", nil)
	e := newEnv(t, nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	const albARN = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/0123456789abcdef"
	svc := service("svc-0alloc", "bench.example.com", port,
		rule("r-alb", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/alb"}}, to(registryGroup("tg-0alb", "ALB", albARN, b1.addr(), b2.addr()))),
		defaultRule(to(ipGroup("tg-0ip", b1.addr()))))
	v := e.simple(svc)
	base := "http://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String()
	perRequest := func(path string) float64 {
		tr := &http.Transport{MaxIdleConnsPerHost: 8}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = "bench.example.com"
		buf := make([]byte, 64)
		do := func() {
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadFull(res.Body, buf)
			res.Body.Close()
		}
		for range 50 {
			do()
		}
		return testing.AllocsPerRun(300, do)
	}
	ip, alb := 1e9, 1e9
	for range 3 {
		ip = min(ip, perRequest("/ip"))
		alb = min(alb, perRequest("/alb"))
	}
	t.Logf("allocations per request: %.1f to an IP group, %.1f to an ALB group over two addresses", ip, alb)
	if alb > ip+0.5 {
		t.Fatalf("a request to an ALB group allocates %.1f times, more than one to an IP group (%.1f)", alb, ip)
	}
}
