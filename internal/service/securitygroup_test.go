package service

import (
	"slices"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
)

func tcpRule(from, to int, cidr string) model.SecurityGroupRuleInput {
	return model.SecurityGroupRuleInput{Protocol: "tcp", FromPort: &from, ToPort: &to, CIDR: cidr}
}

func TestSecurityGroupValidation(t *testing.T) {
	e := newIDEnv(t)
	a := e.as(testAccount, "arn:aws:iam::"+testAccount+":user/a")
	const vpc = "vpc-0000000000000a001"
	p := func(i int) *int { return &i }
	cases := []struct {
		name   string
		in     PutSecurityGroupInput
		fields []string
	}{
		{"bad id", PutSecurityGroupInput{ID: "sg-XYZ", VpcID: vpc}, []string{"securityGroupId"}},
		{"bad vpc", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: "vpc-1"}, []string{"vpcId"}},
		{"no protocol", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{{CIDR: "10.0.0.0/8"}}}, []string{"ingress[0].protocol"}},
		{"udp", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{{Protocol: "udp", CIDR: "10.0.0.0/8"}}}, []string{"ingress[0].protocol"}},
		{"tcp without ports", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{{Protocol: "tcp", CIDR: "10.0.0.0/8"}}}, []string{"ingress[0].fromPort", "ingress[0].toPort"}},
		{"port 0 and 65536", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{tcpRule(0, 65536, "10.0.0.0/8")}}, []string{"ingress[0].fromPort", "ingress[0].toPort"}},
		{"from above to", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{tcpRule(1, 80, "10.0.0.0/8"), tcpRule(90, 80, "10.0.0.0/8")}}, []string{"ingress[1].toPort"}},
		{"all with ports", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{{Protocol: "all", FromPort: p(1), CIDR: "10.0.0.0/8"}}}, []string{"ingress[0].fromPort"}},
		{"bad cidr", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{tcpRule(80, 80, "10.0.0.1")}}, []string{"ingress[0].cidr"}},
		{"no cidr", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{tcpRule(80, 80, "")}}, []string{"ingress[0].cidr"}},
		{"host bits", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{tcpRule(80, 80, "10.0.1.7/24")}}, []string{"ingress[0].cidr"}},
		{"mapped", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{tcpRule(80, 80, "::ffff:10.0.0.0/104")}}, []string{"ingress[0].cidr"}},
		{"description with a newline", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: []model.SecurityGroupRuleInput{{Protocol: "all", CIDR: "10.0.0.0/8", Description: "a\nforged log line"}}},
			[]string{"ingress[0].description"}},
		{"long description", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc, Description: strings.Repeat("x", 256)},
			[]string{"description"}},
		{"too many rules", PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc,
			Ingress: slices.Repeat([]model.SecurityGroupRuleInput{tcpRule(80, 80, "10.0.0.0/8")}, 61)}, []string{"ingress"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.s.PutSecurityGroup(a, tc.in)
			if got := fieldsOf(t, err); !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %v, want %v (%v)", got, tc.fields, err)
			}
		})
	}
	// Nothing was created, not even the VPC.
	if l, _, err := e.s.ListSecurityGroups(a, "", Page{}); err != nil || len(l) != 0 {
		t.Fatalf("groups after refused PUTs: %v %v", err, l)
	}
	if _, err := e.s.GetVPC(a, vpc); model.KindOf(err) != model.KindNotFound {
		t.Fatalf("a refused PUT created the VPC: %v", err)
	}
	// Accepted forms are normalised.
	g, created, err := e.s.PutSecurityGroup(a, PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpc, Description: "web",
		Ingress: []model.SecurityGroupRuleInput{{Protocol: "-1", CIDR: "2001:db8::/32"}, {Protocol: "TCP", FromPort: p(80), ToPort: p(443), CIDR: "10.0.1.7/32", Description: "lb"}}})
	if err != nil || !created {
		t.Fatal(err, created)
	}
	want := []model.SecurityGroupRule{{Protocol: "all", CIDR: "2001:db8::/32"}, {Protocol: "tcp", FromPort: 80, ToPort: 443, CIDR: "10.0.1.7/32", Description: "lb"}}
	if !slices.Equal(g.Ingress, want) || g.ARN != "arn:aws:ec2:us-east-1:"+testAccount+":security-group/sg-0000000a" {
		t.Fatalf("stored %+v %s", g.Ingress, g.ARN)
	}
	if v, err := e.s.GetVPC(a, vpc); err != nil || !v.AutoCreated || v.Account != testAccount {
		t.Fatalf("the group's VPC was not auto-created for its owner: %v %+v", err, v)
	}
}

