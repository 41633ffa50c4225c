package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/ingress"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

func TestHostRouting(t *testing.T) {
	e := newEnv(t, nil)
	a, b, c := newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)
	ip := nextIngress()
	port := freePort(t, ip)
	svcA := service("svc-0a", "Api.Example.com", port, defaultRule(to(ipGroup("tg-a", a.addr()))))
	svcB := service("svc-0b", "", port, defaultRule(to(ipGroup("tg-b", b.addr()))))
	svcC := service("svc-0c", "c.example.com", port, defaultRule(to(ipGroup("tg-c", c.addr()))))
	// vpc1 reaches a and b; c is associated only with another network, which
	// vpc2 reaches.
	vpc1 := vpcIn("vpc-0a000000000000001", ip, network("sn-01"), svcA, svcB)
	vpc2 := vpcIn("vpc-0a000000000000002", nextIngress(), network("sn-02"), svcC)
	e.publish(snapshotOf(vpc1, vpc2))

	for _, host := range []string{
		svcA.DNSName, strings.ToUpper(svcA.DNSName), hostPort(svcA.DNSName, port),
		"api.example.com", "API.EXAMPLE.COM:" + itoa(port), "api.example.com.",
	} {
		expect(t, e.get(vpc1, port, host, "/"), 200, "a")
	}
	expect(t, e.get(vpc1, port, hostPort(svcB.DNSName, port), "/"), 200, "b")

	r := e.get(vpc1, port, "nope.example.com", "/")
	expect(t, r, 404, "Non Existent Service: no service named nope.example.com is reachable from vpc-0a000000000000001")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("404 content type %q", ct)
	}
	// c exists but vpc1 cannot reach it: same answer, and c is never dialed.
	expect(t, e.get(vpc1, port, "c.example.com", "/"), 404, "Non Existent Service")
	expect(t, e.get(vpc1, port, svcC.DNSName, "/"), 404, "Non Existent Service")
	if n := c.hits.Load(); n != 0 {
		t.Fatalf("unreachable service's target got %d requests", n)
	}
	// From vpc2 it is reachable, and a is not.
	expect(t, e.get(vpc2, port, "C.example.com", "/"), 200, "c")
	expect(t, e.get(vpc2, port, "api.example.com", "/"), 404, "reachable from vpc-0a000000000000002")
	if a.hits.Load() != 6 || b.hits.Load() != 1 || c.hits.Load() != 1 {
		t.Fatalf("hits a=%d b=%d c=%d", a.hits.Load(), b.hits.Load(), c.hits.Load())
	}
	got := e.in.Addrs()
	if len(got) != 2 || got[0] != hostPort(vpc1.Ingress.String(), port) || got[1] != hostPort(vpc2.Ingress.String(), port) {
		t.Fatalf("Addrs() = %v", got)
	}
}

func TestListenerPortMismatch(t *testing.T) {
	e := newEnv(t, nil)
	a := newBackend(t, "a", nil)
	ip := nextIngress()
	p1, p2 := freePort(t, ip), freePort(t, ip)
	svcA := service("svc-0a", "a.example.com", p1, defaultRule(to(ipGroup("tg-a", a.addr()))))
	svcB := service("svc-0b", "b.example.com", p2, defaultRule(to(ipGroup("tg-b", a.addr()))))
	v := vpcIn("vpc-01", ip, network("sn-01"), svcA, svcB)
	e.publish(snapshotOf(v))
	expect(t, e.get(v, p1, "a.example.com", "/"), 200, "a")
	// The VPC listens on p2 for b; a has no listener there.
	expect(t, e.get(v, p2, "a.example.com", "/"), 404, "no listener on port")
}

