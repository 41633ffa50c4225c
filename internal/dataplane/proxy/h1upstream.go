package proxy

// The HTTP/1.1 upstream path: for target groups of protocol HTTP and
// version HTTP1 the proxy talks to the target itself instead of through
// net/http.Transport. A request runs synchronously on the handler's
// goroutine over a pooled keep-alive connection: no per-connection read and
// write goroutines, no channel hand-offs, no per-request context or timer.
//
//   - Pool: one LIFO stack of idle connections per target address (at most
//     h1MaxIdlePerTarget); a connection idle for h1IdleTimeout is closed,
//     lazily on checkout and by a timer that runs only while a stack holds
//     connections.
//   - Request: request line, Host, the prepared header (minus Expect,
//     Content-Length and Transfer-Encoding, which the proxy writes itself),
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
//   - Stale connections and retries: see outcome.go (a request that fails
//     on a pooled connection before any response byte arrived is sent again
//     on a fresh connection when it can be, then to another target).

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
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
)

const (
	h1MaxIdlePerTarget = 256
	h1IdleTimeout      = 90 * time.Second
	h1BufSize          = 4 << 10
)

var (
	h1ReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, h1BufSize) }}
	h1WriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, h1BufSize) }}
	// aLongTimeAgo is a deadline that makes blocked I/O return at once.
	aLongTimeAgo = time.Unix(1, 0)
	errH1Closed  = errors.New("proxy: upstream pool closed")
	errH1Status  = errors.New("unexpected 101 Switching Protocols from the target")
)

// h1Upstream holds the idle connections of every HTTP/1.1 target.
type h1Upstream struct {
	dialer net.Dialer

	mu     sync.RWMutex
	pools  map[poolKey]*h1Pool
	closed atomic.Bool
}

// poolKey names a pool: a target address in one network. Host-mode
// targets share the nil network; a network-namespace VPC's targets get
// their own pools, as the same address may be another host there.
type poolKey struct {
	net  vpcnet.Net // nil: the host's network
	addr netip.AddrPort
}

func newH1Upstream() *h1Upstream {
	return &h1Upstream{
		dialer: net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second},
		pools:  map[poolKey]*h1Pool{},
	}
}

// pool returns the pool of addr in the host's network, creating it on
// first use.
func (u *h1Upstream) pool(addr netip.AddrPort) *h1Pool { return u.poolIn(nil, addr) }

// poolIn returns the pool of addr in network n (nil: the host's),
// creating it on first use. n must be comparable (a pointer): a VPC whose
// namespace was made again hands a new Net and so gets new pools.
func (u *h1Upstream) poolIn(n vpcnet.Net, addr netip.AddrPort) *h1Pool {
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
		p = &h1Pool{u: u, addr: addr, net: n}
		u.pools[k] = p
	}
	return p
}

