package service

import (
	"context"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// AWS RAM resource shares (docs/ram.md). An account shares the Lattice
// resources it owns (service networks and services; resource
// configurations once they exist) with principals: 12-digit account IDs
// and its own organization. As RAM:
//   - an account in the owner's organization, or the organization itself,
//     is ASSOCIATED at once, without an invitation;
//   - an account outside it gets an invitation (PENDING) and its
//     association is ASSOCIATING until it accepts (ASSOCIATED) or rejects
//     (DISASSOCIATED); allowExternalPrincipals=false refuses such accounts;
//   - only the owner sees or changes a share; a principal sees it
//     (resourceOwner OTHER-ACCOUNTS) once it is ASSOCIATED.
//
// The share holds its associations, so one write changes a share with all
// of them. Indexes from a resource ARN and from an ASSOCIATED principal to
// the share let SharedWith (the question the cross-account Lattice
// operations ask) and OTHER-ACCOUNTS listings avoid scanning every share.

const (
	pfxShare         = schema.ResourceShare
	pfxInvitation    = schema.ShareInvitation
	pfxShareByRes    = schema.ShareByResource
	pfxShareByPrin   = schema.ShareByPrincipal
	pfxInviteByRecvr = schema.InvitationByReceiver
)

// MaxResourceShares bounds an account's ACTIVE resource shares (RAM's
// default quota of resource shares per account).
const MaxResourceShares = 5000

// MaxShareMembers bounds the resourceArns and principals of one call (the
// work of one transaction) and of one share.
const (
	MaxShareMembersPerCall = 100
	MaxShareMembers        = 1000
)

var (
	shareARN      = regexp.MustCompile(`^arn:([a-z-]+):ram:([a-z0-9-]+):([0-9]{12}):resource-share/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
	invitationARN = regexp.MustCompile(`^arn:([a-z-]+):ram:([a-z0-9-]+):([0-9]{12}):resource-share-invitation/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
	orgARN        = regexp.MustCompile(`^arn:[a-z-]+:organizations::[0-9]{12}:organization/(o-[a-z0-9]{10,32})$`)
	// shareName is RAM's resource share name: 1 to 255 characters; Trellis
	// also keeps control characters out (they would reach log lines).
	clientTokenRE = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
)

// ShareTypes are the resource types RAM shares for Lattice, in
// ListResourceTypes order.
var ShareTypes = []string{model.ShareTypeResourceConfiguration, model.ShareTypeService, model.ShareTypeServiceNetwork}

func ramErr(reason, field, format string, args ...any) *model.Error {
	e := model.Invalid(field, format, args...)
	e.Reason = reason
	return e
}

func shareNotFound(a string) error {
	return &model.Error{Kind: model.KindNotFound, ResourceType: model.TypeResourceShare, ResourceID: a,
		Message: "resource share " + clip(a) + " does not exist or is not yours"}
}

func (s *Service) shareARN(account, id string) string {
	return "arn:" + s.cfg.Partition + ":ram:" + s.cfg.Region + ":" + account + ":resource-share/" + id
}

func (s *Service) invitationARN(account, id string) string {
	return "arn:" + s.cfg.Partition + ":ram:" + s.cfg.Region + ":" + account + ":resource-share-invitation/" + id
}

// shareKeyOf returns the store key of the share an ARN names.
func shareKeyOf(field, a string) (string, error) {
	m := shareARN.FindStringSubmatch(a)
	if m == nil {
		return "", ramErr(model.ReasonRAMMalformedArn, field, "%s %q is not a resource share ARN (arn:PARTITION:ram:REGION:ACCOUNT:resource-share/UUID)", field, clip(a))
	}
	return pfxShare + m[3] + "/" + m[4], nil
}

// loadOwnShare returns the caller's share named by a, NotFound when it is
// another account's (whose shares the caller must not learn of).
func loadOwnShare(tx store.ReadTx, c model.Caller, a string) (*model.ResourceShare, error) {
	key, err := shareKeyOf("resourceShareArn", a)
	if err != nil {
		return nil, err
	}
	sh, err := getJSON[model.ResourceShare](tx, key)
	if err != nil {
		return nil, err
	}
	if sh == nil || sh.ARN != a || sh.Account != c.Account {
		return nil, shareNotFound(a)
	}
	return sh, nil
}

// loadActiveOwnShare is loadOwnShare for a change that only an ACTIVE
// share takes.
func loadActiveOwnShare(tx store.ReadTx, c model.Caller, a string) (*model.ResourceShare, error) {
	sh, err := loadOwnShare(tx, c, a)
	if err != nil {
		return nil, err
	}
	if sh.Status != model.ShareStatusActive {
		return nil, ramErr(model.ReasonRAMInvalidStateTransition, "resourceShareArn", "resource share %s is %s", sh.ARN, sh.Status)
	}
	return sh, nil
}

func checkClientToken(v *model.Validator, t *string) {
	if t != nil && !clientTokenRE.MatchString(*t) {
		v.Addf("clientToken", "clientToken must be 1 to 64 printable ASCII characters")
	}
}

func checkShareName(v *model.Validator, name string) {
	if name == "" || utf8.RuneCountInString(name) > 255 || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		v.Addf("name", "name must be 1 to 255 printable characters")
	}
}

// ShareTag is one RAM tag.
type ShareTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// checkShareTags checks RAM tags: keys of 1 to 128 characters without the
// aws: prefix, values up to 256, at most 50 on a share.
func checkShareTags(tags []ShareTag) error {
	if len(tags) > 50 {
		return ramErr(model.ReasonRAMInvalidParameter, "tags", "a resource share has at most 50 tags")
	}
	for _, t := range tags {
		if t.Key == "" || utf8.RuneCountInString(t.Key) > 128 || !utf8.ValidString(t.Key) || strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return ramErr(model.ReasonRAMInvalidParameter, "tags", "a tag key has 1 to 128 characters and does not start with aws:")
		}
		if utf8.RuneCountInString(t.Value) > 256 || !utf8.ValidString(t.Value) {
			return ramErr(model.ReasonRAMInvalidParameter, "tags", "a tag value has at most 256 characters")
		}
	}
	return nil
}

