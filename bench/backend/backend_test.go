package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func startTest(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer()
	go func() { _ = s.serve(ln) }()
	t.Cleanup(func() { ln.Close(); s.h2ln.Close() })
	return ln.Addr().String()
}

func TestHTTP1KeepAlivePipeliningAndBodies(t *testing.T) {
	addr := startTest(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// Three pipelined requests: plain, with a body, chunked; then close.
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"+
		"PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := range 4 {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(b) != Body {
			t.Errorf("response %d: %d %q", i, res.StatusCode, b)
		}
		if i == 3 && !res.Close {
			t.Error("Connection: close not honoured")
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("connection still open after Connection: close (%v)", err)
	}
}

func TestH2C(t *testing.T) {
	addr := startTest(t)
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: protos}, Timeout: 5 * time.Second}
	for range 3 {
		res, err := c.Get("http://" + addr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.ProtoMajor != 2 || res.StatusCode != 200 || string(b) != Body {
			t.Errorf("%s %d %q", res.Proto, res.StatusCode, b)
		}
	}
}

func TestBadRequest(t *testing.T) {
	addr := startTest(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "NONSENSE\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 400 ") {
		t.Errorf("got %q", b)
	}
}
