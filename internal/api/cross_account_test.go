package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// Issue 10, finding 3 and the audit after it: no account can use, change or
// see another's resources (there is no sharing yet). Two tenant accounts, A
// and B, each with a user; every operation that names something of A is
// tried as B, by ID and by ARN, and A's resources are checked unchanged.

// crossWorld is account A's resources, made by A's user.
type crossWorld struct {
	s          *apptest.Server
	a, b       *vpclattice.Client
	credA      creds
	credB      creds
	sn, snB    *vpclattice.CreateServiceNetworkOutput
	svc, svcB  *vpclattice.CreateServiceOutput
	tg, tgB    *vpclattice.CreateTargetGroupOutput
	l, lB      *vpclattice.CreateListenerOutput
	rule       *vpclattice.CreateRuleOutput
	snsa       *vpclattice.CreateServiceNetworkServiceAssociationOutput
	snva       *vpclattice.CreateServiceNetworkVpcAssociationOutput
	als        *vpclattice.CreateAccessLogSubscriptionOutput
	vpcA, vpcB string
}

const crossPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`

func newCrossWorld(t *testing.T) *crossWorld {
	t.Helper()
	s := apptest.Start(t)
	w := &crossWorld{s: s, credA: newAccountWithUser(t, s, acctA, "alice"), credB: newAccountWithUser(t, s, acctB, "bob"),
		vpcA: "vpc-0000000000000a001", vpcB: "vpc-0000000000000b001"}
	w.a, w.b = sdkAs(s, w.credA), sdkAs(s, w.credB)
	// A declares its VPC; B's is created by B's target group.
	want(t, "A declares its VPC", call(t, s, w.credA, "PUT", "/trellis/v1/vpcs/"+w.vpcA, map[string]any{"mode": "host"}), 201, "")
	mk := func(c *vpclattice.Client, suffix, vpc string) (*vpclattice.CreateServiceNetworkOutput, *vpclattice.CreateServiceOutput,
		*vpclattice.CreateTargetGroupOutput, *vpclattice.CreateListenerOutput) {
		sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net-" + suffix)})).ok(t)
		svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("service-" + suffix)})).ok(t)
		tg := need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("group-" + suffix), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpc)}})).ok(t)
		l := need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
			Protocol: types.ListenerProtocolHttp, DefaultAction: forward(map[string]int32{*tg.Id: 1})})).ok(t)
		return sn, svc, tg, l
	}
	w.sn, w.svc, w.tg, w.l = mk(w.a, "a", w.vpcA)
	w.snB, w.svcB, w.tgB, w.lB = mk(w.b, "b", w.vpcB)
	w.rule = need(w.a.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id,
		Name: aws.String("api"), Priority: aws.Int32(10), Action: forward(map[string]int32{*w.tg.Id: 1}),
		Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("POST")}}})).ok(t)
	w.snsa = need(w.a.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ServiceIdentifier: w.svc.Id})).ok(t)
	w.snva = need(w.a.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, VpcIdentifier: aws.String(w.vpcA)})).ok(t)
	w.als = need(w.a.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acctA + ":log-group:a")})).ok(t)
	need(w.a.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: aws.String(crossPolicy)})).ok(t)
	need(w.a.PutResourcePolicy(ctx, &vpclattice.PutResourcePolicyInput{ResourceArn: w.sn.Arn, Policy: aws.String(crossPolicy)})).ok(t)
	for _, arn := range w.arnsOfA() {
		need(w.a.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"owner": "a"}})).ok(t)
	}
	return w
}

// arnsOfA lists the ARN of every taggable resource of A.
func (w *crossWorld) arnsOfA() []string {
	return []string{*w.sn.Arn, *w.svc.Arn, *w.tg.Arn, *w.l.Arn, *w.rule.Arn, *w.snsa.Arn, *w.snva.Arn, *w.als.Arn}
}

// notFound fails unless err is ResourceNotFoundException: another account's
// resource does not exist for the caller.
func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: B succeeded", what)
	}
	wantAPIErrorAs(t, what, err, "ResourceNotFoundException")
}

func accessDenied(t *testing.T, what string, err error) {
	t.Helper()
	wantAPIErrorAs(t, what, err, "AccessDeniedException")
}

func wantAPIErrorAs(t *testing.T, what string, err error, code string) {
	t.Helper()
	t.Run(strings.ReplaceAll(what, " ", "_"), func(t *testing.T) { wantAPIError(t, err, code) })
}

// idents gives a resource's ID and ARN: every operation is tried with both.
func idents(id, arn *string) []*string { return []*string{id, arn} }

func TestCrossAccountVPCs(t *testing.T) {
	t.Parallel()
	w := newCrossWorld(t)
	s := w.s
	// A VPC A declared but has not associated yet, and one A's target group created.
	want(t, "A declares a second VPC", call(t, s, w.credA, "PUT", "/trellis/v1/vpcs/vpc-0000000000000a002", nil), 201, "")
	need(w.a.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("auto"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000a003")}})).ok(t)

	for _, vpc := range []string{w.vpcA, "vpc-0000000000000a002", "vpc-0000000000000a003"} {
		// The squat of finding 3: B associates A's VPC with B's network.
		_, err := w.b.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
			ServiceNetworkIdentifier: w.snB.Id, VpcIdentifier: aws.String(vpc)})
		accessDenied(t, "associate "+vpc, err)
		_, err = w.b.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
			ServiceNetworkIdentifier: w.snB.Id, VpcIdentifier: aws.String(vpc), ClientToken: aws.String("t-" + vpc)})
		accessDenied(t, "associate with a client token "+vpc, err)
		_, err = w.b.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("in-" + vpc), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpc)}})
		accessDenied(t, "target group in "+vpc, err)
		want(t, "B declares "+vpc, call(t, s, w.credB, "PUT", "/trellis/v1/vpcs/"+vpc, map[string]any{"mode": "host"}), 403, "AccessDeniedException")
		want(t, "B reads "+vpc, call(t, s, w.credB, "GET", "/trellis/v1/vpcs/"+vpc, nil), 404, "ResourceNotFoundException")
		want(t, "B deletes "+vpc, call(t, s, w.credB, "DELETE", "/trellis/v1/vpcs/"+vpc, nil), 404, "ResourceNotFoundException")
		if got := want(t, "A reads "+vpc, call(t, s, w.credA, "GET", "/trellis/v1/vpcs/"+vpc, nil), 200, "").obj(t); got["ownerId"] != acctA {
			t.Fatalf("%s: %v", vpc, got)
		}
	}
	// A's VPC stays A's: A associates its unassociated VPC (no squatter's
	// association stands in the way) and deletes its own.
	need(w.a.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, VpcIdentifier: aws.String("vpc-0000000000000a002")})).ok(t)
	list := func(c creds) []string {
		var ids []string
		for _, v := range want(t, "list VPCs", call(t, s, c, "GET", "/trellis/v1/vpcs", nil), 200, "").items(t) {
			ids = append(ids, v["vpcId"].(string))
		}
		return ids
	}
	if got := strings.Join(list(w.credB), ","); got != w.vpcB {
		t.Fatalf("B lists %s, want only %s", got, w.vpcB)
	}
	if got := list(rootCreds(s)); len(got) != 4 {
		t.Fatalf("the administrator lists every VPC: %v", got)
	}
	// B's own associations and lists say nothing of A's VPC.
	l := need(w.b.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{VpcIdentifier: aws.String(w.vpcA)})).ok(t)
	if len(l.Items) != 0 {
		t.Fatalf("B lists A's associations: %+v", l.Items)
	}
	// The administrator may act in any account, VPCs included.
	want(t, "administrator reads A's VPC", call(t, s, rootCreds(s), "GET", "/trellis/v1/vpcs/"+w.vpcA, nil), 200, "")
	admin := newClient(s)
	adminSN := need(admin.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("admin-net")})).ok(t)
	need(admin.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: adminSN.Id, VpcIdentifier: aws.String("vpc-0000000000000a003")})).ok(t)

	// The auth simulator does not show B A's VPC either.
	sim := call(t, s, w.credB, "POST", "/trellis/v1/auth/simulate", map[string]any{"sourceVpc": w.vpcA, "service": *w.svc.Id})
	want(t, "B simulates from A's VPC", sim, 400, "ValidationException")
	unknown := call(t, s, w.credB, "POST", "/trellis/v1/auth/simulate", map[string]any{"sourceVpc": "vpc-0000000000000f00f", "service": *w.svc.Id})
	if strings.ReplaceAll(string(unknown.body), "vpc-0000000000000f00f", w.vpcA) != string(sim.body) {
		t.Fatalf("simulate answers A's VPC %s unlike an unknown one %s", sim.body, unknown.body)
	}
	carol := newAccountWithUser(t, s, s.Account, "carol")
	want(t, "a default-account user is not the administrator", call(t, s, carol, "POST", "/trellis/v1/auth/simulate",
		map[string]any{"sourceVpc": w.vpcA, "service": *w.svc.Id}), 400, "ValidationException")
	if got := want(t, "A simulates", call(t, s, w.credA, "POST", "/trellis/v1/auth/simulate",
		map[string]any{"sourceVpc": w.vpcA, "service": *w.svc.Id}), 200, "").obj(t); got["reachable"] != true {
		t.Fatalf("A's own simulation: %v", got)
	}
}

func TestCrossAccountLatticeResources(t *testing.T) {
	t.Parallel()
	w := newCrossWorld(t)
	b := w.b

	t.Run("associations", func(t *testing.T) {
		for _, svc := range idents(w.svc.Id, w.svc.Arn) {
			_, err := b.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
				ServiceNetworkIdentifier: w.snB.Id, ServiceIdentifier: svc})
			notFound(t, "A's service into B's network", err)
		}
		for _, sn := range idents(w.sn.Id, w.sn.Arn) {
			_, err := b.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
				ServiceNetworkIdentifier: sn, ServiceIdentifier: w.svcB.Id})
			notFound(t, "B's service into A's network", err)
			_, err = b.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
				ServiceNetworkIdentifier: sn, VpcIdentifier: aws.String(w.vpcB)})
			notFound(t, "B's VPC into A's network", err)
		}
		for _, id := range idents(w.snsa.Id, w.snsa.Arn) {
			_, err := b.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: id})
			notFound(t, "get A's service association", err)
			_, err = b.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: id})
			notFound(t, "delete A's service association", err)
		}
		for _, id := range idents(w.snva.Id, w.snva.Arn) {
			_, err := b.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: id})
			notFound(t, "get A's VPC association", err)
			_, err = b.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: id,
				SecurityGroupIds: []string{"sg-00000001"}})
			notFound(t, "update A's VPC association", err)
			_, err = b.DeleteServiceNetworkVpcAssociation(ctx, &vpclattice.DeleteServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: id})
			notFound(t, "delete A's VPC association", err)
		}
		_, err := b.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: w.svc.Arn})
		notFound(t, "list A's service's associations", err)
		_, err = b.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{ServiceNetworkIdentifier: w.sn.Arn})
		notFound(t, "list A's network's VPC associations", err)
	})

	t.Run("access logs", func(t *testing.T) {
		for _, r := range []*string{w.svc.Id, w.svc.Arn, w.sn.Id, w.sn.Arn} {
			_, err := b.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: r,
				DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acctB + ":log-group:b")})
			notFound(t, "subscribe to A's resource", err)
			_, err = b.ListAccessLogSubscriptions(ctx, &vpclattice.ListAccessLogSubscriptionsInput{ResourceIdentifier: r})
			notFound(t, "list A's subscriptions", err)
		}
		for _, id := range idents(w.als.Id, w.als.Arn) {
			_, err := b.GetAccessLogSubscription(ctx, &vpclattice.GetAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: id})
			notFound(t, "get A's subscription", err)
			_, err = b.UpdateAccessLogSubscription(ctx, &vpclattice.UpdateAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: id,
				DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acctB + ":log-group:b")})
			notFound(t, "redirect A's subscription", err)
			_, err = b.DeleteAccessLogSubscription(ctx, &vpclattice.DeleteAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: id})
			notFound(t, "delete A's subscription", err)
		}
		// B's resources may not log into A's destinations (no resource
		// policy can allow it in Trellis); an S3 bucket has no account and
		// each account's objects go under its own AWSLogs/<account>/ prefix.
		for _, dest := range []string{"arn:aws:logs:us-east-1:" + acctA + ":log-group:a", "arn:aws:firehose:us-east-1:" + acctA + ":deliverystream/a"} {
			_, err := b.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svcB.Id, DestinationArn: aws.String(dest)})
			accessDenied(t, "B logs into "+dest, err)
		}
		own := need(b.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svcB.Id,
			DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acctB + ":log-group:b")})).ok(t)
		_, err := b.UpdateAccessLogSubscription(ctx, &vpclattice.UpdateAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: own.Id,
			DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acctA + ":log-group:a")})
		accessDenied(t, "B redirects its logs into A's group", err)
		need(b.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.snB.Id,
			DestinationArn: aws.String("arn:aws:s3:::shared-bucket")})).ok(t)
		got := need(w.a.GetAccessLogSubscription(ctx, &vpclattice.GetAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: w.als.Id})).ok(t)
		if *got.DestinationArn != "arn:aws:logs:us-east-1:"+acctA+":log-group:a" {
			t.Fatalf("A's subscription changed: %s", *got.DestinationArn)
		}
	})

	t.Run("policies", func(t *testing.T) {
		deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}`
		for _, r := range []*string{w.svc.Id, w.svc.Arn, w.sn.Id, w.sn.Arn} {
			_, err := b.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: r, Policy: aws.String(deny)})
			notFound(t, "put A's auth policy", err)
			_, err = b.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: r})
			notFound(t, "get A's auth policy", err)
			_, err = b.DeleteAuthPolicy(ctx, &vpclattice.DeleteAuthPolicyInput{ResourceIdentifier: r})
			notFound(t, "delete A's auth policy", err)
		}
		for _, r := range []*string{w.svc.Arn, w.sn.Arn} {
			_, err := b.PutResourcePolicy(ctx, &vpclattice.PutResourcePolicyInput{ResourceArn: r, Policy: aws.String(deny)})
			notFound(t, "put A's resource policy", err)
			_, err = b.GetResourcePolicy(ctx, &vpclattice.GetResourcePolicyInput{ResourceArn: r})
			notFound(t, "get A's resource policy", err)
			_, err = b.DeleteResourcePolicy(ctx, &vpclattice.DeleteResourcePolicyInput{ResourceArn: r})
			notFound(t, "delete A's resource policy", err)
		}
		if p := need(w.a.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: w.svc.Id})).ok(t); *p.Policy != crossPolicy {
			t.Fatalf("A's auth policy changed: %s", *p.Policy)
		}
		if p := need(w.a.GetResourcePolicy(ctx, &vpclattice.GetResourcePolicyInput{ResourceArn: w.sn.Arn})).ok(t); *p.Policy != crossPolicy {
			t.Fatalf("A's resource policy changed: %s", *p.Policy)
		}
	})

	t.Run("target groups and targets", func(t *testing.T) {
		for _, tg := range idents(w.tg.Id, w.tg.Arn) {
			_, err := b.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg, Targets: []types.Target{{Id: aws.String("10.6.6.6")}}})
			notFound(t, "register into A's target group", err)
			_, err = b.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: tg, Targets: []types.Target{{Id: aws.String("10.6.6.6")}}})
			notFound(t, "deregister from A's target group", err)
			_, err = b.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg})
			notFound(t, "list A's targets", err)
			_, err = b.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: tg})
			notFound(t, "get A's target group", err)
			_, err = b.UpdateTargetGroup(ctx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: tg,
				HealthCheck: &types.HealthCheckConfig{Enabled: aws.Bool(false)}})
			notFound(t, "update A's target group", err)
			_, err = b.DeleteTargetGroup(ctx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: tg})
			notFound(t, "delete A's target group", err)
			fwd := forward(map[string]int32{*tg: 1})
			_, err = b.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svcB.Id, Name: aws.String("steal"),
				Protocol: types.ListenerProtocolHttp, Port: aws.Int32(8081), DefaultAction: fwd})
			notFound(t, "B's listener forwards to A's target group", err)
			_, err = b.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: w.svcB.Id, ListenerIdentifier: w.lB.Id, DefaultAction: fwd})
			notFound(t, "B's default action forwards to A's target group", err)
			_, err = b.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svcB.Id, ListenerIdentifier: w.lB.Id,
				Name: aws.String("steal"), Priority: aws.Int32(5), Action: fwd,
				Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("GET")}}})
			notFound(t, "B's rule forwards to A's target group", err)
		}
		rb := need(b.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svcB.Id, ListenerIdentifier: w.lB.Id,
			Name: aws.String("own"), Priority: aws.Int32(6), Action: forward(map[string]int32{*w.tgB.Id: 1}),
			Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("GET")}}})).ok(t)
		_, err := b.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: w.svcB.Id, ListenerIdentifier: w.lB.Id,
			RuleIdentifier: rb.Id, Action: forward(map[string]int32{*w.tg.Arn: 1})})
		notFound(t, "B's rule updated to forward to A's target group", err)
		batch, err := b.BatchUpdateRule(ctx, &vpclattice.BatchUpdateRuleInput{ServiceIdentifier: w.svcB.Id, ListenerIdentifier: w.lB.Id,
			Rules: []types.RuleUpdate{{RuleIdentifier: rb.Id, Action: forward(map[string]int32{*w.tg.Id: 1})}}})
		if err != nil || len(batch.Successful) != 0 || len(batch.Unsuccessful) != 1 {
			t.Fatalf("batch update to A's target group: %v", err)
		}
		if f := batch.Unsuccessful[0]; *f.FailureCode != "ResourceNotFoundException" {
			t.Fatalf("batch update to A's target group: %s %s", *f.FailureCode, *f.FailureMessage)
		}
		gr := need(b.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: w.svcB.Id, ListenerIdentifier: w.lB.Id, RuleIdentifier: rb.Id})).ok(t)
		if fw, ok := gr.Action.(*types.RuleActionMemberForward); !ok || *fw.Value.TargetGroups[0].TargetGroupIdentifier != *w.tgB.Id {
			t.Fatalf("B's rule changed: %+v", gr.Action)
		}
		// Nothing of A's target group moved.
		if tg := need(w.a.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: w.tg.Id})).ok(t); len(tg.ServiceArns) != 1 || tg.ServiceArns[0] != *w.svc.Arn {
			t.Fatalf("A's target group is used by %v", tg.ServiceArns)
		}
		if lt := need(w.a.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: w.tg.Id})).ok(t); len(lt.Items) != 0 {
			t.Fatalf("targets in A's group: %+v", lt.Items)
		}
		// A Lambda target group may not invoke another account's function.
		lam := need(b.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("fns"), Type: types.TargetGroupTypeLambda})).ok(t)
		reg := need(b.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: lam.Id,
			Targets: []types.Target{{Id: aws.String("arn:aws:lambda:us-east-1:" + acctA + ":function:payroll")}}})).ok(t)
		if len(reg.Successful) != 0 || len(reg.Unsuccessful) != 1 || *reg.Unsuccessful[0].FailureCode != "AccessDeniedException" {
			t.Fatalf("A's function in B's target group: ok %+v failed %+v", reg.Successful, reg.Unsuccessful)
		}
		reg = need(b.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: lam.Id,
			Targets: []types.Target{{Id: aws.String("arn:aws:lambda:us-east-1:" + acctB + ":function:own")}}})).ok(t)
		if len(reg.Successful) != 1 {
			t.Fatalf("B's own function: %+v", reg.Unsuccessful)
		}
		alb := need(b.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("alb"), Type: types.TargetGroupTypeAlb,
			Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(w.vpcB)}})).ok(t)
		reg = need(b.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: alb.Id,
			Targets: []types.Target{{Id: aws.String("arn:aws:elasticloadbalancing:us-east-1:" + acctA + ":loadbalancer/app/a/50dc6c495c0c9188")}}})).ok(t)
		if len(reg.Successful) != 0 || len(reg.Unsuccessful) != 1 || *reg.Unsuccessful[0].FailureCode != "AccessDeniedException" {
			t.Fatalf("A's load balancer in B's target group: ok %+v failed %+v", reg.Successful, reg.Unsuccessful)
		}
	})

	t.Run("services, networks, listeners and rules", func(t *testing.T) {
		for _, id := range idents(w.sn.Id, w.sn.Arn) {
			_, err := b.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: id})
			notFound(t, "get A's network", err)
			_, err = b.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: id, AuthType: types.AuthTypeNone})
			notFound(t, "update A's network", err)
			_, err = b.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: id})
			notFound(t, "delete A's network", err)
		}
		for _, id := range idents(w.svc.Id, w.svc.Arn) {
			_, err := b.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: id})
			notFound(t, "get A's service", err)
			_, err = b.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: id, AuthType: types.AuthTypeNone})
			notFound(t, "update A's service", err)
			_, err = b.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: id})
			notFound(t, "delete A's service", err)
			_, err = b.ListListeners(ctx, &vpclattice.ListListenersInput{ServiceIdentifier: id})
			notFound(t, "list A's listeners", err)
			_, err = b.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: id, Name: aws.String("extra"),
				Protocol: types.ListenerProtocolHttp, Port: aws.Int32(8082), DefaultAction: fixed(404)})
			notFound(t, "add a listener to A's service", err)
			for _, lid := range idents(w.l.Id, w.l.Arn) {
				_, err = b.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: id, ListenerIdentifier: lid})
				notFound(t, "get A's listener", err)
				_, err = b.DeleteListener(ctx, &vpclattice.DeleteListenerInput{ServiceIdentifier: id, ListenerIdentifier: lid})
				notFound(t, "delete A's listener", err)
				_, err = b.ListRules(ctx, &vpclattice.ListRulesInput{ServiceIdentifier: id, ListenerIdentifier: lid})
				notFound(t, "list A's rules", err)
				for _, rid := range idents(w.rule.Id, w.rule.Arn) {
					_, err = b.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: id, ListenerIdentifier: lid, RuleIdentifier: rid})
					notFound(t, "get A's rule", err)
					_, err = b.DeleteRule(ctx, &vpclattice.DeleteRuleInput{ServiceIdentifier: id, ListenerIdentifier: lid, RuleIdentifier: rid})
					notFound(t, "delete A's rule", err)
				}
			}
		}
		// A's listener named under B's own service, by ARN: still A's.
		_, err := b.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: w.svcB.Id, ListenerIdentifier: w.l.Arn})
		notFound(t, "A's listener ARN under B's service", err)
		// A certificate of another account cannot serve B's service.
		cert := "arn:aws:acm:us-east-1:" + acctA + ":certificate/0123456789ab"
		_, err = b.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("with-a-cert"), CustomDomainName: aws.String("b.example.com"),
			CertificateArn: aws.String(cert)})
		accessDenied(t, "B's service with A's certificate", err)
		_, err = b.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svcB.Id, CertificateArn: aws.String(cert)})
		accessDenied(t, "B's service updated to A's certificate", err)
		for _, it := range need(b.ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t).Items {
			if *it.Id == *w.svc.Id {
				t.Fatal("B lists A's service")
			}
		}
		for _, it := range need(b.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})).ok(t).Items {
			if *it.Id == *w.sn.Id {
				t.Fatal("B lists A's network")
			}
		}
		for _, it := range need(b.ListTargetGroups(ctx, &vpclattice.ListTargetGroupsInput{})).ok(t).Items {
			if *it.Id == *w.tg.Id {
				t.Fatal("B lists A's target group")
			}
		}
	})

	t.Run("tags", func(t *testing.T) {
		for _, arn := range w.arnsOfA() {
			_, err := b.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"owner": "b"}})
			notFound(t, "tag "+arn, err)
			_, err = b.UntagResource(ctx, &vpclattice.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"owner"}})
			notFound(t, "untag "+arn, err)
			_, err = b.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			notFound(t, "list tags of "+arn, err)
			// The same resource ID under B's account in the ARN is not A's resource either.
			forged := strings.Replace(arn, ":"+acctA+":", ":"+acctB+":", 1)
			_, err = b.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String(forged), Tags: map[string]string{"owner": "b"}})
			notFound(t, "tag "+forged, err)
			tags := need(w.a.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: aws.String(arn)})).ok(t)
			if b, _ := json.Marshal(tags.Tags); string(b) != `{"owner":"a"}` {
				t.Fatalf("A's tags on %s: %s", arn, b)
			}
		}
	})

	// Nothing of A changed: its association still routes A's VPC to A's network.
	if a := need(w.a.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: w.snva.Id})).ok(t); *a.ServiceNetworkId != *w.sn.Id || len(a.SecurityGroupIds) != 0 {
		t.Fatalf("A's VPC association: %+v", a)
	}
	if n := need(w.a.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id})).ok(t); *n.NumberOfAssociatedServices != 1 || *n.NumberOfAssociatedVPCs != 1 {
		t.Fatalf("A's network: %+v", n)
	}
}
