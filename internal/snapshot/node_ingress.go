package snapshot

import (
	"fmt"
	"net/netip"

	"github.com/trellis-net/trellis/internal/model"
)

// NodeIngress returns the address at which this node serves a host-mode
// VPC whose stored ingress address is stored: the address with the same
// host offset inside node (serve --node-ingress-prefix) as stored has inside
// installation (serve --ingress-cidr, where the API allocates them).
// Several data-plane nodes on one machine then each bind their own copy of
// every VPC's ingress (and DNS) instead of fighting over one address. It
// reports false when stored is outside installation (allocated under
// another --ingress-cidr) or the offset does not fit in node: nothing would
// tell where such a VPC belongs on this node.
func NodeIngress(stored netip.Addr, installation, node netip.Prefix) (netip.Addr, bool) {
	stored = stored.Unmap()
	if !stored.Is4() || !installation.Addr().Is4() || !node.Addr().Is4() || !installation.Contains(stored) {
		return netip.Addr{}, false
	}
	s, base, to := v4(stored), v4(installation.Masked().Addr()), v4(node.Masked().Addr())
	off := s - base
	if node.Bits() > 0 && off>>(32-node.Bits()) != 0 {
		return netip.Addr{}, false
	}
	a := to + off
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), true
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// vpcIngress is the address this node serves VPC v at: its stored address,
// or with Options.NodeIngressPrefix and in host mode its NodeIngress. A
// warning says why a VPC is left out (ok false). netns VPCs keep theirs:
// it lives inside the VPC's own namespace, which is per installation and
// machine (docs/deployment.md).
func vpcIngress(id, mode string, stored netip.Addr, o Options) (addr netip.Addr, warning string, ok bool) {
	if mode == model.VPCModeNetns || !o.NodeIngressPrefix.IsValid() {
		return stored, "", true
	}
	a, ok := NodeIngress(stored, o.IngressPrefix, o.NodeIngressPrefix)
	if !ok {
		return netip.Addr{}, fmt.Sprintf("VPC %s: ingress address %s is not in the installation's ingress range %s: not served on this node (--node-ingress-prefix %s)",
			id, stored, o.IngressPrefix, o.NodeIngressPrefix), false
	}
	return a, "", true
}

// nodeIngressWarnings are the warnings of the VPCs vpcIngress leaves out,
// in the state's order.
func nodeIngressWarnings(st *State, o Options) []string {
	if !o.NodeIngressPrefix.IsValid() {
		return nil
	}
	var out []string
	for _, v := range st.VPCs {
		if a, err := netip.ParseAddr(v.IngressAddress); err == nil {
			if _, w, ok := vpcIngress(v.ID, v.Mode, a, o); !ok {
				out = append(out, w)
			}
		}
	}
	return out
}
