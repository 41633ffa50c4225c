package service

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// Targets live at tgt/<tg>/<target-id>/<port>; Lambda targets, which have
// no port, use port 0. A deregistered target keeps its key with
// DeregisteredAt set: it is DRAINING for the drain time (Config.DrainTime)
// and gone afterwards. Reads skip gone targets; the next write to the group
// (RegisterTargets, DeregisterTargets, UpdateTargetGroup) deletes their keys.

// Failure codes of RegisterTargets and DeregisterTargets (unsuccessful[]).
// Lattice does not document the values; Trellis uses the names of the
// errors the whole call would return for the same problem.
const (
	TargetFailureValidation = "ValidationException"
	TargetFailureConflict   = "ConflictException"
)

// MaxListTargetsFilter is the most targets a ListTargets filter may name.
const MaxListTargetsFilter = 20

// TargetInput names a target in RegisterTargets, DeregisterTargets and the
// ListTargets filter. A nil Port means the target group's port.
type TargetInput struct {
	ID   string
	Port *int
}

// TargetRef is a target as responses name it; Port is 0 for Lambda targets.
type TargetRef struct {
	ID   string
	Port int
}

// TargetFailure is one target a Register/DeregisterTargets call could not
// handle. Port is the port given or defaulted, nil when there is none.
type TargetFailure struct {
	ID             string
	Port           *int
	FailureCode    string
	FailureMessage string
}

// TargetsResult is RegisterTargets' and DeregisterTargets' answer.
type TargetsResult struct {
	Successful   []TargetRef
	Unsuccessful []TargetFailure
}

// TargetSummary is one ListTargets item.
type TargetSummary struct {
	ID         string
	Port       int
	Status     string
	ReasonCode string
}

// ListTargetsInput is ListTargets' request.
type ListTargetsInput struct {
	Page
	Identifier string
	// Targets optionally restricts the list: a target is listed when its ID
	// matches an entry and, when the entry has a port, its port does too.
	Targets []TargetInput
}

func targetKey(tgID, targetID string, port int) string {
	return pfxTarget + tgID + "/" + targetID + "/" + strconv.Itoa(port)
}

// targetGone reports whether a deregistered target has finished draining.
func (s *Service) targetGone(t *model.Target, now time.Time) bool {
	return t.DeregisteredAt != nil && !now.Before(t.DeregisteredAt.Add(s.cfg.DrainTime))
}

