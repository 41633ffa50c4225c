package sigv4

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/smithy-go"
)

const arnPath = "/tags/arn%3Aaws%3Avpc-lattice%3Aus-east-1%3A123456789012%3Aservice%2Fsvc-0123456789abcdef0"

func TestRoundTripSDKSigner(t *testing.T) {
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name string
		spec signSpec
	}{
		{"get", signSpec{method: "GET", target: "/services"}},
		{"get-query", signSpec{method: "GET", target: "/services?maxResults=10&nextToken=abc%2Fdef%3D%3D"}},
		{"get-repeated-query", signSpec{method: "GET", target: "/x?tagKeys=b&tagKeys=a&tagKeys=a%20b&z=1"}},
		{"get-escaped-arn", signSpec{method: "GET", target: arnPath}},
		{"delete-arn-repeated-keys", signSpec{method: "DELETE", target: arnPath + "?tagKeys=a&tagKeys=b"}},
		{"post-body", signSpec{method: "POST", target: arnPath, header: jsonHdr,
			body: []byte(`{"tags":{"env":"prod","team":"net"}}`)}},
		{"patch-body", signSpec{method: "PATCH", target: "/services/svc-0123456789abcdef0", header: jsonHdr,
			body: []byte(`{"authType":"AWS_IAM"}`)}},
		{"put-empty-body", signSpec{method: "PUT", target: "/authpolicy/svc-0123456789abcdef0", body: []byte{}}},
		{"delete", signSpec{method: "DELETE", target: "/services/svc-0123456789abcdef0"}},
		{"session-token", signSpec{method: "POST", target: "/services", header: jsonHdr, body: []byte(`{"name":"a"}`),
			akid: tempAKID, secret: tempSecret, token: tempToken}},
		{"odd-headers", signSpec{method: "GET", target: "/services", header: http.Header{
			"X-Custom":   {"  spaced    out  value ", "second"},
			"X-Empty":    {""},
			"Accept":     {"application/json"},
			"User-Agent": {"trellis-test/1.0"}, // not signed by the SDK
		}}},
		{"path-with-reserved", signSpec{method: "GET", target: "/a/b@c/d=e/f+g/h!i/j$k/l'm(n)*,;:"}},
		{"path-utf8", signSpec{method: "GET", target: "/caf%C3%A9/%E2%9C%93"}},
		{"query-reserved", signSpec{method: "GET", target: "/s?filter=a%2Bb%26c%3Dd&%E2%9C%93=%E2%9C%93&empty=&flag"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sdkSign(t, c.spec)
			body := c.spec.body
			v := newVerifier("vpc-lattice")
			res, err := v.Verify(context.Background(), r, hashHex(body))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := testKeys[testAKID]
			if c.spec.token != "" {
				want = testKeys[tempAKID]
			}
			if res.Credential != want || res.AccessKeyID != want.AccessKeyID {
				t.Fatalf("credential %+v", res.Credential)
			}
			if !res.SignedAt.Equal(signTime) || res.Region != "us-east-1" || res.Service != "vpc-lattice" ||
				res.Algorithm != AlgorithmHMAC || res.Presigned || res.UnsignedPayload || res.PayloadHashFromHeader ||
				res.PayloadHash != hashHex(body) || !strings.Contains(res.SignedHeaders, "host") {
				t.Fatalf("result %+v", res)
			}
			// The body is untouched.
			if r.Body != nil {
				got, _ := io.ReadAll(r.Body)
				if !bytes.Equal(got, body) {
					t.Fatalf("body consumed: %q", got)
				}
			}
			// A body-less request also verifies without a payload hash.
			if len(body) == 0 {
				if _, err := v.Verify(context.Background(), sdkSign(t, c.spec), ""); err != nil {
					t.Fatalf("Verify without payload hash: %v", err)
				}
			}
			// Any other body does not.
			_, err = v.Verify(context.Background(), sdkSign(t, c.spec), hashHex(append([]byte("x"), body...)))
			asError(t, err, CodeInvalidSignature, 403)
		})
	}
}

