package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCLITraffic: requests through the data plane, then `trellis traffic
// --service` (by name; table and json), `--caller` and `top --once`.
func TestCLITraffic(t *testing.T) {
	c := startCLI(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
		if err != nil {
			code = 200
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(backend.Close)
	_, bport, _ := net.SplitHostPort(backend.Listener.Addr().String())

	c.ok("service-network", "create", "--name", "trafficnet")
	svc := c.ok("service", "create", "--name", "payments")
	svcID, host := str(t, svc, "id"), str(t, svc, "dnsEntry.domainName")
	c.ok("snsa", "create", "--service-network", "trafficnet", "--service", "payments")
	c.ok("snva", "create", "--service-network", "trafficnet", "--vpc", "vpc-0000000000000000e")
	ingress := str(t, c.ok("vpc", "get", "vpc-0000000000000000e"), "ingressAddress")
	tgID := str(t, c.ok("tg", "create", "--name", "payments-v1", "--type", "IP", "--port", bport, "--protocol", "HTTP",
		"--vpc", "vpc-0000000000000000f", "--health-check-path", "/healthz/200"), "id")
	c.ok("tg", "register-targets", "--target-group", tgID, "--target", "127.0.0.1:"+bport)
	c.ok("listener", "create", "--service", "payments", "--name", "web", "--protocol", "HTTP", "--port", "18233",
		"--default-forward", "payments-v1=100")

	hc := &http.Client{Timeout: 5 * time.Second}
	call := func(path string) int {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:18233%s", ingress, path), nil)
		req.Host = host
		resp, err := hc.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(5 * time.Second)
	for call("/probe/200") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the service never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The probes are counted too: numbers are read as differences.
	row := func(m map[string]any, list, key, id string) (req, e4, e5 float64) {
		items, _ := m[list].([]any)
		for _, it := range items {
			r := it.(map[string]any)
			if r[key] == id {
				return r["requests"].(float64), r["errors4xx"].(float64), r["errors5xx"].(float64)
			}
		}
		return 0, 0, 0
	}
	base := c.ok("traffic", "--service", "payments", "--window", "1h", "--output", "json")
	b0, _, _ := row(base, "targetGroups", "targetGroupId", tgID)
	for _, p := range []string{"/a/200", "/a/200", "/a/200", "/a/404", "/a/503", "/a/503"} {
		if st := call(p); st == 0 {
			t.Fatalf("%s: no answer", p)
		}
	}
	var m map[string]any
	deadline = time.Now().Add(5 * time.Second)
	for {
		m = c.ok("traffic", "--service", "payments", "--window", "1h", "--output", "json")
		req, e4, e5 := row(m, "targetGroups", "targetGroupId", tgID)
		creq, ce4, ce5 := row(m, "callers", "principal", "Anonymous")
		if req-b0 == 6 && e4 == 1 && e5 == 2 && creq == req && ce4 == e4 && ce5 == e5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("traffic --service payments: %v (baseline %v requests)", m, b0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if items := m["callers"].([]any); len(items) != 1 || items[0].(map[string]any)["sourceVpcId"] != "vpc-0000000000000000e" {
		t.Fatalf("callers %v", m["callers"])
	}

	table := c.text("traffic", "--service", "payments", "--window", "1h")
	for _, want := range []string{"Service payments (" + svcID + "), last 1h", "Callers", "PRINCIPAL", "SOURCE VPC", "REQUESTS", "P99 MS",
		"Anonymous", "vpc-0000000000000000e", "Target groups", tgID} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// By ID too, and the caller's view.
	if byID := c.ok("traffic", "--service", svcID, "--output", "json"); len(byID["targetGroups"].([]any)) != 1 {
		t.Errorf("by ID: %v", byID)
	}
	calls := c.ok("traffic", "--caller", "Anonymous", "--output", "json")
	if s := calls["services"].([]any); len(s) != 1 || s[0].(map[string]any)["serviceName"] != "payments" {
		t.Errorf("--caller Anonymous: %v", calls)
	}
	if out := c.text("traffic", "--caller", "Anonymous"); !strings.Contains(out, "payments") || !strings.Contains(out, svcID) {
		t.Errorf("--caller table:\n%s", out)
	}
	top := c.text("traffic", "top", "--once", "--window", "10m")
	if !strings.Contains(top, "Services") || !strings.Contains(top, "payments") || !strings.Contains(top, "Callers") ||
		strings.Contains(top, "\x1b[") {
		t.Errorf("top --once:\n%q", top)
	}
	if js := c.ok("traffic", "top", "--once", "--output", "json"); len(js["services"].([]any)) != 1 {
		t.Errorf("top json: %v", js)
	}

	// Live: refreshed blocks until interrupted (plain, not a terminal).
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	root := newTestRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--endpoint", c.endpoint, "--region", c.srv.Region, "traffic", "top", "--interval", "200ms"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("top until interrupted: %v", err)
	}
	if n := strings.Count(out.String(), "trellis traffic top"); n < 2 || strings.Contains(out.String(), "\x1b[") {
		t.Errorf("top refreshed %d times in 1.5s at 200ms, want several plain blocks:\n%q", n, out.String())
	}

	// Errors: usage, and the API's own.
	if msg := c.fails("traffic"); !strings.Contains(msg, "give one of --service or --caller") {
		t.Errorf("no flags: %s", msg)
	}
	if msg := c.fails("traffic", "--service", "payments", "--window", "3h"); !strings.Contains(msg, "ValidationException") || !strings.Contains(msg, "window") {
		t.Errorf("window past the kept hour: %s", msg)
	}
	if msg := c.fails("traffic", "--service", "nosuch"); !strings.Contains(msg, "nosuch") {
		t.Errorf("unknown service: %s", msg)
	}
	if msg := c.fails("traffic", "top", "--interval", "1ms"); !strings.Contains(msg, "--interval") {
		t.Errorf("tiny interval: %s", msg)
	}
}
