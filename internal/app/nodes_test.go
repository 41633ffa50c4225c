package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/cluster"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

// TestRolesNeedEtcd: with the embedded store a node runs every role; any
// other set is refused before anything is written.
func TestRolesNeedEtcd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, err := app.Start(context.Background(), app.Config{DataDir: dir, APIAddr: "127.0.0.1:0",
		Roles: cluster.Roles{API: true}, Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "--roles api") || !strings.Contains(err.Error(), "--store etcd") {
		t.Fatalf("api-only on the embedded store: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("the data directory was created")
	}
}

// nodes is a set of Trellis nodes on one etcd, sharing root credentials
// and CA.
type nodes struct {
	t     *testing.T
	c     *etcdtest.Cluster
	caDir string
}

func newNodes(t *testing.T) *nodes {
	c := etcdtest.Start(t)
	caDir := t.TempDir()
	if _, _, _, err := ca.Load(caDir, "", ""); err != nil {
		t.Fatal(err)
	}
	return &nodes{t: t, c: c, caDir: caDir}
}

// options of a node named name with roles: short leases, fast publishing,
// fast health checks.
func (n *nodes) options(name string, roles cluster.Roles) apptest.Options {
	o := etcdOptions(n.t, n.c, n.caDir)
	o.NodeName, o.Roles = name, roles
	o.ClusterTTL, o.HealthFlushInterval = time.Second, 50*time.Millisecond
	o.HealthCheckSecond = 20 * time.Millisecond
	return o
}

// lattice is an SDK client of node s's API.
func lattice(s *apptest.Server) *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""), RetryMaxAttempts: 1})
}

// switchable is a target whose health check path answers 200 or 503 as
// the test says, and whose other paths answer its name.
type switchable struct {
	srv  *httptest.Server
	sick atomic.Bool
	hits atomic.Int64
}

