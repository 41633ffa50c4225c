package h1

// Server: an HTTP/1.x server built for a proxy (cleartext HTTP/2
// connections, which open with the "PRI * HTTP/2.0" preface, are handed to
// the caller's Server.HandOff with the bytes read so far).
// It calls the same http.Handler net/http would, with an *http.Request and
// an http.ResponseWriter, but does per request only what a proxy needs:
//
//   - Parsing: the head is parsed in the read buffer and copied into one
//     string (parse.go); the header map, its values, the URL and the
//     Request are the only other allocations. What RFC 9112 tells a server
//     to reject is rejected (400/431/501/505): malformed lines, obsolete
//     folding, bad names and values, conflicting or invalid Content-Length,
//     Transfer-Encoding together with Content-Length (request smuggling),
//     transfer codings other than chunked, a missing or repeated Host.
//   - No context, goroutine or timer per request. A request's context is
//     its connection's (connCtx), cancelled when the client is found gone.
//     Finding it costs nothing on fast requests: a watchdog (one goroutine
//     per Watchdog, shared by the servers of a proxy, 100 ms ticks) looks for requests that are still running
//     at two ticks in a row with their body consumed, and only for those
//     starts a one-byte background read that notices the client closing.
//     A target's connection is aborted through a hook on the context,
//     without allocating (OnGone).
//   - Reads: before waiting for the next request the goroutine yields, so
//     that under load the request is usually there when it reads (no
//     EAGAIN and park); a client can do the same before reading a
//     response.
//   - Deadlines: an idle deadline is set once per second of requests, not
//     per request; a head that does not arrive in one read gets the
//     header timeout; a request body clears the deadline (uploads may be
//     long).
//   - Responses: written straight into the connection's buffered writer:
//     Content-Length when the handler (or the target) gave one, chunked
//     otherwise (close-delimited for HTTP/1.0), trailers, HEAD/1xx/204/304
//     without a body, "Expect: 100-continue" answered when the handler
//     first reads the body. A Date is added when missing; nothing else is
//     (no content sniffing: the target's response passes through as sent).
//   - Keep-alive unless either side says close, a response was cut short,
//     an unread body is too large to skip (256 KiB) or the server shuts
//     down. Shutdown closes idle connections at once and lets the others
//     finish their request; Close cuts everything.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	srvBufSize       = 4 << 10
	srvMaxDiscard    = 256 << 10 // an unread request body up to this is skipped to keep the connection
	srvWatchEvery    = 100 * time.Millisecond
	srvDeadlineSlack = time.Second
	srvLinger        = 500 * time.Millisecond
)

var (
	srvReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, srvBufSize) }}
	srvWriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, srvBufSize) }}
	errH2Preface  = errors.New("HTTP/2 connection preface")
	teChunked     = []string{"chunked"}
	zeroLength    = []string{"0"}
)

// statusError is a request the server answers itself, then closes.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// Server serves HTTP/1.x on listeners handed to Serve, or on connections
// handed to ServeConn. Set its exported fields before serving.
type Server struct {
	// HandOff receives a connection that opened with the HTTP/2 connection
	// preface (prior knowledge, RFC 9113 §3.3), the bytes read so far
	// still to be read from it; it owns the connection from then on. Nil
	// closes such connections.
	HandOff func(net.Conn)
	// TLSHandOff receives a connection whose first byte opens a TLS
	// handshake record (0x16, which starts no HTTP/1.x request: RFC 8446
	// §5.1), the bytes read so far still to be read from it (Unbuffer); it
	// owns the connection from then on. Nil: such a connection is answered
	// 400 as a malformed request. A connection handed to ServeConn as a
	// *tls.Conn is never handed on.
	TLSHandOff func(net.Conn)
	// Rejected is told of every request the server answered itself because
	// it could not take it (400, 431, 501, 505; the connection closes):
	// the peer and the bytes of the answer. Nil: nobody is told.
	Rejected func(status int, peer netip.AddrPort, bytesSent int64)

	handler           http.Handler
	log               *slog.Logger
	watch             *Watchdog
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	sendTimeout       time.Duration // see connWriter
	maxHeaderBytes    int

	mu       sync.Mutex
	conns    map[*srvConn]struct{}
	shutdown atomic.Bool
}

// NewServer returns a server calling h for every request. The servers of
// one proxy share w (nil: a watchdog of its own), so one goroutine looks
// for gone clients.
func NewServer(h http.Handler, log *slog.Logger, w *Watchdog) *Server {
	if log == nil {
		log = slog.Default()
	}
	if w == nil {
		w = NewWatchdog()
	}
	return &Server{
		handler:           h,
		log:               log,
		watch:             w,
		readHeaderTimeout: ReadHeaderTimeout,
		idleTimeout:       IdleTimeout,
		sendTimeout:       60 * time.Second,
		maxHeaderBytes:    MaxHeaderBytes,
		conns:             map[*srvConn]struct{}{},
	}
}

