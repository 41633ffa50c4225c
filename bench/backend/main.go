// Command backend is the origin server of the side-by-side benchmark: every
// request, whatever its method, path or Host, is answered 200 with the same
// 64-byte body.
//
// HTTP/1.1 is served by a small hand-written loop (keep-alive, pipelining,
// Content-Length and chunked request bodies, Connection: close), so that the
// backend costs little of the CPU it shares with the load generator and is
// the same constant behind every proxy. A connection that starts with the
// HTTP/2 preface (cleartext, prior knowledge) is handed to net/http's server
// with unencrypted HTTP/2 enabled; it answers the same body.
//
// It runs with GOMAXPROCS=1 unless the environment sets GOMAXPROCS.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Body is the answer to every request: 64 bytes, the last a newline.
const Body = "trellis-bench-backend: a fixed 64-byte body for every request..\n"

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	grpcAddr := flag.String("grpc-addr", "", "listen address of the gRPC TestService (h2c); none when empty")
	wsAddr := flag.String("ws-addr", "", "listen address of the WebSocket echo; none when empty")
	tcpAddr := flag.String("tcp-echo-addr", "", "listen address of a raw TCP echo (the resource relay's benchmark); none when empty")
	flag.Parse()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	if len(Body) != 64 {
		log.Fatalf("body is %d bytes, want 64", len(Body))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	for _, x := range []struct {
		addr  string
		serve func(net.Listener) error
	}{{*grpcAddr, serveGRPC}, {*wsAddr, serveWS}, {*tcpAddr, serveTCPEcho}} {
		if x.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", x.addr)
		if err != nil {
			log.Fatal(err)
		}
		go func() { log.Fatal(x.serve(l)) }()
	}
	s := newServer()
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		ln.Close()
		s.h2ln.Close()
		os.Exit(0)
	}()
	fmt.Fprintf(os.Stderr, "backend: listening on %s (GOMAXPROCS=%d)\n", ln.Addr(), runtime.GOMAXPROCS(0))
	if err := s.serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Fatal(err)
	}
}

type server struct {
	h2ln *chanListener
	h2   *http.Server
}

func newServer() *server {
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	s := &server{
		h2ln: &chanListener{c: make(chan net.Conn), done: make(chan struct{})},
		h2: &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				h := w.Header()
				h["Content-Type"] = textPlain
				h["Content-Length"] = bodyLen
				_, _ = io.WriteString(w, Body)
			}),
			Protocols:         protos,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       5 * time.Minute,
		},
	}
	return s
}

var (
	textPlain = []string{"text/plain"}
	bodyLen   = []string{strconv.Itoa(len(Body))}
)

// serve accepts connections until ln is closed.
func (s *server) serve(ln net.Listener) error {
	go func() { _ = s.h2.Serve(s.h2ln) }()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		go s.handle(c)
	}
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}

// response is the complete HTTP/1.1 answer.
var response = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
	strconv.Itoa(len(Body)) + "\r\n\r\n" + Body)

var responseClose = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
	strconv.Itoa(len(Body)) + "\r\n\r\n" + Body)

var badRequest = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

func (s *server) handle(c net.Conn) {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(c)
	// HTTP/2 with prior knowledge starts with "PRI "; no HTTP/1 method does.
	if p, err := br.Peek(4); err == nil && bytes.Equal(p, h2Preface[:4]) {
		buffered, _ := br.Peek(br.Buffered())
		pre := append([]byte(nil), buffered...)
		br.Reset(nil)
		readerPool.Put(br)
		s.h2ln.give(&prefixConn{Conn: c, pre: pre})
		return
	}
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(c)
	defer func() {
		c.Close()
		br.Reset(nil)
		readerPool.Put(br)
		bw.Reset(nil)
		writerPool.Put(bw)
	}()
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		keep, err := readRequest(br)
		if err != nil {
			if errors.Is(err, errBadRequest) {
				_, _ = bw.Write(badRequest)
				_ = bw.Flush()
			}
			return
		}
		if keep {
			_, _ = bw.Write(response)
		} else {
			_, _ = bw.Write(responseClose)
		}
		// Flush once no further (pipelined) request is waiting.
		if br.Buffered() == 0 || !keep {
			if err := bw.Flush(); err != nil {
				return
			}
		}
		if !keep {
			return
		}
	}
}

var errBadRequest = errors.New("bad request")

// readRequest reads one request (line, header, body) and reports whether the
// connection stays open after the answer.
func readRequest(br *bufio.Reader) (keepAlive bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
			return false, err
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return false, errBadRequest
		}
		return false, err
	}
	line = bytes.TrimRight(line, "\r\n")
	sp := bytes.LastIndexByte(line, ' ')
	if sp < 0 || !bytes.HasPrefix(line[sp+1:], []byte("HTTP/1.")) {
		return false, errBadRequest
	}
	keepAlive = string(line[sp+1:]) == "HTTP/1.1"
	var contentLength int64
	chunked := false
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return false, errBadRequest
			}
			return false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		colon := bytes.IndexByte(h, ':')
		if colon <= 0 {
			return false, errBadRequest
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return false, errBadRequest
			}
			contentLength = n
		case asciiEqualFold(name, "transfer-encoding"):
			if !asciiEqualFold(value, "chunked") {
				return false, errBadRequest
			}
			chunked = true
		case asciiEqualFold(name, "connection"):
			switch {
			case asciiEqualFold(value, "close"):
				keepAlive = false
			case asciiEqualFold(value, "keep-alive"):
				keepAlive = true
			}
		}
	}
	if chunked {
		return keepAlive, discardChunked(br)
	}
	if contentLength > 0 {
		if _, err := br.Discard(int(contentLength)); err != nil {
			return false, err
		}
	}
	return keepAlive, nil
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return errBadRequest
		}
		if n == 0 {
			for { // trailer section
				t, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// prefixConn replays the bytes already read from a connection.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// chanListener is a net.Listener fed by the HTTP/1 accept loop with the
// connections that turned out to be HTTP/2.
type chanListener struct {
	c    chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *chanListener) give(c net.Conn) {
	select {
	case l.c <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
