package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var testLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func init() {
	if os.Getenv("H2_TEST_LOG") != "" {
		testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// serve starts s on a loopback listener, every connection handed to
// ServeConn (prior knowledge), and returns its address.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.ServeConn(c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		_ = s.Close()
	})
	return ln.Addr().String()
}

func newServer(t testing.TB, h http.HandlerFunc) (*Server, string) {
	s := NewServer(h, testLog)
	return s, serve(t, s)
}

// h2cClient is golang.org/x/net/http2's client speaking cleartext HTTP/2
// with prior knowledge.
func h2cClient(t testing.TB) *http.Client {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// rawConn is a client speaking frames by hand.
type rawConn struct {
	t   testing.TB
	nc  net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

// dialRaw opens a connection, sends the preface and SETTINGS, and reads
// the server's SETTINGS (acknowledging them).
func dialRaw(t testing.TB, addr string, settings ...http2.Setting) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	rc := &rawConn{t: t, nc: nc}
	rc.fr = http2.NewFramer(nc, nc)
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	rc.enc = hpack.NewEncoder(&rc.hb)
	if _, err := io.WriteString(nc, ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := rc.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	f, err := rc.fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}
	if err := rc.fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	return rc
}

// headerBlock encodes fields (name, value pairs).
func (rc *rawConn) headerBlock(kv ...string) []byte {
	rc.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = rc.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), rc.hb.Bytes()...)
}

// request sends a HEADERS frame for a GET of path (extra fields after).
func (rc *rawConn) request(id uint32, end bool, extra ...string) {
	rc.t.Helper()
	kv := append([]string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "example.com"}, extra...)
	if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.headerBlock(kv...),
		EndStream: end, EndHeaders: true}); err != nil {
		rc.t.Fatal(err)
	}
}

// rawHeaders sends exactly these fields.
func (rc *rawConn) rawHeaders(id uint32, end bool, kv ...string) {
	rc.t.Helper()
	if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.headerBlock(kv...),
		EndStream: end, EndHeaders: true}); err != nil {
		rc.t.Fatal(err)
	}
}

// until reads frames until match returns true, failing on a read error.
func (rc *rawConn) until(what string, match func(http2.Frame) bool) http2.Frame {
	rc.t.Helper()
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			rc.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(f) {
			return f
		}
	}
}

// goAway waits for a GOAWAY and checks its code, then that the
// connection closes.
func (rc *rawConn) goAway(code http2.ErrCode) {
	rc.t.Helper()
	f := rc.until("GOAWAY", func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if f.ErrCode != code {
		rc.t.Fatalf("GOAWAY %v, want %v", f.ErrCode, code)
	}
	rc.closed()
}

// closed checks that the server closes the connection.
func (rc *rawConn) closed() {
	rc.t.Helper()
	for {
		_, err := rc.fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				rc.t.Fatal("connection not closed")
			}
			return
		}
	}
}

// rst waits for RST_STREAM on id and checks its code.
func (rc *rawConn) rst(id uint32, code http2.ErrCode) {
	rc.t.Helper()
	f := rc.until("RST_STREAM", func(f http2.Frame) bool {
		if g, ok := f.(*http2.GoAwayFrame); ok {
			rc.t.Fatalf("GOAWAY %v while waiting for RST_STREAM", g.ErrCode)
		}
		r, ok := f.(*http2.RSTStreamFrame)
		return ok && r.StreamID == id
	}).(*http2.RSTStreamFrame)
	if f.ErrCode != code {
		rc.t.Fatalf("RST_STREAM %v, want %v", f.ErrCode, code)
	}
}

// response reads the response header of id and its body up to the end
// of the stream.
func (rc *rawConn) response(id uint32) (status string, body string) {
	rc.t.Helper()
	var b strings.Builder
	for {
		f := rc.until("response", func(f http2.Frame) bool {
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				return f.StreamID == id
			case *http2.DataFrame:
				return f.StreamID == id
			case *http2.RSTStreamFrame:
				if f.StreamID == id {
					rc.t.Fatalf("stream %d reset: %v", id, f.ErrCode)
				}
			case *http2.GoAwayFrame:
				rc.t.Fatalf("GOAWAY %v", f.ErrCode)
			}
			return false
		})
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if s := f.PseudoValue("status"); s != "" && status == "" {
				status = s
			}
			if f.StreamEnded() {
				return status, b.String()
			}
		case *http2.DataFrame:
			b.Write(f.Data())
			if f.StreamEnded() {
				return status, b.String()
			}
		}
	}
}

// noLeak fails when goroutines of this package outlive the test.
func noLeak(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			stopIdleWorkers() // shared and kept on purpose; a busy one is a leak
			buf := make([]byte, 1<<20)
			s := string(buf[:runtime.Stack(buf, true)])
			n := strings.Count(s, "internal/dataplane/h2.(*")
			if n == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines left:\n%s", s)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
