package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Domain verification (reference §2.1 "NEWER (2025)"): an account proves it
// controls a domain by publishing a TXT record; resource configurations
// then name the verification for their custom domain. Trellis looks the
// record up only through the resolver the operator configured (serve
// --domain-verification-resolver), never the host's: in a closed network
// the administrator verifies instead (VerifyDomain with force).

const (
	pfxDV          = schema.DomainVerification
	pfxDVbyAccount = schema.DVbyAccount
	// dvTXTLabel prefixes the domain in the record name. Lattice's own
	// label is not in the reference; this one is Trellis's.
	dvTXTLabel = "_trellis-verification."
	// dvLookupTimeout bounds one TXT query.
	dvLookupTimeout = 3 * time.Second
	// DefaultDomainVerificationTimeout is how long a verification stays
	// PENDING before it times out. The reference names the status
	// VERIFICATION_TIMED_OUT but not the delay; 72 hours is what ACM gives
	// a DNS validation, the closest AWS analogue (an assumption).
	DefaultDomainVerificationTimeout = 72 * time.Hour
)

// StartDomainVerificationInput is StartDomainVerification's request.
type StartDomainVerificationInput struct {
	DomainName  string
	Tags        map[string]string
	ClientToken *string `json:"-"`
}

// StartDomainVerification begins verifying a domain: PENDING, with the TXT
// record to publish.
func (s *Service) StartDomainVerification(ctx context.Context, in StartDomainVerificationInput) (*model.DomainVerification, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	model.CheckDomainName(&v, "domainName", in.DomainName)
	if strings.HasPrefix(in.DomainName, "*.") {
		v.Addf("domainName", "domainName must not be a wildcard")
	}
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	domain := strings.ToLower(in.DomainName)
	var out *model.DomainVerification
	err = s.update(ctx, func(tx store.Tx) error {
		out, err = idempotent(tx, c.Account, "StartDomainVerification", in.ClientToken, in, func() (*model.DomainVerification, error) {
			n, err := countPrefix(tx, pfxDVbyAccount+c.Account+"/")
			if err != nil {
				return nil, err
			}
			if err := s.quota(model.QuotaDomainVerifications, "", n, 1); err != nil {
				return nil, err
			}
			var b [16]byte
			if _, err := rand.Read(b[:]); err != nil {
				return nil, err
			}
			dv := &model.DomainVerification{Meta: s.newMeta(c, arn.DomainVerification, in.Tags), DomainName: domain,
				Status: model.VerificationPending, TXTName: dvTXTLabel + domain, TXTValue: "trellis-verification=" + hex.EncodeToString(b[:])}
			if err := tx.Put(pfxDVbyAccount+c.Account+"/"+dv.ID, nil); err != nil {
				return nil, err
			}
			return dv, putJSON(tx, pfxDV+dv.ID, dv)
		})
		return err
	})
	return out, err
}

func (s *Service) loadDV(tx store.ReadTx, c model.Caller, ident string) (*model.DomainVerification, error) {
	return loadOwned[model.DomainVerification](tx, c, arn.DomainVerification, pfxDV, model.TypeDomainVerification, "domainVerificationIdentifier", ident)
}

// GetDomainVerification describes a verification. A PENDING one is
// checked first when a resolver is configured, so a published record shows
// as VERIFIED at the next Get.
func (s *Service) GetDomainVerification(ctx context.Context, ident string) (*model.DomainVerification, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.DomainVerification
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = s.loadDV(tx, c, ident)
		return err
	})
	if err != nil || out.Status != model.VerificationPending {
		return out, err
	}
	if s.expired(out) {
		return s.settle(ctx, out.ID, model.VerificationTimedOut)
	}
	if s.cfg.DomainVerificationResolver == "" {
		return out, nil
	}
	if ok, lerr := s.lookupTXT(ctx, out.TXTName, out.TXTValue); lerr == nil && ok {
		return s.settle(ctx, out.ID, model.VerificationVerified)
	}
	return out, nil
}

// expired reports whether a PENDING verification has waited longer than
// DomainVerificationTimeout.
func (s *Service) expired(dv *model.DomainVerification) bool {
	return s.now().Sub(dv.CreatedAt) > s.cfg.DomainVerificationTimeout
}

