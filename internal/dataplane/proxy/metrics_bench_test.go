package proxy_test

import (
	"testing"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/metrics"
)

// BenchmarkProxyMetrics is BenchmarkProxy (own server) with metrics off
// (no observer) and on (metrics.DataPlane, bound to the snapshot as the
// app binds it when the watcher publishes). Compare ns/op and allocs/op:
// the bar is req/s with metrics ≥ 0.97× without.
func BenchmarkProxyMetrics(b *testing.B) {
	b.Run("metrics=off", func(b *testing.B) { proxy.BenchProxyWith(b, nil, nil) })
	b.Run("metrics=on", func(b *testing.B) {
		m := metrics.New()
		proxy.BenchProxyWith(b, m.DataPlane, m.DataPlane.Bind)
	})
}
