package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Routes is what the controller reads and writes of listeners and rules:
// the service layer's own operations, called as the canary's owner
// (*service.Service implements it).
type Routes interface {
	GetListener(ctx context.Context, svcIdent, listenerIdent string) (*model.Listener, error)
	GetRule(ctx context.Context, svcIdent, listenerIdent, ruleIdent string) (*model.Rule, error)
	ListRules(ctx context.Context, svcIdent, listenerIdent string, p service.Page) ([]*model.Rule, string, error)
	UpdateListener(ctx context.Context, in service.UpdateListenerInput) (*model.Listener, error)
	UpdateRule(ctx context.Context, in service.UpdateRuleInput) (*model.Rule, error)
	GetTargetGroup(ctx context.Context, ident string) (service.TargetGroupDetail, error)
}

var _ Routes = (*service.Service)(nil)

// Defaults and bounds.
const (
	// DefaultMinRequests is how many canary requests a step needs before
	// its error rate and p99 are judged: below it, one failed request of
	// three would be a 33% error rate.
	DefaultMinRequests = 20
	MaxMinRequests     = 1_000_000
	// MinIntervalSeconds is the shortest step. The aggregates have minute
	// granularity but the controller evaluates every Tick and subtracts the
	// counts seen at the step's start (judge.go), so a step of seconds is
	// judged on its own traffic; shorter than a second is shorter than the
	// controller's tick and could pass a step before it was looked at.
	MinIntervalSeconds = 1
	MaxIntervalSeconds = 7 * 24 * 3600
	MaxSteps           = 100
	MaxP99Ms           = 3_600_000
	// DefaultTick is how often running canaries are evaluated: at most a
	// second, so a breach rolls back within one interval even at the
	// shortest interval the API takes (and far within the 5 s the longer
	// ones need).
	DefaultTick = time.Second
)

// Config configures a Controller.
type Config struct {
	Store  store.Store
	Routes Routes
	// Stats are the live aggregates; nil refuses new canaries
	// (NotImplemented) and leaves persisted ones waiting at their step,
	// never judging them blind.
	Stats  Stats
	Logger *slog.Logger
	Now    func() time.Time
	NewID  func() string
	// Tick is how often running canaries are evaluated (default
	// DefaultTick).
	Tick time.Duration
}

// Controller runs canaries. Its methods are safe for concurrent use; one
// mutex orders every transition, so an abort and a step never interleave.
type Controller struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex
	wake chan struct{}
	done chan struct{}
	stop context.CancelFunc
}

// New returns a controller; Start resumes the running canaries and starts
// evaluating.
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = func() string { return arn.NewID(idKind) }
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	return &Controller{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}
}

// idKind makes canary IDs like Lattice's: canary-<17 of [0-9a-z]>.
var idKind = arn.Kind{Prefix: "canary"}

// ValidID reports whether id has the form of a canary ID.
func ValidID(id string) bool { return arn.ValidID(idKind, id) }

func canaryKey(id string) string      { return schema.Canary + id }
func runningKey(ruleID string) string { return schema.CanaryRunning + ruleID }

func (c *Controller) now() time.Time { return c.cfg.Now().UTC().Truncate(time.Millisecond) }

// Name is the runner's name.
func (c *Controller) Name() string { return "canaries" }