func TestRules(t *testing.T) {
	e := newEnv(t, nil)
	def, api, canary, post := newBackend(t, "default", nil), newBackend(t, "api", nil), newBackend(t, "canary", nil), newBackend(t, "post", nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0r", "rules.example.com", port,
		rule("r-gone", 1, snapshot.Match{Path: &snapshot.PathMatch{Exact: true, Value: "/gone"}}, snapshot.Action{FixedStatus: 404}),
		rule("r-boom", 2, snapshot.Match{Path: &snapshot.PathMatch{Value: "/boom"}}, snapshot.Action{FixedStatus: 500}),
		rule("r-canary", 3, snapshot.Match{Headers: []snapshot.HeaderMatch{{Name: "X-Canary", Kind: snapshot.HeaderExact, Value: "yes"}}}, to(ipGroup("tg-canary", canary.addr()))),
		rule("r-api", 4, snapshot.Match{Path: &snapshot.PathMatch{Value: "/api/"}}, to(ipGroup("tg-api", api.addr()))),
		rule("r-post", 5, snapshot.Match{Method: "POST"}, to(ipGroup("tg-post", post.addr()))),
		rule("r-cs", 6, snapshot.Match{Path: &snapshot.PathMatch{Exact: true, Value: "/CS", CaseSensitive: true}}, snapshot.Action{FixedStatus: 404}),
		defaultRule(to(ipGroup("tg-default", def.addr()))),
	)
	v := e.simple(svc)
	h := "rules.example.com"
	for _, tc := range []struct {
		method, path string
		header       http.Header
		status       int
		body         string
	}{
		{"GET", "/", nil, 200, "default"},
		{"GET", "/API/users", nil, 200, "api"},
		{"GET", "/apiary", nil, 200, "default"},
		{"GET", "/api/users", http.Header{"X-Canary": {"YES"}}, 200, "canary"},
		{"GET", "/", http.Header{"X-Canary": {"no"}}, 200, "default"},
		{"POST", "/", nil, 200, "post"},
		{"POST", "/api/x", nil, 200, "api"},
		{"GET", "/gone", nil, 404, ""},
		{"GET", "/GONE", nil, 404, ""},
		{"GET", "/gone/x", nil, 200, "default"},
		{"GET", "/boom/anything", nil, 500, ""},
		{"GET", "/CS", nil, 404, ""},
		{"GET", "/cs", nil, 200, "default"},
	} {
		r := e.do(tc.method, v.Ingress, port, h, tc.path, tc.header, nil)
		if r.status != tc.status || r.body != tc.body {
			t.Errorf("%s %s %v: got %d %q, want %d %q", tc.method, tc.path, tc.header, r.status, r.body, tc.status, tc.body)
		}
		if r.header.Get("X-Amzn-Requestid") == "" {
			t.Errorf("%s %s: no request id", tc.method, tc.path)
		}
	}
}

func TestWeightedSplit(t *testing.T) {
	e := newEnv(t, nil)
	blue, green := newBackend(t, "blue", nil), newBackend(t, "green", nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0w", "", port, defaultRule(forwardAction(
		weighted{ipGroup("tg-blue", blue.addr()), 90},
		weighted{ipGroup("tg-green", green.addr()), 10},
		weighted{ipGroup("tg-zero", closedAddr(t)), 0},
	)))
	v := e.simple(svc)
	const n = 1000
	for range n {
		expect(t, e.get(v, port, svc.DNSName, "/"), 200, "")
	}
	b, g := blue.hits.Load(), green.hits.Load()
	if b+g != n || b < 850 || b > 950 {
		t.Fatalf("blue %d, green %d of %d; want 90%% ± 5%%", b, g, n)
	}
	t.Logf("blue %d, green %d", b, g)
}

func TestRoundRobin(t *testing.T) {
	e := newEnv(t, nil)
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0rr", "", port, defaultRule(to(ipGroup("tg-rr", a.addr(), b.addr()))))
	v := e.simple(svc)
	var order []string
	for range 10 {
		order = append(order, e.get(v, port, svc.DNSName, "/").body)
	}
	if got := strings.Join(order, ","); got != "a,b,a,b,a,b,a,b,a,b" {
		t.Fatalf("order %s", got)
	}
}

func TestLeastOutstanding(t *testing.T) {
	started := make(chan string, 1)
	release := make(chan struct{})
	block := func(name string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				started <- name
				<-release
			}
			io.WriteString(w, name)
		}
	}
	e := newEnv(t, func(c *testConfig) { c.Picker = &upstream.Picker{Policy: upstream.LeastOutstanding} })
	a, b := newBackend(t, "a", block("a")), newBackend(t, "b", block("b"))
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0lo", "", port, defaultRule(to(ipGroup("tg-lo", a.addr(), b.addr()))))
	v := e.simple(svc)

	done := make(chan response)
	go func() { done <- e.get(v, port, svc.DNSName, "/block") }()
	busy := <-started
	other := map[string]string{"a": "b", "b": "a"}[busy]
	for range 6 {
		expect(t, e.get(v, port, svc.DNSName, "/"), 200, other)
	}
	close(release)
	expect(t, <-done, 200, busy)
	// Idle again: ties rotate.
	seen := map[string]int{}
	for range 4 {
		seen[e.get(v, port, svc.DNSName, "/").body]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Fatalf("after release: %v", seen)
	}
}

