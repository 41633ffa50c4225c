package app_test

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestNodeIngressPrefix: a node with --node-ingress-prefix serves a VPC's
// ingress and DNS at its own address (the stored address's offset in the
// node's prefix), its DNS answers with that address, nothing listens at
// the stored one, and the API keeps reporting the stored one.
func TestNodeIngressPrefix(t *testing.T) {
	port := freeDNSPort(t)
	w := newWorld(t, apptest.Options{IngressPrefix: netip.MustParsePrefix("127.186.0.0/16"),
		NodeIngressPrefix: netip.MustParsePrefix("127.187.0.0/16"), DNS: app.DNSConfig{Port: port}})
	b := newBackend(t, "node-ingress")
	tg := w.targetGroup("node", nil, b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18121), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	stored := w.clientVPC("vpc-0000000000000000a", w.sn.Id)
	ingress, dnsAddr := vpcDNS(t, w.s, "vpc-0000000000000000a")
	if !strings.HasPrefix(stored, "127.186.0.") || ingress != stored || dnsAddr != stored {
		t.Fatalf("the API reports ingress %s, dns %s; want the stored address in 127.186.0.0/16", ingress, dnsAddr)
	}
	node := "127.187.0." + strings.TrimPrefix(stored, "127.186.0.")
	if st, body, _ := get(t, node, 18121, "orders.internal", "/", nil); st != 200 || body != "node-ingress" {
		t.Fatalf("at the node address %s: %d %q", node, st, body)
	}
	waitAnswer(t, net.JoinHostPort(node, strconv.Itoa(port)), "orders.internal", node, 5*time.Second)
	for _, addr := range []string{net.JoinHostPort(stored, "18121"), net.JoinHostPort(stored, strconv.Itoa(port))} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("%s (the stored address) accepts connections: the node serves it despite its prefix", addr)
		}
	}
}
