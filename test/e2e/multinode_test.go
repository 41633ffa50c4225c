package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
	"github.com/trellis-net/trellis/test/serveproc"
)

// The multi-node suite: several `trellis serve --store etcd` processes on
// one machine share an etcd cluster (started by etcdtest), each with its
// own data directory, API and metrics addresses, node name and
// --node-ingress-prefix, and the same root credentials and CA. It checks
// from outside what issue 15 asks of several nodes: propagation, static
// stability while etcd is away, durability when a node or an etcd member
// dies.

const (
	mnKeyID  = "AKIAE2EMULTINODE0001"
	mnSecret = "e2e-multinode-secret"
	// mnInstallation is the installation's --ingress-cidr, where the API
	// allocates VPC addresses; no node serves it (each has its own
	// --node-ingress-prefix, 127.201.0.0/16, 127.202.0.0/16, ...).
	mnInstallation = "127.200.0.0/16"
	mnClientVPC    = "vpc-00000000000000001"
)

// mnNode is one `trellis serve` of a multi-node installation.
type mnNode struct {
	*serveproc.Server
	name        string
	metricsAddr string
	prefix      netip.Prefix // its --node-ingress-prefix
	c           *vpclattice.Client
}

// ingress is the address at which this node serves a host-mode VPC whose
// API-reported (stored) address is stored: the same offset in the node's
// prefix as stored has in the installation's (docs/deployment.md).
func (n *mnNode) ingress(t testing.TB, stored string) string {
	t.Helper()
	inst := netip.MustParsePrefix(mnInstallation)
	a := netip.MustParseAddr(stored)
	if !inst.Contains(a) {
		t.Fatalf("stored ingress address %s is not in --ingress-cidr %s", stored, inst)
	}
	s, base, node := a.As4(), inst.Addr().As4(), n.prefix.Addr().As4()
	// A /16: the offset is the last two bytes.
	return netip.AddrFrom4([4]byte{node[0], node[1], node[2] + s[2] - base[2], node[3] + s[3] - base[3]}).String()
}

// mnCluster is the nodes and the etcd they share.
type mnCluster struct {
	etcd  *etcdtest.Cluster
	nodes []*mnNode
}

