package ingress

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
)

// dispatcher serves one socket: it accepts the connections the security
// groups admit and hands each to the server of its protocol (dispatch).
// Cleartext HTTP/1.x goes to the h1 server; a connection that opens with
// the HTTP/2 preface is handed by the h1 server (h1.Server.HandOff) to
// net/http's HTTP/2 server, with the bytes already read.
type dispatcher struct {
	log *slog.Logger
	h1  *h1.Server

	// Cleartext HTTP/2 (prior knowledge) connections go to h2.
	h2     *http.Server
	h2ln   *connListener
	h2once sync.Once

	shutdown atomic.Bool
}

func newDispatcher(h http.Handler, rejected func(int, netip.AddrPort, int64), log *slog.Logger, watch *h1.Watchdog) *dispatcher {
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	d := &dispatcher{
		log:  log,
		h1:   h1.NewServer(h, log, watch),
		h2ln: newConnListener(),
	}
	d.h1.Rejected = rejected
	d.h1.HandOff = d.handOffH2
	d.h2 = &http.Server{
		Handler:           h,
		Protocols:         protos,
		ReadHeaderTimeout: h1.ReadHeaderTimeout,
		IdleTimeout:       h1.IdleTimeout,
		MaxHeaderBytes:    h1.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return d
}

// Serve accepts connections on ln until it fails or the server shuts down
// (http.ErrServerClosed), dispatching each on a goroutine of its own.
func (d *dispatcher) Serve(ln net.Listener) error {
	return h1.AcceptLoop(ln, d.log, d.shutdown.Load, func(nc net.Conn) { go d.dispatch(nc) })
}

// dispatch serves one admitted connection by its protocol. Today every
// connection is cleartext and starts as HTTP/1.x (the h1 server hands
// HTTP/2 prior-knowledge connections on). This is where TLS plugs in: a
// first byte 0x16 is a TLS record; its ClientHello's SNI picks a TLS
// passthrough listener or a certificate, and a terminated connection goes
// to the h1 server (ServeConn, which sets r.TLS) or, for ALPN "h2", to the
// HTTP/2 server.
func (d *dispatcher) dispatch(nc net.Conn) {
	d.h1.ServeConn(nc)
}

// handOffH2 gives a connection that opened with the HTTP/2 preface to the
// HTTP/2 server.
func (d *dispatcher) handOffH2(c net.Conn) {
	d.h2once.Do(func() {
		go func() { _ = d.h2.Serve(d.h2ln) }()
	})
	select {
	case d.h2ln.ch <- c:
	case <-d.h2ln.done:
		_ = c.Close()
	}
}

// Shutdown stops new requests: idle connections close at once, busy ones
// after their current request (HTTP/2 ones too). It returns when none is
// left, or with ctx's error.
func (d *dispatcher) Shutdown(ctx context.Context) error {
	d.shutdown.Store(true)
	d.h2ln.Close()
	h2err := make(chan error, 1)
	go func() { h2err <- d.h2.Shutdown(ctx) }()
	if err := d.h1.Shutdown(ctx); err != nil {
		return err
	}
	return <-h2err
}

// Close closes every connection at once, cancelling their requests.
func (d *dispatcher) Close() error {
	d.shutdown.Store(true)
	d.h2ln.Close()
	err := d.h2.Close()
	_ = d.h1.Close()
	return err
}

// connListener feeds connections to the HTTP/2 server.
type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }
