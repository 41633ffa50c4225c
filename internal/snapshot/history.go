package snapshot

import (
	"slices"
	"sync/atomic"
)

// historyDepth bounds how many snapshots back a reader can ask about: a
// reader further behind (it slept through 64 snapshots) compares
// everything, and the links a snapshot keeps stay few.
const historyDepth = 64

// seqs numbers the snapshots of every Incremental of the process, so that
// a Seq names one snapshot even when the watcher starts a new compiler.
var seqs atomic.Uint64

// history is what changed between a snapshot and its predecessor, linked
// to the predecessor's own history. Readers of the snapshots (the health
// checker's Sync, the registry prune) are woken through coalescing
// channels and may skip snapshots, so one step is not enough: they need
// the union of every step since the snapshot they last handled.
type history struct {
	prevSeq uint64   // the predecessor's Seq; 0: unknown (a full compile)
	prev    *history // the predecessor's history; nil past historyDepth
	depth   int
	// targetGroups and services are the IDs of the target groups and
	// services that are not the same object as in the predecessor: added,
	// recompiled or removed.
	targetGroups, services []string
}

// Link numbers snap and records it as prev's successor in which only the
// target groups and the services named may be other objects (added,
// compiled anew, removed): what Incremental does for every snapshot it
// makes, and what a test that builds snapshots by hand does to play it.
// prev nil records that nothing is known (a full compile: everything is
// new). Link must be called before snap is published.
func Link(snap, prev *Snapshot, targetGroups, services []string) {
	snap.Seq = seqs.Add(1)
	if prev == nil {
		snap.history = &history{}
		return
	}
	targetGroups, services = slices.Clone(targetGroups), slices.Clone(services)
	slices.Sort(targetGroups)
	slices.Sort(services)
	h := &history{prevSeq: prev.Seq, targetGroups: targetGroups, services: services}
	if p := prev.history; p != nil && p.depth+1 < historyDepth {
		h.prev, h.depth = p, p.depth+1
	}
	snap.history = h
}

// TargetGroupsChangedSince returns the IDs of the target groups that may
// differ between the snapshot numbered seq and s — every ID it does not
// name is the same *TargetGroup object in both, or absent from both — and
// true. The list may name a group more than once, or one that is the same
// object after all (changed and changed back). It returns false when it
// cannot tell (seq is 0 or not an ancestor of s within 64 snapshots, or a
// full compile happened since): the reader must compare every group then.
func (s *Snapshot) TargetGroupsChangedSince(seq uint64) ([]string, bool) {
	return s.changedSince(seq, func(h *history) []string { return h.targetGroups })
}

// ServicesChangedSince is TargetGroupsChangedSince for the services
// (Snapshot.Services).
func (s *Snapshot) ServicesChangedSince(seq uint64) ([]string, bool) {
	return s.changedSince(seq, func(h *history) []string { return h.services })
}

func (s *Snapshot) changedSince(seq uint64, ids func(*history) []string) ([]string, bool) {
	if seq == 0 {
		return nil, false
	}
	if s.Seq == seq {
		return nil, true
	}
	var out []string
	for h := s.history; h != nil; h = h.prev {
		if h.prevSeq == 0 || h.prevSeq < seq {
			return nil, false
		}
		out = append(out, ids(h)...)
		if h.prevSeq == seq {
			return out, true
		}
	}
	return nil, false
}

// WithoutHistory returns a shallow copy of s without its Seq and history:
// the snapshot Compile makes of the same state, for comparisons (tests
// that prove the incremental compile equal to a full one).
func WithoutHistory(s *Snapshot) *Snapshot {
	c := *s
	c.Seq, c.history = 0, nil
	return &c
}
