// Package upstream holds the live state of targets that must outlive a
// snapshot swap: active health (written by the health checker), passive
// health (written by the proxy after each attempt: refused connections,
// outlier ejections, stalls), and requests in flight (for
// least-outstanding balancing and stall detection). State is keyed by
// snapshot.Target.Key and read lock-free on the request path.
//
// What takes a target out of rotation (State.Available), and what brings
// it back:
//   - an active health check: UNHEALTHY after the unhealthy threshold of
//     failed checks, until the healthy threshold of passing checks
//     (internal/dataplane/health);
//   - a failed connection (refused, unreachable): marked down at once. A
//     target with active checks stays down until a check passes (each
//     failing check extends the mark-down to the next check's end; a
//     checker that stopped lets it lapse one check cycle later); one
//     without is tried again after the proxy's PassiveDownFor;
//   - outlier ejection (outlier.go): consecutive failed attempts (5xx
//     answers, connection failures, resets, timeouts) eject the target for
//     BaseEjectionTime × times ejected, capped, never more than
//     MaxEjectionPercent of a group's targets;
//   - a stall (outlier.go): requests await the target's answer and none
//     came for StallTimeout.
//
// Every check on the request path is a few atomic loads; reporting an
// attempt is one or two atomic adds. Nothing allocates and nothing locks but
// an ejection (rare).
package upstream

import (
	"sync"
	"sync/atomic"
	"time"
)

// Health is the active health-check status of a target.
type Health int32

// Health values.
const (
	HealthInitial   Health = iota // no check has finished yet
	HealthHealthy                 // passing
	HealthUnhealthy               // failing
	HealthUnchecked               // checks disabled or not applicable
)

func (h Health) String() string {
	switch h {
	case HealthHealthy:
		return "HEALTHY"
	case HealthUnhealthy:
		return "UNHEALTHY"
	case HealthUnchecked:
		return "UNAVAILABLE"
	}
	return "INITIAL"
}

// State is the live state of one target. Its zero value is usable (no
// outlier detection); Registry.Get returns states with the registry's
// OutlierDetection.
type State struct {
	health      atomic.Int32
	reason      atomic.Pointer[string]
	passiveDown atomic.Int64 // unix nanos until which the target is considered down; 0 = not
	markedAt    atomic.Int64 // unix nanos of the last MarkDown
	checkCycle  atomic.Int64 // nanos: how long until the next active check has ended; 0 = not checked

	// inflight packs two counts so that a request changes both with one
	// atomic add: the requests in flight (low 32 bits, for
	// least-outstanding balancing) and, of those, the ones still awaiting
	// the target's response headers (high 32 bits, for stall detection).
	// Each count only falls after it rose for the same request, so neither
	// half ever borrows from the other.
	inflight     atomic.Int64
	pendingSince atomic.Int64 // unix nanos when the awaiting count last rose from 0
	lastAnswer   atomic.Int64 // unix nanos of the last response headers (1 ms resolution)

	failures     atomic.Int32 // consecutive failed attempts
	ejections    atomic.Int32 // times ejected (the ejection time's multiplier)
	ejectedUntil atomic.Int64 // unix nanos; 0 = never ejected

	od *OutlierDetection // nil: no outlier detection, no stall detection
}

const (
	pendingOne  = int64(1) << 32
	countMask   = pendingOne - 1
	beginDelta  = pendingOne + 1
	answerEvery = int64(time.Millisecond) // resolution of lastAnswer: fewer writes to a shared line
)

// Health returns the active status and its reason code.
func (s *State) Health() (Health, string) {
	h := Health(s.health.Load())
	if r := s.reason.Load(); r != nil {
		return h, *r
	}
	return h, ""
}

// SetHealth records an active check status. It does not touch a passive
// mark-down: a passing check clears it (ClearMarkDown), a failing one must
// never make the target look better (KeepDown).
func (s *State) SetHealth(h Health, reason string) {
	s.health.Store(int32(h))
	if reason == "" {
		s.reason.Store(nil)
	} else {
		s.reason.Store(&reason)
	}
}

// MarkDown takes the target out of rotation (passive detection: a refused
// connection) until `until`, or — for a target with active checks
// (SetCheckCycle) — until its next check has ended if that is later: a
// check that passes clears the mark-down (ClearMarkDown), one that fails
// extends it (KeepDown), so a checked target that refuses connections
// stays out until a check passes.
func (s *State) MarkDown(until time.Time) {
	now := time.Now().UnixNano()
	d := until.UnixNano()
	if c := s.checkCycle.Load(); c > 0 {
		d = max(d, now+c)
	}
	s.markedAt.Store(now)
	s.passiveDown.Store(d)
}

