package health

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Sync looks only at the target groups that are not the objects it saw
// last (the incremental compile shares the others): a shared group's
// targets are not touched, a copy of it (same content, new object) is
// classified again, and a group that left stops being probed.
func TestSyncLooksOnlyAtChangedGroups(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	off := healthCheck(func(hc *model.HealthCheckConfig) { hc.Enabled = ptr(false) })
	x := ipTarget("tg-off", netip.MustParseAddrPort("127.0.0.1:1"))
	tgOff := ipGroup("tg-off", off, x)
	probed := ipTarget("tg-1", b.addr)
	tg1 := ipGroup("tg-1", healthCheck(nil), probed)
	h.publish(snap(1, tgOff, tg1))
	h.wantStatus("tg-off", x, "UNAVAILABLE", "")
	h.waitStatus("tg-1", probed, "HEALTHY")
	p1 := h.prober(probed.Key)

	// Something marks the unchecked target HEALTHY behind the checker's
	// back: a Sync that reclassified tg-off would set it UNAVAILABLE again.
	h.reg.Get(x.Key).SetHealth(upstream.HealthHealthy, "")
	y := ipTarget("tg-2", netip.MustParseAddrPort("127.0.0.1:2"))
	h.publish(snap(2, tgOff, tg1, ipGroup("tg-2", off, y)))
	h.wantStatus("tg-off", x, "HEALTHY", "") // shared: not looked at
	h.wantStatus("tg-2", y, "UNAVAILABLE", "")
	if h.prober(probed.Key) != p1 {
		t.Fatal("a shared group's prober restarted")
	}

	// A copy of tg-off is another object: classified again.
	cp := *tgOff
	h.publish(snap(3, &cp, tg1, ipGroup("tg-2", off, y)))
	h.wantStatus("tg-off", x, "UNAVAILABLE", "")
	if h.prober(probed.Key) != p1 {
		t.Fatal("an unchanged group's prober restarted")
	}

	// tg-1 leaves: its prober stops.
	h.publish(snap(4, &cp, ipGroup("tg-2", off, y)))
	if h.prober(probed.Key) != nil || h.proberCount() != 0 {
		t.Fatalf("%d probers after the probed group left, want 0", h.proberCount())
	}
	if len(h.c.groups) != 2 {
		t.Fatalf("the checker remembers %d groups, want 2", len(h.c.groups))
	}
	// And comes back as a new group: probed again.
	n := b.count()
	h.publish(snap(5, &cp, tg1))
	eventually(t, "a probe of the group back in the snapshot", func() bool { return b.count() > n })
	if h.proberCount() != 1 || len(h.c.groups) != 2 {
		t.Fatalf("probers %d, groups %d, want 1 and 2", h.proberCount(), len(h.c.groups))
	}
}

