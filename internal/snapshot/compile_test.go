package snapshot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/snapshot/watch"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

var update = flag.Bool("update", false, "rewrite golden files")

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture drives the real service layer with deterministic IDs and clock.
type fixture struct {
	t   *testing.T
	st  store.Store
	svc *service.Service
	ctx context.Context
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, now: epoch}
	n := 0
	f.svc = service.New(st, service.Config{DNSToken: "abc1234", Now: func() time.Time { return f.now },
		NewID: func(k arn.Kind) string { n++; return fmt.Sprintf("%s-%017x", k.Prefix, n) }})
	f.ctx = service.WithCaller(context.Background(), model.Caller{Account: "111122223333", PrincipalARN: "arn:aws:iam::111122223333:root"})
	return f
}

func ok[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func (f *fixture) compile() *snapshot.Snapshot {
	var st *snapshot.State
	err := f.st.View(f.ctx, func(tx store.ReadTx) error {
		var err error
		st, err = watch.Load(tx)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return snapshot.Compile(st, snapshot.Options{Region: "us-east-1", Now: f.now, DrainTime: time.Minute})
}

func sp(s string) *string { return &s }
func ip(i int) *int       { return &i }
func bp(b bool) *bool     { return &b }

// buildWorld makes two networks, three VPCs and two services with rules,
// a canary split and a draining target.
func buildWorld(t *testing.T, f *fixture) {
	sn := ok[*model.ServiceNetwork](t)(f.svc.CreateServiceNetwork(f.ctx, service.CreateServiceNetworkInput{Name: "prod", AuthType: "AWS_IAM"}))
	other := ok[*model.ServiceNetwork](t)(f.svc.CreateServiceNetwork(f.ctx, service.CreateServiceNetworkInput{Name: "other"}))
	orders := ok[*model.Service](t)(f.svc.CreateService(f.ctx, service.CreateServiceInput{Name: "orders", CustomDomainName: "Orders.Example.com"}))
	hidden := ok[*model.Service](t)(f.svc.CreateService(f.ctx, service.CreateServiceInput{Name: "hidden"}))
	cfg := func() *model.TargetGroupConfig {
		return &model.TargetGroupConfig{Port: ip(8080), Protocol: "HTTP", VpcIdentifier: "vpc-00000000000000001",
			HealthCheck: &model.HealthCheckConfig{Path: "/healthz", HealthCheckIntervalSeconds: ip(10)}}
	}
	v1 := ok[*model.TargetGroup](t)(f.svc.CreateTargetGroup(f.ctx, service.CreateTargetGroupInput{Name: "orders-v1", Type: "IP", Config: cfg()}))
	v2 := ok[*model.TargetGroup](t)(f.svc.CreateTargetGroup(f.ctx, service.CreateTargetGroupInput{Name: "orders-v2", Type: "IP", Config: cfg()}))
	for _, tgt := range []struct {
		tg   string
		id   string
		port *int
	}{{v1.ID, "127.0.0.1", ip(9001)}, {v1.ID, "127.0.0.2", nil}, {v2.ID, "127.0.0.3", ip(9003)}, {v2.ID, "127.0.0.4", ip(9004)}} {
		res, err := f.svc.RegisterTargets(f.ctx, tgt.tg, []service.TargetInput{{ID: tgt.id, Port: tgt.port}})
		if err != nil || len(res.Unsuccessful) != 0 {
			t.Fatalf("register: %v %+v", err, res)
		}
	}
	f.now = f.now.Add(10 * time.Second)
	if _, err := f.svc.DeregisterTargets(f.ctx, v2.ID, []service.TargetInput{{ID: "127.0.0.4", Port: ip(9004)}}); err != nil {
		t.Fatal(err)
	}
	l := ok[*model.Listener](t)(f.svc.CreateListener(f.ctx, service.CreateListenerInput{ServiceIdentifier: orders.ID, Name: "web",
		Protocol: "HTTP", Port: ip(8080), DefaultAction: &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{
			{TargetGroupIdentifier: v1.ID, Weight: ip(90)}, {TargetGroupIdentifier: v2.ARN, Weight: ip(10)}}}}}))
	ok[*model.Rule](t)(f.svc.CreateRule(f.ctx, service.CreateRuleInput{ServiceIdentifier: orders.ID, ListenerIdentifier: l.ID, Name: "admin",
		Priority: ip(20), Match: &model.RuleMatch{HTTPMatch: &model.HTTPMatch{PathMatch: &model.PathMatch{Match: model.MatchType{Prefix: sp("/Admin")}}}},
		Action: &model.RuleAction{FixedResponse: &model.FixedResponseAction{StatusCode: ip(404)}}}))
	ok[*model.Rule](t)(f.svc.CreateRule(f.ctx, service.CreateRuleInput{ServiceIdentifier: orders.ID, ListenerIdentifier: l.ID, Name: "canary",
		Priority: ip(10), Match: &model.RuleMatch{HTTPMatch: &model.HTTPMatch{Method: "GET",
			PathMatch:     &model.PathMatch{Match: model.MatchType{Exact: sp("/API")}, CaseSensitive: bp(true)},
			HeaderMatches: []model.HeaderMatch{{Name: "x-canary", Match: model.MatchType{Contains: sp("YES")}}}}},
		Action: &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: v2.ID}}}}}))
	ok[*model.Listener](t)(f.svc.CreateListener(f.ctx, service.CreateListenerInput{ServiceIdentifier: hidden.ID, Name: "web",
		Protocol: "HTTP", DefaultAction: &model.RuleAction{FixedResponse: &model.FixedResponseAction{StatusCode: ip(500)}}}))
	ok[service.SNSADetail](t)(f.svc.CreateServiceNetworkServiceAssociation(f.ctx, service.CreateSNSAInput{ServiceNetworkIdentifier: sn.ID, ServiceIdentifier: orders.ID}))
	ok[service.SNSADetail](t)(f.svc.CreateServiceNetworkServiceAssociation(f.ctx, service.CreateSNSAInput{ServiceNetworkIdentifier: other.ID, ServiceIdentifier: hidden.ID}))
	ok[service.SNVADetail](t)(f.svc.CreateServiceNetworkVpcAssociation(f.ctx, service.CreateSNVAInput{ServiceNetworkIdentifier: sn.ID, VpcIdentifier: "vpc-00000000000000002"}))
	ok[service.SNVADetail](t)(f.svc.CreateServiceNetworkVpcAssociation(f.ctx, service.CreateSNVAInput{ServiceNetworkIdentifier: other.ARN, VpcIdentifier: "vpc-00000000000000003"}))
	for _, in := range []service.CreateALSInput{
		{ResourceIdentifier: orders.ID, DestinationARN: "arn:aws:logs:us-east-1:111122223333:log-group:orders"},
		{ResourceIdentifier: sn.ID, DestinationARN: "arn:aws:s3:::prod-logs"},
		{ResourceIdentifier: sn.ARN, DestinationARN: "arn:aws:s3:::prod-logs", ServiceNetworkLogType: "RESOURCE"},
	} {
		ok[*model.AccessLogSubscription](t)(f.svc.CreateAccessLogSubscription(f.ctx, in))
	}
	if _, err := f.svc.PutAuthPolicy(f.ctx, sn.ID, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
}

