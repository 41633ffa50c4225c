package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// canaryBackend answers status (changeable). Canaries are judged on what
// the data plane saw: the app's own traffic aggregates (no CanaryStats).
type canaryBackend struct {
	srv    *httptest.Server
	status atomic.Int32
	hits   atomic.Int64
}

func newCanaryBackend(t *testing.T, status int) *canaryBackend {
	b := &canaryBackend{}
	b.status.Store(int32(status))
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		w.WriteHeader(int(b.status.Load()))
		b.hits.Add(1)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *canaryBackend) backend() *backend { return &backend{srv: b.srv} }

// canaryWorld is a service whose listener forwards to blue; green is the
// release candidate. Traffic runs through the data plane for the test's
// length.
type canaryWorld struct {
	*world
	blue, green  *canaryBackend
	tgBlue       *vpclattice.CreateTargetGroupOutput
	tgGreen      *vpclattice.CreateTargetGroupOutput
	lst          *vpclattice.CreateListenerOutput
	rule         *vpclattice.CreateRuleOutput
	ingress      string
	port         int
	host         string
	stopTraffic  chan struct{}
	trafficGroup sync.WaitGroup
}

func newCanaryWorld(t *testing.T, port int, greenStatus int, o apptest.Options) *canaryWorld {
	if o.CanaryTick == 0 {
		o.CanaryTick = 100 * time.Millisecond
	}
	w := &canaryWorld{world: newWorld(t, o), port: port}
	w.blue, w.green = newCanaryBackend(t, 200), newCanaryBackend(t, greenStatus)
	w.tgBlue = w.targetGroup("blue", nil, w.blue.backend())
	w.tgGreen = w.targetGroup("green", nil, w.green.backend())
	w.lst = need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(int32(port)), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: w.tgBlue.Id, Weight: aws.Int32(100)}}}}})).ok(t)
	w.rule = need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.lst.Id, Name: aws.String("api"),
		Priority: aws.Int32(10), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/api"}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: w.tgBlue.Id}}}}})).ok(t)
	w.ingress = w.clientVPC("vpc-00000000000000001", w.sn.Id)
	w.host = *w.svc.DnsEntry.DomainName
	get(t, w.ingress, port, w.host, "/", nil) // the listener is up
	return w
}

// traffic sends requests to path through the data plane until the test
// ends (errors while Trellis restarts are expected and ignored).
func (w *canaryWorld) traffic(path string) {
	w.stopTraffic = make(chan struct{})
	c := &http.Client{Timeout: 2 * time.Second}
	for range 4 { // enough canary requests at 10% even under -race
		w.trafficGroup.Add(1)
		go func() {
			defer w.trafficGroup.Done()
			for {
				select {
				case <-w.stopTraffic:
					return
				case <-time.After(2 * time.Millisecond):
				}
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d%s", w.ingress, w.port, path), nil)
				req.Host = w.host
				if resp, err := c.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	w.t.Cleanup(func() { close(w.stopTraffic); w.trafficGroup.Wait() })
}

// canaryView is the GET answer.
type canaryView struct {
	CanaryID       string
	State          string
	WeightsPending bool
	StepIndex      int
	Percent        int
	Reason         string
	StepStartedAt  time.Time
	Weights        struct{ Baseline, Canary int }
	History        []struct {
		At        time.Time
		Event     string
		StepIndex int
		Percent   int
		Reason    string
		Canary    *struct{ Requests, Errors5xx int64 }
	}
}

func (w *canaryWorld) call(s *apptest.Server, method, path string, body any) (int, string, []byte) {
	w.t.Helper()
	return nativeCall(w.t.(*testing.T), s, method, path, body)
}

func (w *canaryWorld) startCanary(body map[string]any) canaryView {
	w.t.Helper()
	st, typ, b := w.call(w.s, "POST", "/trellis/v1/canaries", body)
	if st != 201 {
		w.t.Fatalf("POST canaries: %d %s %s", st, typ, b)
	}
	var v canaryView
	if err := json.Unmarshal(b, &v); err != nil || v.CanaryID == "" {
		w.t.Fatalf("POST canaries answer %s: %v", b, err)
	}
	return v
}

func (w *canaryWorld) canary(id string) canaryView {
	w.t.Helper()
	st, typ, b := w.call(w.s, "GET", "/trellis/v1/canaries/"+id, nil)
	if st != 200 {
		w.t.Fatalf("GET canary: %d %s %s", st, typ, b)
	}
	var v canaryView
	if err := json.Unmarshal(b, &v); err != nil {
		w.t.Fatal(err)
	}
	return v
}

func (w *canaryWorld) waitState(id, state string, d time.Duration) canaryView {
	w.t.Helper()
	var v canaryView
	eventually(w.t, d, "canary "+state, func() bool {
		v = w.canary(id)
		if v.State != "RUNNING" && v.State != state {
			w.t.Fatalf("canary ended %s, want %s: %s", v.State, state, v.Reason)
		}
		// The record moves first, then the rule: wait for both.
		return v.State == state && !v.WeightsPending
	})
	return v
}

// weights reads the weights as the AWS SDK sees them: GetListener for
// the default action, GetRule for a rule.
func (w *canaryWorld) weights(ruleID *string) (blue, green int32) {
	w.t.Helper()
	var a types.RuleAction
	if ruleID == nil {
		a = need(w.c.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.lst.Id})).ok(w.t).DefaultAction
	} else {
		a = need(w.c.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.lst.Id, RuleIdentifier: ruleID})).ok(w.t).Action
	}
	f, ok := a.(*types.RuleActionMemberForward)
	if !ok {
		w.t.Fatalf("action %T", a)
	}
	for _, tg := range f.Value.TargetGroups {
		switch aws.ToString(tg.TargetGroupIdentifier) {
		case *w.tgBlue.Id:
			blue = aws.ToInt32(tg.Weight)
		case *w.tgGreen.Id:
			green = aws.ToInt32(tg.Weight)
		}
	}
	return blue, green
}

