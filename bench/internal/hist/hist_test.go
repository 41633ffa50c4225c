package hist

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	prevHi := uint64(0)
	for i := 0; i < histBuckets; i++ {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d]: bucketOf gives %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		prevHi = hi
		if hi == math.MaxUint64 {
			break
		}
	}
	if bucketOf(math.MaxUint64) != histBuckets-1 {
		t.Fatalf("max value in bucket %d, want %d", bucketOf(math.MaxUint64), histBuckets-1)
	}
}

func TestQuantilesWithinPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Hist
	var vals []int64
	for range 100000 {
		v := int64(r.ExpFloat64()*200e3) + 30e3 // ~30 µs + exponential tail
		vals = append(vals, v)
		h.Record(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := float64(vals[int(math.Ceil(q*float64(len(vals))))-1])
		got := h.Quantile(q)
		if math.Abs(got-want)/want > 0.01 {
			t.Errorf("p%v = %.0f, want %.0f (±1%%)", q*100, got, want)
		}
	}
	if h.Quantile(1) != float64(vals[len(vals)-1]) {
		t.Errorf("max = %v, want %v", h.Quantile(1), vals[len(vals)-1])
	}
	var m Hist
	m.Merge(&h)
	m.Merge(&Hist{})
	if m.n != h.n || m.Quantile(0.99) != h.Quantile(0.99) || m.max != h.max || m.min != h.min {
		t.Errorf("merge changed the distribution")
	}
}

func TestSmallValuesExact(t *testing.T) {
	var h Hist
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	if got := h.Quantile(0.5); got != 50 {
		t.Errorf("p50 = %v, want 50", got)
	}
}
