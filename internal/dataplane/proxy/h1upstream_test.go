package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connBackend is an HTTP/1.1 server on 127.0.0.1 that counts the
// connections it accepted.
type connBackend struct {
	*httptest.Server
	conns atomic.Int64
}

func newConnBackend(t testing.TB, configure func(*http.Server), h http.HandlerFunc) *connBackend {
	t.Helper()
	b := &connBackend{Server: httptest.NewUnstartedServer(h)}
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	if configure != nil {
		configure(b.Config)
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

func (b *connBackend) addr() string { return strings.TrimPrefix(b.URL, "http://") }

// h1Env is a proxy with one service forwarding everything to addr over an
// HTTP1 target group.
func h1Env(t testing.TB, addr string) (*env, string, string) {
	t.Helper()
	e := newEnv(t, nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0h1up", "h1.example.com", port, defaultRule(to(ipGroup("tg-h1up", addr))))
	v := e.simple(svc)
	return e, "http://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String(), "h1.example.com"
}

func (e *env) send(t testing.TB, method, url, host string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return res, string(b)
}

func idleConns(px *Proxy, addr string) int {
	return px.h1up.Pool(nil, netip.MustParseAddrPort(addr)).Idle()
}

func TestH1PooledConnReused(t *testing.T) {
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.RawQuery) })
	e, url, host := h1Env(t, be.addr())
	for i := range 50 {
		res, body := e.send(t, "GET", fmt.Sprintf("%s/x?i=%d", url, i), host, nil, nil)
		if res.StatusCode != 200 || body != fmt.Sprintf("ok i=%d", i) {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, body)
		}
	}
	if n := be.conns.Load(); n != 1 {
		t.Fatalf("backend saw %d connections for 50 sequential requests, want 1", n)
	}
	if n := idleConns(e.px, be.addr()); n != 1 {
		t.Fatalf("%d idle connections, want 1", n)
	}
}

