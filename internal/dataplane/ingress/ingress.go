package ingress

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
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// DefaultDrainTimeout is the default of Config.DrainTimeout.
const DefaultDrainTimeout = 60 * time.Second

// ErrClosed is returned by Sync after Close.
var ErrClosed = errors.New("ingress: closed")

// Config configures an Ingress.
type Config struct {
	// Holder publishes the current snapshot (required).
	Holder *snapshot.Holder
	// Handler returns what serves the requests of the socket of a VPC and
	// port (required); called once per socket opened.
	Handler func(vpcID string, port int) http.Handler
	// Rejected, when set, returns what is told of the requests of that
	// socket that the HTTP/1.x server answered itself because it could not
	// take them (malformed: 400, 431, 501, 505), e.g. for an access log.
	Rejected func(vpcID string, port int) func(status int, peer netip.AddrPort, bytesSent int64)
	// AfterSync, when set, is called at the end of every Sync with the
	// snapshot it reconciled (under Sync's lock), so that the request side
	// can let go of what the snapshot no longer names.
	AfterSync func(*snapshot.Snapshot)
	// Net gives the network of each VPC (vpcnet): the sockets of a VPC are
	// opened in its network. Nil, or a nil Net for a VPC, is the host's.
	Net vpcnet.Lookup
	// DrainTimeout bounds the graceful close of a socket that Sync no longer
	// wants: in-flight requests get this long to finish before their
	// connections are closed. Default 60s. (Close is bounded by its ctx.)
	DrainTimeout time.Duration
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// StdServer serves the sockets with net/http's server instead of the
	// h1 server; for comparisons (cleartext only: no TLS, no passthrough).
	StdServer bool
	// StdH2 serves HTTP/2 (h2c and h2 over TLS) with net/http's HTTP/2
	// server instead of the h2 server; for comparisons.
	StdH2 bool
	// TLS returns the configuration that terminates TLS on the socket of a
	// VPC and port (HTTPS listeners: tlsterm.Terminator.Config); called
	// once per socket opened. Nil: TLS connections are not terminated.
	TLS func(vpcID string, port int) *tls.Config
	// Passthrough relays TLS connections whose SNI names a TLS_PASSTHROUGH
	// listener; nil: none is relayed.
	Passthrough Passthrough
	// Resources relays the connections of the resource ports of each VPC
	// (snapshot.VPC.Resources); nil: those ports are not opened.
	Resources Resources
	// ConnObserver counts the client connections of every socket served
	// by the dispatcher (connobs.go); nil counts nothing. (Not with
	// StdServer.)
	ConnObserver ConnObserver
}

// Ingress is the set of listening sockets of the VPCs. Its methods are safe
// for concurrent use.
type Ingress struct {
	cfg Config
	log *slog.Logger
	// watch finds long-running requests whose client may be gone; shared
	// by the h1 servers of every socket.
	watch *h1.Watchdog
	// sg counts and logs connections refused by security groups (sgate.go).
	sg sgGate

	mu       sync.Mutex // guards the fields below; never taken on the request path
	closed   bool
	sockets  map[sockKey]*socket
	draining map[*socket]struct{}
}

// sockKey identifies a wanted socket: the VPC it serves, where, and
// whether it is a resource port (relayed as raw TCP) or a listener port. A
// port that changes kind is closed and opened anew.
type sockKey struct {
	vpc      string
	addr     netip.AddrPort
	resource bool
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

// server is what serves a socket: the dispatching server (dispatch.go), or
// net/http's when Config.StdServer is set.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// New returns an Ingress serving nothing yet; call Sync (or Run) to open
// the sockets of the current snapshot.
func New(cfg Config) *Ingress {
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Ingress{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "ingress"),
		watch:    h1.NewWatchdog(),
		sockets:  map[sockKey]*socket{},
		draining: map[*socket]struct{}{},
	}
}

