package api_test

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ram"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/model"
)

// Resource gateways, resource configurations, their service-network
// associations and domain verification through the official SDK
// (docs/resources.md).

const (
	rVpc  = "vpc-0000000000000e0e1"
	rVpc2 = "vpc-0000000000000e0e2"
	rSG   = "sg-0000000000000e0e1"
	rSG2  = "sg-0000000000000e0e2" // in rVpc2
)

// resourceWorld is a server whose root account has two VPCs, a security
// group in each.
func resourceWorld(t *testing.T, o apptest.Options) (*apptest.Server, *vpclattice.Client) {
	t.Helper()
	s := apptest.StartWith(t, o)
	root := rootCreds(s)
	for _, v := range []string{rVpc, rVpc2} {
		want(t, "put vpc", call(t, s, root, "PUT", "/trellis/v1/vpcs/"+v, nil), 201, "")
	}
	for sg, v := range map[string]string{rSG: rVpc, rSG2: rVpc2} {
		want(t, "put sg", call(t, s, root, "PUT", "/trellis/v1/security-groups/"+sg,
			map[string]any{"vpcId": v, "ingress": []map[string]any{{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidr": "10.0.0.0/8"}}}), 201, "")
	}
	return s, newClient(s)
}

func newGateway(t *testing.T, c *vpclattice.Client, name string) *vpclattice.CreateResourceGatewayOutput {
	t.Helper()
	return need(c.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String(name),
		VpcIdentifier: aws.String(rVpc), SubnetIds: []string{"subnet-0123456789abcdef0"}, SecurityGroupIds: []string{rSG}})).ok(t)
}

func TestResourceGatewaysSDK(t *testing.T) {
	t.Parallel()
	s, c := resourceWorld(t, apptest.Options{})
	g := newGateway(t, c, "gw-one")
	if g.Status != types.ResourceGatewayStatusActive || *g.VpcIdentifier != rVpc || !strings.HasPrefix(*g.Id, "rgw-") ||
		g.IpAddressType != types.ResourceGatewayIpAddressTypeIpv4 || *g.Ipv4AddressesPerEni != 16 ||
		!strings.HasSuffix(*g.Arn, ":resourcegateway/"+*g.Id) || len(g.SubnetIds) != 1 || g.SecurityGroupIds[0] != rSG {
		t.Fatalf("create: %+v", g)
	}
	got := need(c.GetResourceGateway(ctx, &vpclattice.GetResourceGatewayInput{ResourceGatewayIdentifier: g.Arn})).ok(t)
	if *got.VpcId != rVpc || *got.Name != "gw-one" || got.CreatedAt == nil || got.LastUpdatedAt == nil {
		t.Fatalf("get: %+v", got)
	}

	// Validation names the field and changes nothing.
	for _, tc := range []struct {
		in    vpclattice.CreateResourceGatewayInput
		field string
	}{
		{vpclattice.CreateResourceGatewayInput{Name: aws.String("rgw-bad"), VpcIdentifier: aws.String(rVpc)}, "name"},
		{vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-x")}, "vpcIdentifier"},
		{vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-x"), VpcIdentifier: aws.String(rVpc), SubnetIds: []string{"sub-1"}}, "subnetIds"},
		{vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-x"), VpcIdentifier: aws.String(rVpc), Ipv4AddressesPerEni: aws.Int32(63)}, "ipv4AddressesPerEni"},
		{vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-x"), VpcIdentifier: aws.String(rVpc), SecurityGroupIds: []string{rSG2}}, "securityGroupIds"},
		{vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-x"), VpcIdentifier: aws.String("vpc-00000000000009999")}, "vpcIdentifier"},
	} {
		_, err := c.CreateResourceGateway(ctx, &tc.in)
		wantFields(t, err, tc.field)
	}
	_, err := c.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-one"), VpcIdentifier: aws.String(rVpc)})
	wantAPIError(t, err, "ConflictException")

	// Idempotent create: the same token and input answer the first result.
	in := &vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-two"), VpcIdentifier: aws.String(rVpc), ClientToken: aws.String("tok-1")}
	a := need(c.CreateResourceGateway(ctx, in)).ok(t)
	b := need(c.CreateResourceGateway(ctx, in)).ok(t)
	if *a.Id != *b.Id {
		t.Fatalf("idempotent create made %s and %s", *a.Id, *b.Id)
	}
	newGateway(t, c, "gw-three")

	// List pages.
	var ids []string
	for p := vpclattice.NewListResourceGatewaysPaginator(c, &vpclattice.ListResourceGatewaysInput{MaxResults: aws.Int32(2)}); p.HasMorePages(); {
		out := need(p.NextPage(ctx)).ok(t)
		if len(out.Items) > 2 {
			t.Fatalf("page of %d", len(out.Items))
		}
		for _, it := range out.Items {
			ids = append(ids, *it.Id)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("listed %v", ids)
	}

	// Update: the security groups, checked against the gateway's VPC.
	_, err = c.UpdateResourceGateway(ctx, &vpclattice.UpdateResourceGatewayInput{ResourceGatewayIdentifier: g.Id, SecurityGroupIds: []string{rSG2}})
	wantFields(t, err, "securityGroupIds")
	up := need(c.UpdateResourceGateway(ctx, &vpclattice.UpdateResourceGatewayInput{ResourceGatewayIdentifier: g.Id, SecurityGroupIds: []string{}})).ok(t)
	if len(up.SecurityGroupIds) != 0 || *up.VpcId != rVpc {
		t.Fatalf("update: %+v", up)
	}

	// Tags work on the new ARN.
	need(c.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: g.Arn, Tags: map[string]string{"team": "db"}})).ok(t)
	if tg := need(c.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: g.Arn})).ok(t); tg.Tags["team"] != "db" {
		t.Fatalf("tags %v", tg.Tags)
	}

	// Another account sees nothing of it.
	other := sdkAs(s, newAccountWithUser(t, s, acctB, "bob"))
	_, err = other.GetResourceGateway(ctx, &vpclattice.GetResourceGatewayInput{ResourceGatewayIdentifier: g.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	if l := need(other.ListResourceGateways(ctx, &vpclattice.ListResourceGatewaysInput{})).ok(t); len(l.Items) != 0 {
		t.Fatalf("B lists %d gateways", len(l.Items))
	}
	_, err = other.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-b"), VpcIdentifier: aws.String(rVpc)})
	wantFields(t, err, "vpcIdentifier")

	// Delete: refused while a configuration uses the gateway.
	rc := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("db-main"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: g.Id, PortRanges: []string{"5432"},
		ResourceConfigurationDefinition: &types.ResourceConfigurationDefinitionMemberIpResource{Value: types.IpResource{IpAddress: aws.String("10.0.0.5")}}})).ok(t)
	_, err = c.DeleteResourceGateway(ctx, &vpclattice.DeleteResourceGatewayInput{ResourceGatewayIdentifier: g.Id})
	wantAPIError(t, err, "ConflictException")
	need(c.DeleteResourceConfiguration(ctx, &vpclattice.DeleteResourceConfigurationInput{ResourceConfigurationIdentifier: rc.Id})).ok(t)
	d := need(c.DeleteResourceGateway(ctx, &vpclattice.DeleteResourceGatewayInput{ResourceGatewayIdentifier: g.Id})).ok(t)
	if d.Status != types.ResourceGatewayStatusDeleteInProgress || *d.Name != "gw-one" {
		t.Fatalf("delete: %+v", d)
	}
	_, err = c.GetResourceGateway(ctx, &vpclattice.GetResourceGatewayInput{ResourceGatewayIdentifier: g.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
}

func ipDef(ip string) types.ResourceConfigurationDefinition {
	return &types.ResourceConfigurationDefinitionMemberIpResource{Value: types.IpResource{IpAddress: aws.String(ip)}}
}

func TestResourceConfigurationsSDK(t *testing.T) {
	t.Parallel()
	_, c := resourceWorld(t, apptest.Options{})
	g := newGateway(t, c, "gw-main")

	single := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("db-main"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: g.Arn, PortRanges: []string{"5432", "8000-8100"},
		ResourceConfigurationDefinition: &types.ResourceConfigurationDefinitionMemberDnsResource{Value: types.DnsResource{
			DomainName: aws.String("db.internal.example"), IpAddressType: types.ResourceConfigurationIpAddressTypeIpv4}}})).ok(t)
	if single.Protocol != types.ProtocolTypeTcp || *single.ResourceGatewayId != *g.Id || single.Status != types.ResourceConfigurationStatusActive ||
		!*single.AllowAssociationToShareableServiceNetwork || len(single.PortRanges) != 2 {
		t.Fatalf("create: %+v", single)
	}
	got := need(c.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: single.Id})).ok(t)
	dns, ok := got.ResourceConfigurationDefinition.(*types.ResourceConfigurationDefinitionMemberDnsResource)
	if !ok || *dns.Value.DomainName != "db.internal.example" || got.CreatedAt == nil || got.LastUpdatedAt == nil || got.Type != types.ResourceConfigurationTypeSingle {
		t.Fatalf("get: %+v", got)
	}

	// Validation, per type.
	for _, tc := range []struct {
		name  string
		in    vpclattice.CreateResourceConfigurationInput
		field string
	}{
		{"bad type", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: "BOGUS"}, "type"},
		{"reserved name", vpclattice.CreateResourceConfigurationInput{Name: aws.String("rcfg-a"), Type: types.ResourceConfigurationTypeGroup,
			ResourceGatewayIdentifier: g.Id, PortRanges: []string{"80"}}, "name"},
		{"bad range", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: types.ResourceConfigurationTypeSingle,
			ResourceGatewayIdentifier: g.Id, PortRanges: []string{"90-80"}, ResourceConfigurationDefinition: ipDef("10.0.0.1")}, "portRanges"},
		{"port 0", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: types.ResourceConfigurationTypeSingle,
			ResourceGatewayIdentifier: g.Id, PortRanges: []string{"0"}, ResourceConfigurationDefinition: ipDef("10.0.0.1")}, "portRanges"},
		{"no ports", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: types.ResourceConfigurationTypeSingle,
			ResourceGatewayIdentifier: g.Id, ResourceConfigurationDefinition: ipDef("10.0.0.1")}, "portRanges"},
		{"bad ip", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: types.ResourceConfigurationTypeSingle,
			ResourceGatewayIdentifier: g.Id, PortRanges: []string{"80"}, ResourceConfigurationDefinition: ipDef("10.0.0.300")},
			"resourceConfigurationDefinition.ipResource.ipAddress"},
		{"no gateway", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: types.ResourceConfigurationTypeSingle,
			PortRanges: []string{"80"}, ResourceConfigurationDefinition: ipDef("10.0.0.1")}, "resourceGatewayIdentifier"},
		{"group with definition", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: types.ResourceConfigurationTypeGroup,
			ResourceGatewayIdentifier: g.Id, PortRanges: []string{"80"}, ResourceConfigurationDefinition: ipDef("10.0.0.1")}, "resourceConfigurationDefinition"},
		{"arn with ip", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: types.ResourceConfigurationTypeArn,
			ResourceGatewayIdentifier: g.Id, ResourceConfigurationDefinition: ipDef("10.0.0.1")}, "resourceConfigurationDefinition.arnResource"},
		{"child without group", vpclattice.CreateResourceConfigurationInput{Name: aws.String("x-a"), Type: types.ResourceConfigurationTypeChild,
			ResourceConfigurationDefinition: ipDef("10.0.0.1")}, "resourceConfigurationGroupIdentifier"},
	} {
		_, err := c.CreateResourceConfiguration(ctx, &tc.in)
		if err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
		wantFields(t, err, tc.field)
	}
	if l := need(c.ListResourceConfigurations(ctx, &vpclattice.ListResourceConfigurationsInput{})).ok(t); len(l.Items) != 1 {
		t.Fatalf("refused creates left %d configurations", len(l.Items))
	}

	// GROUP and CHILD: the child takes the group's gateway and ports.
	grp := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("grp"),
		Type: types.ResourceConfigurationTypeGroup, ResourceGatewayIdentifier: g.Id, PortRanges: []string{"443"}})).ok(t)
	child := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("kid-one"),
		Type: types.ResourceConfigurationTypeChild, ResourceConfigurationGroupIdentifier: grp.Arn, ResourceConfigurationDefinition: ipDef("10.0.0.9")})).ok(t)
	if *child.ResourceConfigurationGroupId != *grp.Id || *child.ResourceGatewayId != *g.Id || child.PortRanges[0] != "443" {
		t.Fatalf("child: %+v", child)
	}
	_, err := c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("kid2"),
		Type: types.ResourceConfigurationTypeChild, ResourceConfigurationGroupIdentifier: single.Id, ResourceConfigurationDefinition: ipDef("10.0.0.9")})
	wantFields(t, err, "resourceConfigurationGroupIdentifier")
	arnCfg := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("rds-one"),
		Type: types.ResourceConfigurationTypeArn, ResourceGatewayIdentifier: g.Id,
		ResourceConfigurationDefinition: &types.ResourceConfigurationDefinitionMemberArnResource{Value: types.ArnResource{
			Arn: aws.String("arn:aws:rds:us-east-1:123456789012:db:mydb")}}})).ok(t)
	if arnCfg.Type != types.ResourceConfigurationTypeArn {
		t.Fatalf("arn: %+v", arnCfg)
	}

	// Update: ports of a GROUP reach its children.
	up := need(c.UpdateResourceConfiguration(ctx, &vpclattice.UpdateResourceConfigurationInput{ResourceConfigurationIdentifier: grp.Id,
		PortRanges: []string{"443", "8443"}, AllowAssociationToShareableServiceNetwork: aws.Bool(false)})).ok(t)
	if len(up.PortRanges) != 2 || *up.AllowAssociationToShareableServiceNetwork {
		t.Fatalf("update: %+v", up)
	}
	if k := need(c.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: child.Id})).ok(t); len(k.PortRanges) != 2 {
		t.Fatalf("child ports %v", k.PortRanges)
	}
	_, err = c.UpdateResourceConfiguration(ctx, &vpclattice.UpdateResourceConfigurationInput{ResourceConfigurationIdentifier: child.Id, PortRanges: []string{"1"}})
	wantFields(t, err, "portRanges")
	_, err = c.UpdateResourceConfiguration(ctx, &vpclattice.UpdateResourceConfigurationInput{ResourceConfigurationIdentifier: single.Id, ResourceConfigurationDefinition: ipDef("nope")})
	wantFields(t, err, "resourceConfigurationDefinition.ipResource.ipAddress")
	u2 := need(c.UpdateResourceConfiguration(ctx, &vpclattice.UpdateResourceConfigurationInput{ResourceConfigurationIdentifier: single.Id, ResourceConfigurationDefinition: ipDef("10.1.2.3")})).ok(t)
	if ip, ok := u2.ResourceConfigurationDefinition.(*types.ResourceConfigurationDefinitionMemberIpResource); !ok || *ip.Value.IpAddress != "10.1.2.3" {
		t.Fatalf("update definition: %+v", u2.ResourceConfigurationDefinition)
	}

	// List filters and pages.
	kids := need(c.ListResourceConfigurations(ctx, &vpclattice.ListResourceConfigurationsInput{ResourceConfigurationGroupIdentifier: grp.Id})).ok(t)
	if len(kids.Items) != 1 || *kids.Items[0].Id != *child.Id {
		t.Fatalf("children %+v", kids.Items)
	}
	n := 0
	for p := vpclattice.NewListResourceConfigurationsPaginator(c, &vpclattice.ListResourceConfigurationsInput{MaxResults: aws.Int32(1),
		ResourceGatewayIdentifier: g.Id}); p.HasMorePages(); {
		n += len(need(p.NextPage(ctx)).ok(t).Items)
	}
	if n != 4 {
		t.Fatalf("listed %d configurations of the gateway, want 4", n)
	}

	// Delete: a GROUP with children is refused.
	_, err = c.DeleteResourceConfiguration(ctx, &vpclattice.DeleteResourceConfigurationInput{ResourceConfigurationIdentifier: grp.Id})
	wantAPIError(t, err, "ConflictException")
	need(c.DeleteResourceConfiguration(ctx, &vpclattice.DeleteResourceConfigurationInput{ResourceConfigurationIdentifier: child.Id})).ok(t)
	need(c.DeleteResourceConfiguration(ctx, &vpclattice.DeleteResourceConfigurationInput{ResourceConfigurationIdentifier: grp.Id})).ok(t)
}

