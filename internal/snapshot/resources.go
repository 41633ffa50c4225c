package snapshot

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
)

// MaxResourcePorts bounds the ports one resource configuration binds at
// its address in each client VPC: Lattice maps a configuration's port
// ranges port to port, and Trellis opens one socket per port, so a range
// like 1-65535 would take 65,535 sockets per VPC. A configuration whose
// ranges total more is left out with a warning.
const MaxResourcePorts = 64

// DefaultResourcePrefix is where host-mode VPCs reach resource
// configurations when Options.ResourcePrefix is unset (serve
// --resource-cidr): a loopback range apart from the default ingress range
// 127.171.0.0/16, with room for 2^19 (VPC, configuration) pairs.
var DefaultResourcePrefix = netip.MustParsePrefix("127.200.0.0/13")

// Resource is one port of a resource configuration reachable from a client
// VPC: a connection to Addr:Port in the VPC goes to Address:Port, dialed
// from the network of GatewayVPC (the resource gateway's VPC).
type Resource struct {
	ConfigurationID  string
	ConfigurationARN string
	Name             string // the configuration's name
	Account          string // the configuration's owner
	// AssociationID is the service-network resource association that
	// brings the configuration (a CHILD's: its GROUP's).
	AssociationID string
	Network       *ServiceNetwork
	GatewayID     string
	GatewayVPC    string
	// Addr is the configuration's address in the client VPC (every port of
	// the configuration shares it; no other configuration and no listener
	// uses it there): from model.NetnsResourcePrefix inside a netns VPC's
	// namespace, from Options.ResourcePrefix on the host for a host-mode
	// VPC (allocate).
	Addr netip.Addr
	Port int
	// Address is the resource's IP address, or for a DNS resource its
	// domain name, resolved when a connection is dialed (Lattice resolves
	// DNS resources at the gateway, not at configuration time).
	Address string
	IsDNS   bool
	// Names are the names the client VPC's resolver answers with Addr
	// (lowercased, not fully qualified): the association's generated name
	// (for a CHILD, its own under its group's association), and the
	// custom name (CustomName) when the VPC association's private DNS
	// settings admit it (privdns.go).
	Names []string
	// CustomName is the configuration's custom name, whether the VPC
	// answers it or not: with the resource association's
	// privateDnsEnabled, its customDomainName, else a DNS resource's
	// domainName; "" when it has none. Unverified is "" when a VERIFIED
	// domain verification of the configuration's owner covers it, else
	// why none does.
	CustomName string
	Unverified string
}

// parsePortRanges returns the ports of a configuration's portRanges ("N"
// or "N-M", as the API accepts them), or false for a malformed one.
func parsePortRanges(ranges []string) ([]int, bool) {
	var out []int
	for _, r := range ranges {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, false
			}
		}
		if a < 1 || b > 65535 || a > b || len(out)+b-a+1 > MaxResourcePorts {
			return nil, false
		}
		for p := a; p <= b; p++ {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), true
}

// resourcePrefix is the host-mode resource range of o, and a warning when
// host-mode VPCs get none: a node serving its own ingress range
// (--node-ingress-prefix) shares the machine's loopback with other nodes,
// so it binds host-mode resources only in a range given to it alone
// (--resource-cidr): with the default range, two nodes would fight over
// every address.
func resourcePrefix(o Options) (netip.Prefix, string) {
	if o.ResourcePrefix.IsValid() {
		return o.ResourcePrefix.Masked(), ""
	}
	if o.NodeIngressPrefix.IsValid() {
		return netip.Prefix{}, fmt.Sprintf("host-mode VPCs reach no resource configurations on this node: with --node-ingress-prefix %s, give each node its own --resource-cidr",
			o.NodeIngressPrefix)
	}
	if DefaultResourcePrefix.Overlaps(o.IngressPrefix) {
		// An installation whose --ingress-cidr lies in the default range
		// (a valid choice before resources had addresses) keeps starting;
		// its host-mode VPCs reach resources once it names a range apart.
		return netip.Prefix{}, fmt.Sprintf("host-mode VPCs reach no resource configurations: --ingress-cidr %s overlaps the default --resource-cidr %s; give --resource-cidr a range apart",
			o.IngressPrefix, DefaultResourcePrefix)
	}
	return DefaultResourcePrefix, ""
}

