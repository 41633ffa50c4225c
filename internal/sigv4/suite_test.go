package sigv4

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The cases under testdata/suite follow the public AWS SigV4 test suite
// (credentials AKIDEXAMPLE, service "service", region us-east-1, date
// 20150830T123600Z), plus a few of our own. Each file has a description and
// sections:
//
//	-- options --            sdk: the SDK signer must produce the same signature
//	                         normalize-path: needs Verifier.NormalizePath
//	                         token: the key is temporary (session token)
//	                         presigned: the signature goes in X-Amz-Signature
//	-- request --            the raw request (no Authorization)
//	-- canonical-request --  expected canonical request
//	-- string-to-sign --     expected string to sign
//	-- authorization --      Authorization header (or, presigned, the signature)

const (
	suiteAKID   = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteToken  = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexampleTOKEN+trellis/sigv4=="
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

type suiteCase struct {
	name      string
	options   map[string]bool
	request   string
	canonical string
	sts       string
	authz     string
}

func loadSuite(t testing.TB) []suiteCase {
	t.Helper()
	files, err := filepath.Glob("testdata/suite/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d suite cases", len(files))
	}
	var cases []suiteCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sections := map[string]string{}
		cur := ""
		var sb strings.Builder
		flush := func() {
			if cur != "" {
				sections[cur] = strings.TrimSuffix(sb.String(), "\n")
			}
			sb.Reset()
		}
		for _, line := range strings.SplitAfter(string(b), "\n") {
			trimmed := strings.TrimSuffix(line, "\n")
			if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") {
				flush()
				cur = strings.TrimSuffix(strings.TrimPrefix(trimmed, "-- "), " --")
				continue
			}
			sb.WriteString(line)
		}
		flush()
		c := suiteCase{
			name:      strings.TrimSuffix(filepath.Base(f), ".txt"),
			options:   map[string]bool{},
			request:   sections["request"],
			canonical: sections["canonical-request"],
			sts:       sections["string-to-sign"],
			authz:     sections["authorization"],
		}
		for _, o := range strings.Fields(sections["options"]) {
			c.options[o] = true
		}
		if c.request == "" || c.canonical == "" || c.sts == "" || c.authz == "" {
			t.Fatalf("%s: missing a section", f)
		}
		cases = append(cases, c)
	}
	return cases
}

// parseRawRequest turns the raw request text into a request as net/http's
// server would present it. It is lenient where the suite is (spaces and raw
// UTF-8 in the request target).
func parseRawRequest(t testing.TB, raw string) (*http.Request, []byte) {
	t.Helper()
	head, body, hasBody := strings.Cut(raw, "\n\n")
	lines := strings.Split(head, "\n")
	first := lines[0]
	sp1 := strings.IndexByte(first, ' ')
	sp2 := strings.LastIndexByte(first, ' ')
	if sp1 < 0 || sp2 <= sp1 {
		t.Fatalf("bad request line %q", first)
	}
	r := &http.Request{
		Method:     first[:sp1],
		RequestURI: first[sp1+1 : sp2],
		Proto:      first[sp2+1:],
		Header:     http.Header{},
		Body:       http.NoBody,
	}
	path, query, _ := strings.Cut(r.RequestURI, "?")
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		r.URL = u
	} else {
		r.URL = &url.URL{Path: path, RawQuery: query}
	}
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad header line %q", l)
		}
		v = strings.Trim(v, " \t") // as net/textproto does
		if http.CanonicalHeaderKey(k) == "Host" {
			r.Host = v
			continue
		}
		r.Header.Add(k, v)
	}
	var b []byte
	if hasBody {
		b = []byte(body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
	}
	return r, b
}

func suiteVerifier(c suiteCase) *Verifier {
	cred := Credential{AccessKeyID: suiteAKID, SecretAccessKey: suiteSecret, Account: "111122223333"}
	if c.options["token"] {
		cred.SessionToken = suiteToken
	}
	return &Verifier{
		Service:       "service",
		Region:        "us-east-1",
		Keys:          memKeys{suiteAKID: cred},
		Now:           fixedNow(suiteTime.Add(time.Minute)),
		NormalizePath: c.options["normalize-path"],
	}
}

// suiteRequest returns the case's request with its signature attached.
func suiteRequest(t testing.TB, c suiteCase) (*http.Request, []byte) {
	r, body := parseRawRequest(t, c.request)
	if c.options["presigned"] {
		r.RequestURI += "&X-Amz-Signature=" + c.authz
		r.URL.RawQuery += "&X-Amz-Signature=" + c.authz
	} else {
		r.Header.Set("Authorization", c.authz)
	}
	return r, body
}

func suiteSignature(c suiteCase) string {
	if c.options["presigned"] {
		return c.authz
	}
	_, sig, _ := strings.Cut(c.authz, "Signature=")
	return sig
}

