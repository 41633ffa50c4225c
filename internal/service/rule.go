package service

import (
	"context"
	"errors"
	"strconv"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// Rules live at rule/<listener>/<rule>. Every listener has one default rule
// (IsDefault, no priority, no match) created with the listener; it changes
// only through UpdateListener and goes only with DeleteListener. Custom
// rules have a priority unique within the listener.

func ruleStoreKey(listenerID, ruleID string) string {
	return pfxRule + listenerID + "/" + ruleID
}

// ruleIn loads a rule of a listener of a service from ID-or-ARN identifiers.
// A rule ARN names its service and listener: they must be the path's.
func (s *Service) ruleIn(tx store.ReadTx, c model.Caller, svcIdent, listenerIdent, ruleIdent string) (*model.Service, *model.Listener, *model.Rule, error) {
	svc, l, err := s.listenerIn(tx, c, svcIdent, listenerIdent)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := s.ruleOfListener(tx, c, l, "ruleIdentifier", ruleIdent)
	return svc, l, r, err
}

func (s *Service) ruleOfListener(tx store.ReadTx, c model.Caller, l *model.Listener, field, ruleIdent string) (*model.Rule, error) {
	ref, err := resolve(arn.Rule, field, ruleIdent)
	if err != nil {
		return nil, err
	}
	if ref.ServiceID != "" && (ref.ServiceID != l.ServiceID || ref.ListenerID != l.ID) {
		return nil, model.NotFound(model.TypeRule, ref.ID)
	}
	r, err := getJSON[model.Rule](tx, ruleStoreKey(l.ID, ref.ID))
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, model.NotFound(model.TypeRule, ref.ID)
	}
	return r, owned(c, &r.Meta, ref, model.TypeRule)
}

// errDefaultRule is the answer to changing or deleting a default rule. It is
// a ValidationException rather than a ConflictException: the request can
// never succeed, whatever the state, so it is a bad request and not a
// conflict with the current state that could go away.
func errDefaultRule(field, ruleID, what string) error {
	return model.Invalid(field, "rule %s is the listener's default rule, which cannot be %s", ruleID, what)
}

// CreateRuleInput is CreateRule's request.
type CreateRuleInput struct {
	ServiceIdentifier  string
	ListenerIdentifier string
	Name               string
	Match              *model.RuleMatch
	Priority           *int
	Action             *model.RuleAction
	Tags               map[string]string
	ClientToken        *string `json:"-"`
}

// CreateRule adds a custom rule to a listener.
func (s *Service) CreateRule(ctx context.Context, in CreateRuleInput) (*model.Rule, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.Service, "serviceIdentifier", in.ServiceIdentifier)
	checkIdentifier(&v, arn.Listener, "listenerIdentifier", in.ListenerIdentifier)
	model.RuleName.CheckName(&v, "name", in.Name)
	model.CheckRuleMatch(&v, "match", in.Match)
	model.CheckPriority(&v, "priority", in.Priority)
	model.CheckRuleAction(&v, "action", in.Action)
	model.CheckTags(&v, "tags", in.Tags)
	model.CheckClientToken(&v, in.ClientToken)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.Rule
	err = s.update(ctx, func(tx store.Tx) error {
		out, err = idempotent(tx, c.Account, "CreateRule", in.ClientToken, in, func() (*model.Rule, error) {
			svc, l, err := s.listenerIn(tx, c, in.ServiceIdentifier, in.ListenerIdentifier)
			if err != nil {
				return nil, err
			}
			if l.Protocol == model.ProtocolTLSPassthrough {
				return nil, model.Invalid("listenerIdentifier",
					"listener %s is a TLS_PASSTHROUGH listener, which has only its default rule", l.ID)
			}
			rules, err := listenerRules(tx, l.ID)
			if err != nil {
				return nil, err
			}
			custom := 0
			for _, r := range rules {
				if r.Name == in.Name {
					return nil, model.Conflict(model.TypeRule, r.ID, "listener %s already has a rule named %q", l.ID, in.Name)
				}
				if !r.IsDefault {
					custom++
					if r.Priority == *in.Priority {
						return nil, model.Conflict(model.TypeRule, r.ID,
							"priority %d is already used by rule %s of listener %s", r.Priority, r.ID, l.ID)
					}
				}
			}
			if err := s.quota(model.QuotaRulesPerListener, l.ID, custom, 1); err != nil {
				return nil, err
			}
			action, err := s.resolveAction(tx, c, "action", svc.ID, l.Protocol, *in.Action)
			if err != nil {
				return nil, err
			}
			before, err := serviceTargetGroupCount(tx, svc.ID, nil)
			if err != nil {
				return nil, err
			}
			r := &model.Rule{Meta: s.newMeta(c, arn.Rule, in.Tags), ServiceID: svc.ID, ListenerID: l.ID,
				Name: in.Name, Priority: *in.Priority, Match: in.Match, Action: action}
			r.ARN = l.ARN + "/" + arn.Rule.ResourceType + "/" + r.ID
			r.Account = l.Account
			if err := setRuleRefs(tx, svc.ID, r.ID, nil, &r.Action); err != nil {
				return nil, err
			}
			if err := s.checkServiceTGQuota(tx, svc.ID, before); err != nil {
				return nil, err
			}
			return r, putJSON(tx, ruleStoreKey(l.ID, r.ID), r)
		})
		return err
	})
	return out, err
}

