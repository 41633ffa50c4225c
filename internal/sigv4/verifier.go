package sigv4

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Credential is what a KeyStore knows about an access key.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is non-empty for temporary credentials; the request must
	// then carry the same X-Amz-Security-Token (and must carry none otherwise).
	SessionToken string
	Account      string // 12-digit account ID owning the key
	PrincipalARN string // e.g. arn:aws:iam::123456789012:root
}

// KeyStore finds the secret behind an access key.
type KeyStore interface {
	// LookupAccessKey returns ErrUnknownAccessKey (wrapped or not) when the
	// key does not exist. Any other error is passed back from Verify as is
	// (wrapped), not as an *Error: it is a server fault, not the caller's.
	// accessKeyID aliases the request's headers: clone it before keeping it.
	LookupAccessKey(ctx context.Context, accessKeyID string) (Credential, error)
}

// Verifier checks SigV4 and SigV4A signatures for one signing name. Its
// fields are configuration; it holds no other state and is safe for
// concurrent use.
type Verifier struct {
	Service string // required signing name, e.g. "vpc-lattice"
	// Region, if non-empty, is the only region accepted: a SigV4 credential
	// scope must name it, a SigV4A X-Amz-Region-Set must have an entry
	// matching it ("*", "us-*", "us-east-1").
	Region  string
	Keys    KeyStore
	Now     func() time.Time // nil means time.Now
	MaxSkew time.Duration    // 0 means 5 minutes

	// AllowUnsignedPayload (data plane) accepts
	// x-amz-content-sha256: UNSIGNED-PAYLOAD.
	AllowUnsignedPayload bool

	// NormalizePath also accepts a signature over the RFC 3986-normalised
	// path (empty, "." and ".." segments removed), as the AWS SigV4 test suite
	// and signers such as botocore compute it, when the signature over the
	// path as sent does not match. Leave it off unless the router in front of
	// the handler normalises paths the same way (net/http.ServeMux redirects
	// such paths), or a signature for /a/b would authenticate /a/x/../b.
	NormalizePath bool
}

// maxAccessKeyIDLen is the longest access key ID looked up (IAM allows 128).
const maxAccessKeyIDLen = 128

// DefaultMaxSkew is the clock skew allowed when Verifier.MaxSkew is 0.
const DefaultMaxSkew = 5 * time.Minute

// Result describes a request whose signature verified.
type Result struct {
	Credential  Credential // as the KeyStore returned it, secret included: do not log
	AccessKeyID string     // the access key named by the request
	SignedAt    time.Time  // the request's X-Amz-Date (UTC)
	// Region is the credential scope region (SigV4), or the X-Amz-Region-Set
	// value that matched Verifier.Region, e.g. "*" or "us-east-1,us-west-2"
	// (SigV4A).
	Region    string
	Service   string // credential scope service (== Verifier.Service)
	Algorithm string // AlgorithmHMAC (SigV4) or AlgorithmECDSA (SigV4A)
	Presigned bool   // signature came in the query string
	// ExpiresAt is when a presigned URL with X-Amz-Expires stops being valid
	// (zero otherwise).
	ExpiresAt     time.Time
	SignedHeaders string // the SignedHeaders list, e.g. "host;x-amz-date"

	// PayloadHash is the payload hash the signature covers: lowercase hex
	// SHA-256, or UNSIGNED-PAYLOAD.
	PayloadHash     string
	UnsignedPayload bool // PayloadHash is UNSIGNED-PAYLOAD: the body is not authenticated
	// PayloadHashFromHeader is true when Verify was given no payload hash and
	// took a hex hash from x-amz-content-sha256 on trust: the caller must
	// check that the body it reads hashes to PayloadHash before acting on it.
	PayloadHashFromHeader bool
}

// IsSigned reports whether r carries any SigV4 material: an Authorization
// header starting with "AWS4-", or an X-Amz-Algorithm query parameter.
func IsSigned(r *http.Request) bool {
	return hasSigV4Prefix(r.Header[hAuthorization]) || (r.URL != nil && queryHasKey(r.URL.RawQuery, qAlgorithm))
}

// hasSigV4Prefix reports whether an Authorization header value starts with
// "AWS4-".
func hasSigV4Prefix(authz []string) bool {
	for _, v := range authz {
		if strings.HasPrefix(v, "AWS4-") {
			return true
		}
	}
	return false
}

