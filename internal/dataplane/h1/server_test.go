package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// startH1 serves h with the HTTP/1.x server on a loopback port.
func startH1(t testing.TB, h http.HandlerFunc) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(h, testLogger(t), NewWatchdog())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		s.Close()
		<-served
	})
	return s, ln.Addr().String()
}

// rawConn is a client connection that writes raw bytes and reads
// responses.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// response reads one response to a request with method.
func (r *rawConn) response(method string) (*http.Response, string) {
	r.t.Helper()
	res, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		r.t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatalf("reading the body: %v", err)
	}
	res.Body.Close()
	return res, string(b)
}

// closed reports whether the server closed the connection.
func (r *rawConn) closed() bool {
	_ = r.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := r.br.ReadByte()
	return err == io.EOF || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Host", r.Host)
	w.Header().Set("X-Path", r.URL.Path)
	w.Header().Set("X-Query", r.URL.RawQuery)
	io.WriteString(w, string(b))
}

func TestH1ServerRejects(t *testing.T) {
	_, addr := startH1(t, echoHandler)
	big := strings.Repeat("a", 70<<10)
	for _, tc := range []struct {
		name, req string
		code      int
	}{
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"bad CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400},
		{"negative CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
		{"two CLs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
		{"CTL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n", 400},
		{"bad name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\njunk\r\n\r\n", 400},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
		{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
		{"HTTP/2.0 not a preface", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"not HTTP", "GET / FOO\r\nHost: a\r\n\r\n", 400},
		{"bad method", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"short line", "GET /\r\nHost: a\r\n\r\n", 400},
		{"CTL in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"bad target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"header too large", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + big + "\r\n\r\n", 431},
		{"expectation", "POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", 417},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(tc.req)
			res, body := c.response("GET")
			if res.StatusCode != tc.code {
				t.Fatalf("status %d, want %d (%q)", res.StatusCode, tc.code, body)
			}
			if res.Header.Get("X-Method") != "" {
				t.Fatal("the handler ran")
			}
			if !c.closed() {
				t.Fatal("connection left open after a rejected request")
			}
		})
	}
}

func TestH1ServerParses(t *testing.T) {
	var got atomic.Pointer[http.Request]
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		got.Store(r)
		echoHandler(w, r)
	})
	c := dialRaw(t, addr)
	// Leading empty lines, lower-case names, repeated fields, OWS.
	c.send("\r\nGET /a/b?x=1&y=2 HTTP/1.1\r\nhost: Svc.Example.com:80\r\nx-multi-word-name:  v1 \r\nX-Rep: 1\r\nx-rep: 2\r\n\r\n")
	res, _ := c.response("GET")
	r := got.Load()
	if res.StatusCode != 200 || r.Host != "Svc.Example.com:80" || r.URL.Path != "/a/b" || r.URL.RawQuery != "x=1&y=2" || r.RequestURI != "/a/b?x=1&y=2" {
		t.Fatalf("%d host %q path %q query %q uri %q", res.StatusCode, r.Host, r.URL.Path, r.URL.RawQuery, r.RequestURI)
	}
	if v := r.Header["X-Multi-Word-Name"]; len(v) != 1 || v[0] != "v1" {
		t.Fatalf("X-Multi-Word-Name: %q", v)
	}
	if v := r.Header["X-Rep"]; len(v) != 2 || v[0] != "1" || v[1] != "2" {
		t.Fatalf("X-Rep: %q", v)
	}
	if _, ok := r.Header["Host"]; ok {
		t.Fatal("Host left in the header map")
	}
	if r.Proto != "HTTP/1.1" || r.ProtoMinor != 1 || r.RemoteAddr != c.c.LocalAddr().String() || r.ContentLength != 0 || r.Body != http.NoBody {
		t.Fatalf("proto %q remote %q (want %q) length %d", r.Proto, r.RemoteAddr, c.c.LocalAddr(), r.ContentLength)
	}

	// Escaped path, absolute form (its host wins), OPTIONS *.
	c.send("GET /a%2Fb%20c HTTP/1.1\r\nHost: x\r\n\r\n")
	c.response("GET")
	if r := got.Load(); r.URL.Path != "/a/b c" || r.URL.RawPath != "/a%2Fb%20c" {
		t.Fatalf("path %q raw %q", r.URL.Path, r.URL.RawPath)
	}
	c.send("GET http://other.example/p?q HTTP/1.1\r\nHost: x\r\n\r\n")
	c.response("GET")
	if r := got.Load(); r.Host != "other.example" || r.URL.Path != "/p" || r.URL.RawQuery != "q" {
		t.Fatalf("absolute form: host %q path %q", r.Host, r.URL.Path)
	}
	c.send("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, _ := c.response("OPTIONS"); res.StatusCode != 200 || got.Load().URL.Path != "*" {
		t.Fatalf("OPTIONS *: %d %q", res.StatusCode, got.Load().URL.Path)
	}
	if c.closed() {
		t.Fatal("keep-alive connection closed")
	}
}

