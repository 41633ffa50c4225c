package snapshot

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
)

// Lookup answers the incremental compile's questions about the state that
// a Change describes (internal/snapshot/watch's Loader answers them from
// its key-ordered tables). Lists come in store key order.
type Lookup interface {
	Service(id string) *model.Service
	Listeners(serviceID string) []*model.Listener
	Rules(listenerID string) []*model.Rule
	TargetGroup(id string) *model.TargetGroup
	Targets(targetGroupID string) []*model.Target
	AuthPolicy(ownerID string) *model.AuthPolicy
}

// Change says what changed since the state of the previous compile.
type Change struct {
	// Services whose entity or listeners changed; Listeners whose rules
	// changed; TargetGroups whose entity or targets changed; Policies:
	// owners whose auth policy changed.
	Services, Listeners, TargetGroups, Policies []string
	// Other: anything else changed (networks, associations, VPCs,
	// identities, certificates, registries, access log subscriptions...):
	// the compile is a full one.
	Other bool
}

// Incremental compiles like Compile, but after the first compile it
// recompiles only what a Change touched (issue 15: a full compile of
// 10,000 services takes tens of milliseconds, and a write usually touches
// one service): the target groups and services the change names, every
// service whose rules forward to a changed target group and every target
// group a changed service's rules forward to (before or after), the
// target groups with draining targets (they depend on the time), the
// host and DNS tables of the VPCs that reach a changed service, and the
// identities (they depend on the time). Everything else is shared with the
// previous snapshot: snapshots are immutable. Changes it does not handle
// (Change.Other, custom domains, a listener port set that changed) compile
// everything. TestIncrementalEqualsCompile proves the result equal to
// Compile's on random changes. Not safe for concurrent use.
type Incremental struct {
	prev *Snapshot
	// Indexes of prev.
	services    Table[*Service]   // every compiled service, by ID
	listenerSvc map[string]string // listener ID -> service ID
	svcListens  map[string][]*model.Listener
	// refs: target group ID -> the services whose rules forward to it,
	// whether it exists or not (one created later gains them as users);
	// svcRefs is its reverse.
	refs     map[string]map[string]bool
	svcRefs  map[string]map[string]bool
	netsOf   map[string][]string        // service ID -> the (existing) networks it is associated with
	draining map[string]bool            // target groups with deregistered targets
	ports    map[int]int                // listener port -> listeners on it
	byDomain map[string]map[string]bool // custom domain -> the services that hold it
	certWarn []string
	vpcWarn  []string // the VPCs left out by --node-ingress-prefix (node_ingress.go)
	// rsrcWarn: the resources left out (resources.go); they depend only
	// on what a change compiled incrementally keeps (resource, network and
	// VPC tables are Change.Other).
	rsrcWarn []string
	// Fulls counts the full compiles (for tests).
	Fulls int
}

// Compile compiles st; ch and lk describe what changed since the previous
// call (ch nil: everything).
func (c *Incremental) Compile(st *State, ch *Change, lk Lookup, o Options) *Snapshot {
	if o.Partition == "" {
		o.Partition = "aws"
	}
	if c.prev != nil && ch != nil && !ch.Other {
		if snap, tgs, svcs, ok := c.incremental(st, ch, lk, o); ok {
			Link(snap, c.prev, tgs, svcs)
			c.prev = snap
			return snap
		}
	}
	snap, services, rsrcWarn := compile(st, o)
	c.index(st, snap, services)
	c.rsrcWarn = rsrcWarn
	c.vpcWarn = nodeIngressWarnings(st, o)
	Link(snap, nil, nil, nil) // nothing shared: a reader compares everything
	c.prev = snap
	c.Fulls++
	return snap
}

