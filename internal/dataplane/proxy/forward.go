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

// forward sends r (its header already prepared) to a target of tg over a
// net/http transport and streams the answer back. A failed connection is
// retried on other targets, whatever the method, while the body is unread
// (outcome.go); other failures are not (the transport itself sends an
// idempotent request again after a stale pooled connection).
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, tg *snapshot.TargetGroup, tr *http.Transport, scheme string, rl *reqLog) {
	target, st := p.picker.Pick(tg, "")
	if target == nil {
		refuse(w, rl, refNoTargets, tg.ID)
		return
	}

	// The timeout covers the time to the response headers (retries
	// included), not the body: the timer cancels the request only until it
	// is stopped when the headers arrive.
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	deadline := time.Now().Add(p.cfg.RequestTimeout)
	timer := time.AfterFunc(p.cfg.RequestTimeout, func() { cancel(errUpstreamTimeout) })

	// The transport closes the body of a request it could not send; a
	// guard keeps it open for another target as long as nothing read it.
	var body *bodyGuard
	if r.Body != nil && r.Body != http.NoBody {
		body = &bodyGuard{rc: r.Body}
	}
	var (
		res   *http.Response
		err   error
		tried tries
	)
	for {
		if !target.Addr.IsValid() {
			timer.Stop()
			refuse(w, rl, refNoAddress, target.ID, tg.ID)
			return
		}
		out := outboundRequest(ctx, r, scheme, target)
		if body != nil {
			out.Body = body
		}
		sent := time.Now()
		st.Begin(sent.UnixNano())
		if rl != nil {
			rl.e.Target, rl.sentAt = target.Addr, sent
		}
		res, err = tr.RoundTrip(out)
		if err == nil {
			now := time.Now()
			st.Answered(now.UnixNano())
			if rl != nil {
				rl.headersAt = now
			}
			break
		}
		st.End(false)
		a := attempt{tg, target, st}
		if context.Cause(ctx) == errUpstreamTimeout {
			p.report(a, upstream.Timeout)
			break
		}
		if r.Context().Err() != nil {
			break // the client is gone
		}
		if !isDialError(err) {
			p.report(a, upstream.Reset)
			break
		}
		p.connectFailed(a, err)
		if body != nil && body.read.Load() {
			break // the body is partly gone: it cannot be sent again
		}
		next, nst := p.next(tg, &tried, target, deadline)
		if next == nil {
			break
		}
		target, st = next, nst
	}
	fired := !timer.Stop()
	if err != nil || fired {
		if err == nil {
			// The timer fired just as the headers arrived; the request's
			// context is (being) cancelled, so the body is lost.
			st.End(true)
			res.Body.Close()
			p.report(attempt{tg, target, st}, upstream.Timeout)
		}
		p.answerError(w, r, target, err, fired, rl)
		return
	}
	defer st.End(true)
	p.copyResponse(w, res, rl, attempt{tg, target, st})
}

