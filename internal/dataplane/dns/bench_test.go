package dns

import (
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// BenchmarkAnswer answers one A query for a reachable name in-process
// (handler only, no socket): what a query costs Trellis besides the
// kernel and miekg/dns's wire codec. docs/benchmarks.md has the numbers.
func BenchmarkAnswer(b *testing.B) {
	h := &snapshot.Holder{}
	h.Store(compile(world(false)))
	s := New(Config{Holder: h, Port: 0, Logger: quiet()})
	vh := &vpcHandler{a: &s.h, vpc: "vpc-prod"}
	req := new(mdns.Msg)
	req.SetQuestion("orders.example.com.", mdns.TypeA)
	check := &fakeWriter{udp: true}
	vh.ServeDNS(check, req)
	if len(check.written) != 1 || len(check.written[0].Answer) != 1 {
		b.Fatalf("answer: %v", check.written)
	}
	w := &fakeWriter{udp: true, discard: true}
	b.ReportAllocs()
	for b.Loop() {
		vh.ServeDNS(w, req)
	}
}

// BenchmarkAnswerWire adds packing the answer, as the server does before
// it writes.
func BenchmarkAnswerWire(b *testing.B) {
	h := &snapshot.Holder{}
	h.Store(compile(world(false)))
	s := New(Config{Holder: h, Port: 0, Logger: quiet()})
	vh := &vpcHandler{a: &s.h, vpc: "vpc-prod"}
	req := new(mdns.Msg)
	req.SetQuestion("orders.example.com.", mdns.TypeA)
	w := &fakeWriter{udp: true, buf: make([]byte, 512)}
	b.ReportAllocs()
	for b.Loop() {
		vh.ServeDNS(w, req)
	}
}

// TestAnswerAllocs holds the resolver's own answers to no allocation:
// the reply, its records and its OPT come from a pool. (miekg/dns's server
// allocates to read and pack; that is outside this budget.)
func TestAnswerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	h := &snapshot.Holder{}
	h.Store(compile(world(false)))
	s := New(Config{Holder: h, Port: 0, Logger: quiet()})
	for _, tc := range []struct {
		name, vpc, q string
		qtype        uint16
		edns         bool
	}{
		{"A", "vpc-prod", "Orders.Example.com.", mdns.TypeA, false},
		{"A with EDNS0", "vpc-prod", "orders.example.com.", mdns.TypeA, true},
		{"AAAA", "vpc-six", "orders.example.com.", mdns.TypeAAAA, true},
		{"NODATA", "vpc-prod", "orders.example.com.", mdns.TypeTXT, false},
		{"NXDOMAIN", "vpc-prod", hiddenDN + ".", mdns.TypeA, true},
		{"REFUSED", "vpc-prod", "up.example.", mdns.TypeA, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vh := &vpcHandler{a: &s.h, vpc: tc.vpc}
			req := new(mdns.Msg)
			req.SetQuestion(tc.q, tc.qtype)
			if tc.edns {
				req.SetEdns0(1232, true)
			}
			w := &fakeWriter{udp: true, discard: true}
			if n := testing.AllocsPerRun(200, func() { vh.ServeDNS(w, req) }); n != 0 {
				t.Errorf("%v allocations per answer, want 0", n)
			}
		})
	}
}
