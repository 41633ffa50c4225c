package passthrough

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// DefaultResourceIdleTimeout closes a resource connection on which no byte
// moved either way for this long. The reference gives no idle timeout for
// resource configurations; 350 s is AWS PrivateLink's TCP idle timeout,
// the network path resource configurations share (an assumption, see
// docs/resources.md). Resource connections have no duration cap: a
// database connection lives as long as its client keeps it busy.
const DefaultResourceIdleTimeout = 350 * time.Second

// maxResourceAddrs bounds the addresses of a DNS resource one connection
// tries, as maxTargets does for targets.
const maxResourceAddrs = 3

// ResourceObserver is told of every resource connection: when it starts
// (accepted, its resource found) and when it ends, whether the resource
// was reached, and the bytes relayed each way.
type ResourceObserver interface {
	ResourceConnOpened(r *snapshot.Resource)
	ResourceConnClosed(r *snapshot.Resource, reached bool, toResource, toClient int64)
}

// ResourceLogger receives one record per resource connection, for the
// RESOURCE subscriptions and the taps of its network (accesslog.Logger has this
// method); Config.AccessLog is used when it has it.
type ResourceLogger interface {
	LogResource(e *accesslog.ResourceEntry, subs []*snapshot.LogSubscription)
}

// ServeResource relays c, a connection accepted at addr (a resource
// address and port of the VPC vpcID), to the resource the VPC reaches there
// (snapshot.VPC.Resources), dialed from the network of the resource
// gateway's VPC within DialTimeout. A DNS resource's name is resolved at
// each connection (the host's resolver: a network-namespace gateway VPC
// dials the addresses it gets). It returns when the connection is over,
// and closes c; cancelling ctx closes it. Bytes and half-closes are relayed
// as for passthrough.
func (p *Proxy) ServeResource(ctx context.Context, c net.Conn, vpcID string, addr netip.AddrPort) {
	defer c.Close()
	start := time.Now()
	snap := p.cfg.Holder.Load()
	if snap == nil {
		return
	}
	vpc := snap.VPCs[vpcID]
	r := snapshot.FindResource(vpc, addr.Addr(), int(addr.Port()))
	var entry *accesslog.ResourceEntry
	if r == nil {
		// The address and port are no longer a resource's (a snapshot swap
		// between accept and now): nothing is dialed.
		return
	}
	// One record per connection, reached or not (resourceIpPort "-"
	// then), written when it ends: for the network's RESOURCE
	// subscriptions, and for its live taps (`trellis logs tail`) even
	// without any.
	if rl, ok := p.cfg.AccessLog.(ResourceLogger); ok && (len(r.Network.ResourceAccessLogs) > 0 || p.cfg.AccessLog.Tapped("", r.Network.ARN)) {
		e := &accesslog.ResourceEntry{Start: start, ServiceNetworkARN: r.Network.ARN, AssociationID: r.AssociationID,
			SourceVPCARN: vpc.ARN, ResourceConfigurationARN: r.ConfigurationARN,
			Source: peerAddr(c), Destination: localAddr(c)}
		entry = e
		defer func() { rl.LogResource(e, r.Network.ResourceAccessLogs) }()
	}
	var reached bool
	var toResource, toClient int64
	if o := p.cfg.Resources; o != nil {
		o.ResourceConnOpened(r)
		defer func() { o.ResourceConnClosed(r, reached, toResource, toClient) }()
	}
	up := p.dialResource(ctx, r)
	if up != nil && entry != nil {
		entry.Gateway, entry.Resource = localAddr(up), peerAddr(up)
	}
	if up == nil {
		p.log.Debug("resource unreachable", "vpc", vpcID, "addr", addr.String(), "resource", r.ConfigurationID)
		return
	}
	defer up.Close()
	reached = true
	rel := &relay{client: c, target: up, idle: p.cfg.ResourceIdleTimeout, capAt: start.Add(100 * 365 * 24 * time.Hour)}
	rel.last.Store(time.Now().UnixNano())
	stop := context.AfterFunc(ctx, rel.abort)
	defer stop()
	toResource, toClient = rel.run()
}

// dialResource connects to r from its gateway's VPC network.
func (p *Proxy) dialResource(ctx context.Context, r *snapshot.Resource) net.Conn {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	nw := vpcnet.Of(p.cfg.Net, r.GatewayVPC)
	var addrs []netip.Addr
	if !r.IsDNS {
		a, err := netip.ParseAddr(r.Address)
		if err != nil {
			return nil
		}
		addrs = []netip.Addr{a}
	} else {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", r.Address)
		if err != nil {
			return nil
		}
		addrs = ips[:min(len(ips), maxResourceAddrs)]
	}
	for _, a := range addrs {
		up, err := nw.Dial(ctx, &d, "tcp", net.JoinHostPort(a.Unmap().String(), strconv.Itoa(r.Port)))
		if err == nil {
			return up
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

func localAddr(c net.Conn) netip.AddrPort {
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(c.LocalAddr().String())
	return ap
}
