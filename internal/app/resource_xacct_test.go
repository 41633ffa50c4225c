package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ram"
	ramtypes "github.com/aws/aws-sdk-go-v2/service/ram/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestResourceSharedAcrossAccounts: the resource path across three
// accounts, as Lattice's walkthrough has it. B owns a database (a TCP echo
// here) behind its resource gateway and shares the resource configuration
// with A through RAM; A, the network owner, accepts and associates it with
// its network by ARN; A shares the network with C, who accepts and
// associates its VPC. C's VPC resolves the association's generated name to
// the configuration's address in that VPC and reaches the database, but
// not B's unverified custom name (no DNS hijack across accounts). When B
// deletes its share, A's association goes (RAM revocation) and C's VPC no
// longer reaches it.
func TestResourceSharedAcrossAccounts(t *testing.T) {
	dnsPort := freeDNSPort(t)
	w := newWorld(t, apptest.Options{DNS: app.DNSConfig{Port: dnsPort, Upstreams: []string{testUpstream(t)}, TTL: time.Second}})
	port := freeLoopbackPort(t)
	tcpEcho(t, fmt.Sprintf("127.0.0.1:%d", port))
	creds := func(id string) aws.CredentialsProvider {
		if st, typ, body := nativeCall(t, w.s, "PUT", "/trellis/v1/accounts/"+id, nil); st != 201 {
			t.Fatalf("account %s: %d %s %s", id, st, typ, body)
		}
		st, typ, body := nativeCall(t, w.s, "POST", "/trellis/v1/accounts/"+id+"/accesskeys", nil)
		if st != 201 {
			t.Fatalf("key of %s: %d %s %s", id, st, typ, body)
		}
		var key struct{ AccessKeyID, SecretAccessKey string }
		if err := json.Unmarshal(body, &key); err != nil {
			t.Fatal(err)
		}
		return credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	}
	lattice := func(c aws.CredentialsProvider) *vpclattice.Client {
		return vpclattice.New(vpclattice.Options{Region: w.s.Region, BaseEndpoint: aws.String(w.s.Endpoint), Credentials: c, RetryMaxAttempts: 1})
	}
	ramOf := func(c aws.CredentialsProvider) *ram.Client {
		return ram.New(ram.Options{Region: w.s.Region, BaseEndpoint: aws.String(w.s.Endpoint), Credentials: c, RetryMaxAttempts: 1})
	}
	const acctB, acctC = "222233334444", "333344445555"
	const vpcB, vpcC = "vpc-00000000000000b01", "vpc-00000000000000c01"
	bCreds, cCreds := creds(acctB), creds(acctC)
	lb, lc := lattice(bCreds), lattice(cCreds)
	ra, rb, rc := ramOf(credentials.NewStaticCredentialsProvider(w.s.AccessKeyID, w.s.SecretAccessKey, "")), ramOf(bCreds), ramOf(cCreds)
	// Each account's VPC, declared by a target group of its own (as a
	// Lattice target group names its VPC).
	for _, x := range []struct {
		c   *vpclattice.Client
		vpc string
	}{{lb, vpcB}, {lc, vpcC}} {
		need(x.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("declares-vpc"), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(x.vpc)}})).ok(t)
	}
	accept := func(r *ram.Client) {
		t.Helper()
		inv := need(r.GetResourceShareInvitations(ctx, &ram.GetResourceShareInvitationsInput{})).ok(t)
		for _, i := range inv.ResourceShareInvitations {
			if i.Status == ramtypes.ResourceShareInvitationStatusPending {
				need(r.AcceptResourceShareInvitation(ctx, &ram.AcceptResourceShareInvitationInput{ResourceShareInvitationArn: i.ResourceShareInvitationArn})).ok(t)
				return
			}
		}
		t.Fatalf("no pending invitation: %+v", inv.ResourceShareInvitations)
	}

	// B: the gateway and the configuration, shared with A.
	gw := need(lb.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("b-gw"), VpcIdentifier: aws.String(vpcB)})).ok(t)
	// Its custom name is one B does not control (the upstream answers
	// up.example): B has no verification of it.
	cfg := need(lb.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("b-db"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: gw.Id, PortRanges: []string{fmt.Sprint(port)},
		CustomDomainName:                aws.String("up.example"),
		ResourceConfigurationDefinition: &types.ResourceConfigurationDefinitionMemberIpResource{Value: types.IpResource{IpAddress: aws.String("127.0.0.1")}}})).ok(t)
	share := need(rb.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("db-to-a"),
		ResourceArns: []string{*cfg.Arn}, Principals: []string{w.s.Account}})).ok(t).ResourceShare
	// Before A accepts, A cannot associate it.
	_, err := w.c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ResourceConfigurationIdentifier: cfg.Arn})
	if err == nil {
		t.Fatal("A associated B's configuration before accepting the share")
	}
	accept(ra)
	assoc := need(w.c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ResourceConfigurationIdentifier: cfg.Arn, PrivateDnsEnabled: aws.Bool(true)})).ok(t)
	gen := aws.ToString(need(w.c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{
		ServiceNetworkResourceAssociationIdentifier: assoc.Id})).ok(t).DnsEntry.DomainName)

	// A shares its network with C; C accepts and associates its VPC.
	need(ra.CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("net-to-c"),
		ResourceArns: []string{*w.sn.Arn}, Principals: []string{acctC}})).ok(t)
	accept(rc)
	need(lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, VpcIdentifier: aws.String(vpcC)})).ok(t)

	// C's VPC: its resolver answers the generated name with the
	// configuration's address there, and the database answers.
	var dnsServer string
	eventually(t, 5*time.Second, "C's VPC in the snapshot", func() bool {
		v := w.s.App.Snapshot().VPCs[vpcC]
		if v == nil || !v.Ingress.IsValid() {
			return false
		}
		dnsServer = net.JoinHostPort(v.Ingress.String(), fmt.Sprint(dnsPort))
		return true
	})
	rsrc := resolveA(t, dnsServer, gen, 5*time.Second)
	addr := net.JoinHostPort(rsrc, fmt.Sprint(port))
	// B's unverified custom name is not answered in C's VPC (its
	// association has the default preference, VERIFIED_DOMAINS_ONLY):
	// C resolves up.example as everyone does, not to B's resource.
	waitAnswer(t, dnsServer, "up.example", "192.0.2.1", 5*time.Second)
	var last error
	eventually(t, 5*time.Second, "C reaches B's database through A's network", func() bool { last = roundTrip(addr); return last == nil })

	// B deletes its share: A's association goes with it, and C's VPC no
	// longer reaches the database or resolves its name.
	need(rb.DeleteResourceShare(ctx, &ram.DeleteResourceShareInput{ResourceShareArn: share.ResourceShareArn})).ok(t)
	_, err = w.c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{
		ServiceNetworkResourceAssociationIdentifier: assoc.Id})
	if err == nil {
		t.Fatal("A's association of B's configuration outlived B's share")
	}
	eventually(t, 5*time.Second, "the resource socket in C's VPC to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	waitAnswer(t, dnsServer, gen, "NXDOMAIN", 5*time.Second)
}
