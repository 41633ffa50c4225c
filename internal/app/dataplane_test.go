package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

var ctx = context.Background()

type world struct {
	t   testing.TB
	s   *apptest.Server
	c   *vpclattice.Client
	sn  *vpclattice.CreateServiceNetworkOutput
	svc *vpclattice.CreateServiceOutput
}

func newWorld(t testing.TB, o apptest.Options) *world {
	s := apptest.StartWith(t, o)
	c := vpclattice.New(vpclattice.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""), RetryMaxAttempts: 1})
	w := &world{t: t, s: s, c: c}
	w.sn = need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("prod")})).ok(t)
	w.svc = need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders"), CustomDomainName: aws.String("orders.internal")})).ok(t)
	need(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ServiceIdentifier: w.svc.Id})).ok(t)
	return w
}

type result[T any] struct {
	v   T
	err error
}

// need wraps a call's results so that ok(t) fails the test on error.
func need[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) ok(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// backend is a real HTTP server on 127.0.0.1 that records what it sees.
type backend struct {
	name string
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last http.Header
	host string
}

func newBackend(t testing.TB, name string) *backend {
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(200)
			return
		}
		b.hits.Add(1)
		b.mu.Lock()
		b.last, b.host = r.Header.Clone(), r.Host
		b.mu.Unlock()
		fmt.Fprint(w, name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) port() int32 { return int32(b.srv.Listener.Addr().(*net.TCPAddr).Port) }

func (w *world) targetGroup(name string, hc *types.HealthCheckConfig, backends ...*backend) *vpclattice.CreateTargetGroupOutput {
	t := w.t
	if hc == nil {
		// Checks go to the path the backends do not record, so that what a
		// test reads as the last request is never a health check's (a new
		// target is checked at once).
		hc = &types.HealthCheckConfig{Path: aws.String("/healthz")}
	}
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp,
			VpcIdentifier: aws.String("vpc-0000000000000000f"), HealthCheck: hc}})).ok(t)
	var targets []types.Target
	for _, b := range backends {
		targets = append(targets, types.Target{Id: aws.String("127.0.0.1"), Port: aws.Int32(b.port())})
	}
	if len(targets) > 0 {
		need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: targets})).ok(t)
	}
	return tg
}

// clientVPC associates a VPC with the network and returns its ingress address.
func (w *world) clientVPC(vpcID string, sn *string) string {
	t := w.t
	need(w.c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn, VpcIdentifier: aws.String(vpcID)})).ok(t)
	return w.ingress(vpcID)
}

