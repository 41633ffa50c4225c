package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func FuzzH1Response(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n1\r\na\r\n0\r\nX: y\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nEtag: x\r\n\r\n",
		"HTTP/1.1 200\r\nx-a:  b \r\nX-A: c\r\n\r\nbody",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		c := &Conn{br: bufio.NewReaderSize(bytes.NewReader(data), h1BufSize)}
		res, err := c.readResponse(method)
		if err != nil {
			return
		}
		ours, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		std, err := httpReadResponse(data, method)
		if err != nil {
			return
		}
		stdBody, err := io.ReadAll(io.LimitReader(std.Body, 1<<20))
		if err != nil {
			return
		}
		if std.StatusCode != res.StatusCode || std.ProtoMinor != res.ProtoMinor {
			t.Fatalf("status: ours %d HTTP/1.%d, net/http %d HTTP/1.%d", res.StatusCode, res.ProtoMinor, std.StatusCode, std.ProtoMinor)
		}
		if !bytes.Equal(ours, stdBody) {
			t.Fatalf("body: ours %q, net/http %q", ours, stdBody)
		}
		for k, v := range res.Header {
			if k == "Content-Length" || k == "Transfer-Encoding" {
				continue // framing: net/http may drop or normalise them (the proxy drops Transfer-Encoding)
			}
			if sv := std.Header[k]; strings.Join(sv, "\x00") != strings.Join(v, "\x00") {
				t.Fatalf("header %q: ours %q, net/http %q", k, v, sv)
			}
		}
	})
}

func httpReadResponse(data []byte, method string) (*http.Response, error) {
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 100 && res.StatusCode < 200 {
		return nil, errors.New("informational")
	}
	return res, nil
}

// upConn notes written bytes and sees a target's close, reset or stray
// bytes, on real sockets.
func TestUpConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *net.TCPConn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c.(*net.TCPConn)
		}
	}()
	dial := func() (*Conn, *net.TCPConn) {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c := &Conn{nc: newUpConn(nc)}
		t.Cleanup(func() { nc.Close() })
		return c, <-accepted
	}
	eventually := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			time.Sleep(time.Millisecond)
		}
	}

	c, srv := dial()
	u := upConnOf(c)
	if u.written.Load() || peerClosed(c) {
		t.Fatal("a new open connection: written or closed")
	}
	if _, err := u.Write([]byte("GET / HTTP/1.1\r\n")); err != nil || !u.written.Load() {
		t.Fatalf("write: %v, written=%v", err, u.written.Load())
	}
	srv.Close() // FIN
	eventually("the target's close unseen", func() bool { return peerClosed(c) })

	c, srv = dial()
	srv.SetLinger(0)
	srv.Close() // RST
	eventually("the target's reset unseen", func() bool { return peerClosed(c) })
	// The reset arrived: a write fails and writes nothing.
	u = upConnOf(c)
	u.written.Store(false)
	if n, err := u.Write([]byte("x")); err == nil || n != 0 || u.written.Load() {
		t.Fatalf("write after a reset: n=%d err=%v written=%v", n, err, u.written.Load())
	}

	c, srv = dial()
	srv.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")) // nobody asked
	eventually("stray bytes unseen", func() bool { return peerClosed(c) })
	if n := testing.AllocsPerRun(50, func() { peerClosed(c) }); n != 0 {
		t.Fatalf("peerClosed allocates %v times", n)
	}
}
