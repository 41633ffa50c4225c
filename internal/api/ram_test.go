package api_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ram"
	ramtypes "github.com/aws/aws-sdk-go-v2/service/ram/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/smithy-go"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// AWS RAM on the API address (docs/ram.md), driven with the official ram
// client as three accounts: the network owner and the service owner in
// one organization, and a consumer outside it.

const (
	ramOrg      = "o-abcdef1234"
	ramOwner    = "111100001111" // network owner, in ramOrg
	ramSvcOwner = "222200002222" // service owner, in ramOrg
	ramConsumer = "333300003333" // outside any organization
)

func ramAs(s *apptest.Server, c creds) *ram.Client {
	return ram.New(ram.Options{
		Region:           s.Region,
		BaseEndpoint:     aws.String(s.Endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token),
		RetryMaxAttempts: 1,
	})
}

// wantRAMError asserts err is the RAM error code (and a 400 unless the
// code is one of RAM's few others).
func wantRAMError(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorMessage() == "" {
		t.Fatalf("%s without a message", code)
	}
}

type ramWorld struct {
	s                         *apptest.Server
	owner, svcOwner, consumer *ram.Client
	ownerL, consumerL         *vpclattice.Client
	sn, sn2                   *vpclattice.CreateServiceNetworkOutput
	svc                       *vpclattice.CreateServiceOutput
	consumerSN                *vpclattice.CreateServiceNetworkOutput
}

func newRAMWorld(t *testing.T) *ramWorld {
	t.Helper()
	s := apptest.Start(t)
	admin := rootCreds(s)
	for _, a := range []struct{ id, org string }{{ramOwner, ramOrg}, {ramSvcOwner, ramOrg}, {ramConsumer, ""}} {
		body := map[string]any{}
		if a.org != "" {
			body["orgId"] = a.org
		}
		if r := call(t, s, admin, "PUT", "/trellis/v1/accounts/"+a.id, body); r.status != 201 && r.status != 200 {
			t.Fatalf("put account %s: %d %s", a.id, r.status, r.body)
		}
	}
	co, cs, cc := newAccountWithUser(t, s, ramOwner, "net"), newAccountWithUser(t, s, ramSvcOwner, "svc"), newAccountWithUser(t, s, ramConsumer, "app")
	w := &ramWorld{s: s, owner: ramAs(s, co), svcOwner: ramAs(s, cs), consumer: ramAs(s, cc), ownerL: sdkAs(s, co), consumerL: sdkAs(s, cc)}
	w.sn = need(w.ownerL.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("shared-net")})).ok(t)
	w.sn2 = need(w.ownerL.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("private-net")})).ok(t)
	w.svc = need(w.ownerL.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("owner-svc")})).ok(t)
	w.consumerSN = need(w.consumerL.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("consumer-net")})).ok(t)
	return w
}

func sharesOf(t *testing.T, c *ram.Client, owner ramtypes.ResourceOwner) []ramtypes.ResourceShare {
	t.Helper()
	return need(c.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: owner})).ok(t).ResourceShares
}

func principalStatus(t *testing.T, c *ram.Client, shareArn string) map[string]ramtypes.ResourceShareAssociation {
	t.Helper()
	out := need(c.GetResourceShareAssociations(ctx, &ram.GetResourceShareAssociationsInput{
		AssociationType: ramtypes.ResourceShareAssociationTypePrincipal, ResourceShareArns: []string{shareArn}})).ok(t)
	m := map[string]ramtypes.ResourceShareAssociation{}
	for _, a := range out.ResourceShareAssociations {
		m[*a.AssociatedEntity] = a
	}
	return m
}

