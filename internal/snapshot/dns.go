package snapshot

import (
	"net/netip"
	"strings"
)

// DNSRecord is one name a VPC's resolver answers: a service's generated DNS
// name or custom domain name, reachable from the VPC (the double
// association, the same set as VPC.Hosts), answered with the VPC's ingress
// address — the address a client of that VPC reaches the service at.
type DNSRecord struct {
	// Name is lowercased and fully qualified (with the trailing dot), as a
	// question's name is on the wire after lowercasing.
	Name    string
	Service *Service
	// Resource is set instead of Service for a resource configuration's
	// name (VPC.ResourceDNS).
	Resource *Resource
	// Network is the service network through which the VPC reaches it.
	Network *ServiceNetwork
	// Addr is the VPC's ingress address: an A record when it is IPv4, an
	// AAAA record when it is IPv6.
	Addr netip.Addr
}

// DNSFQDN lowercases name and adds the trailing dot of a fully qualified
// name when it is missing; it does not allocate when name already is both.
func DNSFQDN(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			name = strings.ToLower(name)
			break
		}
	}
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// LatticeDNSZone is the zone of the generated DNS names of a region's
// services, fully qualified: Lattice names them
// NAME-ID.TOKEN.vpc-lattice-svcs.REGION.on.aws.
func LatticeDNSZone(region string) string {
	return "vpc-lattice-svcs." + strings.ToLower(region) + ".on.aws."
}

// compileDNS fills each VPC's name table from its Hosts, and the
// snapshot's set of every service name, reachable from somewhere or not:
// a VPC's resolver answers NXDOMAIN for a name in that set it does not
// reach, instead of forwarding it (a name Trellis owns must not leak to the
// public resolvers, whose answer would be wrong).
func compileDNS(snap *Snapshot, services map[string]*Service) {
	snap.DNSZone = LatticeDNSZone(snap.Region)
	names := newTable[*Service](len(services))
	for _, svc := range services {
		for _, n := range []string{svc.DNSName, svc.CustomDomain} {
			if n == "" {
				continue
			}
			fq := DNSFQDN(n)
			// Two services may hold the same custom domain (in different
			// networks); keep the lower ID so the table is deterministic.
			if old := names.Get(fq); old == nil || svc.ID < old.ID {
				names.Set(fq, svc)
			}
		}
	}
	snap.ServiceNames = names.Table()
	for _, v := range snap.VPCs {
		dns := newTable[*DNSRecord](v.Hosts.Len())
		for host, svc := range v.Hosts.All() {
			fq := DNSFQDN(host)
			dns.Set(fq, &DNSRecord{Name: fq, Service: svc, Network: v.ServiceNetwork, Addr: v.Ingress})
		}
		v.DNS = dns.Table()
	}
}
