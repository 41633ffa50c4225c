// Package vpcnet names how the data plane reaches the network of one VPC:
// where its ingress sockets are opened and where its targets are dialed
// from. A host-mode VPC uses the host's own network (Host); a
// network-namespace VPC (issue 11, docs/architecture.md) hands a Net that
// opens and dials inside its namespace, so that the same address can mean
// different hosts in two VPCs with overlapping CIDR blocks.
//
// The data plane asks a Lookup for the Net of a VPC by ID; a nil Lookup,
// or a nil Net from it, means the host's network, and the host path stays
// what it was before namespaces (no extra work, no allocation).
package vpcnet

import (
	"context"
	"net"

	"github.com/trellis-net/trellis/internal/netns"
)

// Net opens sockets in, and dials from, one VPC's network. Addresses are
// IP literals with a port (a namespace resolves nothing).
type Net interface {
	// Listen opens a stream listener ("tcp", "tcp4", "tcp6").
	Listen(ctx context.Context, network, address string) (net.Listener, error)
	// ListenPacket opens a packet socket ("udp", "udp4", "udp6").
	ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
	// Dial connects with d's settings (Timeout, Deadline, KeepAlive,
	// LocalAddr) from inside the network; d is not modified.
	Dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error)
}

// Lookup returns the Net of the VPC with the given ID, or nil for the
// host's network. It is called on the request path: it must be cheap and
// not allocate.
type Lookup func(vpcID string) Net

// Host is the host's own network.
var Host Net = host{}

type host struct{}

func (host) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, network, address)
}

func (host) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, network, address)
}

func (host) Dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	return d.DialContext(ctx, network, address)
}

// Of returns the Net of vpcID under l: Host when l is nil or has none.
func Of(l Lookup, vpcID string) Net {
	if l == nil {
		return Host
	}
	if n := l(vpcID); n != nil {
		return n
	}
	return Host
}

// InNamespace is the network of a network-namespace VPC: it listens and
// dials inside ns (netns.Namespace.Listen and friends, which take IP
// literals only). The *InNamespace pointer is the Net's identity: make one
// per namespace and hand out the same pointer.
type InNamespace struct {
	NS *netns.Namespace
}

// Listen opens a listener inside the namespace. The context is not used
// (binding does not block).
func (n *InNamespace) Listen(_ context.Context, network, address string) (net.Listener, error) {
	return n.NS.Listen(network, address)
}

// ListenPacket opens a packet socket inside the namespace.
func (n *InNamespace) ListenPacket(_ context.Context, network, address string) (net.PacketConn, error) {
	return n.NS.ListenPacket(network, address)
}

// Dial connects from inside the namespace with d's settings.
func (n *InNamespace) Dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	return n.NS.DialContext(d)(ctx, network, address)
}