// The server's limits, for a server of HTTP/2 beside it to match.
const (
	ReadHeaderTimeout = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// Serve accepts connections on ln until it fails or the server shuts down
// (http.ErrServerClosed).
func (s *Server) Serve(ln net.Listener) error {
	return AcceptLoop(ln, s.log, s.shutdown.Load, func(nc net.Conn) {
		if c := s.newConn(nc); c != nil {
			go c.serve()
		}
	})
}

// AcceptLoop accepts connections on ln and hands each to serve (which
// must not block: it starts the connection's goroutine), until ln fails
// for good: http.ErrServerClosed once shut reports a shutdown, the error
// of a closed listener, and transient errors (out of file descriptors and
// the like) are waited out with a backoff (5 ms doubling to 1 s).
func AcceptLoop(ln net.Listener, log *slog.Logger, shut func() bool, serve func(net.Conn)) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if shut() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			log.Warn("accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		serve(nc)
	}
}

// ServeConn serves one connection already accepted (a TLS connection, one
// whose first bytes were peeked), until it closes; it returns then. The
// server owns nc: Shutdown and Close treat it as any other.
func (s *Server) ServeConn(nc net.Conn) {
	s.ServeConnHanded(nc)
}

// ServeConnHanded is ServeConn, reporting whether the connection was
// handed on (HandOff, TLSHandOff) rather than served as HTTP/1.x here: the
// ingress's connection metrics count the HTTP/1.x ones.
func (s *Server) ServeConnHanded(nc net.Conn) (handedOff bool) {
	c := s.newConn(nc)
	if c == nil {
		return false
	}
	c.serve()
	return c.handed
}

func (s *Server) newConn(nc net.Conn) *srvConn {
	c := &srvConn{srv: s, nc: nc, remote: nc.RemoteAddr().String()}
	c.ctx.done = make(chan struct{})
	if ap, err := netip.ParseAddrPort(c.remote); err == nil {
		c.ctx.info.Peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		c.ctx.info.PeerHeader = []string{ClientIP(c.remote)}
	}
	c.ctx.info.Local = nc.LocalAddr()
	c.br = srvReaderPool.Get().(*bufio.Reader)
	c.br.Reset(connReader{c})
	c.bw = srvWriterPool.Get().(*bufio.Writer)
	c.bw.Reset(connWriter{c})
	c.res.c = c
	c.res.header = make(http.Header)
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		_ = nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.watch.add(c)
	return c
}

// Shutdown stops new requests: idle connections close at once, busy ones
// after their current request. It returns when none is left, or with
// ctx's error. (Connections handed off are no longer the server's.)
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			if c.state.CompareAndSwap(stateIdle, stateClosed) {
				_ = c.nc.Close()
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
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
	for c := range s.conns {
		c.state.Store(stateClosed)
		_ = c.nc.Close()
		c.ctx.cancel()
	}
	s.mu.Unlock()
	return nil
}

func (s *Server) remove(c *srvConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.watch.remove(c)
}

// handOff gives a connection that opened with the HTTP/2 preface to
// HandOff, with the bytes already read; false when there is none (the
// connection is closed as usual).
func (s *Server) handOff(c *srvConn) bool {
	if s.HandOff == nil {
		return false
	}
	s.HandOff(&bufferedConn{Conn: c.nc, br: c.br})
	return true
}

// Connection states (srvConn.state).
const (
	stateIdle   = iota // waiting for a request
	stateActive        // reading or serving one
	stateClosed        // closed by Shutdown
)

// srvConn is one client connection.
type srvConn struct {
	srv    *Server
	nc     net.Conn
	br     *bufio.Reader // reads through connReader
	bw     *bufio.Writer
	remote string
	ctx    connCtx
	res    h1Response // reused by every request
	state  atomic.Int32

	fields    []field
	scratch   []byte
	deadline  time.Time // the read deadline set on nc (zero: none)
	wdeadline time.Time // the write deadline set on nc (connWriter)
	handed    bool      // handed off (HTTP/2)
	noPool    bool      // a body reader may still hold br: do not pool it
	linger    bool      // close after a lingering drain (a body was left unread)

	// contMu orders a "100 Continue" (sent by the body's reader) and the
	// response header (the handler's) on bw.
	contMu sync.Mutex

	// Client-gone watching (see Watchdog).
	seq        atomic.Uint32 // requests started
	watchable  atomic.Bool   // a request runs and its body is consumed
	seenSeq    uint32        // the watchdog's own
	wmu        sync.Mutex
	watching   bool
	aborting   bool
	watchDone  chan struct{}
	pending    byte // a byte the background read got (the next request's)
	hasPending bool
}

// connReader is what the connection's bufio.Reader reads: first a byte
// the background read took, then the socket.
type connReader struct{ c *srvConn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	if c.hasPending && len(p) > 0 {
		p[0] = c.pending
		c.hasPending = false
		return 1, nil
	}
	return c.nc.Read(p)
}

