package service

import (
	"context"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

const (
	pfxSNRA       = schema.SNRA
	pfxSNRAbySN   = schema.SNRAbySN
	pfxSNRAbyRcfg = schema.SNRAbyRcfg
)

// CreateSNRAInput is CreateServiceNetworkResourceAssociation's request.
type CreateSNRAInput struct {
	ServiceNetworkIdentifier        string
	ResourceConfigurationIdentifier string
	PrivateDNSEnabled               *bool
	Tags                            map[string]string
	ClientToken                     *string `json:"-"`
}

// SNRADetail is an association with its two ends, as Get and List answer.
type SNRADetail struct {
	*model.ServiceNetworkResourceAssociation
	Network *model.ServiceNetwork
	Config  *model.ResourceConfiguration
	// Managed is a CHILD's association that its GROUP's brings along
	// (ListServiceNetworkResourceAssociations includeChildren).
	Managed bool
	// DNS is the association's generated name (a managed item's: its
	// CHILD's under the group association's), which every VPC of the
	// network resolves to its address of the configuration.
	DNS *model.DNSEntry
}

// snraDNS is the generated name of association a for configuration rc
// (a CHILD of a's GROUP when managed), in Lattice's shape
// (model.ResourceDNSName), in the hosted zone of service names.
func (s *Service) snraDNS(a *model.ServiceNetworkResourceAssociation, rc *model.ResourceConfiguration, managed bool) *model.DNSEntry {
	name := model.ResourceDNSName(a.ID, a.ResourceConfigurationID, s.cfg.DNSToken, s.cfg.Region)
	if managed {
		if rc == nil {
			return nil
		}
		name = model.ResourceChildDNSName(rc.ID, name)
	}
	return &model.DNSEntry{DomainName: name, HostedZoneID: s.HostedZoneID()}
}

func snraEnds(a *model.ServiceNetworkResourceAssociation) []string {
	return []string{pfxServiceNetwork + a.ServiceNetworkID, pfxResourceConfig + a.ResourceConfigurationID}
}

// CreateServiceNetworkResourceAssociation puts a resource configuration in
// a service network. Either may be another account's when shared with the
// caller through RAM and named by its full ARN (crossaccount.go), but not
// both: one end is the caller's own.
func (s *Service) CreateServiceNetworkResourceAssociation(ctx context.Context, in CreateSNRAInput) (SNRADetail, error) {
	c, err := caller(ctx)
	if err != nil {
		return SNRADetail{}, err
	}
	var v model.Validator
	if in.ServiceNetworkIdentifier == "" {
		v.Addf("serviceNetworkIdentifier", "serviceNetworkIdentifier is required")
	} else {
		checkIdentifier(&v, arn.ServiceNetwork, "serviceNetworkIdentifier", in.ServiceNetworkIdentifier)
	}
	if in.ResourceConfigurationIdentifier == "" {
		v.Addf("resourceConfigurationIdentifier", "resourceConfigurationIdentifier is required")
	} else {
		checkIdentifier(&v, arn.ResourceConfiguration, "resourceConfigurationIdentifier", in.ResourceConfigurationIdentifier)
	}
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return SNRADetail{}, err
	}
	var out SNRADetail
	err = s.update(ctx, func(tx store.Tx) error {
		sn, snForeign, err := s.loadSharedNetwork(tx, c, in.ServiceNetworkIdentifier)
		if err != nil {
			return err
		}
		rc, rcForeign, err := loadShared[model.ResourceConfiguration](tx, c, arn.ResourceConfiguration, pfxResourceConfig,
			model.TypeResourceConfiguration, "resourceConfigurationIdentifier", in.ResourceConfigurationIdentifier)
		if err != nil {
			return err
		}
		if snForeign && rcForeign {
			return model.NotFound(model.TypeResourceConfiguration, rc.ID)
		}
		a, err := idempotent(tx, c.Account, "CreateServiceNetworkResourceAssociation", in.ClientToken, in, func() (*model.ServiceNetworkResourceAssociation, error) {
			if rc.Type == model.ResourceConfigurationTypeChild {
				return nil, model.Invalid("resourceConfigurationIdentifier",
					"%s is a CHILD resource configuration: associate its group %s, which brings its children along", rc.ID, rc.GroupID)
			}
			shareable := sn.SharingConfig == nil || sn.SharingConfig.Enabled == nil || *sn.SharingConfig.Enabled
			if shareable && !rc.AllowShareableSN {
				return nil, model.Invalid("resourceConfigurationIdentifier",
					"resource configuration %s does not allow association to a shareable service network (allowAssociationToShareableServiceNetwork=false)", rc.ID)
			}
			if dup, err := hasPrefix(tx, pfxSNRAbyRcfg+rc.ID+"/"); err != nil {
				return nil, err
			} else if dup {
				taken := false
				if err := tx.Scan(pfxSNRAbyRcfg+rc.ID+"/", "", func(k string, _ []byte) (bool, error) {
					a, err := getJSON[model.ServiceNetworkResourceAssociation](tx, pfxSNRA+k[strings.LastIndexByte(k, '/')+1:])
					if err != nil {
						return false, err
					}
					taken = a != nil && a.ServiceNetworkID == sn.ID
					return !taken, nil
				}); err != nil {
					return nil, err
				}
				if taken {
					return nil, model.Conflict(model.TypeServiceNetworkResourceAssociation, rc.ID,
						"resource configuration %s is already associated with service network %s", rc.ID, sn.ID)
				}
			}
			a := &model.ServiceNetworkResourceAssociation{Meta: s.newMeta(c, arn.ServiceNetworkResourceAssociation, in.Tags),
				ServiceNetworkID: sn.ID, ResourceConfigurationID: rc.ID, Status: model.StatusActive, CreatedBy: c.Account,
				PrivateDNSEnabled: in.PrivateDNSEnabled != nil && *in.PrivateDNSEnabled}
			for _, k := range []string{pfxSNRAbySN + sn.ID + "/" + a.ID, pfxSNRAbyRcfg + rc.ID + "/" + a.ID} {
				if err := tx.Put(k, nil); err != nil {
					return nil, err
				}
			}
			return a, putJSON(tx, pfxSNRA+a.ID, a)
		})
		out = SNRADetail{ServiceNetworkResourceAssociation: a, Network: sn, Config: rc}
		return err
	})
	return out, err
}

