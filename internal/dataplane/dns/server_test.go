package dns

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

const (
	acct     = "111122223333"
	ordersDN = "orders-0a1b2c3d4e5f60718.abc1234.vpc-lattice-svcs.us-east-1.on.aws"
	hiddenDN = "hidden-0a1b2c3d4e5f60719.abc1234.vpc-lattice-svcs.us-east-1.on.aws"
)

// world is a state: VPC prod (127.0.0.1) reaches orders (with custom domain
// Orders.Example.com) through network prod; VPC dev (127.0.0.2) is
// associated with network dev, which holds hidden; VPC six has an IPv6
// ingress and reaches orders too. orders is in prod only unless inDev.
func world(inDev bool) *snapshot.State {
	meta := func(id string) model.Meta {
		return model.Meta{ID: id, ARN: "arn:aws:vpc-lattice:us-east-1:" + acct + ":x/" + id, Account: acct}
	}
	st := &snapshot.State{Revision: 7,
		ServiceNetworks: []*model.ServiceNetwork{{Meta: meta("sn-prod"), Name: "prod"}, {Meta: meta("sn-dev"), Name: "dev"}},
		Services: []*model.Service{
			{Meta: meta("svc-orders"), Name: "orders", CustomDomainName: "Orders.Example.com", DNS: &model.DNSEntry{DomainName: ordersDN}},
			{Meta: meta("svc-hidden"), Name: "hidden", DNS: &model.DNSEntry{DomainName: hiddenDN}},
		},
		SNSAs: []*model.ServiceNetworkServiceAssociation{
			{ServiceNetworkID: "sn-prod", ServiceID: "svc-orders"},
			{ServiceNetworkID: "sn-dev", ServiceID: "svc-hidden"},
		},
		SNVAs: []*model.ServiceNetworkVpcAssociation{
			{Meta: model.Meta{Account: acct}, ServiceNetworkID: "sn-prod", VpcID: "vpc-prod"},
			{Meta: model.Meta{Account: acct}, ServiceNetworkID: "sn-dev", VpcID: "vpc-dev"},
			{Meta: model.Meta{Account: acct}, ServiceNetworkID: "sn-prod", VpcID: "vpc-six"},
		},
		VPCs: []*model.VPC{
			{ID: "vpc-prod", Account: acct, Mode: "host", IngressAddress: "127.0.0.1"},
			{ID: "vpc-dev", Account: acct, Mode: "host", IngressAddress: "127.0.0.2"},
			{ID: "vpc-six", Account: acct, Mode: "host", IngressAddress: "::1"},
		},
	}
	if inDev {
		st.SNSAs = append(st.SNSAs, &model.ServiceNetworkServiceAssociation{ServiceNetworkID: "sn-dev", ServiceID: "svc-orders"})
	}
	return st
}

func compile(st *snapshot.State) *snapshot.Snapshot {
	return snapshot.Compile(st, snapshot.Options{Region: "us-east-1"})
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// upstream runs a resolver on 127.0.0.1 (UDP and TCP on one port) that
// answers up.example. with one A record and many.example. with 100.
func upstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skipf("cannot bind TCP on the upstream's UDP port: %v", err)
	}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		q := r.Question[0]
		n := 0
		switch q.Name {
		case "up.example.":
			n = 1
		case "many.example.":
			n = 100
		default:
			m.Rcode = mdns.RcodeNameError
		}
		for i := 0; i < n && q.Qtype == mdns.TypeA; i++ {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 300},
				A: net.IPv4(192, 0, 2, byte(i+1))})
		}
		if o := r.IsEdns0(); o != nil {
			m.SetEdns0(o.UDPSize(), false)
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncate(udpSize(r))
		}
		_ = w.WriteMsg(m)
	})
	us := &mdns.Server{PacketConn: pc, Handler: h}
	ts := &mdns.Server{Listener: ln, Handler: h}
	go us.ActivateAndServe()
	go ts.ActivateAndServe()
	t.Cleanup(func() { us.Shutdown(); ts.Shutdown() })
	return pc.LocalAddr().String()
}

