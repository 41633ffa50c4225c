package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// STS on the API address (docs/sts.md), driven with the official sts client
// pointed at the server with BaseEndpoint, as the Terraform AWS provider's
// endpoints { sts = ... } does.

func stsAs(s *apptest.Server, c creds) *sts.Client {
	return sts.New(sts.Options{
		Region:           s.Region,
		BaseEndpoint:     aws.String(s.Endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token),
		RetryMaxAttempts: 1,
	})
}

// wantSTSError asserts err is the STS error code with the HTTP status, and
// returns its message.
func wantSTSError(t *testing.T, err error, code string, status int) string {
	t.Helper()
	ae := wantAPIError(t, err, code)
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: no HTTP response: %v", code, err)
	}
	if re.HTTPStatusCode() != status {
		t.Fatalf("%s: status %d, want %d", code, re.HTTPStatusCode(), status)
	}
	return ae.ErrorMessage()
}

var (
	userIDRE = regexp.MustCompile(`^AIDA[A-Z2-7]{17}$`)
	roleIDRE = regexp.MustCompile(`^AROA[A-Z2-7]{17}:`)
)

func TestSTSGetCallerIdentity(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)

	// The administrator, through the SDK's shared configuration loader as
	// Terraform's provider builds its client.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(s.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	root := need(sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(s.Endpoint) }).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).ok(t)
	if *root.Account != s.Account || *root.Arn != "arn:aws:iam::"+s.Account+":root" || *root.UserId != s.Account {
		t.Fatalf("root: %s %s %s", *root.Account, *root.Arn, *root.UserId)
	}

	alice := newAccountWithUser(t, s, acctA, "alice")
	u := need(stsAs(s, alice).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).ok(t)
	if *u.Account != acctA || *u.Arn != "arn:aws:iam::"+acctA+":user/alice" || !userIDRE.MatchString(*u.UserId) {
		t.Fatalf("user: %s %s %s", *u.Account, *u.Arn, *u.UserId)
	}
	// Stable: a second key of the same user has the same UserId; another
	// user has another.
	alice2 := creds{}
	k := want(t, "second key", call(t, s, rootCreds(s), "POST", principalPath(*u.Arn)+"/accesskeys", nil), 201, "").obj(t)
	alice2.id, alice2.secret = k["accessKeyId"].(string), k["secretAccessKey"].(string)
	if again := need(stsAs(s, alice2).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).ok(t); *again.UserId != *u.UserId {
		t.Fatalf("UserId not stable: %s then %s", *u.UserId, *again.UserId)
	}
	bob := newAccountWithUser(t, s, acctB, "bob")
	if b := need(stsAs(s, bob).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).ok(t); *b.UserId == *u.UserId || *b.Account != acctB {
		t.Fatalf("bob: %s %s", *b.Account, *b.UserId)
	}

	// Unsigned, and signed with a wrong secret.
	_, err = sts.New(sts.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), Credentials: aws.AnonymousCredentials{},
		RetryMaxAttempts: 1}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, err, "MissingAuthenticationToken", 403)
	_, err = stsAs(s, creds{id: alice.id, secret: "wrong" + alice.secret}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, err, "SignatureDoesNotMatch", 403)
	_, err = stsAs(s, creds{id: "AKIANOSUCHKEY0000000", secret: alice.secret}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, err, "InvalidClientTokenId", 403)
}

