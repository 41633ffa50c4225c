package snapshot_test

import (
	"fmt"
	"net/netip"
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
	// example.com is verified: the custom names below are answered with
	// the default preference (VERIFIED_DOMAINS_ONLY).
	verified := func(c *model.ResourceConfiguration) *model.ResourceConfiguration {
		c.DomainVerificationID = "dv-00000000000000001"
		return c
	}
	st.DomainVerifications = append(st.DomainVerifications, &model.DomainVerification{Meta: model.Meta{ID: "dv-00000000000000001", Account: acct},
		DomainName: "example.com", Status: model.VerificationVerified})
	st.ResourceConfigurations = append(st.ResourceConfigurations,
		verified(withDomain(cfg("rcfg-00000000000000001", model.ResourceConfigurationTypeSingle, "", []string{"5432"}, ip("127.0.0.5")), "DB.example.com")),
		verified(cfg("rcfg-00000000000000002", model.ResourceConfigurationTypeGroup, "", []string{"6379-6380"}, nil)),
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
	o := snapshot.Options{Region: "us-east-1", Now: time.Now(), DNSToken: "0123abc"}
	snap := snapshot.Compile(st, o)
	v := snap.VPCs["vpc-00000000000000001"]
	var got []string
	addrOf := map[string]netip.Addr{}
	for _, r := range v.Resources {
		if r.Network != v.ServiceNetwork || r.GatewayVPC != "vpc-000000000000000ff" || r.GatewayID != "rgw-00000000000000001" {
			t.Errorf("resource %+v: wrong network or gateway", r)
		}
		if !snapshot.DefaultResourcePrefix.Contains(r.Addr) || r.Addr == v.Ingress {
			t.Errorf("resource %s: address %v is not its own in %v", r.ConfigurationID, r.Addr, snapshot.DefaultResourcePrefix)
		}
		if a, ok := addrOf[r.ConfigurationID]; ok && a != r.Addr {
			t.Errorf("resource %s: two addresses %v and %v", r.ConfigurationID, a, r.Addr)
		}
		addrOf[r.ConfigurationID] = r.Addr
		if snapshot.FindResource(v, r.Addr, r.Port) != r {
			t.Errorf("FindResource(%v, %d) does not find %s", r.Addr, r.Port, r.ConfigurationID)
		}
		got = append(got, fmt.Sprintf("%d %s %s %v %s", r.Port, r.ConfigurationID, r.Address, r.IsDNS, r.AssociationID))
	}
	slices.Sort(got)
	// Port 80 (a listener's) and 5432 (rcfg-1's too) of rcfg-4 are bound
	// at rcfg-4's own address: no conflict any more.
	want := []string{
		"5432 rcfg-00000000000000001 127.0.0.5 false snra-00000000000000001",
		"5432 rcfg-00000000000000004 127.0.0.6 false snra-00000000000000003",
		"6379 rcfg-00000000000000003 cache.example.com true snra-00000000000000002",
		"6380 rcfg-00000000000000003 cache.example.com true snra-00000000000000002",
		"80 rcfg-00000000000000004 127.0.0.6 false snra-00000000000000003",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("resources of the client VPC:\n got %q\nwant %q", got, want)
	}
	if len(addrOf) != 3 || addrOf["rcfg-00000000000000001"] == addrOf["rcfg-00000000000000004"] {
		t.Fatalf("addresses %v: want one per configuration", addrOf)
	}
	if !slices.IsSortedFunc(v.Resources, func(a, b *snapshot.Resource) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return a.Port - b.Port
	}) {
		t.Error("resources not sorted by address and port")
	}
	if snapshot.FindResource(v, addrOf["rcfg-00000000000000001"], 80) != nil || snapshot.FindResource(v, v.Ingress, 5432) != nil ||
		snapshot.FindResource(v, addrOf["rcfg-00000000000000001"], 5432+65536) != nil {
		t.Error("FindResource finds a port the configuration does not have")
	}
	if n := testing.AllocsPerRun(100, func() { snapshot.FindResource(v, addrOf["rcfg-00000000000000004"], 80) }); n != 0 {
		t.Errorf("FindResource allocates %v times", n)
	}
	// Names: the generated name of each association (a child's under its
	// group's), and with privateDnsEnabled the custom domain of rcfg-1 and
	// the DNS resource's own name of the child of rcfg-2; each answered
	// with its configuration's address.
	var names []string
	for n, r := range v.ResourceDNS.All() {
		if r.Addr != addrOf[r.Resource.ConfigurationID] || r.Resource == nil || r.Network != v.ServiceNetwork || r.Service != nil {
			t.Errorf("record %s: %+v", n, r)
		}
		names = append(names, n+" "+r.Resource.ConfigurationID)
	}
	slices.Sort(names)
	if want := []string{
		"cache.example.com. rcfg-00000000000000003",
		"db.example.com. rcfg-00000000000000001",
		"rcfg-00000000000000003.snra-00000000000000002.rcfg-00000000000000002.0123abc.vpc-lattice-rsc.us-east-1.on.aws. rcfg-00000000000000003",
		"snra-00000000000000001.rcfg-00000000000000001.0123abc.vpc-lattice-rsc.us-east-1.on.aws. rcfg-00000000000000001",
		"snra-00000000000000003.rcfg-00000000000000004.0123abc.vpc-lattice-rsc.us-east-1.on.aws. rcfg-00000000000000004",
	}; !slices.Equal(names, want) {
		t.Errorf("resource names\n got %q\nwant %q", names, want)
	}
	if snap.ResourceDNSZone != "vpc-lattice-rsc.us-east-1.on.aws." || snap.ResourceNames.Get("db.example.com.") != "rcfg-00000000000000001" {
		t.Errorf("resource zone %q, names %v", snap.ResourceDNSZone, snap.ResourceNames)
	}
	// The gateway's own VPC is in no network: it reaches nothing.
	if rs := snap.VPCs["vpc-000000000000000ff"].Resources; len(rs) != 0 {
		t.Errorf("an unassociated VPC reaches %d resources", len(rs))
	}
	// rcfg-5 takes 65 ports: a warning, nothing bound; no port conflict
	// is warned of.
	if !slices.ContainsFunc(snap.Warnings, func(s string) bool {
		return strings.HasPrefix(s, "resource configuration rcfg-00000000000000005: port ranges [1000-1064]")
	}) {
		t.Errorf("no warning of rcfg-5 in %q", snap.Warnings)
	}
	if slices.ContainsFunc(snap.Warnings, func(s string) bool { return strings.Contains(s, "is taken by") }) {
		t.Errorf("a port conflict warning: %q", snap.Warnings)
	}
	if !slices.IsSorted(snap.Warnings) {
		t.Errorf("warnings not sorted: %q", snap.Warnings)
	}

	// A gateway that is not ACTIVE carries nothing; nor does a deleted
	// association; the others keep their addresses.
	st2 := bigState(2, 1)
	addResources(st2)
	gw := *st2.ResourceGateways[0]
	gw.Status = model.StatusDeleteInProgress
	st2.ResourceGateways[0] = &gw
	if rs := snapshot.Compile(st2, o).VPCs["vpc-00000000000000001"].Resources; len(rs) != 0 {
		t.Errorf("an inactive gateway carries %d resources", len(rs))
	}
	st3 := bigState(2, 1)
	addResources(st3)
	st3.SNRAs = st3.SNRAs[1:]
	v3 := snapshot.Compile(st3, o).VPCs["vpc-00000000000000001"]
	if r := snapshot.FindResource(v3, addrOf["rcfg-00000000000000004"], 5432); r == nil || r.ConfigurationID != "rcfg-00000000000000004" {
		t.Errorf("without rcfg-1's association, rcfg-4 moved: %+v", v3.Resources)
	}
	if r := snapshot.FindResource(v3, addrOf["rcfg-00000000000000001"], 5432); r != nil {
		t.Errorf("rcfg-1 is still reached without its association: %+v", r)
	}
}

