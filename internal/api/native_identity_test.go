package api_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// creds are the credentials a test request is signed with.
type creds struct{ id, secret, token string }

func rootCreds(s *apptest.Server) creds { return creds{id: s.AccessKeyID, secret: s.SecretAccessKey} }

// answer is a native endpoint's reply.
type answer struct {
	status int
	typ    string // X-Amzn-ErrorType
	body   []byte
}

func (a answer) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("not a JSON object (%d): %s", a.status, a.body)
	}
	return m
}

func (a answer) items(t *testing.T) []map[string]any {
	t.Helper()
	var l struct {
		Items     []map[string]any `json:"items"`
		NextToken string           `json:"nextToken"`
	}
	if err := json.Unmarshal(a.body, &l); err != nil || l.Items == nil {
		t.Fatalf("not a list (%d): %s", a.status, a.body)
	}
	return l.Items
}

// call sends a SigV4-signed request to a native endpoint with c.
func call(t *testing.T, s *apptest.Server, c creds, method, path string, body any) answer {
	t.Helper()
	status, h, out := signedRequest(t, s, aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret, SessionToken: c.token},
		method, path, body, time.Now())
	return answer{status: status, typ: h.Get("X-Amzn-ErrorType"), body: out}
}

// want fails unless the answer has the status (and, for errors, the type).
func want(t *testing.T, what string, a answer, status int, typ string) answer {
	t.Helper()
	if a.status != status || a.typ != typ {
		t.Fatalf("%s: got %d %q, want %d %q: %s", what, a.status, a.typ, status, typ, a.body)
	}
	return a
}

func principalPath(arn string) string { return "/trellis/v1/principals/" + url.PathEscape(arn) }

func sdkAs(s *apptest.Server, c creds) *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{
		Region:           s.Region,
		BaseEndpoint:     aws.String(s.Endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token),
		RetryMaxAttempts: 1,
	})
}

const (
	acctA = "111122223333"
	acctB = "444455556666"
)

// newAccountWithUser creates an account (as the administrator), a user in
// it and a key of the user, and returns the key.
func newAccountWithUser(t *testing.T, s *apptest.Server, account, user string) creds {
	t.Helper()
	admin := rootCreds(s)
	if a := call(t, s, admin, "PUT", "/trellis/v1/accounts/"+account, nil); a.status != 201 && a.status != 200 {
		t.Fatalf("put account %s: %d %s", account, a.status, a.body)
	}
	arn := "arn:aws:iam::" + account + ":user/" + user
	want(t, "put user", call(t, s, admin, "PUT", principalPath(arn), nil), 201, "")
	k := want(t, "create key", call(t, s, admin, "POST", principalPath(arn)+"/accesskeys", nil), 201, "").obj(t)
	return creds{id: k["accessKeyId"].(string), secret: k["secretAccessKey"].(string)}
}

