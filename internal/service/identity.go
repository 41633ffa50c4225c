package service

import (
	"context"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Identities (Trellis-native, /trellis/v1/): accounts, principals (IAM roles
// and users) and their access keys. Who may do what, until IAM-style
// policies govern these operations:
//
//   - The administrator — the root of the installation's default account
//     (Config.AdminAccount) — may do everything, in every account.
//   - Only the administrator creates, changes and deletes accounts: an
//     account's organization is what policies check with
//     aws:PrincipalOrgID, so a tenant must not choose its own.
//   - Any caller reads its own account and manages the principals and
//     access keys of its own account (a user may create users and keys),
//     except root keys: only the account's root creates or deletes them,
//     so that a user cannot make itself root.
//   - Any caller of a role's account may assume the role.
//
// Everything else is AccessDeniedException.

// Resource types in the errors of identity operations.
const (
	TypeAccount   = "ACCOUNT"
	TypePrincipal = "PRINCIPAL"
	TypeAccessKey = "ACCESS_KEY"
)

const (
	pfxAccount   = schema.Account
	pfxPrincipal = schema.Principal
	pfxAccessKey = schema.AccessKey
)

// Identity limits (IAM's, from model).
const (
	MaxAccountNameLen = model.MaxAccountNameLength
	MaxIAMNameLen     = model.MaxIAMNameLen
	MaxIAMPathLen     = model.MaxIAMPathLen
	MaxPrincipalARN   = 2048
)

// notFound is a ResourceNotFoundException for the identity resource types,
// which model's messages do not know.
func notFound(resourceType, words, id string) *model.Error {
	return &model.Error{Kind: model.KindNotFound, ResourceType: resourceType, ResourceID: id, Message: words + " " + id + " not found"}
}

// RootARN is the principal ARN of an account's root: arn:aws:iam::ACCOUNT:root.
func (s *Service) RootARN(account string) string {
	return "arn:" + s.cfg.Partition + ":iam::" + account + ":root"
}

// IsAdmin reports whether c is the installation's administrator.
func (s *Service) IsAdmin(c model.Caller) bool {
	return s.cfg.AdminAccount != "" && s.isRootOf(c, s.cfg.AdminAccount)
}

func (s *Service) isRootOf(c model.Caller, account string) bool {
	return c.Account == account && c.PrincipalARN == s.RootARN(account)
}

func who(c model.Caller) string {
	if c.PrincipalARN != "" {
		return c.PrincipalARN
	}
	return "account " + c.Account
}

// mayManage allows the administrator, and callers of account itself.
func (s *Service) mayManage(c model.Caller, account, action string) error {
	if c.Account == account || s.IsAdmin(c) {
		return nil
	}
	return model.AccessDenied("%s is not authorized to %s in account %s", who(c), action, account)
}

func (s *Service) adminOnly(c model.Caller, action string) error {
	if s.IsAdmin(c) {
		return nil
	}
	return model.AccessDenied("%s is not authorized to %s: only the administrator (the root of account %s) may",
		who(c), action, s.cfg.AdminAccount)
}

func checkAccountID(v *model.Validator, field, id string) {
	if !arn.ValidAccount(id) {
		v.Addf(field, "%s must be a 12-digit account ID", field)
	}
}

// ---- accounts ----

// PutAccountInput changes an account. A nil member keeps the current value
// (nothing, for a new account); an empty string clears it.
type PutAccountInput struct {
	Name    *string
	OrgID   *string
	OrgPath *string
}

func lowerAlnum(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ValidOrgID reports whether s is an organization ID: o- and 10 to 32
// lowercase letters or digits.
func ValidOrgID(s string) bool {
	return strings.HasPrefix(s, "o-") && lowerAlnum(s[2:], 10, 32)
}

// checkOrgPath validates an organization path as aws:PrincipalOrgPaths
// spells it: o-ORG/r-ROOT/ou-ROOT-OU/.../, ending in a slash.
func checkOrgPath(v *model.Validator, field, p string) {
	bad := func() {
		v.Addf(field, "%s must look like o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ (organization, root, OUs, ending in /)", field)
	}
	if len(p) > 1024 || !strings.HasSuffix(p, "/") {
		bad()
		return
	}
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	if len(segs) < 2 || !ValidOrgID(segs[0]) || !strings.HasPrefix(segs[1], "r-") || !lowerAlnum(segs[1][2:], 4, 32) {
		bad()
		return
	}
	for _, ou := range segs[2:] {
		root, id, ok := strings.Cut(strings.TrimPrefix(ou, "ou-"), "-")
		if !strings.HasPrefix(ou, "ou-") || !ok || !lowerAlnum(root, 4, 32) || !lowerAlnum(id, 8, 32) {
			bad()
			return
		}
	}
}

// PutAccount creates an account or changes it (administrator only). It
// reports whether the account was created.
func (s *Service) PutAccount(ctx context.Context, id string, in PutAccountInput) (*model.Account, bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	var v model.Validator
	checkAccountID(&v, "accountId", id)
	if in.Name != nil {
		model.CheckAccountName(&v, "name", *in.Name)
	}
	if in.OrgID != nil && *in.OrgID != "" && !ValidOrgID(*in.OrgID) {
		v.Addf("orgId", "orgId must be o- followed by 10 to 32 lowercase letters or digits")
	}
	if in.OrgPath != nil && *in.OrgPath != "" {
		checkOrgPath(&v, "orgPath", *in.OrgPath)
	}
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	if err := s.adminOnly(c, "create or change accounts"); err != nil {
		return nil, false, err
	}
	var out *model.Account
	created := false
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := getJSON[model.Account](tx, pfxAccount+id)
		if err != nil {
			return err
		}
		now := s.now()
		created = cur == nil
		if created {
			cur = &model.Account{ID: id, CreatedAt: now}
		}
		a := *cur
		if in.Name != nil {
			a.Name = *in.Name
		}
		if in.OrgID != nil {
			a.OrgID = *in.OrgID
		}
		if in.OrgPath != nil {
			a.OrgPath = *in.OrgPath
		}
		switch {
		case a.OrgPath != "" && a.OrgID == "":
			return model.Invalid("orgPath", "orgPath needs an orgId")
		case a.OrgPath != "" && !strings.HasPrefix(a.OrgPath, a.OrgID+"/"):
			return model.Invalid("orgPath", "orgPath must start with the account's orgId %s/", a.OrgID)
		}
		if !created && a == *cur {
			out = cur
			return nil
		}
		a.UpdatedAt = now
		out = &a
		if err := putJSON(tx, pfxAccount+id, &a); err != nil {
			return err
		}
		if !created && a.OrgID != cur.OrgID {
			// Shares with its old organization no longer cover the
			// account: what they enabled goes (crossaccount.go).
			return s.revokeAccount(tx, id)
		}
		return nil
	})
	return out, created, err
}

// EnsureAccount creates the record of an account that exists implicitly
// (the default account) when it is missing. It is not an API operation and
// checks no caller.
func (s *Service) EnsureAccount(ctx context.Context, id, name string) error {
	if !arn.ValidAccount(id) {
		return model.Invalid("accountId", "accountId must be a 12-digit account ID")
	}
	return s.update(ctx, func(tx store.Tx) error {
		if _, ok, err := tx.Get(pfxAccount + id); err != nil || ok {
			return err
		}
		now := s.now()
		return putJSON(tx, pfxAccount+id, &model.Account{ID: id, Name: name, CreatedAt: now, UpdatedAt: now})
	})
}

func loadAccount(tx store.ReadTx, id string) (*model.Account, error) {
	a, err := getJSON[model.Account](tx, pfxAccount+id)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, notFound(TypeAccount, "Account", id)
	}
	return a, nil
}

