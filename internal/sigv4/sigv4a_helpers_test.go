package sigv4

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// signA signs s with the package's test-only SigV4A signer. It shares
// nothing with the verifier but the key derivation (checked against the
// SDKs' known keys in TestDeriveECDSAKeyKnownVectors): the canonical request
// is refCanonicalRequest's (checked against the AWS SigV4 suite in
// TestRefCanonicalRequest) and the signature is crypto/ecdsa's. Like the
// aws-sdk-go-v2 signers it signs host and every header the request carries,
// and it returns the request as a server would receive it.
func signA(t testing.TB, s signSpec, regionSet string) *http.Request {
	t.Helper()
	s = s.withDefaults()
	req := clientRequest(t, s)
	amzDate := s.at.UTC().Format(amzDateLayout)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Region-Set", regionSet)
	if s.token != "" {
		req.Header.Set("X-Amz-Security-Token", s.token)
	}
	signed := []string{"host"}
	for k := range req.Header {
		signed = append(signed, strings.ToLower(k))
	}
	slices.Sort(signed)
	canon := refCanonicalRequest(req.Method, req.URL.EscapedPath(), req.URL.RawQuery, req.Header, req.Host, signed, s.payload)
	scope := amzDate[:8] + "/" + s.service + "/" + scopeTerminator
	sig := signStringA(t, s.akid, s.secret, refStringToSignA(amzDate, scope, canon))
	req.Header.Set("Authorization", AlgorithmECDSA+" Credential="+s.akid+"/"+scope+", SignedHeaders="+
		strings.Join(signed, ";")+", Signature="+sig)
	return overTheWire(t, req)
}

// presignA presigns s with the test-only SigV4A signer (signing only host,
// as the SDK presigners do) and returns the request a client following the
// URL would send. expires > 0 adds X-Amz-Expires.
func presignA(t testing.TB, s signSpec, regionSet string, expires int) *http.Request {
	t.Helper()
	s = s.withDefaults()
	amzDate := s.at.UTC().Format(amzDateLayout)
	scope := amzDate[:8] + "/" + s.service + "/" + scopeTerminator
	path, query, _ := strings.Cut(s.target, "?")
	add := func(k, v string) {
		if query != "" {
			query += "&"
		}
		query += url.QueryEscape(k) + "=" + url.QueryEscape(v)
	}
	add(qAlgorithm, AlgorithmECDSA)
	add(qCredential, s.akid+"/"+scope)
	add(qDate, amzDate)
	add(qRegionSet, regionSet)
	add(qSignedHeaders, "host")
	if expires > 0 {
		add(qExpires, strconv.Itoa(expires))
	}
	if s.token != "" {
		add(qSecurityToken, s.token)
	}
	s.target = path + "?" + query
	req := clientRequest(t, s)
	canon := refCanonicalRequest(req.Method, req.URL.EscapedPath(), req.URL.RawQuery, req.Header, req.Host, []string{"host"}, s.payload)
	sig := signStringA(t, s.akid, s.secret, refStringToSignA(amzDate, scope, canon))
	req.URL.RawQuery += "&" + qSignature + "=" + sig
	return overTheWire(t, req)
}

func refStringToSignA(amzDate, scope, canon string) string {
	sum := sha256.Sum256([]byte(canon))
	return AlgorithmECDSA + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// signStringA returns the hex DER ECDSA signature of SHA-256(sts) with the
// key derived from the credentials.
func signStringA(t testing.TB, akid, secret, sts string) string {
	t.Helper()
	priv, err := deriveECDSAKey(akid, secret)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(sts))
	der, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(der)
}

// refCanonicalRequest is an independent, allocation-happy canonical request:
// the escaped path URI-encoded once more, refCanonicalQuery, the signed
// headers' values trimmed with inner whitespace runs collapsed and joined
// with commas.
func refCanonicalRequest(method, escapedPath, rawQuery string, h http.Header, host string, signed []string, payload string) string {
	var b strings.Builder
	b.WriteString(method + "\n")
	if escapedPath == "" {
		escapedPath = "/"
	}
	for _, c := range []byte(escapedPath) {
		if c == '/' || unreservedRef(c) {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	q, _ := refCanonicalQuery(rawQuery, false)
	b.WriteString("\n" + q + "\n")
	for _, name := range signed {
		vals := h.Values(name)
		if name == "host" {
			vals = []string{host}
		}
		clean := make([]string, len(vals))
		for i, v := range vals {
			clean[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(clean, ",") + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payload)
	return b.String()
}

func unreservedRef(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
}

// The SigV4A fixtures under testdata/sigv4a are requests signed by
// github.com/aws/smithy-go/aws-http-auth's public sigv4a.Signer (written by
// testdata/sigv4a/gen, with the credentials and time of helpers_test.go,
// for vpc-lattice-svcs). Each file is a description and two sections:
//
//	-- options --  presigned, token (the key is temporary),
//	               region-set=SET (the X-Amz-Region-Set the request carries)
//	-- request --  the raw signed request
//
// (aws-c-auth's SigV4A suite also has *-signed-request.txt files, but their
// signatures are not meant to verify: the suite checks only canonical
// requests and strings to sign, which TestStringToSignAKnownVectors uses.)
type fixtureA struct {
	name      string
	desc      string
	options   map[string]bool
	regionSet string
	request   string
}

func loadFixturesA(t testing.TB) []fixtureA {
	t.Helper()
	files, err := filepath.Glob("testdata/sigv4a/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("found only %d SigV4A fixtures", len(files))
	}
	var out []fixtureA
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		desc, rest, ok1 := strings.Cut(string(b), "-- options --\n")
		opts, req, ok2 := strings.Cut(rest, "\n-- request --\n")
		if !ok1 || !ok2 {
			t.Fatalf("%s: missing a section", f)
		}
		fx := fixtureA{name: strings.TrimSuffix(filepath.Base(f), ".txt"), desc: strings.TrimSpace(desc),
			options: map[string]bool{}, request: req}
		for _, o := range strings.Fields(opts) {
			if v, ok := strings.CutPrefix(o, "region-set="); ok {
				fx.regionSet = v
				continue
			}
			fx.options[o] = true
		}
		if fx.regionSet == "" {
			t.Fatalf("%s: no region set in options %q", f, opts)
		}
		out = append(out, fx)
	}
	return out
}

// verifyFixture parses the fixture's request, lets edit change it, and
// verifies it.
func verifyFixture(t *testing.T, fx fixtureA, edit func(r *http.Request)) (*Result, error) {
	t.Helper()
	r, _ := parseRawRequest(t, fx.request)
	if edit != nil {
		edit(r)
	}
	return dataPlaneA().Verify(context.Background(), r, "")
}

// replaceInQuery replaces old with new in the request target's query.
func replaceInQuery(r *http.Request, old, new string) {
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, old, new, 1)
	path, q, _ := strings.Cut(r.RequestURI, "?")
	r.RequestURI = path + "?" + strings.Replace(q, old, new, 1)
}

// fixtureSignature returns the fixture's hex signature.
func fixtureSignature(t *testing.T, fx fixtureA) string {
	r, _ := parseRawRequest(t, fx.request)
	if fx.options["presigned"] {
		return r.URL.Query().Get(qSignature)
	}
	_, sig, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	return sig
}
