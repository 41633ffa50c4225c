package snapshot

import (
	"net/netip"
	"net/textproto"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/policy"
)

// State is everything Compile needs, read from the store in one view
// (internal/snapshot/watch.Load).
type State struct {
	Revision        int64
	ServiceNetworks []*model.ServiceNetwork
	Services        []*model.Service
	Listeners       []*model.Listener
	Rules           []*model.Rule
	TargetGroups    []*model.TargetGroup
	Targets         []*model.Target
	SNSAs           []*model.ServiceNetworkServiceAssociation
	SNVAs           []*model.ServiceNetworkVpcAssociation
	AuthPolicies    []*model.AuthPolicy
	VPCs            []*model.VPC
	Accounts        []*model.Account
	Principals      []*model.Principal
	AccessKeys      []*model.AccessKey
	AccessLogs      []*model.AccessLogSubscription
	SecurityGroups  []*model.SecurityGroup
	Certificates    []*StoredCertificate
	// Instances and LoadBalancers are the native registries INSTANCE and
	// ALB targets resolve through (targets.go).
	Instances     []*model.Instance
	LoadBalancers []*model.LoadBalancer
	// The resource gateways, configurations and service-network resource
	// associations (resources.go).
	ResourceGateways       []*model.ResourceGateway
	ResourceConfigurations []*model.ResourceConfiguration
	SNRAs                  []*model.ServiceNetworkResourceAssociation
	// DomainVerifications decide which custom resource names a VPC
	// association's private DNS preference admits (privdns.go).
	DomainVerifications []*model.DomainVerification
	// Pending, when set, fills tables the loader left out because only a
	// full compile reads them (watch.Loader leaves Services, Listeners,
	// Rules, TargetGroups, Targets and SNSAs: an incremental compile asks
	// its Lookup for the few entities it recompiles, and making the
	// 100,000-target slice for every snapshot was a tenth of the CPU under
	// writes at 10,000 services, issue 15). Compile calls Complete first;
	// any other reader of those fields must too.
	Pending func(*State)
}

// Complete fills what Pending left out, once.
func (st *State) Complete() {
	if f := st.Pending; f != nil {
		st.Pending = nil
		f(st)
	}
}

// Options are the inputs of Compile besides the state.
type Options struct {
	Region    string
	Partition string // default "aws"
	// Now and DrainTime decide which deregistered targets still drain.
	Now       time.Time
	DrainTime time.Duration
	// Roots are root credentials that live outside the store (the default
	// account's, from the environment or the data directory).
	Roots []model.AccessKey
	// AdminAccount is the installation administrator's account (the
	// default account), which may act in every account.
	AdminAccount string
	// NodeIngressPrefix (serve --node-ingress-prefix), when valid, is where
	// this node serves host-mode VPCs: each at the address with the same
	// offset in it as the VPC's stored address has in IngressPrefix (serve
	// --ingress-cidr), so that several data-plane nodes share a machine
	// (NodeIngress). Ingress, DNS answers and everything that reads the
	// snapshot use that address; the API reports the stored one.
	IngressPrefix, NodeIngressPrefix netip.Prefix
	// ResourcePrefix (serve --resource-cidr) is where host-mode VPCs get
	// the addresses of the resource configurations they reach, one per
	// (VPC, configuration); unset: DefaultResourcePrefix, or with
	// NodeIngressPrefix none (resources.go). netns VPCs use
	// model.NetnsResourcePrefix inside their namespaces.
	ResourcePrefix netip.Prefix
	// DNSToken is the installation's DNS token, part of the generated names
	// of resource associations (model.ResourceDNSName); empty: none.
	DNSToken string
}

// Compile turns a state into a snapshot. It is a pure function: the same
// state and options give the same snapshot.
func Compile(st *State, o Options) *Snapshot {
	snap, _, _ := compile(st, o)
	return snap
}