// render turns a snapshot into stable JSON: maps sorted, services by ID.
func render(s *snapshot.Snapshot) any {
	type m = map[string]any
	svcs := m{}
	var tgIDs []string
	for id := range s.TargetGroups.All() {
		tgIDs = append(tgIDs, id)
	}
	sort.Strings(tgIDs)
	tgs := m{}
	for _, id := range tgIDs {
		tg := s.TargetGroups.Get(id)
		tgs[id] = m{"arn": tg.ARN, "type": tg.Type, "protocol": tg.Protocol, "protocolVersion": tg.ProtocolVersion, "upstream": tg.Upstream,
			"port": tg.Port, "vpc": tg.VpcID, "inUse": tg.InUse, "services": tg.ServiceIDs, "healthCheck": tg.HealthCheck,
			"targets": tg.Targets, "draining": tg.Draining}
	}
	vpcs := m{}
	for id, v := range s.VPCs {
		hosts := m{}
		for h, svc := range v.Hosts.All() {
			hosts[h] = svc.ID
			listeners := m{}
			for port, l := range svc.Listeners {
				var rules []any
				for _, r := range l.Rules {
					var fwd []any
					for _, w := range r.Action.Forward {
						fwd = append(fwd, m{"tg": w.TargetGroup.ID, "weight": w.Weight, "cumulative": w.Cumulative})
					}
					rules = append(rules, m{"id": r.ID, "name": r.Name, "priority": r.Priority, "default": r.IsDefault,
						"match": r.Match, "fixed": r.Action.FixedStatus, "forward": fwd, "total": r.Action.TotalWeight})
				}
				listeners[fmt.Sprint(port)] = m{"id": l.ID, "protocol": l.Protocol, "rules": rules}
			}
			svcs[svc.ID] = m{"arn": svc.ARN, "dns": svc.DNSName, "customDomain": svc.CustomDomain, "authType": svc.AuthType,
				"authPolicy": svc.AuthPolicy, "listeners": listeners, "accessLogs": svc.AccessLogs}
		}
		var sn any
		if v.ServiceNetwork != nil {
			sn = v.ServiceNetwork
		}
		vpcs[id] = m{"arn": v.ARN, "mode": v.Mode, "ingress": v.Ingress.String(), "serviceNetwork": sn, "hosts": hosts, "ports": v.Ports}
	}
	return m{"revision": s.Revision, "vpcs": vpcs, "reachableServices": svcs, "targetGroups": tgs}
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/snapshot -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("%s differs from golden:\n%s", name, buf.String())
	}
}

