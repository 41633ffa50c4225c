package health

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// testScale is the IntervalScale of the tests: one configured second lasts
// 10ms, so an interval of 1 probes every 10ms and the default timeout of 5
// gives up after 50ms.
const testScale = 10 * time.Millisecond

// ---- backends -------------------------------------------------------------

// seen is one request a backend received.
type seen struct {
	method, path, ua, host, remote string
	protoMajor                     int
	tls                            bool
	status                         int // what the backend answered
}

type backend struct {
	srv    *httptest.Server
	addr   netip.AddrPort
	status atomic.Int32  // answer; 200 by default
	delay  atomic.Int64  // nanoseconds to wait before answering
	gate   chan struct{} // when non-nil, requests wait for it to close

	mu   sync.Mutex
	reqs []seen
}

type backendKind int

const (
	plainHTTP backendKind = iota
	tlsHTTP1
	h2c
	h2TLS
)

func newBackend(t *testing.T, kind backendKind) *backend {
	t.Helper()
	b := &backend{}
	b.status.Store(http.StatusOK)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	switch kind {
	case plainHTTP:
		srv.Start()
	case tlsHTTP1:
		srv.StartTLS()
	case h2c:
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Config.Protocols = &p
		srv.Start()
	case h2TLS:
		srv.EnableHTTP2 = true
		srv.StartTLS()
	}
	b.srv = srv
	b.addr = netip.MustParseAddrPort(srv.Listener.Addr().String())
	t.Cleanup(func() {
		b.open()
		srv.Close()
	})
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	status := int(b.status.Load())
	b.mu.Lock()
	b.reqs = append(b.reqs, seen{
		method: r.Method, path: r.URL.RequestURI(), ua: r.UserAgent(), host: r.Host,
		remote: r.RemoteAddr, protoMajor: r.ProtoMajor, tls: r.TLS != nil, status: status,
	})
	gate := b.gate
	b.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if d := time.Duration(b.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

// hold makes requests wait until open is called.
func (b *backend) hold() {
	b.mu.Lock()
	b.gate = make(chan struct{})
	b.mu.Unlock()
}

func (b *backend) open() {
	b.mu.Lock()
	if b.gate != nil {
		close(b.gate)
		b.gate = nil
	}
	b.mu.Unlock()
}

func (b *backend) requests() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seen(nil), b.reqs...)
}

func (b *backend) count() int { return len(b.requests()) }

// countPath counts the requests for path.
func (b *backend) countPath(path string) int {
	n := 0
	for _, r := range b.requests() {
		if r.path == path {
			n++
		}
	}
	return n
}

// trailing counts the last requests answered with status, in a row.
func (b *backend) trailing(status int) int {
	reqs := b.requests()
	n := 0
	for i := len(reqs) - 1; i >= 0 && reqs[i].status == status; i-- {
		n++
	}
	return n
}

// ---- snapshots ------------------------------------------------------------

func ptr[T any](v T) *T { return &v }

// healthCheck returns an enabled check probing every second (10ms in tests)
// with thresholds 2/2, changed by mut, with the remaining defaults filled as
// the compiler does.
func healthCheck(mut func(*model.HealthCheckConfig)) *model.HealthCheckConfig {
	hc := &model.HealthCheckConfig{
		Enabled:                    ptr(true),
		HealthCheckIntervalSeconds: ptr(1),
		HealthyThresholdCount:      ptr(2),
		UnhealthyThresholdCount:    ptr(2),
	}
	if mut != nil {
		mut(hc)
	}
	return model.WithHealthCheckDefaults(hc, model.ProtocolVersionHTTP1)
}

func ipTarget(tgID string, ap netip.AddrPort) *snapshot.Target {
	id, port := ap.Addr().String(), int(ap.Port())
	return &snapshot.Target{ID: id, Port: port, Addr: ap, Key: upstream.TargetKey(tgID, id, port)}
}

