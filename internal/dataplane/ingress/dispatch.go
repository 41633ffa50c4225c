package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/dataplane/h2"
	"github.com/trellis-net/trellis/internal/dataplane/tlspeek"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// HandshakeTimeout bounds the time from a TLS connection's first byte to
// the end of its handshake (the ClientHello peek included).
const HandshakeTimeout = 10 * time.Second

// Passthrough relays the TLS connections of TLS_PASSTHROUGH listeners
// (internal/dataplane/passthrough).
type Passthrough interface {
	// Serves reports whether a TLS connection to port of the VPC's
	// ingress naming serverName is a passthrough one.
	Serves(vpcID string, port int, serverName string) bool
	// ServeConn relays c (the raw connection; raw are the bytes already
	// read from it) until it is over, and closes c. Cancelling ctx closes
	// it.
	ServeConn(ctx context.Context, c net.Conn, vpcID string, port int, hello *tlspeek.Hello, raw []byte)
}

// dispatcher serves one socket: it accepts the connections the security
// groups admit and hands each to the server of its protocol. Every
// connection starts at the h1 server, which serves cleartext HTTP/1.x and
// hands on what is not: a connection that opens with the HTTP/2 preface
// goes to the h2 server (h2c), one that opens with a TLS handshake record
// to serveTLS — which relays it untouched when its SNI names a
// TLS_PASSTHROUGH listener, and otherwise terminates TLS with the socket's
// certificates (tlsterm) and serves the HTTPS requests: ALPN "h2" by the
// h2 server, HTTP/1.1 by the h1 server again. Plain HTTP costs nothing for
// it: the h1 server looks at the first byte it reads anyway. With
// Config.StdH2, net/http's HTTP/2 server takes the h2 server's place (for
// comparisons).
type dispatcher struct {
	log   *slog.Logger
	vpcID string
	port  int
	h1    *h1.Server
	tls   *tls.Config // nil: TLS connections are closed
	pass  Passthrough // nil: no passthrough

	// conns counts the socket's connections (connobs.go); nil: nothing is
	// counted. holder resolves a TLS handshake's SNI to its service.
	conns  SocketConns
	holder *snapshot.Holder

	// HTTP/2 connections, cleartext (prior knowledge) and over TLS, go to
	// h2own; with StdH2 to net/http's servers instead: cleartext ones to
	// h2, those over TLS to h2TLS.
	h2own         *h2.Server
	h2, h2TLS     *http.Server
	h2ln, h2TLSln *connListener
	h2once        sync.Once
	h2TLSonce     sync.Once

	// Connections in a TLS handshake or relayed by passthrough: ctx ends
	// them (Close, or a Shutdown past its deadline).
	ctx    context.Context
	cancel context.CancelFunc
	tlsN   inflight

	shutdown atomic.Bool
}