// TestResourceAddresses: host-mode VPCs share one range (every pair its
// own address), netns VPCs each their own (the same address may repeat),
// the range follows Options.ResourcePrefix, a node with a node ingress
// prefix binds host-mode resources only with its own range, and a netns
// VPC whose blocks overlap the resource range reaches none.
func TestResourceAddresses(t *testing.T) {
	st := bigState(4, 1)
	addResources(st)
	vpcs := slices.Clone(st.VPCs)
	for i, v := range vpcs {
		if v.ID == "vpc-00000000000000002" || v.ID == "vpc-00000000000000003" {
			nv := *v
			nv.Mode, nv.IngressAddress, nv.CIDRBlocks = model.VPCModeNetns, fmt.Sprintf("169.254.171.%d", i+1), []string{"10.0.0.0/16"}
			vpcs[i] = &nv
		}
	}
	st.VPCs = vpcs
	o := snapshot.Options{Region: "us-east-1", Now: time.Now(), ResourcePrefix: netip.MustParsePrefix("127.210.0.0/16")}
	snap := snapshot.Compile(st, o)
	hostSeen := map[netip.Addr]string{}
	for _, id := range []string{"vpc-00000000000000001", "vpc-00000000000000004"} {
		v := snap.VPCs[id]
		if len(v.Resources) == 0 {
			t.Fatalf("host VPC %s reaches no resources", id)
		}
		for _, r := range v.Resources {
			if !o.ResourcePrefix.Contains(r.Addr) {
				t.Errorf("%s: %v not in %v", id, r.Addr, o.ResourcePrefix)
			}
			if by, ok := hostSeen[r.Addr]; ok && by != id+r.ConfigurationID {
				t.Errorf("host address %v given to %s and %s", r.Addr, by, id+r.ConfigurationID)
			}
			hostSeen[r.Addr] = id + r.ConfigurationID
		}
	}
	for _, id := range []string{"vpc-00000000000000002", "vpc-00000000000000003"} {
		v := snap.VPCs[id]
		if len(v.Resources) == 0 {
			t.Fatalf("netns VPC %s reaches no resources", id)
		}
		for _, r := range v.Resources {
			if !model.NetnsResourcePrefix.Contains(r.Addr) {
				t.Errorf("%s: %v not in %v", id, r.Addr, model.NetnsResourcePrefix)
			}
		}
	}
	// The same state compiles to the same addresses.
	again := snapshot.Compile(st, o)
	for id, v := range snap.VPCs {
		for i, r := range v.Resources {
			if again.VPCs[id].Resources[i].Addr != r.Addr {
				t.Fatalf("%s: address of %s differs between two compiles", id, r.ConfigurationID)
			}
		}
	}

	// --node-ingress-prefix without --resource-cidr: host-mode VPCs get
	// none (with a warning); netns VPCs keep theirs.
	o2 := snapshot.Options{Region: "us-east-1", Now: time.Now(), IngressPrefix: netip.MustParsePrefix("127.171.0.0/16"),
		NodeIngressPrefix: netip.MustParsePrefix("127.181.0.0/16")}
	snap2 := snapshot.Compile(st, o2)
	if n := len(snap2.VPCs["vpc-00000000000000001"].Resources); n != 0 {
		t.Errorf("a node with its own ingress range and the default resource range binds %d host-mode resources", n)
	}
	if len(snap2.VPCs["vpc-00000000000000002"].Resources) == 0 {
		t.Error("a netns VPC lost its resources to --node-ingress-prefix")
	}
	if !slices.ContainsFunc(snap2.Warnings, func(s string) bool { return strings.Contains(s, "give each node its own --resource-cidr") }) {
		t.Errorf("no warning: %q", snap2.Warnings)
	}
	o2.ResourcePrefix = netip.MustParsePrefix("127.220.0.0/16")
	if rs := snapshot.Compile(st, o2).VPCs["vpc-00000000000000001"].Resources; len(rs) == 0 || !o2.ResourcePrefix.Contains(rs[0].Addr) {
		t.Errorf("with its own --resource-cidr the node binds %+v", rs)
	}

	// A netns VPC stored with a block overlapping the resource range.
	nv := *st.VPCs[1]
	nv.CIDRBlocks = []string{"129.224.0.0/16"}
	st.VPCs = slices.Clone(st.VPCs)
	st.VPCs[1] = &nv
	snap3 := snapshot.Compile(st, o)
	if n := len(snap3.VPCs[nv.ID].Resources); n != 0 {
		t.Errorf("a netns VPC overlapping %v reaches %d resources", model.NetnsResourcePrefix, n)
	}
	if !slices.ContainsFunc(snap3.Warnings, func(s string) bool { return strings.Contains(s, "overlaps 129.224.0.0/17") }) {
		t.Errorf("no overlap warning: %q", snap3.Warnings)
	}
}