// lookupTXT reports whether name has a TXT record with value, asking the
// configured resolver (RFC 1035 §3.3.14: a TXT RDATA is one or more
// character-strings; a long value may be split across them).
func (s *Service) lookupTXT(ctx context.Context, name, value string) (bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	cl := &dns.Client{Timeout: dvLookupTimeout}
	ctx, cancel := context.WithTimeout(ctx, dvLookupTimeout)
	defer cancel()
	r, _, err := cl.ExchangeContext(ctx, m, s.cfg.DomainVerificationResolver)
	if err != nil {
		return false, err
	}
	if r.Rcode == dns.RcodeNameError {
		return false, nil // not published (yet)
	}
	if r.Rcode != dns.RcodeSuccess {
		return false, fmt.Errorf("TXT %s: %s", name, dns.RcodeToString[r.Rcode])
	}
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok && strings.Join(t.Txt, "") == value {
			return true, nil
		}
	}
	return false, nil
}

// settle moves verification id to status (VERIFIED or
// VERIFICATION_TIMED_OUT) in one transaction. A verification that is no
// longer PENDING is left as it is, except that VERIFIED wins: the
// administrator may verify a timed-out one (VerifyDomain).
func (s *Service) settle(ctx context.Context, id, status string) (*model.DomainVerification, error) {
	var out *model.DomainVerification
	err := s.update(ctx, func(tx store.Tx) error {
		dv, err := getJSON[model.DomainVerification](tx, pfxDV+id)
		if err != nil {
			return err
		}
		if dv == nil {
			return model.NotFound(model.TypeDomainVerification, id)
		}
		out = dv
		if dv.Status == status || (dv.Status != model.VerificationPending && status != model.VerificationVerified) {
			return nil
		}
		now := s.now()
		dv.Status, dv.UpdatedAt = status, now
		if status == model.VerificationVerified {
			dv.LastVerifiedTime = &now
		}
		return putJSON(tx, pfxDV+id, dv)
	})
	return out, err
}

// CheckPendingDomainVerifications is the background check of every
// account's PENDING verifications, run by one elected API node (internal/
// app): one past DomainVerificationTimeout becomes VERIFICATION_TIMED_OUT;
// with a resolver configured, one whose TXT record is published becomes
// VERIFIED (as a Get would find). A lookup error leaves it PENDING until
// the next round; the first such error is returned with the counts.
func (s *Service) CheckPendingDomainVerifications(ctx context.Context) (verified, timedOut int, err error) {
	var pending []*model.DomainVerification
	if err := s.view(ctx, func(tx store.ReadTx) error {
		return scanJSON(tx, pfxDV, func(_ string, dv *model.DomainVerification) (bool, error) {
			if dv.Status == model.VerificationPending {
				pending = append(pending, dv)
			}
			return true, nil
		})
	}); err != nil {
		return 0, 0, err
	}
	var firstErr error
	for _, dv := range pending {
		if ctx.Err() != nil {
			return verified, timedOut, ctx.Err()
		}
		status := ""
		switch {
		case s.expired(dv):
			status = model.VerificationTimedOut
		case s.cfg.DomainVerificationResolver != "":
			ok, lerr := s.lookupTXT(ctx, dv.TXTName, dv.TXTValue)
			if lerr != nil && firstErr == nil {
				firstErr = fmt.Errorf("TXT lookup of %s: %w", dv.TXTName, lerr)
			}
			if ok {
				status = model.VerificationVerified
			}
		}
		if status == "" {
			continue
		}
		out, err := s.settle(ctx, dv.ID, status)
		if err != nil {
			if model.KindOf(err) == model.KindNotFound {
				continue // deleted meanwhile
			}
			return verified, timedOut, err
		}
		switch {
		case out.Status != status:
		case status == model.VerificationVerified:
			verified++
		default:
			timedOut++
		}
	}
	return verified, timedOut, firstErr
}

