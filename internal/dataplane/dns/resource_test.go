package dns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// TestResourceNames: a VPC's resolver answers a resource association's
// generated name and its custom name (privateDnsEnabled) with the
// resource's own address in that VPC, never the ingress; a VPC that does
// not reach it gets NXDOMAIN for both, as for a service's name; an unknown
// name under the resource zone is NXDOMAIN too, and a service's name wins
// over a resource's.
func TestResourceNames(t *testing.T) {
	st := world(false)
	st.VPCs = append(st.VPCs, &model.VPC{ID: "vpc-gw", Account: acct, Mode: "host", IngressAddress: "127.0.0.9"})
	st.ResourceGateways = []*model.ResourceGateway{{Meta: model.Meta{ID: "rgw-1", Account: acct}, Status: model.StatusActive, VpcID: "vpc-gw"}}
	rc := func(id, custom string) *model.ResourceConfiguration {
		return &model.ResourceConfiguration{Meta: model.Meta{ID: id, ARN: "arn:aws:vpc-lattice:us-east-1:" + acct + ":resourceconfiguration/" + id, Account: acct},
			Type: model.ResourceConfigurationTypeSingle, Status: model.StatusActive, PortRanges: []string{"5432"}, ResourceGatewayID: "rgw-1",
			CustomDomainName: custom, Definition: &model.ResourceConfigurationDefinition{IPResource: &model.IPResource{IPAddress: "127.0.0.5"}}}
	}
	// example.com is verified, so the default preference
	// (VERIFIED_DOMAINS_ONLY) admits db.example.com.
	st.DomainVerifications = []*model.DomainVerification{{Meta: model.Meta{ID: "dv-1", Account: acct}, DomainName: "example.com", Status: model.VerificationVerified}}
	dbCfg := rc("rcfg-db", "DB.Example.com")
	dbCfg.DomainVerificationID = "dv-1"
	st.ResourceConfigurations = []*model.ResourceConfiguration{dbCfg, rc("rcfg-clash", "orders.example.com")}
	st.SNRAs = []*model.ServiceNetworkResourceAssociation{
		{Meta: model.Meta{ID: "snra-db", Account: acct}, ServiceNetworkID: "sn-prod", ResourceConfigurationID: "rcfg-db", Status: model.StatusActive, PrivateDNSEnabled: true},
		{Meta: model.Meta{ID: "snra-clash", Account: acct}, ServiceNetworkID: "sn-prod", ResourceConfigurationID: "rcfg-clash", Status: model.StatusActive, PrivateDNSEnabled: true},
	}
	snap := snapshot.Compile(st, snapshot.Options{Region: "us-east-1", DNSToken: "abc1234"})
	prod, dev := snap.VPCs["vpc-prod"], snap.VPCs["vpc-dev"]
	var db netip.Addr
	for _, r := range prod.Resources {
		if r.ConfigurationID == "rcfg-db" {
			db = r.Addr
		}
	}
	if !db.IsValid() || db == prod.Ingress {
		t.Fatalf("rcfg-db's address in vpc-prod: %v", db)
	}
	gen := "snra-db.rcfg-db.abc1234.vpc-lattice-rsc.us-east-1.on.aws"
	for _, tc := range []struct {
		vpc     *snapshot.VPC
		name    string
		rcode   string
		addr    netip.Addr
		service bool
	}{
		{prod, gen, "NOERROR", db, false},
		{prod, "SNRA-DB.rcfg-db.abc1234.vpc-lattice-rsc.US-EAST-1.on.aws.", "NOERROR", db, false},
		{prod, "db.example.com", "NOERROR", db, false},
		{prod, "orders.example.com", "NOERROR", prod.Ingress, true}, // the service's name wins
		{dev, gen, "NXDOMAIN", netip.Addr{}, false},
		{dev, "db.example.com", "NXDOMAIN", netip.Addr{}, false},
		{prod, "nope.abc1234.vpc-lattice-rsc.us-east-1.on.aws", "NXDOMAIN", netip.Addr{}, false},
		{prod, "db.example.org", "REFUSED", netip.Addr{}, false},
	} {
		got := lookup(snap, tc.vpc, tc.name, nil, 5)
		var addr netip.Addr
		if len(got.Addresses) == 1 {
			addr = got.Addresses[0]
		}
		if got.Rcode != tc.rcode || addr != tc.addr || (got.ServiceID != "") != tc.service {
			t.Errorf("%s in %s: %s %v service %q (%s); want %s %v", tc.name, tc.vpc.ID, got.Rcode, got.Addresses, got.ServiceID, got.Reason, tc.rcode, tc.addr)
		}
		if tc.rcode == "NOERROR" && !tc.service && got.ResourceConfigurationID != "rcfg-db" {
			t.Errorf("%s: resourceConfigurationId %q", tc.name, got.ResourceConfigurationID)
		}
	}
}

