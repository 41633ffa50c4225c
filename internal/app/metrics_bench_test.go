package app_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// BenchmarkDataPlaneMetrics compares requests through the data plane with
// metrics off (no --metrics-addr: no observer) and on (every request
// counted in its service and target group's series). One keep-alive
// connection, sequential, so ns/op is the per-request latency and
// allocs/op includes the client and the backend. Compare the two: the
// issue's bar is req/s with metrics ≥ 0.97× without.
func BenchmarkDataPlaneMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		name, o := "metrics=off", apptest.Options{}
		if on {
			name, o.MetricsAddr = "metrics=on", "127.0.0.1:0"
		}
		b.Run(name, func(b *testing.B) { benchDataPlane(b, o, 18086, nil) })
	}
}

// benchDataPlane measures sequential GETs over one keep-alive connection
// through a Trellis started with o, one listener on port forwarding to a
// lean backend; hdr is added to every request.
func benchDataPlane(b *testing.B, o apptest.Options, port int, hdr http.Header) {
	w := newWorld(b, o)
	be := leanBackend(b)
	tg := w.targetGroup("bench", nil, be)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(int32(port)), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(b)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d/bench", ingress, port), nil)
	req.Host = *w.svc.DnsEntry.DomainName
	for k, v := range hdr {
		req.Header[k] = v
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	buf := make([]byte, 64)
	do := func() int {
		resp, err := c.Do(req)
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
}
