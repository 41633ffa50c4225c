package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFailures(t *testing.T) {
	body := []byte(`{"name":"svc"}`)
	jsonPost := signSpec{method: "POST", target: arnPath + "?tagKeys=a&tagKeys=b", body: body,
		header: http.Header{"Content-Type": {"application/json"}, "X-Custom": {"v1"}}}
	type tc struct {
		name    string
		req     func(t *testing.T) *http.Request
		payload string // defaults to the hash of body
		verif   func(v *Verifier)
		code    string
		status  int
		msg     string // exact message, if set
		msgPart string // substring of the message, if set
	}
	signed := func(s signSpec) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request { return sdkSign(t, s) }
	}
	mutate := func(s signSpec, f func(r *http.Request)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request { r := sdkSign(t, s); f(r); return r }
	}
	withAuthz := func(s signSpec, f func(string) string) func(t *testing.T) *http.Request {
		return mutate(s, func(r *http.Request) { r.Header.Set("Authorization", f(r.Header.Get("Authorization"))) })
	}
	at := func(d time.Duration) signSpec { s := jsonPost; s.at = signTime.Add(d); return s }
	with := func(f func(*signSpec)) signSpec { s := jsonPost; f(&s); return s }
	bare := func(target string, hdr map[string]string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := httptest.NewRequest("GET", target, nil)
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
			return r
		}
	}
	const goodAuthz = "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20260101/us-east-1/vpc-lattice/aws4_request, SignedHeaders=host;x-amz-date, Signature=" +
		"0000000000000000000000000000000000000000000000000000000000000000"

	cases := []tc{
		{name: "no signature", req: bare("/services", nil),
			code: CodeMissingAuthenticationToken, status: 403, msg: "Missing Authentication Token"},
		{name: "empty authorization", req: bare("/services", map[string]string{"Authorization": ""}),
			code: CodeMissingAuthenticationToken, status: 403},
		{name: "wrong secret", req: signed(with(func(s *signSpec) { s.secret = "not-the-secret" })),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "unknown key", req: signed(with(func(s *signSpec) { s.akid = "AKIANOTAKEY000000000" })),
			code: CodeUnrecognizedClient, status: 403, msg: msgInvalidToken},
		{name: "skew +6min", req: signed(at(6 * time.Minute)),
			code: CodeInvalidSignature, status: 403,
			msg: "Signature not yet current: 20260101T001600Z is still later than 20260101T001500Z (20260101T001000Z + 5 min.)"},
		{name: "skew -10min", req: signed(at(-10 * time.Minute)),
			code: CodeInvalidSignature, status: 403,
			msg: "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)"},
		{name: "skew -6min", req: signed(at(-6 * time.Minute)),
			code: CodeInvalidSignature, status: 403, msgPart: "Signature expired: 20260101T000400Z is now earlier than"},
		{name: "custom MaxSkew", req: signed(at(-90 * time.Second)), verif: func(v *Verifier) { v.MaxSkew = time.Minute },
			code: CodeInvalidSignature, status: 403, msgPart: "(20260101T001000Z - 1 min.)"},
		{name: "tampered signed header", req: mutate(jsonPost, func(r *http.Request) { r.Header.Set("X-Custom", "v2") }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "added value to signed header", req: mutate(jsonPost, func(r *http.Request) { r.Header.Add("Content-Type", "text/plain") }),
			code: CodeInvalidSignature, status: 403},
		{name: "removed signed header", req: mutate(jsonPost, func(r *http.Request) { r.Header.Del("X-Custom") }),
			code: CodeInvalidSignature, status: 403},
		{name: "tampered host", req: mutate(jsonPost, func(r *http.Request) { r.Host = "evil.example.com" }),
			code: CodeInvalidSignature, status: 403},
		{name: "tampered method", req: mutate(jsonPost, func(r *http.Request) { r.Method = "PUT" }),
			code: CodeInvalidSignature, status: 403},
		{name: "tampered body", req: signed(jsonPost), payload: hashHex([]byte(`{"name":"evil"}`)),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "tampered path", req: mutate(jsonPost, func(r *http.Request) {
			r.RequestURI = strings.Replace(r.RequestURI, "svc-0123456789abcdef0", "svc-0123456789abcdef1", 1)
		}), code: CodeInvalidSignature, status: 403},
		{name: "path decoded instead of escaped", req: mutate(jsonPost, func(r *http.Request) {
			r.RequestURI = strings.Replace(r.RequestURI, "%3A", ":", -1)
		}), code: CodeInvalidSignature, status: 403},
		{name: "tampered query value", req: mutate(jsonPost, func(r *http.Request) {
			r.URL.RawQuery = "tagKeys=a&tagKeys=c"
		}), code: CodeInvalidSignature, status: 403},
		{name: "extra query parameter", req: mutate(jsonPost, func(r *http.Request) {
			r.URL.RawQuery += "&tagKeys=c"
		}), code: CodeInvalidSignature, status: 403},
		{name: "wrong service", req: signed(with(func(s *signSpec) { s.service = "vpc-lattice-svcs" })),
			code: CodeInvalidSignature, status: 403, msg: "Credential should be scoped to correct service: 'vpc-lattice'. "},
		{name: "wrong region", req: signed(with(func(s *signSpec) { s.region = "eu-west-1" })),
			code: CodeInvalidSignature, status: 403, msg: "Credential should be scoped to a valid region. "},
		{name: "any region when unset", req: signed(with(func(s *signSpec) { s.region = "eu-west-1"; s.secret = "bad" })),
			verif: func(v *Verifier) { v.Region = "" }, code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "scope date differs from X-Amz-Date", req: withAuthz(jsonPost, func(a string) string {
			return strings.Replace(a, "/20260101/", "/20251231/", 1)
		}), code: CodeInvalidSignature, status: 403,
			msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20251231' != '20260101', from '20260101T001000Z'."},
		{name: "wrong terminator", req: withAuthz(jsonPost, func(a string) string {
			return strings.Replace(a, "/aws4_request", "/aws5_request", 1)
		}), code: CodeInvalidSignature, status: 403, msgPart: "valid terminator: 'aws4_request', not 'aws5_request'"},
		{name: "credential with 4 elements", req: withAuthz(jsonPost, func(a string) string {
			return strings.Replace(a, "/us-east-1", "", 1)
		}), code: CodeIncompleteSignature, status: 400, msgPart: "Credential must have exactly 5 slash-delimited elements"},
		{name: "missing session token", req: mutate(with(func(s *signSpec) {
			s.akid, s.secret, s.token = tempAKID, tempSecret, tempToken
		}), func(r *http.Request) { r.Header.Del("X-Amz-Security-Token") }),
			code: CodeUnrecognizedClient, status: 403, msg: msgInvalidToken},
		{name: "wrong session token", req: signed(with(func(s *signSpec) {
			s.akid, s.secret, s.token = tempAKID, tempSecret, tempToken+"x"
		})), code: CodeUnrecognizedClient, status: 403, msg: msgInvalidToken},
		{name: "token with long-term key", req: signed(with(func(s *signSpec) { s.token = "some-token" })),
			code: CodeUnrecognizedClient, status: 403},
		{name: "missing credential", req: withAuthz(jsonPost, func(a string) string {
			return strings.Replace(a, "Credential=", "Cred=", 1)
		}), code: CodeIncompleteSignature, status: 400, msgPart: "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 Cred="},
		{name: "missing everything", req: bare("/", map[string]string{"Authorization": "AWS4-HMAC-SHA256"}),
			code: CodeIncompleteSignature, status: 400,
			msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. " +
				"Authorization=AWS4-HMAC-SHA256"},
		{name: "bearer token", req: bare("/", map[string]string{"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9"}),
			code: CodeIncompleteSignature, status: 400, msgPart: "'eyJhbGciOiJIUzI1NiJ9' not a valid key=value pair (missing equal-sign)"},
		{name: "space in credential", req: withAuthz(jsonPost, func(a string) string {
			return strings.Replace(a, "Credential=", "Credential= ", 1)
		}), code: CodeIncompleteSignature, status: 400, msgPart: "not a valid key=value pair (missing equal-sign) in Authorization header"},
		{name: "missing X-Amz-Date", req: mutate(jsonPost, func(r *http.Request) { r.Header.Del("X-Amz-Date") }),
			code: CodeIncompleteSignature, status: 400, msgPart: "requires existence of either a 'X-Amz-Date' or a 'Date' header"},
		{name: "malformed X-Amz-Date", req: mutate(jsonPost, func(r *http.Request) { r.Header.Set("X-Amz-Date", "2026-01-01T00:10:00Z") }),
			code: CodeIncompleteSignature, status: 400, msgPart: "ISO-8601 'basic format'"},
		{name: "impossible X-Amz-Date", req: mutate(jsonPost, func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260230T001000Z") }),
			code: CodeIncompleteSignature, status: 400},
		{name: "wrong algorithm", req: withAuthz(jsonPost, func(a string) string {
			return strings.Replace(a, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1)
		}), code: CodeIncompleteSignature, status: 400, msgPart: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'"},
		{name: "sigv4a without region set", req: withAuthz(jsonPost, func(a string) string {
			return strings.Replace(a, "AWS4-HMAC-SHA256", AlgorithmECDSA, 1)
		}), code: CodeIncompleteSignature, status: 400, msgPart: "'X-Amz-Region-Set' header for '" + AlgorithmECDSA + "'"},
		{name: "sigv4a with a SigV4 credential scope", req: mutate(jsonPost, func(r *http.Request) {
			r.Header.Set("X-Amz-Region-Set", "*")
			r.Header.Set("Authorization", strings.Replace(strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", AlgorithmECDSA, 1),
				";x-amz-date", ";x-amz-date;x-amz-region-set", 1))
		}), code: CodeIncompleteSignature, status: 400, msgPart: "Credential must have exactly 4 slash-delimited elements"},
		{name: "host not signed", req: bare("/", map[string]string{"X-Amz-Date": "20260101T001000Z",
			"Authorization": strings.Replace(goodAuthz, "host;x-amz-date", "x-amz-date", 1)}),
			code: CodeIncompleteSignature, status: 400, msg: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "x-amz-date not signed", req: bare("/", map[string]string{"X-Amz-Date": "20260101T001000Z",
			"Authorization": strings.Replace(goodAuthz, "host;x-amz-date", "host", 1)}),
			code: CodeIncompleteSignature, status: 400, msgPart: "'X-Amz-Date' must be a 'SignedHeader'"},
		{name: "unsorted signed headers", req: bare("/", map[string]string{"X-Amz-Date": "20260101T001000Z",
			"Authorization": strings.Replace(goodAuthz, "host;x-amz-date", "x-amz-date;host", 1)}),
			code: CodeIncompleteSignature, status: 400, msgPart: "SignedHeaders must be"},
		{name: "uppercase signed headers", req: bare("/", map[string]string{"X-Amz-Date": "20260101T001000Z",
			"Authorization": strings.Replace(goodAuthz, "host;x-amz-date", "Host;x-amz-date", 1)}),
			code: CodeIncompleteSignature, status: 400},
		{name: "duplicate parameter", req: bare("/", map[string]string{"X-Amz-Date": "20260101T001000Z",
			"Authorization": goodAuthz + ", Signature=00"}),
			code: CodeIncompleteSignature, status: 400},
		{name: "two Authorization headers", req: mutate(jsonPost, func(r *http.Request) { r.Header.Add("Authorization", goodAuthz) }),
			code: CodeIncompleteSignature, status: 400},
		{name: "header and query auth", req: mutate(jsonPost, func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Algorithm=AWS4-HMAC-SHA256" }),
			code: CodeIncompleteSignature, status: 400},
		{name: "short signature", req: withAuthz(jsonPost, func(a string) string { return a[:len(a)-2] }),
			code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "uppercase signature", req: withAuthz(jsonPost, func(a string) string {
			i := strings.Index(a, "Signature=") + len("Signature=")
			return a[:i] + strings.ToUpper(a[i:])
		}), code: CodeInvalidSignature, status: 403},
		{name: "unsigned payload not allowed", req: signed(with(func(s *signSpec) {
			s.payload = UnsignedPayload
			s.header = http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}
		})), code: CodeInvalidSignature, status: 403},
		{name: "presigned missing params", req: bare("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T001000Z", nil),
			code: CodeIncompleteSignature, status: 400,
			msg: "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. " +
				"AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters."},
		{name: "presigned bad expires", req: func(t *testing.T) *http.Request {
			return sdkPresign(t, signSpec{target: "/services?X-Amz-Expires=604801"})
		}, code: CodeIncompleteSignature, status: 400, msgPart: "X-Amz-Expires"},
		{name: "presigned wrong secret", req: func(t *testing.T) *http.Request {
			return sdkPresign(t, signSpec{target: "/services", secret: "bad", akid: testAKID})
		}, code: CodeInvalidSignature, status: 403, msg: msgSignatureMismatch},
		{name: "presigned unknown key", req: func(t *testing.T) *http.Request {
			return sdkPresign(t, signSpec{target: "/services", akid: "AKIANOPE", secret: "x"})
		}, code: CodeUnrecognizedClient, status: 403},
		{name: "presigned missing token", req: func(t *testing.T) *http.Request {
			r := sdkPresign(t, signSpec{target: "/services", akid: tempAKID, secret: tempSecret, token: tempToken})
			q := r.URL.Query()
			q.Del("X-Amz-Security-Token")
			r.URL.RawQuery = q.Encode()
			return r
		}, code: CodeUnrecognizedClient, status: 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier("vpc-lattice")
			if c.verif != nil {
				c.verif(v)
			}
			payload := c.payload
			if payload == "" {
				payload = hashHex(body)
			}
			r := c.req(t)
			res, err := v.Verify(context.Background(), r, payload)
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
			if !strings.Contains(e.Error(), c.code) {
				t.Fatalf("Error() = %q", e.Error())
			}
		})
	}
}

// TestSkewBoundaries: 4 minutes either way passes, 6 fails, and the
// mismatch error carries the canonical request.
func TestSkewBoundaries(t *testing.T) {
	v := newVerifier("vpc-lattice")
	for _, d := range []time.Duration{-5 * time.Minute, -4 * time.Minute, 0, 4 * time.Minute, 5 * time.Minute} {
		r := sdkSign(t, signSpec{target: "/services", at: signTime.Add(d)})
		if _, err := v.Verify(context.Background(), r, ""); err != nil {
			t.Errorf("skew %v: %v", d, err)
		}
	}
	for _, d := range []time.Duration{-6 * time.Minute, -5*time.Minute - time.Second, 5*time.Minute + time.Second, 6 * time.Minute} {
		r := sdkSign(t, signSpec{target: "/services", at: signTime.Add(d)})
		_, err := v.Verify(context.Background(), r, "")
		e := asError(t, err, CodeInvalidSignature, 403)
		if !strings.HasPrefix(e.Message, "Signature expired: ") && !strings.HasPrefix(e.Message, "Signature not yet current: ") {
			t.Errorf("skew %v: %q", d, e.Message)
		}
	}
}

func TestMismatchCarriesCanonicalRequest(t *testing.T) {
	r := sdkSign(t, signSpec{target: "/services?b=2&a=1", secret: "wrong"})
	_, err := newVerifier("vpc-lattice").Verify(context.Background(), r, "")
	e := asError(t, err, CodeInvalidSignature, 403)
	wantCanon := "GET\n/services\na=1&b=2\nhost:" + testHost + "\nx-amz-date:20260101T001000Z\n\nhost;x-amz-date\n" + EmptyPayloadHash
	if e.CanonicalRequest != wantCanon {
		t.Fatalf("canonical request\n%s\nwant\n%s", e.CanonicalRequest, wantCanon)
	}
	if !strings.HasPrefix(e.StringToSign, "AWS4-HMAC-SHA256\n20260101T001000Z\n20260101/us-east-1/vpc-lattice/aws4_request\n") {
		t.Fatalf("string to sign %q", e.StringToSign)
	}
}

type failingKeys struct{ err error }

func (f failingKeys) LookupAccessKey(context.Context, string) (Credential, error) {
	return Credential{}, f.err
}

func TestKeyStoreAndConfigErrors(t *testing.T) {
	boom := errors.New("database is down")
	v := newVerifier("vpc-lattice")
	v.Keys = failingKeys{boom}
	_, err := v.Verify(context.Background(), sdkSign(t, signSpec{}), "")
	var e *Error
	if !errors.Is(err, boom) || errors.As(err, &e) {
		t.Fatalf("store failure: %v", err)
	}
	// A store returning the bare sentinel is an unknown key.
	v.Keys = failingKeys{ErrUnknownAccessKey}
	_, err = v.Verify(context.Background(), sdkSign(t, signSpec{}), "")
	asError(t, err, CodeUnrecognizedClient, 403)

	for _, bad := range []*Verifier{{Keys: testKeys}, {Service: "vpc-lattice"}} {
		_, err := bad.Verify(context.Background(), sdkSign(t, signSpec{}), "")
		if err == nil || errors.As(err, &e) {
			t.Fatalf("misconfigured verifier: %v", err)
		}
	}
}

// TestDateHeader: a request may carry its timestamp in Date instead of
// X-Amz-Date, in which case Date must be signed.
func TestDateHeader(t *testing.T) {
	v := newVerifier("vpc-lattice")
	date := signTime.Format(http.TimeFormat)
	r := httptest.NewRequest("GET", "https://"+testHost+"/services", nil)
	r.Header.Set("Date", date)
	s := getScratch()
	defer putScratch(s)
	if err := s.buildCanonicalRequest(r, "/services", false, "date;host", EmptyPayloadHash); err != nil {
		t.Fatal(err)
	}
	s.signature(deriveSigningKey(testSecret, "20260101", "us-east-1", "vpc-lattice"), AlgorithmHMAC, "20260101T001000Z",
		"20260101/us-east-1/vpc-lattice/aws4_request")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/20260101/us-east-1/vpc-lattice/aws4_request, SignedHeaders=date;host, Signature="+string(s.sig))
	if _, err := v.Verify(context.Background(), r, ""); err != nil {
		t.Fatalf("Date header: %v", err)
	}
	r.Header.Set("Date", signTime.Add(time.Second).Format(http.TimeFormat))
	_, err := v.Verify(context.Background(), r, "")
	asError(t, err, CodeInvalidSignature, 403)
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "date;host", "host", 1))
	_, err = v.Verify(context.Background(), r, "")
	asError(t, err, CodeIncompleteSignature, 400)
}
