package service

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

// lrEnv is the fixture of the listener and rule tests: a Service on a fresh
// embedded store and a caller context.
type lrEnv struct {
	t   *testing.T
	s   *Service
	st  store.Store
	ctx context.Context
}

func newLREnv(t *testing.T, quotas model.Quotas) *lrEnv {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, Config{DNSToken: "abc1234", Quotas: quotas})
	ctx := WithCaller(context.Background(), model.Caller{Account: "111122223333", PrincipalARN: "arn:aws:iam::111122223333:root"})
	return &lrEnv{t: t, s: s, st: st, ctx: ctx}
}

func (e *lrEnv) service(name, customDomain string) *model.Service {
	e.t.Helper()
	svc, err := e.s.CreateService(e.ctx, CreateServiceInput{Name: name, CustomDomainName: customDomain})
	if err != nil {
		e.t.Fatalf("CreateService %s: %v", name, err)
	}
	return svc
}

// targetGroup writes a target group straight into the store, so these tests
// do not depend on CreateTargetGroup.
func (e *lrEnv) targetGroup(protocol string) string {
	e.t.Helper()
	c, _ := CallerFrom(e.ctx)
	tg := &model.TargetGroup{Meta: e.s.newMeta(c, arn.TargetGroup, nil), Type: model.TargetGroupTypeIP,
		Status: model.StatusActive, Config: &model.TargetGroupConfig{Port: intPtr(80), Protocol: protocol}}
	tg.Name = "tg" + strings.TrimPrefix(tg.ID, "tg-")
	if err := e.s.update(e.ctx, func(tx store.Tx) error {
		if err := addCount(tx, ownedCountKey(pfxTargetGroup, c.Account), 1); err != nil {
			return err
		}
		return putJSON(tx, pfxTargetGroup+tg.ID, tg)
	}); err != nil {
		e.t.Fatal(err)
	}
	return tg.ID
}

func (e *lrEnv) listener(svcID, name, protocol string, port *int, action *model.RuleAction) *model.Listener {
	e.t.Helper()
	l, err := e.s.CreateListener(e.ctx, CreateListenerInput{ServiceIdentifier: svcID, Name: name, Protocol: protocol,
		Port: port, DefaultAction: action})
	if err != nil {
		e.t.Fatalf("CreateListener %s: %v", name, err)
	}
	return l
}