// connWriter is what the connection's bufio.Writer writes to: the socket,
// under a send timeout. A client that stops reading (a slow-read attack,
// or a peer that vanished without a FIN) would otherwise hold the
// connection, its handler and the target's connection for ever; as nginx's
// send_timeout, a write that cannot make progress for srvSendTimeout fails.
// The deadline is moved only when it is more than srvDeadlineSlack behind,
// by the coarse clock: no timer change per write.
type connWriter struct{ c *srvConn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	want := c.srv.watch.now().Add(c.srv.sendTimeout)
	if c.wdeadline.Before(want.Add(-srvDeadlineSlack)) {
		if err := c.nc.SetWriteDeadline(want); err != nil {
			return 0, err
		}
		c.wdeadline = want
	}
	return c.nc.Write(p)
}

func (c *srvConn) serve() {
	defer c.close()
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.log.Error("panic serving a request", "remote", c.remote, "panic", v, "stack", string(buf))
		}
	}()
	tc, isTLS := c.nc.(*tls.Conn)
	if isTLS && !c.handshake(tc) {
		return
	}
	first := true
	for {
		if !c.waitRequest() {
			return
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			return // Shutdown closed it
		}
		if first && c.srv.TLSHandOff != nil && !isTLS {
			if b, _ := c.br.Peek(1); len(b) == 1 && b[0] == recordTypeHandshake {
				c.handed = true
				c.srv.TLSHandOff(&bufferedConn{Conn: c.nc, br: c.br})
				return
			}
		}
		req, expect, err := c.readRequest(first)
		if err != nil {
			if err == errH2Preface {
				c.handed = c.srv.handOff(c)
				return
			}
			c.reject(err)
			return
		}
		first = false
		if !c.serveRequest(req, expect) {
			return
		}
		if c.srv.shutdown.Load() {
			return
		}
		c.state.Store(stateIdle)
	}
}

// handshake completes a TLS connection's handshake (under the header
// timeout) and notes its state for ConnInfo and r.TLS.
func (c *srvConn) handshake(tc *tls.Conn) bool {
	if tc.SetDeadline(time.Now().Add(c.srv.readHeaderTimeout)) != nil {
		return false
	}
	if err := tc.Handshake(); err != nil {
		c.srv.log.Debug("TLS handshake failed", "remote", c.remote, "err", err)
		return false
	}
	if tc.SetDeadline(time.Time{}) != nil {
		return false
	}
	cs := tc.ConnectionState()
	c.ctx.info.TLS = &cs
	return true
}

// waitRequest waits for the first byte of the next request under the idle
// deadline.
func (c *srvConn) waitRequest() bool {
	if c.br.Buffered() == 0 {
		now := c.srv.watch.now()
		if want := now.Add(c.srv.idleTimeout); c.deadline.IsZero() || c.deadline.Before(want.Add(-srvDeadlineSlack)) || c.deadline.After(want) {
			if c.nc.SetReadDeadline(want) != nil {
				return false
			}
			c.deadline = want
		}
		// Let the other connections run first: under load the next
		// request has often arrived by then, and the read below finds it
		// instead of failing with EAGAIN and parking (a system call and a
		// poller round trip saved); idle, this returns at once.
		runtime.Gosched()
		if _, err := c.br.Peek(1); err != nil {
			return false // closed, reset or idle too long: nothing to answer
		}
	}
	return true
}

// headerDeadline bounds the time a head that arrives in pieces may take
// (readHead calls it before it has to wait).
func (c *srvConn) headerDeadline() error {
	want := c.srv.watch.now().Add(c.srv.readHeaderTimeout)
	if err := c.nc.SetReadDeadline(want); err != nil {
		return err
	}
	c.deadline = want
	return nil
}