// sharePrincipal is a parsed principal: an account or an organization.
type sharePrincipal struct {
	id  string // account ID or o-...
	org bool
}

func parseSharePrincipal(p string) (sharePrincipal, error) {
	switch {
	case arn.ValidAccount(p):
		return sharePrincipal{id: p}, nil
	case ValidOrgID(p):
		return sharePrincipal{id: p, org: true}, nil
	}
	if m := orgARN.FindStringSubmatch(p); m != nil {
		return sharePrincipal{id: m[1], org: true}, nil
	}
	if strings.HasPrefix(p, "arn:") {
		if _, err := arn.Parse(p); err != nil {
			return sharePrincipal{}, ramErr(model.ReasonRAMMalformedArn, "principals", "principal %q is not a valid ARN", clip(p))
		}
	}
	return sharePrincipal{}, ramErr(model.ReasonRAMInvalidParameter, "principals",
		"principal %q is not supported: Trellis shares with 12-digit account IDs and organizations (o-... or an organization ARN)", clip(p))
}

// shareResource checks that the caller owns the Lattice resource a names
// and returns its RAM resource type.
func (s *Service) shareResource(tx store.ReadTx, c model.Caller, a string) (string, error) {
	ref, err := arn.ParseLattice(a)
	if err != nil {
		return "", ramErr(model.ReasonRAMMalformedArn, "resourceArns", "resourceArns entry %q is not a VPC Lattice ARN", clip(a))
	}
	if ref.ARN.Partition != s.cfg.Partition || ref.ARN.Region != s.cfg.Region {
		return "", ramErr(model.ReasonRAMInvalidParameter, "resourceArns", "resourceArns entry %s is not in this partition and region", a)
	}
	unknown := &model.Error{Kind: model.KindNotFound, ResourceType: "RESOURCE", ResourceID: a,
		Message: "resourceArns entry " + a + " names no resource of this account"}
	if ref.ARN.Account != c.Account {
		// Only a resource's owner may share it (RAM answers that the
		// resource is unknown to the caller).
		return "", unknown
	}
	switch ref.Kind {
	case arn.ServiceNetwork:
		sn, err := getJSON[model.ServiceNetwork](tx, pfxServiceNetwork+ref.ID)
		if err != nil {
			return "", err
		}
		if sn == nil || sn.ARN != a || sn.Account != c.Account {
			return "", unknown
		}
		if sn.SharingConfig != nil && sn.SharingConfig.Enabled != nil && !*sn.SharingConfig.Enabled {
			return "", ramErr(model.ReasonRAMOperationNotPermitted, "resourceArns", "service network %s has sharing disabled (sharingConfig.enabled=false)", a)
		}
		return model.ShareTypeServiceNetwork, nil
	case arn.Service:
		svc, err := getJSON[model.Service](tx, pfxService+ref.ID)
		if err != nil {
			return "", err
		}
		if svc == nil || svc.ARN != a || svc.Account != c.Account {
			return "", unknown
		}
		return model.ShareTypeService, nil
	case arn.ResourceConfiguration:
		rc, err := getJSON[model.ResourceConfiguration](tx, pfxResourceConfig+ref.ID)
		if err != nil {
			return "", err
		}
		if rc == nil || rc.ARN != a || rc.Account != c.Account {
			return "", unknown
		}
		if rc.Type == model.ResourceConfigurationTypeChild {
			// AWS shares a group, never one of its children on its own.
			return "", ramErr(model.ReasonRAMInvalidParameter, "resourceArns", "resourceArns entry %s is a CHILD resource configuration; share its group", a)
		}
		return model.ShareTypeResourceConfiguration, nil
	}
	return "", ramErr(model.ReasonRAMInvalidParameter, "resourceArns", "resourceArns entry %s: RAM shares VPC Lattice service networks, services and resource configurations only", a)
}

// CreateResourceShareInput is CreateResourceShare's request.
type CreateResourceShareInput struct {
	Name                    string
	ResourceArns            []string
	Principals              []string
	AllowExternalPrincipals *bool // nil: true, as RAM
	Tags                    []ShareTag
	ClientToken             *string `json:"-"`
}

// CreateResourceShare creates a share owned by the caller with its first
// resources and principals.
func (s *Service) CreateResourceShare(ctx context.Context, in CreateResourceShareInput) (*model.ResourceShare, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkShareName(&v, in.Name)
	checkClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, ramInvalid(err)
	}
	if err := checkShareTags(in.Tags); err != nil {
		return nil, err
	}
	if err := checkMemberCounts(in.ResourceArns, in.Principals); err != nil {
		return nil, err
	}
	var out *model.ResourceShare
	err = s.update(ctx, func(tx store.Tx) error {
		key, err := idempotent(tx, c.Account, "ram:CreateResourceShare", in.ClientToken, in, func() (*string, error) {
			n, err := countActiveShares(tx, c.Account)
			if err != nil {
				return nil, err
			}
			if n >= MaxResourceShares {
				return nil, &model.Error{Kind: model.KindQuota, ResourceType: model.TypeResourceShare,
					Message: "an account has at most 5000 resource shares"}
			}
			now := s.now()
			id := newUUID()
			sh := &model.ResourceShare{ARN: s.shareARN(c.Account, id), ID: id, Account: c.Account, Name: in.Name,
				AllowExternalPrincipals: in.AllowExternalPrincipals == nil || *in.AllowExternalPrincipals,
				Status:                  model.ShareStatusActive, CreatedAt: now, UpdatedAt: now}
			if len(in.Tags) > 0 {
				sh.Tags = map[string]string{}
				for _, t := range in.Tags {
					sh.Tags[t.Key] = t.Value
				}
			}
			if _, err := s.associate(tx, c, sh, in.ResourceArns, in.Principals); err != nil {
				return nil, err
			}
			k := pfxShare + c.Account + "/" + id
			return &k, putJSON(tx, k, sh)
		})
		if err != nil {
			return err
		}
		out, err = getJSON[model.ResourceShare](tx, *key)
		if err == nil && out == nil {
			err = shareNotFound(*key)
		}
		return err
	})
	return out, err
}

