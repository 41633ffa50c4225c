package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/policy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// wsTarget is a real WebSocket server on loopback (gorilla/websocket):
// it echoes every message, prefixed with its name for text messages, and
// notes what it saw.
type wsTarget struct {
	*httptest.Server
	name     string
	upgrades atomic.Int64
	hits     atomic.Int64
	header   atomic.Pointer[http.Header]
	ended    chan error // the read error that ended a session
	// after, when set, runs on the upgraded connection instead of echoing.
	after func(c *websocket.Conn)
}

func newWSTarget(t testing.TB, name string, after func(c *websocket.Conn)) *wsTarget {
	return newWSTargetTLS(t, name, after, false)
}

// newWSTargetTLS is newWSTarget over TLS when useTLS (an HTTPS target
// group's target).
func newWSTargetTLS(t testing.TB, name string, after func(c *websocket.Conn), useTLS bool) *wsTarget {
	t.Helper()
	wt := &wsTarget{name: name, ended: make(chan error, 16), after: after}
	up := websocket.Upgrader{ReadBufferSize: 32 << 10, WriteBufferSize: 32 << 10}
	wt.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wt.hits.Add(1)
		h := r.Header.Clone()
		wt.header.Store(&h)
		if !websocket.IsWebSocketUpgrade(r) {
			io.WriteString(w, "plain "+wt.name+" "+r.URL.Path)
			return
		}
		c, err := up.Upgrade(w, r, http.Header{"X-Target": {wt.name}})
		if err != nil {
			return
		}
		wt.upgrades.Add(1)
		defer c.Close()
		if wt.after != nil {
			wt.after(c)
			return
		}
		c.SetReadLimit(64 << 20)
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				wt.ended <- err
				return
			}
			if typ == websocket.TextMessage {
				msg = append([]byte(wt.name+":"), msg...)
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				wt.ended <- err
				return
			}
		}
	}))
	if useTLS {
		wt.StartTLS()
	} else {
		wt.Start()
	}
	t.Cleanup(wt.Close)
	return wt
}

func (wt *wsTarget) addr() string { return wt.Listener.Addr().String() }

// wsEnv is a proxy serving one service whose default rule goes to def
// (and whose other rules are extra), and the URL base to dial it.
func wsEnv(t *testing.T, configure func(*testConfig), def *snapshot.TargetGroup, extra ...*snapshot.Rule) (*env, string, *snapshot.Service) {
	t.Helper()
	e := newEnv(t, configure)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0ws", "ws.example.com", port, append(extra, defaultRule(to(def)))...)
	v := e.simple(svc)
	return e, "ws://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String(), svc
}

func wsDial(t testing.TB, url string, hd http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 32 << 10, WriteBufferSize: 32 << 10,
		NetDial: func(network, addr string) (net.Conn, error) { return net.Dial(network, addr) }}
	if hd == nil {
		hd = http.Header{}
	}
	hd.Set("Host", "ws.example.com")
	c, res, err := d.Dial(url, hd)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, res, err
}

func TestWebSocketEcho(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "HTTP target"
		if useTLS {
			name = "HTTPS target"
		}
		t.Run(name, func(t *testing.T) { testWebSocketEcho(t, useTLS) })
	}
}

