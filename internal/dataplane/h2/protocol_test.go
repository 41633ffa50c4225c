package h2

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func okHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

func TestSettingsAndPing(t *testing.T) {
	noLeak(t)
	_, addr := newServer(t, okHandler)
	rc := dialRaw(t, addr)
	rc.until("SETTINGS ACK", func(f http2.Frame) bool { s, ok := f.(*http2.SettingsFrame); return ok && s.IsAck() })
	if err := rc.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	p := rc.until("PING ACK", func(f http2.Frame) bool { _, ok := f.(*http2.PingFrame); return ok }).(*http2.PingFrame)
	if !p.IsAck() || p.Data != [8]byte{1, 2, 3, 4, 5, 6, 7, 8} {
		t.Fatalf("ping answer %v", p)
	}
}

func TestServerSettings(t *testing.T) {
	_, addr := newServer(t, okHandler)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, ClientPreface)
	fr := http2.NewFramer(nc, nc)
	fr.WriteSettings()
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	got := map[http2.SettingID]uint32{}
	f.(*http2.SettingsFrame).ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil })
	if got[http2.SettingMaxConcurrentStreams] != MaxConcurrentStreams || got[http2.SettingMaxHeaderListSize] != 64<<10 ||
		got[http2.SettingInitialWindowSize] != streamWindow {
		t.Fatalf("settings %v", got)
	}
}

// Connection errors: each ends with GOAWAY and the code, and a close.
func TestConnectionErrors(t *testing.T) {
	noLeak(t)
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/noread" {
			<-r.Context().Done()
		}
	})
	cases := []struct {
		name string
		send func(rc *rawConn)
		code http2.ErrCode
	}{
		{"even stream ID", func(rc *rawConn) { rc.request(2, true) }, http2.ErrCodeProtocol},
		{"decreasing stream ID", func(rc *rawConn) {
			rc.request(5, true)
			rc.response(5)
			rc.request(3, true)
		}, http2.ErrCodeProtocol},
		{"connection window overflow", func(rc *rawConn) { rc.fr.WriteWindowUpdate(0, 1<<31-1) }, http2.ErrCodeFlowControl},
		{"initial window too large", func(rc *rawConn) {
			rc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
		}, http2.ErrCodeFlowControl},
		{"max frame size too small", func(rc *rawConn) {
			rc.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1000})
		}, http2.ErrCodeProtocol},
		{"enable push 2", func(rc *rawConn) {
			rc.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 2})
		}, http2.ErrCodeProtocol},
		{"DATA on an idle stream", func(rc *rawConn) { rc.fr.WriteData(7, true, []byte("x")) }, http2.ErrCodeProtocol},
		{"RST_STREAM on an idle stream", func(rc *rawConn) { rc.fr.WriteRSTStream(9, http2.ErrCodeCancel) }, http2.ErrCodeProtocol},
		{"WINDOW_UPDATE on an idle stream", func(rc *rawConn) { rc.fr.WriteWindowUpdate(9, 1) }, http2.ErrCodeProtocol},
		{"zero connection WINDOW_UPDATE", func(rc *rawConn) { rc.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 0, 0}) }, http2.ErrCodeProtocol},
		{"PUSH_PROMISE", func(rc *rawConn) {
			rc.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: rc.headerBlock(":method", "GET"), EndHeaders: true})
		}, http2.ErrCodeProtocol},
		{"CONTINUATION without HEADERS", func(rc *rawConn) { rc.fr.WriteContinuation(1, true, rc.headerBlock("a", "b")) }, http2.ErrCodeProtocol},
		{"connection window exceeded", func(rc *rawConn) {
			// Streams whose handler does not read, each within its own
			// window, together beyond the connection's.
			for id := uint32(1); id < 2*connWindow/streamWindow+4; id += 2 {
				rc.rawHeaders(id, false, ":method", "POST", ":scheme", "http", ":path", "/noread", ":authority", "x")
				for i := 0; i < streamWindow/16384; i++ {
					if rc.fr.WriteData(id, false, make([]byte, 16384)) != nil {
						return
					}
				}
			}
		}, http2.ErrCodeFlowControl},
		{"frame too large", func(rc *rawConn) { rc.fr.WriteRawFrame(http2.FrameData, 0, 1, make([]byte, 20000)) }, http2.ErrCodeFrameSize},
		{"ping flood", func(rc *rawConn) {
			for i := 0; i < 2*maxControlPerSecond+10; i++ {
				rc.fr.WritePing(false, [8]byte{})
			}
		}, http2.ErrCodeEnhanceYourCalm},
		{"settings flood", func(rc *rawConn) {
			for i := 0; i < 2*maxControlPerSecond+10; i++ {
				rc.fr.WriteSettings()
			}
		}, http2.ErrCodeEnhanceYourCalm},
		{"empty DATA flood", func(rc *rawConn) {
			rc.request(1, false, "content-type", "x")
			for i := 0; i < 2*maxControlPerSecond+10; i++ {
				rc.fr.WriteData(1, false, nil)
			}
		}, http2.ErrCodeEnhanceYourCalm},
		{"CONTINUATION flood", func(rc *rawConn) {
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: rc.headerBlock(":method", "GET"), EndHeaders: false})
			big := rc.headerBlock("x-big", strings.Repeat("a", 16000))
			for i := 0; i < 100; i++ {
				if err := rc.fr.WriteContinuation(1, false, big); err != nil {
					return // closed by the server
				}
			}
		}, http2.ErrCodeProtocol},
		{"no SETTINGS first", func(rc *rawConn) {}, http2.ErrCodeProtocol},
	}
	// The flood cases send twice the per-second bound, so that one
	// second's count passes it wherever the second boundary falls.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rc *rawConn
			if tc.name == "no SETTINGS first" {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(nc, ClientPreface)
				rc = &rawConn{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
				rc.fr.WritePing(false, [8]byte{})
			} else {
				rc = dialRaw(t, addr)
				tc.send(rc)
			}
			rc.goAway(tc.code)
		})
	}
}