// tgUsers returns the services whose rules reference tgID.
func (e *lrEnv) tgUsers(tgID string) []string {
	e.t.Helper()
	var out []string
	if err := e.s.view(e.ctx, func(tx store.ReadTx) error {
		var err error
		out, err = tgServices(tx, tgID)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *lrEnv) countKeys(prefix string) int {
	e.t.Helper()
	n := 0
	if err := e.s.view(e.ctx, func(tx store.ReadTx) error {
		var err error
		n, err = countPrefix(tx, prefix)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func lrForward(tgIDs ...string) *model.RuleAction {
	a := &model.RuleAction{Forward: &model.ForwardAction{}}
	for _, id := range tgIDs {
		a.Forward.TargetGroups = append(a.Forward.TargetGroups, model.WeightedTargetGroup{TargetGroupIdentifier: id})
	}
	return a
}

func lrFixed(code int) *model.RuleAction {
	return &model.RuleAction{FixedResponse: &model.FixedResponseAction{StatusCode: intPtr(code)}}
}

func lrWantKind(t *testing.T, err error, want model.ErrorKind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %d", want)
	}
	if got := model.KindOf(err); got != want {
		t.Fatalf("got error kind %d (%v), want %d", got, err, want)
	}
}

func TestListenerCRUD(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	tg := e.targetGroup(model.ProtocolHTTP)

	l := e.listener(svc.ID, "web", model.ProtocolHTTP, nil, lrFixed(404))
	if !arn.ValidID(arn.Listener, l.ID) {
		t.Errorf("listener ID %q", l.ID)
	}
	wantARN := "arn:aws:vpc-lattice:us-east-1:111122223333:service/" + svc.ID + "/listener/" + l.ID
	if l.ARN != wantARN || l.ServiceARN != svc.ARN || l.ServiceID != svc.ID || l.Port != 80 || l.Protocol != model.ProtocolHTTP {
		t.Errorf("created listener = %+v, want ARN %s, port 80", l, wantARN)
	}

	// Get by ID, by ARN, and with the service given by ARN.
	for _, ids := range [][2]string{{svc.ID, l.ID}, {svc.ID, l.ARN}, {svc.ARN, l.ID}} {
		got, err := e.s.GetListener(e.ctx, ids[0], ids[1])
		if err != nil {
			t.Fatalf("GetListener(%s, %s): %v", ids[0], ids[1], err)
		}
		if got.ID != l.ID || got.Name != "web" {
			t.Errorf("GetListener = %+v", got)
		}
	}

	// A listener ARN naming another service is not found on this one.
	other := e.service("other", "")
	_, err := e.s.GetListener(e.ctx, other.ID, l.ARN)
	lrWantKind(t, err, model.KindNotFound)
	_, err = e.s.GetListener(e.ctx, svc.ID, "listener-00000000000000000")
	lrWantKind(t, err, model.KindNotFound)
	_, err = e.s.GetListener(e.ctx, svc.ID, "nope")
	lrWantKind(t, err, model.KindValidation)

	l2 := e.listener(svc.ID, "secure", model.ProtocolHTTPS, nil, lrForward(tg))
	if l2.Port != 443 {
		t.Errorf("HTTPS default port = %d, want 443", l2.Port)
	}
	if w := l2.DefaultAction.Forward.TargetGroups[0]; w.Weight == nil || *w.Weight != model.DefaultWeight {
		t.Errorf("single target group weight not normalised to %d: %+v", model.DefaultWeight, w)
	}

	items, next, err := e.s.ListListeners(e.ctx, svc.ID, Page{MaxResults: 1})
	if err != nil || len(items) != 1 || next == "" {
		t.Fatalf("ListListeners page 1 = %d items, next %q, %v", len(items), next, err)
	}
	items2, next2, err := e.s.ListListeners(e.ctx, svc.ID, Page{MaxResults: 1, NextToken: next})
	if err != nil || len(items2) != 1 || next2 != "" || items2[0].ID == items[0].ID {
		t.Fatalf("ListListeners page 2 = %+v, next %q, %v", items2, next2, err)
	}

	// Update: the default rule follows the default action.
	up, err := e.s.UpdateListener(e.ctx, UpdateListenerInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		DefaultAction: lrForward(tg)})
	if err != nil {
		t.Fatal(err)
	}
	if up.DefaultAction.Forward == nil || up.DefaultAction.Forward.TargetGroups[0].TargetGroupIdentifier != tg {
		t.Errorf("updated default action = %+v", up.DefaultAction)
	}
	rules, _, err := e.s.ListRules(e.ctx, svc.ID, l.ID, Page{})
	if err != nil || len(rules) != 1 || !rules[0].IsDefault || rules[0].Action.Forward == nil {
		t.Fatalf("rules after UpdateListener = %+v, %v", rules, err)
	}
	_, err = e.s.UpdateListener(e.ctx, UpdateListenerInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID})
	lrWantKind(t, err, model.KindValidation)

	if err := e.s.DeleteListener(e.ctx, svc.ID, l.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.GetListener(e.ctx, svc.ID, l.ID)
	lrWantKind(t, err, model.KindNotFound)
	err = e.s.DeleteListener(e.ctx, svc.ID, l.ID)
	lrWantKind(t, err, model.KindNotFound)
	items, _, _ = e.s.ListListeners(e.ctx, svc.ID, Page{})
	if len(items) != 1 || items[0].ID != l2.ID {
		t.Errorf("listeners after delete = %+v", items)
	}
	// The target group stays in use by l2's default rule only.
	if u := e.tgUsers(tg); len(u) != 1 || u[0] != svc.ID {
		t.Errorf("target group users = %v", u)
	}
}

func TestCreateListenerValidation(t *testing.T) {
	e := newLREnv(t, nil)
	plain := e.service("plain", "")
	custom := e.service("custom", "app.example.com")
	httpTG := e.targetGroup(model.ProtocolHTTP)
	tcpTG := e.targetGroup(model.ProtocolTCP)
	tcpTG2 := e.targetGroup(model.ProtocolTCP)
	missingTG := "tg-0123456789abcdef0"

	cases := []struct {
		name string
		in   CreateListenerInput
		want model.ErrorKind
	}{
		{"ok passthrough", CreateListenerInput{ServiceIdentifier: custom.ID, Name: "tls", Protocol: "TLS_PASSTHROUGH", DefaultAction: lrForward(tcpTG)}, -1},
		{"bad name", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "Bad_Name", Protocol: "HTTP", DefaultAction: lrFixed(404)}, model.KindValidation},
		{"reserved prefix", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "listener-x", Protocol: "HTTP", DefaultAction: lrFixed(404)}, model.KindValidation},
		{"no protocol", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", DefaultAction: lrFixed(404)}, model.KindValidation},
		{"bad protocol", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", Protocol: "TCP", DefaultAction: lrFixed(404)}, model.KindValidation},
		{"port 0", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", Protocol: "HTTP", Port: intPtr(0), DefaultAction: lrFixed(404)}, model.KindValidation},
		{"port 65536", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", Protocol: "HTTP", Port: intPtr(65536), DefaultAction: lrFixed(404)}, model.KindValidation},
		{"no action", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", Protocol: "HTTP"}, model.KindValidation},
		{"fixed 200", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", Protocol: "HTTP", DefaultAction: lrFixed(200)}, model.KindValidation},
		{"bad service id", CreateListenerInput{ServiceIdentifier: "svc-x", Name: "abc", Protocol: "HTTP", DefaultAction: lrFixed(404)}, model.KindValidation},
		{"missing service", CreateListenerInput{ServiceIdentifier: "svc-0123456789abcdef0", Name: "abc", Protocol: "HTTP", DefaultAction: lrFixed(404)}, model.KindNotFound},
		{"missing target group", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", Protocol: "HTTP", DefaultAction: lrForward(missingTG)}, model.KindNotFound},
		{"tcp tg on http", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", Protocol: "HTTP", DefaultAction: lrForward(tcpTG2)}, model.KindValidation},
		{"passthrough without domain", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "abc", Protocol: "TLS_PASSTHROUGH", DefaultAction: lrForward(tcpTG)}, model.KindValidation},
		{"passthrough fixed response", CreateListenerInput{ServiceIdentifier: custom.ID, Name: "abc", Protocol: "TLS_PASSTHROUGH", Port: intPtr(8443), DefaultAction: lrFixed(404)}, model.KindValidation},
		{"passthrough http tg", CreateListenerInput{ServiceIdentifier: custom.ID, Name: "abc", Protocol: "TLS_PASSTHROUGH", Port: intPtr(8443), DefaultAction: lrForward(httpTG)}, model.KindValidation},
		{"ok http", CreateListenerInput{ServiceIdentifier: plain.ID, Name: "ok-http", Protocol: "HTTP", DefaultAction: lrFixed(404)}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := e.s.CreateListener(e.ctx, tc.in)
			if tc.want < 0 {
				if err != nil {
					t.Fatalf("CreateListener: %v", err)
				}
				if tc.in.Protocol == "TLS_PASSTHROUGH" && l.Port != 443 {
					t.Errorf("TLS_PASSTHROUGH default port = %d", l.Port)
				}
				return
			}
			lrWantKind(t, err, tc.want)
		})
	}
	// A ValidationException names every bad field at once.
	_, err := e.s.CreateListener(e.ctx, CreateListenerInput{ServiceIdentifier: plain.ID, Name: "X", Protocol: "FTP", Port: intPtr(-1)})
	var me *model.Error
	if !asModelError(err, &me) || len(me.Fields) != 4 {
		t.Errorf("validation error = %v, want 4 fields", err)
	}
}

func asModelError(err error, out **model.Error) bool {
	e, ok := err.(*model.Error)
	if ok {
		*out = e
	}
	return ok
}

func TestListenerConflictsAndQuota(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	e.listener(svc.ID, "web", model.ProtocolHTTP, nil, lrFixed(404))

	cases := []struct {
		name string
		in   CreateListenerInput
		want model.ErrorKind
	}{
		{"same name", CreateListenerInput{ServiceIdentifier: svc.ID, Name: "web", Protocol: "HTTP", Port: intPtr(8080), DefaultAction: lrFixed(404)}, model.KindConflict},
		{"same port", CreateListenerInput{ServiceIdentifier: svc.ID, Name: "web2", Protocol: "HTTPS", Port: intPtr(80), DefaultAction: lrFixed(404)}, model.KindConflict},
		{"same default port", CreateListenerInput{ServiceIdentifier: svc.ID, Name: "web2", Protocol: "HTTP", DefaultAction: lrFixed(404)}, model.KindConflict},
		{"second ok", CreateListenerInput{ServiceIdentifier: svc.ID, Name: "web2", Protocol: "HTTPS", DefaultAction: lrFixed(404)}, -1},
		{"third over default quota", CreateListenerInput{ServiceIdentifier: svc.ID, Name: "web3", Protocol: "HTTP", Port: intPtr(8080), DefaultAction: lrFixed(404)}, model.KindQuota},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.CreateListener(e.ctx, tc.in)
			if tc.want < 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			lrWantKind(t, err, tc.want)
		})
	}
	// The same name on another service is fine.
	other := e.service("other", "")
	e.listener(other.ID, "web", model.ProtocolHTTP, nil, lrFixed(404))

	// A configured quota.
	q := newLREnv(t, model.Quotas{"listeners-per-service": 1})
	qs := q.service("shop", "")
	q.listener(qs.ID, "one", model.ProtocolHTTP, nil, lrFixed(404))
	_, err := q.s.CreateListener(q.ctx, CreateListenerInput{ServiceIdentifier: qs.ID, Name: "two", Protocol: "HTTPS", DefaultAction: lrFixed(404)})
	lrWantKind(t, err, model.KindQuota)
	var me *model.Error
	if asModelError(err, &me) && (me.QuotaCode != model.QuotaListenersPerService.Code || me.ResourceID != qs.ID) {
		t.Errorf("quota error = %+v", me)
	}
}

func TestCreateListenerIdempotent(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	tok := "token-1"
	in := CreateListenerInput{ServiceIdentifier: svc.ID, Name: "web", Protocol: "HTTP", DefaultAction: lrFixed(404), ClientToken: &tok}
	a, err := e.s.CreateListener(e.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.s.CreateListener(e.ctx, in)
	if err != nil {
		t.Fatalf("retry with the same token: %v", err)
	}
	if a.ID != b.ID || a.ARN != b.ARN {
		t.Errorf("retry created %s, first was %s", b.ID, a.ID)
	}
	if n := e.countKeys(pfxListener + svc.ID + "/"); n != 1 {
		t.Errorf("%d listeners after retry, want 1", n)
	}
	if n := e.countKeys(pfxRule + a.ID + "/"); n != 1 {
		t.Errorf("%d rules after retry, want 1 (the default rule)", n)
	}
	in.Port = intPtr(8080)
	_, err = e.s.CreateListener(e.ctx, in)
	lrWantKind(t, err, model.KindConflict)
	other := "token-2"
	in.ClientToken = &other
	in.Name = "web2"
	if _, err := e.s.CreateListener(e.ctx, in); err != nil {
		t.Fatalf("another token: %v", err)
	}
}

func TestTargetGroupServesOneService(t *testing.T) {
	e := newLREnv(t, nil)
	a := e.service("alpha", "")
	b := e.service("beta", "")
	tg := e.targetGroup(model.ProtocolHTTP)

	la := e.listener(a.ID, "web", model.ProtocolHTTP, nil, lrForward(tg))
	// Another listener of the same service may share it.
	la2 := e.listener(a.ID, "web2", model.ProtocolHTTPS, nil, lrForward(tg))

	_, err := e.s.CreateListener(e.ctx, CreateListenerInput{ServiceIdentifier: b.ID, Name: "web", Protocol: "HTTP", DefaultAction: lrForward(tg)})
	lrWantKind(t, err, model.KindConflict)
	lb := e.listener(b.ID, "web", model.ProtocolHTTP, nil, lrFixed(404))
	_, err = e.s.UpdateListener(e.ctx, UpdateListenerInput{ServiceIdentifier: b.ID, ListenerIdentifier: lb.ID, DefaultAction: lrForward(tg)})
	lrWantKind(t, err, model.KindConflict)
	_, err = e.s.CreateRule(e.ctx, CreateRuleInput{ServiceIdentifier: b.ID, ListenerIdentifier: lb.ID, Name: "one",
		Priority: intPtr(1), Match: lrPrefix("/a"), Action: lrForward(tg)})
	lrWantKind(t, err, model.KindConflict)

	// Once service A stops using it, service B may.
	if _, err := e.s.UpdateListener(e.ctx, UpdateListenerInput{ServiceIdentifier: a.ID, ListenerIdentifier: la.ID, DefaultAction: lrFixed(404)}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteListener(e.ctx, a.ID, la2.ID); err != nil {
		t.Fatal(err)
	}
	if u := e.tgUsers(tg); len(u) != 0 {
		t.Fatalf("target group still used by %v", u)
	}
	if _, err := e.s.UpdateListener(e.ctx, UpdateListenerInput{ServiceIdentifier: b.ID, ListenerIdentifier: lb.ID, DefaultAction: lrForward(tg)}); err != nil {
		t.Fatal(err)
	}
	if u := e.tgUsers(tg); len(u) != 1 || u[0] != b.ID {
		t.Errorf("target group users = %v, want [%s]", u, b.ID)
	}
}

func TestTargetGroupsPerServiceQuota(t *testing.T) {
	e := newLREnv(t, model.Quotas{"target-groups-per-service": 2})
	svc := e.service("shop", "")
	tg1, tg2, tg3 := e.targetGroup("HTTP"), e.targetGroup("HTTP"), e.targetGroup("HTTP")
	l := e.listener(svc.ID, "web", "HTTP", nil, lrForward(tg1, tg2))
	_, err := e.s.CreateRule(e.ctx, CreateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID, Name: "one",
		Priority: intPtr(1), Match: lrPrefix("/a"), Action: lrForward(tg3)})
	lrWantKind(t, err, model.KindQuota)
	// Reusing a target group the service already has is fine.
	r, err := e.s.CreateRule(e.ctx, CreateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID, Name: "one",
		Priority: intPtr(1), Match: lrPrefix("/a"), Action: lrForward(tg2)})
	if err != nil {
		t.Fatal(err)
	}
	// Replacing tg1 by tg3 on the default rule keeps the count at 2.
	if _, err := e.s.UpdateListener(e.ctx, UpdateListenerInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID, DefaultAction: lrForward(tg3)}); err != nil {
		t.Fatalf("swap target group within quota: %v", err)
	}
	if u := e.tgUsers(tg1); len(u) != 0 {
		t.Errorf("tg1 still referenced by %v", u)
	}
	_, err = e.s.UpdateRule(e.ctx, UpdateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
		RuleUpdate: RuleUpdate{RuleIdentifier: r.ID, Action: lrForward(tg2, tg1)}})
	lrWantKind(t, err, model.KindQuota)
	// The failed update left the references alone.
	if u := e.tgUsers(tg1); len(u) != 0 {
		t.Errorf("tg1 referenced after a failed update: %v", u)
	}
}

func TestDeleteListenerCascades(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	tg1, tg2 := e.targetGroup("HTTP"), e.targetGroup("HTTP")
	l := e.listener(svc.ID, "web", "HTTP", nil, lrForward(tg1))
	for i, tg := range []string{tg1, tg2} {
		if _, err := e.s.CreateRule(e.ctx, CreateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l.ID,
			Name: "rule" + string(rune('a'+i)) + "x", Priority: intPtr(i + 1), Match: lrPrefix("/p"), Action: lrForward(tg)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.countKeys(pfxRule + l.ID + "/"); n != 3 {
		t.Fatalf("%d rules, want 3", n)
	}
	if n := e.countKeys(pfxTGRef); n != 3 {
		t.Fatalf("%d target group references, want 3", n)
	}
	if err := e.s.DeleteListener(e.ctx, svc.ARN, l.ARN); err != nil {
		t.Fatal(err)
	}
	if n := e.countKeys(pfxRule + l.ID + "/"); n != 0 {
		t.Errorf("%d rules left", n)
	}
	if n := e.countKeys(pfxTGRef); n != 0 {
		t.Errorf("%d target group references left", n)
	}
	_, _, err := e.s.ListRules(e.ctx, svc.ID, l.ID, Page{})
	lrWantKind(t, err, model.KindNotFound)
}

func TestDeleteServiceCascadesListeners(t *testing.T) {
	e := newLREnv(t, nil)
	svc := e.service("shop", "")
	keep := e.service("keep", "")
	tg, tgKeep := e.targetGroup("HTTP"), e.targetGroup("HTTP")
	l1 := e.listener(svc.ID, "web", "HTTP", nil, lrForward(tg))
	l2 := e.listener(svc.ID, "web2", "HTTPS", nil, lrFixed(500))
	if _, err := e.s.CreateRule(e.ctx, CreateRuleInput{ServiceIdentifier: svc.ID, ListenerIdentifier: l2.ID,
		Name: "one", Priority: intPtr(5), Match: lrPrefix("/x"), Action: lrForward(tg)}); err != nil {
		t.Fatal(err)
	}
	lk := e.listener(keep.ID, "web", "HTTP", nil, lrForward(tgKeep))

	if _, err := e.s.DeleteService(e.ctx, svc.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.countKeys(pfxListener + svc.ID + "/"); n != 0 {
		t.Errorf("%d listeners left", n)
	}
	for _, l := range []*model.Listener{l1, l2} {
		if n := e.countKeys(pfxRule + l.ID + "/"); n != 0 {
			t.Errorf("%d rules left on %s", n, l.ID)
		}
	}
	if u := e.tgUsers(tg); len(u) != 0 {
		t.Errorf("target group still used by %v", u)
	}
	// The other service is untouched.
	if _, err := e.s.GetListener(e.ctx, keep.ID, lk.ID); err != nil {
		t.Error(err)
	}
	if u := e.tgUsers(tgKeep); len(u) != 1 {
		t.Errorf("other service's target group users = %v", u)
	}
}