// start runs a Server on port 0 (each VPC gets its own port on its
// ingress address) and returns it with its holder and change channel.
func start(t *testing.T, st *snapshot.State, upstreams []string) (*Server, *snapshot.Holder, chan struct{}) {
	t.Helper()
	h := &snapshot.Holder{}
	h.Store(compile(st))
	ch := make(chan struct{}, 1)
	s := New(Config{Holder: h, Changes: ch, Port: 0, Upstreams: upstreams, TTL: 5 * time.Second, Logger: quiet()})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s, h, ch
}

func addrOf(t *testing.T, s *Server, vpc string) string {
	t.Helper()
	a := s.Addrs()[vpc]
	if a == nil {
		t.Fatalf("no DNS for %s: %v", vpc, s.Addrs())
	}
	return a.String()
}

func query(t *testing.T, network, addr, name string, qtype uint16, edns uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	c := &mdns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil && r == nil {
		t.Fatalf("%s %s %s: %v", network, name, mdns.TypeToString[qtype], err)
	}
	return r
}

func aRecords(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch r := rr.(type) {
		case *mdns.A:
			out = append(out, r.A.String())
		case *mdns.AAAA:
			out = append(out, r.AAAA.String())
		}
	}
	return out
}

func TestAnswers(t *testing.T) {
	up := upstream(t)
	s, _, _ := start(t, world(false), []string{up})
	prod, dev, six := addrOf(t, s, "vpc-prod"), addrOf(t, s, "vpc-dev"), addrOf(t, s, "vpc-six")
	for _, tc := range []struct {
		name   string
		addr   string
		q      string
		qtype  uint16
		rcode  int
		want   []string
		aa, ns bool // authoritative; an SOA in the authority section
	}{
		{"generated name", prod, ordersDN + ".", mdns.TypeA, mdns.RcodeSuccess, []string{"127.0.0.1"}, true, false},
		{"case-insensitive", prod, "ORDERS-0a1b2c3d4e5f60718.ABC1234.vpc-lattice-svcs.US-EAST-1.on.aws.", mdns.TypeA, mdns.RcodeSuccess, []string{"127.0.0.1"}, true, false},
		{"custom domain", prod, "orders.example.com.", mdns.TypeA, mdns.RcodeSuccess, []string{"127.0.0.1"}, true, false},
		{"AAAA of an IPv4 ingress is NODATA", prod, "orders.example.com.", mdns.TypeAAAA, mdns.RcodeSuccess, nil, true, true},
		{"TXT is NODATA", prod, ordersDN + ".", mdns.TypeTXT, mdns.RcodeSuccess, nil, true, true},
		{"IPv6 ingress answers AAAA", six, "orders.example.com.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"::1"}, true, false},
		{"IPv6 ingress: A is NODATA", six, "orders.example.com.", mdns.TypeA, mdns.RcodeSuccess, nil, true, true},
		{"a service of another network", prod, hiddenDN + ".", mdns.TypeA, mdns.RcodeNameError, nil, true, true},
		{"a custom domain the VPC does not reach", dev, "orders.example.com.", mdns.TypeA, mdns.RcodeNameError, nil, true, true},
		{"unknown name in the Lattice zone", prod, "nope.abc1234.vpc-lattice-svcs.us-east-1.on.aws.", mdns.TypeA, mdns.RcodeNameError, nil, true, true},
		{"the Lattice zone itself", prod, "vpc-lattice-svcs.us-east-1.on.aws.", mdns.TypeA, mdns.RcodeNameError, nil, true, true},
		{"dev reaches hidden", dev, hiddenDN + ".", mdns.TypeA, mdns.RcodeSuccess, []string{"127.0.0.2"}, true, false},
		{"forwarded", prod, "up.example.", mdns.TypeA, mdns.RcodeSuccess, []string{"192.0.2.1"}, false, false},
		{"forwarded NXDOMAIN", prod, "gone.example.", mdns.TypeA, mdns.RcodeNameError, nil, false, false},
		{"a subdomain of a custom domain is not ours", prod, "x.orders.example.com.", mdns.TypeA, mdns.RcodeNameError, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, network := range []string{"udp", "tcp"} {
				r := query(t, network, tc.addr, tc.q, tc.qtype, 0)
				if r.Rcode != tc.rcode || r.Authoritative != tc.aa || fmt.Sprint(aRecords(r)) != fmt.Sprint(tc.want) {
					t.Fatalf("%s: rcode %s aa %v answers %v; want %s %v %v\n%v", network, mdns.RcodeToString[r.Rcode], r.Authoritative,
						aRecords(r), mdns.RcodeToString[tc.rcode], tc.aa, tc.want, r)
				}
				if tc.aa && len(r.Answer) > 0 && (r.Answer[0].Header().Ttl != 5 || r.Answer[0].Header().Name != tc.q) {
					t.Errorf("%s: answer header %v, want TTL 5 and the question's name", network, r.Answer[0].Header())
				}
				if hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == mdns.TypeSOA; tc.ns != hasSOA {
					t.Errorf("%s: authority %v, want an SOA: %v", network, r.Ns, tc.ns)
				}
				if tc.ns && r.Ns[0].(*mdns.SOA).Minttl != 5 {
					t.Errorf("%s: SOA minimum %d, want the TTL 5", network, r.Ns[0].(*mdns.SOA).Minttl)
				}
			}
		})
	}
}

