package h2

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
)

var (
	errStreamReset  = errors.New("h2: stream reset")
	errConnClosed   = errors.New("h2: connection closed")
	errFlushTimeout = errors.New("h2: flush timed out")
	errBodyClosed   = errors.New("h2: request body read after the handler returned")
	errLength       = errors.New("h2: request body does not match its content-length")
)

// stream is one request and its response: the handler's ResponseWriter,
// and its request's context. Streams whose request had no body are reused
// (the request, its URL and the response header map with them), as
// nothing outlives the handler then.
type stream struct {
	c  *conn
	id uint32

	// under c.mu
	sendWindow  int32
	recvWindow  int32
	remoteDone  bool // END_STREAM received (half-closed remote, §5.1)
	handlerDone bool
	closed      bool // gone from c.streams
	reset       bool // RST_STREAM sent or received: writes fail

	// the request
	reqv  http.Request
	tmpl  *http.Request // ctx = this stream; copied into reqv per request
	url   url.URL
	body  *body // nil: no body (http.NoBody)
	reuse bool

	// the context (h1.ConnContext)
	cmu     sync.Mutex
	gone    atomic.Bool
	done    chan struct{}
	abort   atomic.Pointer[func()]
	after   []*afterFunc
	tainted bool // a Done channel or an AfterFunc was handed out: not reused

	// the response (the handler's goroutine)
	hdr         http.Header
	status      int
	committed   bool  // HEADERS encoded
	endedHead   bool  // END_STREAM was on the HEADERS
	bodyAllowed bool  // not 204, 304
	head        bool  // a HEAD request's answer: no DATA
	clen        int64 // the handler's Content-Length, -1: none
	written     int64
	buf         *[]byte // DATA not framed yet
	err         error
	trailerDecl string // the Trailer header's names at commit
}

type afterFunc struct{ f func() }

var streamPool sync.Pool

func (c *conn) getStream(id uint32) *stream {
	st, _ := streamPool.Get().(*stream)
	if st == nil {
		st = &stream{hdr: http.Header{}}
		st.tmpl = (&http.Request{}).WithContext(st)
	}
	st.c, st.id = c, id
	st.reqv = *st.tmpl
	return st
}

// recycle puts st back for another request when nothing can hold it.
// tainted is read under cmu: a context derived from the request's through
// a context.WithValue (which hides the stream's AfterFunc) makes the
// context package call Done once on the handler's goroutine — tainting
// the stream before the handler returns, so it is never recycled — and
// again later from a goroutine of its own, which writes tainted once more.
func (st *stream) recycle() {
	st.cmu.Lock()
	tainted := st.tainted
	st.cmu.Unlock()
	if !st.reuse || tainted {
		return
	}
	clear(st.hdr)
	*st = stream{hdr: st.hdr, tmpl: st.tmpl}
	streamPool.Put(st)
}

// Context (the request's): done when the client resets the stream, the
// connection closes, or the handler returns (as net/http's).

func (st *stream) Deadline() (time.Time, bool) { return time.Time{}, false }
func (st *stream) Value(any) any               { return nil }

func (st *stream) Done() <-chan struct{} {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	st.tainted = true
	if st.done == nil {
		st.done = make(chan struct{})
		if st.gone.Load() {
			close(st.done)
		}
	}
	return st.done
}

func (st *stream) Err() error {
	if st.gone.Load() {
		return context.Canceled
	}
	return nil
}

// cancel ends the context: Done closes, the abort hook and the AfterFunc
// functions run.
func (st *stream) cancel() {
	st.cmu.Lock()
	if st.gone.Load() {
		st.cmu.Unlock()
		return
	}
	st.gone.Store(true)
	if st.done != nil {
		close(st.done)
	}
	after := st.after
	st.after = nil
	st.cmu.Unlock()
	if f := st.abort.Swap(nil); f != nil {
		(*f)()
	}
	for _, a := range after {
		go a.f()
	}
	if st.body != nil {
		st.body.fail(errStreamReset)
	}
}

