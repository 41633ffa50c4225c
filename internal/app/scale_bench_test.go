package app_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// scaleQuotas lets one account hold the 10,000-service installation.
var scaleQuotas = model.Quotas{"services": 30000, "target-groups": 30000, "service-associations-per-service-network": 30000}

// BenchmarkAPIWrites measures the API's write throughput and latency with 8
// concurrent SDK writers doing a mix of writes (CreateService,
// CreateTargetGroup, RegisterTargets, UpdateRule weight flips), in a small
// installation and in one of 10,000 services and 100,000 targets (skipped
// with -short: populating it takes a while), on the embedded store and
// (etcd/...) on a real single-member etcd (etcdtest; skipped when the etcd
// binary is missing; populated as newScaleWorld says). Issue 15's goal:
// the rate at 10,000 services is at least 0.8× the rate at 10. Run each
// case in its own process, one at a time:
//
//	go test -run x -bench 'APIWrites/services=10$' -benchtime 3000x ./internal/app/
//	go test -run x -bench 'APIWrites/services=10000' -benchtime 3000x ./internal/app/ -scaleprofile /tmp/writes.cpu
//	go test -run x -bench 'APIWrites/etcd/services=10$' -benchtime 3000x ./internal/app/
//	go test -run x -bench 'APIWrites/etcd/services=10000' -benchtime 3000x ./internal/app/
func BenchmarkAPIWrites(b *testing.B) {
	parent := b
	for _, backend := range []string{backendEmbedded, backendEtcd} {
		prefix := ""
		if backend != backendEmbedded {
			prefix = backend + "/"
		}
		b.Run(prefix+"services=10", func(b *testing.B) { benchWrites(parent, b, backend, 10) })
		b.Run(prefix+"services=10000/targets=100000", func(b *testing.B) {
			if testing.Short() {
				b.Skip("-short: the 10,000-service installation takes a while to populate")
			}
			benchWrites(parent, b, backend, 10000)
		})
	}
}

// once runs setup the first time a sub-benchmark runs and returns its
// result every time after: the testing package runs a benchmark once with
// b.N=1 before the measured run, and populating 10,000 services twice would
// double the wait. What setup makes lives as long as parent.
func once[T any](parent *testing.B, key string, setup func() T) T {
	setups.Lock()
	defer setups.Unlock()
	k := fmt.Sprintf("%p/%s", parent, key)
	if v, ok := setups.m[k]; ok {
		return v.(T)
	}
	v := setup()
	setups.m[k] = v
	parent.Cleanup(func() {
		setups.Lock()
		delete(setups.m, k)
		setups.Unlock()
	})
	return v
}

var setups = struct {
	sync.Mutex
	m map[string]any
}{m: map[string]any{}}

type lane struct {
	tg, tg2, svc, listener, rule *string
}

type writeSetup struct {
	w     *world
	lanes []lane
	runs  int
}

const writers = 8

// scaleProfile, when set, writes a CPU profile of the measured part only
// (not of the populate before it) of BenchmarkAPIWrites and
// BenchmarkConfigPropagation to this path (the last run wins): `go test
// -run x -bench APIWrites -benchtime 2000x ./internal/app/ -scaleprofile
// /tmp/writes.cpu`.
var scaleProfile = flag.String("scaleprofile", "", "CPU profile of the measured part of the scale benchmarks")

// profileMeasured starts the -scaleprofile CPU profile (for runs with
// b.N > 1) and returns its stop.
func profileMeasured(b *testing.B) func() {
	if *scaleProfile == "" || b.N == 1 {
		return func() {}
	}
	f, err := os.Create(*scaleProfile)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func benchWrites(parent, b *testing.B, backend string, n int) {
	ws := once(parent, b.Name(), func() *writeSetup { return setupWrites(parent, backend, n) })
	ws.runs++
	measureWrites(b, ws.w, ws.lanes, ws.runs)
}

// setupWrites starts a server with n services, and gives each writer its
// own service, rule and target groups to flip, so that the writers never
// conflict with each other.
func setupWrites(parent *testing.B, backend string, n int) *writeSetup {
	b := parent
	w := newScaleWorld(b, backend, n)
	lanes := make([]lane, writers)
	for i := range lanes {
		mk := func(name string) *string {
			return need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
				Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f"),
					HealthCheck: &types.HealthCheckConfig{Enabled: aws.Bool(false)}}})).ok(b).Id
		}
		ln := lane{tg: mk(fmt.Sprintf("lane%d-a", i)), tg2: mk(fmt.Sprintf("lane%d-b", i))}
		svc := need(w.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("lane%d", i))})).ok(b)
		ln.svc = svc.Id
		l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
			Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18092), DefaultAction: &types.RuleActionMemberFixedResponse{
				Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}})).ok(b)
		ln.listener = l.Id
		r := need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: l.Id, Name: aws.String("flip"),
			Priority: aws.Int32(1), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{PathMatch: &types.PathMatch{
				Match: &types.PathMatchTypeMemberPrefix{Value: "/"}}}},
			Action: weighted(ln.tg, ln.tg2, false)})).ok(b)
		ln.rule = r.Id
		lanes[i] = ln
	}
	return &writeSetup{w: w, lanes: lanes}
}

