package proxy

// WebSockets through HTTP listeners (RFC 6455 §4, docs/protocols.md): an
// HTTP/1.1 upgrade request is attributed, normalised, authorized and
// routed like any other request (handler.go); only then does forward hand
// it here instead of to the retry loop. It goes to the target with its
// Connection and Upgrade fields (which every other request loses as
// hop-by-hop) and the Lattice fields; a 101 whose Upgrade token and
// Sec-WebSocket-Accept match the request makes the proxy answer the
// client 101 with the target's fields and splice the two connections
// until either side closes or the session stays idle both ways for
// Config.WebSocketIdleTimeout. Any other answer passes through as a
// normal response, and the client's connection closes after it (bytes
// the client sent after the head are never read as a request).

import (
	"context"
	"crypto/sha1" //nolint:gosec // RFC 6455 §4.2.2 defines the accept value with SHA-1
	"encoding/base64"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// DefaultWebSocketIdleTimeout ends a spliced WebSocket session when no
// byte went either way for this long (nginx's proxy_read_timeout is the
// same 60 s, though per direction). Peers that keep a quiet session open
// send pings (every WebSocket library can), which count as traffic.
const DefaultWebSocketIdleTimeout = 60 * time.Second

var (
	hdrUpgradeValue    = []string{"websocket"}
	hdrConnUpgrade     = []string{"Upgrade"}
	errBadUpgrade      = errors.New("the target's 101 does not accept the WebSocket upgrade")
	errTunnelIdle      = errors.New("WebSocket session idle")
	errTunnelClientEnd = errors.New("client side of the WebSocket session failed")
)

// wantsUpgrade reports whether r is a WebSocket opening handshake the
// proxy upgrades (RFC 6455 §4.1): GET over HTTP/1.1 without a body,
// "Connection: upgrade", "Upgrade: websocket" alone (any other protocol,
// h2c among them, is not upgraded), one Sec-WebSocket-Key, a client
// connection the server can hand over (h1.CanUpgrade), and a target group
// that speaks HTTP/1.1. Anything else is a normal request, whose
// Connection and Upgrade fields are dropped as hop-by-hop. It does not
// allocate.
func wantsUpgrade(w http.ResponseWriter, r *http.Request, tg *snapshot.TargetGroup) bool {
	up := r.Header["Upgrade"]
	if len(up) != 1 || !strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
		return false
	}
	if r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor != 1 ||
		!h1.HasToken(r.Header["Connection"], "upgrade") || len(r.Header["Sec-Websocket-Key"]) != 1 {
		return false
	}
	if tg.Upstream != snapshot.UpstreamH1 && tg.Upstream != snapshot.UpstreamH1TLS {
		return false // HTTP/2 targets would need RFC 8441's extended CONNECT
	}
	return h1.CanUpgrade(w)
}

// acceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key
// (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.New() //nolint:gosec // see the import
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// acceptsUpgrade reports whether a target's 101 completes r's WebSocket
// handshake: Connection names upgrade, Upgrade is websocket, and
// Sec-WebSocket-Accept answers r's key. Anything else would splice the
// client onto a target that did not switch protocols, which could then
// read the client's next bytes as requests nobody judged.
func acceptsUpgrade(r *http.Request, res *http.Response) bool {
	up := res.Header["Upgrade"]
	acc := res.Header["Sec-Websocket-Accept"]
	return h1.HasToken(res.Header["Connection"], "upgrade") && len(up) == 1 &&
		strings.EqualFold(strings.TrimSpace(up[0]), "websocket") && len(acc) == 1 &&
		strings.TrimSpace(acc[0]) == acceptKey(r.Header["Sec-Websocket-Key"][0])
}

// forwardUpgrade sends the upgrade request x.r to a target of x.tg and,
// on a valid 101, splices the connections. Connections that fail to
// connect move it to another target (nothing was sent); once sent it is
// not sent again.
func (p *Proxy) forwardUpgrade(w http.ResponseWriter, x *exchange, fwd *fwdHeaders) {
	r, tg, rl := x.r, x.tg, x.rl
	// Whatever the answer, the client's connection closes after it: bytes
	// it sent after the head belong to the WebSocket, not to HTTP. (The h1
	// server already marks every upgrade request so; this keeps it true
	// for any server.)
	r.Close = true
	target, st := p.picker.Pick(tg, "")
	if target == nil {
		refuse(w, r, rl, refNoTargets, tg.ID)
		return
	}
	deadline := time.Now().Add(p.cfg.RequestTimeout)
	var tried tries
	for {
		if !target.Addr.IsValid() {
			refuse(w, r, rl, refNoAddress, target.ID, tg.ID)
			return
		}
		if rl != nil {
			rl.e.Target = target.Addr
		}
		up, res, retry, err := p.upgradeTry(x, fwd, target, st, deadline)
		if err == nil {
			p.finishUpgrade(w, x, attempt{tg, target, st}, up, res)
			return
		}
		if !retry {
			p.answerError(w, r, target, err, errors.Is(err, errUpstreamTimeout), rl)
			return
		}
		next, nst := p.next(tg, &tried, target, deadline)
		if next == nil {
			p.answerError(w, r, target, err, false, rl)
			return
		}
		target, st = next, nst
	}
}