func TestFailOpen(t *testing.T) {
	e := newEnv(t, nil)
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-fo", a.addr(), b.addr())
	svc := service("svc-0fo", "", port, defaultRule(to(tg)))
	v := e.simple(svc)
	for _, tgt := range tg.Targets {
		e.reg.Get(tgt.Key).SetHealth(upstream.HealthUnhealthy, "HealthCheckFailed")
	}
	for range 10 {
		expect(t, e.get(v, port, svc.DNSName, "/"), 200, "")
	}
	if a.hits.Load() != 5 || b.hits.Load() != 5 {
		t.Fatalf("hits a=%d b=%d", a.hits.Load(), b.hits.Load())
	}
	// One healthy again: it takes everything.
	e.reg.Get(tg.Targets[1].Key).SetHealth(upstream.HealthHealthy, "")
	for range 4 {
		expect(t, e.get(v, port, svc.DNSName, "/"), 200, "b")
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHeadersToTarget(t *testing.T) {
	e := newEnv(t, nil)
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Amzn-Requestid", "from-the-target")
		w.Header().Set("X-Kept", "1")
		io.WriteString(w, "ok")
	})
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-h", be.addr())
	svc := service("svc-0h", "h.example.com", port, defaultRule(to(tg)))
	v := e.simple(svc)

	hdr := http.Header{
		"X-Forwarded-For":              {"203.0.113.7"},
		"X-Forwarded-Port":             {"1"},
		"X-Forwarded-Proto":            {"https"},
		"X-Amzn-Lattice-Identity":      {"Principal=arn:aws:iam::999999999999:root"},
		"X-Amzn-Lattice-Identity-Tags": {"principal=evil"},
		"X-Amzn-Lattice-Network":       {"SourceVpcArn=spoofed"},
		"X-Amzn-Lattice-Target":        {"ServiceArn=spoofed"},
		"Connection":                   {"X-Hop, keep-alive"},
		"X-Hop":                        {"1"},
		"Keep-Alive":                   {"timeout=5"},
		"Proxy-Authorization":          {"Basic Zm9vOmJhcg=="},
		"Te":                           {"trailers, deflate"},
		"X-Amzn-Requestid":             {"client-chosen-id"},
		"X-Custom":                     {"kept", "twice"},
	}
	r := e.do("GET", v.Ingress, port, "H.Example.com:"+itoa(port), "/p?q=1", hdr, nil)
	expect(t, r, 200, "ok")
	got := be.lastSeen()
	h := got.Header
	want := map[string]string{
		"X-Forwarded-For":        "127.0.0.1",
		"X-Forwarded-Port":       itoa(port),
		"X-Forwarded-Proto":      "http",
		"X-Amzn-Lattice-Network": "SourceVpcArn=" + v.ARN,
		"X-Amzn-Lattice-Target":  "ServiceArn=" + svc.ARN + ";ServiceNetworkArn=" + v.ServiceNetwork.ARN + ";TargetGroupArn=" + tg.ARN,
		"X-Amzn-Requestid":       "client-chosen-id",
		"Te":                     "trailers",
	}
	for k, w := range want {
		if vs := h[k]; len(vs) != 1 || vs[0] != w {
			t.Errorf("target saw %s = %q, want %q", k, vs, w)
		}
	}
	for _, k := range []string{"X-Amzn-Lattice-Identity", "X-Amzn-Lattice-Identity-Tags", "X-Hop", "Keep-Alive", "Proxy-Authorization", "Connection", "User-Agent"} {
		if vs, ok := h[k]; ok && k != "User-Agent" {
			t.Errorf("target saw %s = %q", k, vs)
		}
	}
	if ua := h.Get("User-Agent"); ua != "Go-http-client/1.1" {
		t.Errorf("User-Agent %q: the client's should pass through", ua)
	}
	if c := h["X-Custom"]; len(c) != 2 {
		t.Errorf("X-Custom %q", c)
	}
	if got.Host != "H.Example.com:"+itoa(port) || got.Path != "/p" {
		t.Errorf("target saw Host %q path %q", got.Host, got.Path)
	}
	// The client sees our request ID, not the target's, and no hop-by-hop.
	if id := r.header.Get("X-Amzn-Requestid"); id != "client-chosen-id" {
		t.Errorf("echoed request id %q", id)
	}
	if r.header.Get("X-Resp-Hop") != "" || r.header.Get("Keep-Alive") != "" || r.header.Get("X-Kept") != "1" {
		t.Errorf("response header %v", r.header)
	}

	// No client ID: a UUID is generated, sent to the target and echoed.
	r = e.do("GET", v.Ingress, port, "h.example.com", "/", http.Header{"User-Agent": {""}}, nil)
	id := r.header.Get("X-Amzn-Requestid")
	if !uuidRE.MatchString(id) {
		t.Fatalf("generated request id %q", id)
	}
	if got := be.lastSeen().Header; got.Get("X-Amzn-Requestid") != id {
		t.Fatalf("target saw request id %q, client %q", got.Get("X-Amzn-Requestid"), id)
	} else if _, ok := got["User-Agent"]; ok {
		t.Fatalf("target saw a User-Agent the client did not send: %q", got["User-Agent"])
	}
	// A long one is truncated to 512 bytes.
	long := strings.Repeat("x", 600)
	r = e.do("GET", v.Ingress, port, "h.example.com", "/", http.Header{"X-Amzn-Requestid": {long}}, nil)
	if id := r.header.Get("X-Amzn-Requestid"); id != long[:512] || be.lastSeen().Header.Get("X-Amzn-Requestid") != long[:512] {
		t.Fatalf("long id: echoed %d bytes", len(id))
	}
	// Errors carry the id too.
	r = e.do("GET", v.Ingress, port, "unknown.example.com", "/", http.Header{"X-Amzn-Requestid": {"e1"}}, nil)
	if r.status != 404 || r.header.Get("X-Amzn-Requestid") != "e1" {
		t.Fatalf("404: %d id %q", r.status, r.header.Get("X-Amzn-Requestid"))
	}
}