// readRequest reads and checks a request head and makes the request.
// expect reports an "Expect: 100-continue" to answer on the first body
// read.
func (c *srvConn) readRequest(first bool) (req *http.Request, expect bool, err error) {
	head, n, err := readHead(c.br, c.srv.maxHeaderBytes, c.scratch, c.headerDeadline)
	if err != nil {
		return nil, false, err
	}
	if n == 0 {
		c.scratch = head[:0] // keep the grown buffer
	}
	line, off := splitLine(head)
	sp1 := indexByte(line, ' ')
	if sp1 <= 0 {
		return nil, false, headError("malformed request line")
	}
	sp2 := indexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return nil, false, headError("malformed request line")
	}
	sp2 += sp1 + 1
	proto := line[sp2+1:]
	var minor int
	switch string(proto) {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
	case "HTTP/2.0":
		if first && n > 0 && string(line[:sp1]) == "PRI" && string(line[sp1+1:sp2]) == "*" {
			return nil, false, errH2Preface // bytes left in the buffer for HTTP/2
		}
		return nil, false, &statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	default:
		if len(proto) == 8 && string(proto[:5]) == "HTTP/" && proto[6] == '.' && '0' <= proto[5] && proto[5] <= '9' && '0' <= proto[7] && proto[7] <= '9' {
			return nil, false, &statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
		}
		return nil, false, headError("malformed request line")
	}
	fields, err := parseFields(head, off, c.fields[:0])
	c.fields = fields
	if err != nil {
		return nil, false, err
	}
	s := string(head) // the one copy of the head
	if n > 0 {
		_, _ = c.br.Discard(n)
	}
	method, target := s[:sp1], s[sp1+1:sp2]
	if !IsToken(method) {
		return nil, false, headError("invalid method")
	}
	h := buildHeader(s, fields)

	// Host: exactly one (HTTP/1.1); an absolute-form target overrides it.
	var host string
	if hv, ok := h["Host"]; ok {
		if len(hv) > 1 {
			return nil, false, headError("more than one Host header")
		}
		host = hv[0]
		delete(h, "Host")
	} else if minor == 1 {
		return nil, false, headError("missing Host header")
	}
	u, err := requestURL(method, target)
	if err != nil {
		return nil, false, err
	}
	if u.Host != "" && method != http.MethodConnect {
		host = u.Host
	}
	if !ValidHost(host) {
		return nil, false, headError("invalid Host header")
	}

	// Framing of the body.
	var (
		length  int64
		chunked bool
		te      []string
	)
	if tv, ok := h["Transfer-Encoding"]; ok {
		if minor == 0 {
			return nil, false, headError("Transfer-Encoding in an HTTP/1.0 request")
		}
		if _, ok := h["Content-Length"]; ok {
			return nil, false, headError("both Transfer-Encoding and Content-Length")
		}
		if len(tv) != 1 || !strings.EqualFold(tv[0], "chunked") {
			return nil, false, &statusError{http.StatusNotImplemented, "unsupported transfer coding"}
		}
		delete(h, "Transfer-Encoding")
		chunked, length, te = true, -1, teChunked
	} else if cv, ok := h["Content-Length"]; ok {
		length = ParseLength(cv[0])
		for _, v := range cv[1:] {
			if v != cv[0] {
				length = -1
			}
		}
		if length < 0 {
			return nil, false, headError("invalid Content-Length")
		}
	}
	conn := h["Connection"]
	closing := HasToken(conn, "close") || (minor == 0 && !HasToken(conn, "keep-alive"))
	if _, ok := h["Upgrade"]; ok && HasToken(conn, "upgrade") {
		// A request that asks to switch protocols is the connection's
		// last: after a 101 the connection is the handler's (Upgrade);
		// after any other answer the client's next bytes may be the new
		// protocol's, never to be read as a request.
		closing = true
	}
	if ev, ok := h["Expect"]; ok {
		if len(ev) != 1 || !strings.EqualFold(ev[0], "100-continue") {
			return nil, false, &statusError{http.StatusExpectationFailed, "unsupported expectation"}
		}
		delete(h, "Expect")
		expect = minor == 1 && (chunked || length > 0)
	}

	protoStr := "HTTP/1.1"
	if minor == 0 {
		protoStr = "HTTP/1.0"
	}
	r := http.Request{
		Method: method, URL: u, Proto: protoStr, ProtoMajor: 1, ProtoMinor: minor,
		Header: h, Body: http.NoBody, ContentLength: length, TransferEncoding: te,
		Close: closing, Host: host, RemoteAddr: c.remote, RequestURI: target,
		TLS: c.ctx.info.TLS,
	}
	req = r.WithContext(&c.ctx)
	if chunked || length > 0 {
		b := &srvBody{c: c, req: req, remaining: length, expect: expect}
		if chunked {
			b.cr = httputil.NewChunkedReader(c.br)
			if tv, ok := h["Trailer"]; ok {
				req.Trailer = DeclaredTrailers(tv)
			}
		}
		req.Body = b
		// An upload may take longer than the idle timeout.
		if !c.deadline.IsZero() {
			if err := c.nc.SetReadDeadline(time.Time{}); err != nil {
				return nil, false, err
			}
			c.deadline = time.Time{}
		}
	}
	return req, expect, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// requestURL parses a request target: origin form cheaply, the other forms
// (absolute, authority for CONNECT, "*") and escaped paths with net/url.
func requestURL(method, target string) (*url.URL, error) {
	if target == "" {
		return nil, headError("empty request target")
	}
	if method == http.MethodConnect {
		if strings.HasPrefix(target, "/") {
			return nil, headError("invalid CONNECT target")
		}
		return &url.URL{Host: target}, nil
	}
	if target[0] == '/' {
		simple := true
		for i := 0; i < len(target); i++ {
			c := target[i]
			if c <= ' ' || c == 0x7f {
				return nil, headError("invalid character in the request target")
			}
			if c == '%' || c == '#' {
				simple = false
			}
		}
		if simple {
			u := &url.URL{}
			path, query, hasQuery := strings.Cut(target, "?")
			u.Path, u.RawQuery = path, query
			u.ForceQuery = hasQuery && query == ""
			return u, nil
		}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, headError("invalid request target")
	}
	return u, nil
}

