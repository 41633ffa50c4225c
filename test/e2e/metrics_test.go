package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trellis-net/trellis/test/serveproc"
)

// TestServeMetrics runs the binary with --metrics-addr and reads the
// request counts of a service from /metrics, as a Prometheus would.
func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	addr, metricsAddr := serveproc.FreeAddr(t), serveproc.FreeAddr(t)
	env := []string{"TRELLIS_ROOT_ACCESS_KEY_ID=AKIAE2ETEST000000003", "TRELLIS_ROOT_SECRET_ACCESS_KEY=e2e-secret"}
	serveWith(t, dir, addr, []string{"--ingress-cidr", "127.173.0.0/16", "--metrics-addr", metricsAddr}, env...)
	c := client(addr, "AKIAE2ETEST000000003", "e2e-secret")
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer backend.Close()
	port := int32(backend.Listener.Addr().(*net.TCPAddr).Port)

	svc, tg := exposeBackend(t, c, "counted", port, 18182)
	ingress := vpcIngress(t, addr, "AKIAE2ETEST000000003", "e2e-secret", "vpc-00000000000000001")
	call := func() int {
		req, _ := http.NewRequest("GET", "http://"+ingress+":18182/", nil)
		req.Host = *svc.DnsEntry.DomainName
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	deadline := time.Now().Add(5 * time.Second)
	for call() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("no answer through the ingress")
		}
		time.Sleep(50 * time.Millisecond)
	}
	count := func() float64 {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		mf, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mf["trellis_requests_total"].GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["service"] == *svc.Id && l["target_group"] == *tg.Id && l["code_class"] == "2xx" {
				return m.GetCounter().GetValue()
			}
		}
		return -1
	}
	// The observation is made as the response ends: wait for the warm-up's.
	var before float64
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if before = count(); before >= 1 || time.Now().After(deadline) {
			break
		}
	}
	if before < 1 {
		t.Fatalf("2xx count after the first answer: %v", before)
	}
	for i := 0; i < 5; i++ {
		if st := call(); st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	var after float64
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if after = count(); after == before+5 || time.Now().After(deadline) {
			break
		}
	}
	if after != before+5 {
		t.Fatalf("2xx count %v after 5 more requests, want %v", after, before+5)
	}
}