func newSwitchable(t *testing.T, name string) *switchable {
	b := &switchable{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if b.sick.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		b.hits.Add(1)
		fmt.Fprint(w, name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *switchable) port() int32 {
	_, p, _ := strings.Cut(b.srv.Listener.Addr().String(), "127.0.0.1:")
	var n int32
	fmt.Sscan(p, &n)
	return n
}

// targetHealthReport is GET /trellis/v1/target-health's answer.
type targetHealthReport struct {
	TargetGroupID string
	Targets       []struct {
		ID, Status, ReasonCode, DecidedBy string
		Port                              int
		Nodes                             []struct{ Node, Status, ReasonCode string }
	}
}

func getTargetHealth(t *testing.T, s *apptest.Server, tg string) (int, targetHealthReport) {
	code, rep, _ := getTargetHealthBody(t, s, tg)
	return code, rep
}

func getTargetHealthBody(t *testing.T, s *apptest.Server, tg string) (int, targetHealthReport, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.Endpoint+"/trellis/v1/target-health?targetGroup="+tg, nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "vpc-lattice", s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out targetHealthReport
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out, string(b)
}

// TestHealthCombinedAcrossNodes: two health nodes check one target; the
// API node answers ListTargets with their statuses combined. The API
// node's own checker is stopped while the target is HEALTHY, so it keeps
// publishing HEALTHY; the target then fails its checks, which only the
// health-only node sees: ListTargets on the API node says UNHEALTHY (any
// node's UNHEALTHY wins), and target-health names the node. The health
// node closes: its report goes with its lease, and the API node's own
// HEALTHY is what is left. Publishing never moves the store's revision.
func TestHealthCombinedAcrossNodes(t *testing.T) {
	n := newNodes(t)
	w := newWorld(t, n.options("node-api", cluster.AllRoles))
	checker := apptest.StartWith(t, n.options("node-health", cluster.Roles{Health: true}))
	if checker.App.APIAddr() != "" || len(checker.App.Ingress().Addrs()) != 0 {
		t.Fatalf("a health-only node serves: API %q, ingress %v", checker.App.APIAddr(), checker.App.Ingress().Addrs())
	}
	b := newSwitchable(t, "one")
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("pool"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f"),
			HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(5),
				HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)}}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(b.port())}}})).ok(t)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18121), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	status := func() string {
		st, reason := w.targetStatus(tg.Id, "127.0.0.1")
		return st + "/" + reason
	}
	eventually(t, 5*time.Second, "HEALTHY, reported by both nodes", func() bool {
		code, rep := getTargetHealth(t, w.s, *tg.Id)
		return status() == "HEALTHY/" && code == 200 && len(rep.Targets) == 1 && len(rep.Targets[0].Nodes) == 2
	})

	cli, err := clientv3.New(clientv3.Config{Endpoints: n.c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	revision := func() string {
		r, err := cli.Get(ctx, "/trellis/meta/revision")
		if err != nil || len(r.Kvs) != 1 {
			t.Fatalf("store revision: %v %v", r, err)
		}
		return string(r.Kvs[0].Value)
	}
	before := revision()

	w.s.App.Checker().Close() // the API node's last word: HEALTHY
	b.sick.Store(true)
	eventually(t, 5*time.Second, "UNHEALTHY as the health node says", func() bool { return status() == "UNHEALTHY/HealthCheckFailed" })
	code, rep := getTargetHealth(t, w.s, *tg.Id)
	if code != 200 || len(rep.Targets) != 1 || rep.Targets[0].DecidedBy != "node-health" || rep.Targets[0].Status != "UNHEALTHY" {
		t.Fatalf("target-health: %d %+v", code, rep)
	}
	byNode := map[string]string{}
	for _, r := range rep.Targets[0].Nodes {
		byNode[r.Node] = r.Status
	}
	if byNode["node-api"] != "HEALTHY" || byNode["node-health"] != "UNHEALTHY" {
		t.Fatalf("per node: %v", byNode)
	}
	if after := revision(); after != before {
		t.Fatalf("publishing health moved the store's revision: %s → %s", before, after)
	}

	// The health node leaves: its UNHEALTHY goes with its lease.
	if err := checker.App.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "the API node's own HEALTHY left", func() bool { return status() == "HEALTHY/" })

	// target-health is the owner's only.
	other := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("empty"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f")}})).ok(t)
	if code, _ := getTargetHealth(t, w.s, "tg-00000000000000000"); code != 404 {
		t.Fatalf("target-health of an unknown group: %d", code)
	}
	for _, bad := range []string{"not%20a%20group", ""} {
		if code, _, body := getTargetHealthBody(t, w.s, bad); code != 400 || !strings.Contains(body, "targetGroup") {
			t.Fatalf("target-health of %q: %d %s", bad, code, body)
		}
	}
	if code, rep := getTargetHealth(t, w.s, *other.Id); code != 200 || len(rep.Targets) != 0 {
		t.Fatalf("target-health of a group without targets: %d %+v", code, rep)
	}
}

// TestDataPlaneTakesClusterHealth: a data plane without a checker of its
// own (api,dataplane) routes by the statuses a health-only node publishes:
// of two targets, the one that fails its checks gets no request. An
// API-only node answers ListTargets with the same statuses and listens on
// no ingress address.
func TestDataPlaneTakesClusterHealth(t *testing.T) {
	n := newNodes(t)
	w := newWorld(t, n.options("node-dp", cluster.Roles{API: true, Dataplane: true}))
	if w.s.App.Checker() != nil {
		t.Fatal("a node without the health role has a checker")
	}
	apptest.StartWith(t, n.options("node-health", cluster.Roles{Health: true}))
	apiOnly := apptest.StartWith(t, n.options("node-api", cluster.Roles{API: true}))
	good, bad := newSwitchable(t, "good"), newSwitchable(t, "bad")
	bad.sick.Store(true)
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("pool"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f"),
			HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(5),
				HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)}}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(good.port())}, {Id: aws.String("127.0.0.1"), Port: aws.Int32(bad.port())}}})).ok(t)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18122), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName

	api := lattice(apiOnly)
	statuses := func(c *vpclattice.Client) map[int32]types.TargetStatus {
		out := map[int32]types.TargetStatus{}
		for _, it := range need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg.Id})).ok(t).Items {
			out[aws.ToInt32(it.Port)] = it.Status
		}
		return out
	}
	eventually(t, 5*time.Second, "the health node's statuses on the API-only node", func() bool {
		s := statuses(api)
		return s[good.port()] == types.TargetStatusHealthy && s[bad.port()] == types.TargetStatusUnhealthy
	})
	if s := statuses(w.c); s[good.port()] != types.TargetStatusHealthy || s[bad.port()] != types.TargetStatusUnhealthy {
		t.Fatalf("ListTargets on the data-plane node: %v", s)
	}
	if addrs := apiOnly.App.Ingress().Addrs(); len(addrs) != 0 {
		t.Fatalf("an API-only node listens on %v", addrs)
	}
	// The data plane has the statuses too: every request goes to the
	// healthy target (without them both would share the traffic).
	eventually(t, 5*time.Second, "the data plane following the cluster", func() bool {
		before := bad.hits.Load()
		for range 20 {
			if st, body, _ := get(t, ingress, 18122, host, "/", nil); st != 200 || body != "good" {
				return false
			}
		}
		return bad.hits.Load() == before
	})
	for range 50 {
		if st, body, _ := get(t, ingress, 18122, host, "/", nil); st != 200 || body != "good" {
			t.Fatalf("request: %d %q", st, body)
		}
	}
	if h := bad.hits.Load(); h != 0 {
		// Before the statuses arrived both shared the traffic; none since.
		t.Logf("the failing target got %d requests before the statuses arrived", h)
	}
	// It recovers: the data plane sends it traffic again.
	bad.sick.Store(false)
	eventually(t, 5*time.Second, "the recovered target served again", func() bool {
		before := bad.hits.Load()
		for range 40 {
			get(t, ingress, 18122, host, "/", nil)
		}
		return bad.hits.Load() > before
	})
}