// TestRoundTripInProcessRequest verifies requests that never went through
// a server (no RequestURI, Content-Length only in ContentLength).
func TestRoundTripInProcessRequest(t *testing.T) {
	spec := signSpec{method: "POST", target: arnPath + "?tagKeys=a&tagKeys=b",
		body: []byte(`{"tags":{"a":"b"}}`), header: http.Header{"Content-Type": {"application/json"}}}.withDefaults()
	req := clientRequest(t, spec)
	if err := newSDKSigner().SignHTTP(context.Background(), staticCreds(testAKID, testSecret, ""), req, spec.payload,
		"vpc-lattice", "us-east-1", signTime); err != nil {
		t.Fatal(err)
	}
	if req.RequestURI != "" || req.Header.Get("Content-Length") != "" {
		t.Fatal("expected an in-process client request")
	}
	if _, err := newVerifier("vpc-lattice").Verify(context.Background(), req, spec.payload); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestContentSHA256Header(t *testing.T) {
	body := []byte(`{"name":"svc"}`)
	signed := func(payload string, sha string) *http.Request {
		return sdkSign(t, signSpec{method: "POST", target: "/services", body: body, payload: payload,
			header: http.Header{"X-Amz-Content-Sha256": {sha}}})
	}
	v := newVerifier("vpc-lattice")
	ctx := context.Background()

	// Header present, caller did not hash the body: trusted, flagged.
	res, err := v.Verify(ctx, signed(hashHex(body), hashHex(body)), "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.PayloadHashFromHeader || res.PayloadHash != hashHex(body) || res.UnsignedPayload {
		t.Fatalf("result %+v", res)
	}
	// Header and caller agree.
	res, err = v.Verify(ctx, signed(hashHex(body), hashHex(body)), hashHex(body))
	if err != nil || res.PayloadHashFromHeader {
		t.Fatalf("res %+v err %v", res, err)
	}
	// Header and caller disagree (body swapped after signing).
	_, err = v.Verify(ctx, signed(hashHex(body), hashHex(body)), hashHex([]byte("other")))
	asError(t, err, CodeInvalidSignature, 403)
	// Garbage header.
	_, err = v.Verify(ctx, signed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), "")
	asError(t, err, CodeInvalidSignature, 403)
	// No header, body present, caller did not hash: cannot verify.
	_, err = v.Verify(ctx, sdkSign(t, signSpec{method: "POST", target: "/services", body: body}), "")
	asError(t, err, CodeIncompleteSignature, 400)
}

func TestUnsignedPayload(t *testing.T) {
	body := []byte("data plane body, not hashed")
	spec := signSpec{method: "POST", target: "/orders?id=7", body: body, service: "vpc-lattice-svcs",
		payload: UnsignedPayload, header: http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}}
	ctx := context.Background()

	on := newVerifier("vpc-lattice-svcs")
	on.AllowUnsignedPayload = true
	for _, hash := range []string{"", hashHex(body)} {
		res, err := on.Verify(ctx, sdkSign(t, spec), hash)
		if err != nil {
			t.Fatalf("payload %q: %v", hash, err)
		}
		if !res.UnsignedPayload || res.PayloadHash != UnsignedPayload || res.PayloadHashFromHeader {
			t.Fatalf("result %+v", res)
		}
	}
	// Tampering with what is signed still fails.
	r := sdkSign(t, spec)
	r.URL.RawQuery, r.RequestURI = "id=8", "/orders?id=8"
	_, err := on.Verify(ctx, r, "")
	asError(t, err, CodeInvalidSignature, 403)

	off := newVerifier("vpc-lattice-svcs")
	_, err = off.Verify(ctx, sdkSign(t, spec), "")
	asError(t, err, CodeInvalidSignature, 403)
	_, err = off.Verify(ctx, sdkSign(t, spec), hashHex(body))
	asError(t, err, CodeInvalidSignature, 403)
}

