package passthrough

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// The resource relay (ServeResource) against the same loopback echo server
// reached directly: Connection is one connection per op (64 bytes each
// way, half-close, close; for the relay also its dial and access-log
// record, written to a discarding logger), Throughput 1 MiB each way per
// op through one connection. The relay's share is the difference.

// resourceBench returns the echo server's address and a function serving
// an accepted conn as the ingress would hand it to the relay.
func resourceBench(b *testing.B) (string, func(c net.Conn)) {
	port := echoAt(b, "127.0.0.1:0", "")
	at := netip.MustParseAddr("129.224.0.10")
	h := &snapshot.Holder{}
	h.Store(resourceSnap(&snapshot.Resource{ConfigurationID: "rcfg-a", ConfigurationARN: latticeARN("resourceconfiguration", "rcfg-a"),
		Addr: at, Port: port, Address: "127.0.0.1"}))
	p := New(Config{Holder: h, AccessLog: discardResources{}})
	ap := netip.AddrPortFrom(at, uint16(port))
	return "127.0.0.1:" + strconv.Itoa(port), func(c net.Conn) {
		p.ServeResource(context.Background(), c, "vpc-00000000000000001", ap)
	}
}

type discardResources struct{ discard }

func (discardResources) LogResource(*accesslog.ResourceEntry, []*snapshot.LogSubscription) {}

func connOnce(b *testing.B, c net.Conn, msg, got []byte) {
	if _, err := c.Write(msg); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil {
		b.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	c.Close()
}

func BenchmarkResourceConnection(b *testing.B) {
	msg, got := make([]byte, 64), make([]byte, 64)
	b.Run("relay", func(b *testing.B) {
		_, serve := resourceBench(b)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		b.ReportAllocs()
		for b.Loop() {
			c, s := pair(b, ln)
			done := make(chan struct{})
			go func() { serve(s); close(done) }()
			connOnce(b, c, msg, got)
			<-done
		}
	})
	b.Run("direct", func(b *testing.B) {
		addr, _ := resourceBench(b)
		b.ReportAllocs()
		for b.Loop() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			connOnce(b, c, msg, got)
		}
	})
}

func BenchmarkResourceThroughput(b *testing.B) {
	const size = 1 << 20
	run := func(b *testing.B, c net.Conn) {
		buf, back := make([]byte, size), make([]byte, size)
		b.SetBytes(2 * size)
		b.ReportAllocs()
		for b.Loop() {
			go c.Write(buf)
			if _, err := io.ReadFull(c, back); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("relay", func(b *testing.B) {
		_, serve := resourceBench(b)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		c, s := pair(b, ln)
		done := make(chan struct{})
		go func() { serve(s); close(done) }()
		run(b, c)
		c.Close()
		<-done
	})
	b.Run("direct", func(b *testing.B) {
		addr, _ := resourceBench(b)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
		c.Close()
	})
}
