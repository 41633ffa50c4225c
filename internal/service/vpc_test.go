package service

import (
	"context"
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
	if _, created, err := e.s.PutVPC(a, vpc, ""); err != nil || !created {
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
	_, _, err = e.s.PutVPC(b, vpc, "")
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
