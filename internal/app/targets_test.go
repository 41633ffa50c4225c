package app_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// hostBackend is a real HTTP server on a loopback address of its own
// (127.0.0.x), standing for an instance or an ALB's listener address.
type hostBackend struct {
	name    string
	srv     *httptest.Server
	hits    atomic.Int64
	tls     atomic.Int64 // requests that came over TLS
	healthy atomic.Bool
}

func newHostBackend(t *testing.T, ip, name string, useTLS bool) *hostBackend {
	t.Helper()
	b := &hostBackend{name: name}
	b.healthy.Store(true)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if !b.healthy.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		b.hits.Add(1)
		if r.TLS != nil {
			b.tls.Add(1)
		}
		fmt.Fprint(w, name)
	}))
	b.srv.Listener.Close()
	b.srv.Listener = ln
	if useTLS {
		b.srv.StartTLS() // a self-signed certificate, which Lattice does not verify
	} else {
		b.srv.Start()
	}
	t.Cleanup(b.srv.Close)
	return b
}

func (b *hostBackend) addr() string { return b.srv.Listener.Addr().String() }
func (b *hostBackend) port() int    { return b.srv.Listener.Addr().(*net.TCPAddr).Port }

func (w *world) wantNative(method, path string, body any, status int) {
	w.t.Helper()
	if st := w.native(method, path, body); st != status {
		w.t.Fatalf("%s %s: %d, want %d", method, path, st, status)
	}
}

// targetStatus returns the ListTargets status and reason of target id.
func (w *world) targetStatus(tg *string, id string) (string, string) {
	w.t.Helper()
	l := need(w.c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg})).ok(w.t)
	for _, x := range l.Items {
		if aws.ToString(x.Id) == id {
			return string(x.Status), aws.ToString(x.ReasonCode)
		}
	}
	return "", ""
}

