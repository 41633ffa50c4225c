package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// DefaultPort is the default of --dns-port: the port resolvers query
// (RFC 1035 §4.2). Binding it needs root or CAP_NET_BIND_SERVICE.
const DefaultPort = 53

// DefaultTTL is the TTL of the answers when Config.TTL is 0: short, so that
// a client stops using a name soon after its association is removed (the
// reference does not state the TTL of Lattice's records; see docs/dns.md).
const DefaultTTL = 10 * time.Second

// ListenFunc opens the UDP and TCP sockets of a VPC's DNS. The default
// (nil) listens on the host at the VPC's ingress address; a network
// namespace VPC hands its own, opened inside its namespace.
type ListenFunc func(ctx context.Context, vpc *snapshot.VPC, port int) (net.PacketConn, net.Listener, error)

// Config configures a Server.
type Config struct {
	Holder *snapshot.Holder
	// Changes says when the snapshot changed (a watcher subscription).
	Changes <-chan struct{}
	// Port is the port of every VPC's DNS (the serve flag --dns-port).
	Port int
	// Upstreams are the resolvers names Trellis does not own are forwarded
	// to, as host:port; none means such queries are REFUSED.
	Upstreams []string
	// TTL of the answers and of the negative answers' SOA (RFC 2308 §5).
	TTL time.Duration
	// ForwardTimeout bounds one exchange with an upstream (default 2s).
	ForwardTimeout time.Duration
	Listen         ListenFunc
	Logger         *slog.Logger
	// OnQuery, when set, is told the rcode of every answer and whether an
	// upstream gave it (the metrics' trellis_dns_queries_total). Called on
	// the query path: it must not block or allocate.
	OnQuery func(rcode int, forwarded bool)
}

// Server runs the DNS of every VPC. It is a runner: Start, Name, Close.
type Server struct {
	cfg Config
	log *slog.Logger
	h   answerer

	mu      sync.Mutex
	closed  bool
	sockets map[sockKey]*socket
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

type sockKey struct {
	vpc  string
	addr netip.Addr
}

type socket struct {
	udp, tcp *mdns.Server
	dead     chan struct{} // closed when either server stopped on its own
	once     sync.Once
}

// New makes a Server; Start opens its sockets.
func New(cfg Config) *Server {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == nil {
		cfg.Listen = HostListen
	}
	s := &Server{cfg: cfg, log: cfg.Logger, sockets: map[sockKey]*socket{}}
	s.h = answerer{holder: cfg.Holder, ttl: uint32(cfg.TTL / time.Second), upstreams: cfg.Upstreams,
		udp: &mdns.Client{Net: "udp", Timeout: cfg.ForwardTimeout, UDPSize: mdns.MaxMsgSize},
		tcp: &mdns.Client{Net: "tcp", Timeout: cfg.ForwardTimeout}, log: cfg.Logger, onQuery: cfg.OnQuery}
	if s.h.ttl == 0 {
		s.h.ttl = 1
	}
	return s
}

// HostListen opens a VPC's DNS sockets on the host, at its ingress
// address. Port 0 (tests) picks a free port for UDP and listens on the same
// one over TCP, as a DNS server must (RFC 7766 §5).
func HostListen(ctx context.Context, vpc *snapshot.VPC, port int) (net.PacketConn, net.Listener, error) {
	var lc net.ListenConfig
	var err error
	for try := 0; try < 10; try++ {
		var pc net.PacketConn
		pc, err = lc.ListenPacket(ctx, "udp", net.JoinHostPort(vpc.Ingress.String(), strconv.Itoa(port)))
		if err != nil {
			return nil, nil, err
		}
		var ln net.Listener
		ln, err = lc.Listen(ctx, "tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != 0 {
			break
		}
	}
	return nil, nil, err
}

// Name is the runner's name.
func (s *Server) Name() string { return "dns" }

// Start opens the DNS of every VPC of the current snapshot and follows the
// snapshot until Close. A socket that cannot be opened (port 53 without the
// privilege to bind it, an address in use) is logged and retried with a
// backoff, never fatal: the rest of Trellis keeps serving.
func (s *Server) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return errors.New("dns: closed")
	}
	s.cancel = cancel
	s.mu.Unlock()
	first := s.Sync(ctx)
	if first != nil {
		s.log.Warn("dns: some VPC resolvers could not listen; will retry (binding port 53 needs root or CAP_NET_BIND_SERVICE: see --dns-port)",
			"port", s.cfg.Port, "err", first)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx, first)
	}()
	return nil
}