// Sync follows the snapshots' history (snapshot.Link): the groups changed
// in every snapshot since the one it last saw, also those of snapshots
// the coalescing channel skipped; a group the history does not name is
// not looked at; and without a history it compares every group.
func TestSyncFollowsSnapshotHistory(t *testing.T) {
	h := newHarness(t, nil)
	off := healthCheck(func(hc *model.HealthCheckConfig) { hc.Enabled = ptr(false) })
	x := ipTarget("tg-x", netip.MustParseAddrPort("127.0.0.1:1"))
	y := ipTarget("tg-y", netip.MustParseAddrPort("127.0.0.1:2"))
	tgX, tgY := ipGroup("tg-x", off, x), ipGroup("tg-y", off, y)
	s1 := snap(1, tgX, tgY)
	snapshot.Link(s1, nil, nil, nil)
	h.publish(s1)
	h.wantStatus("tg-x", x, "UNAVAILABLE", "")
	h.wantStatus("tg-y", y, "UNAVAILABLE", "")

	// Something marks both HEALTHY behind the checker's back: a group
	// Sync classifies again goes back to UNAVAILABLE.
	tamper := func() {
		h.reg.Get(x.Key).SetHealth(upstream.HealthHealthy, "")
		h.reg.Get(y.Key).SetHealth(upstream.HealthHealthy, "")
	}
	tamper()
	// s2 changes tg-x, s3 changes tg-y; Sync sees only s3.
	cpX, cpY := *tgX, *tgY
	s2 := snap(2, &cpX, tgY)
	snapshot.Link(s2, s1, []string{"tg-x"}, nil)
	h.holder.Store(s2)
	s3 := snap(3, &cpX, &cpY)
	snapshot.Link(s3, s2, []string{"tg-y"}, nil)
	h.publish(s3)
	h.wantStatus("tg-x", x, "UNAVAILABLE", "") // changed in the skipped s2
	h.wantStatus("tg-y", y, "UNAVAILABLE", "")

	// A snapshot whose history names nothing: tg-y is a new object the
	// history does not name, so Sync does not look at it (which proves
	// it follows the history rather than comparing every group).
	tamper()
	cpY2 := cpY
	s4 := snap(4, &cpX, &cpY2)
	snapshot.Link(s4, s3, nil, nil)
	h.publish(s4)
	h.wantStatus("tg-y", y, "HEALTHY", "")

	// Without a history (a full compile), every group is compared.
	s5 := snap(5, &cpX, &cpY2)
	snapshot.Link(s5, nil, nil, nil)
	h.publish(s5)
	h.wantStatus("tg-x", x, "HEALTHY", "") // the same objects: nothing to do
	h.wantStatus("tg-y", y, "UNAVAILABLE", "")

	// A snapshot not descending from the last one Sync saw (another
	// compiler's): compared whole as well.
	tamper()
	cpX2 := cpX
	s6 := snap(6, &cpX2, &cpY2)
	snapshot.Link(s6, s1, []string{"tg-y"}, nil)
	h.publish(s6)
	h.wantStatus("tg-x", x, "UNAVAILABLE", "")
}

// countingNet is a network that dials from the host's and counts the dials:
// what the checker sees of a VPC namespace made (or made again) while its
// target groups stay the same.
type countingNet struct{ dials atomic.Int64 }

func (n *countingNet) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return vpcnet.Host.Listen(ctx, network, address)
}

func (n *countingNet) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return vpcnet.Host.ListenPacket(ctx, network, address)
}

func (n *countingNet) Dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	n.dials.Add(1)
	return vpcnet.Host.Dial(ctx, d, network, address)
}

// A VPC whose network changes restarts the probing of its groups even
// though the groups are the same objects; the groups of other VPCs keep
// their probers, and the client of a network no probe uses any more goes.
func TestNetworkChangeRestartsUnchangedGroups(t *testing.T) {
	var mu sync.Mutex
	nets := map[string]vpcnet.Net{}
	h := newHarness(t, func(c *Config) {
		c.Net = func(id string) vpcnet.Net {
			mu.Lock()
			defer mu.Unlock()
			return nets[id]
		}
	})
	setNet := func(vpc string, n vpcnet.Net) {
		mu.Lock()
		defer mu.Unlock()
		if n == nil {
			delete(nets, vpc)
		} else {
			nets[vpc] = n
		}
	}
	clients := func() int {
		h.c.mu.Lock()
		defer h.c.mu.Unlock()
		return len(h.c.netClients)
	}
	b := newBackend(t, plainHTTP)
	ta, tb := ipTarget("tg-a", b.addr), ipTarget("tg-b", b.addr)
	ga, gb := ipGroup("tg-a", healthCheck(nil), ta), ipGroup("tg-b", healthCheck(nil), tb)
	ga.VpcID, gb.VpcID = "vpc-0000000000000000a", "vpc-0000000000000000b"
	s := snap(1, ga, gb)
	h.publish(s)
	h.waitStatus("tg-a", ta, "HEALTHY")
	h.waitStatus("tg-b", tb, "HEALTHY")
	pa, pb := h.prober(ta.Key), h.prober(tb.Key)

	// vpc-a's namespace appears; the snapshot is the same.
	na := new(countingNet)
	setNet(ga.VpcID, na)
	h.publish(s)
	if h.prober(ta.Key) == pa {
		t.Fatal("a new network for vpc-a did not restart its group's probing")
	}
	if h.prober(tb.Key) != pb {
		t.Fatal("vpc-a's new network restarted vpc-b's probing")
	}
	eventually(t, "a probe dialed from vpc-a's new network", func() bool { return na.dials.Load() > 0 })
	h.wantStatus("tg-a", ta, "HEALTHY", "") // the status survives the restart
	if n := clients(); n != 1 {
		t.Fatalf("%d network clients, want 1", n)
	}

	// Nothing changed: nothing restarts.
	pa = h.prober(ta.Key)
	h.publish(s)
	if h.prober(ta.Key) != pa || h.prober(tb.Key) != pb {
		t.Fatal("a Sync with nothing changed restarted a prober")
	}

	// The namespace goes: back to the host's network, and its client goes.
	setNet(ga.VpcID, nil)
	h.publish(s)
	if h.prober(ta.Key) == pa {
		t.Fatal("losing vpc-a's network did not restart its group's probing")
	}
	if n := clients(); n != 0 {
		t.Fatalf("%d network clients after the network went, want 0", n)
	}
	dials := na.dials.Load()
	n := b.count()
	eventually(t, "a probe from the host's network", func() bool { return b.count() > n+1 })
	// Sync waited for the checks in flight of the probers it stopped: no
	// dial from the old network after it returned.
	if d := na.dials.Load(); d != dials {
		t.Errorf("%d dials from vpc-a's old network after it went", d-dials)
	}
}

