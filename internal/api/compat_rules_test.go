package api_test

// Rule priorities and forward weights as the API model, the AWS CLI and
// Terraform have them (issue 10), through the AWS SDK for Go v2.

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestRulePriorityModelRange: priorities are 1..2000, the API model's range
// (botocore and the SDK), in CreateRule, UpdateRule and BatchUpdateRule.
func TestRulePriorityModelRange(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("prio")})).ok(t)
	l := need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, DefaultAction: fixed(404)})).ok(t)
	match := func(p string) types.RuleMatch {
		return &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: p}}}}
	}
	create := func(name string, prio int32) (*vpclattice.CreateRuleOutput, error) {
		return c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
			Name: aws.String(name), Priority: aws.Int32(prio), Match: match("/" + name), Action: fixed(404)})
	}
	top := need(create("top", 2000)).ok(t)
	if *top.Priority != 2000 {
		t.Fatalf("priority %d", *top.Priority)
	}
	mid := need(create("mid", 101)).ok(t)
	for _, p := range []int32{0, 2001} {
		_, err := create("bad", p)
		ve := wantFields(t, err, "priority")
		if !strings.Contains(*ve.Message, "between 1 and 2000") {
			t.Fatalf("message %q", *ve.Message)
		}
	}
	up := need(c.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		RuleIdentifier: mid.Id, Priority: aws.Int32(1500)})).ok(t)
	if *up.Priority != 1500 {
		t.Fatalf("updated priority %d", *up.Priority)
	}
	_, err := c.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		RuleIdentifier: mid.Id, Priority: aws.Int32(2001)})
	wantFields(t, err, "priority")
	// Swap 2000 and 1500 in one batch; 2001 fails on its own.
	res := need(c.BatchUpdateRule(ctx, &vpclattice.BatchUpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		Rules: []types.RuleUpdate{{RuleIdentifier: top.Id, Priority: aws.Int32(1500)}, {RuleIdentifier: mid.Id, Priority: aws.Int32(2000)}}})).ok(t)
	if len(res.Successful) != 2 || len(res.Unsuccessful) != 0 {
		t.Fatalf("batch: ok %+v failed %+v", res.Successful, res.Unsuccessful)
	}
	res = need(c.BatchUpdateRule(ctx, &vpclattice.BatchUpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		Rules: []types.RuleUpdate{{RuleIdentifier: top.Id, Priority: aws.Int32(2001)}}})).ok(t)
	if len(res.Unsuccessful) != 1 || *res.Unsuccessful[0].FailureCode != "ValidationException" {
		t.Fatalf("batch with 2001: ok %+v failed %+v", res.Successful, res.Unsuccessful)
	}
}
