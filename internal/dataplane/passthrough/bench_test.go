package passthrough

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/tlspeek"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// benchEnv is a passthrough in front of a plain TCP echo target: the relay
// does not look past the hello, so the benchmarks leave TLS's cost out and
// measure the relay's own. ServeConn is driven directly (the hello as the
// ingress would have peeked it).
func benchEnv(b *testing.B) (serve func(c net.Conn)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	h := &snapshot.Holder{}
	h.Store(fixture(ListenerProtocol, weighted{targetGroup("tg-a", addr), 1}))
	p := New(Config{Holder: h, Picker: &upstream.Picker{Registry: &upstream.Registry{}}, AccessLog: newDiscard()})
	hello := &tlspeek.Hello{ServerName: domain}
	return func(c net.Conn) { p.ServeConn(context.Background(), c, "vpc-00000000000000001", lstPort, hello, nil) }
}

type discard struct{}

func newDiscard() discard { return discard{} }

func (discard) Log(*accesslog.Entry, []*snapshot.LogSubscription, []*snapshot.LogSubscription) {}
func (discard) Tapped(string, string) bool                                                     { return false }

// pair returns a connected client and server-side conn over loopback.
func pair(b *testing.B, ln net.Listener) (client, server net.Conn) {
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	return client, <-ch
}

// BenchmarkConnection: one connection per op (dial the target, relay 64
// bytes each way, close both), with its access log record.
func BenchmarkConnection(b *testing.B) {
	serve := benchEnv(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	msg := make([]byte, 64)
	got := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		c, s := pair(b, ln)
		done := make(chan struct{})
		go func() { serve(s); close(done) }()
		c.Write(msg)
		io.ReadFull(c, got)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		c.Close()
		<-done
	}
}

// BenchmarkThroughput: 1 MiB each way per op through one connection.
func BenchmarkThroughput(b *testing.B) {
	serve := benchEnv(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, s := pair(b, ln)
	done := make(chan struct{})
	go func() { serve(s); close(done) }()
	const size = 1 << 20
	buf := make([]byte, size)
	back := make([]byte, size)
	b.SetBytes(2 * size)
	b.ReportAllocs()
	for b.Loop() {
		go c.Write(buf)
		if _, err := io.ReadFull(c, back); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	<-done
}
