//go:build linux

package health

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/netip"
	"os"
	"testing"

	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/netns"
)

// testNamespace makes a namespace holding 10.0.0.0/16, unique to this run,
// removed when the test ends, failed or not. It skips the test without root.
func testNamespace(t *testing.T) *vpcnet.InNamespace {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "trellis-htest-" + hex.EncodeToString(b)
	ns, err := netns.Create(name, netns.Config{CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}})
	if err != nil {
		t.Fatalf("netns.Create: %v", err)
	}
	t.Cleanup(func() {
		if err := ns.Delete(); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	return &vpcnet.InNamespace{NS: ns}
}

// serveStatus answers every request with status inside n at addr, over
// HTTP/1.1 and h2c.
func serveStatus(t *testing.T, n *vpcnet.InNamespace, addr string, status int) {
	t.Helper()
	ln, err := n.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: protos, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// Two VPCs with the same CIDR block each have a target at 10.0.1.7:8080,
// healthy in one and failing in the other: each target group's checks run
// from inside its own VPC's namespace, so each sees its own target.
func TestChecksRunInTheTargetGroupsVPCNamespace(t *testing.T) {
	nsA, nsB := testNamespace(t), testNamespace(t)
	addr := netip.MustParseAddrPort("10.0.1.7:8080")
	serveStatus(t, nsA, addr.String(), http.StatusOK)
	serveStatus(t, nsB, addr.String(), http.StatusServiceUnavailable)

	const vpcA, vpcB = "vpc-0a0000000000000a1", "vpc-0a0000000000000b1"
	nets := map[string]vpcnet.Net{vpcA: nsA, vpcB: nsB}
	h := newHarness(t, func(c *Config) { c.Net = func(id string) vpcnet.Net { return nets[id] } })

	for _, version := range []string{model.ProtocolVersionHTTP1, model.ProtocolVersionHTTP2} {
		t.Run(version, func(t *testing.T) {
			hc := healthCheck(func(hc *model.HealthCheckConfig) { hc.ProtocolVersion = version })
			ta, tb := ipTarget("tg-a-"+version, addr), ipTarget("tg-b-"+version, addr)
			ga, gb := ipGroup("tg-a-"+version, hc, ta), ipGroup("tg-b-"+version, hc, tb)
			ga.VpcID, gb.VpcID = vpcA, vpcB
			h.publish(snap(revisionFor(version), ga, gb))
			h.waitStatus(ga.ID, ta, "HEALTHY")
			h.waitStatus(gb.ID, tb, "UNHEALTHY")
		})
	}
}

func revisionFor(version string) int64 {
	if version == model.ProtocolVersionHTTP1 {
		return 1
	}
	return 2
}