// compile is Compile, also returning every compiled service by ID and the
// resource warnings (for Incremental, which keeps them).
func compile(st *State, o Options) (*Snapshot, map[string]*Service, []string) {
	if o.Partition == "" {
		o.Partition = "aws"
	}
	st.Complete()
	snap := &Snapshot{Revision: st.Revision, Region: o.Region, VPCs: map[string]*VPC{},
		ByIngress: map[netip.Addr]*VPC{}}

	// Target groups and their targets: built in a map, made a Table once
	// complete.
	tgs := make(map[string]*TargetGroup, len(st.TargetGroups))
	for _, tg := range st.TargetGroups {
		tgs[tg.ID] = newTargetGroup(tg)
	}
	// The loader gives targets in key order, which is this order but for
	// IDs one of which is a prefix of the other: checking is a tenth of the
	// cost of sorting 100,000 targets.
	if !slices.IsSortedFunc(st.Targets, targetCompare) {
		slices.SortFunc(st.Targets, targetCompare)
	}
	reg := newRegistries(st)
	for _, t := range st.Targets {
		if tg := tgs[t.TargetGroupID]; tg != nil {
			addTarget(tg, t, &reg, o)
		}
	}

	// Auth policies by owner.
	policies := map[string]string{}
	for _, p := range st.AuthPolicies {
		policies[p.ResourceID] = p.Policy
	}

	// Services, listeners, rules.
	services := map[string]*Service{}
	for _, s := range st.Services {
		cs := &Service{ID: s.ID, ARN: s.ARN, Name: s.Name, Account: s.Account, CustomDomain: strings.ToLower(s.CustomDomainName),
			AuthType: s.AuthType, AuthPolicy: policies[s.ID], CertificateARN: s.CertificateArn, Listeners: map[int]*Listener{}}
		cs.Policy, cs.PolicyError = compilePolicy(cs.AuthPolicy)
		if s.DNS != nil {
			cs.DNSName = strings.ToLower(s.DNS.DomainName)
		}
		services[s.ID] = cs
	}
	listeners := map[string]*Listener{}
	for _, l := range st.Listeners {
		svc := services[l.ServiceID]
		if svc == nil {
			continue
		}
		cl := &Listener{ID: l.ID, ARN: l.ARN, Protocol: l.Protocol, Port: l.Port}
		svc.Listeners[l.Port] = cl
		listeners[l.ID] = cl
	}
	for _, r := range st.Rules {
		l := listeners[r.ListenerID]
		if l == nil {
			continue
		}
		cr := &Rule{ID: r.ID, ARN: r.ARN, Name: r.Name, Priority: r.Priority, IsDefault: r.IsDefault,
			Match: compileMatch(r.Match), Action: compileAction(r.Action, mapGet(tgs))}
		l.Rules = append(l.Rules, cr)
		for _, w := range cr.Action.Forward {
			w.TargetGroup.InUse = true
			if !contains(w.TargetGroup.ServiceIDs, r.ServiceID) {
				w.TargetGroup.ServiceIDs = append(w.TargetGroup.ServiceIDs, r.ServiceID)
			}
		}
	}
	for _, l := range listeners {
		sort.Slice(l.Rules, func(i, j int) bool {
			a, b := l.Rules[i], l.Rules[j]
			if a.IsDefault != b.IsDefault {
				return b.IsDefault
			}
			if a.Priority != b.Priority {
				return a.Priority < b.Priority
			}
			return a.ID < b.ID
		})
	}
	for _, tg := range tgs {
		sort.Strings(tg.ServiceIDs)
	}
	snap.TargetGroups = TableOf(tgs)

	// Networks and who is associated with what.
	networks := map[string]*ServiceNetwork{}
	for _, sn := range st.ServiceNetworks {
		csn := &ServiceNetwork{ID: sn.ID, ARN: sn.ARN, Name: sn.Name, Account: sn.Account,
			AuthType: sn.AuthType, AuthPolicy: policies[sn.ID]}
		csn.Policy, csn.PolicyError = compilePolicy(csn.AuthPolicy)
		networks[sn.ID] = csn
	}
	compileAccessLogs(st.AccessLogs, services, networks)
	servicesIn := map[string][]*Service{}
	for _, a := range st.SNSAs {
		if svc := services[a.ServiceID]; svc != nil && networks[a.ServiceNetworkID] != nil {
			servicesIn[a.ServiceNetworkID] = append(servicesIn[a.ServiceNetworkID], svc)
		}
	}
	// A VPC association joins a VPC to a network only when the VPC's owner
	// (or the administrator) made it: one that another account made before
	// the API refused that (issue 10, finding 3) routes nothing.
	vpcOwner := map[string]string{}
	for _, v := range st.VPCs {
		vpcOwner[v.ID] = v.Account
	}
	networkOf := map[string]*ServiceNetwork{}
	// The association of each VPC, for its security groups: they gate the
	// VPC's connections even while its network is missing.
	assocOf := map[string]*model.ServiceNetworkVpcAssociation{}
	for _, a := range st.SNVAs {
		if owner := vpcOwner[a.VpcID]; owner != "" && a.Account != owner && (o.AdminAccount == "" || a.Account != o.AdminAccount) {
			continue
		}
		if sn := networks[a.ServiceNetworkID]; sn != nil {
			networkOf[a.VpcID] = sn
		}
		assocOf[a.VpcID] = a
	}
	groups := make(map[string]*model.SecurityGroup, len(st.SecurityGroups))
	for _, g := range st.SecurityGroups {
		groups[g.ID] = g
	}

	var allPorts []int
	seenPort := map[int]bool{}
	for _, l := range listeners {
		if !seenPort[l.Port] {
			seenPort[l.Port] = true
			allPorts = append(allPorts, l.Port)
		}
	}
	sort.Ints(allPorts)

	// VPCs: the double association decides which hosts each one reaches.
	var vpcWarn []string
	for _, v := range st.VPCs {
		addr, err := netip.ParseAddr(v.IngressAddress)
		if err != nil {
			continue
		}
		addr, warning, ok := vpcIngress(v.ID, v.Mode, addr, o)
		if !ok {
			vpcWarn = append(vpcWarn, warning)
			continue
		}
		cv := &VPC{ID: v.ID, ARN: v.ARN, Account: v.Account, Mode: v.Mode, Ingress: addr,
			ServiceNetwork: networkOf[v.ID], SecurityGroups: compileSGRules(assocOf[v.ID], v, groups), NetnsName: v.NetnsName}
		for _, b := range v.CIDRBlocks {
			if p, err := netip.ParsePrefix(b); err == nil {
				cv.CIDRBlocks = append(cv.CIDRBlocks, p)
			}
		}
		if cv.ServiceNetwork != nil {
			svcs := servicesIn[cv.ServiceNetwork.ID]
			sort.Slice(svcs, func(i, j int) bool { return svcs[i].ID < svcs[j].ID })
			hosts := newTable[*Service](len(svcs))
			for _, svc := range svcs {
				if svc.DNSName != "" {
					hosts.Set(svc.DNSName, svc)
				}
				if svc.CustomDomain != "" {
					hosts.Set(svc.CustomDomain, svc)
				}
			}
			cv.Hosts = hosts.Table()
		}
		// Every VPC listens on every listener port of the installation,
		// reachable services or not, so that a request for a service the VPC
		// does not reach gets Lattice's 404 "Non Existent Service" rather
		// than a refused connection. Ports is shared and read-only.
		cv.Ports = allPorts
		snap.VPCs[cv.ID] = cv
		snap.ByIngress[addr] = cv
	}
	compileDNS(snap, services)
	rsrcWarn := compileResources(st, snap, networkOf, assocOf, o)
	snap.Services = TableOf(services)
	snap.Identities, snap.Warnings = compileIdentities(st, o)
	var certWarn []string
	snap.Certificates, certWarn = compileCertificates(st)
	if len(certWarn) > 0 || len(vpcWarn) > 0 || len(rsrcWarn) > 0 {
		snap.Warnings = append(append(append(snap.Warnings, certWarn...), vpcWarn...), rsrcWarn...)
		slices.Sort(snap.Warnings)
	}
	return snap, services, rsrcWarn
}