// VerifyDomain checks a verification now (POST
// /trellis/v1/domainverifications/{id}/verify). The administrator, in a
// closed network where no resolver can see the record, may mark any
// account's verification VERIFIED (force); others get the resolver's
// answer for their own.
func (s *Service) VerifyDomain(ctx context.Context, ident string) (*model.DomainVerification, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var dv *model.DomainVerification
	err = s.view(ctx, func(tx store.ReadTx) error {
		ref, err := resolve(arn.DomainVerification, "domainVerificationIdentifier", ident)
		if err != nil {
			return err
		}
		dv, err = getJSON[model.DomainVerification](tx, pfxDV+ref.ID)
		if err != nil {
			return err
		}
		if dv == nil || (dv.Account != c.Account && !s.IsAdmin(c)) {
			return model.NotFound(model.TypeDomainVerification, ref.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.IsAdmin(c) {
		return s.settle(ctx, dv.ID, model.VerificationVerified)
	}
	if dv.Status == model.VerificationTimedOut || (dv.Status == model.VerificationPending && s.expired(dv)) {
		if dv.Status == model.VerificationPending {
			_, _ = s.settle(ctx, dv.ID, model.VerificationTimedOut)
		}
		return nil, model.Invalid("domainVerificationIdentifier", "the verification of %s timed out; start a new one (StartDomainVerification)", dv.DomainName)
	}
	if s.cfg.DomainVerificationResolver == "" {
		return nil, model.Invalid("domainVerificationIdentifier", "no resolver is configured (serve --domain-verification-resolver); ask the administrator to verify %s", dv.DomainName)
	}
	ok, err := s.lookupTXT(ctx, dv.TXTName, dv.TXTValue)
	if err != nil {
		return nil, model.Invalid("domainVerificationIdentifier", "TXT lookup of %s failed: %v", dv.TXTName, err)
	}
	if !ok {
		return dv, nil
	}
	return s.settle(ctx, dv.ID, model.VerificationVerified)
}

// ListDomainVerifications lists the caller's verifications.
func (s *Service) ListDomainVerifications(ctx context.Context, p Page) ([]*model.DomainVerification, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []*model.DomainVerification
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxDV, p, func(d *model.DomainVerification) bool { return d.Account == c.Account })
		return err
	})
	return out, next, err
}

// DeleteDomainVerification deletes a verification no resource
// configuration names (ConflictException otherwise).
func (s *Service) DeleteDomainVerification(ctx context.Context, ident string) (*model.DomainVerification, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.DomainVerification
	err = s.update(ctx, func(tx store.Tx) error {
		dv, err := s.loadDV(tx, c, ident)
		if err != nil {
			return err
		}
		var user string
		if err := scanJSON(tx, pfxResourceConfig, func(_ string, rc *model.ResourceConfiguration) (bool, error) {
			if rc.DomainVerificationID == dv.ID {
				user = rc.ID
				return false, nil
			}
			return true, nil
		}); err != nil {
			return err
		}
		if user != "" {
			return model.Conflict(model.TypeDomainVerification, dv.ID, "domain verification %s is used by resource configuration %s", dv.ID, user)
		}
		out = dv
		if err := tx.Delete(pfxDVbyAccount + dv.Account + "/" + dv.ID); err != nil {
			return err
		}
		return tx.Delete(pfxDV + dv.ID)
	})
	return out, err
}

// checkDomainVerificationUse resolves a configuration's
// domainVerificationIdentifier: the caller's verification of domain (or of
// a parent domain of it). Its ID is returned.
func (s *Service) checkDomainVerificationUse(tx store.ReadTx, c model.Caller, ident, domain string) (string, error) {
	dv, err := s.loadDV(tx, c, ident)
	if err != nil {
		return "", err
	}
	d := strings.ToLower(strings.TrimPrefix(domain, "*."))
	labels := strings.Split(d, ".")
	ok := false
	for i := range labels {
		if strings.Join(labels[i:], ".") == dv.DomainName {
			ok = true
		}
	}
	if !ok {
		return "", model.Invalid("domainVerificationIdentifier", "domain verification %s is for %s, not for %s", dv.ID, dv.DomainName, domain)
	}
	return dv.ID, nil
}

// DomainVerificationARN is the ARN of verification id of account.
func (s *Service) DomainVerificationARN(account, id string) string {
	return s.arnOf(account, arn.DomainVerification.ResourceType+"/"+id)
}

// DomainVerificationStatus is the status of the verification rc names, ""
// when it names none (GetResourceConfiguration's domainVerificationStatus).
func (s *Service) DomainVerificationStatus(ctx context.Context, rc *model.ResourceConfiguration) string {
	if rc.DomainVerificationID == "" {
		return ""
	}
	var st string
	_ = s.view(ctx, func(tx store.ReadTx) error {
		dv, err := getJSON[model.DomainVerification](tx, pfxDV+rc.DomainVerificationID)
		if dv != nil {
			st = dv.Status
		}
		return err
	})
	return st
}