// ramInvalid turns a Validator's error into RAM's InvalidParameterException.
func ramInvalid(err error) error {
	if e, ok := err.(*model.Error); ok && e.Kind == model.KindValidation && e.Reason == model.ReasonFieldValidationFailed {
		e.Reason = model.ReasonRAMInvalidParameter
	}
	return err
}

func checkMemberCounts(resources, principals []string) error {
	if len(resources) > MaxShareMembersPerCall {
		return ramErr(model.ReasonRAMInvalidParameter, "resourceArns", "at most %d resourceArns per call", MaxShareMembersPerCall)
	}
	if len(principals) > MaxShareMembersPerCall {
		return ramErr(model.ReasonRAMInvalidParameter, "principals", "at most %d principals per call", MaxShareMembersPerCall)
	}
	return nil
}

func countActiveShares(tx store.ReadTx, account string) (int, error) {
	n := 0
	err := scanJSON(tx, pfxShare+account+"/", func(_ string, sh *model.ResourceShare) (bool, error) {
		if sh.Status == model.ShareStatusActive {
			n++
		}
		return true, nil
	})
	return n, err
}

func shareSuffix(sh *model.ResourceShare) string { return sh.Account + "/" + sh.ID }

func findAssoc(list []model.ShareAssociation, entity string) int {
	return slices.IndexFunc(list, func(a model.ShareAssociation) bool { return a.Entity == entity })
}

// associate adds resources and principals to sh (not yet written) and
// returns the associations it made or renewed.
func (s *Service) associate(tx store.Tx, c model.Caller, sh *model.ResourceShare, resources, principals []string) ([]model.ShareAssociation, error) {
	now := s.now()
	var changed []model.ShareAssociation
	for _, a := range resources {
		typ, err := s.shareResource(tx, c, a)
		if err != nil {
			return nil, err
		}
		i := findAssoc(sh.Resources, a)
		if i >= 0 && sh.Resources[i].Status == model.ShareAssocAssociated {
			changed = append(changed, sh.Resources[i])
			continue
		}
		as := model.ShareAssociation{Entity: a, Type: typ, Status: model.ShareAssocAssociated, CreatedAt: now, UpdatedAt: now}
		if i >= 0 {
			as.CreatedAt = sh.Resources[i].CreatedAt
			sh.Resources[i] = as
		} else {
			sh.Resources = append(sh.Resources, as)
		}
		if err := tx.Put(pfxShareByRes+a+"/"+shareSuffix(sh), nil); err != nil {
			return nil, err
		}
		changed = append(changed, as)
	}
	var owner *model.Account
	if len(principals) > 0 {
		var err error
		// An account without a record (the default account) is in no
		// organization.
		if owner, err = loadAccount(tx, c.Account); err != nil && model.KindOf(err) != model.KindNotFound {
			return nil, err
		}
	}
	for _, p := range principals {
		sp, err := parseSharePrincipal(p)
		if err != nil {
			return nil, err
		}
		ownerOrg := ""
		if owner != nil {
			ownerOrg = owner.OrgID
		}
		i := findAssoc(sh.Principals, sp.id)
		if i >= 0 && sh.Principals[i].Status != model.ShareAssocDisassociated {
			changed = append(changed, sh.Principals[i])
			continue
		}
		as := model.ShareAssociation{Entity: sp.id, Status: model.ShareAssocAssociated, CreatedAt: now, UpdatedAt: now}
		switch {
		case sp.org:
			// RAM shares with the owner's own organization only.
			if sp.id != ownerOrg {
				return nil, ramErr(model.ReasonRAMOperationNotPermitted, "principals", "principal %s is not the organization of account %s", sp.id, c.Account)
			}
		case sp.id == c.Account:
			return nil, ramErr(model.ReasonRAMInvalidParameter, "principals", "principal %s is the owner of the resource share", sp.id)
		default:
			recv, err := loadAccount(tx, sp.id)
			if err != nil && model.KindOf(err) != model.KindNotFound {
				return nil, err
			}
			if ownerOrg == "" || recv == nil || recv.OrgID != ownerOrg {
				if !sh.AllowExternalPrincipals {
					return nil, ramErr(model.ReasonRAMOperationNotPermitted, "principals",
						"principal %s is outside the organization of account %s and the resource share does not allow external principals", sp.id, c.Account)
				}
				// An account outside the organization must accept an
				// invitation first (RAM): ASSOCIATING until it does.
				inv := &model.ShareInvitation{ID: newUUID(), ShareARN: sh.ARN, ShareName: sh.Name, Sender: c.Account,
					Receiver: sp.id, Status: model.InvitationPending, CreatedAt: now}
				inv.ARN = s.invitationARN(c.Account, inv.ID)
				if err := putJSON(tx, pfxInvitation+inv.ID, inv); err != nil {
					return nil, err
				}
				if err := tx.Put(pfxInviteByRecvr+sp.id+"/"+inv.ID, nil); err != nil {
					return nil, err
				}
				as.Status, as.External, as.InvitationID = model.ShareAssocAssociating, true, inv.ID
			}
		}
		if i >= 0 {
			as.CreatedAt = sh.Principals[i].CreatedAt
			sh.Principals[i] = as
		} else {
			sh.Principals = append(sh.Principals, as)
		}
		if as.Status == model.ShareAssocAssociated {
			if err := tx.Put(pfxShareByPrin+sp.id+"/"+shareSuffix(sh), nil); err != nil {
				return nil, err
			}
		}
		changed = append(changed, as)
	}
	if len(sh.Resources) > MaxShareMembers || len(sh.Principals) > MaxShareMembers {
		return nil, ramErr(model.ReasonRAMInvalidParameter, "resourceArns", "a resource share has at most %d resources and %d principals", MaxShareMembers, MaxShareMembers)
	}
	if len(changed) > 0 {
		sh.UpdatedAt = now
	}
	return changed, nil
}

