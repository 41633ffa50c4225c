package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestCanonicalURI(t *testing.T) {
	cases := map[string]string{
		"/":                             "/",
		"/services":                     "/services",
		"/a%3Ab":                        "/a%253Ab",
		"/a:b@c=d+e":                    "/a%3Ab%40c%3Dd%2Be",
		"/-._~":                         "/-._~",
		"/caf\xc3\xa9":                  "/caf%C3%A9",
		"/sp ace":                       "/sp%20ace",
		"//double//":                    "//double//",
		"/tags/arn%3Aaws%2Fsvc-0123456": "/tags/arn%253Aaws%252Fsvc-0123456",
	}
	for in, want := range cases {
		if got := string(appendCanonicalURI(nil, in)); got != want {
			t.Errorf("appendCanonicalURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequestPath(t *testing.T) {
	r := httptest.NewRequest("GET", "/a%2Fb:c?x=y", nil)
	if got := requestPath(r); got != "/a%2Fb:c" {
		t.Errorf("server form: %q", got)
	}
	r.RequestURI = "http://example.com/p/q?x"
	if got := requestPath(r); got != "/p/q" {
		t.Errorf("absolute form: %q", got)
	}
	r.RequestURI = "http://example.com?x"
	if got := requestPath(r); got != "/" {
		t.Errorf("absolute form without path: %q", got)
	}
	c, _ := http.NewRequest("GET", "https://example.com/a%2Fb", nil)
	if got := requestPath(c); got != "/a%2Fb" {
		t.Errorf("client form: %q", got)
	}
	c.URL.Opaque = "//example.com/x%2Fy"
	if got := requestPath(c); got != "/x%2Fy" {
		t.Errorf("opaque form: %q", got)
	}
	c, _ = http.NewRequest("GET", "https://example.com", nil)
	if got := requestPath(c); got != "/" {
		t.Errorf("empty path: %q", got)
	}
}

func TestNormalizePath(t *testing.T) {
	cases := map[string]string{
		"/":                        "/",
		"//":                       "/",
		"//example//":              "/example/",
		"/./":                      "/",
		"/./example":               "/example",
		"/example/..":              "/",
		"/example1/example2/../..": "/",
		"/a/b/../c/./d/":           "/a/c/d/",
		"/../../a":                 "/a",
		"/a%2F..%2Fb":              "/a%2F..%2Fb",
	}
	for in, want := range cases {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	cases := map[string]string{
		"value":              "value",
		"  a   b   c  ":      "a b c",
		"\ta \t  b\t":        "a \t b",
		`"a   b   c"`:        `"a b c"`,
		"":                   "",
		"   ":                "",
		"a,  b,c":            "a, b,c",
		"x-amz-date-looking": "x-amz-date-looking",
	}
	for in, want := range cases {
		if got := string(appendHeaderValue(nil, in)); got != want {
			t.Errorf("appendHeaderValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalKeyMatchesTextproto(t *testing.T) {
	for _, name := range []string{"host", "x-amz-date", "content-type", "x-amz-content-sha256", "a", "-x-", "x--y",
		"x_y", "a1-b2", "weird!#$%&'*+.^_`|~", "x-amz-meta-ünïcode", "has space", "x-éa"} {
		k := []byte(name)
		canonicalKey(k)
		if want := textproto.CanonicalMIMEHeaderKey(name); string(k) != want {
			t.Errorf("canonicalKey(%q) = %q, textproto says %q", name, k, want)
		}
	}
}

func TestCommonHeaderKeys(t *testing.T) {
	n := 0
	for _, name := range []string{"content-type", "content-length", "x-amz-date", "x-amz-content-sha256",
		"x-amz-security-token", "x-amz-target", "x-amz-user-agent", "amz-sdk-invocation-id", "amz-sdk-request",
		"accept", "content-md5", "date", "host", "x-custom"} {
		k := commonHeaderKey(name)
		if k == "" {
			continue
		}
		n++
		if want := textproto.CanonicalMIMEHeaderKey(name); k != want {
			t.Errorf("commonHeaderKey(%q) = %q, want %q", name, k, want)
		}
	}
	if n != 12 {
		t.Errorf("%d common keys", n)
	}
}

func TestHeaderLookupSpellings(t *testing.T) {
	h := http.Header{}
	h["x-lower"] = []string{"1"} // set without canonicalisation
	h.Set("X-Mixed-Case", "2")
	if vs := headerValues(h, "x-lower"); len(vs) != 1 || vs[0] != "1" {
		t.Errorf("x-lower: %v", vs)
	}
	if vs := headerValues(h, "x-mixed-case"); len(vs) != 1 || vs[0] != "2" {
		t.Errorf("x-mixed-case: %v", vs)
	}
	if vs := headerValues(h, "x-absent"); vs != nil {
		t.Errorf("x-absent: %v", vs)
	}
}

func TestDeriveSigningKey(t *testing.T) {
	// The example in the AWS IAM user guide.
	sk := deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
	if got := hex.EncodeToString(sk.key[:]); got != "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9" {
		t.Fatalf("signing key %s", got)
	}
}

// TestMacMatchesCryptoHMAC checks the precomputed-state HMAC against
// crypto/hmac on random keys and message lengths around block boundaries.
func TestMacMatchesCryptoHMAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := getScratch()
	defer putScratch(s)
	for i := 0; i < 300; i++ {
		secret := strconv.FormatUint(rng.Uint64(), 36)
		sk := deriveSigningKey(secret, "20260101", "us-east-1", "svc")
		msg := make([]byte, rng.IntN(300))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		m := hmac.New(sha256.New, sk.key[:])
		m.Write(msg)
		want := m.Sum(nil)
		if got := s.macSum(sk, msg); !hmac.Equal(got, want) {
			t.Fatalf("len %d: mac %x, want %x", len(msg), got, want)
		}
	}
}

func TestKeyCache(t *testing.T) {
	c := newKeyCache()
	a := c.get("secret", "20260101", "us-east-1", "vpc-lattice")
	if b := c.get("secret", "20260101", "us-east-1", "vpc-lattice"); b != a {
		t.Fatal("cache miss on identical inputs")
	}
	for _, other := range [][4]string{
		{"secret2", "20260101", "us-east-1", "vpc-lattice"},
		{"secret", "20260102", "us-east-1", "vpc-lattice"},
		{"secret", "20260101", "us-west-2", "vpc-lattice"},
		{"secret", "20260101", "us-east-1", "vpc-lattice-svcs"},
	} {
		if b := c.get(other[0], other[1], other[2], other[3]); b.key == a.key {
			t.Fatalf("%v shares a key", other)
		}
	}
	// Bounded by construction (a fixed table), and safe under concurrent
	// use: every get returns the key of its own inputs, while other
	// goroutines fill and overwrite slots.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2*keyCacheSlots; i++ {
				secret := strconv.Itoa(g) + "/" + strconv.Itoa(i%(keyCacheSlots/2))
				got := c.get(secret, "20260101", "us-east-1", "vpc-lattice")
				if i%97 == 0 && got.key != deriveSigningKey(secret, "20260101", "us-east-1", "vpc-lattice").key {
					t.Errorf("%s: wrong key", secret)
					return
				}
				if got.in != (cacheKey{secret, "20260101", "us-east-1", "vpc-lattice"}) {
					t.Errorf("%s: entry for %v", secret, got.in)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	total := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			total++
		}
	}
	if total < keyCacheSlots/2 {
		t.Fatalf("only %d of %d slots used", total, keyCacheSlots)
	}
	// A recently used key is still found after the churn.
	x := c.get("fresh", "20260101", "us-east-1", "vpc-lattice")
	if y := c.get("fresh", "20260101", "us-east-1", "vpc-lattice"); y != x {
		t.Fatal("cache miss right after a store")
	}
}

func TestParseAmzDate(t *testing.T) {
	good := map[string]time.Time{
		"20150830T123600Z": time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC),
		"20240229T235959Z": time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC),
	}
	for s, want := range good {
		if got, ok := parseAmzDate(s); !ok || !got.Equal(want) {
			t.Errorf("parseAmzDate(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "20150830T123600", "20150830 123600Z", "2015083OT123600Z", "20150230T123600Z",
		"20231301T000000Z", "20150830T243600Z", "20150830T126000Z", "20150830T123660Z", "20230229T000000Z", "+0150830T123600Z"} {
		if _, ok := parseAmzDate(s); ok {
			t.Errorf("parseAmzDate(%q) accepted", s)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	a, err := parseAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	if err != nil || a.Algorithm != AlgorithmHMAC || a.Credential != "AKID/20150830/us-east-1/service/aws4_request" ||
		a.SignedHeaders != "host;x-amz-date" || a.Signature != "abc" || a.have != haveAll {
		t.Fatalf("%+v %v", a, err)
	}
	// No spaces after commas, an unknown parameter, a trailing comma.
	a, err = parseAuthorization("AWS4-HMAC-SHA256 Credential=A/b/c/d/e,Foo=bar,SignedHeaders=host,Signature=00,")
	if err != nil || a.Credential != "A/b/c/d/e" || a.SignedHeaders != "host" || a.Signature != "00" {
		t.Fatalf("%+v %v", a, err)
	}
	for _, bad := range []string{
		"AWS4-HMAC-SHA256 Credential=A, Credential=B",
		"AWS4-HMAC-SHA256 Credential=A /b/c/d/e",
		"AWS4-HMAC-SHA256 garbage",
	} {
		if _, err := parseAuthorization(bad); err == nil || err.Code != CodeIncompleteSignature {
			t.Errorf("parseAuthorization(%q) = %v", bad, err)
		}
	}
}

func TestCanonicalQueryLimit(t *testing.T) {
	s := getScratch()
	defer putScratch(s)
	q := "a=1"
	for i := 0; i < maxQueryParams; i++ {
		q += "&a=1"
	}
	if _, err := s.appendCanonicalQuery(nil, q, false); err == nil {
		t.Fatal("accepted more than maxQueryParams parameters")
	}
}
