package snapshot_test

import (
	"testing"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// renderDNS turns the snapshot's name tables into stable JSON.
func renderDNS(s *snapshot.Snapshot) any {
	type m = map[string]any
	vpcs := m{}
	for id, v := range s.VPCs {
		names := m{}
		for n, r := range v.DNS.All() {
			typ := "A"
			if r.Addr.Is6() {
				typ = "AAAA"
			}
			var network string
			if r.Network != nil {
				network = r.Network.ID
			}
			names[n] = m{"name": r.Name, "type": typ, "addr": r.Addr.String(), "service": r.Service.ID, "network": network}
		}
		vpcs[id] = names
	}
	known := m{}
	for n, svc := range s.ServiceNames.All() {
		known[n] = svc.ID
	}
	return m{"zone": s.DNSZone, "serviceNames": known, "vpcs": vpcs}
}

func TestCompileDNSGolden(t *testing.T) {
	f := newFixture(t)
	buildWorld(t, f)
	snap := f.compile()
	golden(t, "dns", renderDNS(snap))

	// What the golden file shows, asserted so it cannot silently flip.
	if snap.DNSZone != "vpc-lattice-svcs.us-east-1.on.aws." {
		t.Errorf("zone %q", snap.DNSZone)
	}
	for id, v := range snap.VPCs {
		if v.DNS.Len() != v.Hosts.Len() {
			t.Errorf("%s: %d names for %d hosts", id, v.DNS.Len(), v.Hosts.Len())
		}
		for h, svc := range v.Hosts.All() {
			r := v.DNS.Get(h + ".")
			if r == nil || r.Service != svc || r.Addr != v.Ingress || r.Network != v.ServiceNetwork {
				t.Errorf("%s: %s answers %+v, want service %s at %s", id, h, r, svc.ID, v.Ingress)
			}
		}
	}
	prod := snap.VPCs["vpc-00000000000000002"]
	if prod.DNS.Get("orders.example.com.") == nil {
		t.Fatalf("prod VPC does not answer the custom domain: %v", prod.DNS)
	}
	if prod.DNS.Get("orders.example.com.").Addr != prod.Ingress {
		t.Errorf("custom domain answers %v, want the VPC's ingress %v", prod.DNS.Get("orders.example.com.").Addr, prod.Ingress)
	}
	// Every service name is known, whether a VPC reaches it or not.
	if snap.ServiceNames.Len() != 3 { // orders (generated + custom) and hidden
		t.Errorf("service names: %v", snap.ServiceNames)
	}
	if v1 := snap.VPCs["vpc-00000000000000001"]; v1 != nil && v1.DNS.Len() != 0 {
		t.Errorf("an unassociated VPC answers names: %v", v1.DNS)
	}
}

func TestDNSFQDN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a.example.com", "a.example.com."},
		{"A.Example.COM.", "a.example.com."},
		{"a.example.com.", "a.example.com."},
		{".", "."},
	} {
		if got := snapshot.DNSFQDN(tc.in); got != tc.want {
			t.Errorf("DNSFQDN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = snapshot.DNSFQDN("a.example.com.") }); n != 0 {
		t.Errorf("DNSFQDN of a lowercased FQDN allocates %v times", n)
	}
}
