package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// native sends a signed request to a Trellis-native endpoint and returns
// the status.
func (w *world) native(method, path string, body any) int {
	w.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		w.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, w.s.Endpoint+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: w.s.AccessKeyID, SecretAccessKey: w.s.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "vpc-lattice", w.s.Region, time.Now()); err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// getFrom sends one HTTP/1.1 request from source address src and returns
// every byte answered; a refused connection answers nothing (reset during
// or right after connect).
func getFrom(t testing.TB, src, ingress string, port int, host string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", net.JoinHostPort(ingress, fmt.Sprint(port)))
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	return string(b)
}

func freeLoopbackPort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSecurityGroupsEndToEnd: a host-mode VPC whose association names a
// group admitting 127.0.0.2/32 on the listener port. A client bound to
// 127.0.0.2 gets its answer; one from 127.0.0.3 gets no byte and the target
// sees nothing; changing the group's rules flips it for new connections.
func TestSecurityGroupsEndToEnd(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	b := newBackend(t, "orders")
	tg := w.targetGroup("orders", nil, b)
	port := freeLoopbackPort(t)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(int32(port)), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	const vpc, sg = "vpc-00000000000000001", "sg-00000000000000001"
	rules := func(cidr string) map[string]any {
		return map[string]any{"vpcId": vpc, "ingress": []map[string]any{{"protocol": "tcp", "fromPort": port, "toPort": port, "cidr": cidr}}}
	}
	if st := w.native("PUT", "/trellis/v1/security-groups/"+sg, rules("127.0.0.2/32")); st != 201 {
		t.Fatalf("PUT security group: %d", st)
	}
	need(w.c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, VpcIdentifier: aws.String(vpc), SecurityGroupIds: []string{sg}})).ok(t)
	ingress := w.ingress(vpc)
	host := *w.svc.DnsEntry.DomainName
	admitted := func(src string) bool {
		body := getFrom(t, src, ingress, port, host)
		return strings.HasPrefix(body, "HTTP/1.1 200") && strings.HasSuffix(body, "orders")
	}
	eventually(t, 5*time.Second, "127.0.0.2 admitted", func() bool { return admitted("127.0.0.2") })
	before := b.hits.Load()
	for i := 0; i < 5; i++ {
		if body := getFrom(t, "127.0.0.3", ingress, port, host); body != "" {
			t.Fatalf("127.0.0.3 got %q", body)
		}
	}
	if n := b.hits.Load(); n != before {
		t.Fatalf("the target saw %d requests from a refused client", n-before)
	}

	// Flip the rule: new connections follow within milliseconds (5 ms
	// debounce and a compile). The bound is generous for a loaded machine;
	// the time it took is logged.
	if st := w.native("PUT", "/trellis/v1/security-groups/"+sg, rules("127.0.0.3/32")); st != 200 {
		t.Fatalf("replace: %d", st)
	}
	start := time.Now()
	eventually(t, 5*time.Second, "127.0.0.3 admitted after the change", func() bool { return admitted("127.0.0.3") })
	t.Logf("rule change took effect after %v", time.Since(start))
	if body := getFrom(t, "127.0.0.2", ingress, port, host); body != "" {
		t.Fatalf("after the change, 127.0.0.2 got %q", body)
	}

	// An association naming only a group Trellis does not know admits
	// nothing; declaring that group opens exactly its rules.
	const made = "sg-0000000000000beef"
	list := need(w.c.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{VpcIdentifier: aws.String(vpc)})).ok(t)
	need(w.c.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: list.Items[0].Id, SecurityGroupIds: []string{made}})).ok(t)
	eventually(t, 5*time.Second, "an unknown group admits nothing", func() bool { return getFrom(t, "127.0.0.3", ingress, port, host) == "" })
	if st := w.native("PUT", "/trellis/v1/security-groups/"+made, rules("127.0.0.2/32")); st != 201 {
		t.Fatalf("declare the made-up group: %d", st)
	}
	eventually(t, 5*time.Second, "the declared group admits 127.0.0.2", func() bool { return admitted("127.0.0.2") })
	if body := getFrom(t, "127.0.0.3", ingress, port, host); body != "" {
		t.Fatalf("127.0.0.3 got %q", body)
	}
}
