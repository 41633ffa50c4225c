// Package upstream holds the live state of targets that must outlive a
// snapshot swap: active health (written by the health checker), passive
// health (written by the proxy when a connection is refused), and
// outstanding requests (for least-outstanding balancing). State is keyed by
// snapshot.Target.Key and read lock-free on the request path.
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

// State is the live state of one target.
type State struct {
	health      atomic.Int32
	reason      atomic.Pointer[string]
	passiveDown atomic.Int64 // unix nanos until which the target is considered down; 0 = not
	outstanding atomic.Int64
}

// Health returns the active status and its reason code.
func (s *State) Health() (Health, string) {
	h := Health(s.health.Load())
	if r := s.reason.Load(); r != nil {
		return h, *r
	}
	return h, ""
}

// SetHealth records an active check result.
func (s *State) SetHealth(h Health, reason string) {
	s.health.Store(int32(h))
	if reason == "" {
		s.reason.Store(nil)
	} else {
		s.reason.Store(&reason)
	}
	if h == HealthHealthy {
		s.passiveDown.Store(0)
	}
}

// MarkDown takes the target out of rotation until `until` (passive
// detection: a refused connection), unless an active check passes first.
func (s *State) MarkDown(until time.Time) { s.passiveDown.Store(until.UnixNano()) }

// Available reports whether the target may take new requests now: not
// actively unhealthy and not passively down.
func (s *State) Available(now int64) bool {
	if Health(s.health.Load()) == HealthUnhealthy {
		return false
	}
	d := s.passiveDown.Load()
	return d == 0 || now >= d
}

// Acquire counts a request in flight; Release ends it.
func (s *State) Acquire() { s.outstanding.Add(1) }

// Release ends a request counted by Acquire.
func (s *State) Release() { s.outstanding.Add(-1) }

// Outstanding returns the requests in flight.
func (s *State) Outstanding() int64 { return s.outstanding.Load() }

// Registry maps target keys to their state.
type Registry struct {
	m sync.Map // string → *State
}

// Get returns the state of key, creating it on first use.
func (r *Registry) Get(key string) *State {
	if v, ok := r.m.Load(key); ok {
		return v.(*State)
	}
	v, _ := r.m.LoadOrStore(key, new(State))
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
