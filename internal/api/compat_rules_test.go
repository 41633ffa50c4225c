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

// TestForwardWeightDefault: a forward action's target group without a
// weight is stored and echoed with weight 100 (the AWS CLI guide's output
// for the same input, and Terraform's default), in listener default
// actions and rules, on create and on update.
func TestForwardWeightDefault(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	tgA, tgB := newTG(t, c, "weight-a"), newTG(t, c, "weight-b")
	noWeight := func(ids ...*string) types.RuleAction {
		var tgs []types.WeightedTargetGroup
		for _, id := range ids {
			tgs = append(tgs, types.WeightedTargetGroup{TargetGroupIdentifier: id})
		}
		return &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: tgs}}
	}
	weights := func(what string, a types.RuleAction, want ...int32) {
		t.Helper()
		f, ok := a.(*types.RuleActionMemberForward)
		if !ok || len(f.Value.TargetGroups) != len(want) {
			t.Fatalf("%s: action %#v", what, a)
		}
		for i, w := range f.Value.TargetGroups {
			if w.Weight == nil || *w.Weight != want[i] {
				t.Fatalf("%s: target group %d weight %d (set %v), want %d", what, i, aws.ToInt32(w.Weight), w.Weight != nil, want[i])
			}
		}
	}
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("weights")})).ok(t)
	l := need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, DefaultAction: noWeight(tgA.Id)})).ok(t)
	weights("CreateListener", l.DefaultAction, 100)
	gl := need(c.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id})).ok(t)
	weights("GetListener", gl.DefaultAction, 100)
	ul := need(c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		DefaultAction: noWeight(tgA.Id, tgB.Id)})).ok(t)
	weights("UpdateListener", ul.DefaultAction, 100, 100)
	rules := need(c.ListRules(ctx, &vpclattice.ListRulesInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id})).ok(t)
	def := need(c.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id, RuleIdentifier: rules.Items[0].Id})).ok(t)
	weights("default rule", def.Action, 100, 100)

	r := need(c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id, Name: aws.String("api"),
		Priority: aws.Int32(1), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("GET")}},
		Action: noWeight(tgB.Id)})).ok(t)
	weights("CreateRule", r.Action, 100)
	gr := need(c.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id, RuleIdentifier: r.Id})).ok(t)
	weights("GetRule", gr.Action, 100)
	// A weight that is given is kept, 0 included.
	mixed := &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
		{TargetGroupIdentifier: tgA.Id, Weight: aws.Int32(0)}, {TargetGroupIdentifier: tgB.Id}}}}
	ur := need(c.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		RuleIdentifier: r.Id, Action: mixed})).ok(t)
	weights("UpdateRule", ur.Action, 0, 100)
	br := need(c.BatchUpdateRule(ctx, &vpclattice.BatchUpdateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id,
		Rules: []types.RuleUpdate{{RuleIdentifier: r.Id, Action: noWeight(tgA.Id)}}})).ok(t)
	if len(br.Successful) != 1 {
		t.Fatalf("batch: %+v", br.Unsuccessful)
	}
	weights("BatchUpdateRule", br.Successful[0].Action, 100)
}