// Stream errors: RST_STREAM with the code, the connection goes on.
func TestStreamErrors(t *testing.T) {
	noLeak(t)
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/noread" {
			<-r.Context().Done()
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
	base := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"}
	cases := []struct {
		name   string
		fields []string
		end    bool
		then   func(rc *rawConn)
		code   http2.ErrCode
	}{
		{"missing :path", []string{":method", "GET", ":scheme", "http", ":authority", "x"}, true, nil, http2.ErrCodeProtocol},
		{"missing :method", []string{":scheme", "http", ":path", "/", ":authority", "x"}, true, nil, http2.ErrCodeProtocol},
		{"missing :scheme", []string{":method", "GET", ":path", "/", ":authority", "x"}, true, nil, http2.ErrCodeProtocol},
		{"relative :path", []string{":method", "GET", ":scheme", "http", ":path", "a", ":authority", "x"}, true, nil, http2.ErrCodeProtocol},
		{"unknown pseudo-header", append(base, ":foo", "x"), true, nil, http2.ErrCodeProtocol},
		{":protocol", append(base, ":protocol", "websocket"), true, nil, http2.ErrCodeProtocol},
		{"connection header", append(base, "connection", "close"), true, nil, http2.ErrCodeProtocol},
		{"transfer-encoding", append(base, "transfer-encoding", "chunked"), true, nil, http2.ErrCodeProtocol},
		{"keep-alive", append(base, "keep-alive", "1"), true, nil, http2.ErrCodeProtocol},
		{"upgrade", append(base, "upgrade", "h2c"), true, nil, http2.ErrCodeProtocol},
		{"te gzip", append(base, "te", "gzip"), true, nil, http2.ErrCodeProtocol},
		{"host naming another authority", append(base, "host", "y"), true, nil, http2.ErrCodeProtocol},
		{"two different hosts", []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "x", "host", "y"}, true, nil, http2.ErrCodeProtocol},
		{"uppercase name", append(base, "X-Upper", "1"), true, nil, http2.ErrCodeProtocol},
		{"pseudo after regular", []string{":method", "GET", "a", "b", ":scheme", "http", ":path", "/"}, true, nil, http2.ErrCodeProtocol},
		{"newline in value", append(base, "x-a", "1\r\nx-b: 2"), true, nil, http2.ErrCodeProtocol},
		{"content-length on an empty request", append(base, "content-length", "3"), true, nil, http2.ErrCodeProtocol},
		{"content-length invalid", append(base, "content-length", "x"), false, nil, http2.ErrCodeProtocol},
		{"content-length shorter than DATA", append(base, "content-length", "2"), false, func(rc *rawConn) {
			rc.fr.WriteData(1, true, []byte("abc"))
		}, http2.ErrCodeProtocol},
		{"content-length longer than DATA", append(base, "content-length", "9"), false, func(rc *rawConn) {
			rc.fr.WriteData(1, true, []byte("abc"))
		}, http2.ErrCodeProtocol},
		{"DATA after END_STREAM", base, true, func(rc *rawConn) {
			rc.fr.WriteData(1, true, []byte("abc"))
		}, http2.ErrCodeStreamClosed},
		{"trailers without END_STREAM", base, false, func(rc *rawConn) {
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: rc.headerBlock("x-t", "1"), EndHeaders: true})
		}, http2.ErrCodeProtocol},
		{"stream window overflow", base, false, func(rc *rawConn) {
			rc.fr.WriteWindowUpdate(1, 1<<31-1)
		}, http2.ErrCodeFlowControl},
		{"stream window exceeded", base, false, func(rc *rawConn) {
			for i := 0; i <= streamWindow/16384; i++ {
				rc.fr.WriteData(1, false, make([]byte, 16384))
			}
		}, http2.ErrCodeFlowControl},
		{"depends on itself", base, false, func(rc *rawConn) {
			rc.fr.WritePriority(1, http2.PriorityParam{StreamDep: 1})
		}, http2.ErrCodeProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			if tc.name == "stream window exceeded" {
				// a handler that does not read
				rc.rawHeaders(1, false, ":method", "POST", ":scheme", "http", ":path", "/noread", ":authority", "x")
			} else {
				rc.rawHeaders(1, tc.end, tc.fields...)
			}
			if tc.then != nil {
				tc.then(rc)
			}
			rc.rst(1, tc.code)
			// The connection still serves.
			rc.request(3, true)
			if st, body := rc.response(3); st != "200" || body != "ok" {
				t.Fatalf("next request: %s %q", st, body)
			}
		})
	}
}

