package sigv4

import (
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// This file keeps the straightforward versions of the parsing and
// canonicalisation helpers that the hot path replaced with faster ones, and
// checks that both agree byte for byte.

// refParseAuthorization is the straightforward Authorization parser: split
// on commas, then on whitespace.
func refParseAuthorization(v string) (authHeader, *Error) {
	var a authHeader
	i := 0
	for i < len(v) && !isAuthSep(v[i]) {
		i++
	}
	a.Algorithm = v[:i]
	for part := range strings.SplitSeq(v[i:], ",") {
		for _, tok := range strings.FieldsFunc(part, func(r rune) bool { return r == ' ' || r == '\t' }) {
			if err := a.param(tok, v); err != nil {
				return a, err
			}
		}
	}
	return a, nil
}

// refCheckSignedHeaders validates a SignedHeaders list with strings.Split.
func refCheckSignedHeaders(list string) (signedHeaderFlags, bool) {
	var f signedHeaderFlags
	if list == "" {
		return f, false
	}
	names := strings.Split(list, ";")
	for i, name := range names {
		if name == "" || (i > 0 && name <= names[i-1]) {
			return f, false
		}
		for j := 0; j < len(name); j++ {
			if !isLowerTokenByte(name[j]) {
				return f, false
			}
		}
		switch name {
		case "host":
			f.host = true
		case "x-amz-date":
			f.amzDate = true
		case "date":
			f.date = true
		case "x-amz-region-set":
			f.regionSet = true
		}
	}
	return f, true
}

// refParseAmzDate parses with time.Parse and rejects what it normalises.
func refParseAmzDate(s string) (time.Time, bool) {
	if len(s) != 16 {
		return time.Time{}, false
	}
	for i := 0; i < 16; i++ {
		switch {
		case i == 8 && s[i] == 'T', i == 15 && s[i] == 'Z', i != 8 && i != 15 && '0' <= s[i] && s[i] <= '9':
		default:
			return time.Time{}, false
		}
	}
	t, err := time.Parse(amzDateLayout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// simpleCanonicalRequest is the straightforward canonical request builder:
// every signed header looked up with headerValues, no cached values.
func simpleCanonicalRequest(r *http.Request, path string, presigned bool, signedHeaders, payloadHash string) (string, error) {
	var b strings.Builder
	method := r.Method
	if method == "" {
		method = "GET"
	}
	b.WriteString(method + "\n")
	b.Write(appendCanonicalURI(nil, path))
	b.WriteString("\n")
	q := ""
	if r.URL != nil {
		q = r.URL.RawQuery
	}
	s := getScratch()
	cq, err := s.appendCanonicalQuery(nil, q, presigned)
	putScratch(s)
	if err != nil {
		return "", err
	}
	b.Write(cq)
	b.WriteString("\n")
	if signedHeaders != "" {
		for _, name := range strings.Split(signedHeaders, ";") {
			b.WriteString(name + ":")
			b.Write(appendHeader(nil, r, name))
			b.WriteString("\n")
		}
	}
	b.WriteString("\n" + signedHeaders + "\n" + payloadHash)
	return b.String(), nil
}

var authzSamples = []string{
	"",
	" ",
	"AWS4-HMAC-SHA256",
	"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
	"AWS4-HMAC-SHA256 Credential=A/b/c/d/e,Foo=bar,SignedHeaders=host,Signature=00,",
	"AWS4-HMAC-SHA256 Credential=A, Credential=B",
	"AWS4-HMAC-SHA256 Credential=A /b/c/d/e",
	"AWS4-HMAC-SHA256 Credential=A\t/b/c/d/e, SignedHeaders=host",
	"AWS4-HMAC-SHA256 garbage",
	"AWS4-HMAC-SHA256\tCredential=A/b/c/d/e\t,\tSignedHeaders=host ,  Signature=00  ",
	"AWS4-HMAC-SHA256 Credential=A/b/c/d/e SignedHeaders=host Signature=00",
	"AWS4-HMAC-SHA256 Credential=A/b/c/d/e,SignedHeaders=ho\x01st,Signature=00",
	"AWS4-HMAC-SHA256 Credential=A/b/c/d/e,SignedHeaders=host,Signature=0\x7f0\x80\xff",
	"AWS4-HMAC-SHA256 Credential=A/b/c/d/e, SignedHeaders=host, Signature=00, Signature=01",
	"AWS4-HMAC-SHA256 Credential=AKIAUSER000000000001/20261122/us-east-1/vpc-lattice-svcs/aws4_request, " +
		"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	",,, =,==, Signature==",
	"AWS4-ECDSA-P256-SHA256 Credential=AKID/20150830/service/aws4_request, SignedHeaders=host;x-amz-region-set, Signature=3045",
	"=AWS4 Credential",
	"AWS4-HMAC-SHA256 Credential==, SignedHeaders=;, Signature=",
}

func sameAuthz(t *testing.T, v string) {
	t.Helper()
	got, gerr := parseAuthorization(v)
	want, werr := refParseAuthorization(v)
	if (gerr == nil) != (werr == nil) || (gerr != nil && *gerr != *werr) {
		t.Fatalf("parseAuthorization(%q): error %v, reference %v", v, gerr, werr)
	}
	if gerr == nil && got != want {
		t.Fatalf("parseAuthorization(%q) = %+v, reference %+v", v, got, want)
	}
}

func TestParseAuthorizationMatchesReference(t *testing.T) {
	for _, v := range authzSamples {
		sameAuthz(t, v)
	}
	// Random mutations of a real header: separators, control bytes and
	// equal signs inserted, replaced and deleted anywhere.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(", \t=;/\x00\x1f\x21aZ\x80")
	for i := 0; i < 20000; i++ {
		b := []byte(authzSamples[14])
		for n := rng.IntN(4) + 1; n > 0; n-- {
			j := rng.IntN(len(b))
			c := alphabet[rng.IntN(len(alphabet))]
			switch rng.IntN(3) {
			case 0:
				b[j] = c
			case 1:
				b = append(b[:j], append([]byte{c}, b[j:]...)...)
			default:
				b = append(b[:j], b[j+1:]...)
			}
		}
		sameAuthz(t, string(b))
	}
}

func FuzzParseAuthorizationReference(f *testing.F) {
	for _, v := range authzSamples {
		f.Add(v)
	}
	f.Fuzz(sameAuthz)
}

func TestHasByteBelow0x21(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0, 1, '\t', ' ', '!', 0x7f, 0x80, 0xa0, 0xff} {
				b := []byte(strings.Repeat("a", n))
				b[pos] = c
				// A byte above the tested one must not matter.
				if pos > 0 {
					b[pos-1] = 0xff
				}
				if got, want := hasByteBelow0x21(string(b)), c < 0x21; got != want {
					t.Fatalf("hasByteBelow0x21(%q) = %v", b, got)
				}
			}
		}
	}
}

