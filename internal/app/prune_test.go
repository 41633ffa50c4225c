package app

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// TestPruneRegistryFollowsChangedTargetGroups: the first snapshot sweeps
// the whole registry; later ones forget the targets that left the target
// groups that changed (new objects), and a removed target group's targets.
func TestPruneRegistryFollowsChangedTargetGroups(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tg := func(id string, keys ...string) *snapshot.TargetGroup {
		g := &snapshot.TargetGroup{ID: id}
		for _, k := range keys {
			g.Targets = append(g.Targets, &snapshot.Target{Key: k})
		}
		return g
	}
	var holder snapshot.Holder
	reg := &upstream.Registry{}
	for _, k := range []string{"a/1", "a/2", "b/3", "stale/9"} {
		reg.Get(k)
	}
	a, b := tg("a", "a/1", "a/2"), tg("b", "b/3")
	holder.Store(&snapshot.Snapshot{TargetGroups: snapshot.TableOf(map[string]*snapshot.TargetGroup{"a": a, "b": b})})
	changes := make(chan struct{})
	go pruneRegistry(ctx, &holder, reg, changes)
	want := func(present ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok := true
			for _, k := range []string{"a/1", "a/2", "b/3", "stale/9"} {
				_, has := reg.Lookup(k)
				if has != contains(present, k) {
					ok = false
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("registry does not hold exactly %v", present)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	changes <- struct{}{}
	want("a/1", "a/2", "b/3")
	// a changes (a new object without a/2); b is shared.
	holder.Store(&snapshot.Snapshot{TargetGroups: snapshot.TableOf(map[string]*snapshot.TargetGroup{"a": tg("a", "a/1"), "b": b})})
	changes <- struct{}{}
	want("a/1", "b/3")
	// b goes.
	holder.Store(&snapshot.Snapshot{TargetGroups: snapshot.TableOf(map[string]*snapshot.TargetGroup{"a": tg("a", "a/1")})})
	changes <- struct{}{}
	want("a/1")
}

// TestPruneRegistryFollowsSnapshotHistory: with snapshots linked as the
// incremental compile links them, the prune follows the groups their
// history names, also through snapshots it did not see (its channel
// coalesces), and looks at no other group.
func TestPruneRegistryFollowsSnapshotHistory(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tg := func(id string, keys ...string) *snapshot.TargetGroup {
		g := &snapshot.TargetGroup{ID: id}
		for _, k := range keys {
			g.Targets = append(g.Targets, &snapshot.Target{Key: k})
		}
		return g
	}
	mk := func(prev *snapshot.Snapshot, changed []string, tgs ...*snapshot.TargetGroup) *snapshot.Snapshot {
		m := map[string]*snapshot.TargetGroup{}
		for _, g := range tgs {
			m[g.ID] = g
		}
		s := &snapshot.Snapshot{TargetGroups: snapshot.TableOf(m)}
		snapshot.Link(s, prev, changed, nil)
		return s
	}
	var holder snapshot.Holder
	reg := &upstream.Registry{}
	all := []string{"a/1", "a/2", "b/3", "b/4", "c/5", "c/6"}
	for _, k := range all {
		reg.Get(k)
	}
	want := func(present ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok := true
			for _, k := range all {
				if _, has := reg.Lookup(k); has != contains(present, k) {
					ok = false
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("registry does not hold exactly %v", present)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c := tg("c", "c/5", "c/6")
	s1 := mk(nil, nil, tg("a", "a/1", "a/2"), tg("b", "b/3", "b/4"), c)
	holder.Store(s1)
	changes := make(chan struct{})
	go pruneRegistry(ctx, &holder, reg, changes)
	changes <- struct{}{}
	want(all...)
	// s2 drops a/2, s3 drops b/4: the prune sees only s3. c changes too
	// (c/6 left) but the history does not name it: not looked at.
	s2 := mk(s1, []string{"a"}, tg("a", "a/1"), s1.TargetGroups.Get("b"), c)
	s3 := mk(s2, []string{"b"}, s2.TargetGroups.Get("a"), tg("b", "b/3"), tg("c", "c/5"))
	holder.Store(s3)
	changes <- struct{}{}
	want("a/1", "b/3", "c/5", "c/6")
	// Without a history every group is compared: c changes again, and
	// c/5 goes (c/6 waits for the periodic sweep).
	s4 := mk(nil, nil, s3.TargetGroups.Get("a"), s3.TargetGroups.Get("b"), tg("c"))
	holder.Store(s4)
	changes <- struct{}{}
	want("a/1", "b/3", "c/6")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
