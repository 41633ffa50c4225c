package snapshot_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// stateLookup answers snapshot.Lookup from a State, in store key order.
type stateLookup struct{ st *snapshot.State }

func (l stateLookup) Service(id string) *model.Service {
	for _, s := range l.st.Services {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (l stateLookup) Listeners(svc string) []*model.Listener {
	var out []*model.Listener
	for _, x := range l.st.Listeners {
		if x.ServiceID == svc {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b *model.Listener) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (l stateLookup) Rules(listener string) []*model.Rule {
	var out []*model.Rule
	for _, x := range l.st.Rules {
		if x.ListenerID == listener {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b *model.Rule) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (l stateLookup) TargetGroup(id string) *model.TargetGroup {
	for _, x := range l.st.TargetGroups {
		if x.ID == id {
			return x
		}
	}
	return nil
}

func (l stateLookup) Targets(tg string) []*model.Target {
	var out []*model.Target
	for _, x := range l.st.Targets {
		if x.TargetGroupID == tg {
			out = append(out, x)
		}
	}
	key := func(t *model.Target) string { return fmt.Sprintf("%s/%s/%d", t.TargetGroupID, t.ID, t.Port) }
	slices.SortFunc(out, func(a, b *model.Target) int { return strings.Compare(key(a), key(b)) })
	return out
}

func (l stateLookup) AuthPolicy(owner string) *model.AuthPolicy {
	for _, x := range l.st.AuthPolicies {
		if x.ResourceID == owner {
			return x
		}
	}
	return nil
}

// copyState copies the slices (Compile sorts the targets in place).
func copyState(st *snapshot.State) *snapshot.State {
	c := *st
	c.Services, c.Listeners, c.Rules = slices.Clone(st.Services), slices.Clone(st.Listeners), slices.Clone(st.Rules)
	c.TargetGroups, c.Targets, c.AuthPolicies = slices.Clone(st.TargetGroups), slices.Clone(st.Targets), slices.Clone(st.AuthPolicies)
	c.SNSAs = slices.Clone(st.SNSAs)
	return &c
}

func without[T any](s []*T, drop func(*T) bool) []*T {
	return slices.DeleteFunc(slices.Clone(s), drop)
}

// TestIncrementalEqualsCompile: after random changes of services,
// listeners, rules, target groups, targets (draining ones too), auth
// policies and now and then of something the incremental path does not
// handle, an Incremental compile equals a full Compile of the same state
// (deep equality of the snapshot graphs), while most compiles stay
// incremental.
func TestIncrementalEqualsCompile(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { incrementalEqualsCompile(t, seed) })
	}
}

func incrementalEqualsCompile(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(15, seed))
	st := bigState(12, 3)
	acct := "111122223333"
	// The VPCs' owner made their associations (so that they reach the
	// network), and some services and the network log.
	for i, a := range st.SNVAs {
		c := *a
		c.Account = acct
		st.SNVAs[i] = &c
	}
	for i, res := range []string{st.Services[0].ID, st.Services[3].ID, st.Services[3].ID, st.ServiceNetworks[0].ID} {
		st.AccessLogs = append(st.AccessLogs, &model.AccessLogSubscription{Meta: model.Meta{ID: fmt.Sprintf("als-%017x", i+1), Account: acct},
			ResourceID: res, DestinationARN: fmt.Sprintf("arn:aws:s3:::bucket-%d", i)})
	}
	st.AuthPolicies = append(st.AuthPolicies, &model.AuthPolicy{ResourceID: st.ServiceNetworks[0].ID, Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`})
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	o := snapshot.Options{Region: "us-east-1", DrainTime: time.Minute, Now: base, DNSToken: "0123abc"}
	nodePrefix := seed%2 == 1
	if nodePrefix {
		// A node serving its own ingress range (--node-ingress-prefix),
		// with a VPC it cannot place (a warning every snapshot carries),
		// and its own resource range.
		o.IngressPrefix, o.NodeIngressPrefix = netip.MustParsePrefix("127.171.0.0/16"), netip.MustParsePrefix("127.181.0.0/16")
		o.ResourcePrefix = netip.MustParsePrefix("127.210.0.0/16")
		st.VPCs = append(slices.Clone(st.VPCs), &model.VPC{ID: "vpc-0000000000000000f", Account: acct, Mode: model.VPCModeHost, IngressAddress: "127.99.0.1"})
	}
	// Two netns VPCs: resource addresses of their own, per namespace.
	st.VPCs = slices.Clone(st.VPCs)
	for i := 2; i < 4; i++ {
		v := *st.VPCs[i]
		v.Mode, v.IngressAddress, v.CIDRBlocks = model.VPCModeNetns, fmt.Sprintf("169.254.171.%d", i), []string{"10.0.0.0/16"}
		st.VPCs[i] = &v
	}
	// Resources: their changes are Change.Other; the other changes keep them.
	addResources(st)
	allSNRAs := slices.Clone(st.SNRAs)
	var inc snapshot.Incremental
	next := 100
	newID := func(kind string) string { next++; return fmt.Sprintf("%s-%017x", kind, next) }
	pick := func(n int) int { return rng.IntN(n) }
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	rounds, incremental := 400, 0
	var history []*snapshot.Snapshot // every snapshot made so far
	for round := range rounds {
		ch := &snapshot.Change{}
		for range 1 + pick(3) {
			switch op := pick(13); {
			case op == 0 && len(st.Services) > 0: // change a service
				s := *st.Services[pick(len(st.Services))]
				s.AuthType = []string{model.AuthTypeNone, "AWS_IAM"}[pick(2)]
				s.Name = fmt.Sprintf("renamed%d", round)
				s.CustomDomainName = []string{"", "", "a.example.com", "B.example.com"}[pick(4)]
				st.Services = slices.Clone(st.Services)
				for i, x := range st.Services {
					if x.ID == s.ID {
						st.Services[i] = &s
					}
				}
				ch.Services = append(ch.Services, s.ID)
			case op == 1: // a new service, with a listener on port 80 forwarding to a target group
				id := newID("svc")
				st.Services = append(slices.Clone(st.Services), &model.Service{Meta: model.Meta{ID: id, ARN: "arn:svc/" + id, Account: acct},
					Name: "new", CustomDomainName: []string{"", "a.example.com"}[pick(2)], DNS: &model.DNSEntry{DomainName: "new-" + id + ".abc1234.vpc-lattice-svcs.us-east-1.on.aws"}})
				ch.Services = append(ch.Services, id)
				if pick(2) == 0 && len(st.TargetGroups) > 0 {
					lid := newID("listener")
					st.Listeners = append(slices.Clone(st.Listeners), &model.Listener{Meta: model.Meta{ID: lid}, ServiceID: id, Protocol: "HTTP", Port: 80})
					tg := st.TargetGroups[pick(len(st.TargetGroups))].ID
					st.Rules = append(slices.Clone(st.Rules), &model.Rule{Meta: model.Meta{ID: newID("rule")}, ServiceID: id, ListenerID: lid,
						IsDefault: true, Action: model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: tg}}}}})
				}
			case op == 2: // delete a service that is in no network, with its listeners and rules
				var free []*model.Service
				for _, s := range st.Services {
					if !slices.ContainsFunc(st.SNSAs, func(a *model.ServiceNetworkServiceAssociation) bool { return a.ServiceID == s.ID }) {
						free = append(free, s)
					}
				}
				if len(free) == 0 {
					continue
				}
				s := free[pick(len(free))]
				st.Services = without(st.Services, func(x *model.Service) bool { return x.ID == s.ID })
				st.Listeners = without(st.Listeners, func(x *model.Listener) bool { return x.ServiceID == s.ID })
				st.Rules = without(st.Rules, func(x *model.Rule) bool { return x.ServiceID == s.ID })
				ch.Services = append(ch.Services, s.ID)
			case op == 3 && len(st.Rules) > 0: // flip a rule's forward
				r := *st.Rules[pick(len(st.Rules))]
				var tgs []model.WeightedTargetGroup
				for range pick(3) {
					if len(st.TargetGroups) > 0 {
						w := pick(3) * 50
						tgs = append(tgs, model.WeightedTargetGroup{TargetGroupIdentifier: st.TargetGroups[pick(len(st.TargetGroups))].ID, Weight: &w})
					}
				}
				r.Action = model.RuleAction{Forward: &model.ForwardAction{TargetGroups: tgs}}
				if pick(5) == 0 {
					code := 404
					r.Action = model.RuleAction{FixedResponse: &model.FixedResponseAction{StatusCode: &code}}
				}
				st.Rules = slices.Clone(st.Rules)
				for i, x := range st.Rules {
					if x.ID == r.ID {
						st.Rules[i] = &r
					}
				}
				ch.Listeners = append(ch.Listeners, r.ListenerID)
			case op == 4 && len(st.Listeners) > 0: // a custom rule, or one fewer
				l := st.Listeners[pick(len(st.Listeners))]
				var custom []*model.Rule
				for _, r := range st.Rules {
					if r.ListenerID == l.ID && !r.IsDefault {
						custom = append(custom, r)
					}
				}
				if len(custom) > 0 && pick(2) == 0 {
					gone := custom[pick(len(custom))]
					st.Rules = without(st.Rules, func(x *model.Rule) bool { return x == gone })
				} else if len(st.TargetGroups) > 0 {
					p := "/p" + fmt.Sprint(pick(5))
					st.Rules = append(slices.Clone(st.Rules), &model.Rule{Meta: model.Meta{ID: newID("rule")}, ServiceID: l.ServiceID, ListenerID: l.ID,
						Priority: 1 + pick(5), Match: &model.RuleMatch{HTTPMatch: &model.HTTPMatch{PathMatch: &model.PathMatch{Match: model.MatchType{Prefix: &p}}}},
						Action: model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: st.TargetGroups[pick(len(st.TargetGroups))].ID}}}}})
				}
				ch.Listeners = append(ch.Listeners, l.ID)
			case op == 5 && len(st.TargetGroups) > 0: // register a target
				tg := st.TargetGroups[pick(len(st.TargetGroups))].ID
				st.Targets = append(slices.Clone(st.Targets), &model.Target{TargetGroupID: tg, ID: fmt.Sprintf("10.0.%d.%d", pick(4), pick(250)), Port: 80 + pick(2)})
				st.Targets = slices.CompactFunc(st.Targets, func(a, b *model.Target) bool {
					return a.TargetGroupID == b.TargetGroupID && a.ID == b.ID && a.Port == b.Port
				})
				ch.TargetGroups = append(ch.TargetGroups, tg)
			case op == 6 && len(st.Targets) > 0: // deregister (draining) or forget a target
				i := pick(len(st.Targets))
				tt := *st.Targets[i]
				st.Targets = slices.Clone(st.Targets)
				if pick(2) == 0 {
					at := o.Now.Add(-time.Duration(pick(90)) * time.Second)
					tt.DeregisteredAt = &at
					st.Targets[i] = &tt
				} else {
					st.Targets = slices.Delete(st.Targets, i, i+1)
				}
				ch.TargetGroups = append(ch.TargetGroups, tt.TargetGroupID)
			case op == 7: // a new target group, or one fewer
				if pick(2) == 0 && len(st.TargetGroups) > 0 {
					gone := st.TargetGroups[pick(len(st.TargetGroups))]
					st.TargetGroups = without(st.TargetGroups, func(x *model.TargetGroup) bool { return x == gone })
					ch.TargetGroups = append(ch.TargetGroups, gone.ID)
					continue
				}
				id, port := newID("tg"), 80
				typ := model.TargetGroupTypeIP
				if pick(4) == 0 {
					typ = model.TargetGroupTypeInstance // resolves through the (empty) registry
				}
				st.TargetGroups = append(slices.Clone(st.TargetGroups), &model.TargetGroup{Meta: model.Meta{ID: id, Account: acct}, Type: typ,
					Config: &model.TargetGroupConfig{Port: &port, Protocol: "HTTP", HealthCheck: &model.HealthCheckConfig{}}})
				ch.TargetGroups = append(ch.TargetGroups, id)
			case op == 8 && len(st.Services) > 0: // an auth policy on a service
				s := st.Services[pick(len(st.Services))].ID
				st.AuthPolicies = without(st.AuthPolicies, func(p *model.AuthPolicy) bool { return p.ResourceID == s })
				if pick(3) > 0 {
					st.AuthPolicies = append(st.AuthPolicies, &model.AuthPolicy{ResourceID: s, Policy: policy})
				}
				ch.Policies = append(ch.Policies, s)
			case op == 9: // associate a service (not handled incrementally)
				for _, s := range st.Services {
					if !slices.ContainsFunc(st.SNSAs, func(a *model.ServiceNetworkServiceAssociation) bool { return a.ServiceID == s.ID }) {
						st.SNSAs = append(slices.Clone(st.SNSAs), &model.ServiceNetworkServiceAssociation{Meta: model.Meta{ID: newID("snsa")},
							ServiceNetworkID: st.ServiceNetworks[0].ID, ServiceID: s.ID})
						ch.Other = true
						break
					}
				}
			case op == 10 && len(st.Listeners) > 0 && pick(4) == 0: // a listener on a new port (not incremental)
				l := *st.Listeners[pick(len(st.Listeners))]
				l.Meta.ID, l.Port = newID("listener"), 8080+pick(2)
				if !slices.ContainsFunc(st.Listeners, func(x *model.Listener) bool { return x.ServiceID == l.ServiceID && x.Port == l.Port }) {
					st.Listeners = append(slices.Clone(st.Listeners), &l)
					ch.Services = append(ch.Services, l.ServiceID)
				}
			case op == 11 && pick(3) == 0: // a resource association comes or goes (not incremental)
				a := allSNRAs[pick(len(allSNRAs))]
				if slices.Contains(st.SNRAs, a) {
					st.SNRAs = without(st.SNRAs, func(x *model.ServiceNetworkResourceAssociation) bool { return x == a })
				} else {
					st.SNRAs = append(slices.Clone(st.SNRAs), a)
				}
				ch.Other = true
			case op == 12 && pick(2) == 0: // a domain verification changes status (not incremental)
				d := *st.DomainVerifications[0]
				d.Status = []string{model.VerificationVerified, model.VerificationPending, model.VerificationTimedOut}[pick(3)]
				st.DomainVerifications = []*model.DomainVerification{&d}
				ch.Other = true
			default: // time passes: drains end
				o.Now = o.Now.Add(time.Duration(pick(40)) * time.Second)
			}
		}
		st.Revision++
		fulls := inc.Fulls
		got := inc.Compile(copyState(st), ch, stateLookup{st}, o)
		want := snapshot.Compile(copyState(st), o)
		if inc.Fulls == fulls {
			incremental++
		}
		if round == 0 && (want.VPCs["vpc-00000000000000001"].Hosts.Len() == 0 || want.VPCs["vpc-00000000000000001"].ServiceNetwork.AuthPolicy == "") {
			t.Fatal("the VPCs reach no services: the test would not cover their host tables")
		}
		if round == 0 && (len(want.VPCs["vpc-00000000000000001"].Resources) == 0 || len(want.VPCs["vpc-00000000000000003"].Resources) == 0 ||
			want.VPCs["vpc-00000000000000001"].ResourceDNS.Len() == 0) {
			t.Fatal("the VPCs reach no resources: the test would not cover them")
		}
		if round == 0 && nodePrefix && (want.VPCs["vpc-00000000000000001"].Ingress != netip.MustParseAddr("127.181.0.1") || len(want.Warnings) == 0) {
			t.Fatal("the node ingress prefix is not applied: the test would not cover it")
		}
		if !reflect.DeepEqual(snapshot.WithoutHistory(got), want) {
			t.Fatalf("round %d (change %+v): the incremental snapshot differs from Compile's", round, *ch)
		}
		// What the history says changed since one, two and five snapshots
		// back (readers skip snapshots) covers every target group that is
		// not the same object.
		for _, back := range []int{1, 2, 5} {
			if len(history) >= back {
				checkHistory(t, history[len(history)-back], got, back == 1 && inc.Fulls == fulls)
			}
		}
		history = append(history, got)
	}
	if incremental < rounds/2 {
		t.Fatalf("only %d of %d compiles were incremental", incremental, rounds)
	}
	t.Logf("%d of %d compiles incremental", incremental, rounds)
}

// checkHistory checks what got's history says changed since prev: when
// it can tell, every target group it does not name is the same object in
// both (or absent from both). It must be able to tell when got is prev's
// incremental successor (mustTell); not when a full compile happened since.
func checkHistory(t *testing.T, prev, got *snapshot.Snapshot, mustTell bool) {
	t.Helper()
	ids, ok := got.TargetGroupsChangedSince(prev.Seq)
	if !ok {
		if mustTell {
			t.Fatalf("an incremental snapshot cannot tell what changed since its predecessor")
		}
		return
	}
	named := map[string]bool{}
	for _, id := range ids {
		named[id] = true
	}
	for _, tbl := range []snapshot.Table[*snapshot.TargetGroup]{prev.TargetGroups, got.TargetGroups} {
		for id := range tbl.All() {
			if !named[id] && prev.TargetGroups.Get(id) != got.TargetGroups.Get(id) {
				t.Fatalf("target group %s changed between snapshots %d and %d, but the history does not name it", id, prev.Seq, got.Seq)
			}
		}
	}
	ids, ok = got.ServicesChangedSince(prev.Seq)
	if !ok {
		t.Fatal("the history tells the target groups but not the services")
	}
	named = map[string]bool{}
	for _, id := range ids {
		named[id] = true
	}
	for _, tbl := range []snapshot.Table[*snapshot.Service]{prev.Services, got.Services} {
		for id := range tbl.All() {
			if !named[id] && prev.Services.Get(id) != got.Services.Get(id) {
				t.Fatalf("service %s changed between snapshots %d and %d, but the history does not name it", id, prev.Seq, got.Seq)
			}
		}
	}
}

// indexLookup is stateLookup with maps, for the benchmark.
type indexLookup struct {
	svc       map[string]*model.Service
	listeners map[string][]*model.Listener
	rules     map[string][]*model.Rule
	tgs       map[string]*model.TargetGroup
	targets   map[string][]*model.Target
}

func newIndexLookup(st *snapshot.State) *indexLookup {
	l := &indexLookup{svc: map[string]*model.Service{}, listeners: map[string][]*model.Listener{}, rules: map[string][]*model.Rule{},
		tgs: map[string]*model.TargetGroup{}, targets: map[string][]*model.Target{}}
	for _, s := range st.Services {
		l.svc[s.ID] = s
	}
	for _, x := range st.Listeners {
		l.listeners[x.ServiceID] = append(l.listeners[x.ServiceID], x)
	}
	for _, x := range st.Rules {
		l.rules[x.ListenerID] = append(l.rules[x.ListenerID], x)
	}
	for _, x := range st.TargetGroups {
		l.tgs[x.ID] = x
	}
	for _, x := range st.Targets {
		l.targets[x.TargetGroupID] = append(l.targets[x.TargetGroupID], x)
	}
	return l
}

func (l *indexLookup) Service(id string) *model.Service          { return l.svc[id] }
func (l *indexLookup) Listeners(svc string) []*model.Listener    { return l.listeners[svc] }
func (l *indexLookup) Rules(listener string) []*model.Rule       { return l.rules[listener] }
func (l *indexLookup) TargetGroup(id string) *model.TargetGroup  { return l.tgs[id] }
func (l *indexLookup) Targets(tg string) []*model.Target         { return l.targets[tg] }
func (l *indexLookup) AuthPolicy(owner string) *model.AuthPolicy { return nil }

// BenchmarkIncrementalScale: one rule's weight flips in an installation of
// 1,000, 10,000 or 100,000 services (10 targets each; 10,000 is the
// propagation benchmark's), compiled incrementally; compare
// BenchmarkCompileScale. Issue 15: the cost must not grow with the size
// (the 100,000 case is skipped with -short).
//
//	go test -run x -bench IncrementalScale -benchtime 200x ./internal/snapshot/
func BenchmarkIncrementalScale(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			if n > 10000 && testing.Short() {
				b.Skip("-short")
			}
			benchIncremental(b, n)
		})
	}
}

func benchIncremental(b *testing.B, n int) {
	st := bigState(n, 10)
	o := snapshot.Options{Region: "us-east-1", DrainTime: time.Minute, Now: time.Now()}
	lk := newIndexLookup(st)
	var inc snapshot.Incremental
	inc.Compile(st, nil, lk, o)
	r := st.Rules[n/2]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next := *r
		w := i % 2
		next.Action = model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{
			{TargetGroupIdentifier: r.Action.Forward.TargetGroups[0].TargetGroupIdentifier, Weight: &w}}}}
		lk.rules[r.ListenerID] = []*model.Rule{&next}
		st.Revision++
		inc.Compile(st, &snapshot.Change{Listeners: []string{r.ListenerID}}, lk, o)
	}
	if inc.Fulls != 1 {
		b.Fatalf("%d full compiles", inc.Fulls)
	}
}
