package h2

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
)

// writer is the connection's one writer: it writes whatever frames
// accumulated in the output buffer in one write, so the answers of the
// streams that end together leave in one syscall (net/http's server writes
// from a goroutine per frame batch and flushes per stream).
func (c *conn) writer() {
	defer close(c.writerDone)
	for range c.wake {
		// Let the handlers that are ready to run add their frames first:
		// one write for all of them instead of one each.
		runtime.Gosched()
		c.mu.Lock()
		for {
			c.wakeQueued = false
			if len(c.out) == 0 || c.writeErr != nil {
				done := c.closing && (len(c.out) == 0 || c.writeErr != nil)
				c.cond.Broadcast()
				c.mu.Unlock()
				if done {
					return
				}
				break
			}
			buf := c.out
			c.out, c.spare = c.spare[:0], nil
			c.writing = true
			now := time.Now()
			var err error
			if st := c.srv.sendTimeout; c.wdeadline.Sub(now) < st-st/60 {
				// A coarse deadline: one change per second at most.
				c.wdeadline = now.Add(st)
				err = c.nc.SetWriteDeadline(c.wdeadline)
			}
			c.mu.Unlock()
			if err == nil {
				_, err = c.nc.Write(buf)
			}
			c.mu.Lock()
			c.writing = false
			if cap(buf) <= 2*maxOutBuffered {
				c.spare = buf[:0]
			}
			if err != nil {
				c.writeErr = err
				c.closing = true
				c.cond.Broadcast()
				c.mu.Unlock()
				_ = c.nc.Close() // the reader ends, and with it the streams
				return
			}
			c.cond.Broadcast()
		}
	}
}

// wakeLocked tells the writer there is something to write.
func (c *conn) wakeLocked() {
	if !c.wakeQueued {
		c.wakeQueued = true
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// flushAndWait waits until what is queued is written, for at most d.
func (c *conn) flushAndWait(d time.Duration) {
	c.mu.Lock()
	c.wdeadline = time.Now().Add(d)
	_ = c.nc.SetWriteDeadline(c.wdeadline)
	c.wakeLocked()
	t := time.AfterFunc(d, func() {
		c.mu.Lock()
		c.writeErr = errFlushTimeout
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	for (len(c.out) > 0 || c.writing) && c.writeErr == nil {
		c.cond.Wait()
	}
	c.mu.Unlock()
	t.Stop()
}

// Frame encoding (RFC 9113 §4.1): a 9-byte header, then the payload.

func appendFrameHeader(b []byte, length int, typ http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), byte(typ), byte(flags),
		byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id))
}

func appendSettings(b []byte, settings ...http2.Setting) []byte {
	b = appendFrameHeader(b, 6*len(settings), http2.FrameSettings, 0, 0)
	for _, s := range settings {
		b = append(b, byte(s.ID>>8), byte(s.ID), byte(s.Val>>24), byte(s.Val>>16), byte(s.Val>>8), byte(s.Val))
	}
	return b
}

func appendWindowUpdate(b []byte, id, inc uint32) []byte {
	b = appendFrameHeader(b, 4, http2.FrameWindowUpdate, 0, id)
	return append(b, byte(inc>>24)&0x7f, byte(inc>>16), byte(inc>>8), byte(inc))
}

func appendRST(b []byte, id uint32, code http2.ErrCode) []byte {
	b = appendFrameHeader(b, 4, http2.FrameRSTStream, 0, id)
	return append(b, byte(code>>24), byte(code>>16), byte(code>>8), byte(code))
}

// appendHeaderBlockLocked frames the header block encoded in c.hb as one
// HEADERS frame and as many CONTINUATION frames as the client's maximum
// frame size needs (§6.10).
func (c *conn) appendHeaderBlockLocked(id uint32, end bool) {
	blk := c.hb.b
	typ := http2.FrameHeaders
	for {
		n := min(len(blk), c.maxFrame)
		var flags http2.Flags
		if typ == http2.FrameHeaders && end {
			flags |= http2.FlagHeadersEndStream
		}
		if n == len(blk) {
			flags |= http2.FlagHeadersEndHeaders
		}
		c.out = appendFrameHeader(c.out, n, typ, flags, id)
		c.out = append(c.out, blk[:n]...)
		blk = blk[n:]
		if len(blk) == 0 {
			break
		}
		typ = http2.FrameContinuation
	}
	c.hb.b = c.hb.b[:0]
	c.wakeLocked()
}

// encodeField adds one field to the header block being encoded; name is
// a canonical (or any-case) header name, lower-cased on the way (§8.2.1).
// A value's control bytes (CR, LF, NUL among them) become spaces, so one
// field is never read as two (as h1 does).
func (c *conn) encodeField(name, value string) {
	if !validFieldValue(value) {
		b := []byte(value)
		for i, ch := range b {
			if (ch < 0x20 && ch != '\t') || ch == 0x7f {
				b[i] = ' '
			}
		}
		value = string(b)
	}
	_ = c.enc.WriteField(hpack.HeaderField{Name: c.lowerLocked(name), Value: value})
}

func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if ch := v[i]; (ch < 0x20 && ch != '\t') || ch == 0x7f {
			return false
		}
	}
	return true
}

// lowerLocked returns name in lower case without allocating for the
// common names and those seen on this connection before.
func (c *conn) lowerLocked(name string) string {
	if l, ok := commonLower[name]; ok {
		return l
	}
	if l, ok := c.lower[name]; ok {
		return l
	}
	l := strings.ToLower(name)
	if c.lower == nil {
		c.lower = map[string]string{}
	}
	if len(c.lower) < 128 {
		c.lower[name] = l
	}
	return l
}

// skipResponseField reports the fields of a handler's header that never
// go on the wire: connection-specific ones (§8.2.2), trailers announced
// the net/http way (http.TrailerPrefix), names that are no tokens.
func skipResponseField(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade":
		return true
	}
	return strings.HasPrefix(k, http.TrailerPrefix) || !h1.IsToken(k)
}

// encodeResponseHeaderLocked encodes the response header of st: :status,
// the handler's fields, a date when it set none, and length, when the
// server knows it (clen >= 0 and the handler set none).
func (c *conn) encodeResponseHeaderLocked(st *stream, code int, clen int) {
	_ = c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: statusValue(code)})
	h := st.hdr
	dropLength := code == http.StatusNoContent
	for k, vs := range h {
		if skipResponseField(k) {
			continue
		}
		if k == "Content-Length" && dropLength {
			continue
		}
		if st.trailerDecl != "" && declared(st.trailerDecl, k) {
			continue // sent as a trailer
		}
		for _, v := range vs {
			c.encodeField(k, v)
		}
	}
	if _, ok := h["Date"]; !ok {
		_ = c.enc.WriteField(hpack.HeaderField{Name: "date", Value: h1.HTTPDate()})
	}
	if clen >= 0 {
		if _, ok := h["Content-Length"]; !ok {
			_ = c.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(clen)})
		}
	}
}

// declared reports whether canonical name k is in the comma-separated
// list of trailer names decl.
func declared(decl, k string) bool {
	for decl != "" {
		var name string
		name, decl, _ = strings.Cut(decl, ",")
		if strings.EqualFold(strings.TrimSpace(name), k) {
			return true
		}
	}
	return false
}

var statusValues = func() (t [1000]string) {
	for i := 100; i < 1000; i++ {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func statusValue(code int) string {
	if code >= 100 && code < 1000 {
		return statusValues[code]
	}
	return strconv.Itoa(code)
}
