package proxy

import (
	"testing"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// BenchProxyWith is BenchmarkProxy's request (own server) through a proxy
// whose Config.Observer is obs; bind, when set, is called with the
// published snapshot before the loop. For benchmarks outside the package
// (metrics imports proxy, so its observer is measured from proxy_test).
func BenchProxyWith(b *testing.B, obs Observer, bind func(*snapshot.Snapshot)) {
	benchProxyObserved(b, obs, bind)
}