// TestInstanceAndALBTargets: INSTANCE and ALB target groups in host mode,
// each serving real HTTP through a real listener. Instance targets resolve
// to their instance's address and are health-checked; stopping an instance
// takes it out of rotation (UNUSED, Target.InvalidState) and starting it
// brings it back; an unhealthy one gets nothing. An ALB target spreads over
// its listener's addresses, has no health checks (UNAVAILABLE), and is
// reached over HTTPS when its group's protocol is HTTPS, the self-signed
// certificate unverified.
func TestInstanceAndALBTargets(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	const vpc = "vpc-0000000000000000e"
	i1, i2 := newHostBackend(t, "127.0.0.21", "i1", false), newHostBackend(t, "127.0.0.22", "i2", false)
	a1, a2 := newHostBackend(t, "127.0.0.23", "a1", false), newHostBackend(t, "127.0.0.24", "a2", false)
	sec := newHostBackend(t, "127.0.0.25", "secure", true)

	w.wantNative("PUT", "/trellis/v1/vpcs/"+vpc, map[string]any{"mode": "host"}, 201)
	instance := func(id string, b *hostBackend, state string) map[string]any {
		return map[string]any{"vpcId": vpc, "privateIpAddress": strings.Split(b.addr(), ":")[0], "state": state}
	}
	w.wantNative("PUT", "/trellis/v1/instances/i-00000000000000001", instance("i1", i1, "running"), 201)
	w.wantNative("PUT", "/trellis/v1/instances/i-00000000000000002", instance("i2", i2, "running"), 201)

	itg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("instances"), Type: types.TargetGroupTypeInstance,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpc),
			HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(5),
				HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)}}})).ok(t)
	reg := need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: itg.Id, Targets: []types.Target{
		{Id: aws.String("i-00000000000000001"), Port: aws.Int32(int32(i1.port()))},
		{Id: aws.String("i-00000000000000002"), Port: aws.Int32(int32(i2.port()))}}})).ok(t)
	if len(reg.Unsuccessful) != 0 {
		t.Fatalf("register instances: %+v", reg.Unsuccessful[0])
	}

	listenerPort := freeLoopbackPort(t)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(int32(listenerPort)), DefaultAction: &types.RuleActionMemberForward{
			Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: itg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-0000000000000000c", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	call := func(path string) (int, string) {
		t.Helper()
		st, body, _ := get(t, ingress, listenerPort, host, path, nil)
		return st, body
	}

	// Both instances healthy: both serve.
	eventually(t, 15*time.Second, "both instance targets HEALTHY", func() bool {
		s1, _ := w.targetStatus(itg.Id, "i-00000000000000001")
		s2, _ := w.targetStatus(itg.Id, "i-00000000000000002")
		return s1 == "HEALTHY" && s2 == "HEALTHY"
	})
	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		st, body := call("/")
		if st != 200 {
			t.Fatalf("GET /: %d %s", st, body)
		}
		seen[body]++
	}
	if seen["i1"] == 0 || seen["i2"] == 0 || seen["i1"]+seen["i2"] != 20 {
		t.Fatalf("the instances served %v", seen)
	}

	// Stopped, i2 leaves the rotation and shows Lattice's status.
	w.wantNative("PUT", "/trellis/v1/instances/i-00000000000000002", instance("i2", i2, "stopped"), 200)
	if st, r := w.targetStatus(itg.Id, "i-00000000000000002"); st != "UNUSED" || r != "Target.InvalidState" {
		t.Fatalf("stopped instance target: %s %s", st, r)
	}
	onlyI1 := func() bool {
		for i := 0; i < 10; i++ {
			if _, body := call("/"); body != "i1" {
				return false
			}
		}
		return true
	}
	eventually(t, 5*time.Second, "only i1 serves while i2 is stopped", onlyI1)
	before := i2.hits.Load()
	for i := 0; i < 10; i++ {
		if st, body := call("/"); st != 200 || body != "i1" {
			t.Fatalf("with i2 stopped: %d %s", st, body)
		}
	}
	if n := i2.hits.Load() - before; n != 0 {
		t.Fatalf("the stopped instance got %d requests", n)
	}

	// Running again, it comes back (checked anew).
	w.wantNative("PUT", "/trellis/v1/instances/i-00000000000000002", instance("i2", i2, "running"), 200)
	eventually(t, 15*time.Second, "i2 serves again", func() bool {
		_, body := call("/")
		return body == "i2"
	})
	// Failing its health checks, it is UNHEALTHY and gets nothing.
	i2.healthy.Store(false)
	eventually(t, 20*time.Second, "i2 UNHEALTHY", func() bool {
		st, _ := w.targetStatus(itg.Id, "i-00000000000000002")
		return st == "UNHEALTHY"
	})
	before = i2.hits.Load()
	for i := 0; i < 10; i++ {
		if st, body := call("/"); st != 200 || body != "i1" {
			t.Fatalf("with i2 unhealthy: %d %s", st, body)
		}
	}
	if n := i2.hits.Load() - before; n != 0 {
		t.Fatalf("the unhealthy instance got %d requests", n)
	}

	// ALB targets, HTTP: one load balancer listening on two addresses.
	albBody := func(port int, proto string, bs ...*hostBackend) map[string]any {
		var addrs []string
		for _, b := range bs {
			addrs = append(addrs, b.addr())
		}
		return map[string]any{"vpcId": vpc, "listeners": []map[string]any{{"port": port, "protocol": proto, "addresses": addrs}}}
	}
	lbARN := func(name string) string {
		st, typ, body := nativeCall(t, w.s, "GET", "/trellis/v1/load-balancers/"+name, nil)
		if st != 200 {
			t.Fatalf("GET load balancer %s: %d %s %s", name, st, typ, body)
		}
		i := strings.Index(string(body), `"loadBalancerArn":"`)
		rest := string(body)[i+len(`"loadBalancerArn":"`):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	w.wantNative("PUT", "/trellis/v1/load-balancers/web", albBody(80, "HTTP", a1, a2), 201)
	w.wantNative("PUT", "/trellis/v1/load-balancers/secure", albBody(443, "HTTPS", sec), 201)
	albGroup := func(name string, port int32, proto types.TargetGroupProtocol, arn string) *string {
		tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeAlb,
			Config: &types.TargetGroupConfig{Port: aws.Int32(port), Protocol: proto, VpcIdentifier: aws.String(vpc)}})).ok(t)
		r := need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
			Targets: []types.Target{{Id: aws.String(arn)}}})).ok(t)
		if len(r.Unsuccessful) != 0 {
			t.Fatalf("register %s: %s", arn, aws.ToString(r.Unsuccessful[0].FailureMessage))
		}
		return tg.Id
	}
	webARN, secureARN := lbARN("web"), lbARN("secure")
	plain := albGroup("alb-plain", 80, types.TargetGroupProtocolHttp, webARN)
	tls := albGroup("alb-tls", 443, types.TargetGroupProtocolHttps, secureARN)
	for i, r := range []struct {
		path string
		tg   *string
	}{{"/plain", plain}, {"/tls", tls}} {
		need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String(r.path[1:]),
			Priority: aws.Int32(int32(10 + i)), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
				PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: r.path}}}},
			Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: r.tg}}}}})).ok(t)
	}
	eventually(t, 5*time.Second, "the ALB serves", func() bool {
		_, body := call("/plain")
		return body == "a1" || body == "a2"
	})
	seen = map[string]int{}
	for i := 0; i < 20; i++ {
		st, body := call("/plain")
		if st != 200 {
			t.Fatalf("GET /plain: %d %s", st, body)
		}
		seen[body]++
	}
	if seen["a1"] == 0 || seen["a2"] == 0 || seen["a1"]+seen["a2"] != 20 {
		t.Fatalf("the ALB's addresses served %v", seen)
	}
	if st, r := w.targetStatus(plain, webARN); st != "UNAVAILABLE" || r != "" {
		t.Fatalf("ALB target status %s %s, want UNAVAILABLE (no health checks)", st, r)
	}
	eventually(t, 5*time.Second, "the HTTPS ALB serves", func() bool {
		st, body := call("/tls")
		return st == 200 && body == "secure"
	})
	if sec.tls.Load() == 0 {
		t.Fatal("the HTTPS ALB target was not reached over TLS")
	}

	// A load balancer that loses its listener on the group's port leaves
	// the rotation: no target to send to.
	w.wantNative("PUT", "/trellis/v1/load-balancers/web", albBody(8080, "HTTP", a1), 200)
	eventually(t, 5*time.Second, "no target once the listener is gone", func() bool {
		st, _ := call("/plain")
		return st == 503
	})
}