func TestSuiteCanonicalRequest(t *testing.T) {
	for _, c := range loadSuite(t) {
		t.Run(c.name, func(t *testing.T) {
			r, body := suiteRequest(t, c)
			var p authParams
			if err := parseRequest(r, &p); err != nil {
				t.Fatalf("parse: %v", err)
			}
			path := requestPath(r)
			if c.options["normalize-path"] {
				path = normalizePath(path)
			}
			payload := hashHex(body)
			s := getScratch()
			defer putScratch(s)
			if err := s.buildCanonicalRequest(r, path, p.presigned, p.signedHeaders, payload); err != nil {
				t.Fatal(err)
			}
			if got := string(s.canon); got != c.canonical {
				t.Fatalf("canonical request:\n%s\nwant:\n%s", got, c.canonical)
			}
			sc, ok := splitCredential(p.credential)
			if !ok {
				t.Fatalf("credential %q", p.credential)
			}
			s.signature(deriveSigningKey(suiteSecret, sc.Date, sc.Region, sc.Service), p.algorithm, p.amzDate, sc.Scope)
			if got := string(s.sts); got != c.sts {
				t.Fatalf("string to sign:\n%s\nwant:\n%s", got, c.sts)
			}
			if got, want := string(s.sig), suiteSignature(c); got != want {
				t.Fatalf("signature %s, want %s", got, want)
			}
		})
	}
}

func TestSuiteVerify(t *testing.T) {
	for _, c := range loadSuite(t) {
		t.Run(c.name, func(t *testing.T) {
			v := suiteVerifier(c)
			r, body := suiteRequest(t, c)
			res, err := v.Verify(context.Background(), r, hashHex(body))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKeyID != suiteAKID || res.Region != "us-east-1" || res.Service != "service" ||
				!res.SignedAt.Equal(suiteTime) || res.Presigned != c.options["presigned"] {
				t.Fatalf("result %+v", res)
			}
			if body == nil {
				// A request declaring no body needs no payload hash.
				if _, err := v.Verify(context.Background(), r, ""); err != nil {
					t.Fatalf("Verify without payload hash: %v", err)
				}
			}

			// A flipped signature byte fails, and the error carries the
			// canonical request the client should compare with.
			r2, body2 := suiteRequest(t, c)
			sig := suiteSignature(c)
			bad := sig[:len(sig)-1] + string("10"[sig[len(sig)-1]&1])
			if bad == sig {
				t.Fatal("tampering did not change the signature")
			}
			if c.options["presigned"] {
				r2.RequestURI = strings.Replace(r2.RequestURI, sig, bad, 1)
				r2.URL.RawQuery = strings.Replace(r2.URL.RawQuery, sig, bad, 1)
			} else {
				r2.Header.Set("Authorization", strings.Replace(c.authz, sig, bad, 1))
			}
			_, err = v.Verify(context.Background(), r2, hashHex(body2))
			e := asError(t, err, CodeInvalidSignature, 403)
			if e.Message != msgSignatureMismatch {
				t.Fatalf("message %q", e.Message)
			}
			if !c.options["normalize-path"] && (e.CanonicalRequest != c.canonical || e.StringToSign != c.sts) {
				t.Fatalf("error canonical request:\n%s\nstring to sign:\n%s", e.CanonicalRequest, e.StringToSign)
			}

			if c.options["normalize-path"] {
				// Without NormalizePath only the path as sent is accepted.
				v.NormalizePath = false
				r3, body3 := suiteRequest(t, c)
				_, err := v.Verify(context.Background(), r3, hashHex(body3))
				asError(t, err, CodeInvalidSignature, 403)
			}
		})
	}
}

// TestSuiteSDKSigner cross-checks the expected signatures against the
// official SDK signer for every case the SDK can express.
func TestSuiteSDKSigner(t *testing.T) {
	n := 0
	for _, c := range loadSuite(t) {
		if !c.options["sdk"] {
			continue
		}
		n++
		t.Run(c.name, func(t *testing.T) {
			r, body := parseRawRequest(t, c.request)
			var rd io.Reader
			if body != nil {
				rd = bytes.NewReader(body)
			}
			req, err := http.NewRequest(r.Method, "https://"+r.Host+r.RequestURI, rd)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = 0 // the suite does not sign content-length
			token := ""
			for k, vs := range r.Header {
				switch k {
				case "X-Amz-Date":
					continue // the signer sets it
				case "X-Amz-Security-Token":
					token = vs[0] // the signer sets it from the credentials
					continue
				}
				req.Header[k] = vs
			}
			signer := v4.NewSigner()
			creds := staticCreds(suiteAKID, suiteSecret, token)
			if c.options["presigned"] {
				u, _, err := signer.PresignHTTP(context.Background(), creds, req, hashHex(body), "service", "us-east-1", suiteTime)
				if err != nil {
					t.Fatal(err)
				}
				pu, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				if got := pu.Query().Get("X-Amz-Signature"); got != c.authz {
					t.Fatalf("SDK presigned signature %s, want %s", got, c.authz)
				}
				return
			}
			if err := signer.SignHTTP(context.Background(), creds, req, hashHex(body), "service", "us-east-1", suiteTime); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != c.authz {
				t.Fatalf("SDK Authorization\n%s\nwant\n%s", got, c.authz)
			}
		})
	}
	if n < 15 {
		t.Fatalf("only %d cases cross-checked with the SDK", n)
	}
}
