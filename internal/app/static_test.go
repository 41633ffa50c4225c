package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/store/etcd"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

// logBuffer collects an App's log lines (text), safe to read while written.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// staticOptions are etcdOptions with short store timeouts (so that the
// SDK's retries end within the test), metrics and a captured log.
func staticOptions(t *testing.T, c *etcdtest.Cluster, logs *logBuffer) apptest.Options {
	caDir := t.TempDir()
	if _, _, _, err := ca.Load(caDir, "", ""); err != nil {
		t.Fatal(err)
	}
	o := etcdOptions(t, c, caDir)
	o.Etcd.CommitTimeout = time.Second
	o.Etcd.DialTimeout = time.Second
	o.MetricsAddr = "127.0.0.1:0"
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	o.DNS = app.DNSConfig{Port: freeDNSPort(t), Upstreams: []string{testUpstream(t)}}
	// A configured second of health check intervals lasts 50 ms: the
	// default 30 s interval checks every 1.5 s.
	o.HealthCheckSecond = 50 * time.Millisecond
	return o
}

// healthChecks sums trellis_health_checks_total of a target group.
func healthChecks(t *testing.T, addr, tg string) float64 {
	t.Helper()
	var n float64
	if f := scrape(t, addr)["trellis_health_checks_total"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "target_group" && l.GetValue() == tg {
					n += m.Counter.GetValue()
				}
			}
		}
	}
	return n
}

func sdkClient(s *apptest.Server, attempts int) *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""), RetryMaxAttempts: attempts})
}

// loadGen sends requests through the data plane one after another until
// stopped, and counts every answer.
type loadGen struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstFail  string
	stop       chan struct{}
	done       chan struct{}
}

func startLoad(ingress string, port int, host string) *loadGen {
	l := &loadGen{stop: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d/load/%d", ingress, port, i), nil)
			req.Host = host
			resp, err := hc.Do(req)
			what := ""
			if err != nil {
				what = err.Error()
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					what = fmt.Sprintf("status %d", resp.StatusCode)
				}
			}
			if what == "" {
				l.ok.Add(1)
				continue
			}
			l.failed.Add(1)
			l.mu.Lock()
			if l.firstFail == "" {
				l.firstFail = what
			}
			l.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return l
}

func (l *loadGen) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	<-l.done
	if f := l.failed.Load(); f != 0 || l.ok.Load() < 100 {
		t.Fatalf("under load: %d answered, %d failed (first: %s)", l.ok.Load(), f, l.firstFail)
	}
	t.Logf("under load: %d requests answered, none failed", l.ok.Load())
}

func gauge(t *testing.T, addr, name string) float64 {
	t.Helper()
	m := series(scrape(t, addr), name, map[string]string{})
	if m == nil || m.Gauge == nil {
		t.Fatalf("no gauge %s", name)
	}
	return m.Gauge.GetValue()
}

func isInternalServer(err error) bool {
	var ise *types.InternalServerException
	return errors.As(err, &ise) && strings.Contains(ise.ErrorMessage(), "store is unreachable")
}

