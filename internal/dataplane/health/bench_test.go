package health

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// BenchmarkChecker10k measures what the health checker costs with 10,000
// checked targets (100 groups of 100, the default 30 s interval): the time
// Sync takes to start checking them (a restart) and the memory they hold
// afterwards, per target (heap and goroutine stacks, from
// runtime.MemStats). It reports those, not a timing to assert.
func BenchmarkChecker10k(b *testing.B) {
	const groups, perGroup = 100, 100
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	addr := netip.MustParseAddrPort(srv.Listener.Addr().String())
	tgs := make([]*snapshot.TargetGroup, 0, groups)
	for g := range groups {
		id := fmt.Sprintf("tg-%04d", g)
		targets := make([]*snapshot.Target, perGroup)
		for i := range targets {
			tid := fmt.Sprintf("10.%d.%d.%d", g, i/250, i%250)
			targets[i] = &snapshot.Target{ID: tid, Port: int(addr.Port()), Addr: addr,
				Key: upstream.TargetKey(id, tid, int(addr.Port()))}
		}
		tgs = append(tgs, ipGroup(id, healthCheck(func(hc *model.HealthCheckConfig) {
			hc.HealthCheckIntervalSeconds = ptr(30)
		}), targets...))
	}
	s := snap(1, tgs...)
	var perTarget, syncMs, goroutines float64
	for range b.N {
		holder := new(snapshot.Holder)
		holder.Store(s)
		reg := new(upstream.Registry)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		c := New(Config{Holder: holder, Registry: reg, Logger: slog.New(slog.DiscardHandler)})
		start := time.Now()
		c.Sync()
		syncMs += float64(time.Since(start).Microseconds()) / 1000
		runtime.GC()
		runtime.ReadMemStats(&after)
		goroutines += float64(runtime.NumGoroutine() - g0)
		perTarget += float64(int64(after.HeapAlloc+after.StackInuse)-int64(before.HeapAlloc+before.StackInuse)) / (groups * perGroup)
		c.Close()
		runtime.KeepAlive(reg)
	}
	n := float64(b.N)
	b.ReportMetric(perTarget/n, "B/target")
	b.ReportMetric(syncMs/n, "ms/sync")
	b.ReportMetric(goroutines/n, "goroutines")
}
