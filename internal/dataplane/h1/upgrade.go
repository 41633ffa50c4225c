package h1

// Upgrade: the seam through which a handler takes over a connection after
// answering 101 Switching Protocols (a WebSocket, RFC 6455 §4), on both
// sides of a proxy: Upgrade on the server's response writer, and
// Conn.ExpectUpgrade and Conn.Upgraded on the client.
//
// The server's contract is narrower than net/http's Hijack, on purpose:
// the connection is the handler's only until the handler returns (the
// server then closes it), and the server keeps tracking it meanwhile as a
// busy connection, so that Shutdown waits for it like for any request in
// flight and Close ends it. A proxy draining with a deadline (Shutdown,
// then Close when the deadline passes) thus ends its upgraded sessions at
// the deadline without knowing about them.

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// ErrNotUpgradable is Upgrade's answer for a writer whose connection
// cannot be taken over: not this server's, an HTTP/1.0 request, one with a
// body, or a response already begun.
var ErrNotUpgradable = errors.New("h1: the connection cannot be upgraded")

// responseOf finds this server's writer under w, through the Unwrap
// methods of wrappers (as http.ResponseController does), or nil.
func responseOf(w http.ResponseWriter) *h1Response {
	for {
		switch x := w.(type) {
		case *h1Response:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// CanUpgrade reports whether Upgrade would take over w's connection: w is
// (or wraps) this server's writer of an HTTP/1.1 request without a body,
// whose response has not begun.
func CanUpgrade(w http.ResponseWriter) bool {
	res := responseOf(w)
	return res != nil && res.upgradable()
}

func (w *h1Response) upgradable() bool {
	return !w.committed && w.status == 0 && !w.http10 && w.req.Body == http.NoBody && w.err == nil
}

// Upgrade answers the request with "101 Switching Protocols" and the
// fields of w.Header() (Connection and Upgrade included, which a handler
// must set; Content-Length, Transfer-Encoding, Trailer and Keep-Alive are
// not written), flushes it and hands over the connection: its reads
// return first the bytes the client sent after the request head (never
// parsed as another request), it has no deadline, and no watchdog reads
// from it. It is the caller's until the handler returns; the server closes
// it then, and its Close (not Shutdown) closes it earlier. The response
// counts as written: nothing else can be written through w.
func Upgrade(w http.ResponseWriter) (*UpgradedConn, error) {
	res := responseOf(w)
	if res == nil || !res.upgradable() {
		return nil, ErrNotUpgradable
	}
	c := res.c
	// No more client-gone watching: the handler reads the connection from
	// now on. A byte the background read took is kept (connReader).
	c.stopWatch()
	res.status, res.committed, res.closeAfter = http.StatusSwitchingProtocols, true, true
	bw := c.bw
	bw.WriteString(statusLine(false, http.StatusSwitchingProtocols))
	for k, vs := range res.header {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Keep-Alive":
			continue
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || !IsToken(k) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		res.err = err
		return nil, err
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		res.err = err
		return nil, err
	}
	c.deadline, c.wdeadline = time.Time{}, time.Time{}
	return &UpgradedConn{Conn: c.nc, br: c.br}, nil
}

// UpgradedConn is a connection taken over after a 101: reads drain what
// was buffered first. CloseWrite half-closes it when the connection can
// (TCP, TLS).
type UpgradedConn struct {
	net.Conn
	br *bufio.Reader
}

func (u *UpgradedConn) Read(p []byte) (int, error) {
	if u.br != nil {
		if u.br.Buffered() > 0 {
			return u.br.Read(p)
		}
		u.br = nil // from now on straight from the socket
	}
	return u.Conn.Read(p)
}

// Buffered is the number of bytes read from the socket that Read returns
// before reading it again.
func (u *UpgradedConn) Buffered() int {
	if u.br == nil {
		return 0
	}
	return u.br.Buffered()
}

// CloseWrite shuts the sending side (a TCP FIN, a TLS close_notify) so
// that the peer reads the end of the stream while it may still send.
func (u *UpgradedConn) CloseWrite() error {
	nc := u.Conn
	if uc, ok := nc.(*upConn); ok {
		nc = uc.Conn
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ExpectUpgrade marks c's next exchange as an upgrade request: a 101
// answer ends RoundTrip successfully (instead of ErrSwitchingProtocols),
// and c never returns to its pool, whatever the answer (the target may
// have changed how it reads the connection).
func (c *Conn) ExpectUpgrade() { c.upgrade = true }

// Upgraded hands over c after a 101 answer to an upgrade request
// (ExpectUpgrade): reads drain the bytes the target sent after its
// response head first; there is no deadline and no client-gone hook any
// more. The caller closes the connection; c must not be used again.
func (c *Conn) Upgraded() (*UpgradedConn, error) {
	if !c.upgrade || c.res == nil || c.res.StatusCode != http.StatusSwitchingProtocols {
		return nil, ErrNotUpgradable
	}
	c.unhook()
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		c.close()
		return nil, err
	}
	u := &UpgradedConn{Conn: c.nc, br: c.br}
	// The reader now belongs to u: it is not pooled again.
	c.br, c.res = nil, nil
	if c.bw != nil {
		c.bw.Reset(nil)
		h1WriterPool.Put(c.bw)
		c.bw = nil
	}
	return u, nil
}