// SetCheckCycle tells the state that active checks run on the target and
// that the next one ends at most d after any moment (interval, timeout and
// some slack); 0 says checks do not run.
func (s *State) SetCheckCycle(d time.Duration) {
	if s.checkCycle.Load() != int64(d) {
		s.checkCycle.Store(int64(d))
	}
}

// ClearMarkDown ends a passive mark-down because an active check that
// started at checkStarted (unix nanos) passed: the target accepts
// connections again. A mark-down made after the check started stands: the
// check's answer may predate the refusal.
func (s *State) ClearMarkDown(checkStarted int64) {
	if s.passiveDown.Load() != 0 && s.markedAt.Load() <= checkStarted {
		s.passiveDown.Store(0)
	}
}

// KeepDown extends a mark-down standing at now to at least until (unix
// nanos): a failed active check keeps a target that refused connections out
// of rotation until the next check, however short the mark-down was. A
// target not marked down at now is left alone.
func (s *State) KeepDown(now, until int64) {
	for {
		d := s.passiveDown.Load()
		if d == 0 || d <= now || d >= until {
			return
		}
		if s.passiveDown.CompareAndSwap(d, until) {
			return
		}
	}
}

// MarkedDown reports whether a passive mark-down stands at now.
func (s *State) MarkedDown(now int64) bool {
	d := s.passiveDown.Load()
	return d != 0 && now < d
}

// Available reports whether the target may take new requests now: not
// actively unhealthy, not passively down, not ejected and not stalled.
func (s *State) Available(now int64) bool {
	if Health(s.health.Load()) == HealthUnhealthy {
		return false
	}
	if d := s.passiveDown.Load(); d != 0 && now < d {
		return false
	}
	if e := s.ejectedUntil.Load(); e != 0 && now < e {
		return false
	}
	return !s.Stalled(now)
}

// Acquire counts a request in flight without stall tracking; Release ends
// it. The proxy uses Begin, Answered and End instead.
func (s *State) Acquire() { s.inflight.Add(1) }

// Release ends a request counted by Acquire.
func (s *State) Release() { s.inflight.Add(-1) }

// Begin counts a request sent to the target at now (unix nanos): in
// flight, and awaiting the target's answer until Answered.
func (s *State) Begin(now int64) {
	// Note the start of a wait before counting it, so that a concurrent
	// Stalled never pairs the new count with an old start.
	if s.inflight.Load()>>32 == 0 {
		s.pendingSince.Store(now)
	}
	s.inflight.Add(beginDelta)
}

// Answered records that the target's response headers for a request
// counted by Begin arrived at now: it is no longer awaited, and the target
// made progress.
func (s *State) Answered(now int64) {
	if now-s.lastAnswer.Load() >= answerEvery {
		s.lastAnswer.Store(now)
	}
	s.inflight.Add(-pendingOne)
}

// End ends a request counted by Begin; answered tells whether Answered was
// called for it.
func (s *State) End(answered bool) {
	if answered {
		s.inflight.Add(-1)
	} else {
		s.inflight.Add(-beginDelta)
	}
}

// Outstanding returns the requests in flight.
func (s *State) Outstanding() int64 { return s.inflight.Load() & countMask }

// Awaiting returns the requests in flight whose response headers have not
// arrived yet.
func (s *State) Awaiting() int64 { return s.inflight.Load() >> 32 }

// Registry maps target keys to their state.
type Registry struct {
	// Outlier configures outlier ejection and stall detection of every
	// state the registry makes; nil means DefaultOutlierDetection. Set it
	// before the first Get.
	Outlier *OutlierDetection

	m       sync.Map   // string → *State
	ejectMu sync.Mutex // serializes ejections, so MaxEjectionPercent holds
}

// Get returns the state of key, creating it on first use.
func (r *Registry) Get(key string) *State {
	if v, ok := r.m.Load(key); ok {
		return v.(*State)
	}
	od := r.Outlier
	if od == nil {
		od = &DefaultOutlierDetection
	}
	v, _ := r.m.LoadOrStore(key, &State{od: od})
	return v.(*State)
}

// Lookup returns the state of key if it exists.
func (r *Registry) Lookup(key string) (*State, bool) {
	v, ok := r.m.Load(key)
	if !ok {
		return nil, false
	}
	return v.(*State), true
}

// Forget drops the state of keys (targets that left the snapshot).
func (r *Registry) Forget(keys []string) {
	for _, k := range keys {
		r.m.Delete(k)
	}
}

// Retain drops the state of every key for which keep returns false (targets
// that left every snapshot).
func (r *Registry) Retain(keep func(key string) bool) {
	r.m.Range(func(k, _ any) bool {
		if !keep(k.(string)) {
			r.m.Delete(k)
		}
		return true
	})
}

// TargetKey is the key of a target: "<tg>/<id>/<port>".
func TargetKey(tgID, targetID string, port int) string {
	return tgID + "/" + targetID + "/" + itoa(port)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
