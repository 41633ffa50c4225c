package service

import (
	"context"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// CreateServiceInput is CreateService's request.
type CreateServiceInput struct {
	Name               string
	AuthType           string
	CustomDomainName   string
	CertificateArn     string
	IdleTimeoutSeconds *int
	Tags               map[string]string
	ClientToken        *string `json:"-"`
}

// DNSName returns the generated DNS name of a service (reference §1.3).
func (s *Service) DNSName(name, id string) string {
	return name + "-" + strings.TrimPrefix(id, "svc-") + "." + s.cfg.DNSToken + ".vpc-lattice-svcs." + s.cfg.Region + ".on.aws"
}

// HostedZoneID is the (Trellis-made) hosted zone of generated service names.
func (s *Service) HostedZoneID() string {
	return "Z" + strings.ToUpper(s.cfg.DNSToken) + "TRELLIS"
}

func checkIdleTimeout(v *model.Validator, p *int) {
	if p != nil && (*p < 60 || *p > 600) {
		v.Addf("idleTimeoutSeconds", "idleTimeoutSeconds must be between 60 and 600")
	}
}

// Custom domain names need not be unique: Lattice requires them unique only
// among the services reachable together, i.e. within one service network
// (CreateServiceNetworkServiceAssociation checks it, see
// checkCustomDomainInNetwork). Versions before this rule kept a global
// index name/domain/<domain> -> service ID and refused a second service with
// the same domain; nothing reads those keys any more, so a store written by
// such a version works as it is, and a key goes when its service does.
const legacyDomainPrefix = pfxName + "domain/"

// deleteLegacyDomainKey removes the old global index key of svc's custom
// domain, if an older version wrote it for this very service.
func deleteLegacyDomainKey(tx store.Tx, svc *model.Service) error {
	if svc.CustomDomainName == "" {
		return nil
	}
	k := legacyDomainPrefix + strings.ToLower(svc.CustomDomainName)
	v, ok, err := tx.Get(k)
	if err != nil || !ok || string(v) != svc.ID {
		return err
	}
	return tx.Delete(k)
}

// CreateService creates a service.
func (s *Service) CreateService(ctx context.Context, in CreateServiceInput) (*model.Service, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	model.ServiceName.CheckName(&v, "name", in.Name)
	model.CheckAuthType(&v, "authType", in.AuthType)
	if in.CustomDomainName != "" {
		model.CheckDomainName(&v, "customDomainName", in.CustomDomainName)
	}
	if in.CertificateArn != "" {
		model.CheckARN(&v, "certificateArn", in.CertificateArn, 20, 2048)
	}
	checkIdleTimeout(&v, in.IdleTimeoutSeconds)
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.checkForeignARN(c, "certificateArn", "certificate", in.CertificateArn); err != nil {
		return nil, err
	}
	var out *model.Service
	err = s.update(ctx, func(tx store.Tx) error {
		out, err = idempotent(tx, c.Account, "CreateService", in.ClientToken, in, func() (*model.Service, error) {
			if err := s.checkServiceCertificate(tx, c, c.Account, in.CertificateArn, in.CustomDomainName); err != nil {
				return nil, err
			}
			nk := nameKey(arn.Service, c.Account, in.Name)
			if _, taken, err := tx.Get(nk); err != nil || taken {
				if err != nil {
					return nil, err
				}
				return nil, model.Conflict(model.TypeService, in.Name, "a service named %q already exists", in.Name)
			}
			n, err := s.countOwned(tx, pfxService, c.Account)
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaServices, "", n, 1); err != nil {
				return nil, err
			}
			svc := &model.Service{Meta: s.newMeta(c, arn.Service, in.Tags), Name: in.Name,
				AuthType: orDefault(in.AuthType, model.AuthTypeNone), Status: model.StatusActive,
				CustomDomainName: in.CustomDomainName, CertificateArn: in.CertificateArn, IdleTimeoutSeconds: 60}
			if in.IdleTimeoutSeconds != nil {
				svc.IdleTimeoutSeconds = *in.IdleTimeoutSeconds
			}
			svc.DNS = &model.DNSEntry{DomainName: s.DNSName(svc.Name, svc.ID), HostedZoneID: s.HostedZoneID()}
			if err := tx.Put(nk, []byte(svc.ID)); err != nil {
				return nil, err
			}
			if err := addCount(tx, ownedCountKey(pfxService, c.Account), 1); err != nil {
				return nil, err
			}
			if err := setServiceCertificate(tx, svc.ID, "", svc.CertificateArn); err != nil {
				return nil, err
			}
			return svc, putJSON(tx, pfxService+svc.ID, svc)
		})
		return err
	})
	return out, err
}

func (s *Service) loadService(tx store.ReadTx, c model.Caller, ident string) (*model.Service, error) {
	return s.loadServiceField(tx, c, "serviceIdentifier", ident)
}