// GetAccount describes an account: the caller's own, or any for the
// administrator.
func (s *Service) GetAccount(ctx context.Context, id string) (*model.Account, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkAccountID(&v, "accountId", id)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.mayManage(c, id, "describe the account"); err != nil {
		return nil, err
	}
	var out *model.Account
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = loadAccount(tx, id)
		return err
	})
	return out, err
}

// ListAccounts lists every account for the administrator, and the caller's
// own account for anyone else.
func (s *Service) ListAccounts(ctx context.Context, p Page) ([]*model.Account, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	admin := s.IsAdmin(c)
	var out []*model.Account
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxAccount, p, func(a *model.Account) bool { return admin || a.ID == c.Account })
		return err
	})
	return out, next, err
}

// DeleteAccount removes an account that holds nothing (administrator only).
// The default account cannot be deleted.
func (s *Service) DeleteAccount(ctx context.Context, id string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	var v model.Validator
	checkAccountID(&v, "accountId", id)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.adminOnly(c, "delete accounts"); err != nil {
		return err
	}
	if id == s.cfg.AdminAccount {
		return model.Conflict(TypeAccount, id, "account %s is the installation's default account and cannot be deleted", id)
	}
	return s.update(ctx, func(tx store.Tx) error {
		if _, err := loadAccount(tx, id); err != nil {
			return err
		}
		if err := accountInUse(tx, id); err != nil {
			return err
		}
		return tx.Delete(pfxAccount + id)
	})
}