func (w *world) ingress(vpcID string) string {
	req, _ := http.NewRequest("GET", w.s.Endpoint+"/trellis/v1/vpcs/"+vpcID, nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: w.s.AccessKeyID, SecretAccessKey: w.s.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "vpc-lattice", w.s.Region, time.Now()); err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ IngressAddress string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.IngressAddress == "" {
		w.t.Fatalf("GET vpc: %v %+v", err, v)
	}
	return v.IngressAddress
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// get sends a request to ingress:port naming host; it retries briefly
// while the configuration propagates (status 404/connection refused).
func get(t testing.TB, ingress string, port int, host, path string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d%s", ingress, port, path), nil)
		req.Host = host
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b), resp.Header
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s%s via %s:%d: %v", host, path, ingress, port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually polls until f returns true.
func eventually(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDataPlaneRoutingSplitAndHeaders(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	blue, green := newBackend(t, "blue"), newBackend(t, "green")
	admin := newBackend(t, "admin")
	tgBlue := w.targetGroup("blue", nil, blue)
	tgGreen := w.targetGroup("green", nil, green)
	tgAdmin := w.targetGroup("admin", nil, admin)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18080), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgBlue.Id, Weight: aws.Int32(90)},
				{TargetGroupIdentifier: tgGreen.Id, Weight: aws.Int32(10)}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("admin"),
		Priority: aws.Int32(10), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/admin"}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgAdmin.Id}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("beta"),
		Priority: aws.Int32(20), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			HeaderMatches: []types.HeaderMatch{{Name: aws.String("x-beta"), Match: &types.HeaderMatchTypeMemberExact{Value: "yes"}}}}},
		Action: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)

	host := *w.svc.DnsEntry.DomainName
	counts := map[string]int{}
	for i := 0; i < 1000; i++ {
		st, body, _ := get(t, ingress, 18080, host, "/orders", nil)
		if st != 200 {
			t.Fatalf("request %d: %d %s", i, st, body)
		}
		counts[body]++
	}
	if counts["blue"] < 850 || counts["blue"] > 950 || counts["blue"]+counts["green"] != 1000 {
		t.Fatalf("90/10 split over 1000 requests: %v", counts)
	}
	if st, body, _ := get(t, ingress, 18080, "ORDERS.internal:18080", "/admin/users", nil); st != 200 || body != "admin" {
		t.Fatalf("path rule via custom domain: %d %s", st, body)
	}
	if st, _, _ := get(t, ingress, 18080, host, "/x", map[string]string{"X-Beta": "yes"}); st != 404 {
		t.Fatalf("header rule with fixed 404: %d", st)
	}
	// Headers the target sees.
	st, _, rh := get(t, ingress, 18080, host, "/admin", map[string]string{
		"X-Amzn-Lattice-Network": "SourceVpcArn=forged", "X-Forwarded-For": "6.6.6.6", "X-Amzn-Requestid": "req-123"})
	if st != 200 {
		t.Fatal(st)
	}
	admin.mu.Lock()
	seen, seenHost := admin.last, admin.host
	admin.mu.Unlock()
	wantNet := "SourceVpcArn=arn:aws:ec2:us-east-1:" + w.s.Account + ":vpc/vpc-00000000000000001"
	if seen.Get("X-Amzn-Lattice-Network") != wantNet || len(seen.Values("X-Amzn-Lattice-Network")) != 1 {
		t.Fatalf("x-amzn-lattice-network %q", seen.Values("X-Amzn-Lattice-Network"))
	}
	if seen.Get("X-Forwarded-For") != "127.0.0.1" || seen.Get("X-Forwarded-Port") != "18080" || seen.Get("X-Forwarded-Proto") != "http" {
		t.Fatalf("forwarded headers %v", seen)
	}
	if tgt := seen.Get("X-Amzn-Lattice-Target"); !strings.Contains(tgt, "ServiceArn="+*w.svc.Arn) ||
		!strings.Contains(tgt, "ServiceNetworkArn="+*w.sn.Arn) || !strings.Contains(tgt, "TargetGroupArn="+*tgAdmin.Arn) {
		t.Fatalf("x-amzn-lattice-target %q", tgt)
	}
	if seen.Get("X-Amzn-Requestid") != "req-123" || rh.Get("X-Amzn-Requestid") != "req-123" || seenHost != host {
		t.Fatalf("request id %q/%q host %q", seen.Get("X-Amzn-Requestid"), rh.Get("X-Amzn-Requestid"), seenHost)
	}
}

func TestDataPlaneDoubleAssociation(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	b := newBackend(t, "orders")
	tg := w.targetGroup("orders", nil, b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18081), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	inside := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	other := need(w.c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("other")})).ok(t)
	outside := w.clientVPC("vpc-00000000000000002", other.Id)
	host := *w.svc.DnsEntry.DomainName
	if st, body, _ := get(t, inside, 18081, host, "/", nil); st != 200 || body != "orders" {
		t.Fatalf("inside: %d %s", st, body)
	}
	before := b.hits.Load()
	// The other VPC's ingress answers 404 "Non Existent Service": never the target.
	if st, body, _ := get(t, outside, 18081, host, "/", nil); st != 404 || !strings.Contains(body, "Non Existent Service") {
		t.Fatalf("a VPC of another network got %d %q", st, body)
	}
	if b.hits.Load() != before {
		t.Fatal("a VPC of another network reached the target")
	}
	// Leaving the network makes the service unreachable.
	list := need(w.c.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: w.svc.Id})).ok(t)
	need(w.c.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: list.Items[0].Id})).ok(t)
	eventually(t, 3*time.Second, "service unreachable", func() bool {
		st, _, _ := get(t, inside, 18081, host, "/", nil)
		return st == 404
	})
}