func TestIdentityAccounts(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	admin := rootCreds(s)

	// The default account exists from the start.
	items := want(t, "list", call(t, s, admin, "GET", "/trellis/v1/accounts", nil), 200, "").items(t)
	if len(items) != 1 || items[0]["accountId"] != s.Account {
		t.Fatalf("accounts at start: %v", items)
	}
	a := want(t, "create", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctA,
		map[string]any{"name": "team a", "orgId": "o-a1b2c3d4e5"}), 201, "").obj(t)
	if a["accountId"] != acctA || a["name"] != "team a" || a["orgId"] != "o-a1b2c3d4e5" || a["createdAt"] == nil {
		t.Fatalf("created account: %v", a)
	}
	// Again: 200; a member left out keeps its value.
	a = want(t, "update", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctA,
		map[string]any{"orgPath": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"}), 200, "").obj(t)
	if a["name"] != "team a" || a["orgPath"] != "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/" {
		t.Fatalf("updated account: %v", a)
	}
	if got := want(t, "get", call(t, s, admin, "GET", "/trellis/v1/accounts/"+acctA, nil), 200, "").obj(t); got["orgId"] != "o-a1b2c3d4e5" {
		t.Fatalf("get: %v", got)
	}
	want(t, "get unknown", call(t, s, admin, "GET", "/trellis/v1/accounts/999999999999", nil), 404, "ResourceNotFoundException")

	// Validation names every bad field.
	bad := want(t, "bad", call(t, s, admin, "PUT", "/trellis/v1/accounts/12345",
		map[string]any{"orgId": "o-short", "orgPath": "nope"}), 400, "ValidationException").obj(t)
	fields := map[string]bool{}
	for _, f := range bad["fieldList"].([]any) {
		fields[f.(map[string]any)["name"].(string)] = true
	}
	if !fields["accountId"] || !fields["orgId"] || !fields["orgPath"] {
		t.Fatalf("fieldList: %v", bad)
	}
	want(t, "path outside the org", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctA,
		map[string]any{"orgPath": "o-zzzzzzzzzz/r-ab12/"}), 400, "ValidationException")
	want(t, "bad type", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctA, map[string]any{"name": 7}), 400, "ValidationException")

	// Paging.
	want(t, "create B", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctB, nil), 201, "")
	p1 := want(t, "page 1", call(t, s, admin, "GET", "/trellis/v1/accounts?maxResults=2", nil), 200, "").obj(t)
	tok, _ := p1["nextToken"].(string)
	if len(p1["items"].([]any)) != 2 || tok == "" {
		t.Fatalf("page 1: %v", p1)
	}
	p2 := want(t, "page 2", call(t, s, admin, "GET", "/trellis/v1/accounts?maxResults=2&nextToken="+url.QueryEscape(tok), nil), 200, "").obj(t)
	if len(p2["items"].([]any)) != 1 || p2["nextToken"] != nil {
		t.Fatalf("page 2: %v", p2)
	}

	// Delete guards: the default account, principals, keys, resources.
	want(t, "delete default", call(t, s, admin, "DELETE", "/trellis/v1/accounts/"+s.Account, nil), 409, "ConflictException")
	user := "arn:aws:iam::" + acctA + ":user/alice"
	want(t, "put user", call(t, s, admin, "PUT", principalPath(user), nil), 201, "")
	want(t, "delete with a principal", call(t, s, admin, "DELETE", "/trellis/v1/accounts/"+acctA, nil), 409, "ConflictException")
	want(t, "delete user", call(t, s, admin, "DELETE", principalPath(user), nil), 204, "")
	rk := want(t, "root key", call(t, s, admin, "POST", "/trellis/v1/accounts/"+acctA+"/accesskeys", nil), 201, "").obj(t)
	if rk["principalArn"] != "arn:aws:iam::"+acctA+":root" {
		t.Fatalf("root key: %v", rk)
	}
	want(t, "delete with a key", call(t, s, admin, "DELETE", "/trellis/v1/accounts/"+acctA, nil), 409, "ConflictException")
	rootA := creds{id: rk["accessKeyId"].(string), secret: rk["secretAccessKey"].(string)}
	need(sdkAs(s, rootA).CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("a-net")})).ok(t)
	want(t, "delete root key", call(t, s, admin, "DELETE", "/trellis/v1/accesskeys/"+rootA.id, nil), 204, "")
	conflict := want(t, "delete with a network", call(t, s, admin, "DELETE", "/trellis/v1/accounts/"+acctA, nil), 409, "ConflictException").obj(t)
	if !strings.Contains(conflict["message"].(string), "service network") {
		t.Fatalf("conflict: %v", conflict)
	}
	want(t, "delete B", call(t, s, admin, "DELETE", "/trellis/v1/accounts/"+acctB, nil), 204, "")
	want(t, "get B", call(t, s, admin, "GET", "/trellis/v1/accounts/"+acctB, nil), 404, "ResourceNotFoundException")
	want(t, "delete B again", call(t, s, admin, "DELETE", "/trellis/v1/accounts/"+acctB, nil), 404, "ResourceNotFoundException")
}