// TestStaticStabilityEtcdStopped: etcd stops under load. The data plane
// answers every request; an SDK write, after its retries, fails with
// InternalServerException and changes nothing; the node reports its
// snapshot stale. etcd returns: a call started just before succeeds,
// writes work and are served, and the node reports itself current.
func TestStaticStabilityEtcdStopped(t *testing.T) {
	c := etcdtest.Start(t)
	logs := &logBuffer{}
	o := staticOptions(t, c, logs)
	w := newWorld(t, o)
	tg := w.targetGroup("static", nil, newBackend(t, "first"))
	lst := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18131), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000005a7c", w.sn.Id)
	eventually(t, 5*time.Second, "the request served", func() bool {
		st, body, _ := get(t, ingress, 18131, "orders.internal", "/x", nil)
		return st == 200 && body == "first"
	})
	met := w.s.App.MetricsAddr()
	eventually(t, 5*time.Second, "the store reported reachable", func() bool {
		return gauge(t, met, "trellis_store_reachable") == 1 && gauge(t, met, "trellis_snapshot_stale_seconds") == 0
	})
	tg2 := w.targetGroup("static-2", nil, newBackend(t, "second"))

	l := startLoad(ingress, 18131, "orders.internal")
	time.Sleep(300 * time.Millisecond)
	c.Members[0].Stop()

	// A write during the outage: InternalServerException after the SDK's
	// retries, within their bounded waits.
	start := time.Now()
	_, err := sdkClient(w.s, 2).CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("during-outage")})
	if !isInternalServer(err) {
		t.Fatalf("CreateService with etcd stopped: %v, want InternalServerException saying the store is unreachable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("CreateService with etcd stopped answered after %v", d)
	}
	if strings.Contains(err.Error(), "etcd") || strings.Contains(err.Error(), "deadline") {
		t.Fatalf("the error leaks the store's internals: %v", err)
	}
	eventually(t, 5*time.Second, "the store reported unreachable", func() bool {
		return gauge(t, met, "trellis_store_reachable") == 0
	})
	s1 := gauge(t, met, "trellis_snapshot_stale_seconds")
	checks := healthChecks(t, met, *tg.Id)
	// DNS answers from the last snapshot.
	waitAnswer(t, net.JoinHostPort(ingress, strconv.Itoa(o.DNS.Port)), "orders.internal", ingress, time.Second)
	time.Sleep(1500 * time.Millisecond)
	if s2 := gauge(t, met, "trellis_snapshot_stale_seconds"); s1 <= 0 || s2 < s1+1 {
		t.Fatalf("stale seconds %v then %v 1.5s later: want growing", s1, s2)
	}
	eventually(t, 5*time.Second, "a health check while etcd is away", func() bool {
		return healthChecks(t, met, *tg.Id) > checks
	})
	if !strings.Contains(logs.String(), "the store is unreachable; serving the last snapshot") {
		t.Fatalf("no log line saying the snapshot is stale:\n%s", logs)
	}

	// A call started just before etcd returns waits it out (SDK retries).
	var during error
	callDone := make(chan struct{})
	go func() {
		defer close(callDone)
		_, during = sdkClient(w.s, 10).CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("around-return")})
	}()
	time.Sleep(200 * time.Millisecond)
	c.Members[0].Restart(t)
	<-callDone
	if during != nil {
		t.Fatalf("CreateService started just before etcd returned: %v", during)
	}
	// Nothing of the failed write; the new one is there.
	names := map[string]bool{}
	out := need(w.c.ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t)
	for _, s := range out.Items {
		names[aws.ToString(s.Name)] = true
	}
	if names["during-outage"] || !names["around-return"] {
		t.Fatalf("services after the outage: %v", names)
	}
	// A write after the return is served.
	need(w.c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: lst.Id,
		DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg2.Id}}}}})).ok(t)
	eventually(t, 5*time.Second, "the write after the return served", func() bool {
		st, body, _ := get(t, ingress, 18131, "orders.internal", "/y", nil)
		return st == 200 && body == "second"
	})
	eventually(t, 5*time.Second, "the node reported current", func() bool {
		return gauge(t, met, "trellis_store_reachable") == 1 && gauge(t, met, "trellis_snapshot_stale_seconds") == 0
	})
	if !strings.Contains(logs.String(), "caught up with the store") {
		t.Fatalf("no log line saying the node caught up:\n%s", logs)
	}
	l.end(t)
}