func TestDataPlaneHealthDrainingAndFailOpen(t *testing.T) {
	w := newWorld(t, apptest.Options{HealthCheckSecond: 20 * time.Millisecond})
	a, b := newBackend(t, "a"), newBackend(t, "b")
	hc := &types.HealthCheckConfig{Path: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(5),
		HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)}
	tg := w.targetGroup("pool", hc, a, b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18082), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	status := func() map[string]types.TargetStatus {
		out := map[string]types.TargetStatus{}
		lt := need(w.c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg.Id})).ok(t)
		for _, it := range lt.Items {
			out[fmt.Sprint(*it.Port)] = it.Status
		}
		return out
	}
	pa, pb := fmt.Sprint(a.port()), fmt.Sprint(b.port())
	eventually(t, 5*time.Second, "both targets HEALTHY", func() bool {
		s := status()
		return s[pa] == types.TargetStatusHealthy && s[pb] == types.TargetStatusHealthy
	})
	// Balanced across both.
	for i := 0; i < 100; i++ {
		if st, _, _ := get(t, ingress, 18082, host, "/", nil); st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	if a.hits.Load() < 30 || b.hits.Load() < 30 {
		t.Fatalf("unbalanced: a=%d b=%d", a.hits.Load(), b.hits.Load())
	}
	// Stop b: it becomes UNHEALTHY and no request fails meanwhile.
	b.srv.Close()
	failed := 0
	for i := 0; i < 100; i++ {
		if st, _, _ := get(t, ingress, 18082, host, "/", nil); st != 200 {
			failed++
		}
	}
	if failed != 0 {
		t.Fatalf("%d of 100 GETs failed while a target died", failed)
	}
	eventually(t, 5*time.Second, "stopped target UNHEALTHY", func() bool { return status()[pb] == types.TargetStatusUnhealthy })
	lt := need(w.c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg.Id})).ok(t)
	for _, it := range lt.Items {
		if it.Status == types.TargetStatusUnhealthy && (it.ReasonCode == nil || *it.ReasonCode == "") {
			t.Fatal("UNHEALTHY without a reason code")
		}
	}
	// Draining: deregistered a takes no new requests.
	need(w.c.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(a.port())}}})).ok(t)
	if s := status(); s[pa] != types.TargetStatusDraining {
		t.Fatalf("deregistered target: %v", s)
	}
	eventually(t, 3*time.Second, "no target left to serve", func() bool {
		st, _, _ := get(t, ingress, 18082, host, "/", nil)
		return st == 502 || st == 503 // b is dead and unhealthy (fail-open tries it), a is draining
	})
}

func TestDataPlaneWeightChangePropagates(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	blue, green := newBackend(t, "blue"), newBackend(t, "green")
	tgBlue, tgGreen := w.targetGroup("blue", nil, blue), w.targetGroup("green", nil, green)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18083), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgBlue.Id, Weight: aws.Int32(100)},
				{TargetGroupIdentifier: tgGreen.Id, Weight: aws.Int32(0)}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	if _, body, _ := get(t, ingress, 18083, host, "/", nil); body != "blue" {
		t.Fatalf("before: %s", body)
	}
	start := time.Now()
	need(w.c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id,
		DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
			{TargetGroupIdentifier: tgBlue.Id, Weight: aws.Int32(0)}, {TargetGroupIdentifier: tgGreen.Id, Weight: aws.Int32(100)}}}}})).ok(t)
	eventually(t, 3*time.Second, "weight change served", func() bool {
		_, body, _ := get(t, ingress, 18083, host, "/", nil)
		return body == "green"
	})
	t.Logf("weight change served after %v", time.Since(start))
	_ = bytes.MinRead
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }
