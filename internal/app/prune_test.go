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
	holder.Store(&snapshot.Snapshot{TargetGroups: map[string]*snapshot.TargetGroup{"a": a, "b": b}})
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
	holder.Store(&snapshot.Snapshot{TargetGroups: map[string]*snapshot.TargetGroup{"a": tg("a", "a/1"), "b": b}})
	changes <- struct{}{}
	want("a/1", "b/3")
	// b goes.
	holder.Store(&snapshot.Snapshot{TargetGroups: map[string]*snapshot.TargetGroup{"a": tg("a", "a/1")}})
	changes <- struct{}{}
	want("a/1")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