// forwardH1 is forward for HTTP/1.1 target groups over the proxy's own
// client. Retries follow outcome.go: a failed connection moves any request
// (its body still unread) to another target; a connection that broke
// before the response began moves an idempotent body-less request, or one
// of which not a byte was written, to a new connection (after a pooled
// one) or another target; at most maxTargets targets within the one
// request timeout.
func (p *Proxy) forwardH1(w http.ResponseWriter, r *http.Request, tg *snapshot.TargetGroup, fwd *fwdHeaders, rl *reqLog) {
	target, st := p.picker.Pick(tg, "")
	if target == nil {
		refuse(w, rl, refNoTargets, tg.ID)
		return
	}
	now := time.Now()
	deadline := now.Add(p.cfg.RequestTimeout)
	// A pooled connection keeps its deadline when it is at most slack
	// earlier than this request's: one deadline change per connection and
	// second or so instead of two per request.
	slack := min(time.Second, p.cfg.RequestTimeout/16)
	// idempotent: may be sent again even if the target may have seen it.
	idempotent := canRetry(r)
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	var (
		c     *h1.Conn
		err   error
		tried tries
		fresh bool // the next attempt dials: its pooled connection was stale
	)
	for {
		if !target.Addr.IsValid() {
			refuse(w, rl, refNoAddress, target.ID, tg.ID)
			return
		}
		if rl != nil {
			rl.e.Target = target.Addr
		}
		pool := p.h1up.Pool(p.targetNet(tg), target.Addr)
		c = nil
		if !fresh {
			c = pool.Get(now)
			// A request that could not be sent again must not go out on a
			// connection the target already closed (idle timeout, or it
			// died): look for its FIN or RST first.
			if c != nil && !idempotent && c.PeerClosed() {
				pool.Drop(c.IdleSince()) // idle as long or longer: likely closed too
				c.Close()
				c = nil
			}
		}
		fresh = false
		a := attempt{tg, target, st}
		st.Begin(time.Now().UnixNano())
		if c == nil {
			c, err = p.h1up.Dial(r.Context(), pool, deadline)
			if err != nil {
				st.End(false)
				if r.Context().Err() != nil {
					break // the client is gone
				}
				if !time.Now().Before(deadline) {
					p.report(a, outTimeout)
					break
				}
				// Nothing reached the target and the body is unread: any
				// request may go elsewhere.
				p.connectFailed(a, err)
				next, nst := p.next(tg, &tried, target, deadline)
				if next == nil {
					break
				}
				target, st = next, nst
				continue
			}
		}
		c.Begin(now)
		if rl != nil {
			rl.sentAt = time.Now()
		}
		var gotByte bool
		gotByte, err = c.RoundTrip(r, fwd.reqTarget, fwd.h1Extra(), deadline, slack)
		if err == nil {
			t := time.Now()
			st.Answered(t.UnixNano())
			if rl != nil {
				rl.headersAt = t
			}
			break
		}
		st.End(false)
		reused, idleSince, wrote := c.Reused(), c.IdleSince(), c.Wrote()
		c.Abort()
		c = nil
		if r.Context().Err() != nil {
			break // the client is gone: nothing to say of the target
		}
		if errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(deadline) {
			p.report(a, outTimeout)
			break
		}
		if !resendable(gotByte, hasBody, idempotent, wrote) {
			if !reused || gotByte {
				p.report(a, outReset)
			}
			break
		}
		if reused {
			// The target closed the idle connection while the request was
			// on its way: send it again on a new connection; the
			// connections idle at least as long are likely dead too.
			pool.Drop(idleSince)
			p.log.Debug("stale upstream connection; retrying on a new one", "target", target.Key, "err", err)
			fresh = true
			continue
		}
		p.report(a, outReset)
		p.log.Debug("upstream connection broke before the response; retrying elsewhere", "target", target.Key, "err", err)
		next, nst := p.next(tg, &tried, target, deadline)
		if next == nil {
			break
		}
		target, st = next, nst
	}
	if err != nil {
		// A pooled connection's deadline may be up to slack earlier than
		// this request's: its expiry is this request's timeout too.
		timedOut := r.Context().Err() == nil && (!time.Now().Before(deadline) ||
			(errors.Is(err, os.ErrDeadlineExceeded) && !isDialError(err)))
		p.answerError(w, r, target, err, timedOut, rl)
		return
	}
	defer st.End(true)
	p.copyResponse(w, c.Response(), rl, attempt{tg, target, st})
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
		refuse(w, rl, refTimeout)
		return
	}
	if body := (*h1.ClientBodyError)(nil); errors.As(err, &body) {
		// The client's fault, not the target's.
		p.log.Debug("client request body failed", "target", t.Key, "err", err)
		refuse(w, rl, refClientBody)
		return
	}
	if r.Context().Err() != nil {
		// The client went away; nobody reads this answer.
		p.log.Debug("client gone before the target answered", "target", t.Key, "err", err)
		refuse(w, rl, refClientGone)
		return
	}
	p.log.Debug("target failed", "target", t.Key, "err", err)
	refuse(w, rl, refTargetFailed, t.Addr, shortReason(err))
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
