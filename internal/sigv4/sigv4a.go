package sigv4

// SigV4A (AWS4-ECDSA-P256-SHA256) differs from SigV4 in four places only:
//
//   - the credential scope has no region: "AKID/DATE/SERVICE/aws4_request";
//   - the regions the signature is good for travel in X-Amz-Region-Set (a
//     signed header, or a query parameter of a presigned URL), a
//     comma-separated list in which '*' is a wildcard;
//   - the string to sign names the other algorithm and carries that scope;
//   - the signature is an ASN.1 DER ECDSA P-256 signature (hex) over
//     SHA-256(string to sign), made with a key pair that signer and verifier
//     both derive deterministically from the access key ID and the secret.
//
// The canonical request is SigV4's.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"github.com/trellis-net/trellis/internal/hexdigit"
	"hash/maphash"
	"math/big"
	"math/bits"
	"strings"
)

// p256NMinus2 is n-2, n the order of P-256, as a big-endian integer.
var p256NMinus2 = func() (b [32]byte) {
	new(big.Int).Sub(elliptic.P256().Params().N, big.NewInt(2)).FillBytes(b[:])
	return b
}()

// kdfLabel is the label of the SigV4A key derivation.
const kdfLabel = AlgorithmECDSA

// maxKDFCounter is the last value of the one-byte counter the derivation
// appends to the access key ID.
const maxKDFCounter = 255

var errKeyDerivation = errors.New("sigv4: no SigV4A key candidate in range")

// deriveECDSAKey derives the SigV4A key pair of an access key the way the
// AWS signers do: FIPS 186-4 B.4.2 ("key pair generation by testing
// candidates") with candidates from the NIST SP 800-108 KDF in counter mode,
// HMAC-SHA256 as the PRF.
//
// For counter = 1, 2, ...: the candidate c is the 256-bit KDF output for
//
//	key     = "AWS4A" + secret
//	label   = "AWS4-ECDSA-P256-SHA256"
//	context = access key ID || counter (one byte)
//
// and the first candidate with c <= n-2 gives the private key d = c+1. 256
// bits is one HMAC-SHA256 block, so the KDF's own 32-bit block counter i is
// always 1 and its input is
//
//	i (uint32 BE) || label || 0x00 || context || 256 (uint32 BE)
//
// A candidate above n-2 has probability about 2^-32, so in practice the
// counter is always 1. (The aws-sdk-go-v2 signer also retries on c = n-2,
// which FIPS 186-4 accepts; no key is known to reach either case.)
func deriveECDSAKey(accessKeyID, secret string) (*ecdsa.PrivateKey, error) {
	mac := hmac.New(sha256.New, []byte("AWS4A"+secret))
	in := make([]byte, 0, 4+len(kdfLabel)+1+len(accessKeyID)+1+4)
	return keyFromCandidates(func(counter byte, c *[32]byte) {
		in = binary.BigEndian.AppendUint32(in[:0], 1)
		in = append(in, kdfLabel...)
		in = append(in, 0)
		in = append(in, accessKeyID...)
		in = append(in, counter)
		in = binary.BigEndian.AppendUint32(in, 8*sha256.Size)
		mac.Reset()
		mac.Write(in)
		mac.Sum(c[:0])
	})
}

// keyFromCandidates tests the candidates candidate(1), candidate(2), ...
// and turns the first c <= n-2 into the P-256 private key c+1.
func keyFromCandidates(candidate func(counter byte, c *[32]byte)) (*ecdsa.PrivateKey, error) {
	var c [32]byte
	for counter := 1; counter <= maxKDFCounter; counter++ {
		candidate(byte(counter), &c)
		if lessOrEqual256(&c, &p256NMinus2) {
			addOne256(&c)
			return ecdsa.ParseRawPrivateKey(elliptic.P256(), c[:])
		}
	}
	return nil, errKeyDerivation
}

// lessOrEqual256 reports a <= b for big-endian 256-bit integers, in constant
// time: b - a does not borrow.
func lessOrEqual256(a, b *[32]byte) bool {
	var borrow uint64
	for i := 24; i >= 0; i -= 8 {
		_, borrow = bits.Sub64(binary.BigEndian.Uint64(b[i:]), binary.BigEndian.Uint64(a[i:]), borrow)
	}
	return borrow == 0
}

// addOne256 adds one to a big-endian 256-bit integer (which must not be
// 2^256-1), in constant time.
func addOne256(a *[32]byte) {
	carry := uint64(1)
	for i := 24; i >= 0; i -= 8 {
		var w uint64
		w, carry = bits.Add64(binary.BigEndian.Uint64(a[i:]), 0, carry)
		binary.BigEndian.PutUint64(a[i:], w)
	}
}

// ecdsaKeyCache caches the SigV4A public keys derived from (access key ID,
// secret): a derivation costs an HMAC and a scalar multiplication (about
// 15 µs), a verification with a cached key about 65 µs.
type ecdsaKeyCache struct {
	shardedCache[ecdsaCacheKey, *ecdsa.PublicKey]
}

