package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// ACM certificates (docs/certificates.md). A certificate belongs to the
// caller's account; another account does not see it
// (ResourceNotFoundException), as ACM. Its private key is kept in the
// store, for the data plane's TLS, and is never part of an answer.

const pfxCertificate = schema.Certificate

// MaxCertificateNames bounds DomainName plus SubjectAlternativeNames of a
// requested certificate (ACM's maximum).
const MaxCertificateNames = 100

// maxPEMBytes bounds each PEM member of ImportCertificate (ACM: 32 KB for
// the certificate, 5 KB for the key, 2 MB for the chain; the request body
// is bounded by api.MaxBodyBytes anyway).
const maxPEMBytes = 512 << 10

var certARN = regexp.MustCompile(`^arn:([a-z-]+):acm:([a-z0-9-]+):([0-9]{12}):certificate/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

func (s *Service) certificateARN(account, id string) string {
	return "arn:" + s.cfg.Partition + ":acm:" + s.cfg.Region + ":" + account + ":certificate/" + id
}

func invalidARN(v string) error {
	e := model.Invalid("CertificateArn", "CertificateArn %q is not an ACM certificate ARN (arn:PARTITION:acm:REGION:ACCOUNT:certificate/UUID)", clip(v))
	e.Reason = model.ReasonInvalidArn
	return e
}

// clip shortens a value quoted in an error message.
func clip(v string) string {
	if len(v) > 100 {
		v = v[:100] + "..."
	}
	return strings.ToValidUTF8(v, "?")
}

// loadCertificate returns the caller's certificate named by its ARN.
func (s *Service) loadCertificate(tx store.ReadTx, c model.Caller, a string) (*model.Certificate, error) {
	m := certARN.FindStringSubmatch(a)
	if m == nil {
		return nil, invalidARN(a)
	}
	cert, err := getJSON[model.Certificate](tx, pfxCertificate+m[4])
	if err != nil {
		return nil, err
	}
	if cert == nil || cert.ARN != a || (cert.Account != c.Account && !s.IsAdmin(c)) {
		return nil, &model.Error{Kind: model.KindNotFound, ResourceType: model.TypeCertificate, ResourceID: a,
			Message: "Could not find certificate " + a + "."}
	}
	return cert, nil
}

// certificateUsers returns the ARNs of the services that use a certificate.
func certificateUsers(tx store.ReadTx, certArn string) ([]string, error) {
	var out []string
	err := certificateServices(tx, certArn, func(svc *model.Service) error {
		out = append(out, svc.ARN)
		return nil
	})
	return out, err
}

// certificateServices calls fn with each service that uses a certificate,
// through the index (not a scan of every service), in service ID order.
func certificateServices(tx store.ReadTx, certArn string, fn func(*model.Service) error) error {
	return indexed(tx, pfxSvcByCert+certArn+"/", pfxService, func(svc *model.Service) (bool, error) {
		return true, fn(svc)
	})
}

// setServiceCertificate moves a service's entry in the certificate index
// from old to cur (either may be "": none).
func setServiceCertificate(tx store.Tx, svcID, old, cur string) error {
	if old == cur {
		return nil
	}
	if old != "" {
		if err := tx.Delete(pfxSvcByCert + old + "/" + svcID); err != nil {
			return err
		}
	}
	if cur != "" {
		return tx.Put(pfxSvcByCert+cur+"/"+svcID, nil)
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func leafInto(c *model.Certificate, l *ca.Leaf) {
	c.DomainName, c.SANs = l.DomainName, l.SANs
	c.CertificatePEM, c.ChainPEM, c.PrivateKeyPEM = string(l.CertPEM), string(l.ChainPEM), string(l.KeyPEM)
	c.NotBefore, c.NotAfter = l.NotBefore, l.NotAfter
	c.Issuer, c.Subject, c.Serial = l.Issuer, l.Subject, l.Serial
	c.KeyAlgorithm, c.SignatureAlgorithm = l.KeyAlgorithm, l.SignatureAlgorithm
}

// CertificateTag is one ACM tag.
type CertificateTag struct {
	Key   string
	Value *string
}

// checkCertTags checks ACM tags (Key 1-128 characters, Value up to 256,
// no "aws:" prefix, at most 50 on a certificate).
func checkCertTags(tags []CertificateTag, removing bool) error {
	if len(tags) > 50 {
		e := model.Invalid("Tags", "a certificate has at most 50 tags")
		e.Reason = model.ReasonTooManyTags
		return e
	}
	for _, t := range tags {
		msg := ""
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > 128 || !utf8.ValidString(t.Key):
			msg = "a tag Key has 1 to 128 characters"
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:") && !removing:
			msg = "a tag Key must not start with aws:"
		case t.Value != nil && (utf8.RuneCountInString(*t.Value) > 256 || !utf8.ValidString(*t.Value)):
			msg = "a tag Value has at most 256 characters"
		}
		if msg != "" {
			e := model.Invalid("Tags", "%s", msg)
			e.Reason = model.ReasonInvalidTag
			return e
		}
	}
	return nil
}

func tagMap(tags []CertificateTag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		m[t.Key] = v
	}
	return m
}

func (s *Service) checkCertificateQuota(tx store.ReadTx, account string) error {
	n, err := s.countCertificates(tx, account)
	if err != nil {
		return err
	}
	if n >= model.QuotaCertificates.Default {
		return &model.Error{Kind: model.KindQuota, ResourceType: model.TypeCertificate, QuotaCode: model.QuotaCertificates.Code,
			Message: "an account has at most 2500 certificates"}
	}
	return nil
}

func (s *Service) countCertificates(tx store.ReadTx, account string) (int, error) {
	return s.countOwned(tx, pfxCertificate, account)
}

// ImportCertificateInput is ImportCertificate's request.
type ImportCertificateInput struct {
	CertificateArn                 string // re-import over this certificate when set
	Certificate, PrivateKey, Chain []byte
	Tags                           []CertificateTag
}

// ImportCertificate stores an imported certificate and its key, or
// replaces an imported certificate (re-import: same ARN, tags kept). A
// re-import must still cover the custom domains of the services that use
// the certificate.
func (s *Service) ImportCertificate(ctx context.Context, in ImportCertificateInput) (string, error) {
	c, err := caller(ctx)
	if err != nil {
		return "", err
	}
	if in.CertificateArn != "" && !certARN.MatchString(in.CertificateArn) {
		return "", invalidARN(in.CertificateArn)
	}
	for name, b := range map[string][]byte{"Certificate": in.Certificate, "PrivateKey": in.PrivateKey, "CertificateChain": in.Chain} {
		if len(b) > maxPEMBytes {
			return "", model.Invalid(name, "%s is larger than %d bytes", name, maxPEMBytes)
		}
	}
	if len(in.Certificate) == 0 {
		return "", model.Invalid("Certificate", "Certificate is required")
	}
	if len(in.PrivateKey) == 0 {
		return "", model.Invalid("PrivateKey", "PrivateKey is required")
	}
	if err := checkCertTags(in.Tags, false); err != nil {
		return "", err
	}
	leaf, err := ca.ParseLeaf(in.Certificate, in.PrivateKey, in.Chain)
	if err != nil {
		field := strings.Fields(err.Error())[0]
		return "", model.Invalid(field, "%s", err.Error())
	}
	var out string
	err = s.update(ctx, func(tx store.Tx) error {
		now := s.now()
		if in.CertificateArn != "" {
			cur, err := s.loadCertificate(tx, c, in.CertificateArn)
			if err != nil {
				return err
			}
			if cur.Type != model.CertificateTypeImported {
				return model.Invalid("CertificateArn", "certificate %s was issued by Trellis, not imported; only an imported certificate can be re-imported", cur.ARN)
			}
			if len(in.Tags) > 0 {
				return model.Invalid("Tags", "Tags cannot be given when re-importing a certificate; use AddTagsToCertificate")
			}
			if err := s.stillCovers(tx, cur.ARN, leaf.SANs); err != nil {
				return err
			}
			leafInto(cur, leaf)
			cur.ImportedAt = now
			out = cur.ARN
			return putJSON(tx, pfxCertificate+cur.ID, cur)
		}
		if err := s.checkCertificateQuota(tx, c.Account); err != nil {
			return err
		}
		id := newUUID()
		cert := &model.Certificate{ARN: s.certificateARN(c.Account, id), ID: id, Account: c.Account,
			Type: model.CertificateTypeImported, CreatedAt: now, ImportedAt: now, Tags: tagMap(in.Tags)}
		leafInto(cert, leaf)
		out = cert.ARN
		if err := addCount(tx, ownedCountKey(pfxCertificate, c.Account), 1); err != nil {
			return err
		}
		return putJSON(tx, pfxCertificate+id, cert)
	})
	return out, err
}

// stillCovers refuses a re-import that would leave a service using the
// certificate with a custom domain it does not cover.
func (s *Service) stillCovers(tx store.ReadTx, certArn string, sans []string) error {
	return certificateServices(tx, certArn, func(svc *model.Service) error {
		if svc.CustomDomainName != "" && !ca.Covers(sans, svc.CustomDomainName) {
			return model.Invalid("Certificate", "the new certificate does not cover %s, the custom domain of service %s, which uses this certificate",
				svc.CustomDomainName, svc.ARN)
		}
		return nil
	})
}

// domainName is an ACM domain name: a fully qualified name of 1 to 253
// characters, labels of letters, digits and hyphens, optionally starting
// with one "*." wildcard label.
var domainName = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// RequestCertificateInput is RequestCertificate's request.
type RequestCertificateInput struct {
	DomainName              string
	SubjectAlternativeNames []string
	KeyAlgorithm            string
	Tags                    []CertificateTag
	// IdempotencyToken: requests with the same token within an hour get
	// the one certificate the first issued (ACM's rule).
	IdempotencyToken *string `json:"-"`
}

// acmIdempotencyWindow is how long an ACM IdempotencyToken counts.
const acmIdempotencyWindow = time.Hour

// idempotencyToken is ACM's IdempotencyToken syntax: \w{1,32}.
var idempotencyToken = regexp.MustCompile(`^\w{1,32}$`)

// RequestCertificate issues a certificate signed by the installation CA at
// once (status ISSUED, validation SUCCESS: Trellis owns no DNS to
// validate against). Its private key stays in Trellis.
func (s *Service) RequestCertificate(ctx context.Context, in RequestCertificateInput) (string, error) {
	c, err := caller(ctx)
	if err != nil {
		return "", err
	}
	if s.cfg.CA == nil {
		return "", model.NotImplemented("RequestCertificate without an installation CA")
	}
	var v model.Validator
	if in.DomainName == "" || len(in.DomainName) > 253 || !domainName.MatchString(in.DomainName) {
		v.Addf("DomainName", "DomainName %q is not a domain name (1 to 253 characters; labels of letters, digits and hyphens; an optional leading *.)", clip(in.DomainName))
	}
	for _, n := range in.SubjectAlternativeNames {
		if n == "" || len(n) > 253 || !domainName.MatchString(n) {
			v.Addf("SubjectAlternativeNames", "SubjectAlternativeNames entry %q is not a domain name", clip(n))
			break
		}
	}
	if in.IdempotencyToken != nil && !idempotencyToken.MatchString(*in.IdempotencyToken) {
		v.Addf("IdempotencyToken", "IdempotencyToken %q must be 1 to 32 letters, digits or underscores", clip(*in.IdempotencyToken))
	}
	if len(in.SubjectAlternativeNames)+1 > MaxCertificateNames {
		v.Addf("SubjectAlternativeNames", "a certificate has at most %d names", MaxCertificateNames)
	}
	// Trellis issues ECDSA P-256 keys only.
	if in.KeyAlgorithm != "" && in.KeyAlgorithm != "EC_prime256v1" {
		v.Addf("KeyAlgorithm", "KeyAlgorithm %q is not supported: Trellis issues EC_prime256v1 keys", clip(in.KeyAlgorithm))
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	if err := checkCertTags(in.Tags, false); err != nil {
		return "", err
	}
	names := []string{strings.ToLower(in.DomainName)}
	for _, n := range in.SubjectAlternativeNames {
		if n = strings.ToLower(n); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	leaf, err := s.cfg.CA.Issue(names[0], names[1:], s.cfg.Now())
	if err != nil {
		return "", err
	}
	var out string
	err = s.update(ctx, func(tx store.Tx) error {
		now := s.now()
		a, err := idempotentWithin(tx, c.Account, "RequestCertificate", in.IdempotencyToken, in, now, acmIdempotencyWindow, func() (*string, error) {
			if err := s.checkCertificateQuota(tx, c.Account); err != nil {
				return nil, err
			}
			id := newUUID()
			cert := &model.Certificate{ARN: s.certificateARN(c.Account, id), ID: id, Account: c.Account,
				Type: model.CertificateTypeIssued, CreatedAt: now, IssuedAt: now, Tags: tagMap(in.Tags)}
			leafInto(cert, leaf)
			if err := addCount(tx, ownedCountKey(pfxCertificate, c.Account), 1); err != nil {
				return nil, err
			}
			return &cert.ARN, putJSON(tx, pfxCertificate+id, cert)
		})
		if err != nil {
			return err
		}
		out = *a
		return nil
	})
	return out, err
}

// DescribeCertificate returns the caller's certificate and the services
// that use it (InUseBy).
func (s *Service) DescribeCertificate(ctx context.Context, certArn string) (*model.Certificate, []string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out *model.Certificate
	var users []string
	err = s.view(ctx, func(tx store.ReadTx) error {
		if out, err = s.loadCertificate(tx, c, certArn); err != nil {
			return err
		}
		users, err = certificateUsers(tx, out.ARN)
		return err
	})
	return out, users, err
}

// CertificateSummary is one entry of ListCertificates.
type CertificateSummary struct {
	*model.Certificate
	InUse bool
}

// ListCertificates lists the caller's certificates. Every Trellis
// certificate is ISSUED, so a statuses filter without ISSUED lists none.
func (s *Service) ListCertificates(ctx context.Context, statuses []string, p Page) ([]CertificateSummary, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if p.MaxResults < 0 || p.MaxResults > 1000 {
		e := model.Invalid("MaxItems", "MaxItems must be 1 to 1000")
		e.Reason = model.ReasonInvalidParameter
		return nil, "", e
	}
	if p.NextToken != "" {
		if _, err := p.after(pfxCertificate); err != nil {
			e := model.Invalid("NextToken", "NextToken is not a token ListCertificates returned")
			e.Reason = model.ReasonInvalidParameter
			return nil, "", e
		}
	}
	wantIssued := len(statuses) == 0 || slices.Contains(statuses, model.CertificateStatusIssued)
	var out []CertificateSummary
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		certs, n, err := listPage(tx, pfxCertificate, p, func(cert *model.Certificate) bool {
			return wantIssued && cert.Account == c.Account
		})
		if err != nil {
			return err
		}
		next = n
		for _, cert := range certs {
			users, err := certificateUsers(tx, cert.ARN)
			if err != nil {
				return err
			}
			out = append(out, CertificateSummary{Certificate: cert, InUse: len(users) > 0})
		}
		return nil
	})
	return out, next, err
}

// DeleteCertificate removes a certificate no service uses.
func (s *Service) DeleteCertificate(ctx context.Context, certArn string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		cert, err := s.loadCertificate(tx, c, certArn)
		if err != nil {
			return err
		}
		users, err := certificateUsers(tx, cert.ARN)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return model.Conflict(model.TypeCertificate, cert.ARN, "certificate %s is in use by %s", cert.ARN, strings.Join(users, ", "))
		}
		if err := addCount(tx, ownedCountKey(pfxCertificate, cert.Account), -1); err != nil {
			return err
		}
		return tx.Delete(pfxCertificate + cert.ID)
	})
}

// AddCertificateTags adds or replaces tags of a certificate.
func (s *Service) AddCertificateTags(ctx context.Context, certArn string, tags []CertificateTag) error {
	return s.changeCertificateTags(ctx, certArn, tags, false)
}

// RemoveCertificateTags removes tags: a tag given with a Value is removed
// only when its value matches (ACM RemoveTagsFromCertificate).
func (s *Service) RemoveCertificateTags(ctx context.Context, certArn string, tags []CertificateTag) error {
	return s.changeCertificateTags(ctx, certArn, tags, true)
}

func (s *Service) changeCertificateTags(ctx context.Context, certArn string, tags []CertificateTag, remove bool) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !certARN.MatchString(certArn) {
		return invalidARN(certArn)
	}
	if len(tags) == 0 {
		return model.Invalid("Tags", "Tags must hold at least one tag")
	}
	if err := checkCertTags(tags, remove); err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		cert, err := s.loadCertificate(tx, c, certArn)
		if err != nil {
			return err
		}
		if cert.Tags == nil {
			cert.Tags = map[string]string{}
		}
		for _, t := range tags {
			if remove {
				if cur, ok := cert.Tags[t.Key]; ok && (t.Value == nil || *t.Value == cur) {
					delete(cert.Tags, t.Key)
				}
				continue
			}
			v := ""
			if t.Value != nil {
				v = *t.Value
			}
			cert.Tags[t.Key] = v
		}
		if len(cert.Tags) > 50 {
			e := model.Invalid("Tags", "a certificate has at most 50 tags")
			e.Reason = model.ReasonTooManyTags
			return e
		}
		return putJSON(tx, pfxCertificate+cert.ID, cert)
	})
}

// checkServiceCertificate checks a service's certificateArn: an ACM
// certificate of the caller's account that covers the custom domain
// (exactly, or by a wildcard of one label) when the service has one. Lattice requires a custom
// domain's certificate to cover it.
//
// owner is the service's account: the certificate must be that account's,
// also when the administrator makes the call.
func (s *Service) checkServiceCertificate(tx store.ReadTx, c model.Caller, owner, certArn, domain string) error {
	if certArn == "" {
		return nil
	}
	if !certARN.MatchString(certArn) {
		return model.Invalid("certificateArn", "certificateArn %s is not an ACM certificate ARN", clip(certArn))
	}
	cert, err := s.loadCertificate(tx, c, certArn)
	if err == nil && cert.Account != owner {
		err = &model.Error{Kind: model.KindNotFound}
	}
	if err != nil {
		if model.KindOf(err) == model.KindNotFound {
			return model.Invalid("certificateArn", "certificateArn %s names no certificate of this account", certArn)
		}
		return err
	}
	if domain != "" && !ca.Covers(cert.SANs, domain) {
		return model.Invalid("certificateArn", "certificateArn %s does not cover the custom domain %s (its names: %s)",
			certArn, domain, strings.Join(cert.SANs, ", "))
	}
	return nil
}
