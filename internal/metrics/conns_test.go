package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trellis-net/trellis/internal/dataplane/ingress"
	"github.com/trellis-net/trellis/internal/dataplane/proxy"
)

// TestConnsCountAndAllocateNothing: a connection's calls are atomic adds
// on handles resolved per socket (and per service or target group, once):
// no allocation, exact counts, and the series of a socket go with its last
// user.
func TestConnsCountAndAllocateNothing(t *testing.T) {
	m := New()
	c := m.Conns
	snap, _, tg, _ := world(1)
	s := c.Socket("vpc-1", 443)
	s.TLSHandshake("svc-0a", true) // resolves the service's handles
	c.TargetConn(tg, proxy.DialConnected)
	allocs := testing.AllocsPerRun(1000, func() {
		s.Opened()
		s.TLSHandshake("svc-0a", true)
		s.Protocol(ingress.ProtoHTTP2)
		s.Closed()
		c.TargetConn(tg, proxy.DialConnected)
	})
	if allocs != 0 {
		t.Fatalf("a connection's observation allocates %.1f times; want 0", allocs)
	}
	s.Opened()
	s.Protocol(ingress.ProtoHTTP1)
	s.TLSHandshake("", false)
	c.TargetConn(tg, proxy.DialFailed)
	c.TargetConn(tg, proxy.DialTimedOut)
	for _, x := range []struct {
		name      string
		got, want float64
	}{
		{"http2", testutil.ToFloat64(c.conns.WithLabelValues("vpc-1", "443", "http2")), 1001},
		{"http1", testutil.ToFloat64(c.conns.WithLabelValues("vpc-1", "443", "http1")), 1},
		{"active", testutil.ToFloat64(c.active.WithLabelValues("vpc-1", "443")), 1},
		{"tls ok", testutil.ToFloat64(c.handshakes.WithLabelValues("vpc-1", "443", "svc-0a", "ok")), 1002},
		{"tls error no service", testutil.ToFloat64(c.handshakes.WithLabelValues("vpc-1", "443", "", "error")), 1},
		{"target connected", testutil.ToFloat64(c.targets.WithLabelValues("tg-0ip", "connected")), 1002},
		{"target error", testutil.ToFloat64(c.targets.WithLabelValues("tg-0ip", "error")), 1},
		{"target timeout", testutil.ToFloat64(c.targets.WithLabelValues("tg-0ip", "timeout")), 1},
	} {
		if x.got != x.want {
			t.Errorf("%s: %v, want %v", x.name, x.got, x.want)
		}
	}

	// A second socket of the same VPC and port (the successor of a
	// draining one) shares the series; they go with the last one.
	s2 := c.Socket("vpc-1", 443)
	s.Done()
	if n := testutil.CollectAndCount(c.active); n != 1 {
		t.Fatalf("active series after the first socket's Done: %d, want 1", n)
	}
	s2.Done()
	for name, n := range map[string]int{"connections": testutil.CollectAndCount(c.conns),
		"active": testutil.CollectAndCount(c.active), "handshakes": testutil.CollectAndCount(c.handshakes)} {
		if n != 0 {
			t.Errorf("%s series after the last socket's Done: %d", name, n)
		}
	}
	// A target group that leaves the snapshot takes its series along.
	tgs := snap.TargetGroups.Edit()
	tgs.Delete(tg.ID)
	snap.TargetGroups = tgs.Table()
	m.Snapshot.Published(snap, 0, 0)
	if n := testutil.CollectAndCount(c.targets); n != 0 {
		t.Errorf("target connection series of a deleted group: %d", n)
	}
}