// ValidHost accepts what may appear in a Host header (or HTTP/2's
// :authority): a reg-name, IPv4 or bracketed IPv6 address and an optional
// port (RFC 3986 characters).
func ValidHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ParseLength parses a Content-Length value: digits only; -1 if invalid.
func ParseLength(s string) int64 {
	if s == "" || len(s) > 18 {
		return -1
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// DeclaredTrailers is a message's Trailer map from its Trailer field values:
// the announced names (not the framing fields), with their values filled in
// when the body ends.
func DeclaredTrailers(vs []string) http.Header {
	t := http.Header{}
	for _, v := range vs {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			if name = strings.TrimSpace(name); name != "" {
				switch k := http.CanonicalHeaderKey(name); k {
				case "Transfer-Encoding", "Trailer", "Content-Length":
				default:
					t[k] = nil
				}
			}
		}
	}
	return t
}

// serveRequest runs the handler and ends the exchange; it reports whether
// the connection can carry another request.
func (c *srvConn) serveRequest(req *http.Request, expect bool) (keep bool) {
	w := &c.res
	w.reset(req, expect)
	body, _ := req.Body.(*srvBody)
	c.seq.Add(1)
	if body == nil {
		c.watchable.Store(true)
	}
	// The body is closed before the watching stops: a late read of it
	// must not mark the next request watchable.
	unread, bodyOK := false, true
	aborted := true
	func() {
		defer func() {
			if aborted {
				if body != nil {
					if _, ok := body.close(); !ok {
						c.noPool = true
					}
				}
				c.stopWatch()
			}
		}()
		c.srv.handler.ServeHTTP(w, req)
		aborted = false
	}()
	if body != nil {
		unread, bodyOK = body.close()
	}
	c.stopWatch()

	// An unread body: skip it when small enough, else close after the
	// response.
	if !bodyOK {
		// Someone (a body writer toward a target) is still blocked
		// reading it: the connection closes under it, and its buffers
		// are not reused.
		c.noPool = true
		w.closeAfter = true
	} else if unread && (body.cr != nil || body.remaining > srvMaxDiscard || body.expect || body.err != nil) {
		w.closeAfter = true
	}
	// Closing with the client's body still coming would reset the
	// connection before the client reads the answer: linger instead.
	c.linger = unread && w.closeAfter
	w.finish()
	clear(w.header)
	if w.err != nil || w.closeAfter {
		return false
	}
	if unread {
		want := time.Now().Add(c.srv.readHeaderTimeout)
		if c.nc.SetReadDeadline(want) != nil {
			return false
		}
		c.deadline = want
		if _, err := c.br.Discard(int(body.remaining)); err != nil {
			return false
		}
	}
	return !req.Close
}

// reject answers a request the server cannot take, and the connection
// closes.
func (c *srvConn) reject(err error) {
	code, msg := http.StatusBadRequest, err.Error()
	var he headError
	var se *statusError
	switch {
	case errors.As(err, &se):
		code = se.code
	case errors.Is(err, ErrHeadTooLarge):
		code = http.StatusRequestHeaderFieldsTooLarge
	case errors.As(err, &he):
	default:
		return // a read error or timeout: nobody to answer
	}
	bw := c.bw
	bw.WriteString(statusLine(false, code))
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ")
	text := strconv.Itoa(code) + " " + http.StatusText(code) + ": " + msg + "\n"
	bw.WriteString(strconv.Itoa(len(text)))
	bw.WriteString("\r\n\r\n")
	bw.WriteString(text)
	_ = bw.Flush()
	if f := c.srv.Rejected; f != nil {
		f(code, c.ctx.info.Peer, int64(len(text)))
	}
}

func (c *srvConn) close() {
	if c.handed {
		c.srv.remove(c)
		c.bw.Reset(nil)
		srvWriterPool.Put(c.bw)
		return // HandOff owns the socket and the reader now
	}
	c.state.Store(stateClosed)
	if c.linger {
		c.lingeringClose()
	}
	_ = c.nc.Close()
	c.ctx.cancel()
	c.srv.remove(c)
	if c.noPool {
		return
	}
	c.br.Reset(nil)
	srvReaderPool.Put(c.br)
	c.bw.Reset(nil)
	srvWriterPool.Put(c.bw)
}

// lingeringClose shuts the write side and reads what the client still
// sends for a moment (as net/http does), so that its unread body does not
// make the close a reset that destroys the response in flight.
func (c *srvConn) lingeringClose() {
	tc, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || tc.CloseWrite() != nil {
		return
	}
	if c.nc.SetReadDeadline(time.Now().Add(srvLinger)) != nil {
		return
	}
	_, _ = io.Copy(io.Discard, c.nc)
}

// startWatch (the watchdog's goroutine) starts the background read of a
// request that has been running for a while with its body consumed.
func (c *srvConn) startWatch() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.watchable.Load() || c.watching || c.br.Buffered() > 0 || c.hasPending {
		return
	}
	if c.nc.SetReadDeadline(time.Time{}) != nil {
		return
	}
	c.watching, c.aborting = true, false
	c.watchDone = make(chan struct{})
	go c.watchRead(c.watchDone)
}

func (c *srvConn) watchRead(done chan struct{}) {
	var b [1]byte
	n, _ := c.nc.Read(b[:])
	c.wmu.Lock()
	if n == 1 {
		c.pending, c.hasPending = b[0], true // pipelined: kept for the next request
	} else if !c.aborting {
		c.ctx.cancel() // EOF or reset: the client is gone
	}
	c.wmu.Unlock()
	close(done)
}

