package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// DefaultIngressPrefix is where host-mode VPCs get their ingress addresses.
var DefaultIngressPrefix = netip.MustParsePrefix("127.171.0.0/16")

// NetnsIngressPrefix is where network-namespace VPCs get their ingress
// (and DNS) addresses: link-local, unique per installation, an address on
// lo inside the VPC's namespace (docs/netns.md).
var NetnsIngressPrefix = netip.MustParsePrefix("169.254.171.0/24")

// MaxCIDRBlocks bounds a netns VPC's CIDR blocks (as an AWS VPC's, 1
// primary and 4 secondary by default).
const MaxCIDRBlocks = 5

// NetnsPrefix is the prefix of the namespace names of an installation
// whose DNS token is token: "trellis-TOKEN-". Two installations on one
// machine never share (or remove) each other's namespaces.
func NetnsPrefix(token string) string { return "trellis-" + token + "-" }

func (s *Service) vpcARN(account, id string) string {
	return "arn:" + s.cfg.Partition + ":ec2:" + s.cfg.Region + ":" + account + ":vpc/" + id
}

// allocateIngress returns the lowest free address of prefix p.
func (s *Service) allocateIngress(tx store.ReadTx, p netip.Prefix) (netip.Addr, error) {
	for a := p.Addr().Next(); p.Contains(a); a = a.Next() {
		if !a.Next().IsValid() || !p.Contains(a.Next()) {
			break // keep the last address of the range free, like a broadcast address
		}
		_, taken, err := tx.Get(pfxVPCAddr + a.String())
		if err != nil {
			return netip.Addr{}, err
		}
		if !taken {
			return a, nil
		}
	}
	return netip.Addr{}, model.QuotaExceeded(model.Quota{Name: "vpcs", Code: "ingress-addresses", ResourceType: "VPC",
		Description: "Ingress addresses in " + p.String()}, "", p.Addr().BitLen())
}

func (s *Service) newVPC(tx store.Tx, c model.Caller, id, mode string, blocks []string, auto bool) (*model.VPC, error) {
	prefix := s.cfg.IngressPrefix
	if mode == model.VPCModeNetns {
		prefix = NetnsIngressPrefix
	}
	addr, err := s.allocateIngress(tx, prefix)
	if err != nil {
		return nil, err
	}
	now := s.now()
	v := &model.VPC{ID: id, ARN: s.vpcARN(c.Account, id), Account: c.Account, Mode: mode,
		IngressAddress: addr.String(), AutoCreated: auto, CreatedAt: now, UpdatedAt: now}
	if mode == model.VPCModeNetns {
		v.CIDRBlocks = blocks
		v.NetnsName = NetnsPrefix(s.cfg.DNSToken) + id
	}
	if err := tx.Put(pfxVPCAddr+v.IngressAddress, []byte(id)); err != nil {
		return nil, err
	}
	return v, putJSON(tx, pfxVPC+id, v)
}

// A VPC belongs to its owner account: the account that declared it (PUT
// /trellis/v1/vpcs/{id}), or whose association or target group named it
// first and so created it in host mode. As in AWS, where only the VPC's
// owner associates it with a service network or creates target groups in
// it, another account can neither use it in what it creates, nor change,
// delete or see it; the installation's administrator may, as everywhere.
//
// The answers differ by what the caller does, and are the same for every
// VPC another account owns:
//   - reading or deleting it (GET, DELETE, the list) answers
//     ResourceNotFoundException, as for every Lattice resource of another
//     account: the caller cannot see it;
//   - naming it in what the caller creates or declares
//     (CreateServiceNetworkVpcAssociation, CreateTargetGroup, PUT) answers
//     AccessDeniedException, which is what AWS answers when a caller names a
//     VPC it has no rights on. A "not found" would be no more discreet here:
//     naming an unknown VPC creates it, so the refusal itself shows that the
//     ID is taken.

// mayUseVPC reports whether c may use or change VPC v: its owner and the
// administrator may.
func (s *Service) mayUseVPC(c model.Caller, v *model.VPC) bool {
	return v.Account == c.Account || s.IsAdmin(c)
}

