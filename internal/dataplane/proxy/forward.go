package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// errUpstreamTimeout is the cancel cause of a request whose target did not
// answer with headers within RequestTimeout.
var errUpstreamTimeout = errors.New("upstream request timeout")

// exchange is one request on its way to a target group: the state of the
// one retry loop (forward) and of the round trips of its transport. Which
// transport is settled by the group's compiled upstream kind: the own
// HTTP/1.1 client (tryH1, given the fields to add, fwd) or a net/http
// transport (tr set; tryStd). It lives on the handler's stack.
type exchange struct {
	p        *Proxy
	r        *http.Request
	tg       *snapshot.TargetGroup
	rl       *reqLog
	deadline time.Time
	res      *http.Response // the response whose headers arrived

	// The own HTTP/1.1 client (with forward's fwd).
	now        time.Time
	slack      time.Duration
	idempotent bool // may be sent again even if the target may have seen it
	hasBody    bool

	// A net/http transport.
	tr     *http.Transport
	scheme string
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	body   *bodyGuard

	upgrade bool // a WebSocket opening handshake (wantsUpgrade, websocket.go)

	// What the handler's observation (observe.go) reads once forward
	// returns: the target did not answer in time; the upgraded session.
	timedOut bool
	tunnel   *tunnel
	target   *snapshot.Target // the last target tried
}

// verdict is what the retry loop does after a failed try.
type verdict uint8

const (
	giveUp      verdict = iota // answer the failure
	sameTarget                 // again, on a new connection to the same target
	otherTarget                // another target, if one is left
)

// forward sends r to a target of x.tg and streams the answer back: the one
// retry loop of every upstream transport. Retries follow outcome.go: a
// failed connection moves any request (its body still unread) to another
// target; over the own HTTP/1.1 client, a connection that broke before the
// response began moves an idempotent body-less request, or one of which not
// a byte was written, to a new connection (after a pooled one) or another
// target (a net/http transport sends an idempotent request again after a
// stale pooled connection itself); at most maxTargets targets within the
// one request timeout. fwd is used by the own HTTP/1.1 client only (kept
// out of x, so that x's fields flowing to the heap do not take it along).
func (p *Proxy) forward(w http.ResponseWriter, x *exchange, fwd *fwdHeaders) {
	if x.upgrade {
		p.forwardUpgrade(w, x, fwd)
		return
	}
	r, tg, rl := x.r, x.tg, x.rl
	target, st := p.picker.Pick(tg, "")
	if target == nil {
		refuse(w, r, rl, refNoTargets, tg.ID)
		return
	}
	x.now = time.Now()
	x.deadline = x.now.Add(p.cfg.RequestTimeout)
	if x.tr != nil {
		// The timeout covers the time to the response headers (retries
		// included), not the body: the timer cancels the request only
		// until it is stopped when the headers arrive.
		x.ctx, x.cancel = context.WithCancelCause(r.Context())
		defer x.cancel(nil)
		cancel := x.cancel
		x.timer = time.AfterFunc(p.cfg.RequestTimeout, func() { cancel(errUpstreamTimeout) })
		// The transport closes the body of a request it could not send; a
		// guard keeps it open for another target as long as nothing read it.
		if r.Body != nil && r.Body != http.NoBody {
			x.body = &bodyGuard{rc: r.Body}
		}
	} else {
		// A pooled connection keeps its deadline when it is at most slack
		// earlier than this request's: one deadline change per connection
		// and second or so instead of two per request.
		x.slack = min(time.Second, p.cfg.RequestTimeout/16)
		x.idempotent = canRetry(r)
		x.hasBody = r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	}
	var (
		err   error
		v     verdict
		tried tries
		fresh bool // the next try dials: its pooled connection was stale
	)
	for {
		if !target.Addr.IsValid() {
			if x.timer != nil {
				x.timer.Stop()
			}
			refuse(w, r, rl, refNoAddress, target.ID, tg.ID)
			return
		}
		x.target = target
		if rl != nil {
			rl.e.Target = target.Addr
		}
		if x.tr != nil {
			v, err = x.tryStd(target, st)
		} else {
			v, err = x.tryH1(target, st, fresh, fwd)
		}
		fresh = false
		if err == nil || v == giveUp {
			break
		}
		if v == sameTarget {
			fresh = true
			continue
		}
		next, nst := p.next(tg, &tried, target, x.deadline)
		if next == nil {
			break
		}
		target, st = next, nst
	}
	var timedOut bool
	if x.tr != nil {
		timedOut = !x.timer.Stop()
		if err == nil && timedOut {
			// The timer fired just as the headers arrived; the request's
			// context is (being) cancelled, so the body is lost.
			st.End(true)
			x.res.Body.Close()
			p.report(attempt{tg, target, st}, upstream.Timeout)
		}
	} else if err != nil {
		// A pooled connection's deadline may be up to slack earlier than
		// this request's: its expiry is this request's timeout too.
		timedOut = r.Context().Err() == nil && (!time.Now().Before(x.deadline) ||
			(errors.Is(err, os.ErrDeadlineExceeded) && !isDialError(err)))
	}
	if err != nil || timedOut {
		x.timedOut = timedOut
		p.answerError(w, r, target, err, timedOut, rl)
		return
	}
	defer st.End(true)
	p.copyResponse(w, x.res, rl, attempt{tg, target, st})
}