// Start records every running canary as resumed and evaluates them every
// Tick until ctx ends or Close.
func (c *Controller) Start(ctx context.Context) error {
	ids, err := c.runningIDs(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	for _, id := range ids {
		cn, err := c.load(ctx, id)
		if err != nil || cn == nil {
			c.mu.Unlock()
			return fmt.Errorf("resume canary %s: %w", id, err)
		}
		if cn.State == StateRunning {
			next := cn.clone()
			next.record(Event{At: c.now(), Kind: EventResumed, StepIndex: cn.StepIndex, Percent: cn.Percent(),
				Reason: fmt.Sprintf("resumed at step %d/%d (canary %d%%), begun %s", cn.StepIndex+1, len(cn.Steps), cn.Percent(),
					cn.StepStartedAt.Format(time.RFC3339))})
			next.UpdatedAt = c.now()
			if err := c.save(ctx, cn, next); err != nil {
				c.mu.Unlock()
				return fmt.Errorf("resume canary %s: %w", id, err)
			}
			c.logEvent(next, next.History[len(next.History)-1])
		}
	}
	c.mu.Unlock()
	if c.cfg.Stats == nil && len(ids) > 0 {
		// Still evaluated: pending weights are written and changes by
		// others noticed; only the judging waits for aggregates.
		c.log.Warn("canaries: no traffic aggregates; running canaries wait and are not judged", "running", len(ids))
	}
	ctx, cancel := context.WithCancel(ctx)
	c.stop = cancel
	c.done = make(chan struct{})
	go c.run(ctx)
	return nil
}

// Close stops evaluating; a step in progress finishes its writes first.
// The canaries stay in the store, RUNNING ones resume at the next Start.
func (c *Controller) Close(context.Context) error {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	return nil
}

func (c *Controller) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.cfg.Tick)
	defer t.Stop()
	for {
		c.Evaluate(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.wake:
		}
	}
}

// Evaluate looks at every running canary once: it writes weights a crash
// left unwritten, aborts a canary whose weights someone else changed, and
// otherwise judges its step (judge.go). The loop calls it every Tick; tests
// call it with an injected clock.
func (c *Controller) Evaluate(ctx context.Context) {
	ids, err := c.runningIDs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("canaries: reading the running canaries", "err", err)
		}
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		err := c.evaluate(ctx, id)
		c.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			c.log.Warn("canaries: evaluating", "canary", id, "err", err)
		}
	}
}

func (c *Controller) runningIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := c.cfg.Store.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(schema.CanaryRunning, "", func(_ string, v []byte) (bool, error) {
			ids = append(ids, string(v))
			return true, nil
		})
	})
	return ids, err
}

func (c *Controller) load(ctx context.Context, id string) (*Canary, error) {
	var out *Canary
	err := c.cfg.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = get(tx, id)
		return err
	})
	return out, err
}

func get(tx store.ReadTx, id string) (*Canary, error) {
	b, ok, err := tx.Get(canaryKey(id))
	if err != nil || !ok {
		return nil, err
	}
	cn := new(Canary)
	if err := json.Unmarshal(b, cn); err != nil {
		return nil, fmt.Errorf("decode canary %s: %w", id, err)
	}
	return cn, nil
}

var errStale = errors.New("canary changed since it was read")

// save writes next over prev (nil for a new canary) in one transaction,
// with the index of running canaries: present while a canary is RUNNING or
// still has weights to write, so that one rule has one canary at a time.
func (c *Controller) save(ctx context.Context, prev, next *Canary) error {
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	_, err = c.cfg.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := get(tx, next.ID)
		if err != nil {
			return err
		}
		if prev == nil {
			if cur != nil {
				return errStale
			}
			v, ok, err := tx.Get(runningKey(next.RuleID))
			if err != nil {
				return err
			}
			if ok {
				return model.Conflict(TypeCanary, string(v), "canary %s is already running on rule %s; abort it or wait for it to end", v, next.RuleID)
			}
		} else if cur == nil || !cur.UpdatedAt.Equal(prev.UpdatedAt) {
			return errStale
		}
		if err := tx.Put(canaryKey(next.ID), b); err != nil {
			return err
		}
		if next.State.Final() && !next.Pending {
			return tx.Delete(runningKey(next.RuleID))
		}
		return tx.Put(runningKey(next.RuleID), []byte(next.ID))
	})
	return err
}

// asOwner is ctx carrying the canary's owner as the caller: the service
// checks ownership and validates as it does for the owner's own calls.
func asOwner(ctx context.Context, cn *Canary) context.Context {
	return service.WithCaller(ctx, model.Caller{Account: cn.Account, PrincipalARN: cn.PrincipalARN})
}

