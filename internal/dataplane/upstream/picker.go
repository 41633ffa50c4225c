package upstream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// Picker policies.
const (
	// RoundRobin takes the available targets of a group in turn.
	RoundRobin = iota
	// LeastOutstanding takes the available target with the fewest requests
	// in flight; ties are broken round robin.
	LeastOutstanding
)

// Picker chooses the target of a target group for one request. It reads
// availability and outstanding counts from Registry; its round-robin
// position is kept per target group ID, so it survives snapshot swaps.
//
// A Picker must not be copied after first use. Pick is safe for concurrent
// use and does not allocate (after a group's first pick).
type Picker struct {
	Registry *Registry
	Policy   int // RoundRobin or LeastOutstanding
	// Now returns the current time in Unix nanoseconds; nil means
	// time.Now().UnixNano().
	Now func() int64

	counters sync.Map // target group ID → *rotation
}

// Pick returns a target of tg and its live state, skipping the target whose
// Key is exclude (the one a retry moves away from). Only available targets
// (State.Available) are considered; when none is, Pick fails open and
// chooses among every target, as Lattice does when all targets are
// unhealthy — still avoiding exclude unless it is the only target. It
// returns nil, nil when tg has no targets.
func (p *Picker) Pick(tg *snapshot.TargetGroup, exclude string) (*snapshot.Target, *State) {
	except := [1]string{exclude}
	if t, s := p.PickExcept(tg, except[:]); t != nil {
		return t, s
	}
	if len(tg.Targets) == 0 {
		return nil, nil
	}
	t := tg.Targets[0] // the excluded target is the only one
	return t, p.Registry.Get(t.Key)
}

// PickExcept is Pick avoiding every target whose Key is in except (the
// targets a request already tried); it returns nil, nil when no other
// target is left.
func (p *Picker) PickExcept(tg *snapshot.TargetGroup, except []string) (*snapshot.Target, *State) {
	targets := tg.Targets
	n := len(targets)
	if n == 0 {
		return nil, nil
	}
	now := p.now()
	// c numbers the picks of this group: c%n is the target whose turn it
	// is. When that one cannot take the request, a second counter rotates
	// among the k eligible ones, so every eligible target gets an equal
	// share (stepping to the next eligible one would double the share of
	// the target after a failed one).
	rr := p.counter(tg.ID)
	c := rr.picks.Add(1) - 1
	if p.Policy == LeastOutstanding {
		if t, s := p.least(targets, c, except, now, true); t != nil {
			return t, s
		}
		return p.least(targets, c, except, now, false)
	}

	// Round robin. Fast path: the target whose turn it is can take it.
	t := targets[c%uint64(n)]
	if !excluded(t.Key, except) {
		if s := p.Registry.Get(t.Key); s.Available(now) {
			return t, s
		}
	}
	// Slow path: choose evenly among the eligible targets, available ones
	// first, then (failing open) any not excluded.
	for _, needAvailable := range [2]bool{true, false} {
		k := 0
		for _, t := range targets {
			if p.eligible(t, except, now, needAvailable) {
				k++
			}
		}
		if k == 0 {
			continue
		}
		want := (rr.slow.Add(1) - 1) % uint64(k)
		for _, t := range targets {
			if p.eligible(t, except, now, needAvailable) {
				if want == 0 {
					return t, p.Registry.Get(t.Key)
				}
				want--
			}
		}
	}
	return nil, nil
}

func excluded(key string, except []string) bool {
	for _, k := range except {
		if k == key {
			return true
		}
	}
	return false
}

func (p *Picker) eligible(t *snapshot.Target, except []string, now int64, needAvailable bool) bool {
	if excluded(t.Key, except) {
		return false
	}
	return !needAvailable || p.Registry.Get(t.Key).Available(now)
}

// least returns the eligible target with the fewest outstanding requests;
// among several with that count it takes the (c mod ties)-th, so ties
// rotate round robin.
func (p *Picker) least(targets []*snapshot.Target, c uint64, except []string, now int64, needAvailable bool) (*snapshot.Target, *State) {
	minOut, ties := int64(0), uint64(0)
	for _, t := range targets {
		if excluded(t.Key, except) {
			continue
		}
		s := p.Registry.Get(t.Key)
		if needAvailable && !s.Available(now) {
			continue
		}
		switch out := s.Outstanding(); {
		case ties == 0 || out < minOut:
			minOut, ties = out, 1
		case out == minOut:
			ties++
		}
	}
	if ties == 0 {
		return nil, nil
	}
	want := c % ties
	// Second pass; counts may have moved meanwhile, so keep the best seen
	// as a fallback.
	var (
		best    *snapshot.Target
		bestS   *State
		bestOut int64
	)
	for _, t := range targets {
		if excluded(t.Key, except) {
			continue
		}
		s := p.Registry.Get(t.Key)
		if needAvailable && !s.Available(now) {
			continue
		}
		out := s.Outstanding()
		if out == minOut {
			if want == 0 {
				return t, s
			}
			want--
		}
		if best == nil || out < bestOut {
			best, bestS, bestOut = t, s, out
		}
	}
	return best, bestS
}

// rotation is the round-robin position of one target group.
type rotation struct {
	picks atomic.Uint64 // every pick
	slow  atomic.Uint64 // picks whose scheduled target could not take them
}

func (p *Picker) counter(tgID string) *rotation {
	if v, ok := p.counters.Load(tgID); ok {
		return v.(*rotation)
	}
	v, _ := p.counters.LoadOrStore(tgID, new(rotation))
	return v.(*rotation)
}

// Forget drops the round-robin positions of target groups for which keep
// returns false (groups that left the snapshot).
func (p *Picker) Forget(keep func(tgID string) bool) {
	p.counters.Range(func(k, _ any) bool {
		if !keep(k.(string)) {
			p.counters.Delete(k)
		}
		return true
	})
}

func (p *Picker) now() int64 {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now().UnixNano()
}