func ipGroup(id string, hc *model.HealthCheckConfig, targets ...*snapshot.Target) *snapshot.TargetGroup {
	return &snapshot.TargetGroup{
		ID: id, Type: model.TargetGroupTypeIP, Protocol: model.ProtocolHTTP,
		ProtocolVersion: model.ProtocolVersionHTTP1, HealthCheck: hc, InUse: true, Targets: targets,
	}
}

func snap(rev int64, tgs ...*snapshot.TargetGroup) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Revision: rev, Region: "us-east-1"}
	e := s.TargetGroups.Edit()
	for _, tg := range tgs {
		e.Set(tg.ID, tg)
	}
	s.TargetGroups = e.Table()
	return s
}

// ---- harness --------------------------------------------------------------

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	t      *testing.T
	holder *snapshot.Holder
	reg    *upstream.Registry
	c      *Checker
	logs   *logBuf
}

func newHarness(t *testing.T, mut func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, holder: new(snapshot.Holder), reg: new(upstream.Registry), logs: new(logBuf)}
	cfg := Config{
		Holder:        h.holder,
		Registry:      h.reg,
		Logger:        slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		IntervalScale: testScale,
	}
	if mut != nil {
		mut(&cfg)
	}
	h.c = New(cfg)
	// A checker that has been running: the targets of the tests' snapshots
	// are new to it, checked at once. (Its first Sync, a restart, spreads
	// the first checks over the interval instead; see
	// TestFirstChecksSpreadAtStartAndImmediateForNewTargets.)
	h.c.Sync()
	t.Cleanup(func() {
		h.c.Close()
		if t.Failed() {
			t.Logf("checker log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) publish(s *snapshot.Snapshot) {
	h.holder.Store(s)
	h.c.Sync()
}

func (h *harness) status(tgID string, tg *snapshot.Target) (string, string, bool) {
	return h.c.TargetStatus(tgID, tg.ID, tg.Port)
}

func (h *harness) prober(key string) *prober {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.c.probers[key]
}

func (h *harness) proberCount() int {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return len(h.c.probers)
}

const waitLimit = 5 * time.Second

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitStatus waits until the target reports want and returns its reason.
func (h *harness) waitStatus(tgID string, tg *snapshot.Target, want string) string {
	h.t.Helper()
	var got, reason string
	var ok bool
	deadline := time.Now().Add(waitLimit)
	for {
		got, reason, ok = h.status(tgID, tg)
		if ok && got == want {
			return reason
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("target %s: status %q (ok=%v), want %q", tg.Key, got, ok, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) wantStatus(tgID string, tg *snapshot.Target, want, wantReason string) {
	h.t.Helper()
	got, reason, ok := h.status(tgID, tg)
	if !ok || got != want || reason != wantReason {
		h.t.Fatalf("target %s: TargetStatus = (%q, %q, %v), want (%q, %q, true)", tg.Key, got, reason, ok, want, wantReason)
	}
}

func (h *harness) waitLog(substr string) {
	h.t.Helper()
	eventually(h.t, "log line "+substr, func() bool { return strings.Contains(h.logs.String(), substr) })
}

// ---- tests ----------------------------------------------------------------

// The control plane's service.TargetHealth, restated here because the data
// plane does not import service.
var _ interface {
	TargetStatus(targetGroupID, targetID string, port int) (status, reason string, ok bool)
} = (*Checker)(nil)

func TestInitialBecomesHealthyAfterOnePass(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	b.hold()
	// The default healthy threshold (5) does not apply to a new target; a
	// long interval (1s) leaves room for exactly one probe.
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
		hc.HealthCheckIntervalSeconds = ptr(100)
		hc.HealthyThresholdCount = nil
	}), tgt)))

	eventually(t, "the first probe", func() bool { return b.count() == 1 })
	h.wantStatus("tg-1", tgt, "INITIAL", "")
	b.open()
	h.waitStatus("tg-1", tgt, "HEALTHY")

	reqs := b.requests()
	if len(reqs) != 1 {
		t.Fatalf("backend saw %d probes before HEALTHY, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodGet || r.path != "/" || r.ua != UserAgent || r.host != b.addr.String() || r.protoMajor != 1 || r.tls {
		t.Errorf("probe = %+v, want GET / HTTP/1.1 with User-Agent %q and Host %q", r, UserAgent, b.addr)
	}
	if st, ok := h.reg.Lookup(tgt.Key); !ok {
		t.Error("no registry state for the target")
	} else if hv, _ := st.Health(); hv != upstream.HealthHealthy {
		t.Errorf("registry health = %v, want HEALTHY", hv)
	}
}

func TestFailingBackendBecomesUnhealthyThenRecovers(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
		hc.HealthyThresholdCount = ptr(3)
		hc.UnhealthyThresholdCount = ptr(2)
	}), tgt)))
	h.waitStatus("tg-1", tgt, "HEALTHY")

	b.status.Store(http.StatusInternalServerError)
	if reason := h.waitStatus("tg-1", tgt, "UNHEALTHY"); reason != ReasonHealthCheckFailed {
		t.Errorf("reason = %q, want %q", reason, ReasonHealthCheckFailed)
	}
	if n := b.trailing(http.StatusInternalServerError); n < 2 {
		t.Errorf("UNHEALTHY after %d failed probes, want at least the threshold 2", n)
	}
	h.waitLog("status 500 not in 200")
	if st, _ := h.reg.Lookup(tgt.Key); st.Available(time.Now().UnixNano()) {
		t.Error("an UNHEALTHY target is still Available")
	}

	b.status.Store(http.StatusOK)
	h.waitStatus("tg-1", tgt, "HEALTHY")
	if n := b.trailing(http.StatusOK); n < 3 {
		t.Errorf("HEALTHY again after %d passing probes, want at least the threshold 3", n)
	}
	h.wantStatus("tg-1", tgt, "HEALTHY", "")
	for _, r := range b.requests() {
		if r.path != "/" || r.ua != UserAgent {
			t.Fatalf("probe = %+v, want GET / with User-Agent %q", r, UserAgent)
		}
	}
}

