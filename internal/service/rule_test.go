package service

import (
	"strconv"
	"testing"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
)

func lrPrefix(p string) *model.RuleMatch {
	return &model.RuleMatch{HTTPMatch: &model.HTTPMatch{PathMatch: &model.PathMatch{Match: model.MatchType{Prefix: &p}}}}
}

func (e *lrEnv) rule(l *model.Listener, name string, priority int, action *model.RuleAction) *model.Rule {
	e.t.Helper()
	r, err := e.s.CreateRule(e.ctx, CreateRuleInput{ServiceIdentifier: l.ServiceID, ListenerIdentifier: l.ID,
		Name: name, Priority: intPtr(priority), Match: lrPrefix("/" + name), Action: action})
	if err != nil {
		e.t.Fatalf("CreateRule %s: %v", name, err)
	}
	return r
}

func (e *lrEnv) priorities(l *model.Listener) map[string]int {
	e.t.Helper()
	rules, _, err := e.s.ListRules(e.ctx, l.ServiceID, l.ID, Page{})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rules {
		if !r.IsDefault {
			out[r.Name] = r.Priority
		}
	}
	return out
}

func TestRuleCRUD(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	tg1, tg2 := e.targetGroup("HTTP"), e.targetGroup("HTTP")
	l := e.listener(svc.ID, "web", "HTTP", nil, lrFixed(404))

	r := e.rule(l, "api", 10, lrForward(tg1))
	if !arn.ValidID(arn.Rule, r.ID) || r.ARN != l.ARN+"/rule/"+r.ID || r.IsDefault || r.Priority != 10 ||
		r.Match == nil || r.ServiceID != svc.ID || r.ListenerID != l.ID {
		t.Errorf("created rule = %+v", r)
	}
	if ref, err := arn.ParseLattice(r.ARN); err != nil || ref.ID != r.ID || ref.ListenerID != l.ID || ref.ServiceID != svc.ID {
		t.Errorf("rule ARN %s parses to %+v, %v", r.ARN, ref, err)
	}

	for _, ids := range [][3]string{{svc.ID, l.ID, r.ID}, {svc.ARN, l.ARN, r.ARN}, {svc.ID, l.ID, r.ARN}} {
		got, err := e.s.GetRule(e.ctx, ids[0], ids[1], ids[2])
		if err != nil || got.ID != r.ID || got.Name != "api" {
			t.Errorf("GetRule(%v) = %+v, %v", ids, got, err)
		}
	}
	// A rule ARN naming another listener is not found on this one.
	l2 := e.listener(svc.ID, "web2", "HTTPS", nil, lrFixed(404))
	_, err := e.s.GetRule(e.ctx, svc.ID, l2.ID, r.ARN)
	lrWantKind(t, err, model.KindNotFound)
	_, err = e.s.GetRule(e.ctx, svc.ID, l2.ID, r.ID)
	lrWantKind(t, err, model.KindNotFound)

	// ListRules has the default rule too.
	rules, _, err := e.s.ListRules(e.ctx, svc.ID, l.ID, Page{})
	if err != nil || len(rules) != 2 {
		t.Fatalf("ListRules = %d rules, %v", len(rules), err)
	}
	var def *model.Rule
	for _, x := range rules {
		if x.IsDefault {
			def = x
		}
	}
	if def == nil || def.Name != DefaultRuleName || def.Priority != 0 || def.Match != nil || def.Action.FixedResponse == nil ||
		def.ARN != l.ARN+"/rule/"+def.ID {
		t.Fatalf("default rule = %+v", def)
	}
	if got, err := e.s.GetRule(e.ctx, svc.ID, l.ID, def.ID); err != nil || !got.IsDefault {
		t.Errorf("GetRule(default) = %+v, %v", got, err)
	}

	// UpdateRule changes only what it is given.
	up, err := e.s.UpdateRule(e.ctx, UpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		RuleUpdate: RuleUpdate{RuleIdentifier: r.ID, Priority: intPtr(20)}})
	if err != nil || up.Priority != 20 || up.Name != "api" || up.Action.Forward == nil || up.Match == nil {
		t.Fatalf("UpdateRule priority = %+v, %v", up, err)
	}
	up, err = e.s.UpdateRule(e.ctx, UpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		RuleUpdate: RuleUpdate{RuleIdentifier: r.ARN, Action: lrForward(tg2), Match: lrPrefix("/v2")}})
	if err != nil || up.Priority != 20 || *up.Match.HTTPMatch.PathMatch.Match.Prefix != "/v2" ||
		up.Action.Forward.TargetGroups[0].TargetGroupIdentifier != tg2 {
		t.Fatalf("UpdateRule action = %+v, %v", up, err)
	}
	if u := e.tgUsers(tg1); len(u) != 0 {
		t.Errorf("tg1 still referenced: %v", u)
	}
	if u := e.tgUsers(tg2); len(u) != 1 {
		t.Errorf("tg2 users = %v", u)
	}
	_, err = e.s.UpdateRule(e.ctx, UpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		RuleUpdate: RuleUpdate{RuleIdentifier: r.ID}})
	lrWantKind(t, err, model.KindValidation)

	if err := e.s.DeleteRule(e.ctx, svc.ID, l.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.GetRule(e.ctx, svc.ID, l.ID, r.ID)
	lrWantKind(t, err, model.KindNotFound)
	if u := e.tgUsers(tg2); len(u) != 0 {
		t.Errorf("tg2 still referenced after DeleteRule: %v", u)
	}
	err = e.s.DeleteRule(e.ctx, svc.ID, l.ID, r.ID)
	lrWantKind(t, err, model.KindNotFound)
}