// AfterFunc lets context.AfterFunc and derived contexts register without a
// goroutine per request.
func (st *stream) AfterFunc(f func()) func() bool {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	st.tainted = true
	if st.gone.Load() {
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	st.after = append(st.after, a)
	return func() bool {
		st.cmu.Lock()
		defer st.cmu.Unlock()
		for i, x := range st.after {
			if x == a {
				st.after = append(st.after[:i], st.after[i+1:]...)
				return true
			}
		}
		return false
	}
}

// ConnInfo, SetAbort, ClearAbort: h1.ConnContext.

func (st *stream) ConnInfo() *h1.ConnInfo { return &st.c.info }

func (st *stream) SetAbort(f *func()) bool {
	st.abort.Store(f)
	if st.gone.Load() && st.abort.CompareAndSwap(f, nil) {
		return false
	}
	return true
}

func (st *stream) ClearAbort(f *func()) bool { return st.abort.CompareAndSwap(f, nil) }

var _ h1.ConnContext = (*stream)(nil)

// serve runs the handler on a worker goroutine and ends the stream.
func (st *stream) serve() {
	c := st.c
	req := &st.reqv
	normal := false
	defer func() {
		if !normal {
			e := recover()
			if e != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.log.Error("http2: panic serving", "remote", c.remote, "panic", e, "stack", string(buf))
			}
			// As net/http: the client sees the stream reset, never a
			// response cut short that looks complete.
			c.mu.Lock()
			c.resetLocked(st, http2.ErrCodeInternal)
			c.mu.Unlock()
		} else {
			st.endResponse()
		}
		st.end()
	}()
	c.srv.handler.ServeHTTP(st, req)
	normal = true
}

// end closes what the handler leaves: the body, the context, the stream
// when the client is done sending (else it is told to stop: RST_STREAM
// NO_ERROR, §8.1), and recycles st.
func (st *stream) end() {
	c := st.c
	if st.buf != nil {
		*st.buf = (*st.buf)[:0] // what a reset stream never sent
		bufPool.Put(st.buf)
		st.buf = nil
	}
	if st.body != nil {
		st.body.closeByHandler()
	}
	c.mu.Lock()
	st.handlerDone = true
	c.handlers--
	if !st.closed {
		if !st.remoteDone {
			c.resetLocked(st, http2.ErrCodeNo)
		} else {
			c.closeStreamLocked(st)
		}
	}
	st.cancel()
	c.idleCheckLocked()
	c.cond.Broadcast()
	c.mu.Unlock()
	st.recycle()
}

// closeStreamLocked takes st out of the connection's streams.
func (c *conn) closeStreamLocked(st *stream) {
	if st.closed {
		return
	}
	st.closed = true
	delete(c.streams, st.id)
	c.cond.Broadcast()
}

// resetLocked resets st (RST_STREAM with code) and cancels it.
func (c *conn) resetLocked(st *stream, code http2.ErrCode) {
	if !st.closed {
		c.out = appendRST(c.out, st.id, code)
		c.wakeLocked()
		c.ourResets[c.ourResetsI%len(c.ourResets)] = st.id
		c.ourResetsI++
	}
	st.reset = true
	c.closeStreamLocked(st)
	st.cancel()
}

// idleCheckLocked starts the idle timeout when no stream is left, or
// closes a connection told to go away.
func (c *conn) idleCheckLocked() {
	if c.handlers > 0 || len(c.streams) > 0 {
		return
	}
	if c.goingAway && !c.closing && c.srv.shutdown.Load() {
		c.closing = true
		go c.finishShutdown()
		return
	}
	if !c.deadlineSet && !c.readDone {
		c.deadlineSet = true
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.IdleTimeout))
	}
}

// ResponseWriter.

func (st *stream) Header() http.Header { return st.hdr }

