package service

import (
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// Cross-account references. No account may touch or use another's
// resources unless an ACTIVE RAM share with the resource, and the account
// (or its organization) ASSOCIATED, says so (share.go, docs/ram.md
// "Cross-account Lattice"):
//
//   - Lattice resources named by ID or ARN (networks, services, listeners,
//     rules, target groups, associations, subscriptions, policies, tags) are
//     resolved by loadOwned / owned and tagged: another account's resource
//     is ResourceNotFoundException, as if it did not exist. That covers
//     forward actions to its target groups, registering targets in them,
//     its policies, its tags, updating or deleting it.
//   - The exceptions are the ones a share grants (loadShared): a service
//     network or service shared with the caller, named by its full ARN
//     (Lattice: "use ARNs, not IDs, to reference a service network owned
//     by another account"), may be read (Get, List) and be one end of an
//     association the caller creates; an association is read and deleted
//     by its owner and by the owners of its ends (loadAssocParty).
//   - When a share stops covering an account, the associations it enabled
//     go in the same transaction (revokeUnshared), as AWS removes them.
//   - VPCs: see vpc.go (ensureVPC, loadVPC).
//   - ARNs of resources outside Lattice that Trellis will write to, invoke or
//     serve (an access log destination, a Lambda function or load balancer
//     target, a certificate) must be in the caller's account, as AWS requires
//     for Lambda targets and certificates and allows for log destinations
//     only with a resource policy, which Trellis does not have:
//     AccessDeniedException otherwise. S3 bucket ARNs carry no account;
//     the data plane writes each account's logs under its own
//     AWSLogs/<account>/ prefix, as S3 delivery does.
//
// The installation's administrator may act in any account, here as for
// identities and VPCs.

// TargetFailureAccessDenied is the failure code of a target the caller may
// not register (a Lambda function or load balancer of another account).
const TargetFailureAccessDenied = "AccessDeniedException"

// mayReferTo reports whether c may refer to a resource of account.
func (s *Service) mayReferTo(c model.Caller, account string) bool {
	return account == c.Account || s.IsAdmin(c)
}

// checkForeignARN returns AccessDeniedException when the ARN in field
// (already validated) names a resource of another account than the
// caller's. An ARN without an account (an S3 bucket) passes.
func (s *Service) checkForeignARN(c model.Caller, field, what, value string) error {
	a, err := arn.Parse(value)
	if err != nil || a.Account == "" || s.mayReferTo(c, a.Account) {
		return nil
	}
	return model.AccessDenied("%s is not authorized to use %s %s (%s): it belongs to account %s (shares cover service networks and services only)",
		who(c), what, value, field, a.Account)
}

// checkTargetAccount refuses a LAMBDA or ALB target of another account:
// the target group would invoke its function or forward to its load
// balancer (Lattice: a Lambda target is in the target group's account).
func (s *Service) checkTargetAccount(c model.Caller, tg *model.TargetGroup, i int, id string) error {
	var what string
	switch tg.Type {
	case model.TargetGroupTypeLambda:
		what = "Lambda function"
	case model.TargetGroupTypeALB:
		what = "load balancer"
	default:
		return nil
	}
	return s.checkForeignARN(c, "targets["+strconv.Itoa(i)+"].id", what, id)
}

// loadShared is loadOwned that also answers with another account's
// resource shared with the caller, when ident is the resource's full ARN:
// by ID only the caller's own resources are found, as in Lattice, so an
// ID can never name another account's resource. foreign reports that the
// resource is another account's (the caller may read and associate it,
// nothing else). Anything else stays ResourceNotFoundException, the
// answer of loadOwned, so that an unshared resource is not disclosed.
func loadShared[T any, P metaPtr[T]](tx store.ReadTx, c model.Caller, kind arn.Kind, prefix, resourceType, field, ident string) (v *T, foreign bool, err error) {
	v, err = loadOwned[T, P](tx, c, kind, prefix, resourceType, field, ident)
	if v == nil || model.KindOf(err) != model.KindNotFound {
		return v, false, err
	}
	m := P(v).GetMeta()
	ref, rerr := resolve(kind, field, ident)
	if rerr != nil || ref.ARN.Resource == "" || ref.ARN.String() != m.ARN {
		return nil, false, err
	}
	ok, _, serr := sharedWith(tx, c.Account, m.ARN)
	if serr != nil {
		return nil, false, serr
	}
	if !ok {
		return nil, false, err
	}
	return v, true, nil
}

func (s *Service) loadSharedNetwork(tx store.ReadTx, c model.Caller, ident string) (*model.ServiceNetwork, bool, error) {
	return loadShared[model.ServiceNetwork](tx, c, arn.ServiceNetwork, pfxServiceNetwork, model.TypeServiceNetwork, "serviceNetworkIdentifier", ident)
}

func (s *Service) loadSharedService(tx store.ReadTx, c model.Caller, ident string) (*model.Service, bool, error) {
	return loadShared[model.Service](tx, c, arn.Service, pfxService, model.TypeService, "serviceIdentifier", ident)
}

// sharedARNs returns the ARNs of the resources shared with account (by
// ACTIVE shares where it, or its organization, is ASSOCIATED), for the
// service directory (ListServiceNetworks, ListServices).
func sharedARNs(tx store.ReadTx, account string) (map[string]bool, error) {
	shares, err := visibleShares(tx, account, OwnerOther)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, sh := range shares {
		for _, r := range sh.Resources {
			if r.Status == model.ShareAssocAssociated {
				out[r.Entity] = true
			}
		}
	}
	return out, nil
}

// mayUse reports whether account may use the resource of owner with ARN
// a: it owns it or the resource is shared with it.
func mayUse(tx store.ReadTx, account, owner, a string) (bool, error) {
	if account == owner {
		return true, nil
	}
	ok, _, err := sharedWith(tx, account, a)
	return ok, err
}

// accountOf returns the owner of a service network or service, "" when it
// is gone.
func accountOf[T any, P metaPtr[T]](tx store.ReadTx, key string) (string, error) {
	v, err := getJSON[T](tx, key)
	if err != nil || v == nil {
		return "", err
	}
	return P(v).GetMeta().Account, nil
}

// loadAssocParty resolves an association for reading or deleting: the
// caller owns it (loadOwned), or owns one of its ends (a network owner
// sees and may remove what other accounts associated with its network; a
// service owner what associates its service; AWS lets both sides delete).
// Such a party may name it by ID or ARN: the association involves its own
// resource. Anyone else: ResourceNotFoundException.
func loadAssocParty[T any, P metaPtr[T]](tx store.ReadTx, c model.Caller, kind arn.Kind, prefix, resourceType, field, ident string, ends func(*T) []string) (*T, error) {
	v, err := loadOwned[T, P](tx, c, kind, prefix, resourceType, field, ident)
	if v == nil || model.KindOf(err) != model.KindNotFound {
		return v, err
	}
	ref, rerr := resolve(kind, field, ident)
	if rerr != nil || (ref.ARN.Resource != "" && ref.ARN.String() != P(v).GetMeta().ARN) {
		return nil, err
	}
	for _, k := range ends(v) {
		var owner string
		var oerr error
		switch {
		case strings.HasPrefix(k, pfxServiceNetwork):
			owner, oerr = accountOf[model.ServiceNetwork](tx, k)
		case strings.HasPrefix(k, pfxResourceConfig):
			owner, oerr = accountOf[model.ResourceConfiguration](tx, k)
		default:
			owner, oerr = accountOf[model.Service](tx, k)
		}
		if oerr != nil {
			return nil, oerr
		}
		if owner != "" && owner == c.Account {
			return v, nil
		}
	}
	return nil, err
}

// snsaEnds and snvaEnds are the store keys of an association's ends that
// belong to some account (a VPC association's VPC is handled by
// loadSNVAToDelete).
func snsaEnds(a *model.ServiceNetworkServiceAssociation) []string {
	return []string{pfxServiceNetwork + a.ServiceNetworkID, pfxService + a.ServiceID}
}

func snvaEnds(a *model.ServiceNetworkVpcAssociation) []string {
	return []string{pfxServiceNetwork + a.ServiceNetworkID}
}

// revokeUnshared removes the associations that involve the resources with
// the given ARNs and whose owner may no longer use the other account's
// end: a share changed in tx (deleted, a resource or principal
// disassociated) and no longer covers it. AWS removes such associations;
// doing it in the share's own transaction means the next snapshot stops
// routing through them at once. It must run after the share is written.
func (s *Service) revokeUnshared(tx store.Tx, resourceARNs []string) error {
	for _, a := range resourceARNs {
		p, err := arn.Parse(a)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(p.Resource, "servicenetwork/"):
			id := strings.TrimPrefix(p.Resource, "servicenetwork/")
			if err := s.revokeOnNetwork(tx, id); err != nil {
				return err
			}
		case strings.HasPrefix(p.Resource, "service/"):
			id := strings.TrimPrefix(p.Resource, "service/")
			if err := s.revokeSNSAs(tx, pfxSNSAbySvc+id+"/"); err != nil {
				return err
			}
		case strings.HasPrefix(p.Resource, "resourceconfiguration/"):
			id := strings.TrimPrefix(p.Resource, "resourceconfiguration/")
			if err := revokeSNRAs(tx, pfxSNRAbyRcfg+id+"/"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) revokeOnNetwork(tx store.Tx, snID string) error {
	sn, err := getJSON[model.ServiceNetwork](tx, pfxServiceNetwork+snID)
	if err != nil || sn == nil {
		return err
	}
	if err := revokeIndexed(tx, pfxSNVAbySN+snID+"/", pfxSNVA, func(a *model.ServiceNetworkVpcAssociation) (bool, error) {
		return mayUse(tx, a.Account, sn.Account, sn.ARN)
	}, deleteSNVA); err != nil {
		return err
	}
	if err := revokeSNRAs(tx, pfxSNRAbySN+snID+"/"); err != nil {
		return err
	}
	return s.revokeSNSAs(tx, pfxSNSAbySN+snID+"/")
}

// revokeSNSAs removes the service associations under an index prefix
// whose owner may no longer use both ends.
func (s *Service) revokeSNSAs(tx store.Tx, prefix string) error {
	return revokeIndexed(tx, prefix, pfxSNSA, func(a *model.ServiceNetworkServiceAssociation) (bool, error) {
		return s.snsaStillAllowed(tx, a)
	}, deleteSNSA)
}

// revokeIndexed deletes (with del) the associations that the index entries
// under indexPrefix name (the key's last segment is the ID under
// entityPrefix) and that allowed no longer admits: the revocations of
// every kind of association. They are all read before any is deleted.
func revokeIndexed[T any](tx store.Tx, indexPrefix, entityPrefix string, allowed func(*T) (bool, error), del func(store.Tx, *T) error) error {
	var gone []*T
	if err := tx.Scan(indexPrefix, "", func(k string, _ []byte) (bool, error) {
		a, err := getJSON[T](tx, entityPrefix+k[strings.LastIndexByte(k, '/')+1:])
		if err != nil || a == nil {
			return err == nil, err
		}
		ok, err := allowed(a)
		if err == nil && !ok {
			gone = append(gone, a)
		}
		return err == nil, err
	}); err != nil {
		return err
	}
	for _, a := range gone {
		if err := del(tx, a); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) snsaStillAllowed(tx store.ReadTx, a *model.ServiceNetworkServiceAssociation) (bool, error) {
	sn, err := getJSON[model.ServiceNetwork](tx, pfxServiceNetwork+a.ServiceNetworkID)
	if err != nil || sn == nil {
		return sn == nil, err
	}
	svc, err := getJSON[model.Service](tx, pfxService+a.ServiceID)
	if err != nil || svc == nil {
		return svc == nil, err
	}
	if ok, err := mayUse(tx, a.Account, sn.Account, sn.ARN); err != nil || !ok {
		return false, err
	}
	return mayUse(tx, a.Account, svc.Account, svc.ARN)
}

// revokeAccount re-checks, after account's organization changed, every
// association it is a party to: those it owns that use another account's
// resource (shares with its old organization no longer cover it), and
// those other accounts own that use its resources (its shares with its
// old organization no longer cover their members: RAM shares with an
// organization only from inside it, sharedWith). What is no longer
// allowed goes, in the change's transaction. It reads every association
// (an administrator's rare change, no per-owner index).
func (s *Service) revokeAccount(tx store.Tx, account string) error {
	ownerOf := func(prefix, id string) (string, error) {
		switch prefix {
		case pfxServiceNetwork:
			return accountOf[model.ServiceNetwork](tx, prefix+id)
		case pfxService:
			return accountOf[model.Service](tx, prefix+id)
		default:
			return accountOf[model.ResourceConfiguration](tx, prefix+id)
		}
	}
	party := func(owner string, ends ...[2]string) (bool, error) {
		if owner == account {
			return true, nil
		}
		for _, e := range ends {
			o, err := ownerOf(e[0], e[1])
			if err != nil || o == account {
				return o == account, err
			}
		}
		return false, nil
	}
	if err := revokeIndexed(tx, pfxSNVA, pfxSNVA, func(a *model.ServiceNetworkVpcAssociation) (bool, error) {
		if p, err := party(a.Account, [2]string{pfxServiceNetwork, a.ServiceNetworkID}); err != nil || !p {
			return true, err
		}
		sn, err := getJSON[model.ServiceNetwork](tx, pfxServiceNetwork+a.ServiceNetworkID)
		if err != nil || sn == nil {
			return true, err
		}
		return mayUse(tx, a.Account, sn.Account, sn.ARN)
	}, deleteSNVA); err != nil {
		return err
	}
	if err := revokeIndexed(tx, pfxSNSA, pfxSNSA, func(a *model.ServiceNetworkServiceAssociation) (bool, error) {
		if p, err := party(a.Account, [2]string{pfxServiceNetwork, a.ServiceNetworkID}, [2]string{pfxService, a.ServiceID}); err != nil || !p {
			return true, err
		}
		return s.snsaStillAllowed(tx, a)
	}, deleteSNSA); err != nil {
		return err
	}
	return revokeIndexed(tx, pfxSNRA, pfxSNRA, func(a *model.ServiceNetworkResourceAssociation) (bool, error) {
		if p, err := party(a.Account, [2]string{pfxServiceNetwork, a.ServiceNetworkID}, [2]string{pfxResourceConfig, a.ResourceConfigurationID}); err != nil || !p {
			return true, err
		}
		return snraStillAllowed(tx, a)
	}, deleteSNRA)
}

// unshareDeleted takes a deleted service network or service out of every
// share that holds it (RAM drops a deleted resource from its shares).
func (s *Service) unshareDeleted(tx store.Tx, resourceARN string) error {
	var keys []string
	if err := tx.Scan(pfxShareByRes+resourceARN+"/", "", func(k string, _ []byte) (bool, error) {
		keys = append(keys, pfxShare+strings.TrimPrefix(k, pfxShareByRes+resourceARN+"/"))
		return true, nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		sh, err := getJSON[model.ResourceShare](tx, k)
		if err != nil {
			return err
		}
		if sh == nil {
			continue
		}
		if _, err := s.disassociate(tx, sh, []string{resourceARN}, nil, "the resource was deleted"); err != nil {
			return err
		}
		if err := putJSON(tx, k, sh); err != nil {
			return err
		}
	}
	return nil
}
