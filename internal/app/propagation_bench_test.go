package app_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/model"
)

// BenchmarkConfigPropagation measures the time from an API write (a weight
// flip on the default action, answered by the API once durable) to the
// first request the data plane serves with the new configuration. It
// reports the p50 and p99 over b.N flips.
func BenchmarkConfigPropagation(b *testing.B) {
	b.Run("services=1", func(b *testing.B) { benchPropagation(b, 0) })
	b.Run("services=1000/targets=10000", func(b *testing.B) { benchPropagation(b, 1000) })
}

// populate adds n services, each with a listener forwarding to its own
// target group of 10 loopback targets (health checks off), all associated
// with the world's network: the store then holds what a busy installation
// holds, and every change recompiles all of it.
func populate(b *testing.B, w *world, n int) {
	for i := 0; i < n; i++ {
		svc := need(w.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("bulk%d", i))})).ok(b)
		tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("bulk%d", i)), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f"),
				HealthCheck: &types.HealthCheckConfig{Enabled: aws.Bool(false)}}})).ok(b)
		var targets []types.Target
		for j := 0; j < 10; j++ {
			targets = append(targets, types.Target{Id: aws.String(fmt.Sprintf("127.%d.%d.%d", 2+i/250, i%250, j+1))})
		}
		need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: targets})).ok(b)
		need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
			Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18091), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
				TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(b)
		need(w.c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
			ServiceNetworkIdentifier: w.sn.Id, ServiceIdentifier: svc.Id})).ok(b)
	}
}

func benchPropagation(b *testing.B, extra int) {
	quotas := model.Quotas{"services": 5000, "target-groups": 5000, "service-associations-per-service-network": 5000}
	w := newWorld(b, apptest.Options{Quotas: quotas})
	start := time.Now()
	populate(b, w, extra)
	if extra > 0 {
		b.Logf("populated %d services with %d targets in %v", extra, extra*10, time.Since(start))
	}
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