func TestCreateRuleChecks(t *testing.T) {
	e := newLREnv(t, model.Quotas{"rules-per-listener": 2})
	svc := e.service("shop", "app.example.com")
	other := e.service("other", "")
	tcpTG := e.targetGroup("TCP")
	otherTG := e.targetGroup("HTTP")
	e.listener(other.ID, "web", "HTTP", nil, lrForward(otherTG))
	l := e.listener(svc.ID, "web", "HTTP", nil, lrFixed(404))
	tls := e.listener(svc.ID, "tls", "TLS_PASSTHROUGH", nil, lrForward(tcpTG))
	e.rule(l, "first", 1, lrFixed(500))

	in := func(name string, prio *int, m *model.RuleMatch, a *model.RuleAction) CreateRuleInput {
		return CreateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID, Name: name, Priority: prio, Match: m, Action: a}
	}
	cases := []struct {
		name string
		in   CreateRuleInput
		want model.ErrorKind
	}{
		{"bad name", in("Rule_1", intPtr(2), lrPrefix("/a"), lrFixed(404)), model.KindValidation},
		{"reserved prefix", in("rule-1", intPtr(2), lrPrefix("/a"), lrFixed(404)), model.KindValidation},
		{"no priority", in("abc", nil, lrPrefix("/a"), lrFixed(404)), model.KindValidation},
		{"priority 0", in("abc", intPtr(0), lrPrefix("/a"), lrFixed(404)), model.KindValidation},
		{"priority 2001", in("abc", intPtr(2001), lrPrefix("/a"), lrFixed(404)), model.KindValidation},
		{"no match", in("abc", intPtr(2), nil, lrFixed(404)), model.KindValidation},
		{"empty match", in("abc", intPtr(2), &model.RuleMatch{HTTPMatch: &model.HTTPMatch{}}, lrFixed(404)), model.KindValidation},
		{"bad path", in("abc", intPtr(2), lrPrefix("no-slash"), lrFixed(404)), model.KindValidation},
		{"no action", in("abc", intPtr(2), lrPrefix("/a"), nil), model.KindValidation},
		{"tg of another service", in("abc", intPtr(2), lrPrefix("/a"), lrForward(otherTG)), model.KindConflict},
		{"tcp tg on http", in("abc", intPtr(2), lrPrefix("/a"), lrForward(tcpTG)), model.KindValidation},
		{"same priority", in("abc", intPtr(1), lrPrefix("/a"), lrFixed(404)), model.KindConflict},
		{"same name", in("first", intPtr(2), lrPrefix("/a"), lrFixed(404)), model.KindConflict},
		{"default rule's name", in(DefaultRuleName, intPtr(2), lrPrefix("/a"), lrFixed(404)), model.KindConflict},
		{"missing listener", CreateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: "listener-0123456789abcdef0",
			Name: "abc", Priority: intPtr(2), Match: lrPrefix("/a"), Action: lrFixed(404)}, model.KindNotFound},
		{"passthrough listener", CreateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: tls.ID,
			Name: "abc", Priority: intPtr(2), Match: lrPrefix("/a"), Action: lrForward(tcpTG)}, model.KindValidation},
		{"ok", in("second", intPtr(2), lrPrefix("/a"), lrFixed(404)), -1},
		{"over quota", in("third", intPtr(3), lrPrefix("/a"), lrFixed(404)), model.KindQuota},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.CreateRule(e.ctx, tc.in)
			if tc.want < 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			lrWantKind(t, err, tc.want)
		})
	}
}