// liveTargets returns the targets of a group by key, deleting those that
// have finished draining.
func (s *Service) liveTargets(tx store.Tx, tgID string) (map[string]*model.Target, error) {
	now := s.now()
	live := map[string]*model.Target{}
	var gone []string
	err := scanJSON(tx, pfxTarget+tgID+"/", func(k string, t *model.Target) (bool, error) {
		if s.targetGone(t, now) {
			gone = append(gone, k)
		} else {
			live[k] = t
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range gone {
		if err := tx.Delete(k); err != nil {
			return nil, err
		}
	}
	return live, nil
}

// purgeDrainedTargets deletes the targets of a group that have finished draining.
func (s *Service) purgeDrainedTargets(tx store.Tx, tgID string) error {
	_, err := s.liveTargets(tx, tgID)
	return err
}

func checkTargetList(v *model.Validator, targets []TargetInput, minN, maxN int) {
	if len(targets) < minN || len(targets) > maxN {
		v.Addf("targets", "targets must have between %d and %d entries", minN, maxN)
	}
}

// checkTargetInput validates the i-th target of a request against its group
// and returns its port: the one given, else the group's (0 for Lambda).
func checkTargetInput(tg *model.TargetGroup, i int, in TargetInput) (int, error) {
	field := "targets[" + strconv.Itoa(i) + "]"
	var v model.Validator
	ipType := ""
	groupPort := 0
	if tg.Config != nil {
		ipType = tg.Config.IPAddressType
		if tg.Config.Port != nil {
			groupPort = *tg.Config.Port
		}
	}
	if in.ID == "" {
		v.Addf(field+".id", "id is required")
	} else {
		model.CheckTargetID(&v, field+".id", tg.Type, ipType, in.ID)
	}
	port := groupPort
	switch {
	case tg.Type == model.TargetGroupTypeLambda:
		port = 0
		if in.Port != nil {
			v.Addf(field+".port", "Lambda targets have no port")
		}
	case in.Port != nil:
		port = *in.Port
		model.CheckPort(&v, field+".port", port)
	}
	return port, v.Err()
}

// targetFailure turns a problem with one target into an unsuccessful entry.
func targetFailure(in TargetInput, tgType string, port int, code string, err error) TargetFailure {
	f := TargetFailure{ID: in.ID, FailureCode: code, FailureMessage: err.Error()}
	var e *model.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		msgs := make([]string, len(e.Fields))
		for i, fe := range e.Fields {
			msgs[i] = fe.Message
		}
		f.FailureMessage = strings.Join(msgs, "; ")
	}
	switch {
	case in.Port != nil:
		f.Port = intPtr(*in.Port)
	case tgType != model.TargetGroupTypeLambda:
		f.Port = intPtr(port)
	}
	return f
}

// otherActiveTarget returns the key of an active (not draining) target
// other than key, or "".
func otherActiveTarget(live map[string]*model.Target, key string) string {
	for k, t := range live {
		if k != key && t.DeregisteredAt == nil {
			return k
		}
	}
	return ""
}

// RegisterTargets adds targets to a target group. Problems with single
// targets (a malformed ID or port, a second target of a LAMBDA or ALB
// group) are reported in Unsuccessful and do not stop the others; going
// over the targets-per-group quota fails the whole call. Registering a
// registered target is a no-op; registering a draining one makes it active
// again.
func (s *Service) RegisterTargets(ctx context.Context, ident string, targets []TargetInput) (TargetsResult, error) {
	c, err := caller(ctx)
	if err != nil {
		return TargetsResult{}, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.TargetGroup, "targetGroupIdentifier", ident)
	checkTargetList(&v, targets, 1, model.MaxTargetsPerCall)
	if err := v.Err(); err != nil {
		return TargetsResult{}, err
	}
	var out TargetsResult
	err = s.update(ctx, func(tx store.Tx) error {
		out = TargetsResult{}
		tg, err := s.loadTargetGroup(tx, c, ident)
		if err != nil {
			return err
		}
		live, err := s.liveTargets(tx, tg.ID)
		if err != nil {
			return err
		}
		single := tg.Type == model.TargetGroupTypeLambda || tg.Type == model.TargetGroupTypeALB
		now := s.now()
		for i, in := range targets {
			port, err := checkTargetInput(tg, i, in)
			if err != nil {
				out.Unsuccessful = append(out.Unsuccessful, targetFailure(in, tg.Type, port, TargetFailureValidation, err))
				continue
			}
			if err := s.checkTargetAccount(c, tg, i, in.ID); err != nil {
				out.Unsuccessful = append(out.Unsuccessful, targetFailure(in, tg.Type, port, TargetFailureAccessDenied, err))
				continue
			}
			if err := s.checkRegistryTarget(tx, c, tg, i, in.ID, port); err != nil {
				if model.KindOf(err) != model.KindValidation {
					return err
				}
				out.Unsuccessful = append(out.Unsuccessful, targetFailure(in, tg.Type, port, TargetFailureValidation, err))
				continue
			}
			key := targetKey(tg.ID, in.ID, port)
			t, exists := live[key]
			if exists && t.DeregisteredAt == nil {
				out.Successful = append(out.Successful, TargetRef{ID: in.ID, Port: port})
				continue
			}
			if single {
				if other := otherActiveTarget(live, key); other != "" {
					o := live[other]
					out.Unsuccessful = append(out.Unsuccessful, targetFailure(in, tg.Type, port, TargetFailureConflict,
						model.Conflict(model.TypeTarget, in.ID, "a %s target group has exactly one target and already has %s; deregister it first", tg.Type, o.ID)))
					continue
				}
			}
			if exists { // draining: active again
				t.DeregisteredAt = nil
				t.RegisteredAt = now
			} else {
				if err := s.quota(model.QuotaTargetsPerTargetGroup, tg.ID, len(live), 1); err != nil {
					return err
				}
				t = &model.Target{TargetGroupID: tg.ID, ID: in.ID, Port: port, RegisteredAt: now}
				live[key] = t
			}
			if err := putJSON(tx, key, t); err != nil {
				return err
			}
			out.Successful = append(out.Successful, TargetRef{ID: in.ID, Port: port})
		}
		return nil
	})
	return out, err
}

// DeregisterTargets starts draining targets of a target group. Targets that
// are not registered (or already draining) are reported as successful
// no-ops; malformed IDs and ports are reported in Unsuccessful.
func (s *Service) DeregisterTargets(ctx context.Context, ident string, targets []TargetInput) (TargetsResult, error) {
	c, err := caller(ctx)
	if err != nil {
		return TargetsResult{}, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.TargetGroup, "targetGroupIdentifier", ident)
	checkTargetList(&v, targets, 1, model.MaxTargetsPerCall)
	if err := v.Err(); err != nil {
		return TargetsResult{}, err
	}
	var out TargetsResult
	err = s.update(ctx, func(tx store.Tx) error {
		out = TargetsResult{}
		tg, err := s.loadTargetGroup(tx, c, ident)
		if err != nil {
			return err
		}
		live, err := s.liveTargets(tx, tg.ID)
		if err != nil {
			return err
		}
		now := s.now()
		for i, in := range targets {
			port, err := checkTargetInput(tg, i, in)
			if err != nil {
				out.Unsuccessful = append(out.Unsuccessful, targetFailure(in, tg.Type, port, TargetFailureValidation, err))
				continue
			}
			key := targetKey(tg.ID, in.ID, port)
			if t, ok := live[key]; ok && t.DeregisteredAt == nil {
				at := now
				t.DeregisteredAt = &at
				if err := putJSON(tx, key, t); err != nil {
					return err
				}
			}
			out.Successful = append(out.Successful, TargetRef{ID: in.ID, Port: port})
		}
		return nil
	})
	return out, err
}

// ListTargets lists the targets of a target group with their status:
// DRAINING while a deregistered target drains; else UNUSED when no service
// uses the group; else UNAVAILABLE when the group has no (enabled) health
// checks; else what the health checker says, INITIAL until it knows.
func (s *Service) ListTargets(ctx context.Context, in ListTargetsInput) ([]TargetSummary, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var v model.Validator
	checkIdentifier(&v, arn.TargetGroup, "targetGroupIdentifier", in.Identifier)
	checkTargetList(&v, in.Targets, 0, MaxListTargetsFilter)
	for i, f := range in.Targets {
		if f.ID == "" {
			v.Addf("targets["+strconv.Itoa(i)+"].id", "id is required")
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	var out []TargetSummary
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		tg, err := s.loadTargetGroup(tx, c, in.Identifier)
		if err != nil {
			return err
		}
		users, err := tgServices(tx, tg.ID)
		if err != nil {
			return err
		}
		now := s.now()
		var ts []*model.Target
		ts, next, err = listPage(tx, pfxTarget+tg.ID+"/", in.Page, func(t *model.Target) bool {
			return !s.targetGone(t, now) && targetMatches(in.Targets, t)
		})
		if err != nil {
			return err
		}
		out = make([]TargetSummary, 0, len(ts))
		for _, t := range ts {
			st, reason := s.targetStatus(tg, t, len(users) > 0)
			if st != model.TargetStatusUnused {
				if rs, rr, ok, err := registryTargetStatus(tx, tg, t); err != nil {
					return err
				} else if ok {
					st, reason = rs, rr
				}
			}
			out = append(out, TargetSummary{ID: t.ID, Port: t.Port, Status: st, ReasonCode: reason})
		}
		return nil
	})
	return out, next, err
}

func targetMatches(filter []TargetInput, t *model.Target) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if f.ID == t.ID && (f.Port == nil || *f.Port == t.Port) {
			return true
		}
	}
	return false
}

// targetStatus computes the ListTargets status of a live target.
func (s *Service) targetStatus(tg *model.TargetGroup, t *model.Target, used bool) (status, reason string) {
	switch {
	case t.DeregisteredAt != nil:
		return model.TargetStatusDraining, ""
	case !used:
		return model.TargetStatusUnused, ""
	case tg.Type == model.TargetGroupTypeLambda || tg.Type == model.TargetGroupTypeALB:
		return model.TargetStatusUnavailable, ""
	case tg.Config == nil || tg.Config.HealthCheck == nil || tg.Config.HealthCheck.Enabled == nil || !*tg.Config.HealthCheck.Enabled:
		return model.TargetStatusUnavailable, ""
	}
	if s.health != nil {
		if st, r, ok := s.health.TargetStatus(tg.ID, t.ID, t.Port); ok {
			return st, r
		}
	}
	return model.TargetStatusInitial, ""
}
