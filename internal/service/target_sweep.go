package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// Deregistered targets are deleted lazily by the next write to their group
// (liveTargets), and otherwise by the drained-target sweeper: one node of
// the installation, elected (internal/cluster), calls PurgeDrainedTargets
// for the groups that hold deregistered targets, so that the store does not
// keep targets whose drain time passed in groups nobody writes to.

// DrainingTargetGroups returns the IDs of the target groups that hold
// deregistered targets, draining or past their drain time. It reads every
// target (skipping, without decoding, those whose value names no
// deregistration): the sweeper calls it once when it is elected, and then
// follows the groups the snapshot shows draining.
func (s *Service) DrainingTargetGroups(ctx context.Context) ([]string, error) {
	var ids []string
	marker := []byte(`"deregisteredAt"`)
	err := s.view(ctx, func(tx store.ReadTx) error {
		last := ""
		return tx.Scan(pfxTarget, "", func(k string, v []byte) (bool, error) {
			if !bytes.Contains(v, marker) {
				return true, nil
			}
			tg, _, ok := strings.Cut(strings.TrimPrefix(k, pfxTarget), "/")
			if ok && tg != last {
				ids = append(ids, tg)
				last = tg
			}
			return true, nil
		})
	})
	return ids, err
}

// PurgeDrainedTargets deletes the targets of a target group whose drain
// time has passed, and returns how many it deleted and how many
// deregistered targets still drain. A system operation (no caller): it
// changes nothing a caller could see, since ListTargets and the snapshot
// already skip such targets. A group that is gone is no error: nothing is
// left to purge.
func (s *Service) PurgeDrainedTargets(ctx context.Context, targetGroupID string) (deleted, draining int, err error) {
	// Looked at in a view first: most sweeps find targets still draining
	// and nothing to delete, and a view takes no place in the store's
	// queue of writes (an update that writes nothing still commits, an
	// fsync on the embedded store).
	// Registered targets are skipped without decoding.
	gone := 0
	marker := []byte(`"deregisteredAt"`)
	err = s.view(ctx, func(tx store.ReadTx) error {
		gone, draining = 0, 0
		now := s.now()
		return tx.Scan(pfxTarget+targetGroupID+"/", "", func(k string, v []byte) (bool, error) {
			if !bytes.Contains(v, marker) {
				return true, nil
			}
			var t model.Target
			if err := json.Unmarshal(v, &t); err != nil {
				return false, fmt.Errorf("decode %s: %w", k, err)
			}
			switch {
			case s.targetGone(&t, now):
				gone++
			case t.DeregisteredAt != nil:
				draining++
			}
			return true, nil
		})
	})
	if err != nil || gone == 0 {
		return 0, draining, err
	}
	err = s.update(ctx, func(tx store.Tx) error {
		deleted, draining = 0, 0
		now := s.now()
		var gone []string
		err := scanJSON(tx, pfxTarget+targetGroupID+"/", func(k string, t *model.Target) (bool, error) {
			switch {
			case s.targetGone(t, now):
				gone = append(gone, k)
			case t.DeregisteredAt != nil:
				draining++
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		deleted = len(gone)
		return nil
	})
	return deleted, draining, err
}