func (s *Service) snraDetail(tx store.ReadTx, a *model.ServiceNetworkResourceAssociation) (SNRADetail, error) {
	sn, err := getJSON[model.ServiceNetwork](tx, pfxServiceNetwork+a.ServiceNetworkID)
	if err != nil {
		return SNRADetail{}, err
	}
	rc, err := getJSON[model.ResourceConfiguration](tx, pfxResourceConfig+a.ResourceConfigurationID)
	return SNRADetail{ServiceNetworkResourceAssociation: a, Network: sn, Config: rc, DNS: s.snraDNS(a, rc, false)}, err
}

func (s *Service) loadSNRA(tx store.ReadTx, c model.Caller, ident string) (*model.ServiceNetworkResourceAssociation, error) {
	return loadAssocParty[model.ServiceNetworkResourceAssociation](tx, c, arn.ServiceNetworkResourceAssociation, pfxSNRA,
		model.TypeServiceNetworkResourceAssociation, "serviceNetworkResourceAssociationIdentifier", ident, snraEnds)
}

// GetServiceNetworkResourceAssociation describes an association to its
// creator and to the owners of its ends.
func (s *Service) GetServiceNetworkResourceAssociation(ctx context.Context, ident string) (SNRADetail, error) {
	c, err := caller(ctx)
	if err != nil {
		return SNRADetail{}, err
	}
	var out SNRADetail
	err = s.view(ctx, func(tx store.ReadTx) error {
		a, err := s.loadSNRA(tx, c, ident)
		if err != nil {
			return err
		}
		out, err = s.snraDetail(tx, a)
		return err
	})
	return out, err
}

// ListSNRAsInput is ListServiceNetworkResourceAssociations' request.
type ListSNRAsInput struct {
	Page
	ServiceNetworkIdentifier        string
	ResourceConfigurationIdentifier string
	IncludeChildren                 bool
}

