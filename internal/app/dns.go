package app

import (
	"context"
	"fmt"
	"github.com/trellis-net/trellis/internal/metrics"
	"net"
	"net/netip"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/dns"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// DNSConfig configures the DNS of the VPCs (internal/dataplane/dns).
type DNSConfig struct {
	// Port is where each host-mode VPC's DNS listens on its ingress address
	// (serve's --dns-port, 53 there); 0 turns DNS off.
	Port int
	// Upstreams are the resolvers other names are forwarded to (host:port);
	// none means those queries are REFUSED. serve fills it from
	// /etc/resolv.conf unless --dns-upstream says otherwise.
	Upstreams []string
	// TTL of the answers (default dns.DefaultTTL).
	TTL time.Duration
}

// validate refuses an upstream that would be a VPC's own DNS: a query for
// a name Trellis does not own would then be forwarded to itself forever.
func (c DNSConfig) validate(ingress netip.Prefix) error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("dns port %d: must be 0 (off) to 65535", c.Port)
	}
	if c.TTL < 0 || c.TTL > 24*time.Hour {
		return fmt.Errorf("dns ttl %v: must be 0 (default) to 24h", c.TTL)
	}
	for _, u := range c.Upstreams {
		ap, err := netip.ParseAddrPort(u)
		if err != nil {
			return fmt.Errorf("dns upstream %q: want IP:PORT ([IPv6]:PORT): %v", u, err)
		}
		if c.Port != 0 && ingress.IsValid() && ingress.Contains(ap.Addr().Unmap()) && int(ap.Port()) == c.Port {
			return fmt.Errorf("dns upstream %q is a VPC's own DNS (in the ingress range %s at --dns-port): it would forward to itself", u, ingress)
		}
	}
	return nil
}

// newDNS builds the VPCs' DNS runner (started by the App).
func newDNS(cfg Config, holder *snapshot.Holder, changes <-chan struct{}, nets *vpcnet.Runner, met *metrics.Metrics) *dns.Server {
	dc := dns.Config{Holder: holder, Changes: changes, Port: cfg.DNS.Port, Upstreams: cfg.DNS.Upstreams,
		TTL: cfg.DNS.TTL, Logger: cfg.Logger, Listen: dnsListen(nets)}
	if met != nil {
		dc.OnQuery = met.DNS.ObserveQuery
	}
	return dns.New(dc)
}

// NetnsDNSPort is where a netns VPC's DNS listens inside its namespace:
// the standard port, free there (nothing else runs in the namespace on
// the DNS address) and bindable by root; resolv.conf cannot name another.
const NetnsDNSPort = 53

// dnsListen opens a VPC's DNS sockets: on the host at --dns-port for a
// host-mode VPC, inside its namespace at port 53 for a netns VPC (an error,
// retried, while the namespace is not made yet).
func dnsListen(nets *vpcnet.Runner) dns.ListenFunc {
	return func(ctx context.Context, vpc *snapshot.VPC, port int) (net.PacketConn, net.Listener, error) {
		if vpc.Mode != model.VPCModeNetns {
			return dns.HostListen(ctx, vpc, port)
		}
		n := nets.Lookup(vpc.ID)
		if n == nil {
			return nil, nil, fmt.Errorf("the namespace of VPC %s is not ready", vpc.ID)
		}
		addr := netip.AddrPortFrom(vpc.Ingress, NetnsDNSPort).String()
		pc, err := n.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, err
		}
		ln, err := n.Listen(ctx, "tcp", addr)
		if err != nil {
			pc.Close()
			return nil, nil, err
		}
		return pc, ln, nil
	}
}

// dnsAddress is a VPC's DNS address for GET /trellis/v1/vpcs/{id}: its
// ingress address; the port is --dns-port in host mode, 53 inside a netns
// VPC's namespace (the address its resolv.conf names).
func dnsAddress(srv *dns.Server) func(*model.VPC) string {
	return func(v *model.VPC) string {
		if srv == nil {
			return ""
		}
		return v.IngressAddress
	}
}

// dnsLookup answers GET /trellis/v1/dns/lookup from the live snapshot.
func dnsLookup(holder *snapshot.Holder, srv *dns.Server) func(ctx context.Context, vpcID, name string) (any, error) {
	return func(_ context.Context, vpcID, name string) (any, error) {
		if srv == nil {
			return nil, model.Invalid("vpc", "DNS is off (serve --dns-port 0)")
		}
		snap := holder.Load()
		vpc := snap.VPCs[vpcID]
		if vpc == nil {
			return nil, model.NotFound("Vpc", vpcID)
		}
		return srv.LookupName(snap, vpc, name), nil
	}
}