func TestServiceNetworkResourceAssociationsSDK(t *testing.T) {
	t.Parallel()
	s, c := resourceWorld(t, apptest.Options{})
	g := newGateway(t, c, "gw-main")
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net-main")})).ok(t)
	grp := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("grp"),
		Type: types.ResourceConfigurationTypeGroup, ResourceGatewayIdentifier: g.Id, PortRanges: []string{"443"}})).ok(t)
	child := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("kid-one"),
		Type: types.ResourceConfigurationTypeChild, ResourceConfigurationGroupIdentifier: grp.Id, ResourceConfigurationDefinition: ipDef("10.0.0.9")})).ok(t)

	_, err := c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ResourceConfigurationIdentifier: child.Id})
	wantFields(t, err, "resourceConfigurationIdentifier")
	// allowAssociationToShareableServiceNetwork=false keeps it out of a
	// shareable network (the default), not out of one with sharing off.
	private := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("private-db"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: g.Id, PortRanges: []string{"5432"},
		ResourceConfigurationDefinition: ipDef("10.0.0.7"), AllowAssociationToShareableServiceNetwork: aws.Bool(false)})).ok(t)
	_, err = c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ResourceConfigurationIdentifier: private.Id})
	wantFields(t, err, "resourceConfigurationIdentifier")
	closed := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("closed-net"),
		SharingConfig: &types.SharingConfig{Enabled: aws.Bool(false)}})).ok(t)
	pa := need(c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: closed.Id, ResourceConfigurationIdentifier: private.Id})).ok(t)
	need(c.DeleteServiceNetworkResourceAssociation(ctx, &vpclattice.DeleteServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: pa.Id})).ok(t)
	a := need(c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: sn.Arn, ResourceConfigurationIdentifier: grp.Id, PrivateDnsEnabled: aws.Bool(true)})).ok(t)
	if a.Status != types.ServiceNetworkResourceAssociationStatusActive || !strings.HasPrefix(*a.Id, "snra-") || !*a.PrivateDnsEnabled || *a.CreatedBy != s.Account {
		t.Fatalf("create: %+v", a)
	}
	_, err = c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ResourceConfigurationIdentifier: grp.Id})
	wantAPIError(t, err, "ConflictException")
	got := need(c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: a.Arn})).ok(t)
	if *got.ServiceNetworkName != "net-main" || *got.ResourceConfigurationName != "grp" || *got.ResourceConfigurationArn != *grp.Arn {
		t.Fatalf("get: %+v", got)
	}
	l := need(c.ListServiceNetworkResourceAssociations(ctx, &vpclattice.ListServiceNetworkResourceAssociationsInput{ServiceNetworkIdentifier: sn.Id})).ok(t)
	if len(l.Items) != 1 {
		t.Fatalf("list: %d items", len(l.Items))
	}
	l = need(c.ListServiceNetworkResourceAssociations(ctx, &vpclattice.ListServiceNetworkResourceAssociationsInput{ServiceNetworkIdentifier: sn.Id, IncludeChildren: aws.Bool(true)})).ok(t)
	if len(l.Items) != 2 || *l.Items[1].ResourceConfigurationId != *child.Id || !*l.Items[1].IsManagedAssociation {
		t.Fatalf("list with children: %+v", l.Items)
	}
	// Generated names (Lattice's shape): the association's under
	// vpc-lattice-rsc, each child one label below it.
	gen := *a.Id + "." + *grp.Id + "."
	zone := ".vpc-lattice-rsc.us-east-1.on.aws"
	if e := got.DnsEntry; e == nil || !strings.HasPrefix(*e.DomainName, gen) || !strings.HasSuffix(*e.DomainName, zone) || *e.HostedZoneId == "" {
		t.Fatalf("get dnsEntry: %+v", e)
	}
	if e := l.Items[0].DnsEntry; e == nil || *e.DomainName != *got.DnsEntry.DomainName || *e.HostedZoneId != *got.DnsEntry.HostedZoneId {
		t.Fatalf("list dnsEntry: %+v", e)
	}
	if e := l.Items[1].DnsEntry; e == nil || *e.DomainName != *child.Id+"."+*got.DnsEntry.DomainName {
		t.Fatalf("child dnsEntry: %+v", e)
	}

	// The associated configuration and network stay.
	_, err = c.DeleteResourceConfiguration(ctx, &vpclattice.DeleteResourceConfigurationInput{ResourceConfigurationIdentifier: grp.Id})
	wantAPIError(t, err, "ConflictException")

	_, err = c.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: sn.Id})
	wantAPIError(t, err, "ConflictException")

	// Another account neither sees nor uses them.
	other := sdkAs(s, newAccountWithUser(t, s, acctB, "bob"))
	_, err = other.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: a.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	if l := need(other.ListServiceNetworkResourceAssociations(ctx, &vpclattice.ListServiceNetworkResourceAssociationsInput{})).ok(t); len(l.Items) != 0 {
		t.Fatalf("B lists %d", len(l.Items))
	}
	bsn := need(other.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("bnet")})).ok(t)
	_, err = other.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: bsn.Id, ResourceConfigurationIdentifier: grp.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = other.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: grp.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")

	d := need(c.DeleteServiceNetworkResourceAssociation(ctx, &vpclattice.DeleteServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: a.Id})).ok(t)
	if d.Status != types.ServiceNetworkResourceAssociationStatusDeleteInProgress {
		t.Fatalf("delete: %+v", d)
	}
	_, err = c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: a.Id})
	wantAPIError(t, err, "ResourceNotFoundException")

	// VPC endpoints: Trellis has none; the lists are empty and validated.
	ep := need(c.ListServiceNetworkVpcEndpointAssociations(ctx, &vpclattice.ListServiceNetworkVpcEndpointAssociationsInput{ServiceNetworkIdentifier: sn.Id})).ok(t)
	if len(ep.Items) != 0 || ep.NextToken != nil {
		t.Fatalf("vpc endpoint associations: %+v", ep)
	}
	_, err = c.ListServiceNetworkVpcEndpointAssociations(ctx, &vpclattice.ListServiceNetworkVpcEndpointAssociationsInput{ServiceNetworkIdentifier: aws.String("sn-bad")})
	wantFields(t, err, "serviceNetworkIdentifier")
	rea := need(c.ListResourceEndpointAssociations(ctx, &vpclattice.ListResourceEndpointAssociationsInput{ResourceConfigurationIdentifier: grp.Id})).ok(t)
	if len(rea.Items) != 0 {
		t.Fatalf("resource endpoint associations: %+v", rea)
	}
	_, err = c.ListResourceEndpointAssociations(ctx, &vpclattice.ListResourceEndpointAssociationsInput{ResourceConfigurationIdentifier: grp.Id, VpcEndpointId: aws.String("vpce-x")})
	wantFields(t, err, "vpcEndpointId")
	_, err = c.DeleteResourceEndpointAssociation(ctx, &vpclattice.DeleteResourceEndpointAssociationInput{ResourceEndpointAssociationIdentifier: aws.String("rea-0123456789abcdef0")})
	wantAPIError(t, err, "ResourceNotFoundException")
}