func TestRAMShareWalkthrough(t *testing.T) {
	t.Parallel()
	w := newRAMWorld(t)

	created := need(w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("network"),
		ResourceArns: []string{*w.sn.Arn}, Principals: []string{ramSvcOwner, ramConsumer}, ClientToken: aws.String("tok-1"),
		Tags: []ramtypes.Tag{{Key: aws.String("team"), Value: aws.String("net")}}})).ok(t)
	sh := created.ResourceShare
	if sh.Status != ramtypes.ResourceShareStatusActive || !*sh.AllowExternalPrincipals || *sh.OwningAccountId != ramOwner ||
		*created.ClientToken != "tok-1" || len(sh.Tags) != 1 || sh.CreationTime == nil {
		t.Fatalf("created share: %+v", sh)
	}

	// The service owner (same organization) is associated at once; the
	// consumer (outside) is invited.
	st := principalStatus(t, w.owner, *sh.ResourceShareArn)
	if st[ramSvcOwner].Status != ramtypes.ResourceShareAssociationStatusAssociated || *st[ramSvcOwner].External {
		t.Fatalf("in-org principal: %+v", st[ramSvcOwner])
	}
	if st[ramConsumer].Status != ramtypes.ResourceShareAssociationStatusAssociating || !*st[ramConsumer].External {
		t.Fatalf("external principal: %+v", st[ramConsumer])
	}
	if got := sharesOf(t, w.svcOwner, ramtypes.ResourceOwnerOtherAccounts); len(got) != 1 || *got[0].ResourceShareArn != *sh.ResourceShareArn {
		t.Fatalf("service owner sees %+v", got)
	}
	res := need(w.svcOwner.ListResources(ctx, &ram.ListResourcesInput{ResourceOwner: ramtypes.ResourceOwnerOtherAccounts})).ok(t).Resources
	if len(res) != 1 || *res[0].Arn != *w.sn.Arn || *res[0].Type != "vpc-lattice:ServiceNetwork" {
		t.Fatalf("service owner's shared resources: %+v", res)
	}
	if svcOwnerInv := need(w.svcOwner.GetResourceShareInvitations(ctx, &ram.GetResourceShareInvitationsInput{})).ok(t); len(svcOwnerInv.ResourceShareInvitations) != 0 {
		t.Fatalf("an in-org account got an invitation: %+v", svcOwnerInv.ResourceShareInvitations)
	}

	// The consumer sees nothing until it accepts.
	if got := sharesOf(t, w.consumer, ramtypes.ResourceOwnerOtherAccounts); len(got) != 0 {
		t.Fatalf("consumer sees %+v before accepting", got)
	}
	invs := need(w.consumer.GetResourceShareInvitations(ctx, &ram.GetResourceShareInvitationsInput{})).ok(t).ResourceShareInvitations
	if len(invs) != 1 || invs[0].Status != ramtypes.ResourceShareInvitationStatusPending || *invs[0].SenderAccountId != ramOwner ||
		*invs[0].ReceiverAccountId != ramConsumer || *invs[0].ResourceShareArn != *sh.ResourceShareArn {
		t.Fatalf("consumer's invitations: %+v", invs)
	}
	// The owner cannot answer an invitation it did not receive.
	_, err := w.owner.AcceptResourceShareInvitation(ctx, &ram.AcceptResourceShareInvitationInput{ResourceShareInvitationArn: invs[0].ResourceShareInvitationArn})
	wantRAMError(t, err, "ResourceShareInvitationArnNotFoundException")
	acc := need(w.consumer.AcceptResourceShareInvitation(ctx, &ram.AcceptResourceShareInvitationInput{
		ResourceShareInvitationArn: invs[0].ResourceShareInvitationArn})).ok(t).ResourceShareInvitation
	if acc.Status != ramtypes.ResourceShareInvitationStatusAccepted || len(acc.ResourceShareAssociations) != 1 ||
		acc.ResourceShareAssociations[0].Status != ramtypes.ResourceShareAssociationStatusAssociated {
		t.Fatalf("accepted: %+v", acc)
	}
	_, err = w.consumer.AcceptResourceShareInvitation(ctx, &ram.AcceptResourceShareInvitationInput{ResourceShareInvitationArn: invs[0].ResourceShareInvitationArn})
	wantRAMError(t, err, "ResourceShareInvitationAlreadyAcceptedException")
	if got := sharesOf(t, w.consumer, ramtypes.ResourceOwnerOtherAccounts); len(got) != 1 {
		t.Fatalf("consumer sees %+v after accepting", got)
	}
	if st := principalStatus(t, w.owner, *sh.ResourceShareArn); st[ramConsumer].Status != ramtypes.ResourceShareAssociationStatusAssociated {
		t.Fatalf("consumer after accepting: %+v", st[ramConsumer])
	}
	prin := need(w.consumer.ListPrincipals(ctx, &ram.ListPrincipalsInput{ResourceOwner: ramtypes.ResourceOwnerOtherAccounts})).ok(t).Principals
	if len(prin) != 1 || *prin[0].Id != ramOwner {
		t.Fatalf("consumer's ListPrincipals: %+v", prin)
	}
	prin = need(w.owner.ListPrincipals(ctx, &ram.ListPrincipalsInput{ResourceOwner: ramtypes.ResourceOwnerSelf})).ok(t).Principals
	if len(prin) != 2 {
		t.Fatalf("owner's ListPrincipals: %+v", prin)
	}

	// Idempotency: the same token and request answer the same share; the
	// same token with another request is refused and creates nothing.
	again := need(w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("network"),
		ResourceArns: []string{*w.sn.Arn}, Principals: []string{ramSvcOwner, ramConsumer}, ClientToken: aws.String("tok-1"),
		Tags: []ramtypes.Tag{{Key: aws.String("team"), Value: aws.String("net")}}})).ok(t)
	if *again.ResourceShare.ResourceShareArn != *sh.ResourceShareArn {
		t.Fatalf("retry made another share %s", *again.ResourceShare.ResourceShareArn)
	}
	_, err = w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("other"), ClientToken: aws.String("tok-1")})
	wantRAMError(t, err, "IdempotentParameterMismatchException")
	if got := sharesOf(t, w.owner, ramtypes.ResourceOwnerSelf); len(got) != 1 {
		t.Fatalf("owner has %d shares, want 1", len(got))
	}

	// Isolation: the consumer, a principal of the share, still cannot
	// change it, see the owner's other shares, or share what it does not own.
	private := need(w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("private"),
		ResourceArns: []string{*w.sn2.Arn}})).ok(t).ResourceShare
	_, err = w.consumer.UpdateResourceShare(ctx, &ram.UpdateResourceShareInput{ResourceShareArn: sh.ResourceShareArn, Name: aws.String("mine")})
	wantRAMError(t, err, "UnknownResourceException")
	_, err = w.consumer.AssociateResourceShare(ctx, &ram.AssociateResourceShareInput{ResourceShareArn: sh.ResourceShareArn, Principals: []string{"999999999999"}})
	wantRAMError(t, err, "UnknownResourceException")
	_, err = w.consumer.DeleteResourceShare(ctx, &ram.DeleteResourceShareInput{ResourceShareArn: private.ResourceShareArn})
	wantRAMError(t, err, "UnknownResourceException")
	_, err = w.consumer.TagResource(ctx, &ram.TagResourceInput{ResourceShareArn: sh.ResourceShareArn, Tags: []ramtypes.Tag{{Key: aws.String("x"), Value: aws.String("y")}}})
	wantRAMError(t, err, "UnknownResourceException")
	_, err = w.consumer.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("steal"), ResourceArns: []string{*w.sn2.Arn}})
	wantRAMError(t, err, "UnknownResourceException")
	if as := need(w.consumer.GetResourceShareAssociations(ctx, &ram.GetResourceShareAssociationsInput{
		AssociationType: ramtypes.ResourceShareAssociationTypeResource, ResourceShareArns: []string{*private.ResourceShareArn}})).ok(t); len(as.ResourceShareAssociations) != 0 {
		t.Fatalf("consumer sees the private share's associations %+v", as.ResourceShareAssociations)
	}
	for _, s := range sharesOf(t, w.consumer, ramtypes.ResourceOwnerOtherAccounts) {
		if *s.ResourceShareArn == *private.ResourceShareArn {
			t.Fatal("consumer sees the owner's private share")
		}
	}
	if got := sharesOf(t, w.consumer, ramtypes.ResourceOwnerSelf); len(got) != 0 {
		t.Fatalf("consumer owns %+v", got)
	}
	if got := need(w.owner.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: ramtypes.ResourceOwnerSelf,
		Name: aws.String("network")})).ok(t).ResourceShares; len(got) != 1 || got[0].Tags[0].Value == nil || *got[0].Name != "network" {
		t.Fatalf("shares named network: %+v", got)
	}

	// Disassociating the service owner: it no longer sees the share.
	dis := need(w.owner.DisassociateResourceShare(ctx, &ram.DisassociateResourceShareInput{ResourceShareArn: sh.ResourceShareArn,
		Principals: []string{ramSvcOwner}})).ok(t).ResourceShareAssociations
	if len(dis) != 1 || dis[0].Status != ramtypes.ResourceShareAssociationStatusDisassociated {
		t.Fatalf("disassociate: %+v", dis)
	}
	if got := sharesOf(t, w.svcOwner, ramtypes.ResourceOwnerOtherAccounts); len(got) != 0 {
		t.Fatalf("service owner still sees %+v", got)
	}

	// Deleting the share: DELETED, nothing shared any more.
	if del := need(w.owner.DeleteResourceShare(ctx, &ram.DeleteResourceShareInput{ResourceShareArn: sh.ResourceShareArn})).ok(t); !*del.ReturnValue {
		t.Fatal("delete answered false")
	}
	got := need(w.owner.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: ramtypes.ResourceOwnerSelf,
		ResourceShareArns: []string{*sh.ResourceShareArn}})).ok(t).ResourceShares
	if len(got) != 1 || got[0].Status != ramtypes.ResourceShareStatusDeleted {
		t.Fatalf("deleted share: %+v", got)
	}
	if got := sharesOf(t, w.consumer, ramtypes.ResourceOwnerOtherAccounts); len(got) != 0 {
		t.Fatalf("consumer still sees %+v", got)
	}
	res = need(w.consumer.ListResources(ctx, &ram.ListResourcesInput{ResourceOwner: ramtypes.ResourceOwnerOtherAccounts})).ok(t).Resources
	if len(res) != 0 {
		t.Fatalf("consumer still has resources %+v", res)
	}
	_, err = w.owner.AssociateResourceShare(ctx, &ram.AssociateResourceShareInput{ResourceShareArn: sh.ResourceShareArn, Principals: []string{ramSvcOwner}})
	wantRAMError(t, err, "InvalidStateTransitionException")
}

