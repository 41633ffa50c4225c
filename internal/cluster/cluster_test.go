package cluster_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/trellis-net/trellis/internal/cluster"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

func TestParseRoles(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want cluster.Roles
		err  string
	}{
		{in: "api,dataplane,health", want: cluster.AllRoles},
		{in: "health", want: cluster.Roles{Health: true}},
		{in: " api , dataplane ", want: cluster.Roles{API: true, Dataplane: true}},
		{in: "api,proxy", err: `--roles: unknown role "proxy"`},
		{in: "api,api", err: `role "api" given twice`},
		{in: "", err: "--roles: want one or more"},
		{in: ",", err: "--roles: want one or more"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := cluster.ParseRoles(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseRoles(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRoles(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			if again, err := cluster.ParseRoles(got.String()); err != nil || again != got {
				t.Fatalf("String round trip: %q → %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestCombine(t *testing.T) {
	r := func(node, status, reason string) cluster.Report {
		return cluster.Report{Node: node, Status: cluster.Status{Status: status, ReasonCode: reason}}
	}
	const (
		H = model.TargetStatusHealthy
		U = model.TargetStatusUnhealthy
		I = model.TargetStatusInitial
		N = model.TargetStatusUnavailable
	)
	for _, tc := range []struct {
		name                string
		reports             []cluster.Report
		healthNodes         int
		status, reason, who string
	}{
		{name: "nobody checks", status: N},
		{name: "checks pending", healthNodes: 2, status: I},
		{name: "all healthy", reports: []cluster.Report{r("a", H, ""), r("b", H, "")}, healthNodes: 2, status: H, who: "a"},
		{name: "one unhealthy", reports: []cluster.Report{r("a", H, ""), r("c", U, "HealthCheckFailed"), r("b", U, "X")}, healthNodes: 3,
			status: U, reason: "X", who: "b"},
		{name: "initial beats healthy", reports: []cluster.Report{r("a", H, ""), r("b", I, "")}, status: I, who: "b"},
		{name: "healthy beats unavailable", reports: []cluster.Report{r("a", N, ""), r("b", H, "")}, status: H, who: "b"},
		{name: "all unavailable", reports: []cluster.Report{r("a", N, "")}, status: N, who: "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, reason, who := cluster.Combine(tc.reports, tc.healthNodes)
			if st != tc.status || reason != tc.reason || who != tc.who {
				t.Fatalf("Combine = %s %q %q; want %s %q %q", st, reason, who, tc.status, tc.reason, tc.who)
			}
		})
	}
}

// source is a health node's checker as the publisher sees it: a table of
// statuses by key that the test changes.
type source struct {
	mu sync.Mutex
	m  map[string][2]string
}

func (s *source) set(key, status, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][2]string{}
	}
	if status == "" {
		delete(s.m, key)
		return
	}
	s.m[key] = [2]string{status, reason}
}

func (s *source) GroupStatuses(g string, fn func(key, status, reason string)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if strings.HasPrefix(k, g+"/") {
			fn(k, v[0], v[1])
		}
	}
	return true
}

func (s *source) TargetStatus(key string) (string, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v[0], v[1], ok
}

func client(t *testing.T, c *etcdtest.Cluster) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func open(t *testing.T, cli *clientv3.Client, name string, roles cluster.Roles, src cluster.Source, onChange func([]string)) *cluster.Etcd {
	t.Helper()
	cfg := cluster.Config{Client: cli, Prefix: "/t/", Node: cluster.NodeInfo{Name: name}, Roles: roles, TTL: time.Second,
		FlushInterval: 20 * time.Millisecond, OnChange: onChange}
	if src != nil { // a nil *source in the interface would not be nil
		cfg.Source = src
	}
	e, err := cluster.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHealthAcrossNodes: two health nodes publish their statuses of one
// target, an API-only node combines them; a node that dies (its lease not
// revoked) stops counting after the TTL, one that closes at once.
func TestHealthAcrossNodes(t *testing.T) {
	c := etcdtest.Start(t)
	cli := client(t, c)
	health := cluster.Roles{Health: true}
	srcA, srcB := &source{}, &source{}
	a := open(t, cli, "node-a", health, srcA, nil)
	b := open(t, cli, "node-b", health, srcB, nil)
	var changes atomic.Int64
	api := open(t, cli, "node-api", cluster.Roles{API: true}, nil, func(keys []string) { changes.Add(int64(len(keys))) })
	v := api.View()
	status := func() string {
		st, reason, _ := v.TargetStatus("tg-1", "10.0.0.1", 80)
		return st + "/" + reason
	}
	eventually(t, 5*time.Second, "two health nodes registered", func() bool { return v.HealthNodes() == 2 })
	if got := status(); got != "INITIAL/" {
		t.Fatalf("before any report: %s, want INITIAL (health nodes are up)", got)
	}

	const key = "tg-1/10.0.0.1/80"
	srcA.set(key, "HEALTHY", "")
	a.MarkTarget(key)
	srcB.set(key, "HEALTHY", "")
	b.MarkGroups([]string{"tg-1"})
	eventually(t, 5*time.Second, "HEALTHY from both", func() bool { return status() == "HEALTHY/" && len(v.GroupReports("tg-1")[key]) == 2 })

	srcB.set(key, "UNHEALTHY", "HealthCheckFailed")
	b.MarkTarget(key)
	eventually(t, 5*time.Second, "UNHEALTHY as node b says", func() bool { return status() == "UNHEALTHY/HealthCheckFailed" })
	if _, _, who := v.Combined(key); who != "node-b" {
		t.Fatalf("decided by %q, want node-b", who)
	}
	if changes.Load() == 0 {
		t.Fatal("OnChange was never told")
	}

	// b dies: its lease is not revoked, its report stays until the TTL.
	b.Abandon()
	died := time.Now()
	time.Sleep(200 * time.Millisecond)
	if got := status(); got != "UNHEALTHY/HealthCheckFailed" {
		t.Fatalf("right after b died: %s (a lease outlives its node by the TTL)", got)
	}
	eventually(t, 5*time.Second, "b's report gone with its lease", func() bool { return status() == "HEALTHY/" })
	if time.Since(died) < 500*time.Millisecond {
		t.Fatalf("b's report went after %v, before its lease (1s) could expire", time.Since(died))
	}
	eventually(t, 5*time.Second, "b unregistered", func() bool { return v.HealthNodes() == 1 })

	// a closes: its lease is revoked, its reports go at once.
	start := time.Now()
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a's report gone", func() bool { return status() == "UNAVAILABLE/" })
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("a closed but its report stayed %v", d)
	}
	// Nothing of the store was written: health keys live beside it.
	resp, err := cli.Get(context.Background(), "/t/kv/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Fatalf("store keys written: %v %v", resp, err)
	}
}

// TestPublishBatches: a thousand transitions at once go out in a handful
// of transactions (at most 100 operations each), not a thousand puts;
// what did not change is not written again.
func TestPublishBatches(t *testing.T) {
	c := etcdtest.Start(t)
	cli := client(t, c)
	src := &source{}
	n := open(t, cli, "node-a", cluster.Roles{Health: true}, src, nil)
	rev := func() int64 {
		r, err := cli.Get(context.Background(), "/nothing")
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	count := func() int64 {
		r, err := cli.Get(context.Background(), "/t/health/node-a/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return r.Count
	}
	before := rev()
	for i := range 1000 {
		key := fmt.Sprintf("tg-%d/10.0.%d.%d/80", i%10, i/250, i%250)
		src.set(key, "HEALTHY", "")
		n.MarkTarget(key)
	}
	eventually(t, 5*time.Second, "1000 statuses published", func() bool { return count() == 1000 })
	if d := rev() - before; d > 12 {
		t.Fatalf("1000 statuses took %d etcd revisions (transactions), want at most 12", d)
	}
	// Marked again without a change: nothing written.
	before = rev()
	for i := range 10 {
		n.MarkGroups([]string{fmt.Sprintf("tg-%d", i)})
	}
	time.Sleep(200 * time.Millisecond)
	if d := rev() - before; d != 0 {
		t.Fatalf("unchanged statuses written again: %d transactions", d)
	}
	// A target gone from its group: its key is deleted.
	src.set("tg-0/10.0.0.0/80", "", "")
	n.MarkGroups([]string{"tg-0"})
	eventually(t, 5*time.Second, "a gone target's status deleted", func() bool { return count() == 999 })
}

// TestElectionMoves: one of two candidates leads; when it closes the other
// is elected at once, when it dies (lease not revoked) after the TTL; and
// never are two leaders at a time.
func TestElectionMoves(t *testing.T) {
	c := etcdtest.Start(t)
	cli := client(t, c)
	nodes := map[string]*cluster.Etcd{}
	var mu sync.Mutex
	leader := ""
	var overlap atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, name := range []string{"n1", "n2", "n3"} {
		e := open(t, cli, name, cluster.Roles{API: true}, nil, nil)
		nodes[name] = e
		lctx, lcancel := context.WithCancel(ctx)
		t.Cleanup(lcancel)
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Lead(lctx, "sweeper", func(ctx context.Context) {
				mu.Lock()
				if leader != "" {
					overlap.Store(true)
				}
				leader = name
				mu.Unlock()
				<-ctx.Done()
				mu.Lock()
				leader = ""
				mu.Unlock()
			})
		}()
	}
	current := func() string { mu.Lock(); defer mu.Unlock(); return leader }
	eventually(t, 5*time.Second, "a leader", func() bool { return current() != "" })
	first := current()
	// Closed (revoked): the next one leads at once.
	start := time.Now()
	if err := nodes[first].Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a new leader", func() bool { l := current(); return l != "" && l != first })
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("the election moved %v after its holder closed", d)
	}
	second := current()
	// Died: after the TTL.
	nodes[second].Abandon()
	died := time.Now()
	eventually(t, 6*time.Second, "the third leads", func() bool { l := current(); return l != "" && l != second && l != first })
	if d := time.Since(died); d < 500*time.Millisecond {
		t.Fatalf("the election moved %v after its holder died: before its lease expired", d)
	}
	if overlap.Load() {
		t.Fatal("two leaders at once")
	}
	cancel()
	wg.Wait()
}

// TestNodeNameTaken: a second node of a live node's name is refused (after
// waiting a TTL for a dead one's registration to expire).
func TestNodeNameTaken(t *testing.T) {
	c := etcdtest.Start(t)
	cli := client(t, c)
	open(t, cli, "same", cluster.Roles{API: true}, nil, nil)
	_, err := cluster.Open(context.Background(), cluster.Config{Client: cli, Prefix: "/t/", Node: cluster.NodeInfo{Name: "same"},
		Roles: cluster.Roles{API: true}, TTL: time.Second})
	if err == nil || !strings.Contains(err.Error(), "--node-name") {
		t.Fatalf("second node named alike: %v", err)
	}
	for _, bad := range []string{"", "a/b", "-x", "x y"} {
		if _, err := cluster.Open(context.Background(), cluster.Config{Client: cli, Prefix: "/t/", Node: cluster.NodeInfo{Name: bad}}); err == nil ||
			!strings.Contains(err.Error(), "--node-name") {
			t.Errorf("node name %q: %v", bad, err)
		}
	}
	// A dead node's name is free again once its lease expired.
	other := open(t, cli, "crashed", cluster.Roles{API: true}, nil, nil)
	other.Abandon()
	open(t, cli, "crashed", cluster.Roles{API: true}, nil, nil)
}

// TestViewIgnoresBadReports: a report this version would not write (an
// unknown status, a reason code with spaces or newlines, a key whose node
// segment is no node name) is not shown, whether read at start or watched.
func TestViewIgnoresBadReports(t *testing.T) {
	c := etcdtest.Start(t)
	cli := client(t, c)
	put := func(k, v string) {
		if _, err := cli.Put(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	put("/t/health/n1/tg-1/10.0.0.1/80", `{"status":"UNHEALTHY","reasonCode":"a\nb"}`)
	v := open(t, cli, "api", cluster.Roles{API: true}, nil, nil).View()
	put("/t/health/n2/tg-1/10.0.0.1/80", `{"status":"EVIL"}`)
	put("/t/health/bad name/tg-1/10.0.0.1/80", `{"status":"UNHEALTHY"}`)
	put("/t/health/n3/tg-1/10.0.0.1/80", `{"status":"HEALTHY"}`) // the one valid report
	eventually(t, 5*time.Second, "the valid report", func() bool { return len(v.GroupReports("tg-1")["tg-1/10.0.0.1/80"]) > 0 })
	time.Sleep(100 * time.Millisecond)
	if rs := v.GroupReports("tg-1")["tg-1/10.0.0.1/80"]; len(rs) != 1 || rs[0].Node != "n3" {
		t.Fatalf("reports %+v, want n3's alone", rs)
	}
	// A valid report replaced by a bad one goes.
	put("/t/health/n3/tg-1/10.0.0.1/80", `{"status":"HEALTHY","reasonCode":"<script>"}`)
	eventually(t, 5*time.Second, "the replaced report gone", func() bool { return len(v.GroupReports("tg-1")) == 0 })
}

// TestLeaseLostAndRejoined: a node whose lease etcd dropped (as after an
// outage longer than the TTL) loses its keys and leadership, then takes a
// new lease, registers and publishes everything again, and leads again.
func TestLeaseLostAndRejoined(t *testing.T) {
	c := etcdtest.Start(t)
	cli := client(t, c)
	src := &source{}
	a := open(t, cli, "node-a", cluster.Roles{API: true, Health: true}, src, nil)
	v := open(t, cli, "observer", cluster.Roles{API: true}, nil, nil).View()
	const key = "tg-1/10.0.0.1/80"
	src.set(key, "HEALTHY", "")
	a.MarkTarget(key)
	eventually(t, 5*time.Second, "a's report", func() bool { st, _, _ := v.Combined(key); return st == "HEALTHY" })

	var terms atomic.Int32
	var leading atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Lead(ctx, "work", func(ctx context.Context) {
			terms.Add(1)
			leading.Store(true)
			<-ctx.Done()
			leading.Store(false)
		})
	}()
	defer func() { cancel(); <-done }()
	eventually(t, 5*time.Second, "a leading", leading.Load)

	r, err := cli.Get(context.Background(), "/t/nodes/node-a")
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("registration: %v %v", r, err)
	}
	old := clientv3.LeaseID(r.Kvs[0].Lease)
	if _, err := cli.Revoke(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "leadership lost with the lease", func() bool { return !leading.Load() || terms.Load() > 1 })
	eventually(t, 10*time.Second, "registered again under a new lease", func() bool {
		r, err := cli.Get(context.Background(), "/t/nodes/node-a")
		return err == nil && len(r.Kvs) == 1 && clientv3.LeaseID(r.Kvs[0].Lease) != old
	})
	eventually(t, 10*time.Second, "its report published again", func() bool {
		r, err := cli.Get(context.Background(), "/t/health/node-a/"+key)
		return err == nil && len(r.Kvs) == 1 && clientv3.LeaseID(r.Kvs[0].Lease) != old
	})
	eventually(t, 5*time.Second, "the observer sees it", func() bool { st, _, _ := v.Combined(key); return st == "HEALTHY" })
	eventually(t, 10*time.Second, "leading again", func() bool { return leading.Load() && terms.Load() == 2 })
}

// TestOpenWithEtcdAway: a node whose etcd does not answer still starts
// (static stability: its data plane serves what it has) and joins in the
// background; meanwhile nobody's statuses are known, and it closes
// promptly.
func TestOpenWithEtcdAway(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + addr}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	start := time.Now()
	e, err := cluster.Open(context.Background(), cluster.Config{Client: cli, Prefix: "/t/", Node: cluster.NodeInfo{Name: "n"},
		Roles: cluster.AllRoles, Source: &source{}})
	if err != nil {
		t.Fatalf("Open with etcd away: %v", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("Open took %v", d)
	}
	e.MarkGroups([]string{"tg-1"})
	if st, _, ok := e.View().TargetStatus("tg-1", "10.0.0.1", 80); !ok || st != "UNAVAILABLE" {
		t.Fatalf("status with nothing known: %s %v", st, ok)
	}
	done := make(chan struct{})
	go func() {
		e.Lead(context.Background(), "x", func(context.Context) { t.Error("elected without etcd") })
		close(done)
	}()
	time.Sleep(100 * time.Millisecond)
	start = time.Now()
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

// TestCloseWithEtcdStopped: with etcd stopped, a candidate waiting in its
// campaign and the leader both stop promptly (their Leads return, Close
// returns) instead of waiting for etcd to withdraw, resign and revoke;
// when etcd is back their keys expire with their leases.
func TestCloseWithEtcdStopped(t *testing.T) {
	c := etcdtest.Start(t)
	cli := client(t, c)
	var leads sync.WaitGroup
	var nodes []*cluster.Etcd
	var cancels []context.CancelFunc
	for _, name := range []string{"a", "b"} {
		// Clients of their own, as nodes have: the test's reads must not
		// share their connection.
		e := open(t, client(t, c), name, cluster.Roles{API: true}, nil, nil)
		nodes = append(nodes, e)
		lctx, lcancel := context.WithCancel(context.Background())
		cancels = append(cancels, lcancel)
		leads.Add(1)
		go func() { defer leads.Done(); e.Lead(lctx, "x", func(ctx context.Context) { <-ctx.Done() }) }()
	}
	count := func(prefix string) int64 {
		r, err := cli.Get(context.Background(), "/t/"+prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return -1
		}
		return r.Count
	}
	eventually(t, 5*time.Second, "both standing", func() bool { return count("elections/x/") == 2 })

	c.Members[0].Stop()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	for i := len(nodes) - 1; i >= 0; i-- { // the candidate first, as a node closes its Leads first
		cancels[i]()
	}
	leads.Wait()
	for _, e := range nodes {
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Leads and Close took %v with etcd stopped", d)
	}
	c.Members[0].Restart(t)
	eventually(t, 8*time.Second, "their keys expired with the leases", func() bool {
		return count("elections/") == 0 && count("nodes/") == 0
	})
}