// TestHopByHopRaw sends hop-by-hop headers the Go client would not send
// itself (Upgrade, Proxy-Connection, Transfer-Encoding) over a raw
// connection.
func TestHopByHopRaw(t *testing.T) {
	e := newEnv(t, nil)
	be := newBackend(t, "a", nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0raw", "raw.example.com", port, defaultRule(to(ipGroup("tg-raw", be.addr()))))
	v := e.simple(svc)
	c, err := net.Dial("tcp", netip.AddrPortFrom(v.Ingress, uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: raw.example.com\r\nConnection: Upgrade, X-Foo\r\nUpgrade: websocket\r\n"+
		"X-Foo: 1\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != "a" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	h := be.lastSeen().Header
	for _, k := range []string{"Upgrade", "Connection", "X-Foo", "Proxy-Connection", "Trailer", "Transfer-Encoding"} {
		if vs, ok := h[k]; ok {
			t.Errorf("target saw %s = %q", k, vs)
		}
	}
}

func TestRefusedPOST(t *testing.T) {
	e := newEnv(t, nil)
	dead := closedAddr(t)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-dead", dead)
	svc := service("svc-0d", "", port, defaultRule(to(tg)))
	v := e.simple(svc)
	r := e.do("POST", v.Ingress, port, svc.DNSName, "/", nil, strings.NewReader("payload"))
	expect(t, r, 502, "target "+dead+" failed: connection refused")
	if e.reg.Get(tg.Targets[0].Key).Available(time.Now().UnixNano()) {
		t.Fatal("refusing target not marked down")
	}
	// A body-less POST is not retried either (not idempotent); with the only
	// target down, the pick fails open and the answer is 502 again.
	r = e.do("POST", v.Ingress, port, svc.DNSName, "/", nil, nil)
	expect(t, r, 502, "connection refused")
}

func TestRetryOnRefused(t *testing.T) {
	e := newEnv(t, nil)
	live := newBackend(t, "live", nil)
	dead := closedAddr(t)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-retry", dead, live.addr())
	svc := service("svc-0rt", "", port, defaultRule(to(tg)))
	v := e.simple(svc)
	for i := range 50 {
		method := []string{"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}[i%5]
		r := e.do(method, v.Ingress, port, svc.DNSName, "/", nil, nil)
		if r.status != 200 {
			t.Fatalf("request %d (%s): %d %q", i, method, r.status, r.body)
		}
	}
	if st := e.reg.Get(tg.Targets[0].Key); st.Available(time.Now().UnixNano()) || st.Outstanding() != 0 {
		t.Fatalf("dead target: available=%v outstanding=%d", st.Available(time.Now().UnixNano()), st.Outstanding())
	}
	if st := e.reg.Get(tg.Targets[1].Key); st.Outstanding() != 0 {
		t.Fatalf("live target outstanding %d", st.Outstanding())
	}

	// With passive marking all but disabled, round robin keeps choosing the
	// dead target every other time: each of those requests is retried.
	e2 := newEnv(t, func(c *testConfig) { c.PassiveDownFor = time.Nanosecond })
	v2 := e2.simple(svc)
	before := live.hits.Load()
	for i := range 20 {
		method := []string{"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}[i%5]
		r := e2.do(method, v2.Ingress, port, svc.DNSName, "/", nil, nil)
		if r.status != 200 {
			t.Fatalf("request %d (%s): %d %q", i, method, r.status, r.body)
		}
	}
	if n := live.hits.Load() - before; n != 20 {
		t.Fatalf("live target got %d of 20", n)
	}
	// The same over cleartext HTTP/2 to the targets.
	h2 := ipGroup("tg-retry-h2", dead, live.addr())
	h2.ProtocolVersion = "HTTP2"
	svcH2 := service("svc-0rt2", "", port, defaultRule(to(h2)))
	e3 := newEnv(t, func(c *testConfig) { c.PassiveDownFor = time.Nanosecond })
	v3 := e3.simple(svcH2)
	for i := range 10 {
		if r := e3.doH2("GET", v3.Ingress, port, svcH2.DNSName, "/", nil, nil); r.status != 200 {
			t.Fatalf("h2 request %d: %d %q", i, r.status, r.body)
		}
	}
	// A POST (not idempotent, with or without a body) that meets the dead
	// target is retried too: the connection was refused, so nothing of it
	// reached the target and its body is unread (issue 10).
	before = live.hits.Load()
	for i := range 4 {
		var body io.Reader
		if i%2 == 1 {
			body = strings.NewReader("payload")
		}
		if r := e2.do("POST", v2.Ingress, port, svc.DNSName, "/", nil, body); r.status != 200 {
			t.Fatalf("POST %d: %d %q", i, r.status, r.body)
		}
	}
	if n := live.hits.Load() - before; n != 4 {
		t.Fatalf("live target got %d of 4 POSTs", n)
	}
}

func TestPassiveDownExpires(t *testing.T) {
	e := newEnv(t, func(c *testConfig) { c.PassiveDownFor = 50 * time.Millisecond })
	dead := closedAddr(t)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-pd", dead)
	svc := service("svc-0pd", "", port, defaultRule(to(tg)))
	v := e.simple(svc)
	expect(t, e.get(v, port, svc.DNSName, "/"), 502, "connection refused")
	st := e.reg.Get(tg.Targets[0].Key)
	if st.Available(time.Now().UnixNano()) {
		t.Fatal("not marked down")
	}
	time.Sleep(60 * time.Millisecond)
	if !st.Available(time.Now().UnixNano()) {
		t.Fatal("still down after PassiveDownFor")
	}
}

func TestNoTargets(t *testing.T) {
	e := newEnv(t, nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	empty := ipGroup("tg-0empty")
	svc := service("svc-0nt", "", port,
		rule("r-zero", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/zero"}}, forwardAction(weighted{ipGroup("tg-w0", closedAddr(t)), 0})),
		rule("r-lambda", 2, snapshot.Match{Path: &snapshot.PathMatch{Value: "/lambda"}},
			to(&snapshot.TargetGroup{ID: "tg-0lambda", Type: "LAMBDA", Targets: []*snapshot.Target{{ID: "arn:aws:lambda:us-east-1:111122223333:function:f", Key: "tg-0lambda/f/0"}}})),
		rule("r-tcp", 3, snapshot.Match{Path: &snapshot.PathMatch{Value: "/tcp"}},
			to(&snapshot.TargetGroup{ID: "tg-0tcp", Type: "IP", Protocol: "TCP", Targets: ipGroup("x", "127.0.0.1:1").Targets})),
		defaultRule(to(empty)))
	v := e.simple(svc)
	expect(t, e.get(v, port, svc.DNSName, "/"), 503, "no targets registered in target group tg-0empty")
	expect(t, e.get(v, port, svc.DNSName, "/zero"), 503, "no target group takes traffic")
	expect(t, e.get(v, port, svc.DNSName, "/lambda"), 502, "no Lambda invoker configured (target group tg-0lambda)")
	expect(t, e.get(v, port, svc.DNSName, "/tcp"), 502, "protocol TCP is not supported")
	expect(t, e.do("CONNECT", v.Ingress, port, svc.DNSName, "", nil, nil), 405, "CONNECT is not supported")
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, func(c *testConfig) { c.RequestTimeout = 200 * time.Millisecond })
	release := make(chan struct{})
	be := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow-headers":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/slow-body":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			time.Sleep(400 * time.Millisecond)
			io.WriteString(w, "late body")
		}
	})
	defer close(release)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	tg := ipGroup("tg-slow", be.addr())
	svc := service("svc-0to", "", port, defaultRule(to(tg)))
	v := e.simple(svc)
	start := time.Now()
	expect(t, e.get(v, port, svc.DNSName, "/slow-headers"), 504, "upstream request timeout")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("504 after %v", d)
	}
	// Headers in time, body after the timeout: not cut.
	expect(t, e.get(v, port, svc.DNSName, "/slow-body"), 200, "late body")
	// On a pooled connection, whose deadline may be a little earlier than
	// the request's: still a timeout (504), not a failed target (502).
	// (The pause makes the kept deadline fire measurably early: slack is
	// 12.5 ms with this RequestTimeout.)
	expect(t, e.get(v, port, svc.DNSName, "/fast"), 200, "")
	time.Sleep(8 * time.Millisecond)
	expect(t, e.get(v, port, svc.DNSName, "/slow-headers"), 504, "upstream request timeout")
	if st := e.reg.Get(tg.Targets[0].Key); !st.Available(time.Now().UnixNano()) || st.Outstanding() != 0 {
		t.Fatalf("slow target: available=%v outstanding=%d", st.Available(time.Now().UnixNano()), st.Outstanding())
	}
}

// h2cClient speaks HTTP/2 with prior knowledge over cleartext. Its idle
// connections are closed before the proxy's Close (cleanups run last
// registered first), or the proxy's graceful HTTP/2 shutdown waits for them.
func h2cClient(t testing.TB) *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func TestH2C(t *testing.T) {
	e := newEnv(t, nil)
	be := newBackend(t, "h", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend-Proto", r.Proto)
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "got:"+string(b))
	})
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	h1 := ipGroup("tg-h1", be.addr())
	h2 := ipGroup("tg-h2", be.addr())
	h2.ProtocolVersion = "HTTP2"
	grpc := ipGroup("tg-grpc", be.addr())
	grpc.ProtocolVersion = "GRPC"
	svc := service("svc-0h2", "h2.example.com", port,
		rule("r-h2", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/h2"}}, to(h2)),
		rule("r-grpc", 2, snapshot.Match{Path: &snapshot.PathMatch{Value: "/pkg.svc/"}}, to(grpc)),
		defaultRule(to(h1)))
	v := e.simple(svc)
	c := h2cClient(t)
	for _, tc := range []struct{ path, wantBackendProto string }{
		{"/", "HTTP/1.1"}, {"/h2", "HTTP/2.0"}, {"/pkg.svc/Method", "HTTP/2.0"},
	} {
		req, _ := http.NewRequest("POST", "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+tc.path, strings.NewReader("ping"))
		req.Host = "h2.example.com"
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "got:ping" || res.ProtoMajor != 2 {
			t.Fatalf("%s: %d %q over %s", tc.path, res.StatusCode, b, res.Proto)
		}
		if p := res.Header.Get("X-Backend-Proto"); p != tc.wantBackendProto {
			t.Errorf("%s: backend spoke %s, want %s", tc.path, p, tc.wantBackendProto)
		}
	}
	if got := be.lastSeen().Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("XFF over h2c: %q", got)
	}
}

func TestTrailers(t *testing.T) {
	e := newEnv(t, nil)
	be := newBackend(t, "t", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Declared")
		w.Header().Set("Content-Type", "application/grpc")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Declared", "d")
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	})
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	h1 := ipGroup("tg-t1", be.addr())
	h2 := ipGroup("tg-t2", be.addr())
	h2.ProtocolVersion = "GRPC"
	svc := service("svc-0t", "t.example.com", port,
		rule("r-h2", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/h2"}}, to(h2)),
		defaultRule(to(h1)))
	v := e.simple(svc)
	for _, c := range []*http.Client{e.client, h2cClient(t)} {
		for _, path := range []string{"/", "/h2"} {
			// A GRPC group takes gRPC: HTTP/2 POSTs (reference §6).
			req, _ := http.NewRequest("POST", "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+path, nil)
			req.Host = "t.example.com"
			if path == "/h2" {
				req.Header.Set("Content-Type", "application/grpc")
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if path == "/h2" && res.ProtoMajor == 1 {
				// HTTP/1.1 cannot reach a GRPC group.
				if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "GRPC") {
					t.Errorf("HTTP/1.1 to a GRPC group: %d %q, want 400", res.StatusCode, b)
				}
				continue
			}
			if string(b) != "body" || res.Trailer.Get("X-Declared") != "d" || res.Trailer.Get("Grpc-Status") != "0" {
				t.Errorf("%s %s: body %q trailers %v", res.Proto, path, b, res.Trailer)
			}
		}
	}
}

func TestStreaming(t *testing.T) {
	e := newEnv(t, nil)
	clientGotFirst := make(chan struct{})
	be := newBackend(t, "s", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sse" {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Content-Length", "24") // known length: SSE still flushes
		}
		io.WriteString(w, "data: first chunk!!!\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-clientGotFirst:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "\n\n")
	})
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0s", "s.example.com", port, defaultRule(to(ipGroup("tg-s", be.addr()))))
	v := e.simple(svc)
	for _, path := range []string{"/chunked", "/sse"} {
		for _, c := range []*http.Client{e.client, h2cClient(t)} {
			clientGotFirst = make(chan struct{})
			req, _ := http.NewRequest("GET", "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+path, nil)
			req.Host = "s.example.com"
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			first := make([]byte, len("data: first chunk!!!\n\n"))
			readDone := make(chan error, 1)
			go func() { _, err := io.ReadFull(res.Body, first); readDone <- err }()
			select {
			case err := <-readDone:
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s over %s: first chunk not streamed before the last was written", path, res.Proto)
			}
			close(clientGotFirst)
			rest, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(first)+string(rest) != "data: first chunk!!!\n\n\n\n" {
				t.Fatalf("%s: body %q", path, string(first)+string(rest))
			}
		}
	}
}

func TestSyncOpensAndClosesPorts(t *testing.T) {
	e := newEnv(t, nil)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "a")
	})
	ip := nextIngress()
	p1, p2 := freePort(t, ip), freePort(t, ip)
	tg := ipGroup("tg-sync", be.addr())
	old := vpcIn("vpc-0s", ip, network("sn-0s"), service("svc-0s", "s.example.com", p1, defaultRule(to(tg))))
	e.publish(snapshotOf(old))
	if got := e.in.Addrs(); len(got) != 1 || got[0] != hostPort(ip.String(), p1) {
		t.Fatalf("Addrs %v", got)
	}

	inflight := make(chan response)
	go func() { inflight <- e.get(old, p1, "s.example.com", "/block") }()
	<-started

	// The service moves to p2.
	moved := vpcIn("vpc-0s", ip, network("sn-0s"), service("svc-0s", "s.example.com", p2, defaultRule(to(tg))))
	e.publish(snapshotOf(moved))
	if got := e.in.Addrs(); len(got) != 1 || got[0] != hostPort(ip.String(), p2) {
		t.Fatalf("Addrs after move %v", got)
	}
	expect(t, e.get(moved, p2, "s.example.com", "/"), 200, "a")
	if c, err := net.DialTimeout("tcp", hostPort(ip.String(), p1), time.Second); err == nil {
		c.Close()
		t.Fatal("old port still accepts connections")
	}
	// The request that entered on the old port, on the old snapshot,
	// completes.
	close(release)
	expect(t, <-inflight, 200, "a")

	// Idempotent; a VPC without ingress or in another mode gets no socket.
	netns := vpcIn("vpc-0n", nextIngress(), network("sn-0n"), service("svc-0n", "", p1, defaultRule(to(tg))))
	netns.Mode = "netns"
	e.publish(snapshotOf(moved, netns))
	e.publish(snapshotOf(moved, netns))
	if got := e.in.Addrs(); len(got) != 1 {
		t.Fatalf("Addrs %v", got)
	}
	// Nothing left.
	e.publish(snapshotOf())
	if got := e.in.Addrs(); len(got) != 0 {
		t.Fatalf("Addrs %v", got)
	}
}