func TestSTSAssumeRole(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	alice := newAccountWithUser(t, s, acctA, "alice")
	bob := newAccountWithUser(t, s, acctB, "bob")
	roleArn := "arn:aws:iam::" + acctA + ":role/deployer"
	want(t, "put role", call(t, s, alice, "PUT", principalPath(roleArn), nil), 201, "")
	roleB := "arn:aws:iam::" + acctB + ":role/builder"
	want(t, "put role of B", call(t, s, bob, "PUT", principalPath(roleB), nil), 201, "")
	c := stsAs(s, alice)

	before := time.Now()
	out := need(c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("ci@build-1"),
		ExternalId: aws.String("tenant-42"), DurationSeconds: aws.Int32(1800)})).ok(t)
	sessionArn := "arn:aws:sts::" + acctA + ":assumed-role/deployer/ci@build-1"
	if *out.AssumedRoleUser.Arn != sessionArn || !roleIDRE.MatchString(*out.AssumedRoleUser.AssumedRoleId) ||
		!strings.HasSuffix(*out.AssumedRoleUser.AssumedRoleId, ":ci@build-1") {
		t.Fatalf("assumed role user: %s %s", *out.AssumedRoleUser.Arn, *out.AssumedRoleUser.AssumedRoleId)
	}
	cr := out.Credentials
	if !strings.HasPrefix(*cr.AccessKeyId, "ASIA") || *cr.SecretAccessKey == "" || *cr.SessionToken == "" {
		t.Fatalf("credentials: %+v", cr)
	}
	if exp := cr.Expiration.Sub(before); exp < 29*time.Minute || exp > 31*time.Minute {
		t.Fatalf("expiration %v is %v away, want 30 minutes", cr.Expiration, exp)
	}

	// The session: who it is (UserId = AssumedRoleId), and it calls Lattice
	// and STS again.
	sess := creds{id: *cr.AccessKeyId, secret: *cr.SecretAccessKey, token: *cr.SessionToken}
	who := need(stsAs(s, sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).ok(t)
	if *who.Arn != sessionArn || *who.Account != acctA || *who.UserId != *out.AssumedRoleUser.AssumedRoleId {
		t.Fatalf("session identity: %s %s %s", *who.Arn, *who.Account, *who.UserId)
	}
	need(sdkAs(s, sess).CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("from-session")})).ok(t)
	sns := need(sdkAs(s, alice).ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})).ok(t)
	if len(sns.Items) != 1 || !strings.Contains(*sns.Items[0].Arn, ":"+acctA+":") {
		t.Fatalf("the session's network is not account A's: %+v", sns.Items)
	}
	// Role chaining: allowed, for at most an hour; GetSessionToken refused.
	need(stsAs(s, sess).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("chained")})).ok(t)
	_, err := stsAs(s, sess).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("chained"),
		DurationSeconds: aws.Int32(7200)})
	wantSTSError(t, err, "ValidationError", 400)
	_, err = stsAs(s, sess).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantSTSError(t, err, "AccessDenied", 403)
	// A wrong session token is not the session.
	_, err = stsAs(s, creds{id: sess.id, secret: sess.secret, token: sess.token + "x"}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, err, "InvalidClientTokenId", 403)

	// Refusals, each naming what is wrong.
	for _, tc := range []struct {
		name string
		in   sts.AssumeRoleInput
		code string
		st   int
		msg  string
	}{
		{"short session name", sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("a")}, "ValidationError", 400, "roleSessionName"},
		{"bad session name", sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("a b")}, "ValidationError", 400, "roleSessionName"},
		{"long session name", sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String(strings.Repeat("x", 65))}, "ValidationError", 400, "roleSessionName"},
		{"short duration", sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("ok"), DurationSeconds: aws.Int32(899)}, "ValidationError", 400, "durationSeconds"},
		{"long duration", sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("ok"), DurationSeconds: aws.Int32(43201)}, "ValidationError", 400, "durationSeconds"},
		{"a user", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acctA + ":user/alice"), RoleSessionName: aws.String("ok")}, "ValidationError", 400, "RoleArn"},
		{"not an ARN", sts.AssumeRoleInput{RoleArn: aws.String("role/deployer-of-things"), RoleSessionName: aws.String("ok")}, "ValidationError", 400, "RoleArn"},
		{"bad external ID", sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("ok"), ExternalId: aws.String("a b")}, "ValidationError", 400, "externalId"},
		{"session policy", sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("ok"), Policy: aws.String(`{"Version":"2012-10-17"}`)}, "ValidationError", 400, "Policy"},
		{"another account's role", sts.AssumeRoleInput{RoleArn: aws.String(roleB), RoleSessionName: aws.String("ok")}, "AccessDenied", 403, "sts:AssumeRole on resource: " + roleB},
		{"no such role", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + acctA + ":role/ghost"), RoleSessionName: aws.String("ok")}, "AccessDenied", 403, "not authorized"},
	} {
		_, err := c.AssumeRole(ctx, &tc.in)
		if msg := wantSTSError(t, err, tc.code, tc.st); !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: message %q does not name %q", tc.name, msg, tc.msg)
		}
	}
	// Nothing was made by the refusals: A has the session's network only,
	// and its keys are alice's, the first session and the chained one.
	keys := want(t, "keys", call(t, s, rootCreds(s), "GET", "/trellis/v1/accesskeys?account="+acctA, nil), 200, "").items(t)
	if len(keys) != 3 {
		t.Fatalf("account A has %d keys, want 3: %v", len(keys), keys)
	}
	// Unsigned.
	_, err = sts.New(sts.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), Credentials: aws.AnonymousCredentials{},
		RetryMaxAttempts: 1}).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("ok")})
	wantSTSError(t, err, "MissingAuthenticationToken", 403)
}