// forget removes the pools whose network keep refuses and closes their
// idle connections; connections in use are closed when their request ends
// (put closes them on a forgotten pool).
func (u *h1Upstream) forget(keep func(vpcnet.Net) bool) {
	var gone []*h1Pool
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

// closeIdle closes every idle connection; connections in use are closed
// when their request ends.
func (u *h1Upstream) closeIdle() {
	u.closed.Store(true)
	u.mu.Lock()
	pools := make([]*h1Pool, 0, len(u.pools))
	for _, p := range u.pools {
		pools = append(pools, p)
	}
	u.mu.Unlock()
	for _, p := range pools {
		p.drop(time.Time{}, true)
	}
}

// h1Pool is the LIFO stack of idle connections to one target address.
type h1Pool struct {
	u    *h1Upstream
	addr netip.AddrPort
	net  vpcnet.Net  // where addr is dialed from; nil: the host's network
	gone atomic.Bool // forgotten: its network left (connections are closed, not kept)

	mu    sync.Mutex
	idle  []*h1Conn // oldest first
	sweep *time.Timer
	armed bool
}

// get pops the most recently used idle connection, closing expired ones.
func (p *h1Pool) get(now time.Time) *h1Conn {
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
func (p *h1Pool) put(c *h1Conn, now time.Time) {
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
func (p *h1Pool) expire() {
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
func (p *h1Pool) drop(t time.Time, all bool) {
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
func (p *h1Pool) takeOldest(i int) []*h1Conn {
	dead := make([]*h1Conn, i)
	copy(dead, p.idle[:i])
	n := copy(p.idle, p.idle[i:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	return dead
}

func closeAll(cs []*h1Conn) {
	for _, c := range cs {
		c.close()
	}
}

// h1Conn is one keep-alive connection to a target.
type h1Conn struct {
	pool      *h1Pool
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	reused    bool // it served a request before
	// abortIO makes blocked I/O on nc fail (the client-gone hook), built
	// once per connection.
	abortIO func()

	// Response parsing state, reused by every exchange (h1response.go).
	scratch  []byte
	fields   []h1.Field
	hdr      http.Header
	resp     http.Response
	lim      io.LimitedReader
	deadline time.Time // the deadline set on nc (zero: none)
	lastUse  time.Time // when the current exchange began (its idle time starts there)

	// The current exchange.
	body     h1Body
	res      *http.Response
	stop     func() bool                     // unregisters the client-gone hook (other contexts)
	cctx     context.Context                 // the client's request context, when h1.OnGone hooked it
	writeErr chan error                      // the body writer's result, when a goroutine writes the body
	bodyErr  atomic.Pointer[clientBodyError] // the client's body failed (set by the body writer)
	wrote    bool                            // the request was written completely
}

func (c *h1Conn) close() {
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

func (u *h1Upstream) dial(ctx context.Context, p *h1Pool, deadline time.Time) (*h1Conn, error) {
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
	// (outcome.go).
	nc := newUpConn(tcp)
	br := h1ReaderPool.Get().(*bufio.Reader)
	br.Reset(nc)
	bw := h1WriterPool.Get().(*bufio.Writer)
	bw.Reset(nc)
	return &h1Conn{pool: p, nc: nc, br: br, bw: bw,
		abortIO: func() { _ = nc.SetDeadline(aLongTimeAgo) }}, nil
}

// h1Body is the response body handed to copyResponse: it notes whether the
// body was read to the end and, on Close, returns the connection to its
// pool or closes it.
type h1Body struct {
	c   *h1Conn
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
func (c *h1Conn) finish(bodyEOF bool) {
	reuse := bodyEOF && !c.res.Close
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

// roundTrip writes r on c and reads the response headers into c.res (whose
// Body must be closed to end the exchange). gotByte reports whether any
// byte of a response arrived before a failure. On error the caller aborts c.
// The time to the response headers is bounded by deadline (give or take
// slack, see forwardH1).
func (c *h1Conn) roundTrip(r *http.Request, fwd *fwdHeaders, deadline time.Time, slack time.Duration) (gotByte bool, err error) {
	c.wrote = false
	c.writeErr = nil
	c.bodyErr.Store(nil)
	nc := c.nc
	// Abort the exchange when the client goes away: through the server's
	// connection context without allocating, else with context.AfterFunc.
	ctx := r.Context()
	if hooked, alive := h1.OnGone(ctx, &c.abortIO); hooked {
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
	if err := c.writeHeader(r, fwd, hasBody); err != nil {
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
			err, clientSide := writeBody(bw, r)
			if clientSide {
				// The client's body broke off: the target waits for the
				// rest in vain, and must not keep half a request. (A write
				// error is left to the response read, which may still get
				// the target's early answer.)
				c.bodyErr.Store(&clientBodyError{err})
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
			return true, errH1Status
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
func (c *h1Conn) abort() {
	c.unhook()
	c.reapWriter()
	c.res = nil
	c.close()
}

// unhook removes the client-gone hook of the exchange; false when it fired.
func (c *h1Conn) unhook() bool {
	ok := true
	if c.cctx != nil {
		ok = h1.ClearGone(c.cctx, &c.abortIO)
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
func (c *h1Conn) reapWriter() {
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

// writeHeader buffers the request line and header section: the client's
// fields that pass (passRequestField), then the proxy's (fwd). It returns
// errFieldValue, having sent nothing, when a value is unfit to write.
func (c *h1Conn) writeHeader(r *http.Request, fwd *fwdHeaders, hasBody bool) error {
	bw := c.bw
	target := fwd.reqTarget
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
		if !passRequestField(k, conn) {
			if k == "Te" && h1.HasToken(vs, "trailers") {
				bw.WriteString("Te: trailers\r\n") // the one TE a request may carry on
			}
			continue
		}
		if k == "User-Agent" && (len(vs) == 0 || vs[0] == "") {
			continue // no User-Agent, as the client sent none
		}
		ok = writeFieldValues(bw, k, vs) && ok
	}
	ok = writeFieldValues(bw, hdrXFF, fwd.xff) && ok
	ok = writeFieldValues(bw, hdrXFPort, fwd.port) && ok
	ok = writeFieldValues(bw, hdrXFProto, fwd.proto) && ok
	ok = writeFieldValues(bw, hdrLatticeNetwork, fwd.network) && ok
	ok = writeFieldValues(bw, hdrLatticeTarget, fwd.target) && ok
	ok = writeFieldValues(bw, hdrSourceVpc, fwd.sourceVpc) && ok
	ok = writeFieldValues(bw, hdrRequestID, fwd.reqID) && ok
	ok = writeFieldValues(bw, hdrLatticeIdentity, fwd.identity) && ok
	ok = writeFieldValues(bw, hdrLatticeIdentityTags, fwd.identityTags) && ok
	if !ok || !h1.ValidFieldValue(r.Host) {
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
// holding CR, LF, NUL or another control byte (h1.ValidFieldValue): written
// as it is, such a value would end the field, or the whole head, early and
// make the target read fields or a request that no rule or policy judged.
// Everything the proxy forwards was checked where it was accepted; this is
// the last line of defence, so it fails the exchange instead of guessing.
func writeFieldValues(bw *bufio.Writer, k string, vs []string) bool {
	for _, v := range vs {
		if !h1.ValidFieldValue(v) {
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
func writeBody(bw *bufio.Writer, r *http.Request) (err error, clientSide bool) {
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
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
		if !passTrailerField(k) {
			continue
		}
		for _, v := range vs {
			if !h1.ValidFieldValue(v) {
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