func TestIdentityPrincipals(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	admin := rootCreds(s)
	want(t, "account", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctA, nil), 201, "")

	role := "arn:aws:iam::" + acctA + ":role/path/to/deployer"
	p := want(t, "put role", call(t, s, admin, "PUT", principalPath(role),
		map[string]any{"tags": map[string]string{"team": "orders"}}), 201, "").obj(t)
	if p["arn"] != role || p["account"] != acctA || p["type"] != "role" || p["name"] != "deployer" ||
		p["tags"].(map[string]any)["team"] != "orders" {
		t.Fatalf("put role: %v", p)
	}
	if !strings.Contains(principalPath(role), "%2F") {
		t.Fatalf("the ARN is not escaped into one segment: %s", principalPath(role))
	}
	// A PUT without tags keeps them; with tags replaces them.
	p = want(t, "put again", call(t, s, admin, "PUT", principalPath(role), nil), 200, "").obj(t)
	if p["tags"].(map[string]any)["team"] != "orders" {
		t.Fatalf("tags kept: %v", p)
	}
	p = want(t, "retag", call(t, s, admin, "PUT", principalPath(role),
		map[string]any{"tags": map[string]string{"env": "prod"}}), 200, "").obj(t)
	if tags := p["tags"].(map[string]any); len(tags) != 1 || tags["env"] != "prod" {
		t.Fatalf("tags replaced: %v", p)
	}
	if g := want(t, "get", call(t, s, admin, "GET", principalPath(role), nil), 200, "").obj(t); g["arn"] != role {
		t.Fatalf("get: %v", g)
	}
	user := "arn:aws:iam::" + acctA + ":user/bob+ops@example.com"
	want(t, "put user", call(t, s, admin, "PUT", principalPath(user), nil), 201, "")
	want(t, "put default-account user", call(t, s, admin, "PUT", principalPath("arn:aws:iam::"+s.Account+":user/carol"), nil), 201, "")

	items := want(t, "list A", call(t, s, admin, "GET", "/trellis/v1/principals?account="+acctA, nil), 200, "").items(t)
	if len(items) != 2 {
		t.Fatalf("list A: %v", items)
	}
	if items := want(t, "list all", call(t, s, admin, "GET", "/trellis/v1/principals", nil), 200, "").items(t); len(items) != 3 {
		t.Fatalf("admin lists every account: %v", items)
	}
	if items := want(t, "list page", call(t, s, admin, "GET", "/trellis/v1/principals?maxResults=1", nil), 200, "").items(t); len(items) != 1 {
		t.Fatalf("page: %v", items)
	}

	// Errors.
	want(t, "unknown account", call(t, s, admin, "PUT", principalPath("arn:aws:iam::999999999999:role/x"), nil), 404, "ResourceNotFoundException")
	for _, arn := range []string{"arn:aws:iam::" + acctA + ":group/x", "arn:aws:iam::12:role/x", "arn:aws:s3:::bucket",
		"arn:aws:iam::" + acctA + ":role/", "arn:aws:iam::" + acctA + ":role/a//b", "not-an-arn", "arn:aws:iam::" + acctA + ":role/bad name"} {
		bad := want(t, arn, call(t, s, admin, "PUT", principalPath(arn), nil), 400, "ValidationException").obj(t)
		if f := bad["fieldList"].([]any); len(f) != 1 || f[0].(map[string]any)["name"] != "principalArn" {
			t.Fatalf("%s: %v", arn, bad)
		}
	}
	many := map[string]string{}
	for i := 0; i < 51; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	want(t, "51 tags", call(t, s, admin, "PUT", principalPath(user), map[string]any{"tags": many}), 400, "ValidationException")
	want(t, "long value", call(t, s, admin, "PUT", principalPath(user),
		map[string]any{"tags": map[string]string{"k": strings.Repeat("v", 257)}}), 400, "ValidationException")
	want(t, "long key", call(t, s, admin, "PUT", principalPath(user),
		map[string]any{"tags": map[string]string{strings.Repeat("k", 129): "v"}}), 400, "ValidationException")
	want(t, "get unknown", call(t, s, admin, "GET", principalPath("arn:aws:iam::"+acctA+":role/nobody"), nil), 404, "ResourceNotFoundException")

	// Deleting a principal deletes its keys: they stop working at once.
	k := want(t, "key", call(t, s, admin, "POST", principalPath(user)+"/accesskeys", nil), 201, "").obj(t)
	bob := creds{id: k["accessKeyId"].(string), secret: k["secretAccessKey"].(string)}
	want(t, "bob works", call(t, s, bob, "GET", "/trellis/v1/principals", nil), 200, "")
	want(t, "delete", call(t, s, admin, "DELETE", principalPath(user), nil), 204, "")
	want(t, "get deleted", call(t, s, admin, "GET", principalPath(user), nil), 404, "ResourceNotFoundException")
	want(t, "bob's key", call(t, s, bob, "GET", "/trellis/v1/principals", nil), 403, "UnrecognizedClientException")
	if items := want(t, "keys of A", call(t, s, admin, "GET", "/trellis/v1/accesskeys?account="+acctA, nil), 200, "").items(t); len(items) != 0 {
		t.Fatalf("keys left: %v", items)
	}
}