func TestRAMRejectAndExternalPrincipals(t *testing.T) {
	t.Parallel()
	w := newRAMWorld(t)

	// allowExternalPrincipals=false refuses an account outside the
	// organization, and the refused call creates nothing.
	_, err := w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("internal"),
		ResourceArns: []string{*w.sn.Arn}, Principals: []string{ramConsumer}, AllowExternalPrincipals: aws.Bool(false)})
	wantRAMError(t, err, "OperationNotPermittedException")
	if got := sharesOf(t, w.owner, ramtypes.ResourceOwnerSelf); len(got) != 0 {
		t.Fatalf("a refused create left %+v", got)
	}
	if invs := need(w.consumer.GetResourceShareInvitations(ctx, &ram.GetResourceShareInvitationsInput{})).ok(t); len(invs.ResourceShareInvitations) != 0 {
		t.Fatalf("a refused create sent %+v", invs.ResourceShareInvitations)
	}
	// The organization itself is a principal: its accounts are associated.
	org := need(w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("org"),
		ResourceArns: []string{*w.svc.Arn}, Principals: []string{"arn:aws:organizations::" + ramOwner + ":organization/" + ramOrg},
		AllowExternalPrincipals: aws.Bool(false)})).ok(t).ResourceShare
	if got := sharesOf(t, w.svcOwner, ramtypes.ResourceOwnerOtherAccounts); len(got) != 1 || *got[0].ResourceShareArn != *org.ResourceShareArn {
		t.Fatalf("org member sees %+v", got)
	}
	if got := sharesOf(t, w.consumer, ramtypes.ResourceOwnerOtherAccounts); len(got) != 0 {
		t.Fatalf("outsider sees %+v", got)
	}
	// Another organization is not the owner's to share with.
	_, err = w.owner.AssociateResourceShare(ctx, &ram.AssociateResourceShareInput{ResourceShareArn: org.ResourceShareArn, Principals: []string{"o-zzzzzzzzzz"}})
	wantRAMError(t, err, "OperationNotPermittedException")

	sh := need(w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("ext"),
		ResourceArns: []string{*w.sn.Arn}, Principals: []string{ramConsumer}})).ok(t).ResourceShare
	inv := need(w.consumer.GetResourceShareInvitations(ctx, &ram.GetResourceShareInvitationsInput{})).ok(t).ResourceShareInvitations[0]
	rej := need(w.consumer.RejectResourceShareInvitation(ctx, &ram.RejectResourceShareInvitationInput{
		ResourceShareInvitationArn: inv.ResourceShareInvitationArn})).ok(t).ResourceShareInvitation
	if rej.Status != ramtypes.ResourceShareInvitationStatusRejected {
		t.Fatalf("rejected: %+v", rej)
	}
	_, err = w.consumer.AcceptResourceShareInvitation(ctx, &ram.AcceptResourceShareInvitationInput{ResourceShareInvitationArn: inv.ResourceShareInvitationArn})
	wantRAMError(t, err, "ResourceShareInvitationAlreadyRejectedException")
	if st := principalStatus(t, w.owner, *sh.ResourceShareArn); st[ramConsumer].Status != ramtypes.ResourceShareAssociationStatusDisassociated {
		t.Fatalf("after rejecting: %+v", st[ramConsumer])
	}
	if got := sharesOf(t, w.consumer, ramtypes.ResourceOwnerOtherAccounts); len(got) != 0 {
		t.Fatalf("consumer sees %+v after rejecting", got)
	}
}

