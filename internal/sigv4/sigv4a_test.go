package sigv4

import (
	"bufio"
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Known SigV4A key pairs. The signers publish only the public key of the
// pair they derive, so the derivation is checked through it.
var knownKeysA = []struct {
	source       string
	akid, secret string
	x, y         string // public key, hex
}{
	{
		// aws-sdk-go-v2 internal/v4a (v1.5.10) v4a_test.go,
		// TestDeriveECDSAKeyPairFromSecret; the same values are in
		// smithy-go aws-http-auth (v1.1.3) sigv4a/sigv4a_test.go.
		source: "aws-sdk-go-v2 internal/v4a",
		akid:   "AKISORANDOMAASORANDOM", secret: "q+jcrXGc+0zWN6uzclKVhvMmUsIfRPa4rlRandom",
		x: "15d242ceebf8d8169fd6a8b5a746c41140414c3b07579038da06af89190fffcb",
		y: "0515242cedd82e94799482e4c0514b505afccf2c0c98d6a553bf539f424c5ec0",
	},
	{
		// aws-c-auth's SigV4A test suite (tests/aws-signing-test-suite/v4a,
		// public-key.json), as the AWS SDK for .NET's AWS4aSignerTests
		// (SigningTestEccPubX/Y) and the AWS SDK for Java v2's SigV4A
		// TestUtils (TEST_VERIFICATION_PUB_X/Y) quote it.
		source: "aws-c-auth v4a suite",
		akid:   "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		x: "b6618f6a65740a99e650b33b6b4b5bd0d43b176d721a3edfea7e7d2d56d936b1",
		y: "865ed22a7eadc9c5cb9d2cbaca1b3699139fedc5043dc6661864218330c8e518",
	},
}

func TestDeriveECDSAKeyKnownVectors(t *testing.T) {
	for _, k := range knownKeysA {
		t.Run(k.source, func(t *testing.T) {
			priv, err := deriveECDSAKey(k.akid, k.secret)
			if err != nil {
				t.Fatal(err)
			}
			got, err := priv.PublicKey.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if want := "04" + k.x + k.y; hex.EncodeToString(got) != want {
				t.Fatalf("public key\n%x\nwant\n%s", got, want)
			}
			// The cache hands out the same key, once derived.
			c := newECDSAKeyCache()
			pub, err := c.get(k.akid, k.secret)
			if err != nil || !pub.Equal(&priv.PublicKey) {
				t.Fatalf("cached key differs: %v", err)
			}
			if again, _ := c.get(k.akid, k.secret); again != pub {
				t.Fatal("cache miss on identical inputs")
			}
		})
	}
}

// TestDeriveECDSAKeyInputs: each input changes the key.
func TestDeriveECDSAKeyInputs(t *testing.T) {
	c := newECDSAKeyCache()
	base, _ := c.get("AKID", "secret")
	for _, in := range [][2]string{{"AKID2", "secret"}, {"AKID", "secret2"}, {"AKI", "Dsecret"}, {"", "AKIDsecret"}} {
		pub, err := c.get(in[0], in[1])
		if err != nil || pub.Equal(base) {
			t.Fatalf("%q shares the key of AKID/secret (%v)", in, err)
		}
	}
	// Bounded, and safe under concurrent use.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < keyCacheShards*keyCacheShardMax/8; i++ {
				if _, err := c.get("AKID"+strconv.Itoa(i), strconv.Itoa(g)); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	for i := range c.shards {
		if n := len(c.shards[i].m); n > keyCacheShardMax {
			t.Fatalf("shard %d has %d entries", i, n)
		}
	}
}

// TestKeyFromCandidates covers the candidate test of FIPS 186-4 B.4.2 that
// no known key reaches: candidates above n-2 are skipped, n-2 itself gives
// d = n-1, and running out of counters is an error.
func TestKeyFromCandidates(t *testing.T) {
	n := elliptic.P256().Params().N
	fill := func(v *big.Int, c *[32]byte) { v.FillBytes(c[:]) }
	nMinus := func(k int64) *big.Int { return new(big.Int).Sub(n, big.NewInt(k)) }
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

	var seen []byte
	priv, err := keyFromCandidates(func(counter byte, c *[32]byte) {
		seen = append(seen, counter)
		switch counter {
		case 1:
			fill(max, c)
		case 2:
			fill(nMinus(1), c)
		case 3:
			fill(n, c)
		default:
			fill(nMinus(2), c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(seen) != "\x01\x02\x03\x04" {
		t.Fatalf("counters %v", seen)
	}
	if d, _ := priv.Bytes(); new(big.Int).SetBytes(d).Cmp(nMinus(1)) != 0 {
		t.Fatalf("d = %x, want n-1", d)
	}
	priv, err = keyFromCandidates(func(_ byte, c *[32]byte) { *c = [32]byte{} })
	if d, _ := priv.Bytes(); err != nil || new(big.Int).SetBytes(d).Cmp(big.NewInt(1)) != 0 {
		t.Fatalf("candidate 0: d = %x, %v", d, err)
	}
	calls := 0
	if _, err := keyFromCandidates(func(_ byte, c *[32]byte) { calls++; fill(nMinus(1), c) }); !errors.Is(err, errKeyDerivation) || calls != 255 {
		t.Fatalf("no candidate: %v after %d tries", err, calls)
	}
}

func TestLessOrEqualAddOne256(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rnd := func() (b [32]byte) {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		// Mostly close values, so that the low words decide.
		if rng.IntN(2) == 0 {
			b[0] = 0xff
		}
		return b
	}
	for i := 0; i < 2000; i++ {
		a, b := rnd(), rnd()
		if rng.IntN(4) == 0 {
			b = a
			b[31-rng.IntN(32)] ^= byte(rng.Uint32())
		}
		ai, bi := new(big.Int).SetBytes(a[:]), new(big.Int).SetBytes(b[:])
		if got := lessOrEqual256(&a, &b); got != (ai.Cmp(bi) <= 0) {
			t.Fatalf("%x <= %x: %v", a, b, got)
		}
		if a == [32]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
			continue
		}
		addOne256(&a)
		if new(big.Int).SetBytes(a[:]).Cmp(ai.Add(ai, big.NewInt(1))) != 0 {
			t.Fatalf("add one: %x", a)
		}
	}
	carry := [32]byte{31: 0xff, 30: 0xff, 23: 0xff, 24: 0xff}
	addOne256(&carry)
	if carry != [32]byte{23: 0xff, 24: 0xff, 29: 1} {
		t.Fatalf("carry: %x", carry)
	}
}

// TestStringToSignAKnownVectors rebuilds, with the verifier's canonical
// request builder, requests whose string to sign the SDKs' SigV4A tests
// fix.
func TestStringToSignAKnownVectors(t *testing.T) {
	// aws-sdk-go-v2 internal/v4a (v1.5.10) v4a_test.go: buildRequest, signed
	// by TestSignHTTP (session token "TOKEN"; User-Agent, X-Amzn-Trace-Id and
	// Transfer-Encoding are not signed) and TestSignHTTP_NoSessionToken; the
	// tests give SHA-256(string to sign), the digest the ECDSA signature is
	// made over.
	sdkRequest := func(token bool) *http.Request {
		r, _ := http.NewRequest("POST", "https://dynamodb.us-east-1.amazonaws.com", nil)
		r.URL.Opaque = "//example.org/bucket/key-._~,!@%23$%25^&*()"
		r.Header.Set("X-Amz-Target", "prefix.Operation")
		r.Header.Set("Content-Type", "application/x-amz-json-1.0")
		r.Header.Set("Content-Length", "1024")
		r.Header.Set("X-Amz-Meta-Other-Header", "some-value=!@#$%^&* (+)")
		r.Header.Add("X-Amz-Meta-Other-Header_With_Underscore", "some-value=!@#$%^&* (+)")
		r.Header.Add("X-amz-Meta-Other-Header_With_Underscore", "some-value=!@#$%^&* (+)")
		r.Header.Set("X-Amz-Date", "19700101T000000Z")
		r.Header.Set("X-Amz-Region-Set", "us-east-1")
		if token {
			r.Header.Set("X-Amz-Security-Token", "TOKEN")
			r.Header.Set("User-Agent", "foo")
			r.Header.Set("X-Amzn-Trace-Id", "bar")
			r.Header.Set("Transfer-Encoding", "qux")
		}
		return r
	}
	// smithy-go aws-http-auth (v1.1.3) sigv4a/sigv4a_test.go, TestSignRequest
	// "minimal case, no session" and "minimal case, nonseekable" (an
	// unseekable body is signed as UNSIGNED-PAYLOAD).
	smithyRequest := func(token bool, regionSet string) *http.Request {
		r, _ := http.NewRequest("POST", "https://service.region.amazonaws.com", nil)
		r.Header.Set("Host", r.Host)
		r.Header.Set("X-Amz-Date", "19700101T000000Z")
		r.Header.Set("X-Amz-Region-Set", regionSet)
		if token {
			r.Header.Set("X-Amz-Security-Token", "SESSION")
		}
		return r
	}
	// aws-c-auth tests/aws-signing-test-suite/v4a/get-vanilla:
	// query-canonical-request.txt and query-string-to-sign.txt.
	crtQuery := "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fservice%2Faws4_request&" +
		"X-Amz-Date=20150830T123600Z&X-Amz-Region-Set=us-east-1&X-Amz-SignedHeaders=host"
	crtRequest, _ := http.NewRequest("GET", "https://example.amazonaws.com/?"+crtQuery+"&X-Amz-Signature=00", nil)
	cases := []struct {
		name          string
		req           *http.Request
		presigned     bool
		signedHeaders string
		payload       string
		amzDate       string // default 19700101T000000Z
		scope         string
		canonical     string // if set, the expected canonical request
		stsHash       string // hex SHA-256 of the string to sign
		stsTail       string // or: the last line of the string to sign
	}{
		{name: "aws-c-auth v4a get-vanilla query", req: crtRequest, presigned: true, signedHeaders: "host",
			payload: EmptyPayloadHash, amzDate: "20150830T123600Z", scope: "20150830/service/aws4_request",
			canonical: "GET\n/\n" + crtQuery + "\nhost:example.amazonaws.com\n\nhost\n" + EmptyPayloadHash,
			stsTail:   "367f580f0138ac98f22166a3bc5286fb61ab0fba16667aadfce7054aaadf0677"},
		{name: "aws-sdk-go-v2 TestSignHTTP_NoSessionToken", req: sdkRequest(false),
			signedHeaders: "content-length;content-type;host;x-amz-date;x-amz-meta-other-header;x-amz-meta-other-header_with_underscore;x-amz-region-set;x-amz-target",
			payload:       EmptyPayloadHash, scope: "19700101/dynamodb/aws4_request",
			stsHash: "1aeefb422ae6aa0de7aec829da813e55cff35553cac212dffd5f9474c71e47ee"},
		{name: "aws-sdk-go-v2 TestSignHTTP", req: sdkRequest(true),
			signedHeaders: "content-length;content-type;host;x-amz-date;x-amz-meta-other-header;x-amz-meta-other-header_with_underscore;x-amz-region-set;x-amz-security-token;x-amz-target",
			payload:       EmptyPayloadHash, scope: "19700101/dynamodb/aws4_request",
			stsHash: "4ba7d0482cf4d5450cefdc067a00de1a4a715e444856fa3e1d85c35fb34d9730"},
		{name: "smithy-go minimal case, no session", req: smithyRequest(false, "us-east-1"),
			signedHeaders: "host;x-amz-date;x-amz-region-set", payload: UnsignedPayload, scope: "19700101/dynamodb/aws4_request",
			stsTail: "825ea1f5e80bdb91ac8802e832504d1ff1c3b05b7619ffc273a1565a7600ff5a"},
		{name: "smithy-go minimal case, nonseekable", req: smithyRequest(true, "us-east-1,us-west-1"),
			signedHeaders: "host;x-amz-date;x-amz-region-set;x-amz-security-token", payload: UnsignedPayload, scope: "19700101/dynamodb/aws4_request",
			stsTail: "968265b4e87c6b10c8ec6bcfd63e8002814cb3256d74c6c381f0c31268c80b53"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := getScratch()
			defer putScratch(s)
			if err := s.buildCanonicalRequest(c.req, requestPath(c.req), c.presigned, c.signedHeaders, c.payload); err != nil {
				t.Fatal(err)
			}
			if c.canonical != "" && string(s.canon) != c.canonical {
				t.Fatalf("canonical request\n%s\nwant\n%s", s.canon, c.canonical)
			}
			if c.amzDate == "" {
				c.amzDate = "19700101T000000Z"
			}
			s.appendStringToSign(AlgorithmECDSA, c.amzDate, c.scope)
			if c.stsTail != "" {
				want := AlgorithmECDSA + "\n" + c.amzDate + "\n" + c.scope + "\n" + c.stsTail
				if string(s.sts) != want {
					t.Fatalf("string to sign\n%s\nwant\n%s\ncanonical request\n%s", s.sts, want, s.canon)
				}
				return
			}
			if got := sha256.Sum256(s.sts); hex.EncodeToString(got[:]) != c.stsHash {
				t.Fatalf("SHA-256 of the string to sign %x, want %s\nstring to sign\n%s\ncanonical request\n%s", got, c.stsHash, s.sts, s.canon)
			}
		})
	}
}

// TestFixturesA verifies requests signed by smithy-go's public SigV4A
// signer, and that changing any signed part breaks them.
func TestFixturesA(t *testing.T) {
	n := map[string]int{}
	for _, fx := range loadFixturesA(t) {
		for o := range fx.options {
			n[o]++
		}
		t.Run(fx.name, func(t *testing.T) {
			res, err := verifyFixture(t, fx, nil)
			if err != nil {
				t.Fatalf("%s\nVerify: %v", fx.desc, err)
			}
			if res.Algorithm != AlgorithmECDSA || res.Region != fx.regionSet || res.Presigned != fx.options["presigned"] ||
				!res.SignedAt.Equal(signTime) || res.Service != "vpc-lattice-svcs" || (res.Credential.SessionToken != "") != fx.options["token"] {
				t.Fatalf("result %+v", res)
			}

			sig := fixtureSignature(t, fx)
			last := sig[len(sig)-1:]
			flipped := sig[:len(sig)-1] + map[bool]string{true: "1", false: "0"}[last == "0"]
			edits := map[string]func(r *http.Request){
				"flipped signature bit": func(r *http.Request) {
					if fx.options["presigned"] {
						replaceInQuery(r, sig, flipped)
					} else {
						r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), sig, flipped, 1))
					}
				},
				"other host": func(r *http.Request) { r.Host = "evil.example.com" },
				"other path": func(r *http.Request) {
					r.RequestURI = "/x" + r.RequestURI
					r.URL.Path = "/x" + r.URL.Path
					r.URL.RawPath = ""
				},
				"other method": func(r *http.Request) { r.Method = "DELETE" },
				"widened region set": func(r *http.Request) {
					if fx.options["presigned"] {
						q := r.URL.Query().Get(qRegionSet)
						replaceInQuery(r, qRegionSet+"="+escapeRegionSet(q), qRegionSet+"=us-east-1%2Ceu-west-1")
						return
					}
					r.Header.Set("X-Amz-Region-Set", fx.regionSet+",eu-west-1")
				},
				"other query": func(r *http.Request) {
					r.URL.RawQuery += "&extra=1"
					if strings.Contains(r.RequestURI, "?") {
						r.RequestURI += "&extra=1"
					} else {
						r.RequestURI += "?extra=1"
					}
				},
			}
			for name, edit := range edits {
				_, err := verifyFixture(t, fx, edit)
				e := asError(t, err, CodeInvalidSignature, 403)
				if e.Message != msgSignatureMismatch {
					t.Fatalf("%s: %q", name, e.Message)
				}
				if !strings.HasPrefix(e.StringToSign, AlgorithmECDSA+"\n") || e.CanonicalRequest == "" {
					t.Fatalf("%s: string to sign %q", name, e.StringToSign)
				}
			}
		})
	}
	if n["presigned"] < 3 || n["token"] < 3 {
		t.Fatalf("fixture coverage %v", n)
	}
}