func TestSTSGetSessionToken(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	alice := newAccountWithUser(t, s, acctA, "alice")

	before := time.Now()
	out := need(stsAs(s, alice).GetSessionToken(ctx, &sts.GetSessionTokenInput{})).ok(t)
	cr := out.Credentials
	if !strings.HasPrefix(*cr.AccessKeyId, "ASIA") || *cr.SessionToken == "" {
		t.Fatalf("credentials: %+v", cr)
	}
	if exp := cr.Expiration.Sub(before); exp < 11*time.Hour+59*time.Minute || exp > 12*time.Hour+time.Minute {
		t.Fatalf("default duration: expires in %v, want 12 hours", exp)
	}
	sess := creds{id: *cr.AccessKeyId, secret: *cr.SecretAccessKey, token: *cr.SessionToken}
	who := need(stsAs(s, sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).ok(t)
	if *who.Arn != "arn:aws:iam::"+acctA+":user/alice" || *who.Account != acctA || !userIDRE.MatchString(*who.UserId) {
		t.Fatalf("session identity: %s %s %s", *who.Arn, *who.Account, *who.UserId)
	}
	need(sdkAs(s, sess).ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t)
	// The session needs its token.
	_, err := sdkAs(s, creds{id: sess.id, secret: sess.secret}).ListServices(ctx, &vpclattice.ListServicesInput{})
	if err == nil {
		t.Fatal("the session's key worked without its token")
	}
	// No identity operations with it (AWS: no IAM calls without MFA), so
	// that a session cannot mint long-term keys; AssumeRole stays allowed.
	for _, c := range []struct{ method, path string }{
		{"POST", principalPath("arn:aws:iam::"+acctA+":user/alice") + "/accesskeys"},
		{"PUT", principalPath("arn:aws:iam::" + acctA + ":user/mallory")},
		{"GET", "/trellis/v1/accesskeys"},
		{"GET", "/trellis/v1/accounts/" + acctA},
	} {
		want(t, c.method+" "+c.path, call(t, s, sess, c.method, c.path, nil), 403, "AccessDeniedException")
	}
	want(t, "put role", call(t, s, alice, "PUT", principalPath("arn:aws:iam::"+acctA+":role/r"), nil), 201, "")
	want(t, "assume role", call(t, s, sess, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": "arn:aws:iam::" + acctA + ":role/r", "roleSessionName": "from-token"}), 200, "")
	// Not again from a session.
	_, err = stsAs(s, sess).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if msg := wantSTSError(t, err, "AccessDenied", 403); !strings.Contains(msg, "session credentials") {
		t.Fatalf("message: %s", msg)
	}
	_, err = stsAs(s, alice).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(129601)})
	wantSTSError(t, err, "ValidationError", 400)

	// A root's session lasts at most an hour.
	before = time.Now()
	r := need(stsAs(s, rootCreds(s)).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(7200)})).ok(t)
	if exp := r.Credentials.Expiration.Sub(before); exp > time.Hour+time.Minute {
		t.Fatalf("root session expires in %v, want at most an hour", exp)
	}
	rs := creds{id: *r.Credentials.AccessKeyId, secret: *r.Credentials.SecretAccessKey, token: *r.Credentials.SessionToken}
	if w := need(stsAs(s, rs).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).ok(t); *w.UserId != s.Account {
		t.Fatalf("root session UserId %s", *w.UserId)
	}

	// Deleting the user ends its session.
	want(t, "delete alice", call(t, s, rootCreds(s), "DELETE", principalPath("arn:aws:iam::"+acctA+":user/alice"), nil), 204, "")
	_, err = stsAs(s, sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, err, "InvalidClientTokenId", 403)
}