func TestRAMErrors(t *testing.T) {
	t.Parallel()
	w := newRAMWorld(t)
	cases := []struct {
		name string
		in   *ram.CreateResourceShareInput
		code string
	}{
		{"malformed resource ARN", &ram.CreateResourceShareInput{Name: aws.String("x"), ResourceArns: []string{"arn:aws:vpc-lattice:nonsense"}}, "MalformedArnException"},
		{"an unknown resource configuration", &ram.CreateResourceShareInput{Name: aws.String("x"),
			ResourceArns: []string{"arn:aws:vpc-lattice:us-east-1:" + ramOwner + ":resourceconfiguration/rcfg-0123456789abcdef0"}}, "UnknownResourceException"},
		{"a target group", &ram.CreateResourceShareInput{Name: aws.String("x"),
			ResourceArns: []string{"arn:aws:vpc-lattice:us-east-1:" + ramOwner + ":targetgroup/tg-0123456789abcdef0"}}, "InvalidParameterException"},
		{"a service network that does not exist", &ram.CreateResourceShareInput{Name: aws.String("x"),
			ResourceArns: []string{"arn:aws:vpc-lattice:us-east-1:" + ramOwner + ":servicenetwork/sn-0123456789abcdef0"}}, "UnknownResourceException"},
		{"the consumer's network", &ram.CreateResourceShareInput{Name: aws.String("x"), ResourceArns: []string{*w.consumerSN.Arn}}, "UnknownResourceException"},
		{"an IAM role principal", &ram.CreateResourceShareInput{Name: aws.String("x"), Principals: []string{"arn:aws:iam::" + ramConsumer + ":role/r"}}, "InvalidParameterException"},
		{"a bad principal", &ram.CreateResourceShareInput{Name: aws.String("x"), Principals: []string{"12345"}}, "InvalidParameterException"},
		{"itself", &ram.CreateResourceShareInput{Name: aws.String("x"), Principals: []string{ramOwner}}, "InvalidParameterException"},
		{"a name with a newline", &ram.CreateResourceShareInput{Name: aws.String("a\nb")}, "InvalidParameterException"},
		{"permissions", &ram.CreateResourceShareInput{Name: aws.String("x"), PermissionArns: []string{"arn:aws:ram::aws:permission/AWSRAMDefaultPermissionServiceNetwork"}}, "InvalidParameterException"},
		{"aws: tag", &ram.CreateResourceShareInput{Name: aws.String("x"), Tags: []ramtypes.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}}, "InvalidParameterException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.owner.CreateResourceShare(ctx, tc.in)
			wantRAMError(t, err, tc.code)
		})
	}
	if got := sharesOf(t, w.owner, ramtypes.ResourceOwnerSelf); len(got) != 0 {
		t.Fatalf("refused creates left %+v", got)
	}
	_, err := w.owner.UpdateResourceShare(ctx, &ram.UpdateResourceShareInput{ResourceShareArn: aws.String("arn:aws:ram:us-east-1:" + ramOwner + ":resource-share/nope")})
	wantRAMError(t, err, "MalformedArnException")
	_, err = w.owner.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: "ME"})
	wantRAMError(t, err, "InvalidParameterException")

	types := need(w.consumer.ListResourceTypes(ctx, &ram.ListResourceTypesInput{})).ok(t).ResourceTypes
	var names []string
	for _, rt := range types {
		if *rt.ServiceName != "vpc-lattice" {
			t.Fatalf("resource type %+v", rt)
		}
		names = append(names, *rt.ResourceType)
	}
	if !slices.Equal(names, []string{"vpc-lattice:ResourceConfiguration", "vpc-lattice:Service", "vpc-lattice:ServiceNetwork"}) {
		t.Fatalf("resource types %v", names)
	}
}