// BenchmarkCheckerSyncOneChange measures a Sync after a write that changed
// one target group, with 10,000 groups of 10 targets (checks off, as in
// the scale benchmarks of internal/app, and on for one group in ten,
// not in use): "one" shares the 9,999 others with the previous
// snapshot and says which group changed (snapshot.Link), as the
// incremental compile does; "one-scan" is the same snapshot without that
// history, which Sync finds by comparing every group's pointer (what it
// did before issue 15's snapshot history); "all" makes every group a new
// object (a full compile), which Sync reclassifies. Issue 15: "one" must
// not grow with the configuration.
//
//	go test -run x -bench CheckerSyncOneChange -benchtime 50x ./internal/dataplane/health/
func BenchmarkCheckerSyncOneChange(b *testing.B) {
	const groups, perGroup = 10000, 10
	off := healthCheck(func(hc *model.HealthCheckConfig) { hc.Enabled = ptr(false) })
	on := healthCheck(nil)
	mk := func(g int) *snapshot.TargetGroup {
		id := fmt.Sprintf("tg-%05d", g)
		targets := make([]*snapshot.Target, perGroup)
		for i := range targets {
			targets[i] = ipTarget(id, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(g >> 8), byte(g), byte(i + 1)}), 8080))
		}
		tg := ipGroup(id, off, targets...)
		if g%10 == 0 {
			tg.HealthCheck, tg.InUse = on, false
		}
		return tg
	}
	tgs := make([]*snapshot.TargetGroup, groups)
	for g := range tgs {
		tgs[g] = mk(g)
	}
	for _, mode := range []string{"one", "one-scan", "all"} {
		b.Run(mode, func(b *testing.B) {
			holder := new(snapshot.Holder)
			first := snap(1, tgs...)
			snapshot.Link(first, nil, nil, nil)
			holder.Store(first)
			c := New(Config{Holder: holder, Registry: new(upstream.Registry), Logger: slog.New(slog.DiscardHandler)})
			defer c.Close()
			c.Sync()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				prev := holder.Load()
				next := &snapshot.Snapshot{Revision: int64(i + 2), Region: prev.Region}
				e := prev.TargetGroups.Edit()
				var changed []string
				if mode == "all" {
					for g := range tgs {
						cp := *tgs[g]
						e.Set(cp.ID, &cp)
					}
				} else {
					// The previous change stays in the next snapshot.
					g := i % groups
					cp := *tgs[g]
					tgs[g] = &cp
					e.Set(cp.ID, &cp)
					changed = []string{cp.ID}
				}
				next.TargetGroups = e.Table()
				if mode == "one" {
					snapshot.Link(next, prev, changed, nil)
				} else {
					snapshot.Link(next, nil, nil, nil)
				}
				holder.Store(next)
				b.StartTimer()
				c.Sync()
			}
		})
	}
}
