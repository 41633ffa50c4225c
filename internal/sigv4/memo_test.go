package sigv4

import (
	"context"
	"hash/maphash"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"
)

const memoSig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestMemoPrefix(t *testing.T) {
	base := "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/s/aws4_request, SignedHeaders=host;x-amz-date, "
	for _, c := range []struct {
		v    string
		want int
	}{
		{base + "Signature=" + memoSig, len(base)},
		{strings.TrimSuffix(base, " ") + "Signature=" + memoSig, len(base) - 1},
		{strings.TrimSuffix(base, ", ") + "\tSignature=" + memoSig, len(base) - 1},
		{strings.TrimSuffix(base, ", ") + "Signature=" + memoSig, 0},      // glued to the previous token
		{base + "Signature=" + memoSig[:63], 0},                           // short signature
		{base + "Signature=" + memoSig + " ", 0},                          // trailing space
		{base + "Signature=" + memoSig[:30] + " " + memoSig[31:], 0},      // space inside
		{base + "Signature=" + memoSig[:30] + "," + memoSig[31:], 0},      // comma inside
		{base + "Signature=" + memoSig[:30] + "\t" + memoSig[31:], 0},     // tab inside
		{base + "signature=" + memoSig, 0},                                // not the parameter
		{" Signature=" + memoSig, 1},                                      // only a separator before (store rejects it)
		{"Signature=" + memoSig, 0},                                       // nothing before
		{strings.Repeat("x", maxMemoPrefix) + ",Signature=" + memoSig, 0}, // too long
	} {
		if got := memoPrefix(c.v); got != c.want {
			t.Errorf("memoPrefix(%q) = %d, want %d", c.v, got, c.want)
		}
	}
}

// TestMemoParseMatches stores memos for many headers and checks that, for
// every header whose prefix has a memo, the memo's parse is the one
// parseAuthorization gives.
func TestMemoParseMatches(t *testing.T) {
	tab := &authMemoTable{seed: maphash.MakeSeed()}
	prefixes := []string{
		"AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/s/aws4_request, SignedHeaders=host;x-amz-date, ",
		"AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/s/aws4_request,SignedHeaders=host,",
		"AWS4-HMAC-SHA256\tCredential=A/b/c/d/e \t SignedHeaders=a;host\t",
		"AWS4-HMAC-SHA256 Foo=bar, Credential=A/b/c/d/e, SignedHeaders=host, X=, ",
		// Rejected by store: a signature in the prefix, a parse error,
		// missing parameters, SigV4A, a bad list or credential.
		"AWS4-HMAC-SHA256 Credential=A/b/c/d/e, SignedHeaders=host, Signature=00, ",
		"AWS4-HMAC-SHA256 Credential=A/b/c/d/e, SignedHeaders=host, garbage, ",
		"AWS4-HMAC-SHA256 Credential=A/b/c/d/e, ",
		"AWS4-ECDSA-P256-SHA256 Credential=A/b/c/d, SignedHeaders=host, ",
		"AWS4-HMAC-SHA256 Credential=A/b/c/d/e, SignedHeaders=x;host, ",
		"AWS4-HMAC-SHA256 Credential=A/b/c/d, SignedHeaders=host, ",
		"AWS4-HMAC-SHA256 Credential=A/b/c/d/e, Credential=A/b/c/d/e, SignedHeaders=host, ",
	}
	stored := 0
	for i, pre := range prefixes {
		tab.store(pre+"Signature="+memoSig, &signingKey{})
		m := tab.lookup(pre + "Signature=" + memoSig)
		if (m != nil) != (i < 4) {
			t.Fatalf("%q: memo %v", pre, m != nil)
		}
		if m == nil {
			continue
		}
		stored++
		for _, sig := range []string{memoSig, strings.ToUpper(memoSig), strings.Repeat("z", 64)} {
			v := pre + "Signature=" + sig
			m := tab.lookup(v)
			if m == nil {
				t.Fatalf("%q: no memo", v)
			}
			want, err := parseAuthorization(v)
			if err != nil {
				t.Fatal(err)
			}
			got := authHeader{Algorithm: m.algorithm, Credential: m.credential, SignedHeaders: m.signedHeaders,
				Signature: v[len(v)-64:], have: haveAll}
			if got != want {
				t.Fatalf("%q: memo %+v, parse %+v", v, got, want)
			}
			if f, ok := checkSignedHeaders(want.SignedHeaders); !ok || f != m.flags {
				t.Fatalf("%q: memo flags %+v, want %+v", v, m.flags, f)
			}
			if sc, ok := splitCredential(want.Credential); !ok || sc != m.scope {
				t.Fatalf("%q: memo scope %+v, want %+v", v, m.scope, sc)
			}
		}
		// The memo owns its strings.
		if unsafe.StringData(m.prefix) == unsafe.StringData(pre) {
			t.Fatal("memo aliases the header")
		}
	}
	if stored != 4 {
		t.Fatalf("%d memos", stored)
	}
}