// errVPCOfAnotherAccount is the AccessDeniedException of a caller naming a
// VPC it does not own in what it creates (see above).
func errVPCOfAnotherAccount(c model.Caller, id, action string) error {
	return model.AccessDenied("%s is not authorized to %s VPC %s: the VPC belongs to another account, and only its owner may",
		who(c), action, id)
}

// ensureVPC checks that the caller may use VPC id in what it creates (an
// association, a target group), creating the VPC in host mode, owned by the
// caller, the first time a resource names it. Every operation that names a
// VPC goes through here.
func (s *Service) ensureVPC(tx store.Tx, c model.Caller, id string) error {
	v, err := getJSON[model.VPC](tx, pfxVPC+id)
	if err != nil {
		return err
	}
	if v != nil {
		if !s.mayUseVPC(c, v) {
			return errVPCOfAnotherAccount(c, id, "use")
		}
		return nil
	}
	_, err = s.newVPC(tx, c, id, model.VPCModeHost, nil, true)
	return err
}

// PutVPC declares a VPC (creating it, or keeping it as it is when it
// exists) in mode host (the default) or netns, a Linux network namespace
// holding cidrBlocks. The mode and blocks of an existing VPC never change:
// a PUT naming others is refused (delete the VPC and declare it again); a
// PUT without a mode keeps the VPC as it is.
func (s *Service) PutVPC(ctx context.Context, id, mode string, cidrBlocks []string) (*model.VPC, bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	var v model.Validator
	if !model.ValidVpcID(id) {
		v.Addf("vpcId", "vpcId must be vpc- followed by 8 or 17 lowercase letters and digits")
	}
	var blocks []string
	switch mode {
	case "", model.VPCModeHost:
		if len(cidrBlocks) > 0 {
			v.Addf("cidrBlocks", "cidrBlocks apply to mode netns only")
		}
	case model.VPCModeNetns:
		if s.cfg.Netns == nil {
			v.Addf("mode", "mode netns (Linux network namespaces) is not available in this server")
		} else if err := s.cfg.Netns(); err != nil {
			v.Addf("mode", "mode netns is not available on this host: %v", err)
		}
		blocks = validCIDRBlocks(&v, cidrBlocks)
	default:
		v.Addf("mode", "mode must be host or netns")
	}
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	var out *model.VPC
	created := false
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := getJSON[model.VPC](tx, pfxVPC+id)
		if err != nil {
			return err
		}
		if cur != nil {
			if !s.mayUseVPC(c, cur) {
				return errVPCOfAnotherAccount(c, id, "declare")
			}
			if mode != "" && (mode != cur.Mode || !slices.Equal(blocks, cur.CIDRBlocks)) {
				return model.Conflict("VPC", id, "VPC %s exists in mode %s%s; its mode and cidrBlocks cannot change: delete it and declare it again",
					id, cur.Mode, blocksNote(cur.CIDRBlocks))
			}
			if cur.AutoCreated {
				cur.AutoCreated = false
				cur.UpdatedAt = s.now()
				if err := putJSON(tx, pfxVPC+id, cur); err != nil {
					return err
				}
			}
			out = cur
			return nil
		}
		created = true
		if mode == "" {
			mode = model.VPCModeHost
		}
		out, err = s.newVPC(tx, c, id, mode, blocks, false)
		return err
	})
	return out, created, err
}

func blocksNote(blocks []string) string {
	if len(blocks) == 0 {
		return ""
	}
	return " with cidrBlocks " + strings.Join(blocks, ", ")
}