func (s *Server) run(ctx context.Context, err error) {
	const minBackoff, maxBackoff = time.Second, 30 * time.Second
	backoff := minBackoff
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		var retryC <-chan time.Time
		if err != nil {
			retry.Reset(backoff)
			retryC = retry.C
			backoff = min(2*backoff, maxBackoff)
		} else {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-s.cfg.Changes:
			if !ok {
				return
			}
		case <-retryC:
		}
		retry.Stop()
		err = s.Sync(ctx)
	}
}

// Sync makes the open sockets those of the current snapshot's VPCs.
func (s *Server) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("dns: closed")
	}
	snap := s.cfg.Holder.Load()
	want := map[sockKey]*snapshot.VPC{}
	if snap != nil {
		for _, v := range snap.VPCs {
			want[sockKey{v.ID, v.Ingress}] = v
		}
	}
	// Close first, so that an address that moved to another VPC rebinds.
	for k, sk := range s.sockets {
		_, keep := want[k]
		select {
		case <-sk.dead:
			keep = false
		default:
		}
		if keep {
			continue
		}
		delete(s.sockets, k)
		s.log.Info("dns: closing VPC resolver", "vpc", k.vpc, "addr", k.addr.String())
		sk.shutdown()
	}
	keys := make([]sockKey, 0, len(want))
	for k := range want {
		if _, ok := s.sockets[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b sockKey) int { return a.addr.Compare(b.addr) })
	var errs []error
	for _, k := range keys {
		pc, ln, err := s.cfg.Listen(ctx, want[k], s.cfg.Port)
		if err != nil {
			errs = append(errs, fmt.Errorf("vpc %s: dns on %s port %d: %w", k.vpc, k.addr, s.cfg.Port, err))
			continue
		}
		s.sockets[k] = s.serve(k, pc, ln)
		s.log.Info("dns: VPC resolver listening", "vpc", k.vpc, "udp", pc.LocalAddr().String(), "tcp", ln.Addr().String())
	}
	return errors.Join(errs...)
}

// serve starts the servers of one VPC's sockets.
func (s *Server) serve(k sockKey, pc net.PacketConn, ln net.Listener) *socket {
	h := &vpcHandler{a: &s.h, vpc: k.vpc}
	sk := &socket{dead: make(chan struct{}),
		udp: &mdns.Server{PacketConn: pc, Handler: h, UDPSize: mdns.MaxMsgSize},
		tcp: &mdns.Server{Listener: ln, Handler: h, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
			IdleTimeout: func() time.Duration { return 10 * time.Second }}}
	for _, srv := range []*mdns.Server{sk.udp, sk.tcp} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				s.log.Debug("dns: server stopped", "vpc", k.vpc, "err", err)
			}
			sk.once.Do(func() { close(sk.dead) })
		}()
	}
	return sk
}

func (sk *socket) shutdown() {
	// Shutdown closes the sockets; an error means it was not started yet
	// or already stopped, and the socket is closed either way below.
	_ = sk.udp.Shutdown()
	_ = sk.tcp.Shutdown()
	if sk.udp.PacketConn != nil {
		_ = sk.udp.PacketConn.Close()
	}
	if sk.tcp.Listener != nil {
		_ = sk.tcp.Listener.Close()
	}
}

// Addrs returns the UDP address of each VPC's open DNS, by VPC ID (for
// tests and for callers that listen on port 0).
func (s *Server) Addrs() map[string]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]net.Addr{}
	for k, sk := range s.sockets {
		out[k.vpc] = sk.udp.PacketConn.LocalAddr()
	}
	return out
}

// Close stops every VPC's DNS and waits for its goroutines; ctx bounds the
// wait.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	for k, sk := range s.sockets {
		delete(s.sockets, k)
		sk.shutdown()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