// Verify checks the signature on r.
//
// payloadHash is the lowercase hex SHA-256 of the body the server read, or ""
// if the caller did not read the body. With "", x-amz-content-sha256 must be
// present and is used as is (UNSIGNED-PAYLOAD only if AllowUnsignedPayload;
// see Result.PayloadHashFromHeader), except that a request declaring no body
// at all (ContentLength 0, no Transfer-Encoding) is taken to have the empty
// payload. If both the header and payloadHash are given and the header is not
// UNSIGNED-PAYLOAD, they must agree. Verify does not read or consume r.Body.
//
// Every authentication failure is an *Error. Other errors (a failing
// KeyStore, a misconfigured Verifier) are returned as they are.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, payloadHash string) (*Result, error) {
	res := new(Result)
	if err := v.VerifyInto(ctx, r, payloadHash, res); err != nil {
		return nil, err
	}
	return res, nil
}

// VerifyInto is Verify writing the result into res, so that a hot path can
// keep the Result on its stack: with it, verification allocates nothing.
// res is written only on success.
func (v *Verifier) VerifyInto(ctx context.Context, r *http.Request, payloadHash string, res *Result) error {
	return v.verifyInto(ctx, r, r.Header[hAuthorization], payloadHash, time.Time{}, res)
}

// VerifyIfSigned is IsSigned followed, for a signed request, by VerifyInto,
// with now as the current time instead of what Verifier.Now returns (so that
// a caller which needs the time anyway reads the clock once per request).
// signed is false, and err nil, for a request without SigV4 material: the
// caller treats it as anonymous. res is written only on success.
func (v *Verifier) VerifyIfSigned(ctx context.Context, r *http.Request, payloadHash string, now time.Time, res *Result) (signed bool, err error) {
	authz := r.Header[hAuthorization]
	if !hasSigV4Prefix(authz) && (r.URL == nil || !queryHasKey(r.URL.RawQuery, qAlgorithm)) {
		return false, nil
	}
	if now.IsZero() {
		now = v.now()
	}
	return true, v.verifyInto(ctx, r, authz, payloadHash, now, res)
}