// startNodes starts n nodes on etcd c (node i serving 127.(201+i).0.0/16).
// Every process gets SIGTERM when the test ends, failed or not, and a failed
// test shows each node's log (serveproc.Start's cleanup, before etcdtest's:
// cleanups run last-registered first).
func startNodes(t testing.TB, c *etcdtest.Cluster, n int) *mnCluster {
	t.Helper()
	caDir := t.TempDir()
	if _, _, _, err := ca.Load(caDir, "", ""); err != nil { // the installation CA every node is given
		t.Fatal(err)
	}
	mc := &mnCluster{etcd: c}
	for i := range n {
		nd := &mnNode{name: fmt.Sprintf("node-%c", 'a'+i), metricsAddr: serveproc.FreeAddr(t),
			prefix: netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", 201+i))}
		addr := serveproc.FreeAddr(t)
		flags := []string{"--store", "etcd", "--etcd-endpoints", strings.Join(c.Endpoints(), ","),
			"--ca-cert", filepath.Join(caDir, ca.CertFile), "--ca-key", filepath.Join(caDir, ca.KeyFile),
			"--node-name", nd.name, "--metrics-addr", nd.metricsAddr,
			"--ingress-cidr", mnInstallation, "--node-ingress-prefix", nd.prefix.String(),
			// No VPC DNS (it would want port 53 and resolv.conf): the data
			// plane is called by address and Host header.
			"--dns-port", "0"}
		nd.Server = serveproc.Start(t, serveproc.Options{DataDir: filepath.Join(t.TempDir(), nd.name), Addr: addr,
			Flags: flags, Env: []string{"TRELLIS_ROOT_ACCESS_KEY_ID=" + mnKeyID, "TRELLIS_ROOT_SECRET_ACCESS_KEY=" + mnSecret},
			Name: nd.name})
		nd.c = client(addr, mnKeyID, mnSecret)
		mc.nodes = append(mc.nodes, nd)
	}
	return mc
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// revision is the store revision of the snapshot the node serves, read
// from its /metrics (trellis_snapshot_revision); -1 when unreadable.
func (n *mnNode) revision() float64 { return n.gauge("trellis_snapshot_revision") }

// gauge is the value of an unlabelled gauge on the node's /metrics; -1 when
// unreadable.
func (n *mnNode) gauge(name string) float64 {
	resp, err := http.Get("http://" + n.metricsAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return -1
	}
	for _, m := range mf[name].GetMetric() {
		return m.GetGauge().GetValue()
	}
	return -1
}

// converge waits until every node serves the snapshot of the same
// revision, and returns it.
func (mc *mnCluster) converge(t testing.TB, d time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var revs []float64
		for _, nd := range mc.nodes {
			revs = append(revs, nd.revision())
		}
		if revs[0] > 0 && !slices.ContainsFunc(revs, func(r float64) bool { return r != revs[0] }) {
			return revs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes serve snapshots of revisions %v after %v, want one revision", revs, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mnService is a service with an HTTP listener on port, callable from
// mnClientVPC, and its own target group (a target group serves one
// service) of the backend.
type mnService struct {
	svc      *vpclattice.CreateServiceOutput
	listener *vpclattice.CreateListenerOutput
	tg       *string
	host     string
}

// mnWorld makes, through node nd, a network that mnClientVPC is associated
// with and nsvc services in it, each with a target group of the backend on
// 127.0.0.1:backendPort and a listener on port that answers a fixed 404
// until it is switched to forward (setAction). It returns the services
// and the client VPC's stored ingress address.
func mnWorld(t testing.TB, nd *mnNode, backendPort, port int32, nsvc int) ([]*mnService, string) {
	t.Helper()
	ctx := context.Background()
	c := nd.c
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("multinode")})).ok(t)
	need(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(mnClientVPC)})).ok(t)
	var out []*mnService
	for i := range nsvc {
		tg := need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("backend%d", i)), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(backendPort), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000e")}})).ok(t)
		need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: []types.Target{{Id: aws.String("127.0.0.1")}}})).ok(t)
		svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("svc%d", i))})).ok(t)
		l := need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
			Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: fixed404()})).ok(t)
		need(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id})).ok(t)
		out = append(out, &mnService{svc: svc, listener: l, tg: tg.Id, host: *svc.DnsEntry.DomainName})
	}
	return out, vpcIngress(t, nd.Addr, mnKeyID, mnSecret, mnClientVPC)
}

func fixed404() types.RuleAction {
	return &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}
}

func forwardTo(tg *string) types.RuleAction {
	return &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg}}}}
}

// setAction switches a service's listener to action through c.
func setAction(ctx context.Context, c *vpclattice.Client, s *mnService, action types.RuleAction) error {
	_, err := c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: s.svc.Id, ListenerIdentifier: s.listener.Id, DefaultAction: action})
	return err
}

func needTB[T any](v T, err error) resultTB[T] { return resultTB[T]{v, err} }

type resultTB[T any] struct {
	v   T
	err error
}

func (r resultTB[T]) ok(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// dpClient calls the data plane: keep-alive connections, a bound on every
// request so that a hang is a failure, not a stuck test.
func dpClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}}
}

// status is the status of GET http://addr:port/ with Host host (0 and the
// error when there is no answer).
func status(hc *http.Client, addr string, port int32, host string) (int, string, error) {
	req, err := http.NewRequest("GET", fmt.Sprintf("http://%s:%d/", addr, port), nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitStatus polls until addr answers want for host, returning when it
// first did; it fails the test after d.
func waitStatus(t testing.TB, hc *http.Client, addr string, port int32, host string, want int, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st, body, err := status(hc, addr, port, host)
		if st == want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:%d (Host %s) answers %d %q %v after %v, want %d", addr, port, host, st, body, err, d, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func newBackendServer(t testing.TB) int32 {
	t.Helper()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "backend") }))
	t.Cleanup(b.Close)
	return int32(b.Listener.Addr().(*net.TCPAddr).Port)
}