// accountInUse returns a ConflictException naming the first thing account
// still holds: a principal, an access key or a resource.
func accountInUse(tx store.ReadTx, account string) error {
	var found string
	find := func(prefix, what string) error {
		type owned struct {
			Account string `json:"account"`
			ARN     string `json:"arn"`
			KeyID   string `json:"accessKeyId"`
			ID      string `json:"id"`
			VpcID   string `json:"vpcId"`
		}
		return scanJSON(tx, prefix, func(_ string, o *owned) (bool, error) {
			if o.Account != account {
				return true, nil
			}
			name := o.ARN
			for _, alt := range []string{o.KeyID, o.ID, o.VpcID} {
				if name == "" {
					name = alt
				}
			}
			found = what + " " + name
			return false, nil
		})
	}
	for _, k := range []struct{ prefix, what string }{
		{pfxPrincipal, "principal"}, {pfxAccessKey, "access key"}, {pfxServiceNetwork, "service network"},
		{pfxService, "service"}, {pfxTargetGroup, "target group"}, {pfxSNSA, "service network service association"},
		{pfxSNVA, "service network VPC association"}, {pfxALS, "access log subscription"}, {pfxVPC, "VPC"},
	} {
		if err := find(k.prefix, k.what); err != nil {
			return err
		}
		if found != "" {
			return model.Conflict(TypeAccount, account, "account %s still has %s; delete it first", account, found)
		}
	}
	return nil
}

// ---- principals ----

// PrincipalName is a parsed principal ARN:
// arn:PARTITION:iam::ACCOUNT:TYPE/PATH/NAME.
type PrincipalName struct {
	Account string
	Type    string // role or user
	Path    string // "/" or "/a/b/"
	Name    string
}

// ParsePrincipalARN validates the ARN of an IAM role or user
// (arn:aws:iam::ACCOUNT:role/NAME, :user/NAME, with an optional path
// role/path/to/NAME), recording what is wrong under field.
func (s *Service) ParsePrincipalARN(v *model.Validator, field, principalARN string) PrincipalName {
	bad := func(why string) PrincipalName {
		v.Addf(field, "%s must be the ARN of an IAM role or user, such as arn:%s:iam::111122223333:role/NAME: %s",
			field, s.cfg.Partition, why)
		return PrincipalName{}
	}
	if principalARN == "" {
		v.Addf(field, "%s is required", field)
		return PrincipalName{}
	}
	if len(principalARN) > MaxPrincipalARN {
		return bad("it is too long")
	}
	a, err := arn.Parse(principalARN)
	switch {
	case err != nil:
		return bad("it is not an ARN")
	case a.Partition != s.cfg.Partition || a.Service != "iam" || a.Region != "":
		return bad("it must start with arn:" + s.cfg.Partition + ":iam::")
	case !arn.ValidAccount(a.Account):
		return bad("the account must be 12 digits")
	}
	typ, rest, _ := strings.Cut(a.Resource, "/")
	if typ != model.PrincipalTypeRole && typ != model.PrincipalTypeUser {
		return bad("the resource must be role/NAME or user/NAME")
	}
	// IAM: the name is [\w+=,.@-]{1,64}; the path "/" or
	// /[\x21-\x7E]+/ of at most 512 characters. A path may hold ';', '='
	// and '\\' (IAM allows them): the identity headers escape them.
	cut := strings.LastIndexByte(rest, '/')
	path, name := "/"+rest[:cut+1], rest[cut+1:]
	if !model.ValidIAMName(name, 1, MaxIAMNameLen) {
		return bad("the name must be 1 to 64 letters, digits and _+=,.@-")
	}
	if path != "/" {
		switch {
		case len(path) > MaxIAMPathLen:
			return bad("the path must be at most 512 characters long")
		case strings.Contains(path, "//") || strings.HasPrefix(rest, "/"):
			return bad("the path must not have empty segments")
		case !model.ValidIAMPath(path):
			return bad("the path may contain only printable ASCII characters")
		}
	}
	return PrincipalName{Account: a.Account, Type: typ, Path: path, Name: name}
}