func TestSyncBindErrorRetried(t *testing.T) {
	e := newEnv(t, nil)
	be := newBackend(t, "a", nil)
	ip := nextIngress()
	p1, p2 := freePort(t, ip), freePort(t, ip)
	blocker, err := net.Listen("tcp", hostPort(ip.String(), p2))
	if err != nil {
		t.Fatal(err)
	}
	tg := ipGroup("tg-b", be.addr())
	v := vpcIn("vpc-0b", ip, network("sn-0b"),
		service("svc-0b1", "one.example.com", p1, defaultRule(to(tg))),
		service("svc-0b2", "two.example.com", p2, defaultRule(to(tg))))
	e.holder.Store(snapshotOf(v))
	err = e.in.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), hostPort(ip.String(), p2)) {
		t.Fatalf("Sync error %v", err)
	}
	// The other socket serves anyway.
	expect(t, e.get(v, p1, "one.example.com", "/"), 200, "a")
	if got := e.in.Addrs(); len(got) != 1 {
		t.Fatalf("Addrs %v", got)
	}
	blocker.Close()
	if err := e.in.Sync(context.Background()); err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	expect(t, e.get(v, p2, "two.example.com", "/"), 200, "a")
}

func TestRun(t *testing.T) {
	e := newEnv(t, nil)
	be := newBackend(t, "a", nil)
	ip := nextIngress()
	p1, p2 := freePort(t, ip), freePort(t, ip)
	tg := ipGroup("tg-run", be.addr())
	v1 := vpcIn("vpc-0r", ip, network("sn-0r"), service("svc-0r", "r.example.com", p1, defaultRule(to(tg))))
	e.holder.Store(snapshotOf(v1))
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{})
	ran := make(chan error)
	go func() { ran <- e.in.Run(ctx, changes) }()
	waitAddrs(t, e.in, hostPort(ip.String(), p1))
	expect(t, e.get(v1, p1, "r.example.com", "/"), 200, "a")

	v2 := vpcIn("vpc-0r", ip, network("sn-0r"), service("svc-0r", "r.example.com", p2, defaultRule(to(tg))))
	e.holder.Store(snapshotOf(v2))
	changes <- struct{}{}
	waitAddrs(t, e.in, hostPort(ip.String(), p2))
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run leaves the sockets to Close.
	expect(t, e.get(v2, p2, "r.example.com", "/"), 200, "a")
}

