package dns

import (
	"fmt"
	"net/netip"

	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// Lookup is what a VPC's resolver answers for a name, and why
// (`trellis dns lookup`, GET /trellis/v1/dns/lookup).
type Lookup struct {
	VpcID string `json:"vpcId"`
	Name  string `json:"name"` // lowercased, fully qualified
	// Rcode is NOERROR, NXDOMAIN or REFUSED; FORWARDED when the name goes
	// to the upstream resolvers (whose answer this does not ask for).
	Rcode string `json:"rcode"`
	// Addresses answered (A or AAAA): the VPC's ingress address, or for a
	// resource's name the resource's address in the VPC.
	Addresses []netip.Addr `json:"addresses,omitempty"`
	TTL       int          `json:"ttl,omitempty"`
	// ServiceID/ServiceArn and ServiceNetworkID name what made the answer.
	ServiceID        string `json:"serviceId,omitempty"`
	ServiceArn       string `json:"serviceArn,omitempty"`
	ServiceNetworkID string `json:"serviceNetworkId,omitempty"`
	// ResourceConfigurationID names the resource configuration of a
	// resource association's name.
	ResourceConfigurationID string   `json:"resourceConfigurationId,omitempty"`
	Upstreams               []string `json:"upstreams,omitempty"`
	Reason                  string   `json:"reason"`
}

// LookupName says how the resolver of vpc (in snap) answers name, as the
// server does, without asking an upstream. vpc must exist in snap.
func (s *Server) LookupName(snap *snapshot.Snapshot, vpc *snapshot.VPC, name string) Lookup {
	return lookup(snap, vpc, name, s.cfg.Upstreams, s.h.ttl)
}

func lookup(snap *snapshot.Snapshot, vpc *snapshot.VPC, name string, upstreams []string, ttl uint32) Lookup {
	name = snapshot.DNSFQDN(name)
	out := Lookup{VpcID: vpc.ID, Name: name}
	verdict, rec := classify(snap, vpc, []byte(name))
	switch verdict {
	case Reachable:
		out.Rcode = mdns.RcodeToString[mdns.RcodeSuccess]
		out.Addresses, out.TTL = []netip.Addr{rec.Addr}, int(ttl)
		if r := rec.Resource; r != nil {
			// A resource association's name (generated, or custom with
			// privateDnsEnabled).
			out.ResourceConfigurationID, out.ServiceNetworkID = r.ConfigurationID, r.Network.ID
			out.Reason = fmt.Sprintf("resource configuration %s is reachable through service network %s (resource association %s); answered with its address in VPC %s",
				r.ConfigurationID, r.Network.ID, r.AssociationID, vpc.ID)
			break
		}
		out.ServiceID, out.ServiceArn = rec.Service.ID, rec.Service.ARN
		if rec.Network != nil {
			out.ServiceNetworkID = rec.Network.ID
			out.Reason = fmt.Sprintf("service %s is reachable through service network %s (both associated with VPC %s's network); answered with the VPC's ingress address",
				rec.Service.ID, rec.Network.ID, vpc.ID)
		}
	case NotReachable:
		out.Rcode = mdns.RcodeToString[mdns.RcodeNameError]
		if svc := snap.ServiceNames.Get(name); svc != nil {
			out.ServiceID, out.ServiceArn = svc.ID, svc.ARN
			if vpc.ServiceNetwork == nil {
				out.Reason = fmt.Sprintf("service %s is not reachable: VPC %s is associated with no service network", svc.ID, vpc.ID)
			} else {
				out.Reason = fmt.Sprintf("service %s is not reachable: it is not associated with service network %s, VPC %s's network",
					svc.ID, vpc.ServiceNetwork.ID, vpc.ID)
			}
		} else if w, ok := vpc.WithheldResourceNames[name]; ok {
			// A verified custom name the VPC reaches but its VPC
			// association does not admit.
			out.ResourceConfigurationID = w.ConfigurationID
			out.Reason = fmt.Sprintf("resource configuration %s's custom name is not answered in VPC %s: %s", w.ConfigurationID, vpc.ID, w.Reason)
		} else if cfg := snap.ResourceNames.Get(name); cfg != "" {
			out.ResourceConfigurationID = cfg
			out.Reason = fmt.Sprintf("resource configuration %s is not reachable: VPC %s's service network has no resource association bringing it", cfg, vpc.ID)
		} else if inZone([]byte(name), snap.ResourceDNSZone) {
			out.Reason = fmt.Sprintf("no resource association has this name in the Lattice zone %s", snap.ResourceDNSZone)
		} else {
			out.Reason = fmt.Sprintf("no service has this name in the Lattice zone %s", snap.DNSZone)
		}
	default:
		what := "not a service name"
		if w, ok := vpc.WithheldResourceNames[name]; ok {
			// An unverified custom name the VPC reaches but its VPC
			// association does not admit: not Trellis's name, so it goes
			// where any other name goes.
			out.ResourceConfigurationID = w.ConfigurationID
			what = fmt.Sprintf("resource configuration %s's custom name is not answered in VPC %s: %s", w.ConfigurationID, vpc.ID, w.Reason)
		}
		if len(upstreams) == 0 {
			out.Rcode = mdns.RcodeToString[mdns.RcodeRefused]
			out.Reason = what + "; no upstream resolvers are configured (--dns-upstream), so it is refused"
		} else {
			out.Rcode = "FORWARDED"
			out.Upstreams = upstreams
			out.Reason = what + ": forwarded to the upstream resolvers"
		}
	}
	return out
}