func (w *canaryWorld) body(rule bool, steps []int, interval int) map[string]any {
	b := map[string]any{"serviceIdentifier": *w.svc.Id, "listenerIdentifier": *w.lst.Id,
		"baselineTargetGroup": *w.tgBlue.Id, "canaryTargetGroup": *w.tgGreen.Id, "steps": steps,
		"intervalSeconds": interval, "maxErrorRate": 0.01, "minRequests": 5}
	if rule {
		b["ruleIdentifier"] = *w.rule.Id
	}
	return b
}

// A canary whose new version answers 500s is rolled back within its
// first interval, and the listener goes back to baseline 100 / canary 0.
func TestCanaryRolledBackWithinOneInterval(t *testing.T) {
	w := newCanaryWorld(t, 18641, 500, apptest.Options{})
	w.traffic("/")
	cn := w.startCanary(w.body(false, []int{20, 50, 100}, 2))
	if cn.State != "RUNNING" || cn.Weights.Baseline != 80 || cn.Weights.Canary != 20 {
		t.Fatalf("started: %+v", cn)
	}
	if b, g := w.weights(nil); b != 80 || g != 20 {
		t.Fatalf("GetListener after start: blue %d green %d", b, g)
	}
	v := w.waitState(cn.CanaryID, "ROLLED_BACK", 5*time.Second)
	last := v.History[len(v.History)-1]
	if last.Event != "ROLLED_BACK" || last.StepIndex != 0 {
		t.Fatalf("history %+v", v.History)
	}
	if took := last.At.Sub(v.StepStartedAt); took >= 2*time.Second {
		t.Fatalf("rolled back %v after the step began: more than one 2 s interval", took)
	}
	if !strings.Contains(last.Reason, "canary error rate 100.00%") || !strings.Contains(last.Reason, "baseline 0.00% 5xx") {
		t.Fatalf("reason %q", last.Reason)
	}
	if b, g := w.weights(nil); b != 100 || g != 0 {
		t.Fatalf("GetListener after rollback: blue %d green %d", b, g)
	}
	if v.Weights.Baseline != 100 || v.Weights.Canary != 0 {
		t.Fatalf("canary weights %+v", v.Weights)
	}
	// The data plane follows: green gets nothing any more.
	eventually(t, 3*time.Second, "no requests to green", func() bool {
		before := w.green.hits.Load()
		time.Sleep(300 * time.Millisecond)
		return w.green.hits.Load() == before
	})
}