// tryStd is one round trip to target over a net/http transport (r's
// header already prepared).
func (x *exchange) tryStd(target *snapshot.Target, st *upstream.State) (verdict, error) {
	p, r, rl := x.p, x.r, x.rl
	out := outboundRequest(x.ctx, r, x.scheme, target)
	if x.body != nil {
		out.Body = x.body
	}
	sent := time.Now()
	st.Begin(sent.UnixNano())
	if rl != nil {
		rl.sentAt = sent
	}
	res, err := x.tr.RoundTrip(out)
	if err == nil && res.StatusCode == http.StatusSwitchingProtocols {
		// net/http hands a 101 back as the response, its body the
		// connection: to a request that asked for no upgrade it is a
		// protocol error, as in the own client (upgrades: websocket.go).
		res.Body.Close()
		res, err = nil, h1.ErrSwitchingProtocols
	}
	if err == nil {
		now := time.Now()
		st.Answered(now.UnixNano())
		if rl != nil {
			rl.headersAt = now
		}
		x.res = res
		return giveUp, nil
	}
	st.End(false)
	a := attempt{x.tg, target, st}
	if context.Cause(x.ctx) == errUpstreamTimeout {
		p.report(a, upstream.Timeout)
		return giveUp, err
	}
	if r.Context().Err() != nil {
		return giveUp, err // the client is gone
	}
	if !isDialError(err) {
		p.report(a, upstream.Reset)
		return giveUp, err
	}
	p.connectFailed(a, err)
	if x.body != nil && x.body.read.Load() {
		return giveUp, err // the body is partly gone: it cannot be sent again
	}
	return otherTarget, err
}

// tryH1 is one round trip to target over the own HTTP/1.1 client, on a
// pooled connection unless fresh.
func (x *exchange) tryH1(target *snapshot.Target, st *upstream.State, fresh bool, fwd *fwdHeaders) (verdict, error) {
	p, r, rl, deadline := x.p, x.r, x.rl, x.deadline
	pool := p.h1up.Pool(p.targetNet(x.tg), target.Addr)
	var c *h1.Conn
	if !fresh {
		c = pool.Get(x.now)
		// A request that could not be sent again must not go out on a
		// connection the target already closed (idle timeout, or it
		// died): look for its FIN or RST first.
		if c != nil && !x.idempotent && c.PeerClosed() {
			pool.Drop(c.IdleSince()) // idle as long or longer: likely closed too
			c.Close()
			c = nil
		}
	}
	a := attempt{x.tg, target, st}
	st.Begin(time.Now().UnixNano())
	if c == nil {
		var err error
		c, err = p.h1up.Dial(r.Context(), pool, deadline)
		if err != nil {
			st.End(false)
			if r.Context().Err() != nil {
				return giveUp, err // the client is gone
			}
			if !time.Now().Before(deadline) {
				p.dialed(x.tg, DialTimedOut)
				p.report(a, outTimeout)
				return giveUp, err
			}
			// Nothing reached the target and the body is unread: any
			// request may go elsewhere.
			p.connectFailed(a, err)
			return otherTarget, err
		}
		p.dialed(x.tg, DialConnected)
	}
	c.Begin(x.now)
	if rl != nil {
		rl.sentAt = time.Now()
	}
	gotByte, err := c.RoundTrip(r, fwd.reqTarget, fwd.h1Extra(), deadline, x.slack)
	if err == nil {
		t := time.Now()
		st.Answered(t.UnixNano())
		if rl != nil {
			rl.headersAt = t
		}
		x.res = c.Response()
		return giveUp, nil
	}
	st.End(false)
	reused, idleSince, wrote := c.Reused(), c.IdleSince(), c.Wrote()
	c.Abort()
	if r.Context().Err() != nil {
		return giveUp, err // the client is gone: nothing to say of the target
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(deadline) {
		p.report(a, outTimeout)
		return giveUp, err
	}
	if !resendable(gotByte, x.hasBody, x.idempotent, wrote) {
		if !reused || gotByte {
			p.report(a, outReset)
		}
		return giveUp, err
	}
	if reused {
		// The target closed the idle connection while the request was on
		// its way: send it again on a new connection; the connections
		// idle at least as long are likely dead too.
		pool.Drop(idleSince)
		p.log.Debug("stale upstream connection; retrying on a new one", "target", target.Key, "err", err)
		return sameTarget, err
	}
	p.report(a, outReset)
	p.log.Debug("upstream connection broke before the response; retrying elsewhere", "target", target.Key, "err", err)
	return otherTarget, err
}

// bodyGuard is a client's request body lent to a transport: it notes
// whether anything read it, and ignores Close while nothing did, so that a
// request the transport could not send can go to another target with its
// body whole. Once read, the body can go nowhere else: Close passes through
// (a transport closes the body to stop its writer when the exchange ends).
type bodyGuard struct {
	rc   io.ReadCloser
	read atomic.Bool
}

func (b *bodyGuard) Read(p []byte) (int, error) {
	if !b.read.Load() {
		b.read.Store(true)
	}
	return b.rc.Read(p)
}

func (b *bodyGuard) Close() error {
	if !b.read.Load() {
		return nil // the server closes it when the handler returns
	}
	return b.rc.Close()
}

// outboundRequest is the request to the target: a shallow copy of r on ctx
// with the target's address. Host and the (prepared) header pass through.
func outboundRequest(ctx context.Context, r *http.Request, scheme string, t *snapshot.Target) *http.Request {
	out := r.WithContext(ctx)
	u := *r.URL
	u.Scheme = scheme
	u.Host = t.Addr.String()
	u.User = nil
	out.URL = &u
	out.RequestURI = ""
	out.Close = false
	return out
}

// canRetry reports whether r may be sent again to another target after a
// connection failure: an idempotent method and no body to replay.
func canRetry(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	return r.ContentLength == 0 && (r.Body == nil || r.Body == http.NoBody)
}

// isDialError reports whether err happened while connecting to the target,
// so nothing of the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (p *Proxy) answerError(w http.ResponseWriter, r *http.Request, t *snapshot.Target, err error, timedOut bool, rl *reqLog) {
	if rl != nil {
		rl.e.FailureReason = targetFailure(err, timedOut, r.Context().Err() != nil)
	}
	if timedOut {
		refuse(w, r, rl, refTimeout)
		return
	}
	if body := (*h1.ClientBodyError)(nil); errors.As(err, &body) {
		// The client's fault, not the target's.
		p.log.Debug("client request body failed", "target", t.Key, "err", err)
		refuse(w, r, rl, refClientBody)
		return
	}
	if r.Context().Err() != nil {
		// The client went away; nobody reads this answer.
		p.log.Debug("client gone before the target answered", "target", t.Key, "err", err)
		refuse(w, r, rl, refClientGone)
		return
	}
	p.log.Debug("target failed", "target", t.Key, "err", err)
	refuse(w, r, rl, refTargetFailed, t.Addr, shortReason(err))
}