func measureWrites(b *testing.B, w *world, lanes []lane, run int) {
	var next atomic.Int64
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	defer profileMeasured(b)()
	b.ResetTimer()
	began := time.Now()
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ln := lanes[i]
			for {
				op := next.Add(1) - 1
				if op >= int64(b.N) {
					return
				}
				t0 := time.Now()
				var err error
				switch op % 4 {
				case 0:
					_, err = w.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("r%dwrite%d", run, op))})
				case 1:
					_, err = w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("r%dwrite%d", run, op)), Type: types.TargetGroupTypeIp,
						Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f"),
							HealthCheck: &types.HealthCheckConfig{Enabled: aws.Bool(false)}}})
				case 2:
					_, err = w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: ln.tg,
						Targets: []types.Target{{Id: aws.String(fmt.Sprintf("127.250.%d.%d", (op/4)%250, 1+(op/1000)%250))}}})
				case 3:
					_, err = w.c.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: ln.svc, ListenerIdentifier: ln.listener,
						RuleIdentifier: ln.rule, Action: weighted(ln.tg, ln.tg2, op%8 == 3)})
				}
				if err != nil {
					b.Errorf("write %d: %v", op, err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	var all []time.Duration
	var sum time.Duration
	for _, l := range lat {
		all = append(all, l...)
		for _, d := range l {
			sum += d
		}
	}
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "writes/s")
	b.ReportMetric(float64(sum.Microseconds())/1000/float64(len(all)), "mean-ms")
	b.ReportMetric(float64(all[(len(all)*99)/100].Microseconds())/1000, "p99-ms")
}

// weighted forwards everything to a, or to b when toB.
func weighted(a, b *string, toB bool) types.RuleAction {
	wa, wb := int32(100), int32(0)
	if toB {
		wa, wb = 0, 100
	}
	return &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
		{TargetGroupIdentifier: a, Weight: aws.Int32(wa)}, {TargetGroupIdentifier: b, Weight: aws.Int32(wb)}}}}
}

// populate adds n services, each with a listener forwarding to its own
// target group of 10 loopback targets (health checks off), all associated
// with the world's network: the store then holds what a busy installation
// holds. It goes through the service layer in process (the API's own
// domain logic, without HTTP and SigV4), from 8 goroutines, so that
// 10,000 services take seconds rather than many minutes; the measured
// writes go through the API.
func populate(b *testing.B, w *world, n int) {
	svcs := w.s.App.Service()
	cctx := service.WithCaller(ctx, model.Caller{Account: w.s.Account, PrincipalARN: "arn:aws:iam::" + w.s.Account + ":root"})
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	fail := func(err error) { once.Do(func() { failed = err }) }
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed != nil {
					return
				}
				if err := populateOne(svcs, cctx, w, i); err != nil {
					fail(fmt.Errorf("service %d: %w", i, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
}

func populateOne(svcs *service.Service, cctx context.Context, w *world, i int) error {
	svc, err := svcs.CreateService(cctx, service.CreateServiceInput{Name: fmt.Sprintf("bulk%d", i)})
	if err != nil {
		return err
	}
	port := 8080
	tg, err := svcs.CreateTargetGroup(cctx, service.CreateTargetGroupInput{Name: fmt.Sprintf("bulk%d", i), Type: model.TargetGroupTypeIP,
		Config: &model.TargetGroupConfig{Port: &port, Protocol: "HTTP", VpcIdentifier: "vpc-0000000000000000f",
			HealthCheck: &model.HealthCheckConfig{Enabled: aws.Bool(false)}}})
	if err != nil {
		return err
	}
	var targets []service.TargetInput
	for j := 0; j < 10; j++ {
		targets = append(targets, service.TargetInput{ID: fmt.Sprintf("127.%d.%d.%d", 2+i/250, i%250, j+1)})
	}
	if _, err := svcs.RegisterTargets(cctx, tg.ID, targets); err != nil {
		return err
	}
	lport := 18091
	if _, err := svcs.CreateListener(cctx, service.CreateListenerInput{ServiceIdentifier: svc.ID, Name: "web", Protocol: "HTTP", Port: &lport,
		DefaultAction: &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: tg.ID}}}}}); err != nil {
		return err
	}
	_, err = svcs.CreateServiceNetworkServiceAssociation(cctx, service.CreateSNSAInput{ServiceNetworkIdentifier: *w.sn.Id, ServiceIdentifier: svc.ID})
	return err
}
