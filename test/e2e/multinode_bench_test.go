package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

// BenchmarkMultiNodePropagation measures propagation between nodes: two
// `trellis serve --store etcd` processes share one etcd member and hold 10
// services; one op is a write through node A's API (UpdateListener: a
// service's fixed 404 becomes a forward to its target group) and the wait
// for the first 200 that node B's data plane answers for it. p50-ms and
// p99-ms are the write-acknowledged → first-200 times (the polling adds up
// to a millisecond); the write back to 404, before the next op, is not
// timed. It starts real processes: run it on its own, with a count of
// writes, e.g.
//
//	go test -run '^$' -bench MultiNode -benchtime 100x ./test/e2e/
//
// It needs the etcd binary (Debian's etcd-server) and is skipped without it.
func BenchmarkMultiNodePropagation(b *testing.B) {
	mc := startNodes(b, etcdtest.Start(b), 2)
	a, nb := mc.nodes[0], mc.nodes[1]
	const port = 18404
	svcs, stored := mnWorld(b, a, newBackendServer(b), port, 10)
	hc := dpClient()
	ingB := nb.ingress(b, stored)
	for _, s := range svcs {
		waitStatus(b, hc, ingB, port, s.host, 404, 10*time.Second)
	}
	ctx := context.Background()
	lags := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := svcs[i%len(svcs)]
		if err := setAction(ctx, a.c, s, forwardTo(s.tg)); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		lags = append(lags, waitStatus(b, hc, ingB, port, s.host, 200, 10*time.Second).Sub(acked))
		b.StopTimer()
		if err := setAction(ctx, a.c, s, fixed404()); err != nil {
			b.Fatal(err)
		}
		waitStatus(b, hc, ingB, port, s.host, 404, 10*time.Second)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lags)
	b.ReportMetric(float64(percentile(lags, 50))/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(percentile(lags, 99))/float64(time.Millisecond), "p99-ms")
}