var signedHeaderSamples = []string{
	"", ";", "host", "host;", ";host", "host;host", "a;b;c", "b;a", "host;x-amz-date",
	"date;host", "host;x-amz-content-sha256;x-amz-date;x-amz-region-set", "Host", "ho st", "a;;b",
	"content-type;host;x-amz-date", "a-b;a", "a;a-b", "x\x00", "host;x-amz-date;x-amz-date",
	"!#$%&'*+-.^_`|~;a", "a,b",
}

func TestCheckSignedHeadersMatchesReference(t *testing.T) {
	for _, s := range signedHeaderSamples {
		gf, gok := checkSignedHeaders(s)
		wf, wok := refCheckSignedHeaders(s)
		if gok != wok || (gok && gf != wf) {
			t.Errorf("checkSignedHeaders(%q) = %+v %v, reference %+v %v", s, gf, gok, wf, wok)
		}
	}
}

func FuzzCheckSignedHeaders(f *testing.F) {
	for _, s := range signedHeaderSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		gf, gok := checkSignedHeaders(s)
		wf, wok := refCheckSignedHeaders(s)
		// The flags mean nothing for a rejected list.
		if gok != wok || (gok && gf != wf) {
			t.Fatalf("checkSignedHeaders(%q) = %+v %v, reference %+v %v", s, gf, gok, wf, wok)
		}
	})
}