// wanted returns the sockets the snapshot asks for: every port of every
// host-mode VPC with an ingress address, and of every network-namespace
// VPC whose network lookup (Config.Net) has a Net for it.
func wanted(snap *snapshot.Snapshot, nets vpcnet.Lookup, resources bool) map[sockKey]struct{} {
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
		if !resources {
			continue
		}
		// Each resource configuration has its own address in the VPC
		// (snapshot.Resource.Addr), never the ingress address: one socket
		// per address and port, which tells the configuration.
		for _, r := range vpc.Resources {
			if r.Port > 0 && r.Port <= 65535 && r.Addr.IsValid() && r.Addr != vpc.Ingress {
				want[sockKey{vpc: vpc.ID, addr: netip.AddrPortFrom(r.Addr, uint16(r.Port)), resource: true}] = struct{}{}
			}
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
func (in *Ingress) Sync(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return ErrClosed
	}
	snap := in.cfg.Holder.Load()
	want := wanted(snap, in.cfg.Net, in.cfg.Resources != nil)

	// Close first, so an address that moved to another VPC can be rebound.
	for k, s := range in.sockets {
		_, keep := want[k]
		if keep && !s.dead.Load() {
			continue
		}
		delete(in.sockets, k)
		if keep {
			in.log.Warn("reopening ingress socket", "vpc", k.vpc, "addr", k.addr.String())
		} else {
			in.log.Info("closing ingress socket", "vpc", k.vpc, "addr", k.addr.String())
		}
		in.drain(s, in.cfg.DrainTimeout)
	}

	keys := make([]sockKey, 0, len(want))
	for k := range want {
		if _, ok := in.sockets[k]; !ok {
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
		s, err := in.open(ctx, k)
		if err != nil {
			in.log.Error("cannot open ingress socket; will retry on the next sync", "vpc", k.vpc, "addr", k.addr.String(), "err", err)
			errs = append(errs, fmt.Errorf("vpc %s: listen on %s: %w", k.vpc, k.addr, err))
			continue
		}
		in.sockets[k] = s
		in.log.Info("ingress socket open", "vpc", k.vpc, "addr", k.addr.String())
	}

	if in.cfg.AfterSync != nil {
		in.cfg.AfterSync(snap)
	}
	return errors.Join(errs...)
}

func (in *Ingress) open(ctx context.Context, k sockKey) (*socket, error) {
	var (
		ln  net.Listener
		err error
	)
	if in.cfg.Net == nil {
		var lc net.ListenConfig
		ln, err = lc.Listen(ctx, "tcp", k.addr.String())
	} else {
		// A network-namespace VPC's ingress is opened inside its
		// namespace; it goes through the same security-group gate below.
		ln, err = vpcnet.Of(in.cfg.Net, k.vpc).Listen(ctx, "tcp", k.addr.String())
	}
	if err != nil {
		return nil, err
	}
	port := int(k.addr.Port())
	if k.resource {
		return in.serve(k, ln, newResourceServer(in.cfg.Resources, k.vpc, k.addr)), nil
	}
	h := in.cfg.Handler(k.vpc, port)
	var rejected func(int, netip.AddrPort, int64)
	if in.cfg.Rejected != nil {
		rejected = in.cfg.Rejected(k.vpc, port)
	}
	var srv server
	if in.cfg.StdServer {
		protos := new(http.Protocols)
		protos.SetHTTP1(true)
		protos.SetUnencryptedHTTP2(true)
		srv = &http.Server{
			Handler:           h,
			Protocols:         protos,
			ReadHeaderTimeout: h1.ReadHeaderTimeout,
			IdleTimeout:       h1.IdleTimeout,
			MaxHeaderBytes:    h1.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(in.log.Handler(), slog.LevelDebug),
		}
	} else {
		var tlsConf *tls.Config
		if in.cfg.TLS != nil {
			tlsConf = in.cfg.TLS(k.vpc, port)
		}
		d := newDispatcher(h, rejected, in.log, in.watch, k.vpc, port, tlsConf, in.cfg.Passthrough, in.cfg.StdH2)
		if in.cfg.ConnObserver != nil {
			d.conns, d.holder = in.cfg.ConnObserver.Socket(k.vpc, port), in.cfg.Holder
		}
		srv = d
	}
	return in.serve(k, ln, srv), nil
}

// serve serves ln with srv, through the security-group gate.
func (in *Ingress) serve(k sockKey, ln net.Listener, srv server) *socket {
	s := &socket{
		key:    k,
		ln:     &onceCloseListener{Listener: &sgListener{Listener: ln, in: in, vpcID: k.vpc, port: k.addr.Port()}},
		srv:    srv,
		served: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !s.stopping.Load() {
			in.log.Error("ingress socket failed; will reopen on the next sync", "vpc", k.vpc, "addr", k.addr.String(), "err", err)
			s.dead.Store(true)
		}
	}()
	return s
}

// drain stops s accepting at once and shuts it down in the background,
// letting in-flight requests finish for up to timeout. Called with in.mu held.
func (in *Ingress) drain(s *socket, timeout time.Duration) {
	s.stopping.Store(true)
	_ = s.ln.Close() // synchronously: the address is free when drain returns
	in.draining[s] = struct{}{}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			in.log.Warn("ingress socket did not drain in time; closing its connections", "addr", s.key.addr.String(), "err", err)
			_ = s.srv.Close()
		}
		<-s.served
		if d, ok := s.srv.(*dispatcher); ok && d.conns != nil {
			d.conns.Done()
		}
		in.mu.Lock()
		delete(in.draining, s)
		in.mu.Unlock()
		close(s.done)
	}()
}

// Run calls Sync once, then on each notification on changes, until ctx
// ends or changes is closed. After a Sync that could not open every socket
// it tries again with a backoff (1s doubling to 30s) even without a
// notification. It does not close the sockets: call Close.
func (in *Ingress) Run(ctx context.Context, changes <-chan struct{}) error {
	const minBackoff, maxBackoff = time.Second, 30 * time.Second
	backoff := minBackoff
	var retry *time.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		err := in.Sync(ctx)
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
func (in *Ingress) Close(ctx context.Context) error {
	in.mu.Lock()
	in.closed = true
	for k, s := range in.sockets {
		delete(in.sockets, k)
		// Bounded by ctx below; the drain timeout only covers a Close
		// whose ctx never ends.
		in.drain(s, in.cfg.DrainTimeout)
	}
	pending := make([]*socket, 0, len(in.draining))
	for s := range in.draining {
		pending = append(pending, s)
	}
	in.mu.Unlock()

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
	return err
}

// Addrs returns the addresses of the open sockets ("ip:port"), sorted.
func (in *Ingress) Addrs() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	keys := make([]netip.AddrPort, 0, len(in.sockets))
	for k, s := range in.sockets {
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

// onceCloseListener lets the ingress close a listener before Shutdown does,
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
