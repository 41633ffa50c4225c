package traffic

import (
	"math"
	"time"
)

// The latency sketch: fixed log-scale buckets, so that sketches of
// different minutes and keys merge by adding counts, and a quantile read
// from the merged counts is within the buckets' relative error of the true
// one (the idea of DDSketch, Masson et al., VLDB 2019, with fixed bounds).
//
// Bucket 0 holds [0, sketchMin·γ); bucket i ≥ 1 holds [sketchMin·γ^i,
// sketchMin·γ^(i+1)); the last bucket also holds everything above. A
// bucket is reported as its geometric midpoint sketchMin·γ^(i+½), which is
// within √γ−1 ≈ 4.9% of any value in it.
const (
	// sketchGamma is the ratio of a bucket's bounds.
	sketchGamma = 1.1
	// sketchMin is the low end of the resolved range: no proxied request
	// is faster than 10µs.
	sketchMin = 10 * time.Microsecond
	// SketchBuckets covers 10µs·1.1^176 ≈ 190s: past the default request
	// timeout (60s); longer requests (WebSocket sessions) land in the last.
	SketchBuckets = 176
)

// SketchRelativeError is the bound on a quantile's relative error for
// values in the resolved range [sketchMin, sketchMin·γ^SketchBuckets).
var SketchRelativeError = math.Sqrt(sketchGamma) - 1

var logGamma = math.Log(sketchGamma)

// bucketOf is the bucket of a duration.
func bucketOf(d time.Duration) int {
	if d < sketchMin {
		return 0
	}
	i := int(math.Log(float64(d)/float64(sketchMin)) / logGamma)
	if i >= SketchBuckets {
		return SketchBuckets - 1
	}
	if i < 0 { // not reached: d ≥ sketchMin
		return 0
	}
	return i
}

// bucketValue is the value a bucket stands for: its geometric midpoint.
func bucketValue(i int) time.Duration {
	return time.Duration(float64(sketchMin) * math.Pow(sketchGamma, float64(i)+0.5))
}

// Sketch is a merged latency sketch: counts per bucket. The zero value is
// empty.
type Sketch struct {
	counts [SketchBuckets]uint64
	n      uint64
}

// Add counts one value.
func (s *Sketch) Add(d time.Duration) {
	s.counts[bucketOf(d)]++
	s.n++
}

// Merge adds o's counts to s.
func (s *Sketch) Merge(o *Sketch) {
	for i, c := range o.counts {
		s.counts[i] += c
	}
	s.n += o.n
}

// Count is how many values s holds.
func (s *Sketch) Count() uint64 { return s.n }

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the values s holds: the
// value of rank ⌈q·n⌉ (at least 1), within SketchRelativeError of it; 0
// when s is empty.
func (s *Sketch) Quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.n)))
	if rank < 1 {
		rank = 1
	}
	var cum uint64
	for i, c := range s.counts {
		cum += c
		if cum >= rank {
			return bucketValue(i)
		}
	}
	return bucketValue(SketchBuckets - 1)
}
