package metrics

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// scaleWorld is a snapshot of n services, each forwarding to its own
// target group, reachable from 10 VPCs, as the incremental compiler
// numbers them (snapshot.Link).
func scaleWorld(n int) *snapshot.Snapshot {
	names, hosts, svcs := map[string]*snapshot.Service{}, map[string]*snapshot.Service{}, map[string]*snapshot.Service{}
	tgs := map[string]*snapshot.TargetGroup{}
	for i := range n {
		tg := &snapshot.TargetGroup{ID: fmt.Sprintf("tg-%05d", i), Upstream: snapshot.UpstreamH1}
		svc := serviceTo(fmt.Sprintf("svc-%05d", i), fmt.Sprintf("svc%d.example", i), tg)
		names[svc.DNSName+"."], hosts[svc.DNSName], svcs[svc.ID], tgs[tg.ID] = svc, svc, svc, tg
	}
	snap := &snapshot.Snapshot{Revision: 1, ServiceNames: snapshot.TableOf(names), Services: snapshot.TableOf(svcs),
		TargetGroups: snapshot.TableOf(tgs), VPCs: map[string]*snapshot.VPC{}}
	for v := range 10 {
		id := fmt.Sprintf("vpc-%d", v)
		snap.VPCs[id] = &snapshot.VPC{ID: id, Hosts: snapshot.TableOf(hosts)}
	}
	snapshot.Link(snap, nil, nil, nil)
	return snap
}

func serviceTo(id, name string, tg *snapshot.TargetGroup) *snapshot.Service {
	return &snapshot.Service{ID: id, DNSName: name, Listeners: map[int]*snapshot.Listener{80: {Rules: []*snapshot.Rule{
		{IsDefault: true, Action: snapshot.Action{Forward: []snapshot.WeightedTargetGroup{{TargetGroup: tg, Weight: 1}}}}}}}}
}

// next is prev with service i replaced (forwarding to a new object of its
// group), as the incremental compile makes it; drop also removes service
// j and its group.
func next(prev *snapshot.Snapshot, i, drop int) *snapshot.Snapshot {
	s := *prev
	s.Revision++
	names, svcs, tgs := prev.ServiceNames.Edit(), prev.Services.Edit(), prev.TargetGroups.Edit()
	id, tgID := fmt.Sprintf("svc-%05d", i), fmt.Sprintf("tg-%05d", i)
	old := prev.Services.Get(id)
	tg := *prev.TargetGroups.Get(tgID)
	svc := serviceTo(id, old.DNSName, &tg)
	names.Set(svc.DNSName+".", svc)
	svcs.Set(id, svc)
	tgs.Set(tgID, &tg)
	changedSvcs, changedTGs := []string{id}, []string{tgID}
	var gone *snapshot.Service
	if drop >= 0 {
		gone = prev.Services.Get(fmt.Sprintf("svc-%05d", drop))
		names.Delete(gone.DNSName + ".")
		svcs.Delete(gone.ID)
		tgs.Delete(fmt.Sprintf("tg-%05d", drop))
		changedSvcs, changedTGs = append(changedSvcs, gone.ID), append(changedTGs, fmt.Sprintf("tg-%05d", drop))
	}
	s.ServiceNames, s.Services, s.TargetGroups = names.Table(), svcs.Table(), tgs.Table()
	s.VPCs = map[string]*snapshot.VPC{}
	for vid, v := range prev.VPCs {
		nv := *v
		h := v.Hosts.Edit()
		h.Set(svc.DNSName, svc)
		if gone != nil {
			h.Delete(gone.DNSName)
		}
		nv.Hosts = h.Table()
		s.VPCs[vid] = &nv
	}
	snapshot.Link(&s, prev, changedTGs, changedSvcs)
	return &s
}

