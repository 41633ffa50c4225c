package snapshot_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// bigState builds, in memory, the state of an installation with nsvc
// services, each with one HTTP listener whose default rule forwards to its
// own target group of tpg IP targets, all in one service network that ten
// VPCs are associated with.
func bigState(nsvc, tpg int) *snapshot.State {
	st := &snapshot.State{Revision: 1}
	acct := "111122223333"
	sn := &model.ServiceNetwork{Meta: model.Meta{ID: "sn-00000000000000001", ARN: "arn:aws:vpc-lattice:us-east-1:" + acct + ":servicenetwork/sn-00000000000000001", Account: acct},
		Name: "big", AuthType: model.AuthTypeNone}
	st.ServiceNetworks = append(st.ServiceNetworks, sn)
	for v := 0; v < 10; v++ {
		id := fmt.Sprintf("vpc-%017x", v+1)
		st.VPCs = append(st.VPCs, &model.VPC{ID: id, ARN: "arn:aws:ec2:us-east-1:" + acct + ":vpc/" + id, Account: acct,
			Mode: model.VPCModeHost, IngressAddress: fmt.Sprintf("127.171.0.%d", v+1)})
		// Made by the VPC's owner: an association another account made
		// joins nothing (issue 10).
		st.SNVAs = append(st.SNVAs, &model.ServiceNetworkVpcAssociation{Meta: model.Meta{ID: fmt.Sprintf("snva-%017x", v+1), Account: acct},
			ServiceNetworkID: sn.ID, VpcID: id})
	}
	port := 80
	for i := 0; i < nsvc; i++ {
		svcID := fmt.Sprintf("svc-%017x", i+1)
		tgID := fmt.Sprintf("tg-%017x", i+1)
		lID := fmt.Sprintf("listener-%017x", i+1)
		svcARN := "arn:aws:vpc-lattice:us-east-1:" + acct + ":service/" + svcID
		st.Services = append(st.Services, &model.Service{Meta: model.Meta{ID: svcID, ARN: svcARN, Account: acct},
			Name: fmt.Sprintf("svc%d", i), AuthType: model.AuthTypeNone,
			DNS: &model.DNSEntry{DomainName: fmt.Sprintf("svc%d-%s.abc1234.vpc-lattice-svcs.us-east-1.on.aws", i, svcID[4:])}})
		st.TargetGroups = append(st.TargetGroups, &model.TargetGroup{Meta: model.Meta{ID: tgID, ARN: "arn:aws:vpc-lattice:us-east-1:" + acct + ":targetgroup/" + tgID, Account: acct},
			Type: model.TargetGroupTypeIP, Config: &model.TargetGroupConfig{Port: &port, Protocol: "HTTP", ProtocolVersion: "HTTP1",
				VpcIdentifier: "vpc-00000000000000001", HealthCheck: &model.HealthCheckConfig{}}})
		for j := 0; j < tpg; j++ {
			st.Targets = append(st.Targets, &model.Target{TargetGroupID: tgID, ID: fmt.Sprintf("127.%d.%d.%d", 1+i/250, i%250, j+1), Port: 8080})
		}
		st.Listeners = append(st.Listeners, &model.Listener{Meta: model.Meta{ID: lID, ARN: svcARN + "/listener/" + lID},
			ServiceID: svcID, Name: "web", Protocol: "HTTP", Port: 80})
		w := 1
		st.Rules = append(st.Rules, &model.Rule{Meta: model.Meta{ID: fmt.Sprintf("rule-%017x", i+1)}, ServiceID: svcID, ListenerID: lID,
			Name: "default", IsDefault: true, Action: model.RuleAction{Forward: &model.ForwardAction{
				TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: tgID, Weight: &w}}}}})
		st.SNSAs = append(st.SNSAs, &model.ServiceNetworkServiceAssociation{Meta: model.Meta{ID: fmt.Sprintf("snsa-%017x", i+1)},
			ServiceNetworkID: sn.ID, ServiceID: svcID})
	}
	return st
}

// BenchmarkCompileScale compiles 10,000 services and 100,000 targets and
// reports the heap the snapshot keeps.
func BenchmarkCompileScale(b *testing.B) {
	for _, sc := range []struct{ svcs, tpg int }{{1, 10}, {1000, 10}, {10000, 10}} {
		b.Run(fmt.Sprintf("services=%d/targets=%d", sc.svcs, sc.svcs*sc.tpg), func(b *testing.B) {
			st := bigState(sc.svcs, sc.tpg)
			o := snapshot.Options{Region: "us-east-1", Now: time.Now(), DrainTime: time.Minute}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			keep := snapshot.Compile(st, o)
			runtime.GC()
			runtime.ReadMemStats(&after)
			if keep.VPCs["vpc-00000000000000001"].Hosts.Len() != sc.svcs {
				b.Fatalf("hosts %d", keep.VPCs["vpc-00000000000000001"].Hosts.Len())
			}
			kept := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				keep = snapshot.Compile(st, o)
			}
			runtime.KeepAlive(keep)
			b.ReportMetric(kept, "snapshot-MiB") // after ResetTimer, which drops reported metrics
		})
	}
}

// BenchmarkCompileRSS is the full compile of an installation of 10,000
// services and 100,000 targets, and of 100,000 services and 1,000,000
// targets (skipped with -short), with what it costs in memory: heap-MiB is
// the heap in use after a GC while the state and one snapshot are held
// (what a node holds, less the store's own copy), snapshot-MiB the
// snapshot's share of it, and maxrss-MiB the process's peak resident size
// (getrusage), which includes the garbage of the compiles: run each size
// in its own process, so that one's peak is not the other's.
//
//	go test -run x -bench 'CompileRSS/services=10000$' -benchtime 3x ./internal/snapshot/
//	go test -run x -bench 'CompileRSS/services=100000$' -benchtime 1x ./internal/snapshot/
func BenchmarkCompileRSS(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("services=%d/targets=%d", n, n*10), func(b *testing.B) {
			if n > 10000 && testing.Short() {
				b.Skip("-short: a million targets take a while")
			}
			st := bigState(n, 10)
			o := snapshot.Options{Region: "us-east-1", Now: time.Now(), DrainTime: time.Minute}
			var withState, withSnap runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&withState)
			var keep *snapshot.Snapshot
			b.ResetTimer()
			for range b.N {
				keep = nil // the previous snapshot is garbage while the next compiles, as in the watcher
				keep = snapshot.Compile(st, o)
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&withSnap)
			if keep.TargetGroups.Len() != n {
				b.Fatalf("%d target groups", keep.TargetGroups.Len())
			}
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				b.Fatal(err)
			}
			runtime.KeepAlive(st)
			runtime.KeepAlive(keep)
			b.ReportMetric(float64(withSnap.HeapInuse)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(withSnap.HeapInuse-withState.HeapInuse)/(1<<20), "snapshot-MiB")
			b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MiB") // Linux: KiB
		})
	}
}

// BenchmarkHostLookupScale is the data plane's per-request lookup of a
// service among 1 or 10,000 reachable ones.
func BenchmarkHostLookupScale(b *testing.B) {
	for _, n := range []int{1, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			snap := snapshot.Compile(bigState(n, 1), snapshot.Options{Now: time.Now()})
			vpc := snap.VPCs["vpc-00000000000000001"]
			host := fmt.Sprintf("svc%d-%017x.abc1234.vpc-lattice-svcs.us-east-1.on.aws", n-1, n)
			if vpc.Hosts.Get(host) == nil {
				b.Fatal("host not found")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if vpc.Hosts.Get(host) == nil {
					b.Fatal("lost")
				}
			}
		})
	}
}
