package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// BenchmarkPublishedScale is what metrics do when a snapshot is published
// (Snapshot.Published: Bind and the health prune) in an installation of
// 10,000 services, each forwarding to its own target group, reachable
// from 10 VPCs: with metrics on, every snapshot pays it, on the watcher's
// compile loop (issue 15: about 25-30 ms on the shared 2-core machine,
// more than the whole incremental compile; Bind walks every service of
// every VPC and rebuilds its table of pairs — not yet incremental).
//
//	go test -run x -bench PublishedScale ./internal/metrics/
func BenchmarkPublishedScale(b *testing.B) {
	const n = 10000
	names := map[string]*snapshot.Service{}
	tgs := map[string]*snapshot.TargetGroup{}
	for i := range n {
		tg := &snapshot.TargetGroup{ID: fmt.Sprintf("tg-%05d", i), Upstream: snapshot.UpstreamH1}
		svc := &snapshot.Service{ID: fmt.Sprintf("svc-%05d", i), Listeners: map[int]*snapshot.Listener{80: {Rules: []*snapshot.Rule{
			{IsDefault: true, Action: snapshot.Action{Forward: []snapshot.WeightedTargetGroup{{TargetGroup: tg, Weight: 1}}}}}}}}
		names[fmt.Sprintf("svc%d.example.", i)] = svc
		tgs[tg.ID] = tg
	}
	hosts := map[string]*snapshot.Service{}
	for k, v := range names {
		hosts[k[:len(k)-1]] = v
	}
	snap := &snapshot.Snapshot{Revision: 1, ServiceNames: snapshot.TableOf(names), TargetGroups: snapshot.TableOf(tgs), VPCs: map[string]*snapshot.VPC{}}
	for v := range 10 {
		id := fmt.Sprintf("vpc-%d", v)
		snap.VPCs[id] = &snapshot.VPC{ID: id, Hosts: snapshot.TableOf(hosts)}
	}
	m := New()
	m.Snapshot.Published(snap, time.Millisecond, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		next := *snap
		next.Revision = int64(i + 2)
		m.Snapshot.Published(&next, time.Millisecond, 0)
	}
}