// Binding a snapshot from its history gives the pairs a full bind gives,
// and deletes the series of a service and a group that left; without a
// history (or across skipped snapshots) it is still right.
func TestBindFollowsSnapshotHistory(t *testing.T) {
	keys := func(d *DataPlane) []pairKey { return slices.Collect(maps.Keys(d.table.Load().pairs)) }
	same := func(t *testing.T, got, want []pairKey) {
		t.Helper()
		g, w := map[pairKey]bool{}, map[pairKey]bool{}
		for _, k := range got {
			g[k] = true
		}
		for _, k := range want {
			w[k] = true
		}
		if !maps.Equal(g, w) {
			t.Fatalf("bound %d pairs, a full bind %d", len(g), len(w))
		}
	}
	full := func(snap *snapshot.Snapshot) []pairKey {
		m := New()
		cp := *snap
		cp.Seq = 0 // no history: Bind walks everything
		m.DataPlane.Bind(&cp)
		// The table is keyed by the objects, which the copy shares.
		return keys(m.DataPlane)
	}
	m := New()
	d := m.DataPlane
	s1 := scaleWorld(20)
	m.Snapshot.Published(s1, time.Millisecond, 0)
	d.RequestDone(observation(s1, "svc-00003", "tg-00003"))
	d.RequestDone(observation(s1, "svc-00007", "tg-00007"))
	// Bound: no service, and per service itself and its group; 5 classes.
	series := func(want int) {
		t.Helper()
		if n := testutil.CollectAndCount(d.requests); n != want*5 {
			t.Fatalf("%d request series, want %d (%d pairs)", n, want*5, want)
		}
	}
	gone := func(svc, tg string) {
		t.Helper()
		for id := range d.byID {
			if id.svc == svc || id.tg == tg {
				t.Fatalf("the series of %v remain after %s and %s left", id, svc, tg)
			}
		}
	}
	series(1 + 2*20)
	s2 := next(s1, 5, 7) // service 5 changes, service 7 and its group go
	m.Snapshot.Published(s2, time.Millisecond, 0)
	same(t, keys(d), full(s2))
	series(1 + 2*19)
	gone("svc-00007", "tg-00007")
	// Two snapshots, the first not bound (skipped): still the union.
	s3 := next(s2, 3, 3)
	s4 := next(s3, 9, -1)
	m.Snapshot.Published(s4, time.Millisecond, 0)
	same(t, keys(d), full(s4))
	series(1 + 2*18)
	gone("svc-00003", "tg-00003")
	if d.table.Load().pairs[pairKey{s4.Services.Get("svc-00009"), s4.TargetGroups.Get("tg-00009")}] == nil {
		t.Fatal("the changed service's pair is not bound")
	}
}

func observation(snap *snapshot.Snapshot, svc, tg string) proxy.Observation {
	return proxy.Observation{Snap: snap, Service: snap.Services.Get(svc), TargetGroup: snap.TargetGroups.Get(tg), Status: 200}
}

// BenchmarkPublishedScale is what metrics do when a snapshot is published
// (Snapshot.Published: Bind and the health prune) in an installation of
// 10,000 services, each forwarding to its own target group, reachable
// from 10 VPCs, one service changed per snapshot: "history" binds from the
// snapshot's history (as after an incremental compile), "full" walks every
// service of every VPC (as after a full compile; what every snapshot cost
// before issue 15's history: about 25-30 ms on the shared 2-core machine,
// on the watcher's loop).
//
//	go test -run x -bench PublishedScale -benchtime 20x ./internal/metrics/
func BenchmarkPublishedScale(b *testing.B) {
	for _, mode := range []string{"history", "full"} {
		b.Run(mode, func(b *testing.B) {
			snap := scaleWorld(10000)
			m := New()
			m.Snapshot.Published(snap, time.Millisecond, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				snap = next(snap, i%10000, -1)
				pub := snap
				if mode == "full" {
					cp := *snap
					cp.Seq = 0
					pub = &cp
				}
				b.StartTimer()
				m.Snapshot.Published(pub, time.Millisecond, 0)
			}
		})
	}
}