func waitAddrs(t *testing.T, px *ingress.Ingress, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := px.Addrs()
		if strings.Join(got, " ") == strings.Join(want, " ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Addrs %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseDrains(t *testing.T) {
	e := newEnv(t, nil)
	holder, px := e.holder, e.in
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "drained")
	})
	ip := nextIngress()
	port := freePort(t, ip)
	v := vpcIn("vpc-0c", ip, network("sn-0c"), service("svc-0c", "c.example.com", port, defaultRule(to(ipGroup("tg-c", be.addr())))))
	holder.Store(snapshotOf(v))
	if err := px.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{}}
	type result struct {
		body string
		err  error
	}
	inflight := make(chan result)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+hostPort(ip.String(), port)+"/", nil)
		req.Host = "c.example.com"
		res, err := client.Do(req)
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		inflight <- result{string(b), err}
	}()
	<-started
	closed := make(chan error)
	go func() { closed <- px.Close(context.Background()) }()
	// Stops accepting at once.
	waitRefused(t, hostPort(ip.String(), port))
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-inflight; r.err != nil || r.body != "drained" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := px.Sync(context.Background()); !errors.Is(err, ingress.ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
}

func TestCloseDeadline(t *testing.T) {
	e := newEnv(t, nil)
	holder, px := e.holder, e.in
	started := make(chan struct{}, 1)
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	})
	ip := nextIngress()
	port := freePort(t, ip)
	v := vpcIn("vpc-0d", ip, network("sn-0d"), service("svc-0d", "d.example.com", port, defaultRule(to(ipGroup("tg-d", be.addr())))))
	holder.Store(snapshotOf(v))
	if err := px.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+hostPort(ip.String(), port)+"/", nil)
		req.Host = "d.example.com"
		res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		errc <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := px.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; err == nil {
		t.Fatal("request cut by Close succeeded")
	}
}