// A healthy canary of a rule is promoted after its steps.
func TestCanaryPromoted(t *testing.T) {
	w := newCanaryWorld(t, 18642, 200, apptest.Options{})
	w.traffic("/api/x")
	cn := w.startCanary(w.body(true, []int{10, 50, 100}, 1))
	if b, g := w.weights(w.rule.Id); b != 90 || g != 10 {
		t.Fatalf("GetRule after start: blue %d green %d", b, g)
	}
	// The listener's default action is not the canary's.
	if b, g := w.weights(nil); b != 100 || g != 0 {
		t.Fatalf("GetListener: blue %d green %d", b, g)
	}
	v := w.waitState(cn.CanaryID, "PROMOTED", 8*time.Second)
	var kinds []string
	for _, h := range v.History {
		kinds = append(kinds, h.Event)
	}
	if strings.Join(kinds, ",") != "STARTED,STEP,STEP,PROMOTED" {
		t.Fatalf("history %v", kinds)
	}
	for _, h := range v.History[1:] {
		if h.Canary == nil || h.Canary.Requests < 5 || h.Canary.Errors5xx != 0 || !strings.Contains(h.Reason, "passed: canary 0.00% 5xx") {
			t.Fatalf("step %+v", h)
		}
	}
	if b, g := w.weights(w.rule.Id); b != 0 || g != 100 {
		t.Fatalf("GetRule after promotion: blue %d green %d", b, g)
	}
}

// Trellis closed mid-rollout and opened again on the same data directory:
// the rollout resumes at its step and finishes.
func TestCanarySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	w := newCanaryWorld(t, 18643, 200, apptest.Options{DataDir: dir})
	w.traffic("/")
	cn := w.startCanary(w.body(false, []int{10, 30, 60, 100}, 2))
	eventually(t, 6*time.Second, "step 2", func() bool { return w.canary(cn.CanaryID).StepIndex >= 1 })
	if err := w.s.App.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	w.s = apptest.StartWith(t, apptest.Options{DataDir: dir, CanaryTick: 100 * time.Millisecond})
	w.c = vpclattice.New(vpclattice.Options{Region: w.s.Region, BaseEndpoint: aws.String(w.s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(w.s.AccessKeyID, w.s.SecretAccessKey, ""), RetryMaxAttempts: 1})
	after := w.canary(cn.CanaryID)
	if after.State != "RUNNING" || after.StepIndex < 1 {
		t.Fatalf("after the restart: %s step %d", after.State, after.StepIndex)
	}
	resumed := false
	for _, h := range after.History {
		resumed = resumed || h.Event == "RESUMED"
	}
	if !resumed {
		t.Fatalf("no RESUMED in %+v", after.History)
	}
	v := w.waitState(cn.CanaryID, "PROMOTED", 12*time.Second)
	if b, g := w.weights(nil); b != 0 || g != 100 {
		t.Fatalf("GetListener after promotion: blue %d green %d (%s)", b, g, v.Reason)
	}
}

// Abort puts the weights back; a person's UpdateRule mid-rollout aborts
// it and stays.
func TestCanaryAbortAndUserChange(t *testing.T) {
	w := newCanaryWorld(t, 18644, 200, apptest.Options{})
	cn := w.startCanary(w.body(false, []int{10, 100}, 60))
	st, typ, b := w.call(w.s, "POST", "/trellis/v1/canaries/"+cn.CanaryID+"/abort", nil)
	if st != 200 || !strings.Contains(string(b), `"state":"ABORTED"`) {
		t.Fatalf("abort: %d %s %s", st, typ, b)
	}
	if bl, g := w.weights(nil); bl != 100 || g != 0 {
		t.Fatalf("after abort: blue %d green %d", bl, g)
	}
	if st, typ, _ := w.call(w.s, "POST", "/trellis/v1/canaries/"+cn.CanaryID+"/abort", nil); st != 409 || typ != "ConflictException" {
		t.Fatalf("second abort: %d %s", st, typ)
	}

	cn = w.startCanary(w.body(true, []int{10, 100}, 60))
	need(w.c.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.lst.Id, RuleIdentifier: w.rule.Id,
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
			{TargetGroupIdentifier: w.tgBlue.Id, Weight: aws.Int32(50)}, {TargetGroupIdentifier: w.tgGreen.Id, Weight: aws.Int32(50)}}}}})).ok(t)
	v := w.waitState(cn.CanaryID, "ABORTED", 3*time.Second)
	if !strings.Contains(v.Reason, "changed by someone else") || v.Weights.Baseline != 50 || v.Weights.Canary != 50 {
		t.Fatalf("reason %q", v.Reason)
	}
	time.Sleep(300 * time.Millisecond) // no fight
	if bl, g := w.weights(w.rule.Id); bl != 50 || g != 50 {
		t.Fatalf("the person's weights were overwritten: blue %d green %d", bl, g)
	}
}

