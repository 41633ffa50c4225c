package canary

import (
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 30, 0, time.UTC)
	base := &Canary{Steps: []int{5, 25, 100}, IntervalSeconds: 60, MaxErrorRate: 0.01, MaxP99Ms: 500, MinRequests: 20, StepStartedAt: t0}
	at := func(step int) *Canary { c := base.clone(); c.StepIndex = step; return c }
	obs := func(req, errs int64, p99ms int) Observation {
		return Observation{Requests: req, Errors5xx: errs, P99: time.Duration(p99ms) * time.Millisecond}
	}
	healthy := obs(1000, 1, 40)
	for _, tc := range []struct {
		name       string
		c          *Canary
		now        time.Time
		cn, bl     Observation
		want       int
		reasonHas  []string
		reasonNone bool
	}{
		{name: "healthy mid-step holds", c: at(0), now: t0.Add(30 * time.Second), cn: obs(100, 1, 50), bl: healthy, want: Hold, reasonNone: true},
		{name: "error rate above the limit rolls back at once", c: at(0), now: t0.Add(time.Second), cn: obs(100, 2, 50), bl: healthy,
			want: Rollback, reasonHas: []string{"step 1/3 (canary 5%)", "2.00% (2/100)", "maxErrorRate 1.00%", "baseline 0.10% 5xx (1/1000)"}},
		{name: "error rate equal to the limit passes", c: at(0), now: t0.Add(time.Second), cn: obs(100, 1, 50), bl: healthy, want: Hold},
		{name: "p99 above the limit rolls back", c: at(1), now: t0.Add(time.Second), cn: obs(100, 0, 501), bl: healthy,
			want: Rollback, reasonHas: []string{"step 2/3 (canary 25%)", "p99 501ms exceeds maxP99Ms 500", "baseline"}},
		{name: "too few requests are not judged", c: at(0), now: t0.Add(time.Second), cn: obs(19, 19, 900), bl: healthy, want: Hold},
		{name: "step over with enough requests advances", c: at(0), now: t0.Add(time.Minute), cn: obs(100, 0, 50), bl: healthy,
			want: Advance, reasonHas: []string{"step 1/3 (canary 5%) passed", "0.00% 5xx (0/100)", "baseline 0.10% 5xx (1/1000)"}},
		{name: "step over without traffic advances unjudged", c: at(1), now: t0.Add(2 * time.Minute), cn: obs(3, 3, 900), bl: obs(0, 0, 0),
			want: Advance, reasonHas: []string{"passed without judgement", "3 canary requests, fewer than minRequests 20", "baseline no requests"}},
		{name: "last step over promotes", c: at(2), now: t0.Add(time.Minute), cn: obs(100, 0, 50), bl: healthy, want: Promote, reasonHas: []string{"step 3/3 (canary 100%) passed"}},
		{name: "a breach on the last step still rolls back", c: at(2), now: t0.Add(time.Minute), cn: obs(100, 50, 50), bl: healthy, want: Rollback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(tc.c, tc.now, tc.cn, tc.bl)
			if v.Kind != tc.want {
				t.Fatalf("verdict %d, want %d (reason %q)", v.Kind, tc.want, v.Reason)
			}
			if tc.reasonNone && v.Reason != "" {
				t.Errorf("reason %q, want none", v.Reason)
			}
			for _, s := range tc.reasonHas {
				if !strings.Contains(v.Reason, s) {
					t.Errorf("reason %q lacks %q", v.Reason, s)
				}
			}
		})
	}
}

func TestJudgeMaxErrorRateZero(t *testing.T) {
	c := &Canary{Steps: []int{100}, IntervalSeconds: 1, MaxErrorRate: 0, MinRequests: 1, StepStartedAt: time.Unix(0, 0)}
	if v := judge(c, time.Unix(0, 0), Observation{Requests: 1000, Errors5xx: 1}, Observation{}); v.Kind != Rollback {
		t.Fatalf("one error with maxErrorRate 0: verdict %d, want Rollback", v.Kind)
	}
	if v := judge(c, time.Unix(0, 0), Observation{Requests: 1000}, Observation{}); v.Kind != Hold {
		t.Fatalf("no errors with maxErrorRate 0: verdict %d, want Hold", v.Kind)
	}
}

func TestStepTraffic(t *testing.T) {
	for _, tc := range []struct {
		name       string
		reqs, errs int64
		base       Counts
		want       Observation
	}{
		{"subtracts the counts at the step's start", 150, 12, Counts{100, 10}, Observation{Requests: 50, Errors5xx: 2}},
		{"aggregates started afresh: the window is the step", 30, 3, Counts{100, 10}, Observation{Requests: 30, Errors5xx: 3}},
		{"fewer errors than the base also means afresh", 150, 2, Counts{100, 10}, Observation{Requests: 150, Errors5xx: 2}},
		{"no base", 7, 1, Counts{}, Observation{Requests: 7, Errors5xx: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stepTraffic(tc.reqs, tc.errs, 0, tc.base); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