// compileResources gives each compiled VPC the resources it reaches: its
// network has a resource association to a SINGLE configuration, or to a
// GROUP whose CHILD configurations it brings, with an IP or DNS definition,
// through an ACTIVE gateway in a known VPC. Each (VPC, configuration) gets
// its own address (allocate), so no port is ever refused for being taken.
// A VPC answers a configuration's custom name only when its VPC
// association's private DNS settings admit it (privdns.go). It fills
// Snapshot.ResourceNames with the generated names of every resource
// association, reached or not, and the custom names a verified domain
// covers. It depends on the networks, VPCs, VPC associations, domain
// verifications and the resource tables only (and the options): an incremental compile (which
// compiles everything when they change) keeps its result.
func compileResources(st *State, snap *Snapshot, networkOf map[string]*ServiceNetwork, assocOf map[string]*model.ServiceNetworkVpcAssociation, o Options) []string {
	snap.ResourceDNSZone = DNSFQDN(model.ResourceDNSZone(o.Region))
	if len(st.ResourceConfigurations) == 0 || len(st.SNRAs) == 0 {
		return nil
	}
	var warn []string
	knownVPC := map[string]bool{}
	for _, v := range st.VPCs {
		knownVPC[v.ID] = true
	}
	gws := map[string]*model.ResourceGateway{}
	for _, g := range st.ResourceGateways {
		if g.Status == model.StatusActive && knownVPC[g.VpcID] {
			gws[g.ID] = g
		}
	}
	dvs := make(map[string]*model.DomainVerification, len(st.DomainVerifications))
	for _, d := range st.DomainVerifications {
		dvs[d.ID] = d
	}
	cfgs := map[string]*model.ResourceConfiguration{}
	children := map[string][]*model.ResourceConfiguration{}
	for _, c := range st.ResourceConfigurations {
		cfgs[c.ID] = c
		if c.Type == model.ResourceConfigurationTypeChild {
			children[c.GroupID] = append(children[c.GroupID], c)
		}
	}
	// Per network, the resources its associations bring, in ARN order.
	type entry struct {
		cfg, ports *model.ResourceConfiguration // ports: the SINGLE itself or the CHILD's GROUP
		assoc      string
		sn         string
		dns        bool
		name       string // the generated name
	}
	var entries []entry
	for _, a := range st.SNRAs {
		c := cfgs[a.ResourceConfigurationID]
		if c == nil || a.Status != model.StatusActive {
			continue
		}
		var name string
		if o.DNSToken != "" {
			name = strings.ToLower(model.ResourceDNSName(a.ID, c.ID, o.DNSToken, o.Region))
		}
		switch c.Type {
		case model.ResourceConfigurationTypeSingle:
			entries = append(entries, entry{c, c, a.ID, a.ServiceNetworkID, a.PrivateDNSEnabled, name})
		case model.ResourceConfigurationTypeGroup:
			for _, ch := range children[c.ID] {
				var chName string
				if name != "" {
					chName = strings.ToLower(model.ResourceChildDNSName(ch.ID, name))
				}
				entries = append(entries, entry{ch, c, a.ID, a.ServiceNetworkID, a.PrivateDNSEnabled, chName})
			}
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := strings.Compare(a.cfg.ARN, b.cfg.ARN); c != 0 {
			return c
		}
		return strings.Compare(a.sn, b.sn)
	})
	// The names of every association, reached or not: a VPC's resolver
	// answers NXDOMAIN for one it does not reach (dns.go).
	allNames := newTable[string](len(entries))
	byNetwork := map[string][]*Resource{}
	for _, e := range entries {
		gw := gws[e.ports.ResourceGatewayID]
		d := e.cfg.Definition
		if gw == nil || d == nil || e.cfg.Status != model.StatusActive || e.ports.Status != model.StatusActive ||
			e.ports.Protocol != "" && e.ports.Protocol != "TCP" {
			continue
		}
		var addr string
		isDNS := false
		switch {
		case d.IPResource != nil:
			addr = d.IPResource.IPAddress
		case d.DNSResource != nil:
			addr, isDNS = strings.ToLower(d.DNSResource.DomainName), true
		default:
			continue // ARN resources: not carried yet
		}
		var names []string
		if e.name != "" {
			names = append(names, e.name)
		}
		var custom, unverified string
		if e.dns {
			custom = strings.ToLower(e.cfg.CustomDomainName)
			if custom == "" && isDNS {
				custom = addr
			}
			if custom == e.name {
				custom = ""
			}
		}
		// Trellis owns the generated name and a verified custom name: a
		// VPC that does not answer one gets NXDOMAIN. An unverified one is
		// forwarded where it is not answered, so that a configuration
		// (perhaps another account's) can neither answer nor black-hole a
		// name its owner has not proved. The custom name is admitted per
		// VPC (admitName), so it is not in names.
		owned := names
		if custom != "" {
			// A CHILD proves its name through its GROUP's verification.
			if unverified = verification(dvs, e.cfg, e.ports, custom); unverified == "" {
				owned = append(slices.Clip(names), custom)
			}
		}
		for _, n := range owned {
			if fq := DNSFQDN(n); allNames.Get(fq) == "" {
				allNames.Set(fq, e.cfg.ID)
			}
		}
		ports, ok := parsePortRanges(e.ports.PortRanges)
		if !ok {
			warn = append(warn, fmt.Sprintf("resource configuration %s: port ranges %v are malformed or take more than %d ports: not bound",
				e.cfg.ID, e.ports.PortRanges, MaxResourcePorts))
			continue
		}
		for _, p := range ports {
			byNetwork[e.sn] = append(byNetwork[e.sn], &Resource{ConfigurationID: e.cfg.ID, ConfigurationARN: e.cfg.ARN,
				Name: e.cfg.Name, Account: e.cfg.Account, AssociationID: e.assoc, GatewayID: gw.ID, GatewayVPC: gw.VpcID,
				Port: p, Address: addr, IsDNS: isDNS, Names: names, CustomName: custom, Unverified: unverified})
		}
	}
	if t := allNames.Table(); t.Len() > 0 {
		snap.ResourceNames = t
	}

	ids := make([]string, 0, len(snap.VPCs))
	for id := range snap.VPCs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	hostPrefix, hostWarn := resourcePrefix(o)
	hostTaken := map[netip.Addr]bool{} // host-mode VPCs share the host's loopback
	warnedHost := false
	for _, id := range ids {
		v := snap.VPCs[id]
		sn := networkOf[id]
		if sn == nil || v.ServiceNetwork != sn || len(byNetwork[sn.ID]) == 0 {
			continue
		}
		prefix, taken := hostPrefix, hostTaken
		if v.Mode == model.VPCModeNetns {
			// Per namespace: the same address may serve another pair in
			// another VPC.
			prefix, taken = model.NetnsResourcePrefix, map[netip.Addr]bool{}
			if i := slices.IndexFunc(v.CIDRBlocks, func(b netip.Prefix) bool { return b.Overlaps(prefix) }); i >= 0 {
				warn = append(warn, fmt.Sprintf("VPC %s: cidrBlock %s overlaps %s, where resource configurations get their addresses: it reaches none",
					id, v.CIDRBlocks[i], prefix))
				continue
			}
		} else if !prefix.IsValid() {
			if !warnedHost {
				warn, warnedHost = append(warn, hostWarn), true
			}
			continue
		}
		// One address per configuration, allocated in configuration ID
		// order (entries are in ARN order, which may differ).
		var cfgIDs []string
		for _, r := range byNetwork[sn.ID] {
			if !slices.Contains(cfgIDs, r.ConfigurationID) {
				cfgIDs = append(cfgIDs, r.ConfigurationID)
			}
		}
		slices.Sort(cfgIDs)
		addrs := map[string]netip.Addr{}
		for _, c := range cfgIDs {
			a, ok := allocate(prefix, id, c, taken)
			if !ok {
				warn = append(warn, fmt.Sprintf("VPC %s: no free address in %s for resource configuration %s: not bound", id, prefix, c))
				continue
			}
			addrs[c] = a
		}
		var names *TableEditor[*DNSRecord]
		// Whether the VPC association admits each configuration's custom
		// name (every port of a configuration has the same).
		admitted := map[string]bool{}
		for _, r := range byNetwork[sn.ID] {
			if _, done := admitted[r.ConfigurationID]; done || r.CustomName == "" {
				continue
			}
			reason := admitName(assocOf[id], r.CustomName, r.Unverified)
			admitted[r.ConfigurationID] = reason == ""
			if reason != "" {
				if v.WithheldResourceNames == nil {
					v.WithheldResourceNames = map[string]Withheld{}
				}
				if fq := DNSFQDN(r.CustomName); v.WithheldResourceNames[fq].ConfigurationID == "" {
					v.WithheldResourceNames[fq] = Withheld{ConfigurationID: r.ConfigurationID, Reason: reason}
				}
			}
		}
		for _, r := range byNetwork[sn.ID] {
			a, ok := addrs[r.ConfigurationID]
			if !ok {
				continue
			}
			rc := *r
			rc.Network, rc.Addr = sn, a
			if admitted[r.ConfigurationID] {
				rc.Names = append(slices.Clip(r.Names), r.CustomName)
			}
			v.Resources = append(v.Resources, &rc)
			// The first configuration in ARN order that names it holds a
			// name; a service's name is answered before (dns.go). Every
			// port of a configuration has the same names: the first
			// port's record serves them.
			for _, n := range rc.Names {
				fq := DNSFQDN(n)
				if names == nil {
					names = newTable[*DNSRecord](1)
				}
				if names.Get(fq) == nil {
					names.Set(fq, &DNSRecord{Name: fq, Resource: &rc, Network: sn, Addr: a})
				}
			}
		}
		if names != nil {
			v.ResourceDNS = names.Table()
		}
		slices.SortFunc(v.Resources, compareResource)
	}
	return warn
}

