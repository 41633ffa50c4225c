package api_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestSNVADNSOptionsSDK: CreateServiceNetworkVpcAssociation refuses a
// privateDnsSpecifiedDomains entry that is not a domain name (a wildcard
// only as a leading *.), naming the field and storing nothing, and stores
// and answers valid dnsOptions.
func TestSNVADNSOptionsSDK(t *testing.T) {
	ctx := context.Background()
	s := apptest.Start(t)
	c := newClient(s)
	const vpc = "vpc-0000000000000d001"
	if st, _, b := raw(t, s, "PUT", "/trellis/v1/vpcs/"+vpc, map[string]any{"mode": "host"}); st != 201 {
		t.Fatalf("PUT vpc: %d %s", st, b)
	}
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net")})).ok(t)
	in := func(pref types.PrivateDnsPreference, domains ...string) *vpclattice.CreateServiceNetworkVpcAssociationInput {
		return &vpclattice.CreateServiceNetworkVpcAssociationInput{ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpc),
			DnsOptions: &types.DnsOptions{PrivateDnsPreference: pref, PrivateDnsSpecifiedDomains: domains}}
	}
	for _, bad := range [][]string{{"a.*.example.com"}, {"*"}, {"db.example.com", "bad..example.com"}, {"**.example.com"}, {"*example.com"},
		{"db.example.com."}, {"db.example.com/x"}} {
		_, err := c.CreateServiceNetworkVpcAssociation(ctx, in(types.PrivateDnsPreferenceSpecifiedDomainsOnly, bad...))
		wantFields(t, err, "dnsOptions.privateDnsSpecifiedDomains")
	}
	if l := need(c.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{ServiceNetworkIdentifier: sn.Id})).ok(t); len(l.Items) != 0 {
		t.Fatalf("a refused association was stored: %+v", l.Items)
	}
	a := need(c.CreateServiceNetworkVpcAssociation(ctx, in(types.PrivateDnsPreferenceVerifiedDomainsAndSpecifiedDomains, "*.Example.com", "db.example.org"))).ok(t)
	g := need(c.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: a.Id})).ok(t)
	if o := g.DnsOptions; o == nil || o.PrivateDnsPreference != types.PrivateDnsPreferenceVerifiedDomainsAndSpecifiedDomains ||
		len(o.PrivateDnsSpecifiedDomains) != 2 || o.PrivateDnsSpecifiedDomains[0] != "*.Example.com" {
		t.Fatalf("dnsOptions %+v", g.DnsOptions)
	}
}
