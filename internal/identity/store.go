package identity

import (
	"context"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/sigv4"
)

// StoredKeys finds access keys kept in the store (service.Service
// implements it). It returns an error of kind model.KindNotFound for a key
// it does not hold.
type StoredKeys interface {
	LookupAccessKey(ctx context.Context, id string) (*model.AccessKey, error)
}

// Chain is the control plane's sigv4.KeyStore: the root credentials first,
// then the access keys in the store, read on every request so that a key
// works as soon as it is created and stops as soon as it is deleted.
type Chain struct {
	Roots  *Keys
	Stored StoredKeys
	Now    func() time.Time // nil means time.Now
}

var _ sigv4.KeyStore = (*Chain)(nil)

// NewChain returns a key store of roots, then stored keys.
func NewChain(roots *Keys, stored StoredKeys) *Chain { return &Chain{Roots: roots, Stored: stored} }

// LookupAccessKey implements sigv4.KeyStore. A stored key that is not
// Active, or a session that expired, is unknown. The credential names the
// key's account and its principal — for a session, the assumed-role ARN —
// and carries the session token the request must present.
func (c *Chain) LookupAccessKey(ctx context.Context, id string) (sigv4.Credential, error) {
	if c.Roots != nil {
		if cred, err := c.Roots.LookupAccessKey(ctx, id); err == nil {
			return cred, nil
		}
	}
	if c.Stored == nil {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	k, err := c.Stored.LookupAccessKey(ctx, id)
	if err != nil {
		if model.KindOf(err) == model.KindNotFound {
			return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
		}
		return sigv4.Credential{}, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if !Usable(k, now()) {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	return Credential(k), nil
}

// Usable reports whether k may sign requests at now: Active (or no status)
// and, for a session, not expired.
func Usable(k *model.AccessKey, now time.Time) bool {
	if k == nil || (k.Status != "" && k.Status != "Active") {
		return false
	}
	return k.Expiration == nil || now.Before(*k.Expiration)
}

// Credential is what the verifier needs to know about a stored key.
func Credential(k *model.AccessKey) sigv4.Credential {
	principal := k.PrincipalARN
	if k.SessionARN != "" {
		principal = k.SessionARN
	}
	return sigv4.Credential{AccessKeyID: k.ID, SecretAccessKey: k.Secret, SessionToken: k.SessionToken,
		Account: k.Account, PrincipalARN: principal}
}