// percentile is the p-th percentile (0..100) of sorted samples, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TestMultiNodePropagation: three nodes on one etcd; every node serves the
// client VPC at its own address (the API reports the stored one, where no
// node listens); a write through node A is served by B's and C's data
// planes. Write → first 200 on B is measured over 30 writes and logged
// (speed belongs in BenchmarkMultiNodePropagation; the bound here only
// catches a write that never arrives).
func TestMultiNodePropagation(t *testing.T) {
	mc := startNodes(t, etcdtest.Start(t), 3)
	a, b, c := mc.nodes[0], mc.nodes[1], mc.nodes[2]
	const port = 18401
	svcs, stored := mnWorld(t, a, newBackendServer(t), port, 3)
	for _, nd := range mc.nodes {
		if got := vpcIngress(t, nd.Addr, mnKeyID, mnSecret, mnClientVPC); got != stored {
			t.Fatalf("%s's API reports the VPC at %s, node A's at %s: the API must report the stored address", nd.name, got, stored)
		}
	}
	hc := dpClient()
	// Each node's own address answers (404 until a listener forwards);
	// the stored address is no node's.
	for _, nd := range mc.nodes {
		waitStatus(t, hc, nd.ingress(t, stored), port, svcs[0].host, 404, 10*time.Second)
	}
	if st, _, err := status(hc, stored, port, svcs[0].host); err == nil {
		t.Fatalf("the stored address %s answers %d: some node serves it despite --node-ingress-prefix", stored, st)
	}

	ctx := context.Background()
	ingB, ingC := b.ingress(t, stored), c.ingress(t, stored)
	var lags []time.Duration
	for i := range 30 {
		s := svcs[i%len(svcs)]
		if err := setAction(ctx, a.c, s, forwardTo(s.tg)); err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		lags = append(lags, waitStatus(t, hc, ingB, port, s.host, 200, 5*time.Second).Sub(acked))
		waitStatus(t, hc, ingC, port, s.host, 200, 5*time.Second)
		// Back to 404 for the next round of this service.
		if err := setAction(ctx, a.c, s, fixed404()); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, hc, ingB, port, s.host, 404, 5*time.Second)
	}
	slices.Sort(lags)
	t.Logf("write through A → first 200 on B over %d writes: p50 %v, p99 %v, max %v",
		len(lags), percentile(lags, 50), percentile(lags, 99), lags[len(lags)-1])
	t.Logf("every node at revision %v", mc.converge(t, 5*time.Second))
}

// load is clients calling the data plane: startLoad sends GETs to each
// address from two goroutines until end, counting the answers that are
// not the status wanted (no answer counts too) as failed.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErrs  []string
	wg         sync.WaitGroup
	stop       chan struct{}
}

func startLoad(addrs []string, port int32, host string, want int) *load {
	l := &load{stop: make(chan struct{})}
	hc := dpClient()
	for _, addr := range addrs {
		for range 2 {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				for {
					select {
					case <-l.stop:
						return
					default:
					}
					st, body, err := status(hc, addr, port, host)
					if st == want && err == nil {
						l.ok.Add(1)
						continue
					}
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.firstErrs) < 5 {
						l.firstErrs = append(l.firstErrs, fmt.Sprintf("%s: %d %q %v", addr, st, body, err))
					}
					l.mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}
	}
	return l
}

// end stops the load and fails the test on any failed request.
func (l *load) end(t testing.TB, what string) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("%s: %d requests answered, %d failed", what, l.ok.Load(), l.failed.Load())
	if l.failed.Load() > 0 || l.ok.Load() == 0 {
		t.Fatalf("%s: %d of %d data-plane requests failed: %q", what, l.failed.Load(), l.ok.Load()+l.failed.Load(), l.firstErrs)
	}
}

// writes are the acknowledged writes of writer goroutines: target groups
// made and targets registered, as acknowledged by the API.
type writes struct {
	mu      sync.Mutex
	tgs     map[string]bool            // target group ID
	targets map[string]map[string]bool // target group ID → target IDs
	failed  []string
	acked   atomic.Int64
}

