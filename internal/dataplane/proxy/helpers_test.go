package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/ingress"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

const (
	account = "111122223333"
	region  = "us-east-1"
)

func latticeARN(kind, id string) string {
	return "arn:aws:vpc-lattice:" + region + ":" + account + ":" + kind + "/" + id
}

// ingressSeq hands every test its own VPC ingress address, so tests never
// compete for a socket (other packages use the bottom of 127.171.0.0/16).
var ingressSeq atomic.Uint32

func nextIngress() netip.Addr {
	n := ingressSeq.Add(1)
	return netip.AddrFrom4([4]byte{127, 171, byte(240 + n/250), byte(1 + n%250)})
}

// freePort returns a TCP port that is free on ip right now.
func freePort(t testing.TB, ip netip.Addr) int {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedAddr is a loopback address nothing listens on: dialing it is
// refused.
func closedAddr(t testing.TB) string {
	return "127.0.0.1:" + strconv.Itoa(freePort(t, netip.MustParseAddr("127.0.0.1")))
}

// seen is what a backend saw of one request.
type seen struct {
	Method string
	Host   string
	Path   string
	Proto  string
	Header http.Header
}

// backend is a real HTTP server on 127.0.0.1 that answers its name.
type backend struct {
	*httptest.Server
	name string
	hits atomic.Int64

	mu   sync.Mutex
	last seen
	// handle, when set, answers instead of the default.
	handle func(w http.ResponseWriter, r *http.Request)
}

func newBackend(t testing.TB, name string, handle func(w http.ResponseWriter, r *http.Request)) *backend {
	t.Helper()
	b := &backend{name: name, handle: handle}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true) // h2c target groups reach the same server
	b.Config.Protocols = p
	b.Start()
	t.Cleanup(b.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	b.mu.Lock()
	b.last = seen{Method: r.Method, Host: r.Host, Path: r.URL.Path, Proto: r.Proto, Header: r.Header.Clone()}
	b.mu.Unlock()
	if b.handle != nil {
		b.handle(w, r)
		return
	}
	w.Header().Set("X-Backend", b.name)
	io.WriteString(w, b.name)
}

func (b *backend) lastSeen() seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func (b *backend) addr() string { return strings.TrimPrefix(b.URL, "http://") }

// ipGroup is an IP target group of HTTP1 targets at addrs ("ip:port").
func ipGroup(id string, addrs ...string) *snapshot.TargetGroup {
	tg := &snapshot.TargetGroup{
		ID: id, ARN: latticeARN("targetgroup", id), Name: id, Account: account,
		Type: "IP", Protocol: "HTTP", ProtocolVersion: "HTTP1", Port: 80, InUse: true,
	}
	for _, a := range addrs {
		ap := netip.MustParseAddrPort(a)
		tg.Targets = append(tg.Targets, &snapshot.Target{
			ID: ap.Addr().String(), Port: int(ap.Port()), Addr: ap,
			Key: upstream.TargetKey(id, ap.Addr().String(), int(ap.Port())),
		})
	}
	return tg
}

type weighted struct {
	tg *snapshot.TargetGroup
	w  int
}

func forwardAction(ws ...weighted) snapshot.Action {
	var a snapshot.Action
	for _, x := range ws {
		a.TotalWeight += x.w
		a.Forward = append(a.Forward, snapshot.WeightedTargetGroup{TargetGroup: x.tg, Weight: x.w, Cumulative: a.TotalWeight})
	}
	return a
}

func to(tg *snapshot.TargetGroup) snapshot.Action { return forwardAction(weighted{tg, 1}) }

func rule(id string, prio int, m snapshot.Match, a snapshot.Action) *snapshot.Rule {
	return &snapshot.Rule{ID: id, ARN: latticeARN("rule", id), Name: id, Priority: prio, Match: m, Action: a}
}

func defaultRule(a snapshot.Action) *snapshot.Rule {
	return &snapshot.Rule{ID: "default", IsDefault: true, Action: a}
}

// service builds a service with one HTTP listener on port whose rules are
// rules (the last one should be the default).
func service(id, customDomain string, port int, rules ...*snapshot.Rule) *snapshot.Service {
	lst := &snapshot.Listener{ID: "listener-" + id, Protocol: "HTTP", Port: port, Rules: rules}
	return &snapshot.Service{
		ID: id, ARN: latticeARN("service", id), Name: id, Account: account,
		DNSName:      id + "-0a1b2c3d4e5f.7d67968.vpc-lattice-svcs." + region + ".on.aws",
		CustomDomain: customDomain, AuthType: "NONE",
		Listeners: map[int]*snapshot.Listener{port: lst},
	}
}

// vpcIn builds a host-mode VPC at ingress, associated with network sn and
// reaching svcs.
func vpcIn(id string, ingress netip.Addr, sn *snapshot.ServiceNetwork, svcs ...*snapshot.Service) *snapshot.VPC {
	v := &snapshot.VPC{
		ID: id, ARN: "arn:aws:ec2:" + region + ":" + account + ":vpc/" + id, Account: account,
		Mode: "host", Ingress: ingress, ServiceNetwork: sn,
	}
	ports := map[int]bool{}
	hosts := v.Hosts.Edit()
	for _, s := range svcs {
		hosts.Set(strings.ToLower(s.DNSName), s)
		if s.CustomDomain != "" {
			hosts.Set(strings.ToLower(s.CustomDomain), s)
		}
		for p := range s.Listeners {
			if !ports[p] {
				ports[p] = true
				v.Ports = append(v.Ports, p)
			}
		}
	}
	v.Hosts = hosts.Table()
	return v
}

func network(id string) *snapshot.ServiceNetwork {
	return &snapshot.ServiceNetwork{ID: id, ARN: latticeARN("servicenetwork", id), Name: id, Account: account, AuthType: "NONE"}
}

var revision atomic.Int64

func snapshotOf(vpcs ...*snapshot.VPC) *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		Revision: revision.Add(1), Region: region,
		VPCs: map[string]*snapshot.VPC{}, ByIngress: map[netip.Addr]*snapshot.VPC{},
	}
	tgs := s.TargetGroups.Edit()
	for _, v := range vpcs {
		s.VPCs[v.ID] = v
		s.ByIngress[v.Ingress] = v
		for _, svc := range v.Hosts.All() {
			for _, l := range svc.Listeners {
				for _, r := range l.Rules {
					for _, f := range r.Action.Forward {
						tg := f.TargetGroup
						// As the compiler does (snapshot.UpstreamOf); written only
						// when it changes, as a group may serve a live snapshot.
						if u := snapshot.UpstreamOf(tg.Type, tg.Protocol, tg.ProtocolVersion); tg.Upstream != u {
							tg.Upstream = u
						}
						tgs.Set(tg.ID, tg)
					}
				}
			}
		}
	}
	s.TargetGroups = tgs.Table()
	return s
}

