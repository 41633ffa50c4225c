package service

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// TestVPCOwnership: a VPC belongs to the account that declared it or whose
// resource created it; others get AccessDeniedException when they name it
// and ResourceNotFoundException when they read or delete it; the
// administrator may do anything (issue 10, finding 3).
func TestVPCOwnership(t *testing.T) {
	e := newIDEnv(t)
	const other = "444455556666"
	if _, _, err := e.s.PutAccount(e.admin, other, PutAccountInput{}); err != nil {
		t.Fatal(err)
	}
	a := e.as(testAccount, "arn:aws:iam::"+testAccount+":user/a")
	b := e.as(other, "arn:aws:iam::"+other+":user/b")
	const vpc = "vpc-0000000000000a001"
	if _, created, err := e.s.PutVPC(a, vpc, "", nil); err != nil || !created {
		t.Fatalf("A declares: %v %v", err, created)
	}
	snB, err := e.s.CreateServiceNetwork(b, CreateServiceNetworkInput{Name: "net-b"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.s.CreateServiceNetworkVpcAssociation(b, CreateSNVAInput{ServiceNetworkIdentifier: snB.ID, VpcIdentifier: vpc})
	wantKind(t, "B associates A's VPC", err, model.KindAccessDenied)
	_, err = e.s.CreateTargetGroup(b, CreateTargetGroupInput{Name: "in-a", Type: model.TargetGroupTypeIP,
		Config: &model.TargetGroupConfig{Port: intPtr(80), Protocol: model.ProtocolHTTP, VpcIdentifier: vpc}})
	wantKind(t, "B puts a target group in A's VPC", err, model.KindAccessDenied)
	_, _, err = e.s.PutVPC(b, vpc, "", nil)
	wantKind(t, "B declares A's VPC", err, model.KindAccessDenied)
	_, err = e.s.GetVPC(b, vpc)
	wantKind(t, "B reads A's VPC", err, model.KindNotFound)
	wantKind(t, "B deletes A's VPC", e.s.DeleteVPC(b, vpc), model.KindNotFound)
	if l, _, err := e.s.ListVPCs(b, Page{}); err != nil || len(l) != 0 {
		t.Fatalf("B lists: %v %v", err, l)
	}
	if v, err := e.s.GetVPC(a, vpc); err != nil || v.Account != testAccount {
		t.Fatalf("A's VPC changed: %v %+v", err, v)
	}
	// The administrator acts in any account.
	if _, err := e.s.GetVPC(e.admin, vpc); err != nil {
		t.Fatalf("administrator reads: %v", err)
	}
	if l, _, err := e.s.ListVPCs(e.admin, Page{}); err != nil || len(l) != 1 {
		t.Fatalf("administrator lists: %v %v", err, l)
	}
	if err := e.s.DeleteVPC(e.admin, vpc); err != nil {
		t.Fatalf("administrator deletes: %v", err)
	}
}

// TestSquattedVPCAssociation: an association another account made on a VPC
// before VPCs had owners blocks the owner's own association; the VPC's
// owner may delete it (and no third account may).
func TestSquattedVPCAssociation(t *testing.T) {
	e := newIDEnv(t)
	const other, third = "444455556666", "777788889999"
	for _, acct := range []string{other, third} {
		if _, _, err := e.s.PutAccount(e.admin, acct, PutAccountInput{}); err != nil {
			t.Fatal(err)
		}
	}
	a := e.as(testAccount, "arn:aws:iam::"+testAccount+":user/a")
	b := e.as(other, "arn:aws:iam::"+other+":user/b")
	c := e.as(third, "arn:aws:iam::"+third+":user/c")
	const vpc = "vpc-0000000000000a001"
	snB, err := e.s.CreateServiceNetwork(b, CreateServiceNetworkInput{Name: "net-b"})
	if err != nil {
		t.Fatal(err)
	}
	squat, err := e.s.CreateServiceNetworkVpcAssociation(b, CreateSNVAInput{ServiceNetworkIdentifier: snB.ID, VpcIdentifier: vpc})
	if err != nil {
		t.Fatal(err)
	}
	// What an older version left: the VPC is A's, the association B's.
	if _, err := e.s.st.Update(context.Background(), func(tx store.Tx) error {
		v, err := getJSON[model.VPC](tx, pfxVPC+vpc)
		if err != nil {
			return err
		}
		v.Account, v.ARN = testAccount, e.s.vpcARN(testAccount, vpc)
		return putJSON(tx, pfxVPC+vpc, v)
	}); err != nil {
		t.Fatal(err)
	}
	snA, err := e.s.CreateServiceNetwork(a, CreateServiceNetworkInput{Name: "net-a"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.s.CreateServiceNetworkVpcAssociation(a, CreateSNVAInput{ServiceNetworkIdentifier: snA.ID, VpcIdentifier: vpc})
	wantKind(t, "the squatter's association stands in the way", err, model.KindConflict)
	_, err = e.s.DeleteServiceNetworkVpcAssociation(c, squat.ID)
	wantKind(t, "a third account deletes it", err, model.KindNotFound)
	_, err = e.s.DeleteServiceNetworkVpcAssociation(a, "arn:aws:vpc-lattice:us-east-1:"+testAccount+":servicenetworkvpcassociation/"+squat.ID)
	wantKind(t, "the owner names it by a forged ARN", err, model.KindNotFound)
	_, err = e.s.GetServiceNetworkVpcAssociation(a, squat.ID)
	wantKind(t, "the owner does not read it", err, model.KindNotFound)
	if _, err := e.s.DeleteServiceNetworkVpcAssociation(a, squat.ARN); err != nil {
		t.Fatalf("the VPC's owner deletes the squatter's association: %v", err)
	}
	if _, err := e.s.CreateServiceNetworkVpcAssociation(a, CreateSNVAInput{ServiceNetworkIdentifier: snA.ID, VpcIdentifier: vpc}); err != nil {
		t.Fatalf("the owner associates its VPC: %v", err)
	}
}

// TestNetnsVPCDeclaration: mode netns takes 1 to 5 canonical CIDR blocks,
// gets a link-local ingress address and a namespace name; bad input names
// its field and changes nothing; a host that cannot run namespaces refuses
// the mode; the mode and blocks of an existing VPC never change.
func TestNetnsVPCDeclaration(t *testing.T) {
	e := newIDEnv(t)
	a := e.as(testAccount, "arn:aws:iam::"+testAccount+":user/a")
	var netnsErr error
	e.s.cfg.Netns = func() error { return netnsErr }

	for _, tc := range []struct {
		mode   string
		blocks []string
		field  string
	}{
		{"netns", nil, "cidrBlocks"},
		{"netns", []string{"10.0.1.0/16"}, "did you mean 10.0.0.0/16"},
		{"netns", []string{"10.0.0.0"}, "cidrBlocks[0]"},
		{"netns", []string{"10.0.0.0/16", "10.0.128.0/17"}, "cidrBlocks[1]"},
		{"netns", []string{"169.254.0.0/16"}, "cidrBlocks[0]"},
		{"netns", []string{"127.0.0.0/8"}, "cidrBlocks[0]"},
		{"netns", []string{"10.0.0.0/16", "129.224.64.0/18"}, "cidrBlocks[1] 129.224.64.0/18 overlaps 129.224.0.0/17"},
		{"netns", []string{"129.0.0.0/8"}, "overlaps 129.224.0.0/17"},
		{"netns", []string{"0.0.0.0/0"}, "cidrBlocks[0]"},
		{"netns", []string{"10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16", "10.5.0.0/16", "10.6.0.0/16"}, "1 to 5"},
		{"host", []string{"10.0.0.0/16"}, "cidrBlocks"},
		{"bridge", nil, "mode"},
	} {
		_, _, err := e.s.PutVPC(a, "vpc-0000000000000b001", tc.mode, tc.blocks)
		wantKind(t, tc.mode+" "+strings.Join(tc.blocks, ","), err, model.KindValidation)
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%v: %v, want it to name %s", tc.blocks, err, tc.field)
		}
	}
	if _, err := e.s.GetVPC(a, "vpc-0000000000000b001"); err == nil {
		t.Fatal("a refused declaration created the VPC")
	}

	netnsErr = errors.New("trellis serve must run as root")
	_, _, err := e.s.PutVPC(a, "vpc-0000000000000b001", "netns", []string{"10.0.0.0/16"})
	wantKind(t, "unprivileged", err, model.KindValidation)
	if !strings.Contains(err.Error(), "must run as root") {
		t.Fatalf("unprivileged: %v", err)
	}
	netnsErr = nil

	v1, created, err := e.s.PutVPC(a, "vpc-0000000000000b001", "netns", []string{"10.0.0.0/16", "fd00::/64"})
	if err != nil || !created {
		t.Fatal(err)
	}
	v2, _, err := e.s.PutVPC(a, "vpc-0000000000000b002", "netns", []string{"10.0.0.0/16"}) // overlapping another VPC: fine
	if err != nil {
		t.Fatal(err)
	}
	if v1.IngressAddress != "169.254.171.1" || v2.IngressAddress != "169.254.171.2" ||
		v1.NetnsName != "trellis-abc1234-vpc-0000000000000b001" || strings.Join(v1.CIDRBlocks, ",") != "10.0.0.0/16,fd00::/64" {
		t.Fatalf("netns VPCs: %+v %+v", v1, v2)
	}
	h, _, err := e.s.PutVPC(a, "vpc-0000000000000b003", "", nil)
	if err != nil || h.Mode != model.VPCModeHost || h.NetnsName != "" || !strings.HasPrefix(h.IngressAddress, "127.171.") {
		t.Fatalf("host VPC: %v %+v", err, h)
	}

	// Declaring again: the same or no mode keeps the VPC; another mode or
	// other blocks are refused.
	if _, created, err := e.s.PutVPC(a, v1.ID, "netns", []string{"10.0.0.0/16", "fd00::/64"}); err != nil || created {
		t.Fatalf("same declaration: %v %v", err, created)
	}
	if _, _, err := e.s.PutVPC(a, v1.ID, "", nil); err != nil {
		t.Fatalf("no mode: %v", err)
	}
	_, _, err = e.s.PutVPC(a, v1.ID, "netns", []string{"10.0.0.0/16"})
	wantKind(t, "other blocks", err, model.KindConflict)
	_, _, err = e.s.PutVPC(a, h.ID, "netns", []string{"10.0.0.0/16"})
	wantKind(t, "host to netns", err, model.KindConflict)
	_, _, err = e.s.PutVPC(a, v1.ID, "host", nil)
	wantKind(t, "netns to host", err, model.KindConflict)
	if v, _ := e.s.GetVPC(a, v1.ID); v.Mode != "netns" || len(v.CIDRBlocks) != 2 {
		t.Fatalf("a refused change changed the VPC: %+v", v)
	}
	// Deleting frees the address for the next netns VPC.
	if err := e.s.DeleteVPC(a, v1.ID); err != nil {
		t.Fatal(err)
	}
	if v, _, err := e.s.PutVPC(a, "vpc-0000000000000b004", "netns", []string{"192.168.0.0/24"}); err != nil || v.IngressAddress != "169.254.171.1" {
		t.Fatalf("after delete: %v %+v", err, v)
	}
}