// index records the indexes of a fully compiled snapshot.
func (c *Incremental) index(st *State, snap *Snapshot, services map[string]*Service) {
	c.services = snap.Services
	c.listenerSvc = map[string]string{}
	c.svcListens = map[string][]*model.Listener{}
	c.refs = map[string]map[string]bool{}
	c.svcRefs = map[string]map[string]bool{}
	c.netsOf = map[string][]string{}
	c.draining = map[string]bool{}
	c.ports = map[int]int{}
	c.byDomain = map[string]map[string]bool{}
	for id, svc := range services {
		if d := svc.CustomDomain; d != "" {
			if c.byDomain[d] == nil {
				c.byDomain[d] = map[string]bool{}
			}
			c.byDomain[d][id] = true
		}
	}
	for _, l := range st.Listeners {
		if services[l.ServiceID] != nil {
			c.listenerSvc[l.ID] = l.ServiceID
			c.svcListens[l.ServiceID] = append(c.svcListens[l.ServiceID], l)
			c.ports[l.Port]++
		}
	}
	for _, r := range st.Rules {
		if _, ok := c.listenerSvc[r.ListenerID]; ok {
			for _, tg := range forwards(r.Action) {
				c.addRef(r.ServiceID, tg)
			}
		}
	}
	for _, t := range st.Targets {
		if t.DeregisteredAt != nil {
			c.draining[t.TargetGroupID] = true
		}
	}
	nets := map[string]bool{}
	for _, sn := range st.ServiceNetworks {
		nets[sn.ID] = true
	}
	for _, a := range st.SNSAs {
		// Whether the service exists or not: one created later joins.
		if nets[a.ServiceNetworkID] {
			c.netsOf[a.ServiceID] = append(c.netsOf[a.ServiceID], a.ServiceNetworkID)
		}
	}
	_, c.certWarn = compileCertificates(st)
}

func (c *Incremental) addRef(svc, tg string) {
	if c.refs[tg] == nil {
		c.refs[tg] = map[string]bool{}
	}
	c.refs[tg][svc] = true
	if c.svcRefs[svc] == nil {
		c.svcRefs[svc] = map[string]bool{}
	}
	c.svcRefs[svc][tg] = true
}

// forwards returns the target groups a rule forwards to, as compileAction
// reads its action (whether they exist or not).
func forwards(a model.RuleAction) []string {
	if a.FixedResponse != nil && a.FixedResponse.StatusCode != nil || a.Forward == nil {
		return nil
	}
	out := make([]string, 0, len(a.Forward.TargetGroups))
	for _, w := range a.Forward.TargetGroups {
		out = append(out, w.TargetGroupIdentifier)
	}
	return out
}