// TestStaticStabilityStartFromCopy: a node restarted while etcd is down
// starts from its local copy: it serves the last state, its API answers
// InternalServerException; etcd returns, the API answers and a new write
// is served.
func TestStaticStabilityStartFromCopy(t *testing.T) {
	c := etcdtest.Start(t)
	logs := &logBuffer{}
	o := staticOptions(t, c, logs)
	w := newWorld(t, o)
	tg := w.targetGroup("copy", nil, newBackend(t, "from-copy"))
	lst := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18132), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000005a7d", w.sn.Id)
	eventually(t, 5*time.Second, "the request served", func() bool {
		st, body, _ := get(t, ingress, 18132, "orders.internal", "/x", nil)
		return st == 200 && body == "from-copy"
	})
	tg2 := w.targetGroup("copy-2", nil, newBackend(t, "after-return"))
	// The last write is the target's registration (targetGroup creates the
	// group, then registers): a snapshot with the group but not yet its
	// target is one revision short of the copy.
	eventually(t, 5*time.Second, "the last write compiled", func() bool {
		g := w.s.App.Snapshot().TargetGroups.Get(*tg2.Id)
		return g != nil && len(g.Targets) > 0
	})
	rev := w.s.App.Snapshot().Revision
	if err := w.s.App.Close(); err != nil {
		t.Fatal(err)
	}
	c.Members[0].Stop()

	// The same node (data directory) starts while etcd is down.
	o.DataDir = w.s.DataDir
	start := time.Now()
	s2 := apptest.StartWith(t, o)
	t.Logf("started from the copy in %v", time.Since(start))
	if got := s2.App.Snapshot().Revision; got != rev {
		t.Fatalf("started at revision %d, want the copy's %d", got, rev)
	}
	l := startLoad(ingress, 18132, "orders.internal")
	waitAnswer(t, net.JoinHostPort(ingress, strconv.Itoa(o.DNS.Port)), "orders.internal", ingress, 2*time.Second)
	if !strings.Contains(logs.String(), "starting from the local snapshot copy") || !strings.Contains(logs.String(), fmt.Sprint("revision=", rev)) {
		t.Fatalf("no log line saying the node serves its copy:\n%s", logs)
	}
	c2 := sdkClient(s2, 1)
	if _, err := c2.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Id}); !isInternalServer(err) {
		t.Fatalf("GetService with etcd down: %v, want InternalServerException", err)
	}
	if got := gauge(t, s2.App.MetricsAddr(), "trellis_snapshot_stale_seconds"); got <= 0 {
		t.Fatalf("stale seconds %v on a node serving its copy", got)
	}
	time.Sleep(500 * time.Millisecond)

	c.Members[0].Restart(t)
	c3 := sdkClient(s2, 10)
	if _, err := c3.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Id}); err != nil {
		t.Fatalf("GetService after etcd returned: %v", err)
	}
	need(c3.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: lst.Id,
		DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg2.Id}}}}})).ok(t)
	eventually(t, 5*time.Second, "the write after the return served", func() bool {
		st, body, _ := get(t, ingress, 18132, "orders.internal", "/y", nil)
		return st == 200 && body == "after-return"
	})
	eventually(t, 5*time.Second, "the node reported current", func() bool {
		return gauge(t, s2.App.MetricsAddr(), "trellis_snapshot_stale_seconds") == 0
	})
	l.end(t)
}

// TestStaticStabilityNoCopy: etcd unreachable at start and no local copy:
// the start fails, naming the endpoints and the missing copy.
func TestStaticStabilityNoCopy(t *testing.T) {
	caDir := t.TempDir()
	if _, _, _, err := ca.Load(caDir, "", ""); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TRELLIS_ROOT_ACCESS_KEY_ID": "AKIAETCDTESTROOT0001", "TRELLIS_ROOT_SECRET_ACCESS_KEY": "s"}
	cfg := app.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", Store: app.StoreEtcd,
		Etcd:       etcd.Config{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: 500 * time.Millisecond},
		CACertFile: filepath.Join(caDir, ca.CertFile), CAKeyFile: filepath.Join(caDir, ca.KeyFile),
		Getenv: func(k string) string { return env[k] }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	start := time.Now()
	a, err := app.Start(context.Background(), cfg)
	if err == nil {
		a.Close()
		t.Fatal("started with no etcd and no copy")
	}
	for _, want := range []string{"http://127.0.0.1:1", "no local snapshot copy", "snapshot-cache.db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not say %q", err, want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the start failed after %v", d)
	}
}
