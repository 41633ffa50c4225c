package canary

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// The operations the API serves: start, get, list, abort.

// StartInput is a new canary (DESIGN.md "Canaries:").
type StartInput struct {
	ServiceIdentifier   string
	ListenerIdentifier  string
	RuleIdentifier      string // "": the listener's default action
	BaselineTargetGroup string
	CanaryTargetGroup   string
	Steps               []int
	IntervalSeconds     *int
	MaxErrorRate        *float64
	MaxP99Ms            *int
	MinRequests         *int
}

func validate(in StartInput) error {
	var v model.Validator
	ident := func(kind arn.Kind, field, value string) {
		_, err := model.ParseIdentifier(kind, field, value)
		v.Identifier(err)
	}
	ident(arn.Service, "serviceIdentifier", in.ServiceIdentifier)
	ident(arn.Listener, "listenerIdentifier", in.ListenerIdentifier)
	if in.RuleIdentifier != "" {
		ident(arn.Rule, "ruleIdentifier", in.RuleIdentifier)
	}
	ident(arn.TargetGroup, "baselineTargetGroup", in.BaselineTargetGroup)
	ident(arn.TargetGroup, "canaryTargetGroup", in.CanaryTargetGroup)
	switch n := len(in.Steps); {
	case n == 0:
		v.Addf("steps", "steps is required: canary percents such as [5, 25, 50, 100]")
	case n > MaxSteps:
		v.Addf("steps", "steps must have at most %d entries", MaxSteps)
	default:
		for i, s := range in.Steps {
			if s < 1 || s > 100 {
				v.Addf(fmt.Sprintf("steps[%d]", i), "steps must be percents between 1 and 100; %d is not", s)
				break
			}
			if i > 0 && s <= in.Steps[i-1] {
				v.Addf(fmt.Sprintf("steps[%d]", i), "steps must be strictly increasing; %d follows %d", s, in.Steps[i-1])
				break
			}
		}
		if last := in.Steps[n-1]; last != 100 {
			v.Addf("steps", "the last step must be 100 (the canary promoted), not %d", last)
		}
	}
	switch {
	case in.IntervalSeconds == nil:
		v.Addf("intervalSeconds", "intervalSeconds is required")
	case *in.IntervalSeconds < MinIntervalSeconds || *in.IntervalSeconds > MaxIntervalSeconds:
		v.Addf("intervalSeconds", "intervalSeconds must be between %d and %d", MinIntervalSeconds, MaxIntervalSeconds)
	}
	switch {
	case in.MaxErrorRate == nil:
		v.Addf("maxErrorRate", "maxErrorRate is required: a fraction such as 0.01 for 1%%")
	case !(*in.MaxErrorRate >= 0 && *in.MaxErrorRate <= 1): // NaN too
		v.Addf("maxErrorRate", "maxErrorRate must be a fraction between 0 and 1 (0.01 is 1%%)")
	}
	if in.MaxP99Ms != nil && (*in.MaxP99Ms < 1 || *in.MaxP99Ms > MaxP99Ms) {
		v.Addf("maxP99Ms", "maxP99Ms must be between 1 and %d", MaxP99Ms)
	}
	if in.MinRequests != nil && (*in.MinRequests < 1 || *in.MinRequests > MaxMinRequests) {
		v.Addf("minRequests", "minRequests must be between 1 and %d", MaxMinRequests)
	}
	return v.Err()
}

