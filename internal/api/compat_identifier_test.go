package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestIdentifierReportedFirst: an invalid identifier is what a
// ValidationException names, alone, whatever else is wrong with the
// request — in the path, the query or the body.
func TestIdentifierReportedFirst(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("idents")})).ok(t)
	l := need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, DefaultAction: fixed(404)})).ok(t)
	badDest := aws.String("arn:aws:sqs:us-east-1:000000000000:queue")
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"PutAuthPolicy", func() error {
			_, err := c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: aws.String("nope"), Policy: aws.String("{not json")})
			return err
		}, "resourceIdentifier"},
		{"PutResourcePolicy", func() error {
			_, err := c.PutResourcePolicy(ctx, &vpclattice.PutResourcePolicyInput{ResourceArn: aws.String("arn:aws:vpc-lattice:us-east-1:000000000000:targetgroup/tg-0123456789abcdef0"),
				Policy: aws.String("{not json")})
			return err
		}, "resourceArn"},
		{"CreateAccessLogSubscription", func() error {
			_, err := c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: aws.String("nope"), DestinationArn: badDest})
			return err
		}, "resourceIdentifier"},
		{"UpdateAccessLogSubscription", func() error {
			_, err := c.UpdateAccessLogSubscription(ctx, &vpclattice.UpdateAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: aws.String("als-1"), DestinationArn: badDest})
			return err
		}, "accessLogSubscriptionIdentifier"},
		{"UpdateServiceNetwork", func() error {
			_, err := c.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: aws.String("sn-1"), AuthType: "BOGUS"})
			return err
		}, "serviceNetworkIdentifier"},
		{"UpdateService", func() error {
			_, err := c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: aws.String("svc-1"), AuthType: "BOGUS"})
			return err
		}, "serviceIdentifier"},
		{"CreateListener", func() error {
			_, err := c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: aws.String("svc-1"), Name: aws.String("Bad_Name"),
				Protocol: "BOGUS", DefaultAction: fixed(200)})
			return err
		}, "serviceIdentifier"},
		{"UpdateRule", func() error {
			_, err := c.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
				RuleIdentifier: aws.String("rule-1"), Priority: aws.Int32(0)})
			return err
		}, "ruleIdentifier"},
		{"CreateRule's target group", func() error {
			_, err := c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
				Name: aws.String("Bad_Name"), Priority: aws.Int32(0), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("GET")}},
				Action: forward(map[string]int32{"tg-1": 5000})})
			return err
		}, "action.forward.targetGroups[0].targetGroupIdentifier"},
		{"UpdateTargetGroup", func() error {
			_, err := c.UpdateTargetGroup(ctx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: aws.String("tg-1"),
				HealthCheck: &types.HealthCheckConfig{HealthCheckIntervalSeconds: aws.Int32(1000)}})
			return err
		}, "targetGroupIdentifier"},
		{"RegisterTargets", func() error {
			_, err := c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: aws.String("tg-1"), Targets: []types.Target{}})
			return err
		}, "targetGroupIdentifier"},
		{"CreateServiceNetworkServiceAssociation", func() error {
			_, err := c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
				ServiceNetworkIdentifier: aws.String("sn-1"), ServiceIdentifier: svc.Id, Tags: map[string]string{"aws:x": "y"}})
			return err
		}, "serviceNetworkIdentifier"},
		{"CreateServiceNetworkVpcAssociation", func() error {
			_, err := c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
				ServiceNetworkIdentifier: aws.String("sn-1"), VpcIdentifier: aws.String(vpcA), SecurityGroupIds: []string{"nope"}})
			return err
		}, "serviceNetworkIdentifier"},
		{"ListServiceNetworkVpcAssociations", func() error {
			_, err := c.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{
				VpcIdentifier: aws.String("vpc-x"), MaxResults: aws.Int32(1000)})
			return err
		}, "vpcIdentifier"},
		{"ListRules", func() error {
			_, err := c.ListRules(ctx, &vpclattice.ListRulesInput{ServiceIdentifier: svc.Id, ListenerIdentifier: aws.String("listener-1"), MaxResults: aws.Int32(1000)})
			return err
		}, "listenerIdentifier"},
		{"TagResource", func() error {
			_, err := c.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String("arn:aws:s3:::bucket"), Tags: map[string]string{"aws:x": "y"}})
			return err
		}, "resourceArn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantFields(t, tc.call(), tc.field)
		})
	}

	// Before the body is decoded: a member of the wrong type is not what
	// is reported when the identifier in the path is invalid.
	st, h, body := raw(t, s, "PUT", "/authpolicy/nope", map[string]any{"policy": 42})
	if st != http.StatusBadRequest || h.Get("X-Amzn-ErrorType") != "ValidationException" ||
		!strings.Contains(string(body), `"name":"resourceIdentifier"`) || strings.Contains(string(body), "cannotParse") {
		t.Fatalf("identifier and a body of the wrong type: %d %s", st, body)
	}
}

// TestIdentifierMessages: the messages say what is accepted, as the API
// model accepts it ([0-9a-z]{17} after the prefix), with the right article,
// and name both kinds where both are accepted.
func TestIdentifierMessages(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	_, err := c.GetAccessLogSubscription(ctx, &vpclattice.GetAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: aws.String("als-1")})
	ve := wantFields(t, err, "accessLogSubscriptionIdentifier")
	if m := *ve.Message; !strings.Contains(m, "an access log subscription") || !strings.Contains(m, "als- followed by 17 lowercase letters or digits") {
		t.Fatalf("message %q", m)
	}
	_, err = c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: aws.String("svc-1")})
	ve = wantFields(t, err, "resourceIdentifier")
	if m := *ve.Message; !strings.Contains(m, "a service network or a service") || !strings.Contains(m, "sn- followed by") {
		t.Fatalf("message %q", m)
	}
	// Any lowercase letter is accepted (the model's pattern), not only hex:
	// such an ID is well formed and simply not found.
	for _, id := range []string{"svc-zzzzzzzzzzzzzzzzz", "arn:aws:vpc-lattice:us-east-1:" + s.Account + ":service/svc-0123456789abcdxyz"} {
		_, err = c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(id)})
		wantAPIError(t, err, "ResourceNotFoundException")
	}
	// ... but not uppercase, nor an ARN whose partition the model does not allow.
	for _, id := range []string{"svc-0123456789ABCDEF0", "arn:AWS:vpc-lattice:us-east-1:" + s.Account + ":service/svc-0123456789abcdef0"} {
		_, err = c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(id)})
		wantFields(t, err, "serviceIdentifier")
	}
}