// A Host equal to :authority (in any case) is redundant, not malformed, and
// the request gets the one name.
func TestHostSameAsAuthority(t *testing.T) {
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host+" "+strings.Join(r.Header.Values("Host"), ","))
	})
	rc := dialRaw(t, addr)
	rc.rawHeaders(1, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "svc.example", "host", "SVC.example")
	if st, body := rc.response(1); st != "200" || body != "svc.example " {
		t.Fatalf("got %s %q, want 200 and the :authority alone", st, body)
	}
}

func TestHeadersDependingOnThemselves(t *testing.T) {
	_, addr := newServer(t, okHandler)
	rc := dialRaw(t, addr)
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
		BlockFragment: rc.headerBlock(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"),
		Priority:      http2.PriorityParam{StreamDep: 1, Weight: 15}})
	rc.rst(1, http2.ErrCodeProtocol)
	rc.request(3, true)
	if st, _ := rc.response(3); st != "200" {
		t.Fatalf("next: %s", st)
	}
}

func TestHeaderListTooLarge(t *testing.T) {
	noLeak(t)
	s := NewServer(http.HandlerFunc(okHandler), testLog)
	rejected := make(chan int, 1)
	s.Rejected = func(status int, peer netip.AddrPort, n int64) {
		if !peer.IsValid() || n <= 0 {
			t.Errorf("rejected: %v %d", peer, n)
		}
		rejected <- status
	}
	addr := serve(t, s)
	rc := dialRaw(t, addr)
	// Split over CONTINUATION frames: assembled, then found too large.
	blk := rc.headerBlock(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x",
		"x-a", strings.Repeat("a", 15000), "x-b", strings.Repeat("b", 15000), "x-c", strings.Repeat("c", 15000),
		"x-d", strings.Repeat("d", 15000), "x-e", strings.Repeat("e", 15000))
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:16000], EndStream: true})
	for blk = blk[16000:]; len(blk) > 16000; blk = blk[16000:] {
		rc.fr.WriteContinuation(1, false, blk[:16000])
	}
	rc.fr.WriteContinuation(1, true, blk)
	if st, _ := rc.response(1); st != "431" {
		t.Fatalf("status %s, want 431", st)
	}
	if st := <-rejected; st != 431 {
		t.Fatalf("Rejected told %d", st)
	}
	rc.request(3, true)
	if st, _ := rc.response(3); st != "200" {
		t.Fatalf("next: %s", st)
	}
}