// disassociate removes resources and principals from sh (not yet written):
// their associations become DISASSOCIATED, their index entries go, and a
// pending invitation of a principal expires with it.
func (s *Service) disassociate(tx store.Tx, sh *model.ResourceShare, resources, principals []string, why string) ([]model.ShareAssociation, error) {
	now := s.now()
	var changed []model.ShareAssociation
	for _, a := range resources {
		i := findAssoc(sh.Resources, a)
		if i < 0 || sh.Resources[i].Status == model.ShareAssocDisassociated {
			if strings.HasPrefix(a, "arn:") {
				return nil, &model.Error{Kind: model.KindNotFound, ResourceType: "RESOURCE", ResourceID: a,
					Message: "resource " + clip(a) + " is not associated with resource share " + sh.ARN}
			}
			return nil, ramErr(model.ReasonRAMMalformedArn, "resourceArns", "resourceArns entry %q is not an ARN", clip(a))
		}
		sh.Resources[i].Status, sh.Resources[i].StatusMessage, sh.Resources[i].UpdatedAt = model.ShareAssocDisassociated, why, now
		if err := tx.Delete(pfxShareByRes + a + "/" + shareSuffix(sh)); err != nil {
			return nil, err
		}
		changed = append(changed, sh.Resources[i])
	}
	for _, p := range principals {
		sp, err := parseSharePrincipal(p)
		if err != nil {
			return nil, err
		}
		i := findAssoc(sh.Principals, sp.id)
		if i < 0 || sh.Principals[i].Status == model.ShareAssocDisassociated {
			return nil, &model.Error{Kind: model.KindNotFound, ResourceType: "PRINCIPAL", ResourceID: sp.id,
				Message: "principal " + sp.id + " is not associated with resource share " + sh.ARN}
		}
		if err := s.dropPrincipal(tx, sh, i, why, model.InvitationRejected); err != nil {
			return nil, err
		}
		changed = append(changed, sh.Principals[i])
	}
	if len(changed) > 0 {
		sh.UpdatedAt = now
	}
	return changed, nil
}

// dropPrincipal disassociates principal i of sh; a still pending
// invitation is closed with status inv.
func (s *Service) dropPrincipal(tx store.Tx, sh *model.ResourceShare, i int, why, inv string) error {
	as := &sh.Principals[i]
	as.Status, as.StatusMessage, as.UpdatedAt = model.ShareAssocDisassociated, why, s.now()
	if err := tx.Delete(pfxShareByPrin + as.Entity + "/" + shareSuffix(sh)); err != nil {
		return err
	}
	if as.InvitationID == "" {
		return nil
	}
	iv, err := getJSON[model.ShareInvitation](tx, pfxInvitation+as.InvitationID)
	if err != nil || iv == nil || iv.Status != model.InvitationPending {
		return err
	}
	iv.Status = inv
	return putJSON(tx, pfxInvitation+iv.ID, iv)
}

// UpdateResourceShare changes a share's name and allowExternalPrincipals.
func (s *Service) UpdateResourceShare(ctx context.Context, shareArn string, name *string, allowExternal *bool) (*model.ResourceShare, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if name != nil {
		var v model.Validator
		checkShareName(&v, *name)
		if err := v.Err(); err != nil {
			return nil, ramInvalid(err)
		}
	}
	var out *model.ResourceShare
	err = s.update(ctx, func(tx store.Tx) error {
		sh, err := loadActiveOwnShare(tx, c, shareArn)
		if err != nil {
			return err
		}
		if name != nil {
			sh.Name = *name
		}
		if allowExternal != nil {
			sh.AllowExternalPrincipals = *allowExternal
		}
		sh.UpdatedAt = s.now()
		out = sh
		return putJSON(tx, pfxShare+shareSuffix(sh), sh)
	})
	return out, err
}

// DeleteResourceShare marks a share DELETED: every association becomes
// DISASSOCIATED and the indexes forget it, so no principal is shared with
// any more; the record stays, listed with status DELETED, as RAM lists
// deleted shares for a while (Trellis keeps them).
func (s *Service) DeleteResourceShare(ctx context.Context, shareArn string, clientToken *string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	var v model.Validator
	checkClientToken(&v, clientToken)
	if err := v.Err(); err != nil {
		return ramInvalid(err)
	}
	return s.update(ctx, func(tx store.Tx) error {
		sh, err := loadOwnShare(tx, c, shareArn)
		if err != nil {
			return err
		}
		if sh.Status == model.ShareStatusDeleted {
			return nil // a repeated delete (RAM answers it the same)
		}
		var res, prin []string
		for _, a := range sh.Resources {
			if a.Status != model.ShareAssocDisassociated {
				res = append(res, a.Entity)
			}
		}
		for _, a := range sh.Principals {
			if a.Status != model.ShareAssocDisassociated {
				prin = append(prin, a.Entity)
			}
		}
		if _, err := s.disassociate(tx, sh, res, prin, "the resource share was deleted"); err != nil {
			return err
		}
		sh.Status, sh.UpdatedAt = model.ShareStatusDeleted, s.now()
		if err := putJSON(tx, pfxShare+shareSuffix(sh), sh); err != nil {
			return err
		}
		// The associations the share enabled go with it (crossaccount.go).
		return s.revokeUnshared(tx, res)
	})
}

// AssociateResourceShare adds resources and principals to the caller's
// share and returns their associations.
func (s *Service) AssociateResourceShare(ctx context.Context, shareArn string, resources, principals []string, clientToken *string) ([]model.ShareAssociation, *model.ResourceShare, error) {
	return s.changeShare(ctx, shareArn, resources, principals, clientToken, true)
}