// GetRule describes a rule, the default rule included.
func (s *Service) GetRule(ctx context.Context, svcIdent, listenerIdent, ruleIdent string) (*model.Rule, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.Rule
	err = s.view(ctx, func(tx store.ReadTx) error {
		_, _, out, err = s.ruleIn(tx, c, svcIdent, listenerIdent, ruleIdent)
		return err
	})
	return out, err
}

// ListRules lists the rules of a listener, its default rule included.
func (s *Service) ListRules(ctx context.Context, svcIdent, listenerIdent string, p Page) ([]*model.Rule, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []*model.Rule
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		_, l, err := s.listenerIn(tx, c, svcIdent, listenerIdent)
		if err != nil {
			return err
		}
		out, next, err = listPage(tx, pfxRule+l.ID+"/", p, func(*model.Rule) bool { return true })
		return err
	})
	return out, next, err
}

// RuleUpdate is one change of a rule: any of match, priority and action.
type RuleUpdate struct {
	RuleIdentifier string
	Match          *model.RuleMatch
	Priority       *int
	Action         *model.RuleAction
}

// checkRuleUpdate validates the members of u that are set; prefix is "" for
// UpdateRule and "rules[i]." for BatchUpdateRule.
func checkRuleUpdate(v *model.Validator, prefix string, u RuleUpdate) {
	if u.Match == nil && u.Priority == nil && u.Action == nil {
		f := "body"
		if prefix != "" {
			f = prefix[:len(prefix)-1]
		}
		v.Addf(f, "at least one of match, priority and action is required")
		return
	}
	if u.Match != nil {
		model.CheckRuleMatch(v, prefix+"match", u.Match)
	}
	if u.Priority != nil {
		model.CheckPriority(v, prefix+"priority", u.Priority)
	}
	if u.Action != nil {
		model.CheckRuleAction(v, prefix+"action", u.Action)
	}
}

// stageRuleUpdate returns r with u applied, its action resolved; nothing is
// written. Priority uniqueness is the caller's business.
func (s *Service) stageRuleUpdate(tx store.ReadTx, c model.Caller, prefix string, l *model.Listener, r *model.Rule, u RuleUpdate) (*model.Rule, error) {
	if r.IsDefault {
		return nil, errDefaultRule(prefix+"ruleIdentifier", r.ID, "updated: change the default action with UpdateListener")
	}
	next := *r
	if u.Match != nil {
		next.Match = u.Match
	}
	if u.Priority != nil {
		next.Priority = *u.Priority
	}
	if u.Action != nil {
		a, err := s.resolveAction(tx, c, prefix+"action", l.ServiceID, l.Protocol, *u.Action)
		if err != nil {
			return nil, err
		}
		next.Action = a
	}
	next.UpdatedAt = s.now()
	return &next, nil
}

// UpdateRuleInput is UpdateRule's request.
type UpdateRuleInput struct {
	ServiceIdentifier  string
	ListenerIdentifier string
	RuleUpdate
}