func (st *stream) WriteHeader(code int) {
	if st.committed || st.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic("h2: invalid status code " + statusValue(code))
	}
	if code < 200 {
		if code != http.StatusSwitchingProtocols { // no 101 in HTTP/2 (§8.6)
			st.informational(code)
		}
		return
	}
	st.status = code
	// A HEAD answer's body is counted (for its length, as net/http's
	// HTTP/2 server does) but not sent.
	st.head = st.reqv.Method == http.MethodHead
	st.bodyAllowed = code != http.StatusNoContent && code != http.StatusNotModified
	st.clen = -1
	if cl := st.hdr["Content-Length"]; len(cl) > 0 {
		st.clen = h1.ParseLength(cl[0])
	}
}

// informational sends a 1xx response at once (§8.1).
func (st *stream) informational(code int) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.reset || c.closing {
		return
	}
	_ = c.enc.WriteField(hpackField(":status", statusValue(code)))
	for k, vs := range st.hdr {
		if skipResponseField(k) {
			continue
		}
		for _, v := range vs {
			c.encodeField(k, v)
		}
	}
	c.appendHeaderBlockLocked(st.id, false)
}

func (st *stream) Write(p []byte) (int, error) {
	if st.status == 0 {
		st.WriteHeader(http.StatusOK)
	}
	if st.err != nil {
		return 0, st.err
	}
	if !st.bodyAllowed {
		return 0, http.ErrBodyNotAllowed
	}
	var tooLong bool
	if st.clen >= 0 && st.written+int64(len(p)) > st.clen {
		p = p[:st.clen-st.written]
		tooLong = true
	}
	st.written += int64(len(p))
	if st.head {
		if tooLong {
			return len(p), http.ErrContentLength
		}
		return len(p), nil
	}
	if st.buf == nil {
		st.buf = bufPool.Get().(*[]byte)
	}
	b := *st.buf
	if len(b)+len(p) <= cap(b) {
		*st.buf = append(b, p...)
	} else if err := st.send(p, false, true); err != nil {
		st.written -= int64(len(p))
		return 0, err
	}
	if tooLong {
		return len(p), http.ErrContentLength
	}
	return len(p), nil
}

func (st *stream) WriteString(s string) (int, error) {
	// Through the buffer without a []byte copy of s when it fits.
	if st.buf != nil && st.status != 0 && st.err == nil && st.bodyAllowed && !st.head && st.clen < 0 {
		if b := *st.buf; len(b)+len(s) <= cap(b) {
			*st.buf = append(b, s...)
			st.written += int64(len(s))
			return len(s), nil
		}
	}
	return st.Write([]byte(s))
}

// Flush sends what is buffered (http.Flusher).
func (st *stream) Flush() { _ = st.FlushError() }

// FlushError sends what is buffered, reporting why it could not
// (http.ResponseController).
func (st *stream) FlushError() error {
	if st.status == 0 {
		st.WriteHeader(http.StatusOK)
	}
	if st.err != nil {
		return st.err
	}
	return st.send(nil, false, true)
}

// EnableFullDuplex is a no-op: an HTTP/2 handler may always read the
// request while it writes the response (http.ResponseController).
func (st *stream) EnableFullDuplex() error { return nil }

// ResponseStats is h1.Stats, for an access log.
func (st *stream) ResponseStats() (int, int64) { return st.status, st.written }

// send commits the header if not yet done and frames the buffered data
// and then p as DATA; end puts END_STREAM on the last frame. wake tells
// the writer (else the caller's next frames go with these).
func (st *stream) send(p []byte, end, wake bool) error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !st.committed {
		st.commitLocked(-1, false)
	}
	var err error
	if st.buf != nil && len(*st.buf) > 0 {
		err = c.sendDataLocked(st, *st.buf, end && len(p) == 0)
		*st.buf = (*st.buf)[:0]
	}
	if err == nil && (len(p) > 0 || end && !st.endedHead) {
		err = c.sendDataLocked(st, p, end)
	}
	if wake {
		c.wakeLocked()
	}
	if err != nil {
		st.err = err
	}
	return err
}

// commitLocked encodes the response header: clen is the length the server
// knows (-1: none), end puts END_STREAM on it.
func (st *stream) commitLocked(clen int, end bool) {
	c := st.c
	st.committed = true
	if tv := st.hdr["Trailer"]; len(tv) > 0 {
		st.trailerDecl = strings.Join(tv, ",")
	}
	if st.reset || c.closing {
		return
	}
	c.encodeResponseHeaderLocked(st, st.status, clen)
	st.endedHead = end
	c.appendHeaderBlockLocked(st.id, end)
}