// compileAccessLogs attaches the access log subscriptions to their
// services and networks, in ID order. A network's RESOURCE subscriptions
// get the connections to resource configurations (ResourceAccessLogs), its
// other ones the requests to services.
func compileAccessLogs(subs []*model.AccessLogSubscription, services map[string]*Service, networks map[string]*ServiceNetwork) {
	for _, a := range subs {
		ls := &LogSubscription{ID: a.ID, ARN: a.ARN, ResourceID: a.ResourceID, Account: a.Account, DestinationARN: a.DestinationARN}
		if svc := services[a.ResourceID]; svc != nil {
			svc.AccessLogs = append(svc.AccessLogs, ls)
		} else if sn := networks[a.ResourceID]; sn != nil && a.ServiceNetworkLogType != model.LogTypeResource {
			sn.AccessLogs = append(sn.AccessLogs, ls)
		} else if sn != nil {
			ls.Resource = true
			sn.ResourceAccessLogs = append(sn.ResourceAccessLogs, ls)
		}
	}
	byID := func(a, b *LogSubscription) int { return strings.Compare(a.ID, b.ID) }
	for _, svc := range services {
		slices.SortFunc(svc.AccessLogs, byID)
	}
	for _, sn := range networks {
		slices.SortFunc(sn.AccessLogs, byID)
		slices.SortFunc(sn.ResourceAccessLogs, byID)
	}
}

