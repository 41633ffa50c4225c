package service

import (
	"context"
	"slices"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// SNSADetail is a service network service association with the names and
// ARNs of both ends.
type SNSADetail struct {
	*model.ServiceNetworkServiceAssociation
	ServiceNetwork *model.ServiceNetwork
	Service        *model.Service
}

// CreateSNSAInput is CreateServiceNetworkServiceAssociation's request.
type CreateSNSAInput struct {
	ServiceNetworkIdentifier string
	ServiceIdentifier        string
	Tags                     map[string]string
	ClientToken              *string `json:"-"`
}

// CreateServiceNetworkServiceAssociation makes a service callable in a network.
func (s *Service) CreateServiceNetworkServiceAssociation(ctx context.Context, in CreateSNSAInput) (SNSADetail, error) {
	c, err := caller(ctx)
	if err != nil {
		return SNSADetail{}, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.ServiceNetwork, "serviceNetworkIdentifier", in.ServiceNetworkIdentifier)
	checkIdentifier(&v, arn.Service, "serviceIdentifier", in.ServiceIdentifier)
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return SNSADetail{}, err
	}
	var out SNSADetail
	err = s.update(ctx, func(tx store.Tx) error {
		// Either end may be another account's, shared with the caller and
		// named by ARN (a service owner joins a shared network; a network
		// owner adds a service shared with it), but not both: the caller
		// associates something of its own.
		sn, snForeign, err := s.loadSharedNetwork(tx, c, in.ServiceNetworkIdentifier)
		if err != nil {
			return err
		}
		svc, svcForeign, err := s.loadSharedService(tx, c, in.ServiceIdentifier)
		if err != nil {
			return err
		}
		if snForeign && svcForeign {
			return model.AccessDenied("%s is not authorized to associate service %s with service network %s: neither belongs to account %s",
				who(c), svc.ARN, sn.ARN, c.Account)
		}
		a, err := idempotent(tx, c.Account, "CreateServiceNetworkServiceAssociation", in.ClientToken, in, func() (*model.ServiceNetworkServiceAssociation, error) {
			var dup string
			if err := scanJSON(tx, pfxSNSAbySvc+svc.ID+"/", func(k string, id *string) (bool, error) {
				a, err := getJSON[model.ServiceNetworkServiceAssociation](tx, pfxSNSA+*id)
				if err == nil && a != nil && a.ServiceNetworkID == sn.ID {
					dup = a.ID
					return false, nil
				}
				return true, err
			}); err != nil {
				return nil, err
			}
			if dup != "" {
				return nil, model.Conflict(model.TypeServiceNetworkServiceAssociation, dup,
					"service %s is already associated with service network %s", svc.ID, sn.ID)
			}
			if err := checkCustomDomainInNetwork(tx, sn, svc); err != nil {
				return nil, err
			}
			n, err := getCount(tx, childCountKey(pfxSNSAbySN, sn.ID))
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaServiceAssociationsPerSN, sn.ID, n, 1); err != nil {
				return nil, err
			}
			a := &model.ServiceNetworkServiceAssociation{Meta: s.newMeta(c, arn.ServiceNetworkServiceAssociation, in.Tags),
				ServiceNetworkID: sn.ID, ServiceID: svc.ID, Status: model.StatusActive, CreatedBy: c.Account}
			if err := putJSON(tx, pfxSNSAbySN+sn.ID+"/"+a.ID, a.ID); err != nil {
				return nil, err
			}
			if err := addCount(tx, childCountKey(pfxSNSAbySN, sn.ID), 1); err != nil {
				return nil, err
			}
			if err := putJSON(tx, pfxSNSAbySvc+svc.ID+"/"+a.ID, a.ID); err != nil {
				return nil, err
			}
			return a, putJSON(tx, pfxSNSA+a.ID, a)
		})
		out = SNSADetail{a, sn, svc}
		return err
	})
	return out, err
}

