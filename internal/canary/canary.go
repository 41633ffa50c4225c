package canary

import (
	"fmt"
	"slices"
	"time"

	"github.com/trellis-net/trellis/internal/model"
)

// State is a canary's state (DESIGN.md "Canaries:").
type State string

// The states. RUNNING is the only one that changes; the others are final.
const (
	StateRunning    State = "RUNNING"
	StatePromoted   State = "PROMOTED"
	StateRolledBack State = "ROLLED_BACK"
	StateAborted    State = "ABORTED"
)

// Final reports whether s is a final state.
func (s State) Final() bool { return s != StateRunning }

// TypeCanary is the resource type in NotFound and Conflict errors.
const TypeCanary = "CANARY"

// Stats is what the controller reads of the data plane's live aggregates
// (the traffic package's Aggregator implements it; app injects it).
type Stats interface {
	// TargetGroupWindow sums a target group's requests of one service since `since` (minute granularity,
	// the current minute included) and returns its requests, 5xx count and p99 latency.
	TargetGroupWindow(serviceID, targetGroupID string, since time.Time) (requests, errors5xx int64, p99 time.Duration)
}

// Counts are a target group's requests and 5xx answers.
type Counts struct {
	Requests  int64 `json:"requests"`
	Errors5xx int64 `json:"errors5xx"`
}

// Weights are the canary's share and the baseline's in the forward action,
// as the controller last wrote them.
type Weights struct {
	Baseline int `json:"baseline"`
	Canary   int `json:"canary"`
}

// Observation is one target group's traffic over the current step.
type Observation struct {
	Requests  int64         `json:"requests"`
	Errors5xx int64         `json:"errors5xx"`
	P99       time.Duration `json:"p99"`
}

// ErrorRate is Errors5xx/Requests, 0 without requests.
func (o Observation) ErrorRate() float64 {
	if o.Requests == 0 {
		return 0
	}
	return float64(o.Errors5xx) / float64(o.Requests)
}

