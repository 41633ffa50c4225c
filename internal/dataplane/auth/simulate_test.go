package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

const (
	allowAll = `{"Version":"2012-10-17","Statement":[{"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	denyGet  = `{"Version":"2012-10-17","Statement":[{"Sid":"AllowAll","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"},
	{"Sid":"NoGet","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",
	 "Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"GET"}}}]}`
)

func ptr(s string) *string { return &s }

// simFixture: the auth fixture with the VPC reaching the service.
func simFixture(t *testing.T, netDoc, svcDoc string) (*snapshot.Snapshot, *snapshot.VPC, *snapshot.Service) {
	_, snap, vpc, svc := fixture(t, netDoc, svcDoc)
	vpc.Hosts = snapshot.TableOf(map[string]*snapshot.Service{host: svc})
	snap.VPCs = map[string]*snapshot.VPC{vpc.ID: vpc}
	return snap, vpc, svc
}

// TestSimulateDraft: a draft stands in for the live policy of its level,
// for this simulation only, and the answer says which level used one.
func TestSimulateDraft(t *testing.T) {
	const alice = "arn:aws:iam::111122223333:user/alice"
	cases := []struct {
		name               string
		netLive, svcLive   string
		netDraft, svcDraft *string
		method, path       string
		allowed            bool
		netDecision        string
		svcDecision        string
		deciding           string // the service level's deciding statement
	}{
		{name: "live allows GET /orders/x", netLive: allowTeam, svcLive: svcDoc, method: "GET", path: "/orders/x",
			allowed: true, netDecision: "Allow", svcDecision: "Allow", deciding: "TeamRead"},
		{name: "a service draft denies what the live policy allows", netLive: allowTeam, svcLive: svcDoc, svcDraft: ptr(denyGet),
			method: "GET", path: "/orders/x", netDecision: "Allow", svcDecision: "Deny", deciding: "NoGet"},
		{name: "live denies POST /orders/x", netLive: allowTeam, svcLive: svcDoc, method: "POST", path: "/orders/x",
			netDecision: "Allow", svcDecision: "NoMatch"},
		{name: "a service draft allows what the live policy denies", netLive: allowTeam, svcLive: svcDoc, svcDraft: ptr(allowAll),
			method: "POST", path: "/orders/x", allowed: true, netDecision: "Allow", svcDecision: "Allow", deciding: "Everyone"},
		{name: "a network draft denies first", netLive: allowTeam, svcLive: svcDoc, netDraft: ptr(denyGet),
			method: "GET", path: "/orders/x", netDecision: "Deny", svcDecision: "NotEvaluated"},
		{name: "a network draft where the live network has no policy", svcLive: svcDoc, netDraft: ptr(allowAll),
			method: "GET", path: "/orders/x", allowed: true, netDecision: "Allow", svcDecision: "Allow", deciding: "TeamRead"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, vpc, svc := simFixture(t, tc.netLive, tc.svcLive)
			liveNet, liveSvc := vpc.ServiceNetwork.Policy, svc.Policy
			out, err := Simulate(snap, SimulateInput{SourceVpc: vpc.ID, Service: svc.ID, PrincipalARN: alice,
				Method: tc.method, Path: tc.path, ServiceAuthPolicy: tc.svcDraft, ServiceNetworkAuthPolicy: tc.netDraft})
			if err != nil {
				t.Fatal(err)
			}
			if out.Allowed != tc.allowed || out.ServiceNetwork.Decision != tc.netDecision || out.Service.Decision != tc.svcDecision {
				t.Fatalf("allowed %v, network %s, service %s; want %v, %s, %s (%+v %+v)", out.Allowed, out.ServiceNetwork.Decision,
					out.Service.Decision, tc.allowed, tc.netDecision, tc.svcDecision, out.ServiceNetwork, out.Service)
			}
			if out.Service.Statement != tc.deciding {
				t.Errorf("deciding statement %q, want %q", out.Service.Statement, tc.deciding)
			}
			if out.ServiceNetwork.Draft != (tc.netDraft != nil) || out.Service.Draft != (tc.svcDraft != nil) {
				t.Errorf("draft marks: network %v, service %v", out.ServiceNetwork.Draft, out.Service.Draft)
			}
			if vpc.ServiceNetwork.Policy != liveNet || svc.Policy != liveSvc {
				t.Error("the snapshot's live policies changed")
			}
		})
	}
}

// TestSimulateDraftAuthTypeNone: the auth type stays the live one; a draft
// on a NONE level is not evaluated, and the answer says so.
func TestSimulateDraftAuthTypeNone(t *testing.T) {
	snap, vpc, svc := simFixture(t, allowTeam, "")
	svc.AuthType = model.AuthTypeNone
	out, err := Simulate(snap, SimulateInput{SourceVpc: vpc.ID, Service: svc.ID, PrincipalARN: "arn:aws:iam::111122223333:user/alice",
		ServiceAuthPolicy: ptr(denyGet)})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Allowed || out.Service.Decision != "NotEvaluated" || !out.Service.Draft || !strings.Contains(out.Service.Note, "draft policy is not evaluated") {
		t.Fatalf("%+v %+v", out, out.Service)
	}
}

// TestSimulateBadDraft: a draft PutAuthPolicy would refuse is refused with
// the field named, before anything is evaluated.
func TestSimulateBadDraft(t *testing.T) {
	snap, vpc, svc := simFixture(t, allowTeam, svcDoc)
	long := `{"Statement":[],"Pad":"` + strings.Repeat("x", model.MaxAuthPolicyLen) + `"}`
	cases := []struct {
		name, field, doc, msg string
	}{
		{"empty", "serviceAuthPolicy", "", "serviceAuthPolicy is required"},
		{"not JSON", "serviceAuthPolicy", "{", "not a valid JSON policy document"},
		{"no Statement", "serviceNetworkAuthPolicy", `{"Version":"2012-10-17"}`, "has no Statement"},
		{"too long", "serviceNetworkAuthPolicy", long, "at most 10240 characters"},
		{"bad effect", "serviceAuthPolicy", `{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"*","Resource":"*"}]}`, "not a valid auth policy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := SimulateInput{SourceVpc: vpc.ID, Service: svc.ID}
			if tc.field == "serviceAuthPolicy" {
				in.ServiceAuthPolicy = &tc.doc
			} else {
				in.ServiceNetworkAuthPolicy = &tc.doc
			}
			_, err := Simulate(snap, in)
			var e *model.Error
			if !errors.As(err, &e) || e.Kind != model.KindValidation || len(e.Fields) != 1 || e.Fields[0].Name != tc.field ||
				!strings.Contains(e.Message, tc.msg) {
				t.Fatalf("error %#v; want a ValidationException on %s saying %q", err, tc.field, tc.msg)
			}
		})
	}
}