func TestCompileGolden(t *testing.T) {
	f := newFixture(t)
	buildWorld(t, f)
	snap := f.compile()
	golden(t, "world", render(snap))

	// Invariants the golden file shows, asserted so they cannot silently flip.
	prod := snap.VPCs["vpc-00000000000000002"]
	if prod.Hosts.Len() != 2 || prod.Hosts.Get("orders.example.com") == nil {
		t.Fatalf("prod VPC hosts: %v", prod.Hosts)
	}
	for h, svc := range snap.VPCs["vpc-00000000000000003"].Hosts.All() {
		if svc.Name == "orders" {
			t.Fatalf("VPC of the other network reaches orders via %s", h)
		}
	}
	if tgVPC := snap.VPCs["vpc-00000000000000001"]; tgVPC.Hosts.Len() != 0 || tgVPC.ServiceNetwork != nil {
		t.Fatalf("the targets' VPC has no association but reaches %v", tgVPC.Hosts)
	}
	rules := prod.Hosts.Get("orders.example.com").Listeners[8080].Rules
	if rules[0].Name != "canary" || rules[1].Name != "admin" || !rules[2].IsDefault {
		t.Fatalf("rule order: %s %s %v", rules[0].Name, rules[1].Name, rules[2].IsDefault)
	}
	// Access logs: the service's own subscription; the network's SERVICE
	// subscription, not its RESOURCE one.
	if al := prod.Hosts.Get("orders.example.com").AccessLogs; len(al) != 1 || al[0].DestinationARN != "arn:aws:logs:us-east-1:111122223333:log-group:orders" {
		t.Fatalf("service access logs: %+v", al)
	}
	if al := prod.ServiceNetwork.AccessLogs; len(al) != 1 || al[0].DestinationARN != "arn:aws:s3:::prod-logs" || al[0].ResourceID != prod.ServiceNetwork.ID {
		t.Fatalf("network access logs: %+v", al)
	}
	if ByIngress := snap.ByIngress[prod.Ingress]; ByIngress != prod {
		t.Fatal("ByIngress does not index the VPC")
	}

	// Draining ends with the drain time.
	f.now = f.now.Add(2 * time.Minute)
	later := f.compile()
	for _, tg := range later.TargetGroups.All() {
		if len(tg.Draining) != 0 {
			t.Fatalf("target still draining after the drain time: %v", tg.Draining)
		}
	}
}