// TestResourceNamesPrivateDNS, with a real DNS client: a resource owner of
// another account cannot make a consumer's VPC resolve a name it has not
// verified (up.example., which the upstream answers) to its resource: with
// the default preference the name is forwarded and gets the upstream's
// answer; only a VPC association with ALL_DOMAINS answers it. A verified
// name (db.example.com) is answered with the default preference, and with
// privateDnsEnabled false it is NXDOMAIN (a name Trellis owns), as in a
// VPC that does not reach it. lookup says why.
func TestResourceNamesPrivateDNS(t *testing.T) {
	up := upstream(t)
	const other = "444455556666"
	mk := func(snva func(*model.ServiceNetworkVpcAssociation)) *snapshot.State {
		st := world(false)
		st.SNVAs = slices.Clone(st.SNVAs)
		a := *st.SNVAs[0] // vpc-prod's
		a.ID = "snva-prod"
		snva(&a)
		st.SNVAs[0] = &a
		st.VPCs = append(st.VPCs, &model.VPC{ID: "vpc-gw", Account: other, Mode: "host", IngressAddress: "127.0.0.9"})
		st.ResourceGateways = []*model.ResourceGateway{{Meta: model.Meta{ID: "rgw-1", Account: other}, Status: model.StatusActive, VpcID: "vpc-gw"}}
		rc := func(id, owner, custom, dv string) *model.ResourceConfiguration {
			return &model.ResourceConfiguration{Meta: model.Meta{ID: id, ARN: "arn:aws:vpc-lattice:us-east-1:" + owner + ":resourceconfiguration/" + id, Account: owner},
				Type: model.ResourceConfigurationTypeSingle, Status: model.StatusActive, PortRanges: []string{"5432"}, ResourceGatewayID: "rgw-1",
				CustomDomainName: custom, DomainVerificationID: dv, Definition: &model.ResourceConfigurationDefinition{IPResource: &model.IPResource{IPAddress: "127.0.0.5"}}}
		}
		st.DomainVerifications = []*model.DomainVerification{{Meta: model.Meta{ID: "dv-1", Account: acct}, DomainName: "example.com", Status: model.VerificationVerified}}
		st.ResourceConfigurations = []*model.ResourceConfiguration{rc("rcfg-db", acct, "db.example.com", "dv-1"), rc("rcfg-evil", other, "up.example", "")}
		for _, c := range []string{"rcfg-db", "rcfg-evil"} {
			st.SNRAs = append(st.SNRAs, &model.ServiceNetworkResourceAssociation{Meta: model.Meta{ID: "snra-" + c, Account: acct},
				ServiceNetworkID: "sn-prod", ResourceConfigurationID: c, Status: model.StatusActive, PrivateDNSEnabled: true})
		}
		return st
	}
	st := mk(func(*model.ServiceNetworkVpcAssociation) {})
	s, h, _ := start(t, st, []string{up})
	prod := addrOf(t, s, "vpc-prod")
	resourceAddr := func(snap *snapshot.Snapshot, cfg string) string {
		for _, r := range snap.VPCs["vpc-prod"].Resources {
			if r.ConfigurationID == cfg {
				return r.Addr.String()
			}
		}
		t.Fatalf("vpc-prod does not reach %s", cfg)
		return ""
	}
	check := func(what, name string, rcode int, addrs []string, reason string) {
		t.Helper()
		for _, network := range []string{"udp", "tcp"} {
			r := query(t, network, prod, name, mdns.TypeA, 0)
			if r.Rcode != rcode || !slices.Equal(aRecords(r), addrs) {
				t.Errorf("%s: %s %s: %s %v, want %s %v", what, network, name, mdns.RcodeToString[r.Rcode], aRecords(r), mdns.RcodeToString[rcode], addrs)
			}
		}
		if got := s.LookupName(h.Load(), h.Load().VPCs["vpc-prod"], name); !strings.Contains(got.Reason, reason) {
			t.Errorf("%s: lookup %s: reason %q, want %q", what, name, got.Reason, reason)
		}
	}
	// The default preference: the verified name is answered, the
	// unverified one of the other account is the upstream's.
	db := resourceAddr(h.Load(), "rcfg-db")
	check("default", "db.example.com.", mdns.RcodeSuccess, []string{db}, "resource configuration rcfg-db is reachable")
	check("default", "up.example.", mdns.RcodeSuccess, []string{"192.0.2.1"},
		"resource configuration rcfg-evil's custom name is not answered in VPC vpc-prod: preference VERIFIED_DOMAINS_ONLY (the default) on the VPC association snva-prod: no verified domain covers it (resource configuration rcfg-evil names no domain verification): forwarded")

	// ALL_DOMAINS: the consumer chose to trust every name.
	h.Store(compile(mk(func(a *model.ServiceNetworkVpcAssociation) {
		a.DNSOptions = &model.DNSOptions{PrivateDNSPreference: "ALL_DOMAINS"}
	})))
	check("ALL_DOMAINS", "up.example.", mdns.RcodeSuccess, []string{resourceAddr(h.Load(), "rcfg-evil")}, "resource configuration rcfg-evil is reachable")

	// SPECIFIED_DOMAINS_ONLY naming *.example.org: neither.
	h.Store(compile(mk(func(a *model.ServiceNetworkVpcAssociation) {
		a.DNSOptions = &model.DNSOptions{PrivateDNSPreference: "SPECIFIED_DOMAINS_ONLY", PrivateDNSSpecifiedDomains: []string{"*.example.org"}}
	})))
	check("SPECIFIED_DOMAINS_ONLY", "db.example.com.", mdns.RcodeNameError, nil,
		"preference SPECIFIED_DOMAINS_ONLY on the VPC association snva-prod: no privateDnsSpecifiedDomains entry matches it")
	check("SPECIFIED_DOMAINS_ONLY", "up.example.", mdns.RcodeSuccess, []string{"192.0.2.1"}, "forwarded")

	// Private DNS disabled: the verified name is NXDOMAIN.
	f := false
	h.Store(compile(mk(func(a *model.ServiceNetworkVpcAssociation) {
		a.PrivateDNSEnabled = &f
		a.DNSOptions = &model.DNSOptions{PrivateDNSPreference: "ALL_DOMAINS"}
	})))
	check("disabled", "db.example.com.", mdns.RcodeNameError, nil, "private DNS disabled on the VPC association snva-prod")
	check("disabled", "up.example.", mdns.RcodeSuccess, []string{"192.0.2.1"}, "private DNS disabled on the VPC association snva-prod")
}