func TestParseAmzDateMatchesReference(t *testing.T) {
	check := func(s string) {
		t.Helper()
		got, gok := parseAmzDate(s)
		want, wok := refParseAmzDate(s)
		if gok != wok || got != want {
			t.Fatalf("parseAmzDate(%q) = %v %v, reference %v %v", s, got, gok, want, wok)
		}
	}
	// Every day (and a bad day either side of each month) over four
	// centuries, leap years included, and the edges of the year range.
	for _, y := range []int{0, 1, 4, 99, 100, 399, 400, 1600, 1700, 1899, 1900, 1969, 1970, 1999, 2000, 2024, 2025, 2100, 2400, 9999} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				check(fmtDate(y, m, d, 12, 34, 56))
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 100000; i++ {
		check(fmtDate(rng.IntN(10000), rng.IntN(14), rng.IntN(33), rng.IntN(25), rng.IntN(61), rng.IntN(61)))
	}
	for _, s := range []string{"", "20150830T123600", "20150830 123600Z", "2015083OT123600Z", "+0150830T123600Z",
		"-0150830T123600Z", "2015-830T123600Z", "20150830T12:600Z", "20150830t123600Z", "20150830T123600z",
		"20150830T1236000", "/0150830T123600Z", ":0150830T123600Z"} {
		check(s)
	}
}

func fmtDate(y, m, d, h, mi, s int) string {
	pad := func(n, w int) string {
		v := strings.Repeat("0", w) + itoaTest(n)
		return v[len(v)-w:]
	}
	return pad(y, 4) + pad(m, 2) + pad(d, 2) + "T" + pad(h, 2) + pad(mi, 2) + pad(s, 2) + "Z"
}