// stopWatch ends the request's watching (the connection's goroutine, after
// the handler). A running background read is interrupted.
func (c *srvConn) stopWatch() {
	c.watchable.Store(false)
	c.wmu.Lock()
	if !c.watching {
		c.wmu.Unlock()
		return
	}
	c.aborting = true
	_ = c.nc.SetReadDeadline(aLongTimeAgo)
	done := c.watchDone
	c.wmu.Unlock()
	<-done
	c.wmu.Lock()
	c.watching = false
	c.wmu.Unlock()
	c.deadline = aLongTimeAgo // stale: the next wait sets a real one
}

// srvBody is a request body, read from the connection.
type srvBody struct {
	c         *srvConn
	req       *http.Request
	cr        io.Reader // chunked decoding; nil for a Content-Length body
	mu        sync.Mutex
	remaining int64 // Content-Length bodies
	read      int64 // bytes of the body read so far
	expect    bool  // "100 Continue" still to send
	done      bool  // read to the end
	closed    bool  // the handler returned
	err       error // sticky
}

func (b *srvBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.done:
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	case len(p) == 0:
		return 0, nil
	}
	if b.expect {
		b.expect = false
		if err := b.c.res.sendContinue(); err != nil {
			b.err = err
			return 0, err
		}
	}
	var (
		n   int
		err error
	)
	if b.cr == nil {
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		n, err = b.c.br.Read(p)
		b.remaining -= int64(n)
		if b.remaining == 0 {
			b.done, err = true, io.EOF
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	} else {
		n, err = b.cr.Read(p)
		if err == io.EOF {
			if terr := b.readTrailer(); terr != nil {
				err = terr
			} else {
				b.done = true
			}
		}
	}
	b.read += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	if b.done {
		b.c.watchable.Store(true)
	}
	return n, err
}

// readTrailer reads the trailer section after the last chunk into the
// request's Trailer.
func (b *srvBody) readTrailer() error {
	t, err := readTrailerSection(b.c.br)
	if err != nil || len(t) == 0 {
		return err
	}
	if b.req.Trailer == nil {
		b.req.Trailer = http.Header{}
	}
	for k, vs := range t {
		b.req.Trailer[k] = append(b.req.Trailer[k], vs...)
	}
	return nil
}

func (b *srvBody) Close() error { return nil } // the server ends the body after the handler

// mustClose reports, as the response begins, a body that is not read yet
// and could not be skipped after the response: chunked, larger than
// srvMaxDiscard, or awaiting its 100 Continue. A reader in the middle of a
// read counts as not done.
func (b *srvBody) mustClose() bool {
	if !b.mu.TryLock() {
		return true
	}
	defer b.mu.Unlock()
	return !b.done && !b.closed && (b.cr != nil || b.remaining > srvMaxDiscard || b.expect)
}

// close ends the body when the handler returns: unread reports a body not
// read to its end; ok is false when someone is still reading it (the
// connection must close).
func (b *srvBody) close() (unread, ok bool) {
	if !b.mu.TryLock() {
		return true, false // a reader is blocked in the socket
	}
	defer b.mu.Unlock()
	b.closed = true
	return !b.done, true
}

// h1Response is the http.ResponseWriter of a request.
type h1Response struct {
	c           *srvConn
	req         *http.Request
	header      http.Header
	status      int
	committed   bool
	bodyAllowed bool
	chunked     bool
	http10      bool
	head        bool
	expect      bool  // a 100 Continue may still go out: commit under contMu
	length      int64 // declared Content-Length, -1 when none
	written     int64
	closeAfter  bool
	trailers    string // the names the Trailer header announced
	err         error
}

var (
	_ http.ResponseWriter = (*h1Response)(nil)
	_ http.Flusher        = (*h1Response)(nil)
)

func (w *h1Response) reset(req *http.Request, expect bool) {
	*w = h1Response{c: w.c, header: w.header, req: req, expect: expect,
		http10: req.ProtoMinor == 0, head: req.Method == http.MethodHead, length: -1}
}

func (w *h1Response) Header() http.Header { return w.header }

