package upstream

import (
	"fmt"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// OutlierDetection configures the passive detection of misbehaving targets
// from the requests themselves, as Envoy's outlier detection and Linkerd's
// failure accrual do: active health checks see only their own probe, not a
// target that resets one response in three or hangs on real requests while
// its health path still answers.
//
// Ejection: ConsecutiveFailures failed attempts in a row (a 5xx answer, a
// failed connection, a reset or a closed connection, a timeout) eject the
// target for BaseEjectionTime × the times it was ejected, at most
// MaxEjectionTime; the multiplier starts again once a target stayed in
// rotation for MaxEjectionTime. A returning target is on probation: its
// first failure ejects it again (for longer), its first success ends the
// probation. No ejection takes a group past MaxEjectionPercent of its
// targets ejected, and at least one target always stays (what is left when
// all are unavailable is the fail-open of Picker.Pick). An active health
// check does not end an ejection early: it does not see what the requests
// saw.
//
// Stall: a target with requests awaiting their response headers and no
// response headers from it for StallTimeout (counted from the later of its
// last answer and the moment it started being awaited) gets no new requests
// until it answers one of them or they end (their timeouts then count as
// failures). A slow target with other traffic keeps answering and is not
// stalled; one whose only requests are slow (a report, a long poll that
// sends no headers) is skipped while others can take the traffic, which is
// harmless. Stall detection is computed from two atomic loads when the
// picker looks at the target: no timer, no goroutine.
type OutlierDetection struct {
	// ConsecutiveFailures ejects a target after this many failed attempts
	// in a row; 0 disables ejection.
	ConsecutiveFailures int32
	// BaseEjectionTime is the first ejection's length; the n-th lasts n
	// times as long.
	BaseEjectionTime time.Duration
	// MaxEjectionTime caps an ejection's length.
	MaxEjectionTime time.Duration
	// MaxEjectionPercent bounds the share of a group's targets ejected at
	// once; at least one may be ejected in a group of two or more, and
	// never the last. 0 disables ejection.
	MaxEjectionPercent int
	// StallTimeout: a target awaited this long without an answer gets no
	// new requests; 0 disables stall detection.
	StallTimeout time.Duration
}

// Defaults of OutlierDetection, those of the `trellis serve` flags.
const (
	DefaultConsecutiveFailures = 5
	DefaultBaseEjectionTime    = 30 * time.Second
	DefaultMaxEjectionTime     = 5 * time.Minute
	DefaultMaxEjectionPercent  = 50
	DefaultStallTimeout        = 3 * time.Second
)

// DefaultOutlierDetection is what a Registry without Outlier uses. Read
// only.
var DefaultOutlierDetection = OutlierDetection{
	ConsecutiveFailures: DefaultConsecutiveFailures,
	BaseEjectionTime:    DefaultBaseEjectionTime,
	MaxEjectionTime:     DefaultMaxEjectionTime,
	MaxEjectionPercent:  DefaultMaxEjectionPercent,
	StallTimeout:        DefaultStallTimeout,
}

// Validate reports the first setting out of range, as a *SettingError
// naming its field.
func (o *OutlierDetection) Validate() error {
	switch {
	case o.ConsecutiveFailures < 0:
		return &SettingError{"ConsecutiveFailures", o.ConsecutiveFailures, "0 (off) or more"}
	case o.ConsecutiveFailures > 0 && o.BaseEjectionTime <= 0:
		return &SettingError{"BaseEjectionTime", o.BaseEjectionTime, "more than 0"}
	case o.ConsecutiveFailures > 0 && o.MaxEjectionTime < o.BaseEjectionTime:
		return &SettingError{"MaxEjectionTime", o.MaxEjectionTime, fmt.Sprintf("at least BaseEjectionTime (%v)", o.BaseEjectionTime)}
	case o.MaxEjectionPercent < 0 || o.MaxEjectionPercent > 100:
		return &SettingError{"MaxEjectionPercent", o.MaxEjectionPercent, "0 to 100"}
	case o.StallTimeout < 0:
		return &SettingError{"StallTimeout", o.StallTimeout, "0 (off) or more"}
	}
	return nil
}

// SettingError is a setting of OutlierDetection out of range: Field is its
// name, Want what it must be (naming other fields by their names too), so
// that a caller can put its own names on both (serve's flags).
type SettingError struct {
	Field string
	Value any
	Want  string
}

func (e *SettingError) Error() string { return fmt.Sprintf("%s %v: want %s", e.Field, e.Value, e.Want) }

// Outcome is how one attempt to a target ended.
type Outcome uint8

// Outcomes.
const (
	// Success: the target answered below 500 and its body arrived whole.
	Success Outcome = iota
	// Status5xx: the target answered 5xx.
	Status5xx
	// ConnectFailure: the connection could not be made (refused,
	// unreachable, timed out).
	ConnectFailure
	// Reset: the connection broke (reset, closed) before or during the
	// response.
	Reset
	// Timeout: no response headers within the request timeout.
	Timeout
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Status5xx:
		return "5xx"
	case ConnectFailure:
		return "connect failure"
	case Reset:
		return "reset"
	case Timeout:
		return "timeout"
	}
	return "unknown"
}