func newWrites() *writes {
	return &writes{tgs: map[string]bool{}, targets: map[string]map[string]bool{}}
}

// run starts writers goroutines that write CreateTargetGroup then
// RegisterTargets (three targets) through c until stop, recording what was
// acknowledged; the WaitGroup ends when they have.
func (w *writes) run(c *vpclattice.Client, writers int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				tg, err := c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("w%d-%d", g, i)), Type: types.TargetGroupTypeIp,
					Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000e")}})
				if err != nil {
					cancel()
					w.fail(err)
					continue
				}
				w.mu.Lock()
				w.tgs[*tg.Id] = true
				w.mu.Unlock()
				w.acked.Add(1)
				ids := []string{fmt.Sprintf("10.%d.%d.1", g, i%250), fmt.Sprintf("10.%d.%d.2", g, i%250), fmt.Sprintf("10.%d.%d.3", g, i%250)}
				var targets []types.Target
				for _, id := range ids {
					targets = append(targets, types.Target{Id: aws.String(id)})
				}
				out, err := c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: targets})
				cancel()
				if err != nil {
					w.fail(err)
					continue
				}
				if len(out.Unsuccessful) > 0 {
					w.fail(fmt.Errorf("RegisterTargets: unsuccessful %+v", out.Unsuccessful))
					continue
				}
				w.mu.Lock()
				w.targets[*tg.Id] = map[string]bool{ids[0]: true, ids[1]: true, ids[2]: true}
				w.mu.Unlock()
				w.acked.Add(1)
			}
		}()
	}
	return &wg
}

func (w *writes) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.failed) < 1000 {
		w.failed = append(w.failed, err.Error())
	}
}