func newDispatcher(h http.Handler, rejected func(int, netip.AddrPort, int64), log *slog.Logger, watch *h1.Watchdog,
	vpcID string, port int, tlsConf *tls.Config, pass Passthrough, stdH2 bool) *dispatcher {
	d := &dispatcher{
		log:     log,
		vpcID:   vpcID,
		port:    port,
		h1:      h1.NewServer(h, log, watch),
		tls:     tlsConf,
		pass:    pass,
		h2ln:    newConnListener(),
		h2TLSln: newConnListener(),
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.h1.Rejected = rejected
	d.h1.HandOff = d.handOffH2
	if tlsConf != nil || pass != nil {
		d.h1.TLSHandOff = d.serveTLS
	}
	if !stdH2 {
		d.h2own = h2.NewServer(h, log)
		d.h2own.Rejected = rejected
		return d
	}
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	d.h2 = d.httpServer(h, h2c)
	protos := new(http.Protocols)
	protos.SetHTTP2(true)
	d.h2TLS = d.httpServer(h, protos)
	return d
}

func (d *dispatcher) httpServer(h http.Handler, protos *http.Protocols) *http.Server {
	return &http.Server{
		Handler:           h,
		Protocols:         protos,
		ReadHeaderTimeout: h1.ReadHeaderTimeout,
		IdleTimeout:       h1.IdleTimeout,
		MaxHeaderBytes:    h1.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
}

// Serve accepts connections on ln until it fails or the server shuts down
// (http.ErrServerClosed), dispatching each on a goroutine of its own.
func (d *dispatcher) Serve(ln net.Listener) error {
	return h1.AcceptLoop(ln, d.log, d.shutdown.Load, func(nc net.Conn) { go d.dispatch(nc) })
}

// dispatch serves one admitted connection, starting as HTTP/1.x (the h1
// server hands on HTTP/2 prior-knowledge and TLS connections).
func (d *dispatcher) dispatch(nc net.Conn) {
	if d.conns == nil {
		d.h1.ServeConn(nc)
		return
	}
	// The hand-offs run on this goroutine and return when their
	// connection is over (with StdH2, net/http's server takes it over at
	// the hand-off: Closed is then early), so Closed follows the end of
	// any connection.
	d.conns.Opened()
	if !d.h1.ServeConnHanded(nc) {
		d.conns.Protocol(ProtoHTTP1)
	}
	d.conns.Closed()
}

// proto counts c's protocol, if connections are counted.
func (d *dispatcher) proto(p ConnProto) {
	if d.conns != nil {
		d.conns.Protocol(p)
	}
}

// handshake counts a TLS handshake's end, if connections are counted.
func (d *dispatcher) handshake(sni string, ok bool) {
	if d.conns != nil {
		d.conns.TLSHandshake(d.sniService(sni), ok)
	}
}

// serveTLS serves a connection that opened with a TLS handshake record:
// its ClientHello is read without being consumed (tlspeek); an SNI naming
// a TLS_PASSTHROUGH listener on this port hands the raw connection to the
// relay, anything else is terminated here (the handshake fails without
// SNI, or for a name no HTTPS listener of a reachable service answers to:
// tlsterm) and its requests are served like cleartext ones, with r.TLS set.
func (d *dispatcher) serveTLS(c net.Conn) {
	if !d.tlsN.add() {
		_ = c.Close() // shutting down
		return
	}
	defer d.tlsN.done()
	deadline := time.Now().Add(HandshakeTimeout)
	_ = c.SetDeadline(deadline)
	hello, raw, err := tlspeek.Peek(c, 0)
	if err != nil && !errors.Is(err, tlspeek.ErrInvalidServerName) {
		d.log.Debug("not a TLS ClientHello", "vpc", d.vpcID, "port", d.port, "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Close()
		d.handshake("", false)
		d.proto(ProtoNone)
		return
	}
	sni := ""
	if hello != nil {
		sni = hello.ServerName
	}
	under, rest := h1.Unbuffer(c)
	raw = append(raw, rest...)
	if d.pass != nil && sni != "" && d.pass.Serves(d.vpcID, d.port, sni) {
		_ = under.SetDeadline(time.Time{})
		d.proto(ProtoPassthrough)
		d.pass.ServeConn(d.ctx, under, d.vpcID, d.port, hello, raw)
		return
	}
	if d.tls == nil || hello == nil {
		// No SNI fit for a certificate (an IP literal, a malformed name)
		// or no termination here: refused, as a missing SNI is.
		_ = under.Close()
		d.handshake(sni, false)
		d.proto(ProtoNone)
		return
	}
	tc := tls.Server(tlspeek.Replay(under, raw), d.tls)
	ctx, cancel := context.WithDeadline(d.ctx, deadline)
	err = tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		d.log.Debug("TLS handshake failed", "vpc", d.vpcID, "port", d.port, "sni", sni, "remote", under.RemoteAddr().String(), "err", err)
		_ = tc.Close()
		d.handshake(sni, false)
		d.proto(ProtoNone)
		return
	}
	d.handshake(sni, true)
	_ = tc.SetDeadline(time.Time{})
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		d.proto(ProtoHTTP2)
		if d.h2own != nil {
			d.h2own.ServeConn(tc)
			return
		}
		d.h2TLSonce.Do(func() {
			go func() { _ = d.h2TLS.Serve(d.h2TLSln) }()
		})
		d.feed(d.h2TLSln, tc)
		return
	}
	d.proto(ProtoHTTP1)
	d.h1.ServeConn(tc)
}

// feed gives c to the server behind l, or closes it when l is closed.
func (d *dispatcher) feed(l *connListener, c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// handOffH2 gives a connection that opened with the HTTP/2 preface to the
// HTTP/2 server.
func (d *dispatcher) handOffH2(c net.Conn) {
	d.proto(ProtoHTTP2)
	if d.h2own != nil {
		d.h2own.ServeConn(c)
		return
	}
	d.h2once.Do(func() {
		go func() { _ = d.h2.Serve(d.h2ln) }()
	})
	d.feed(d.h2ln, c)
}

// Shutdown stops new requests: idle connections close at once, busy ones
// after their current request (HTTP/2 ones too), relayed passthrough
// connections when they end. It returns when none is left, or with ctx's
// error, when the relays still open are closed.
func (d *dispatcher) Shutdown(ctx context.Context) error {
	d.shutdown.Store(true)
	d.h2ln.Close()
	d.h2TLSln.Close()
	h2err := make(chan error, 2)
	if d.h2own != nil {
		go func() { h2err <- d.h2own.Shutdown(ctx) }()
		h2err <- nil
	} else {
		go func() { h2err <- d.h2.Shutdown(ctx) }()
		go func() { h2err <- d.h2TLS.Shutdown(ctx) }()
	}
	relays := d.tlsN.closeAndWait()
	err := d.h1.Shutdown(ctx)
	err = errors.Join(err, <-h2err, <-h2err)
	select {
	case <-relays:
	case <-ctx.Done():
		d.cancel()
		<-relays
		err = errors.Join(err, ctx.Err())
	}
	return err
}

// Close closes every connection at once, cancelling their requests.
func (d *dispatcher) Close() error {
	d.shutdown.Store(true)
	d.cancel()
	d.h2ln.Close()
	d.h2TLSln.Close()
	var err error
	if d.h2own != nil {
		err = d.h2own.Close()
	} else {
		err = errors.Join(d.h2.Close(), d.h2TLS.Close())
	}
	_ = d.h1.Close()
	return err
}

// inflight counts connections until it is closed, and says when the last
// one has gone.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool
	zero   chan struct{}
}

// add counts one more; false once closed.
func (f *inflight) add() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
}

// closeAndWait refuses further adds and returns a channel closed when none
// is left.
func (f *inflight) closeAndWait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.zero != nil {
		return f.zero // a second Shutdown waits for the same
	}
	ch := make(chan struct{})
	if f.n == 0 {
		close(ch)
	} else {
		f.zero = ch
	}
	return ch
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
