package api_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ram"
	ramtypes "github.com/aws/aws-sdk-go-v2/service/ram/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// Cross-account Lattice through RAM shares (docs/ram.md "Cross-account
// Lattice"), as three accounts: the network owner A and the service owner
// B in one organization, the consumer C outside it.

const (
	xVpcB = "vpc-0000000000000b0b1"
	xVpcC = "vpc-0000000000000c0c1"
	// xPort is the first listener port: each test has its own (the data
	// plane tests' habit: unprivileged ports no other test uses), since
	// servers of parallel tests may get the same ingress address.
	xPort = 18477
)

type xWorld struct {
	s           *apptest.Server
	ca, cb, cc  creds
	la, lb, lc  *vpclattice.Client
	ra, rb, rc  *ram.Client
	sn, sn2     *vpclattice.CreateServiceNetworkOutput
	svc         *vpclattice.CreateServiceOutput
	backendHits func() int64
	port        int // the listener's
}

func newXWorld(t *testing.T, port int) *xWorld {
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
	w := &xWorld{s: s, ca: newAccountWithUser(t, s, ramOwner, "net"), cb: newAccountWithUser(t, s, ramSvcOwner, "svc"),
		cc: newAccountWithUser(t, s, ramConsumer, "app"), port: port}
	w.la, w.lb, w.lc = sdkAs(s, w.ca), sdkAs(s, w.cb), sdkAs(s, w.cc)
	w.ra, w.rb, w.rc = ramAs(s, w.ca), ramAs(s, w.cb), ramAs(s, w.cc)
	w.sn = need(w.la.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("shared-net")})).ok(t)
	w.sn2 = need(w.la.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("private-net")})).ok(t)

	// B's service: a real HTTP server behind an IP target group.
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			hits.Add(1)
		}
		fmt.Fprint(rw, "orders of B")
	}))
	t.Cleanup(backend.Close)
	w.backendHits = hits.Load
	targetPort := int32(backend.Listener.Addr().(*net.TCPAddr).Port)
	w.svc = need(w.lb.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders")})).ok(t)
	tg := need(w.lb.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("orders-tg"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(xVpcB),
			HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz")}}})).ok(t)
	need(w.lb.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(targetPort)}}})).ok(t)
	need(w.lb.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(int32(port)), DefaultAction: forward(map[string]int32{*tg.Id: 1})})).ok(t)
	return w
}

// shareNetwork shares A's network with the given principals; C, outside
// the organization, accepts its invitation.
func (w *xWorld) shareNetwork(t *testing.T, resource string, principals ...string) string {
	t.Helper()
	sh := need(w.ra.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("net-share"),
		ResourceArns: []string{resource}, Principals: principals})).ok(t).ResourceShare
	if slices.Contains(principals, ramConsumer) {
		acceptAll(t, w.rc)
	}
	return *sh.ResourceShareArn
}

func acceptAll(t *testing.T, c *ram.Client) {
	t.Helper()
	for _, inv := range need(c.GetResourceShareInvitations(ctx, &ram.GetResourceShareInvitationsInput{})).ok(t).ResourceShareInvitations {
		if inv.Status == ramtypes.ResourceShareInvitationStatusPending {
			need(c.AcceptResourceShareInvitation(ctx, &ram.AcceptResourceShareInvitationInput{ResourceShareInvitationArn: inv.ResourceShareInvitationArn})).ok(t)
		}
	}
}

func networkARNs(t *testing.T, c *vpclattice.Client) []string {
	t.Helper()
	var out []string
	for _, s := range need(c.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})).ok(t).Items {
		out = append(out, *s.Arn)
	}
	return out
}

func serviceARNs(t *testing.T, c *vpclattice.Client) []string {
	t.Helper()
	var out []string
	for _, s := range need(c.ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t).Items {
		out = append(out, *s.Arn)
	}
	return out
}

func snsaCount(t *testing.T, c *vpclattice.Client, sn string) int {
	t.Helper()
	return len(need(c.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{
		ServiceNetworkIdentifier: aws.String(sn)})).ok(t).Items)
}

func snvaCount(t *testing.T, c *vpclattice.Client, sn string) int {
	t.Helper()
	return len(need(c.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{
		ServiceNetworkIdentifier: aws.String(sn)})).ok(t).Items)
}

// callThrough sends GET / for host to the ingress of vpc (as C sees it)
// and returns the status, 0 when the connection fails.
func (w *xWorld) callThrough(t *testing.T, ingress, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d/", ingress, w.port), nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCrossAccountLatticeWalkthrough(t *testing.T) {
	t.Parallel()
	w := newXWorld(t, xPort+0)

	// Before any share: B cannot put its service in A's network, C
	// cannot associate its VPC with it, and nothing is created.
	_, err := w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, ServiceIdentifier: w.svc.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, VpcIdentifier: aws.String(xVpcC)})
	wantAPIError(t, err, "ResourceNotFoundException")
	if n, m := snsaCount(t, w.la, *w.sn.Id), snvaCount(t, w.la, *w.sn.Id); n != 0 || m != 0 {
		t.Fatalf("refused associations created %d service and %d VPC associations", n, m)
	}
	if got := networkARNs(t, w.lb); len(got) != 0 {
		t.Fatalf("B lists networks %v before any share", got)
	}

	// A shares the network with B (its organization: associated at once)
	// and C (outside: C accepts the invitation).
	shareArn := w.shareNetwork(t, *w.sn.Arn, ramSvcOwner, ramConsumer)

	// The directory: B and C list the shared network (its ARN carries A's
	// account), not A's other network; they read it by ARN, not by ID.
	for name, c := range map[string]*vpclattice.Client{"B": w.lb, "C": w.lc} {
		if got := networkARNs(t, c); len(got) != 1 || got[0] != *w.sn.Arn || !strings.Contains(got[0], ":"+ramOwner+":") {
			t.Fatalf("%s lists networks %v, want [%s]", name, got, *w.sn.Arn)
		}
		got := need(c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Arn})).ok(t)
		if *got.Id != *w.sn.Id || *got.Name != "shared-net" {
			t.Fatalf("%s reads %+v", name, got)
		}
		_, err := c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id})
		wantAPIError(t, err, "ResourceNotFoundException")
		_, err = c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: w.sn2.Arn})
		wantAPIError(t, err, "ResourceNotFoundException")
	}

	// Read-only: B cannot change, delete or read the policies of A's network.
	_, err = w.lb.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Arn, AuthType: types.AuthTypeAwsIam})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lb.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lb.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.sn.Arn, Policy: aws.String(crossPolicy)})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lb.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: w.sn.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lb.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: w.sn.Arn, Tags: map[string]string{"x": "y"}})
	wantAPIError(t, err, "ResourceNotFoundException")
	if sn := need(w.la.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id})).ok(t); sn.AuthType != types.AuthTypeNone {
		t.Fatalf("A's network changed: %+v", sn)
	}
	// By ID, another account's network is not found even when shared.
	_, err = w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ServiceIdentifier: w.svc.Id})
	wantAPIError(t, err, "ResourceNotFoundException")

	// B associates its service, C its VPC, each with A's network by ARN;
	// the associations carry the caller's account.
	snsa := need(w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, ServiceIdentifier: w.svc.Id})).ok(t)
	if !strings.Contains(*snsa.Arn, ":"+ramSvcOwner+":") || *snsa.CreatedBy != ramSvcOwner {
		t.Fatalf("B's association: %s by %s", *snsa.Arn, *snsa.CreatedBy)
	}
	snva := need(w.lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, VpcIdentifier: aws.String(xVpcC)})).ok(t)
	if !strings.Contains(*snva.Arn, ":"+ramConsumer+":") {
		t.Fatalf("C's association: %s", *snva.Arn)
	}
	// A sees both on its network; C does not see B's.
	if n, m := snsaCount(t, w.la, *w.sn.Id), snvaCount(t, w.la, *w.sn.Id); n != 1 || m != 1 {
		t.Fatalf("A sees %d service and %d VPC associations on its network, want 1 and 1", n, m)
	}
	need(w.la.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: snsa.Arn})).ok(t)
	need(w.la.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: snva.Id})).ok(t)
	_, err = w.lc.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: snsa.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	if n := snsaCount(t, w.lc, *w.sn.Arn); n != 0 {
		t.Fatalf("C lists %d of the network's service associations, want 0", n)
	}
	_, err = w.lb.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: snva.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	// Only C changes its association's security groups.
	_, err = w.la.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: snva.Arn, SecurityGroupIds: []string{"sg-0123456789abcdef0"}})
	wantAPIError(t, err, "ResourceNotFoundException")

	// The data plane: C's client calls B's service by its DNS name through
	// C's VPC ingress.
	ingress := call(t, w.s, w.cc, "GET", "/trellis/v1/vpcs/"+xVpcC, nil).obj(t)["ingressAddress"].(string)
	host := *w.svc.DnsEntry.DomainName
	var status int
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for status, body = w.callThrough(t, ingress, host); status != 200 && time.Now().Before(deadline); status, body = w.callThrough(t, ingress, host) {
		time.Sleep(50 * time.Millisecond)
	}
	if status != 200 || body != "orders of B" {
		t.Fatalf("C calls B's service through A's network: %d %q", status, body)
	}

	// Revocation: A takes C out of the share; C's association goes at
	// once, and the call is refused.
	need(w.ra.DisassociateResourceShare(ctx, &ram.DisassociateResourceShareInput{ResourceShareArn: aws.String(shareArn),
		Principals: []string{ramConsumer}})).ok(t)
	if m := snvaCount(t, w.la, *w.sn.Id); m != 0 {
		t.Fatalf("%d VPC associations after C left the share", m)
	}
	_, err = w.lc.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: snva.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	if n := snsaCount(t, w.la, *w.sn.Id); n != 1 {
		t.Fatalf("B's association went with C's share: %d left", n)
	}
	if got := networkARNs(t, w.lc); len(got) != 0 {
		t.Fatalf("C still lists %v", got)
	}
	deadline = time.Now().Add(10 * time.Second)
	for status, body = w.callThrough(t, ingress, host); status == 200 && time.Now().Before(deadline); status, body = w.callThrough(t, ingress, host) {
		time.Sleep(50 * time.Millisecond)
	}
	if status == 200 {
		t.Fatalf("C still reaches B's service after revocation: %q", body)
	}
	time.Sleep(200 * time.Millisecond)
	after := w.backendHits()
	if st, _ := w.callThrough(t, ingress, host); st == 200 || w.backendHits() != after {
		t.Fatalf("a call after revocation reached the service (%d, hits %d -> %d)", st, after, w.backendHits())
	}

	// Deleting the share removes B's association too.
	need(w.ra.DeleteResourceShare(ctx, &ram.DeleteResourceShareInput{ResourceShareArn: aws.String(shareArn)})).ok(t)
	if n := snsaCount(t, w.la, *w.sn.Id); n != 0 {
		t.Fatalf("%d service associations after the share was deleted", n)
	}
	_, err = w.lb.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: snsa.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	// A can now delete its network: nothing is left on it.
	need(w.la.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id})).ok(t)
}

func TestCrossAccountLatticeServiceShareAndNegatives(t *testing.T) {
	t.Parallel()
	w := newXWorld(t, xPort+1)

	// The network shared with B only: C cannot use it.
	netShare := w.shareNetwork(t, *w.sn.Arn, ramSvcOwner)
	_, err := w.lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, VpcIdentifier: aws.String(xVpcC)})
	wantAPIError(t, err, "ResourceNotFoundException")

	// B shares its service with A (same organization) and with C (C
	// accepts). A sees it in its directory and associates it with its own
	// network; C, sharing only the service, can associate nothing with it.
	svcShare := need(w.rb.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("svc-share"),
		ResourceArns: []string{*w.svc.Arn}, Principals: []string{ramOwner, ramConsumer}})).ok(t).ResourceShare
	acceptAll(t, w.rc)
	if got := serviceARNs(t, w.la); len(got) != 1 || got[0] != *w.svc.Arn {
		t.Fatalf("A lists services %v, want B's", got)
	}
	if got := need(w.lc.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Arn})).ok(t); *got.Name != "orders" {
		t.Fatalf("C reads %+v", got)
	}
	_, err = w.lc.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lc.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Arn, AuthType: types.AuthTypeAwsIam})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lc.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: w.svc.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.svc.Arn, VpcIdentifier: aws.String(xVpcC)})
	if err == nil {
		t.Fatal("C associated its VPC with a service ARN")
	}
	// C owns neither end of A's network and B's service.
	_, err = w.lc.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, ServiceIdentifier: w.svc.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	// B cannot put A's unshared network to use, nor associate A's network
	// with a service it does not own.
	_, err = w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn2.Arn, ServiceIdentifier: w.svc.Id})
	wantAPIError(t, err, "ResourceNotFoundException")

	// A associates B's shared service with A's private network; both A and
	// B see it, and B may remove it.
	snsa := need(w.la.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn2.Id, ServiceIdentifier: w.svc.Arn})).ok(t)
	if !strings.Contains(*snsa.Arn, ":"+ramOwner+":") {
		t.Fatalf("A's association %s", *snsa.Arn)
	}
	if got := need(w.lb.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{
		ServiceIdentifier: w.svc.Id})).ok(t).Items; len(got) != 1 || *got[0].Id != *snsa.Id {
		t.Fatalf("B sees its service's associations %+v", got)
	}
	need(w.lb.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: snsa.Id})).ok(t)
	if n := snsaCount(t, w.la, *w.sn2.Id); n != 0 {
		t.Fatalf("%d associations after B deleted it", n)
	}

	// Again, then B takes A out of the service's share: A's association
	// of B's service goes with it.
	snsa = need(w.la.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn2.Id, ServiceIdentifier: w.svc.Arn})).ok(t)
	// Also B's association with A's shared network, which stays: B owns
	// its service and the network is still shared with it.
	own := need(w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, ServiceIdentifier: w.svc.Id})).ok(t)
	need(w.rb.DisassociateResourceShare(ctx, &ram.DisassociateResourceShareInput{ResourceShareArn: svcShare.ResourceShareArn,
		Principals: []string{ramOwner}})).ok(t)
	_, err = w.la.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: snsa.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	need(w.lb.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: own.Id})).ok(t)
	if got := serviceARNs(t, w.la); len(got) != 0 {
		t.Fatalf("A still lists %v", got)
	}
	// A, the network owner, removes B's association with its network.
	need(w.la.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: own.Arn})).ok(t)

	// Deleting a shared network takes it out of its share.
	need(w.la.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id})).ok(t)
	res := need(w.ra.GetResourceShareAssociations(ctx, &ram.GetResourceShareAssociationsInput{
		AssociationType: ramtypes.ResourceShareAssociationTypeResource, ResourceShareArns: []string{netShare}})).ok(t).ResourceShareAssociations
	if len(res) != 1 || res[0].Status != ramtypes.ResourceShareAssociationStatusDisassociated {
		t.Fatalf("the deleted network's share associations: %+v", res)
	}
	if got := networkARNs(t, w.lb); len(got) != 0 {
		t.Fatalf("B still lists %v", got)
	}
}

