package app_test

import (
	"testing"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// BenchmarkDataPlaneTraffic compares requests through the data plane with
// traffic aggregation off (--traffic-window=0: no observer) and on (the
// default: every request counted into its minute), metrics off in both;
// as BenchmarkDataPlaneMetrics, one keep-alive connection, sequential.
func BenchmarkDataPlaneTraffic(b *testing.B) {
	for _, on := range []bool{false, true} {
		name, o := "traffic=off", apptest.Options{TrafficWindow: -1}
		if on {
			name, o.TrafficWindow = "traffic=on", 0
		}
		b.Run(name, func(b *testing.B) { benchDataPlane(b, o, 18223, nil) })
	}
}