type ecdsaCacheKey struct{ accessKeyID, secret string }

// ecdsaKeys is shared by all Verifiers, like signingKeys.
var ecdsaKeys = newECDSAKeyCache()

func newECDSAKeyCache() *ecdsaKeyCache {
	return &ecdsaKeyCache{shardedCache[ecdsaCacheKey, *ecdsa.PublicKey]{seed: maphash.MakeSeed()}}
}

func (c *ecdsaKeyCache) get(accessKeyID, secret string) (*ecdsa.PublicKey, error) {
	if pub, ok := c.lookup(secret, ecdsaCacheKey{accessKeyID, secret}); ok {
		return pub, nil
	}
	priv, err := deriveECDSAKey(accessKeyID, secret)
	if err != nil {
		return nil, err
	}
	// Keep a copy: a pointer into priv would keep the private key alive.
	pub := new(ecdsa.PublicKey)
	*pub = priv.PublicKey
	// The strings may alias a request header; do not pin it in the cache.
	secret = strings.Clone(secret)
	c.store(secret, ecdsaCacheKey{strings.Clone(accessKeyID), secret}, pub)
	return pub, nil
}

// splitCredentialA splits a SigV4A Credential, "AKID/date/service/term".
func splitCredentialA(c string) (credentialScope, bool) {
	var parts [4]string
	if !splitExactly(c, parts[:]) {
		return credentialScope{}, false
	}
	return credentialScope{
		AccessKeyID: parts[0],
		Date:        parts[1],
		Service:     parts[2],
		Terminator:  parts[3],
		Scope:       c[len(parts[0])+1:],
	}, true
}

func errBadCredentialA(c string) *Error {
	return incomplete("Credential must have exactly 4 slash-delimited elements for " + AlgorithmECDSA +
		", e.g. keyid/date/service/term, got '" + echo(c) + "'")
}

// regionSetAllows reports whether the X-Amz-Region-Set value set has an
// entry matching region (any entry, if region is ""), and whether it has any
// entry at all. Entries are separated by commas and trimmed of spaces and
// tabs; '*' in an entry matches any run of characters ("*", "us-*").
func regionSetAllows(set, region string) (allowed, nonEmpty bool) {
	for rest := set; ; {
		entry, tail, more := strings.Cut(rest, ",")
		if entry = trimSpaceTab(entry); entry != "" {
			nonEmpty = true
			if region == "" || globMatch(entry, region) {
				return true, true
			}
		}
		if !more {
			return false, nonEmpty
		}
		rest = tail
	}
}

// globMatch reports whether name matches pattern, in which '*' matches any
// run of bytes (including none) and every other byte matches itself. It
// backtracks only to the last star, so it runs in O(len(pattern)*len(name)).
func globMatch(pattern, name string) bool {
	p, n := 0, 0
	star, starN := -1, 0
	for p < len(pattern) || n < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; {
			case c == '*':
				star, starN = p, n
				p++
				continue
			case n < len(name) && name[n] == c:
				p++
				n++
				continue
			}
		}
		if star >= 0 && starN < len(name) {
			starN++
			p, n = star+1, starN
			continue
		}
		return false
	}
	return true
}

// checkScopeA validates a SigV4A credential scope and region set against the
// Verifier and the request date.
func (v *Verifier) checkScopeA(p *authParams) (credentialScope, *Error) {
	sc, ok := splitCredentialA(p.credential)
	if !ok {
		return sc, errBadCredentialA(p.credential)
	}
	if err := v.checkTerminatorService(&sc); err != nil {
		return sc, err
	}
	if allowed, _ := regionSetAllows(p.regionSet, v.Region); !allowed {
		return sc, invalidSig("The region set '" + echo(p.regionSet) + "' in X-Amz-Region-Set does not include the region '" + v.Region + "'.")
	}
	if err := checkScopeDate(&sc, p); err != nil {
		return sc, err
	}
	return sc, nil
}

// maxECDSASigLen is the longest DER encoding of a P-256 ECDSA signature:
// SEQUENCE { INTEGER r, INTEGER s }, each integer up to 33 bytes.
const maxECDSASigLen = 72

// decodeECDSASig decodes the hex signature into dst; ok is false when it is
// not hex or too long to be a P-256 signature.
func decodeECDSASig(dst *[maxECDSASigLen]byte, sig string) ([]byte, bool) {
	if len(sig) == 0 || len(sig)%2 != 0 || len(sig) > 2*maxECDSASigLen {
		return nil, false
	}
	for i := 0; i < len(sig); i += 2 {
		hi, ok1 := hexdigit.Value(sig[i])
		lo, ok2 := hexdigit.Value(sig[i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		dst[i/2] = hi<<4 | lo
	}
	return dst[:len(sig)/2], true
}

// verifyECDSA checks the DER signature der of the string to sign in s.sts.
func (s *scratch) verifyECDSA(pub *ecdsa.PublicKey, der []byte) bool {
	sum := sha256.Sum256(s.sts)
	return ecdsa.VerifyASN1(pub, sum[:], der)
}