// A resource configuration can be shared through RAM, and the consumer
// associates it with its own network by ARN.
func TestResourceConfigurationShareSDK(t *testing.T) {
	t.Parallel()
	s, c := resourceWorld(t, apptest.Options{})
	g := newGateway(t, c, "gw-main")
	rc := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("db-main"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: g.Id, PortRanges: []string{"5432"},
		ResourceConfigurationDefinition: ipDef("10.0.0.5")})).ok(t)
	bc := newAccountWithUser(t, s, acctB, "bob")
	b := sdkAs(s, bc)
	bsn := need(b.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("bnet")})).ok(t)
	_, err := b.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: bsn.Id, ResourceConfigurationIdentifier: rc.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = b.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: rc.Arn})
	wantAPIError(t, err, "ResourceNotFoundException")

	sh := need(ramAs(s, rootCreds(s)).CreateResourceShare(ctx, &ram.CreateResourceShareInput{Name: aws.String("db-share"),
		ResourceArns: []string{*rc.Arn}, Principals: []string{acctB}})).ok(t)
	inv := need(ramAs(s, bc).GetResourceShareInvitations(ctx, &ram.GetResourceShareInvitationsInput{})).ok(t)
	if len(inv.ResourceShareInvitations) != 1 {
		t.Fatalf("invitations: %+v", inv.ResourceShareInvitations)
	}
	need(ramAs(s, bc).AcceptResourceShareInvitation(ctx, &ram.AcceptResourceShareInvitationInput{
		ResourceShareInvitationArn: inv.ResourceShareInvitations[0].ResourceShareInvitationArn})).ok(t)
	// Shared: B reads it by ARN (not by ID) and associates it with its network.
	if got := need(b.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: rc.Arn})).ok(t); *got.Id != *rc.Id {
		t.Fatalf("B reads %+v", got)
	}
	_, err = b.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: rc.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	a := need(b.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: bsn.Id, ResourceConfigurationIdentifier: rc.Arn})).ok(t)
	// The configuration's owner sees the association of its configuration.
	need(c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: a.Id})).ok(t)
	// By ID only the caller's own configurations are found.
	_, err = b.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: bsn.Id, ResourceConfigurationIdentifier: rc.Id})
	wantAPIError(t, err, "ResourceNotFoundException")

	// Revocation: B leaves the share; its association goes with it.
	need(ramAs(s, rootCreds(s)).DisassociateResourceShare(ctx, &ram.DisassociateResourceShareInput{ResourceShareArn: sh.ResourceShare.ResourceShareArn,
		Principals: []string{acctB}})).ok(t)
	_, err = c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: a.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
	need(c.DeleteResourceConfiguration(ctx, &vpclattice.DeleteResourceConfigurationInput{ResourceConfigurationIdentifier: rc.Id})).ok(t)
}