// UpdateRule changes a custom rule's match, priority or action. A rule's
// name is immutable.
func (s *Service) UpdateRule(ctx context.Context, in UpdateRuleInput) (*model.Rule, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.Service, "serviceIdentifier", in.ServiceIdentifier)
	checkIdentifier(&v, arn.Listener, "listenerIdentifier", in.ListenerIdentifier)
	checkIdentifier(&v, arn.Rule, "ruleIdentifier", in.RuleIdentifier)
	checkRuleUpdate(&v, "", in.RuleUpdate)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *model.Rule
	err = s.update(ctx, func(tx store.Tx) error {
		svc, l, r, err := s.ruleIn(tx, c, in.ServiceIdentifier, in.ListenerIdentifier, in.RuleIdentifier)
		if err != nil {
			return err
		}
		next, err := s.stageRuleUpdate(tx, c, "", l, r, in.RuleUpdate)
		if err != nil {
			return err
		}
		if next.Priority != r.Priority {
			rules, err := listenerRules(tx, l.ID)
			if err != nil {
				return err
			}
			for _, o := range rules {
				if !o.IsDefault && o.ID != r.ID && o.Priority == next.Priority {
					return model.Conflict(model.TypeRule, o.ID,
						"priority %d is already used by rule %s of listener %s", o.Priority, o.ID, l.ID)
				}
			}
		}
		before, err := serviceTargetGroupCount(tx, svc.ID, nil)
		if err != nil {
			return err
		}
		if err := setRuleRefs(tx, svc.ID, r.ID, &r.Action, &next.Action); err != nil {
			return err
		}
		if err := s.checkServiceTGQuota(tx, svc.ID, before); err != nil {
			return err
		}
		out = next
		return putJSON(tx, ruleStoreKey(l.ID, r.ID), next)
	})
	return out, err
}

// BatchUpdateRuleInput is BatchUpdateRule's request.
type BatchUpdateRuleInput struct {
	ServiceIdentifier  string
	ListenerIdentifier string
	Rules              []RuleUpdate
}

// RuleUpdateFailure is one rule BatchUpdateRule did not change.
type RuleUpdateFailure struct {
	RuleIdentifier string
	// Err is the reason; its Kind gives the failure code (the AWS error
	// type name: ValidationException, ResourceNotFoundException, ...).
	Err *model.Error
}

// BatchUpdateRuleOutput is BatchUpdateRule's result.
type BatchUpdateRuleOutput struct {
	Successful   []*model.Rule
	Unsuccessful []RuleUpdateFailure
}

