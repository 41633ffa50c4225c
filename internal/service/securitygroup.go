package service

import (
	"context"
	"slices"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Security groups (docs/security-groups.md). A group lives in a VPC and
// belongs to that VPC's owner account; the cross-account rules of VPCs
// apply (vpc.go): another account cannot see it (ResourceNotFoundException
// on GET and DELETE, absent from its list), and naming its ID in a PUT
// answers AccessDeniedException, since the ID is taken anyway.
//
// What an association's securityGroupIds mean is decided at compile time
// (internal/snapshot/securitygroups.go): an ID that names no group of the
// association's own VPC counts as a group with no inbound rules.

const (
	pfxSecurityGroup = schema.SecurityGroup
	pfxSGbyVpc       = schema.SGbyVpc
)

func (s *Service) securityGroupARN(account, id string) string {
	return "arn:" + s.cfg.Partition + ":ec2:" + s.cfg.Region + ":" + account + ":security-group/" + id
}

// PutSecurityGroupInput is a security group as PUT declares it.
type PutSecurityGroupInput struct {
	ID          string
	VpcID       string
	Description string
	Ingress     []model.SecurityGroupRuleInput
}

// PutSecurityGroup creates a security group (created is true) or replaces
// the rules and description of an existing one. The VPC must be the
// caller's; like every reference to a VPC it is created in host mode the
// first time it is named (ensureVPC). A group never moves to another VPC.
func (s *Service) PutSecurityGroup(ctx context.Context, in PutSecurityGroupInput) (*model.SecurityGroup, bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	var v model.Validator
	if !model.ValidSecurityGroupID(in.ID) {
		v.Addf("securityGroupId", "securityGroupId must be sg- followed by 8 or 17 lowercase letters and digits")
	}
	if !model.ValidVpcID(in.VpcID) {
		v.Addf("vpcId", "vpcId must be vpc- followed by 8 or 17 lowercase letters and digits")
	}
	model.CheckSecurityGroupDescription(&v, "description", in.Description)
	rules := model.CheckSecurityGroupRules(&v, "ingress", in.Ingress)
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	var out *model.SecurityGroup
	created := false
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := getJSON[model.SecurityGroup](tx, pfxSecurityGroup+in.ID)
		if err != nil {
			return err
		}
		if cur != nil {
			if cur.Account != c.Account && !s.IsAdmin(c) {
				return model.AccessDenied("%s is not authorized to change security group %s: it belongs to another account, and only its owner may",
					who(c), in.ID)
			}
			if cur.VpcID != in.VpcID {
				return model.Conflict(model.TypeSecurityGroup, in.ID,
					"security group %s is in VPC %s; a security group cannot move to another VPC (delete it and create it again)", in.ID, cur.VpcID)
			}
			cur.Description, cur.Ingress, cur.UpdatedAt = in.Description, rules, s.now()
			out = cur
			return putJSON(tx, pfxSecurityGroup+in.ID, cur)
		}
		if err := s.ensureVPC(tx, c, in.VpcID); err != nil {
			return err
		}
		vpc, err := getJSON[model.VPC](tx, pfxVPC+in.VpcID)
		if err != nil {
			return err
		}
		// The group belongs to the VPC's owner, also when the administrator
		// declares it in another account's VPC.
		now := s.now()
		out = &model.SecurityGroup{ID: in.ID, ARN: s.securityGroupARN(vpc.Account, in.ID), Account: vpc.Account,
			VpcID: in.VpcID, Description: in.Description, Ingress: rules, CreatedAt: now, UpdatedAt: now}
		created = true
		if err := tx.Put(pfxSGbyVpc+in.VpcID+"/"+in.ID, []byte(in.ID)); err != nil {
			return err
		}
		return putJSON(tx, pfxSecurityGroup+in.ID, out)
	})
	return out, created, err
}

func (s *Service) loadSecurityGroup(tx store.ReadTx, c model.Caller, id string) (*model.SecurityGroup, error) {
	if !model.ValidSecurityGroupID(id) {
		return nil, model.Invalid("securityGroupId", "securityGroupId must be sg- followed by 8 or 17 lowercase letters and digits")
	}
	g, err := getJSON[model.SecurityGroup](tx, pfxSecurityGroup+id)
	if err != nil {
		return nil, err
	}
	if g == nil || (g.Account != c.Account && !s.IsAdmin(c)) {
		return nil, model.NotFound(model.TypeSecurityGroup, id) // another account's group is not visible
	}
	return g, nil
}