// TestMemoVerify verifies requests whose Authorization prefix has a memo:
// a correct signature verifies with the same Result as without the memo, a
// wrong one fails, and a secret that changed behind the same access key is
// not matched with the signing key the memo remembers.
func TestMemoVerify(t *testing.T) {
	spec := signSpec{method: "GET", target: "/memo?x=1", service: "vpc-lattice-svcs", payload: UnsignedPayload,
		header: http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}, at: signTime.Add(-time.Hour)}
	v := &Verifier{Service: "vpc-lattice-svcs", Region: "us-east-1", Keys: testKeys, Now: fixedNow(signTime.Add(-time.Hour)),
		AllowUnsignedPayload: true}
	ctx := context.Background()
	r := sdkSign(t, spec)
	first, err := v.Verify(ctx, r, "")
	if err != nil {
		t.Fatal(err)
	}
	if authMemos.lookup(r.Header.Get("Authorization")) == nil {
		t.Fatal("no memo after a verified request")
	}
	second, err := v.Verify(ctx, r, "")
	if err != nil {
		t.Fatal(err)
	}
	if *first != *second {
		t.Fatalf("memo hit: %+v, first %+v", second, first)
	}
	// Another request of the same client: same prefix, new signature.
	spec2 := spec
	spec2.target = "/memo?x=2"
	r2 := sdkSign(t, spec2)
	if authMemos.lookup(r2.Header.Get("Authorization")) == nil {
		t.Fatal("second request has no memo")
	}
	if _, err := v.Verify(ctx, r2, ""); err != nil {
		t.Fatal(err)
	}
	// A signature of another request, or a flipped digit, fails.
	swapped := r2.Clone(ctx)
	swapped.Header.Set("Authorization", r.Header.Get("Authorization"))
	asError(t, verifyErr(v, swapped), CodeInvalidSignature, 403)
	a := r2.Header.Get("Authorization")
	last := byte('0')
	if a[len(a)-1] == '0' {
		last = '1'
	}
	flipped := r2.Clone(ctx)
	flipped.Header.Set("Authorization", a[:len(a)-1]+string(last))
	if authMemos.lookup(flipped.Header.Get("Authorization")) == nil {
		t.Fatal("flipped header has no memo")
	}
	asError(t, verifyErr(v, flipped), CodeInvalidSignature, 403)
	// The key's secret changes: a request signed with the old secret
	// fails (the memo's key is not reused for another secret), one signed
	// with the new secret verifies.
	rotated := memKeys{testAKID: {AccessKeyID: testAKID, SecretAccessKey: "rotated-secret", Account: testAccount}}
	v2 := *v
	v2.Keys = rotated
	asError(t, verifyErr(&v2, r2), CodeInvalidSignature, 403)
	spec3 := spec2
	spec3.secret = "rotated-secret"
	r3 := sdkSign(t, spec3)
	if r3.Header.Get("Authorization")[:memoPrefix(a)] != a[:memoPrefix(a)] {
		t.Fatal("the prefix changed with the secret")
	}
	if _, err := v2.Verify(ctx, r3, ""); err != nil {
		t.Fatal(err)
	}
	asError(t, verifyErr(v, r3), CodeInvalidSignature, 403)
}

func verifyErr(v *Verifier, r *http.Request) error {
	_, err := v.Verify(context.Background(), r, "")
	return err
}
