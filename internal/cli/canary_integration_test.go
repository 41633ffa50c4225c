package cli

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// setStats is canary.Stats answering what the test sets per target group:
// the CLI's tests are about the CLI; the judgement on real traffic is
// tested in internal/app (canary_test.go).
type setStats struct {
	mu  sync.Mutex
	per map[string][2]int64
}

func (s *setStats) set(tg string, reqs, errs int64) {
	s.mu.Lock()
	s.per[tg] = [2]int64{reqs, errs}
	s.mu.Unlock()
}

func (s *setStats) TargetGroupWindow(_, tg string, _ time.Time) (int64, int64, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.per[tg]
	return v[0], v[1], 0
}

func TestCanaryCLI(t *testing.T) {
	stats := &setStats{per: map[string][2]int64{}}
	c := startCLIWith(t, apptest.Options{CanaryStats: stats, CanaryTick: 50 * time.Millisecond})
	c.ok("service", "create", "--name", "payments")
	for _, n := range []string{"pay-v1", "pay-v2"} {
		c.ok("target-group", "create", "--name", n, "--type", "IP", "--port", "8080", "--protocol", "HTTP", "--vpc", "vpc-0123456789abcdef0")
	}
	c.ok("listener", "create", "--service", "payments", "--name", "web", "--protocol", "HTTP", "--port", "80", "--default-forward", "pay-v1=100")
	c.ok("rule", "create", "--service", "payments", "--listener", "web", "--name", "api", "--priority", "10", "--path-prefix", "/api", "--forward", "pay-v1=1")

	// Usage errors are caught before any request.
	for _, tc := range []struct{ args, want string }{
		{"--max-error-rate 5", "--max-error-rate \"5\""},
		{"--max-error-rate 1% --interval 1.5s", "--interval \"1.5s\""},
		{"--max-error-rate 1% --steps 5,x", "--steps \"5,x\""},
	} {
		args := append([]string{"canary", "start", "--service", "payments", "--listener", "web", "--baseline", "pay-v1", "--canary", "pay-v2", "--interval", "1m"},
			strings.Fields(tc.args)...)
		if out := c.fails(args...); !strings.Contains(out, tc.want) {
			t.Errorf("%s: %s", tc.args, out)
		}
	}
	// The server's validation names the field.
	if out := c.fails("canary", "start", "--service", "payments", "--listener", "web", "--baseline", "pay-v1", "--canary", "pay-v2",
		"--steps", "5,50", "--interval", "1m", "--max-error-rate", "1%"); !strings.Contains(out, "ValidationException") || !strings.Contains(out, "last step must be 100") {
		t.Errorf("steps not ending at 100: %s", out)
	}

	// Names resolve; 1% is 0.01; 500ms is 500.
	cn := c.ok("canary", "start", "--service", "payments", "--listener", "web", "--rule", "api", "--baseline", "pay-v1", "--canary", "pay-v2",
		"--steps", "10,50,100", "--interval", "1m", "--max-error-rate", "1%", "--max-p99", "500ms", "--min-requests", "5")
	id := str(t, cn, "canaryId")
	if got := sub(t, cn, "maxErrorRate") + " " + sub(t, cn, "maxP99Ms") + " " + sub(t, cn, "weights") + " " + sub(t, cn, "intervalSeconds"); got != `0.01 500 {"baseline":90,"canary":10} 60` {
		t.Fatalf("started canary: %s", got)
	}
	if got := sub(t, c.ok("rule", "get", "--service", "payments", "--listener", "web", "--rule", "api"), "action.forward.targetGroups"); !strings.Contains(got, `"weight":10`) {
		t.Fatalf("rule get after start: %s", got)
	}
	if out := c.text("canary", "list", "--output", "table"); !strings.Contains(out, id) || !strings.Contains(out, "RUNNING") {
		t.Fatalf("list table:\n%s", out)
	}
	if got := str(t, c.ok("canary", "get", id), "state"); got != "RUNNING" {
		t.Fatalf("get: %s", got)
	}

	// watch follows until the breach, then fails with the reason.
	tgs := c.ok("target-group", "list")
	for _, it := range tgs["items"].([]any) {
		m := it.(map[string]any)
		if m["name"] == "pay-v2" {
			stats.set(m["id"].(string), 100, 50)
		}
	}
	res := c.exec("canary", "watch", id, "--poll", "50ms")
	if res.err == nil || !strings.Contains(res.stdout, "STARTED") || !strings.Contains(res.stdout, "ROLLED_BACK: baseline 100 / canary 0") ||
		!strings.Contains(res.err.Error(), "ROLLED_BACK") || !strings.Contains(res.err.Error(), "canary error rate 50.00%") {
		t.Fatalf("watch: err %v\n%s", res.err, res.stdout)
	}
	t.Logf("trellis canary watch:\n%s%v", res.stdout, res.err)

	// abort: a second canary, stopped at once.
	cn2 := c.ok("canary", "start", "--service", "payments", "--listener", "web", "--baseline", "pay-v1", "--canary", "pay-v2",
		"--interval", "60", "--max-error-rate", "0.01")
	id2 := str(t, cn2, "canaryId")
	if got := str(t, c.ok("canary", "abort", id2), "state"); got != "ABORTED" {
		t.Fatalf("abort: %s", got)
	}
	res = c.exec("canary", "watch", id2)
	if res.err == nil || !strings.Contains(res.stdout, "ABORTED") {
		t.Fatalf("watch of an aborted canary: %v\n%s", res.err, res.stdout)
	}
	if out := c.fails("canary", "abort", id2); !strings.Contains(out, "ConflictException") {
		t.Fatalf("second abort: %s", out)
	}
}