func TestCompileRemovesServiceWithAssociation(t *testing.T) {
	f := newFixture(t)
	buildWorld(t, f)
	snap := f.compile()
	prod := snap.VPCs["vpc-00000000000000002"]
	svc := prod.Hosts.Get("orders.example.com")
	list, _, err := f.svc.ListServiceNetworkServiceAssociations(f.ctx, "", svc.ID, service.Page{})
	if err != nil || len(list) != 1 {
		t.Fatal(err, list)
	}
	if _, err := f.svc.DeleteServiceNetworkServiceAssociation(f.ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	after := f.compile()
	if n := after.VPCs["vpc-00000000000000002"].Hosts.Len(); n != 0 {
		t.Fatalf("service still reachable after leaving the network: %d hosts", n)
	}
	if got := after.VPCs["vpc-00000000000000002"].Ports; len(got) != 2 {
		t.Fatalf("ports %v: every VPC keeps listening on every listener port, so unreachable services answer 404", got)
	}
	if snap.VPCs["vpc-00000000000000002"].Hosts.Get("orders.example.com") == nil {
		t.Fatal("the old snapshot changed: snapshots must be immutable")
	}
}

// TestCompileIgnoresSquattedVPCAssociation: a VPC association made by an
// account that neither owns the VPC nor administers the installation (one
// stored before the API refused it) joins the VPC to no network (issue 10,
// finding 3).
func TestCompileIgnoresSquattedVPCAssociation(t *testing.T) {
	const owner, squatter, admin = "111111111111", "222222222222", "000000000000"
	state := func(by string) *snapshot.State {
		return &snapshot.State{
			VPCs: []*model.VPC{{ID: "vpc-0a000000000000001", Account: owner, Mode: "host", IngressAddress: "127.171.0.1"}},
			ServiceNetworks: []*model.ServiceNetwork{{Meta: model.Meta{ID: "sn-0a000000000000001", Account: by},
				Name: "net", AuthType: "NONE"}},
			SNVAs: []*model.ServiceNetworkVpcAssociation{{Meta: model.Meta{ID: "snva-0a000000000000001", Account: by},
				ServiceNetworkID: "sn-0a000000000000001", VpcID: "vpc-0a000000000000001"}},
		}
	}
	for by, joined := range map[string]bool{owner: true, admin: true, squatter: false} {
		snap := snapshot.Compile(state(by), snapshot.Options{Region: "us-east-1", AdminAccount: admin})
		v := snap.VPCs["vpc-0a000000000000001"]
		if v == nil {
			t.Fatal("VPC not compiled")
		}
		if got := v.ServiceNetwork != nil; got != joined {
			t.Errorf("association made by %s: joined %v, want %v", by, got, joined)
		}
	}
}

// TestCompileSameCustomDomainInTwoNetworks: two services may share a custom
// domain name when no service network has both (the API refuses the
// association that would put both in one). Each VPC maps the name to the
// service of its own network. A forward action without weights gets
// weight 100 for its one group, and the whole draw goes to that group.
func TestCompileSameCustomDomainInTwoNetworks(t *testing.T) {
	f := newFixture(t)
	var vpcs []string
	for i, name := range []string{"blue", "green"} {
		sn := ok[*model.ServiceNetwork](t)(f.svc.CreateServiceNetwork(f.ctx, service.CreateServiceNetworkInput{Name: name}))
		svc := ok[*model.Service](t)(f.svc.CreateService(f.ctx, service.CreateServiceInput{Name: name, CustomDomainName: "API.example.com"}))
		tg := ok[*model.TargetGroup](t)(f.svc.CreateTargetGroup(f.ctx, service.CreateTargetGroupInput{Name: name, Type: "IP",
			Config: &model.TargetGroupConfig{Port: ip(8080), Protocol: "HTTP", VpcIdentifier: "vpc-00000000000000001"}}))
		ok[*model.Listener](t)(f.svc.CreateListener(f.ctx, service.CreateListenerInput{ServiceIdentifier: svc.ID, Name: "web",
			Protocol: "HTTP", Port: ip(8080), DefaultAction: &model.RuleAction{Forward: &model.ForwardAction{
				TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: tg.ID}}}}}))
		ok[service.SNSADetail](t)(f.svc.CreateServiceNetworkServiceAssociation(f.ctx, service.CreateSNSAInput{ServiceNetworkIdentifier: sn.ID, ServiceIdentifier: svc.ID}))
		vpc := fmt.Sprintf("vpc-0000000000000001%d", i)
		ok[service.SNVADetail](t)(f.svc.CreateServiceNetworkVpcAssociation(f.ctx, service.CreateSNVAInput{ServiceNetworkIdentifier: sn.ID, VpcIdentifier: vpc}))
		vpcs = append(vpcs, vpc)
	}
	snap := f.compile()
	for i, name := range []string{"blue", "green"} {
		v := snap.VPCs[vpcs[i]]
		svc := v.Hosts.Get("api.example.com")
		if svc == nil || svc.Name != name {
			t.Fatalf("VPC %s maps api.example.com to %+v, want service %s", vpcs[i], svc, name)
		}
		if v.Hosts.Len() != 2 { // the generated name and the custom domain
			t.Fatalf("VPC %s hosts %v", vpcs[i], v.Hosts)
		}
		a := svc.Listeners[8080].Rules[0].Action
		if len(a.Forward) != 1 || a.Forward[0].Weight != 100 || a.Forward[0].Cumulative != 100 || a.TotalWeight != 100 {
			t.Fatalf("service %s default action %+v", name, a)
		}
	}
}