// upgradeTry sends the upgrade request to target on a new connection
// (never a pooled one: the connection leaves the pool for good). It
// returns the target's answer and, on a 101, its connection (nil for
// another answer, whose body the caller streams and closes). retry
// reports a failure to connect, before anything was sent.
func (p *Proxy) upgradeTry(x *exchange, fwd *fwdHeaders, target *snapshot.Target, st *upstream.State, deadline time.Time) (up io.ReadWriteCloser, res *http.Response, retry bool, err error) {
	r, rl := x.r, x.rl
	a := attempt{x.tg, target, st}
	st.Begin(time.Now().UnixNano())
	if x.tr != nil {
		// HTTPS targets: net/http's transport upgrades (its 101 response
		// body is the connection). fwd.apply dropped the fields.
		r.Header["Connection"], r.Header["Upgrade"] = hdrConnUpgrade, hdrUpgradeValue
		ctx, cancel := context.WithCancelCause(r.Context())
		timer := time.AfterFunc(time.Until(deadline), func() { cancel(errUpstreamTimeout) })
		if rl != nil {
			rl.sentAt = time.Now()
		}
		res, err = x.tr.RoundTrip(outboundRequest(ctx, r, x.scheme, target))
		timedOut := !timer.Stop()
		if err == nil && timedOut {
			res.Body.Close()
			err = errUpstreamTimeout
		}
		if err != nil {
			cancel(nil)
			st.End(false)
			if context.Cause(ctx) == errUpstreamTimeout {
				err = errUpstreamTimeout
				p.report(a, upstream.Timeout)
				return nil, nil, false, err
			}
			if r.Context().Err() == nil && isDialError(err) {
				p.connectFailed(a, err)
				return nil, nil, true, err
			}
			if r.Context().Err() == nil {
				p.report(a, upstream.Reset)
			}
			return nil, nil, false, err
		}
		// The session may outlive the request timeout: ctx ends with the
		// client's connection, or when the session does (finishUpgrade).
		x.cancel = cancel
		if res.StatusCode == http.StatusSwitchingProtocols {
			rwc, ok := res.Body.(io.ReadWriteCloser)
			if !ok {
				res.Body.Close()
				cancel(nil)
				st.End(false)
				p.report(a, upstream.Reset)
				return nil, nil, false, errBadUpgrade
			}
			return rwc, res, false, nil
		}
		return nil, res, false, nil
	}

	pool := p.h1up.Pool(p.targetNet(x.tg), target.Addr)
	c, err := p.h1up.Dial(r.Context(), pool, deadline)
	if err != nil {
		st.End(false)
		if r.Context().Err() != nil {
			return nil, nil, false, err
		}
		if !time.Now().Before(deadline) {
			p.dialed(x.tg, DialTimedOut)
			p.report(a, outTimeout)
			return nil, nil, false, errUpstreamTimeout
		}
		p.connectFailed(a, err)
		return nil, nil, true, err
	}
	p.dialed(x.tg, DialConnected)
	c.ExpectUpgrade()
	c.Begin(time.Now())
	if rl != nil {
		rl.sentAt = time.Now()
	}
	base := fwd.h1Extra()
	extra := make([]h1.ExtraField, 0, len(base)+2)
	extra = append(extra, base...)
	extra = append(extra, h1.ExtraField{Name: "Connection", Values: hdrConnUpgrade},
		h1.ExtraField{Name: "Upgrade", Values: hdrUpgradeValue})
	if _, err = c.RoundTrip(r, fwd.reqTarget, extra, deadline, 0); err != nil {
		st.End(false)
		c.Abort()
		if r.Context().Err() != nil {
			return nil, nil, false, err
		}
		if errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(deadline) {
			p.report(a, outTimeout)
			return nil, nil, false, errUpstreamTimeout
		}
		p.report(a, outReset)
		return nil, nil, false, err
	}
	res = c.Response()
	if res.StatusCode != http.StatusSwitchingProtocols {
		return nil, res, false, nil
	}
	uc, err := c.Upgraded()
	if err != nil {
		st.End(false)
		p.report(a, outReset)
		return nil, nil, false, err
	}
	return uc, res, false, nil
}

