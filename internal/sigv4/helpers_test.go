package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// memKeys is a KeyStore over a map.
type memKeys map[string]Credential

func (m memKeys) LookupAccessKey(_ context.Context, id string) (Credential, error) {
	c, ok := m[id]
	if !ok {
		return Credential{}, errors.Join(errors.New("no such key "+id), ErrUnknownAccessKey)
	}
	return c, nil
}

const (
	testAKID    = "AKIAIOSFODNN7EXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	tempAKID    = "ASIAIOSFODNN7EXAMPLE"
	tempSecret  = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	tempToken   = "FwoGZXIvYXdzEXAMPLE//////////wEaDEXAMPLETOKENtrellis+sigv4/session=="
	testAccount = "123456789012"
	testHost    = "vpc-lattice.us-east-1.amazonaws.com"
)

var testKeys = memKeys{
	testAKID: {AccessKeyID: testAKID, SecretAccessKey: testSecret, Account: testAccount,
		PrincipalARN: "arn:aws:iam::123456789012:root"},
	tempAKID: {AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken, Account: testAccount,
		PrincipalARN: "arn:aws:sts::123456789012:assumed-role/dev/session"},
}

// signTime is when test requests are signed; verifiers run at signTime
// unless a test says otherwise.
var signTime = time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func staticCreds(id, secret, token string) aws.Credentials {
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}
}

// signSpec describes a request to sign with the SDK.
type signSpec struct {
	method  string
	target  string // path and query as the client sends them, e.g. "/tags/arn%3A...?a=b"
	body    []byte
	header  http.Header
	service string
	region  string
	akid    string
	secret  string
	token   string
	at      time.Time
	// payload overrides the payload hash given to the signer (e.g.
	// UNSIGNED-PAYLOAD); "" means the SHA-256 of body.
	payload string
}

func (s signSpec) withDefaults() signSpec {
	if s.method == "" {
		s.method = http.MethodGet
	}
	if s.target == "" {
		s.target = "/"
	}
	if s.service == "" {
		s.service = "vpc-lattice"
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.akid == "" {
		s.akid = testAKID
	}
	if s.secret == "" {
		s.secret = testSecret
	}
	if s.at.IsZero() {
		s.at = signTime
	}
	if s.payload == "" {
		s.payload = hashHex(s.body)
	}
	return s
}

// clientRequest builds the request as a Go client would hold it.
func clientRequest(t testing.TB, s signSpec) *http.Request {
	t.Helper()
	var body *bytes.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequest(s.method, "https://"+testHost+s.target, body)
	} else {
		req, err = http.NewRequest(s.method, "https://"+testHost+s.target, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range s.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

// sdkSign signs s with the official aws-sdk-go-v2 signer and returns the
// request as a server would receive it.
func sdkSign(t testing.TB, s signSpec) *http.Request {
	t.Helper()
	s = s.withDefaults()
	req := clientRequest(t, s)
	err := v4.NewSigner().SignHTTP(context.Background(), staticCreds(s.akid, s.secret, s.token), req,
		s.payload, s.service, s.region, s.at)
	if err != nil {
		t.Fatal(err)
	}
	return overTheWire(t, req)
}

// sdkPresign presigns s with the SDK and returns the request a client
// following the URL would send.
func sdkPresign(t testing.TB, s signSpec) *http.Request {
	t.Helper()
	s = s.withDefaults()
	req := clientRequest(t, s)
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), staticCreds(s.akid, s.secret, s.token), req,
		s.payload, s.service, s.region, s.at)
	if err != nil {
		t.Fatal(err)
	}
	var body *bytes.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	var out *http.Request
	if body != nil {
		out, err = http.NewRequest(s.method, u, body)
	} else {
		out, err = http.NewRequest(s.method, u, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if strings.EqualFold(k, "host") {
			continue
		}
		out.Header[k] = vs
	}
	return overTheWire(t, out)
}

// overTheWire serialises a client request and parses it back the way
// net/http's server does, so the verifier sees RequestURI, r.Host and
// canonical header keys exactly as in production.
func overTheWire(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	srv, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("re-reading request: %v\n%s", err, buf.String())
	}
	return srv
}

func newVerifier(service string) *Verifier {
	return &Verifier{Service: service, Region: "us-east-1", Keys: testKeys, Now: fixedNow(signTime)}
}

// asError asserts err is an *Error with the given code and status.
func asError(t testing.TB, err error, code string, status int) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error %s", err, err, code)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("error = %s/%d %q, want %s/%d", e.Code, e.Status, e.Message, code, status)
	}
	return e
}

func newSDKSigner() *v4.Signer { return v4.NewSigner() }