// A head that arrives in pieces, and one larger than the read buffer.
func TestH1ServerSplitAndLargeHeads(t *testing.T) {
	_, addr := startH1(t, echoHandler)
	c := dialRaw(t, addr)
	req := "GET /split HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n"
	for i := 0; i < len(req); i++ {
		c.send(req[i : i+1])
		time.Sleep(time.Millisecond)
	}
	if res, _ := c.response("GET"); res.StatusCode != 200 || res.Header.Get("X-Path") != "/split" {
		t.Fatalf("split head: %d %q", res.StatusCode, res.Header.Get("X-Path"))
	}
	long := strings.Repeat("v", 20<<10)
	c.send("GET /large HTTP/1.1\r\nHost: a\r\nX-Long: " + long + "\r\nX-Long2: " + long + "\r\n\r\n")
	if res, _ := c.response("GET"); res.StatusCode != 200 || res.Header.Get("X-Path") != "/large" {
		t.Fatalf("large head: %d", res.StatusCode)
	}
}

func TestH1ServerPipelining(t *testing.T) {
	_, addr := startH1(t, echoHandler)
	c := dialRaw(t, addr)
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbodyGET /3 HTTP/1.1\r\nHost: a\r\n\r\n")
	for i, want := range []string{"/1", "/2", "/3"} {
		res, body := c.response("GET")
		if res.Header.Get("X-Path") != want {
			t.Fatalf("response %d for %q, want %q", i, res.Header.Get("X-Path"), want)
		}
		if want == "/2" && body != "body" {
			t.Fatalf("body %q", body)
		}
	}
}

// A request pipelined behind a slow one: the watchdog's background read
// takes its first byte, which must come back in order.
func TestH1ServerPipelinedBehindSlow(t *testing.T) {
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(400 * time.Millisecond) // several watchdog ticks
		}
		echoHandler(w, r)
	})
	c := dialRaw(t, addr)
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(250 * time.Millisecond) // the watchdog is reading by now
	c.send("GET /next?k=v HTTP/1.1\r\nHost: a\r\n\r\n")
	if res, _ := c.response("GET"); res.Header.Get("X-Path") != "/slow" {
		t.Fatalf("first: %q", res.Header.Get("X-Path"))
	}
	if res, _ := c.response("GET"); res.Header.Get("X-Path") != "/next" || res.Header.Get("X-Query") != "k=v" {
		t.Fatalf("second: %d %q %q", res.StatusCode, res.Header.Get("X-Path"), res.Header.Get("X-Query"))
	}
}

func TestH1ServerClientGone(t *testing.T) {
	gone := make(chan struct{})
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			if r.Context().Err() == nil {
				t.Error("Done but no Err")
			}
			close(gone)
		case <-time.After(10 * time.Second):
		}
	})
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	c.c.Close()
	select {
	case <-gone:
	case <-time.After(3 * time.Second):
		t.Fatal("the request's context was not cancelled when the client left")
	}
}