// compilePolicy compiles an auth policy. Policies are checked when they
// are put, so an error here means a policy stored by an older version; the
// level then denies, as with no policy.
func compilePolicy(doc string) (*policy.Policy, string) {
	if doc == "" {
		return nil, ""
	}
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, err.Error()
	}
	return p, ""
}

// compileIdentities indexes every usable access key by its ID with what
// the data plane needs to know about its holder. It also returns the
// warnings of the identity headers (fields left out), sorted and once each.
func compileIdentities(st *State, o Options) (map[string]*Identity, []string) {
	accounts := map[string]*model.Account{}
	for _, a := range st.Accounts {
		accounts[a.ID] = a
	}
	principals := map[string]*model.Principal{}
	for _, p := range st.Principals {
		principals[p.ARN] = p
	}
	out := map[string]*Identity{}
	warned := map[string]bool{}
	var warnings []string
	warn := func(w string) {
		if !warned[w] {
			warned[w] = true
			warnings = append(warnings, w)
		}
	}
	add := func(k *model.AccessKey) {
		if k.Status != "" && k.Status != "Active" {
			return
		}
		if k.Expiration != nil && !o.Now.Before(*k.Expiration) {
			return
		}
		id := &Identity{AccessKeyID: k.ID, Secret: k.Secret, SessionToken: k.SessionToken, PrincipalARN: k.PrincipalARN,
			Account: k.Account, SessionName: k.SessionName, PrincipalType: "Account"}
		if k.Expiration != nil {
			id.Expiration = *k.Expiration
		}
		if a := accounts[k.Account]; a != nil {
			id.OrgID, id.OrgPath = a.OrgID, a.OrgPath
		}
		if p := principals[k.PrincipalARN]; p != nil {
			id.Tags = p.Tags
			id.PrincipalType = "User"
			if p.Type == model.PrincipalTypeRole {
				id.PrincipalType = "AssumedRole"
			}
		}
		if k.SessionARN != "" {
			// The caller is the session; policies name the role.
			id.RoleARN, id.PrincipalARN, id.PrincipalType = k.PrincipalARN, k.SessionARN, "AssumedRole"
		}
		if id.PrincipalType == "User" {
			id.Username = id.PrincipalARN[strings.LastIndexByte(id.PrincipalARN, '/')+1:]
		}
		id.Header, id.TagsHeader = identityHeaders(id, warn)
		out[k.ID] = id
	}
	for i := range o.Roots {
		add(&o.Roots[i])
	}
	for _, k := range st.AccessKeys {
		add(k)
	}
	sort.Strings(warnings)
	return out, warnings
}

// TargetKey is the key of a target's live state: "<tg>/<id>/<port>".
func TargetKey(tgID, targetID string, port int) string {
	return tgID + "/" + targetID + "/" + strconv.Itoa(port)
}

