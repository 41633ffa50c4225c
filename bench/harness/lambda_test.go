package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestLambdaSection(t *testing.T) {
	var b bytes.Buffer
	lambdaSection(&b, &Results{})
	if b.Len() != 0 {
		t.Fatalf("no Lambda runs must render nothing, got %q", b.String())
	}
	r := &Results{Params: Params{Rounds: 3, LambdaConc: 16, LambdaRate: 1000}}
	for i, v := range []struct{ tc, dc, t50, d50, t99, d99 float64 }{
		{3000, 6000, 900, 400, 2000, 1000}, {3300, 6100, 950, 420, 2100, 1100}, {2800, 5900, 1000, 410, 2500, 1200},
	} {
		r.Lambda = append(r.Lambda,
			LambdaRun{Round: i + 1, Who: "trellis", Kind: "capacity", PerSec: v.tc},
			LambdaRun{Round: i + 1, Who: "direct", Kind: "capacity", PerSec: v.dc},
			LambdaRun{Round: i + 1, Who: "trellis", Kind: "latency", P50: v.t50, P99: v.t99},
			LambdaRun{Round: i + 1, Who: "direct", Kind: "latency", P50: v.d50, P99: v.d99})
	}
	// A broken run does not count.
	r.Lambda = append(r.Lambda, LambdaRun{Round: 4, Who: "trellis", Kind: "capacity", PerSec: 1, Err: "wrk failed"})
	lambdaSection(&b, r)
	out := b.String()
	for _, want := range []string{
		"| closed loop, 16 in flight, per second | 3,000 [2,800–3,300] | 6,000 [5,900–6,100] | 0.50× |",
		"| p50 at 1000/s, µs | 950 [900–1000] | 410 [400–420] | +540 µs |",
		"| p99 at 1000/s, µs | 2100 [2000–2500] | 1100 [1000–1200] | +1000 µs |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