// DisassociateResourceShare removes resources and principals from the
// caller's share and returns their (DISASSOCIATED) associations.
func (s *Service) DisassociateResourceShare(ctx context.Context, shareArn string, resources, principals []string, clientToken *string) ([]model.ShareAssociation, *model.ResourceShare, error) {
	return s.changeShare(ctx, shareArn, resources, principals, clientToken, false)
}

func (s *Service) changeShare(ctx context.Context, shareArn string, resources, principals []string, clientToken *string, add bool) ([]model.ShareAssociation, *model.ResourceShare, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var v model.Validator
	checkClientToken(&v, clientToken)
	if err := v.Err(); err != nil {
		return nil, nil, ramInvalid(err)
	}
	if len(resources) == 0 && len(principals) == 0 {
		return nil, nil, ramErr(model.ReasonRAMInvalidParameter, "resourceArns", "give resourceArns or principals")
	}
	if err := checkMemberCounts(resources, principals); err != nil {
		return nil, nil, err
	}
	var out []model.ShareAssociation
	var share *model.ResourceShare
	err = s.update(ctx, func(tx store.Tx) error {
		sh, err := loadActiveOwnShare(tx, c, shareArn)
		if err != nil {
			return err
		}
		if add {
			out, err = s.associate(tx, c, sh, resources, principals)
		} else {
			out, err = s.disassociate(tx, sh, resources, principals, "disassociated by the owner")
		}
		if err != nil {
			return err
		}
		share = sh
		if err := putJSON(tx, pfxShare+shareSuffix(sh), sh); err != nil {
			return err
		}
		if add {
			return nil
		}
		// Associations the share no longer covers go in this transaction
		// (crossaccount.go): every resource of the share when principals
		// left, else the resources taken out.
		revoke := resources
		if len(principals) > 0 {
			revoke = revoke[:0:0]
			for _, r := range sh.Resources {
				revoke = append(revoke, r.Entity)
			}
		}
		return s.revokeUnshared(tx, revoke)
	})
	return out, share, err
}

// AnswerInvitation accepts or rejects an invitation the caller received.
// Accepting makes the caller's association ASSOCIATED (it then sees the
// share); rejecting makes it DISASSOCIATED.
func (s *Service) AnswerInvitation(ctx context.Context, invitationArn string, accept bool) (*model.ShareInvitation, *model.ShareAssociation, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := invitationARN.FindStringSubmatch(invitationArn)
	if m == nil {
		return nil, nil, ramErr(model.ReasonRAMMalformedArn, "resourceShareInvitationArn",
			"resourceShareInvitationArn %q is not a resource share invitation ARN", clip(invitationArn))
	}
	var inv *model.ShareInvitation
	var assoc *model.ShareAssociation
	err = s.update(ctx, func(tx store.Tx) error {
		iv, err := getJSON[model.ShareInvitation](tx, pfxInvitation+m[4])
		if err != nil {
			return err
		}
		if iv == nil || iv.ARN != invitationArn || iv.Receiver != c.Account {
			return ramErr(model.ReasonRAMInvitationNotFound, "resourceShareInvitationArn",
				"resource share invitation %s does not exist or was not sent to this account", invitationArn)
		}
		switch iv.Status {
		case model.InvitationAccepted:
			return &model.Error{Kind: model.KindConflict, Reason: model.ReasonRAMAlreadyAccepted,
				Message: "resource share invitation " + iv.ARN + " was already accepted"}
		case model.InvitationRejected:
			return &model.Error{Kind: model.KindConflict, Reason: model.ReasonRAMAlreadyRejected,
				Message: "resource share invitation " + iv.ARN + " was already rejected"}
		}
		key, _ := shareKeyOf("resourceShareArn", iv.ShareARN)
		sh, err := getJSON[model.ResourceShare](tx, key)
		if err != nil {
			return err
		}
		i := -1
		if sh != nil {
			i = findAssoc(sh.Principals, c.Account)
		}
		if i < 0 || sh.Principals[i].InvitationID != iv.ID || sh.Principals[i].Status != model.ShareAssocAssociating {
			return ramErr(model.ReasonRAMInvalidStateTransition, "resourceShareInvitationArn", "resource share invitation %s is no longer pending", iv.ARN)
		}
		now := s.now()
		if accept {
			iv.Status = model.InvitationAccepted
			sh.Principals[i].Status, sh.Principals[i].UpdatedAt = model.ShareAssocAssociated, now
			if err := tx.Put(pfxShareByPrin+c.Account+"/"+shareSuffix(sh), nil); err != nil {
				return err
			}
		} else {
			iv.Status = model.InvitationRejected
			sh.Principals[i].Status, sh.Principals[i].StatusMessage, sh.Principals[i].UpdatedAt =
				model.ShareAssocDisassociated, "the invitation was rejected", now
		}
		sh.UpdatedAt = now
		if err := putJSON(tx, pfxInvitation+iv.ID, iv); err != nil {
			return err
		}
		inv, assoc = iv, &sh.Principals[i]
		return putJSON(tx, key, sh)
	})
	return inv, assoc, err
}

// ChangeShareTags adds (or, with remove, removes by key) tags of the
// caller's share.
func (s *Service) ChangeShareTags(ctx context.Context, shareArn string, tags []ShareTag, removeKeys []string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := checkShareTags(tags); err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		sh, err := loadOwnShare(tx, c, shareArn)
		if err != nil {
			return err
		}
		if sh.Tags == nil {
			sh.Tags = map[string]string{}
		}
		for _, t := range tags {
			sh.Tags[t.Key] = t.Value
		}
		for _, k := range removeKeys {
			delete(sh.Tags, k)
		}
		if len(sh.Tags) > 50 {
			return ramErr(model.ReasonRAMInvalidParameter, "tags", "a resource share has at most 50 tags")
		}
		return putJSON(tx, pfxShare+shareSuffix(sh), sh)
	})
}

