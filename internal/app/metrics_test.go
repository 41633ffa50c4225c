package app_test

import (
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
)

// scrape fetches /metrics over HTTP and parses it with Prometheus's own
// text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// series returns the metric of family name whose labels are exactly want.
func series(mf map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := mf[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

func counter(mf map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if m := series(mf, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return -1
}

// TestMetricsExactCounts sends a known number of requests per status class
// through a real listener and checks the scraped counts exactly: 2xx from a
// backend, 4xx from a fixed-response rule, 5xx from a target group with no
// targets; then the API's counts after known calls, and that the health,
// DNS, snapshot and runtime series exist with their labels.
func TestMetricsExactCounts(t *testing.T) {
	port := freeDNSPort(t)
	w := newWorld(t, apptest.Options{MetricsAddr: "127.0.0.1:0", HealthCheckSecond: 20 * time.Millisecond,
		DNS: app.DNSConfig{Port: port}})
	addr := w.s.App.MetricsAddr()
	if addr == "" {
		t.Fatal("no metrics address")
	}
	b := newBackend(t, "orders")
	tgOK := w.targetGroup("okay", nil, b)
	tgEmpty := w.targetGroup("empty", nil)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18090), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgOK.Id}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("gone"),
		Priority: aws.Int32(10), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/gone"}}}},
		Action: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("empty"),
		Priority: aws.Int32(20), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/empty"}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgEmpty.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	// The listener is up once the first request is answered by the backend.
	eventually(t, 5*time.Second, "the listener", func() bool {
		st, _, _ := get(t, ingress, 18090, host, "/warm", nil)
		return st == 200
	})
	svcLabels := func(tg, class string) map[string]string {
		return map[string]string{"service": *w.svc.Id, "target_group": tg, "code_class": class}
	}
	// The warm-up's one 200 (those before it were not answered by the
	// backend).
	const base2xx = 1
	eventually(t, 2*time.Second, "the warm-up's count", func() bool {
		return counter(scrape(t, addr), "trellis_requests_total", svcLabels(*tgOK.Id, "2xx")) == base2xx
	})
	const n2, n4, n5 = 7, 5, 3
	for i := 0; i < n2; i++ {
		if st, body, _ := get(t, ingress, 18090, host, "/orders", nil); st != 200 {
			t.Fatalf("2xx request: %d %s", st, body)
		}
	}
	for i := 0; i < n4; i++ {
		if st, _, _ := get(t, ingress, 18090, host, "/gone", nil); st != 404 {
			t.Fatalf("fixed response: %d", st)
		}
	}
	for i := 0; i < n5; i++ {
		if st, _, _ := get(t, ingress, 18090, host, "/empty", nil); st != 503 {
			t.Fatalf("no targets: %d", st)
		}
	}
	// Each request is observed as its response ends, which the client may
	// see first: wait for the last one's count.
	var mf map[string]*dto.MetricFamily
	eventually(t, 2*time.Second, "the requests' counts", func() bool {
		mf = scrape(t, addr)
		return counter(mf, "trellis_requests_total", svcLabels(*tgEmpty.Id, "5xx")) == n5
	})
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{svcLabels(*tgOK.Id, "2xx"), base2xx + n2},
		{svcLabels("", "4xx"), n4}, // a fixed response: no target group
		{svcLabels(*tgEmpty.Id, "5xx"), n5},
		{svcLabels(*tgOK.Id, "5xx"), 0},
		{svcLabels(*tgEmpty.Id, "2xx"), 0},
	} {
		if got := counter(mf, "trellis_requests_total", c.labels); got != c.want {
			t.Errorf("trellis_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	h := series(mf, "trellis_request_duration_seconds", map[string]string{"service": *w.svc.Id, "target_group": *tgOK.Id})
	if h == nil || h.GetHistogram().GetSampleCount() != uint64(base2xx+n2) || h.GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("request duration histogram of the backend's group: %v", h)
	}
	if h := series(mf, "trellis_request_duration_seconds", map[string]string{"service": *w.svc.Id, "target_group": *tgEmpty.Id}); h == nil ||
		h.GetHistogram().GetSampleCount() != n5 {
		t.Errorf("request duration histogram of the empty group: %v", h)
	}
	if got := counter(mf, "trellis_sent_bytes_total", map[string]string{"service": *w.svc.Id, "target_group": *tgOK.Id}); got != (base2xx+n2)*float64(len("orders")) {
		t.Errorf("sent bytes: %v", got)
	}
	if m := series(mf, "trellis_active_requests", map[string]string{"service": *w.svc.Id, "target_group": *tgOK.Id}); m == nil || m.GetGauge().GetValue() != 0 {
		t.Errorf("active requests: %v", m)
	}

	// The API: known calls, one of them failing.
	apiBefore := max(0, counter(mf, "trellis_api_requests_total", map[string]string{"operation": "GetService", "error_type": ""})) // -1: none yet
	need(w.c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Id})).ok(t)
	need(w.c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Id})).ok(t)
	if _, err := w.c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String("svc-0000000000000dead")}); err == nil {
		t.Fatal("GetService of a missing service succeeded")
	}
	// Health checks of the backend's group pass; DNS answers are counted.
	resolve(t, net.JoinHostPort(ingress, strconv.Itoa(port)), "orders.internal")
	resolve(t, net.JoinHostPort(ingress, strconv.Itoa(port)), "nothing.example")
	eventually(t, 5*time.Second, "a passing health check", func() bool {
		return counter(scrape(t, addr), "trellis_health_checks_total", map[string]string{"target_group": *tgOK.Id, "result": "pass"}) >= 1
	})
	mf = scrape(t, addr)
	if got := counter(mf, "trellis_api_requests_total", map[string]string{"operation": "GetService", "error_type": ""}); got != apiBefore+2 {
		t.Errorf("GetService successes: %v, want %v", got, apiBefore+2)
	}
	if got := counter(mf, "trellis_api_requests_total", map[string]string{"operation": "GetService", "error_type": "ResourceNotFoundException"}); got != 1 {
		t.Errorf("GetService not found: %v, want 1", got)
	}
	if got := counter(mf, "trellis_api_requests_total", map[string]string{"operation": "CreateRule", "error_type": ""}); got != 2 {
		t.Errorf("CreateRule: %v, want 2", got)
	}
	if got := counter(mf, "trellis_dns_queries_total", map[string]string{"rcode": "NOERROR", "source": "own"}); got < 1 {
		t.Errorf("DNS NOERROR: %v", got)
	}
	if got := counter(mf, "trellis_dns_queries_total", map[string]string{"rcode": "REFUSED", "source": "own"}); got < 1 {
		t.Errorf("DNS REFUSED (no upstream): %v", got)
	}
	if m := series(mf, "trellis_targets", map[string]string{"target_group": *tgOK.Id, "state": "HEALTHY"}); m == nil || m.GetGauge().GetValue() != 1 {
		t.Errorf("healthy targets of the backend's group: %v", m)
	}
	if m := series(mf, "trellis_targets", map[string]string{"target_group": *tgEmpty.Id, "state": "HEALTHY"}); m == nil || m.GetGauge().GetValue() != 0 {
		t.Errorf("healthy targets of the empty group: %v", m)
	}
	if m := series(mf, "trellis_snapshot_revision", map[string]string{}); m == nil || m.GetGauge().GetValue() < 1 {
		t.Errorf("snapshot revision: %v", m)
	}
	for _, name := range []string{"trellis_snapshot_compile_duration_seconds", "trellis_propagation_lag_seconds"} {
		if m := series(mf, name, map[string]string{}); m == nil || m.GetHistogram().GetSampleCount() == 0 {
			t.Errorf("%s: %v", name, m)
		}
	}
	if got := counter(mf, "trellis_ingress_connections_total", map[string]string{"result": "accepted"}); got < 1 {
		t.Errorf("ingress connections accepted: %v", got)
	}
	if m := series(mf, "trellis_traffic_overflow_requests_total", map[string]string{}); m == nil || m.GetCounter().GetValue() != float64(w.s.App.Traffic().Overflow()) {
		t.Errorf("traffic overflow: %v, the aggregates say %d", m, w.s.App.Traffic().Overflow())
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "trellis_accesslog_records_total"} {
		if mf[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// TestMetricsOff: without MetricsAddr nothing is served or collected.
func TestMetricsOff(t *testing.T) {
	s := apptest.Start(t)
	if s.App.MetricsAddr() != "" || s.App.Metrics() != nil {
		t.Fatalf("metrics on by default: %q", s.App.MetricsAddr())
	}
}