// currentAction reads the action the rollout changes.
func (c *Controller) currentAction(ctx context.Context, cn *Canary) (model.RuleAction, error) {
	r, err := c.cfg.Routes.GetRule(asOwner(ctx, cn), cn.ServiceID, cn.ListenerID, cn.RuleID)
	if err != nil {
		return model.RuleAction{}, err
	}
	return r.Action, nil
}

// write puts a into the rule through the same operation the API runs.
func (c *Controller) write(ctx context.Context, cn *Canary, a model.RuleAction) error {
	ctx = asOwner(ctx, cn)
	if cn.DefaultAction {
		_, err := c.cfg.Routes.UpdateListener(ctx, service.UpdateListenerInput{ServiceIdentifier: cn.ServiceID,
			ListenerIdentifier: cn.ListenerID, DefaultAction: &a})
		return err
	}
	_, err := c.cfg.Routes.UpdateRule(ctx, service.UpdateRuleInput{ServiceIdentifier: cn.ServiceID,
		ListenerIdentifier: cn.ListenerID, RuleUpdate: service.RuleUpdate{RuleIdentifier: cn.RuleID, Action: &a}})
	return err
}

// transition moves cn to what mutate makes of it: the new state is
// durable first (Pending when its action differs), then the action is
// written to the rule, then Pending is cleared. A crash between leaves
// Pending, which evaluate finishes. A write the service refuses aborts the
// canary with the refusal as its reason.
func (c *Controller) transition(ctx context.Context, cn *Canary, e Event, mutate func(*Canary)) (*Canary, error) {
	next := cn.clone()
	mutate(next)
	next.Prev = cn.Action
	next.Pending = !sameForward(next.Action, cn.Action)
	next.UpdatedAt = c.now()
	next.record(e)
	if err := c.save(ctx, cn, next); err != nil {
		return nil, err
	}
	c.logEvent(next, e)
	return c.finishWrite(ctx, next)
}

// finishWrite writes a Pending canary's action and clears Pending.
func (c *Controller) finishWrite(ctx context.Context, cn *Canary) (*Canary, error) {
	if !cn.Pending {
		return cn, nil
	}
	next := cn.clone()
	next.Pending = false
	if err := c.write(ctx, cn, cn.Action); err != nil {
		var me *model.Error
		if !errors.As(err, &me) {
			return nil, err // the store: try again at the next evaluation
		}
		e := Event{At: c.now(), Kind: EventAborted, StepIndex: cn.StepIndex, Percent: cn.Percent(),
			Reason: fmt.Sprintf("writing the weights was refused (%s); weights left as %s", me.Message, describeForward(cn.Prev))}
		next.State = StateAborted
		next.Action = cn.Prev
		next.record(e)
		defer c.logEvent(next, e)
	}
	next.UpdatedAt = c.now()
	if err := c.save(ctx, cn, next); err != nil {
		return nil, err
	}
	return next, nil
}

func (c *Controller) logEvent(cn *Canary, e Event) {
	attrs := []any{"canary", cn.ID, "account", cn.Account, "service", cn.ServiceID, "listener", cn.ListenerID, "rule", cn.RuleID,
		"state", string(cn.State), "event", e.Kind, "step", e.StepIndex + 1, "percent", e.Percent,
		"weights", fmt.Sprintf("baseline=%d canary=%d", cn.Weights().Baseline, cn.Weights().Canary), "reason", e.Reason}
	if e.Kind == EventRolledBack || e.Kind == EventAborted {
		c.log.Warn("canary", attrs...)
		return
	}
	c.log.Info("canary", attrs...)
}

