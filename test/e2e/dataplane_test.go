package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/test/serveproc"
)

// TestServeDataPlaneAndGracefulStop configures a service through the API of
// the real binary, calls it through the VPC's ingress, and sends SIGTERM
// while a slow request is in flight: the request completes, then the
// process exits 0.
func TestServeDataPlaneAndGracefulStop(t *testing.T) {
	dir := t.TempDir()
	addr := serveproc.FreeAddr(t)
	cmdEnv := []string{"TRELLIS_ROOT_ACCESS_KEY_ID=AKIAE2ETEST000000002", "TRELLIS_ROOT_SECRET_ACCESS_KEY=e2e-secret"}
	srv := serveWith(t, dir, addr, []string{"--ingress-cidr", "127.172.0.0/16"}, cmdEnv...)
	c := client(addr, "AKIAE2ETEST000000002", "e2e-secret")

	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		fmt.Fprintf(w, "hello from %s via %s", r.Host, r.Header.Get("X-Amzn-Lattice-Network"))
	}))
	defer backend.Close()
	port := int32(backend.Listener.Addr().(*net.TCPAddr).Port)

	svc, _ := exposeBackend(t, c, "hello", port, 18181)

	ingress := vpcIngress(t, addr, "AKIAE2ETEST000000002", "e2e-secret", "vpc-00000000000000001")
	if ingress != "127.172.0.2" { // .1 went to the target group's VPC
		t.Fatalf("ingress %s is not from --ingress-cidr", ingress)
	}
	host := *svc.DnsEntry.DomainName
	call := func(path string) (int, string, error) {
		req, _ := http.NewRequest("GET", "http://"+ingress+":18181"+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, body, err := call("/")
		if err == nil && st == 200 {
			want := fmt.Sprintf("hello from %s via SourceVpcArn=arn:aws:ec2:us-east-1:000000000000:vpc/vpc-00000000000000001", host)
			if body != want {
				t.Fatalf("body %q, want %q", body, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer through the ingress: %d %s %v", st, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// SIGTERM while a request is in flight: it completes, then serve exits 0.
	type answer struct {
		status int
		err    error
	}
	inflight := make(chan answer, 1)
	go func() {
		st, _, err := call("/slow")
		inflight <- answer{st, err}
	}()
	time.Sleep(200 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { srv.Stop(t); close(stopped) }()
	time.Sleep(200 * time.Millisecond)
	close(release)
	a := <-inflight
	if a.err != nil || a.status != 200 {
		t.Fatalf("in-flight request during SIGTERM: %d %v", a.status, a.err)
	}
	<-stopped
}

func vpcIngress(t testing.TB, addr, id, secret, vpcID string) string {
	t.Helper()
	st, b, err := serveproc.Call(context.Background(), "http://"+addr, id, secret, "GET", "vpcs/"+vpcID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		VpcID, Mode, IngressAddress string
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Mode != "host" || v.VpcID != vpcID {
		t.Fatalf("GET /trellis/v1/vpcs/%s: %d %+v %v", vpcID, st, v, err)
	}
	return v.IngressAddress
}

type result[T any] struct {
	v   T
	err error
}

// need wraps a call's results so that ok(t) fails the test on error.
func need[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) ok(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// exposeBackend makes a service named name whose HTTP listener on
// listenerPort forwards to the backend on 127.0.0.1:backendPort, callable
// from vpc-00000000000000001 through the network "e2e"; it returns the
// service and its target group.
func exposeBackend(t *testing.T, c *vpclattice.Client, name string, backendPort, listenerPort int32) (*vpclattice.CreateServiceOutput, *vpclattice.CreateTargetGroupOutput) {
	t.Helper()
	ctx := context.Background()
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("e2e")})).ok(t)
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(name)})).ok(t)
	tg := need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(backendPort), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000e")}})).ok(t)
	need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: []types.Target{{Id: aws.String("127.0.0.1")}}})).ok(t)
	need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(listenerPort), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	need(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id})).ok(t)
	need(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String("vpc-00000000000000001")})).ok(t)
	return svc, tg
}
