package dns

import (
	"net/netip"
	"testing"

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
	st.ResourceConfigurations = []*model.ResourceConfiguration{rc("rcfg-db", "DB.Example.com"), rc("rcfg-clash", "orders.example.com")}
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