// stsRaw sends a Query call signed for sts with the root credentials: a
// POST form when form is true, else a GET with the query string.
func stsRaw(t *testing.T, s *apptest.Server, params url.Values, form bool) (int, http.Header, []byte) {
	t.Helper()
	var req *http.Request
	var body []byte
	var err error
	if form {
		body = []byte(params.Encode())
		req, err = http.NewRequest("POST", s.Endpoint+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	} else {
		req, err = http.NewRequest("GET", s.Endpoint+"/?"+params.Encode(), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "sts", s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// TestSTSWire checks the exact XML shapes, with the namespace and request
// ID, and the protocol's errors.
func TestSTSWire(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	type errorResponse struct {
		XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Type    string   `xml:"Error>Type"`
		Code    string   `xml:"Error>Code"`
		Message string   `xml:"Error>Message"`
		ReqID   string   `xml:"RequestId"`
	}
	for _, form := range []bool{true, false} {
		st, h, body := stsRaw(t, s, url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}, form)
		var ok struct {
			XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
			Account string   `xml:"GetCallerIdentityResult>Account"`
			Arn     string   `xml:"GetCallerIdentityResult>Arn"`
			ReqID   string   `xml:"ResponseMetadata>RequestId"`
		}
		if st != 200 || xml.Unmarshal(body, &ok) != nil || ok.Account != s.Account || ok.ReqID == "" ||
			ok.ReqID != h.Get("x-amzn-RequestId") || !strings.HasPrefix(h.Get("Content-Type"), "text/xml") {
			t.Fatalf("form=%v: %d %s %+v", form, st, body, ok)
		}
	}
	for _, tc := range []struct {
		params url.Values
		code   string
	}{
		{url.Values{"Action": {"GetFederationToken"}, "Version": {"2011-06-15"}}, "InvalidAction"},
		{url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-16"}}, "InvalidAction"},
		{url.Values{"Action": {"GetCallerIdentity"}}, "MissingParameter"},
		{url.Values{"Version": {"2011-06-15"}}, "MissingAction"},
		{url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleSessionName": {"x1"}}, "ValidationError"},
		{url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleSessionName": {"x1"},
			"RoleArn": {"arn:aws:iam::" + s.Account + ":role/r"}, "Tags.member.1.Key": {"team"}}, "ValidationError"},
	} {
		st, _, body := stsRaw(t, s, tc.params, true)
		var e errorResponse
		if err := xml.Unmarshal(body, &e); err != nil || st != 400 || e.Code != tc.code || e.Type != "Sender" || e.ReqID == "" {
			t.Fatalf("%v: %d %s (%v)", tc.params, st, body, err)
		}
	}
	// A body that is not a form, and an unsigned call.
	req, _ := http.NewRequest("POST", s.Endpoint+"/", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e errorResponse
	if xml.Unmarshal(body, &e) != nil || resp.StatusCode != 403 || e.Code != "MissingAuthenticationToken" {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, body)
	}
	// A presigned GetCallerIdentity URL (how Vault's and EKS's AWS auth
	// prove an identity): the query string carries the signature.
	pre, err := sts.NewPresignClient(stsAs(s, rootCreds(s))).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if pre.Method != "GET" || !strings.Contains(pre.URL, "X-Amz-Signature=") || !strings.Contains(pre.URL, "Action=GetCallerIdentity") {
		t.Fatalf("presigned: %s %s", pre.Method, pre.URL)
	}
	preq, _ := http.NewRequest(pre.Method, pre.URL, nil)
	for k, v := range pre.SignedHeader {
		if k != "Host" {
			preq.Header[k] = v
		}
	}
	resp, err = http.DefaultClient.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Account>"+s.Account+"</Account>") {
		t.Fatalf("presigned: %d %s", resp.StatusCode, body)
	}
	// Lattice is unchanged next to it.
	need(newClient(s).ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t)
}

// TestSTSMetrics: STS calls are counted under sts:ACTION with STS's error
// codes, and an action Trellis does not serve under sts:unknown, never
// under the name the client wrote.
func TestSTSMetrics(t *testing.T) {
	t.Parallel()
	s := apptest.StartWith(t, apptest.Options{MetricsAddr: "127.0.0.1:0"})
	c := stsAs(s, rootCreds(s))
	need(c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})).ok(t)
	_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + s.Account + ":role/none"),
		RoleSessionName: aws.String("ok")})
	wantSTSError(t, err, "AccessDenied", 403)
	stsRaw(t, s, url.Values{"Action": {"MadeUpAction"}, "Version": {"2011-06-15"}}, true)

	resp, err := http.Get("http://" + s.App.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, want := range [][2]string{
		{`operation="sts:GetCallerIdentity"`, `error_type=""`},
		{`operation="sts:AssumeRole"`, `error_type="AccessDenied"`},
		{`operation="sts:unknown"`, `error_type="InvalidAction"`},
	} {
		found := false
		for _, line := range strings.Split(string(text), "\n") {
			if strings.HasPrefix(line, "trellis_api_requests_total{") && strings.Contains(line, want[0]) &&
				strings.Contains(line, want[1]) && strings.HasSuffix(line, " 1") {
				found = true
			}
		}
		if !found {
			t.Errorf("no trellis_api_requests_total{%s,%s} 1", want[0], want[1])
		}
	}
	if strings.Contains(string(text), "MadeUpAction") {
		t.Error("a client's action name became a label")
	}
}