// A backend that closes keep-alive connections after a short idle time: the
// next request meets a dead pooled connection and is retried on a new one.
func TestH1StaleConnRetried(t *testing.T) {
	be := newConnBackend(t, func(s *http.Server) { s.IdleTimeout = 20 * time.Millisecond },
		func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fresh") })
	e, url, host := h1Env(t, be.addr())
	for i := range 5 {
		for _, m := range []string{"GET", "HEAD", "DELETE"} {
			res, body := e.send(t, m, url+"/", host, nil, nil)
			if res.StatusCode != 200 || (m != "HEAD" && body != "fresh") {
				t.Fatalf("%s %d: %d %q", m, i, res.StatusCode, body)
			}
			time.Sleep(80 * time.Millisecond) // the backend closes the idle connection
		}
	}
	if n := be.conns.Load(); n < 10 {
		t.Fatalf("backend saw %d connections; the idle ones were not closed?", n)
	}
}

func TestH1ConnectionCloseFromBackend(t *testing.T) {
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	e, url, host := h1Env(t, be.addr())
	for i := range 5 {
		res, body := e.send(t, "GET", url+"/", host, nil, nil)
		if res.StatusCode != 200 || body != "bye" || res.Close {
			t.Fatalf("request %d: %d %q close=%v", i, res.StatusCode, body, res.Close)
		}
	}
	if n := be.conns.Load(); n != 5 {
		t.Fatalf("backend saw %d connections, want 5", n)
	}
	if n := idleConns(e.px, be.addr()); n != 0 {
		t.Fatalf("%d idle connections after Connection: close", n)
	}
	// HTTP/1.0 without keep-alive: not pooled either.
	raw := rawBackend(t, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
	e2, url2, host2 := h1Env(t, raw)
	for range 2 {
		if res, body := e2.send(t, "GET", url2+"/", host2, nil, nil); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("HTTP/1.0 target: %d %q", res.StatusCode, body)
		}
	}
	if n := idleConns(e2.px, raw); n != 0 {
		t.Fatalf("%d idle connections to an HTTP/1.0 target", n)
	}
}

// rawBackend answers every request with answer and closes the connection.
func rawBackend(t testing.TB, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, answer)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestH1ChunkedBodies(t *testing.T) {
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("backend: %v", err)
		}
		w.Header().Set("X-Te", strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-Cl", fmt.Sprint(r.ContentLength))
		w.Header().Set("X-Expect", r.Header.Get("Expect"))
		w.Header().Set("X-Trailer", r.Trailer.Get("X-Sum"))
		// A chunked answer of several chunks.
		for i := 0; i < len(b); i += 1000 {
			w.Write(b[i:min(i+1000, len(b))])
			w.(http.Flusher).Flush()
		}
	})
	e, url, host := h1Env(t, be.addr())
	payload := strings.Repeat("0123456789", 5000)

	// Unknown length: the client sends chunked, so does the proxy.
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < len(payload); i += 7000 {
			pw.Write([]byte(payload[i:min(i+7000, len(payload))]))
		}
		pw.Close()
	}()
	res, body := e.send(t, "POST", url+"/up", host, pr, nil)
	if res.StatusCode != 200 || body != payload {
		t.Fatalf("chunked: %d, %d bytes", res.StatusCode, len(body))
	}
	if te, cl := res.Header.Get("X-Te"), res.Header.Get("X-Cl"); te != "chunked" || cl != "-1" {
		t.Fatalf("backend saw Transfer-Encoding %q Content-Length %s", te, cl)
	}
	if res.ContentLength != -1 {
		t.Fatalf("response length %d, want chunked", res.ContentLength)
	}
	// The connection goes back to the pool just after the client has read
	// the answer: wait for it, or the next request may dial a new one.
	waitIdle(t, e.px, be.addr())

	// Known length, with Expect: 100-continue (not passed on).
	res, body = e.send(t, "PUT", url+"/up", host, strings.NewReader(payload), http.Header{"Expect": {"100-continue"}})
	if res.StatusCode != 200 || body != payload || res.Header.Get("X-Cl") != fmt.Sprint(len(payload)) || res.Header.Get("X-Expect") != "" {
		t.Fatalf("length known: %d, %d bytes, header %v", res.StatusCode, len(body), res.Header)
	}

	waitIdle(t, e.px, be.addr())

	// Request trailers pass through.
	req, _ := http.NewRequest("POST", url+"/up", io.MultiReader(strings.NewReader("abc")))
	req.Host = host
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Sum": nil}
	req.Body = io.NopCloser(&trailerSetter{r: strings.NewReader("abc"), tr: req.Trailer})
	r2, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if string(b2) != "abc" || r2.Header.Get("X-Trailer") != "s1" {
		t.Fatalf("trailers: %q %v", b2, r2.Header)
	}
	// Kept alive: at most one reconnect in three requests. (When an answer
	// ends before the goroutine writing the request body has reported, a
	// rare scheduling race, the connection is closed rather than reused:
	// reapWriter.)
	if n := be.conns.Load(); n > 2 {
		t.Fatalf("backend saw %d connections for 3 requests, want the connection kept alive", n)
	}
}

// trailerSetter sets the trailer once its body is read.
type trailerSetter struct {
	r  io.Reader
	tr http.Header
}

func (s *trailerSetter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.tr.Set("X-Sum", "s1")
	}
	return n, err
}

func TestH1HeadAnd204(t *testing.T) {
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "11")
			io.WriteString(w, "hello world")
		}
	})
	e, url, host := h1Env(t, be.addr())
	for range 3 {
		res, body := e.send(t, "HEAD", url+"/", host, nil, nil)
		if res.StatusCode != 200 || body != "" || res.ContentLength != 11 {
			t.Fatalf("HEAD: %d %q length %d", res.StatusCode, body, res.ContentLength)
		}
		for _, code := range []int{204, 304} {
			res, body = e.send(t, "GET", fmt.Sprintf("%s/%d", url, code), host, nil, nil)
			if res.StatusCode != code || body != "" {
				t.Fatalf("%d: %d %q", code, res.StatusCode, body)
			}
		}
		res, body = e.send(t, "GET", url+"/", host, nil, nil)
		if res.StatusCode != 200 || body != "hello world" {
			t.Fatalf("GET: %d %q", res.StatusCode, body)
		}
	}
	// Kept alive: at most one reconnect in three requests. (When an answer
	// ends before the goroutine writing the request body has reported, a
	// rare scheduling race, the connection is closed rather than reused:
	// reapWriter.)
	if n := be.conns.Load(); n > 2 {
		t.Fatalf("backend saw %d connections for 3 requests, want the connection kept alive", n)
	}
}

