package h2

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
)

func hpackField(name, value string) hpack.HeaderField {
	return hpack.HeaderField{Name: name, Value: value}
}

// onHeaders handles a HEADERS frame (with its CONTINUATION frames): a new
// stream, or the trailers of an open one.
func (c *conn) onHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol) // client streams are odd (§5.1.1)
	}
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		c.mu.Unlock()
		return c.onTrailers(st, f)
	}
	if id <= c.maxID {
		// Stream IDs only grow (§5.1.1): a HEADERS on a stream closed, or
		// below one opened.
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if c.goingAway {
		// After GOAWAY no new stream is processed (§6.8).
		c.mu.Unlock()
		return nil
	}
	c.maxID = id
	if f.HasPriority() && f.Priority.StreamDep == id {
		// A stream cannot depend on itself (RFC 9113 §5.3.1).
		c.out = appendRST(c.out, id, http2.ErrCodeProtocol)
		c.wakeLocked()
		c.mu.Unlock()
		return nil
	}
	if f.Truncated {
		// The header list exceeds SETTINGS_MAX_HEADER_LIST_SIZE: answered
		// 431, as net/http does (RFC 6585 §5).
		before := len(c.out)
		_ = c.enc.WriteField(hpackField(":status", "431"))
		c.appendHeaderBlockLocked(id, true)
		sent := len(c.out) - before
		if !f.StreamEnded() {
			c.out = appendRST(c.out, id, http2.ErrCodeNo)
		}
		c.mu.Unlock()
		if rej := c.srv.Rejected; rej != nil {
			rej(http.StatusRequestHeaderFieldsTooLarge, c.info.Peer, int64(sent))
		}
		return nil
	}
	if len(c.streams) >= MaxConcurrentStreams || c.handlers >= maxHandlers {
		// Beyond the limit advertised, or too many handlers still running
		// for streams already reset (rapid reset): refused, so the client
		// may retry it (§5.1.2, §8.7).
		c.out = appendRST(c.out, id, http2.ErrCodeRefusedStream)
		c.wakeLocked()
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()

	st := c.getStream(id)
	if err := c.buildRequest(st, f); err != nil {
		// Malformed (§8.1.1): a stream error of type PROTOCOL_ERROR.
		c.srv.log.Debug("http2: malformed request", "remote", c.remote, "err", err)
		st.reuse = true
		st.recycle()
		return c.queueControl(func(b []byte) []byte { return appendRST(b, id, http2.ErrCodeProtocol) })
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	st.sendWindow = c.initWindow
	st.recvWindow = streamWindow
	st.remoteDone = f.StreamEnded()
	c.streams[id] = st
	c.handlers++
	if c.deadlineSet {
		// Busy: neither the header timeout nor the idle one applies.
		c.deadlineSet = false
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	c.mu.Unlock()
	c.srv.run(st)
	return nil
}

// onTrailers handles a second HEADERS on an open stream: its trailers,
// which must end the stream and carry no pseudo-header (§8.1).
func (c *conn) onTrailers(st *stream, f *http2.MetaHeadersFrame) error {
	c.mu.Lock()
	if st.remoteDone {
		c.resetLocked(st, http2.ErrCodeStreamClosed) // half-closed (remote): §5.1
		c.mu.Unlock()
		return nil
	}
	if !f.StreamEnded() || len(f.PseudoFields()) > 0 || f.Truncated {
		c.resetLocked(st, http2.ErrCodeProtocol)
		c.mu.Unlock()
		return nil
	}
	st.remoteDone = true
	done := st.handlerDone
	if done {
		c.closeStreamLocked(st)
	}
	c.mu.Unlock()
	if st.body == nil || done {
		return nil
	}
	var t http.Header
	for _, hf := range f.RegularFields() {
		if connectionSpecific(hf.Name) {
			continue
		}
		k := c.canonical(hf.Name)
		switch k {
		case "Content-Length", "Trailer", "Host":
			continue // not in a trailer (RFC 9110 §6.5.1)
		}
		if t == nil {
			t = http.Header{}
		}
		t[k] = append(t[k], hf.Value)
	}
	st.body.setTrailer(t)
	if err := st.body.write(nil, true); err != nil {
		c.mu.Lock()
		c.resetLocked(st, http2.ErrCodeProtocol)
		c.mu.Unlock()
	}
	return nil
}

func connectionSpecific(name string) bool {
	switch name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

var (
	errPseudo   = errors.New("missing or invalid pseudo-header")
	errConnHdr  = errors.New("connection-specific header field")
	errTE       = errors.New("te other than trailers")
	errLengthHd = errors.New("invalid content-length")
	errHost     = errors.New("invalid authority")
	errMethod   = errors.New("invalid method")
)

// buildRequest makes st's request from its header list, as net/http's
// HTTP/2 server does (RFC 9113 §8.3.1), or says why it is malformed.
func (c *conn) buildRequest(st *stream, f *http2.MetaHeadersFrame) error {
	var method, scheme, path, authority string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":path":
			path = hf.Value
		case ":authority":
			authority = hf.Value
		default:
			return errPseudo // :protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL, :status
		}
	}
	if !h1.IsToken(method) {
		return errMethod
	}
	connect := method == http.MethodConnect
	if connect {
		if scheme != "" || path != "" || authority == "" {
			return errPseudo // §8.5
		}
	} else if scheme == "" || path == "" || (path[0] != '/' && !(path == "*" && method == http.MethodOptions)) {
		return errPseudo // §8.3.1
	}
	regular := f.RegularFields()
	h := make(http.Header, len(regular))
	vals := make([]string, len(regular))
	var (
		cookies   []string
		length    int64 = -1
		hasLength bool
	)
	for i, hf := range regular {
		name := hf.Name
		switch name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			return errConnHdr // §8.2.2
		case "te":
			if hf.Value != "trailers" {
				return errTE
			}
		case "content-length":
			n := h1.ParseLength(hf.Value)
			if n < 0 || hasLength && n != length {
				return errLengthHd
			}
			length, hasLength = n, true
		case "cookie":
			// Split cookie fields are joined again (§8.2.3).
			cookies = append(cookies, hf.Value)
			continue
		case "host":
			// RFC 9113 §8.3.1: a Host naming another entity than
			// :authority (or than an earlier Host) makes the request
			// malformed; the same name, in any case, is only redundant.
			// The service is found by one name and the target is sent
			// that one, so no second name may ride along unjudged.
			switch {
			case authority == "":
				authority = hf.Value
			case !strings.EqualFold(authority, hf.Value):
				return errHost
			}
			continue
		}
		k := c.canonical(name)
		if vv := h[k]; vv != nil {
			h[k] = append(vv, hf.Value)
			continue
		}
		vals[i] = hf.Value
		h[k] = vals[i : i+1 : i+1]
	}
	if len(cookies) > 0 {
		h["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	if !h1.ValidHost(authority) {
		return errHost
	}

	r := &st.reqv
	r.Method = method
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.Header = h
	r.Host = authority
	r.RemoteAddr = c.remote
	r.TLS = c.info.TLS
	if connect {
		st.url = url.URL{Host: authority}
		r.RequestURI = authority
	} else {
		if err := parseTarget(&st.url, path); err != nil {
			return err
		}
		r.RequestURI = path
	}
	r.URL = &st.url
	if f.StreamEnded() {
		if hasLength && length != 0 {
			return errLengthHd // §8.1.1: content-length and DATA differ
		}
		r.Body, r.ContentLength = http.NoBody, 0
		st.reuse = true
	} else {
		st.body = newBody(st, length)
		r.Body, r.ContentLength = st.body, length
		if tv, ok := h["Trailer"]; ok {
			// Moved to r.Trailer, as net/http's HTTP/2 server does.
			r.Trailer = h1.DeclaredTrailers(tv)
			delete(h, "Trailer")
		}
	}
	return nil
}

// parseTarget parses an origin-form :path into u: cheaply when it needs
// no unescaping (as h1 does), else with net/url.
func parseTarget(u *url.URL, target string) error {
	simple := true
	for i := 0; i < len(target); i++ {
		ch := target[i]
		if ch <= ' ' || ch == 0x7f {
			return errPseudo
		}
		if ch == '%' || ch == '#' {
			simple = false
		}
	}
	if simple || target == "*" {
		path, query, hasQuery := strings.Cut(target, "?")
		*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
		return nil
	}
	p, err := url.ParseRequestURI(target)
	if err != nil {
		return errPseudo
	}
	*u = *p
	return nil
}

// canonical returns the canonical form of a lower-case field name, without
// allocating for the common ones and those seen on this connection.
func (c *conn) canonical(name string) string {
	if k, ok := commonCanonical[name]; ok {
		return k
	}
	if k, ok := c.canon[name]; ok {
		return k
	}
	k := http.CanonicalHeaderKey(name)
	if c.canon == nil {
		c.canon = map[string]string{}
	}
	if len(c.canon) < 128 {
		c.canon[name] = k
	}
	return k
}

// The common field names both ways.
var commonCanonical, commonLower = func() (map[string]string, map[string]string) {
	names := []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges", "Access-Control-Allow-Credentials",
		"Access-Control-Allow-Headers", "Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Max-Age", "Access-Control-Request-Headers", "Access-Control-Request-Method", "Age", "Allow", "Authorization",
		"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length", "Content-Location",
		"Content-Range", "Content-Type", "Cookie", "Date", "Etag", "Expect", "Expires", "Forwarded", "From", "Host", "If-Match",
		"If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Last-Modified", "Link", "Location", "Max-Forwards",
		"Origin", "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Range", "Referer", "Refresh", "Retry-After", "Server",
		"Set-Cookie", "Strict-Transport-Security", "Te", "Trailer", "User-Agent", "Vary", "Via", "Www-Authenticate",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Request-Id", "X-Amz-Date",
		"X-Amz-Content-Sha256", "X-Amz-Security-Token", "X-Amzn-Requestid", "Traceparent", "Tracestate",
		"Grpc-Status", "Grpc-Message", "Grpc-Encoding", "Grpc-Accept-Encoding", "Grpc-Timeout", "Grpc-Status-Details-Bin",
		"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Keep-Alive", "Connection", "Upgrade",
	}
	canon := make(map[string]string, len(names))
	lower := make(map[string]string, len(names))
	for _, n := range names {
		l := strings.ToLower(n)
		canon[l] = n
		lower[n] = l
	}
	return canon, lower
}()
