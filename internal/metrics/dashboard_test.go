package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/functions"
	"github.com/trellis-net/trellis/internal/snapshot"
)

type fakeAccessLog struct{}

func (fakeAccessLog) Accepted() uint64 { return 3 }
func (fakeAccessLog) Dropped() uint64  { return 1 }

type fakeIngress struct{}

func (fakeIngress) ConnectionsAccepted() uint64  { return 5 }
func (fakeIngress) SecurityGroupRefused() uint64 { return 2 }

// everySeries returns a registry in which every family has a series, by
// its name, with the label names its series carry.
func everySeries(t *testing.T) map[string]map[string]bool {
	m := New()
	snap, svc, tg, fn := world(1)
	tg.Targets = []*snapshot.Target{{ID: "127.0.0.1", Port: 80}}
	tg.InUse = true
	m.Snapshot.Published(snap, time.Millisecond, time.Millisecond)
	m.DataPlane.RequestStarted(snap, svc, fn)
	m.DataPlane.RequestDone(proxy.Observation{Snap: snap, Service: svc, TargetGroup: tg, Status: 200})
	m.API.ObserveCall("GetService", "ResourceNotFoundException", 404, time.Millisecond)
	m.Health.ObserveCheck(tg.ID, false)
	m.DNS.ObserveQuery(0, false)
	for _, e := range []functions.Event{functions.EventInvocation, functions.EventColdStart, functions.EventThrottle} {
		m.Functions.ObserveEvent("arn:aws:lambda:us-east-1:000000000000:function:f", e)
	}
	m.WatchAccessLog(fakeAccessLog{})
	m.WatchIngress(fakeIngress{})
	sc := m.Conns.Socket("vpc-1", 443)
	sc.Protocol(0)
	sc.Opened()
	sc.TLSHandshake("svc-0a", true)
	m.Conns.TargetConn(tg, proxy.DialFailed)
	m.WatchTargets(func() *snapshot.Snapshot { return snap }, func(string, string, int) (string, string, bool) { return "HEALTHY", "", true })
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, f := range mfs {
		labels := map[string]bool{}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		out[f.GetName()] = labels
		if f.GetType().String() == "HISTOGRAM" {
			labels["le"] = true
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				out[f.GetName()+suffix] = labels
			}
		}
	}
	return out
}

var (
	metricName = regexp.MustCompile(`\b(?:trellis|go|process)_[a-z0-9_]+\b`)
	byLabels   = regexp.MustCompile(`\bby \(([^)]*)\)`)
	matchers   = regexp.MustCompile(`([a-z_]+)\s*(?:=~|!=|=)\s*"`)
)

// TestDashboardUsesRealSeries parses the Grafana dashboard and checks that
// every series its queries name is one the registry has, and every label
// they group or filter by is one of those series' labels: a renamed series
// or label breaks this test, not the dashboard in production.
func TestDashboardUsesRealSeries(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/trellis.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Definition string
			}
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	have := everySeries(t)
	var exprs []string
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("only %d queries", len(exprs))
	}
	used := map[string]bool{}
	for _, e := range exprs {
		names := metricName.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("query %q names no series", e)
		}
		labels := map[string]bool{}
		for _, n := range names {
			l, ok := have[n]
			if !ok {
				t.Errorf("query %q: no series %s in the registry", e, n)
				continue
			}
			used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] = true
			for k := range l {
				labels[k] = true
			}
		}
		var want []string
		for _, m := range byLabels.FindAllStringSubmatch(e, -1) {
			for _, l := range strings.Split(m[1], ",") {
				want = append(want, strings.TrimSpace(l))
			}
		}
		for _, m := range matchers.FindAllStringSubmatch(e, -1) {
			want = append(want, m[1])
		}
		for _, l := range want {
			if l != "" && !labels[l] {
				t.Errorf("query %q: label %q is on none of its series", e, l)
			}
		}
	}
	// The main views of the brief are there.
	for _, n := range []string{"trellis_requests_total", "trellis_request_duration_seconds", "trellis_targets", "trellis_api_requests_total"} {
		if !used[n] {
			t.Errorf("the dashboard does not show %s", n)
		}
	}
}
