package canary

import (
	"fmt"
	"time"
)

// Verdicts of one evaluation.
const (
	Hold     = iota // the step goes on
	Advance         // the step passed: the next one begins
	Promote         // the last step passed
	Rollback        // a breach
)

// Verdict is the outcome of judging a step at one moment.
type Verdict struct {
	Kind   int
	Reason string
	// Canary and Baseline are the step's traffic as judged.
	Canary, Baseline Observation
}

// stepTraffic turns a window's counts into the step's own traffic: the
// window (since the minute the step began in) minus the counts that minute
// held when the step began. Aggregates are per minute, so subtracting is
// what confines the judgement to the step. When the window holds fewer
// requests than the base, the aggregates started afresh (a Trellis restart:
// they live in memory) or the step's first minute left the aggregator's
// window; the window's counts are then all the step has, and are used as
// they are. p99 is the window's: it cannot be subtracted, so it covers the
// step's whole minutes, including requests of its first minute before it
// began (docs/canaries.md).
func stepTraffic(reqs, errs int64, p99 time.Duration, base Counts) Observation {
	if reqs < base.Requests || errs < base.Errors5xx {
		base = Counts{}
	}
	return Observation{Requests: reqs - base.Requests, Errors5xx: errs - base.Errors5xx, P99: p99}
}

// judge decides what becomes of c's current step at now, given the step's
// traffic of the canary and of the baseline. It is pure: the controller
// feeds it the clock and the aggregates.
//
//   - With at least MinRequests canary requests, a canary error rate above
//     MaxErrorRate, or a p99 above MaxP99Ms when set, is a breach: roll back,
//     at once, whatever is left of the interval.
//   - Otherwise the step holds until its interval is over, then passes (the
//     last step promotes). A step that ends with fewer than MinRequests
//     canary requests passes too, and its reason says it was not judged:
//     waiting for traffic that may never come would hold a release forever,
//     and a rollout with no traffic harms nobody; the history keeps it
//     visible (docs/canaries.md).
func judge(c *Canary, now time.Time, cn, bl Observation) Verdict {
	v := Verdict{Kind: Hold, Canary: cn, Baseline: bl}
	step := fmt.Sprintf("step %d/%d (canary %d%%)", c.StepIndex+1, len(c.Steps), c.Percent())
	judged := cn.Requests >= int64(c.MinRequests)
	if judged {
		if rate := cn.ErrorRate(); rate > c.MaxErrorRate {
			v.Kind = Rollback
			v.Reason = fmt.Sprintf("%s: canary error rate %s (%d/%d) exceeds maxErrorRate %s; baseline %s",
				step, pct(rate), cn.Errors5xx, cn.Requests, pct(c.MaxErrorRate), bl)
			return v
		}
		if c.MaxP99Ms > 0 && cn.P99 > time.Duration(c.MaxP99Ms)*time.Millisecond {
			v.Kind = Rollback
			v.Reason = fmt.Sprintf("%s: canary p99 %s exceeds maxP99Ms %d; baseline %s",
				step, cn.P99.Round(time.Millisecond), c.MaxP99Ms, bl)
			return v
		}
	}
	if now.Before(c.StepStartedAt.Add(c.Interval())) {
		return v
	}
	v.Kind = Advance
	if c.StepIndex == len(c.Steps)-1 {
		v.Kind = Promote
	}
	if judged {
		v.Reason = fmt.Sprintf("%s passed: canary %s; baseline %s", step, cn, bl)
	} else {
		v.Reason = fmt.Sprintf("%s passed without judgement: %d canary requests, fewer than minRequests %d (no traffic to judge); baseline %s",
			step, cn.Requests, c.MinRequests, bl)
	}
	return v
}