func TestRefusedWithoutUpstreams(t *testing.T) {
	s, _, _ := start(t, world(false), nil)
	prod := addrOf(t, s, "vpc-prod")
	r := query(t, "udp", prod, "up.example.", mdns.TypeA, 0)
	if r.Rcode != mdns.RcodeRefused || r.RecursionAvailable {
		t.Fatalf("rcode %s ra %v, want REFUSED without RA", mdns.RcodeToString[r.Rcode], r.RecursionAvailable)
	}
	// Names Trellis owns are still answered.
	if r := query(t, "udp", prod, "orders.example.com.", mdns.TypeA, 0); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("custom domain: %v", r)
	}
}

func TestUpstreamDown(t *testing.T) {
	// A port nothing listens on: every exchange fails, the client gets SERVFAIL.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	h := &snapshot.Holder{}
	h.Store(compile(world(false)))
	s := New(Config{Holder: h, Port: 0, Upstreams: []string{dead}, ForwardTimeout: 300 * time.Millisecond, Logger: quiet()})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	r := query(t, "udp", addrOf(t, s, "vpc-prod"), "up.example.", mdns.TypeA, 0)
	if r.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
}

func TestTruncationAndEDNS(t *testing.T) {
	up := upstream(t)
	s, _, _ := start(t, world(false), []string{up})
	prod := addrOf(t, s, "vpc-prod")

	// 100 A records are 1,600+ bytes: over plain UDP (512) the answer is cut
	// and marked TC; over TCP it is whole.
	r := query(t, "udp", prod, "many.example.", mdns.TypeA, 0)
	r.Compress = true // Len then counts the bytes as they came
	if !r.Truncated || len(r.Answer) >= 100 || r.Len() > 512 {
		t.Fatalf("plain UDP: tc %v, %d answers, %d bytes; want TC, cut to 512", r.Truncated, len(r.Answer), r.Len())
	}
	r = query(t, "tcp", prod, "many.example.", mdns.TypeA, 0)
	if r.Truncated || len(r.Answer) != 100 {
		t.Fatalf("TCP: tc %v, %d answers; want all 100", r.Truncated, len(r.Answer))
	}
	// EDNS0: the client's 4096-byte buffer holds them all; the OPT record
	// is echoed.
	r = query(t, "udp", prod, "many.example.", mdns.TypeA, 4096)
	if r.Truncated || len(r.Answer) != 100 || r.IsEdns0() == nil {
		t.Fatalf("EDNS0 4096: tc %v, %d answers, opt %v; want all 100 with OPT", r.Truncated, len(r.Answer), r.IsEdns0())
	}
	// A 1000-byte buffer is honoured: cut, TC, within 1000 bytes.
	r = query(t, "udp", prod, "many.example.", mdns.TypeA, 1000)
	r.Compress = true
	if !r.Truncated || r.Len() > 1000 || len(r.Answer) < 30 {
		t.Fatalf("EDNS0 1000: tc %v, %d bytes, %d answers", r.Truncated, r.Len(), len(r.Answer))
	}
	// Our own answers echo OPT too, advertising our size.
	r = query(t, "udp", prod, "orders.example.com.", mdns.TypeA, 1400)
	if o := r.IsEdns0(); o == nil || o.UDPSize() != ednsSize || len(r.Answer) != 1 {
		t.Fatalf("own answer with EDNS0: %v", r)
	}
	// An EDNS version we do not speak is BADVERS (RFC 6891 §6.1.3).
	m := new(mdns.Msg)
	m.SetQuestion("orders.example.com.", mdns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	r, _, err := (&mdns.Client{Timeout: 5 * time.Second}).Exchange(m, prod)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeBadVers {
		t.Fatalf("EDNS version 1: rcode %s, want BADVERS", mdns.RcodeToString[r.Rcode])
	}
}

func TestMalformedQuestions(t *testing.T) {
	s, _, _ := start(t, world(false), nil)
	prod := addrOf(t, s, "vpc-prod")
	c := &mdns.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		name  string
		msg   func() *mdns.Msg
		rcode int
	}{
		{"no question", func() *mdns.Msg { m := new(mdns.Msg); m.Id = 1; return m }, mdns.RcodeFormatError},
		{"two questions", func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetQuestion("orders.example.com.", mdns.TypeA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}, mdns.RcodeFormatError},
		{"NOTIFY", func() *mdns.Msg { m := new(mdns.Msg); m.SetNotify("orders.example.com."); return m }, mdns.RcodeNotImplemented},
		{"class CHAOS", func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetQuestion("orders.example.com.", mdns.TypeTXT)
			m.Question[0].Qclass = mdns.ClassCHAOS
			return m
		}, mdns.RcodeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, err := c.Exchange(tc.msg(), prod)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tc.rcode || len(r.Answer) != 0 {
				t.Fatalf("rcode %s answers %v, want %s", mdns.RcodeToString[r.Rcode], r.Answer, mdns.RcodeToString[tc.rcode])
			}
		})
	}
}