// escapeRegionSet escapes a region set as url.Values.Encode does.
func escapeRegionSet(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "*", "%2A"), ",", "%2C")
}

// TestRefCanonicalRequest checks the test signer's canonical request
// against the AWS SigV4 suite, so that round trips through it test the
// verifier against an independent implementation.
func TestRefCanonicalRequest(t *testing.T) {
	n := 0
	for _, c := range loadSuite(t) {
		if c.options["normalize-path"] {
			continue
		}
		r, body := parseRawRequest(t, c.request)
		var signed string
		if c.options["presigned"] {
			signed = r.URL.Query().Get(qSignedHeaders)
		} else {
			_, rest, _ := strings.Cut(c.authz, "SignedHeaders=")
			signed, _, _ = strings.Cut(rest, ",")
		}
		path, _, _ := strings.Cut(r.RequestURI, "?")
		got := refCanonicalRequest(r.Method, path, r.URL.RawQuery, r.Header, r.Host, strings.Split(signed, ";"), hashHex(body))
		if got != c.canonical {
			t.Errorf("%s: canonical request\n%s\nwant\n%s", c.name, got, c.canonical)
		}
		n++
	}
	if n < 15 {
		t.Fatalf("only %d cases", n)
	}
}

// dataPlaneA is the data plane's Verifier: vpc-lattice-svcs in us-east-1,
// UNSIGNED-PAYLOAD allowed.
func dataPlaneA() *Verifier {
	v := newVerifier("vpc-lattice-svcs")
	v.AllowUnsignedPayload = true
	return v
}