// checkCustomDomainInNetwork refuses to add svc to sn when another service
// of sn has the same custom domain name (compared without case, as DNS
// names are): clients of the network would not know which one a name
// means. This check is enough for every VPC too: a VPC reaches the
// services of the one network it is associated with (a VPC has at most one
// service network VPC association, CreateServiceNetworkVpcAssociation), so
// two services reachable from one VPC are always in one network.
func checkCustomDomainInNetwork(tx store.ReadTx, sn *model.ServiceNetwork, svc *model.Service) error {
	if svc.CustomDomainName == "" {
		return nil
	}
	var clash *model.Service
	err := scanJSON(tx, pfxSNSAbySN+sn.ID+"/", func(_ string, id *string) (bool, error) {
		a, err := getJSON[model.ServiceNetworkServiceAssociation](tx, pfxSNSA+*id)
		if err != nil || a == nil || a.ServiceID == svc.ID {
			return err == nil, err
		}
		other, err := getJSON[model.Service](tx, pfxService+a.ServiceID)
		if err != nil {
			return false, err
		}
		if other != nil && strings.EqualFold(other.CustomDomainName, svc.CustomDomainName) {
			clash = other
			return false, nil
		}
		return true, nil
	})
	if err != nil || clash == nil {
		return err
	}
	return model.Conflict(model.TypeService, clash.ID,
		"custom domain name %q is already used by service %s in service network %s; the services of a network must have distinct custom domain names",
		svc.CustomDomainName, clash.ID, sn.ID)
}

// loadSNSA loads an association the caller may read and delete: its own
// or one with the caller's network or service at an end (loadAssocParty).
func (s *Service) loadSNSA(tx store.ReadTx, c model.Caller, ident string) (*model.ServiceNetworkServiceAssociation, error) {
	return loadAssocParty[model.ServiceNetworkServiceAssociation](tx, c, arn.ServiceNetworkServiceAssociation, pfxSNSA,
		model.TypeServiceNetworkServiceAssociation, "serviceNetworkServiceAssociationIdentifier", ident, snsaEnds)
}

func (s *Service) snsaDetail(tx store.ReadTx, a *model.ServiceNetworkServiceAssociation) (SNSADetail, error) {
	sn, err := getJSON[model.ServiceNetwork](tx, pfxServiceNetwork+a.ServiceNetworkID)
	if err != nil {
		return SNSADetail{}, err
	}
	svc, err := getJSON[model.Service](tx, pfxService+a.ServiceID)
	if err != nil {
		return SNSADetail{}, err
	}
	if sn == nil || svc == nil {
		return SNSADetail{}, model.NotFound(model.TypeServiceNetworkServiceAssociation, a.ID)
	}
	return SNSADetail{a, sn, svc}, nil
}

// GetServiceNetworkServiceAssociation describes an association.
func (s *Service) GetServiceNetworkServiceAssociation(ctx context.Context, ident string) (SNSADetail, error) {
	c, err := caller(ctx)
	if err != nil {
		return SNSADetail{}, err
	}
	var out SNSADetail
	err = s.view(ctx, func(tx store.ReadTx) error {
		a, err := s.loadSNSA(tx, c, ident)
		if err != nil {
			return err
		}
		out, err = s.snsaDetail(tx, a)
		return err
	})
	return out, err
}