// incremental returns the snapshot and the IDs of the target groups and
// services it compiled anew or removed (the others are prev's objects),
// or false when the change needs a full compile.
func (c *Incremental) incremental(st *State, ch *Change, lk Lookup, o Options) (*Snapshot, []string, []string, bool) {
	prev := c.prev
	dirtySvc := map[string]bool{}
	dirtyTG := map[string]bool{}
	for _, id := range ch.Services {
		dirtySvc[id] = true
	}
	for _, l := range ch.Listeners {
		if svc, ok := c.listenerSvc[l]; ok {
			dirtySvc[svc] = true
		}
	}
	for _, p := range ch.Policies {
		if c.services.Get(p) == nil && lk.Service(p) == nil {
			return nil, nil, nil, false // a network's policy (or an orphan): compile everything
		}
		dirtySvc[p] = true
	}
	for _, id := range ch.TargetGroups {
		dirtyTG[id] = true
	}
	for id := range c.draining {
		dirtyTG[id] = true
	}

	// The new rules of the changed services, and what they forward to.
	type svcInput struct {
		m         *model.Service
		listeners []*model.Listener
		rules     map[string][]*model.Rule // by listener ID
		refs      map[string]bool
	}
	inputs := map[string]*svcInput{}
	read := func(id string) (*svcInput, bool) {
		if in, ok := inputs[id]; ok {
			return in, true
		}
		in := &svcInput{m: lk.Service(id), rules: map[string][]*model.Rule{}, refs: map[string]bool{}}
		if old := c.services.Get(id); old != nil && len(old.Listeners) != len(c.svcListens[id]) {
			return nil, false // two listeners on one port (a store written by hand)
		}
		if in.m != nil {
			in.listeners = lk.Listeners(id)
			seen := map[int]bool{}
			for _, l := range in.listeners {
				if l.ServiceID != id || seen[l.Port] {
					return nil, false
				}
				seen[l.Port] = true
				rules := lk.Rules(l.ID)
				for _, r := range rules {
					if r.ServiceID != id || r.ListenerID != l.ID {
						return nil, false
					}
					for _, tg := range forwards(r.Action) {
						in.refs[tg] = true
					}
				}
				in.rules[l.ID] = rules
			}
		}
		inputs[id] = in
		return in, true
	}
	// Close the dirty sets: a changed service's target groups (before and
	// after) change (their users), and a changed target group's services
	// change (their rules point to it).
	for grew := true; grew; {
		grew = false
		for id := range dirtySvc {
			in, ok := read(id)
			if !ok {
				return nil, nil, nil, false
			}
			for _, refs := range []map[string]bool{in.refs, c.svcRefs[id]} {
				for tg := range refs {
					if !dirtyTG[tg] {
						dirtyTG[tg], grew = true, true
					}
				}
			}
		}
		for tg := range dirtyTG {
			for id := range c.refs[tg] {
				if !dirtySvc[id] {
					dirtySvc[id], grew = true, true
				}
			}
		}
	}

	// The listener ports: a port that appears or goes changes every VPC's
	// sockets; compile everything then.
	ports := maps.Clone(c.ports)
	for id := range dirtySvc {
		for _, l := range c.svcListens[id] {
			ports[l.Port]--
		}
		if in := inputs[id]; in.m != nil {
			for _, l := range in.listeners {
				ports[l.Port]++
			}
		}
	}
	for p, n := range ports {
		if (n > 0) != (c.ports[p] > 0) {
			return nil, nil, nil, false
		}
		if n == 0 {
			delete(ports, p)
		}
	}

	snap := &Snapshot{Revision: st.Revision, Region: o.Region, DNSZone: prev.DNSZone, Certificates: prev.Certificates,
		ResourceDNSZone: prev.ResourceDNSZone, ResourceNames: prev.ResourceNames}
	if snap.Region != prev.Region {
		return nil, nil, nil, false
	}

	// Target groups.
	users := map[string][]string{}
	for tg := range dirtyTG {
		var us []string
		for id := range c.refs[tg] {
			if !dirtySvc[id] {
				us = append(us, id)
			}
		}
		users[tg] = us
	}
	for id := range dirtySvc {
		for tg := range inputs[id].refs {
			users[tg] = append(users[tg], id)
		}
	}
	tgs := prev.TargetGroups.Edit()
	draining := maps.Clone(c.draining)
	var reg *registries
	for id := range dirtyTG {
		m := lk.TargetGroup(id)
		delete(draining, id)
		if m == nil {
			tgs.Delete(id)
			continue
		}
		targets := lk.Targets(id)
		if !slices.IsSortedFunc(targets, targetCompare) {
			targets = slices.Clone(targets)
			slices.SortFunc(targets, targetCompare)
		}
		for _, t := range targets {
			if t.DeregisteredAt != nil {
				draining[id] = true
			}
		}
		if reg == nil && (m.Type == model.TargetGroupTypeInstance || m.Type == model.TargetGroupTypeALB) {
			r := newRegistries(st)
			reg = &r
		}
		us := users[id]
		sort.Strings(us)
		tgs.Set(id, compileTargetGroup(m, targets, reg, us, o))
	}
	snap.TargetGroups = tgs.Table()

	// Services.
	svcEdit := c.services.Edit()
	for id := range dirtySvc {
		in := inputs[id]
		if in.m == nil {
			svcEdit.Delete(id)
			continue
		}
		var policy string
		if p := lk.AuthPolicy(id); p != nil {
			policy = p.Policy
		}
		var logs []*LogSubscription
		if old := c.services.Get(id); old != nil {
			logs = old.AccessLogs
		}
		svcEdit.Set(id, compileService(in.m, policy, logs, in.listeners, in.rules, snap.TargetGroups.Get))
	}
	services := svcEdit.Table()

	// Custom domains: several services may hold one (in different
	// networks); the tables keep the one Compile keeps. The sets are
	// copied before they change (c's stay those of prev).
	domains := map[string]bool{}
	byDomain := maps.Clone(c.byDomain)
	edit := func(d string) map[string]bool {
		if !domains[d] {
			domains[d] = true
			byDomain[d] = maps.Clone(byDomain[d])
			if byDomain[d] == nil {
				byDomain[d] = map[string]bool{}
			}
		}
		return byDomain[d]
	}
	for id := range dirtySvc {
		if old := c.services.Get(id); old != nil && old.CustomDomain != "" {
			delete(edit(old.CustomDomain), id)
		}
		if svc := services.Get(id); svc != nil && svc.CustomDomain != "" {
			edit(svc.CustomDomain)[id] = true
		}
	}
	for d := range domains {
		if len(byDomain[d]) == 0 {
			delete(byDomain, d)
		}
	}

	// Names: each service's generated name is its own (it holds the
	// service's ID); one that is not (a store written by hand) compiles
	// everything.
	names := prev.ServiceNames.Edit()
	for id := range dirtySvc {
		if old := c.services.Get(id); old != nil && old.DNSName != "" {
			fq := DNSFQDN(old.DNSName)
			if names.Get(fq) != old {
				return nil, nil, nil, false
			}
			names.Delete(fq)
		}
	}
	for id := range dirtySvc {
		if svc := services.Get(id); svc != nil && svc.DNSName != "" {
			fq := DNSFQDN(svc.DNSName)
			if names.Get(fq) != nil {
				return nil, nil, nil, false
			}
			names.Set(fq, svc)
		}
	}

	for d := range domains {
		fq := DNSFQDN(d)
		if x := names.Get(fq); x != nil && DNSFQDN(x.CustomDomain) != fq {
			return nil, nil, nil, false // a generated name that is also a custom domain
		}
		var win *Service
		for id := range byDomain[d] {
			if svc := services.Get(id); svc != nil && (win == nil || svc.ID < win.ID) {
				win = svc
			}
		}
		if win == nil {
			names.Delete(fq)
		} else {
			names.Set(fq, win)
		}
	}
	snap.ServiceNames = names.Table()

	// VPCs that reach a changed service get new host and DNS tables.
	touched := map[string][]string{} // network -> changed services in it
	for id := range dirtySvc {
		for _, sn := range c.netsOf[id] {
			touched[sn] = append(touched[sn], id)
		}
	}
	snap.VPCs, snap.ByIngress = prev.VPCs, prev.ByIngress
	replaced := map[string]*VPC{}
	for id, v := range prev.VPCs {
		if v.ServiceNetwork == nil || len(touched[v.ServiceNetwork.ID]) == 0 {
			continue
		}
		nv := *v
		hosts, dns := v.Hosts.Edit(), v.DNS.Edit()
		for _, sid := range touched[v.ServiceNetwork.ID] {
			if old := c.services.Get(sid); old != nil && old.DNSName != "" {
				if hosts.Get(old.DNSName) != old {
					return nil, nil, nil, false
				}
				hosts.Delete(old.DNSName)
				dns.Delete(DNSFQDN(old.DNSName))
			}
		}
		for _, sid := range touched[v.ServiceNetwork.ID] {
			if svc := services.Get(sid); svc != nil && svc.DNSName != "" {
				if hosts.Get(svc.DNSName) != nil {
					return nil, nil, nil, false
				}
				hosts.Set(svc.DNSName, svc)
				fq := DNSFQDN(svc.DNSName)
				dns.Set(fq, &DNSRecord{Name: fq, Service: svc, Network: nv.ServiceNetwork, Addr: nv.Ingress})
			}
		}
		for d := range domains {
			if x := hosts.Get(d); x != nil && x.CustomDomain != d {
				return nil, nil, nil, false
			}
			// The last in ID order of the network's services wins, as in
			// Compile.
			var win *Service
			for sid := range byDomain[d] {
				if svc := services.Get(sid); svc != nil && slices.Contains(c.netsOf[sid], v.ServiceNetwork.ID) && (win == nil || svc.ID > win.ID) {
					win = svc
				}
			}
			fq := DNSFQDN(d)
			if win == nil {
				hosts.Delete(d)
				dns.Delete(fq)
				continue
			}
			hosts.Set(d, win)
			dns.Set(fq, &DNSRecord{Name: fq, Service: win, Network: nv.ServiceNetwork, Addr: nv.Ingress})
		}
		nv.Hosts, nv.DNS = hosts.Table(), dns.Table()
		replaced[id] = &nv
	}
	if len(replaced) > 0 {
		snap.VPCs = maps.Clone(prev.VPCs)
		maps.Copy(snap.VPCs, replaced)
		snap.ByIngress = maps.Clone(prev.ByIngress)
		for addr, v := range prev.ByIngress {
			if nv := replaced[v.ID]; nv != nil && v == prev.VPCs[v.ID] {
				snap.ByIngress[addr] = nv
			}
		}
	}

	// Identities depend on the time (expirations): always compiled.
	snap.Identities, snap.Warnings = compileIdentities(st, o)
	if len(c.certWarn) > 0 || len(c.vpcWarn) > 0 || len(c.rsrcWarn) > 0 {
		snap.Warnings = append(append(append(snap.Warnings, c.certWarn...), c.vpcWarn...), c.rsrcWarn...)
		slices.Sort(snap.Warnings)
	}

	// The indexes follow.
	for id := range dirtySvc {
		for _, l := range c.svcListens[id] {
			delete(c.listenerSvc, l.ID)
		}
		delete(c.svcListens, id)
		if in := inputs[id]; in.m != nil {
			for _, l := range in.listeners {
				c.listenerSvc[l.ID] = id
			}
			if len(in.listeners) > 0 {
				c.svcListens[id] = in.listeners
			}
		}
	}
	for id := range dirtySvc {
		for tg := range c.svcRefs[id] {
			delete(c.refs[tg], id)
			if len(c.refs[tg]) == 0 {
				delete(c.refs, tg)
			}
		}
		delete(c.svcRefs, id)
		for tg := range inputs[id].refs {
			c.addRef(id, tg)
		}
	}
	c.services, c.ports, c.draining, c.byDomain = services, ports, draining, byDomain
	snap.Services = services
	return snap, slices.Collect(maps.Keys(dirtyTG)), slices.Collect(maps.Keys(dirtySvc)), true
}

