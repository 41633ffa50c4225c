package passthrough

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// echoAt runs a TCP server at addr that answers each connection with its
// tag, then echoes; it returns the port.
func echoAt(tb testing.TB, addr, tag string) int {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
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
				defer c.Close()
				if tag != "" {
					io.WriteString(c, tag)
				}
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// resourceSnap is a client VPC reaching each resource (sorted as the
// compile sorts them) through one network with a RESOURCE log.
func resourceSnap(rs ...*snapshot.Resource) *snapshot.Snapshot {
	sn := &snapshot.ServiceNetwork{ID: "sn-1", ARN: latticeARN("servicenetwork", "sn-1"),
		ResourceAccessLogs: []*snapshot.LogSubscription{{ID: "als-1", Resource: true}}}
	for _, r := range rs {
		r.Network = sn
	}
	vpc := &snapshot.VPC{ID: "vpc-00000000000000001", ARN: "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-00000000000000001",
		Ingress: netip.MustParseAddr("127.171.0.1"), ServiceNetwork: sn, Resources: rs}
	return &snapshot.Snapshot{VPCs: map[string]*snapshot.VPC{vpc.ID: vpc}}
}

type resourceLog struct {
	mu     sync.Mutex
	got    []accesslog.ResourceEntry
	tapped string // the network ARN someone taps
}

func (l *resourceLog) Log(*accesslog.Entry, []*snapshot.LogSubscription, []*snapshot.LogSubscription) {
}

func (l *resourceLog) Tapped(_, sn string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return sn != "" && sn == l.tapped
}

func (l *resourceLog) LogResource(e *accesslog.ResourceEntry, _ []*snapshot.LogSubscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, *e)
}

// TestServeResourceByAddress: two configurations on one port, each at its
// own address in the VPC: a connection accepted at an address goes to
// that address's configuration (no "first takes the port"), and its record
// names it with destinationIpPort the address it was accepted at; an
// address no configuration has dials nothing.
func TestServeResourceByAddress(t *testing.T) {
	port := echoAt(t, "127.0.0.2:0", "a:")
	if p := echoAt(t, "127.0.0.3:"+strconv.Itoa(port), "b:"); p != port {
		t.Fatal("port mismatch")
	}
	a, b := netip.MustParseAddr("129.224.0.10"), netip.MustParseAddr("129.224.0.20")
	ra := &snapshot.Resource{ConfigurationID: "rcfg-a", ConfigurationARN: latticeARN("resourceconfiguration", "rcfg-a"), Addr: a, Port: port, Address: "127.0.0.2"}
	rb := &snapshot.Resource{ConfigurationID: "rcfg-b", ConfigurationARN: latticeARN("resourceconfiguration", "rcfg-b"), Addr: b, Port: port, Address: "127.0.0.3"}
	h := &snapshot.Holder{}
	h.Store(resourceSnap(ra, rb))
	logs := &resourceLog{}
	p := New(Config{Holder: h, AccessLog: logs, DialTimeout: 2 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	relay := func(at netip.Addr) string {
		c, s := pairT(t, ln)
		defer c.Close()
		done := make(chan struct{})
		go func() {
			p.ServeResource(context.Background(), s, "vpc-00000000000000001", netip.AddrPortFrom(at, uint16(port)))
			close(done)
		}()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "x")
		c.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(c)
		<-done
		return string(got)
	}
	if got := relay(a); got != "a:x" {
		t.Errorf("at %v: %q, want rcfg-a's server", a, got)
	}
	if got := relay(b); got != "b:x" {
		t.Errorf("at %v: %q, want rcfg-b's server", b, got)
	}
	if got := relay(netip.MustParseAddr("129.224.0.30")); got != "" {
		t.Errorf("at an address of no configuration: %q", got)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.got) != 2 || logs.got[0].ResourceConfigurationARN != ra.ConfigurationARN || logs.got[1].ResourceConfigurationARN != rb.ConfigurationARN {
		t.Fatalf("records %+v", logs.got)
	}
}

func pairT(t *testing.T, ln net.Listener) (client, server net.Conn) {
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return client, <-ch
}

// TestServeResourceTapped: a network with no RESOURCE subscription but a
// live tap still gets each connection's record (for `trellis logs tail`);
// with neither, none is made.
func TestServeResourceTapped(t *testing.T) {
	port := echoAt(t, "127.0.0.2:0", "")
	at := netip.MustParseAddr("129.224.0.10")
	r := &snapshot.Resource{ConfigurationID: "rcfg-a", ConfigurationARN: latticeARN("resourceconfiguration", "rcfg-a"), Addr: at, Port: port, Address: "127.0.0.2"}
	snap := resourceSnap(r)
	r.Network.ResourceAccessLogs = nil
	h := &snapshot.Holder{}
	h.Store(snap)
	logs := &resourceLog{}
	p := New(Config{Holder: h, AccessLog: logs, DialTimeout: 2 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	once := func() {
		c, s := pairT(t, ln)
		done := make(chan struct{})
		go func() {
			p.ServeResource(context.Background(), s, "vpc-00000000000000001", netip.AddrPortFrom(at, uint16(port)))
			close(done)
		}()
		c.(*net.TCPConn).CloseWrite()
		io.ReadAll(c)
		c.Close()
		<-done
	}
	once()
	logs.mu.Lock()
	if len(logs.got) != 0 {
		t.Fatalf("records without subscriptions or taps: %+v", logs.got)
	}
	logs.tapped = r.Network.ARN
	logs.mu.Unlock()
	once()
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.got) != 1 || logs.got[0].ResourceConfigurationARN != r.ConfigurationARN {
		t.Fatalf("records with a tap: %+v", logs.got)
	}
}