// shortReason names a transport failure in a few words.
func shortReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to target"
	case errors.Is(err, os.ErrDeadlineExceeded):
		if isDialError(err) {
			return "connect timeout"
		}
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before a response"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// copyResponse streams the target's response to the client and reports
// the attempt's outcome: a 5xx answer or a body the target broke off is a
// failure, anything else a success; a client that went away says nothing
// of the target.
func (p *Proxy) copyResponse(w http.ResponseWriter, res *http.Response, rl *reqLog, a attempt) {
	defer res.Body.Close()
	rh := w.Header()
	reqID := rh[hdrRequestID]
	// The target's header without its hop-by-hop fields, filtered in the
	// copy.
	conn := res.Header["Connection"]
	for k, v := range res.Header {
		if !dropField(k, conn, false) {
			rh[k] = v
		}
	}
	rh[hdrRequestID] = reqID // ours, not the target's
	if n := len(res.Trailer); n > 0 {
		// Announce the trailers the target declared (HTTP/1 needs them
		// up front to keep the trailer section).
		keys := make([]string, 0, n)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		rh["Trailer"] = []string{strings.Join(keys, ", ")}
	}
	w.WriteHeader(res.StatusCode)

	// Stream: flush every chunk when the length is unknown (chunked,
	// HTTP/2, gRPC) or for server-sent events; otherwise the server's
	// buffer flushes as it fills.
	flush := res.ContentLength == -1 || isEventStream(res.Header)
	fl, _ := w.(http.Flusher)
	if fl == nil {
		flush = false
	}
	if flush {
		fl.Flush()
	}
	bufp := bufPool.Get().(*[]byte)
	err := copyBody(w, fl, res.Body, *bufp, flush)
	bufPool.Put(bufp)
	if err != nil {
		if errors.Is(err, errClientWrite) {
			if rl != nil {
				rl.e.FailureReason = accesslog.ClientConnectionClosed
			}
			return
		}
		if rl != nil {
			rl.e.FailureReason = targetFailure(err, false, false)
		}
		p.report(a, upstream.Reset)
		// The target broke off the body after the headers went out: abort
		// the client's response so it sees a truncated body, not a
		// complete one.
		p.log.Debug("target body failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	for k, v := range res.Trailer {
		rh[http.TrailerPrefix+k] = v
	}
	if res.StatusCode >= 500 {
		p.report(a, upstream.Status5xx)
	} else {
		p.report(a, upstream.Success)
	}
}

var errClientWrite = errors.New("client write failed")

func copyBody(w io.Writer, fl http.Flusher, body io.Reader, buf []byte, flush bool) error {
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errClientWrite
			}
			if flush {
				fl.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func isEventStream(h http.Header) bool {
	const es = "text/event-stream"
	ct := h["Content-Type"]
	return len(ct) > 0 && len(ct[0]) >= len(es) && strings.EqualFold(ct[0][:len(es)], es)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
