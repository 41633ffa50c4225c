package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// BenchmarkDataPlaneTracing compares requests through the data plane with
// tracing off (no --otlp-endpoint: no Tracer), on at 100% sampling (every
// request's server and client spans exported to an OTLP/HTTP receiver in
// the process) and on at 0% (spans started, none recorded). Like
// BenchmarkDataPlaneMetrics: one keep-alive connection, sequential, so
// ns/op is the per-request latency. The bar is req/s with tracing
// at 100% ≥ 0.85× off. The client sends a traceparent, as a traced caller
// would.
func BenchmarkDataPlaneTracing(b *testing.B) {
	for _, c := range []struct {
		name   string
		on     bool
		sample float64
	}{{"tracing=off", false, 0}, {"tracing=100%", true, 1}, {"tracing=0%", true, 0}} {
		b.Run(c.name, func(b *testing.B) {
			o := apptest.Options{}
			if c.on {
				rc := newBenchReceiver(b)
				o.OTLPEndpoint, o.TraceSample = rc.URL+"/v1/traces", c.sample
			}
			w := newWorld(b, o)
			be := leanBackend(b)
			tg := w.targetGroup("bench", nil, be)
			need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
				Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18087), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
					TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(b)
			ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d/bench", ingress, 18087), nil)
			req.Host = *w.svc.DnsEntry.DomainName
			req.Header.Set("Traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01")
			tr := &http.Transport{MaxIdleConnsPerHost: 4}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr}
			buf := make([]byte, 64)
			do := func() int {
				resp, err := cl.Do(req)
				if err != nil {
					return 0
				}
				_, _ = io.ReadFull(resp.Body, buf[:2])
				resp.Body.Close()
				return resp.StatusCode
			}
			eventually(b, 5*time.Second, "config served", func() bool { return do() == 200 })
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if st := do(); st != 200 {
					b.Fatalf("status %d", st)
				}
			}
		})
	}
}

// newBenchReceiver is an OTLP/HTTP endpoint that reads and drops exports.
func newBenchReceiver(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(s.Close)
	return s
}
