// Package gcfloor keeps Go's garbage collector from running more often than
// a proxy's small heap warrants.
//
// With the default pacing (GOGC=100) the next collection starts when the
// heap has grown by as much as survived the last one. A data plane's live
// heap is small (the routing snapshot, a few buffers: megabytes) while it
// allocates a few kilobytes per request, so at tens of thousands of
// requests a second it would collect dozens of times a second, each time
// paying the fixed costs of a cycle and of the write barrier, for heaps
// that do not need it. The floor raises GOGC so that the heap may grow by
// at least Min before a collection: memory use is bounded by the live heap
// plus Min (or twice the live heap, when that is more, as with GOGC=100),
// and a large live heap (hundreds of thousands of targets) is paced exactly
// as Go would pace it.
//
// The floor stays out of the way of an operator's choice: with GOGC set in
// the environment it does nothing, and GOMEMLIMIT keeps priority over any
// GOGC (the runtime enforces the limit whatever the percentage).
package gcfloor

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Bounds of the percentage the floor sets.
const (
	minPercent = 100 // Go's default: never collect more often than it would
	maxPercent = 10000
	// heapMinimum is the runtime's smallest heap goal at GOGC=100 (4 MiB),
	// which it scales with GOGC: the floor must not let that minimum
	// overshoot live + floor while the live heap is tiny (or not measured
	// yet, before the first collection).
	heapMinimum = 4 << 20
)

// Percent is the GOGC that lets a heap whose live part is live bytes grow
// by at least floor bytes before the next collection, without letting it
// grow past live + floor (or twice live, as Go would).
func Percent(live, floor uint64) int {
	limit := (live + floor) * 100 / heapMinimum // the runtime's minimum goal stays within live + floor
	p := limit
	if live > 0 {
		p = min((floor*100+live-1)/live, limit) // ceil(floor / live × 100)
	}
	return int(max(minPercent, min(p, maxPercent)))
}

// Run adjusts GOGC every interval until ctx ends, so that the heap may grow
// by at least floor bytes between collections. It returns at once (doing
// nothing) when floor is 0 or GOGC is set in the environment. On return the
// percentage it found is restored. Changes are logged at debug level.
func Run(ctx context.Context, floor uint64, interval time.Duration, log *slog.Logger) {
	if floor == 0 || os.Getenv("GOGC") != "" {
		return
	}
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	orig := debug.SetGCPercent(minPercent)
	defer debug.SetGCPercent(orig)
	cur := minPercent
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		metrics.Read(samples)
		if samples[0].Value.Kind() == metrics.KindUint64 {
			live := samples[0].Value.Uint64()
			if p := Percent(live, floor); changed(cur, p) {
				debug.SetGCPercent(p)
				log.Debug("gc floor: GOGC changed", "gogc", p, "liveHeapBytes", live, "floorBytes", floor)
				cur = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// changed reports a new percentage worth setting: more than 5% away from
// the current one (SetGCPercent is not free: it stops the world briefly).
func changed(cur, next int) bool {
	d := next - cur
	if d < 0 {
		d = -d
	}
	return d*20 > cur
}
