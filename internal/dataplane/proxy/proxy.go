// Package proxy is the HTTP data plane of the VPCs: it listens on
// every VPC's ingress address, on each port a reachable service listens on,
// and forwards each request to a target chosen by the service's rules.
//
// A connection is first gated by the security groups of its VPC's
// association, at accept, before any byte is read (sgate.go). A request is
// attributed to a VPC by the socket it entered (ingress address and port),
// never by anything in the request. It then goes
// through: service lookup by Host among the services the VPC can reach (the
// double association; anything else is 404 "Non Existent Service" and no
// target is dialed) → listener by port → first matching rule → fixed
// response, or weighted target group pick → target pick (round robin or
// least outstanding over available targets — neither marked down, ejected
// as an outlier nor stalled — failing open) → upstream round trip with the
// Lattice headers, a time-to-headers timeout, passive down-marking of
// targets that refuse connections, and retries on other targets when the
// first cannot have acted on the request (outcome.go). Before any of it the
// request's path is normalised once (pathnorm) and the client's copies of
// the fields the data plane asserts are removed (docs/security.md).
//
// The routing state is read from the current snapshot, loaded once per
// request; live target state comes from the upstream registry. The proxy
// never reads the store.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Defaults of Config.
const (
	DefaultRequestTimeout = 60 * time.Second
	DefaultPassiveDownFor = 10 * time.Second
	DefaultDrainTimeout   = 60 * time.Second
	// DialTimeout bounds connecting to a target (below the request timeout,
	// a dial that times out marks the target down like a refused one).
	DialTimeout = 10 * time.Second
)

// ErrClosed is returned by Sync after Close.
var ErrClosed = errors.New("proxy: closed")

// Config configures a Proxy.
type Config struct {
	// Holder publishes the current snapshot (required).
	Holder *snapshot.Holder
	// Registry holds the live target state (the picker reads and the
	// proxy marks targets in it); a new one when nil. When Picker has its
	// own Registry, that one is used.
	Registry *upstream.Registry
	// Picker chooses targets; round robin over Registry when nil. A Picker
	// without a Registry gets this one.
	Picker *upstream.Picker
	// RequestTimeout bounds the time from the start of forwarding to the
	// target's response headers (a slow body after them is not limited);
	// past it the client gets 504. Default 60s.
	RequestTimeout time.Duration
	// PassiveDownFor is how long a target without health checks whose
	// connection failed stays out of rotation. A checked target stays out
	// until a check that started after the failure passes (a failed check
	// extends the mark). Default 10s.
	PassiveDownFor time.Duration
	// DrainTimeout bounds the graceful close of a socket that Sync no longer
	// wants: in-flight requests get this long to finish before their
	// connections are closed. Default 60s. (Close is bounded by its ctx.)
	DrainTimeout time.Duration
	// Auth authenticates and authorizes requests to services whose network
	// or own auth type is AWS_IAM; nil lets every request through.
	Auth *auth.Authorizer
	// AccessLog receives the record of every request to a service or
	// network with access log subscriptions; nil writes none.
	AccessLog AccessLogger
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Net gives the network of each VPC (vpcnet): ingress sockets of a VPC
	// are opened in its network, and targets of a target group are dialed
	// from the network of the target group's VPC. Nil, or a nil Net for a
	// VPC, is the host's network, served exactly as without it. The Nets
	// it returns must be comparable (pointers): connection pools are kept
	// per Net.
	Net vpcnet.Lookup
	// StdServer serves the ingress sockets with net/http's server instead
	// of the proxy's own HTTP/1.x server (h1server.go); for comparisons.
	StdServer bool
}

// Proxy is the data plane of the VPCs (host mode, and netns through Config.Net). Its methods are safe for
// concurrent use.
type Proxy struct {
	cfg    Config
	log    *slog.Logger
	picker *upstream.Picker

	// Upstream transports by target group protocol and version; shared by
	// every target so connection pools survive snapshot swaps.
	h1, h1TLS, h2c, h2TLS *http.Transport
	// h1up is the proxy's own HTTP/1.1 client, used instead of h1 (see
	// h1upstream.go); h1 stays as the marker of that protocol.
	h1up *h1Upstream
	// nets holds the transports of targets in networks other than the
	// host's (Config.Net), by Net; read on the request path.
	netsMu sync.RWMutex
	nets   map[vpcnet.Net]*transports
	// watch finds long-running requests whose client may be gone.
	watch *goneWatch
	// sg counts and logs connections refused by security groups (sgate.go).
	sg sgGate

	mu       sync.Mutex // guards the fields below; never taken on the request path
	closed   bool
	sockets  map[sockKey]*socket
	draining map[*socket]struct{}
}

