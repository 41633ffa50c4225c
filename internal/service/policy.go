package service

import (
	"context"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	authpolicy "github.com/trellis-net/trellis/internal/policy"
	"github.com/trellis-net/trellis/internal/store"
)

// policyOwner is a service network or a service, the two kinds that carry
// auth and resource policies.
type policyOwner struct {
	ID       string
	ARN      string
	AuthType string
	Type     string
}

// loadPolicyOwner loads the service network or service ident names (its ID
// or ARN, or only its ARN when arnOnly), checking the caller owns it.
func (s *Service) loadPolicyOwner(tx store.ReadTx, c model.Caller, field, ident string, arnOnly bool) (policyOwner, error) {
	ref, err := model.ParsePolicyOwner(field, ident, arnOnly)
	if err != nil {
		return policyOwner{}, err
	}
	if ref.Kind == arn.ServiceNetwork {
		sn, err := s.loadServiceNetworkField(tx, c, field, ident)
		if err != nil {
			return policyOwner{}, err
		}
		return policyOwner{sn.ID, sn.ARN, sn.AuthType, model.TypeServiceNetwork}, nil
	}
	svc, err := s.loadServiceField(tx, c, field, ident)
	if err != nil {
		return policyOwner{}, err
	}
	return policyOwner{svc.ID, svc.ARN, svc.AuthType, model.TypeService}, nil
}

// AuthPolicyResult is an auth policy with its state.
type AuthPolicyResult struct {
	// AuthPolicy is nil when the network or service has none (GetAuthPolicy).
	*model.AuthPolicy
	State string // Active when the owner's auth type is AWS_IAM
}

func policyState(authType string) string {
	if authType == model.AuthTypeAWSIAM {
		return model.AuthPolicyActive
	}
	return model.AuthPolicyInactive
}

// PutAuthPolicy creates or replaces the auth policy of a network or service.
func (s *Service) PutAuthPolicy(ctx context.Context, ident, policy string) (AuthPolicyResult, error) {
	c, err := caller(ctx)
	if err != nil {
		return AuthPolicyResult{}, err
	}
	var v model.Validator
	v.Identifier(model.CheckIdentifierMember("resourceIdentifier", ident))
	model.CheckPolicyDocument(&v, "policy", policy, model.MaxAuthPolicyLen)
	if err := v.Err(); err != nil {
		return AuthPolicyResult{}, err
	}
	// Compile it now, as the data plane will: a policy that would not
	// compile is refused with what is wrong and where.
	if _, err := authpolicy.Parse(policy); err != nil {
		return AuthPolicyResult{}, model.Invalid("policy", "policy is not a valid auth policy: %v", err)
	}
	var out AuthPolicyResult
	err = s.update(ctx, func(tx store.Tx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceIdentifier", ident, false)
		if err != nil {
			return err
		}
		ap, err := getJSON[model.AuthPolicy](tx, pfxAuthPolicy+o.ID)
		if err != nil {
			return err
		}
		now := s.now()
		if ap == nil {
			ap = &model.AuthPolicy{ResourceID: o.ID, CreatedAt: now}
		}
		ap.Policy, ap.UpdatedAt = policy, now
		out = AuthPolicyResult{ap, policyState(o.AuthType)}
		return putJSON(tx, pfxAuthPolicy+o.ID, ap)
	})
	return out, err
}

// GetAuthPolicy returns the auth policy of a network or service. A network
// or service without one answers with no policy (AuthPolicy nil) and the
// state its auth type gives, as Lattice answers 200 without a policy
// member; only a network or service that does not exist is NotFound.
func (s *Service) GetAuthPolicy(ctx context.Context, ident string) (AuthPolicyResult, error) {
	c, err := caller(ctx)
	if err != nil {
		return AuthPolicyResult{}, err
	}
	var out AuthPolicyResult
	err = s.view(ctx, func(tx store.ReadTx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceIdentifier", ident, false)
		if err != nil {
			return err
		}
		ap, err := getJSON[model.AuthPolicy](tx, pfxAuthPolicy+o.ID)
		if err != nil {
			return err
		}
		out = AuthPolicyResult{ap, policyState(o.AuthType)}
		return nil
	})
	return out, err
}

// DeleteAuthPolicy removes the auth policy of a network or service. It is
// allowed while the auth type is AWS_IAM; every request is then denied (the
// API reference's reading, chosen over the CLI guide's).
func (s *Service) DeleteAuthPolicy(ctx context.Context, ident string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceIdentifier", ident, false)
		if err != nil {
			return err
		}
		return tx.Delete(pfxAuthPolicy + o.ID)
	})
}

// PutResourcePolicy creates or replaces the resource policy of a network or service.
func (s *Service) PutResourcePolicy(ctx context.Context, resourceARN, policy string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	var v model.Validator
	_, err = model.ParsePolicyOwner("resourceArn", resourceARN, true)
	v.Identifier(err)
	model.CheckPolicyDocument(&v, "policy", policy, model.MaxResourcePolicy)
	if err := v.Err(); err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceArn", resourceARN, true)
		if err != nil {
			return err
		}
		return putJSON(tx, pfxResourcePolicy+o.ID, model.ResourcePolicy{ResourceID: o.ID, Policy: policy})
	})
}

// GetResourcePolicy returns the resource policy of a network or service;
// ok is false when it has none (Lattice answers 200 without a policy
// member), and only a network or service that does not exist is NotFound.
func (s *Service) GetResourcePolicy(ctx context.Context, resourceARN string) (policy string, ok bool, err error) {
	c, err := caller(ctx)
	if err != nil {
		return "", false, err
	}
	err = s.view(ctx, func(tx store.ReadTx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceArn", resourceARN, true)
		if err != nil {
			return err
		}
		rp, err := getJSON[model.ResourcePolicy](tx, pfxResourcePolicy+o.ID)
		if err != nil {
			return err
		}
		if rp != nil {
			policy, ok = rp.Policy, true
		}
		return nil
	})
	return policy, ok, err
}

// DeleteResourcePolicy removes the resource policy of a network or service.
func (s *Service) DeleteResourcePolicy(ctx context.Context, resourceARN string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		o, err := s.loadPolicyOwner(tx, c, "resourceArn", resourceARN, true)
		if err != nil {
			return err
		}
		return tx.Delete(pfxResourcePolicy + o.ID)
	})
}

// deletePolicies removes what hangs off a network or service when it is
// deleted: auth policy, resource policy, access log subscriptions.
func (s *Service) deletePolicies(tx store.Tx, ownerID string) error {
	if err := tx.Delete(pfxAuthPolicy + ownerID); err != nil {
		return err
	}
	if err := tx.Delete(pfxResourcePolicy + ownerID); err != nil {
		return err
	}
	var doomed []string
	err := resourceSubscriptions(tx, ownerID, func(a *model.AccessLogSubscription) bool {
		doomed = append(doomed, a.ID)
		return true
	})
	if err != nil {
		return err
	}
	for _, id := range doomed {
		if err := tx.Delete(pfxALS + id); err != nil {
			return err
		}
		if err := tx.Delete(alsIndexKey(ownerID, id)); err != nil {
			return err
		}
	}
	return nil
}
