package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// world is a snapshot with one service forwarding to one IP and one LAMBDA
// target group.
func world(rev int64) (*snapshot.Snapshot, *snapshot.Service, *snapshot.TargetGroup, *snapshot.TargetGroup) {
	tg := &snapshot.TargetGroup{ID: "tg-0ip", Upstream: snapshot.UpstreamH1}
	fn := &snapshot.TargetGroup{ID: "tg-0fn", Upstream: snapshot.UpstreamLambda}
	svc := &snapshot.Service{ID: "svc-0a", Listeners: map[int]*snapshot.Listener{80: {Rules: []*snapshot.Rule{
		{Action: snapshot.Action{Forward: []snapshot.WeightedTargetGroup{{TargetGroup: fn, Weight: 1}}}},
		{IsDefault: true, Action: snapshot.Action{Forward: []snapshot.WeightedTargetGroup{{TargetGroup: tg, Weight: 1}}}},
	}}}}
	snap := &snapshot.Snapshot{Revision: rev, ServiceNames: snapshot.TableOf(map[string]*snapshot.Service{"a.example.": svc}),
		TargetGroups: snapshot.TableOf(map[string]*snapshot.TargetGroup{tg.ID: tg, fn.ID: fn}),
		VPCs:         map[string]*snapshot.VPC{"vpc-1": {ID: "vpc-1", Hosts: snapshot.TableOf(map[string]*snapshot.Service{"a.example": svc})}}}
	return snap, svc, tg, fn
}