func itoaTest(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestCanonicalRequestMatchesReference builds canonical requests for many
// requests with both the hot path (cached header values, no query work for
// an empty query) and simpleCanonicalRequest.
func TestCanonicalRequestMatchesReference(t *testing.T) {
	type tc struct {
		method, target, host string
		header               http.Header
		signed               string
		presigned            bool
		contentLength        int64
		te                   []string
	}
	cases := []tc{
		{method: "GET", target: "/", host: "example.com", signed: "host"},
		{method: "", target: "", host: "example.com", signed: "host;x-amz-date",
			header: http.Header{"X-Amz-Date": {"20150830T123600Z"}}},
		{method: "GET", target: "/orders/1", host: "orders.example", signed: "host;x-amz-content-sha256;x-amz-date",
			header: http.Header{"X-Amz-Date": {"20150830T123600Z"}, "X-Amz-Content-Sha256": {UnsignedPayload}}},
		// Multi-value headers, repeated and surrounding spaces.
		{method: "POST", target: "/a%20b/c?b=2&a=1&a=0", host: "  h.example  ", signed: "host;x-amz-content-sha256;x-amz-date;x-multi",
			header: http.Header{"X-Amz-Date": {"20150830T123600Z"}, "X-Amz-Content-Sha256": {" a  b ", "c   d"},
				"X-Multi": {"  one   two  ", "three", ""}}},
		{method: "GET", target: "/?q=a+b&r=%7e&s=%zz&t=x;y&u", host: "h", signed: "host;x-amz-date",
			header: http.Header{"X-Amz-Date": {"20150830T123600Z", "20150830T123601Z"}}},
		// Present but empty values; absent signed headers.
		{method: "PUT", target: "/x", host: "h", signed: "content-length;content-type;host;x-absent;x-amz-content-sha256;x-amz-date",
			header: http.Header{"X-Amz-Date": {}, "X-Amz-Content-Sha256": {}, "Content-Type": {"text/plain"}}, contentLength: 12},
		// Non-canonical key spellings (requests built in-process).
		{method: "GET", target: "/", host: "h", signed: "host;x-amz-content-sha256;x-amz-date",
			header: http.Header{"x-amz-date": {"20150830T123600Z"}, "x-amz-content-sha256": {"abc"}}},
		{method: "POST", target: "/chunked", host: "h", signed: "host;transfer-encoding", te: []string{"chunked"}},
		{method: "GET", target: "/p?X-Amz-Signature=abc&X-Amz-Date=1&a=%2F", host: "h", signed: "host", presigned: true},
		{method: "GET", target: "//a/./b/../c/", host: "h:8080", signed: "host;x-amz-date",
			header: http.Header{"X-Amz-Date": {"\t20150830T123600Z\t"}}},
	}
	for i, c := range cases {
		u, err := url.Parse("http://" + strings.TrimSpace(c.host) + c.target)
		if err != nil {
			t.Fatal(err)
		}
		r := &http.Request{Method: c.method, URL: u, Host: c.host, Header: c.header, ContentLength: c.contentLength, TransferEncoding: c.te}
		if r.Header == nil {
			r.Header = http.Header{}
		}
		r.RequestURI = c.target
		for _, presigned := range []bool{false, true} {
			// What the parser would have cached.
			var known knownHeaders
			known.amzDate, known.haveAmzDate = r.Header[hAmzDate]
			known.contentSHA256, known.haveContentSHA256 = r.Header[hContentSHA256]
			path := requestPath(r)
			want, werr := simpleCanonicalRequest(r, path, presigned, c.signed, UnsignedPayload)
			s := getScratch()
			gerr := s.buildCanonical(r, path, presigned, c.signed, UnsignedPayload, &known)
			got := string(s.canon)
			gerr2 := s.buildCanonicalRequest(r, path, presigned, c.signed, UnsignedPayload)
			got2 := string(s.canon)
			putScratch(s)
			if (gerr == nil) != (werr == nil) || (gerr2 == nil) != (werr == nil) {
				t.Fatalf("case %d: errors %v %v, reference %v", i, gerr, gerr2, werr)
			}
			if got != want || got2 != want {
				t.Fatalf("case %d (presigned %v):\n got %q\ngot2 %q\nwant %q", i, presigned, got, got2, want)
			}
		}
	}
}

// TestExpectedScopeMatchesSplit checks checkScope's fast path against the
// full split on credentials around the expected one.
func TestExpectedScopeMatchesSplit(t *testing.T) {
	base := "AKIAUSER000000000001/20261122/us-east-1/vpc-lattice-svcs/aws4_request"
	creds := []string{base, "/20261122/us-east-1/vpc-lattice-svcs/aws4_request", "A/B/20261122/us-east-1/vpc-lattice-svcs/aws4_request",
		"AKID/20261123/us-east-1/vpc-lattice-svcs/aws4_request", "AKID/20261122/us-east-2/vpc-lattice-svcs/aws4_request",
		"AKID/20261122/us-east-1/vpc-lattice/aws4_request", "AKID/20261122/us-east-1/vpc-lattice-svcs/aws4_requesT",
		"AKID/20261122/us-east-1/vpc-lattice-svcs/aws4_request/", "20261122/us-east-1/vpc-lattice-svcs/aws4_request",
		"AKID/20261122//us-east-1/vpc-lattice-svcs/aws4_request", "", "/", "AKID/20261122/us-east-1/vpc-lattice-svcsXaws4_request"}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 5000; i++ {
		b := []byte(base)
		j := rng.IntN(len(b))
		switch rng.IntN(3) {
		case 0:
			b[j] = "/a1-_"[rng.IntN(5)]
		case 1:
			b = append(b[:j], append([]byte{'/'}, b[j:]...)...)
		default:
			b = append(b[:j], b[j+1:]...)
		}
		creds = append(creds, string(b))
	}
	verifiers := []*Verifier{
		{Service: "vpc-lattice-svcs", Region: "us-east-1"},
		{Service: "vpc-lattice-svcs"}, // no Region: no fast path
		{Service: "vpc-lattice-svcs", Region: "us-east-1/vpc-lattice-svcs"},
		{Service: "us-east-1/vpc-lattice-svcs", Region: "20261122"},
		{Service: "aws4_request/x", Region: "us-east-1"},
	}
	fast := 0
	for _, v := range verifiers {
		for _, c := range creds {
			p := &authParams{credential: c, amzDate: "20261122T014403Z"}
			got, gerr := v.checkScope(p)
			want, werr := v.checkScopeSplit(p)
			if (gerr == nil) != (werr == nil) || (gerr != nil && *gerr != *werr) || (gerr == nil && got != want) {
				t.Fatalf("%+v %q: %+v %v, split %+v %v", v, c, got, gerr, want, werr)
			}
			if _, ok := v.expectedScope(p); ok {
				fast++
			}
		}
	}
	if fast == 0 {
		t.Fatal("the fast path never ran")
	}
}

func TestAppendHex(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := 0; n < 70; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		for _, prefix := range [][]byte{nil, []byte("abc"), make([]byte, 5, 200)} {
			want := hex.AppendEncode(slices.Clone(prefix), src)
			if got := appendHex(slices.Clone(prefix), src); string(got) != string(want) {
				t.Fatalf("appendHex(%q, %x) = %q, want %q", prefix, src, got, want)
			}
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if got, want := string(appendHex(nil, all)), hex.EncodeToString(all); got != want {
		t.Fatalf("appendHex of all bytes = %q", got)
	}
}