// Stalled reports whether requests have awaited the target's answer for
// the stall timeout without any answer from it.
func (s *State) Stalled(now int64) bool {
	if s.inflight.Load()>>32 == 0 || s.od == nil || s.od.StallTimeout <= 0 {
		return false
	}
	since := max(s.pendingSince.Load(), s.lastAnswer.Load())
	return now-since >= int64(s.od.StallTimeout)
}

// Ejected reports whether the target is ejected at now.
func (s *State) Ejected(now int64) bool {
	e := s.ejectedUntil.Load()
	return e != 0 && now < e
}

// EjectedUntil returns the end of the target's current or last ejection
// (zero time when never ejected).
func (s *State) EjectedUntil() time.Time {
	if e := s.ejectedUntil.Load(); e != 0 {
		return time.Unix(0, e)
	}
	return time.Time{}
}

// Report records the outcome of one attempt to the target of tg whose
// state is s, at now (unix nanos), and ejects the target when its
// consecutive failures reach the threshold. It returns the ejection's end
// when this report ejected the target (for a log line), else zero. Outcomes
// that arrive while the target is ejected (requests that were in flight)
// are ignored. The common case, a success, is two atomic loads.
func (r *Registry) Report(tg *snapshot.TargetGroup, s *State, o Outcome, now int64) (ejectedUntil time.Time) {
	od := s.od
	if od == nil || od.ConsecutiveFailures <= 0 {
		return time.Time{}
	}
	if e := s.ejectedUntil.Load(); e != 0 && now < e {
		return time.Time{}
	}
	if o == Success {
		if s.failures.Load() != 0 {
			s.failures.Store(0)
		}
		return time.Time{}
	}
	if s.failures.Add(1) < od.ConsecutiveFailures {
		return time.Time{}
	}
	return r.eject(tg, s, now)
}

// eject takes s out of rotation unless that would eject more of tg than
// MaxEjectionPercent allows.
func (r *Registry) eject(tg *snapshot.TargetGroup, s *State, now int64) time.Time {
	od := s.od
	r.ejectMu.Lock()
	defer r.ejectMu.Unlock()
	if s.Ejected(now) {
		return time.Time{} // a concurrent report got here first
	}
	ejected := 0
	for _, t := range tg.Targets {
		if st, ok := r.Lookup(t.Key); ok && st != s && st.Ejected(now) {
			ejected++
		}
	}
	if ejected >= maxEjectable(len(tg.Targets), od.MaxEjectionPercent) {
		// The rest of the group must carry the traffic. Count afresh, so
		// the next try comes after another run of failures, not at each.
		s.failures.Store(0)
		return time.Time{}
	}
	n := s.ejections.Load()
	if last := s.ejectedUntil.Load(); last != 0 && now-last >= int64(od.MaxEjectionTime) {
		n = 0 // in rotation for a long while: start over
	}
	n++
	s.ejections.Store(n)
	d := min(time.Duration(n)*od.BaseEjectionTime, od.MaxEjectionTime)
	if d <= 0 {
		d = od.BaseEjectionTime
	}
	until := now + int64(d)
	s.ejectedUntil.Store(until)
	// Probation: the first failure after the ejection ejects again.
	s.failures.Store(od.ConsecutiveFailures - 1)
	return time.Unix(0, until)
}

// maxEjectable is how many of n targets may be ejected at once: pct
// percent, at least one (as Envoy), never all.
func maxEjectable(n, pct int) int {
	if pct <= 0 || n < 2 {
		return 0
	}
	m := max(n*pct/100, 1)
	return min(m, n-1)
}