func (o Observation) String() string {
	if o.Requests == 0 {
		return "no requests"
	}
	return fmt.Sprintf("%s 5xx (%d/%d), p99 %s", pct(o.ErrorRate()), o.Errors5xx, o.Requests, o.P99.Round(time.Millisecond))
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", f*100) }

// Event kinds of a canary's history.
const (
	EventStarted    = "STARTED"     // the rollout began at its first step
	EventStep       = "STEP"        // a step passed and the next one began
	EventPromoted   = "PROMOTED"    // the last step passed: canary 100
	EventRolledBack = "ROLLED_BACK" // a breach: baseline 100
	EventAborted    = "ABORTED"     // by the caller, or weights changed by someone else
	EventResumed    = "RESUMED"     // the controller picked the rollout up after a restart
)

// Event is one entry of a canary's history.
type Event struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"event"`
	StepIndex int       `json:"stepIndex"`
	Percent   int       `json:"percent"`
	Reason    string    `json:"reason"`
	// Canary and Baseline are the step's traffic when it was judged.
	Canary   *Observation `json:"canary,omitempty"`
	Baseline *Observation `json:"baseline,omitempty"`
}

// MaxHistory bounds a canary's history; steps are at most 100, so only a
// rollout resumed very often reaches it (the oldest RESUMED entries go).
const MaxHistory = 256

// Canary is one rollout, as persisted under schema.Canary.
type Canary struct {
	ID string `json:"id"`
	// Account owns the canary; PrincipalARN started it, and the
	// controller's weight changes are made as this caller.
	Account      string `json:"account"`
	PrincipalARN string `json:"principalArn"`

	ServiceID  string `json:"serviceId"`
	ListenerID string `json:"listenerId"`
	// RuleID is the rule whose forward changes; for the listener's default
	// action it is the listener's default rule (DefaultAction true).
	RuleID        string `json:"ruleId"`
	DefaultAction bool   `json:"defaultAction"`

	BaselineTargetGroup string  `json:"baselineTargetGroup"`
	CanaryTargetGroup   string  `json:"canaryTargetGroup"`
	Steps               []int   `json:"steps"`
	IntervalSeconds     int     `json:"intervalSeconds"`
	MaxErrorRate        float64 `json:"maxErrorRate"`
	MaxP99Ms            int     `json:"maxP99Ms,omitempty"`
	MinRequests         int     `json:"minRequests"`

	State         State     `json:"state"`
	StepIndex     int       `json:"stepIndex"`
	StepStartedAt time.Time `json:"stepStartedAt"`
	// BaseCanary and BaseBaseline are the window's counts (since the
	// minute StepStartedAt falls in) at the moment the step began: the
	// step's own traffic is the window's counts minus these.
	BaseCanary   Counts `json:"baseCanary"`
	BaseBaseline Counts `json:"baseBaseline"`

	// Action is the forward the controller last decided on; Prev the one
	// before. Pending means Action is decided but maybe not yet written to
	// the rule (a crash between the two writes): the controller writes it
	// again when it finds Prev on the rule.
	Action  model.RuleAction `json:"action"`
	Prev    model.RuleAction `json:"prev"`
	Pending bool             `json:"pending,omitempty"`

	Reason    string    `json:"reason"`
	History   []Event   `json:"history"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Weights returns the canary's and the baseline's weight in Action.
func (c *Canary) Weights() Weights {
	return weightsIn(c.Action, c.BaselineTargetGroup, c.CanaryTargetGroup)
}

// Percent is the current step's canary percent.
func (c *Canary) Percent() int { return c.Steps[c.StepIndex] }

// Interval is how long each step is held.
func (c *Canary) Interval() time.Duration { return time.Duration(c.IntervalSeconds) * time.Second }

func (c *Canary) clone() *Canary {
	d := *c
	d.Steps = slices.Clone(c.Steps)
	d.History = slices.Clone(c.History)
	return &d
}

func (c *Canary) record(e Event) {
	c.History = append(c.History, e)
	if len(c.History) > MaxHistory {
		for i, h := range c.History {
			if h.Kind == EventResumed {
				c.History = slices.Delete(c.History, i, i+1)
				break
			}
		}
		if len(c.History) > MaxHistory {
			c.History = c.History[len(c.History)-MaxHistory:]
		}
	}
	c.Reason = e.Reason
}

func weightsIn(a model.RuleAction, baseline, canary string) Weights {
	var w Weights
	if a.Forward == nil {
		return w
	}
	for _, t := range a.Forward.TargetGroups {
		n := model.DefaultWeight
		if t.Weight != nil {
			n = *t.Weight
		}
		switch t.TargetGroupIdentifier {
		case baseline:
			w.Baseline = n
		case canary:
			w.Canary = n
		}
	}
	return w
}

// forwardWith is a forward with the baseline at 100-percent and the canary
// at percent. Lattice weights are relative (reference §5): 100 in total
// makes them read as percentages in GetRule.
func forwardWith(baseline, canary string, percent int) model.RuleAction {
	b, c := 100-percent, percent
	return model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{
		{TargetGroupIdentifier: baseline, Weight: &b}, {TargetGroupIdentifier: canary, Weight: &c}}}}
}

// sameForward reports whether two actions forward to the same target
// groups with the same weights, in any order (the service keeps the order
// it was given; a person may write the same weights in another).
func sameForward(a, b model.RuleAction) bool {
	if a.Forward == nil || b.Forward == nil || a.FixedResponse != nil || b.FixedResponse != nil {
		return false
	}
	if len(a.Forward.TargetGroups) != len(b.Forward.TargetGroups) {
		return false
	}
	want := map[string]int{}
	for _, t := range a.Forward.TargetGroups {
		want[t.TargetGroupIdentifier+"\x00"+fmt.Sprint(weightOf(t))]++
	}
	for _, t := range b.Forward.TargetGroups {
		k := t.TargetGroupIdentifier + "\x00" + fmt.Sprint(weightOf(t))
		if want[k] == 0 {
			return false
		}
		want[k]--
	}
	return true
}

func weightOf(t model.WeightedTargetGroup) int {
	if t.Weight == nil {
		return model.DefaultWeight
	}
	return *t.Weight
}

func describeForward(a model.RuleAction) string {
	if a.Forward == nil {
		return "a fixed response"
	}
	s := "forward"
	for i, t := range a.Forward.TargetGroups {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(" %s=%d", t.TargetGroupIdentifier, weightOf(t))
	}
	return s
}