// lazyStats forwards to a traffic aggregator set later (the data-plane
// node's, started after the node that judges by it).
type lazyStats struct {
	agg atomic.Pointer[canaryStatsAgg]
}

type canaryStatsAgg = interface {
	TargetGroupWindow(serviceID, targetGroupID string, since time.Time) (int64, int64, time.Duration)
}

func (l *lazyStats) TargetGroupWindow(svc, tg string, since time.Time) (int64, int64, time.Duration) {
	if a := l.agg.Load(); a != nil {
		return (*a).TargetGroupWindow(svc, tg, since)
	}
	return 0, 0, 0
}

// leader returns the name of the node leading an election (the candidate
// of the lowest creation revision, as etcd's concurrency.Election has it).
func leader(t *testing.T, cli *clientv3.Client, election string) string {
	t.Helper()
	r, err := cli.Get(ctx, "/trellis/elections/"+election+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Kvs) == 0 {
		return ""
	}
	return string(r.Kvs[0].Value)
}

func etcdClient(t *testing.T, n *nodes) *clientv3.Client {
	cli, err := clientv3.New(clientv3.Config{Endpoints: n.c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestCanaryMovesWithItsElection: canary steps are judged by the elected
// API node only. The API-only node started first leads and judges (by the
// data-plane node's traffic); when it closes, the other node is elected,
// resumes the rollout from the store (RESUMED) and promotes it.
func TestCanaryMovesWithItsElection(t *testing.T) {
	n := newNodes(t)
	cli := etcdClient(t, n)
	stats := &lazyStats{}
	o := n.options("node-judge", cluster.Roles{API: true})
	o.CanaryStats, o.CanaryTick = stats, 100*time.Millisecond
	judge := apptest.StartWith(t, o)
	eventually(t, 5*time.Second, "node-judge leading the canaries", func() bool { return leader(t, cli, "canaries") == "node-judge" })

	w := newCanaryWorld(t, 18123, 200, n.options("node-dp", cluster.AllRoles))
	agg := canaryStatsAgg(w.s.App.Traffic())
	stats.agg.Store(&agg)
	if l := leader(t, cli, "canaries"); l != "node-judge" {
		t.Fatalf("leader %q after a second node joined", l)
	}
	w.traffic("/")
	cn := w.startCanary(w.body(false, []int{10, 30, 60, 100}, 2))
	eventually(t, 8*time.Second, "step 2, judged by node-judge", func() bool { return w.canary(cn.CanaryID).StepIndex >= 1 })

	if err := judge.App.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "node-dp elected", func() bool { return leader(t, cli, "canaries") == "node-dp" })
	v := w.waitState(cn.CanaryID, "PROMOTED", 15*time.Second)
	var kinds []string
	for _, h := range v.History {
		kinds = append(kinds, h.Event)
	}
	if !strings.Contains(strings.Join(kinds, ","), "RESUMED") {
		t.Fatalf("history %v: no RESUMED by the new leader", kinds)
	}
	if b, g := w.weights(nil); b != 0 || g != 100 {
		t.Fatalf("after promotion: blue %d green %d", b, g)
	}
}

// TestSweeperElected: targets whose drain time has passed are deleted
// from the store without any write to their group, by the elected API node
// alone; when it closes, the other API node sweeps.
func TestSweeperElected(t *testing.T) {
	n := newNodes(t)
	cli := etcdClient(t, n)
	opts := func(name string, roles cluster.Roles) apptest.Options {
		o := n.options(name, roles)
		o.DrainTime, o.SweepInterval = 500*time.Millisecond, 100*time.Millisecond
		return o
	}
	first := apptest.StartWith(t, opts("node-1", cluster.Roles{API: true}))
	eventually(t, 5*time.Second, "node-1 sweeping", func() bool { return leader(t, cli, "drained-targets") == "node-1" })
	o2 := opts("node-2", cluster.AllRoles)
	o2.MetricsAddr = "127.0.0.1:0"
	w := newWorld(t, o2)
	gauge := func(series string) string {
		resp, err := http.Get("http://" + w.s.App.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, series+" "); ok {
				return v
			}
		}
		return ""
	}
	if g := gauge(`trellis_cluster_leader{election="drained-targets"}`); g != "0" {
		t.Fatalf("node-2's leader gauge while node-1 sweeps: %q", g)
	}
	eventually(t, 5*time.Second, "both API nodes counted", func() bool {
		return gauge(`trellis_cluster_nodes{role="api"}`) == "2" && gauge(`trellis_cluster_nodes{role="health"}`) == "1"
	})
	eventually(t, 5*time.Second, "both API nodes standing", func() bool {
		r, err := cli.Get(ctx, "/trellis/elections/drained-targets/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return err == nil && r.Count == 2
	})
	if l := leader(t, cli, "drained-targets"); l != "node-1" {
		t.Fatalf("leader %q after a second node stood", l)
	}
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("pool"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f")}})).ok(t)
	targetKey := func(ip string) string { return "/trellis/kv/tgt/" + *tg.Id + "/" + ip + "/80" }
	stored := func(ip string) bool {
		r, err := cli.Get(ctx, targetKey(ip))
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Kvs) == 1
	}
	drain := func(ip string) {
		need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
			Targets: []types.Target{{Id: aws.String(ip)}, {Id: aws.String("10.9.9.9")}}})).ok(t)
		need(w.c.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: tg.Id,
			Targets: []types.Target{{Id: aws.String(ip)}}})).ok(t)
		if !stored(ip) {
			t.Fatalf("%s gone while draining", ip)
		}
	}
	drain("10.0.0.1")
	eventually(t, 5*time.Second, "10.0.0.1 deleted after its drain time", func() bool { return !stored("10.0.0.1") })
	if !stored("10.9.9.9") {
		t.Fatal("the sweeper deleted a registered target")
	}

	// The sweeper's node leaves; the other one takes over.
	if err := first.App.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "node-2 sweeping", func() bool { return leader(t, cli, "drained-targets") == "node-2" })
	eventually(t, 3*time.Second, "node-2's leader gauge", func() bool { return gauge(`trellis_cluster_leader{election="drained-targets"}`) == "1" })
	drain("10.0.0.2")
	eventually(t, 5*time.Second, "10.0.0.2 deleted by node-2", func() bool { return !stored("10.0.0.2") })
	l := need(w.c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg.Id})).ok(t)
	if len(l.Items) != 1 || aws.ToString(l.Items[0].Id) != "10.9.9.9" {
		t.Fatalf("ListTargets: %+v", l.Items)
	}
}
