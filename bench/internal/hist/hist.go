// Package hist is the latency histogram the load tools share (loadgen,
// lambdadirect): log-linear, fixed memory, mergeable.
package hist

import (
	"math"
	"math/bits"
)

// Hist is a log-linear histogram of durations in nanoseconds: exact below
// 128 ns, then 64 buckets per power of two, so a reported percentile is
// within 0.8% of the recorded value (the bucket's midpoint is reported).
// The maximum is kept exactly. It is not safe for concurrent use.
type Hist struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	max    uint64
	min    uint64
}

const (
	subBits     = 6 // 64 buckets per power of two
	linear      = 2 << subBits
	histBuckets = linear + (64-subBits-1)*(1<<subBits)
)

func bucketOf(v uint64) int {
	if v < linear {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // >= 1
	top := v >> uint(shift)              // in [64, 128)
	return linear + (shift-1)<<subBits + int(top-(1<<subBits))
}

// bucketRange returns the lowest and highest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < linear {
		return uint64(i), uint64(i)
	}
	j := i - linear
	shift := uint(j>>subBits) + 1
	top := uint64(j&(1<<subBits-1)) + 1<<subBits
	return top << shift, (top+1)<<shift - 1
}

func (h *Hist) Record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	v := uint64(ns)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.n++
	h.sum += float64(v)
	if v > h.max {
		h.max = v
	}
}

func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.n += o.n
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the value at quantile q (0 < q <= 1) in nanoseconds:
// the midpoint of the bucket holding the ceil(q*n)-th smallest value,
// clamped to the recorded min and max.
func (h *Hist) Quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return float64(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := (float64(lo) + float64(hi)) / 2
			return math.Min(math.Max(v, float64(h.min)), float64(h.max))
		}
	}
	return float64(h.max)
}

func (h *Hist) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Max is the largest value recorded, in nanoseconds.
func (h *Hist) Max() uint64 { return h.max }

// N is the number of values recorded.
func (h *Hist) N() uint64 { return h.n }

// Quantiles are a histogram's figures in microseconds (two decimals), as
// the load tools print them.
type Quantiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Micros returns h's quantiles, maximum and mean in microseconds.
func (h *Hist) Micros() Quantiles {
	us := func(ns float64) float64 { return float64(int64(ns/10)) / 100 }
	return Quantiles{P50: us(h.Quantile(0.50)), P90: us(h.Quantile(0.90)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(float64(h.Max())), Mean: us(h.Mean())}
}
