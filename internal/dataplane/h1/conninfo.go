package h1

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// ConnInfo is what the server knows of a request's connection, computed
// once per connection: the seam through which a handler learns who sent a
// request without reaching into the server.
type ConnInfo struct {
	// Peer is the client's address (an IPv4-mapped IPv6 address unmapped).
	Peer netip.AddrPort
	// PeerHeader is the client's IP as a one-value header (an
	// X-Forwarded-For value), shared read-only.
	PeerHeader []string
	// Local is the address the connection was accepted on.
	Local net.Addr
	// TLS is the state of a connection served over TLS (ServeConn with a
	// *tls.Conn), nil for cleartext. The request's r.TLS is the same.
	TLS *tls.ConnectionState
}

// ConnInfoOf returns the connection of a request this package's server
// serves (ctx is r.Context()), or nil for any other request (net/http's
// server, a request made in-process). It does not allocate.
func ConnInfoOf(ctx context.Context) *ConnInfo {
	if c, ok := ctx.(*connCtx); ok {
		return &c.info
	}
	if c, ok := ctx.(ConnContext); ok {
		return c.ConnInfo()
	}
	return nil
}

// ConnContext is what the request context of another server of a proxy
// (HTTP/2: internal/dataplane/h2) implements to offer a handler the seams
// of this package's requests (ConnInfoOf, OnGone, ClearGone): h1 knows
// nothing of that server, the server knows this interface.
type ConnContext interface {
	context.Context
	// ConnInfo returns the request's connection (never nil).
	ConnInfo() *ConnInfo
	// SetAbort installs *f to run once when the client goes away (or the
	// request is cancelled); false when it is gone already (f is not kept).
	SetAbort(f *func()) bool
	// ClearAbort removes *f; false when it ran or runs.
	ClearAbort(f *func()) bool
}

// Stats is what the response writer (ResponseStats) and the request body
// (BodyBytesRead) of another server implement for an access log.
type Stats interface {
	// ResponseStats returns the status written and the body bytes written.
	ResponseStats() (status int, written int64)
}

// BodyStats is what another server's request body implements for
// BodyBytesRead.
type BodyStats interface {
	// BodyBytesRead returns the body bytes read so far.
	BodyBytesRead() int64
}

// OnGone installs *f to run once the client of a request this server
// serves goes away (ctx is r.Context()), without allocating; until then a
// later OnGone replaces it. hooked is false when ctx is not such a
// request's (use context.AfterFunc); alive is false when the client is gone
// already (f is not kept and does not run).
func OnGone(ctx context.Context, f *func()) (hooked, alive bool) {
	c, ok := ctx.(*connCtx)
	if !ok {
		if o, ok := ctx.(ConnContext); ok {
			return true, o.SetAbort(f)
		}
		return false, true
	}
	return true, c.setAbort(f)
}

// ClearGone removes *f installed by OnGone; false when the client went
// away meanwhile (f ran or runs).
func ClearGone(ctx context.Context, f *func()) bool {
	c, ok := ctx.(*connCtx)
	if !ok {
		if o, ok := ctx.(ConnContext); ok {
			return o.ClearAbort(f)
		}
		return true
	}
	return c.clearAbort(f)
}

// ResponseStats returns the status written to w and the body bytes
// written, when w is this server's response writer (ok); for an access
// log.
func ResponseStats(w http.ResponseWriter) (status int, written int64, ok bool) {
	if r, ok := w.(*h1Response); ok {
		return r.status, r.written, true
	}
	if s, ok := w.(Stats); ok {
		status, written = s.ResponseStats()
		return status, written, true
	}
	return 0, 0, false
}

// BodyBytesRead returns the bytes of a request body read so far, when body
// is this server's request body (ok).
func BodyBytesRead(body io.Reader) (n int64, ok bool) {
	if b, ok := body.(*srvBody); ok {
		return b.read, true
	}
	if b, ok := body.(BodyStats); ok {
		return b.BodyBytesRead(), true
	}
	return 0, false
}

// aLongTimeAgo is a deadline that makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)