// sockKey identifies a wanted socket: the VPC it serves and where.
type sockKey struct {
	vpc  string
	addr netip.AddrPort
}

// socket is one listening socket and the server behind it.
type socket struct {
	key    sockKey
	ln     net.Listener
	srv    server
	served chan struct{} // closed when Serve has returned
	done   chan struct{} // closed when the socket is fully shut down
	dead   atomic.Bool   // Serve failed on its own: reopen on the next Sync
	// stopping is set before the listener is closed on purpose, so that
	// Serve's "use of closed network connection" is not reported as a failure.
	stopping atomic.Bool
}

// server is what serves a socket: the proxy's own HTTP/1.x server, or
// net/http's when Config.StdServer is set.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// New returns a Proxy serving nothing yet; call Sync (or Run) to open the
// sockets of the current snapshot.
func New(cfg Config) *Proxy {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.PassiveDownFor <= 0 {
		cfg.PassiveDownFor = DefaultPassiveDownFor
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		if cfg.Picker != nil && cfg.Picker.Registry != nil {
			cfg.Registry = cfg.Picker.Registry
		} else {
			cfg.Registry = new(upstream.Registry)
		}
	}
	if cfg.Picker == nil {
		cfg.Picker = &upstream.Picker{Registry: cfg.Registry, Policy: upstream.RoundRobin}
	} else if cfg.Picker.Registry == nil {
		cfg.Picker.Registry = cfg.Registry
	}
	p := &Proxy{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "proxy"),
		picker:   cfg.Picker,
		sockets:  map[sockKey]*socket{},
		draining: map[*socket]struct{}{},
	}
	p.h1 = newTransport(false, false, nil)
	p.h1up = newH1Upstream()
	p.nets = map[vpcnet.Net]*transports{}
	p.watch = newGoneWatch()
	p.h1TLS = newTransport(true, false, nil)
	p.h2c = newTransport(false, true, nil)
	p.h2TLS = newTransport(true, true, nil)
	return p
}

// transports are the net/http transports of the targets in one network
// other than the host's. HTTP/1.1 targets use the proxy's own client,
// whose pools are kept per network too (h1upstream.go).
type transports struct {
	h1TLS, h2c, h2TLS *http.Transport
}

func (t *transports) closeIdle() {
	t.h1TLS.CloseIdleConnections()
	t.h2c.CloseIdleConnections()
	t.h2TLS.CloseIdleConnections()
}

// targetNet returns the network tg's targets are dialed from: nil for the
// host's, else the Net of tg's VPC.
func (p *Proxy) targetNet(tg *snapshot.TargetGroup) vpcnet.Net {
	if p.cfg.Net == nil {
		return nil
	}
	return p.cfg.Net(tg.VpcID)
}

// netTransports returns the transports of network n, creating them on
// first use.
func (p *Proxy) netTransports(n vpcnet.Net) *transports {
	p.netsMu.RLock()
	t := p.nets[n]
	p.netsMu.RUnlock()
	if t != nil {
		return t
	}
	p.netsMu.Lock()
	defer p.netsMu.Unlock()
	if t = p.nets[n]; t == nil {
		t = &transports{h1TLS: newTransport(true, false, n), h2c: newTransport(false, true, n), h2TLS: newTransport(true, true, n)}
		p.nets[n] = t
	}
	return t
}

// forgetNets drops the transports and idle HTTP/1.1 connections of
// networks the snapshot no longer names (a deleted VPC, a namespace made
// again): connections in use finish; idle ones are closed.
func (p *Proxy) forgetNets(snap *snapshot.Snapshot) {
	if p.cfg.Net == nil {
		return
	}
	live := map[vpcnet.Net]bool{}
	if snap != nil {
		for id := range snap.VPCs {
			if n := p.cfg.Net(id); n != nil {
				live[n] = true
			}
		}
	}
	p.netsMu.Lock()
	var gone []*transports
	for n, t := range p.nets {
		if !live[n] {
			delete(p.nets, n)
			gone = append(gone, t)
		}
	}
	p.netsMu.Unlock()
	for _, t := range gone {
		t.closeIdle()
	}
	p.h1up.forget(func(n vpcnet.Net) bool { return n == nil || live[n] })
}

