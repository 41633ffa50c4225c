package snapshot

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
)

// SGRules is the compiled, immutable inbound rule set that gates every
// connection into a VPC's ingress: the union of the rules of the security
// groups its service-network VPC association names (docs/security-groups.md).
//
// A nil *SGRules means the association names no group (or there is no
// association): every connection is admitted, as before security groups.
// A non-nil SGRules with no rules admits nothing.
type SGRules struct {
	// Groups are the IDs the association names, in its order.
	Groups []string
	// Unknown are the named IDs that are no group of the VPC (never
	// declared, deleted, or a group of another VPC); they contribute no rule.
	Unknown []string
	rules   []sgRule
}

// sgRule is one compiled inbound rule. Protocol "all" is ports 0–65535.
type sgRule struct {
	prefix   netip.Prefix
	from, to uint16
}

// Admits reports whether a TCP connection from src to the ingress port
// port is admitted: some inbound rule's CIDR contains src and its port
// range contains port. A nil receiver admits everything (no groups named).
// An IPv4-mapped IPv6 source is matched as the IPv4 address it carries.
// Admits is pure and allocates nothing; the ingress calls it on every
// accepted connection.
func (r *SGRules) Admits(src netip.Addr, port uint16) bool {
	if r == nil {
		return true
	}
	src = src.Unmap()
	for i := range r.rules {
		x := &r.rules[i]
		if port >= x.from && port <= x.to && x.prefix.Contains(src) {
			return true
		}
	}
	return false
}

// Len is the number of compiled inbound rules.
func (r *SGRules) Len() int {
	if r == nil {
		return 0
	}
	return len(r.rules)
}

// String describes the rule set for logs and golden files.
func (r *SGRules) String() string {
	if r == nil {
		return "admit all (no security groups)"
	}
	var b strings.Builder
	b.WriteString("groups=" + strings.Join(r.Groups, ","))
	if len(r.Unknown) > 0 {
		b.WriteString(" unknown=" + strings.Join(r.Unknown, ","))
	}
	for _, x := range r.rules {
		b.WriteString(" " + x.prefix.String() + ":" + strconv.Itoa(int(x.from)) + "-" + strconv.Itoa(int(x.to)))
	}
	return b.String()
}

// compileSGRules compiles the rule set of the association a of VPC vpc.
//
// An ID counts only when it names a group of the association's own VPC,
// owned by the VPC's owner. Any other ID — never declared (a Terraform plan
// naming made-up groups), deleted since, or a group of another VPC or
// account — counts as a group with no inbound rules: it admits nothing,
// like a freshly created EC2 security group. This is the one reading that
// can never admit a connection a declared group would refuse: reading an
// unknown group as "allow all" (what the AWS default security group does,
// but only for its own members, which Trellis cannot know) would open the
// VPC wide until the group is declared, and then close it. So an
// association naming only unknown groups admits nothing; declaring one of
// them (PUT /trellis/v1/security-groups/{id}) opens exactly its rules.
func compileSGRules(a *model.ServiceNetworkVpcAssociation, vpc *model.VPC, groups map[string]*model.SecurityGroup) *SGRules {
	if a == nil || len(a.SecurityGroupIDs) == 0 {
		return nil
	}
	out := &SGRules{Groups: slices.Clone(a.SecurityGroupIDs)}
	seen := map[sgRule]bool{}
	for _, id := range a.SecurityGroupIDs {
		g := groups[id]
		if g == nil || g.VpcID != vpc.ID || g.Account != vpc.Account {
			out.Unknown = append(out.Unknown, id)
			continue
		}
		for _, r := range g.Ingress {
			p, err := netip.ParsePrefix(r.CIDR)
			if err != nil || p.Addr().Is4In6() {
				continue // refused by the API; a stored rule that does not parse admits nothing
			}
			x := sgRule{prefix: p.Masked(), from: 0, to: 65535}
			if r.Protocol != model.SecurityGroupProtoAll {
				if r.Protocol != model.SecurityGroupProtoTCP || r.FromPort < 1 || r.ToPort > 65535 || r.FromPort > r.ToPort {
					continue
				}
				x.from, x.to = uint16(r.FromPort), uint16(r.ToPort)
			}
			if !seen[x] {
				seen[x] = true
				out.rules = append(out.rules, x)
			}
		}
	}
	// A stable order for golden files: by address family, prefix, ports.
	slices.SortFunc(out.rules, func(a, b sgRule) int {
		if c := a.prefix.Addr().Compare(b.prefix.Addr()); c != 0 {
			return c
		}
		if a.prefix.Bits() != b.prefix.Bits() {
			return a.prefix.Bits() - b.prefix.Bits()
		}
		if a.from != b.from {
			return int(a.from) - int(b.from)
		}
		return int(a.to) - int(b.to)
	})
	return out
}