func TestH1LargeResponse(t *testing.T) {
	big := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz012345"), 64<<10) // 2 MiB
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/len" {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		}
		w.Write(big)
	})
	e, url, host := h1Env(t, be.addr())
	for _, path := range []string{"/len", "/chunked", "/len"} {
		res, body := e.send(t, "GET", url+path, host, nil, nil)
		if res.StatusCode != 200 || body != string(big) {
			t.Fatalf("%s: %d, %d bytes", path, res.StatusCode, len(body))
		}
	}
	// Kept alive: at most one reconnect in three requests. (When an answer
	// ends before the goroutine writing the request body has reported, a
	// rare scheduling race, the connection is closed rather than reused:
	// reapWriter.)
	if n := be.conns.Load(); n > 2 {
		t.Fatalf("backend saw %d connections for 3 requests, want the connection kept alive", n)
	}
}

// A client that goes away in the middle of a response: the upstream
// connection is closed (the backend sees it), not pooled.
func TestH1ClientGoneMidResponse(t *testing.T) {
	upstreamGone := make(chan struct{})
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first part")
		if r.URL.Path == "/next" {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(upstreamGone)
		case <-time.After(10 * time.Second):
		}
	})
	e, url, host := h1Env(t, be.addr())
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("first part"))
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first part" {
		t.Fatalf("first part: %q %v", buf, err)
	}
	c.Close()
	select {
	case <-upstreamGone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream connection stayed open after the client left")
	}
	time.Sleep(20 * time.Millisecond)
	if n := idleConns(e.px, be.addr()); n != 0 {
		t.Fatalf("%d idle connections after an aborted response", n)
	}
	// And the next request works.
	if res, body := e.send(t, "GET", url+"/next", host, nil, nil); res.StatusCode != 200 || body != "first part" {
		t.Fatalf("next: %d %q", res.StatusCode, body)
	}
}

// Client gone while the proxy waits for the response headers.
func TestH1ClientGoneBeforeHeaders(t *testing.T) {
	upstreamGone := make(chan struct{})
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(upstreamGone)
		case <-time.After(10 * time.Second):
		}
	})
	_, url, host := h1Env(t, be.addr())
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case <-upstreamGone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not aborted")
	}
}

func TestH1Concurrent(t *testing.T) {
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+":"+r.URL.RawQuery+":"+string(b))
	})
	e, url, host := h1Env(t, be.addr())
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 30 {
				q := fmt.Sprintf("g=%d&i=%d", g, i)
				var body io.Reader
				method, want := "GET", "GET:"+q+":"
				if i%3 == 0 {
					method, want = "POST", "POST:"+q+":payload-"+q
					body = strings.NewReader("payload-" + q)
				}
				req, _ := http.NewRequest(method, url+"/?"+q, body)
				req.Host = host
				res, err := e.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || string(b) != want {
					t.Errorf("%s %s: %d %q", method, q, res.StatusCode, b)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := idleConns(e.px, be.addr()); n < 1 || int64(n) > be.conns.Load() {
		t.Fatalf("%d idle connections, backend saw %d", n, be.conns.Load())
	}
}

// A target that answers (and closes) before reading a large body: the
// client gets the answer, nothing hangs.
func TestH1EarlyAnswer(t *testing.T) {
	be := newConnBackend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too big")
	})
	e, url, host := h1Env(t, be.addr())
	res, body := e.send(t, "POST", url+"/", host, bytes.NewReader(make([]byte, 8<<20)), nil)
	if (res.StatusCode != 413 || body != "too big") && res.StatusCode != 502 {
		t.Fatalf("%d %q", res.StatusCode, body)
	}
	if n := idleConns(e.px, be.addr()); n != 0 {
		t.Fatalf("%d idle connections", n)
	}
}

// waitIdle waits a little for addr's pool to get its connection back (it
// is put back just after the client has read the answer); a connection
// that was closed instead never comes.
func waitIdle(t *testing.T, px *Proxy, addr string) {
	t.Helper()
	deadline := time.Now().Add(200 * time.Millisecond)
	for idleConns(px, addr) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
