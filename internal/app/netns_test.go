//go:build linux

package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/netns"
)

// netnsServer is a Trellis on dir that the test can stop and start again.
type netnsServer struct {
	t   *testing.T
	dir string
	dns app.DNSConfig
	a   *app.App
	s   *apptest.Server
	c   *vpclattice.Client
}

func (n *netnsServer) start() {
	n.t.Helper()
	a, err := app.Start(context.Background(), app.Config{DataDir: n.dir, APIAddr: "127.0.0.1:0", DNS: n.dns,
		Getenv: func(string) string { return "" }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		n.t.Fatalf("start trellis: %v", err)
	}
	n.a = a
	r := a.Root()
	n.s = &apptest.Server{App: a, Endpoint: "http://" + a.APIAddr(), AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey,
		Region: a.Region(), Account: r.Account, DataDir: n.dir}
	n.c = vpclattice.New(vpclattice.Options{Region: n.s.Region, BaseEndpoint: aws.String(n.s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(r.AccessKeyID, r.SecretAccessKey, ""), RetryMaxAttempts: 1})
}

func (n *netnsServer) stop() {
	if n.a != nil {
		if err := n.a.Close(); err != nil {
			n.t.Errorf("close: %v", err)
		}
		n.a = nil
	}
}

// sweepNetns registers, to run after every other cleanup of the test, the
// removal of each namespace and /etc/netns entry under the installation
// prefixes of the names the test saw (trellis-TOKEN-), whatever made them:
// a test leaves none behind, also when a part it started races with its
// cleanup (a CA bundle directory was once left in /etc/netns).
func sweepNetns(t *testing.T, names func() []string) {
	t.Cleanup(func() {
		prefixes := map[string]bool{}
		for _, n := range names() {
			if i := strings.Index(n, "vpc-"); i > 0 {
				prefixes[n[:i]] = true
			}
		}
		for p := range prefixes {
			live, _ := netns.List(p)
			for _, n := range live {
				if err := netns.Remove(n); err != nil {
					t.Errorf("sweep namespace %s: %v", n, err)
				}
			}
			ents, _ := os.ReadDir("/etc/netns")
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), p) {
					if err := os.RemoveAll(filepath.Join("/etc/netns", e.Name())); err != nil {
						t.Errorf("sweep /etc/netns/%s: %v", e.Name(), err)
					}
				}
			}
		}
	})
}

func randomVpcID(t *testing.T) string {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "vpc-" + hex.EncodeToString(b)[:17]
}

type netnsVPC struct {
	VpcID, Mode, IngressAddress, DNSAddress, NetnsName string
	CIDRBlocks                                         []string
}