func TestClosedBackendBecomesUnhealthy(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(nil), tgt)))
	h.waitStatus("tg-1", tgt, "HEALTHY")

	b.srv.Close()
	if reason := h.waitStatus("tg-1", tgt, "UNHEALTHY"); reason != ReasonHealthCheckFailed {
		t.Errorf("reason = %q, want %q", reason, ReasonHealthCheckFailed)
	}
	h.waitLog("connection refused")
}

func TestMatcher(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	b.status.Store(http.StatusNoContent)
	matcher := func(codes string) *model.HealthCheckConfig {
		return healthCheck(func(hc *model.HealthCheckConfig) { hc.Matcher = &model.Matcher{HTTPCode: ptr(codes)} })
	}
	rng, exact, list := ipTarget("tg-range", b.addr), ipTarget("tg-exact", b.addr), ipTarget("tg-list", b.addr)
	h.publish(snap(1,
		ipGroup("tg-range", matcher("200-299"), rng),
		ipGroup("tg-exact", matcher("200"), exact),
		ipGroup("tg-list", matcher("200,204"), list),
	))
	h.waitStatus("tg-range", rng, "HEALTHY")
	h.waitStatus("tg-list", list, "HEALTHY")
	if reason := h.waitStatus("tg-exact", exact, "UNHEALTHY"); reason != ReasonHealthCheckFailed {
		t.Errorf("reason = %q, want %q", reason, ReasonHealthCheckFailed)
	}
	h.waitLog("status 204 not in 200")
	// The exact matcher never let a 204 through.
	if got, _, _ := h.status("tg-exact", exact); got != "UNHEALTHY" {
		t.Errorf("tg-exact = %s after more probes, want UNHEALTHY", got)
	}
}

