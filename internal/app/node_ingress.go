package app

import (
	"fmt"
	"net/netip"

	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// ingressPrefixOf is the installation's host-mode ingress range: the one
// the service allocates from.
func ingressPrefixOf(cfg Config) netip.Prefix {
	if cfg.IngressPrefix.IsValid() {
		return cfg.IngressPrefix
	}
	return service.DefaultIngressPrefix
}

// notNodeIngress are ranges a node's ingress range must not touch:
// "this network" (0.0.0.0/8 holds the unspecified address, which would
// listen on every address) and multicast, reserved and broadcast
// (224.0.0.0/3), where no TCP listener belongs (RFC 6890).
var notNodeIngress = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("224.0.0.0/3")}

// checkNodeIngressPrefix refuses a --node-ingress-prefix that cannot hold
// every address of the installation's range at the same offset (it must
// be as large or larger), that is not IPv4 (host-mode addresses are), or
// that overlaps the netns VPCs' link-local range (their ingress inside
// their namespaces) or addresses nothing may listen on. An invalid
// (unset) node prefix is fine: VPCs are served at their stored address.
func checkNodeIngressPrefix(node, installation netip.Prefix) error {
	if !node.IsValid() {
		return nil
	}
	switch {
	case !node.Addr().Is4():
		return fmt.Errorf("--node-ingress-prefix %s: want an IPv4 prefix such as 127.172.0.0/16", node)
	case node.Bits() > installation.Bits():
		return fmt.Errorf("--node-ingress-prefix %s: smaller than --ingress-cidr %s; want a /%d or larger, so that every VPC's address has its place", node, installation, installation.Bits())
	case node.Overlaps(service.NetnsIngressPrefix):
		return fmt.Errorf("--node-ingress-prefix %s: overlaps %s, the ingress range of netns VPCs", node, service.NetnsIngressPrefix)
	}
	for _, p := range notNodeIngress {
		if node.Overlaps(p) {
			return fmt.Errorf("--node-ingress-prefix %s: overlaps %s, where no ingress can listen", node, p)
		}
	}
	return nil
}

// checkResourcePrefix refuses a --resource-cidr that is not an IPv4
// loopback prefix (host-mode VPCs reach resources on this machine's
// loopback, as their ingress) of at most /30, or that overlaps the ingress
// range or the node's ingress range: a resource address must never be a
// VPC's ingress address. Unset is fine: the default range, or none when it
// would overlap (snapshot's resourcePrefix).
func checkResourcePrefix(res, ingress, node netip.Prefix) error {
	if !res.IsValid() {
		// Unset, and the default would overlap a VPC range: host-mode VPCs
		// get no resources (the snapshot warns, naming the flag), but the
		// node starts as it did before resources had addresses.
		return nil
	}
	switch {
	case !res.Addr().Is4() || !res.Addr().IsLoopback() || res.Bits() < 8 || res.Bits() > 30:
		return fmt.Errorf("--resource-cidr %s: want an IPv4 loopback prefix of /8 to /30 such as %s", res, snapshot.DefaultResourcePrefix)
	case res.Overlaps(ingress):
		return fmt.Errorf("--resource-cidr %s: overlaps --ingress-cidr %s; resources need addresses no VPC ingress uses", res, ingress)
	case node.IsValid() && res.Overlaps(node):
		return fmt.Errorf("--resource-cidr %s: overlaps --node-ingress-prefix %s; resources need addresses no VPC ingress uses", res, node)
	}
	return nil
}