// compareResource orders a VPC's resources by address, then port (the
// order FindResource searches).
func compareResource(a, b *Resource) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return a.Port - b.Port
}

// FindResource returns the resource vpc reaches at addr:port, or nil. It
// does not allocate.
func FindResource(vpc *VPC, addr netip.Addr, port int) *Resource {
	if vpc == nil {
		return nil
	}
	rs := vpc.Resources
	i, ok := slices.BinarySearchFunc(rs, netip.AddrPortFrom(addr, uint16(port)), func(r *Resource, k netip.AddrPort) int {
		if c := r.Addr.Compare(k.Addr()); c != 0 {
			return c
		}
		return r.Port - int(k.Port())
	})
	if !ok || port < 0 || port > 65535 {
		return nil
	}
	return rs[i]
}

// allocate gives the pair (vpcID, cfgID) an address of prefix not in
// taken, and marks it taken. The address is a pure function of the pair
// and of what is taken: a hash of the pair picks the first address tried,
// then the next ones in order (wrapping), so every node computes the same,
// and a pair keeps its address as others come and go unless another pair
// allocated before it (in VPC, then configuration ID order) landed on it.
// The prefix's first and last addresses are never given (a network and a
// broadcast address, as the ingress allocation keeps them free). IPv4 only.
func allocate(prefix netip.Prefix, vpcID, cfgID string, taken map[netip.Addr]bool) (netip.Addr, bool) {
	if !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return netip.Addr{}, false
	}
	size := uint64(1) << (32 - prefix.Bits())
	usable := size - 2
	h := fnv.New64a()
	h.Write([]byte(vpcID))
	h.Write([]byte{'/'})
	h.Write([]byte(cfgID))
	start := h.Sum64() % usable
	base := v4(prefix.Masked().Addr())
	for i := uint64(0); i < usable; i++ {
		off := 1 + (start+i)%usable
		n := base + uint32(off)
		a := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		if !taken[a] {
			taken[a] = true
			return a, true
		}
	}
	return netip.Addr{}, false
}
