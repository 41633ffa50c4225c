package app_test

import (
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// BenchmarkConfigPropagation measures the time from an API write (a weight
// flip on the default action, answered by the API once durable) to the
// first request the data plane serves with the new configuration. It
// reports the p50 and p99 over b.N flips, on the embedded store and
// (etcd/...) on a real single-member etcd (newScaleWorld; skipped when the
// etcd binary is missing). Run the sizes in separate processes, one at a
// time:
//
//	go test -run x -bench 'ConfigPropagation/services=1$' -benchtime 100x ./internal/app/
//	go test -run x -bench 'ConfigPropagation/services=10000' -benchtime 100x ./internal/app/ -scaleprofile /tmp/prop.cpu
//	go test -run x -bench 'ConfigPropagation/etcd/services=1$' -benchtime 100x ./internal/app/
//	go test -run x -bench 'ConfigPropagation/etcd/services=10000' -benchtime 100x ./internal/app/
func BenchmarkConfigPropagation(b *testing.B) {
	parent := b
	for _, backend := range []string{backendEmbedded, backendEtcd} {
		prefix := ""
		if backend != backendEmbedded {
			prefix = backend + "/"
		}
		b.Run(prefix+"services=1", func(b *testing.B) { benchPropagation(parent, b, backend, 0) })
		b.Run(prefix+"services=1000/targets=10000", func(b *testing.B) { benchPropagation(parent, b, backend, 1000) })
		b.Run(prefix+"services=10000/targets=100000", func(b *testing.B) {
			if testing.Short() {
				b.Skip("-short: the 10,000-service installation takes a while to populate")
			}
			benchPropagation(parent, b, backend, 10000)
		})
	}
}

// setupPropagation starts a server with extra services and a listener whose
// default action flips between the blue and the green backend.
func setupPropagation(b *testing.B, backend string, extra int) *propagationSetup {
	w := newScaleWorld(b, backend, extra)
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
	return &propagationSetup{w: w, listener: l.Id, action: action, ingress: ingress, host: host}
}

type propagationSetup struct {
	w             *world
	listener      *string
	action        func(toGreen bool) types.RuleAction
	ingress, host string
	flips         int // so far, across runs: the next flip goes the other way
}

func benchPropagation(parent, b *testing.B, backend string, extra int) {
	ps := once(parent, b.Name(), func() *propagationSetup { return setupPropagation(parent, backend, extra) })
	w, l, action, ingress, host := ps.w, ps.listener, ps.action, ps.ingress, ps.host
	var samples []time.Duration
	defer profileMeasured(b)()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		toGreen := ps.flips%2 == 0
		ps.flips++
		want := "blue"
		if toGreen {
			want = "green"
		}
		start := time.Now()
		if _, err := w.c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: w.svc.Id,
			ListenerIdentifier: l, DefaultAction: action(toGreen)}); err != nil {
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
