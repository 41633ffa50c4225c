package h1

// Client: the upstream HTTP/1.1 client of a proxy, used instead of
// net/http.Transport (in Trellis for target groups of upstream kind H1). A request runs synchronously on the handler's
// goroutine over a pooled keep-alive connection: no per-connection read and
// write goroutines, no channel hand-offs, no per-request context or timer.
//
//   - Pool: one LIFO stack of idle connections per target address (at most
//     h1MaxIdlePerTarget); a connection idle for h1IdleTimeout is closed,
//     lazily on checkout and by a timer that runs only while a stack holds
//     connections.
//   - Request: request line, Host, the request's header as the caller's
//     Skip lets it pass (minus Expect, Content-Length and
//     Transfer-Encoding, which the client writes itself), the caller's
//     extra fields,
//     then the body: Content-Length when known, else chunked. "Expect:
//     100-continue" is not passed on: the client already got its 100
//     Continue from the server side when the handler started reading the
//     body, and the body is streamed to the target straight away. A body is
//     written by a helper goroutine while the response is read (full
//     duplex, so a target that answers before reading everything cannot
//     deadlock the exchange); a request without a body uses no goroutine.
//   - Response: http.ReadResponse (chunked bodies, trailers, HEAD/204/304,
//     Connection: close, HTTP/1.0), skipping 1xx informational answers.
//   - Timeouts: the connection's deadline is the request deadline until the
//     response headers arrive, then cleared. A client that goes away sets
//     the deadline in the past (one context.AfterFunc per request), which
//     aborts a blocked read or write.
//   - Reuse: a connection goes back to the pool only when the exchange
//     ended exactly at a message boundary: the response body was read to
//     the end of its framing with no byte after it, the request was written
//     completely, neither side asked to close and the client did not go
//     away; otherwise it is closed.
//   - Stale connections: the caller retries (in Trellis, proxy/outcome.go:
//     a request that fails on a pooled connection before any response byte
//     arrived is sent again on a fresh connection when it can be, then to
//     another target); Conn.Reused, Conn.Wrote and Conn.PeerClosed tell it
//     what it needs.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	h1MaxIdlePerTarget = 256
	h1IdleTimeout      = 90 * time.Second
	h1BufSize          = 4 << 10
)

var (
	h1ReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, h1BufSize) }}
	h1WriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, h1BufSize) }}
	errH1Closed  = errors.New("h1: upstream pool closed")
	// bodyBufPool holds the buffers request bodies are copied through.
	bodyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	// ErrSwitchingProtocols fails an exchange answered 101: the client
	// upgrades nothing.
	ErrSwitchingProtocols = errors.New("unexpected 101 Switching Protocols from the target")
)

// Network dials in one network other than the host's (vpcnet.Net is
// one). Its values must be comparable (pointers): pools are kept per
// network.
type Network interface {
	Dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error)
}

// ClientBodyError is a client's request body that failed while it was
// being sent to a target: malformed chunked framing, a body shorter than
// its Content-Length, a reset stream. It is the client's fault, not the
// target's; the target's connection is closed, so it never keeps half a
// request.
type ClientBodyError struct{ Err error }

func (e *ClientBodyError) Error() string { return "client request body: " + e.Err.Error() }
func (e *ClientBodyError) Unwrap() error { return e.Err }

// ExtraField is a field the caller adds to a request's head.
type ExtraField struct {
	Name   string   // canonical
	Values []string // one field line each; none: not written
}

// Client is an HTTP/1.1 client for a proxy: it holds the idle
// connections of every target, per network and address. The header
// policy is the caller's (a proxy's hop-by-hop and asserted fields), the
// wire the client's: Host, Content-Length, Transfer-Encoding and Expect
// are always written by the client itself, never copied.
type Client struct {
	// Skip reports a field of a request's header not to copy (connection
	// holds its Connection values); nil copies every field. "TE: trailers"
	// is written even when Skip drops TE. Set before the first request.
	Skip func(name string, connection []string) bool
	// SkipTrailer reports a trailer field not to pass on; nil passes every
	// field with a valid name. Set before the first request.
	SkipTrailer func(name string) bool

	dialer net.Dialer

	mu     sync.RWMutex
	pools  map[poolKey]*Pool
	closed atomic.Bool
}