// A fast request's context is not cancelled, and context.WithCancel and
// AfterFunc work on it.
func TestH1ServerContext(t *testing.T) {
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		ran := make(chan struct{})
		stop := context.AfterFunc(ctx, func() { close(ran) })
		cancel()
		select {
		case <-ran:
		case <-time.After(time.Second):
			t.Error("AfterFunc on a derived context did not run")
		}
		stop()
		if r.Context().Err() != nil {
			t.Error("request context cancelled with the client still there")
		}
		io.WriteString(w, "ok")
	})
	c := dialRaw(t, addr)
	for range 3 {
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if _, body := c.response("GET"); body != "ok" {
			t.Fatal(body)
		}
	}
}

func TestH1ServerChunkedRequest(t *testing.T) {
	var trailer atomic.Value
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // the malformed body below
		}
		if r.ContentLength != -1 || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			t.Errorf("length %d TE %q", r.ContentLength, r.TransferEncoding)
		}
		if _, ok := r.Header["Transfer-Encoding"]; ok {
			t.Error("Transfer-Encoding left in the header map")
		}
		trailer.Store(r.Trailer.Clone())
		io.WriteString(w, string(b))
	})
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n")
	if _, body := c.response("POST"); body != "hello world" {
		t.Fatalf("body %q", body)
	}
	if tr := trailer.Load().(http.Header); tr.Get("X-Sum") != "42" {
		t.Fatalf("trailer %v", tr)
	}
	// No trailers, and the connection carries on.
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, body := c.response("POST"); body != "abc" {
		t.Fatalf("body %q", body)
	}
	if res, _ := c.response("GET"); res.StatusCode != 200 {
		t.Fatal(res.Status)
	}
	// A broken chunk size: the body read fails, the connection closes.
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
	c.response("POST")
	if !c.closed() {
		t.Fatal("connection open after a malformed chunked body")
	}
}

func TestH1ServerExpectContinue(t *testing.T) {
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		if _, ok := r.Header["Expect"]; ok {
			t.Error("Expect passed to the handler")
		}
		echoHandler(w, r)
	})
	c := dialRaw(t, addr)
	c.send("POST /read HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("%q %v", line, err)
	}
	if l, _ := c.br.ReadString('\n'); l != "\r\n" {
		t.Fatalf("%q", l)
	}
	c.send("data")
	if res, body := c.response("POST"); res.StatusCode != 200 || body != "data" {
		t.Fatalf("%d %q", res.StatusCode, body)
	}
	// Answered without reading: no 100 Continue, and the connection closes
	// (the client may or may not send the body).
	c.send("POST /reject HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	res, _ := c.response("POST")
	if res.StatusCode != 413 || !res.Close {
		t.Fatalf("%d close=%v", res.StatusCode, res.Close)
	}
}

func TestH1ServerUnreadBody(t *testing.T) {
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored") })
	c := dialRaw(t, addr)
	// A small unread body is skipped: the connection carries on.
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
	if res, _ := c.response("POST"); res.Close {
		t.Fatal("closed after a small unread body")
	}
	if res, body := c.response("GET"); res.StatusCode != 200 || body != "ignored" {
		t.Fatalf("%d %q", res.StatusCode, body)
	}
	// A large one closes the connection.
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n")
	if res, _ := c.response("POST"); !res.Close {
		t.Fatal("large unread body: connection not closed")
	}
}