// env is a proxy serving, behind ingress as the app wires them,
// snapshots the test publishes.
type env struct {
	t      testing.TB
	holder *snapshot.Holder
	reg    *upstream.Registry
	px     *Proxy
	in     *ingress.Ingress
	client *http.Client
	h2c    *http.Client // made on first use (doH2)
}

// testConfig is the proxy's Config and the ingress settings a test sets.
type testConfig struct {
	Config
	StdServer    bool
	DrainTimeout time.Duration
}

func newEnv(t testing.TB, configure func(*testConfig)) *env {
	t.Helper()
	e := &env{t: t, holder: new(snapshot.Holder), reg: new(upstream.Registry)}
	cfg := testConfig{Config: Config{Holder: e.holder, Registry: e.reg, Logger: testLogger(t)}}
	if configure != nil {
		configure(&cfg)
	}
	e.holder = cfg.Holder
	e.px = New(cfg.Config)
	e.in = ingress.New(ingress.Config{Holder: e.holder, Handler: e.px.Handler, Rejected: e.px.Rejected,
		AfterSync: e.px.Forget, Net: cfg.Net, DrainTimeout: cfg.DrainTimeout, Logger: cfg.Logger, StdServer: cfg.StdServer})
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	e.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.in.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		e.px.CloseIdle()
	})
	return e
}

// publish stores s and syncs the sockets.
func (e *env) publish(s *snapshot.Snapshot) {
	e.t.Helper()
	e.holder.Store(s)
	if err := e.in.Sync(context.Background()); err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
}

// simple publishes one VPC reaching svcs and returns the VPC.
func (e *env) simple(svcs ...*snapshot.Service) *snapshot.VPC {
	e.t.Helper()
	v := vpcIn("vpc-0a000000000000001", nextIngress(), network("sn-0a000000000000001"), svcs...)
	e.publish(snapshotOf(v))
	return v
}

type response struct {
	status int
	body   string
	header http.Header
}

// do sends a request to ingress:port naming host.
func (e *env) do(method string, ingress netip.Addr, port int, host, path string, header http.Header, body io.Reader) response {
	e.t.Helper()
	return e.doWith(e.client, method, ingress, port, host, path, header, body)
}

// doH2 is do over cleartext HTTP/2 (prior knowledge): HTTP2 and GRPC
// target groups take HTTP/2 requests only (reference §6).
func (e *env) doH2(method string, ingress netip.Addr, port int, host, path string, header http.Header, body io.Reader) response {
	e.t.Helper()
	if e.h2c == nil {
		e.h2c = h2cClient(e.t)
	}
	return e.doWith(e.h2c, method, ingress, port, host, path, header, body)
}

// getVersion is get over the HTTP version a target group of version
// (HTTP1, HTTP2) takes.
func (e *env) getVersion(version string, v *snapshot.VPC, port int, host, path string) response {
	e.t.Helper()
	if version == "HTTP2" {
		return e.doH2("GET", v.Ingress, port, host, path, nil, nil)
	}
	return e.get(v, port, host, path)
}

func (e *env) doWith(c *http.Client, method string, ingress netip.Addr, port int, host, path string, header http.Header, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest(method, "http://"+netip.AddrPortFrom(ingress, uint16(port)).String()+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{status: res.StatusCode, body: string(b), header: res.Header}
}

func (e *env) get(v *snapshot.VPC, port int, host, path string) response {
	e.t.Helper()
	return e.do(http.MethodGet, v.Ingress, port, host, path, nil, nil)
}

func expect(t testing.TB, r response, status int, bodyContains string) {
	t.Helper()
	if r.status != status || !strings.Contains(r.body, bodyContains) {
		t.Fatalf("got %d %q, want %d with %q", r.status, r.body, status, bodyContains)
	}
}

func hostPort(host string, port int) string { return fmt.Sprintf("%s:%d", host, port) }

// testLogger discards logs unless TRELLIS_TEST_LOG=1 (then debug to stderr;
// background drains may log after a test ends, so not through t).
func testLogger(testing.TB) *slog.Logger {
	if os.Getenv("TRELLIS_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// rawConn is a client connection that writes raw bytes and reads
// responses.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// response reads one response to a request with method.
func (r *rawConn) response(method string) (*http.Response, string) {
	r.t.Helper()
	res, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		r.t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatalf("reading the body: %v", err)
	}
	res.Body.Close()
	return res, string(b)
}

// closed reports whether the server closed the connection.
func (r *rawConn) closed() bool {
	_ = r.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := r.br.ReadByte()
	return err == io.EOF || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}