// compileTargetGroup compiles one target group as Compile does, with its
// targets (sorted) and the sorted IDs of the services whose rules forward
// to it.
func compileTargetGroup(tg *model.TargetGroup, targets []*model.Target, reg *registries, users []string, o Options) *TargetGroup {
	c := newTargetGroup(tg)
	c.ServiceIDs, c.InUse = users, len(users) > 0
	for _, t := range targets {
		addTarget(c, t, reg, o)
	}
	return c
}

// compileService compiles one service as Compile does.
func compileService(s *model.Service, policy string, logs []*LogSubscription, listeners []*model.Listener, rules map[string][]*model.Rule, tgs func(id string) *TargetGroup) *Service {
	cs := &Service{ID: s.ID, ARN: s.ARN, Name: s.Name, Account: s.Account, CustomDomain: strings.ToLower(s.CustomDomainName),
		AuthType: s.AuthType, AuthPolicy: policy, CertificateARN: s.CertificateArn, Listeners: map[int]*Listener{}, AccessLogs: logs}
	cs.Policy, cs.PolicyError = compilePolicy(cs.AuthPolicy)
	if s.DNS != nil {
		cs.DNSName = strings.ToLower(s.DNS.DomainName)
	}
	for _, l := range listeners {
		cl := &Listener{ID: l.ID, ARN: l.ARN, Protocol: l.Protocol, Port: l.Port}
		cs.Listeners[l.Port] = cl
		for _, r := range rules[l.ID] {
			cl.Rules = append(cl.Rules, &Rule{ID: r.ID, ARN: r.ARN, Name: r.Name, Priority: r.Priority, IsDefault: r.IsDefault,
				Match: compileMatch(r.Match), Action: compileAction(r.Action, tgs)})
		}
		sort.Slice(cl.Rules, func(i, j int) bool {
			a, b := cl.Rules[i], cl.Rules[j]
			if a.IsDefault != b.IsDefault {
				return b.IsDefault
			}
			if a.Priority != b.Priority {
				return a.Priority < b.Priority
			}
			return a.ID < b.ID
		})
	}
	return cs
}