func TestPresigned(t *testing.T) {
	ctx := context.Background()
	v := newVerifier("vpc-lattice")

	spec := signSpec{method: "GET", target: arnPath + "?tagKeys=a&tagKeys=b&X-Amz-Expires=300"}
	r := sdkPresign(t, spec)
	if !strings.Contains(r.RequestURI, "X-Amz-Signature=") || r.Header.Get("Authorization") != "" {
		t.Fatalf("not presigned: %s", r.RequestURI)
	}
	for _, hash := range []string{"", EmptyPayloadHash} {
		res, err := v.Verify(ctx, sdkPresign(t, spec), hash)
		if err != nil {
			t.Fatalf("Verify(%q): %v", hash, err)
		}
		if !res.Presigned || !res.ExpiresAt.Equal(signTime.Add(300*time.Second)) || res.SignedHeaders != "host" {
			t.Fatalf("result %+v", res)
		}
	}

	// Session token travels in the query.
	tspec := signSpec{method: "GET", target: "/services?X-Amz-Expires=60", akid: tempAKID, secret: tempSecret, token: tempToken}
	tr := sdkPresign(t, tspec)
	if !strings.Contains(tr.URL.RawQuery, "X-Amz-Security-Token=") {
		t.Fatal("token not in query")
	}
	if _, err := v.Verify(ctx, tr, ""); err != nil {
		t.Fatalf("token: %v", err)
	}

	// Presigned with a body and signed headers.
	body := []byte(`{"x":1}`)
	bspec := signSpec{method: "POST", target: "/services", body: body, header: http.Header{"Content-Type": {"application/json"}}}
	if _, err := v.Verify(ctx, sdkPresign(t, bspec), hashHex(body)); err != nil {
		t.Fatalf("body: %v", err)
	}
	_, err := v.Verify(ctx, sdkPresign(t, bspec), hashHex([]byte("{}")))
	asError(t, err, CodeInvalidSignature, 403)

	// UNSIGNED-PAYLOAD presigned URLs (S3 style) only with AllowUnsignedPayload.
	uspec := signSpec{method: "PUT", target: "/upload", body: body, payload: UnsignedPayload, service: "vpc-lattice-svcs"}
	dp := newVerifier("vpc-lattice-svcs")
	_, err = dp.Verify(ctx, sdkPresign(t, uspec), hashHex(body))
	asError(t, err, CodeInvalidSignature, 403)
	dp.AllowUnsignedPayload = true
	for _, hash := range []string{"", hashHex(body)} {
		res, err := dp.Verify(ctx, sdkPresign(t, uspec), hash)
		if err != nil {
			t.Fatalf("unsigned presign (%q): %v", hash, err)
		}
		if !res.UnsignedPayload {
			t.Fatalf("result %+v", res)
		}
	}

	// Tampered query.
	tq := sdkPresign(t, spec)
	tq.URL.RawQuery = strings.Replace(tq.URL.RawQuery, "tagKeys=b", "tagKeys=c", 1)
	tq.RequestURI = strings.Replace(tq.RequestURI, "tagKeys=b", "tagKeys=c", 1)
	_, err = v.Verify(ctx, tq, "")
	asError(t, err, CodeInvalidSignature, 403)

	// Expiry: valid until X-Amz-Expires, even past the clock skew window...
	v.Now = fixedNow(signTime.Add(299 * time.Second))
	if _, err := v.Verify(ctx, sdkPresign(t, spec), ""); err != nil {
		t.Fatalf("within expiry: %v", err)
	}
	// ...and not after.
	v.Now = fixedNow(signTime.Add(301 * time.Second))
	_, err = v.Verify(ctx, sdkPresign(t, spec), "")
	e := asError(t, err, CodeInvalidSignature, 403)
	if want := "Signature expired: 20260101T001000Z is now earlier than 20260101T001001Z (20260101T001501Z - 5 min.)"; e.Message != want {
		t.Fatalf("message %q, want %q", e.Message, want)
	}
	// Without X-Amz-Expires the clock-skew window applies.
	v.Now = fixedNow(signTime.Add(6 * time.Minute))
	_, err = v.Verify(ctx, sdkPresign(t, signSpec{target: "/services"}), "")
	asError(t, err, CodeInvalidSignature, 403)
	v.Now = fixedNow(signTime.Add(4 * time.Minute))
	if _, err := v.Verify(ctx, sdkPresign(t, signSpec{target: "/services"}), ""); err != nil {
		t.Fatal(err)
	}
}