func newTransport(useTLS, h2 bool, n vpcnet.Net) *http.Transport {
	d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	dial := d.DialContext
	if n != nil {
		dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			return n.Dial(ctx, d, network, address)
		}
	}
	protos := new(http.Protocols)
	switch {
	case h2 && useTLS:
		protos.SetHTTP2(true)
	case h2:
		protos.SetUnencryptedHTTP2(true)
	default:
		protos.SetHTTP1(true)
	}
	t := &http.Transport{
		Proxy:                 nil, // never an environment proxy
		DialContext:           dial,
		MaxIdleConns:          0, // no global limit
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   DialTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies and Accept-Encoding through untouched
		Protocols:             protos,
	}
	if useTLS {
		// Lattice does not validate target certificates.
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // documented Lattice behaviour
	}
	return t
}

// wanted returns the sockets the snapshot asks for: every port of every
// host-mode VPC with an ingress address, and of every network-namespace
// VPC whose network lookup (Config.Net) has a Net for it.
func wanted(snap *snapshot.Snapshot, nets vpcnet.Lookup) map[sockKey]struct{} {
	want := map[sockKey]struct{}{}
	if snap == nil {
		return want
	}
	for _, vpc := range snap.VPCs {
		if vpc == nil || !vpc.Ingress.IsValid() {
			continue
		}
		switch vpc.Mode {
		case "", model.VPCModeHost:
		case model.VPCModeNetns:
			// Served inside its namespace, once the namespace exists.
			if nets == nil || nets(vpc.ID) == nil {
				continue
			}
		default:
			continue
		}
		for _, port := range vpc.Ports {
			if port <= 0 || port > 65535 {
				continue
			}
			want[sockKey{vpc: vpc.ID, addr: netip.AddrPortFrom(vpc.Ingress, uint16(port))}] = struct{}{}
		}
	}
	return want
}

// Sync reconciles the listening sockets with the current snapshot: it opens
// a socket for every wanted VPC ingress address and port that has none, and
// gracefully closes sockets no longer wanted (they stop accepting at once;
// their in-flight requests finish, up to DrainTimeout). A socket that
// cannot be bound is logged and tried again on the next Sync; the returned
// error joins those bind errors, and every other socket is serving. Sync
// does not wait for draining sockets.
func (p *Proxy) Sync(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	snap := p.cfg.Holder.Load()
	want := wanted(snap, p.cfg.Net)

	// Close first, so an address that moved to another VPC can be rebound.
	for k, s := range p.sockets {
		_, keep := want[k]
		if keep && !s.dead.Load() {
			continue
		}
		delete(p.sockets, k)
		if keep {
			p.log.Warn("reopening ingress socket", "vpc", k.vpc, "addr", k.addr.String())
		} else {
			p.log.Info("closing ingress socket", "vpc", k.vpc, "addr", k.addr.String())
		}
		p.drain(s, p.cfg.DrainTimeout)
	}

	keys := make([]sockKey, 0, len(want))
	for k := range want {
		if _, ok := p.sockets[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b sockKey) int { return a.addr.Compare(b.addr) })
	var errs []error
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		s, err := p.open(ctx, k)
		if err != nil {
			p.log.Error("cannot open ingress socket; will retry on the next sync", "vpc", k.vpc, "addr", k.addr.String(), "err", err)
			errs = append(errs, fmt.Errorf("vpc %s: listen on %s: %w", k.vpc, k.addr, err))
			continue
		}
		p.sockets[k] = s
		p.log.Info("ingress socket open", "vpc", k.vpc, "addr", k.addr.String())
	}

	// Round-robin positions of target groups that left the snapshot.
	if snap != nil {
		p.picker.Forget(func(id string) bool { _, ok := snap.TargetGroups[id]; return ok })
	}
	p.forgetNets(snap)
	return errors.Join(errs...)
}

