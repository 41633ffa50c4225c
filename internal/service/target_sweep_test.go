package service

import (
	"slices"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/store"
)

// TestPurgeDrainedTargets: the sweeper's operations find the groups with
// deregistered targets and delete those past their drain time — without a
// write to the group — and nothing else.
func TestPurgeDrainedTargets(t *testing.T) {
	s, ctx, clk := tgSetup(t, nil)
	tg := tgMustCreate(t, s, ctx, "web", "IP", tgIPConfig())
	other := tgMustCreate(t, s, ctx, "other", "IP", tgIPConfig())
	if _, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}, {ID: "10.0.0.2"}, {ID: "10.0.0.3"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterTargets(ctx, other.ID, []TargetInput{{ID: "10.0.1.1"}}); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.DrainingTargetGroups(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("DrainingTargetGroups before any deregistration = %v, %v", ids, err)
	}
	if _, err := s.DeregisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	if _, err := s.DeregisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.2"}}); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.DrainingTargetGroups(ctx); err != nil || !slices.Equal(ids, []string{tg.ID}) {
		t.Fatalf("DrainingTargetGroups = %v, %v; want [%s]", ids, err, tg.ID)
	}
	// Both still drain: nothing deleted.
	if del, dr, err := s.PurgeDrainedTargets(ctx, tg.ID); err != nil || del != 0 || dr != 2 {
		t.Fatalf("purge while draining = %d deleted, %d draining, %v", del, dr, err)
	}
	// 10.0.0.1's drain time (1 minute) has passed, 10.0.0.2's not.
	clk.Advance(31 * time.Second)
	rev := func() int64 {
		r, err := s.st.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := rev()
	if del, dr, err := s.PurgeDrainedTargets(ctx, tg.ID); err != nil || del != 1 || dr != 1 {
		t.Fatalf("purge = %d deleted, %d draining, %v; want 1, 1", del, dr, err)
	}
	if rev() != before+1 {
		t.Fatalf("a purge is one write: revision %d → %d", before, rev())
	}
	present := func(target string) bool {
		var ok bool
		if err := s.view(ctx, func(tx store.ReadTx) error {
			var err error
			_, ok, err = tx.Get(targetKey(tg.ID, target, 80))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if present("10.0.0.1") || !present("10.0.0.2") || !present("10.0.0.3") {
		t.Fatalf("after the purge: 10.0.0.1 %v (want gone), 10.0.0.2 %v, 10.0.0.3 %v", present("10.0.0.1"), present("10.0.0.2"), present("10.0.0.3"))
	}
	// Nothing to delete: no write at all.
	before = rev()
	if del, _, err := s.PurgeDrainedTargets(ctx, other.ID); err != nil || del != 0 || rev() != before {
		t.Fatalf("purge of a group without drained targets: %d deleted, %v, revision %d → %d", del, err, before, rev())
	}
	// A gone group is no error.
	if _, _, err := s.PurgeDrainedTargets(ctx, "tg-00000000000000000"); err != nil {
		t.Fatal(err)
	}
}
