package dns

import (
	"net"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// fakeWriter captures what the handler writes: like the server's writer it
// packs the message before WriteMsg returns (the handler reuses it after),
// and keeps what a client would unpack. discard only counts.
type fakeWriter struct {
	udp     bool
	discard bool
	n       int
	written []*mdns.Msg
	wire    [][]byte
	buf     []byte
}

var (
	fakeUDP = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	fakeTCP = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
)

func (w *fakeWriter) LocalAddr() net.Addr { return fakeUDP }
func (w *fakeWriter) RemoteAddr() net.Addr {
	if w.udp {
		return fakeUDP
	}
	return fakeTCP
}
func (w *fakeWriter) WriteMsg(m *mdns.Msg) error {
	w.n++
	if w.discard {
		return nil
	}
	b, err := m.PackBuffer(w.buf)
	if err != nil {
		return err
	}
	if w.buf != nil {
		return nil // packing only (BenchmarkAnswerWire)
	}
	back := new(mdns.Msg)
	if err := back.Unpack(b); err != nil {
		return err
	}
	w.written = append(w.written, back)
	w.wire = append(w.wire, append([]byte(nil), b...))
	return nil
}
func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *fakeWriter) Close() error                { return nil }
func (w *fakeWriter) TsigStatus() error           { return nil }
func (w *fakeWriter) TsigTimersOnly(bool)         {}
func (w *fakeWriter) Hijack()                     {}

var _ mdns.ResponseWriter = (*fakeWriter)(nil)

// FuzzServeDNS feeds arbitrary wire messages to the handler, as the server
// does after unpacking them: no panic, and either no answer or one that
// packs, answers the query's ID, and fits the client's UDP buffer.
func FuzzServeDNS(f *testing.F) {
	for _, seed := range []struct {
		name  string
		qtype uint16
		edns  uint16
	}{
		{ordersDN + ".", mdns.TypeA, 0}, {"ORDERS.example.com.", mdns.TypeAAAA, 1232}, {hiddenDN + ".", mdns.TypeA, 0},
		{"x.vpc-lattice-svcs.us-east-1.on.aws.", mdns.TypeANY, 512}, {"up.example.", mdns.TypeA, 0}, {".", mdns.TypeNS, 4096},
	} {
		m := new(mdns.Msg)
		m.SetQuestion(seed.name, seed.qtype)
		if seed.edns > 0 {
			m.SetEdns0(seed.edns, true)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	h := &snapshot.Holder{}
	h.Store(compile(world(false)))
	// No upstreams: a forwarded name is REFUSED, so the fuzzer never
	// touches the network.
	s := New(Config{Holder: h, Port: 0, Logger: quiet()})
	f.Fuzz(func(t *testing.T, wire []byte, udp bool) {
		req := new(mdns.Msg)
		if err := req.Unpack(wire); err != nil {
			return // the server drops what does not unpack
		}
		if req.Response {
			return // the server's MsgAcceptFunc drops responses
		}
		for _, vpc := range []string{"vpc-prod", "vpc-six", "vpc-gone"} {
			w := &fakeWriter{udp: udp}
			(&vpcHandler{a: &s.h, vpc: vpc}).ServeDNS(w, req)
			if w.n > 1 {
				t.Fatalf("%d answers to one query", w.n)
			}
			if w.n != len(w.written) {
				t.Fatalf("an answer that does not pack and unpack: %d written, %d good", w.n, len(w.written))
			}
			for i, m := range w.written {
				if m.Id != req.Id || !m.Response {
					t.Fatalf("answer id %d response %v to query %d", m.Id, m.Response, req.Id)
				}
				if udp && len(w.wire[i]) > udpSize(req) {
					t.Fatalf("UDP answer of %d bytes for a %d-byte buffer", len(w.wire[i]), udpSize(req))
				}
			}
		}
	})
}