func TestIsSigned(t *testing.T) {
	cases := []struct {
		req  *http.Request
		want bool
	}{
		{sdkSign(t, signSpec{}), true},
		{sdkPresign(t, signSpec{target: "/?a=b"}), true},
		{httptest.NewRequest("GET", "/services", nil), false},
		{httptest.NewRequest("GET", "/services?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil), true},
		{httptest.NewRequest("GET", "/services?X%2DAmz%2DAlgorithm=x", nil), true},
		{httptest.NewRequest("GET", "/services?X-Amz-Algorithmx=1&x=X-Amz-Algorithm", nil), false},
	}
	bearer := httptest.NewRequest("GET", "/", nil)
	bearer.Header.Set("Authorization", "Bearer abc")
	cases = append(cases, struct {
		req  *http.Request
		want bool
	}{bearer, false})
	for i, c := range cases {
		if got := IsSigned(c.req); got != c.want {
			t.Errorf("case %d (%s): IsSigned = %v", i, c.req.URL, got)
		}
	}
}

// TestVPCLatticeClient drives the real VPC Lattice SDK client against a
// test server that verifies every request.
func TestVPCLatticeClient(t *testing.T) {
	v := &Verifier{Service: "vpc-lattice", Region: "us-west-2", Keys: testKeys}
	type seen struct {
		method, path string
		err          error
		res          *Result
	}
	results := make(chan seen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := v.Verify(r.Context(), r, hashHex(body))
		results <- seen{r.Method, r.URL.EscapedPath(), err, res}
		if err != nil {
			e := err.(*Error)
			w.Header().Set("X-Amzn-Errortype", e.Code)
			w.WriteHeader(e.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": e.Message})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()

	client := func(akid, secret, token string) *vpclattice.Client {
		return vpclattice.New(vpclattice.Options{
			Region:       "us-west-2",
			BaseEndpoint: aws.String(srv.URL),
			Credentials:  aws.NewCredentialsCache(staticProvider{staticCreds(akid, secret, token)}),
			Retryer:      aws.NopRetryer{},
			HTTPClient:   srv.Client(),
		})
	}
	ctx := context.Background()
	good := client(testAKID, testSecret, "")
	arn := "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0"

	check := func(name, method, path string, call func() error) {
		t.Helper()
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := <-results
		if s.err != nil || s.method != method || s.path != path {
			t.Fatalf("%s: %s %s verify: %v", name, s.method, s.path, s.err)
		}
	}
	check("ListServices", "GET", "/services", func() error {
		_, err := good.ListServices(ctx, &vpclattice.ListServicesInput{MaxResults: aws.Int32(5), NextToken: aws.String("a/b+c==")})
		return err
	})
	check("TagResource", "POST", "/tags/arn%3Aaws%3Avpc-lattice%3Aus-west-2%3A123456789012%3Aservice%2Fsvc-0123456789abcdef0", func() error {
		_, err := good.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"env": "prod"}})
		return err
	})
	check("UntagResource", "DELETE", "/tags/arn%3Aaws%3Avpc-lattice%3Aus-west-2%3A123456789012%3Aservice%2Fsvc-0123456789abcdef0", func() error {
		_, err := good.UntagResource(ctx, &vpclattice.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"b", "a", "a b"}})
		return err
	})
	check("UpdateService", "PATCH", "/services/svc-0123456789abcdef0", func() error {
		_, err := good.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: aws.String("svc-0123456789abcdef0"), AuthType: "AWS_IAM"})
		return err
	})
	temp := client(tempAKID, tempSecret, tempToken)
	check("DeleteService(temp)", "DELETE", "/services/svc-0123456789abcdef0", func() error {
		_, err := temp.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: aws.String("svc-0123456789abcdef0")})
		return err
	})

	// The SDK recognises our error codes.
	bad := client(testAKID, "wrong-secret", "")
	_, err := bad.ListServices(ctx, &vpclattice.ListServicesInput{})
	<-results
	wantAPIError(t, err, CodeInvalidSignature, msgSignatureMismatch)
	unknown := client("AKIAUNKNOWNKEY000000", testSecret, "")
	_, err = unknown.ListServices(ctx, &vpclattice.ListServicesInput{})
	<-results
	wantAPIError(t, err, CodeUnrecognizedClient, msgInvalidToken)
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	if ae.ErrorCode() != code || ae.ErrorMessage() != msg {
		t.Fatalf("SDK saw %s %q, want %s %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

type staticProvider struct{ c aws.Credentials }

func (p staticProvider) Retrieve(context.Context) (aws.Credentials, error) { return p.c, nil }

// TestDotAndEmptySegmentsVerifyAsSent: the AWS SDK signs the path exactly
// as the client sends it for both of Lattice's signing names (its signer
// escapes the path once more but never removes ".", ".." or empty
// segments; only S3 differs, by not escaping), so the verifier checks the
// signature against the path as sent, on the control plane
// ("vpc-lattice", payload hash) and on the data plane ("vpc-lattice-svcs",
// UNSIGNED-PAYLOAD) alike. A signature over the normalised path does not
// authenticate the unnormalised one unless NormalizePath asks for it.
func TestDotAndEmptySegmentsVerifyAsSent(t *testing.T) {
	paths := []string{"/services/../services", "//services", "/./services", "/services/", "/a//b/./c/../d", "/a/%2E%2E/b"}
	for _, service := range []string{"vpc-lattice", "vpc-lattice-svcs"} {
		for _, p := range paths {
			t.Run(service+p, func(t *testing.T) {
				spec := signSpec{target: p, service: service}
				v := newVerifier(service)
				if service == "vpc-lattice-svcs" {
					spec.payload = UnsignedPayload
					spec.header = http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}
					v.AllowUnsignedPayload = true
				}
				r := sdkSign(t, spec)
				if r.RequestURI != p {
					t.Fatalf("the server received %q", r.RequestURI)
				}
				if _, err := v.Verify(context.Background(), r, ""); err != nil {
					t.Fatalf("Verify %s: %v", p, err)
				}
				// Signed over the normalised path, sent unnormalised.
				np := normalizePath(p)
				if np == p {
					return
				}
				spec.target = np
				signed := sdkSign(t, spec)
				sent, err := http.NewRequest(signed.Method, "http://"+testHost+p, nil)
				if err != nil {
					t.Fatal(err)
				}
				sent.Header = signed.Header
				r = overTheWire(t, sent)
				_, err = v.Verify(context.Background(), r, "")
				asError(t, err, CodeInvalidSignature, 403)
				v.NormalizePath = true
				if _, err := v.Verify(context.Background(), r, ""); err != nil {
					t.Fatalf("NormalizePath: %v", err)
				}
			})
		}
	}
}