// txtServer is a DNS server on loopback that answers TXT records the test
// sets (never the machine's resolver).
type txtServer struct {
	mu   sync.Mutex
	recs map[string]string
	addr string
}

func startTXTServer(t *testing.T) *txtServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &txtServer{recs: map[string]string{}, addr: pc.LocalAddr().String()}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		ts.mu.Lock()
		v, ok := ts.recs[strings.ToLower(q.Question[0].Name)]
		ts.mu.Unlock()
		if ok && q.Question[0].Qtype == dns.TypeTXT {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{v}})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ts
}

func (ts *txtServer) set(name, value string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.recs[dns.Fqdn(strings.ToLower(name))] = value
}

func TestDomainVerificationSDK(t *testing.T) {
	t.Parallel()
	dnsSrv := startTXTServer(t)
	s, c := resourceWorld(t, apptest.Options{DomainVerificationResolver: dnsSrv.addr})
	_, err := c.StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("bad..example")})
	wantFields(t, err, "domainName")
	dv := need(c.StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("Example.com"),
		Tags: map[string]string{"k": "v"}})).ok(t)
	if dv.Status != types.VerificationStatusPending || *dv.DomainName != "example.com" || !strings.HasPrefix(*dv.Id, "dv-") ||
		*dv.TxtMethodConfig.Name == "" || *dv.TxtMethodConfig.Value == "" {
		t.Fatalf("start: %+v", dv)
	}
	// Nothing published: still PENDING.
	got := need(c.GetDomainVerification(ctx, &vpclattice.GetDomainVerificationInput{DomainVerificationIdentifier: dv.Id})).ok(t)
	if got.Status != types.VerificationStatusPending || got.Tags["k"] != "v" || got.LastVerifiedTime != nil {
		t.Fatalf("get before: %+v", got)
	}
	// A wrong value does not verify either.
	dnsSrv.set(*dv.TxtMethodConfig.Name, "something-else")
	if got := need(c.GetDomainVerification(ctx, &vpclattice.GetDomainVerificationInput{DomainVerificationIdentifier: dv.Id})).ok(t); got.Status != types.VerificationStatusPending {
		t.Fatalf("verified by a wrong value: %+v", got)
	}
	dnsSrv.set(*dv.TxtMethodConfig.Name, *dv.TxtMethodConfig.Value)
	got = need(c.GetDomainVerification(ctx, &vpclattice.GetDomainVerificationInput{DomainVerificationIdentifier: dv.Arn})).ok(t)
	if got.Status != types.VerificationStatusVerified || got.LastVerifiedTime == nil {
		t.Fatalf("get after publishing: %+v", got)
	}

	// A configuration names it for its custom domain (or a subdomain).
	g := newGateway(t, c, "gw-main")
	mk := func(name, domain string) (*vpclattice.CreateResourceConfigurationOutput, error) {
		return c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String(name),
			Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: g.Id, PortRanges: []string{"443"},
			ResourceConfigurationDefinition: ipDef("10.0.0.5"), CustomDomainName: aws.String(domain), DomainVerificationIdentifier: dv.Id})
	}
	_, err = mk("other", "example.org")
	wantFields(t, err, "domainVerificationIdentifier")
	rc := need(mk("web", "db.example.com")).ok(t)
	if *rc.DomainVerificationId != *dv.Id || *rc.DomainVerificationArn != *dv.Arn {
		t.Fatalf("config: %+v", rc)
	}
	if g := need(c.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: rc.Id})).ok(t); g.DomainVerificationStatus != types.VerificationStatusVerified {
		t.Fatalf("config status %q", g.DomainVerificationStatus)
	}
	l := need(c.ListResourceConfigurations(ctx, &vpclattice.ListResourceConfigurationsInput{DomainVerificationIdentifier: dv.Id})).ok(t)
	if len(l.Items) != 1 {
		t.Fatalf("by verification: %d", len(l.Items))
	}
	_, err = c.DeleteDomainVerification(ctx, &vpclattice.DeleteDomainVerificationInput{DomainVerificationIdentifier: dv.Id})
	wantAPIError(t, err, "ConflictException")

	// Another account cannot see it.
	bc := newAccountWithUser(t, s, acctB, "bob")
	_, err = sdkAs(s, bc).GetDomainVerification(ctx, &vpclattice.GetDomainVerificationInput{DomainVerificationIdentifier: dv.Id})
	wantAPIError(t, err, "ResourceNotFoundException")

	// The operator path: B's verification, nothing published; B's own
	// verify asks DNS and stays PENDING, the administrator's marks it.
	bdv := need(sdkAs(s, bc).StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("b.example")})).ok(t)
	path := "/trellis/v1/domainverifications/" + *bdv.Id + "/verify"
	if o := want(t, "B verifies", call(t, s, bc, "POST", path, nil), 200, "").obj(t); o["status"] != "PENDING" {
		t.Fatalf("B's verify: %v", o)
	}
	want(t, "A verifies B's", call(t, s, creds{id: s.AccessKeyID, secret: s.SecretAccessKey}, "POST", "/trellis/v1/domainverifications/dv-0123456789abcdef0/verify", nil), 404, "ResourceNotFoundException")
	if o := want(t, "admin verifies", call(t, s, rootCreds(s), "POST", path, nil), 200, "").obj(t); o["status"] != "VERIFIED" {
		t.Fatalf("admin's verify: %v", o)
	}

	// List pages; delete.
	n := 0
	for p := vpclattice.NewListDomainVerificationsPaginator(c, &vpclattice.ListDomainVerificationsInput{MaxResults: aws.Int32(1)}); p.HasMorePages(); {
		n += len(need(p.NextPage(ctx)).ok(t).Items)
	}
	if n != 1 {
		t.Fatalf("A lists %d verifications", n)
	}
	need(c.DeleteResourceConfiguration(ctx, &vpclattice.DeleteResourceConfigurationInput{ResourceConfigurationIdentifier: rc.Id})).ok(t)
	need(c.DeleteDomainVerification(ctx, &vpclattice.DeleteDomainVerificationInput{DomainVerificationIdentifier: dv.Id})).ok(t)
	_, err = c.GetDomainVerification(ctx, &vpclattice.GetDomainVerificationInput{DomainVerificationIdentifier: dv.Id})
	wantAPIError(t, err, "ResourceNotFoundException")
}

func TestResourceQuotasSDK(t *testing.T) {
	t.Parallel()
	_, c := resourceWorld(t, apptest.Options{Quotas: model.Quotas{"resource-gateways-per-vpc": 1, "domain-verifications": 1}})
	newGateway(t, c, "gw-main")
	_, err := c.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-two"), VpcIdentifier: aws.String(rVpc)})
	wantAPIError(t, err, "ServiceQuotaExceededException")
	// Another VPC has its own count.
	need(c.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-two"), VpcIdentifier: aws.String(rVpc2)})).ok(t)
	need(c.StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("a.example")})).ok(t)
	_, err = c.StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("b.example")})
	wantAPIError(t, err, "ServiceQuotaExceededException")
}