// Bad input: the AWS error shape naming the field, and nothing changes;
// one running canary per rule; another account sees nothing.
func TestCanaryRefusals(t *testing.T) {
	w := newCanaryWorld(t, 18645, 200, apptest.Options{})
	for _, tc := range []struct {
		name  string
		edit  func(map[string]any)
		field string
	}{
		{"steps not increasing", func(b map[string]any) { b["steps"] = []int{50, 10, 100} }, "steps[1]"},
		{"steps not ending at 100", func(b map[string]any) { b["steps"] = []int{10, 50} }, "steps"},
		{"interval 0", func(b map[string]any) { b["intervalSeconds"] = 0 }, "intervalSeconds"},
		{"error rate 2", func(b map[string]any) { b["maxErrorRate"] = 2 }, "maxErrorRate"},
		{"error rate a string", func(b map[string]any) { b["maxErrorRate"] = "1%" }, "maxErrorRate"},
		{"same groups", func(b map[string]any) { b["canaryTargetGroup"] = *w.tgBlue.Id }, "canaryTargetGroup"},
		{"malformed listener", func(b map[string]any) { b["listenerIdentifier"] = "web" }, "listenerIdentifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := w.body(false, []int{10, 100}, 60)
			tc.edit(b)
			st, typ, out := w.call(w.s, "POST", "/trellis/v1/canaries", b)
			if st != 400 || typ != "ValidationException" || !strings.Contains(string(out), `"name":"`+tc.field+`"`) {
				t.Fatalf("%d %s %s", st, typ, out)
			}
		})
	}
	if b, g := w.weights(nil); b != 100 || g != 0 {
		t.Fatalf("refused input changed the weights: blue %d green %d", b, g)
	}
	st, _, out := w.call(w.s, "GET", "/trellis/v1/canaries", nil)
	if st != 200 || !strings.Contains(string(out), `"items":[]`) {
		t.Fatalf("refused input left canaries: %s", out)
	}

	cn := w.startCanary(w.body(false, []int{10, 100}, 60))
	if st, typ, out := w.call(w.s, "POST", "/trellis/v1/canaries", w.body(false, []int{20, 100}, 60)); st != 409 || typ != "ConflictException" ||
		!strings.Contains(string(out), cn.CanaryID) {
		t.Fatalf("second canary on the listener: %d %s %s", st, typ, out)
	}

	// Another account: its own credentials, through the API.
	const other = "444455556666"
	if st, typ, out := w.call(w.s, "PUT", "/trellis/v1/accounts/"+other, nil); st != 201 {
		t.Fatalf("account: %d %s %s", st, typ, out)
	}
	user := "arn:aws:iam::" + other + ":user/mallory"
	if st, typ, out := w.call(w.s, "PUT", "/trellis/v1/principals/"+url.PathEscape(user), map[string]any{}); st != 201 {
		t.Fatalf("user: %d %s %s", st, typ, out)
	}
	st, typ, out := w.call(w.s, "POST", "/trellis/v1/principals/"+url.PathEscape(user)+"/accesskeys", nil)
	if st != 201 {
		t.Fatalf("key: %d %s %s", st, typ, out)
	}
	var key struct{ AccessKeyID, SecretAccessKey string }
	if err := json.Unmarshal(out, &key); err != nil {
		t.Fatal(err)
	}
	as := *w.s
	as.AccessKeyID, as.SecretAccessKey = key.AccessKeyID, key.SecretAccessKey
	for _, c := range []struct{ method, path string }{
		{"GET", "/trellis/v1/canaries/" + cn.CanaryID},
		{"POST", "/trellis/v1/canaries/" + cn.CanaryID + "/abort"},
	} {
		if st, typ, out := w.call(&as, c.method, c.path, nil); st != 404 || typ != "ResourceNotFoundException" {
			t.Fatalf("%s %s by another account: %d %s %s", c.method, c.path, st, typ, out)
		}
	}
	if st, _, out := w.call(&as, "GET", "/trellis/v1/canaries", nil); st != 200 || !strings.Contains(string(out), `"items":[]`) {
		t.Fatalf("list by another account: %s", out)
	}
	if st, typ, out := w.call(&as, "POST", "/trellis/v1/canaries", w.body(true, []int{10, 100}, 60)); st != 404 || typ != "ResourceNotFoundException" {
		t.Fatalf("a canary on another account's service: %d %s %s", st, typ, out)
	}
	if v := w.canary(cn.CanaryID); v.State != "RUNNING" {
		t.Fatalf("another account changed the canary: %s", v.State)
	}
}
