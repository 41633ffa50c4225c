package service

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// Access keys: long-term keys of principals and roots (AKIA...) and the
// temporary credentials of assumed-role sessions (ASIA... with a session
// token). The secret is stored because servers HMAC with it; only the
// operation that creates a key returns it.

// Access key statuses.
const (
	KeyStatusActive   = "Active"
	KeyStatusInactive = "Inactive"
)

// Session durations of AssumeRole, in seconds.
const (
	MinSessionDuration     = 900
	MaxSessionDuration     = 43200
	DefaultSessionDuration = 3600
)

const (
	keyIDAlphabet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	keyIDRandLen   = 16
	secretLen      = 40
	tokenLen       = 128
)

// randomString draws n characters from alphabet, whose length divides 256
// so that every character is equally likely.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ValidAccessKeyID reports whether s can be an access key ID: 16 to 128
// letters and digits.
func ValidAccessKeyID(s string) bool {
	if len(s) < 16 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func checkAccessKeyID(id string) error {
	if !ValidAccessKeyID(id) {
		return model.Invalid("accessKeyId", "accessKeyId must be 16 to 128 letters and digits")
	}
	return nil
}

// newKey writes a new access key with an unused ID (prefix AKIA or ASIA).
func (s *Service) newKey(tx store.Tx, prefix string, k *model.AccessKey) error {
	for {
		k.ID = prefix + randomString(keyIDRandLen, keyIDAlphabet)
		_, taken, err := tx.Get(pfxAccessKey + k.ID)
		if err != nil {
			return err
		}
		if !taken {
			break
		}
	}
	k.Secret = randomString(secretLen, secretAlphabet)
	k.Status = KeyStatusActive
	k.CreatedAt = s.now()
	return putJSON(tx, pfxAccessKey+k.ID, k)
}

func expired(k *model.AccessKey, now time.Time) bool {
	return k.Expiration != nil && !now.Before(*k.Expiration)
}

// mayManageKey allows the administrator, and callers of the key's account;
// a root key only to the account's root.
func (s *Service) mayManageKey(c model.Caller, account, principalARN, action string) error {
	if err := s.mayManage(c, account, action); err != nil {
		return err
	}
	if principalARN == s.RootARN(account) && !s.isRootOf(c, account) && !s.IsAdmin(c) {
		return model.AccessDenied("%s is not authorized to %s: root access keys of account %s are managed only by its root",
			who(c), action, account)
	}
	return nil
}

// CreateAccessKey makes a long-term access key for a role or user. The
// result holds the secret: return it to the caller once, never again.
func (s *Service) CreateAccessKey(ctx context.Context, principalARN string) (*model.AccessKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.AccessKey
	err = s.update(ctx, func(tx store.Tx) error {
		p, err := s.loadPrincipal(tx, c, principalARN, "create access keys")
		if err != nil {
			return err
		}
		out = &model.AccessKey{PrincipalARN: p.ARN, Account: p.Account}
		return s.newKey(tx, "AKIA", out)
	})
	return out, err
}

// CreateRootAccessKey makes an access key for the root of an account (the
// account's root or the administrator only).
func (s *Service) CreateRootAccessKey(ctx context.Context, account string) (*model.AccessKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkAccountID(&v, "accountId", account)
	if err := v.Err(); err != nil {
		return nil, err
	}
	root := s.RootARN(account)
	if err := s.mayManageKey(c, account, root, "create access keys"); err != nil {
		return nil, err
	}
	var out *model.AccessKey
	err = s.update(ctx, func(tx store.Tx) error {
		if _, err := loadAccount(tx, account); err != nil {
			return err
		}
		out = &model.AccessKey{PrincipalARN: root, Account: account}
		return s.newKey(tx, "AKIA", out)
	})
	return out, err
}

// ListAccessKeysInput filters ListAccessKeys: by principal (a role, a user
// or an account's root) or by account; with neither, the caller's account.
type ListAccessKeysInput struct {
	PrincipalARN string
	Account      string
}

// ListAccessKeys lists access keys (secrets included in the entities: the
// API must not encode them). Expired sessions are left out.
func (s *Service) ListAccessKeys(ctx context.Context, in ListAccessKeysInput, p Page) ([]*model.AccessKey, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var v model.Validator
	account := in.Account
	switch {
	case in.PrincipalARN != "" && in.Account != "":
		v.Addf("principalArn", "give principalArn or account, not both")
	case in.PrincipalARN != "":
		if strings.HasSuffix(in.PrincipalARN, ":root") {
			account = strings.TrimSuffix(strings.TrimPrefix(in.PrincipalARN, "arn:"+s.cfg.Partition+":iam::"), ":root")
			if in.PrincipalARN != s.RootARN(account) || !arn.ValidAccount(account) {
				v.Addf("principalArn", "principalArn must be the ARN of an IAM role, user or account root (arn:%s:iam::ACCOUNT:root)",
					s.cfg.Partition)
			}
		} else {
			account = s.ParsePrincipalARN(&v, "principalArn", in.PrincipalARN).Account
		}
	case in.Account != "":
		checkAccountID(&v, "account", in.Account)
	default:
		account = c.Account
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if err := s.mayManage(c, account, "list access keys"); err != nil {
		return nil, "", err
	}
	now := s.now()
	var out []*model.AccessKey
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxAccessKey, p, func(k *model.AccessKey) bool {
			if expired(k, now) || k.Account != account {
				return false
			}
			return in.PrincipalARN == "" || k.PrincipalARN == in.PrincipalARN
		})
		return err
	})
	return out, next, err
}