// evaluate handles one running canary (c.mu held).
func (c *Controller) evaluate(ctx context.Context, id string) error {
	cn, err := c.load(ctx, id)
	if err != nil || cn == nil {
		return err
	}
	cur, err := c.currentAction(ctx, cn)
	if err != nil {
		if model.KindOf(err) != model.KindNotFound {
			return err
		}
		// The rule or its listener or service is gone: nothing to roll.
		_, err := c.end(ctx, cn, StateAborted, fmt.Sprintf("the rule was deleted (%s)", err.Error()), cn.Action)
		return err
	}
	switch {
	case sameForward(cur, cn.Action):
		if cn.Pending {
			if cn, err = c.clearPending(ctx, cn); err != nil {
				return err
			}
		}
	case cn.Pending && sameForward(cur, cn.Prev):
		if cn, err = c.finishWrite(ctx, cn); err != nil {
			return err
		}
	default:
		// Someone changed the weights (UpdateRule, UpdateListener,
		// Terraform): they win. Fighting them would flap the traffic and
		// undo a person's fix; the rollout stops and says why.
		_, err := c.end(ctx, cn, StateAborted, fmt.Sprintf("the weights were changed by someone else: found %s, expected %s; left as they are",
			describeForward(cur), describeForward(cn.Action)), cur)
		return err
	}
	if cn.State.Final() {
		return nil
	}
	stats := c.cfg.Stats
	if stats == nil {
		return nil
	}
	now := c.now()
	since := cn.StepStartedAt.Truncate(time.Minute)
	cr, ce, cp := stats.TargetGroupWindow(cn.ServiceID, cn.CanaryTargetGroup, since)
	br, be, bp := stats.TargetGroupWindow(cn.ServiceID, cn.BaselineTargetGroup, since)
	v := judge(cn, now, stepTraffic(cr, ce, cp, cn.BaseCanary), stepTraffic(br, be, bp, cn.BaseBaseline))
	e := Event{At: now, StepIndex: cn.StepIndex, Percent: cn.Percent(), Reason: v.Reason, Canary: &v.Canary, Baseline: &v.Baseline}
	switch v.Kind {
	case Hold:
		return nil
	case Rollback:
		e.Kind = EventRolledBack
		_, err := c.transition(ctx, cn, e, func(n *Canary) {
			n.State = StateRolledBack
			n.Action = forwardWith(n.BaselineTargetGroup, n.CanaryTargetGroup, 0)
		})
		return err
	case Promote:
		e.Kind = EventPromoted
		_, err := c.transition(ctx, cn, e, func(n *Canary) {
			n.State = StatePromoted
			n.Action = forwardWith(n.BaselineTargetGroup, n.CanaryTargetGroup, 100)
		})
		return err
	}
	e.Kind = EventStep
	// The next step's base: what the minute it begins in already holds.
	nextSince := now.Truncate(time.Minute)
	ncr, nce, _ := stats.TargetGroupWindow(cn.ServiceID, cn.CanaryTargetGroup, nextSince)
	nbr, nbe, _ := stats.TargetGroupWindow(cn.ServiceID, cn.BaselineTargetGroup, nextSince)
	_, err = c.transition(ctx, cn, e, func(n *Canary) {
		n.StepIndex++
		n.StepStartedAt = now
		n.BaseCanary = Counts{Requests: ncr, Errors5xx: nce}
		n.BaseBaseline = Counts{Requests: nbr, Errors5xx: nbe}
		n.Action = forwardWith(n.BaselineTargetGroup, n.CanaryTargetGroup, n.Percent())
	})
	return err
}

// clearPending records that a Pending canary's action is on the rule
// already (written, but the crash came before Pending was cleared).
func (c *Controller) clearPending(ctx context.Context, cn *Canary) (*Canary, error) {
	next := cn.clone()
	next.Pending = false
	next.UpdatedAt = c.now()
	if err := c.save(ctx, cn, next); err != nil {
		return nil, err
	}
	return next, nil
}

// end moves a canary to a final state without writing weights; actual
// is the forward found on the rule (what its weights now report).
func (c *Controller) end(ctx context.Context, cn *Canary, st State, reason string, actual model.RuleAction) (*Canary, error) {
	e := Event{At: c.now(), Kind: string(st), StepIndex: cn.StepIndex, Percent: cn.Percent(), Reason: reason}
	next := cn.clone()
	next.State, next.Prev, next.Action, next.Pending = st, cn.Action, actual, false
	next.UpdatedAt = c.now()
	next.record(e)
	if err := c.save(ctx, cn, next); err != nil {
		return nil, err
	}
	c.logEvent(next, e)
	return next, nil
}