var (
	keyIDRE  = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	sessIDRE = regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`)
)

func TestIdentityAccessKeys(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	admin := rootCreds(s)
	want(t, "account", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctA, nil), 201, "")
	user := "arn:aws:iam::" + acctA + ":user/alice"
	want(t, "user", call(t, s, admin, "PUT", principalPath(user), nil), 201, "")

	k := want(t, "create", call(t, s, admin, "POST", principalPath(user)+"/accesskeys", nil), 201, "").obj(t)
	id, _ := k["accessKeyId"].(string)
	secret, _ := k["secretAccessKey"].(string)
	if !keyIDRE.MatchString(id) || len(secret) != 40 || k["principalArn"] != user || k["account"] != acctA ||
		k["status"] != "Active" || k["createdAt"] == nil {
		t.Fatalf("created key: %v", k)
	}
	// Lists and gets never return the secret.
	for _, path := range []string{"/trellis/v1/accesskeys?principalArn=" + url.QueryEscape(user),
		"/trellis/v1/accesskeys?account=" + acctA, "/trellis/v1/accesskeys/" + id} {
		a := want(t, path, call(t, s, admin, "GET", path, nil), 200, "")
		if bytes.Contains(a.body, []byte(secret)) || bytes.Contains(a.body, []byte("secretAccessKey")) {
			t.Fatalf("%s returns the secret: %s", path, a.body)
		}
		if !bytes.Contains(a.body, []byte(id)) {
			t.Fatalf("%s: key missing: %s", path, a.body)
		}
	}
	alice := creds{id: id, secret: secret}

	// The new key signs SDK calls at once; what it creates belongs to its account.
	c := sdkAs(s, alice)
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("alice-net")})).ok(t)
	if !strings.Contains(*sn.Arn, ":"+acctA+":servicenetwork/") {
		t.Fatalf("network ARN %s is not in account %s", *sn.Arn, acctA)
	}
	if got := need(c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: sn.Id})).ok(t); *got.Arn != *sn.Arn {
		t.Fatalf("get: %s", *got.Arn)
	}
	// The default account does not see it.
	_, err := newClient(s).GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: sn.Id})
	wantAPIError(t, err, "ResourceNotFoundException")

	// A user manages keys of its own account.
	k2 := want(t, "self-service key", call(t, s, alice, "POST", principalPath(user)+"/accesskeys", nil), 201, "").obj(t)
	if items := want(t, "own keys", call(t, s, alice, "GET", "/trellis/v1/accesskeys", nil), 200, "").items(t); len(items) != 2 {
		t.Fatalf("own keys: %v", items)
	}
	want(t, "delete second", call(t, s, alice, "DELETE", "/trellis/v1/accesskeys/"+k2["accessKeyId"].(string), nil), 204, "")

	// A deleted key is rejected.
	want(t, "delete", call(t, s, admin, "DELETE", "/trellis/v1/accesskeys/"+id, nil), 204, "")
	_, err = c.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
	want(t, "delete again", call(t, s, admin, "DELETE", "/trellis/v1/accesskeys/"+id, nil), 404, "ResourceNotFoundException")
	want(t, "bad id", call(t, s, admin, "DELETE", "/trellis/v1/accesskeys/nope", nil), 400, "ValidationException")
	want(t, "unknown principal", call(t, s, admin, "POST", principalPath("arn:aws:iam::"+acctA+":user/nobody")+"/accesskeys", nil),
		404, "ResourceNotFoundException")
	want(t, "unknown account", call(t, s, admin, "POST", "/trellis/v1/accounts/999999999999/accesskeys", nil), 404, "ResourceNotFoundException")
	want(t, "both filters", call(t, s, admin, "GET", "/trellis/v1/accesskeys?account="+acctA+"&principalArn="+url.QueryEscape(user), nil),
		400, "ValidationException")
	// An unknown key is rejected as AWS does.
	_, err = sdkAs(s, creds{id: "AKIAAAAAAAAAAAAAAAAA", secret: secret}).ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
}

func TestIdentitySessions(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	admin := rootCreds(s)
	bob := newAccountWithUser(t, s, acctB, "bob")
	role := "arn:aws:iam::" + acctB + ":role/ops/deployer"
	want(t, "role", call(t, s, bob, "PUT", principalPath(role), nil), 201, "")

	before := time.Now()
	sess := want(t, "assume", call(t, s, bob, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": role, "roleSessionName": "ci-run.42"}), 200, "").obj(t)
	id, _ := sess["accessKeyId"].(string)
	secret, _ := sess["secretAccessKey"].(string)
	token, _ := sess["sessionToken"].(string)
	if !sessIDRE.MatchString(id) || len(secret) != 40 || token == "" ||
		sess["assumedRoleArn"] != "arn:aws:sts::"+acctB+":assumed-role/deployer/ci-run.42" {
		t.Fatalf("session: %v", sess)
	}
	exp, err := time.Parse(time.RFC3339, sess["expiration"].(string))
	if err != nil || exp.Before(before.Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("expiration %v (%v)", sess["expiration"], err)
	}

	// The SDK with the session credentials works, in the role's account.
	session := creds{id: id, secret: secret, token: token}
	sn := need(sdkAs(s, session).CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("ci-net")})).ok(t)
	if !strings.Contains(*sn.Arn, ":"+acctB+":") {
		t.Fatalf("network ARN %s", *sn.Arn)
	}
	// The session is listed (without secret or token) under the role.
	listed := want(t, "list", call(t, s, bob, "GET", "/trellis/v1/accesskeys?principalArn="+url.QueryEscape(role), nil), 200, "")
	if bytes.Contains(listed.body, []byte(secret)) || bytes.Contains(listed.body, []byte(token)) ||
		!bytes.Contains(listed.body, []byte(id)) || !bytes.Contains(listed.body, []byte("ci-run.42")) {
		t.Fatalf("list: %s", listed.body)
	}

	// Without the token, or with another one, the key is rejected.
	for _, tok := range []string{"", "bogus-token", token + "x"} {
		_, err := sdkAs(s, creds{id: id, secret: secret, token: tok}).ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})
		wantAPIError(t, err, "UnrecognizedClientException")
	}
	// A long-term key with a session token is rejected too.
	_, err = sdkAs(s, creds{id: bob.id, secret: bob.secret, token: token}).ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})
	wantAPIError(t, err, "UnrecognizedClientException")

	// Validation, existence and who may assume.
	bad := want(t, "bad input", call(t, s, bob, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": "arn:aws:iam::" + acctB + ":user/bob", "roleSessionName": "x", "durationSeconds": 60}),
		400, "ValidationException").obj(t)
	if n := len(bad["fieldList"].([]any)); n != 3 {
		t.Fatalf("fieldList: %v", bad)
	}
	want(t, "too long", call(t, s, bob, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": role, "roleSessionName": "ok-name", "durationSeconds": 43201}), 400, "ValidationException")
	long := want(t, "12 hours", call(t, s, bob, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": role, "roleSessionName": "ok-name", "durationSeconds": 43200}), 200, "").obj(t)
	if exp, _ := time.Parse(time.RFC3339, long["expiration"].(string)); exp.Before(before.Add(11 * time.Hour)) {
		t.Fatalf("12-hour session expires %v", long["expiration"])
	}
	want(t, "unknown role", call(t, s, bob, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": "arn:aws:iam::" + acctB + ":role/nobody", "roleSessionName": "s1"}), 404, "ResourceNotFoundException")
	alice := newAccountWithUser(t, s, acctA, "alice")
	want(t, "other account", call(t, s, alice, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": role, "roleSessionName": "s1"}), 403, "AccessDeniedException")
	want(t, "administrator", call(t, s, admin, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": role, "roleSessionName": "s1"}), 200, "")

	// Deleting the role ends its sessions.
	want(t, "delete role", call(t, s, bob, "DELETE", principalPath(role), nil), 204, "")
	_, err = sdkAs(s, session).ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
}

func TestIdentityAuthorization(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	admin := rootCreds(s)
	alice := newAccountWithUser(t, s, acctA, "alice")
	bob := newAccountWithUser(t, s, acctB, "bob")
	denied := func(what string, c creds, method, path string, body any) {
		t.Helper()
		want(t, what, call(t, s, c, method, path, body), 403, "AccessDeniedException")
	}

	// A user of account B cannot touch account A's identities.
	denied("put principal in A", bob, "PUT", principalPath("arn:aws:iam::"+acctA+":user/mallory"), nil)
	denied("put principal in the default account", bob, "PUT", principalPath("arn:aws:iam::"+s.Account+":user/mallory"), nil)
	denied("get principal of A", bob, "GET", principalPath("arn:aws:iam::"+acctA+":user/alice"), nil)
	denied("list principals of A", bob, "GET", "/trellis/v1/principals?account="+acctA, nil)
	denied("key for A's user", bob, "POST", principalPath("arn:aws:iam::"+acctA+":user/alice")+"/accesskeys", nil)
	denied("delete A's key", bob, "DELETE", "/trellis/v1/accesskeys/"+alice.id, nil)
	denied("list A's keys", bob, "GET", "/trellis/v1/accesskeys?account="+acctA, nil)
	denied("get account A", bob, "GET", "/trellis/v1/accounts/"+acctA, nil)
	// Accounts are the administrator's.
	denied("create account", bob, "PUT", "/trellis/v1/accounts/777788889999", nil)
	denied("change own account", bob, "PUT", "/trellis/v1/accounts/"+acctB, map[string]any{"orgId": "o-a1b2c3d4e5"})
	denied("delete account", bob, "DELETE", "/trellis/v1/accounts/"+acctA, nil)
	// Root keys are the root's: a user cannot make itself root.
	denied("root key of own account", bob, "POST", "/trellis/v1/accounts/"+acctB+"/accesskeys", nil)

	// What a user may do: its own account.
	if a := want(t, "own account", call(t, s, bob, "GET", "/trellis/v1/accounts/"+acctB, nil), 200, "").obj(t); a["accountId"] != acctB {
		t.Fatalf("own account: %v", a)
	}
	if items := want(t, "accounts", call(t, s, bob, "GET", "/trellis/v1/accounts", nil), 200, "").items(t); len(items) != 1 || items[0]["accountId"] != acctB {
		t.Fatalf("a user lists only its account: %v", items)
	}
	want(t, "create user in own account", call(t, s, bob, "PUT", principalPath("arn:aws:iam::"+acctB+":user/dave"), nil), 201, "")
	want(t, "key for it", call(t, s, bob, "POST", principalPath("arn:aws:iam::"+acctB+":user/dave")+"/accesskeys", nil), 201, "")
	if items := want(t, "own principals", call(t, s, bob, "GET", "/trellis/v1/principals", nil), 200, "").items(t); len(items) != 2 {
		t.Fatalf("own principals: %v", items)
	}

	// The root of B (given a key by the administrator) manages B's root keys
	// but is not the administrator.
	rk := want(t, "root key of B", call(t, s, admin, "POST", "/trellis/v1/accounts/"+acctB+"/accesskeys", nil), 201, "").obj(t)
	rootB := creds{id: rk["accessKeyId"].(string), secret: rk["secretAccessKey"].(string)}
	want(t, "root of B makes a root key", call(t, s, rootB, "POST", "/trellis/v1/accounts/"+acctB+"/accesskeys", nil), 201, "")
	denied("root of B is not the administrator", rootB, "PUT", "/trellis/v1/accounts/777788889999", nil)
	denied("root of B in A", rootB, "POST", "/trellis/v1/accounts/"+acctA+"/accesskeys", nil)
	denied("user deletes a root key", bob, "DELETE", "/trellis/v1/accesskeys/"+rootB.id, nil)
	want(t, "root of B deletes a root key", call(t, s, rootB, "DELETE", "/trellis/v1/accesskeys/"+rootB.id, nil), 204, "")

	// Neither a user nor a session of the default account is the administrator.
	carol := newAccountWithUser(t, s, s.Account, "carol")
	denied("default-account user", carol, "PUT", "/trellis/v1/accounts/777788889999", nil)
	denied("default-account user makes a root key", carol, "POST", "/trellis/v1/accounts/"+s.Account+"/accesskeys", nil)
}