// PutPrincipal creates a role or user of an existing account, or changes
// its tags. tags nil keeps the current tags; non-nil replaces them. It
// reports whether the principal was created.
func (s *Service) PutPrincipal(ctx context.Context, principalARN string, tags map[string]string) (*model.Principal, bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	var v model.Validator
	pn := s.ParsePrincipalARN(&v, "principalArn", principalARN)
	model.CheckIAMTags(&v, "tags", tags)
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	if err := s.mayManage(c, pn.Account, "create or change principals"); err != nil {
		return nil, false, err
	}
	var out *model.Principal
	created := false
	err = s.update(ctx, func(tx store.Tx) error {
		if _, err := loadAccount(tx, pn.Account); err != nil {
			return err
		}
		cur, err := getJSON[model.Principal](tx, pfxPrincipal+principalARN)
		if err != nil {
			return err
		}
		now := s.now()
		created = cur == nil
		if created {
			cur = &model.Principal{ARN: principalARN, Account: pn.Account, Type: pn.Type, Name: pn.Name, CreatedAt: now,
				Tags: cloneTags(tags)}
		} else {
			if tags == nil {
				out = cur
				return nil
			}
			cur.Tags = cloneTags(tags)
		}
		cur.UpdatedAt = now
		out = cur
		return putJSON(tx, pfxPrincipal+principalARN, cur)
	})
	return out, created, err
}

// loadPrincipal validates an ARN, checks the caller may see its account and
// reads the principal.
func (s *Service) loadPrincipal(tx store.ReadTx, c model.Caller, principalARN, action string) (*model.Principal, error) {
	var v model.Validator
	pn := s.ParsePrincipalARN(&v, "principalArn", principalARN)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.mayManage(c, pn.Account, action); err != nil {
		return nil, err
	}
	p, err := getJSON[model.Principal](tx, pfxPrincipal+principalARN)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, notFound(TypePrincipal, "Principal", principalARN)
	}
	return p, nil
}

// GetPrincipal describes a role or user.
func (s *Service) GetPrincipal(ctx context.Context, principalARN string) (*model.Principal, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.Principal
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadPrincipal(tx, c, principalARN, "describe principals")
		return err
	})
	return out, err
}

// ListPrincipals lists the principals of account (the caller's when
// empty); the administrator lists every account's when account is empty.
func (s *Service) ListPrincipals(ctx context.Context, account string, p Page) ([]*model.Principal, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	all := false
	switch {
	case account != "":
		var v model.Validator
		checkAccountID(&v, "account", account)
		if err := v.Err(); err != nil {
			return nil, "", err
		}
		if err := s.mayManage(c, account, "list principals"); err != nil {
			return nil, "", err
		}
	case s.IsAdmin(c):
		all = true
	default:
		account = c.Account
	}
	var out []*model.Principal
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxPrincipal, p, func(pr *model.Principal) bool { return all || pr.Account == account })
		return err
	})
	return out, next, err
}

// DeletePrincipal removes a role or user and every access key it holds
// (its sessions included).
func (s *Service) DeletePrincipal(ctx context.Context, principalARN string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		if _, err := s.loadPrincipal(tx, c, principalARN, "delete principals"); err != nil {
			return err
		}
		var keys []string
		if err := scanJSON(tx, pfxAccessKey, func(k string, ak *model.AccessKey) (bool, error) {
			if ak.PrincipalARN == principalARN {
				keys = append(keys, k)
			}
			return true, nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return tx.Delete(pfxPrincipal + principalARN)
	})
}