// TestCrossAccountLatticeOrganizationShare: a share with the organization
// covers B while B is in it; taking the network out of the share, and B
// leaving the organization, each remove what it enabled.
func TestCrossAccountLatticeOrganizationShare(t *testing.T) {
	t.Parallel()
	w := newXWorld(t, xPort+2)
	sh := need(w.ra.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("org"),
		ResourceArns: []string{*w.sn.Arn, *w.sn2.Arn}, Principals: []string{ramOrg}})).ok(t).ResourceShare
	if got := networkARNs(t, w.lb); len(got) != 2 {
		t.Fatalf("B lists %v through its organization", got)
	}
	if got := networkARNs(t, w.lc); len(got) != 0 {
		t.Fatalf("C, outside the organization, lists %v", got)
	}
	assoc := func(sn *string) *vpclattice.CreateServiceNetworkServiceAssociationOutput {
		return need(w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
			ServiceNetworkIdentifier: sn, ServiceIdentifier: w.svc.Id})).ok(t)
	}
	a1, a2 := assoc(w.sn.Arn), assoc(w.sn2.Arn)
	vpc := need(w.lb.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn2.Arn, VpcIdentifier: aws.String(xVpcB)})).ok(t)

	// The first network leaves the share: only its association goes.
	need(w.ra.DisassociateResourceShare(ctx, &ram.DisassociateResourceShareInput{ResourceShareArn: sh.ResourceShareArn,
		ResourceArns: []string{*w.sn.Arn}})).ok(t)
	_, err := w.lb.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: a1.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	need(w.lb.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: a2.Id})).ok(t)

	// B leaves the organization: the share no longer covers it.
	if r := call(t, w.s, rootCreds(w.s), "PUT", "/trellis/v1/accounts/"+ramSvcOwner, map[string]any{"orgId": ""}); r.status != 200 {
		t.Fatalf("B leaves the organization: %d %s", r.status, r.body)
	}
	_, err = w.lb.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: a2.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lb.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: vpc.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	if n, m := snsaCount(t, w.la, *w.sn2.Id), snvaCount(t, w.la, *w.sn2.Id); n != 0 || m != 0 {
		t.Fatalf("%d service and %d VPC associations left on the network", n, m)
	}
	if got := networkARNs(t, w.lb); len(got) != 0 {
		t.Fatalf("B still lists %v", got)
	}
}

