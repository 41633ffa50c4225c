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
// snapshot, as the incremental compile does; "all" makes every group a new
// object (a full compile), which Sync reclassifies. Issue 15: the first
// must not grow with the configuration.
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
	for _, mode := range []string{"one", "all"} {
		b.Run(mode, func(b *testing.B) {
			holder := new(snapshot.Holder)
			holder.Store(snap(1, tgs...))
			c := New(Config{Holder: holder, Registry: new(upstream.Registry), Logger: slog.New(slog.DiscardHandler)})
			defer c.Close()
			c.Sync()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				next := snap(int64(i+2), tgs...)
				if mode == "all" {
					for g := range tgs {
						cp := *tgs[g]
						next.TargetGroups[cp.ID] = &cp
					}
				} else {
					// The previous change stays in the next snapshot.
					g := i % groups
					cp := *tgs[g]
					tgs[g] = &cp
					next.TargetGroups[cp.ID] = &cp
				}
				holder.Store(next)
				b.StartTimer()
				c.Sync()
			}
		})
	}
}