func TestMaxConcurrentStreams(t *testing.T) {
	noLeak(t)
	release := make(chan struct{})
	var running atomic.Int32
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		running.Add(1)
		<-release
	})
	defer close(release)
	rc := dialRaw(t, addr)
	id := uint32(1)
	for i := 0; i < MaxConcurrentStreams; i++ {
		rc.request(id, true)
		id += 2
	}
	rc.request(id, true)
	rc.rst(id, http2.ErrCodeRefusedStream)
	for i := 0; i < 500 && running.Load() < MaxConcurrentStreams; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := running.Load(); n != MaxConcurrentStreams {
		t.Fatalf("%d handlers run, want %d", n, MaxConcurrentStreams)
	}
}

func TestRapidReset(t *testing.T) {
	noLeak(t)
	release := make(chan struct{})
	var started atomic.Int32
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-release // a handler that ignores the cancellation
	})
	defer close(release)
	rc := dialRaw(t, addr)
	go func() {
		id := uint32(1)
		blk := rc.headerBlock(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")
		for i := 0; i < 5000; i++ {
			if rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: true, EndHeaders: true}) != nil ||
				rc.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
			id += 2
		}
	}()
	f := rc.until("GOAWAY", func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if f.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v", f.ErrCode)
	}
	if n := started.Load(); n > maxHandlers {
		t.Fatalf("%d handlers started, the bound is %d", n, maxHandlers)
	}
}

func TestSendFlowControl(t *testing.T) {
	noLeak(t)
	body := strings.Repeat("x", 100)
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})
	// The client's stream window is 10 bytes: the server sends 10, then
	// waits for WINDOW_UPDATE.
	rc := dialRaw(t, addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	rc.request(1, true)
	got := 0
	var ended bool
	for !ended {
		f := rc.until("DATA", func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamID == 1 }).(*http2.DataFrame)
		got += len(f.Data())
		ended = f.StreamEnded()
		if got > 10 && got-len(f.Data()) < 10 {
			t.Fatalf("sent %d bytes beyond a window of 10", got)
		}
		if !ended && got%10 == 0 {
			rc.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if f, err := rc.fr.ReadFrame(); err == nil {
				if d, ok := f.(*http2.DataFrame); ok && len(d.Data()) > 0 {
					t.Fatalf("DATA beyond the window: %d bytes", len(d.Data()))
				}
			}
			rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			rc.fr.WriteWindowUpdate(1, 10)
		}
	}
	if got != len(body) {
		t.Fatalf("got %d bytes", got)
	}
}

func TestIdleTimeout(t *testing.T) {
	noLeak(t)
	s := NewServer(http.HandlerFunc(okHandler), testLog)
	s.IdleTimeout = 200 * time.Millisecond
	addr := serve(t, s)
	rc := dialRaw(t, addr)
	rc.request(1, true)
	rc.response(1)
	start := time.Now()
	rc.goAway(http2.ErrCodeNo)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("closed after %v", d)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	noLeak(t)
	s := NewServer(http.HandlerFunc(okHandler), testLog)
	s.ReadHeaderTimeout = 200 * time.Millisecond
	addr := serve(t, s)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "PRI * HTTP/2.0\r\n") // half a preface, then nothing
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("not closed: %v", err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	noLeak(t)
	started := make(chan struct{})
	release := make(chan struct{})
	s, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	})
	rc := dialRaw(t, addr)
	idle := dialRaw(t, addr)
	rc.request(1, true, "x-slow", "1")
	rc.rawHeaders(3, true, ":method", "GET", ":scheme", "http", ":path", "/slow", ":authority", "x")
	rc.response(1)
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	g := rc.until("GOAWAY", func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 3 {
		t.Fatalf("GOAWAY %v last %d", g.ErrCode, g.LastStreamID)
	}
	idle.goAway(http2.ErrCodeNo) // the idle connection closes at once
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned with a stream in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if st, body := rc.response(3); st != "200" || body != "done" {
		t.Fatalf("in-flight stream: %s %q", st, body)
	}
	rc.closed()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

func TestCloseCancels(t *testing.T) {
	noLeak(t)
	cancelled := make(chan struct{})
	started := make(chan struct{})
	s, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	})
	rc := dialRaw(t, addr)
	rc.request(1, true)
	<-started
	s.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not cancel the request")
	}
	rc.closed()
}

