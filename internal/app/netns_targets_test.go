//go:build linux

package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/netns"
)

// TestNetnsInstanceTarget: an INSTANCE target in a network-namespace VPC
// is dialled inside that VPC's namespace at its instance's address, exactly
// as an IP target is. The instance's address must lie in the VPC's CIDR
// blocks; a client in another namespace VPC with the same block reaches it
// through its ingress, and stopping the instance takes it out of rotation.
// Root only; every namespace is removed at the end, failed or not.
func TestNetnsInstanceTarget(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network-namespace VPCs need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not installed")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	var (
		namesMu sync.Mutex
		names   []string
	)
	sweepNetns(t, func() []string { namesMu.Lock(); defer namesMu.Unlock(); return slices.Clone(names) })
	srv := &netnsServer{t: t, dir: t.TempDir(), dns: app.DNSConfig{Port: freeDNSPort(t), Upstreams: []string{testUpstream(t)}}}
	srv.start()
	t.Cleanup(srv.stop)

	vpcT, vpcC := randomVpcID(t), randomVpcID(t)
	vpcs := map[string]netnsVPC{}
	for _, id := range []string{vpcT, vpcC} {
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
		vpcs[id] = v
	}

	// The instance's address must be in T's blocks.
	const inst = "/trellis/v1/instances/i-0000000000000abcd"
	st, typ, body := nativeCall(t, srv.s, "PUT", inst, map[string]any{"vpcId": vpcT, "privateIpAddress": "10.1.0.7"})
	if st != 400 || typ != "ValidationException" || !strings.Contains(string(body), "privateIpAddress") {
		t.Fatalf("an address outside the VPC: %d %s %s", st, typ, body)
	}
	if st, typ, body := nativeCall(t, srv.s, "PUT", inst, map[string]any{"vpcId": vpcT, "privateIpAddress": "10.0.1.7"}); st != 201 {
		t.Fatalf("PUT instance: %d %s %s", st, typ, body)
	}

	// The instance: a server inside T at 10.0.1.7:8080.
	var ln net.Listener
	eventually(t, 10*time.Second, "10.0.1.7 bindable in T", func() bool {
		nsT, err := netns.Open(vpcs[vpcT].NetnsName)
		if err != nil {
			return false
		}
		defer nsT.Close()
		ln, err = nsT.Listen("tcp", "10.0.1.7:8080")
		return err == nil
	})
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "instance xff=%s", r.Header.Get("X-Forwarded-For"))
	})}
	go target.Serve(ln)
	t.Cleanup(func() { target.Close() })

	const port = 8089
	c := srv.c
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders")})).ok(t)
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("prod")})).ok(t)
	need(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id})).ok(t)
	need(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpcC)})).ok(t)
	tg := need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("instances"), Type: types.TargetGroupTypeInstance,
		Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpcT),
			HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz"), Matcher: &types.MatcherMemberHttpCode{Value: "200-499"}}}})).ok(t)
	r := need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("i-0000000000000abcd")}}})).ok(t)
	if len(r.Unsuccessful) != 0 {
		t.Fatalf("register: %s", aws.ToString(r.Unsuccessful[0].FailureMessage))
	}
	need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)

	curl := func() (string, error) {
		return inNS(vpcs[vpcC].NetnsName, "curl", "-sS", "--max-time", "5", "--interface", "10.0.1.9", "-w", " %{http_code}",
			"-H", "Host: "+aws.ToString(svc.DnsEntry.DomainName), fmt.Sprintf("http://%s:%d/", vpcs[vpcC].IngressAddress, port))
	}
	var out string
	var err error
	eventually(t, 15*time.Second, "the client in C reaches the instance in T", func() bool {
		out, err = curl()
		return err == nil && out == "instance xff=10.0.1.9 200"
	})
	// Health-checked inside T's namespace.
	eventually(t, 10*time.Second, "the instance target HEALTHY", func() bool {
		l := need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg.Id})).ok(t)
		return len(l.Items) == 1 && l.Items[0].Status == types.TargetStatusHealthy
	})

	// Stopped, the instance gets nothing: no target to send to.
	if st, typ, body := nativeCall(t, srv.s, "PUT", inst, map[string]any{"vpcId": vpcT, "privateIpAddress": "10.0.1.7", "state": "stopped"}); st != 200 {
		t.Fatalf("stop: %d %s %s", st, typ, body)
	}
	eventually(t, 5*time.Second, "503 once stopped", func() bool {
		out, err = curl()
		return err == nil && strings.HasSuffix(out, " 503")
	})
}