func TestDefaultRuleIsProtected(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	l := e.listener(svc.ID, "web", "HTTP", nil, lrFixed(404))
	def, err := lrDefaultRule(e, l)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.s.UpdateRule(e.ctx, UpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		RuleUpdate: RuleUpdate{RuleIdentifier: def.ID, Action: lrFixed(500)}})
	lrWantKind(t, err, model.KindValidation)
	err = e.s.DeleteRule(e.ctx, svc.ID, l.ID, def.ID)
	lrWantKind(t, err, model.KindValidation)
	out, err := e.s.BatchUpdateRule(e.ctx, BatchUpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		Rules: []RuleUpdate{{RuleIdentifier: def.ID, Priority: intPtr(5)}}})
	if err != nil || len(out.Unsuccessful) != 1 || out.Unsuccessful[0].Err.Kind != model.KindValidation {
		t.Fatalf("BatchUpdateRule(default) = %+v, %v", out, err)
	}
	if got, err := e.s.GetRule(e.ctx, svc.ID, l.ID, def.ID); err != nil || got.Action.FixedResponse == nil ||
		*got.Action.FixedResponse.StatusCode != 404 {
		t.Errorf("default rule changed: %+v, %v", got, err)
	}
}

// lrDefaultRule returns a listener's default rule.
func lrDefaultRule(e *lrEnv, l *model.Listener) (*model.Rule, error) {
	rules, _, err := e.s.ListRules(e.ctx, l.ServiceID, l.ID, Page{})
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if r.IsDefault {
			return r, nil
		}
	}
	return nil, model.NotFound(model.TypeRule, "default")
}

func TestUpdateRulePriorityConflict(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	l := e.listener(svc.ID, "web", "HTTP", nil, lrFixed(404))
	a := e.rule(l, "aaa", 1, lrFixed(404))
	e.rule(l, "bbb", 2, lrFixed(404))
	_, err := e.s.UpdateRule(e.ctx, UpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		RuleUpdate: RuleUpdate{RuleIdentifier: a.ID, Priority: intPtr(2)}})
	lrWantKind(t, err, model.KindConflict)
	// Setting a rule's own priority again is no conflict.
	if _, err := e.s.UpdateRule(e.ctx, UpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		RuleUpdate: RuleUpdate{RuleIdentifier: a.ID, Priority: intPtr(1)}}); err != nil {
		t.Fatal(err)
	}
	if p := e.priorities(l); p["aaa"] != 1 || p["bbb"] != 2 {
		t.Errorf("priorities = %v", p)
	}
}