// unsignedGet is a data-plane GET as the SDKs sign it for Lattice.
var unsignedGet = signSpec{method: "GET", target: "/orders/42?expand=items&tag=a%20b", service: "vpc-lattice-svcs",
	payload: UnsignedPayload, header: http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}, "Accept": {"application/json"}}}

func TestRoundTripA(t *testing.T) {
	ctx := context.Background()
	for _, set := range []string{"*", "us-east-1", "us-*", "eu-west-1,us-east-1", " eu-west-1 , us-* ", "*-east-*", "us-east-1,*"} {
		t.Run("region-set="+set, func(t *testing.T) {
			res, err := dataPlaneA().Verify(ctx, signA(t, unsignedGet, set), "")
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Algorithm != AlgorithmECDSA || res.Region != strings.TrimSpace(set) && res.Region != set ||
				res.Service != "vpc-lattice-svcs" || res.AccessKeyID != testAKID || res.Credential != testKeys[testAKID] ||
				!res.UnsignedPayload || res.PayloadHash != UnsignedPayload || res.Presigned || !res.SignedAt.Equal(signTime) ||
				res.SignedHeaders != "accept;host;x-amz-content-sha256;x-amz-date;x-amz-region-set" {
				t.Fatalf("result %+v", res)
			}
		})
	}
	t.Run("session token", func(t *testing.T) {
		s := unsignedGet
		s.akid, s.secret, s.token = tempAKID, tempSecret, tempToken
		res, err := dataPlaneA().Verify(ctx, signA(t, s, "*"), "")
		if err != nil || res.Credential != testKeys[tempAKID] {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("payload hash", func(t *testing.T) {
		body := []byte(`{"tags":{"env":"prod"}}`)
		s := signSpec{method: "POST", target: arnPath, body: body, header: http.Header{"Content-Type": {"application/json"}}}
		v := newVerifier("vpc-lattice")
		res, err := v.Verify(ctx, signA(t, s, "us-east-1"), hashHex(body))
		if err != nil || res.UnsignedPayload || res.PayloadHash != hashHex(body) {
			t.Fatalf("%+v %v", res, err)
		}
		_, err = v.Verify(ctx, signA(t, s, "us-east-1"), hashHex([]byte("{}")))
		asError(t, err, CodeInvalidSignature, 403)
	})
	t.Run("any region when unset", func(t *testing.T) {
		v := dataPlaneA()
		v.Region = ""
		res, err := v.Verify(ctx, signA(t, unsignedGet, "eu-west-1"), "")
		if err != nil || res.Region != "eu-west-1" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("presigned", func(t *testing.T) {
		s := signSpec{method: "GET", target: "/reports?day=2026-01-01", service: "vpc-lattice-svcs", payload: UnsignedPayload}
		v := dataPlaneA()
		r := presignA(t, s, "*", 300)
		if r.Header.Get("Authorization") != "" || !strings.Contains(r.RequestURI, "X-Amz-Region-Set=%2A") {
			t.Fatalf("not presigned: %s", r.RequestURI)
		}
		res, err := v.Verify(ctx, r, "")
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if !res.Presigned || res.Region != "*" || !res.UnsignedPayload || !res.ExpiresAt.Equal(signTime.Add(300*time.Second)) ||
			res.Algorithm != AlgorithmECDSA || res.SignedHeaders != "host" {
			t.Fatalf("result %+v", res)
		}
		// Valid until X-Amz-Expires...
		v.Now = fixedNow(signTime.Add(299 * time.Second))
		if _, err := v.Verify(ctx, presignA(t, s, "*", 300), ""); err != nil {
			t.Fatal(err)
		}
		// ...and not after.
		v.Now = fixedNow(signTime.Add(301 * time.Second))
		_, err = v.Verify(ctx, presignA(t, s, "*", 300), "")
		e := asError(t, err, CodeInvalidSignature, 403)
		if !strings.HasPrefix(e.Message, "Signature expired: 20260101T001000Z is now earlier than 20260101T001001Z") {
			t.Fatalf("message %q", e.Message)
		}
		// With a session token, and with the empty payload hash.
		ts := s
		ts.akid, ts.secret, ts.token, ts.payload = tempAKID, tempSecret, tempToken, EmptyPayloadHash
		res, err = newVerifier("vpc-lattice-svcs").Verify(ctx, presignA(t, ts, "us-east-1", 0), "")
		if err != nil || res.UnsignedPayload || res.Credential != testKeys[tempAKID] {
			t.Fatalf("%+v %v", res, err)
		}
		// The region set in the query is covered by the signature.
		tr := presignA(t, s, "us-east-1", 300)
		replaceInQuery(tr, "X-Amz-Region-Set=us-east-1", "X-Amz-Region-Set=%2A")
		_, err = dataPlaneA().Verify(ctx, tr, "")
		asError(t, err, CodeInvalidSignature, 403)
		_, err = dataPlaneA().Verify(ctx, presignA(t, s, "eu-west-1", 300), "")
		asError(t, err, CodeInvalidSignature, 403)
	})
	t.Run("control plane SigV4 unaffected", func(t *testing.T) {
		if _, err := dataPlaneA().Verify(ctx, sdkSign(t, unsignedGet), ""); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFailuresA(t *testing.T) {
	body := []byte(`{"name":"svc"}`)
	post := signSpec{method: "POST", target: "/orders?id=7", body: body, service: "vpc-lattice-svcs", payload: UnsignedPayload,
		header: http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}, "Content-Type": {"application/json"}, "X-Custom": {"v1"}}}
	with := func(f func(*signSpec)) signSpec { s := post; f(&s); return s }
	signed := func(s signSpec, set string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request { return signA(t, s, set) }
	}
	mutate := func(f func(r *http.Request)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request { r := signA(t, post, "*"); f(r); return r }
	}
	withAuthz := func(f func(string) string) func(t *testing.T) *http.Request {
		return mutate(func(r *http.Request) { r.Header.Set("Authorization", f(r.Header.Get("Authorization"))) })
	}
	presigned := func(set string, f func(r *http.Request)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := presignA(t, signSpec{target: "/reports", service: "vpc-lattice-svcs", payload: UnsignedPayload}, set, 60)
			if f != nil {
				f(r)
			}
			return r
		}
	}
	cases := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		verif   func(v *Verifier)
		code    string
		status  int
		msg     string
		msgPart string
	}{
		{name: "wrong secret", req: signed(with(func(s *signSpec) { s.secret = "not-the-secret" }), "*"),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "key derived for another access key ID", req: withAuthz(func(a string) string {
			return strings.Replace(a, "Credential="+testAKID, "Credential="+tempAKID, 1)
		}), verif: func(v *Verifier) {
			v.Keys = memKeys{tempAKID: {AccessKeyID: tempAKID, SecretAccessKey: testSecret}}
		}, code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "unknown key", req: signed(with(func(s *signSpec) { s.akid = "AKIANOTAKEY000000000" }), "*"),
			code: CodeUnrecognizedClient, status: 403, msg: msgInvalidToken},
		{name: "missing session token", req: mutate(func(r *http.Request) {}), verif: func(v *Verifier) {
			v.Keys = memKeys{testAKID: {AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: "tok"}}
		}, code: CodeUnrecognizedClient, status: 403, msg: msgInvalidToken},
		{name: "skew +6min", req: signed(with(func(s *signSpec) { s.at = signTime.Add(6 * time.Minute) }), "*"),
			code: CodeInvalidSignature, status: 403,
			msg: "Signature not yet current: 20260101T001600Z is still later than 20260101T001500Z (20260101T001000Z + 5 min.)"},
		{name: "skew -10min", req: signed(with(func(s *signSpec) { s.at = signTime.Add(-10 * time.Minute) }), "*"),
			code: CodeInvalidSignature, status: 403,
			msg: "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)"},
		{name: "tampered signed header", req: mutate(func(r *http.Request) { r.Header.Set("X-Custom", "v2") }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "tampered region set", req: func(t *testing.T) *http.Request {
			r := signA(t, post, "us-east-1")
			r.Header.Set("X-Amz-Region-Set", "*")
			return r
		}, code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "tampered path", req: mutate(func(r *http.Request) { r.RequestURI = strings.Replace(r.RequestURI, "/orders", "/orderz", 1) }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "tampered query", req: mutate(func(r *http.Request) { r.URL.RawQuery = "id=8" }),
			code: CodeInvalidSignature, status: 403},
		{name: "tampered date", req: mutate(func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260101T001001Z") }),
			code: CodeInvalidSignature, status: 403},
		{name: "region set excludes the region", req: signed(post, "eu-west-1"),
			code: CodeInvalidSignature, status: 403,
			msg: "The region set 'eu-west-1' in X-Amz-Region-Set does not include the region 'us-east-1'."},
		{name: "region set wildcard excludes the region", req: signed(post, "eu-*,ap-*"),
			code: CodeInvalidSignature, status: 403, msgPart: "does not include the region 'us-east-1'"},
		{name: "region set is a prefix", req: signed(post, "us-east"), code: CodeInvalidSignature, status: 403},
		{name: "wrong service", req: signed(with(func(s *signSpec) { s.service = "vpc-lattice" }), "*"),
			code: CodeInvalidSignature, status: 403, msg: "Credential should be scoped to correct service: 'vpc-lattice-svcs'. "},
		{name: "wrong terminator", req: withAuthz(func(a string) string { return strings.Replace(a, "/aws4_request", "/aws5_request", 1) }),
			code: CodeInvalidSignature, status: 403, msgPart: "valid terminator: 'aws4_request', not 'aws5_request'"},
		{name: "scope date differs", req: withAuthz(func(a string) string { return strings.Replace(a, "/20260101/", "/20251231/", 1) }),
			code: CodeInvalidSignature, status: 403, msgPart: "Date in Credential scope does not match"},
		{name: "SigV4 credential scope", req: withAuthz(func(a string) string { return strings.Replace(a, "/20260101/", "/20260101/us-east-1/", 1) }),
			code: CodeIncompleteSignature, status: 400,
			msgPart: "Credential must have exactly 4 slash-delimited elements for AWS4-ECDSA-P256-SHA256, e.g. keyid/date/service/term, got '" + testAKID},
		{name: "missing region set", req: mutate(func(r *http.Request) { r.Header.Del("X-Amz-Region-Set") }),
			code: CodeIncompleteSignature, status: 400,
			msg: "Authorization header requires existence of a 'X-Amz-Region-Set' header for 'AWS4-ECDSA-P256-SHA256'."},
		{name: "empty region set", req: mutate(func(r *http.Request) { r.Header.Set("X-Amz-Region-Set", " , ") }),
			code: CodeIncompleteSignature, status: 400, msgPart: "'X-Amz-Region-Set' header"},
		{name: "two region set headers", req: mutate(func(r *http.Request) { r.Header.Add("X-Amz-Region-Set", "us-east-1") }),
			code: CodeIncompleteSignature, status: 400, msg: "The request carries more than one X-Amz-Region-Set header."},
		{name: "region set not signed", req: withAuthz(func(a string) string { return strings.Replace(a, ";x-amz-region-set", "", 1) }),
			code: CodeIncompleteSignature, status: 400, msg: "'X-Amz-Region-Set' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "missing X-Amz-Date", req: mutate(func(r *http.Request) { r.Header.Del("X-Amz-Date") }),
			code: CodeIncompleteSignature, status: 400, msgPart: "requires existence of either a 'X-Amz-Date' or a 'Date' header"},
		{name: "missing signature", req: withAuthz(func(a string) string { a, _, _ = strings.Cut(a, ", Signature="); return a }),
			code: CodeIncompleteSignature, status: 400, msgPart: "Authorization header requires 'Signature' parameter."},
		{name: "signature not hex", req: withAuthz(func(a string) string { return a[:len(a)-2] + "zz" }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "signature odd length", req: withAuthz(func(a string) string { return a[:len(a)-1] }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "signature truncated DER", req: withAuthz(func(a string) string { return a[:len(a)-2] }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "signature too long", req: withAuthz(func(a string) string { return a + strings.Repeat("00", 40) }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "signature empty", req: withAuthz(func(a string) string { a, _, _ = strings.Cut(a, "Signature="); return a + "Signature=" }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "HMAC signature", req: withAuthz(func(a string) string {
			a, _, _ = strings.Cut(a, "Signature=")
			return a + "Signature=" + strings.Repeat("ab", 32)
		}), code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "SigV4 request relabelled SigV4A", req: func(t *testing.T) *http.Request {
			r := sdkSign(t, with(func(s *signSpec) {
				s.header = http.Header{"X-Amz-Region-Set": {"*"}, "X-Amz-Content-Sha256": {UnsignedPayload}}
			}))
			a := strings.Replace(r.Header.Get("Authorization"), AlgorithmHMAC, AlgorithmECDSA, 1)
			r.Header.Set("Authorization", strings.Replace(a, "/us-east-1/", "/", 1))
			return r
		}, code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "presigned missing region set", req: presigned("*", func(r *http.Request) {
			replaceInQuery(r, "&X-Amz-Region-Set=%2A", "")
		}), code: CodeIncompleteSignature, status: 400,
			msg: "AWS query-string parameters must include 'X-Amz-Region-Set'. Re-examine the query-string parameters."},
		{name: "presigned empty region set", req: presigned("*", func(r *http.Request) {
			replaceInQuery(r, "X-Amz-Region-Set=%2A", "X-Amz-Region-Set=")
		}), code: CodeIncompleteSignature, status: 400, msgPart: "must include 'X-Amz-Region-Set'"},
		{name: "presigned repeated region set", req: presigned("*", func(r *http.Request) {
			replaceInQuery(r, "X-Amz-Region-Set=%2A", "X-Amz-Region-Set=%2A&X-Amz-Region-Set=us-east-1")
		}), code: CodeIncompleteSignature, status: 400, msgPart: "must not repeat 'X-Amz-Region-Set'"},
		{name: "presigned region set excludes the region", req: presigned("ap-*", nil),
			code: CodeInvalidSignature, status: 403, msgPart: "The region set 'ap-*'"},
		{name: "presigned wrong secret", req: func(t *testing.T) *http.Request {
			return presignA(t, signSpec{target: "/reports", service: "vpc-lattice-svcs", payload: UnsignedPayload, secret: "bad"}, "*", 60)
		}, code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "presigned unknown key", req: func(t *testing.T) *http.Request {
			return presignA(t, signSpec{target: "/reports", service: "vpc-lattice-svcs", payload: UnsignedPayload, akid: "AKIANOPE"}, "*", 60)
		}, code: CodeUnrecognizedClient, status: 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := dataPlaneA()
			if c.verif != nil {
				c.verif(v)
			}
			res, err := v.Verify(context.Background(), c.req(t), "")
			if err == nil {
				t.Fatalf("verified: %+v", res)
			}
			e := asError(t, err, c.code, c.status)
			if c.msg != "" && e.Message != c.msg {
				t.Fatalf("message\n%q\nwant\n%q", e.Message, c.msg)
			}
			if c.msgPart != "" && !strings.Contains(e.Message, c.msgPart) {
				t.Fatalf("message %q does not contain %q", e.Message, c.msgPart)
			}
		})
	}
}

// TestMismatchCarriesCanonicalRequestA: the error names the SigV4A string to
// sign, whose scope has no region.
func TestMismatchCarriesCanonicalRequestA(t *testing.T) {
	r := signA(t, signSpec{target: "/x?b=2&a=1", service: "vpc-lattice-svcs", secret: "wrong"}, "*")
	_, err := dataPlaneA().Verify(context.Background(), r, "")
	e := asError(t, err, CodeInvalidSignature, 403)
	wantCanon := "GET\n/x\na=1&b=2\nhost:" + testHost + "\nx-amz-date:20260101T001000Z\nx-amz-region-set:*\n\nhost;x-amz-date;x-amz-region-set\n" + EmptyPayloadHash
	if e.CanonicalRequest != wantCanon {
		t.Fatalf("canonical request\n%s\nwant\n%s", e.CanonicalRequest, wantCanon)
	}
	if want := refStringToSignA("20260101T001000Z", "20260101/vpc-lattice-svcs/aws4_request", wantCanon); e.StringToSign != want {
		t.Fatalf("string to sign\n%s\nwant\n%s", e.StringToSign, want)
	}
}

// TestNormalizePathA: the NormalizePath fallback applies to SigV4A too.
func TestNormalizePathA(t *testing.T) {
	canon := refCanonicalRequest("GET", "/a/b", "", http.Header{"X-Amz-Date": {"20260101T001000Z"}, "X-Amz-Region-Set": {"*"}},
		testHost, []string{"host", "x-amz-date", "x-amz-region-set"}, EmptyPayloadHash)
	sig := signStringA(t, testAKID, testSecret, refStringToSignA("20260101T001000Z", "20260101/vpc-lattice-svcs/aws4_request", canon))
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /a/./x/../b HTTP/1.1\r\nHost: " + testHost + "\r\nX-Amz-Date: 20260101T001000Z\r\nX-Amz-Region-Set: *\r\n" +
		"Authorization: " + AlgorithmECDSA + " Credential=" + testAKID + "/20260101/vpc-lattice-svcs/aws4_request, SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=" + sig + "\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	v := dataPlaneA()
	_, err = v.Verify(context.Background(), r, "")
	asError(t, err, CodeInvalidSignature, 403)
	v.NormalizePath = true
	if _, err := v.Verify(context.Background(), r, ""); err != nil {
		t.Fatal(err)
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "us-east-1", true},
		{"*", "", true},
		{"us-*", "us-east-1", true},
		{"us-*", "us-", true},
		{"us-*", "eu-west-1", false},
		{"us-*-1", "us-east-1", true},
		{"us-*-1", "us-east-2", false},
		{"*-east-*", "us-east-1", true},
		{"*east*", "us-east-1", true},
		{"us-east-1", "us-east-1", true},
		{"us-east-1", "us-east-10", false},
		{"us-east-10", "us-east-1", false},
		{"US-EAST-1", "us-east-1", false},
		{"**", "x", true},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"", "", true},
		{"", "a", false},
	}
	for _, c := range cases {
		if got := globMatch(c.pattern, c.name); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
	sets := []struct {
		set, region       string
		allowed, nonEmpty bool
	}{
		{"*", "us-east-1", true, true},
		{"eu-west-1,us-east-1", "us-east-1", true, true},
		{"eu-west-1, us-east-1 ", "us-east-1", true, true},
		{"eu-west-1,\tus-*", "us-east-1", true, true},
		{"eu-west-1,ap-*", "us-east-1", false, true},
		{",,", "us-east-1", false, false},
		{"", "", false, false},
		{" ", "", false, false},
		{"eu-west-1", "", true, true},
	}
	for _, c := range sets {
		if a, n := regionSetAllows(c.set, c.region); a != c.allowed || n != c.nonEmpty {
			t.Errorf("regionSetAllows(%q, %q) = %v, %v", c.set, c.region, a, n)
		}
	}
}

// FuzzGlobMatch compares globMatch with a regular expression.
func FuzzGlobMatch(f *testing.F) {
	for _, s := range [][2]string{{"us-*", "us-east-1"}, {"*-east-*", "us-east-1"}, {"a*b*c", "aXbYc"}, {"*", ""}, {"a**", "a"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 64 {
			return
		}
		parts := strings.Split(pattern, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re, err := regexp.Compile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
		if err != nil {
			t.Skip()
		}
		// regexp works on UTF-8; compare only where that agrees with bytes.
		if !isASCII(pattern) || !isASCII(name) {
			return
		}
		if got, want := globMatch(pattern, name), re.MatchString(name); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, want %v", pattern, name, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestSplitCredentialA(t *testing.T) {
	sc, ok := splitCredentialA("AKID/20150830/service/aws4_request")
	if !ok || sc.AccessKeyID != "AKID" || sc.Date != "20150830" || sc.Service != "service" || sc.Region != "" ||
		sc.Terminator != "aws4_request" || sc.Scope != "20150830/service/aws4_request" {
		t.Fatalf("%+v %v", sc, ok)
	}
	for _, bad := range []string{"", "AKID", "A/b/c", "A/b/c/d/e", "A/b/c/d/"} {
		if _, ok := splitCredentialA(bad); ok {
			t.Errorf("splitCredentialA(%q) accepted", bad)
		}
	}
}

// TestVerifyAllocationsA reports what a SigV4A Verify allocates (crypto/ecdsa
// converts the public key and runs its own arithmetic) and keeps it bounded.
func TestVerifyAllocationsA(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	r := signA(t, unsignedGet, "*")
	v := dataPlaneA()
	n := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(context.Background(), r, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%v allocations per SigV4A Verify", n)
	if n > 16 {
		t.Errorf("%v allocations per SigV4A Verify", n)
	}
}