// poll retries f until it holds or the deadline passes.
func poll(t *testing.T, within time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestAnswersFollowTheSnapshot(t *testing.T) {
	s, h, ch := start(t, world(false), nil)
	dev := addrOf(t, s, "vpc-dev")
	if r := query(t, "udp", dev, "orders.example.com.", mdns.TypeA, 0); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("before the association: %s", mdns.RcodeToString[r.Rcode])
	}
	// orders joins dev's network: dev now resolves it, within 100 ms.
	h.Store(compile(world(true)))
	ch <- struct{}{}
	poll(t, 100*time.Millisecond, "dev resolves orders after the association", func() bool {
		r := query(t, "udp", dev, "orders.example.com.", mdns.TypeA, 0)
		return r.Rcode == mdns.RcodeSuccess && fmt.Sprint(aRecords(r)) == "[127.0.0.2]"
	})
	// And back.
	h.Store(compile(world(false)))
	ch <- struct{}{}
	poll(t, 100*time.Millisecond, "dev gets NXDOMAIN after the disassociation", func() bool {
		return query(t, "udp", dev, "orders.example.com.", mdns.TypeA, 0).Rcode == mdns.RcodeNameError
	})
}

func TestSocketsFollowTheSnapshot(t *testing.T) {
	st := world(false)
	st.VPCs = st.VPCs[:1] // prod only
	s, h, ch := start(t, st, nil)
	if got := len(s.Addrs()); got != 1 {
		t.Fatalf("%d resolvers, want 1", got)
	}
	h.Store(compile(world(false)))
	ch <- struct{}{}
	poll(t, 10*time.Second, "resolvers of the new VPCs open", func() bool { return len(s.Addrs()) == 3 })
	dev := addrOf(t, s, "vpc-dev")
	if r := query(t, "udp", dev, hiddenDN+".", mdns.TypeA, 0); len(r.Answer) != 1 {
		t.Fatalf("new VPC's resolver: %v", r)
	}
	h.Store(compile(st))
	ch <- struct{}{}
	poll(t, 10*time.Second, "the deleted VPCs' resolvers close", func() bool { return len(s.Addrs()) == 1 })
	// Its socket is closed: nothing answers there any more.
	c := &mdns.Client{Net: "tcp", Timeout: time.Second}
	m := new(mdns.Msg)
	m.SetQuestion(hiddenDN+".", mdns.TypeA)
	if _, _, err := c.Exchange(m, dev); err == nil {
		t.Fatal("a deleted VPC's resolver still answers over TCP")
	}
}

