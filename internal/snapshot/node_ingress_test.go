package snapshot_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

func TestNodeIngress(t *testing.T) {
	pp := netip.MustParsePrefix
	for _, tc := range []struct {
		name, stored       string
		installation, node string
		want               string // "" : not mapped
	}{
		{"same size", "127.171.0.5", "127.171.0.0/16", "127.172.0.0/16", "127.172.0.5"},
		{"offset across bytes", "127.171.3.250", "127.171.0.0/16", "127.172.0.0/16", "127.172.3.250"},
		{"larger node prefix", "127.171.255.254", "127.171.0.0/16", "10.0.0.0/8", "10.0.255.254"},
		{"unmasked prefixes", "127.171.0.7", "127.171.9.9/16", "127.172.1.1/16", "127.172.0.7"},
		{"mapped v6 form", "::ffff:127.171.0.7", "127.171.0.0/16", "127.172.0.0/16", "127.172.0.7"},
		{"outside the installation range", "127.99.0.5", "127.171.0.0/16", "127.172.0.0/16", ""},
		{"offset does not fit", "127.171.1.5", "127.171.0.0/16", "127.172.0.0/24", ""},
		{"fits in a smaller node prefix", "127.171.0.5", "127.171.0.0/16", "127.172.0.0/24", "127.172.0.5"},
		{"IPv6", "::1", "127.171.0.0/16", "127.172.0.0/16", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := snapshot.NodeIngress(netip.MustParseAddr(tc.stored), pp(tc.installation), pp(tc.node))
			if tc.want == "" {
				if ok {
					t.Fatalf("mapped to %s, want not mapped", got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("got %s %v, want %s", got, ok, tc.want)
			}
		})
	}
}

// TestCompileNodeIngressPrefix: with a node ingress prefix, host-mode VPCs
// are served (ByIngress, VPC.Ingress, DNS answers) at their node address,
// netns VPCs at their own, and a VPC whose stored address is outside the
// installation's range is left out with a warning.
func TestCompileNodeIngressPrefix(t *testing.T) {
	st := bigState(3, 1)
	st.VPCs = append(st.VPCs,
		&model.VPC{ID: "vpc-0000000000000000b", Account: "111122223333", Mode: model.VPCModeNetns, IngressAddress: "169.254.171.1", NetnsName: "trellis-abc1234-vpc-0000000000000000b"},
		&model.VPC{ID: "vpc-0000000000000000c", Account: "111122223333", Mode: model.VPCModeHost, IngressAddress: "127.99.0.3"})
	o := snapshot.Options{Region: "us-east-1", Now: time.Now(), IngressPrefix: netip.MustParsePrefix("127.171.0.0/16"),
		NodeIngressPrefix: netip.MustParsePrefix("127.181.0.0/16")}
	snap := snapshot.Compile(st, o)
	v := snap.VPCs["vpc-00000000000000003"]
	if want := netip.MustParseAddr("127.181.0.3"); v == nil || v.Ingress != want || snap.ByIngress[want] != v {
		t.Fatalf("VPC 3 (stored 127.171.0.3): %+v, want served at 127.181.0.3", v)
	}
	if snap.ByIngress[netip.MustParseAddr("127.171.0.3")] != nil {
		t.Fatal("a VPC is still served at its stored address")
	}
	if v.DNS.Len() == 0 {
		t.Fatal("VPC 3 has no DNS records: the test would not cover them")
	}
	for name, r := range v.DNS.All() {
		if r.Addr != v.Ingress {
			t.Fatalf("DNS %s answers %s, want the node address %s", name, r.Addr, v.Ingress)
		}
	}
	if n := snap.VPCs["vpc-0000000000000000b"]; n == nil || n.Ingress != netip.MustParseAddr("169.254.171.1") {
		t.Fatalf("netns VPC: %+v, want its own address", n)
	}
	if snap.VPCs["vpc-0000000000000000c"] != nil || snap.ByIngress[netip.MustParseAddr("127.181.0.3")] != v {
		t.Fatal("the VPC outside the installation range is served")
	}
	if len(snap.Warnings) != 1 || !strings.Contains(snap.Warnings[0], "vpc-0000000000000000c") || !strings.Contains(snap.Warnings[0], "127.171.0.0/16") {
		t.Fatalf("warnings %q", snap.Warnings)
	}
	// Without the option every VPC is served at its stored address.
	o.NodeIngressPrefix = netip.Prefix{}
	plain := snapshot.Compile(bigState(3, 1), o)
	if v := plain.VPCs["vpc-00000000000000003"]; v.Ingress != netip.MustParseAddr("127.171.0.3") {
		t.Fatalf("without a node prefix: %s", v.Ingress)
	}
}