// ---- reading ----

// Resource owners of RAM's list operations.
const (
	OwnerSelf  = "SELF"
	OwnerOther = "OTHER-ACCOUNTS"
)

// principalKeys are the principal index entries that stand for account:
// itself and its organization.
func principalKeys(tx store.ReadTx, account string) ([]string, error) {
	keys := []string{account}
	a, err := loadAccount(tx, account)
	if err != nil && model.KindOf(err) != model.KindNotFound {
		return nil, err
	}
	if a != nil && a.OrgID != "" {
		keys = append(keys, a.OrgID)
	}
	return keys, nil
}

// visibleShares returns the shares the caller owns (SELF) or is an
// ASSOCIATED principal of (OTHER-ACCOUNTS), in key order.
func visibleShares(tx store.ReadTx, account, owner string) ([]*model.ResourceShare, error) {
	var out []*model.ResourceShare
	if owner == OwnerSelf {
		err := scanJSON(tx, pfxShare+account+"/", func(_ string, sh *model.ResourceShare) (bool, error) {
			out = append(out, sh)
			return true, nil
		})
		return out, err
	}
	keys, err := principalKeys(tx, account)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range keys {
		err := tx.Scan(pfxShareByPrin+p+"/", "", func(k string, _ []byte) (bool, error) {
			suffix := strings.TrimPrefix(k, pfxShareByPrin+p+"/")
			if seen[suffix] {
				return true, nil
			}
			seen[suffix] = true
			sh, err := getJSON[model.ResourceShare](tx, pfxShare+suffix)
			if err != nil || sh == nil {
				return err == nil, err
			}
			if sh.Account == account || sh.Status != model.ShareStatusActive {
				return true, nil
			}
			if ok, err := coversThrough(tx, sh, account, p); err != nil || !ok {
				return err == nil, err
			}
			out = append(out, sh)
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b *model.ResourceShare) int { return strings.Compare(shareSuffix(a), shareSuffix(b)) })
	return out, nil
}

// coversThrough reports whether share sh, holding principal p (one of
// account's principalKeys), covers account: p is the account itself, or
// an organization the share's owner is still in — RAM shares with an
// organization only from inside it, so a share whose owner has left the
// organization covers nobody there.
func coversThrough(tx store.ReadTx, sh *model.ResourceShare, account, p string) (bool, error) {
	if p == account {
		return true, nil
	}
	ownerKeys, err := principalKeys(tx, sh.Account)
	if err != nil {
		return false, err
	}
	return slices.Contains(ownerKeys, p), nil
}

func checkOwner(owner string) error {
	if owner != OwnerSelf && owner != OwnerOther {
		return ramErr(model.ReasonRAMInvalidParameter, "resourceOwner", "resourceOwner must be SELF or OTHER-ACCOUNTS")
	}
	return nil
}

// pageOf returns one page of items, in key order, after the page's
// token, and the next token. RAM's maxResults is 1 to 500.
func pageOf[T any](items []T, key func(T) string, p Page) ([]T, string, error) {
	if p.MaxResults < 0 || p.MaxResults > 500 {
		return nil, "", ramErr(model.ReasonRAMInvalidMaxResults, "maxResults", "maxResults must be 1 to 500")
	}
	// A share's associations are in the order they were made, not in key
	// order: sort, so that a token resumes exactly after its page.
	slices.SortStableFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	after := ""
	if p.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(p.NextToken)
		if err != nil || !strings.HasPrefix(string(b), "ram:") {
			return nil, "", ramErr(model.ReasonRAMInvalidNextToken, "nextToken", "nextToken is not a token this operation returned")
		}
		after = string(b[4:])
	}
	limit := p.limit()
	start := 0
	if after != "" {
		start = len(items)
		for i, it := range items {
			if key(it) > after {
				start = i
				break
			}
		}
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("ram:" + key(items[end-1])))
	}
	return items[start:end], next, nil
}

// GetResourceSharesInput is GetResourceShares' request.
type GetResourceSharesInput struct {
	ResourceOwner string
	ShareArns     []string
	Status        string
	Name          string
	TagFilters    []TagFilter
	Page          Page
}

// TagFilter is RAM's TagFilter: a key, and values of which one must match
// (any value when none).
type TagFilter struct {
	Key    string
	Values []string
}