func TestH1ServerResponseFraming(t *testing.T) {
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/length":
			h.Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/chunked":
			io.WriteString(w, "hel")
			w.(http.Flusher).Flush()
			io.WriteString(w, "lo")
		case "/empty":
			w.WriteHeader(http.StatusAccepted)
		case "/204":
			h.Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
				t.Errorf("write after 204: %v", err)
			}
		case "/head":
			h.Set("Content-Length", "100")
			io.WriteString(w, "ignored")
		case "/trailers":
			h.Set("Trailer", "X-Checksum")
			io.WriteString(w, "data")
			h.Set("X-Checksum", "abc")
			h.Set(http.TrailerPrefix+"X-Late", "late")
		case "/early-hints":
			h.Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "after hints")
		case "/injection":
			h.Set("X-Evil", "a\r\nSet-Cookie: x=1")
			io.WriteString(w, "ok")
		case "/short":
			h.Set("Content-Length", "10")
			io.WriteString(w, "short")
		case "/long":
			h.Set("Content-Length", "2")
			if _, err := io.WriteString(w, "toolong"); err != http.ErrContentLength {
				t.Errorf("overlong write: %v", err)
			}
		}
	})
	c := dialRaw(t, addr)
	get := func(method, path string) (*http.Response, string) {
		c.send(method + " " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		return c.response(method)
	}
	if res, body := get("GET", "/length"); res.ContentLength != 5 || body != "hello" || res.TransferEncoding != nil {
		t.Fatalf("/length: %d %q %v", res.ContentLength, body, res.TransferEncoding)
	}
	if res, body := get("GET", "/chunked"); res.ContentLength != -1 || body != "hello" || len(res.TransferEncoding) != 1 {
		t.Fatalf("/chunked: %d %q %v", res.ContentLength, body, res.TransferEncoding)
	}
	if res, body := get("GET", "/empty"); res.StatusCode != 202 || res.ContentLength != 0 || body != "" || res.Header.Get("Date") == "" {
		t.Fatalf("/empty: %d %d %q date %q", res.StatusCode, res.ContentLength, body, res.Header.Get("Date"))
	}
	if res, _ := get("GET", "/204"); res.StatusCode != 204 || res.Header.Get("Content-Length") != "" {
		t.Fatalf("/204: %d %q", res.StatusCode, res.Header.Get("Content-Length"))
	}
	if res, body := get("HEAD", "/head"); res.ContentLength != 100 || body != "" {
		t.Fatalf("HEAD: %d %q", res.ContentLength, body)
	}
	if res, body := get("GET", "/trailers"); body != "data" || res.Trailer.Get("X-Checksum") != "abc" || res.Trailer.Get("X-Late") != "late" {
		t.Fatalf("/trailers: %q %v", body, res.Trailer)
	}
	c.send("GET /early-hints HTTP/1.1\r\nHost: a\r\n\r\n")
	if l, _ := c.br.ReadString('\n'); l != "HTTP/1.1 103 Early Hints\r\n" {
		t.Fatalf("early hints: %q", l)
	}
	if l, _ := c.br.ReadString('\n'); l != "Link: </style.css>; rel=preload\r\n" {
		t.Fatalf("early hints field: %q", l)
	}
	if l, _ := c.br.ReadString('\n'); l != "\r\n" {
		t.Fatalf("end of early hints: %q", l)
	}
	if res, body := c.response("GET"); res.StatusCode != 200 || body != "after hints" {
		t.Fatalf("after 103: %d %q", res.StatusCode, body)
	}
	if res, _ := get("GET", "/injection"); res.Header.Get("Set-Cookie") != "" || res.Header.Get("X-Evil") != "a  Set-Cookie: x=1" {
		t.Fatalf("header injection: %q / %q", res.Header.Get("X-Evil"), res.Header.Get("Set-Cookie"))
	}
	if res, _ := get("GET", "/long"); res.StatusCode != 200 {
		t.Fatal(res.Status)
	}
	// A response cut short closes the connection: the client sees the
	// truncation.
	c.send("GET /short HTTP/1.1\r\nHost: a\r\n\r\n")
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(res.Body); err != io.ErrUnexpectedEOF {
		t.Fatalf("short body read: %v", err)
	}
}

func TestH1ServerHTTP10(t *testing.T) {
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/unknown-length" {
			io.WriteString(w, "streamed")
			return
		}
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	})
	// Without keep-alive: answered in HTTP/1.0, then closed.
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.0\r\n\r\n")
	line, _ := c.br.ReadString('\n')
	if line != "HTTP/1.0 200 OK\r\n" {
		t.Fatalf("status line %q", line)
	}
	if !strings.Contains(readAll(c), "ok") {
		t.Fatal("no body")
	}
	// With keep-alive: kept.
	c = dialRaw(t, addr)
	c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	res, body := c.response("GET")
	if body != "ok" || res.Close || res.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("%q close=%v %q", body, res.Close, res.Header.Get("Connection"))
	}
	// Unknown length: delimited by the close, never chunked.
	c.send("GET /unknown-length HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if res, body := c.response("GET"); body != "streamed" || !res.Close || res.TransferEncoding != nil {
		t.Fatalf("%q close=%v te=%v", body, res.Close, res.TransferEncoding)
	}
}