func TestBatchUpdateRuleSwap(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	l := e.listener(svc.ID, "web", "HTTP", nil, lrFixed(404))
	a := e.rule(l, "aaa", 1, lrFixed(404))
	b := e.rule(l, "bbb", 2, lrFixed(404))
	out, err := e.s.BatchUpdateRule(e.ctx, BatchUpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		Rules: []RuleUpdate{{RuleIdentifier: a.ID, Priority: intPtr(2)}, {RuleIdentifier: b.ARN, Priority: intPtr(1)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 2 || len(out.Unsuccessful) != 0 {
		t.Fatalf("swap: %d successful, unsuccessful %+v", len(out.Successful), out.Unsuccessful)
	}
	if out.Successful[0].ID != a.ID || out.Successful[0].Priority != 2 || out.Successful[1].Priority != 1 {
		t.Errorf("successful = %+v %+v", out.Successful[0], out.Successful[1])
	}
	if p := e.priorities(l); p["aaa"] != 2 || p["bbb"] != 1 {
		t.Errorf("stored priorities = %v", p)
	}
}

func TestBatchUpdateRulePartialFailure(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	other := e.service("other", "")
	tg, otherTG := e.targetGroup("HTTP"), e.targetGroup("HTTP")
	e.listener(other.ID, "web", "HTTP", nil, lrForward(otherTG))
	l := e.listener(svc.ID, "web", "HTTP", nil, lrFixed(404))
	r := map[string]*model.Rule{}
	for i, n := range []string{"r1x", "r2x", "r3x", "r4x", "r5x", "r6x", "r7x", "r8x"} {
		r[n] = e.rule(l, n, i+1, lrFixed(404))
	}
	missing := "rule-0123456789abcdef0"
	out, err := e.s.BatchUpdateRule(e.ctx, BatchUpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		Rules: []RuleUpdate{
			{RuleIdentifier: r["r1x"].ID, Priority: intPtr(50), Action: lrForward(tg)},  // ok
			{RuleIdentifier: missing, Priority: intPtr(60)},                             // not found
			{RuleIdentifier: r["r2x"].ID, Priority: intPtr(3)},                          // r3x keeps 3: conflict
			{RuleIdentifier: r["r4x"].ID, Priority: intPtr(0)},                          // invalid
			{RuleIdentifier: r["r5x"].ID, Action: lrForward(otherTG)},                   // another service's TG
			{RuleIdentifier: r["r6x"].ID, Priority: intPtr(1), Match: lrPrefix("/new")}, // takes r1x's old priority: ok
			// A chain: r7x wants r8x's priority, r8x wants r2x's (which stays): both fail.
			{RuleIdentifier: r["r7x"].ID, Priority: intPtr(8)},
			{RuleIdentifier: r["r8x"].ID, Priority: intPtr(2)},
			{RuleIdentifier: r["r1x"].ID, Priority: intPtr(70)}, // listed twice
		}})
	if err != nil {
		t.Fatal(err)
	}
	var okIDs []string
	for _, s := range out.Successful {
		okIDs = append(okIDs, s.Name)
	}
	if len(okIDs) != 2 || okIDs[0] != "r1x" || okIDs[1] != "r6x" {
		t.Errorf("successful = %v, want [r1x r6x]", okIDs)
	}
	want := []struct {
		ident string
		kind  model.ErrorKind
	}{
		{missing, model.KindNotFound},
		{r["r2x"].ID, model.KindConflict},
		{r["r4x"].ID, model.KindValidation},
		{r["r5x"].ID, model.KindConflict},
		{r["r7x"].ID, model.KindConflict},
		{r["r8x"].ID, model.KindConflict},
		{r["r1x"].ID, model.KindValidation},
	}
	if len(out.Unsuccessful) != len(want) {
		t.Fatalf("unsuccessful = %+v", out.Unsuccessful)
	}
	for i, w := range want {
		f := out.Unsuccessful[i]
		if f.RuleIdentifier != w.ident || f.Err == nil || f.Err.Kind != w.kind {
			t.Errorf("unsuccessful[%d] = %s %+v, want %s kind %d", i, f.RuleIdentifier, f.Err, w.ident, w.kind)
		}
	}
	p := e.priorities(l)
	wantP := map[string]int{"r1x": 50, "r2x": 2, "r3x": 3, "r4x": 4, "r5x": 5, "r6x": 1, "r7x": 7, "r8x": 8}
	for n, w := range wantP {
		if p[n] != w {
			t.Errorf("priority of %s = %d, want %d", n, p[n], w)
		}
	}
	if u := e.tgUsers(tg); len(u) != 1 || u[0] != svc.ID {
		t.Errorf("tg users = %v", u)
	}
	if u := e.tgUsers(otherTG); len(u) != 1 || u[0] != other.ID {
		t.Errorf("other tg users = %v", u)
	}
	got, _ := e.s.GetRule(e.ctx, svc.ID, l.ID, r["r6x"].ID)
	if got == nil || *got.Match.HTTPMatch.PathMatch.Match.Prefix != "/new" {
		t.Errorf("r6x = %+v", got)
	}
}

func TestBatchUpdateRuleRequestChecks(t *testing.T) {
	e := newLREnv(t, model.Quotas{"target-groups-per-service": 1})
	svc := e.service("shop", "")
	tg1, tg2 := e.targetGroup("HTTP"), e.targetGroup("HTTP")
	l := e.listener(svc.ID, "web", "HTTP", nil, lrForward(tg1))
	a := e.rule(l, "aaa", 1, lrFixed(404))
	b := e.rule(l, "bbb", 2, lrFixed(404))

	many := make([]RuleUpdate, 11)
	for i := range many {
		many[i] = RuleUpdate{RuleIdentifier: a.ID, Priority: intPtr(i + 1)}
	}
	cases := []struct {
		name string
		in   BatchUpdateRuleInput
		want model.ErrorKind
	}{
		{"no rules", BatchUpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID}, model.KindValidation},
		{"eleven rules", BatchUpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID, Rules: many}, model.KindValidation},
		{"no rule identifier", BatchUpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
			Rules: []RuleUpdate{{Priority: intPtr(3)}}}, model.KindValidation},
		{"missing listener", BatchUpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: "listener-0123456789abcdef0",
			Rules: []RuleUpdate{{RuleIdentifier: a.ID, Priority: intPtr(3)}}}, model.KindNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.BatchUpdateRule(e.ctx, tc.in)
			lrWantKind(t, err, tc.want)
		})
	}

	// The target-groups-per-service quota fails the entry that would pass
	// it; a later entry within the quota succeeds.
	out, err := e.s.BatchUpdateRule(e.ctx, BatchUpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		Rules: []RuleUpdate{{RuleIdentifier: a.ID, Action: lrForward(tg2)}, {RuleIdentifier: b.ID, Action: lrForward(tg1)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Unsuccessful) != 1 || out.Unsuccessful[0].RuleIdentifier != a.ID || out.Unsuccessful[0].Err.Kind != model.KindQuota ||
		len(out.Successful) != 1 || out.Successful[0].ID != b.ID {
		t.Fatalf("quota batch = %+v", out)
	}
	if u := e.tgUsers(tg2); len(u) != 0 {
		t.Errorf("tg2 referenced after failed entry: %v", u)
	}
}

func TestCreateRuleIdempotent(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	l := e.listener(svc.ID, "web", "HTTP", nil, lrFixed(404))
	tok := "tok"
	in := CreateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID, Name: "aaa", Priority: intPtr(1),
		Match: lrPrefix("/a"), Action: lrFixed(404), ClientToken: &tok}
	a, err := e.s.CreateRule(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.s.CreateRule(e.ctx, in)
	if err != nil || b.ID != a.ID {
		t.Fatalf("retry = %+v, %v; first %s", b, err, a.ID)
	}
	if n := e.countKeys(pfxRule + l.ID + "/"); n != 2 {
		t.Errorf("%d rules, want 2", n)
	}
	in.Priority = intPtr(2)
	_, err = e.s.CreateRule(e.ctx, in)
	lrWantKind(t, err, model.KindConflict)
	for i := 0; i < 3; i++ {
		tk := "other-" + strconv.Itoa(i)
		in.ClientToken, in.Name, in.Priority = &tk, "bbb"+strconv.Itoa(i), intPtr(10+i)
		if _, err := e.s.CreateRule(e.ctx, in); err != nil {
			t.Fatal(err)
		}
	}
}