// busyPortFreeOnLoopback holds a UDP port on 127.0.0.2 that is free (UDP
// and TCP) on 127.0.0.1 when it returns: the kernel picks the port for
// 127.0.0.2 alone, and another test may hold it on 127.0.0.1 (this failed
// once in a full parallel run), so the port is checked and picked again.
func busyPortFreeOnLoopback(t *testing.T) (net.PacketConn, int) {
	t.Helper()
	for range 50 {
		busy, err := net.ListenPacket("udp", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		port := busy.LocalAddr().(*net.UDPAddr).Port
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		u, uerr := net.ListenPacket("udp", addr)
		l, lerr := net.Listen("tcp", addr)
		if u != nil {
			u.Close()
		}
		if l != nil {
			l.Close()
		}
		if uerr == nil && lerr == nil {
			return busy, port
		}
		busy.Close()
	}
	t.Fatal("no port free on 127.0.0.1 to be held on 127.0.0.2")
	return nil, 0
}

func TestListenFailureIsNotFatal(t *testing.T) {
	// Another socket holds prod's address and port: Start logs and keeps
	// the other VPCs' resolvers.
	busy, port := busyPortFreeOnLoopback(t)
	defer busy.Close()
	h := &snapshot.Holder{}
	h.Store(compile(world(false)))
	s := New(Config{Holder: h, Port: port, Logger: quiet(),
		Listen: func(ctx context.Context, v *snapshot.VPC, port int) (net.PacketConn, net.Listener, error) {
			if v.ID == "vpc-six" {
				return nil, nil, fmt.Errorf("no IPv6 here")
			}
			return HostListen(ctx, v, port)
		}})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	addrs := s.Addrs()
	if len(addrs) != 1 || addrs["vpc-prod"] == nil {
		t.Fatalf("resolvers %v, want prod only", addrs)
	}
	if want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String(); addrs["vpc-prod"].String() != want {
		t.Fatalf("prod listens on %v, want %s", addrs["vpc-prod"], want)
	}
}

// A question name near the 255-byte limit still gets an answer within 512
// bytes over UDP without TC (own answers are not truncated: answer's
// Compress comment says why they fit).
func TestLongNameFits512(t *testing.T) {
	label := strings.Repeat("a", 63)
	// A service with a custom domain of 253 characters that prod does not
	// reach: its NXDOMAIN carries an SOA owned by the whole name.
	long := label + "." + label + "." + label + "." + strings.Repeat("e", 57) + ".com"
	st := world(false)
	st.Services = append(st.Services, &model.Service{Meta: model.Meta{ID: "svc-long", Account: acct}, Name: "long", CustomDomainName: long})
	s, _, _ := start(t, st, nil)
	prod := addrOf(t, s, "vpc-prod")
	if r := query(t, "tcp", prod, long+".", mdns.TypeA, 0); r.Rcode != mdns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Name != long+"." {
		t.Fatalf("long custom domain: %v", r)
	}
	for _, name := range []string{
		long + ".",
		label + "." + label + "." + label + "." + strings.Repeat("b", 20) + ".vpc-lattice-svcs.us-east-1.on.aws.", // NXDOMAIN + SOA
		strings.Repeat("c", 60) + "." + label + "." + label + "." + strings.Repeat("d", 50) + ".example.",         // REFUSED
	} {
		for _, n := range []int{198, 203, 204, len(name)} {
			q := name[len(name)-n:]
			if q[0] == '.' {
				q = "x" + q[1:]
			}
			m := new(mdns.Msg)
			m.SetQuestion(q, mdns.TypeTXT)
			m.SetEdns0(512, false)
			b, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("udp", prod)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write(b); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 65535)
			got, err := conn.Read(buf)
			conn.Close()
			if err != nil {
				t.Fatalf("%d-byte name: %v", len(q), err)
			}
			var r mdns.Msg
			if err := r.Unpack(buf[:got]); err != nil {
				t.Fatal(err)
			}
			if got > 512 || r.Truncated {
				t.Fatalf("%d-byte name: %d-byte answer, tc %v", len(q), got, r.Truncated)
			}
		}
	}
}