func TestCustomPathAndPort(t *testing.T) {
	h := newHarness(t, nil)
	traffic := newBackend(t, plainHTTP)
	checks := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", traffic.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
		hc.Port = ptr(int(checks.addr.Port()))
		hc.Path = "/healthz?deep=1"
	}), tgt)))
	h.waitStatus("tg-1", tgt, "HEALTHY")
	eventually(t, "three probes", func() bool { return checks.count() >= 3 })

	for _, r := range checks.requests() {
		if r.path != "/healthz?deep=1" || r.ua != UserAgent || r.host != checks.addr.String() {
			t.Fatalf("probe = %+v, want GET /healthz?deep=1 with Host %s", r, checks.addr)
		}
	}
	if n := traffic.count(); n != 0 {
		t.Errorf("the traffic port received %d probes, want 0", n)
	}
}

func TestTimeoutIsAFailure(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	b.delay.Store(int64(2 * time.Second))
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
		hc.HealthCheckIntervalSeconds = ptr(3) // 30ms
		hc.HealthCheckTimeoutSeconds = ptr(2)  // 20ms
	}), tgt)))
	start := time.Now()
	if reason := h.waitStatus("tg-1", tgt, "UNHEALTHY"); reason != ReasonHealthCheckFailed {
		t.Errorf("reason = %q, want %q", reason, ReasonHealthCheckFailed)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("UNHEALTHY after %v: the probes did not time out", d)
	}
	if n := b.count(); n < 2 {
		t.Errorf("backend saw %d probes, want at least 2", n)
	}
	h.waitLog("timeout after 20ms")
}

func TestHTTPSSelfSigned(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, tlsHTTP1)
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
		hc.Protocol = model.ProtocolHTTPS
	}), tgt)))
	h.waitStatus("tg-1", tgt, "HEALTHY")
	eventually(t, "three probes", func() bool { return b.count() >= 3 })
	for _, r := range b.requests() {
		if !r.tls || r.protoMajor != 1 || r.ua != UserAgent {
			t.Fatalf("probe = %+v, want HTTP/1.1 over TLS", r)
		}
	}
	assertFreshConnections(t, b)
}

func TestHTTP2(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kind     backendKind
		protocol string
	}{
		{"h2c", h2c, model.ProtocolHTTP},
		{"h2", h2TLS, model.ProtocolHTTPS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			b := newBackend(t, tc.kind)
			tgt := ipTarget("tg-1", b.addr)
			h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
				hc.Protocol = tc.protocol
				hc.ProtocolVersion = model.ProtocolVersionHTTP2
			}), tgt)))
			h.waitStatus("tg-1", tgt, "HEALTHY")
			eventually(t, "three probes", func() bool { return b.count() >= 3 })
			for _, r := range b.requests() {
				if r.protoMajor != 2 || r.tls != (tc.kind == h2TLS) || r.path != "/" || r.ua != UserAgent {
					t.Fatalf("probe = %+v, want HTTP/2 (tls=%v)", r, tc.kind == h2TLS)
				}
			}
			assertFreshConnections(t, b)
		})
	}
}

func TestHTTP1ProbesUseFreshConnections(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(nil), tgt)))
	eventually(t, "five probes", func() bool { return b.count() >= 5 })
	assertFreshConnections(t, b)
}

// assertFreshConnections checks that no two probes shared a connection.
func assertFreshConnections(t *testing.T, b *backend) {
	t.Helper()
	remotes := map[string]bool{}
	for _, r := range b.requests() {
		if remotes[r.remote] {
			t.Fatalf("two probes came over the connection from %s", r.remote)
		}
		remotes[r.remote] = true
	}
}