func readAll(c *rawConn) string {
	b, _ := io.ReadAll(c.br)
	return string(b)
}

func TestH1ServerPanics(t *testing.T) {
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/bug":
			panic("a bug")
		}
		io.WriteString(w, "fine")
	})
	for _, p := range []string{"/abort", "/bug"} {
		c := dialRaw(t, addr)
		c.send("GET " + p + " HTTP/1.1\r\nHost: a\r\n\r\n")
		res, err := http.ReadResponse(c.br, nil)
		if err == nil {
			_, err = io.ReadAll(res.Body)
		}
		if err == nil {
			t.Fatalf("%s: a complete response after a panic", p)
		}
	}
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, body := c.response("GET"); body != "fine" {
		t.Fatal(body)
	}
}

func TestH1ServerShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	})
	idle := dialRaw(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	idle.response("GET")
	busy := dialRaw(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if !idle.closed() {
		t.Fatal("idle connection not closed by Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	res, body := busy.response("GET")
	if body != "done" || !res.Close {
		t.Fatalf("in-flight request: %q close=%v", body, res.Close)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// FuzzH1Request feeds arbitrary bytes to the request parser. It must not
// panic; what it accepts must be well formed, and agree with net/http's
// parser wherever that one accepts too.
func FuzzH1Request(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p?q=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET http://x/y HTTP/1.0\r\nX-A: b\r\n\r\n",
		"GET /%41 HTTP/1.1\r\nhost: B\r\nx-y:  z \r\nX-Y: w\r\n\r\n",
		"\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := &srvConn{srv: &Server{maxHeaderBytes: 64 << 10, watch: NewWatchdog()}, nc: a, remote: "127.0.0.1:1"}
		c.br = bufio.NewReaderSize(bytes.NewReader(data), srvBufSize)
		req, _, err := c.readRequest(true)
		if err != nil {
			return
		}
		if !IsToken(req.Method) || !ValidHost(req.Host) || req.ContentLength < -1 {
			t.Fatalf("accepted a malformed request: %q host %q length %d", req.Method, req.Host, req.ContentLength)
		}
		for k := range req.Header {
			if k != http.CanonicalHeaderKey(k) || k == "Host" {
				t.Fatalf("header key %q", k)
			}
		}
		std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if std.Method != req.Method || std.RequestURI != req.RequestURI || std.Host != req.Host ||
			std.URL.Path != req.URL.Path || std.URL.RawQuery != req.URL.RawQuery || std.ContentLength != req.ContentLength {
			t.Fatalf("disagrees with net/http:\nours %q %q host %q path %q query %q length %d\nstd  %q %q host %q path %q query %q length %d",
				req.Method, req.RequestURI, req.Host, req.URL.Path, req.URL.RawQuery, req.ContentLength,
				std.Method, std.RequestURI, std.Host, std.URL.Path, std.URL.RawQuery, std.ContentLength)
		}
		for k, v := range req.Header {
			if sv := std.Header[k]; strings.Join(sv, "\x00") != strings.Join(v, "\x00") {
				t.Fatalf("header %q: ours %q, net/http %q", k, v, sv)
			}
		}
	})
}

// TestSlowReader: a client that sends a request and then never reads does
// not hold its handler for ever: a write that makes no progress for the
// send timeout fails, and the handler returns.
func TestSlowReader(t *testing.T) {
	done := make(chan error, 1)
	chunk := make([]byte, 64<<10)
	s := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}), testLogger(t), NewWatchdog())
	s.sendTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() { ln.Close(); s.Close(); <-served })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("write succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the handler is still writing to a client that does not read")
	}
}

func testLogger(testing.TB) *slog.Logger {
	if os.Getenv("TRELLIS_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
