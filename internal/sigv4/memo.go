package sigv4

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// A client signs every request of a day for one service with the same
// Authorization header up to the signature:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/svc/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
//	\_____________________________________ prefix _______________________________________________________/
//
// Parsing that prefix (tokenising it, validating SignedHeaders, splitting
// the credential) and finding its signing key in the key cache cost about as
// much as the two SHA-256 passes of the verification itself. The prefix memo
// remembers what those steps produced for prefixes that recently verified.
// It holds only pure functions of the prefix (its parse) plus a pointer to
// the signing key last used with it, which is reused only when its inputs
// (secret, date, region, service) are exactly those of the request. Nothing
// about the signature is remembered: every request is verified in full.

// authMemo is the parse of one Authorization header prefix. Its strings
// alias prefix, a copy owned by the memo. It is immutable once published,
// except for key.
type authMemo struct {
	prefix        string
	algorithm     string
	credential    string
	signedHeaders string
	flags         signedHeaderFlags // checkSignedHeaders(signedHeaders), which accepted it
	scope         credentialScope   // splitCredential(credential), which accepted it
	key           atomic.Pointer[signingKey]
}

const (
	// authMemoSlots is the size of the table (a power of two).
	authMemoSlots = 512
	// maxMemoPrefix bounds the prefixes remembered (and so the memory the
	// table can hold, about authMemoSlots*maxMemoPrefix bytes).
	maxMemoPrefix = 512
	// sigSuffixLen is the length of "Signature=" and a SigV4 signature.
	sigSuffixLen = len("Signature=") + 64
)

// authMemoTable is a fixed table of memos indexed by a seeded hash of the
// prefix: lookups take no lock, and a new memo replaces whatever held its
// slot.
type authMemoTable struct {
	seed  maphash.Seed
	slots [authMemoSlots]atomic.Pointer[authMemo]
}

var authMemos = &authMemoTable{seed: maphash.MakeSeed()}

// memoPrefix returns the length of v's prefix before a trailing
// "Signature=<64 bytes>" parameter, or 0 if v does not end that way.
//
// If n > 0, parseAuthorization(v) tokenises v[:n] exactly as it tokenises v
// on its own and then reads one more parameter, the Signature: v[n-1] is a
// separator, so a token ends there, and the last 74 bytes hold no separator,
// so they are one token. (Parameters are maximal runs of bytes other than
// ',', ' ' and '\t'.)
func memoPrefix(v string) int {
	n := len(v) - sigSuffixLen
	if n < 1 || n > maxMemoPrefix || !isAuthSep(v[n-1]) || v[n:n+10] != "Signature=" {
		return 0
	}
	sig := v[n+10:]
	// ' ' and '\t' are below 0x21; a rare other control byte only costs
	// the memo.
	if hasByteBelow0x21(sig) || strings.IndexByte(sig, ',') >= 0 {
		return 0
	}
	return n
}

func (t *authMemoTable) slot(prefix string) *atomic.Pointer[authMemo] {
	return &t.slots[maphash.String(t.seed, prefix)&(authMemoSlots-1)]
}

// lookup returns the memo of v's prefix, or nil.
func (t *authMemoTable) lookup(v string) *authMemo {
	n := memoPrefix(v)
	if n == 0 {
		return nil
	}
	if m := t.slot(v[:n]).Load(); m != nil && m.prefix == v[:n] {
		return m
	}
	return nil
}

// store remembers the prefix of v, a header that has just verified with
// key. It parses a private copy of the prefix, and remembers it only if it
// is a SigV4 prefix that parses cleanly to a credential and a SignedHeaders
// list, both valid, and no signature: then parsing v amounts to parsing the
// prefix and taking the signature, which is what a memo hit does.
func (t *authMemoTable) store(v string, key *signingKey) {
	n := memoPrefix(v)
	if n == 0 {
		return
	}
	prefix := strings.Clone(v[:n])
	a, err := parseAuthorization(prefix)
	if err != nil || a.Algorithm != AlgorithmHMAC || a.have != haveCredential|haveSignedHeaders {
		return
	}
	flags, ok := checkSignedHeaders(a.SignedHeaders)
	if !ok {
		return
	}
	sc, ok := splitCredential(a.Credential)
	if !ok {
		return
	}
	m := &authMemo{prefix: prefix, algorithm: a.Algorithm, credential: a.Credential,
		signedHeaders: a.SignedHeaders, flags: flags, scope: sc}
	m.key.Store(key)
	t.slot(prefix).Store(m)
}

// signingKey returns the signing key of (secret, date, region, service):
// the one last used with the memo m if it has exactly these inputs, or else
// the key cache's, which m then remembers.
func (m *authMemo) signingKey(secret, date, region, service string) *signingKey {
	if sk := m.key.Load(); sk != nil && sk.in == (cacheKey{secret, date, region, service}) {
		return sk
	}
	sk := signingKeys.get(secret, date, region, service)
	m.key.Store(sk)
	return sk
}