func (s *Service) loadKey(tx store.ReadTx, c model.Caller, id, action string) (*model.AccessKey, error) {
	if err := checkAccessKeyID(id); err != nil {
		return nil, err
	}
	k, err := getJSON[model.AccessKey](tx, pfxAccessKey+id)
	if err != nil {
		return nil, err
	}
	if k == nil || expired(k, s.now()) {
		return nil, notFound(TypeAccessKey, "Access key", id)
	}
	return k, s.mayManageKey(c, k.Account, k.PrincipalARN, action)
}

// GetAccessKey describes an access key (the entity holds the secret: the API
// must not encode it).
func (s *Service) GetAccessKey(ctx context.Context, id string) (*model.AccessKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.AccessKey
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadKey(tx, c, id, "describe access keys")
		return err
	})
	return out, err
}

// DeleteAccessKey removes an access key; requests signed with it fail from
// then on.
func (s *Service) DeleteAccessKey(ctx context.Context, id string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		if _, err := s.loadKey(tx, c, id, "delete access keys"); err != nil {
			return err
		}
		return tx.Delete(pfxAccessKey + id)
	})
}

// LookupAccessKey reads an access key for authentication, whoever asks (it
// is not an API operation): NotFound when the store does not hold it. It
// does not judge Status or Expiration; the key store of the verifier does.
func (s *Service) LookupAccessKey(ctx context.Context, id string) (*model.AccessKey, error) {
	var out *model.AccessKey
	err := s.view(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = getJSON[model.AccessKey](tx, pfxAccessKey+id)
		return err
	})
	if err == nil && out == nil {
		err = notFound(TypeAccessKey, "Access key", id)
	}
	return out, err
}

// ---- STS ----

// AssumeRoleInput asks for temporary credentials of a role.
type AssumeRoleInput struct {
	RoleARN         string
	RoleSessionName string
	DurationSeconds *int // default 3600
}

// validSessionName reports whether s is a role session name: IAM's
// [\w+=,.@-]{2,64}.
func validSessionName(s string) bool {
	return model.ValidIAMName(s, model.MinSessionNameLen, model.MaxSessionNameLen)
}