func testWebSocketEcho(t *testing.T, useTLS bool) {
	wt := newWSTargetTLS(t, "a", nil, useTLS)
	tg := ipGroup("tg-ws", wt.addr())
	if useTLS {
		tg.Protocol, tg.Port = "HTTPS", 443
	}
	_, base, _ := wsEnv(t, nil, tg)
	c, res, err := wsDial(t, base+"/chat?room=1", nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("X-Target") != "a" || res.Header.Get("X-Amzn-Requestid") == "" {
		t.Fatalf("handshake answer %d %v", res.StatusCode, res.Header)
	}
	hd := *wt.header.Load()
	if hd.Get("X-Amzn-Source-Vpc") == "" || hd.Get("X-Amzn-Lattice-Target") == "" || !strings.EqualFold(hd.Get("Upgrade"), "websocket") {
		t.Fatalf("the target got %v", hd)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	big := make([]byte, 5<<20)
	rand.Read(big)
	for _, tc := range []struct {
		name string
		typ  int
		msg  []byte
		want []byte
	}{
		{"text", websocket.TextMessage, []byte("hello"), []byte("a:hello")},
		{"binary", websocket.BinaryMessage, []byte{0, 1, 2, 0xff}, []byte{0, 1, 2, 0xff}},
		{"empty", websocket.BinaryMessage, []byte{}, []byte{}},
		{"large", websocket.BinaryMessage, big, big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.WriteMessage(tc.typ, tc.msg); err != nil {
				t.Fatal(err)
			}
			typ, got, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if typ != tc.typ || !bytes.Equal(got, tc.want) {
				t.Fatalf("got type %d, %d bytes; want type %d, %d bytes", typ, len(got), tc.typ, len(tc.want))
			}
		})
	}
	t.Run("ping pong", func(t *testing.T) {
		pong := make(chan string, 1)
		c.SetPongHandler(func(s string) error { pong <- s; return nil })
		if err := c.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		// Control frames are handled while reading: read the echo of a
		// message sent after the ping.
		if err := c.WriteMessage(websocket.TextMessage, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "a:after" {
			t.Fatalf("%q %v", got, err)
		}
		select {
		case s := <-pong:
			if s != "p1" {
				t.Fatalf("pong %q", s)
			}
		default:
			t.Fatal("no pong before the echo")
		}
	})
	t.Run("close handshake", func(t *testing.T) {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
		if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		// The target answers the close (gorilla's default handler) and
		// ends; the client reads the close frame.
		_, _, err := c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("read after close: %v", err)
		}
		select {
		case err := <-wt.ended:
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("target ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the target's session did not end")
		}
	})
}

// TestWebSocketEnds: either side ending the session ends the other's.
func TestWebSocketEnds(t *testing.T) {
	t.Run("target closes", func(t *testing.T) {
		wt := newWSTarget(t, "a", func(c *websocket.Conn) {
			_ = c.WriteMessage(websocket.TextMessage, []byte("last"))
			// Close without a close frame: the TCP connection ends.
		})
		_, base, _ := wsEnv(t, nil, ipGroup("tg-ws", wt.addr()))
		c, _, err := wsDial(t, base+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, m, err := c.ReadMessage(); err != nil || string(m) != "last" {
			t.Fatalf("%q %v", m, err)
		}
		_, _, err = c.ReadMessage()
		if !websocket.IsUnexpectedCloseError(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("after the target closed: %v", err)
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the client's connection stayed open: %v", err)
		}
	})
	t.Run("client closes", func(t *testing.T) {
		wt := newWSTarget(t, "a", nil)
		_, base, _ := wsEnv(t, nil, ipGroup("tg-ws", wt.addr()))
		c, _, err := wsDial(t, base+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close() // no close frame
		select {
		case err := <-wt.ended:
			if !websocket.IsUnexpectedCloseError(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("target ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the target's session did not end")
		}
	})
}

// TestWebSocketIdleTimeout: a session with no traffic either way ends
// after Config.WebSocketIdleTimeout; traffic keeps it open.
func TestWebSocketIdleTimeout(t *testing.T) {
	rec := new(recorder)
	wt := newWSTarget(t, "a", nil)
	tg := ipGroup("tg-ws", wt.addr())
	e := newEnv(t, func(c *testConfig) {
		c.WebSocketIdleTimeout = 400 * time.Millisecond
		c.AccessLog = rec
	})
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0ws", "ws.example.com", port, defaultRule(to(tg)))
	svc.AccessLogs = []*snapshot.LogSubscription{{ID: "als-0ws", ResourceID: svc.ID, DestinationARN: "arn:aws:logs:us-east-1:111122223333:log-group:x"}}
	v := e.simple(svc)
	c, _, err := wsDial(t, "ws://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/idle", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Busy for longer than the timeout: the session stays.
	for i := 0; i < 8; i++ {
		if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Quiet: it ends (the deadline only guards the test).
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err = c.ReadMessage()
	if ne, ok := err.(net.Error); err == nil || (ok && ne.Timeout()) {
		t.Fatalf("the idle session did not end: %v", err)
	}
	r := rec.last(t, "/idle")
	if r.e.Status != http.StatusSwitchingProtocols || r.e.FailureReason != "TargetDataTimeout" {
		t.Fatalf("record %+v", r.e)
	}
}

// TestWebSocketAccessLog: one record per session, status 101, the bytes of
// the whole session both ways, the session's duration.
func TestWebSocketAccessLog(t *testing.T) {
	rec := new(recorder)
	wt := newWSTarget(t, "a", nil)
	tg := ipGroup("tg-ws", wt.addr())
	e := newEnv(t, func(c *testConfig) { c.AccessLog = rec })
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0ws", "ws.example.com", port, defaultRule(to(tg)))
	svc.AccessLogs = []*snapshot.LogSubscription{{ID: "als-0ws", ResourceID: svc.ID, DestinationARN: "arn:aws:logs:us-east-1:111122223333:log-group:x"}}
	v := e.simple(svc)
	c, _, err := wsDial(t, "ws://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/logged?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("m"), 10000)
	for range 3 {
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	pause := 200 * time.Millisecond
	time.Sleep(pause)
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	_, _, _ = c.ReadMessage()
	c.Close()
	r := rec.last(t, "/logged?x=1")
	if r.e.Status != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", r.e.Status)
	}
	// Client frames are masked (4 bytes more each), the target's are not.
	if r.e.BytesReceived < 3*10000 || r.e.BytesReceived > 3*10100 || r.e.BytesSent < 3*10000 || r.e.BytesSent > 3*10100 {
		t.Fatalf("bytes received %d, sent %d", r.e.BytesReceived, r.e.BytesSent)
	}
	if r.e.Duration < pause {
		t.Fatalf("duration %v is not the session's", r.e.Duration)
	}
	if r.e.FailureReason != "" {
		t.Fatalf("failure reason %q", r.e.FailureReason)
	}
}

// TestWebSocketJudged: the upgrade request is authorized and routed like
// any request.
func TestWebSocketJudged(t *testing.T) {
	t.Run("denied", func(t *testing.T) {
		wt := newWSTarget(t, "a", nil)
		holder := new(snapshot.Holder)
		e := newEnv(t, func(c *testConfig) {
			c.Holder = holder
			c.Auth = auth.New(holder, region, nil)
		})
		port := freePort(t, netip.MustParseAddr("127.0.0.1"))
		svc := service("svc-0ws", "ws.example.com", port, defaultRule(to(ipGroup("tg-ws", wt.addr()))))
		svc.AuthType = "AWS_IAM"
		p, err := policy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/blue"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`)
		if err != nil {
			t.Fatal(err)
		}
		svc.Policy = p
		v := vpcIn("vpc-0a000000000000001", nextIngress(), network("sn-0a000000000000001"), svc)
		e.publish(snapshotOf(v))
		_, res, err := wsDial(t, "ws://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/", nil)
		if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("got %v, %v; want 403", res, err)
		}
		if n := wt.hits.Load(); n != 0 {
			t.Fatalf("the target saw %d requests", n)
		}
	})
	t.Run("routed by path", func(t *testing.T) {
		a, b := newWSTarget(t, "a", nil), newWSTarget(t, "b", nil)
		_, base, _ := wsEnv(t, nil, ipGroup("tg-a", a.addr()),
			rule("r-b", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/b/"}}, to(ipGroup("tg-b", b.addr()))))
		for path, want := range map[string]string{"/a/x": "a:hi", "/b/x": "b:hi", "/x/../b/y": "b:hi", "/b%2Fz": ""} {
			t.Run(path, func(t *testing.T) {
				c, res, err := wsDial(t, base+path, nil)
				if want == "" {
					// A path no normal form stands for is refused, as for
					// any request.
					if err == nil || res == nil || res.StatusCode != http.StatusBadRequest {
						t.Fatalf("%v %v, want 400", res, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("%v %v", res, err)
				}
				if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
					t.Fatal(err)
				}
				if _, m, err := c.ReadMessage(); err != nil || string(m) != want {
					t.Fatalf("%q %v, want %q", m, err, want)
				}
			})
		}
	})
}

// wsRawTarget is a raw WebSocket-ish target: it answers the upgrade
// request with answer(head) and then echoes every byte it gets.
func wsRawTarget(t *testing.T, answer func(r *http.Request) string) (string, chan string) {
	return wsRawTargetTLS(t, answer, false)
}

// wsRawTargetTLS is wsRawTarget over TLS when useTLS.
func wsRawTargetTLS(t *testing.T, answer func(r *http.Request) string, useTLS bool) (string, chan string) {
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if useTLS {
		// httptest's certificate, on a listener of our own.
		s := httptest.NewUnstartedServer(nil)
		s.StartTLS()
		cfg := s.TLS.Clone()
		s.Close()
		ln = tls.NewListener(ln, cfg)
	}
	t.Cleanup(func() { ln.Close() })
	heads := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				r, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				heads <- r.Method + " " + r.RequestURI
				if _, err := io.WriteString(c, answer(r)); err != nil {
					return
				}
				_, _ = io.Copy(c, br)
			}()
		}
	}()
	return ln.Addr().String(), heads
}

func switching(r *http.Request) string {
	return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " +
		acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
}

const wsHead = "GET /up HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
	"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

// TestWebSocketSecurity: the regressions the upgrade must not open.
func TestWebSocketSecurity(t *testing.T) {
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: ws.example.com\r\n\r\n"
	t.Run("pipelined bytes go to the session", func(t *testing.T) {
		addr, heads := wsRawTarget(t, switching)
		_, base, _ := wsEnv(t, nil, ipGroup("tg-raw", addr))
		rc := dialRaw(t, strings.TrimPrefix(base, "ws://"))
		rc.send(wsHead + smuggled) // one write: the head and what follows
		res, err := http.ReadResponse(rc.br, &http.Request{Method: "GET"})
		if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%v %v", res, err)
		}
		got := make([]byte, len(smuggled))
		if _, err := io.ReadFull(rc.br, got); err != nil || string(got) != smuggled {
			t.Fatalf("echo %q %v", got, err)
		}
		if h := <-heads; h != "GET /up" {
			t.Fatalf("target head %q", h)
		}
		select {
		case h := <-heads:
			t.Fatalf("the pipelined bytes became a request: %q", h)
		default:
		}
	})
	t.Run("refused upgrade closes the connection", func(t *testing.T) {
		addr, heads := wsRawTarget(t, func(*http.Request) string {
			return "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"
		})
		_, base, _ := wsEnv(t, nil, ipGroup("tg-raw", addr))
		rc := dialRaw(t, strings.TrimPrefix(base, "ws://"))
		rc.send(wsHead + smuggled)
		res, body := rc.response("GET")
		if res.StatusCode != http.StatusForbidden || body != "no" || !res.Close {
			t.Fatalf("%d %q close=%v", res.StatusCode, body, res.Close)
		}
		if !rc.closed() {
			t.Fatal("the connection stayed open after a refused upgrade")
		}
		<-heads
		select {
		case h := <-heads:
			t.Fatalf("the pipelined bytes became a request: %q", h)
		case <-time.After(200 * time.Millisecond):
		}
	})
	t.Run("upgrade without connection upgrade", func(t *testing.T) {
		wt := newWSTarget(t, "a", nil)
		_, base, _ := wsEnv(t, nil, ipGroup("tg-ws", wt.addr()))
		rc := dialRaw(t, strings.TrimPrefix(base, "ws://"))
		rc.send(strings.Replace(wsHead, "Connection: Upgrade\r\n", "", 1))
		res, body := rc.response("GET")
		if res.StatusCode != http.StatusOK || body != "plain a /up" {
			t.Fatalf("%d %q", res.StatusCode, body)
		}
		if hd := *wt.header.Load(); hd.Get("Upgrade") != "" || hd.Get("Connection") != "" {
			t.Fatalf("the target got %v", hd)
		}
	})
	t.Run("other upgrade tokens", func(t *testing.T) {
		wt := newWSTarget(t, "a", nil)
		_, base, _ := wsEnv(t, nil, ipGroup("tg-ws", wt.addr()))
		rc := dialRaw(t, strings.TrimPrefix(base, "ws://"))
		rc.send(strings.Replace(wsHead, "Upgrade: websocket", "Upgrade: h2c", 1))
		res, body := rc.response("GET")
		if res.StatusCode != http.StatusOK || body != "plain a /up" {
			t.Fatalf("%d %q", res.StatusCode, body)
		}
		if hd := *wt.header.Load(); hd.Get("Upgrade") != "" {
			t.Fatalf("the target got %v", hd)
		}
	})
	for name, answer := range map[string]func(*http.Request) string{
		"101 to a plain request": switching,
		"101 with a wrong accept": func(*http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n"
		},
		"101 to another protocol": func(r *http.Request) string {
			return strings.Replace(switching(r), "Upgrade: websocket", "Upgrade: h2c", 1)
		},
	} {
		for _, useTLS := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "", true: " (HTTPS target)"}[useTLS], func(t *testing.T) {
				addr, _ := wsRawTargetTLS(t, answer, useTLS)
				tg := ipGroup("tg-raw", addr)
				if useTLS {
					tg.Protocol, tg.Port = "HTTPS", 443
				}
				_, base, _ := wsEnv(t, nil, tg)
				rc := dialRaw(t, strings.TrimPrefix(base, "ws://"))
				head := wsHead
				if name == "101 to a plain request" {
					head = "GET /up HTTP/1.1\r\nHost: ws.example.com\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
				}
				rc.send(head + smuggled)
				res, body := rc.response("GET")
				if res.StatusCode != http.StatusBadGateway {
					t.Fatalf("%d %q", res.StatusCode, body)
				}
			})
		}
	}
}

// BenchmarkWebSocket: message round trips (64-byte text) through the
// proxy and straight to the target, on one session each.
func BenchmarkWebSocket(b *testing.B) {
	wt := newWSTarget(b, "a", nil)
	e := newEnv(b, nil)
	port := freePort(b, netip.MustParseAddr("127.0.0.1"))
	v := e.simple(service("svc-0ws", "ws.example.com", port, defaultRule(to(ipGroup("tg-ws", wt.addr())))))
	for _, bc := range []struct{ name, url string }{
		{"direct", "ws://" + wt.addr() + "/"},
		{"proxy", "ws://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String() + "/"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, _, err := wsDial(b, bc.url, nil)
			if err != nil {
				b.Fatal(err)
			}
			msg := bytes.Repeat([]byte("x"), 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWebSocketDrain: closing the ingress with a drain timeout ends the
// spliced sessions at its deadline (the server's Close ends upgraded
// connections; Shutdown waits for them like for requests in flight).
func TestWebSocketDrain(t *testing.T) {
	wt := newWSTarget(t, "a", nil)
	e, base, _ := wsEnv(t, func(c *testConfig) { c.DrainTimeout = 300 * time.Millisecond }, ipGroup("tg-ws", wt.addr()))
	c, _, err := wsDial(t, base+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		closed <- e.in.Close(ctx)
	}()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err = c.ReadMessage()
	if ne, ok := err.(net.Error); err == nil || (ok && ne.Timeout()) {
		t.Fatalf("the session outlived the drain: %v", err)
	}
	select {
	case err := <-wt.ended:
		if err == nil {
			t.Fatal("the target's session did not end")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the target's session did not end")
	}
	<-closed
}

// TestWebSocketRefusedClosesConnection: an upgrade request the proxy
// itself refuses (no rule, a denial, a bad path) ends the connection too:
// what the client sent after the head is not read as a request.
func TestWebSocketRefusedClosesConnection(t *testing.T) {
	wt := newWSTarget(t, "a", nil)
	rec := new(recorder)
	_, base, _ := wsEnv(t, func(c *testConfig) { c.AccessLog = rec }, ipGroup("tg-ws", wt.addr()))
	rc := dialRaw(t, strings.TrimPrefix(base, "ws://"))
	rc.send(strings.Replace(wsHead, "GET /up ", "GET /a/..%2F..%2F ", 1) + "GET /smuggled HTTP/1.1\r\nHost: ws.example.com\r\n\r\n")
	res, _ := rc.response("GET")
	if res.StatusCode != http.StatusBadRequest || !res.Close {
		t.Fatalf("%d close=%v", res.StatusCode, res.Close)
	}
	if !rc.closed() {
		t.Fatal("the connection stayed open after a refused upgrade request")
	}
	if n := wt.hits.Load(); n != 0 {
		t.Fatalf("the target saw %d requests", n)
	}
}

// FuzzWebSocketHandshake: whatever the fields, an upgrade is attempted only
// for the one token, and a target's 101 is accepted only with the accept
// value of the client's key.
func FuzzWebSocketHandshake(f *testing.F) {
	f.Add("websocket", "Upgrade", "dGhlIHNhbXBsZSBub25jZQ==", "websocket", "upgrade", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
	f.Add("WebSocket ", "keep-alive, Upgrade", "k", "h2c", "Upgrade", "")
	f.Add("websocket, h2c", "upgrade", "", "websocket", "close", "x")
	tg := &snapshot.TargetGroup{Upstream: snapshot.UpstreamH1}
	f.Fuzz(func(t *testing.T, up, conn, key, resUp, resConn, accept string) {
		r := &http.Request{Method: "GET", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Upgrade": {up}, "Connection": {conn}, "Sec-Websocket-Key": {key}}}
		// Not this server's writer: never an upgrade, but the checks
		// before it run.
		if wantsUpgrade(httptest.NewRecorder(), r, tg) {
			t.Fatal("upgrade through a writer that cannot be taken over")
		}
		res := &http.Response{Header: http.Header{"Upgrade": {resUp}, "Connection": {resConn}, "Sec-Websocket-Accept": {accept}}}
		if acceptsUpgrade(r, res) {
			if !strings.EqualFold(strings.TrimSpace(resUp), "websocket") || strings.TrimSpace(accept) != acceptKey(key) {
				t.Fatalf("accepted %q %q for key %q", resUp, accept, key)
			}
		}
	})
}
