package h2

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
)

// The server's limits and its flood defences (RFC 9113 §10.5: "an endpoint
// MAY treat activity that is suspicious as a connection error of type
// ENHANCE_YOUR_CALM").
const (
	// MaxConcurrentStreams is advertised (SETTINGS_MAX_CONCURRENT_STREAMS);
	// a stream opened beyond it is refused (REFUSED_STREAM, §5.1.2).
	MaxConcurrentStreams = 250
	// maxHandlers bounds the handlers running on a connection: a stream
	// the client resets leaves the protocol's count at once, its handler
	// only when it notices, so a client resetting as fast as it opens
	// (CVE-2023-44487, "rapid reset") could otherwise start handlers
	// without bound. Past it new streams are refused.
	maxHandlers = 2 * MaxConcurrentStreams
	// maxResetsPerSecond is how many streams a client may reset, in one
	// second, while their handlers still run, before the connection is
	// closed with ENHANCE_YOUR_CALM (rapid reset).
	maxResetsPerSecond = 500
	// maxControlPerSecond is how many frames that ask work of the server
	// and carry no request (PING, SETTINGS, empty DATA, WINDOW_UPDATE or
	// PRIORITY or RST_STREAM of streams gone) a client may send in one
	// second before the connection is closed with ENHANCE_YOUR_CALM.
	maxControlPerSecond = 2000
	// maxOutBuffered is the size of the output buffer at which a handler
	// writing DATA waits for the writer; maxControlBuffered the size at
	// which the reader, queueing a control frame (a PING's ACK, a
	// SETTINGS ACK, RST_STREAM), decides the client does not read what it
	// asked for, and closes the connection.
	maxOutBuffered     = 256 << 10
	maxControlBuffered = 1 << 20
	// Receive windows: what a client may send before the handler reads,
	// per stream and per connection (RFC 9113 §6.9).
	streamWindow = 256 << 10
	connWindow   = 1 << 20
	// sendTimeout bounds one write to the client.
	sendTimeout = 60 * time.Second
	// idleWorkers is how many worker goroutines the package keeps waiting
	// for streams once they are done (shared by every Server: the
	// ingress has a Server per socket); workerIdle how long one may wait
	// before it ends.
	idleWorkers = 256
	workerIdle  = time.Minute
)

// Server serves HTTP/2 connections handed to ServeConn. Set its exported
// fields before serving.
type Server struct {
	// ReadHeaderTimeout bounds the time from the connection's start to
	// its first request's header (the preface and SETTINGS included);
	// IdleTimeout the time a connection with no stream stays open.
	// MaxHeaderBytes bounds a header list (SETTINGS_MAX_HEADER_LIST_SIZE;
	// beyond it the request is answered 431). Defaults: h1's.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// Rejected is told of every request the server answered itself
	// because it could not take it (431: its header list too large): the
	// peer and the bytes of the answer, as h1.Server.Rejected. Nil:
	// nobody is told.
	Rejected func(status int, peer netip.AddrPort, bytesSent int64)

	handler http.Handler
	log     *slog.Logger
	// sendTimeout and maxControl are the constants of the same names,
	// shortened by tests.
	sendTimeout time.Duration
	maxControl  int

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown atomic.Bool
}

// NewServer returns a server calling h for every request.
func NewServer(h http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		ReadHeaderTimeout: h1.ReadHeaderTimeout,
		IdleTimeout:       h1.IdleTimeout,
		MaxHeaderBytes:    h1.MaxHeaderBytes,
		handler:           h,
		log:               log,
		sendTimeout:       sendTimeout,
		maxControl:        maxControlBuffered,
		conns:             map[*conn]struct{}{},
	}
}

// ServeConn serves one connection whose next bytes are the client's
// connection preface (RFC 9113 §3.4): a cleartext connection opened with
// prior knowledge (handed off by h1, its buffered bytes first: h1.Unbuffer),
// or a *tls.Conn that negotiated "h2" by ALPN. It returns when the
// connection is over; the server owns nc.
func (s *Server) ServeConn(nc net.Conn) {
	c := s.newConn(nc)
	if c == nil {
		return
	}
	c.serve()
}

func (s *Server) newConn(nc net.Conn) *conn {
	under, rest := h1.Unbuffer(nc)
	c := &conn{srv: s, nc: under, remote: under.RemoteAddr().String()}
	if tc, ok := under.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		c.info.TLS = &cs
	}
	if ap, err := netip.ParseAddrPort(c.remote); err == nil {
		c.info.Peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		c.info.PeerHeader = []string{h1.ClientIP(c.remote)}
	}
	c.info.Local = under.LocalAddr()
	c.init(rest)
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		_ = under.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops new requests: every connection is told so (GOAWAY, RFC
// 9113 §6.8), idle ones close at once, busy ones once their streams are
// done. It returns when none is left, or with ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.startShutdown()
		}
		if len(conns) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes every connection at once, cancelling their requests.
func (s *Server) Close() error {
	s.shutdown.Store(true)
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeNow()
	}
	return nil
}

// worker runs handlers, one stream after the other, on a goroutine whose
// stack has grown into the proxy's already: a fresh goroutine per stream
// would grow its stack again each time.
type worker struct {
	ch    chan *stream
	since time.Time // waiting since
}

// workers are the waiting workers, most recent last: the one taken is the
// warmest, the ones at the bottom end once they waited workerIdle.
var workers struct {
	mu   sync.Mutex
	idle []*worker
}

// run hands st to a waiting worker, or to a new one.
func (s *Server) run(st *stream) {
	workers.mu.Lock()
	if n := len(workers.idle); n > 0 {
		w := workers.idle[n-1]
		workers.idle[n-1] = nil
		workers.idle = workers.idle[:n-1]
		workers.mu.Unlock()
		w.ch <- st
		return
	}
	workers.mu.Unlock()
	w := &worker{ch: make(chan *stream, 1)}
	go w.work(st)
}

func (w *worker) work(st *stream) {
	for {
		st.serve()
		st = nil
		now := time.Now()
		workers.mu.Lock()
		if len(workers.idle) >= idleWorkers {
			workers.mu.Unlock()
			return
		}
		if len(workers.idle) > 0 && now.Sub(workers.idle[0].since) > workerIdle {
			// The oldest has waited long enough: fewer are needed.
			close(workers.idle[0].ch)
			workers.idle = append(workers.idle[:0], workers.idle[1:]...)
		}
		w.since = now
		workers.idle = append(workers.idle, w)
		workers.mu.Unlock()
		var ok bool
		if st, ok = <-w.ch; !ok {
			return
		}
	}
}

// stopIdleWorkers ends the waiting workers (tests, to find goroutines
// left behind).
func stopIdleWorkers() {
	workers.mu.Lock()
	idle := workers.idle
	workers.idle = nil
	workers.mu.Unlock()
	for _, w := range idle {
		close(w.ch)
	}
}
