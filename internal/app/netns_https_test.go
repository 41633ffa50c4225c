package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/netns"
)

// TestNetnsHTTPS: curl inside a network-namespace VPC, given no CA file,
// reaches an HTTPS listener by the service's generated name (resolved by
// the VPC's DNS) over HTTP/1.1 and HTTP/2: the namespace's system bundle
// holds the installation CA (docs/netns.md). The target is on the host's
// loopback (a host-mode VPC's target group). Root only; the namespace is
// removed at the end, failed or not.
func TestNetnsHTTPS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network-namespace VPCs need root")
	}
	for _, tool := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	var name string
	sweepNetns(t, func() []string { return []string{name} })
	t.Cleanup(func() { // after the server's Close (registered first, runs last)
		if name != "" {
			if err := netns.Remove(name); err != nil {
				t.Errorf("remove namespace %s: %v", name, err)
			}
		}
	})
	srv := &netnsServer{t: t, dir: t.TempDir(), dns: app.DNSConfig{Port: freeDNSPort(t), Upstreams: []string{testUpstream(t)}}}
	srv.start()
	t.Cleanup(srv.stop)

	vpc := randomVpcID(t)
	st, typ, body := nativeCall(t, srv.s, "PUT", "/trellis/v1/vpcs/"+vpc, map[string]any{"mode": "netns", "cidrBlocks": []string{"10.0.0.0/16"}})
	if st != 201 {
		t.Fatalf("PUT netns vpc: %d %s %s", st, typ, body)
	}
	var v netnsVPC
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	name = v.NetnsName

	w := &world{t: t, s: srv.s, c: srv.c}
	w.sn = need(srv.c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("prod")})).ok(t)
	w.svc = w.associatedService("orders", "", "")
	b := newBackend(t, "orders")
	const port = 8443
	w.httpsListener(w.svc.Id, port, w.targetGroup("orders", nil, b).Id)
	need(srv.c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, VpcIdentifier: aws.String(vpc)})).ok(t)

	url := fmt.Sprintf("https://%s:%d/in-netns", *w.svc.DnsEntry.DomainName, port)
	for _, tc := range []struct {
		name, flag, want string
	}{
		{"HTTP/1.1", "--http1.1", "1.1 200"},
		{"HTTP/2", "--http2", "2 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out string
			var err error
			eventually(t, 15*time.Second, "curl inside the namespace", func() bool {
				out, err = inNS(name, "curl", "-sS", "--max-time", "5", tc.flag, "-w", "\n%{http_version} %{http_code}", url)
				return err == nil
			})
			if out != "orders\n"+tc.want {
				t.Fatalf("curl: %q", out)
			}
		})
	}
	b.mu.Lock()
	xfp := b.last.Get("X-Forwarded-Proto")
	b.mu.Unlock()
	if xfp != "https" {
		t.Fatalf("x-forwarded-proto %q", xfp)
	}
}