// AssumeRole returns temporary credentials of a role: an ASIA access key,
// its secret and session token, valid for the requested duration. Any
// caller of the role's account may assume it (and the administrator any
// role). The credentials act as
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION in the role's account.
func (s *Service) AssumeRole(ctx context.Context, in AssumeRoleInput) (*model.AccessKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	pn := s.ParsePrincipalARN(&v, "roleArn", in.RoleARN)
	if pn.Type == model.PrincipalTypeUser {
		v.Addf("roleArn", "roleArn must be the ARN of a role, not of a user")
	}
	switch {
	case in.RoleSessionName == "":
		v.Addf("roleSessionName", "roleSessionName is required")
	case !validSessionName(in.RoleSessionName):
		v.Addf("roleSessionName", "roleSessionName must be 2 to 64 letters, digits and _+=,.@-")
	}
	duration := DefaultSessionDuration
	if in.DurationSeconds != nil {
		duration = *in.DurationSeconds
		if duration < MinSessionDuration || duration > MaxSessionDuration {
			v.Addf("durationSeconds", "durationSeconds must be between %d and %d", MinSessionDuration, MaxSessionDuration)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if c.Account != pn.Account && !s.IsAdmin(c) {
		return nil, model.AccessDenied("%s is not authorized to assume %s: only callers of account %s may",
			who(c), in.RoleARN, pn.Account)
	}
	var out *model.AccessKey
	err = s.update(ctx, func(tx store.Tx) error {
		role, err := getJSON[model.Principal](tx, pfxPrincipal+in.RoleARN)
		if err != nil {
			return err
		}
		if role == nil {
			return notFound(TypePrincipal, "Role", in.RoleARN)
		}
		now := s.now()
		if err := purgeExpiredSessions(tx, now); err != nil {
			return err
		}
		exp := now.Add(time.Duration(duration) * time.Second)
		out = &model.AccessKey{PrincipalARN: role.ARN, Account: role.Account,
			SessionToken: randomString(tokenLen, secretAlphabet),
			SessionARN:   "arn:" + s.cfg.Partition + ":sts::" + role.Account + ":assumed-role/" + role.Name + "/" + in.RoleSessionName,
			SessionName:  in.RoleSessionName, Expiration: &exp}
		return s.newKey(tx, "ASIA", out)
	})
	return out, err
}

// purgeExpiredSessions deletes the access keys of sessions that expired.
func purgeExpiredSessions(tx store.Tx, now time.Time) error {
	var gone []string
	if err := scanJSON(tx, pfxAccessKey, func(k string, ak *model.AccessKey) (bool, error) {
		if expired(ak, now) {
			gone = append(gone, k)
		}
		return true, nil
	}); err != nil {
		return err
	}
	for _, k := range gone {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// GetSessionToken durations, in seconds (STS: 15 minutes to 36 hours for a
// user, 12 hours by default; an account's root gets at most one hour).
const (
	MinSessionTokenDuration     = 900
	MaxSessionTokenDuration     = 129600
	DefaultSessionTokenDuration = 43200
	MaxRootSessionTokenDuration = 3600
)

// GetSessionTokenInput asks for temporary credentials of the caller itself.
type GetSessionTokenInput struct {
	DurationSeconds *int // default 43200 (3600 for a root)
}

// GetSessionToken returns temporary credentials of the caller — a user or
// an account's root — acting as the caller itself: an ASIA access key of
// the same principal with a session token and an expiry, checked by the
// same verifier as an assumed role's. As STS does, an assumed-role session
// is refused (AccessDenied); the API refuses callers signing with any
// temporary credentials before asking (the caller in the context does not
// say how it signed). A root's session is cut to one hour, as STS does.
func (s *Service) GetSessionToken(ctx context.Context, in GetSessionTokenInput) (*model.AccessKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	root := c.PrincipalARN == s.RootARN(c.Account)
	duration := DefaultSessionTokenDuration
	if in.DurationSeconds != nil {
		duration = *in.DurationSeconds
		if duration < MinSessionTokenDuration || duration > MaxSessionTokenDuration {
			return nil, model.Invalid("DurationSeconds", "DurationSeconds must be between %d and %d",
				MinSessionTokenDuration, MaxSessionTokenDuration)
		}
	}
	if root && duration > MaxRootSessionTokenDuration {
		duration = MaxRootSessionTokenDuration
	}
	if !root {
		var v model.Validator
		pn := s.ParsePrincipalARN(&v, "caller", c.PrincipalARN)
		if v.Err() != nil || pn.Type != model.PrincipalTypeUser || pn.Account != c.Account {
			return nil, model.AccessDenied("%s is not authorized to perform: sts:GetSessionToken: only users and account roots may",
				who(c))
		}
	}
	var out *model.AccessKey
	err = s.update(ctx, func(tx store.Tx) error {
		if root {
			if _, err := loadAccount(tx, c.Account); err != nil {
				return err
			}
		} else {
			p, err := getJSON[model.Principal](tx, pfxPrincipal+c.PrincipalARN)
			if err != nil {
				return err
			}
			if p == nil {
				return model.AccessDenied("%s is not authorized to perform: sts:GetSessionToken: the user no longer exists", who(c))
			}
		}
		now := s.now()
		if err := purgeExpiredSessions(tx, now); err != nil {
			return err
		}
		exp := now.Add(time.Duration(duration) * time.Second)
		out = &model.AccessKey{PrincipalARN: c.PrincipalARN, Account: c.Account,
			SessionToken: randomString(tokenLen, secretAlphabet), Expiration: &exp}
		return s.newKey(tx, "ASIA", out)
	})
	return out, err
}
