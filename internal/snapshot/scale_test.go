package snapshot_test

import (
	"fmt"
	"runtime"
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
