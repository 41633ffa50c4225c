package snapshot_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// addResources gives st a gateway in vpc-…ff (not associated with the
// network) and associates configurations with st's first network: a SINGLE
// IP resource on 5432, a GROUP on 6379-6380 with a DNS child, a SINGLE on
// port 80 (a listener port), a SINGLE whose ranges are too wide, and an
// unassociated SINGLE on 7000.
func addResources(st *snapshot.State) {
	acct := "111122223333"
	const rgwVPC = "vpc-000000000000000ff"
	st.VPCs = append(slices.Clone(st.VPCs), &model.VPC{ID: rgwVPC, ARN: "arn:aws:ec2:us-east-1:" + acct + ":vpc/" + rgwVPC, Account: acct,
		Mode: model.VPCModeHost, IngressAddress: "127.171.0.200"})
	st.ResourceGateways = append(st.ResourceGateways, &model.ResourceGateway{Meta: model.Meta{ID: "rgw-00000000000000001", Account: acct},
		Name: "gw", Status: model.StatusActive, VpcID: rgwVPC})
	cfg := func(id, typ, group string, ports []string, def *model.ResourceConfigurationDefinition) *model.ResourceConfiguration {
		c := &model.ResourceConfiguration{Meta: model.Meta{ID: id, ARN: "arn:aws:vpc-lattice:us-east-1:" + acct + ":resourceconfiguration/" + id, Account: acct},
			Name: id, Type: typ, Status: model.StatusActive, PortRanges: ports, GroupID: group, Definition: def}
		if typ != model.ResourceConfigurationTypeChild {
			c.ResourceGatewayID, c.Protocol = "rgw-00000000000000001", "TCP"
		}
		return c
	}
	withDomain := func(c *model.ResourceConfiguration, d string) *model.ResourceConfiguration {
		c.CustomDomainName = d
		return c
	}
	ip := func(a string) *model.ResourceConfigurationDefinition {
		return &model.ResourceConfigurationDefinition{IPResource: &model.IPResource{IPAddress: a}}
	}
	st.ResourceConfigurations = append(st.ResourceConfigurations,
		withDomain(cfg("rcfg-00000000000000001", model.ResourceConfigurationTypeSingle, "", []string{"5432"}, ip("127.0.0.5")), "DB.example.com"),
		cfg("rcfg-00000000000000002", model.ResourceConfigurationTypeGroup, "", []string{"6379-6380"}, nil),
		cfg("rcfg-00000000000000003", model.ResourceConfigurationTypeChild, "rcfg-00000000000000002", nil,
			&model.ResourceConfigurationDefinition{DNSResource: &model.DNSResource{DomainName: "Cache.Example.com"}}),
		cfg("rcfg-00000000000000004", model.ResourceConfigurationTypeSingle, "", []string{"80", "5432"}, ip("127.0.0.6")),
		cfg("rcfg-00000000000000005", model.ResourceConfigurationTypeSingle, "", []string{"1000-1064"}, ip("127.0.0.7")),
		cfg("rcfg-00000000000000006", model.ResourceConfigurationTypeSingle, "", []string{"7000"}, ip("127.0.0.8")),
	)
	for i, c := range []string{"rcfg-00000000000000001", "rcfg-00000000000000002", "rcfg-00000000000000004", "rcfg-00000000000000005"} {
		st.SNRAs = append(st.SNRAs, &model.ServiceNetworkResourceAssociation{Meta: model.Meta{ID: fmt.Sprintf("snra-%017x", i+1), Account: acct},
			ServiceNetworkID: st.ServiceNetworks[0].ID, ResourceConfigurationID: c, Status: model.StatusActive, CreatedBy: acct,
			PrivateDNSEnabled: i < 2})
	}
}

func TestCompileResources(t *testing.T) {
	st := bigState(2, 1)
	addResources(st)
	snap := snapshot.Compile(st, snapshot.Options{Region: "us-east-1", Now: time.Now()})
	v := snap.VPCs["vpc-00000000000000001"]
	var got []string
	for _, r := range v.Resources {
		if r.Network != v.ServiceNetwork || r.GatewayVPC != "vpc-000000000000000ff" || r.GatewayID != "rgw-00000000000000001" {
			t.Errorf("resource %+v: wrong network or gateway", r)
		}
		got = append(got, fmt.Sprintf("%d %s %s %v %s", r.Port, r.ConfigurationID, r.Address, r.IsDNS, r.AssociationID))
	}
	want := []string{
		"5432 rcfg-00000000000000001 127.0.0.5 false snra-00000000000000001",
		"6379 rcfg-00000000000000003 cache.example.com true snra-00000000000000002",
		"6380 rcfg-00000000000000003 cache.example.com true snra-00000000000000002",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("resources of the client VPC:\n got %q\nwant %q", got, want)
	}
	// privateDnsEnabled: the custom domain of rcfg-1, the DNS resource's
	// own name for the child of rcfg-2.
	var names []string
	for n, r := range v.ResourceDNS.All() {
		if r.Addr != v.Ingress || r.Resource == nil || r.Network != v.ServiceNetwork || r.Service != nil {
			t.Errorf("record %s: %+v", n, r)
		}
		names = append(names, n+" "+r.Resource.ConfigurationID)
	}
	slices.Sort(names)
	if want := []string{"cache.example.com. rcfg-00000000000000003", "db.example.com. rcfg-00000000000000001"}; !slices.Equal(names, want) {
		t.Errorf("resource names %q, want %q", names, want)
	}
	// The gateway's own VPC is in no network: it reaches nothing.
	if rs := snap.VPCs["vpc-000000000000000ff"].Resources; len(rs) != 0 {
		t.Errorf("an unassociated VPC reaches %d resources", len(rs))
	}
	// The port 80 of rcfg-4 is a listener's, its 5432 rcfg-1's (earlier
	// ARN); rcfg-5 takes 65 ports: warnings, nothing bound.
	for _, w := range []string{
		"VPC vpc-00000000000000001: port 80 of resource configuration rcfg-00000000000000004 is taken by a service listener",
		"VPC vpc-00000000000000001: port 5432 of resource configuration rcfg-00000000000000004 is taken by rcfg-00000000000000001",
		"resource configuration rcfg-00000000000000005: port ranges [1000-1064]",
	} {
		if !slices.ContainsFunc(snap.Warnings, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("no warning %q in %q", w, snap.Warnings)
		}
	}
	if !slices.IsSorted(snap.Warnings) {
		t.Errorf("warnings not sorted: %q", snap.Warnings)
	}

	// A gateway that is not ACTIVE carries nothing; nor does a deleted
	// association.
	st2 := bigState(2, 1)
	addResources(st2)
	gw := *st2.ResourceGateways[0]
	gw.Status = model.StatusDeleteInProgress
	st2.ResourceGateways[0] = &gw
	if rs := snapshot.Compile(st2, snapshot.Options{Region: "us-east-1", Now: time.Now()}).VPCs["vpc-00000000000000001"].Resources; len(rs) != 0 {
		t.Errorf("an inactive gateway carries %d resources", len(rs))
	}
	st3 := bigState(2, 1)
	addResources(st3)
	st3.SNRAs = st3.SNRAs[1:]
	rs := snapshot.Compile(st3, snapshot.Options{Region: "us-east-1", Now: time.Now()}).VPCs["vpc-00000000000000001"].Resources
	if len(rs) == 0 || rs[0].ConfigurationID != "rcfg-00000000000000004" || rs[0].Port != 5432 {
		t.Errorf("without rcfg-1's association, 5432 should be rcfg-4's: %+v", rs)
	}
}