func targetCompare(a, b *model.Target) int {
	if c := strings.Compare(a.TargetGroupID, b.TargetGroupID); c != 0 {
		return c
	}
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return a.Port - b.Port
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func compileMatch(m *model.RuleMatch) Match {
	if m == nil || m.HTTPMatch == nil {
		return Match{}
	}
	h := m.HTTPMatch
	out := Match{Method: h.Method}
	if pm := h.PathMatch; pm != nil {
		cs := pm.CaseSensitive != nil && *pm.CaseSensitive
		p := &PathMatch{CaseSensitive: cs}
		if pm.Match.Exact != nil {
			p.Exact, p.Value = true, *pm.Match.Exact
		} else if pm.Match.Prefix != nil {
			p.Value = *pm.Match.Prefix
		}
		if !cs {
			p.Value = strings.ToLower(p.Value)
		}
		out.Path = p
	}
	for _, hm := range h.HeaderMatches {
		cs := hm.CaseSensitive != nil && *hm.CaseSensitive
		c := HeaderMatch{Name: textproto.CanonicalMIMEHeaderKey(hm.Name), CaseSensitive: cs}
		switch {
		case hm.Match.Exact != nil:
			c.Kind, c.Value = HeaderExact, *hm.Match.Exact
		case hm.Match.Prefix != nil:
			c.Kind, c.Value = HeaderPrefix, *hm.Match.Prefix
		case hm.Match.Contains != nil:
			c.Kind, c.Value = HeaderContains, *hm.Match.Contains
		}
		if !cs {
			c.Value = strings.ToLower(c.Value)
		}
		out.Headers = append(out.Headers, c)
	}
	return out
}

// mapGet is the lookup of a map, for compileAction.
func mapGet[V any](m map[string]V) func(string) V {
	return func(k string) V { return m[k] }
}

func compileAction(a model.RuleAction, tgs func(id string) *TargetGroup) Action {
	if a.FixedResponse != nil && a.FixedResponse.StatusCode != nil {
		return Action{FixedStatus: *a.FixedResponse.StatusCode}
	}
	var out Action
	if a.Forward == nil {
		return Action{FixedStatus: 500}
	}
	for _, w := range a.Forward.TargetGroups {
		tg := tgs(w.TargetGroupIdentifier)
		if tg == nil {
			continue
		}
		weight := 1
		if w.Weight != nil {
			weight = *w.Weight
		}
		out.TotalWeight += weight
		out.Forward = append(out.Forward, WeightedTargetGroup{TargetGroup: tg, Weight: weight, Cumulative: out.TotalWeight})
	}
	return out
}

// newTargetGroup compiles a target group's own fields (its targets are
// added by addTarget): Compile and the incremental compile share it.
func newTargetGroup(tg *model.TargetGroup) *TargetGroup {
	c := &TargetGroup{ID: tg.ID, ARN: tg.ARN, Name: tg.Name, Account: tg.Account, Type: tg.Type}
	if cfg := tg.Config; cfg != nil {
		c.Protocol, c.ProtocolVersion, c.VpcID = cfg.Protocol, cfg.ProtocolVersion, cfg.VpcIdentifier
		c.LambdaEventVersion = cfg.LambdaEventStructureVersion
		if cfg.Port != nil {
			c.Port = *cfg.Port
		}
		if cfg.HealthCheck != nil {
			c.HealthCheck = model.WithHealthCheckDefaults(cfg.HealthCheck, cfg.ProtocolVersion)
		}
	}
	c.Upstream = UpstreamOf(c.Type, c.Protocol, c.ProtocolVersion)
	return c
}

// addTarget adds t to tg's targets, or to its draining ones while its
// deregistration drains; a target drained out is left out.
func addTarget(tg *TargetGroup, t *model.Target, reg *registries, o Options) {
	var list *[]*Target
	switch {
	case t.DeregisteredAt == nil:
		list = &tg.Targets
	case o.Now.Before(t.DeregisteredAt.Add(o.DrainTime)):
		list = &tg.Draining
	default:
		return
	}
	key := TargetKey(t.TargetGroupID, t.ID, t.Port)
	switch tg.Type {
	case model.TargetGroupTypeInstance, model.TargetGroupTypeALB:
		// Resolved through the registries: a target with no address
		// (a stopped or unknown instance, an ALB without a listener on
		// the port) is left out, so the data plane never sends to it.
		*list = append(*list, reg.resolve(tg, t, key)...)
		return
	}
	ct := &Target{ID: t.ID, Port: t.Port, Key: key}
	if tg.Type == model.TargetGroupTypeIP {
		if a, err := netip.ParseAddr(t.ID); err == nil && t.Port > 0 && t.Port < 65536 {
			ct.Addr = netip.AddrPortFrom(a, uint16(t.Port))
		}
	}
	*list = append(*list, ct)
}