func (p *Proxy) open(ctx context.Context, k sockKey) (*socket, error) {
	var (
		ln  net.Listener
		err error
	)
	if p.cfg.Net == nil {
		var lc net.ListenConfig
		ln, err = lc.Listen(ctx, "tcp", k.addr.String())
	} else {
		// A network-namespace VPC's ingress is opened inside its
		// namespace; it goes through the same security-group gate below.
		ln, err = vpcnet.Of(p.cfg.Net, k.vpc).Listen(ctx, "tcp", k.addr.String())
	}
	if err != nil {
		return nil, err
	}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	h := &handler{
		p:       p,
		vpcID:   k.vpc,
		port:    int(k.addr.Port()),
		portHdr: []string{strconv.Itoa(int(k.addr.Port()))},
		vpcHdr:  []string{k.vpc},
	}
	var srv server
	if p.cfg.StdServer {
		srv = &http.Server{
			Handler:           h,
			Protocols:         protos,
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		}
	} else {
		srv = newH1Server(h, p.log, p.watch)
	}
	s := &socket{
		key:    k,
		ln:     &onceCloseListener{Listener: &sgListener{Listener: ln, p: p, vpcID: k.vpc, port: k.addr.Port()}},
		srv:    srv,
		served: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !s.stopping.Load() {
			p.log.Error("ingress socket failed; will reopen on the next sync", "vpc", k.vpc, "addr", k.addr.String(), "err", err)
			s.dead.Store(true)
		}
	}()
	return s, nil
}

// drain stops s accepting at once and shuts it down in the background,
// letting in-flight requests finish for up to timeout. Called with p.mu held.
func (p *Proxy) drain(s *socket, timeout time.Duration) {
	s.stopping.Store(true)
	_ = s.ln.Close() // synchronously: the address is free when drain returns
	p.draining[s] = struct{}{}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			p.log.Warn("ingress socket did not drain in time; closing its connections", "addr", s.key.addr.String(), "err", err)
			_ = s.srv.Close()
		}
		<-s.served
		p.mu.Lock()
		delete(p.draining, s)
		p.mu.Unlock()
		close(s.done)
	}()
}

// Run calls Sync once, then on each notification on changes, until ctx
// ends or changes is closed. After a Sync that could not open every socket
// it tries again with a backoff (1s doubling to 30s) even without a
// notification. It does not close the sockets: call Close.
func (p *Proxy) Run(ctx context.Context, changes <-chan struct{}) error {
	const minBackoff, maxBackoff = time.Second, 30 * time.Second
	backoff := minBackoff
	var retry *time.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		err := p.Sync(ctx)
		if errors.Is(err, ErrClosed) {
			return err
		}
		var retryC <-chan time.Time
		if err != nil && ctx.Err() == nil {
			if retry == nil {
				retry = time.NewTimer(backoff)
			} else {
				retry.Reset(backoff)
			}
			retryC = retry.C
			backoff = min(2*backoff, maxBackoff)
		} else {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-changes:
			if !ok {
				return nil
			}
		case <-retryC:
		}
	}
}

// Close stops every socket from accepting and waits until in-flight
// requests have finished, or until ctx ends, when it closes the remaining
// connections and returns ctx's error. Sync fails after Close.
func (p *Proxy) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	for k, s := range p.sockets {
		delete(p.sockets, k)
		// Bounded by ctx below; the drain timeout only covers a Close
		// whose ctx never ends.
		p.drain(s, p.cfg.DrainTimeout)
	}
	pending := make([]*socket, 0, len(p.draining))
	for s := range p.draining {
		pending = append(pending, s)
	}
	p.mu.Unlock()

	var err error
	for _, s := range pending {
		select {
		case <-s.done:
		case <-ctx.Done():
			_ = s.srv.Close()
			<-s.done
			err = ctx.Err()
		}
	}
	for _, t := range []*http.Transport{p.h1, p.h1TLS, p.h2c, p.h2TLS} {
		t.CloseIdleConnections()
	}
	p.netsMu.Lock()
	for n, t := range p.nets {
		delete(p.nets, n)
		t.closeIdle()
	}
	p.netsMu.Unlock()
	p.h1up.closeIdle()
	return err
}

// Addrs returns the addresses of the open sockets ("ip:port"), sorted.
func (p *Proxy) Addrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]netip.AddrPort, 0, len(p.sockets))
	for k, s := range p.sockets {
		if !s.dead.Load() {
			keys = append(keys, k.addr)
		}
	}
	slices.SortFunc(keys, netip.AddrPort.Compare)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	return out
}

// onceCloseListener lets the proxy close a listener before Shutdown does,
// without Shutdown reporting the second close as an error.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