// TestCompileRegistryTargets compiles testdata/targets.in.json, a state
// given as data, into testdata/targets.golden.json: INSTANCE targets take
// their running instance's address (a stopped, pending, unknown or
// other-VPC instance none: left out), ALB targets one target per address
// of the listener on their port (none for a load balancer that is gone or
// in another VPC), draining ones likewise.
func TestCompileRegistryTargets(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "targets.in.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st snapshot.State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	snap := snapshot.Compile(&st, snapshot.Options{Region: "us-east-1", Now: epoch.Add(time.Minute), DrainTime: time.Minute})
	golden(t, "targets", render(snap))

	inst := snap.TargetGroups.Get("tg-0000000000000000a")
	if len(inst.Targets) != 2 || inst.Targets[0].Addr.String() != "127.0.0.5:8080" || inst.Targets[1].Addr.String() != "[2001:db8::7]:9000" {
		t.Fatalf("instance targets %+v", inst.Targets)
	}
	if inst.Upstream != snapshot.UpstreamH1 {
		t.Fatalf("INSTANCE HTTP1 upstream %s", inst.Upstream)
	}
	alb := snap.TargetGroups.Get("tg-0000000000000000b")
	if len(alb.Targets) != 3 || alb.Upstream != snapshot.UpstreamH1TLS {
		t.Fatalf("ALB targets %+v (%s)", alb.Targets, alb.Upstream)
	}
	keys := map[string]bool{}
	for _, tg := range snap.TargetGroups.All() {
		for _, l := range [][]*snapshot.Target{tg.Targets, tg.Draining} {
			for _, x := range l {
				if keys[x.Key] {
					t.Fatalf("key %s twice", x.Key)
				}
				keys[x.Key] = true
			}
		}
	}
	// A stopped instance started again comes back.
	for _, i := range st.Instances {
		if i.ID == "i-00000002" {
			i.State = model.InstanceStateRunning
		}
	}
	if n := len(snapshot.Compile(&st, snapshot.Options{Now: epoch.Add(time.Minute), DrainTime: time.Minute}).TargetGroups.Get("tg-0000000000000000a").Targets); n != 3 {
		t.Fatalf("after a start: %d targets", n)
	}
}