func TestRequestDoneCountsAndAllocatesNothing(t *testing.T) {
	m := New()
	d := m.DataPlane
	snap, svc, tg, fn := world(1)
	m.Snapshot.Published(snap, time.Millisecond, 2*time.Millisecond)
	ok := proxy.Observation{Snap: snap, Service: svc, TargetGroup: tg, Forwarded: true, Status: 200,
		Duration: 3 * time.Millisecond, BytesReceived: 7, BytesSent: 11}
	allocs := testing.AllocsPerRun(1000, func() {
		d.RequestStarted(snap, svc, tg)
		d.RequestDone(ok)
	})
	if allocs != 0 {
		t.Fatalf("a request's observation allocates %.1f times; want 0", allocs)
	}
	d.RequestDone(proxy.Observation{Snap: snap, Service: svc, Status: 404}) // fixed response
	d.RequestDone(proxy.Observation{Snap: snap, Status: 404})               // no service
	d.RequestStarted(snap, svc, fn)                                         // LAMBDA group
	d.RequestDone(proxy.Observation{Snap: snap, Service: svc, TargetGroup: fn, Forwarded: true, Status: 504, TimedOut: true})
	// A snapshot not bound yet: the slow path, the same series.
	other, svc2, tg2, _ := world(2)
	d.RequestDone(proxy.Observation{Snap: other, Service: svc2, TargetGroup: tg2, Status: 503})

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"2xx", testutil.ToFloat64(d.requests.WithLabelValues("svc-0a", "tg-0ip", "2xx")), 1001},
		{"5xx ip", testutil.ToFloat64(d.requests.WithLabelValues("svc-0a", "tg-0ip", "5xx")), 1},
		{"4xx no group", testutil.ToFloat64(d.requests.WithLabelValues("svc-0a", "", "4xx")), 1},
		{"4xx no service", testutil.ToFloat64(d.requests.WithLabelValues("", "", "4xx")), 1},
		{"5xx lambda", testutil.ToFloat64(d.requests.WithLabelValues("svc-0a", "tg-0fn", "5xx")), 1},
		{"timeouts", testutil.ToFloat64(d.timeouts.WithLabelValues("svc-0a", "tg-0fn")), 1},
		{"lambda invocations", testutil.ToFloat64(d.lambda.WithLabelValues("tg-0fn")), 1},
		{"active", testutil.ToFloat64(d.active.WithLabelValues("svc-0a", "tg-0ip")), 0},
		{"received", testutil.ToFloat64(d.received.WithLabelValues("svc-0a", "tg-0ip")), 7 * 1001},
		{"sent", testutil.ToFloat64(d.sent.WithLabelValues("svc-0a", "tg-0ip")), 11 * 1001},
		{"revision", testutil.ToFloat64(m.Snapshot.revision), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestBindDeletesSeriesOfDeletedResources: the label sets are bounded by
// what exists: a target group or service that left the snapshot takes its
// series along at the next Bind.
func TestBindDeletesSeriesOfDeletedResources(t *testing.T) {
	m := New()
	d := m.DataPlane
	snap, svc, tg, _ := world(1)
	d.Bind(snap)
	d.RequestDone(proxy.Observation{Snap: snap, Service: svc, TargetGroup: tg, Status: 200})
	m.Health.ObserveCheck(tg.ID, true)
	if n := testutil.CollectAndCount(d.requests); n != 4*5 {
		t.Fatalf("%d request series, want 20 (4 pairs × 5 classes)", n)
	}
	next, _, _, _ := world(2)
	tgs := next.TargetGroups.Edit()
	tgs.Delete("tg-0ip")
	next.TargetGroups = tgs.Table()
	l := next.VPCs["vpc-1"].Hosts.Get("a.example").Listeners[80]
	l.Rules = l.Rules[:1]
	m.Snapshot.Published(next, 0, 0)
	if n := testutil.CollectAndCount(d.requests); n != 4*5-5 {
		t.Fatalf("%d request series after the group left, want 15", n)
	}
	if n := testutil.CollectAndCount(m.Health.checks); n != 0 {
		t.Fatalf("%d health-check series after the group left, want 0", n)
	}
	m.Snapshot.Published(&snapshot.Snapshot{Revision: 3}, 0, 0)
	if n := testutil.CollectAndCount(d.requests); n != 5 {
		t.Fatalf("%d request series after every service left, want 5 (no service)", n)
	}
}

func TestDNSAndAPILabels(t *testing.T) {
	m := New()
	m.DNS.ObserveQuery(3, false)
	m.DNS.ObserveQuery(99, true)
	if allocs := testing.AllocsPerRun(100, func() { m.DNS.ObserveQuery(0, false) }); allocs != 0 {
		t.Fatalf("a DNS query's count allocates %.1f times", allocs)
	}
	m.API.ObserveCall("CreateService", "", 201, time.Millisecond)
	m.API.ObserveCall("CreateService", "Bad\nType", 400, time.Millisecond)
	want := `
# HELP trellis_api_requests_total Control-plane API calls by operation and AWS error type ("" on success).
# TYPE trellis_api_requests_total counter
trellis_api_requests_total{error_type="",operation="CreateService"} 1
trellis_api_requests_total{error_type="other",operation="CreateService"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, stringsReader(want), "trellis_api_requests_total"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.DNS.queries[0][3]); got != 1 {
		t.Fatalf("NXDOMAIN own: %v", got)
	}
	if got := testutil.ToFloat64(m.DNS.queries[1][len(dnsRcodes)]); got != 1 {
		t.Fatalf("OTHER forwarded: %v", got)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// BenchmarkRequestDone is the metrics' share of a request: the start and
// the end of one forwarded request, on a bound snapshot.
func BenchmarkRequestDone(b *testing.B) {
	m := New()
	snap, svc, tg, _ := world(1)
	m.DataPlane.Bind(snap)
	o := proxy.Observation{Snap: snap, Service: svc, TargetGroup: tg, Forwarded: true, Status: 200,
		Duration: time.Millisecond, BytesReceived: 10, BytesSent: 100}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.DataPlane.RequestStarted(snap, svc, tg)
			m.DataPlane.RequestDone(o)
		}
	})
}

type clusterState struct{ leading map[string]bool }

func (c clusterState) Leading(e string) bool { return c.leading[e] }
func (c clusterState) NodesByRole() map[string]int {
	return map[string]int{"api": 2, "dataplane": 3, "health": 3}
}

// TestWatchCluster: the leader gauge per election and the nodes by role.
func TestWatchCluster(t *testing.T) {
	m := New()
	m.WatchCluster(clusterState{leading: map[string]bool{"canaries": true}}, []string{"canaries", "drained-targets"})
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range mt.GetLabel() {
				key += "/" + l.GetValue()
			}
			got[key] = mt.GetGauge().GetValue()
		}
	}
	for k, v := range map[string]float64{"trellis_cluster_leader/canaries": 1, "trellis_cluster_leader/drained-targets": 0,
		"trellis_cluster_nodes/api": 2, "trellis_cluster_nodes/health": 3} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}
