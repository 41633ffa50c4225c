package traffic

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// exactQuantile is the value of rank ⌈q·n⌉ of sorted values.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	r := int(math.Ceil(q * float64(len(sorted))))
	if r < 1 {
		r = 1
	}
	return sorted[r-1]
}

func relErr(got, want time.Duration) float64 {
	return math.Abs(float64(got)-float64(want)) / float64(want)
}

// TestSketchQuantileErrorBound: for values in the resolved range, any
// quantile is within SketchRelativeError of the exact one, whatever the
// distribution.
func TestSketchQuantileErrorBound(t *testing.T) {
	if SketchRelativeError > 0.05 {
		t.Fatalf("relative error %.4f, want at most 5%%", SketchRelativeError)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		"uniform 1-100ms": func() time.Duration { return time.Millisecond + time.Duration(rng.Int64N(int64(99*time.Millisecond))) },
		"lognormal": func() time.Duration {
			return time.Duration(math.Exp(rng.NormFloat64()*1.5+math.Log(float64(2*time.Millisecond)))) + sketchMin
		},
		"bimodal": func() time.Duration {
			if rng.IntN(100) < 97 {
				return 200*time.Microsecond + time.Duration(rng.Int64N(int64(50*time.Microsecond)))
			}
			return 3*time.Second + time.Duration(rng.Int64N(int64(time.Second)))
		},
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var s Sketch
			vals := make([]time.Duration, 20000)
			for i := range vals {
				vals[i] = gen()
				if max := bucketValue(SketchBuckets - 1); vals[i] > max {
					vals[i] = max
				}
				s.Add(vals[i])
			}
			sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
				got, want := s.Quantile(q), exactQuantile(vals, q)
				if e := relErr(got, want); e > SketchRelativeError+1e-9 {
					t.Errorf("q%.3f = %v, exact %v: relative error %.4f > %.4f", q, got, want, e, SketchRelativeError)
				}
			}
		})
	}
}

// TestSketchMerge: merging sketches equals sketching all values at once.
func TestSketchMerge(t *testing.T) {
	var a, b, all Sketch
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * 37 * time.Microsecond
		if i%2 == 0 {
			a.Add(d)
		} else {
			b.Add(d)
		}
		all.Add(d)
	}
	a.Merge(&b)
	if a != all {
		t.Fatal("merged sketch differs from the sketch of all values")
	}
	if a.Count() != 1000 {
		t.Fatalf("count %d", a.Count())
	}
	var empty Sketch
	if empty.Quantile(0.5) != 0 {
		t.Fatal("empty sketch: want 0")
	}
}

// TestSketchRange: values below the range land in the first bucket, above
// it in the last; nothing panics at the edges.
func TestSketchRange(t *testing.T) {
	for _, d := range []time.Duration{-1, 0, 1, sketchMin - 1, sketchMin, time.Hour, math.MaxInt64} {
		i := bucketOf(d)
		if i < 0 || i >= SketchBuckets {
			t.Fatalf("bucketOf(%v) = %d", d, i)
		}
	}
	if bucketOf(time.Hour) != SketchBuckets-1 || bucketOf(0) != 0 {
		t.Fatal("edges")
	}
	if top := bucketValue(SketchBuckets - 1); top < 2*time.Minute {
		t.Fatalf("resolved range ends at %v, want past the 60s request timeout", top)
	}
}