// TestResourceAddressStability: a configuration that comes or goes moves
// no other's address (but on a collision), and a range too small for every
// pair gives each the addresses it has, distinct, and warns of the rest.
func TestResourceAddressStability(t *testing.T) {
	base := bigState(2, 1)
	addResources(base)
	more := bigState(2, 1)
	addResources(more)
	acct := "111122223333"
	for i := range 20 {
		id := fmt.Sprintf("rcfg-%017x", 0x100+i)
		more.ResourceConfigurations = append(more.ResourceConfigurations, &model.ResourceConfiguration{
			Meta: model.Meta{ID: id, ARN: "arn:aws:vpc-lattice:us-east-1:" + acct + ":resourceconfiguration/" + id, Account: acct},
			Name: id, Type: model.ResourceConfigurationTypeSingle, Status: model.StatusActive, PortRanges: []string{"5432"},
			ResourceGatewayID: "rgw-00000000000000001", Protocol: "TCP",
			Definition: &model.ResourceConfigurationDefinition{IPResource: &model.IPResource{IPAddress: "127.0.0.9"}}})
		more.SNRAs = append(more.SNRAs, &model.ServiceNetworkResourceAssociation{Meta: model.Meta{ID: fmt.Sprintf("snra-%017x", 0x100+i), Account: acct},
			ServiceNetworkID: more.ServiceNetworks[0].ID, ResourceConfigurationID: id, Status: model.StatusActive, CreatedBy: acct})
	}
	o := snapshot.Options{Region: "us-east-1", Now: time.Now()}
	before, after := snapshot.Compile(base, o), snapshot.Compile(more, o)
	for id, v := range before.VPCs {
		for _, r := range v.Resources {
			if got := snapshot.FindResource(after.VPCs[id], r.Addr, r.Port); got == nil || got.ConfigurationID != r.ConfigurationID {
				t.Errorf("%s: %s moved from %v when 20 configurations joined", id, r.ConfigurationID, r.Addr)
			}
		}
	}

	// A /29 has 6 addresses for 10 VPCs × 23 configurations.
	o.ResourcePrefix = netip.MustParsePrefix("127.230.0.0/29")
	small := snapshot.Compile(more, o)
	seen := map[netip.Addr]string{}
	for id, v := range small.VPCs {
		for _, r := range v.Resources {
			if by, ok := seen[r.Addr]; ok && by != id+r.ConfigurationID {
				t.Fatalf("%v given twice: %s and %s", r.Addr, by, id+r.ConfigurationID)
			}
			seen[r.Addr] = id + r.ConfigurationID
			if r.Addr == o.ResourcePrefix.Addr() || r.Addr == netip.MustParseAddr("127.230.0.7") {
				t.Errorf("the first or last address of the range given: %v", r.Addr)
			}
		}
	}
	if len(seen) != 6 || !slices.ContainsFunc(small.Warnings, func(s string) bool { return strings.Contains(s, "no free address in 127.230.0.0/29") }) {
		t.Errorf("%d addresses given; warnings %q", len(seen), small.Warnings)
	}
}