// sendDataLocked frames p as DATA within the client's windows and
// maximum frame size, waiting for room as needed (§6.9: a handler blocks
// when out of window); end puts END_STREAM on the last frame.
func (c *conn) sendDataLocked(st *stream, p []byte, end bool) error {
	for {
		if st.reset {
			return errStreamReset
		}
		if c.closing || c.writeErr != nil {
			return errConnClosed
		}
		if len(p) == 0 {
			if end {
				c.out = appendFrameHeader(c.out, 0, http2.FrameData, http2.FlagDataEndStream, st.id)
			}
			return nil
		}
		if len(c.out) >= maxOutBuffered {
			c.wakeLocked()
			c.cond.Wait()
			continue
		}
		n := min(len(p), c.maxFrame, int(c.sendWindow), int(st.sendWindow))
		if n <= 0 {
			c.wakeLocked()
			c.cond.Wait()
			continue
		}
		var flags http2.Flags
		if end && n == len(p) {
			flags = http2.FlagDataEndStream
		}
		c.out = appendFrameHeader(c.out, n, http2.FrameData, flags, st.id)
		c.out = append(c.out, p[:n]...)
		c.sendWindow -= int32(n)
		st.sendWindow -= int32(n)
		p = p[n:]
		if flags != 0 {
			return nil
		}
	}
}