// TestCrossAccountLatticeOrganizationOwnerLeaves: RAM shares with an
// organization only from inside it. When the network's owner leaves the
// organization, its share stops covering the members: the service, VPC
// and resource associations they made on the network go.
func TestCrossAccountLatticeOrganizationOwnerLeaves(t *testing.T) {
	t.Parallel()
	w := newXWorld(t, xPort+5)
	need(w.ra.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("org"),
		ResourceArns: []string{*w.sn2.Arn}, Principals: []string{ramOrg}})).ok(t)
	snsa := need(w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn2.Arn, ServiceIdentifier: w.svc.Id})).ok(t)
	snva := need(w.lb.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn2.Arn, VpcIdentifier: aws.String(xVpcB)})).ok(t)
	gw := need(w.lb.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("b-gw"),
		VpcIdentifier: aws.String(xVpcB)})).ok(t)
	rc := need(w.lb.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("b-db"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: gw.Id, PortRanges: []string{"5432"},
		ResourceConfigurationDefinition: ipDef("10.0.0.5")})).ok(t)
	snra := need(w.lb.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: w.sn2.Arn, ResourceConfigurationIdentifier: rc.Id})).ok(t)

	// B leaving and rejoining would be B's change; here the owner leaves.
	if r := call(t, w.s, rootCreds(w.s), "PUT", "/trellis/v1/accounts/"+ramOwner, map[string]any{"orgId": ""}); r.status != 200 {
		t.Fatalf("A leaves the organization: %d %s", r.status, r.body)
	}
	_, err := w.lb.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: snsa.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lb.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: snva.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = w.lb.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: snra.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	if got := networkARNs(t, w.lb); len(got) != 0 {
		t.Fatalf("B still lists %v", got)
	}
	// And B cannot associate again.
	_, err = w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn2.Arn, ServiceIdentifier: w.svc.Id})
	if err == nil {
		t.Fatal("B associated with a network no share covers")
	}
}

// TestCrossAccountLatticeAuthPolicies: the network owner's auth policy and
// the service owner's both judge a call from the consumer's VPC (here by
// the source VPC's owner, a key anonymous callers have too).
func TestCrossAccountLatticeAuthPolicies(t *testing.T) {
	t.Parallel()
	w := newXWorld(t, xPort+3)
	w.shareNetwork(t, *w.sn.Arn, ramSvcOwner, ramConsumer)
	need(w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, ServiceIdentifier: w.svc.Id})).ok(t)
	need(w.lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, VpcIdentifier: aws.String(xVpcC)})).ok(t)
	ingress := call(t, w.s, w.cc, "GET", "/trellis/v1/vpcs/"+xVpcC, nil).obj(t)["ingressAddress"].(string)
	host := *w.svc.DnsEntry.DomainName
	policy := func(account string) *string {
		return aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",
			"Condition":{"StringEquals":{"vpc-lattice-svcs:SourceVpcOwnerAccount":"` + account + `"}}}]}`)
	}
	until := func(what string, ok func(int, string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, body := w.callThrough(t, ingress, host)
			if ok(st, body) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: last answer %d %q", what, st, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A's network admits VPCs of C; B's service admits them too.
	need(w.la.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.sn.Id, Policy: policy(ramConsumer)})).ok(t)
	need(w.la.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
	need(w.lb.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: policy(ramConsumer)})).ok(t)
	need(w.lb.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
	until("both policies admit C", func(st int, body string) bool { return st == 200 && body == "orders of B" })

	// B's service stops admitting C: denied by the service, whatever the network says.
	need(w.lb.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: policy(ramOwner)})).ok(t)
	until("the service's policy denies", func(st int, body string) bool { return st == 403 && strings.Contains(body, "service-based") })

	// B admits C again, A's network stops: denied by the network.
	need(w.lb.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: policy(ramConsumer)})).ok(t)
	need(w.la.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.sn.Id, Policy: policy(ramSvcOwner)})).ok(t)
	until("the network's policy denies", func(st int, body string) bool { return st == 403 && strings.Contains(body, "network-based") })

	// A, the network owner, removes C's VPC from its network (by the ID
	// its list shows); B, only a party of the service's associations,
	// cannot.
	items := need(w.la.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{
		ServiceNetworkIdentifier: w.sn.Id})).ok(t).Items
	if len(items) != 1 || *items[0].VpcId != xVpcC || *items[0].CreatedBy != ramConsumer {
		t.Fatalf("A's view of its network's VPC associations: %+v", items)
	}
	_, err := w.lb.DeleteServiceNetworkVpcAssociation(ctx, &vpclattice.DeleteServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: items[0].Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	need(w.la.DeleteServiceNetworkVpcAssociation(ctx, &vpclattice.DeleteServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: items[0].Id})).ok(t)
	_, err = w.lc.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: items[0].Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	until("the network owner's removal stops the calls", func(st int, _ string) bool { return st != 200 && st != 403 })
}