// GetResourceShares lists the shares the caller owns or that are shared
// with it.
func (s *Service) GetResourceShares(ctx context.Context, in GetResourceSharesInput) ([]*model.ResourceShare, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := checkOwner(in.ResourceOwner); err != nil {
		return nil, "", err
	}
	for _, a := range in.ShareArns {
		if _, err := shareKeyOf("resourceShareArns", a); err != nil {
			return nil, "", err
		}
	}
	var all []*model.ResourceShare
	err = s.view(ctx, func(tx store.ReadTx) error {
		all, err = visibleShares(tx, c.Account, in.ResourceOwner)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	all = slices.DeleteFunc(all, func(sh *model.ResourceShare) bool {
		if len(in.ShareArns) > 0 && !slices.Contains(in.ShareArns, sh.ARN) {
			return true
		}
		if in.Status != "" && sh.Status != in.Status {
			return true
		}
		if in.Name != "" && sh.Name != in.Name {
			return true
		}
		for _, f := range in.TagFilters {
			v, ok := sh.Tags[f.Key]
			if !ok || (len(f.Values) > 0 && !slices.Contains(f.Values, v)) {
				return true
			}
		}
		return false
	})
	return pageOf(all, func(sh *model.ResourceShare) string { return shareSuffix(sh) }, in.Page)
}

// ShareAssociationView is one association as GetResourceShareAssociations
// answers it.
type ShareAssociationView struct {
	model.ShareAssociation
	ShareARN, ShareName string
	Principal           bool
}

// GetResourceShareAssociationsInput is its operation's request.
type GetResourceShareAssociationsInput struct {
	AssociationType string // PRINCIPAL or RESOURCE
	ShareArns       []string
	ResourceArn     string
	Principal       string
	Status          string
	Page            Page
}

// GetResourceShareAssociations lists the associations of the caller's
// shares; for PRINCIPAL, also the caller's own associations with shares
// of other accounts.
func (s *Service) GetResourceShareAssociations(ctx context.Context, in GetResourceShareAssociationsInput) ([]ShareAssociationView, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	principal := in.AssociationType == "PRINCIPAL"
	switch {
	case in.AssociationType != "PRINCIPAL" && in.AssociationType != "RESOURCE":
		return nil, "", ramErr(model.ReasonRAMInvalidParameter, "associationType", "associationType must be PRINCIPAL or RESOURCE")
	case principal && in.ResourceArn != "":
		return nil, "", ramErr(model.ReasonRAMInvalidParameter, "resourceArn", "resourceArn filters RESOURCE associations only")
	case !principal && in.Principal != "":
		return nil, "", ramErr(model.ReasonRAMInvalidParameter, "principal", "principal filters PRINCIPAL associations only")
	}
	for _, a := range in.ShareArns {
		if _, err := shareKeyOf("resourceShareArns", a); err != nil {
			return nil, "", err
		}
	}
	var out []ShareAssociationView
	err = s.view(ctx, func(tx store.ReadTx) error {
		own, err := visibleShares(tx, c.Account, OwnerSelf)
		if err != nil {
			return err
		}
		add := func(sh *model.ResourceShare, list []model.ShareAssociation, only string) {
			if len(in.ShareArns) > 0 && !slices.Contains(in.ShareArns, sh.ARN) {
				return
			}
			for _, a := range list {
				if (only != "" && a.Entity != only) || (in.Status != "" && a.Status != in.Status) ||
					(in.ResourceArn != "" && a.Entity != in.ResourceArn) || (in.Principal != "" && a.Entity != in.Principal) {
					continue
				}
				out = append(out, ShareAssociationView{ShareAssociation: a, ShareARN: sh.ARN, ShareName: sh.Name, Principal: principal})
			}
		}
		for _, sh := range own {
			if principal {
				add(sh, sh.Principals, "")
			} else {
				add(sh, sh.Resources, "")
			}
		}
		if principal {
			other, err := visibleShares(tx, c.Account, OwnerOther)
			if err != nil {
				return err
			}
			for _, sh := range other {
				add(sh, sh.Principals, c.Account)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return pageOf(out, func(v ShareAssociationView) string { return v.ShareARN + "|" + v.Entity }, in.Page)
}

// GetResourceShareInvitations lists the invitations the caller received.
func (s *Service) GetResourceShareInvitations(ctx context.Context, invitationArns, shareArns []string, p Page) ([]*model.ShareInvitation, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, a := range invitationArns {
		if !invitationARN.MatchString(a) {
			return nil, "", ramErr(model.ReasonRAMMalformedArn, "resourceShareInvitationArns", "%q is not a resource share invitation ARN", clip(a))
		}
	}
	var out []*model.ShareInvitation
	err = s.view(ctx, func(tx store.ReadTx) error {
		return tx.Scan(pfxInviteByRecvr+c.Account+"/", "", func(k string, _ []byte) (bool, error) {
			iv, err := getJSON[model.ShareInvitation](tx, pfxInvitation+k[strings.LastIndexByte(k, '/')+1:])
			if err != nil || iv == nil {
				return err == nil, err
			}
			if (len(invitationArns) == 0 || slices.Contains(invitationArns, iv.ARN)) &&
				(len(shareArns) == 0 || slices.Contains(shareArns, iv.ShareARN)) {
				out = append(out, iv)
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return pageOf(out, func(iv *model.ShareInvitation) string { return iv.ID }, p)
}

// ShareAssociationsOf returns the caller's associations with the share
// of an invitation (for the invitation's answer).
func (s *Service) ShareAssociationsOf(ctx context.Context, iv *model.ShareInvitation) []model.ShareAssociation {
	var out []model.ShareAssociation
	_ = s.view(ctx, func(tx store.ReadTx) error {
		key, err := shareKeyOf("resourceShareArn", iv.ShareARN)
		if err != nil {
			return err
		}
		sh, err := getJSON[model.ResourceShare](tx, key)
		if err != nil || sh == nil {
			return err
		}
		if i := findAssoc(sh.Principals, iv.Receiver); i >= 0 && sh.Principals[i].InvitationID == iv.ID {
			out = append(out, sh.Principals[i])
		}
		return nil
	})
	return out
}

// SharedResource is one resource of a share (ListResources).
type SharedResource struct {
	model.ShareAssociation
	ShareARN string
}

// ListSharesInput is ListResources' and ListPrincipals' request.
type ListSharesInput struct {
	ResourceOwner string
	Principal     string   // ListResources, SELF: the resources shared with this principal
	Principals    []string // ListPrincipals
	ResourceArn   string   // ListPrincipals
	ResourceArns  []string // ListResources
	ResourceType  string
	ShareArns     []string
	Page          Page
}

func (in *ListSharesInput) check() error {
	if err := checkOwner(in.ResourceOwner); err != nil {
		return err
	}
	if in.ResourceType != "" && !slices.ContainsFunc(ShareTypes, func(t string) bool { return strings.EqualFold(t, in.ResourceType) }) {
		return ramErr(model.ReasonRAMInvalidParameter, "resourceType", "resourceType must be one of %s", strings.Join(ShareTypes, ", "))
	}
	for _, a := range in.ShareArns {
		if _, err := shareKeyOf("resourceShareArns", a); err != nil {
			return err
		}
	}
	return nil
}

func (in *ListSharesInput) shares(tx store.ReadTx, account string) ([]*model.ResourceShare, error) {
	all, err := visibleShares(tx, account, in.ResourceOwner)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(sh *model.ResourceShare) bool {
		return sh.Status != model.ShareStatusActive || (len(in.ShareArns) > 0 && !slices.Contains(in.ShareArns, sh.ARN))
	}), nil
}

func associated(list []model.ShareAssociation, entity string) bool {
	i := findAssoc(list, entity)
	return i >= 0 && list[i].Status == model.ShareAssocAssociated
}

// ListSharedResources (RAM ListResources) lists the resources the caller shares (SELF) or that are
// shared with it (OTHER-ACCOUNTS).
func (s *Service) ListSharedResources(ctx context.Context, in ListSharesInput) ([]SharedResource, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := in.check(); err != nil {
		return nil, "", err
	}
	if in.Principal != "" {
		if in.ResourceOwner != OwnerSelf {
			return nil, "", ramErr(model.ReasonRAMInvalidParameter, "principal", "principal filters resourceOwner SELF only")
		}
		sp, err := parseSharePrincipal(in.Principal)
		if err != nil {
			return nil, "", err
		}
		in.Principal = sp.id
	}
	var out []SharedResource
	err = s.view(ctx, func(tx store.ReadTx) error {
		shares, err := in.shares(tx, c.Account)
		if err != nil {
			return err
		}
		for _, sh := range shares {
			if in.Principal != "" && !associated(sh.Principals, in.Principal) {
				continue
			}
			for _, r := range sh.Resources {
				if r.Status != model.ShareAssocAssociated ||
					(in.ResourceType != "" && !strings.EqualFold(r.Type, in.ResourceType)) ||
					(len(in.ResourceArns) > 0 && !slices.Contains(in.ResourceArns, r.Entity)) {
					continue
				}
				out = append(out, SharedResource{ShareAssociation: r, ShareARN: sh.ARN})
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return pageOf(out, func(r SharedResource) string { return r.ShareARN + "|" + r.Entity }, in.Page)
}

// SharedPrincipal is one principal of ListPrincipals: for SELF a principal
// the caller shares with, for OTHER-ACCOUNTS the owner that shares with
// the caller.
type SharedPrincipal struct {
	ID, ShareARN string
	External     bool
	// Times are the association's (SELF) or the share's (OTHER-ACCOUNTS).
	Times model.ShareAssociation
}

// ListSharePrincipals (RAM ListPrincipals) lists the principals the caller shares with (SELF), or
// the accounts that share with it (OTHER-ACCOUNTS).
func (s *Service) ListSharePrincipals(ctx context.Context, in ListSharesInput) ([]SharedPrincipal, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := in.check(); err != nil {
		return nil, "", err
	}
	var want []string
	for _, p := range in.Principals {
		sp, err := parseSharePrincipal(p)
		if err != nil {
			return nil, "", err
		}
		want = append(want, sp.id)
	}
	var out []SharedPrincipal
	err = s.view(ctx, func(tx store.ReadTx) error {
		shares, err := in.shares(tx, c.Account)
		if err != nil {
			return err
		}
		for _, sh := range shares {
			hasRes := false
			for _, r := range sh.Resources {
				if r.Status == model.ShareAssocAssociated && (in.ResourceArn == "" || r.Entity == in.ResourceArn) &&
					(in.ResourceType == "" || strings.EqualFold(r.Type, in.ResourceType)) {
					hasRes = true
				}
			}
			if (in.ResourceArn != "" || in.ResourceType != "") && !hasRes {
				continue
			}
			if in.ResourceOwner == OwnerOther {
				if len(want) == 0 || slices.Contains(want, sh.Account) {
					out = append(out, SharedPrincipal{ID: sh.Account, ShareARN: sh.ARN,
						Times: model.ShareAssociation{CreatedAt: sh.CreatedAt, UpdatedAt: sh.UpdatedAt}})
				}
				continue
			}
			for _, p := range sh.Principals {
				if p.Status != model.ShareAssocAssociated || (len(want) > 0 && !slices.Contains(want, p.Entity)) {
					continue
				}
				out = append(out, SharedPrincipal{ID: p.Entity, ShareARN: sh.ARN, External: p.External, Times: p})
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return pageOf(out, func(p SharedPrincipal) string { return p.ShareARN + "|" + p.ID }, in.Page)
}

// ---- for the cross-account Lattice operations (issue 16, item 2) ----

// SharedWith reports whether resourceARN is shared with account: an
// ACTIVE share holds the resource ASSOCIATED and the account, or its
// organization, as an ASSOCIATED principal. It answers the first such
// share's ARN. It does not look at the caller: the Lattice operations
// that take a shared resource ask it about their caller's account.
func (s *Service) SharedWith(ctx context.Context, account, resourceARN string) (bool, string, error) {
	var ok bool
	var shareArn string
	err := s.view(ctx, func(tx store.ReadTx) error {
		var err error
		ok, shareArn, err = sharedWith(tx, account, resourceARN)
		return err
	})
	return ok, shareArn, err
}

// sharedWith is SharedWith inside a transaction, for a write that must
// see the share as of its own reads.
func sharedWith(tx store.ReadTx, account, resourceARN string) (bool, string, error) {
	keys, err := principalKeys(tx, account)
	if err != nil {
		return false, "", err
	}
	var found string
	err = tx.Scan(pfxShareByRes+resourceARN+"/", "", func(k string, _ []byte) (bool, error) {
		sh, err := getJSON[model.ResourceShare](tx, pfxShare+strings.TrimPrefix(k, pfxShareByRes+resourceARN+"/"))
		if err != nil || sh == nil {
			return err == nil, err
		}
		if sh.Status != model.ShareStatusActive || sh.Account == account || !associated(sh.Resources, resourceARN) {
			return true, nil
		}
		for _, p := range keys {
			if !associated(sh.Principals, p) {
				continue
			}
			if ok, err := coversThrough(tx, sh, account, p); err != nil || !ok {
				if err != nil {
					return false, err
				}
				continue
			}
			found = sh.ARN
			return false, nil
		}
		return true, nil
	})
	return found != "", found, err
}