func TestRAMPaging(t *testing.T) {
	t.Parallel()
	w := newRAMWorld(t)
	want := map[string]bool{}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		sh := need(w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String(n), ResourceArns: []string{*w.sn.Arn},
			Principals: []string{ramSvcOwner}})).ok(t).ResourceShare
		want[*sh.ResourceShareArn] = true
	}
	for _, c := range []struct {
		client *ram.Client
		owner  ramtypes.ResourceOwner
	}{{w.owner, ramtypes.ResourceOwnerSelf}, {w.svcOwner, ramtypes.ResourceOwnerOtherAccounts}} {
		seen := map[string]bool{}
		pages := 0
		p := ram.NewGetResourceSharesPaginator(c.client, &ram.GetResourceSharesInput{ResourceOwner: c.owner, MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			out := need(p.NextPage(ctx)).ok(t)
			pages++
			if len(out.ResourceShares) > 2 {
				t.Fatalf("page of %d", len(out.ResourceShares))
			}
			for _, s := range out.ResourceShares {
				if seen[*s.ResourceShareArn] {
					t.Fatalf("%s twice", *s.ResourceShareArn)
				}
				seen[*s.ResourceShareArn] = true
			}
		}
		if pages != 3 || len(seen) != len(want) {
			t.Fatalf("%s: %d pages, %d shares", c.owner, pages, len(seen))
		}
	}
	_, err := w.owner.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: ramtypes.ResourceOwnerSelf, NextToken: aws.String("bogus!")})
	wantRAMError(t, err, "InvalidNextTokenException")
	_, err = w.owner.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: ramtypes.ResourceOwnerSelf, MaxResults: aws.Int32(501)})
	wantRAMError(t, err, "InvalidMaxResultsException")
}

