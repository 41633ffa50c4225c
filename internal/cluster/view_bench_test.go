package cluster

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkViewTargetStatus: one ListTargets item's combined status, with
// 100,000 targets reported by three nodes (no etcd round trip: memory).
func BenchmarkViewTargetStatus(b *testing.B) {
	v := newView("/t/", nil)
	type target struct{ g, id string }
	targets := make([]target, 100_000)
	for i := range targets {
		g := fmt.Sprintf("tg-%017d", i/100)
		id := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		targets[i] = target{g, id}
		for _, n := range []string{"a", "b", "c"} {
			put(v.reports, n, g, g+"/"+id+"/80", Status{Status: "HEALTHY", Since: time.Now()})
		}
	}
	v.health = 3
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t := targets[i%len(targets)]
		if st, _, _ := v.TargetStatus(t.g, t.id, 80); st != "HEALTHY" {
			b.Fatal(st)
		}
	}
}