func TestUncheckedTargetsAreUnavailable(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	disabled := ipTarget("tg-off", b.addr)
	off := healthCheck(func(hc *model.HealthCheckConfig) { hc.Enabled = ptr(false) })
	lambda := &snapshot.Target{ID: "arn:aws:lambda:us-east-1:111122223333:function:f", Key: "tg-fn/arn:aws:lambda:us-east-1:111122223333:function:f/0"}
	instance := &snapshot.Target{ID: "i-0123456789abcdef0", Port: 80, Key: "tg-ec2/i-0123456789abcdef0/80"}
	s := snap(1,
		ipGroup("tg-off", off, disabled),
		&snapshot.TargetGroup{ID: "tg-fn", Type: model.TargetGroupTypeLambda, InUse: true, Targets: []*snapshot.Target{lambda}},
		&snapshot.TargetGroup{ID: "tg-ec2", Type: model.TargetGroupTypeInstance, Protocol: model.ProtocolHTTP,
			HealthCheck: healthCheck(nil), InUse: true, Targets: []*snapshot.Target{instance}},
	)
	h.publish(s)
	h.wantStatus("tg-off", disabled, "UNAVAILABLE", "")
	h.wantStatus("tg-fn", lambda, "UNAVAILABLE", "")
	h.wantStatus("tg-ec2", instance, "UNAVAILABLE", "")
	if _, _, ok := h.c.TargetStatus("tg-none", "10.0.0.1", 80); ok {
		t.Error("TargetStatus of an unknown target: ok=true, want false")
	}
	time.Sleep(10 * testScale)
	if n := b.count(); n != 0 {
		t.Fatalf("a target with checks disabled received %d probes", n)
	}
	if n := h.proberCount(); n != 0 {
		t.Fatalf("%d probers run, want 0", n)
	}

	// Enabling the checks starts probing from INITIAL.
	enabled := ipTarget("tg-off", b.addr)
	h.publish(snap(2, ipGroup("tg-off", healthCheck(nil), enabled)))
	h.waitStatus("tg-off", enabled, "HEALTHY")
	if b.count() == 0 {
		t.Fatal("backend saw no probe")
	}
}

// INSTANCE targets are checked like IP targets at the address the
// compiler resolved from their instance; ALB targets are not checked.
func TestInstanceTargetsAreChecked(t *testing.T) {
	h := newHarness(t, nil)
	good, bad := newBackend(t, plainHTTP), newBackend(t, plainHTTP)
	bad.status.Store(http.StatusServiceUnavailable)
	inst := func(id string, ap netip.AddrPort) *snapshot.Target {
		return &snapshot.Target{ID: id, Port: int(ap.Port()), Addr: ap, Key: upstream.TargetKey("tg-ec2", id, int(ap.Port()))}
	}
	g, b := inst("i-0000000a", good.addr), inst("i-0000000b", bad.addr)
	hc := healthCheck(func(hc *model.HealthCheckConfig) { hc.UnhealthyThresholdCount = ptr(1) })
	alb := &snapshot.Target{ID: "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/0123456789abcdef",
		Port: int(good.addr.Port()), Addr: good.addr, Key: "tg-alb/web/80@" + good.addr.String()}
	h.publish(snap(1,
		&snapshot.TargetGroup{ID: "tg-ec2", Type: model.TargetGroupTypeInstance, Protocol: model.ProtocolHTTP,
			ProtocolVersion: model.ProtocolVersionHTTP1, HealthCheck: hc, InUse: true, Targets: []*snapshot.Target{g, b}},
		&snapshot.TargetGroup{ID: "tg-alb", Type: model.TargetGroupTypeALB, Protocol: model.ProtocolHTTP,
			ProtocolVersion: model.ProtocolVersionHTTP1, HealthCheck: hc, InUse: true, Targets: []*snapshot.Target{alb}}))
	h.waitStatus("tg-ec2", g, "HEALTHY")
	h.waitStatus("tg-ec2", b, "UNHEALTHY")
	if st, _, ok := h.c.TargetStatus("tg-alb", alb.ID, alb.Port); ok && st != "UNAVAILABLE" {
		t.Fatalf("ALB target status %s", st)
	}
	if n := h.proberCount(); n != 2 {
		t.Fatalf("%d probers run, want 2 (the instance targets only)", n)
	}
}