func (s *Service) loadServiceField(tx store.ReadTx, c model.Caller, field, ident string) (*model.Service, error) {
	return loadOwned[model.Service](tx, c, arn.Service, pfxService, model.TypeService, field, ident)
}

// GetService describes a service.
func (s *Service) GetService(ctx context.Context, ident string) (*model.Service, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.Service
	err = s.view(ctx, func(tx store.ReadTx) error {
		// A service shared with the caller answers by its ARN (read-only).
		out, _, err = s.loadSharedService(tx, c, ident)
		return err
	})
	return out, err
}

// ListServices lists the caller's services and those shared with it (the
// service directory: their ARNs carry the owner's account).
func (s *Service) ListServices(ctx context.Context, p Page) ([]*model.Service, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []*model.Service
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		shared, err := sharedARNs(tx, c.Account)
		if err != nil {
			return err
		}
		out, next, err = listPage(tx, pfxService, p, func(svc *model.Service) bool { return svc.Account == c.Account || shared[svc.ARN] })
		return err
	})
	return out, next, err
}

// UpdateServiceInput is UpdateService's request.
type UpdateServiceInput struct {
	Identifier         string
	AuthType           string
	CertificateArn     *string
	IdleTimeoutSeconds *int
}

// UpdateService changes a service's auth type, certificate or idle timeout.
func (s *Service) UpdateService(ctx context.Context, in UpdateServiceInput) (*model.Service, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.Service, "serviceIdentifier", in.Identifier)
	model.CheckAuthType(&v, "authType", in.AuthType)
	if in.CertificateArn != nil && *in.CertificateArn != "" {
		model.CheckARN(&v, "certificateArn", *in.CertificateArn, 20, 2048)
	}
	checkIdleTimeout(&v, in.IdleTimeoutSeconds)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.CertificateArn != nil {
		if err := s.checkForeignARN(c, "certificateArn", "certificate", *in.CertificateArn); err != nil {
			return nil, err
		}
	}
	var out *model.Service
	err = s.update(ctx, func(tx store.Tx) error {
		svc, err := s.loadService(tx, c, in.Identifier)
		if err != nil {
			return err
		}
		if in.AuthType != "" {
			svc.AuthType = in.AuthType
		}
		if in.CertificateArn != nil {
			if err := s.checkServiceCertificate(tx, c, svc.Account, *in.CertificateArn, svc.CustomDomainName); err != nil {
				return err
			}
			if err := setServiceCertificate(tx, svc.ID, svc.CertificateArn, *in.CertificateArn); err != nil {
				return err
			}
			svc.CertificateArn = *in.CertificateArn
		}
		if in.IdleTimeoutSeconds != nil {
			svc.IdleTimeoutSeconds = *in.IdleTimeoutSeconds
		}
		svc.UpdatedAt = s.now()
		out = svc
		return putJSON(tx, pfxService+svc.ID, svc)
	})
	return out, err
}

// DeleteService deletes a service that is in no service network, with its
// listeners, rules, auth policy, resource policy and access log
// subscriptions. The returned service has status DELETE_IN_PROGRESS, as
// Lattice answers.
func (s *Service) DeleteService(ctx context.Context, ident string) (*model.Service, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.Service
	err = s.update(ctx, func(tx store.Tx) error {
		svc, err := s.loadService(tx, c, ident)
		if err != nil {
			return err
		}
		if busy, err := hasPrefix(tx, pfxSNSAbySvc+svc.ID+"/"); err != nil || busy {
			if err != nil {
				return err
			}
			return model.Conflict(model.TypeService, svc.ID,
				"service %s is associated with a service network; delete the association first", svc.ID)
		}
		var listeners []string
		if err := scanJSON(tx, pfxListener+svc.ID+"/", func(_ string, l *model.Listener) (bool, error) {
			listeners = append(listeners, l.ID)
			return true, nil
		}); err != nil {
			return err
		}
		for _, lid := range listeners {
			if err := s.deleteListenerTx(tx, svc.ID, lid); err != nil {
				return err
			}
		}
		if err := s.deletePolicies(tx, svc.ID); err != nil {
			return err
		}
		if err := s.unshareDeleted(tx, svc.ARN); err != nil {
			return err
		}
		if err := tx.Delete(nameKey(arn.Service, svc.Account, svc.Name)); err != nil {
			return err
		}
		if err := deleteLegacyDomainKey(tx, svc); err != nil {
			return err
		}
		if err := addCount(tx, ownedCountKey(pfxService, svc.Account), -1); err != nil {
			return err
		}
		if err := setServiceCertificate(tx, svc.ID, svc.CertificateArn, ""); err != nil {
			return err
		}
		svc.Status = model.StatusDeleteInProgress
		out = svc
		return tx.Delete(pfxService + svc.ID)
	})
	return out, err
}