// finishUpgrade answers the client with the target's response: a non-101
// answer passes through as any response; a 101 that completes the
// handshake is answered 101 and spliced, one that does not is a protocol
// error (502).
func (p *Proxy) finishUpgrade(w http.ResponseWriter, x *exchange, a attempt, up io.ReadWriteCloser, res *http.Response) {
	r, rl := x.r, x.rl
	if x.cancel != nil {
		defer x.cancel(nil)
	}
	now := time.Now()
	a.st.Answered(now.UnixNano())
	if rl != nil {
		rl.headersAt = now
	}
	if up == nil {
		defer a.st.End(true)
		p.copyResponse(w, res, rl, a)
		return
	}
	if !acceptsUpgrade(r, res) {
		up.Close()
		a.st.End(false)
		p.report(a, upstream.Reset)
		if rl != nil {
			rl.e.FailureReason = accesslog.TargetProtocolError
		}
		refuse(w, r, rl, refTargetFailed, a.target.Addr, errBadUpgrade.Error())
		return
	}
	rh := w.Header()
	reqID := rh[hdrRequestID]
	conn := res.Header["Connection"]
	for k, v := range res.Header {
		if !dropField(k, conn, false) {
			rh[k] = v
		}
	}
	rh[hdrRequestID] = reqID
	rh["Connection"], rh["Upgrade"] = hdrConnUpgrade, hdrUpgradeValue
	client, err := h1.Upgrade(w)
	if err != nil {
		up.Close()
		a.st.End(true)
		if rl != nil {
			rl.e.FailureReason = accesslog.ClientConnectionClosed
		}
		return
	}
	p.report(a, upstream.Success)
	var t tunnel
	if rl != nil {
		rl.tunnel = &t
	}
	x.tunnel = &t
	err = t.splice(client, up, p.cfg.WebSocketIdleTimeout)
	a.st.End(true)
	if rl != nil {
		switch {
		case err == errTunnelIdle:
			rl.e.FailureReason = accesslog.TargetDataTimeout
		case err == errTunnelClientEnd:
			rl.e.FailureReason = accesslog.ClientConnectionClosed
		case err != nil:
			rl.e.FailureReason = accesslog.TargetConnectionClosed
		}
	}
}

// tunnel is a spliced session: what went each way and when the last byte
// did.
type tunnel struct {
	sent, received atomic.Int64 // to the client, from the client
	last           atomic.Int64 // Unix ns of the last byte either way

	mu     sync.Mutex
	closed bool
	ends   [2]io.Closer
}

// splice copies both ways until both directions ended (a direction that
// reads the end of its stream half-closes the other side when it can),
// either side fails, or nothing moved either way for idle. It closes both
// connections. The error is nil for a clean end, errTunnelIdle,
// errTunnelClientEnd (the client's side failed), or the target side's.
func (t *tunnel) splice(client *h1.UpgradedConn, target io.ReadWriteCloser, idle time.Duration) error {
	t.ends = [2]io.Closer{client, target}
	t.last.Store(time.Now().UnixNano())
	var idled atomic.Bool
	// The timer is armed only once the variable its function reads is
	// set.
	var timer *time.Timer
	timer = time.AfterFunc(math.MaxInt64, func() {
		rest := time.Until(time.Unix(0, t.last.Load()).Add(idle))
		if rest > 0 {
			timer.Reset(rest)
			return
		}
		idled.Store(true)
		t.close()
	})
	timer.Reset(idle)
	defer timer.Stop()

	done := make(chan error, 1)
	go func() {
		rerr, werr := t.pipe(target, client, &t.received)
		var err error
		switch {
		case rerr != nil:
			err = errTunnelClientEnd
		case werr != nil:
			err = werr
		}
		if err != nil {
			t.close() // ends the other direction
		}
		done <- err
	}()
	rerr, werr := t.pipe(client, target, &t.sent)
	var err error
	switch {
	case rerr != nil:
		err = rerr
	case werr != nil:
		err = errTunnelClientEnd
	}
	if err != nil {
		t.close() // ends the other direction
	}
	if err2 := <-done; err == nil {
		err = err2
	}
	t.close()
	if idled.Load() {
		return errTunnelIdle
	}
	return err
}

func (t *tunnel) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	for _, c := range t.ends {
		_ = c.Close()
	}
}

// pipe copies src to dst until src ends (then dst is half-closed when it
// can be) or fails; rerr and werr are the failures of each side.
func (t *tunnel) pipe(dst io.Writer, src io.Reader, n *atomic.Int64) (rerr, werr error) {
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	buf := *bufp
	for {
		k, err := src.Read(buf)
		if k > 0 {
			t.last.Store(time.Now().UnixNano())
			if _, werr = dst.Write(buf[:k]); werr != nil {
				return nil, werr
			}
			n.Add(int64(k))
			t.last.Store(time.Now().UnixNano())
		}
		if err == io.EOF {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}
