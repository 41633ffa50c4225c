package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestSimulateDraftPolicy: POST /trellis/v1/auth/simulate with a draft auth
// policy answers what the draft would decide, says which level used a
// draft, refuses a draft PutAuthPolicy would refuse (naming the field), and
// stores nothing: the live policy is the same afterwards.
func TestSimulateDraftPolicy(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	root := rootCreds(s)
	c := sdkAs(s, root)
	const vpc = "vpc-0000000000000d001"
	want(t, "put VPC", call(t, s, root, "PUT", "/trellis/v1/vpcs/"+vpc, map[string]any{"mode": "host"}), 201, "")
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("draft-net")})).ok(t)
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("draft-svc"), AuthType: types.AuthTypeAwsIam})).ok(t)
	need(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id})).ok(t)
	need(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpc)})).ok(t)
	// The live policy allows GET and nothing else.
	const live = `{"Version":"2012-10-17","Statement":[{"Sid":"ReadOnly","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke",` +
		`"Resource":"*","Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"GET"}}}]}`
	const draft = `{"Version":"2012-10-17","Statement":[{"Sid":"WritesOnly","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke",` +
		`"Resource":"*","Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"POST"}}}]}`
	need(c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: svc.Id, Policy: aws.String(live)})).ok(t)

	principal := "arn:aws:iam::" + s.Account + ":role/caller"
	simulate := func(method string, extra map[string]any) answer {
		body := map[string]any{"sourceVpc": vpc, "service": *svc.Id, "principalArn": principal, "method": method, "path": "/x"}
		for k, v := range extra {
			body[k] = v
		}
		return call(t, s, root, "POST", "/trellis/v1/auth/simulate", body)
	}
	// The data plane's snapshot follows the store shortly after a change.
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := simulate("GET", nil)
		if a.status == 200 && a.obj(t)["allowed"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live policy never allowed GET: %d %s", a.status, a.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	level := func(m map[string]any, k string) map[string]any { l, _ := m[k].(map[string]any); return l }

	got := want(t, "draft denies GET", simulate("GET", map[string]any{"serviceAuthPolicy": draft}), 200, "").obj(t)
	if svcLevel := level(got, "service"); got["allowed"] != false || svcLevel["draft"] != true || svcLevel["decision"] != "NoMatch" {
		t.Fatalf("GET with the draft: %v", got)
	}
	if net := level(got, "serviceNetwork"); net["draft"] != nil || net["decision"] != "NotEvaluated" {
		t.Fatalf("the network level used no draft: %v", net)
	}
	got = want(t, "draft allows POST", simulate("POST", map[string]any{"serviceAuthPolicy": draft}), 200, "").obj(t)
	if svcLevel := level(got, "service"); got["allowed"] != true || svcLevel["decidingStatement"] != "WritesOnly" {
		t.Fatalf("POST with the draft: %v", got)
	}
	got = want(t, "live denies POST", simulate("POST", nil), 200, "").obj(t)
	if svcLevel := level(got, "service"); got["allowed"] != false || svcLevel["draft"] != nil {
		t.Fatalf("POST without a draft: %v", got)
	}
	// A network draft on a network of auth type NONE is not evaluated.
	got = want(t, "network draft", simulate("GET", map[string]any{"serviceNetworkAuthPolicy": draft}), 200, "").obj(t)
	if net := level(got, "serviceNetwork"); got["allowed"] != true || net["draft"] != true || net["decision"] != "NotEvaluated" {
		t.Fatalf("network draft on auth type NONE: %v", got)
	}

	bad := want(t, "bad draft", simulate("GET", map[string]any{"serviceAuthPolicy": `{"Version":"2012-10-17"}`}), 400, "ValidationException").obj(t)
	if fl, _ := bad["fieldList"].([]any); len(fl) != 1 || fl[0].(map[string]any)["name"] != "serviceAuthPolicy" {
		t.Fatalf("bad draft: %v", bad)
	}

	// A draft is refused exactly as PutAuthPolicy refuses the same text (the
	// message names the draft's member instead of "policy").
	for _, doc := range []string{"", "{", `{"Version":"2012-10-17"}`, `{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}`,
		`{"Statement":[],"Pad":"` + strings.Repeat("x", 10*1024) + `"}`} {
		_, err := c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: svc.Id, Policy: aws.String(doc)})
		putMsg := wantAPIError(t, err, "ValidationException").ErrorMessage()
		sim := want(t, "draft "+doc, simulate("GET", map[string]any{"serviceAuthPolicy": doc}), 400, "ValidationException").obj(t)
		if got := strings.ReplaceAll(sim["message"].(string), "serviceAuthPolicy", "policy"); got != putMsg {
			t.Errorf("draft %.40q: simulate says %q, PutAuthPolicy %q", doc, sim["message"], putMsg)
		}
	}

	// Nothing was stored.
	p := need(c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: svc.Id})).ok(t)
	if aws.ToString(p.Policy) != live {
		t.Fatalf("live policy after simulations: %s", aws.ToString(p.Policy))
	}
	if p := need(c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: sn.Id})).ok(t); aws.ToString(p.Policy) != "" {
		t.Fatalf("the network got a policy: %s", aws.ToString(p.Policy))
	}
}