// ListServiceNetworkResourceAssociations lists the associations the caller
// is a party to, optionally of one network or one configuration. With
// includeChildren, each GROUP's association is followed by one managed item
// per child (same association ID and ARN: the children ride on it).
func (s *Service) ListServiceNetworkResourceAssociations(ctx context.Context, in ListSNRAsInput) ([]SNRADetail, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var v model.Validator
	var snRef, rcRef arn.Ref
	if in.ServiceNetworkIdentifier != "" {
		snRef, err = resolve(arn.ServiceNetwork, "serviceNetworkIdentifier", in.ServiceNetworkIdentifier)
		v.Identifier(err)
	}
	if in.ResourceConfigurationIdentifier != "" {
		rcRef, err = resolve(arn.ResourceConfiguration, "resourceConfigurationIdentifier", in.ResourceConfigurationIdentifier)
		v.Identifier(err)
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	var out []SNRADetail
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		var party func(a *model.ServiceNetworkResourceAssociation) bool
		party = func(a *model.ServiceNetworkResourceAssociation) bool {
			if a.Account == c.Account {
				return true
			}
			for _, k := range snraEnds(a) {
				var owner string
				if strings.HasPrefix(k, pfxServiceNetwork) {
					owner, _ = accountOf[model.ServiceNetwork](tx, k)
				} else {
					owner, _ = accountOf[model.ResourceConfiguration](tx, k)
				}
				if owner == c.Account {
					return true
				}
			}
			return false
		}
		as, nx, err := listPage(tx, pfxSNRA, in.Page, func(a *model.ServiceNetworkResourceAssociation) bool {
			return (snRef.ID == "" || a.ServiceNetworkID == snRef.ID) &&
				(rcRef.ID == "" || a.ResourceConfigurationID == rcRef.ID) && party(a)
		})
		if err != nil {
			return err
		}
		next = nx
		for _, a := range as {
			d, err := s.snraDetail(tx, a)
			if err != nil {
				return err
			}
			out = append(out, d)
			if !in.IncludeChildren || d.Config == nil || d.Config.Type != model.ResourceConfigurationTypeGroup {
				continue
			}
			if err := tx.Scan(pfxRcfgByGroup+d.Config.ID+"/", "", func(k string, _ []byte) (bool, error) {
				ch, err := getJSON[model.ResourceConfiguration](tx, pfxResourceConfig+k[strings.LastIndexByte(k, '/')+1:])
				if err != nil || ch == nil {
					return err == nil, err
				}
				out = append(out, SNRADetail{ServiceNetworkResourceAssociation: a, Network: d.Network, Config: ch, Managed: true,
					DNS: s.snraDNS(a, ch, true)})
				return true, nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, next, err
}

// DeleteServiceNetworkResourceAssociation removes an association; its
// creator and the owners of both ends may (as for the other associations).
func (s *Service) DeleteServiceNetworkResourceAssociation(ctx context.Context, ident string) (*model.ServiceNetworkResourceAssociation, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.ServiceNetworkResourceAssociation
	err = s.update(ctx, func(tx store.Tx) error {
		a, err := s.loadSNRA(tx, c, ident)
		if err != nil {
			return err
		}
		out = a
		a.Status = model.StatusDeleteInProgress
		return deleteSNRA(tx, a)
	})
	return out, err
}

func deleteSNRA(tx store.Tx, a *model.ServiceNetworkResourceAssociation) error {
	for _, k := range []string{pfxSNRAbySN + a.ServiceNetworkID + "/" + a.ID, pfxSNRAbyRcfg + a.ResourceConfigurationID + "/" + a.ID, pfxSNRA + a.ID} {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// snraInUse refuses the deletion of a configuration still associated
// with a service network (Lattice: ConflictException).
func snraInUse(tx store.ReadTx, rc *model.ResourceConfiguration) error {
	id, err := firstIndexed(tx, pfxSNRAbyRcfg+rc.ID+"/")
	if err != nil {
		return err
	}
	if id != "" {
		return model.Conflict(model.TypeResourceConfiguration, rc.ID,
			"resource configuration %s is associated with a service network (association %s); delete the association first", rc.ID, id)
	}
	return nil
}

// revokeSNRAs removes the resource associations under an index prefix
// whose owner may no longer use both ends (a RAM share stopped covering
// it), as AWS removes them.
func revokeSNRAs(tx store.Tx, prefix string) error {
	return revokeIndexed(tx, prefix, pfxSNRA, func(a *model.ServiceNetworkResourceAssociation) (bool, error) {
		return snraStillAllowed(tx, a)
	}, deleteSNRA)
}

// snraStillAllowed reports whether a resource association's owner may
// still use both its ends (an end that is gone does not count against it).
func snraStillAllowed(tx store.ReadTx, a *model.ServiceNetworkResourceAssociation) (bool, error) {
	sn, err := getJSON[model.ServiceNetwork](tx, pfxServiceNetwork+a.ServiceNetworkID)
	if err != nil {
		return false, err
	}
	rc, err := getJSON[model.ResourceConfiguration](tx, pfxResourceConfig+a.ResourceConfigurationID)
	if err != nil {
		return false, err
	}
	var ends []*model.Meta
	if sn != nil {
		ends = append(ends, &sn.Meta)
	}
	if rc != nil {
		ends = append(ends, &rc.Meta)
	}
	for _, end := range ends {
		if ok, err := mayUse(tx, a.Account, end.Account, end.ARN); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}
