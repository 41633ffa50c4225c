package canary

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

// fakeClock is the controller's injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tgCounts is what the test's traffic did to one target group, per minute.
type tgCounts struct {
	perMinute map[time.Time]Counts
	p99       time.Duration
}

// countingStats is Stats over counts the test records at its clock's time:
// the same per-minute sums the data plane's aggregator answers.
type countingStats struct {
	mu    sync.Mutex
	clock *fakeClock
	tgs   map[string]*tgCounts
}

func (s *countingStats) serve(tg string, n, errs int64, p99 time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.tgs[tg]
	if c == nil {
		c = &tgCounts{perMinute: map[time.Time]Counts{}}
		s.tgs[tg] = c
	}
	m := s.clock.Now().Truncate(time.Minute)
	x := c.perMinute[m]
	x.Requests += n
	x.Errors5xx += errs
	c.perMinute[m] = x
	c.p99 = p99
}

func (s *countingStats) TargetGroupWindow(_, tg string, since time.Time) (int64, int64, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.tgs[tg]
	if c == nil {
		return 0, 0, 0
	}
	var r, e int64
	for m, x := range c.perMinute {
		if !m.Before(since.Truncate(time.Minute)) {
			r += x.Requests
			e += x.Errors5xx
		}
	}
	return r, e, c.p99
}

type env struct {
	t      *testing.T
	st     store.Store
	svc    *service.Service
	clock  *fakeClock
	stats  *countingStats
	ctl    *Controller
	ctx    context.Context // the owner, account 111122223333
	other  context.Context // account 444455556666
	svcID  string
	lst    *model.Listener
	ruleID string // a custom rule forwarding to the baseline
	blue   string // baseline
	green  string // canary
}

const owner = "111122223333"

func callerCtx(account string) context.Context {
	return service.WithCaller(context.Background(), model.Caller{Account: account, PrincipalARN: "arn:aws:iam::" + account + ":root"})
}

func newEnv(t *testing.T) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	st, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Date(2026, 12, 6, 10, 0, 10, 0, time.UTC)}
	e := &env{t: t, st: st, clock: clock, stats: &countingStats{clock: clock, tgs: map[string]*tgCounts{}},
		ctx: callerCtx(owner), other: callerCtx("444455556666")}
	e.svc = service.New(st, service.Config{DNSToken: "abc1234", Now: clock.Now})
	e.ctl = e.controller()
	s, err := e.svc.CreateService(e.ctx, service.CreateServiceInput{Name: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	e.svcID = s.ID
	e.blue, e.green = e.tg(e.ctx, "blue"), e.tg(e.ctx, "green")
	w := 100
	e.lst, err = e.svc.CreateListener(e.ctx, service.CreateListenerInput{ServiceIdentifier: s.ID, Name: "http", Protocol: model.ProtocolHTTP,
		DefaultAction: &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: e.blue, Weight: &w}}}}})
	if err != nil {
		t.Fatal(err)
	}
	prio := 10
	r, err := e.svc.CreateRule(e.ctx, service.CreateRuleInput{ServiceIdentifier: s.ID, ListenerIdentifier: e.lst.ID, Name: "api",
		Priority: &prio, Match: &model.RuleMatch{HTTPMatch: &model.HTTPMatch{PathMatch: &model.PathMatch{Match: model.MatchType{Prefix: ptr("/api")}}}},
		Action: &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: e.blue}}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.ruleID = r.ID
	return e
}

func ptr[T any](v T) *T { return &v }

