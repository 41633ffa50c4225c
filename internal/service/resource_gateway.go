package service

import (
	"context"
	"slices"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

const (
	pfxResourceGateway = schema.ResourceGateway
	pfxResourceConfig  = schema.ResourceConfiguration
	pfxRGWbyVpc        = schema.RGWbyVpc
	pfxRcfgByAccount   = schema.RcfgByAccount
	pfxRcfgByGateway   = schema.RcfgByGateway
	pfxRcfgByGroup     = schema.RcfgByGroup
)

// Name rules of reference §4.1.
var (
	resourceGatewayName = model.NameRule{Min: 3, Max: 40, ReservedPrefix: "rgw-"}
	resourceConfigName  = model.NameRule{Min: 3, Max: 40, ReservedPrefix: "rcfg-"}
)

// CreateResourceGatewayInput is CreateResourceGateway's request.
type CreateResourceGatewayInput struct {
	Name                        string
	VpcIdentifier               string
	SubnetIDs                   []string
	SecurityGroupIDs            []string
	IPAddressType               string
	IPv4AddressesPerEni         *int
	ResourceConfigDNSResolution string
	Tags                        map[string]string
	ClientToken                 *string `json:"-"`
}

// validSubnetID reports whether s is subnet- followed by 8 or 17 lowercase
// letters and digits, as VPC and security group IDs are. Trellis has no
// subnets: the IDs are kept, never resolved.
func validSubnetID(s string) bool {
	rest, ok := strings.CutPrefix(s, "subnet-")
	if !ok || (len(rest) != 8 && len(rest) != 17) {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func checkRGWInput(v *model.Validator, in *CreateResourceGatewayInput) {
	resourceGatewayName.CheckName(v, "name", in.Name)
	switch {
	case in.VpcIdentifier == "":
		v.Addf("vpcIdentifier", "vpcIdentifier is required")
	case !model.ValidVpcID(in.VpcIdentifier):
		v.Addf("vpcIdentifier", "vpcIdentifier must be a VPC ID: vpc- followed by 8 or 17 lowercase letters and digits")
	}
	seen := map[string]bool{}
	for _, id := range in.SubnetIDs {
		if !validSubnetID(id) {
			v.Addf("subnetIds", "%q is not a subnet ID (subnet- followed by 8 or 17 lowercase letters and digits)", id)
		} else if seen[id] {
			v.Addf("subnetIds", "subnet %q is listed twice", id)
		}
		seen[id] = true
	}
	model.CheckSecurityGroups(v, "securityGroupIds", in.SecurityGroupIDs, 0)
	switch in.IPAddressType {
	case "", model.IPAddressTypeIPv4, model.IPAddressTypeIPv6, model.IPAddressTypeDualstack:
	default:
		v.Addf("ipAddressType", "ipAddressType must be one of IPV4, IPV6, DUALSTACK")
	}
	if n := in.IPv4AddressesPerEni; n != nil {
		switch {
		case *n < 1 || *n > 62:
			v.Addf("ipv4AddressesPerEni", "ipv4AddressesPerEni must be between 1 and 62")
		case in.IPAddressType == model.IPAddressTypeIPv6:
			v.Addf("ipv4AddressesPerEni", "ipv4AddressesPerEni does not apply to an IPV6 resource gateway")
		}
	}
	switch in.ResourceConfigDNSResolution {
	case "", model.DNSResolutionInVPC, model.DNSResolutionPublic:
	default:
		v.Addf("resourceConfigDnsResolution", "resourceConfigDnsResolution must be one of IN_VPC, PUBLIC")
	}
}

// CreateResourceGateway creates a resource gateway in an existing VPC of
// the caller. Status is ACTIVE at once: Trellis provisions no ENIs.
func (s *Service) CreateResourceGateway(ctx context.Context, in CreateResourceGatewayInput) (*model.ResourceGateway, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkRGWInput(&v, &in)
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.ResourceGateway
	err = s.update(ctx, func(tx store.Tx) error {
		out, err = idempotent(tx, c.Account, "CreateResourceGateway", in.ClientToken, in, func() (*model.ResourceGateway, error) {
			vpc, err := getJSON[model.VPC](tx, pfxVPC+in.VpcIdentifier)
			if err != nil {
				return nil, err
			}
			if vpc == nil || !s.mayUseVPC(c, vpc) {
				// A VPC of another account is as absent as none: its
				// existence is not the caller's to learn.
				return nil, model.Invalid("vpcIdentifier", "VPC %s does not exist in this account; declare it first (PUT /trellis/v1/vpcs/%s)", in.VpcIdentifier, in.VpcIdentifier)
			}
			if err := s.checkAssociationSGs(tx, c, in.VpcIdentifier, in.SecurityGroupIDs); err != nil {
				return nil, err
			}
			nk := nameKey(arn.ResourceGateway, c.Account, in.Name)
			if _, taken, err := tx.Get(nk); err != nil || taken {
				if err != nil {
					return nil, err
				}
				return nil, model.Conflict(model.TypeResourceGateway, in.Name, "a resource gateway named %q already exists", in.Name)
			}
			n, err := countPrefix(tx, pfxRGWbyVpc+in.VpcIdentifier+"/")
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaResourceGatewaysPerVPC, in.VpcIdentifier, n, 1); err != nil {
				return nil, err
			}
			g := &model.ResourceGateway{Meta: s.newMeta(c, arn.ResourceGateway, in.Tags), Name: in.Name,
				Status: model.StatusActive, VpcID: in.VpcIdentifier, SubnetIDs: slices.Clone(in.SubnetIDs),
				SecurityGroupIDs: slices.Clone(in.SecurityGroupIDs), IPAddressType: orDefault(in.IPAddressType, model.IPAddressTypeIPv4),
				ResourceConfigDNSResolution: orDefault(in.ResourceConfigDNSResolution, model.DNSResolutionInVPC)}
			if g.IPAddressType != model.IPAddressTypeIPv6 {
				// Lattice's default: 16 IPv4 addresses per ENI.
				g.IPv4AddressesPerEni = intPtr(16)
				if in.IPv4AddressesPerEni != nil {
					g.IPv4AddressesPerEni = intPtr(*in.IPv4AddressesPerEni)
				}
			}
			if err := tx.Put(nk, []byte(g.ID)); err != nil {
				return nil, err
			}
			if err := tx.Put(pfxRGWbyVpc+g.VpcID+"/"+g.ID, nil); err != nil {
				return nil, err
			}
			return g, putJSON(tx, pfxResourceGateway+g.ID, g)
		})
		return err
	})
	return out, err
}

func (s *Service) loadResourceGateway(tx store.ReadTx, c model.Caller, field, ident string) (*model.ResourceGateway, error) {
	return loadOwned[model.ResourceGateway](tx, c, arn.ResourceGateway, pfxResourceGateway, model.TypeResourceGateway, field, ident)
}

// GetResourceGateway describes a resource gateway of the caller.
func (s *Service) GetResourceGateway(ctx context.Context, ident string) (*model.ResourceGateway, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.ResourceGateway
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadResourceGateway(tx, c, "resourceGatewayIdentifier", ident)
		return err
	})
	return out, err
}