// GetSecurityGroup describes a security group.
func (s *Service) GetSecurityGroup(ctx context.Context, id string) (*model.SecurityGroup, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.SecurityGroup
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadSecurityGroup(tx, c, id)
		return err
	})
	return out, err
}

// ListSecurityGroups lists the caller's security groups (every group, for
// the administrator), of one VPC when vpcID is set.
func (s *Service) ListSecurityGroups(ctx context.Context, vpcID string, p Page) ([]*model.SecurityGroup, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if vpcID != "" && !model.ValidVpcID(vpcID) {
		return nil, "", model.Invalid("vpcId", "vpcId must be vpc- followed by 8 or 17 lowercase letters and digits")
	}
	var out []*model.SecurityGroup
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxSecurityGroup, p, func(g *model.SecurityGroup) bool {
			return (g.Account == c.Account || s.IsAdmin(c)) && (vpcID == "" || g.VpcID == vpcID)
		})
		return err
	})
	return out, next, err
}

// DeleteSecurityGroup removes a security group that no association of its
// VPC names. An association of another VPC naming the same ID does not use
// it (it is enforced only on its own VPC's association), so it neither
// blocks the delete nor is told to the group's owner.
func (s *Service) DeleteSecurityGroup(ctx context.Context, id string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		g, err := s.loadSecurityGroup(tx, c, id)
		if err != nil {
			return err
		}
		if a, err := s.associationUsingSG(tx, g); err != nil || a != "" {
			if err != nil {
				return err
			}
			return model.Conflict(model.TypeSecurityGroup, id,
				"security group %s is used by service network VPC association %s; remove it from the association first", id, a)
		}
		if err := tx.Delete(pfxSGbyVpc + g.VpcID + "/" + id); err != nil {
			return err
		}
		return tx.Delete(pfxSecurityGroup + id)
	})
}

// associationUsingSG returns the ID of the association of g's VPC that
// names g, or "".
func (s *Service) associationUsingSG(tx store.ReadTx, g *model.SecurityGroup) (string, error) {
	var found string
	err := scanJSON(tx, pfxSNVAbyVpc+g.VpcID+"/", func(_ string, aid *string) (bool, error) {
		a, err := getJSON[model.ServiceNetworkVpcAssociation](tx, pfxSNVA+*aid)
		if err != nil {
			return false, err
		}
		if a != nil && slices.Contains(a.SecurityGroupIDs, g.ID) {
			found = a.ID
			return false, nil
		}
		return true, nil
	})
	return found, err
}

// checkAssociationSGs refuses security groups the caller can see that are
// in another VPC than the association's (AWS answers the same for a group
// of another VPC). IDs Trellis does not know, and groups of other accounts,
// are accepted and stored: AWS would validate them against EC2, which
// Trellis is not, and a Terraform plan naming made-up groups must apply.
// At enforcement such an ID counts as a group with no inbound rules, so it
// admits nothing (docs/security-groups.md). Answering differently for
// another account's group would tell the caller that the ID exists.
func (s *Service) checkAssociationSGs(tx store.ReadTx, c model.Caller, vpcID string, ids []string) error {
	var v model.Validator
	for _, id := range ids {
		g, err := getJSON[model.SecurityGroup](tx, pfxSecurityGroup+id)
		if err != nil {
			return err
		}
		if g != nil && (g.Account == c.Account || s.IsAdmin(c)) && g.VpcID != vpcID {
			v.Addf("securityGroupIds", "security group %s is in VPC %s, not in VPC %s of this association", id, g.VpcID, vpcID)
		}
	}
	return v.Err()
}

// securityGroupInVPC reports the first security group of VPC id, or "".
func securityGroupInVPC(tx store.ReadTx, vpcID string) (string, error) {
	var found string
	err := tx.Scan(pfxSGbyVpc+vpcID+"/", "", func(_ string, b []byte) (bool, error) {
		found = string(b)
		return false, nil
	})
	return found, err
}