func (e *env) controller() *Controller {
	return New(Config{Store: e.st, Routes: e.svc, Stats: e.stats, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func (e *env) tg(ctx context.Context, name string) string {
	e.t.Helper()
	tg, err := e.svc.CreateTargetGroup(ctx, service.CreateTargetGroupInput{Name: name, Type: model.TargetGroupTypeLambda})
	if err != nil {
		e.t.Fatal(err)
	}
	return tg.ID
}

func (e *env) input(rule string) StartInput {
	return StartInput{ServiceIdentifier: e.svcID, ListenerIdentifier: e.lst.ID, RuleIdentifier: rule,
		BaselineTargetGroup: e.blue, CanaryTargetGroup: e.green, Steps: []int{5, 25, 100},
		IntervalSeconds: ptr(60), MaxErrorRate: ptr(0.01)}
}

func (e *env) start(in StartInput) *Canary {
	e.t.Helper()
	cn, err := e.ctl.StartCanary(e.ctx, in)
	if err != nil {
		e.t.Fatalf("StartCanary: %v", err)
	}
	return cn
}

// ruleWeights reads the weights as GetRule answers them.
func (e *env) ruleWeights(ruleID string) Weights {
	e.t.Helper()
	r, err := e.svc.GetRule(e.ctx, e.svcID, e.lst.ID, ruleID)
	if err != nil {
		e.t.Fatal(err)
	}
	return weightsIn(r.Action, e.blue, e.green)
}

func (e *env) listenerWeights() Weights {
	e.t.Helper()
	l, err := e.svc.GetListener(e.ctx, e.svcID, e.lst.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return weightsIn(l.DefaultAction, e.blue, e.green)
}

func (e *env) get(id string) *Canary {
	e.t.Helper()
	cn, err := e.ctl.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return cn
}

// healthyTraffic serves n requests per target group in the current minute.
func (e *env) healthyTraffic(n int64) {
	e.stats.serve(e.blue, n, 0, 20*time.Millisecond)
	e.stats.serve(e.green, n, 0, 20*time.Millisecond)
}

func TestPromotedThroughItsSteps(t *testing.T) {
	e := newEnv(t)
	cn := e.start(e.input(e.ruleID))
	if cn.State != StateRunning || cn.StepIndex != 0 || cn.Pending {
		t.Fatalf("started: %+v", cn)
	}
	if w := e.ruleWeights(e.ruleID); w != (Weights{95, 5}) {
		t.Fatalf("GetRule weights after start %+v, want 95/5", w)
	}
	for i, want := range []Weights{{95, 5}, {75, 25}, {0, 100}} {
		e.healthyTraffic(100)
		e.clock.Add(30 * time.Second)
		e.ctl.Evaluate(context.Background())
		if got := e.get(cn.ID); got.StepIndex != i || got.State != StateRunning {
			t.Fatalf("half-way through step %d: step %d state %s", i, got.StepIndex, got.State)
		}
		if w := e.ruleWeights(e.ruleID); w != want {
			t.Fatalf("step %d: weights %+v, want %+v", i, w, want)
		}
		e.clock.Add(30 * time.Second)
		e.ctl.Evaluate(context.Background())
	}
	got := e.get(cn.ID)
	if got.State != StatePromoted {
		t.Fatalf("state %s, want PROMOTED; history %+v", got.State, got.History)
	}
	if w := e.ruleWeights(e.ruleID); w != (Weights{0, 100}) {
		t.Fatalf("promoted weights %+v, want 0/100", w)
	}
	kinds := []string{}
	for _, h := range got.History {
		kinds = append(kinds, h.Kind)
	}
	if strings.Join(kinds, ",") != "STARTED,STEP,STEP,PROMOTED" {
		t.Fatalf("history %v", kinds)
	}
	if !strings.Contains(got.History[1].Reason, "canary 0.00% 5xx (0/100)") || !strings.Contains(got.History[1].Reason, "baseline 0.00% 5xx (0/100)") {
		t.Errorf("step reason %q", got.History[1].Reason)
	}
	// Final: evaluation leaves it alone, and the rule is free again for
	// the next release (green is now the baseline).
	e.ctl.Evaluate(context.Background())
	if got := e.get(cn.ID); len(got.History) != 4 {
		t.Fatalf("a final canary changed: %+v", got.History)
	}
	in := e.input(e.ruleID)
	in.BaselineTargetGroup, in.CanaryTargetGroup = e.green, e.blue
	e.start(in)
	if w := e.ruleWeights(e.ruleID); w != (Weights{5, 95}) {
		t.Fatalf("next release's weights %+v (blue 5, green 95)", w)
	}
}

func TestRolledBackOnErrorsWithinTheInterval(t *testing.T) {
	e := newEnv(t)
	cn := e.start(e.input(""))
	if w := e.listenerWeights(); w != (Weights{95, 5}) {
		t.Fatalf("GetListener weights %+v, want 95/5", w)
	}
	// Errors before the canary started do not count against it: they are
	// in the step's base.
	e.clock.Add(5 * time.Second)
	e.stats.serve(e.green, 10, 0, 0)
	e.ctl.Evaluate(context.Background())
	e.stats.serve(e.blue, 1000, 3, 30*time.Millisecond)
	e.stats.serve(e.green, 50, 25, 30*time.Millisecond)
	e.clock.Add(time.Second)
	e.ctl.Evaluate(context.Background())
	got := e.get(cn.ID)
	if got.State != StateRolledBack {
		t.Fatalf("state %s, want ROLLED_BACK", got.State)
	}
	if w := e.listenerWeights(); w != (Weights{100, 0}) {
		t.Fatalf("weights after rollback %+v, want 100/0", w)
	}
	last := got.History[len(got.History)-1]
	for _, s := range []string{"canary error rate 41.67% (25/60)", "baseline 0.30% 5xx (3/1000)"} {
		if !strings.Contains(last.Reason, s) {
			t.Errorf("reason %q lacks %q", last.Reason, s)
		}
	}
	if got.Reason != last.Reason {
		t.Errorf("canary reason %q, want the last event's", got.Reason)
	}
}

func TestStepOwnTrafficOnly(t *testing.T) {
	// Errors in the step's first minute before the step began are the
	// previous step's business.
	e := newEnv(t)
	e.stats.serve(e.green, 100, 100, 0)
	cn := e.start(e.input(e.ruleID))
	e.stats.serve(e.green, 100, 0, 0)
	e.ctl.Evaluate(context.Background())
	if got := e.get(cn.ID); got.State != StateRunning {
		t.Fatalf("state %s: judged errors from before the step (%s)", got.State, got.Reason)
	}
}

func TestUserChangeAborts(t *testing.T) {
	e := newEnv(t)
	cn := e.start(e.input(e.ruleID))
	w1, w2 := 50, 50
	if _, err := e.svc.UpdateRule(e.ctx, service.UpdateRuleInput{ServiceIdentifier: e.svcID, ListenerIdentifier: e.lst.ID,
		RuleUpdate: service.RuleUpdate{RuleIdentifier: e.ruleID, Action: &model.RuleAction{Forward: &model.ForwardAction{
			TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: e.blue, Weight: &w1}, {TargetGroupIdentifier: e.green, Weight: &w2}}}}}}); err != nil {
		t.Fatal(err)
	}
	e.ctl.Evaluate(context.Background())
	got := e.get(cn.ID)
	if got.State != StateAborted || !strings.Contains(got.Reason, "changed by someone else") {
		t.Fatalf("state %s reason %q", got.State, got.Reason)
	}
	if w := e.ruleWeights(e.ruleID); w != (Weights{50, 50}) {
		t.Fatalf("weights %+v: the person's change must stay", w)
	}
	if got.Weights() != (Weights{50, 50}) {
		t.Fatalf("the canary reports weights %+v, not the rule's 50/50", got.Weights())
	}
}

func TestAbort(t *testing.T) {
	e := newEnv(t)
	cn := e.start(e.input(e.ruleID))
	e.clock.Add(time.Minute)
	e.healthyTraffic(100)
	e.ctl.Evaluate(context.Background())
	if w := e.ruleWeights(e.ruleID); w != (Weights{75, 25}) {
		t.Fatalf("weights %+v", w)
	}
	if _, err := e.ctl.Abort(e.other, cn.ID); model.KindOf(err) != model.KindNotFound {
		t.Fatalf("another account's abort: %v, want NotFound", err)
	}
	got, err := e.ctl.Abort(e.ctx, cn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateAborted || got.Weights() != (Weights{100, 0}) {
		t.Fatalf("aborted: %s %+v", got.State, got.Weights())
	}
	if w := e.ruleWeights(e.ruleID); w != (Weights{100, 0}) {
		t.Fatalf("weights after abort %+v, want 100/0", w)
	}
	if _, err := e.ctl.Abort(e.ctx, cn.ID); model.KindOf(err) != model.KindConflict {
		t.Fatalf("second abort: %v, want Conflict", err)
	}
	// The rule is free again.
	e.start(e.input(e.ruleID))
}

func TestResumeAfterRestart(t *testing.T) {
	e := newEnv(t)
	cn := e.start(e.input(e.ruleID))
	e.clock.Add(time.Minute)
	e.healthyTraffic(100)
	e.ctl.Evaluate(context.Background())
	// A new controller on the same store, as after a restart.
	e.ctl = e.controller()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.ctl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.ctl.Close(context.Background())
	got := e.get(cn.ID)
	if got.StepIndex != 1 || got.History[len(got.History)-1].Kind != EventResumed {
		t.Fatalf("after restart: step %d history %+v", got.StepIndex, got.History)
	}
	for range 2 {
		e.clock.Add(time.Minute)
		e.healthyTraffic(100)
		e.ctl.Evaluate(context.Background())
	}
	if got := e.get(cn.ID); got.State != StatePromoted {
		t.Fatalf("state %s after the resumed steps", got.State)
	}
}

func TestPendingWeightsWrittenAfterACrash(t *testing.T) {
	e := newEnv(t)
	cn := e.start(e.input(e.ruleID))
	// A crash after the next step was recorded and before its weights
	// were written: the record says 25 pending, the rule has 5.
	rec := e.get(cn.ID)
	next := rec.clone()
	next.Prev, next.Action, next.Pending, next.StepIndex = rec.Action, forwardWith(e.blue, e.green, 25), true, 1
	b, _ := json.Marshal(next)
	if _, err := e.st.Update(context.Background(), func(tx store.Tx) error { return tx.Put(canaryKey(cn.ID), b) }); err != nil {
		t.Fatal(err)
	}
	e.ctl.Evaluate(context.Background())
	if w := e.ruleWeights(e.ruleID); w != (Weights{75, 25}) {
		t.Fatalf("weights %+v, want the pending 75/25", w)
	}
	if got := e.get(cn.ID); got.Pending || got.State != StateRunning {
		t.Fatalf("after the write: pending %v state %s", got.Pending, got.State)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	foreign := e.tg(e.other, "theirs")
	third := e.tg(e.ctx, "third")
	prio := 20
	fixed, err := e.svc.CreateRule(e.ctx, service.CreateRuleInput{ServiceIdentifier: e.svcID, ListenerIdentifier: e.lst.ID, Name: "fixed",
		Priority: &prio, Match: &model.RuleMatch{HTTPMatch: &model.HTTPMatch{Method: "DELETE"}},
		Action: &model.RuleAction{FixedResponse: &model.FixedResponseAction{StatusCode: ptr(404)}}})
	if err != nil {
		t.Fatal(err)
	}
	prio2 := 30
	three, err := e.svc.CreateRule(e.ctx, service.CreateRuleInput{ServiceIdentifier: e.svcID, ListenerIdentifier: e.lst.ID, Name: "three",
		Priority: &prio2, Match: &model.RuleMatch{HTTPMatch: &model.HTTPMatch{Method: "PUT"}},
		Action: &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: e.blue}, {TargetGroupIdentifier: third}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		edit  func(*StartInput)
		kind  model.ErrorKind
		field string
	}{
		{"steps not increasing", e.ctx, func(in *StartInput) { in.Steps = []int{5, 5, 100} }, model.KindValidation, "steps[1]"},
		{"steps not ending at 100", e.ctx, func(in *StartInput) { in.Steps = []int{5, 50} }, model.KindValidation, "steps"},
		{"step above 100", e.ctx, func(in *StartInput) { in.Steps = []int{5, 101} }, model.KindValidation, "steps[1]"},
		{"step 0", e.ctx, func(in *StartInput) { in.Steps = []int{0, 100} }, model.KindValidation, "steps[0]"},
		{"no steps", e.ctx, func(in *StartInput) { in.Steps = nil }, model.KindValidation, "steps"},
		{"interval 0", e.ctx, func(in *StartInput) { in.IntervalSeconds = ptr(0) }, model.KindValidation, "intervalSeconds"},
		{"no interval", e.ctx, func(in *StartInput) { in.IntervalSeconds = nil }, model.KindValidation, "intervalSeconds"},
		{"error rate above 1", e.ctx, func(in *StartInput) { in.MaxErrorRate = ptr(1.5) }, model.KindValidation, "maxErrorRate"},
		{"negative error rate", e.ctx, func(in *StartInput) { in.MaxErrorRate = ptr(-0.1) }, model.KindValidation, "maxErrorRate"},
		{"no error rate", e.ctx, func(in *StartInput) { in.MaxErrorRate = nil }, model.KindValidation, "maxErrorRate"},
		{"p99 0", e.ctx, func(in *StartInput) { in.MaxP99Ms = ptr(0) }, model.KindValidation, "maxP99Ms"},
		{"minRequests 0", e.ctx, func(in *StartInput) { in.MinRequests = ptr(0) }, model.KindValidation, "minRequests"},
		{"malformed baseline", e.ctx, func(in *StartInput) { in.BaselineTargetGroup = "blue" }, model.KindValidation, "baselineTargetGroup"},
		{"malformed rule", e.ctx, func(in *StartInput) { in.RuleIdentifier = "rule-x" }, model.KindValidation, "ruleIdentifier"},
		{"same groups", e.ctx, func(in *StartInput) { in.CanaryTargetGroup = e.blue }, model.KindValidation, "canaryTargetGroup"},
		{"baseline not in the forward", e.ctx, func(in *StartInput) { in.BaselineTargetGroup, in.CanaryTargetGroup = e.green, e.blue }, model.KindValidation, "baselineTargetGroup"},
		{"fixed response", e.ctx, func(in *StartInput) { in.RuleIdentifier = fixed.ID }, model.KindValidation, "ruleIdentifier"},
		{"a third group in the forward", e.ctx, func(in *StartInput) { in.RuleIdentifier = three.ID }, model.KindValidation, "ruleIdentifier"},
		{"another account's canary group", e.ctx, func(in *StartInput) { in.CanaryTargetGroup = foreign }, model.KindNotFound, ""},
		{"another account's service", e.other, func(*StartInput) {}, model.KindNotFound, ""},
		{"unknown rule", e.ctx, func(in *StartInput) { in.RuleIdentifier = "rule-0123456789abcdef0" }, model.KindNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := e.input(e.ruleID)
			tc.edit(&in)
			_, err := e.ctl.StartCanary(tc.ctx, in)
			if model.KindOf(err) != tc.kind {
				t.Fatalf("err %v (kind %d), want kind %d", err, model.KindOf(err), tc.kind)
			}
			if tc.field != "" {
				me := err.(*model.Error)
				if len(me.Fields) == 0 || me.Fields[0].Name != tc.field {
					t.Fatalf("fields %+v, want %s", me.Fields, tc.field)
				}
			}
			if w := e.ruleWeights(e.ruleID); w != (Weights{100, 0}) {
				t.Fatalf("a refused start changed the weights: %+v", w)
			}
		})
	}
	if items, _, err := e.ctl.List(e.ctx, service.Page{}); err != nil || len(items) != 0 {
		t.Fatalf("refused starts left canaries: %d, %v", len(items), err)
	}
}

func TestOneRunningCanaryPerRule(t *testing.T) {
	e := newEnv(t)
	first := e.start(e.input(e.ruleID))
	_, err := e.ctl.StartCanary(e.ctx, e.input(e.ruleID))
	if model.KindOf(err) != model.KindConflict || !strings.Contains(err.Error(), first.ID) {
		t.Fatalf("second canary on the rule: %v, want Conflict naming %s", err, first.ID)
	}
	if w := e.ruleWeights(e.ruleID); w != (Weights{95, 5}) {
		t.Fatalf("the refused canary changed the weights: %+v", w)
	}
	// The listener's default action is another rule: allowed.
	e.start(e.input(""))
	// The default rule named by its ID is the listener's default action.
	rules, _, _ := e.svc.ListRules(e.ctx, e.svcID, e.lst.ID, service.Page{})
	for _, r := range rules {
		if r.IsDefault {
			if _, err := e.ctl.StartCanary(e.ctx, e.input(r.ID)); model.KindOf(err) != model.KindConflict {
				t.Fatalf("canary on the default rule by ID: %v, want Conflict", err)
			}
		}
	}
}

func TestAccountIsolation(t *testing.T) {
	e := newEnv(t)
	cn := e.start(e.input(e.ruleID))
	if _, err := e.ctl.Get(e.other, cn.ID); model.KindOf(err) != model.KindNotFound {
		t.Fatalf("Get by another account: %v", err)
	}
	items, _, err := e.ctl.List(e.other, service.Page{})
	if err != nil || len(items) != 0 {
		t.Fatalf("List by another account: %d items, %v", len(items), err)
	}
	items, _, err = e.ctl.List(e.ctx, service.Page{})
	if err != nil || len(items) != 1 || items[0].ID != cn.ID {
		t.Fatalf("List by the owner: %+v, %v", items, err)
	}
	if _, err := e.ctl.Get(e.ctx, "nope"); model.KindOf(err) != model.KindValidation {
		t.Fatalf("malformed ID: %v", err)
	}
}

func TestListPages(t *testing.T) {
	e := newEnv(t)
	e.start(e.input(e.ruleID))
	e.start(e.input(""))
	p1, next, err := e.ctl.List(e.ctx, service.Page{MaxResults: 1})
	if err != nil || len(p1) != 1 || next == "" {
		t.Fatalf("page 1: %d %q %v", len(p1), next, err)
	}
	p2, next2, err := e.ctl.List(e.ctx, service.Page{MaxResults: 1, NextToken: next})
	if err != nil || len(p2) != 1 || next2 != "" || p2[0].ID == p1[0].ID {
		t.Fatalf("page 2: %+v %q %v", p2, next2, err)
	}
}

func TestDeletedRuleAborts(t *testing.T) {
	e := newEnv(t)
	cn := e.start(e.input(e.ruleID))
	if err := e.svc.DeleteRule(e.ctx, e.svcID, e.lst.ID, e.ruleID); err != nil {
		t.Fatal(err)
	}
	e.ctl.Evaluate(context.Background())
	if got := e.get(cn.ID); got.State != StateAborted || !strings.Contains(got.Reason, "deleted") {
		t.Fatalf("state %s reason %q", got.State, got.Reason)
	}
}

func TestNoStatsRefuses(t *testing.T) {
	e := newEnv(t)
	e.ctl = New(Config{Store: e.st, Routes: e.svc})
	if _, err := e.ctl.StartCanary(e.ctx, e.input(e.ruleID)); model.KindOf(err) != model.KindNotImplemented {
		t.Fatalf("without Stats: %v", err)
	}
}