// poolKey names a pool: a target address in one network. Host-mode
// targets share the nil network; a network-namespace VPC's targets get
// their own pools, as the same address may be another host there.
type poolKey struct {
	net  Network // nil: the host's network
	addr netip.AddrPort
}

// NewClient returns a client whose connects time out after dialTimeout.
func NewClient(dialTimeout time.Duration) *Client {
	return &Client{
		dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		pools:  map[poolKey]*Pool{},
	}
}

// Pool returns the pool of addr in network n (nil: the host's),
// creating it on first use. n must be comparable (a pointer): a VPC whose
// namespace was made again hands a new Net and so gets new pools.
func (u *Client) Pool(n Network, addr netip.AddrPort) *Pool {
	k := poolKey{net: n, addr: addr}
	u.mu.RLock()
	p := u.pools[k]
	u.mu.RUnlock()
	if p != nil {
		return p
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if p = u.pools[k]; p == nil {
		p = &Pool{u: u, addr: addr, net: n}
		u.pools[k] = p
	}
	return p
}

// Forget removes the pools whose network keep refuses and closes their
// idle connections; connections in use are closed when their request ends
// (put closes them on a forgotten pool).
func (u *Client) Forget(keep func(Network) bool) {
	var gone []*Pool
	u.mu.Lock()
	for k, p := range u.pools {
		if !keep(k.net) {
			p.gone.Store(true)
			delete(u.pools, k)
			gone = append(gone, p)
		}
	}
	u.mu.Unlock()
	for _, p := range gone {
		p.drop(time.Time{}, true)
	}
}

// CloseIdle closes every idle connection; connections in use are closed
// when their request ends.
func (u *Client) CloseIdle() {
	u.closed.Store(true)
	u.mu.Lock()
	pools := make([]*Pool, 0, len(u.pools))
	for _, p := range u.pools {
		pools = append(pools, p)
	}
	u.mu.Unlock()
	for _, p := range pools {
		p.drop(time.Time{}, true)
	}
}

// Pool is the LIFO stack of idle connections to one target address.
type Pool struct {
	u    *Client
	addr netip.AddrPort
	net  Network     // where addr is dialed from; nil: the host's network
	gone atomic.Bool // forgotten: its network left (connections are closed, not kept)

	mu    sync.Mutex
	idle  []*Conn // oldest first
	sweep *time.Timer
	armed bool
}

// get pops the most recently used idle connection, closing expired ones.
func (p *Pool) get(now time.Time) *Conn {
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(c.idleSince) < h1IdleTimeout {
			p.mu.Unlock()
			return c
		}
		// The newest is expired, so are all the others.
		old := p.takeOldest(len(p.idle))
		p.mu.Unlock()
		c.close()
		closeAll(old)
		return nil
	}
	p.mu.Unlock()
	return nil
}

