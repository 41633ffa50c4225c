package sigv4

import (
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzParseAuthorization checks the Authorization parser on arbitrary input:
// it never panics, fails only with IncompleteSignatureException, bounds what
// it echoes, and what it accepts re-serialises (the way the SDKs write the
// header) into a value that parses to the same parts.
func FuzzParseAuthorization(f *testing.F) {
	for _, c := range loadSuite(f) {
		if !c.options["presigned"] {
			f.Add(c.authz)
		}
	}
	for _, s := range []string{
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 Credential=A/b/c/d/e,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential= AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=A, Credential=B",
		"Bearer eyJhbGciOiJIUzI1NiJ9",
		"AWS4-ECDSA-P256-SHA256 Credential=AKID/20150830/service/aws4_request, SignedHeaders=host;x-amz-region-set, Signature=3045",
		"AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20150830/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-region-set;x-amz-security-token, " +
			"Signature=3046022100c73cca08380c72b8adb0ead5f9b51ad34ef1518bce21d7a7b43cd1a5c8cd38bc022100b9891d3e8828d1aafd32b946a42a235a6c7a6d762791595d1fb4513a50377257",
		"AWS4-ECDSA-P256-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/vpc-lattice-svcs/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-region-set,Signature=304402203f5f",
		"AWS4-ECDSA-P256-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=",
		"AWS4-ECDSA-P256-SHA256 Credential=/, SignedHeaders=;, Signature=zz",
		"AWS4-ECDSA-P256-SHA256\tCredential=A/b/c/d\t,SignedHeaders=x-amz-region-set",
		",,, =,==, Signature==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		a, err := parseAuthorization(v)
		if err != nil {
			if err.Code != CodeIncompleteSignature || err.Status != 400 {
				t.Fatalf("error %s/%d", err.Code, err.Status)
			}
			if len(err.Message) > 3*maxEcho+300 {
				t.Fatalf("message of %d bytes", len(err.Message))
			}
			return
		}
		for _, part := range []string{a.Algorithm, a.Credential, a.SignedHeaders, a.Signature} {
			if strings.ContainsAny(part, ", \t") {
				t.Fatalf("part %q contains a separator (from %q)", part, v)
			}
		}
		if a.have == haveAll && a.Algorithm != "" {
			again := a.Algorithm + " Credential=" + a.Credential + ", SignedHeaders=" + a.SignedHeaders + ", Signature=" + a.Signature
			b, err := parseAuthorization(again)
			if err != nil || b != a {
				t.Fatalf("re-parse of %q: %+v, %v; first %+v", again, b, err, a)
			}
		}
		if err := missingAuthParams(&a, true, v); (err == nil) != (a.have == haveAll) {
			t.Fatalf("missingAuthParams disagrees with have=%b", a.have)
		}
		if sc, ok := splitCredential(a.Credential); ok {
			joined := strings.Join([]string{sc.AccessKeyID, sc.Date, sc.Region, sc.Service, sc.Terminator}, "/")
			if joined != a.Credential || sc.AccessKeyID+"/"+sc.Scope != a.Credential {
				t.Fatalf("splitCredential(%q) = %+v", a.Credential, sc)
			}
		} else if strings.Count(a.Credential, "/") == 4 {
			t.Fatalf("splitCredential rejected %q", a.Credential)
		}
		if sc, ok := splitCredentialA(a.Credential); ok {
			joined := strings.Join([]string{sc.AccessKeyID, sc.Date, sc.Service, sc.Terminator}, "/")
			if joined != a.Credential || sc.AccessKeyID+"/"+sc.Scope != a.Credential || sc.Region != "" {
				t.Fatalf("splitCredentialA(%q) = %+v", a.Credential, sc)
			}
		} else if strings.Count(a.Credential, "/") == 3 {
			t.Fatalf("splitCredentialA rejected %q", a.Credential)
		}
		// The signature of a SigV4A header decodes only as a bounded DER blob.
		var der [maxECDSASigLen]byte
		if b, ok := decodeECDSASig(&der, a.Signature); ok {
			if len(b) == 0 || len(b) > maxECDSASigLen || hex.EncodeToString(b) != strings.ToLower(a.Signature) {
				t.Fatalf("decodeECDSASig(%q) = %x", a.Signature, b)
			}
		} else if _, err := hex.DecodeString(a.Signature); err == nil && a.Signature != "" && len(a.Signature) <= 2*maxECDSASigLen {
			t.Fatalf("decodeECDSASig rejected %q", a.Signature)
		}
		if _, ok := checkSignedHeaders(a.SignedHeaders); ok {
			names := strings.Split(a.SignedHeaders, ";")
			if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) ||
				strings.ToLower(a.SignedHeaders) != a.SignedHeaders {
				t.Fatalf("checkSignedHeaders accepted %q", a.SignedHeaders)
			}
		}
	})
}

// refCanonicalQuery is an independent, allocation-happy reference: the
// parameters net/url.ParseQuery sees, each encoded with url.QueryEscape
// (space as %20), sorted by encoded key then encoded value.
func refCanonicalQuery(raw string, skipSignature bool) (string, bool) {
	if strings.Count(raw, "&")+1 > maxQueryParams {
		return "", false
	}
	vals, _ := url.ParseQuery(raw)
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	var pairs [][2]string
	for k, vs := range vals {
		ek := enc(k)
		if skipSignature && k == qSignature {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, [2]string{ek, enc(v)})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p[0] + "=" + p[1]
	}
	return strings.Join(parts, "&"), true
}

// FuzzCanonicalQuery compares the pooled, allocation-free canonical query
// builder with refCanonicalQuery.
func FuzzCanonicalQuery(f *testing.F) {
	for _, c := range loadSuite(f) {
		line, _, _ := strings.Cut(c.request, "\n")
		if _, q, ok := strings.Cut(line, "?"); ok {
			q, _, _ = strings.Cut(q, " ")
			f.Add(q, c.options["presigned"])
		}
	}
	for _, q := range []string{
		"", "a", "a=", "=a", "&&", "a=1&a=1", "a;b=c&d=e", "a=%zz&b=%2", "a=%7e&b=%7E&c=~", "k=a-b&k=a%2Fb",
		"X-Amz-Signature=abc&X-Amz-Date=1", "X%2DAmz%2DSignature=1&x=%00%ff", "a+b=c+d&%20=%2B",
	} {
		f.Add(q, false)
		f.Add(q, true)
	}
	f.Fuzz(func(t *testing.T, raw string, skip bool) {
		s := getScratch()
		defer putScratch(s)
		got, err := s.appendCanonicalQuery(nil, raw, skip)
		want, ok := refCanonicalQuery(raw, skip)
		if (err == nil) != ok {
			t.Fatalf("error %v, reference ok %v", err, ok)
		}
		if ok && string(got) != want {
			t.Fatalf("canonical query of %q (skip %v):\n got %q\nwant %q", raw, skip, got, want)
		}
	})
}