// StartCanary validates and starts a canary for the caller in ctx: its first
// step's weights are written before it returns.
func (c *Controller) StartCanary(ctx context.Context, in StartInput) (*Canary, error) {
	caller, ok := service.CallerFrom(ctx)
	if !ok || caller.Account == "" {
		return nil, model.AccessDenied("the request has no authenticated caller")
	}
	if err := validate(in); err != nil {
		return nil, err
	}
	if c.cfg.Stats == nil {
		return nil, &model.Error{Kind: model.KindNotImplemented,
			Message: "canaries need the data plane's traffic aggregates, which this Trellis does not run"}
	}
	r := c.cfg.Routes
	l, err := r.GetListener(ctx, in.ServiceIdentifier, in.ListenerIdentifier)
	if err != nil {
		return nil, err
	}
	if l.Protocol == model.ProtocolTLSPassthrough {
		return nil, model.Invalid("listenerIdentifier", "listener %s is TLS_PASSTHROUGH: a canary judges HTTP status codes, which it does not see", l.ID)
	}
	var rule *model.Rule
	actionField := "ruleIdentifier"
	if in.RuleIdentifier != "" {
		if rule, err = r.GetRule(ctx, l.ServiceID, l.ID, in.RuleIdentifier); err != nil {
			return nil, err
		}
	} else {
		actionField = "listenerIdentifier"
		rules, _, err := r.ListRules(ctx, l.ServiceID, l.ID, service.Page{MaxResults: 100})
		if err != nil {
			return nil, err
		}
		for _, x := range rules {
			if x.IsDefault {
				rule = x
			}
		}
		for next := ""; rule == nil; {
			// More than 100 rules: page on until the default one.
			var rs []*model.Rule
			if rs, next, err = r.ListRules(ctx, l.ServiceID, l.ID, service.Page{MaxResults: 100, NextToken: next}); err != nil {
				return nil, err
			}
			for _, x := range rs {
				if x.IsDefault {
					rule = x
				}
			}
			if next == "" && rule == nil {
				return nil, model.NotFound(model.TypeRule, "default rule of "+l.ID)
			}
		}
	}
	base, err := r.GetTargetGroup(ctx, in.BaselineTargetGroup)
	if err != nil {
		return nil, fieldNotFound(err, "baselineTargetGroup")
	}
	cand, err := r.GetTargetGroup(ctx, in.CanaryTargetGroup)
	if err != nil {
		return nil, fieldNotFound(err, "canaryTargetGroup")
	}
	if base.ID == cand.ID {
		return nil, model.Invalid("canaryTargetGroup", "canaryTargetGroup must differ from baselineTargetGroup (both are %s)", base.ID)
	}
	a := rule.Action
	if a.Forward == nil {
		return nil, model.Invalid(actionField, "the action of rule %s is a fixed response: a canary shifts the weights of a forward", rule.ID)
	}
	hasBase := false
	for _, t := range a.Forward.TargetGroups {
		switch t.TargetGroupIdentifier {
		case base.ID:
			hasBase = true
		case cand.ID:
		default:
			return nil, model.Invalid(actionField, "the forward of rule %s also sends traffic to target group %s: a canary moves it between baselineTargetGroup and canaryTargetGroup only",
				rule.ID, t.TargetGroupIdentifier)
		}
	}
	if !hasBase {
		return nil, model.Invalid("baselineTargetGroup", "the forward of rule %s does not contain the baseline target group %s", rule.ID, base.ID)
	}
	now := c.now()
	cn := &Canary{ID: c.cfg.NewID(), Account: caller.Account, PrincipalARN: caller.PrincipalARN,
		ServiceID: l.ServiceID, ListenerID: l.ID, RuleID: rule.ID, DefaultAction: rule.IsDefault,
		BaselineTargetGroup: base.ID, CanaryTargetGroup: cand.ID, Steps: in.Steps,
		IntervalSeconds: *in.IntervalSeconds, MaxErrorRate: *in.MaxErrorRate, MinRequests: DefaultMinRequests,
		State: StateRunning, StepStartedAt: now, Prev: a, Pending: true, CreatedAt: now, UpdatedAt: now}
	if in.MaxP99Ms != nil {
		cn.MaxP99Ms = *in.MaxP99Ms
	}
	if in.MinRequests != nil {
		cn.MinRequests = *in.MinRequests
	}
	cn.Action = forwardWith(cn.BaselineTargetGroup, cn.CanaryTargetGroup, cn.Percent())
	since := now.Truncate(time.Minute)
	cr, ce, _ := c.cfg.Stats.TargetGroupWindow(cn.ServiceID, cn.CanaryTargetGroup, since)
	br, be, _ := c.cfg.Stats.TargetGroupWindow(cn.ServiceID, cn.BaselineTargetGroup, since)
	cn.BaseCanary, cn.BaseBaseline = Counts{cr, ce}, Counts{br, be}
	e := Event{At: now, Kind: EventStarted, StepIndex: 0, Percent: cn.Percent(),
		Reason: fmt.Sprintf("started: step 1/%d (canary %d%%), each step held %ds, maxErrorRate %s, minRequests %d; was %s",
			len(cn.Steps), cn.Percent(), cn.IntervalSeconds, pct(cn.MaxErrorRate), cn.MinRequests, describeForward(a))}
	cn.record(e)

	c.mu.Lock()
	defer c.mu.Unlock()
	// From here the writes finish even if the caller goes away: a canary
	// half started (recorded, weights not written) would start anyway
	// when the loop finds it pending, behind an error answer.
	ctx = context.WithoutCancel(ctx)
	if err := c.save(ctx, nil, cn); err != nil {
		return nil, err
	}
	c.logEvent(cn, e)
	if err := c.write(ctx, cn, cn.Action); err != nil {
		// The rule changed since it was read (deleted, or its target group
		// taken): the canary never began. Remove it so that the request
		// changed nothing.
		if _, derr := c.cfg.Store.Update(ctx, func(tx store.Tx) error {
			if err := tx.Delete(canaryKey(cn.ID)); err != nil {
				return err
			}
			return tx.Delete(runningKey(cn.RuleID))
		}); derr != nil {
			c.log.Warn("canary: removing a canary that did not start", "canary", cn.ID, "err", derr)
		}
		return nil, err
	}
	done := cn.clone()
	done.Pending = false
	done.UpdatedAt = c.now()
	if err := c.save(ctx, cn, done); err != nil {
		return nil, err
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return done, nil
}

// fieldNotFound keeps a NotFound as it is (another account's target group
// is not found, as Lattice answers) and names field in a validation error.
func fieldNotFound(err error, field string) error {
	var me *model.Error
	if errors.As(err, &me) && me.Kind == model.KindValidation {
		return model.Invalid(field, "%s", me.Message)
	}
	return err
}

func notFound(id string) error {
	return &model.Error{Kind: model.KindNotFound, ResourceType: TypeCanary, ResourceID: id, Message: "Canary " + id + " not found"}
}

// owned loads a canary of the caller's account; another account's is not
// found, as for every Lattice resource.
func (c *Controller) owned(ctx context.Context, id string) (*Canary, error) {
	caller, ok := service.CallerFrom(ctx)
	if !ok || caller.Account == "" {
		return nil, model.AccessDenied("the request has no authenticated caller")
	}
	if !ValidID(id) {
		return nil, model.Invalid("canaryId", "canaryId must be canary- followed by 17 characters of [0-9a-z]")
	}
	cn, err := c.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if cn == nil || cn.Account != caller.Account {
		return nil, notFound(id)
	}
	return cn, nil
}

// Get describes a canary of the caller's account.
func (c *Controller) Get(ctx context.Context, id string) (*Canary, error) { return c.owned(ctx, id) }

// List lists the caller's canaries, oldest ID first, a page at a time.
func (c *Controller) List(ctx context.Context, p service.Page) ([]*Canary, string, error) {
	caller, ok := service.CallerFrom(ctx)
	if !ok || caller.Account == "" {
		return nil, "", model.AccessDenied("the request has no authenticated caller")
	}
	after := ""
	if p.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(p.NextToken)
		if err != nil || !strings.HasPrefix(string(b), schema.Canary) {
			return nil, "", model.Invalid("nextToken", "nextToken is not a token this operation returned")
		}
		after = string(b)
	}
	limit := p.MaxResults
	if limit <= 0 {
		limit = service.DefaultPageSize
	}
	var out []*Canary
	next := ""
	err := c.cfg.Store.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(schema.Canary, after, func(k string, b []byte) (bool, error) {
			cn := new(Canary)
			if err := json.Unmarshal(b, cn); err != nil {
				return false, fmt.Errorf("decode %s: %w", k, err)
			}
			if cn.Account != caller.Account {
				return true, nil
			}
			if len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString([]byte(after))
				return false, nil
			}
			out = append(out, cn)
			after = k
			return true, nil
		})
	})
	return out, next, err
}

