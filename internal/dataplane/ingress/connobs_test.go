package ingress

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// countingConns is a ConnObserver that counts what it is told.
type countingConns struct {
	sockets, done  atomic.Int64
	opened, closed atomic.Int64
	protos         [4]atomic.Int64
	mu             sync.Mutex
	handshakes     map[hsKey]int
}

type hsKey struct {
	svc string
	ok  bool
}

func (c *countingConns) Socket(string, int) SocketConns { c.sockets.Add(1); return c }
func (c *countingConns) Opened()                        { c.opened.Add(1) }
func (c *countingConns) Closed()                        { c.closed.Add(1) }
func (c *countingConns) Protocol(p ConnProto)           { c.protos[p].Add(1) }
func (c *countingConns) Done()                          { c.done.Add(1) }
func (c *countingConns) TLSHandshake(svc string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handshakes == nil {
		c.handshakes = map[hsKey]int{}
	}
	c.handshakes[hsKey{svc, ok}]++
}

// TestConnObserver: every admitted connection is Opened and Closed once
// and counted under the protocol it turned out to carry; a connection
// that opens like TLS but is no ClientHello is a failed handshake; the
// socket is Done when it closes.
func TestConnObserver(t *testing.T) {
	obs := &countingConns{}
	e := newEnv(t, func(c *Config) {
		c.ConnObserver = obs
		// TLS is terminated (with no certificate: every handshake fails).
		c.TLS = func(string, int) *tls.Config { return &tls.Config{} }
	})
	ip := nextIngress()
	port := freePort(t, ip)
	e.publish(snapshotOf(vpcAt("vpc-0a000000000000001", ip, port)))
	dst := netip.AddrPortFrom(ip, uint16(port))
	from := netip.MustParseAddr("127.0.0.1")
	for i := 0; i < 3; i++ {
		if body, err := rawGet(t, from, dst, "svc.example"); err != nil || body == "" {
			t.Fatalf("HTTP/1.1: %v %q", err, body)
		}
	}
	// h2c prior knowledge: the preface and an empty SETTINGS frame, then
	// the server's SETTINGS back.
	c, err := net.Dial("tcp", dst.String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	var hdr [9]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[3] != 4 {
		t.Fatalf("h2c: no SETTINGS: %v %x", err, hdr)
	}
	c.Close()
	// A TLS handshake record that holds no ClientHello (a ServerHello's
	// type): not TLS the server can take.
	c, err = net.Dial("tcp", dst.String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00})
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.ReadAll(c)
	c.Close()

	eventuallyTrue(t, func() bool { return obs.closed.Load() == 5 })
	if n := obs.opened.Load(); n != 5 {
		t.Errorf("opened %d, want 5", n)
	}
	for p, want := range map[ConnProto]int64{ProtoHTTP1: 3, ProtoHTTP2: 1, ProtoNone: 1, ProtoPassthrough: 0} {
		if got := obs.protos[p].Load(); got != want {
			t.Errorf("%s connections: %d, want %d", p, got, want)
		}
	}
	obs.mu.Lock()
	if got := obs.handshakes[hsKey{}]; got != 1 || len(obs.handshakes) != 1 {
		t.Errorf("handshakes %v, want one failed without a service", obs.handshakes)
	}
	obs.mu.Unlock()
	// The socket goes: Done once.
	e.publish(snapshotOf())
	eventuallyTrue(t, func() bool { return obs.done.Load() == 1 })
	if n := obs.sockets.Load(); n != 1 {
		t.Errorf("Socket called %d times, want 1", n)
	}
}

// TestConnHooksAllocateNothing: the dispatcher's hooks, the SNI's service
// resolution included, add no allocation to a connection.
func TestConnHooksAllocateNothing(t *testing.T) {
	svc := &snapshot.Service{ID: "svc-0a"}
	v := vpcAt("vpc-0a000000000000001", netip.MustParseAddr("127.0.0.1"), 443)
	v.Hosts = snapshot.TableOf(map[string]*snapshot.Service{"a.example": svc})
	h := new(snapshot.Holder)
	h.Store(snapshotOf(v))
	obs := &countingConns{handshakes: map[hsKey]int{}}
	d := &dispatcher{vpcID: v.ID, port: 443, conns: obs, holder: h}
	if got := d.sniService("a.example"); got != "svc-0a" {
		t.Fatalf("SNI a.example resolves to %q", got)
	}
	if got := d.sniService("b.example"); got != "" {
		t.Fatalf("SNI b.example resolves to %q", got)
	}
	d.handshake("a.example", true) // the map entry exists from now on
	allocs := testing.AllocsPerRun(1000, func() {
		obs.Opened()
		d.handshake("a.example", true)
		d.proto(ProtoHTTP2)
		obs.Closed()
	})
	if allocs != 0 {
		t.Fatalf("the connection hooks allocate %.1f times; want 0", allocs)
	}
}
