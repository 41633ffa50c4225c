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
	w := &fakeWriter{udp: true}
	b.ReportAllocs()
	for b.Loop() {
		w.written = w.written[:0]
		vh.ServeDNS(w, req)
	}
	if len(w.written) != 1 || len(w.written[0].Answer) != 1 {
		b.Fatalf("answer: %v", w.written)
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
	w := &fakeWriter{udp: true}
	buf := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		w.written = w.written[:0]
		vh.ServeDNS(w, req)
		if _, err := w.written[0].PackBuffer(buf); err != nil {
			b.Fatal(err)
		}
	}
}
