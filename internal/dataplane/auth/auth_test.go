package auth

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/trellis-net/trellis/internal/policy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

const (
	svcARN = "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0"
	snARN  = "arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-0123456789abcdef0"
	host   = "orders-0123456789abcdef0.abc1234.vpc-lattice-svcs.us-east-1.on.aws"
)

func mustParse(t testing.TB, doc string) *policy.Policy {
	p, err := policy.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture: an AWS_IAM network and service, one user key.
func fixture(t testing.TB, netDoc, svcDoc string) (*Authorizer, *snapshot.Snapshot, *snapshot.VPC, *snapshot.Service) {
	snap := &snapshot.Snapshot{Identities: map[string]*snapshot.Identity{
		"AKIAUSER000000000001": {AccessKeyID: "AKIAUSER000000000001", Secret: "user-secret", Account: "111122223333",
			PrincipalARN: "arn:aws:iam::111122223333:user/alice", PrincipalType: "User", Username: "alice",
			OrgID: "o-abcdefghij", Tags: map[string]string{"team": "orders"}},
	}}
	sn := &snapshot.ServiceNetwork{ARN: snARN, AuthType: "AWS_IAM"}
	if netDoc != "" {
		sn.Policy = mustParse(t, netDoc)
	}
	svc := &snapshot.Service{ID: "svc-0123456789abcdef0", ARN: svcARN, AuthType: "AWS_IAM"}
	if svcDoc != "" {
		svc.Policy = mustParse(t, svcDoc)
	}
	vpc := &snapshot.VPC{ID: "vpc-00000000000000001", Account: "111122223333", ServiceNetwork: sn}
	h := &snapshot.Holder{}
	h.Store(snap)
	return New(h, "us-east-1", nil), snap, vpc, svc
}

func signed(t testing.TB, method, path, id, secret string) *http.Request {
	r, _ := http.NewRequest(method, "http://127.171.0.1:80"+path, nil)
	r.Host = host
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if id != "" {
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret},
			r, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r.RequestURI = r.URL.RequestURI()
	return r
}

const allowTeam = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke",
	"Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij"}}}]}`
const svcDoc = `{"Version":"2012-10-17","Statement":[
	{"Sid":"TeamRead","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"vpc-lattice-svcs:Invoke",
	 "Resource":"` + svcARN + `/${aws:PrincipalTag/team}/*","Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"GET"}}},
	{"Sid":"NoAdmin","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*/admin/*"}]}`

func TestCheck(t *testing.T) {
	a, snap, vpc, svc := fixture(t, allowTeam, svcDoc)
	ip := netip.MustParseAddr("127.0.0.1")
	cases := []struct {
		name          string
		r             *http.Request
		allowed       bool
		level, stmt   string
		noNetPolicy   bool
		serviceIsNone bool
	}{
		{name: "allowed", r: signed(t, "GET", "/orders/1", "AKIAUSER000000000001", "user-secret"), allowed: true},
		{name: "method", r: signed(t, "POST", "/orders/1", "AKIAUSER000000000001", "user-secret"), level: LevelService},
		{name: "tag variable", r: signed(t, "GET", "/billing/1", "AKIAUSER000000000001", "user-secret"), level: LevelService},
		{name: "explicit deny", r: signed(t, "GET", "/admin/x", "AKIAUSER000000000001", "user-secret"), level: LevelService, stmt: "NoAdmin"},
		{name: "anonymous", r: signed(t, "GET", "/orders/1", "", ""), level: LevelNetwork},
		{name: "wrong secret", r: signed(t, "GET", "/orders/1", "AKIAUSER000000000001", "nope"), level: LevelIdentity},
		{name: "unknown key", r: signed(t, "GET", "/orders/1", "AKIAUNKNOWN000000000", "x"), level: LevelIdentity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := a.Check(context.Background(), snap, vpc, svc, 80, tc.r, ip)
			if o.Allowed != tc.allowed || o.Level != tc.level || o.Statement != tc.stmt {
				t.Fatalf("got %+v", o)
			}
			if !o.Allowed && (o.Status != http.StatusForbidden || o.Message == "") {
				t.Fatalf("denial without status/message: %+v", o)
			}
			if o.Allowed && (o.Identity == nil || o.Identity.PrincipalARN != "arn:aws:iam::111122223333:user/alice") {
				t.Fatalf("identity %+v", o.Identity)
			}
		})
	}
	// AWS_IAM without a policy denies.
	a2, snap2, vpc2, svc2 := fixture(t, allowTeam, "")
	if o := a2.Check(context.Background(), snap2, vpc2, svc2, 80, signed(t, "GET", "/orders/1", "AKIAUSER000000000001", "user-secret"), ip); o.Allowed || o.Level != LevelService {
		t.Fatalf("AWS_IAM with no policy: %+v", o)
	}
	// Clients that sign UNSIGNED-PAYLOAD (or an empty body's hash) without
	// sending x-amz-content-sha256 are accepted; a signed non-empty payload
	// is refused, as Lattice does not support payload signing.
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	for _, tc := range []struct {
		name, hash, header, body string
		allowed                  bool
	}{
		{"unsigned payload without the header", "UNSIGNED-PAYLOAD", "", "", true},
		{"empty body hash without the header", emptyHash, "", "", true},
		{"empty body hash in the header", emptyHash, emptyHash, "", true},
		{"signed body", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "hello", false},
	} {
		r, _ := http.NewRequest("POST", "http://127.171.0.1/orders/1", strings.NewReader(tc.body))
		if tc.body == "" {
			r, _ = http.NewRequest("GET", "http://127.171.0.1/orders/1", nil)
		}
		r.Host = host
		if tc.header != "" {
			r.Header.Set("X-Amz-Content-Sha256", tc.header)
		}
		_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIAUSER000000000001", SecretAccessKey: "user-secret"},
			r, tc.hash, "vpc-lattice-svcs", "us-east-1", time.Now())
		r.RequestURI = r.URL.RequestURI()
		o := a.Check(context.Background(), snap, vpc, svc, 80, r, ip)
		if tc.allowed != (o.Level != LevelIdentity) {
			t.Fatalf("%s: %+v", tc.name, o)
		}
	}
}

// BenchmarkCheck measures SigV4 verification plus both policy evaluations
// for one allowed request (the per-request cost of auth on the data plane).
func BenchmarkCheck(b *testing.B) {
	a, snap, vpc, svc := fixture(b, allowTeam, svcDoc)
	r := signed(b, "GET", "/orders/1", "AKIAUSER000000000001", "user-secret")
	ip := netip.MustParseAddr("127.0.0.1")
	ctx := context.Background()
	if o := a.Check(ctx, snap, vpc, svc, 80, r, ip); !o.Allowed {
		b.Fatalf("not allowed: %+v", o)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if o := a.Check(ctx, snap, vpc, svc, 80, r, ip); !o.Allowed {
			b.Fatal(o.Message)
		}
	}
}

// BenchmarkEvaluateOnly is the policy part alone (both levels).
func BenchmarkEvaluateOnly(b *testing.B) {
	_, _, vpc, svc := fixture(b, allowTeam, svcDoc)
	id := &snapshot.Identity{PrincipalARN: "arn:aws:iam::111122223333:user/alice", Account: "111122223333", OrgID: "o-abcdefghij",
		PrincipalType: "User", Tags: map[string]string{"team": "orders"}}
	q := &policy.Request{PrincipalARN: id.PrincipalARN, PrincipalAccount: id.Account, PrincipalOrgID: id.OrgID, PrincipalType: "User",
		PrincipalTags: id.Tags, Action: Action, Resource: svcARN + "/orders/1", Method: "GET", ServiceARN: svcARN, CurrentTime: time.Now()}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !vpc.ServiceNetwork.Policy.Evaluate(q).Allowed() || !svc.Policy.Evaluate(q).Allowed() {
			b.Fatal("denied")
		}
	}
}

func TestCheckAssumedRoleSession(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"Readers","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/reader"},
		"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	a, snap, vpc, svc := fixture(t, allowTeam, doc)
	snap.Identities["ASIASESSION000000001"] = &snapshot.Identity{AccessKeyID: "ASIASESSION000000001", Secret: "session-secret",
		SessionToken: "token-1", Account: "111122223333", OrgID: "o-abcdefghij", PrincipalType: "AssumedRole",
		PrincipalARN: "arn:aws:sts::111122223333:assumed-role/reader/alice", RoleARN: "arn:aws:iam::111122223333:role/reader",
		SessionName: "alice"}
	ip := netip.MustParseAddr("127.0.0.1")
	sign := func(token string) *http.Request {
		r, _ := http.NewRequest("GET", "http://127.171.0.1/orders", nil)
		r.Host = host
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "ASIASESSION000000001",
			SecretAccessKey: "session-secret", SessionToken: token}, r, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", "us-east-1", time.Now())
		r.RequestURI = r.URL.RequestURI()
		return r
	}
	o := a.Check(context.Background(), snap, vpc, svc, 80, sign("token-1"), ip)
	if !o.Allowed || o.Identity.SessionName != "alice" {
		t.Fatalf("session allowed by a role principal: %+v", o)
	}
	if o := a.Check(context.Background(), snap, vpc, svc, 80, sign("forged-token"), ip); o.Allowed || o.Level != LevelIdentity {
		t.Fatalf("wrong session token: %+v", o)
	}
	if o := a.Check(context.Background(), snap, vpc, svc, 80, sign(""), ip); o.Allowed {
		t.Fatalf("missing session token: %+v", o)
	}
}

// TestCheckOneSnapshot: the access key and the identity it names come from
// the snapshot the request was routed with, whatever the holder has swapped
// in since (issue 10, finding 6: a key created between two loads was
// refused as unknown; a key deleted in between was still verified).
func TestCheckOneSnapshot(t *testing.T) {
	a, snap, vpc, svc := fixture(t, allowTeam, svcDoc)
	ip := netip.MustParseAddr("127.0.0.1")
	r := func() *http.Request { return signed(t, "GET", "/orders/1", "AKIAUSER000000000001", "user-secret") }

	// The holder moves on to a revision without the key: the request's
	// snapshot still has it, so it is known and verified.
	a.holder.Store(&snapshot.Snapshot{Identities: map[string]*snapshot.Identity{}})
	if o := a.Check(context.Background(), snap, vpc, svc, 80, r(), ip); !o.Allowed {
		t.Fatalf("key of the request's snapshot refused: %+v", o)
	}
	// And the other way round: a key only the newer revision has is
	// unknown to a request routed with the older one.
	a.holder.Store(snap)
	old := &snapshot.Snapshot{Identities: map[string]*snapshot.Identity{}}
	if o := a.Check(context.Background(), old, vpc, svc, 80, r(), ip); o.Allowed || o.Level != LevelIdentity ||
		!strings.Contains(o.Message, "UnrecognizedClient") {
		t.Fatalf("key unknown to the request's snapshot: %+v", o)
	}
}

// TestCheckScope: a signature is good for the data plane's signing name
// and region only: one made for the control plane (vpc-lattice), another
// AWS service or another region is refused, as is one too old to replay.
func TestCheckScope(t *testing.T) {
	a, snap, vpc, svc := fixture(t, allowTeam, svcDoc)
	ip := netip.MustParseAddr("127.0.0.1")
	sign := func(service, region string, at time.Time) *http.Request {
		r, _ := http.NewRequest("GET", "http://127.171.0.1/orders/1", nil)
		r.Host = host
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIAUSER000000000001", SecretAccessKey: "user-secret"},
			r, "UNSIGNED-PAYLOAD", service, region, at); err != nil {
			t.Fatal(err)
		}
		r.RequestURI = r.URL.RequestURI()
		return r
	}
	now := time.Now()
	if o := a.Check(context.Background(), snap, vpc, svc, 80, sign("vpc-lattice-svcs", "us-east-1", now), ip); !o.Allowed {
		t.Fatalf("control: %+v", o)
	}
	for name, r := range map[string]*http.Request{
		"control-plane signing name": sign("vpc-lattice", "us-east-1", now),
		"other service":              sign("execute-api", "us-east-1", now),
		"other region":               sign("vpc-lattice-svcs", "eu-west-1", now),
		"replayed after 6 minutes":   sign("vpc-lattice-svcs", "us-east-1", now.Add(-6*time.Minute)),
		"from the future":            sign("vpc-lattice-svcs", "us-east-1", now.Add(6*time.Minute)),
	} {
		if o := a.Check(context.Background(), snap, vpc, svc, 80, r, ip); o.Allowed || o.Level != LevelIdentity {
			t.Errorf("%s: %+v", name, o)
		}
	}
	// The signature covers the path: the same signed header on another path
	// is refused.
	r := sign("vpc-lattice-svcs", "us-east-1", now)
	r.URL.Path, r.RequestURI = "/orders/2", "/orders/2"
	if o := a.Check(context.Background(), snap, vpc, svc, 80, r, ip); o.Allowed || o.Level != LevelIdentity {
		t.Errorf("signature moved to another path: %+v", o)
	}
}

// TestSimulatePath: the simulator judges the path the data plane judges —
// the normal form of the path as a client would send it — and refuses what
// the data plane answers 400.
func TestSimulatePath(t *testing.T) {
	_, snap, vpc, svc := fixture(t, allowTeam, svcDoc)
	vpc.Hosts = snapshot.TableOf(map[string]*snapshot.Service{host: svc})
	snap.VPCs = map[string]*snapshot.VPC{vpc.ID: vpc}
	for path, want := range map[string]string{
		"/orders/x":          svcARN + "/orders/x",
		"//admin/x":          svcARN + "/admin/x",
		"/public/../admin/x": svcARN + "/admin/x",
		"/%61dmin/%2e/x":     svcARN + "/admin/x",
		"/orders/caf%c3%a9":  svcARN + "/orders/café",
	} {
		out, err := Simulate(snap, SimulateInput{SourceVpc: vpc.ID, Service: svc.ID, Path: path,
			PrincipalARN: "arn:aws:iam::111122223333:user/alice"})
		if err != nil || out.Resource != want {
			t.Errorf("%s: resource %q, error %v; want %q", path, out.Resource, err, want)
		}
		if strings.HasPrefix(want, svcARN+"/admin/") && out.Allowed {
			t.Errorf("%s: allowed, but the policy denies /admin/*", path)
		}
	}
	for _, path := range []string{"/%2fadmin/x", "/admin;x=1/x", "/..", "/a%00"} {
		if _, err := Simulate(snap, SimulateInput{SourceVpc: vpc.ID, Service: svc.ID, Path: path}); err == nil {
			t.Errorf("%s: no error; the data plane answers 400", path)
		}
	}
}