func TestConnectPassedOn(t *testing.T) {
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "CONNECT" || r.Host != "example.com:443" || r.URL.Host != "example.com:443" || r.RequestURI != "example.com:443" {
			t.Errorf("CONNECT request %s %q %v %q", r.Method, r.Host, r.URL, r.RequestURI)
		}
		w.WriteHeader(405)
	})
	rc := dialRaw(t, addr)
	rc.rawHeaders(1, true, ":method", "CONNECT", ":authority", "example.com:443")
	if st, _ := rc.response(1); st != "405" {
		t.Fatalf("status %s", st)
	}
	rc.rawHeaders(3, true, ":method", "CONNECT", ":authority", "example.com:443", ":path", "/")
	rc.rst(3, http2.ErrCodeProtocol)
}

func TestClientNeverReads(t *testing.T) {
	noLeak(t)
	// A client asking for answers (PINGs, under the flood rate) and
	// reading none, over a pipe that buffers nothing: the server lets go
	// of the connection once its unread output passes the bound (or a
	// write is blocked for the send timeout).
	s := NewServer(http.HandlerFunc(okHandler), testLog)
	s.sendTimeout = 3 * time.Second
	s.maxControl = 16 << 10
	t.Cleanup(func() { s.Close() })
	cc, sc := net.Pipe()
	defer cc.Close()
	done := make(chan struct{})
	go func() {
		s.ServeConn(sc)
		close(done)
	}()
	go func() {
		fr := http2.NewFramer(cc, nil)
		io.WriteString(cc, ClientPreface)
		fr.WriteSettings()
		for i := 0; i < 1_000_000; i++ {
			if fr.WritePing(false, [8]byte{}) != nil {
				return
			}
			if i%500 == 499 {
				time.Sleep(600 * time.Millisecond) // under the flood rate
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the server kept a connection that never reads")
	}
}

func TestHeaderTableSizeZero(t *testing.T) {
	// A client whose decoder keeps no dynamic table (SETTINGS_HEADER_TABLE_SIZE
	// 0): every answer must decode without one (RFC 7541 §4.2).
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Custom", "some value")
		io.WriteString(w, "ok")
	})
	rc := dialRaw(t, addr, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(0, nil)
	rc.until("SETTINGS ACK", func(f http2.Frame) bool { s, ok := f.(*http2.SettingsFrame); return ok && s.IsAck() })
	for id := uint32(1); id < 8; id += 2 {
		rc.request(id, true)
		if st, body := rc.response(id); st != "200" || body != "ok" {
			t.Fatalf("%d: %s %q", id, st, body)
		}
	}
}

func TestDataAfterOurReset(t *testing.T) {
	// The handler answers without reading the body: the server ends the
	// stream (RST_STREAM NO_ERROR, §8.1); the DATA the client had in
	// flight are ignored, not answered with STREAM_CLOSED (§5.4.2).
	_, addr := newServer(t, okHandler)
	rc := dialRaw(t, addr)
	rc.rawHeaders(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x")
	if st, body := rc.response(1); st != "200" || body != "ok" {
		t.Fatalf("%s %q", st, body)
	}
	rc.rst(1, http2.ErrCodeNo)
	for i := 0; i < 5; i++ {
		rc.fr.WriteData(1, false, []byte("late"))
	}
	rc.request(3, true)
	rc.until("the next answer", func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			t.Fatalf("RST_STREAM %v on stream %d", f.ErrCode, f.StreamID)
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		case *http2.DataFrame:
			return f.StreamID == 3 && f.StreamEnded()
		}
		return false
	})
}
