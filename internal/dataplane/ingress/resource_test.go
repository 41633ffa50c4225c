package ingress

import (
	"context"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// resourceStub answers each relayed connection with the address it was
// handed, and remembers the VPCs.
type resourceStub struct{ vpcs chan string }

func (r *resourceStub) ServeResource(_ context.Context, c net.Conn, vpcID string, addr netip.AddrPort) {
	defer c.Close()
	r.vpcs <- vpcID
	_, _ = io.WriteString(c, addr.String())
}

// TestResourceSockets: each resource port is a socket at the resource's
// own address, next to a listener socket on the same port at the ingress
// address; the relay is handed the address and port it was accepted at;
// a resource that leaves the snapshot closes its socket.
func TestResourceSockets(t *testing.T) {
	stub := &resourceStub{vpcs: make(chan string, 10)}
	e := newEnv(t, func(c *Config) { c.Resources = stub })
	ing := nextIngress()
	port := freePort(t, ing)
	a := netip.MustParseAddr("127.200.77.1")
	b := netip.MustParseAddr("127.200.77.2")
	v := vpcAt("vpc-0000000r", ing, port)
	v.Resources = []*snapshot.Resource{{ConfigurationID: "rcfg-a", Addr: a, Port: port}, {ConfigurationID: "rcfg-b", Addr: b, Port: port}}
	e.publish(snapshotOf(v))
	for _, at := range []netip.Addr{a, b} {
		ap := netip.AddrPortFrom(at, uint16(port))
		c, err := net.Dial("tcp", ap.String())
		if err != nil {
			t.Fatalf("resource socket %v: %v", ap, err)
		}
		got, _ := io.ReadAll(c)
		c.Close()
		if string(got) != ap.String() || <-stub.vpcs != v.ID {
			t.Fatalf("at %v the relay was handed %q", ap, got)
		}
	}
	// The listener's socket on the same port, at the ingress address.
	if got, err := rawGet(t, netip.MustParseAddr("127.0.0.1"), netip.AddrPortFrom(ing, uint16(port)), "x"); err != nil || got == "" {
		t.Fatalf("the listener socket on the resource's port: %q %v", got, err)
	}
	want := []string{netip.AddrPortFrom(ing, uint16(port)).String(), netip.AddrPortFrom(a, uint16(port)).String(), netip.AddrPortFrom(b, uint16(port)).String()}
	slices.Sort(want)
	if got := e.in.Addrs(); !slices.Equal(got, want) {
		t.Fatalf("sockets %q, want %q", got, want)
	}

	v2 := vpcAt("vpc-0000000r", ing, port)
	v2.Resources = v.Resources[:1]
	e.publish(snapshotOf(v2))
	if c, err := net.Dial("tcp", netip.AddrPortFrom(b, uint16(port)).String()); err == nil {
		c.Close()
		t.Fatal("the socket of a resource that left is still open")
	}
}