func (w *h1Response) WriteHeader(code int) {
	if w.committed || w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic("h1: invalid status code " + strconv.Itoa(code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.status = code
}

// informational writes a 1xx response at once.
func (w *h1Response) informational(code int) {
	if w.http10 {
		return // HTTP/1.0 clients do not expect 1xx responses
	}
	if w.expect {
		w.c.contMu.Lock()
		defer w.c.contMu.Unlock()
	}
	bw := w.c.bw
	bw.WriteString(statusLine(false, code))
	w.writeFields(bw, false)
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		w.err = err
	}
}

// sendContinue writes "100 Continue" unless the response has begun.
func (w *h1Response) sendContinue() error {
	w.c.contMu.Lock()
	defer w.c.contMu.Unlock()
	if w.committed {
		return nil
	}
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	return bw.Flush()
}

// commit writes the status line and header.
func (w *h1Response) commit() {
	if w.expect {
		w.c.contMu.Lock()
		defer w.c.contMu.Unlock()
	}
	w.committed = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	code := w.status
	w.bodyAllowed = !w.head && code != http.StatusNoContent && code != http.StatusNotModified
	if cl, ok := w.header["Content-Length"]; ok && len(cl) > 0 {
		w.length = ParseLength(cl[0])
	}
	if w.bodyAllowed && w.length < 0 {
		if w.http10 {
			w.closeAfter = true // delimited by the close
		} else {
			w.chunked = true
		}
	}
	if w.req.Close || w.c.srv.shutdown.Load() {
		w.closeAfter = true
	}
	if b, ok := w.req.Body.(*srvBody); ok && b.mustClose() {
		// Answered before the body was read, and the rest is too large
		// (or of unknown size) to skip afterwards: say so now.
		w.closeAfter = true
	}
	if tv := w.header["Trailer"]; len(tv) > 0 {
		w.trailers = strings.Join(tv, ",")
	}
	bw := w.c.bw
	bw.WriteString(statusLine(w.http10, code))
	w.writeFields(bw, code == http.StatusNoContent || (w.chunked && w.length < 0 && w.header["Content-Length"] != nil))
	if _, ok := w.header["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.WriteString(HTTPDate())
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case w.http10:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// writeFields writes the header fields the server does not own.
func (w *h1Response) writeFields(bw *bufio.Writer, dropLength bool) {
	for k, vs := range w.header {
		switch k {
		case "Transfer-Encoding", "Connection", "Keep-Alive":
			continue
		case "Content-Length":
			if dropLength {
				continue
			}
		case "Trailer":
			if !w.chunked {
				continue
			}
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || !IsToken(k) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
}

// writeField writes "k: v\r\n", with any control byte in v but HTAB (CR,
// LF and NUL among them) turned into a space, so one field is never read
// as two (net/http's server does the same for CR and LF).
func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	if !validFieldValue(v) {
		b := []byte(v)
		for i, c := range b {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				b[i] = ' '
			}
		}
		v = string(b)
	}
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

func (w *h1Response) Write(p []byte) (int, error) {
	if !w.committed {
		w.commit()
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.bodyAllowed {
		return 0, http.ErrBodyNotAllowed
	}
	if len(p) == 0 {
		return 0, nil
	}
	var tooLong bool
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		p = p[:w.length-w.written]
		tooLong = true
	}
	bw := w.c.bw
	var (
		n   int
		err error
	)
	if w.chunked {
		var hex [16]byte
		bw.Write(strconv.AppendInt(hex[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
		n, err = bw.Write(p)
		bw.WriteString("\r\n")
	} else {
		n, err = bw.Write(p)
	}
	w.written += int64(n)
	if err != nil {
		w.err = err
		return n, err
	}
	if tooLong {
		return n, http.ErrContentLength
	}
	return n, nil
}

func (w *h1Response) Flush() {
	if !w.committed {
		w.commit()
	}
	if w.err == nil {
		if err := w.c.bw.Flush(); err != nil {
			w.err = err
		}
	}
}

// finish ends the response after the handler: header if not yet written
// (with Content-Length 0: nothing was written), the last chunk and
// trailers, and a flush.
func (w *h1Response) finish() {
	if !w.committed {
		if _, ok := w.header["Content-Length"]; !ok && !w.head && w.status != http.StatusNoContent && w.status != http.StatusNotModified {
			w.header["Content-Length"] = zeroLength
		}
		w.commit()
	}
	if w.err != nil {
		return
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString("0\r\n")
		w.writeTrailers(bw)
		bw.WriteString("\r\n")
	} else if w.bodyAllowed && w.length >= 0 && w.written < w.length {
		w.closeAfter = true // cut short: the client must see the close
	}
	if err := bw.Flush(); err != nil {
		w.err = err
	}
}

func (w *h1Response) writeTrailers(bw *bufio.Writer) {
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && IsToken(name) {
			for _, v := range vs {
				writeField(bw, name, v)
			}
		}
	}
	for t := w.trailers; t != ""; {
		var name string
		name, t, _ = strings.Cut(t, ",")
		k := http.CanonicalHeaderKey(strings.TrimSpace(name))
		if !IsToken(k) {
			continue
		}
		for _, v := range w.header[k] {
			writeField(bw, k, v)
		}
	}
}

// Status lines, precomputed for the codes net/http knows.
var statusLines = func() (t [2][600]string) {
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			t[0][code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
			t[1][code] = "HTTP/1.0 " + strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
	return t
}()

func statusLine(http10 bool, code int) string {
	v := 0
	if http10 {
		v = 1
	}
	if code < 600 && statusLines[v][code] != "" {
		return statusLines[v][code]
	}
	proto := "HTTP/1.1 "
	if http10 {
		proto = "HTTP/1.0 "
	}
	return proto + strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n"
}

// HTTPDate is the Date header value, formatted once a second (shared by
// both servers: one cache for the process).
func HTTPDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &cachedDate{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}

type cachedDate struct {
	sec int64
	s   string
}

var dateCache atomic.Pointer[cachedDate]

// connCtx is the context of every request on a connection: done when the
// client is gone (or the connection closed). Besides the context.AfterFunc
// support, it carries one allocation-free abort hook for the upstream
// exchange in progress.
type connCtx struct {
	info ConnInfo

	done  chan struct{}
	gone  atomic.Bool
	abort atomic.Pointer[func()]

	mu    sync.Mutex
	after []*afterFunc
}

type afterFunc struct{ f func() }

func (c *connCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *connCtx) Done() <-chan struct{}       { return c.done }
func (c *connCtx) Value(any) any               { return nil }

func (c *connCtx) Err() error {
	if c.gone.Load() {
		return context.Canceled
	}
	return nil
}

// cancel marks the client gone: Done closes, the abort hook and the
// AfterFunc functions run.
func (c *connCtx) cancel() {
	c.mu.Lock()
	if c.gone.Load() {
		c.mu.Unlock()
		return
	}
	c.gone.Store(true)
	close(c.done)
	after := c.after
	c.after = nil
	c.mu.Unlock()
	if f := c.abort.Swap(nil); f != nil {
		(*f)()
	}
	for _, a := range after {
		go a.f()
	}
}

// setAbort installs f to run when the client goes away; false when it is
// gone already (f is not kept).
func (c *connCtx) setAbort(f *func()) bool {
	c.abort.Store(f)
	if c.gone.Load() && c.abort.CompareAndSwap(f, nil) {
		return false
	}
	return true
}

// clearAbort removes f; false when cancel took it (it ran or runs).
func (c *connCtx) clearAbort(f *func()) bool { return c.abort.CompareAndSwap(f, nil) }

// AfterFunc lets context.AfterFunc and derived contexts register without a
// goroutine per request.
func (c *connCtx) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone.Load() {
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	c.after = append(c.after, a)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.after {
			if x == a {
				c.after = append(c.after[:i], c.after[i+1:]...)
				return true
			}
		}
		return false
	}
}

// Watchdog finds requests that run long enough to need client-gone
// detection. One per proxy, shared by its servers; its goroutine runs while
// connections exist.
type Watchdog struct {
	// clock is a coarse time (Unix ns), refreshed at each tick while
	// connections exist: for deadlines that tolerate a second of slack.
	clock atomic.Int64

	mu      sync.Mutex
	conns   map[*srvConn]struct{}
	running bool
	list    []*srvConn
}

// NewWatchdog returns a watchdog watching nothing yet.
func NewWatchdog() *Watchdog { return &Watchdog{conns: map[*srvConn]struct{}{}} }

func (g *Watchdog) add(c *srvConn) {
	g.mu.Lock()
	g.conns[c] = struct{}{}
	if !g.running {
		g.running = true
		g.clock.Store(time.Now().UnixNano())
		go g.run()
	}
	g.mu.Unlock()
}

// now is the coarse time: at most srvWatchEvery behind while connections
// exist (the only time the server reads it).
func (g *Watchdog) now() time.Time { return time.Unix(0, g.clock.Load()) }

func (g *Watchdog) remove(c *srvConn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

func (g *Watchdog) run() {
	t := time.NewTicker(srvWatchEvery)
	defer t.Stop()
	for now := range t.C {
		g.clock.Store(now.UnixNano())
		if !g.sweep() {
			return
		}
	}
}

// sweep starts watching every request that was already running, body
// consumed, at the previous tick. It reports false (and the goroutine
// ends) when there is no connection left.
func (g *Watchdog) sweep() bool {
	g.mu.Lock()
	if len(g.conns) == 0 {
		g.running = false
		g.mu.Unlock()
		return false
	}
	list := g.list[:0]
	for c := range g.conns {
		list = append(list, c)
	}
	g.list = list
	g.mu.Unlock()
	for i, c := range list {
		seq := c.seq.Load()
		if c.watchable.Load() && seq == c.seenSeq {
			c.startWatch()
		}
		c.seenSeq = seq
		list[i] = nil
	}
	return true
}

// bufferedConn is a connection whose first bytes were already read into br.
type bufferedConn struct {
	net.Conn
	br *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.br.Read(p) }

// recordTypeHandshake is the content type of a TLS handshake record.
const recordTypeHandshake = 0x16

// Unbuffer returns the connection under one handed off by HandOff or
// TLSHandOff, and the bytes read from it but not yet consumed from the
// hand-off's buffer (the caller must use them first); c itself, nil, for
// any other connection. For a caller that needs the raw connection (a
// TCP relay that half-closes it) once it has read what it needed
// through c.
func Unbuffer(c net.Conn) (net.Conn, []byte) {
	b, ok := c.(*bufferedConn)
	if !ok {
		return c, nil
	}
	n := b.br.Buffered()
	if n == 0 {
		return b.Conn, nil
	}
	rest, _ := b.br.Peek(n)
	out := append([]byte(nil), rest...)
	_, _ = b.br.Discard(n)
	return b.Conn, out
}