// ListResourceGateways lists the caller's resource gateways.
func (s *Service) ListResourceGateways(ctx context.Context, p Page) ([]*model.ResourceGateway, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []*model.ResourceGateway
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxResourceGateway, p, func(g *model.ResourceGateway) bool { return g.Account == c.Account })
		return err
	})
	return out, next, err
}

// UpdateResourceGateway replaces the security groups of a resource
// gateway, the only mutable member (reference §2.1). Left out (nil), they
// stay as they are.
func (s *Service) UpdateResourceGateway(ctx context.Context, ident string, sgs []string) (*model.ResourceGateway, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.ResourceGateway, "resourceGatewayIdentifier", ident)
	model.CheckSecurityGroups(&v, "securityGroupIds", sgs, 0)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.ResourceGateway
	err = s.update(ctx, func(tx store.Tx) error {
		g, err := s.loadResourceGateway(tx, c, "resourceGatewayIdentifier", ident)
		if err != nil {
			return err
		}
		if sgs != nil {
			if err := s.checkAssociationSGs(tx, c, g.VpcID, sgs); err != nil {
				return err
			}
			g.SecurityGroupIDs = slices.Clone(sgs)
			g.UpdatedAt = s.now()
		}
		out = g
		return putJSON(tx, pfxResourceGateway+g.ID, g)
	})
	return out, err
}

// DeleteResourceGateway deletes a resource gateway no resource
// configuration uses (Lattice refuses the others with a ConflictException).
func (s *Service) DeleteResourceGateway(ctx context.Context, ident string) (*model.ResourceGateway, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.ResourceGateway
	err = s.update(ctx, func(tx store.Tx) error {
		g, err := s.loadResourceGateway(tx, c, "resourceGatewayIdentifier", ident)
		if err != nil {
			return err
		}
		user, err := firstIndexed(tx, pfxRcfgByGateway+g.ID+"/")
		if err != nil {
			return err
		}
		if user != "" {
			return model.Conflict(model.TypeResourceGateway, g.ID,
				"resource gateway %s is used by resource configuration %s; delete the configuration first", g.ID, user)
		}
		if err := tx.Delete(nameKey(arn.ResourceGateway, g.Account, g.Name)); err != nil {
			return err
		}
		if err := tx.Delete(pfxRGWbyVpc + g.VpcID + "/" + g.ID); err != nil {
			return err
		}
		g.Status = model.StatusDeleteInProgress
		out = g
		return tx.Delete(pfxResourceGateway + g.ID)
	})
	return out, err
}