func TestRAMUpdateTagsAndFilters(t *testing.T) {
	t.Parallel()
	w := newRAMWorld(t)
	sh := need(w.owner.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("before"),
		ResourceArns: []string{*w.sn.Arn, *w.svc.Arn}, Principals: []string{ramSvcOwner}})).ok(t).ResourceShare
	up := need(w.owner.UpdateResourceShare(ctx, &ram.UpdateResourceShareInput{ResourceShareArn: sh.ResourceShareArn,
		Name: aws.String("after"), AllowExternalPrincipals: aws.Bool(false)})).ok(t).ResourceShare
	if *up.Name != "after" || *up.AllowExternalPrincipals {
		t.Fatalf("updated: %+v", up)
	}
	// Now closed to outsiders.
	_, err := w.owner.AssociateResourceShare(ctx, &ram.AssociateResourceShareInput{ResourceShareArn: sh.ResourceShareArn, Principals: []string{ramConsumer}})
	wantRAMError(t, err, "OperationNotPermittedException")

	need(w.owner.TagResource(ctx, &ram.TagResourceInput{ResourceShareArn: sh.ResourceShareArn,
		Tags: []ramtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("net")}}})).ok(t)
	need(w.owner.UntagResource(ctx, &ram.UntagResourceInput{ResourceShareArn: sh.ResourceShareArn, TagKeys: []string{"team"}})).ok(t)
	byTag := func(v string) int {
		return len(need(w.owner.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: ramtypes.ResourceOwnerSelf,
			TagFilters: []ramtypes.TagFilter{{TagKey: aws.String("env"), TagValues: []string{v}}}})).ok(t).ResourceShares)
	}
	if byTag("prod") != 1 || byTag("dev") != 0 {
		t.Fatalf("tag filter: prod %d, dev %d", byTag("prod"), byTag("dev"))
	}
	got := need(w.owner.GetResourceShares(ctx, &ram.GetResourceSharesInput{ResourceOwner: ramtypes.ResourceOwnerSelf})).ok(t).ResourceShares
	if len(got) != 1 || len(got[0].Tags) != 1 || *got[0].Tags[0].Key != "env" {
		t.Fatalf("tags after untag: %+v", got)
	}

	res := need(w.svcOwner.ListResources(ctx, &ram.ListResourcesInput{ResourceOwner: ramtypes.ResourceOwnerOtherAccounts,
		ResourceType: aws.String("vpc-lattice:Service")})).ok(t).Resources
	if len(res) != 1 || *res[0].Arn != *w.svc.Arn {
		t.Fatalf("services shared with the service owner: %+v", res)
	}
	res = need(w.owner.ListResources(ctx, &ram.ListResourcesInput{ResourceOwner: ramtypes.ResourceOwnerSelf, Principal: aws.String(ramConsumer)})).ok(t).Resources
	if len(res) != 0 {
		t.Fatalf("resources shared with the consumer: %+v", res)
	}
	as := need(w.owner.GetResourceShareAssociations(ctx, &ram.GetResourceShareAssociationsInput{
		AssociationType: ramtypes.ResourceShareAssociationTypeResource, ResourceArn: w.svc.Arn})).ok(t).ResourceShareAssociations
	if len(as) != 1 || as[0].Status != ramtypes.ResourceShareAssociationStatusAssociated || *as[0].ResourceShareName != "after" {
		t.Fatalf("resource associations: %+v", as)
	}
}