// inNS runs a command inside a namespace (ip netns exec: the namespace's
// resolv.conf is /etc/resolv.conf) and returns its output and error.
func inNS(name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestNetnsVPCsEndToEnd is issue 11's "done when": three network-namespace
// VPCs with the same CIDR block 10.0.0.0/16. A target in T at 10.0.1.7;
// a client in C1 (associated, its security group admitting 10.0.1.9 only)
// resolves the service's name through its VPC's DNS and reaches the target
// with curl run inside C1 (ip netns exec); C2, not associated, gets
// NXDOMAIN and reaches nothing. The target sees the client's address inside
// its VPC. A restart of Trellis keeps it working with the target still
// running, SigV4-signed curl works when auth is on, and deleting a VPC
// removes its namespace. Root only; every namespace is removed at the end,
// failed or not.
func TestNetnsVPCsEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network-namespace VPCs need root")
	}
	for _, tool := range []string{"ip", "curl", "dig"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	var (
		namesMu sync.Mutex
		names   []string
	)
	sweepNetns(t, func() []string { namesMu.Lock(); defer namesMu.Unlock(); return slices.Clone(names) })
	t.Cleanup(func() { // after the server's Close (registered first, runs last)
		namesMu.Lock()
		defer namesMu.Unlock()
		for _, name := range names {
			if err := netns.Remove(name); err != nil {
				t.Errorf("remove namespace %s: %v", name, err)
			}
		}
	})
	srv := &netnsServer{t: t, dir: t.TempDir(), dns: app.DNSConfig{Port: freeDNSPort(t), Upstreams: []string{testUpstream(t)}}}
	srv.start()
	t.Cleanup(srv.stop)

	vpcT, vpcC1, vpcC2 := randomVpcID(t), randomVpcID(t), randomVpcID(t)
	vpcs := map[string]netnsVPC{}
	for _, id := range []string{vpcT, vpcC1, vpcC2} {
		st, typ, body := nativeCall(t, srv.s, "PUT", "/trellis/v1/vpcs/"+id, map[string]any{"mode": "netns", "cidrBlocks": []string{"10.0.0.0/16"}})
		if st != 201 {
			t.Fatalf("PUT netns vpc: %d %s %s", st, typ, body)
		}
		var v netnsVPC
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		namesMu.Lock()
		names = append(names, v.NetnsName)
		namesMu.Unlock()
		ing, err := netip.ParseAddr(v.IngressAddress)
		if v.Mode != "netns" || err != nil || !netip.MustParsePrefix("169.254.171.0/24").Contains(ing) || v.DNSAddress != v.IngressAddress ||
			fmt.Sprint(v.CIDRBlocks) != "[10.0.0.0/16]" || netns.ValidName(v.NetnsName) != nil || !strings.HasSuffix(v.NetnsName, id) {
			t.Fatalf("PUT netns vpc answered %s", body)
		}
		vpcs[id] = v
	}
	// A netns VPC's mode and blocks do not change.
	if st, typ, body := nativeCall(t, srv.s, "PUT", "/trellis/v1/vpcs/"+vpcT, map[string]any{"mode": "netns", "cidrBlocks": []string{"10.1.0.0/16"}}); st != 409 {
		t.Fatalf("changing the blocks: %d %s %s", st, typ, body)
	}
	nameT, nameC1, nameC2 := vpcs[vpcT].NetnsName, vpcs[vpcC1].NetnsName, vpcs[vpcC2].NetnsName
	eventually(t, 10*time.Second, "the namespaces", func() bool {
		have, _ := netns.List("trellis-")
		n := 0
		for _, h := range have {
			if h == nameT || h == nameC1 || h == nameC2 {
				n++
			}
		}
		return n == 3
	})

	// The target: a server inside T at 10.0.1.7:8080 that answers with the
	// client address the proxy forwarded.
	// The namespace is listed before the runner has made its block local:
	// wait until 10.0.1.7 can be bound.
	var ln net.Listener
	eventually(t, 10*time.Second, "10.0.1.7 bindable in T", func() bool {
		nsT, err := netns.Open(nameT)
		if err != nil {
			return false
		}
		defer nsT.Close()
		ln, err = nsT.Listen("tcp", "10.0.1.7:8080")
		return err == nil
	})
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "target xff=%s", r.Header.Get("X-Forwarded-For"))
	})}
	go target.Serve(ln)
	t.Cleanup(func() { target.Close() })

	const port = 8088
	svc := need(srv.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders"), CustomDomainName: aws.String("orders.internal")})).ok(t)
	sn := need(srv.c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("prod")})).ok(t)
	need(srv.c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id})).ok(t)
	tg := need(srv.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("orders"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpcT),
			HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz")}}})).ok(t)
	need(srv.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("10.0.1.7"), Port: aws.Int32(8080)}}})).ok(t)
	need(srv.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	sg := "sg-" + strings.TrimPrefix(vpcC1, "vpc-")
	if st, typ, body := nativeCall(t, srv.s, "PUT", "/trellis/v1/security-groups/"+sg, map[string]any{"vpcId": vpcC1,
		"ingress": []map[string]any{{"protocol": "tcp", "fromPort": port, "toPort": port, "cidr": "10.0.1.9/32"}}}); st != 201 {
		t.Fatalf("PUT security group: %d %s %s", st, typ, body)
	}
	need(srv.c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpcC1), SecurityGroupIds: []string{sg}})).ok(t)

	url := fmt.Sprintf("http://orders.internal:%d/", port)
	curl := func(ns string, extra ...string) (string, error) {
		return inNS(ns, append(append([]string{"curl", "-sS", "--max-time", "5"}, extra...), url)...)
	}
	var (
		out string
		err error
	)
	eventually(t, 15*time.Second, "C1 (10.0.1.9) reaches the target by name", func() bool {
		out, err = curl(nameC1, "--interface", "10.0.1.9")
		return err == nil && out == "target xff=10.0.1.9"
	})
	// The same name from 10.0.1.10: resolved, but the security group
	// refuses the connection.
	if out, err := curl(nameC1, "--interface", "10.0.1.10"); err == nil {
		t.Fatalf("10.0.1.10, which the security group does not admit, got %q", out)
	}
	// C2 is not associated: NXDOMAIN, and nothing to reach — its ingress
	// answers 404 for the name, and 10.0.1.7 in C2 is not T's 10.0.1.7.
	if out, _ := inNS(nameC2, "dig", "+time=2", "+tries=1", "orders.internal"); !strings.Contains(out, "status: NXDOMAIN") {
		t.Fatalf("C2 resolving orders.internal:\n%s", out)
	}
	if out, err := curl(nameC2); err == nil {
		t.Fatalf("C2 reached %q", out)
	}
	if out, err := inNS(nameC2, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "-H", "Host: orders.internal",
		fmt.Sprintf("http://%s:%d/", vpcs[vpcC2].IngressAddress, port)); err != nil || out != "404" {
		t.Fatalf("C2 at its own ingress: %q %v, want 404", out, err)
	}
	if out, err := inNS(nameC2, "curl", "-sS", "--max-time", "5", "http://10.0.1.7:8080/"); err == nil {
		t.Fatalf("C2 reached 10.0.1.7:8080 directly: %q", out)
	}

	// Restart Trellis: the namespaces and the target inside T stay.
	srv.stop()
	srv.start()
	eventually(t, 15*time.Second, "C1 reaches the target after a restart", func() bool {
		out, err = curl(nameC1, "--interface", "10.0.1.9")
		return err == nil && out == "target xff=10.0.1.9"
	})

	// SigV4 through a netns VPC: with IAM auth on the network, an
	// unsigned request is refused and curl --aws-sigv4 gets through.
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",
		"Condition":{"StringEquals":{"aws:PrincipalAccount":"` + srv.s.Account + `"}}}]}`
	need(srv.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: sn.Id, Policy: aws.String(policy)})).ok(t)
	need(srv.c.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: sn.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
	code := func(extra ...string) string {
		out, _ := curl(nameC1, append([]string{"--interface", "10.0.1.9", "-o", "/dev/null", "-w", "%{http_code}"}, extra...)...)
		return out
	}
	eventually(t, 10*time.Second, "unsigned requests refused", func() bool { return code() == "403" })
	signed := []string{"--aws-sigv4", "aws:amz:" + srv.s.Region + ":vpc-lattice-svcs", "--user", srv.s.AccessKeyID + ":" + srv.s.SecretAccessKey,
		"-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"}
	if got := code(signed...); got != "200" {
		out, _ := curl(nameC1, append([]string{"--interface", "10.0.1.9", "-i"}, signed...)...)
		t.Fatalf("curl --aws-sigv4: %s\n%s", got, out)
	}

	// Deleting a VPC removes its namespace (and /etc/netns/NAME).
	if st, typ, body := nativeCall(t, srv.s, "DELETE", "/trellis/v1/vpcs/"+vpcC2, nil); st != 204 {
		t.Fatalf("DELETE vpc: %d %s %s", st, typ, body)
	}
	eventually(t, 10*time.Second, "C2's namespace removed", func() bool {
		_, err1 := os.Stat("/run/netns/" + nameC2)
		_, err2 := os.Stat("/etc/netns/" + nameC2)
		return os.IsNotExist(err1) && os.IsNotExist(err2)
	})
}

// TestNetnsSameNameSameAddress: two service networks, each with a service
// whose custom domain is orders.internal, each forwarding to a target at
// 10.0.1.7:8080 in its own VPC; two client VPCs, one per network. All four
// VPCs are 10.0.0.0/16. Each client resolves the same name and reaches its
// own network's target: overlapping ranges do not matter, and a pooled
// connection to 10.0.1.7:8080 in one VPC never serves the other.
func TestNetnsSameNameSameAddress(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network-namespace VPCs need root")
	}
	for _, tool := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	var names []string
	sweepNetns(t, func() []string { return names })
	t.Cleanup(func() {
		for _, name := range names {
			if err := netns.Remove(name); err != nil {
				t.Errorf("remove namespace %s: %v", name, err)
			}
		}
	})
	srv := &netnsServer{t: t, dir: t.TempDir(), dns: app.DNSConfig{Port: freeDNSPort(t), Upstreams: []string{testUpstream(t)}}}
	srv.start()
	t.Cleanup(srv.stop)

	const port = 8089
	type side struct{ target, client, ns string }
	var sides [2]side
	for i := range sides {
		for _, id := range []*string{&sides[i].target, &sides[i].client} {
			*id = randomVpcID(t)
			st, typ, body := nativeCall(t, srv.s, "PUT", "/trellis/v1/vpcs/"+*id, map[string]any{"mode": "netns", "cidrBlocks": []string{"10.0.0.0/16"}})
			if st != 201 {
				t.Fatalf("PUT netns vpc: %d %s %s", st, typ, body)
			}
			var v netnsVPC
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			names = append(names, v.NetnsName)
			if id == &sides[i].client {
				sides[i].ns = v.NetnsName
			} else {
				// The target of this side: a server at 10.0.1.7:8080 inside
				// its VPC that answers which side it is.
				answer := fmt.Sprintf("target %d", i+1)
				// The namespace exists before the runner has made its
				// block local: wait until 10.0.1.7 can be bound.
				var ln net.Listener
				eventually(t, 10*time.Second, "10.0.1.7 bindable in the target's namespace", func() bool {
					ns, err := netns.Open(v.NetnsName)
					if err != nil {
						return false
					}
					defer ns.Close()
					ln, err = ns.Listen("tcp", "10.0.1.7:8080")
					return err == nil
				})
				s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, answer) })}
				go s.Serve(ln)
				t.Cleanup(func() { s.Close() })
			}
		}
		n := fmt.Sprint(i + 1)
		svc := need(srv.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders-" + n), CustomDomainName: aws.String("orders.internal")})).ok(t)
		sn := need(srv.c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net-" + n)})).ok(t)
		need(srv.c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
			ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id})).ok(t)
		tg := need(srv.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("orders-" + n), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(sides[i].target),
				HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz")}}})).ok(t)
		need(srv.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
			Targets: []types.Target{{Id: aws.String("10.0.1.7"), Port: aws.Int32(8080)}}})).ok(t)
		need(srv.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
			Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
				TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
		need(srv.c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
			ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(sides[i].client)})).ok(t)
	}
	url := fmt.Sprintf("http://orders.internal:%d/", port)
	for round := 0; round < 3; round++ { // several rounds: pooled connections get reused
		for i, s := range sides {
			want := fmt.Sprintf("target %d", i+1)
			var out string
			var err error
			eventually(t, 15*time.Second, "client "+fmt.Sprint(i+1)+" reaches its own target", func() bool {
				out, err = inNS(s.ns, "curl", "-sS", "--max-time", "5", url)
				return err == nil && out != ""
			})
			if out != want {
				t.Fatalf("round %d: the client of network %d got %q, want %q", round, i+1, out, want)
			}
		}
	}
}
