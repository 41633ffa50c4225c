package app_test

import (
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// BenchmarkConfigPropagation measures the time from an API write (a weight
// flip on the default action, answered by the API once durable) to the
// first request the data plane serves with the new configuration. It
// reports the p50 and p99 over b.N flips.
func BenchmarkConfigPropagation(b *testing.B) {
	w := newWorld(b, apptest.Options{})
	blue, green := newBackend(b, "blue"), newBackend(b, "green")
	tgBlue, tgGreen := w.targetGroup("blue", nil, blue), w.targetGroup("green", nil, green)
	action := func(toGreen bool) types.RuleAction {
		wb, wg := int32(100), int32(0)
		if toGreen {
			wb, wg = 0, 100
		}
		return &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
			{TargetGroupIdentifier: tgBlue.Id, Weight: aws.Int32(wb)}, {TargetGroupIdentifier: tgGreen.Id, Weight: aws.Int32(wg)}}}}
	}
	l, err := w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18090), DefaultAction: action(false)})
	if err != nil {
		b.Fatal(err)
	}
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	get(b, ingress, 18090, host, "/", nil)
	var samples []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		toGreen := i%2 == 0
		want := "blue"
		if toGreen {
			want = "green"
		}
		start := time.Now()
		if _, err := w.c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: w.svc.Id,
			ListenerIdentifier: l.Id, DefaultAction: action(toGreen)}); err != nil {
			b.Fatal(err)
		}
		for {
			if _, body, _ := get(b, ingress, 18090, host, "/", nil); body == want {
				break
			}
			if time.Since(start) > 5*time.Second {
				b.Fatalf("flip %d not served after 5s", i)
			}
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(samples[(len(samples)*99)/100].Microseconds())/1000, "p99-ms")
}
