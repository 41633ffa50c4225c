package ingress

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// Security groups at accept (docs/security-groups.md). Every ingress socket
// listens through an sgListener, whatever serves it (the HTTP/1.x server,
// the h2c hand-off, or net/http's server), so this is the one place
// that gates connections. Each accepted connection is judged by the
// current snapshot's rule set of the socket's VPC (snapshot.SGRules.Admits)
// on its source address — the address the socket sees, which in a
// network-namespace VPC is the client's address inside its VPC — and the
// socket's port. A connection no inbound rule admits is closed before any
// byte is read or written, with a reset (SO_LINGER 0) as a dropped packet
// leaves a client with nothing, and no target is dialed. The check is one
// atomic load, a map lookup and a scan of the compiled rules per
// connection; nothing per request.

// sgLogEvery bounds the log of refused connections: at most one line per
// interval, carrying how many were refused since the last line, so that a
// flood does not become a flood of log lines.
const sgLogEvery = 5 * time.Second

// sgGate is the ingress's account of connections refused by security groups.
type sgGate struct {
	refused atomic.Uint64
	// admitted counts the connections let through (for metrics: Lattice's
	// TotalConnectionCount, for the whole ingress).
	admitted atomic.Uint64
	// lastLog is the UnixNano of the last log line; logged counts refusals
	// up to that line.
	lastLog atomic.Int64
	logged  atomic.Uint64
}

// SecurityGroupRefused returns how many connections security groups have
// refused since the ingress started (for metrics).
func (in *Ingress) SecurityGroupRefused() uint64 { return in.sg.refused.Load() }

// ConnectionsAccepted returns how many client connections the ingress has
// accepted (admitted by security groups, or with none to judge them) since
// it started (for metrics).
func (in *Ingress) ConnectionsAccepted() uint64 { return in.sg.admitted.Load() }

// sgListener admits only the connections its VPC's security groups allow.
type sgListener struct {
	net.Listener
	in    *Ingress
	vpcID string
	port  uint16
}

// Accept returns the next admitted connection; refused ones are closed and
// skipped. Errors of the underlying listener are returned as they are.
func (l *sgListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var rules *snapshot.SGRules
		if snap := l.in.cfg.Holder.Load(); snap != nil {
			if v := snap.VPCs[l.vpcID]; v != nil {
				rules = v.SecurityGroups
			}
		}
		if rules == nil {
			l.in.sg.admitted.Add(1)
			return c, nil // no security groups named: admit, as before them
		}
		src := remoteAddr(c)
		// A source that is not an IP address (never on TCP) is refused:
		// no rule can be shown to admit it.
		if src.IsValid() && rules.Admits(src, l.port) {
			l.in.sg.admitted.Add(1)
			return c, nil
		}
		l.refuse(c, src, rules)
	}
}

// remoteAddr is the connection's source address, without allocating for TCP.
func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (l *sgListener) refuse(c net.Conn, src netip.Addr, rules *snapshot.SGRules) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset: no FIN handshake, no TIME_WAIT left behind under a flood
	}
	_ = c.Close()
	g := &l.in.sg
	n := g.refused.Add(1)
	now := time.Now().UnixNano()
	last := g.lastLog.Load()
	if now-last < int64(sgLogEvery) && last != 0 {
		return
	}
	if !g.lastLog.CompareAndSwap(last, now) {
		return // another socket logs this interval
	}
	since := n - g.logged.Swap(n)
	l.in.log.Info("security groups refused a connection", "vpc", l.vpcID, "src", src.String(),
		"port", int(l.port), "groups", rules.Groups, "refusedSinceLastLog", since, "refusedTotal", n)
}