func TestSwapWithUnchangedConfigKeepsState(t *testing.T) {
	h := newHarness(t, nil)
	good := newBackend(t, plainHTTP)
	bad := newBackend(t, plainHTTP)
	bad.status.Store(http.StatusServiceUnavailable)
	// An interval of 1s: a restarted prober would probe at once, an
	// unchanged one not before a second has passed.
	slow := func() *model.HealthCheckConfig {
		return healthCheck(func(hc *model.HealthCheckConfig) {
			hc.HealthCheckIntervalSeconds = ptr(100)
			hc.HealthCheckTimeoutSeconds = ptr(50)
			hc.UnhealthyThresholdCount = ptr(1)
		})
	}
	g1, b1 := ipTarget("tg-1", good.addr), ipTarget("tg-1", bad.addr)
	h.publish(snap(1, ipGroup("tg-1", slow(), g1, b1)))
	h.waitStatus("tg-1", g1, "HEALTHY")
	h.waitStatus("tg-1", b1, "UNHEALTHY")
	pg, pb := h.prober(g1.Key), h.prober(b1.Key)
	ng, nb := good.count(), bad.count()

	// A new snapshot built from scratch with the same configuration; the
	// healthy target is now draining, and another group appears.
	g2, b2 := ipTarget("tg-1", good.addr), ipTarget("tg-1", bad.addr)
	tg := ipGroup("tg-1", slow(), b2)
	tg.Draining = []*snapshot.Target{g2}
	h.publish(snap(2, tg, ipGroup("tg-2", slow())))

	h.wantStatus("tg-1", g2, "HEALTHY", "")
	h.wantStatus("tg-1", b2, "UNHEALTHY", ReasonHealthCheckFailed)
	if h.prober(g2.Key) != pg || h.prober(b2.Key) != pb {
		t.Fatal("an unchanged configuration restarted the probers")
	}
	time.Sleep(20 * testScale)
	if good.count() != ng || bad.count() != nb {
		t.Errorf("probes after the swap: %d and %d, want none (no restart)", good.count()-ng, bad.count()-nb)
	}
	h.wantStatus("tg-1", g2, "HEALTHY", "")
}

