package api_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// The security-groups endpoint (DESIGN.md "Contracts") and the association
// fields that name groups, through real signed requests and the AWS SDK.
func TestNativeSecurityGroups(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	root := rootCreds(s)
	const path = "/trellis/v1/security-groups/sg-0000000000000000a"
	const vpc = "vpc-0000000000000000a"
	body := map[string]any{"vpcId": vpc, "ingress": []map[string]any{
		{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidr": "10.0.1.7/32", "description": "web"}}}
	g := want(t, "create", call(t, s, root, "PUT", path, body), 201, "").obj(t)
	if g["securityGroupId"] != "sg-0000000000000000a" || g["vpcId"] != vpc || g["ownerId"] != s.Account ||
		g["arn"] != "arn:aws:ec2:us-east-1:"+s.Account+":security-group/sg-0000000000000000a" {
		t.Fatalf("created: %v", g)
	}
	rules, _ := g["ingress"].([]any)
	if len(rules) != 1 {
		t.Fatalf("ingress %v", g["ingress"])
	}
	r := rules[0].(map[string]any)
	if r["protocol"] != "tcp" || r["fromPort"] != 80.0 || r["toPort"] != 80.0 || r["cidr"] != "10.0.1.7/32" || r["description"] != "web" {
		t.Fatalf("rule %v", r)
	}
	body["ingress"] = []map[string]any{{"protocol": "-1", "cidr": "2001:db8::/32"}}
	g = want(t, "replace", call(t, s, root, "PUT", path, body), 200, "").obj(t)
	if r := g["ingress"].([]any)[0].(map[string]any); r["protocol"] != "all" || r["fromPort"] != nil || r["cidr"] != "2001:db8::/32" {
		t.Fatalf("replaced rule %v", r)
	}
	want(t, "get", call(t, s, root, "GET", path, nil), 200, "")
	if l := want(t, "list by VPC", call(t, s, root, "GET", "/trellis/v1/security-groups?vpcId="+vpc, nil), 200, "").items(t); len(l) != 1 {
		t.Fatalf("list: %v", l)
	}
	if l := want(t, "list of another VPC", call(t, s, root, "GET", "/trellis/v1/security-groups?vpcId=vpc-0000000000000000b", nil), 200, "").items(t); len(l) != 0 {
		t.Fatalf("list: %v", l)
	}

	// A bad rule names its field and changes nothing.
	bad := map[string]any{"vpcId": vpc, "ingress": []map[string]any{{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidr": "10.0.1.7"}}}
	a := want(t, "bad cidr", call(t, s, root, "PUT", path, bad), 400, "ValidationException")
	if !strings.Contains(string(a.body), "ingress[0].cidr") {
		t.Fatalf("the error does not name the field: %s", a.body)
	}
	a = want(t, "fromPort as a string", call(t, s, root, "PUT", path, map[string]any{"vpcId": vpc,
		"ingress": []map[string]any{{"protocol": "tcp", "fromPort": "80", "toPort": 80, "cidr": "10.0.0.0/8"}}}), 400, "ValidationException")
	if r := want(t, "get after refused PUTs", call(t, s, root, "GET", path, nil), 200, "").obj(t)["ingress"].([]any)[0].(map[string]any); r["cidr"] != "2001:db8::/32" {
		t.Fatalf("a refused PUT changed the group: %v", r)
	}
	want(t, "bad id", call(t, s, root, "GET", "/trellis/v1/security-groups/sg-XYZ", nil), 400, "ValidationException")
	want(t, "unknown", call(t, s, root, "GET", "/trellis/v1/security-groups/sg-0000000000000000f", nil), 404, "ResourceNotFoundException")

	// The association names groups: at most 5 on create, 1–5 on update;
	// unknown IDs are accepted.
	c := newClient(s)
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net")})).ok(t)
	_, err := c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpc),
		SecurityGroupIds: []string{"sg-00000001", "sg-00000002", "sg-00000003", "sg-00000004", "sg-00000005", "sg-00000006"}})
	wantFields(t, err, "securityGroupIds")
	assoc := need(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpc),
		SecurityGroupIds: []string{"sg-0000000000000000a", "sg-0000000000000000e"}})).ok(t)
	if got := assoc.SecurityGroupIds; len(got) != 2 || got[1] != "sg-0000000000000000e" {
		t.Fatalf("create answered %v", got)
	}
	got := need(c.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: assoc.Id})).ok(t)
	if len(got.SecurityGroupIds) != 2 || got.SecurityGroupIds[0] != "sg-0000000000000000a" {
		t.Fatalf("get answered %v", got.SecurityGroupIds)
	}
	a = want(t, "delete while used", call(t, s, root, "DELETE", path, nil), 409, "ConflictException")
	if !strings.Contains(string(a.body), *assoc.Id) {
		t.Fatalf("the conflict does not name the association: %s", a.body)
	}
	_, err = c.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: assoc.Id, SecurityGroupIds: []string{}})
	wantFields(t, err, "securityGroupIds")
	up := need(c.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: assoc.Id, SecurityGroupIds: []string{"sg-0000000000000000e"}})).ok(t)
	if len(up.SecurityGroupIds) != 1 {
		t.Fatalf("update answered %v", up.SecurityGroupIds)
	}
	want(t, "delete once unused", call(t, s, root, "DELETE", path, nil), 204, "")
	want(t, "get after delete", call(t, s, root, "GET", path, nil), 404, "ResourceNotFoundException")
}

// Another account cannot see, change, delete or create groups in a VPC it
// does not own.
func TestCrossAccountSecurityGroups(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	credA, credB := newAccountWithUser(t, s, acctA, "alice"), newAccountWithUser(t, s, acctB, "bob")
	const path = "/trellis/v1/security-groups/sg-0000000000000000a"
	body := map[string]any{"vpcId": "vpc-0000000000000a001", "ingress": []map[string]any{{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidr": "10.0.0.0/8"}}}
	want(t, "A creates", call(t, s, credA, "PUT", path, body), 201, "")
	open := map[string]any{"vpcId": "vpc-0000000000000a001", "ingress": []map[string]any{{"protocol": "all", "cidr": "0.0.0.0/0"}}}
	want(t, "B replaces A's group", call(t, s, credB, "PUT", path, open), 403, "AccessDeniedException")
	want(t, "B creates in A's VPC", call(t, s, credB, "PUT", "/trellis/v1/security-groups/sg-0000000000000000b", open), 403, "AccessDeniedException")
	want(t, "B reads", call(t, s, credB, "GET", path, nil), 404, "ResourceNotFoundException")
	want(t, "B deletes", call(t, s, credB, "DELETE", path, nil), 404, "ResourceNotFoundException")
	if l := want(t, "B lists", call(t, s, credB, "GET", "/trellis/v1/security-groups", nil), 200, "").items(t); len(l) != 0 {
		t.Fatalf("B sees %v", l)
	}
	g := want(t, "A reads", call(t, s, credA, "GET", path, nil), 200, "").obj(t)
	if r := g["ingress"].([]any)[0].(map[string]any); r["cidr"] != "10.0.0.0/8" || g["ownerId"] != acctA {
		t.Fatalf("A's group changed: %v", g)
	}
}
