package api_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

const vpcA = "vpc-0123456789abcdef0"

func newTG(t *testing.T, c *vpclattice.Client, name string) *vpclattice.CreateTargetGroupOutput {
	t.Helper()
	return need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpcA)}})).ok(t)
}

func TestTargetGroupsAndTargets(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	tg := newTG(t, c, "web")
	if tg.Status != types.TargetGroupStatusActive || tg.Type != types.TargetGroupTypeIp {
		t.Fatalf("create: %+v", tg)
	}
	got := need(c.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: tg.Arn})).ok(t)
	hc := got.Config.HealthCheck
	if hc == nil || !*hc.Enabled || *hc.HealthCheckIntervalSeconds != 30 || *hc.HealthCheckTimeoutSeconds != 5 ||
		*hc.HealthyThresholdCount != 5 || *hc.UnhealthyThresholdCount != 2 || *hc.Path != "/" {
		t.Fatalf("health check defaults: %+v", hc)
	}
	if m, ok := hc.Matcher.(*types.MatcherMemberHttpCode); !ok || m.Value != "200" {
		t.Fatalf("matcher %+v", hc.Matcher)
	}
	upd := need(c.UpdateTargetGroup(ctx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: tg.Id,
		HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(10)}})).ok(t)
	if *upd.Config.HealthCheck.Path != "/healthz" || *upd.Config.HealthCheck.HealthCheckIntervalSeconds != 10 {
		t.Fatalf("update: %+v", upd.Config.HealthCheck)
	}
	_, err := c.UpdateTargetGroup(ctx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: tg.Id,
		HealthCheck: &types.HealthCheckConfig{HealthCheckIntervalSeconds: aws.Int32(1000)}})
	wantAPIError(t, err, "ValidationException")

	reg := need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: []types.Target{
		{Id: aws.String("127.0.0.1")}, {Id: aws.String("127.0.0.2"), Port: aws.Int32(9090)}, {Id: aws.String("not-an-ip")}}})).ok(t)
	if len(reg.Successful) != 2 || len(reg.Unsuccessful) != 1 || *reg.Successful[0].Port != 8080 {
		t.Fatalf("register: ok %+v failed %+v", reg.Successful, reg.Unsuccessful)
	}
	lt := need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg.Id})).ok(t)
	if len(lt.Items) != 2 || lt.Items[0].Status != types.TargetStatusUnused {
		t.Fatalf("targets of an unused group: %+v", lt.Items)
	}
	need(c.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1")}}})).ok(t)
	lt = need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1")}}})).ok(t)
	if len(lt.Items) != 1 || lt.Items[0].Status != types.TargetStatusDraining {
		t.Fatalf("deregistered target: %+v", lt.Items)
	}
	list := need(c.ListTargetGroups(ctx, &vpclattice.ListTargetGroupsInput{VpcIdentifier: aws.String(vpcA)})).ok(t)
	if len(list.Items) != 1 || *list.Items[0].Port != 8080 {
		t.Fatalf("list: %+v", list.Items)
	}
	// Missing protocol and VPC are named.
	_, err = c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("bad"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80)}})
	var ve *types.ValidationException
	if !errorsAs(err, &ve) || len(ve.FieldList) < 2 {
		t.Fatalf("want a ValidationException naming fields, got %v", err)
	}
	lam := need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("fnc"), Type: types.TargetGroupTypeLambda})).ok(t)
	need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: lam.Id,
		Targets: []types.Target{{Id: aws.String("arn:aws:lambda:us-east-1:000000000000:function:f")}}})).ok(t)
	need(c.DeleteTargetGroup(ctx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: lam.Arn})).ok(t)
}