func TestSwapWithChangedConfigRestarts(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	t1 := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(nil), t1)))
	h.waitStatus("tg-1", t1, "HEALTHY")
	p1 := h.prober(t1.Key)

	t2 := ipTarget("tg-1", b.addr)
	h.publish(snap(2, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) { hc.Path = "/v2" }), t2)))
	// The status survives a configuration change; the probing restarts.
	h.wantStatus("tg-1", t2, "HEALTHY", "")
	if h.prober(t2.Key) == p1 {
		t.Fatal("the prober did not restart after a path change")
	}
	eventually(t, "a probe of /v2", func() bool { return b.countPath("/v2") >= 2 })
	old := b.countPath("/")
	time.Sleep(10 * testScale)
	if n := b.countPath("/"); n != old {
		t.Errorf("%d probes of the old path after the change", n-old)
	}
	for _, r := range b.requests() {
		if r.path != "/" && r.path != "/v2" || r.ua != UserAgent {
			t.Fatalf("probe = %+v", r)
		}
	}

	// Every member of the configuration restarts the prober.
	mutations := map[string]func(*model.HealthCheckConfig){
		"interval":  func(hc *model.HealthCheckConfig) { hc.HealthCheckIntervalSeconds = ptr(2) },
		"timeout":   func(hc *model.HealthCheckConfig) { hc.HealthCheckTimeoutSeconds = ptr(3) },
		"port":      func(hc *model.HealthCheckConfig) { hc.Port = ptr(1) },
		"matcher":   func(hc *model.HealthCheckConfig) { hc.Matcher = &model.Matcher{HTTPCode: ptr("200-299")} },
		"healthy":   func(hc *model.HealthCheckConfig) { hc.HealthyThresholdCount = ptr(4) },
		"unhealthy": func(hc *model.HealthCheckConfig) { hc.UnhealthyThresholdCount = ptr(4) },
		"protocol":  func(hc *model.HealthCheckConfig) { hc.Protocol = model.ProtocolHTTPS },
		"version":   func(hc *model.HealthCheckConfig) { hc.ProtocolVersion = model.ProtocolVersionHTTP2 },
	}
	for name, mut := range mutations {
		base := healthCheck(func(hc *model.HealthCheckConfig) { hc.Path = "/v2" })
		h.publish(snap(3, ipGroup("tg-1", base, ipTarget("tg-1", b.addr))))
		before := h.prober(t1.Key)
		changed := healthCheck(func(hc *model.HealthCheckConfig) { hc.Path = "/v2"; mut(hc) })
		h.publish(snap(4, ipGroup("tg-1", changed, ipTarget("tg-1", b.addr))))
		if after := h.prober(t1.Key); after == nil || after == before {
			t.Errorf("changing the %s did not restart the prober", name)
		}
	}
}

func TestRemovedTargetIsNoLongerProbed(t *testing.T) {
	h := newHarness(t, nil)
	b1, b2 := newBackend(t, plainHTTP), newBackend(t, plainHTTP)
	t1, t2 := ipTarget("tg-1", b1.addr), ipTarget("tg-1", b2.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(nil), t1, t2)))
	h.waitStatus("tg-1", t1, "HEALTHY")
	h.waitStatus("tg-1", t2, "HEALTHY")

	h.publish(snap(2, ipGroup("tg-1", healthCheck(nil), ipTarget("tg-1", b1.addr))))
	n1, n2 := b1.count(), b2.count()
	time.Sleep(10 * testScale)
	if n := b2.count(); n != n2 {
		t.Errorf("the removed target received %d probes after its removal", n-n2)
	}
	if b1.count() <= n1 {
		t.Error("the remaining target is no longer probed")
	}
	if h.prober(t2.Key) != nil || h.proberCount() != 1 {
		t.Errorf("probers = %d, want only %s", h.proberCount(), t1.Key)
	}
}

func TestUnusedGroupStopsProbingAndGoesBackToInitial(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(nil), tgt)))
	h.waitStatus("tg-1", tgt, "HEALTHY")

	unused := ipGroup("tg-1", healthCheck(nil), ipTarget("tg-1", b.addr))
	unused.InUse = false
	h.publish(snap(2, unused))
	h.wantStatus("tg-1", tgt, "INITIAL", "")
	n := b.count()
	time.Sleep(10 * testScale)
	if b.count() != n {
		t.Errorf("an unused group's target received %d probes", b.count()-n)
	}

	// In use again: probed from INITIAL.
	h.publish(snap(3, ipGroup("tg-1", healthCheck(nil), ipTarget("tg-1", b.addr))))
	h.waitStatus("tg-1", tgt, "HEALTHY")
	if b.count() == n {
		t.Error("the group in use again is not probed")
	}
}

