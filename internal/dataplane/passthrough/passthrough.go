package passthrough

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/dataplane/route"
	"github.com/trellis-net/trellis/internal/dataplane/tlspeek"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// ListenerProtocol is the listener protocol this package serves.
const ListenerProtocol = "TLS_PASSTHROUGH"

// Defaults of Config.
const (
	// DefaultMaxConnDuration is Lattice's cap on a service connection.
	DefaultMaxConnDuration = 10 * time.Minute
	// DefaultIdleTimeout is Lattice's connection idle timeout (1 minute).
	DefaultIdleTimeout    = time.Minute
	DefaultDialTimeout    = 10 * time.Second
	DefaultPassiveDownFor = 10 * time.Second
)

// maxTargets bounds the targets one connection tries to reach, as the
// proxy's connect retry does.
const maxTargets = 3

// AccessLogger receives one record per connection that reached a service
// (or, refused, its VPC's network) with access log subscriptions; the
// proxy's AccessLogger and accesslog.Logger have this method.
type AccessLogger interface {
	Log(e *accesslog.Entry, svcSubs, snSubs []*snapshot.LogSubscription)
	// Tapped reports whether anyone follows the service's or the
	// network's records live (`trellis logs tail`, by ARN).
	Tapped(serviceARN, serviceNetworkARN string) bool
}

// Config configures a Proxy. Holder and Picker (with its Registry) are
// required; zero durations take the defaults above.
type Config struct {
	Holder *snapshot.Holder
	Picker *upstream.Picker
	// Net gives the network of a target group's VPC to dial from; nil
	// dials from the host.
	Net vpcnet.Lookup
	// AccessLog gets the connection records; nil logs none.
	AccessLog AccessLogger
	// Auth judges each connection against the auth policies of an AWS_IAM
	// service network or service, as an anonymous caller (CheckConn); nil
	// lets every connection through.
	Auth   *auth.Authorizer
	Logger *slog.Logger

	MaxConnDuration time.Duration
	DialTimeout     time.Duration
	// IdleTimeout closes a connection on which no byte moved either way
	// for this long.
	IdleTimeout time.Duration
	// ResourceIdleTimeout is IdleTimeout for resource connections
	// (ServeResource); default DefaultResourceIdleTimeout.
	ResourceIdleTimeout time.Duration
	// Resources observes resource connections (internal/metrics); nil
	// observes none.
	Resources ResourceObserver
	// PassiveDownFor is how long a target that refused a connection stays
	// out of rotation (see proxy.Config.PassiveDownFor).
	PassiveDownFor time.Duration
}

// Proxy relays TLS_PASSTHROUGH connections. It is safe for concurrent use.
type Proxy struct {
	cfg Config
	log *slog.Logger
}