// check fails the test unless every acknowledged write is there, read
// through c.
func (w *writes) check(t testing.TB, c *vpclattice.Client) {
	t.Helper()
	ctx := context.Background()
	have := map[string]bool{}
	p := vpclattice.NewListTargetGroupsPaginator(c, &vpclattice.ListTargetGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range page.Items {
			have[*tg.Id] = true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.tgs {
		if !have[id] {
			t.Errorf("acknowledged target group %s is lost", id)
		}
	}
	for tg, ids := range w.targets {
		got := map[string]bool{}
		p := vpclattice.NewListTargetsPaginator(c, &vpclattice.ListTargetsInput{TargetGroupIdentifier: aws.String(tg)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page.Items {
				got[*x.Id] = true
			}
		}
		for id := range ids {
			if !got[id] {
				t.Errorf("acknowledged target %s of %s is lost", id, tg)
			}
		}
	}
}

// TestMultiNodeKilledDuringWrites: node A is killed with SIGKILL while four
// SDK writers write through it; every write A acknowledged before it died
// is there when read through node B.
func TestMultiNodeKilledDuringWrites(t *testing.T) {
	mc := startNodes(t, etcdtest.Start(t), 2)
	a, b := mc.nodes[0], mc.nodes[1]
	w := newWrites()
	stop := make(chan struct{})
	wg := w.run(a.c, 4, stop)
	deadline := time.Now().Add(10 * time.Second)
	for w.acked.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	a.Kill(t) // mid-stream: four writes are in flight
	close(stop)
	wg.Wait()
	if w.acked.Load() < 40 {
		t.Fatalf("only %d writes acknowledged before the kill: the test would prove little", w.acked.Load())
	}
	t.Logf("%d writes acknowledged before the kill; %d answered an error (in flight or after)", w.acked.Load(), len(w.failed))
	w.check(t, b.c)
}

// leader returns the etcd member that leads the cluster (its
// /v3/maintenance/status through etcd's JSON gateway), or nil.
func leader(c *etcdtest.Cluster) *etcdtest.Member {
	for _, m := range c.Members {
		resp, err := http.Post(m.ClientURL+"/v3/maintenance/status", "application/json", strings.NewReader("{}"))
		if err != nil {
			continue
		}
		var st struct {
			Header struct {
				MemberID string `json:"member_id"`
			} `json:"header"`
			Leader string `json:"leader"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err == nil && st.Leader != "" && st.Leader == st.Header.MemberID {
			return m
		}
	}
	return nil
}

// TestMultiNodeEtcdMemberKilled: in a three-member etcd cluster, the leader
// is killed while clients call every node's data plane and an SDK writer
// (retries on, as the SDK's default) writes through node A: no data-plane
// request fails, writes go on after the kill, and none acknowledged is
// lost (read through node C).
func TestMultiNodeEtcdMemberKilled(t *testing.T) {
	ec := etcdtest.StartCluster(t, 3)
	mc := startNodes(t, ec, 3)
	a, c := mc.nodes[0], mc.nodes[2]
	const port = 18402
	svcs, stored := mnWorld(t, a, newBackendServer(t), port, 1)
	if err := setAction(context.Background(), a.c, svcs[0], forwardTo(svcs[0].tg)); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, nd := range mc.nodes {
		addrs = append(addrs, nd.ingress(t, stored))
		waitStatus(t, dpClient(), nd.ingress(t, stored), port, svcs[0].host, 200, 10*time.Second)
	}
	l := startLoad(addrs, port, svcs[0].host, 200)
	retrying := serveproc.Lattice(a.URL, mnKeyID, mnSecret)
	w := newWrites()
	stop := make(chan struct{})
	wg := w.run(retrying, 1, stop)
	time.Sleep(time.Second)
	victim := leader(ec)
	if victim == nil {
		victim = ec.Members[0]
		t.Logf("no leader found through the JSON gateway: killing %s", victim.Name)
	}
	before := w.acked.Load()
	victim.Kill()
	killed := time.Now()
	t.Logf("killed etcd member %s (the leader) after %d acknowledged writes", victim.Name, before)
	// Writes resume once the two members left elect a leader (etcd's
	// election timeout is a second; a write in flight waits for it, up to
	// its bound): five more acknowledged within 10 s. On a quiet machine
	// this takes about a second; a loaded CI machine under -race has
	// needed more than 3.
	for w.acked.Load()-before < 5 && time.Since(killed) < 10*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	resumed := time.Since(killed)
	time.Sleep(time.Second) // and they keep going
	close(stop)
	wg.Wait()
	l.end(t, "data plane while an etcd member dies")
	if after := w.acked.Load() - before; after < 5 {
		t.Fatalf("only %d writes acknowledged in the 10 s after the member died; errors: %q", after, w.failed)
	}
	t.Logf("writes resumed within %v of the kill", resumed.Round(time.Millisecond))
	t.Logf("%d writes acknowledged in all, %d answered an error", w.acked.Load(), len(w.failed))
	w.check(t, c.c)
}

// restartMember starts etcd member m again on its data directory and
// ports (etcdtest's Kill leaves them), as a single-member cluster's only
// member, and stops it when the test ends.
func restartMember(t testing.TB, m *etcdtest.Member) {
	t.Helper()
	bin := etcdtest.Binary(t)
	cmd := exec.Command(bin, "--name", m.Name, "--data-dir", m.Dir,
		"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", m.Name+"="+m.PeerURL,
		"--max-txn-ops", "10000", "--max-request-bytes", "10485760", "--logger", "zap", "--log-level", "warn")
	log, err := os.Create(filepath.Join(t.TempDir(), m.Name+"-restarted.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("restarted etcd %s log:\n%s", m.Name, lastBytes(string(b), 4096))
		}
		log.Close()
	})
	hc := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := hc.Get(m.ClientURL + "/health")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(b), `"health":"true"`) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted etcd %s is not healthy: %v", m.Name, err)
		}
	}
}

// TestMultiNodeEtcdStopped: etcd stops entirely under load. Every node
// keeps serving its last snapshot with no failed request and reports that
// it cannot reach the store and how stale it is; a write answers the
// retryable InternalServerException and nothing of it is acknowledged.
// etcd started again on the same data directory and ports: writes work,
// every node serves them and reports itself current again.
func TestMultiNodeEtcdStopped(t *testing.T) {
	ec := etcdtest.Start(t)
	mc := startNodes(t, ec, 3)
	a := mc.nodes[0]
	const port = 18403
	svcs, stored := mnWorld(t, a, newBackendServer(t), port, 2)
	if err := setAction(context.Background(), a.c, svcs[0], forwardTo(svcs[0].tg)); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, nd := range mc.nodes {
		addrs = append(addrs, nd.ingress(t, stored))
		waitStatus(t, dpClient(), nd.ingress(t, stored), port, svcs[0].host, 200, 10*time.Second)
	}
	before := mc.converge(t, 5*time.Second)
	l := startLoad(addrs, port, svcs[0].host, 200)
	time.Sleep(300 * time.Millisecond)
	ec.Members[0].Kill()

	// A write while etcd is away: an error, within the SDK's patience.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	_, err := a.c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: svcs[1].svc.Id, ListenerIdentifier: svcs[1].listener.Id,
		DefaultAction: forwardTo(svcs[1].tg)})
	cancel()
	if err == nil {
		t.Fatal("a write was acknowledged while etcd was stopped")
	}
	var ise *types.InternalServerException
	if !errors.As(err, &ise) || !strings.Contains(ise.ErrorMessage(), "unreachable") {
		t.Fatalf("write while etcd is stopped: %v, want InternalServerException saying the store is unreachable", err)
	}
	t.Logf("write while etcd is stopped: %v", err)
	time.Sleep(time.Second) // serving on, a while longer
	for _, nd := range mc.nodes {
		if r, s := nd.gauge("trellis_store_reachable"), nd.gauge("trellis_snapshot_stale_seconds"); r != 0 || s <= 0 {
			t.Errorf("node %s while etcd is stopped: trellis_store_reachable %v, trellis_snapshot_stale_seconds %v; want 0 and > 0", nd.name, r, s)
		}
	}
	l.end(t, "data plane while etcd is stopped")

	restartMember(t, ec.Members[0])
	// Nothing of the refused write was applied: service 1 still answers
	// 404 on every node.
	hc := dpClient()
	for _, addr := range addrs {
		if st, body, err := status(hc, addr, port, svcs[1].host); st != 404 {
			t.Fatalf("%s after etcd's return, before any write: %d %q %v, want 404 (the refused write must change nothing)", addr, st, body, err)
		}
	}
	// etcd is back: a write (the SDK retries while the nodes reconnect)
	// is acknowledged and every node converges on it.
	retrying := serveproc.Lattice(a.URL, mnKeyID, mnSecret, func(o *vpclattice.Options) { o.RetryMaxAttempts = 10 })
	ctx, cancel = context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := setAction(ctx, retrying, svcs[1], forwardTo(svcs[1].tg)); err != nil {
		t.Fatalf("write after etcd's return: %v", err)
	}
	for _, addr := range addrs {
		waitStatus(t, hc, addr, port, svcs[1].host, 200, 10*time.Second)
	}
	if rev := mc.converge(t, 10*time.Second); rev <= before {
		t.Fatalf("the nodes converged on revision %v, not past %v (before etcd stopped)", rev, before)
	}
	for _, nd := range mc.nodes {
		deadline := time.Now().Add(5 * time.Second)
		for nd.gauge("trellis_store_reachable") != 1 || nd.gauge("trellis_snapshot_stale_seconds") != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("node %s after etcd's return: trellis_store_reachable %v, trellis_snapshot_stale_seconds %v; want 1 and 0", nd.name,
					nd.gauge("trellis_store_reachable"), nd.gauge("trellis_snapshot_stale_seconds"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// SIGTERM on nodes whose etcd went away and came back: each exits
	// cleanly within its shutdown timeout (the default 15 s), here well
	// within it: what only tidies etcd is bounded (docs/etcd.md).
	for _, nd := range mc.nodes {
		start := time.Now()
		nd.Stop(t)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("node %s took %v to stop after SIGTERM", nd.name, d)
		}
	}
}