func TestSecurityGroupLifecycleAndGuards(t *testing.T) {
	e := newIDEnv(t)
	a := e.as(testAccount, "arn:aws:iam::"+testAccount+":user/a")
	const vpc, vpc2 = "vpc-0000000000000a001", "vpc-0000000000000a002"
	put := func(id, vpcID string, rules ...model.SecurityGroupRuleInput) (*model.SecurityGroup, bool, error) {
		return e.s.PutSecurityGroup(a, PutSecurityGroupInput{ID: id, VpcID: vpcID, Ingress: rules})
	}
	if _, created, err := put("sg-0000000a", vpc, tcpRule(80, 80, "10.0.0.0/8")); err != nil || !created {
		t.Fatal(err, created)
	}
	// Replacing answers created=false and keeps the creation time.
	g, created, err := put("sg-0000000a", vpc, tcpRule(81, 81, "10.0.0.0/8"))
	if err != nil || created || g.Ingress[0].FromPort != 81 {
		t.Fatal(err, created, g)
	}
	_, _, err = put("sg-0000000a", vpc2)
	wantKind(t, "moving a group to another VPC", err, model.KindConflict)
	if _, _, err := put("sg-0000000b", vpc2); err != nil {
		t.Fatal(err)
	}
	if l, _, err := e.s.ListSecurityGroups(a, vpc, Page{}); err != nil || len(l) != 1 || l[0].ID != "sg-0000000a" {
		t.Fatalf("list by VPC: %v %v", err, l)
	}
	if l, _, err := e.s.ListSecurityGroups(a, "", Page{}); err != nil || len(l) != 2 {
		t.Fatalf("list: %v %v", err, l)
	}

	sn, err := e.s.CreateServiceNetwork(a, CreateServiceNetworkInput{Name: "net"})
	if err != nil {
		t.Fatal(err)
	}
	// A group the caller owns in another VPC is refused on an association.
	_, err = e.s.CreateServiceNetworkVpcAssociation(a, CreateSNVAInput{ServiceNetworkIdentifier: sn.ID, VpcIdentifier: vpc,
		SecurityGroupIDs: []string{"sg-0000000b"}})
	if f := fieldsOf(t, err); !slices.Equal(f, []string{"securityGroupIds"}) {
		t.Fatalf("fields %v", f)
	}
	// Unknown IDs are accepted (a Terraform plan naming made-up groups).
	assoc, err := e.s.CreateServiceNetworkVpcAssociation(a, CreateSNVAInput{ServiceNetworkIdentifier: sn.ID, VpcIdentifier: vpc,
		SecurityGroupIDs: []string{"sg-0000000a", "sg-00000000000000fff"}})
	if err != nil {
		t.Fatal(err)
	}
	err = e.s.DeleteSecurityGroup(a, "sg-0000000a")
	wantKind(t, "deleting a group an association uses", err, model.KindConflict)
	if !strings.Contains(err.Error(), assoc.ID) {
		t.Fatalf("the conflict does not name the association: %v", err)
	}
	wantKind(t, "deleting a VPC with a security group", e.s.DeleteVPC(a, vpc2), model.KindConflict)
	if _, err := e.s.UpdateServiceNetworkVpcAssociation(a, assoc.ID, []string{"sg-0000000b"}); model.KindOf(err) != model.KindValidation {
		t.Fatalf("update to a group of another VPC: %v", err)
	}
	if _, err := e.s.UpdateServiceNetworkVpcAssociation(a, assoc.ID, []string{"sg-00000000000000fff"}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteSecurityGroup(a, "sg-0000000a"); err != nil {
		t.Fatalf("delete after the association let go: %v", err)
	}
	_, err = e.s.GetSecurityGroup(a, "sg-0000000a")
	wantKind(t, "get after delete", err, model.KindNotFound)
	if err := e.s.DeleteSecurityGroup(a, "sg-0000000b"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteVPC(a, vpc2); err != nil {
		t.Fatalf("delete of the emptied VPC: %v", err)
	}
}

// TestSecurityGroupCrossAccount: a group belongs to its VPC's owner;
// another account cannot create one in that VPC, see, change or delete it,
// and naming it on its own association neither uses it nor blocks its
// owner from deleting it.
func TestSecurityGroupCrossAccount(t *testing.T) {
	e := newIDEnv(t)
	const other = "444455556666"
	if _, _, err := e.s.PutAccount(e.admin, other, PutAccountInput{}); err != nil {
		t.Fatal(err)
	}
	a := e.as(testAccount, "arn:aws:iam::"+testAccount+":user/a")
	b := e.as(other, "arn:aws:iam::"+other+":user/b")
	const vpcA, vpcB = "vpc-0000000000000a001", "vpc-0000000000000b001"
	if _, _, err := e.s.PutSecurityGroup(a, PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpcA,
		Ingress: []model.SecurityGroupRuleInput{tcpRule(80, 80, "10.0.0.0/8")}}); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.s.PutSecurityGroup(b, PutSecurityGroupInput{ID: "sg-0000000b", VpcID: vpcA})
	wantKind(t, "B creates a group in A's VPC", err, model.KindAccessDenied)
	_, _, err = e.s.PutSecurityGroup(b, PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpcA,
		Ingress: []model.SecurityGroupRuleInput{{Protocol: "all", CIDR: "0.0.0.0/0"}}})
	wantKind(t, "B replaces A's group", err, model.KindAccessDenied)
	_, _, err = e.s.PutSecurityGroup(b, PutSecurityGroupInput{ID: "sg-0000000a", VpcID: vpcB})
	wantKind(t, "B declares A's group ID in its own VPC", err, model.KindAccessDenied)
	_, err = e.s.GetSecurityGroup(b, "sg-0000000a")
	wantKind(t, "B reads A's group", err, model.KindNotFound)
	wantKind(t, "B deletes A's group", e.s.DeleteSecurityGroup(b, "sg-0000000a"), model.KindNotFound)
	if l, _, err := e.s.ListSecurityGroups(b, "", Page{}); err != nil || len(l) != 0 {
		t.Fatalf("B lists: %v %v", err, l)
	}
	// B names A's group on its own VPC's association: accepted like any
	// unknown ID (a refusal would tell B the ID exists).
	snB, err := e.s.CreateServiceNetwork(b, CreateServiceNetworkInput{Name: "net-b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateServiceNetworkVpcAssociation(b, CreateSNVAInput{ServiceNetworkIdentifier: snB.ID, VpcIdentifier: vpcB,
		SecurityGroupIDs: []string{"sg-0000000a"}}); err != nil {
		t.Fatal(err)
	}
	g, err := e.s.GetSecurityGroup(a, "sg-0000000a")
	if err != nil || len(g.Ingress) != 1 || g.Ingress[0].CIDR != "10.0.0.0/8" {
		t.Fatalf("A's group changed: %v %+v", err, g)
	}
	// B's association does not pin A's group.
	if err := e.s.DeleteSecurityGroup(a, "sg-0000000a"); err != nil {
		t.Fatalf("A deletes its group named by B's association: %v", err)
	}
	// The administrator may declare a group in A's VPC; it belongs to A.
	g, _, err = e.s.PutSecurityGroup(e.admin, PutSecurityGroupInput{ID: "sg-0000000c", VpcID: vpcA})
	if err != nil || g.Account != testAccount {
		t.Fatalf("administrator's group in A's VPC: %v %+v", err, g)
	}
	if _, err := e.s.GetSecurityGroup(a, "sg-0000000c"); err != nil {
		t.Fatalf("A reads the group the administrator made in its VPC: %v", err)
	}
}