// verifyInto is VerifyInto given the Authorization header values and the
// current time (zero: read it from the Verifier when it is needed).
func (v *Verifier) verifyInto(ctx context.Context, r *http.Request, authz []string, payloadHash string, now time.Time, res *Result) error {
	if v.Service == "" {
		return configError("Verifier.Service is empty")
	}
	if v.Keys == nil {
		return configError("Verifier.Keys is nil")
	}
	var p authParams
	if err := parseRequestAuthz(r, authz, &p); err != nil {
		return err
	}
	switch p.algorithm {
	case AlgorithmHMAC, AlgorithmECDSA:
		p.now = now
		return v.verify(ctx, r, &p, payloadHash, res)
	}
	return errAlgorithm(p.algorithm)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// checkScope validates the SigV4 credential scope against the Verifier and
// the request date.
func (v *Verifier) checkScope(p *authParams) (credentialScope, *Error) {
	if p.memo != nil {
		// Split already (the memo holds only credentials that split).
		return v.checkSplitScope(p.memo.scope, p)
	}
	if sc, ok := v.expectedScope(p); ok {
		return sc, nil
	}
	return v.checkScopeSplit(p)
}

// checkScopeSplit is checkScope without the fast paths.
func (v *Verifier) checkScopeSplit(p *authParams) (credentialScope, *Error) {
	sc, ok := splitCredential(p.credential)
	if !ok {
		return sc, errBadCredential(p.credential)
	}
	return v.checkSplitScope(sc, p)
}

// checkSplitScope is checkScope once the credential is split into sc.
func (v *Verifier) checkSplitScope(sc credentialScope, p *authParams) (credentialScope, *Error) {
	if err := v.checkTerminatorService(&sc); err != nil {
		return sc, err
	}
	if sc.Region == "" || (v.Region != "" && sc.Region != v.Region) {
		return sc, invalidSig("Credential should be scoped to a valid region. ")
	}
	if err := checkScopeDate(&sc, p); err != nil {
		return sc, err
	}
	return sc, nil
}

// expectedScope is the fast path of checkScope, for a Verifier with a
// Region: it recognises a credential whose scope is exactly the one that
// passes every check of checkScope ("DATE/REGION/SERVICE/aws4_request" with
// the request's date and the Verifier's region and service) by comparing
// it from the end, without splitting it. ok is false for anything else,
// which checkScope then splits and judges (or rejects) in full.
func (v *Verifier) expectedScope(p *authParams) (sc credentialScope, ok bool) {
	const term = "/" + scopeTerminator
	c, reg, svc := p.credential, v.Region, v.Service
	n := 8 + 1 + len(reg) + 1 + len(svc) + len(term) // the scope's length
	if reg == "" || len(c) <= n || c[len(c)-n-1] != '/' {
		return sc, false
	}
	akid, scope := c[:len(c)-n-1], c[len(c)-n:]
	if scope[:8] != p.amzDate[:8] || scope[8] != '/' ||
		scope[9:9+len(reg)] != reg || scope[9+len(reg)] != '/' ||
		scope[10+len(reg):n-len(term)] != svc || scope[n-len(term):] != term {
		return sc, false
	}
	// splitCredential would split the same way only if no element holds
	// a '/'. (The date is eight digits: parseAmzDate checked them.)
	if strings.IndexByte(akid, '/') >= 0 || strings.IndexByte(reg, '/') >= 0 || strings.IndexByte(svc, '/') >= 0 {
		return sc, false
	}
	return credentialScope{AccessKeyID: akid, Date: scope[:8], Region: reg, Service: svc,
		Terminator: scopeTerminator, Scope: scope}, true
}

func (v *Verifier) checkTerminatorService(sc *credentialScope) *Error {
	if sc.Terminator != scopeTerminator {
		return invalidSig("Credential should be scoped with a valid terminator: '" + scopeTerminator + "', not '" + echo(sc.Terminator) + "'. ")
	}
	if sc.Service != v.Service {
		return invalidSig("Credential should be scoped to correct service: '" + v.Service + "'. ")
	}
	return nil
}

func checkScopeDate(sc *credentialScope, p *authParams) *Error {
	if sc.Date != p.amzDate[:8] {
		return invalidSig("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			echo(sc.Date) + "' != '" + p.amzDate[:8] + "', from '" + p.amzDate + "'.")
	}
	return nil
}

// checkTime enforces the clock skew, and a presigned URL's expiry.
func (v *Verifier) checkTime(p *authParams) *Error {
	now := p.now
	if now.IsZero() {
		now = v.now()
	}
	now = now.UTC()
	skew := v.maxSkew()
	if p.signedAt.After(now.Add(skew)) {
		return errNotYetCurrent(p.signedAt, now, skew)
	}
	if p.presigned && p.expires > 0 {
		window := time.Duration(p.expires) * time.Second
		if now.After(p.signedAt.Add(window)) {
			return errExpired(p.signedAt, now, window)
		}
		return nil
	}
	if p.signedAt.Before(now.Add(-skew)) {
		return errExpired(p.signedAt, now, skew)
	}
	return nil
}

// payload decides which payload hash the canonical request carries.
type payload struct {
	hash       string
	alt        string // a second hash to try (presigned: UNSIGNED-PAYLOAD), or ""
	unsigned   bool
	fromHeader bool
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func declaresNoBody(r *http.Request) bool {
	return r.ContentLength == 0 && len(r.TransferEncoding) == 0 && (r.Body == nil || r.Body == http.NoBody)
}

func (v *Verifier) resolvePayload(r *http.Request, p *authParams, bodyHash string) (payload, *Error) {
	vs, present := r.Header[hContentSHA256]
	p.known.contentSHA256, p.known.haveContentSHA256 = vs, present
	h, ok, dup := singleValue(vs)
	if dup {
		return payload{}, incomplete("The request carries more than one x-amz-content-sha256 header.")
	}
	switch {
	case ok && h == UnsignedPayload:
		if !v.AllowUnsignedPayload {
			return payload{}, invalidSig("This service does not accept 'x-amz-content-sha256: UNSIGNED-PAYLOAD'; sign the payload.")
		}
		return payload{hash: UnsignedPayload, unsigned: true}, nil
	case ok:
		if !isLowerHex64(h) {
			return payload{}, invalidSig("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the lowercase hex SHA-256 of the payload, got '" + echo(h) + "'.")
		}
		if bodyHash != "" && bodyHash != h {
			return payload{}, invalidSig("The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		return payload{hash: h, fromHeader: bodyHash == ""}, nil
	}
	alt := ""
	if v.AllowUnsignedPayload {
		// Presigned URLs usually sign UNSIGNED-PAYLOAD (S3 style), and some
		// clients sign it without sending the header; nothing on the request
		// says which was used, so both are tried.
		alt = UnsignedPayload
	}
	switch {
	case bodyHash != "":
		return payload{hash: bodyHash, alt: alt}, nil
	case declaresNoBody(r):
		return payload{hash: EmptyPayloadHash, alt: alt}, nil
	case alt != "":
		return payload{hash: alt, unsigned: true}, nil
	}
	return payload{}, incomplete("The request must carry the 'x-amz-content-sha256' header.")
}

// verify checks a SigV4 or SigV4A signature: they differ in the credential
// scope, the key and the last step (HMAC or ECDSA), not in the canonical
// request.
func (v *Verifier) verify(ctx context.Context, r *http.Request, p *authParams, bodyHash string, res *Result) error {
	sigv4a := p.algorithm == AlgorithmECDSA
	var sc credentialScope
	var serr *Error
	if sigv4a {
		sc, serr = v.checkScopeA(p)
	} else {
		sc, serr = v.checkScope(p)
	}
	if serr != nil {
		return serr
	}
	if err := v.checkTime(p); err != nil {
		return err
	}
	pl, perr := v.resolvePayload(r, p, bodyHash)
	if perr != nil {
		return perr
	}
	if len(sc.AccessKeyID) == 0 || len(sc.AccessKeyID) > maxAccessKeyIDLen {
		return errInvalidToken()
	}
	cred, err := v.Keys.LookupAccessKey(ctx, sc.AccessKeyID)
	if err != nil {
		if errors.Is(err, ErrUnknownAccessKey) {
			return errInvalidToken()
		}
		return &lookupError{err}
	}
	if cred.SessionToken != "" || p.hasToken {
		if !p.hasToken || !ctEqualString(cred.SessionToken, p.token) {
			return errInvalidToken()
		}
	}
	if cred.AccessKeyID == "" {
		cred.AccessKeyID = sc.AccessKeyID
	}

	var key *signingKey
	var pub *ecdsa.PublicKey
	var der []byte // SigV4A: the DER signature, nil if it is not one
	s := getScratch()
	defer putScratch(s)
	if sigv4a {
		// Derived from the access key ID the client signed with.
		if pub, err = ecdsaKeys.get(sc.AccessKeyID, cred.SecretAccessKey); err != nil {
			return errMismatch()
		}
		der, _ = decodeECDSASig(&s.der, p.signature)
	} else if p.memo != nil {
		key = p.memo.signingKey(cred.SecretAccessKey, sc.Date, sc.Region, sc.Service)
	} else {
		key = signingKeys.get(cred.SecretAccessKey, sc.Date, sc.Region, sc.Service)
	}

	path := requestPath(r)
	try := func(path, payloadHash string) (bool, error) {
		if err := s.buildCanonical(r, path, p.presigned, p.signedHeaders, payloadHash, &p.known); err != nil {
			return false, err
		}
		if sigv4a {
			s.appendStringToSign(p.algorithm, p.amzDate, sc.Scope)
			return der != nil && s.verifyECDSA(pub, der), nil
		}
		s.signature(key, p.algorithm, p.amzDate, sc.Scope)
		return ctEqual(s.sig, p.signature), nil
	}
	ok, err := try(path, pl.hash)
	if err != nil {
		return incomplete("The query string has more than 10000 parameters.")
	}
	if !ok {
		// Keep what the primary attempt computed for the error.
		mismatch := errMismatch()
		mismatch.CanonicalRequest = string(s.canon)
		mismatch.StringToSign = string(s.sts)
		alts := [2]string{"", pl.alt}
		if v.NormalizePath {
			if np := normalizePath(path); np != path {
				alts[0] = np
			}
		}
		switch {
		case alts[1] != "" && tryOK(try(path, alts[1])):
			pl.hash, pl.unsigned = alts[1], true
		case alts[0] != "" && tryOK(try(alts[0], pl.hash)):
		case alts[0] != "" && alts[1] != "" && tryOK(try(alts[0], alts[1])):
			pl.hash, pl.unsigned = alts[1], true
		default:
			return mismatch
		}
	}

	if !sigv4a && p.memo == nil && p.authz != "" {
		// Verified: remember its prefix for the client's next request.
		authMemos.store(p.authz, key)
	}
	region := sc.Region
	if sigv4a {
		region = p.regionSet
	}
	*res = Result{
		Credential:            cred,
		AccessKeyID:           sc.AccessKeyID,
		SignedAt:              p.signedAt,
		Region:                region,
		Service:               sc.Service,
		Algorithm:             p.algorithm,
		Presigned:             p.presigned,
		SignedHeaders:         p.signedHeaders,
		PayloadHash:           pl.hash,
		UnsignedPayload:       pl.unsigned,
		PayloadHashFromHeader: pl.fromHeader,
	}
	if p.presigned && p.expires > 0 {
		res.ExpiresAt = p.signedAt.Add(time.Duration(p.expires) * time.Second)
	}
	return nil
}

func tryOK(ok bool, err error) bool { return ok && err == nil }