func TestRunSyncsOnChangesAndCloseStops(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", b.addr)
	h.holder.Store(snap(1, ipGroup("tg-1", healthCheck(nil), tgt)))

	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.c.Run(ctx, changes)
	}()
	h.waitStatus("tg-1", tgt, "HEALTHY") // Run syncs at start

	other := newBackend(t, plainHTTP)
	t2 := ipTarget("tg-1", other.addr)
	h.holder.Store(snap(2, ipGroup("tg-1", healthCheck(nil), tgt, t2)))
	changes <- struct{}{}
	h.waitStatus("tg-1", t2, "HEALTHY")

	cancel()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after its context ended")
	}

	h.c.Close()
	h.c.Close() // idempotent
	n1, n2 := b.count(), other.count()
	time.Sleep(10 * testScale)
	if b.count() != n1 || other.count() != n2 {
		t.Error("probes after Close")
	}
	h.c.Sync() // no-op after Close
	if h.proberCount() != 0 {
		t.Errorf("%d probers after Close", h.proberCount())
	}
	h.wantStatus("tg-1", tgt, "HEALTHY", "") // states stay
}

func TestMinIntervalIsAFloor(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.IntervalScale = time.Millisecond
		c.MinInterval = 50 * time.Millisecond
	})
	b := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(nil), tgt)))
	time.Sleep(300 * time.Millisecond)
	h.c.Close()
	if n := b.count(); n < 2 || n > 300/50+2 {
		t.Errorf("%d probes in 300ms with a 50ms floor, want 2 to 8", n)
	}
}

// TestStateMachine drives record directly (reference §6 semantics).
func TestStateMachine(t *testing.T) {
	const pass, fail = "", "status 500 not in 200"
	for _, tc := range []struct {
		name   string
		start  upstream.Health
		checks []string
		want   []upstream.Health // after each check
	}{
		{"new target healthy after one pass", upstream.HealthInitial,
			[]string{pass}, []upstream.Health{upstream.HealthHealthy}},
		{"initial unhealthy after threshold", upstream.HealthInitial,
			[]string{fail, fail, pass, pass, pass},
			[]upstream.Health{upstream.HealthInitial, upstream.HealthUnhealthy, upstream.HealthUnhealthy, upstream.HealthUnhealthy, upstream.HealthHealthy}},
		{"initial with one failure still needs one pass", upstream.HealthInitial,
			[]string{fail, pass}, []upstream.Health{upstream.HealthInitial, upstream.HealthHealthy}},
		{"healthy needs consecutive failures", upstream.HealthHealthy,
			[]string{fail, pass, fail, fail},
			[]upstream.Health{upstream.HealthHealthy, upstream.HealthHealthy, upstream.HealthHealthy, upstream.HealthUnhealthy}},
		{"unhealthy needs consecutive passes", upstream.HealthUnhealthy,
			[]string{pass, pass, fail, pass, pass, pass},
			[]upstream.Health{upstream.HealthUnhealthy, upstream.HealthUnhealthy, upstream.HealthUnhealthy, upstream.HealthUnhealthy, upstream.HealthUnhealthy, upstream.HealthHealthy}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := new(upstream.State)
			p := &prober{key: "tg/x/1", g: &group{spec: spec{healthy: 3, unhealthy: 2, matcher: "200"}},
				state: st, log: slog.New(slog.DiscardHandler), status: tc.start}
			for i, c := range tc.checks {
				p.record(c, time.Now())
				got, reason := st.Health()
				if got != tc.want[i] {
					t.Fatalf("after check %d (%q): %v, want %v", i+1, c, got, tc.want[i])
				}
				wantReason := ""
				if got == upstream.HealthUnhealthy {
					wantReason = ReasonHealthCheckFailed
				}
				if reason != wantReason {
					t.Fatalf("after check %d: reason %q, want %q", i+1, reason, wantReason)
				}
			}
		})
	}

	// A passing check clears a passive mark-down.
	st := new(upstream.State)
	p := &prober{g: &group{spec: spec{healthy: 3, unhealthy: 2}}, state: st, log: slog.New(slog.DiscardHandler), status: upstream.HealthHealthy}
	st.MarkDown(time.Now().Add(time.Hour))
	p.record(pass, time.Now())
	if !st.Available(time.Now().UnixNano()) {
		t.Error("a passing check did not clear the passive mark-down")
	}
}