// put returns c to the pool, or closes it when the pool is full or closed.
func (p *Pool) put(c *Conn, now time.Time) {
	if p.u.closed.Load() || p.gone.Load() {
		c.close()
		return
	}
	c.reused = true
	p.mu.Lock()
	if n := len(p.idle); n > 0 && now.Before(p.idle[n-1].idleSince) {
		now = p.idle[n-1].idleSince // keep the stack ordered by idle time
	}
	c.idleSince = now
	if len(p.idle) >= h1MaxIdlePerTarget {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	if !p.armed {
		p.armed = true
		if p.sweep == nil {
			p.sweep = time.AfterFunc(h1IdleTimeout, p.expire)
		} else {
			p.sweep.Reset(h1IdleTimeout)
		}
	}
	p.mu.Unlock()
}

// expire closes the connections idle for h1IdleTimeout and re-arms the
// timer while some remain.
func (p *Pool) expire() {
	now := time.Now()
	p.mu.Lock()
	i := 0
	for i < len(p.idle) && now.Sub(p.idle[i].idleSince) >= h1IdleTimeout {
		i++
	}
	dead := p.takeOldest(i)
	if len(p.idle) > 0 {
		p.sweep.Reset(h1IdleTimeout - now.Sub(p.idle[0].idleSince))
	} else {
		p.armed = false
	}
	p.mu.Unlock()
	closeAll(dead)
}

// drop closes the idle connections idle since before (or at) t, or all of
// them when all is set.
func (p *Pool) drop(t time.Time, all bool) {
	p.mu.Lock()
	i := 0
	for i < len(p.idle) && (all || !p.idle[i].idleSince.After(t)) {
		i++
	}
	dead := p.takeOldest(i)
	p.mu.Unlock()
	closeAll(dead)
}

// takeOldest removes the i oldest idle connections and returns them.
// Called with p.mu held.
func (p *Pool) takeOldest(i int) []*Conn {
	dead := make([]*Conn, i)
	copy(dead, p.idle[:i])
	n := copy(p.idle, p.idle[i:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	return dead
}

func closeAll(cs []*Conn) {
	for _, c := range cs {
		c.close()
	}
}

// Conn is one keep-alive connection to a target.
type Conn struct {
	pool      *Pool
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	reused    bool // it served a request before
	// abortIO makes blocked I/O on nc fail (the client-gone hook), built
	// once per connection.
	abortIO func()

	// Response parsing state, reused by every exchange (response.go).
	scratch  []byte
	fields   []field
	hdr      http.Header
	resp     http.Response
	lim      io.LimitedReader
	deadline time.Time // the deadline set on nc (zero: none)
	lastUse  time.Time // when the current exchange began (its idle time starts there)

	// The current exchange.
	body     h1Body
	res      *http.Response
	stop     func() bool                     // unregisters the client-gone hook (other contexts)
	cctx     context.Context                 // the client's request context, when OnGone hooked it
	writeErr chan error                      // the body writer's result, when a goroutine writes the body
	bodyErr  atomic.Pointer[ClientBodyError] // the client's body failed (set by the body writer)
	wrote    bool                            // the request was written completely
	upgrade  bool                            // an upgrade request (ExpectUpgrade): 101 ends it, never pooled
}

func (c *Conn) close() {
	_ = c.nc.Close()
	if c.br != nil {
		c.br.Reset(nil)
		h1ReaderPool.Put(c.br)
		c.br = nil
	}
	if c.bw != nil {
		c.bw.Reset(nil)
		h1WriterPool.Put(c.bw)
		c.bw = nil
	}
}

// Dial connects to p's address (by deadline at the latest) for a request
// that did not take, or could not use, a pooled connection.
func (u *Client) Dial(ctx context.Context, p *Pool, deadline time.Time) (*Conn, error) {
	d := u.dialer
	d.Deadline = deadline
	var (
		tcp net.Conn
		err error
	)
	if p.net == nil {
		tcp, err = d.DialContext(ctx, "tcp", p.addr.String())
	} else {
		tcp, err = p.net.Dial(ctx, &d, "tcp", p.addr.String())
	}
	if err != nil {
		return nil, err
	}
	// Note the request bytes written, and look for a close before reuse
	// (PeerClosed).
	nc := newUpConn(tcp)
	br := h1ReaderPool.Get().(*bufio.Reader)
	br.Reset(nc)
	bw := h1WriterPool.Get().(*bufio.Writer)
	bw.Reset(nc)
	return &Conn{pool: p, nc: nc, br: br, bw: bw,
		abortIO: func() { _ = nc.SetDeadline(aLongTimeAgo) }}, nil
}

// h1Body is the response body (Conn.Response): it notes whether the
// body was read to the end and, on Close, returns the connection to its
// pool or closes it.
type h1Body struct {
	c   *Conn
	rc  io.Reader
	eof bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.rc == nil {
		b.eof = true // a response without a body
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *h1Body) Close() error {
	c := b.c
	if c == nil {
		return nil
	}
	b.c = nil
	c.finish(b.eof)
	return nil
}

// finish ends the exchange: the connection goes back to the pool when it
// can carry another request, otherwise it is closed.
func (c *Conn) finish(bodyEOF bool) {
	reuse := bodyEOF && !c.res.Close && !c.upgrade
	if !c.unhook() {
		reuse = false // the client went away: the deadline is in the past
	}
	c.reapWriter()
	if !c.wrote {
		reuse = false
	}
	if reuse && c.br.Buffered() > 0 {
		reuse = false // unsolicited bytes after the response
	}
	c.res = nil
	c.body.rc = nil
	if reuse {
		c.pool.put(c, c.lastUse)
		return
	}
	c.close()
}

// RoundTrip writes r on c and reads the response headers into c.res (whose
// Body must be closed to end the exchange): the request-target target
// (origin form; "" is r's), r's header fields that the client's Skip lets
// pass, then extra. gotByte reports whether any
// byte of a response arrived before a failure. On error the caller aborts c.
// The time to the response headers is bounded by deadline (give or take
// slack: a pooled connection keeps its deadline when it is at most slack
// earlier than this request's, one deadline change per connection and
// second or so instead of two per request).
func (c *Conn) RoundTrip(r *http.Request, target string, extra []ExtraField, deadline time.Time, slack time.Duration) (gotByte bool, err error) {
	c.wrote = false
	c.writeErr = nil
	c.bodyErr.Store(nil)
	nc := c.nc
	// Abort the exchange when the client goes away: through the server's
	// connection context without allocating, else with context.AfterFunc.
	ctx := r.Context()
	if hooked, alive := OnGone(ctx, &c.abortIO); hooked {
		if !alive {
			return false, context.Canceled
		}
		c.cctx = ctx
	} else if ctx.Done() != nil {
		c.stop = context.AfterFunc(ctx, c.abortIO)
	}
	if c.deadline.IsZero() || c.deadline.Before(deadline.Add(-slack)) || c.deadline.After(deadline) {
		if err := nc.SetDeadline(deadline); err != nil {
			return false, err
		}
		c.deadline = deadline
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if err := c.writeHeader(r, target, extra, hasBody); err != nil {
		return false, err // nothing was flushed; the caller closes c
	}
	if !hasBody {
		if err := c.bw.Flush(); err != nil {
			return false, err
		}
		c.wrote = true
	} else {
		ch := make(chan error, 1)
		c.writeErr = ch
		go func(bw *bufio.Writer) {
			err, clientSide := writeBody(bw, r, c.pool.u.SkipTrailer)
			if clientSide {
				// The client's body broke off: the target waits for the
				// rest in vain, and must not keep half a request. (A write
				// error is left to the response read, which may still get
				// the target's early answer.)
				c.bodyErr.Store(&ClientBodyError{Err: err})
				_ = nc.Close()
			}
			ch <- err
		}(c.bw)
	}

	// The target answers in microseconds at best: let other goroutines
	// run meanwhile, so the read usually finds the answer instead of
	// failing with EAGAIN and parking.
	runtime.Gosched()
	if _, err := c.br.Peek(1); err != nil {
		if be := c.bodyErr.Load(); be != nil {
			return false, be
		}
		return false, err
	}
	for {
		res, err := c.readResponse(r.Method)
		if err != nil {
			if be := c.bodyErr.Load(); be != nil {
				return false, be // the client's body failed, which closed the connection
			}
			return true, err
		}
		if res.StatusCode == http.StatusSwitchingProtocols {
			if !c.upgrade {
				return true, ErrSwitchingProtocols
			}
			c.res = res // Upgraded takes the connection over
			return true, nil
		}
		if res.StatusCode >= 100 && res.StatusCode < 200 {
			continue // informational (100 Continue, 103 Early Hints): not passed on
		}
		// The body is not bounded by the deadline: clear it, unless the
		// body is all in the buffer already (no more socket reads).
		inBuffer := c.body.rc == nil || (c.body.rc == &c.lim && int64(c.br.Buffered()) >= c.lim.N)
		if !inBuffer && !c.deadline.IsZero() {
			if err := nc.SetDeadline(time.Time{}); err != nil {
				return true, err
			}
			c.deadline = time.Time{}
		}
		c.res = res
		return true, nil
	}
}

// abort ends a failed exchange: the connection is closed.
func (c *Conn) abort() {
	c.unhook()
	c.reapWriter()
	c.res = nil
	c.close()
}

// unhook removes the client-gone hook of the exchange; false when it fired.
func (c *Conn) unhook() bool {
	ok := true
	if c.cctx != nil {
		ok = ClearGone(c.cctx, &c.abortIO)
		c.cctx = nil
	}
	if c.stop != nil {
		ok = c.stop()
		c.stop = nil
	}
	return ok
}

// reapWriter collects the body writer's result when it is done. A writer
// still running (the target answered before the whole body was sent, or
// the exchange failed) keeps the connection's write buffer for itself; the
// connection is closed under it, which ends it at its next write. Like
// net/http.Transport, the handler does not wait for it: a slow client body
// must not hold the response.
func (c *Conn) reapWriter() {
	if c.writeErr == nil {
		return
	}
	select {
	case err := <-c.writeErr:
		c.wrote = err == nil
	default:
		c.wrote = false
		c.bw = nil // the writer's now
		_ = c.nc.Close()
	}
	c.writeErr = nil
}

// writeHeader buffers the request line and header section: r's fields
// that the client's Skip lets pass, then extra. It returns
// errFieldValue, having sent nothing, when a value is unfit to write.
func (c *Conn) writeHeader(r *http.Request, target string, extra []ExtraField, hasBody bool) error {
	bw := c.bw
	if target == "" {
		target = requestTarget(r)
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return errFieldValue // a space or CR LF would end the request line early
		}
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	ok := true
	conn := r.Header["Connection"]
	for k, vs := range r.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Expect":
			continue // the client's own
		}
		if k == "Te" {
			if HasToken(vs, "trailers") {
				bw.WriteString("Te: trailers\r\n") // the one TE a request may carry on
			}
			continue
		}
		if skip := c.pool.u.Skip; skip != nil && skip(k, conn) {
			continue
		}
		if k == "User-Agent" && (len(vs) == 0 || vs[0] == "") {
			continue // no User-Agent, as the client sent none
		}
		ok = writeFieldValues(bw, k, vs) && ok
	}
	for i := range extra {
		f := &extra[i]
		ok = writeFieldValues(bw, f.Name, f.Values) && ok
	}
	if !ok || !validFieldValue(r.Host) {
		return errFieldValue
	}
	switch {
	case !hasBody:
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case r.ContentLength > 0:
		var num [20]byte
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(num[:0], r.ContentLength, 10))
		bw.WriteString("\r\n")
	default:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
	return nil
}

// writeFieldValues writes a field line for each of vs. It refuses a value
// holding CR, LF, NUL or another control byte (validFieldValue): written
// as it is, such a value would end the field, or the whole head, early and
// make the target read fields or a request that no rule or policy judged.
// Everything the proxy forwards was checked where it was accepted; this is
// the last line of defence, so it fails the exchange instead of guessing.
func writeFieldValues(bw *bufio.Writer, k string, vs []string) bool {
	for _, v := range vs {
		if !validFieldValue(v) {
			return false
		}
		bw.WriteString(k)
		bw.WriteString(": ")
		bw.WriteString(v)
		bw.WriteString("\r\n")
	}
	return true
}

// errFieldValue fails an exchange whose head would hold an invalid field
// value; nothing of it is sent.
var errFieldValue = errors.New("a header field value holds a control character")

// requestTarget is the origin-form request target of r.
func requestTarget(r *http.Request) string {
	if u := r.RequestURI; u != "" && (u[0] == '/' || u == "*") {
		return u
	}
	return r.URL.RequestURI()
}

// writeBody streams r's body after the buffered header and flushes;
// chunked when the length is unknown (each chunk flushed as it is read, so
// a streaming body streams), with the request's trailers.
func writeBody(bw *bufio.Writer, r *http.Request, skipTrailer func(string) bool) (err error, clientSide bool) {
	bufp := bodyBufPool.Get().(*[]byte)
	defer bodyBufPool.Put(bufp)
	buf := *bufp
	if r.ContentLength > 0 {
		left := r.ContentLength
		for left > 0 {
			b := buf
			if int64(len(b)) > left {
				b = b[:left]
			}
			n, err := r.Body.Read(b)
			if n > 0 {
				left -= int64(n)
				if _, werr := bw.Write(b[:n]); werr != nil {
					return werr, false
				}
			}
			if err == io.EOF {
				if left > 0 {
					return io.ErrUnexpectedEOF, true
				}
				break
			}
			if err != nil {
				return err, true
			}
		}
		return bw.Flush(), false
	}
	var hex [16]byte
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			bw.Write(strconv.AppendInt(hex[:0], int64(n), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:n])
			bw.WriteString("\r\n")
			if werr := bw.Flush(); werr != nil {
				return werr, false
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err, true
		}
	}
	bw.WriteString("0\r\n")
	for k, vs := range r.Trailer {
		if !IsToken(k) || (skipTrailer != nil && skipTrailer(k)) {
			continue
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				continue
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	return bw.Flush(), false
}

// upConn is a connection to a target that notes whether any byte of the
// current request was written to it, and can tell whether the target has
// closed it. It embeds net.Conn, not *net.TCPConn, so that every write
// goes through Write.
type upConn struct {
	net.Conn
	raw     syscall.RawConn // nil when the connection is not a TCP socket
	written atomic.Bool
	// peekFn is the peek callback, made once per connection so that a
	// peek does not allocate; it leaves its answer in closed.
	peekFn func(fd uintptr) bool
	closed bool
}

func newUpConn(nc net.Conn) *upConn {
	c := &upConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.peekFn = func(fd uintptr) bool {
				c.closed = peek(fd)
				return true // never wait for readability
			}
		}
	}
	return c
}

func (c *upConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 && !c.written.Load() {
		c.written.Store(true)
	}
	return n, err
}

// upConnOf returns the upConn under c, or nil.
func upConnOf(c *Conn) *upConn {
	u, _ := c.nc.(*upConn)
	return u
}

// peerClosed reports whether the target closed (or reset) the idle
// connection c, or sent bytes nobody asked for: a request written on it
// would be lost. One non-blocking peek, no allocation.
func peerClosed(c *Conn) bool {
	u := upConnOf(c)
	if u == nil || u.raw == nil {
		return false
	}
	u.closed = false
	if u.raw.Read(u.peekFn) != nil {
		return true // the socket is closed
	}
	return u.closed
}

// Get takes the most recently used idle connection, or nil.
func (p *Pool) Get(now time.Time) *Conn { return p.get(now) }

// Drop closes the idle connections idle since t or longer: when one of
// them was found closed by its target, those idle as long are likely
// closed too.
func (p *Pool) Drop(t time.Time) { p.drop(t, false) }

// Idle returns the number of idle connections.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// IdleClosed reports whether the pool holds idle connections and the
// target closed every one of them (PeerClosed).
func (p *Pool) IdleClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := len(p.idle) > 0
	for _, c := range p.idle {
		all = all && c.PeerClosed()
	}
	return all
}

// Begin starts an exchange on c at now (its idle time starts there when
// it goes back to the pool).
func (c *Conn) Begin(now time.Time) {
	c.lastUse = now
	if u := upConnOf(c); u != nil {
		u.written.Store(false)
	}
}

// Wrote reports whether any byte of the current request may have reached
// the target (true when that cannot be known).
func (c *Conn) Wrote() bool {
	u := upConnOf(c)
	return u == nil || u.written.Load()
}

// Reused reports whether c served a request before this one.
func (c *Conn) Reused() bool { return c.reused }

// IdleSince is when c went idle before it was taken from its pool.
func (c *Conn) IdleSince() time.Time { return c.idleSince }

// Response is the response RoundTrip read; closing its Body ends the
// exchange (the connection goes back to its pool, or is closed).
func (c *Conn) Response() *http.Response { return c.res }

// Abort ends a failed exchange: the connection is closed.
func (c *Conn) Abort() { c.abort() }

// Close closes a connection that carries no exchange.
func (c *Conn) Close() { c.close() }

// PeerClosed reports whether the target closed (or reset) the idle
// connection c, or sent bytes nobody asked for: a request written on it
// would be lost. One non-blocking peek, no allocation.
func (c *Conn) PeerClosed() bool { return peerClosed(c) }