// Abort stops a running canary of the caller's account and puts the
// weights back to baseline 100 / canary 0: an abort is a person saying
// "not this release". When someone changed the weights meanwhile, they
// are left as they are (as evaluate would). A final canary cannot be
// aborted (ConflictException).
func (c *Controller) Abort(ctx context.Context, id string) (*Canary, error) {
	cn, err := c.owned(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx = context.WithoutCancel(ctx) // as in StartCanary
	if cn, err = c.load(ctx, id); err != nil {
		return nil, err
	}
	if cn.State.Final() {
		return nil, model.Conflict(TypeCanary, id, "canary %s is %s already", id, cn.State)
	}
	who := "the caller"
	if caller, ok := service.CallerFrom(ctx); ok && caller.PrincipalARN != "" {
		who = caller.PrincipalARN
	}
	cur, err := c.currentAction(ctx, cn)
	if err != nil && model.KindOf(err) != model.KindNotFound {
		return nil, err
	}
	if err != nil {
		return c.end(ctx, cn, StateAborted, "aborted by "+who+"; the rule was deleted", cn.Action)
	}
	if !(sameForward(cur, cn.Action) || (cn.Pending && sameForward(cur, cn.Prev))) {
		return c.end(ctx, cn, StateAborted, "aborted by "+who+"; the weights were changed by someone else and are left as they are", cur)
	}
	e := Event{At: c.now(), Kind: EventAborted, StepIndex: cn.StepIndex, Percent: cn.Percent(),
		Reason: fmt.Sprintf("aborted by %s at step %d/%d (canary %d%%): weights back to baseline 100 / canary 0", who, cn.StepIndex+1, len(cn.Steps), cn.Percent())}
	if cn.Pending && !sameForward(cur, cn.Action) {
		// The action was never written: what is on the rule is Prev.
		cn = cn.clone()
		cn.Action = cn.Prev
	}
	return c.transition(ctx, cn, e, func(n *Canary) {
		n.State = StateAborted
		n.Action = forwardWith(n.BaselineTargetGroup, n.CanaryTargetGroup, 0)
	})
}