// validCIDRBlocks checks a netns VPC's blocks: 1 to MaxCIDRBlocks IPv4 or
// IPv6 prefixes, each its canonical network address (a namespace makes
// the whole block local: 10.0.1.0/16 would be ambiguous), none repeated,
// none overlapping the ingress range, the resource range or loopback. Overlapping another
// VPC's blocks is allowed: each namespace is its own network.
func validCIDRBlocks(v *model.Validator, in []string) []string {
	if len(in) == 0 || len(in) > MaxCIDRBlocks {
		v.Addf("cidrBlocks", "mode netns needs 1 to %d cidrBlocks (got %d)", MaxCIDRBlocks, len(in))
		return nil
	}
	out := make([]string, 0, len(in))
	var seen []netip.Prefix
	for i, b := range in {
		field := fmt.Sprintf("cidrBlocks[%d]", i)
		p, err := netip.ParsePrefix(b)
		if err != nil {
			v.Addf(field, "%s must be an IPv4 or IPv6 CIDR block such as 10.0.0.0/16", field)
			continue
		}
		if p.Addr().Is4In6() || p.Addr().Zone() != "" {
			v.Addf(field, "%s must be a plain IPv4 or IPv6 CIDR block", field)
			continue
		}
		if p != p.Masked() {
			v.Addf(field, "%s %s is not a network address; did you mean %s?", field, b, p.Masked())
			continue
		}
		if p.Bits() == 0 || p.Overlaps(NetnsIngressPrefix) || p.Overlaps(netip.MustParsePrefix("127.0.0.0/8")) ||
			p.Overlaps(netip.MustParsePrefix("::1/128")) {
			v.Addf(field, "%s %s overlaps the default route, loopback or the ingress range %s", field, b, NetnsIngressPrefix)
			continue
		}
		if p.Overlaps(model.NetnsResourcePrefix) {
			// Inside the namespace, that range holds the addresses of the
			// resource configurations the VPC reaches (docs/resources.md).
			v.Addf(field, "%s %s overlaps %s, where a netns VPC reaches resource configurations; cidrBlocks must not overlap it",
				field, b, model.NetnsResourcePrefix)
			continue
		}
		for _, q := range seen {
			if p.Overlaps(q) {
				v.Addf(field, "%s %s overlaps %s of the same VPC", field, b, q)
			}
		}
		seen = append(seen, p)
		out = append(out, p.String())
	}
	return out
}

func (s *Service) loadVPC(tx store.ReadTx, c model.Caller, id string) (*model.VPC, error) {
	if !model.ValidVpcID(id) {
		return nil, model.Invalid("vpcId", "vpcId must be vpc- followed by 8 or 17 lowercase letters and digits")
	}
	v, err := getJSON[model.VPC](tx, pfxVPC+id)
	if err != nil {
		return nil, err
	}
	if v == nil || !s.mayUseVPC(c, v) {
		return nil, model.NotFound("VPC", id) // another account's VPC is not visible
	}
	return v, nil
}

// GetVPC describes a VPC.
func (s *Service) GetVPC(ctx context.Context, id string) (*model.VPC, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.VPC
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadVPC(tx, c, id)
		return err
	})
	return out, err
}

// ListVPCs lists the caller's VPCs (every VPC, for the administrator).
func (s *Service) ListVPCs(ctx context.Context, p Page) ([]*model.VPC, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []*model.VPC
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxVPC, p, func(v *model.VPC) bool { return s.mayUseVPC(c, v) })
		return err
	})
	return out, next, err
}

// DeleteVPC removes a VPC no association, target group, security group,
// instance or load balancer refers to.
func (s *Service) DeleteVPC(ctx context.Context, id string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		v, err := s.loadVPC(tx, c, id)
		if err != nil {
			return err
		}
		if busy, err := hasPrefix(tx, pfxSNVAbyVpc+id+"/"); err != nil || busy {
			if err != nil {
				return err
			}
			return model.Conflict("VPC", id, "VPC %s is associated with a service network; delete the association first", id)
		}
		var tg string
		if err := tx.Scan(pfxTGbyVpc+id+"/", "", func(k string, _ []byte) (bool, error) {
			tg = strings.TrimPrefix(k, pfxTGbyVpc+id+"/")
			return false, nil
		}); err != nil {
			return err
		}
		if tg != "" {
			return model.Conflict("VPC", id, "target group %s is in VPC %s; delete it first", tg, id)
		}
		if sg, err := securityGroupInVPC(tx, id); err != nil || sg != "" {
			if err != nil {
				return err
			}
			return model.Conflict("VPC", id, "security group %s is in VPC %s; delete it first", sg, id)
		}
		if err := registryInVPC(tx, id); err != nil {
			return err
		}
		if err := tx.Delete(pfxVPCAddr + v.IngressAddress); err != nil {
			return err
		}
		return tx.Delete(pfxVPC + id)
	})
}
