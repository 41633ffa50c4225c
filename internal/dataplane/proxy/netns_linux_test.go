//go:build linux

package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/netns"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// testNamespace makes a namespace unique to this run and removes it when
// the test ends, failed or not. It skips the test without root.
func testNamespace(t *testing.T, cfg netns.Config) *vpcnet.InNamespace {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "trellis-ptest-" + hex.EncodeToString(b)
	ns, err := netns.Create(name, cfg)
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

// serveIn runs an HTTP server (HTTP/1.1 and h2c) answering name inside n
// at addr, and returns the address the server saw as the client's on its
// last request.
func serveIn(t *testing.T, n *vpcnet.InNamespace, addr, name string) {
	t.Helper()
	ln, err := n.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: protos, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+" "+r.Proto)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// Two VPCs with the same CIDR block each have a target at the same address;
// the proxy dials each target group's target from inside its own VPC's
// namespace, so each service reaches its own VPC's server, over the own
// HTTP/1.1 client and over h2c (net/http's transport), and the connection
// pools of the two are never mixed although the addresses are equal.
func TestTargetsDialedInTheirVPCNamespace(t *testing.T) {
	block := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}
	nsA := testNamespace(t, netns.Config{CIDRBlocks: block})
	nsB := testNamespace(t, netns.Config{CIDRBlocks: block})
	const target = "10.0.1.7:8080"
	serveIn(t, nsA, target, "in-A")
	serveIn(t, nsB, target, "in-B")

	const vpcA, vpcB = "vpc-0a0000000000000a1", "vpc-0a0000000000000b1"
	nets := map[string]vpcnet.Net{vpcA: nsA, vpcB: nsB}
	e := newEnv(t, func(c *testConfig) { c.Net = func(id string) vpcnet.Net { return nets[id] } })

	for _, version := range []string{"HTTP1", "HTTP2"} {
		t.Run(version, func(t *testing.T) {
			tgA, tgB := ipGroup("tg-a-"+version, target), ipGroup("tg-b-"+version, target)
			tgA.VpcID, tgB.VpcID = vpcA, vpcB
			tgA.ProtocolVersion, tgB.ProtocolVersion = version, version
			port := freePort(t, netip.MustParseAddr("127.0.0.1"))
			svcA := service("svc-a-"+strings.ToLower(version), "", port, defaultRule(to(tgA)))
			svcB := service("svc-b-"+strings.ToLower(version), "", port, defaultRule(to(tgB)))
			// The client's VPC is a host-mode one: only the targets are in
			// namespaces here.
			v := vpcIn("vpc-0a0000000000000c1", nextIngress(), network("sn-0a0000000000000c1"), svcA, svcB)
			e.publish(snapshotOf(v))
			proto := "HTTP/1.1"
			if version == "HTTP2" {
				proto = "HTTP/2.0"
			}
			for range 3 { // again, over pooled connections
				expect(t, e.getVersion(version, v, port, svcA.DNSName, "/"), 200, "in-A "+proto)
				expect(t, e.getVersion(version, v, port, svcB.DNSName, "/"), 200, "in-B "+proto)
			}
		})
	}
}

// The ingress of a network-namespace VPC is opened inside its namespace,
// at its link-local ingress address: a client inside the namespace (which
// has no route out of it) reaches it, and the peer address the proxy sees is the
// client's address inside its VPC — what security groups judge, and what
// becomes aws:SourceIp and x-forwarded-for (issue 11, part 4).
func TestIngressInsideVPCNamespace(t *testing.T) {
	ingress := netip.MustParseAddr("169.254.171.77")
	nsC := testNamespace(t, netns.Config{
		CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
		Addresses:  []netip.Prefix{netip.PrefixFrom(ingress, 32)},
	})
	be := newBackend(t, "target", nil)
	const vpcC = "vpc-0a0000000000000c2"
	e := newEnv(t, func(c *testConfig) {
		c.Net = func(id string) vpcnet.Net {
			if id == vpcC {
				return nsC
			}
			return nil
		}
	})
	tg := ipGroup("tg-host", be.addr()) // a target in a host-mode VPC
	const port = 8081
	svc := service("svc-c", "", port, defaultRule(to(tg)))
	v := vpcIn(vpcC, ingress, network("sn-0a0000000000000c2"), svc)
	v.Mode = model.VPCModeNetns
	v.SecurityGroups = sgRulesOf(t, tcpFrom("10.0.1.9/32", port))
	e.publish(snapshotOf(v))

	if got := e.in.Addrs(); len(got) != 1 || got[0] != "169.254.171.77:8081" {
		t.Fatalf("Addrs = %v, want the namespace's ingress", got)
	}
	get := func(src string) (string, error) {
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nsC.Dial(ctx, d, network, addr)
		}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "http://169.254.171.77:8081/", nil)
		req.Host = svc.DNSName
		res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.Status + " " + string(b), nil
	}
	got, err := get("10.0.1.9")
	if err != nil || !strings.HasPrefix(got, "200 ") {
		t.Fatalf("client 10.0.1.9 inside the VPC: %q, %v", got, err)
	}
	if xff := be.lastSeen().Header.Get("X-Forwarded-For"); xff != "10.0.1.9" {
		t.Fatalf("x-forwarded-for = %q, want the client's address inside its VPC", xff)
	}
	if got, err := get("10.0.1.10"); err == nil {
		t.Fatalf("client 10.0.1.10, which no security group rule admits, got %q", got)
	}
}

// sgRulesOf compiles the rule set of one group with rules, through the
// snapshot compiler (the only way to make one).
func sgRulesOf(t testing.TB, rules ...model.SecurityGroupRule) *snapshot.SGRules {
	t.Helper()
	a := &model.ServiceNetworkVpcAssociation{VpcID: "vpc-0000000a", ServiceNetworkID: "sn-1", SecurityGroupIDs: []string{"sg-0000000a"}}
	a.Account = account
	st := &snapshot.State{
		VPCs:           []*model.VPC{{ID: "vpc-0000000a", Account: account, Mode: "host", IngressAddress: "127.171.0.1"}},
		SNVAs:          []*model.ServiceNetworkVpcAssociation{a},
		SecurityGroups: []*model.SecurityGroup{{ID: "sg-0000000a", VpcID: "vpc-0000000a", Account: account, Ingress: rules}},
	}
	r := snapshot.Compile(st, snapshot.Options{}).VPCs["vpc-0000000a"].SecurityGroups
	if r == nil {
		t.Fatal("no rule set compiled")
	}
	return r
}

func tcpFrom(cidr string, port int) model.SecurityGroupRule {
	return model.SecurityGroupRule{Protocol: "tcp", FromPort: port, ToPort: port, CIDR: cidr}
}