func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHTTPSTargets(t *testing.T) {
	e := newEnv(t, nil)
	var mu sync.Mutex
	var protos []string
	// A TLS server with a self-signed certificate, speaking h2 and http/1.1.
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.Proto)
		mu.Unlock()
		io.WriteString(w, "secure")
	}))
	be.EnableHTTP2 = true
	be.StartTLS()
	t.Cleanup(be.Close)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	h1 := ipGroup("tg-tls1", be.Listener.Addr().String())
	h1.Protocol = "HTTPS"
	h2 := ipGroup("tg-tls2", be.Listener.Addr().String())
	h2.Protocol, h2.ProtocolVersion = "HTTPS", "HTTP2"
	svc := service("svc-0tls", "", port,
		rule("r-h2", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/h2"}}, to(h2)),
		defaultRule(to(h1)))
	v := e.simple(svc)
	expect(t, e.get(v, port, svc.DNSName, "/"), 200, "secure")
	expect(t, e.doH2("GET", v.Ingress, port, svc.DNSName, "/h2", nil, nil), 200, "secure")
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(protos, ",") != "HTTP/1.1,HTTP/2.0" {
		t.Fatalf("target protocols %v", protos)
	}
}

func TestUnknownVPCAndNilSnapshot(t *testing.T) {
	e := newEnv(t, nil)
	be := newBackend(t, "a", nil)
	ip := nextIngress()
	port := freePort(t, ip)
	v := vpcIn("vpc-0u", ip, network("sn-0u"), service("svc-0u", "u.example.com", port, defaultRule(to(ipGroup("tg-u", be.addr())))))
	e.publish(snapshotOf(v))
	// A request on a socket whose VPC left the snapshot before Sync ran.
	e.holder.Store(snapshotOf())
	expect(t, e.get(v, port, "u.example.com", "/"), 404, "Non Existent Service")
	// Sync with no snapshot at all closes everything.
	e.holder.Store(nil)
	if err := e.in.Sync(context.Background()); err != nil || len(e.in.Addrs()) != 0 {
		t.Fatalf("Sync(nil snapshot): %v %v", err, e.in.Addrs())
	}
}

func TestHostOnlyAndClientIP(t *testing.T) {
	for in, want := range map[string]string{
		"a.example.com": "a.example.com", "a.example.com:80": "a.example.com", "a.example.com.": "a.example.com",
		"a.example.com.:80": "a.example.com", "[::1]:80": "::1", "[::1]": "::1", "::1": "::1", "": "",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
	hosts := snapshot.TableOf(map[string]*snapshot.Service{"a.example.com": {ID: "a"}})
	if testing.AllocsPerRun(100, func() { lookupHost(hosts, "A.Example.COM:8080") }) != 0 {
		t.Error("lookupHost allocates")
	}
	if s := lookupHost(hosts, "A.Example.COM:8080"); s == nil || s.ID != "a" {
		t.Error("lookupHost mixed case")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