func TestListenersRulesAndGuards(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders")})).ok(t)
	blue, green := newTG(t, c, "blue"), newTG(t, c, "green")
	l := need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Arn, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, DefaultAction: forward(map[string]int32{*blue.Id: 90, *green.Id: 10})})).ok(t)
	if *l.Port != 80 || *l.ServiceId != *svc.Id {
		t.Fatalf("listener: %+v", l)
	}
	gl := need(c.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Arn})).ok(t)
	if fw, ok := gl.DefaultAction.(*types.RuleActionMemberForward); !ok || len(fw.Value.TargetGroups) != 2 {
		t.Fatalf("default action %+v", gl.DefaultAction)
	}
	// Fixed responses: 404 and 500 only.
	for code, ok := range map[int32]bool{404: true, 500: true, 403: false, 200: false} {
		_, err := c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("fixed"),
			Protocol: types.ListenerProtocolHttps, DefaultAction: fixed(code)})
		if ok {
			if err != nil {
				t.Fatalf("fixed %d: %v", code, err)
			}
			l2 := need(c.ListListeners(ctx, &vpclattice.ListListenersInput{ServiceIdentifier: svc.Id})).ok(t)
			for _, it := range l2.Items {
				if *it.Name == "fixed" {
					need(c.DeleteListener(ctx, &vpclattice.DeleteListenerInput{ServiceIdentifier: svc.Id, ListenerIdentifier: it.Id})).ok(t)
				}
			}
		} else {
			wantAPIError(t, err, "ValidationException")
		}
	}
	match := &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
		PathMatch:     &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/api"}},
		HeaderMatches: []types.HeaderMatch{{Name: aws.String("x-env"), Match: &types.HeaderMatchTypeMemberExact{Value: "canary"}}}}}
	r1 := need(c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		Name: aws.String("api"), Priority: aws.Int32(10), Match: match, Action: forward(map[string]int32{*green.Id: 1})})).ok(t)
	r2 := need(c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		Name: aws.String("other"), Priority: aws.Int32(20), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("POST")}},
		Action: fixed(404)})).ok(t)
	for _, p := range []int32{0, 2001} {
		_, err := c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
			Name: aws.String("oob"), Priority: aws.Int32(p), Match: match, Action: fixed(404)})
		wantAPIError(t, err, "ValidationException")
	}
	_, err := c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		Name: aws.String("dup"), Priority: aws.Int32(10), Match: match, Action: fixed(404)})
	wantAPIError(t, err, "ConflictException")
	gr := need(c.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id, RuleIdentifier: r1.Arn})).ok(t)
	if *gr.Priority != 10 || *gr.IsDefault {
		t.Fatalf("get rule: %+v", gr)
	}
	batch := need(c.BatchUpdateRule(ctx, &vpclattice.BatchUpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		Rules: []types.RuleUpdate{{RuleIdentifier: r1.Id, Priority: aws.Int32(20)}, {RuleIdentifier: r2.Id, Priority: aws.Int32(10)},
			{RuleIdentifier: aws.String("rule-0123456789abcdef0"), Priority: aws.Int32(30)}}})).ok(t)
	if len(batch.Successful) != 2 || len(batch.Unsuccessful) != 1 {
		t.Fatalf("batch: ok %+v failed %+v", batch.Successful, batch.Unsuccessful)
	}
	rules := need(c.ListRules(ctx, &vpclattice.ListRulesInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id})).ok(t)
	defaults := 0
	for _, r := range rules.Items {
		if *r.IsDefault {
			defaults++
		}
	}
	if len(rules.Items) != 3 || defaults != 1 {
		t.Fatalf("rules: %+v", rules.Items)
	}
	need(c.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id, RuleIdentifier: r2.Id,
		Action: fixed(500)})).ok(t)
	need(c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		DefaultAction: forward(map[string]int32{*blue.Id: 50, *green.Id: 50})})).ok(t)

	// A target group used by this service cannot be deleted, nor used by another service.
	_, err = c.DeleteTargetGroup(ctx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: blue.Id})
	wantAPIError(t, err, "ConflictException")
	other := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("other")})).ok(t)
	_, err = c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: other.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, DefaultAction: forward(map[string]int32{*blue.Id: 1})})
	wantAPIError(t, err, "ConflictException")
	gtg := need(c.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: blue.Id})).ok(t)
	if len(gtg.ServiceArns) != 1 || gtg.ServiceArns[0] != *svc.Arn {
		t.Fatalf("serviceArns %v", gtg.ServiceArns)
	}

	// Associations and their delete guards.
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net")})).ok(t)
	snsa := need(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: sn.Arn, ServiceIdentifier: svc.Id})).ok(t)
	if snsa.Status != types.ServiceNetworkServiceAssociationStatusActive || snsa.DnsEntry == nil {
		t.Fatalf("snsa: %+v", snsa)
	}
	snva := need(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpcA), SecurityGroupIds: []string{"sg-0123456789abcdef0"}})).ok(t)
	_, err = c.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: svc.Id})
	wantAPIError(t, err, "ConflictException")
	_, err = c.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: sn.Id})
	wantAPIError(t, err, "ConflictException")
	_, err = c.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{})
	wantAPIError(t, err, "ValidationException")
	la := need(c.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: svc.Arn})).ok(t)
	if len(la.Items) != 1 || *la.Items[0].ServiceNetworkName != "net" {
		t.Fatalf("snsa list %+v", la.Items)
	}
	gv := need(c.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: snva.Arn})).ok(t)
	if *gv.VpcId != vpcA || len(gv.SecurityGroupIds) != 1 {
		t.Fatalf("snva get %+v", gv)
	}
	_, err = c.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: snva.Id, SecurityGroupIds: []string{}})
	wantAPIError(t, err, "ValidationException")
	need(c.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: snva.Id, SecurityGroupIds: []string{"sg-0123456789abcdef1", "sg-01234567"}})).ok(t)
	_, err = c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpcA)})
	wantAPIError(t, err, "ConflictException")
	gn := need(c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: sn.Id})).ok(t)
	if *gn.NumberOfAssociatedServices != 1 || *gn.NumberOfAssociatedVPCs != 1 {
		t.Fatalf("counts %+v", gn)
	}

	// Policies, access logs and tags.
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	ap := need(c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: svc.Id, Policy: aws.String(policy)})).ok(t)
	if ap.State != types.AuthPolicyStateInactive {
		t.Fatalf("auth policy state on a NONE service: %s", ap.State)
	}
	gap := need(c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: svc.Arn})).ok(t)
	if *gap.Policy != policy || gap.CreatedAt == nil {
		t.Fatalf("get auth policy %+v", gap)
	}
	_, err = c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: sn.Id, Policy: aws.String("{not json")})
	wantAPIError(t, err, "ValidationException")
	need(c.PutResourcePolicy(ctx, &vpclattice.PutResourcePolicyInput{ResourceArn: sn.Arn, Policy: aws.String(policy)})).ok(t)
	grp := need(c.GetResourcePolicy(ctx, &vpclattice.GetResourcePolicyInput{ResourceArn: sn.Arn})).ok(t)
	if *grp.Policy != policy {
		t.Fatalf("resource policy %q", *grp.Policy)
	}
	need(c.DeleteResourcePolicy(ctx, &vpclattice.DeleteResourcePolicyInput{ResourceArn: sn.Arn})).ok(t)
	// Without a policy: 200 with no policy member, as Lattice answers
	// (TestGetPolicyWithoutPolicy has the details).
	if grp := need(c.GetResourcePolicy(ctx, &vpclattice.GetResourcePolicyInput{ResourceArn: sn.Arn})).ok(t); grp.Policy != nil {
		t.Fatalf("resource policy after delete %q", *grp.Policy)
	}

	als := need(c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: sn.Id,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:000000000000:log-group:lattice")})).ok(t)
	if als.ServiceNetworkLogType != types.ServiceNetworkLogTypeService || *als.ResourceId != *sn.Id {
		t.Fatalf("als %+v", als)
	}
	need(c.UpdateAccessLogSubscription(ctx, &vpclattice.UpdateAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: als.Arn,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:000000000000:log-group:lattice2")})).ok(t)
	// Only destinations the data plane can deliver to; nothing is created otherwise.
	for _, bad := range []string{"arn:aws:sqs:us-east-1:000000000000:queue-name", "arn:aws:logs:us-east-1:000000000000:destination:x",
		"arn:aws:s3:us-east-1:000000000000:accesspoint/ap", "arn:aws:firehose:us-east-1:000000000000:deliverystream/"} {
		_, err := c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: svc.Id, DestinationArn: aws.String(bad)})
		var ve *types.ValidationException
		if !errors.As(err, &ve) || len(ve.FieldList) != 1 || *ve.FieldList[0].Name != "destinationArn" {
			t.Fatalf("destination %s: %v, want a ValidationException naming destinationArn", bad, err)
		}
	}
	lals := need(c.ListAccessLogSubscriptions(ctx, &vpclattice.ListAccessLogSubscriptionsInput{ResourceIdentifier: sn.Arn})).ok(t)
	if len(lals.Items) != 1 || *lals.Items[0].DestinationArn != "arn:aws:logs:us-east-1:000000000000:log-group:lattice2" {
		t.Fatalf("als list %+v", lals.Items)
	}

	need(c.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: l.Arn, Tags: map[string]string{"a": "1", "b": "2"}})).ok(t)
	need(c.UntagResource(ctx, &vpclattice.UntagResourceInput{ResourceArn: l.Arn, TagKeys: []string{"a"}})).ok(t)
	tags := need(c.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: l.Arn})).ok(t)
	if len(tags.Tags) != 1 || tags.Tags["b"] != "2" {
		t.Fatalf("tags %v", tags.Tags)
	}
	_, err = c.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: sn.Arn, Tags: map[string]string{"aws:x": "1"}})
	wantAPIError(t, err, "ValidationException")

	// Tear down in dependency order; the cascades leave nothing behind.
	need(c.DeleteServiceNetworkVpcAssociation(ctx, &vpclattice.DeleteServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: snva.Id})).ok(t)
	need(c.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: snsa.Arn})).ok(t)
	need(c.DeleteRule(ctx, &vpclattice.DeleteRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id, RuleIdentifier: r2.Id})).ok(t)
	del := need(c.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: svc.Id})).ok(t)
	if del.Status != types.ServiceStatusDeleteInProgress {
		t.Fatalf("delete service status %s", del.Status)
	}
	_, err = c.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	need(c.DeleteTargetGroup(ctx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: blue.Id})).ok(t)
	need(c.DeleteAccessLogSubscription(ctx, &vpclattice.DeleteAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: als.Id})).ok(t)
	need(c.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: sn.Id})).ok(t)
}
