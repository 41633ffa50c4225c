package service

import (
	"context"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// CreateServiceNetworkInput is CreateServiceNetwork's request.
type CreateServiceNetworkInput struct {
	Name          string
	AuthType      string
	SharingConfig *model.SharingConfig
	Tags          map[string]string
	ClientToken   *string `json:"-"`
}

// CreateServiceNetwork creates a service network.
func (s *Service) CreateServiceNetwork(ctx context.Context, in CreateServiceNetworkInput) (*model.ServiceNetwork, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	model.ServiceNetworkName.CheckName(&v, "name", in.Name)
	model.CheckAuthType(&v, "authType", in.AuthType)
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.ServiceNetwork
	err = s.update(ctx, func(tx store.Tx) error {
		out, err = idempotent(tx, c.Account, "CreateServiceNetwork", in.ClientToken, in, func() (*model.ServiceNetwork, error) {
			nk := nameKey(arn.ServiceNetwork, c.Account, in.Name)
			if _, taken, err := tx.Get(nk); err != nil || taken {
				if err != nil {
					return nil, err
				}
				return nil, model.Conflict(model.TypeServiceNetwork, in.Name, "a service network named %q already exists", in.Name)
			}
			n, err := s.countOwned(tx, pfxServiceNetwork, c.Account)
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaServiceNetworks, "", n, 1); err != nil {
				return nil, err
			}
			sn := &model.ServiceNetwork{Meta: s.newMeta(c, arn.ServiceNetwork, in.Tags), Name: in.Name,
				AuthType: orDefault(in.AuthType, model.AuthTypeNone), SharingConfig: in.SharingConfig}
			if err := tx.Put(nk, []byte(sn.ID)); err != nil {
				return nil, err
			}
			if err := addCount(tx, ownedCountKey(pfxServiceNetwork, c.Account), 1); err != nil {
				return nil, err
			}
			return sn, putJSON(tx, pfxServiceNetwork+sn.ID, sn)
		})
		return err
	})
	return out, err
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (s *Service) loadServiceNetwork(tx store.ReadTx, c model.Caller, ident string) (*model.ServiceNetwork, error) {
	return s.loadServiceNetworkField(tx, c, "serviceNetworkIdentifier", ident)
}

func (s *Service) loadServiceNetworkField(tx store.ReadTx, c model.Caller, field, ident string) (*model.ServiceNetwork, error) {
	return loadOwned[model.ServiceNetwork](tx, c, arn.ServiceNetwork, pfxServiceNetwork, model.TypeServiceNetwork, field, ident)
}

// ServiceNetworkDetail is a service network with its association counts.
type ServiceNetworkDetail struct {
	*model.ServiceNetwork
	NumberOfAssociatedServices int
	NumberOfAssociatedVPCs     int
	// NumberOfAssociatedResourceConfigurations counts the network's
	// resource-configuration associations (snra), as Lattice's
	// ServiceNetworkSummary does.
	NumberOfAssociatedResourceConfigurations int
}

func (s *Service) detail(tx store.ReadTx, sn *model.ServiceNetwork) (ServiceNetworkDetail, error) {
	d := ServiceNetworkDetail{ServiceNetwork: sn}
	var err error
	if d.NumberOfAssociatedServices, err = countPrefix(tx, pfxSNSAbySN+sn.ID+"/"); err != nil {
		return d, err
	}
	if d.NumberOfAssociatedVPCs, err = countPrefix(tx, pfxSNVAbySN+sn.ID+"/"); err != nil {
		return d, err
	}
	d.NumberOfAssociatedResourceConfigurations, err = countPrefix(tx, pfxSNRAbySN+sn.ID+"/")
	return d, err
}

// GetServiceNetwork describes a service network.
func (s *Service) GetServiceNetwork(ctx context.Context, ident string) (ServiceNetworkDetail, error) {
	c, err := caller(ctx)
	if err != nil {
		return ServiceNetworkDetail{}, err
	}
	var out ServiceNetworkDetail
	err = s.view(ctx, func(tx store.ReadTx) error {
		// A network shared with the caller answers by its ARN (read-only).
		sn, _, err := s.loadSharedNetwork(tx, c, ident)
		if err != nil {
			return err
		}
		out, err = s.detail(tx, sn)
		return err
	})
	return out, err
}

// ListServiceNetworks lists the caller's service networks and those shared
// with it (the service directory: their ARNs carry the owner's account).
func (s *Service) ListServiceNetworks(ctx context.Context, p Page) ([]ServiceNetworkDetail, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []ServiceNetworkDetail
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		shared, err := sharedARNs(tx, c.Account)
		if err != nil {
			return err
		}
		items, tok, err := listPage(tx, pfxServiceNetwork, p, func(sn *model.ServiceNetwork) bool { return sn.Account == c.Account || shared[sn.ARN] })
		if err != nil {
			return err
		}
		next = tok
		for _, sn := range items {
			d, err := s.detail(tx, sn)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, next, err
}

// UpdateServiceNetwork changes a service network's auth type.
func (s *Service) UpdateServiceNetwork(ctx context.Context, ident, authType string) (*model.ServiceNetwork, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.ServiceNetwork, "serviceNetworkIdentifier", ident)
	if authType == "" {
		v.Addf("authType", "authType is required")
	}
	model.CheckAuthType(&v, "authType", authType)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.ServiceNetwork
	err = s.update(ctx, func(tx store.Tx) error {
		sn, err := s.loadServiceNetwork(tx, c, ident)
		if err != nil {
			return err
		}
		sn.AuthType = authType
		sn.UpdatedAt = s.now()
		out = sn
		return putJSON(tx, pfxServiceNetwork+sn.ID, sn)
	})
	return out, err
}

// DeleteServiceNetwork deletes a service network that has no associations,
// with its auth policy, resource policy and access log subscriptions.
func (s *Service) DeleteServiceNetwork(ctx context.Context, ident string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		sn, err := s.loadServiceNetwork(tx, c, ident)
		if err != nil {
			return err
		}
		for _, p := range []string{pfxSNSAbySN, pfxSNVAbySN, pfxSNRAbySN} {
			if busy, err := hasPrefix(tx, p+sn.ID+"/"); err != nil || busy {
				if err != nil {
					return err
				}
				return model.Conflict(model.TypeServiceNetwork, sn.ID,
					"service network %s has service, VPC or resource associations; delete them first", sn.ID)
			}
		}
		if err := s.deletePolicies(tx, sn.ID); err != nil {
			return err
		}
		if err := s.unshareDeleted(tx, sn.ARN); err != nil {
			return err
		}
		if err := tx.Delete(nameKey(arn.ServiceNetwork, sn.Account, sn.Name)); err != nil {
			return err
		}
		if err := addCount(tx, ownedCountKey(pfxServiceNetwork, sn.Account), -1); err != nil {
			return err
		}
		return tx.Delete(pfxServiceNetwork + sn.ID)
	})
}