// endResponse ends the response after the handler returned: the header if
// not sent yet (with the length: all of the body is known), the buffered
// data, the trailers, END_STREAM on the last of them.
func (st *stream) endResponse() {
	c := st.c
	if st.status == 0 {
		st.WriteHeader(http.StatusOK)
	}
	if st.err != nil {
		return
	}
	if st.bodyAllowed && !st.head && st.clen >= 0 && st.written < st.clen {
		// Cut short: the client must not take it for complete.
		c.mu.Lock()
		c.resetLocked(st, http2.ErrCodeInternal)
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.reset || c.closing {
		return
	}
	var pending []byte
	if st.buf != nil {
		pending = *st.buf
	}
	hasTrailers := st.hasTrailers()
	if !st.committed {
		// The whole body is known: its length is sent (as net/http's
		// HTTP/2 server does), trailers or not.
		clen := -1
		if st.bodyAllowed {
			clen = int(st.written)
		}
		st.commitLocked(clen, len(pending) == 0 && !hasTrailers)
	}
	if !st.endedHead {
		if err := c.sendDataLocked(st, pending, !hasTrailers); err != nil {
			return
		}
		if st.buf != nil {
			*st.buf = (*st.buf)[:0]
		}
		if hasTrailers {
			st.encodeTrailersLocked()
			c.appendHeaderBlockLocked(st.id, true)
		}
	}
	c.wakeLocked()
}

// hasTrailers reports trailer values the handler set: the names the
// Trailer header declared, and http.TrailerPrefix keys.
func (st *stream) hasTrailers() bool {
	decl := st.trailerDecl
	if !st.committed {
		if tv := st.hdr["Trailer"]; len(tv) > 0 {
			decl = strings.Join(tv, ",")
			st.trailerDecl = decl
		}
	}
	for k, vs := range st.hdr {
		if len(vs) == 0 {
			continue
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
		if decl != "" && k != "Trailer" && declared(decl, k) {
			return true
		}
	}
	return false
}

// encodeTrailersLocked encodes the trailer fields (§8.1: no pseudo-header,
// nothing connection-specific).
func (st *stream) encodeTrailersLocked() {
	c := st.c
	for k, vs := range st.hdr {
		name, ok := strings.CutPrefix(k, http.TrailerPrefix)
		if !ok {
			if st.trailerDecl == "" || k == "Trailer" || !declared(st.trailerDecl, k) {
				continue
			}
		}
		if name == "" || skipResponseField(name) {
			continue
		}
		switch http.CanonicalHeaderKey(name) {
		case "Content-Length", "Trailer":
			continue
		}
		for _, v := range vs {
			c.encodeField(name, v)
		}
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// body is a request body: the DATA frames the reader receives, read by
// the handler, with the flow-control credit returned as it reads.
type body struct {
	st   *stream
	mu   sync.Mutex
	cond sync.Cond
	buf  []byte
	off  int
	eof  bool
	err  error

	closed  bool  // the handler returned
	want    int64 // content-length, -1: none
	got     int64
	read    int64
	trailer http.Header // received trailer fields, moved to r.Trailer at EOF
	unacked int32       // stream credit not returned yet
}

func newBody(st *stream, want int64) *body {
	b := &body{st: st, want: want}
	b.cond.L = &b.mu
	return b
}

// write adds received data (the reader's); end is END_STREAM.
func (b *body) write(p []byte, end bool) error {
	b.mu.Lock()
	if b.closed || b.err != nil {
		b.mu.Unlock()
		// Nobody reads: the bytes go back to the connection at once.
		b.creditConn(int32(len(p)))
		return nil
	}
	if b.off == len(b.buf) {
		b.buf, b.off = b.buf[:0], 0
	}
	b.buf = append(b.buf, p...)
	b.got += int64(len(p))
	var err error
	if b.want >= 0 && (b.got > b.want || end && b.got != b.want) {
		err = errLength
		b.err = err
	}
	if end {
		b.eof = true
	}
	b.cond.Broadcast()
	b.mu.Unlock()
	return err
}

// setTrailer keeps the request's trailer fields for EOF.
func (b *body) setTrailer(t http.Header) {
	b.mu.Lock()
	b.trailer = t
	b.mu.Unlock()
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	for b.off == len(b.buf) && !b.eof && b.err == nil && !b.closed {
		b.cond.Wait()
	}
	if b.closed {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	if b.off < len(b.buf) {
		n := copy(p, b.buf[b.off:])
		b.off += n
		b.read += int64(n)
		b.mu.Unlock()
		b.credit(int32(n))
		return n, nil
	}
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	// EOF: the trailers become the request's (as net/http: the names the
	// client announced are there already, with no value until now).
	t := b.trailer
	b.trailer = nil
	b.mu.Unlock()
	if t != nil {
		if rt := b.st.reqv.Trailer; rt != nil {
			for k, v := range t {
				rt[k] = v
			}
		}
	}
	return 0, io.EOF
}

// Close is a no-op: the server ends the body after the handler.
func (b *body) Close() error { return nil }

// BodyBytesRead is h1.BodyStats.
func (b *body) BodyBytesRead() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read
}

// fail ends the body with err (the stream was reset or the connection
// closed).
func (b *body) fail(err error) {
	b.mu.Lock()
	if b.err == nil && !b.eof {
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// closeByHandler ends the body when the handler returns: later reads
// fail, unread bytes go back to the connection window.
func (b *body) closeByHandler() {
	b.mu.Lock()
	b.closed = true
	n := len(b.buf) - b.off
	b.buf, b.off = nil, 0
	b.cond.Broadcast()
	b.mu.Unlock()
	b.creditConn(int32(n))
}

// credit returns n consumed bytes to the client's windows: the stream's
// (while it still sends) and the connection's, in WINDOW_UPDATEs sent
// once a quarter of a window is consumed, not per read.
func (b *body) credit(n int32) {
	if n <= 0 {
		return
	}
	st := b.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !st.closed && !st.remoteDone {
		b.unacked += n
		if b.unacked >= streamWindow/4 {
			c.out = appendWindowUpdate(c.out, st.id, uint32(b.unacked))
			st.recvWindow += b.unacked
			b.unacked = 0
			c.wakeLocked()
		}
	}
	c.returnConnLocked(n)
}

func (b *body) creditConn(n int32) {
	if n <= 0 {
		return
	}
	c := b.st.c
	c.mu.Lock()
	c.returnConnLocked(n)
	c.mu.Unlock()
}