// ListServiceNetworkServiceAssociations lists associations filtered by
// network and/or service; at least one filter is required.
func (s *Service) ListServiceNetworkServiceAssociations(ctx context.Context, snIdent, svcIdent string, p Page) ([]SNSADetail, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if snIdent == "" && svcIdent == "" {
		return nil, "", model.Invalid("serviceNetworkIdentifier", "either serviceNetworkIdentifier or serviceIdentifier is required")
	}
	var out []SNSADetail
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		var snID, svcID string
		if snIdent != "" {
			sn, _, err := s.loadSharedNetwork(tx, c, snIdent)
			if err != nil {
				return err
			}
			snID = sn.ID
		}
		if svcIdent != "" {
			svc, _, err := s.loadSharedService(tx, c, svcIdent)
			if err != nil {
				return err
			}
			svcID = svc.ID
		}
		// A shared end lists only the associations the caller is a party
		// of: its own, or those with its network or service at an end.
		party := partyCheck(tx, c)
		var perr error
		items, tok, err := listPage(tx, pfxSNSA, p, func(a *model.ServiceNetworkServiceAssociation) bool {
			if (snID != "" && a.ServiceNetworkID != snID) || (svcID != "" && a.ServiceID != svcID) {
				return false
			}
			ok, err := party(a.Account, snsaEnds(a))
			if err != nil {
				perr = err
			}
			return ok
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
		next = tok
		for _, a := range items {
			d, err := s.snsaDetail(tx, a)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, next, err
}

// DeleteServiceNetworkServiceAssociation removes a service from a network.
func (s *Service) DeleteServiceNetworkServiceAssociation(ctx context.Context, ident string) (*model.ServiceNetworkServiceAssociation, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.ServiceNetworkServiceAssociation
	err = s.update(ctx, func(tx store.Tx) error {
		a, err := s.loadSNSA(tx, c, ident)
		if err != nil {
			return err
		}
		if err := deleteSNSA(tx, a); err != nil {
			return err
		}
		a.Status = model.StatusDeleteInProgress
		out = a
		return nil
	})
	return out, err
}

// ---- VPC associations ----

// SNVADetail is a VPC association with its network.
type SNVADetail struct {
	*model.ServiceNetworkVpcAssociation
	ServiceNetwork *model.ServiceNetwork
}

// CreateSNVAInput is CreateServiceNetworkVpcAssociation's request.
type CreateSNVAInput struct {
	ServiceNetworkIdentifier string
	VpcIdentifier            string
	SecurityGroupIDs         []string
	PrivateDNSEnabled        *bool
	DNSOptions               *model.DNSOptions
	Tags                     map[string]string
	ClientToken              *string `json:"-"`
}

var privateDNSPreferences = []string{"VERIFIED_DOMAINS_ONLY", "ALL_DOMAINS", "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS", "SPECIFIED_DOMAINS_ONLY"}

// CreateServiceNetworkVpcAssociation lets a VPC's clients call a network's
// services. A VPC has at most one such association.
func (s *Service) CreateServiceNetworkVpcAssociation(ctx context.Context, in CreateSNVAInput) (SNVADetail, error) {
	c, err := caller(ctx)
	if err != nil {
		return SNVADetail{}, err
	}
	var v model.Validator
	if in.ServiceNetworkIdentifier == "" {
		v.Addf("serviceNetworkIdentifier", "serviceNetworkIdentifier is required")
	}
	if !model.ValidVpcID(in.VpcIdentifier) {
		v.Addf("vpcIdentifier", "vpcIdentifier must be a VPC ID: vpc- followed by 8 or 17 lowercase letters and digits")
	}
	model.CheckSecurityGroups(&v, "securityGroupIds", in.SecurityGroupIDs, 0)
	if o := in.DNSOptions; o != nil {
		if o.PrivateDNSPreference != "" && !slices.Contains(privateDNSPreferences, o.PrivateDNSPreference) {
			v.Addf("dnsOptions.privateDnsPreference", "privateDnsPreference must be one of %v", privateDNSPreferences)
		}
		if n := len(o.PrivateDNSSpecifiedDomains); n > 10 {
			v.Addf("dnsOptions.privateDnsSpecifiedDomains", "privateDnsSpecifiedDomains must have at most 10 entries")
		}
		// Each entry is a domain name, matched exactly, or `*.suffix`
		// matching any name under suffix (a wildcard only as the leading
		// label): the snapshot compile matches resource names against them.
		for i, d := range o.PrivateDNSSpecifiedDomains {
			var dv model.Validator
			if model.CheckDomainName(&dv, "dnsOptions.privateDnsSpecifiedDomains", d); dv.Err() != nil {
				v.Addf("dnsOptions.privateDnsSpecifiedDomains", "privateDnsSpecifiedDomains[%d] must be a domain name, with a wildcard only as a leading *.", i)
				break
			}
		}
	}
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return SNVADetail{}, err
	}
	var out SNVADetail
	err = s.update(ctx, func(tx store.Tx) error {
		// The network may be another account's, shared with the caller and
		// named by ARN; the VPC must be the caller's (ensureVPC).
		sn, _, err := s.loadSharedNetwork(tx, c, in.ServiceNetworkIdentifier)
		if err != nil {
			return err
		}
		a, err := idempotent(tx, c.Account, "CreateServiceNetworkVpcAssociation", in.ClientToken, in, func() (*model.ServiceNetworkVpcAssociation, error) {
			// Ownership first: another account's VPC is refused before
			// anything about its associations is told (issue 10, finding 3).
			if err := s.ensureVPC(tx, c, in.VpcIdentifier); err != nil {
				return nil, err
			}
			if err := s.checkAssociationSGs(tx, c, in.VpcIdentifier, in.SecurityGroupIDs); err != nil {
				return nil, err
			}
			var existing string
			if err := scanJSON(tx, pfxSNVAbyVpc+in.VpcIdentifier+"/", func(_ string, id *string) (bool, error) {
				existing = *id
				return false, nil
			}); err != nil {
				return nil, err
			}
			if existing != "" {
				return nil, model.Conflict(model.TypeServiceNetworkVpcAssociation, existing,
					"VPC %s is already associated with a service network (%s); a VPC can have one service network association", in.VpcIdentifier, existing)
			}
			n, err := getCount(tx, childCountKey(pfxSNVAbySN, sn.ID))
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaVpcAssociationsPerSN, sn.ID, n, 1); err != nil {
				return nil, err
			}
			pdns := in.PrivateDNSEnabled
			if pdns == nil {
				pdns = boolPtr(true)
			}
			a := &model.ServiceNetworkVpcAssociation{Meta: s.newMeta(c, arn.ServiceNetworkVpcAssociation, in.Tags),
				ServiceNetworkID: sn.ID, VpcID: in.VpcIdentifier, SecurityGroupIDs: in.SecurityGroupIDs,
				PrivateDNSEnabled: pdns, DNSOptions: in.DNSOptions, Status: model.StatusActive, CreatedBy: c.Account}
			if err := putJSON(tx, pfxSNVAbySN+sn.ID+"/"+a.ID, a.ID); err != nil {
				return nil, err
			}
			if err := addCount(tx, childCountKey(pfxSNVAbySN, sn.ID), 1); err != nil {
				return nil, err
			}
			if err := putJSON(tx, pfxSNVAbyVpc+a.VpcID+"/"+a.ID, a.ID); err != nil {
				return nil, err
			}
			return a, putJSON(tx, pfxSNVA+a.ID, a)
		})
		out = SNVADetail{a, sn}
		return err
	})
	return out, err
}

func (s *Service) loadSNVA(tx store.ReadTx, c model.Caller, ident string) (*model.ServiceNetworkVpcAssociation, error) {
	return loadOwned[model.ServiceNetworkVpcAssociation](tx, c, arn.ServiceNetworkVpcAssociation, pfxSNVA,
		model.TypeServiceNetworkVpcAssociation, "serviceNetworkVpcAssociationIdentifier", ident)
}

// loadSNVAParty loads a VPC association the caller may read: its own or
// one with the caller's network (the network owner sees every VPC
// associated with its network, and may remove it).
func (s *Service) loadSNVAParty(tx store.ReadTx, c model.Caller, ident string) (*model.ServiceNetworkVpcAssociation, error) {
	return loadAssocParty[model.ServiceNetworkVpcAssociation](tx, c, arn.ServiceNetworkVpcAssociation, pfxSNVA,
		model.TypeServiceNetworkVpcAssociation, "serviceNetworkVpcAssociationIdentifier", ident, snvaEnds)
}

// loadSNVAToDelete loads an association its caller may delete: its own,
// or one of a VPC the caller owns. An association of another account on
// the caller's VPC can only come from before VPCs had owners (issue 10,
// finding 3: another account associated the VPC first); the VPC's owner
// removes it so that it can associate its VPC itself.
func (s *Service) loadSNVAToDelete(tx store.ReadTx, c model.Caller, ident string) (*model.ServiceNetworkVpcAssociation, error) {
	a, err := s.loadSNVAParty(tx, c, ident)
	if model.KindOf(err) != model.KindNotFound {
		return a, err
	}
	ref, rerr := resolve(arn.ServiceNetworkVpcAssociation, "serviceNetworkVpcAssociationIdentifier", ident)
	if rerr != nil {
		return nil, err
	}
	other, gerr := getJSON[model.ServiceNetworkVpcAssociation](tx, pfxSNVA+ref.ID)
	if gerr != nil || other == nil || (ref.ARN.Resource != "" && ref.ARN.String() != other.ARN) {
		return nil, storeErrOr(gerr, err)
	}
	v, gerr := getJSON[model.VPC](tx, pfxVPC+other.VpcID)
	if gerr != nil || v == nil || v.Account != c.Account {
		return nil, storeErrOr(gerr, err)
	}
	return other, nil
}

// storeErrOr returns the store's error when there is one, else the answer.
func storeErrOr(storeErr, answer error) error {
	if storeErr != nil {
		return storeErr
	}
	return answer
}

func (s *Service) snvaDetail(tx store.ReadTx, a *model.ServiceNetworkVpcAssociation) (SNVADetail, error) {
	sn, err := getJSON[model.ServiceNetwork](tx, pfxServiceNetwork+a.ServiceNetworkID)
	if err != nil {
		return SNVADetail{}, err
	}
	if sn == nil {
		return SNVADetail{}, model.NotFound(model.TypeServiceNetworkVpcAssociation, a.ID)
	}
	return SNVADetail{a, sn}, nil
}

// GetServiceNetworkVpcAssociation describes a VPC association.
func (s *Service) GetServiceNetworkVpcAssociation(ctx context.Context, ident string) (SNVADetail, error) {
	c, err := caller(ctx)
	if err != nil {
		return SNVADetail{}, err
	}
	var out SNVADetail
	err = s.view(ctx, func(tx store.ReadTx) error {
		a, err := s.loadSNVAParty(tx, c, ident)
		if err != nil {
			return err
		}
		out, err = s.snvaDetail(tx, a)
		return err
	})
	return out, err
}

// ListServiceNetworkVpcAssociations lists VPC associations filtered by
// network and/or VPC; at least one filter is required.
func (s *Service) ListServiceNetworkVpcAssociations(ctx context.Context, snIdent, vpcID string, p Page) ([]SNVADetail, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if snIdent == "" && vpcID == "" {
		return nil, "", model.Invalid("serviceNetworkIdentifier", "either serviceNetworkIdentifier or vpcIdentifier is required")
	}
	var out []SNVADetail
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		var snID string
		if snIdent != "" {
			sn, _, err := s.loadSharedNetwork(tx, c, snIdent)
			if err != nil {
				return err
			}
			snID = sn.ID
		}
		// The caller's own associations, and, on its own network, those
		// other accounts made (the network owner sees its consumers).
		party := partyCheck(tx, c)
		var perr error
		items, tok, err := listPage(tx, pfxSNVA, p, func(a *model.ServiceNetworkVpcAssociation) bool {
			if (snID != "" && a.ServiceNetworkID != snID) || (vpcID != "" && a.VpcID != vpcID) {
				return false
			}
			ok, err := party(a.Account, snvaEnds(a))
			if err != nil {
				perr = err
			}
			return ok
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
		next = tok
		for _, a := range items {
			d, err := s.snvaDetail(tx, a)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, next, err
}

// UpdateServiceNetworkVpcAssociation replaces the security groups; an
// association that has security groups must keep at least one.
func (s *Service) UpdateServiceNetworkVpcAssociation(ctx context.Context, ident string, sgs []string) (*model.ServiceNetworkVpcAssociation, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	model.CheckSecurityGroups(&v, "securityGroupIds", sgs, 1)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.ServiceNetworkVpcAssociation
	err = s.update(ctx, func(tx store.Tx) error {
		a, err := s.loadSNVA(tx, c, ident)
		if err != nil {
			return err
		}
		if err := s.checkAssociationSGs(tx, c, a.VpcID, sgs); err != nil {
			return err
		}
		a.SecurityGroupIDs = sgs
		a.UpdatedAt = s.now()
		out = a
		return putJSON(tx, pfxSNVA+a.ID, a)
	})
	return out, err
}

// DeleteServiceNetworkVpcAssociation disconnects a VPC from a network.
func (s *Service) DeleteServiceNetworkVpcAssociation(ctx context.Context, ident string) (*model.ServiceNetworkVpcAssociation, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.ServiceNetworkVpcAssociation
	err = s.update(ctx, func(tx store.Tx) error {
		a, err := s.loadSNVAToDelete(tx, c, ident)
		if err != nil {
			return err
		}
		if err := deleteSNVA(tx, a); err != nil {
			return err
		}
		a.Status = model.StatusDeleteInProgress
		out = a
		return nil
	})
	return out, err
}

// deleteSNSA removes a service association with its indexes.
func deleteSNSA(tx store.Tx, a *model.ServiceNetworkServiceAssociation) error {
	for _, k := range []string{pfxSNSAbySN + a.ServiceNetworkID + "/" + a.ID, pfxSNSAbySvc + a.ServiceID + "/" + a.ID, pfxSNSA + a.ID} {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return addCount(tx, childCountKey(pfxSNSAbySN, a.ServiceNetworkID), -1)
}

// deleteSNVA removes a VPC association with its indexes.
func deleteSNVA(tx store.Tx, a *model.ServiceNetworkVpcAssociation) error {
	for _, k := range []string{pfxSNVAbySN + a.ServiceNetworkID + "/" + a.ID, pfxSNVAbyVpc + a.VpcID + "/" + a.ID, pfxSNVA + a.ID} {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return addCount(tx, childCountKey(pfxSNVAbySN, a.ServiceNetworkID), -1)
}

// partyCheck returns a test of whether c is a party of an association
// owned by account with ends at the given store keys, remembering owners
// across a listing.
func partyCheck(tx store.ReadTx, c model.Caller) func(account string, ends []string) (bool, error) {
	owners := map[string]string{}
	return func(account string, ends []string) (bool, error) {
		if account == c.Account {
			return true, nil
		}
		for _, k := range ends {
			o, seen := owners[k]
			if !seen {
				var err error
				if strings.HasPrefix(k, pfxServiceNetwork) {
					o, err = accountOf[model.ServiceNetwork](tx, k)
				} else {
					o, err = accountOf[model.Service](tx, k)
				}
				if err != nil {
					return false, err
				}
				owners[k] = o
			}
			if o != "" && o == c.Account {
				return true, nil
			}
		}
		return false, nil
	}
}