// New returns a Proxy for cfg, with defaults filled in.
func New(cfg Config) *Proxy {
	if cfg.MaxConnDuration <= 0 {
		cfg.MaxConnDuration = DefaultMaxConnDuration
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.ResourceIdleTimeout <= 0 {
		cfg.ResourceIdleTimeout = DefaultResourceIdleTimeout
	}
	if cfg.PassiveDownFor <= 0 {
		cfg.PassiveDownFor = DefaultPassiveDownFor
	}
	l := cfg.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Proxy{cfg: cfg, log: l.With("component", "passthrough")}
}

// Lookup returns the service and listener that a TLS_PASSTHROUGH connection
// to port from vpc, naming serverName in its SNI, goes to: the service
// reachable from vpc whose custom domain is serverName (exactly, both
// lowercased), with a TLS_PASSTHROUGH listener on port. It returns nils when
// there is none. The ingress may call it at accept to decide whether a
// socket's connection is a passthrough one.
func Lookup(vpc *snapshot.VPC, port int, serverName string) (*snapshot.Service, *snapshot.Listener) {
	if vpc == nil || serverName == "" {
		return nil, nil
	}
	svc := vpc.Hosts.Get(serverName)
	if svc == nil || !equalFoldASCII(svc.CustomDomain, serverName) {
		return nil, nil // unknown, or the generated name: Lattice matches the custom domain only
	}
	l := svc.Listeners[port]
	if l == nil || l.Protocol != ListenerProtocol {
		return nil, nil
	}
	return svc, l
}

// Serves reports whether a TLS connection to port of the ingress of the
// VPC vpcID, naming serverName in its SNI, is a passthrough one (Lookup on
// the current snapshot): the ingress asks before it decides between
// relaying the connection and terminating TLS.
func (p *Proxy) Serves(vpcID string, port int, serverName string) bool {
	snap := p.cfg.Holder.Load()
	if snap == nil {
		return false
	}
	svc, _ := Lookup(snap.VPCs[vpcID], port, serverName)
	return svc != nil
}

// ServeConn relays c, a connection accepted on port of the ingress of the
// VPC vpcID whose ClientHello hello was peeked (raw holds every byte read
// from c so far), to a target of the service the hello names. It returns
// when the connection is over, and closes c. Cancelling ctx (a shutdown)
// closes the connection. hello may be nil (a peek that failed): the
// connection is then refused.
func (p *Proxy) ServeConn(ctx context.Context, c net.Conn, vpcID string, port int, hello *tlspeek.Hello, raw []byte) {
	defer c.Close()
	start := time.Now()
	snap := p.cfg.Holder.Load()
	if snap == nil {
		return
	}
	vpc := snap.VPCs[vpcID]
	if vpc == nil {
		p.log.Debug("connection on the ingress of an unknown VPC", "vpc", vpcID)
		return
	}
	cl := connLog{e: accesslog.Entry{
		Start: start, SourceVPCID: vpc.ID, SourceVPCARN: vpc.ARN,
		ListenerType: ListenerProtocol, Protocol: "TCP",
		Status: -1, GRPCStatus: -1, RequestToTarget: -1, ResponseFromTarget: -1,
		Source: peerAddr(c), BytesReceived: int64(len(raw)),
	}}
	if sn := vpc.ServiceNetwork; sn != nil {
		cl.snSubs, cl.e.ServiceNetworkARN = sn.AccessLogs, sn.ARN
	}
	defer p.finish(&cl)

	var sni string
	if hello != nil {
		sni = hello.ServerName
		cl.e.ServerNameIndication = sni
	}
	svc, lst := Lookup(vpc, port, sni)
	if svc == nil {
		// No SNI, or no service of this VPC answers to it on this port:
		// the connection is closed, nothing is dialed.
		p.log.Debug("passthrough connection refused: no service for its SNI",
			"vpc", vpcID, "port", port, "sni", sni)
		cl.e.FailureReason = accesslog.ClientProtocolError
		return
	}
	cl.svcSubs, cl.e.ServiceARN, cl.e.ListenerID = svc.AccessLogs, svc.ARN, lst.ID
	if p.cfg.Auth != nil && auth.Needed(vpc, svc) {
		o := p.cfg.Auth.CheckConn(vpc, svc, port, cl.e.Source.Addr())
		cl.e.AuthChecked = true
		if !o.Allowed {
			// Nothing is dialed; the client sees its connection closed (no
			// HTTP to answer 403 with).
			p.log.Debug("passthrough connection denied", "vpc", vpcID, "service", svc.ID, "level", o.Level, "reason", o.Message)
			cl.e.AuthDeniedReason, cl.e.FailureReason = o.Level, accesslog.ClientAccessDenied
			return
		}
	}
	a := defaultAction(lst)
	if a == nil || a.TotalWeight <= 0 {
		// No forward (a fixed response cannot answer a TLS connection),
		// or every weight is 0.
		cl.e.FailureReason = accesslog.TargetConnectionError
		return
	}
	tg := route.PickGroup(a, rand.IntN(a.TotalWeight))
	if tg == nil {
		cl.e.FailureReason = accesslog.InternalError
		return
	}
	cl.e.TargetGroupARN, cl.e.DestinationVPCID = tg.ARN, tg.VpcID

	up, t, st := p.dial(ctx, tg)
	if up == nil {
		cl.e.FailureReason = accesslog.TargetConnectionError
		return
	}
	defer up.Close()
	st.Acquire() // a connection is outstanding for as long as it lasts
	defer st.Release()
	cl.e.Target = t.Addr

	rel := &relay{
		client: c, target: up,
		idle: p.cfg.IdleTimeout, capAt: start.Add(p.cfg.MaxConnDuration),
	}
	rel.last.Store(time.Now().UnixNano())
	stop := context.AfterFunc(ctx, rel.abort)
	defer stop()
	// The hello the client sent goes first, as it was read.
	up.SetWriteDeadline(rel.capAt)
	if _, err := up.Write(raw); err != nil {
		cl.e.FailureReason = accesslog.TargetConnectionClosed
		p.report(tg, t, st, upstream.Reset)
		return
	}
	c.SetWriteDeadline(rel.capAt)
	toTarget, toClient := rel.run()
	cl.e.BytesReceived += toTarget
	cl.e.BytesSent = toClient
	cl.e.FailureReason = rel.reason()
	if rel.targetBroke.Load() {
		p.report(tg, t, st, upstream.Reset)
	}
}

// dial connects to a target of tg: a target that cannot be reached is
// marked down and reported, and another one is tried (at most maxTargets).
func (p *Proxy) dial(ctx context.Context, tg *snapshot.TargetGroup) (net.Conn, *snapshot.Target, *upstream.State) {
	var tried [maxTargets]string
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	nw := vpcnet.Of(p.cfg.Net, tg.VpcID)
	for n := 0; n < maxTargets; n++ {
		t, st := p.cfg.Picker.PickExcept(tg, tried[:n])
		if t == nil {
			return nil, nil, nil
		}
		tried[n] = t.Key
		up, err := nw.Dial(ctx, &d, "tcp", t.Addr.String())
		if err == nil {
			p.report(tg, t, st, upstream.Success)
			return up, t, st
		}
		if ctx.Err() != nil {
			return nil, nil, nil
		}
		st.MarkDown(time.Now().Add(p.cfg.PassiveDownFor))
		p.log.Debug("target unreachable; marked down", "target", t.Key, "err", err)
		p.report(tg, t, st, upstream.ConnectFailure)
	}
	return nil, nil, nil
}

// report records an outcome for outlier detection and logs an ejection.
func (p *Proxy) report(tg *snapshot.TargetGroup, t *snapshot.Target, st *upstream.State, o upstream.Outcome) {
	if until := p.cfg.Picker.Registry.Report(tg, st, o, time.Now().UnixNano()); !until.IsZero() {
		p.log.Info("target ejected", "target", t.Key, "cause", o.String(),
			"until", until.UTC().Format(time.RFC3339))
	}
}

// defaultAction is the action of the listener's default rule (the only
// rule a TLS_PASSTHROUGH listener has), nil when it is not a forward.
func defaultAction(l *snapshot.Listener) *snapshot.Action {
	for _, r := range l.Rules {
		if r.IsDefault {
			if r.Action.FixedStatus != 0 {
				return nil
			}
			return &r.Action
		}
	}
	return nil
}

// connLog is a connection's access log record and where it goes.
type connLog struct {
	e               accesslog.Entry
	svcSubs, snSubs []*snapshot.LogSubscription
}

func (p *Proxy) finish(cl *connLog) {
	if p.cfg.AccessLog == nil || len(cl.svcSubs) == 0 && len(cl.snSubs) == 0 &&
		!p.cfg.AccessLog.Tapped(cl.e.ServiceARN, cl.e.ServiceNetworkARN) {
		return
	}
	cl.e.Duration = time.Since(cl.e.Start)
	p.cfg.AccessLog.Log(&cl.e, cl.svcSubs, cl.snSubs)
}

func peerAddr(c net.Conn) netip.AddrPort {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return ap
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// relay copies bytes between a client and a target connection.
type relay struct {
	client, target net.Conn
	idle           time.Duration
	capAt          time.Time
	// last is when a byte last moved either way (Unix ns).
	last atomic.Int64

	once   sync.Once
	why    string // the failure reason, set by the first ending that has one
	capHit atomic.Bool
	// targetBroke: reading from or writing to the target failed (a reset),
	// for outlier detection.
	targetBroke atomic.Bool
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// errIdle ends a direction that saw no byte either way for the idle time.
var errIdle = errors.New("idle")

// run relays until both directions are over and returns the bytes that
// went to the target and to the client.
func (r *relay) run() (toTarget, toClient int64) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		toClient = r.copy(r.client, r.target, accesslog.TargetConnectionClosed, accesslog.ClientConnectionClosed)
	}()
	toTarget = r.copy(r.target, r.client, accesslog.ClientConnectionClosed, accesslog.TargetConnectionClosed)
	<-done
	return toTarget, toClient
}

// copy moves bytes from src to dst until src ends. A clean end (EOF)
// half-closes dst, so the other direction carries on; anything else closes
// both connections. srcWhy and dstWhy name the failure of a read from src
// and of a write to dst.
func (r *relay) copy(dst, src net.Conn, srcWhy, dstWhy string) int64 {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	src.SetReadDeadline(r.deadline())
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			r.last.Store(time.Now().UnixNano())
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				if errors.Is(werr, os.ErrDeadlineExceeded) { // writes are bounded by the cap alone
					r.capHit.Store(true)
					r.end(accesslog.ConnectionDurationExceeded, werr, false)
					return n
				}
				r.end(dstWhy, werr, dst == r.target)
				return n
			}
		}
		if rerr == nil {
			continue
		}
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			now := time.Now()
			switch {
			case !now.Before(r.capAt):
				r.capHit.Store(true)
				r.end(accesslog.ConnectionDurationExceeded, rerr, false)
				return n
			case now.Sub(time.Unix(0, r.last.Load())) < r.idle:
				// The other direction moved bytes: not idle yet.
				src.SetReadDeadline(r.deadline())
				continue
			}
			r.end("", errIdle, false)
			return n
		}
		if rerr == io.EOF {
			closeWrite(dst)
			return n
		}
		r.end(srcWhy, rerr, src == r.target)
		return n
	}
}

// deadline is when a read must give up: idle after the last byte, or the
// connection's cap.
func (r *relay) deadline() time.Time {
	d := time.Unix(0, r.last.Load()).Add(r.idle)
	if d.After(r.capAt) {
		return r.capAt
	}
	return d
}

// end closes both connections for the first ending that is not a clean
// EOF, and keeps its reason. An error caused by that close (the other
// direction's) is not a reason of its own.
func (r *relay) end(why string, err error, target bool) {
	r.once.Do(func() {
		if !errors.Is(err, net.ErrClosed) {
			r.why = why
			if target && why != "" {
				r.targetBroke.Store(true)
			}
		}
		r.client.Close()
		r.target.Close()
	})
}

// abort closes the connection from outside (a shutdown).
func (r *relay) abort() { r.end("", net.ErrClosed, false) }

// reason is the connection's failure reason once run returned.
func (r *relay) reason() string {
	r.once.Do(func() {}) // pairs with end's writes
	return r.why
}

// closeWrite half-closes c (TCP FIN) when it can, so the peer sees the end
// of what the other side sent while it may still answer.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}
