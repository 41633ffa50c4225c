package snapshot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
)

// MaxResourcePorts bounds the ports one resource configuration binds on
// each client VPC's ingress: Lattice maps a configuration's port ranges
// port to port, and Trellis opens one socket per port, so a range like
// 1-65535 would take every port of the VPC's address. A configuration
// whose ranges total more is left out with a warning.
const MaxResourcePorts = 64

// Resource is one port of a resource configuration reachable from a client
// VPC: a connection to the VPC's Ingress:Port goes to Address:Port, dialed
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
	Port          int
	// Address is the resource's IP address, or for a DNS resource its
	// domain name, resolved when a connection is dialed (Lattice resolves
	// DNS resources at the gateway, not at configuration time).
	Address string
	IsDNS   bool
	// DNSName, when the association has privateDnsEnabled, is the name the
	// client VPC's resolver answers with its ingress address (lowercased,
	// not fully qualified): the configuration's customDomainName, else a
	// DNS resource's domainName; empty for neither.
	DNSName string
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

// compileResources gives each compiled VPC the resources it reaches: its
// network has a resource association to a SINGLE configuration, or to a
// GROUP whose CHILD configurations it brings, with an IP or DNS definition,
// through an ACTIVE gateway in a known VPC. A port already taken on the VPC
// (by any service listener: every VPC listens on all of them, or by a
// resource earlier in configuration ARN order) is left out with a warning.
// It depends on the listener port set, the networks, VPCs, associations and
// resource tables only: an incremental compile (which keeps the port set
// and compiles everything when the others change) keeps its result.
func compileResources(st *State, snap *Snapshot, networkOf map[string]*ServiceNetwork, listenerPorts []int) []string {
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
	}
	var entries []entry
	for _, a := range st.SNRAs {
		c := cfgs[a.ResourceConfigurationID]
		if c == nil || a.Status != model.StatusActive {
			continue
		}
		switch c.Type {
		case model.ResourceConfigurationTypeSingle:
			entries = append(entries, entry{c, c, a.ID, a.ServiceNetworkID, a.PrivateDNSEnabled})
		case model.ResourceConfigurationTypeGroup:
			for _, ch := range children[c.ID] {
				entries = append(entries, entry{ch, c, a.ID, a.ServiceNetworkID, a.PrivateDNSEnabled})
			}
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := strings.Compare(a.cfg.ARN, b.cfg.ARN); c != 0 {
			return c
		}
		return strings.Compare(a.sn, b.sn)
	})
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
		var name string
		if e.dns {
			name = strings.ToLower(e.cfg.CustomDomainName)
			if name == "" && isDNS {
				name = addr
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
				Port: p, Address: addr, IsDNS: isDNS, DNSName: name})
		}
	}
	ids := make([]string, 0, len(snap.VPCs))
	for id := range snap.VPCs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		v := snap.VPCs[id]
		sn := networkOf[id]
		if sn == nil || v.ServiceNetwork != sn {
			continue
		}
		var names *TableEditor[*DNSRecord]
		taken := map[int]string{}
		for _, p := range listenerPorts {
			taken[p] = "a service listener"
		}
		for _, r := range byNetwork[sn.ID] {
			if by, ok := taken[r.Port]; ok {
				if by != r.ConfigurationID {
					warn = append(warn, fmt.Sprintf("VPC %s: port %d of resource configuration %s is taken by %s: not bound",
						id, r.Port, r.ConfigurationID, by))
				}
				continue
			}
			taken[r.Port] = r.ConfigurationID
			rc := *r
			rc.Network = sn
			v.Resources = append(v.Resources, &rc)
			// The first configuration in ARN order that names it holds a
			// name; a service's name is answered before (dns.go).
			if rc.DNSName != "" {
				fq := DNSFQDN(rc.DNSName)
				if names == nil {
					names = newTable[*DNSRecord](1)
				}
				if names.Get(fq) == nil {
					names.Set(fq, &DNSRecord{Name: fq, Resource: &rc, Network: sn, Addr: v.Ingress})
				}
			}
		}
		if names != nil {
			v.ResourceDNS = names.Table()
		}
		slices.SortFunc(v.Resources, func(a, b *Resource) int { return a.Port - b.Port })
	}
	return warn
}