// BatchUpdateRule applies up to 10 rule updates in one transaction. Each
// update succeeds or fails on its own; priorities are checked against the
// state after the whole batch, so rules can swap priorities in one call.
//
// Resolution: every update is first checked on its own (syntax, rule
// exists and is not the default rule, listed once, target groups usable).
// The surviving updates' target group references are then written in batch
// order, each failing when it would push the service past the
// target-groups-per-service quota. Last, priorities: any updated rule whose
// final priority collides with another rule's final priority fails, and as
// a failed rule keeps its old priority, this repeats until no collision is
// left. A failed update changes nothing.
func (s *Service) BatchUpdateRule(ctx context.Context, in BatchUpdateRuleInput) (*BatchUpdateRuleOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v model.Validator
	checkIdentifier(&v, arn.Service, "serviceIdentifier", in.ServiceIdentifier)
	checkIdentifier(&v, arn.Listener, "listenerIdentifier", in.ListenerIdentifier)
	if n := len(in.Rules); n < 1 || n > model.MaxBatchRules {
		v.Addf("rules", "rules must have between 1 and %d entries", model.MaxBatchRules)
	}
	for i, u := range in.Rules {
		if u.RuleIdentifier == "" {
			v.Identifier(model.Invalid("rules["+strconv.Itoa(i)+"].ruleIdentifier", "ruleIdentifier is required"))
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *BatchUpdateRuleOutput
	err = s.update(ctx, func(tx store.Tx) error {
		svc, l, err := s.listenerIn(tx, c, in.ServiceIdentifier, in.ListenerIdentifier)
		if err != nil {
			return err
		}
		out, err = s.batchUpdateRuleTx(tx, c, svc, l, in.Rules)
		return err
	})
	return out, err
}

// batchEntry is one update of a batch while it is being resolved.
type batchEntry struct {
	ident     string
	old, next *model.Rule
	refs      bool // next's target group references are written
	err       *model.Error
}

func (s *Service) batchUpdateRuleTx(tx store.Tx, c model.Caller, svc *model.Service, l *model.Listener, updates []RuleUpdate) (*BatchUpdateRuleOutput, error) {
	// asFailure keeps domain errors for the entry and lets store errors
	// abort the whole transaction.
	asFailure := func(e *batchEntry, err error) error {
		var me *model.Error
		if !errors.As(err, &me) {
			return err
		}
		e.err = me
		return nil
	}
	entries := make([]*batchEntry, len(updates))
	seen := map[string]bool{}
	for i, u := range updates {
		e := &batchEntry{ident: u.RuleIdentifier}
		entries[i] = e
		prefix := "rules[" + strconv.Itoa(i) + "]."
		var v model.Validator
		checkIdentifier(&v, arn.Rule, prefix+"ruleIdentifier", u.RuleIdentifier)
		checkRuleUpdate(&v, prefix, u)
		if err := v.Err(); err != nil {
			if err := asFailure(e, err); err != nil {
				return nil, err
			}
			continue
		}
		r, err := s.ruleOfListener(tx, c, l, prefix+"ruleIdentifier", u.RuleIdentifier)
		if err != nil {
			if err := asFailure(e, err); err != nil {
				return nil, err
			}
			continue
		}
		if seen[r.ID] {
			e.err = model.Invalid(prefix+"ruleIdentifier", "rule %s is listed more than once in the batch", r.ID)
			continue
		}
		seen[r.ID] = true
		next, err := s.stageRuleUpdate(tx, c, prefix, l, r, u)
		if err != nil {
			if err := asFailure(e, err); err != nil {
				return nil, err
			}
			continue
		}
		e.old, e.next = r, next
	}

	// Target group references, with the per-service quota, in batch order.
	for _, e := range entries {
		if e.err != nil || e.next == nil {
			continue
		}
		before, err := serviceTargetGroupCount(tx, svc.ID, nil)
		if err != nil {
			return nil, err
		}
		if err := setRuleRefs(tx, svc.ID, e.old.ID, &e.old.Action, &e.next.Action); err != nil {
			return nil, err
		}
		e.refs = true
		if qerr := s.checkServiceTGQuota(tx, svc.ID, before); qerr != nil {
			if err := asFailure(e, qerr); err != nil {
				return nil, err
			}
			if err := setRuleRefs(tx, svc.ID, e.old.ID, &e.next.Action, &e.old.Action); err != nil {
				return nil, err
			}
			e.refs = false
		}
	}

	// Priorities against the final state.
	rules, err := listenerRules(tx, l.ID)
	if err != nil {
		return nil, err
	}
	byRule := map[string]*batchEntry{}
	for _, e := range entries {
		if e.err == nil && e.next != nil {
			byRule[e.old.ID] = e
		}
	}
	for {
		final := map[int][]string{} // priority -> rule IDs
		for _, r := range rules {
			if r.IsDefault {
				continue
			}
			p := r.Priority
			if e := byRule[r.ID]; e != nil && e.err == nil {
				p = e.next.Priority
			}
			final[p] = append(final[p], r.ID)
		}
		failed := false
		for p, ids := range final {
			if len(ids) < 2 {
				continue
			}
			for _, id := range ids {
				e := byRule[id]
				if e == nil || e.err != nil || e.next.Priority == e.old.Priority {
					continue // unchanged priorities are never the ones to fail
				}
				other := ids[0]
				if other == id {
					other = ids[1]
				}
				e.err = model.Conflict(model.TypeRule, other,
					"priority %d would be used by both rule %s and rule %s of listener %s", p, id, other, l.ID)
				failed = true
			}
		}
		if !failed {
			break
		}
	}

	out := &BatchUpdateRuleOutput{Successful: []*model.Rule{}, Unsuccessful: []RuleUpdateFailure{}}
	for _, e := range entries {
		if e.err != nil {
			if e.refs {
				if err := setRuleRefs(tx, svc.ID, e.old.ID, &e.next.Action, &e.old.Action); err != nil {
					return nil, err
				}
			}
			out.Unsuccessful = append(out.Unsuccessful, RuleUpdateFailure{RuleIdentifier: e.ident, Err: e.err})
			continue
		}
		if err := putJSON(tx, ruleStoreKey(l.ID, e.next.ID), e.next); err != nil {
			return nil, err
		}
		out.Successful = append(out.Successful, e.next)
	}
	return out, nil
}

// DeleteRule deletes a custom rule. The default rule goes only with its
// listener: deleting it is a ValidationException (see errDefaultRule).
func (s *Service) DeleteRule(ctx context.Context, svcIdent, listenerIdent, ruleIdent string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx store.Tx) error {
		svc, l, r, err := s.ruleIn(tx, c, svcIdent, listenerIdent, ruleIdent)
		if err != nil {
			return err
		}
		if r.IsDefault {
			return errDefaultRule("ruleIdentifier", r.ID, "deleted: it goes with its listener")
		}
		if err := setRuleRefs(tx, svc.ID, r.ID, &r.Action, nil); err != nil {
			return err
		}
		return tx.Delete(ruleStoreKey(l.ID, r.ID))
	})
}
