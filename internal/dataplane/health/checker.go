// Package health is the data plane's active health checker: it probes the
// targets of the target groups listeners use, following the Lattice model
// (reference §6), and records each target's status in the upstream
// registry, where the proxy reads it on the request path and the control
// plane reads it for ListTargets (through TargetStatus).
//
// No goroutine per target: one scheduler keeps a timer heap of the probed
// targets, ordered by when each is due, and starts a check in its own
// goroutine when one is due, at most Config.MaxConcurrentChecks at a time.
// A probed target costs a small struct and a heap slot (see
// BenchmarkChecker10k), and the HTTP clients are shared per protocol (a
// fresh connection per check all the same, as Lattice closes the probe
// connection after each check).
//
// When checks start:
//   - on the checker's first Sync (a restart), the first checks of the
//     targets are spread at random over their interval, so that thousands
//     of targets neither delay the start nor all probe at once; until its
//     first check a target is INITIAL (and takes traffic);
//   - a target that appears in a later Sync (registered while running, or
//     its group now in use) is checked at once: Lattice makes a new target
//     HEALTHY after one passing check, and that should not wait an interval;
//   - a target whose check configuration changed is checked again within a
//     second (spread), keeping its status.
//
// Then each target is checked every interval, counted from the start of its
// previous check.
//
// Sync reconciles the probed targets with the current snapshot: a target
// whose configuration did not change keeps its schedule, state and counters
// across the swap; one whose configuration changed restarts with the new
// one; targets that left are no longer probed, and a check of theirs still
// running is cancelled and its result dropped.
//
// Sync costs what changed, not what there is: snapshots are immutable and
// the incremental compile shares every target group a change did not touch
// (the same *snapshot.TargetGroup), so Sync looks again only at the groups
// that are new objects, new or gone since the last Sync, and those whose
// VPC's network (Config.Net) is another one. Reclassifying every target
// after every snapshot took 42% of the CPU with 100,000 targets under a
// stream of API writes (issue 15).
//
// health imports snapshot, upstream and model; never store, service or api.
package health

import (
	"container/heap"
	"context"
	"crypto/tls"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// UserAgent is the User-Agent header of every probe.
const UserAgent = "Trellis-HealthChecker/1.0"

// ReasonHealthCheckFailed is the reason code of an UNHEALTHY target, the
// general code Lattice documents. The precise cause (timeout, refused
// connection, unexpected status) goes to the log at Debug level.
const ReasonHealthCheckFailed = "HealthCheckFailed"

// DefaultMaxConcurrentChecks is the default of Config.MaxConcurrentChecks.
const DefaultMaxConcurrentChecks = 512

// Config configures a Checker.
type Config struct {
	// Holder publishes the snapshot Sync reconciles with. Required.
	Holder *snapshot.Holder
	// Registry receives each target's status (State.SetHealth); the proxy
	// reads the same registry. Required.
	Registry *upstream.Registry
	// Logger receives transitions (Info) and probe failures with their
	// cause (Debug). Default: discard.
	Logger *slog.Logger
	// Now is the clock of the probe durations reported in log lines
	// (default time.Now). Probe scheduling uses real timers.
	Now func() time.Time
	// MinInterval is a floor on the time between two probes of a target,
	// applied after IntervalScale (default 0: no floor).
	MinInterval time.Duration
	// IntervalScale is the length of one configured second of
	// HealthCheckIntervalSeconds and HealthCheckTimeoutSeconds (default
	// time.Second). A test knob: with 10ms, an interval of 1 probes every
	// 10ms and a timeout of 5 gives up after 50ms.
	IntervalScale time.Duration
	// MaxConcurrentChecks bounds the checks in flight; a due check waits
	// for a free slot (default DefaultMaxConcurrentChecks).
	MaxConcurrentChecks int
	// Net gives the network of each VPC (vpcnet): a target group's targets
	// are probed from the network of its VPC, as the proxy dials them. Nil,
	// or a nil Net for a VPC, is the host's network.
	Net vpcnet.Lookup
	// OnCheck, when set, is told the result of every check that counts
	// (not one stopped mid-way): the target group's ID and whether it
	// passed (the metrics' trellis_health_checks_total). Called from the
	// check's goroutine; it must not block.
	OnCheck func(targetGroupID string, passed bool)
	// OnTransition, when set, is told the registry key of a target whose
	// status a check just changed; OnSync the IDs of the target groups a
	// Sync looked at again (new, changed or gone since the last Sync),
	// whose targets may have come, gone or changed status. Together they
	// say everything that changes what TargetStatus answers, so a node can
	// publish its statuses without reading them all (internal/cluster).
	// Called without the checker's lock; they must not block.
	OnTransition func(key string)
	OnSync       func(targetGroupIDs []string)
}

// Checker runs the active health checks. Its methods are safe for
// concurrent use.
type Checker struct {
	cfg     Config
	log     *slog.Logger
	clients [4]*http.Client // by clientKind
	// netClients are the clients of targets in networks other than the
	// host's (Config.Net); guarded by mu (Sync builds and prunes them).
	netClients map[netClient]*http.Client
	epoch      time.Time // the scheduler's clock counts from here (monotonic)

	ctx    context.Context // parent of every check; canceled by Close
	cancel context.CancelFunc
	wake   chan struct{} // nudges the scheduler (capacity 1)
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	synced  bool // a Sync ran: targets new to a later one are checked at once
	started bool // the scheduler goroutine runs
	probers map[string]*prober
	// groups is what the last Syncs made of each target group, by ID; the
	// keys of their probers are exactly those of probers.
	groups map[string]*groupSync
	// seq is the Seq of the snapshot the last Sync made groups of (0:
	// none, or one without history): Sync asks the next snapshot what
	// changed since (snapshot.TargetGroupsChangedSince).
	seq uint64
	// vpcs are the VPCs whose targets are probed, by ID.
	vpcs    map[string]*vpcUse
	queue   queue // probers waiting for their next check, soonest first
	running int   // checks in flight
}

// New returns a Checker. It probes nothing until Sync (or Run) is called.
func New(cfg Config) *Checker {
	if cfg.Holder == nil || cfg.Registry == nil {
		panic("health: Config.Holder and Config.Registry are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IntervalScale <= 0 {
		cfg.IntervalScale = time.Second
	}
	if cfg.MaxConcurrentChecks <= 0 {
		cfg.MaxConcurrentChecks = DefaultMaxConcurrentChecks
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Checker{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "health"),
		epoch:      time.Now(),
		ctx:        ctx,
		cancel:     cancel,
		wake:       make(chan struct{}, 1),
		probers:    map[string]*prober{},
		groups:     map[string]*groupSync{},
		vpcs:       map[string]*vpcUse{},
		netClients: map[netClient]*http.Client{},
	}
	for k := range c.clients {
		c.clients[k] = newClient(clientKind(k), nil)
	}
	return c
}

// netClient names the client of one kind of check in one network.
type netClient struct {
	net  vpcnet.Net
	kind clientKind
}

// clientKind is the protocol of a check: which shared client runs it.
type clientKind int

const (
	kindHTTP1 clientKind = iota
	kindHTTPS1
	kindH2C
	kindH2
)

// newClient returns the client of one kind of check. Every check gets a
// fresh connection (DisableKeepAlives: the connection closes when the
// response ends, for HTTP/2 too), as Lattice closes the probe connection
// after each check; the check's context bounds the dial, the TLS handshake
// and the whole response.
// A client of network n (non-nil) dials from inside it.
func newClient(k clientKind, n vpcnet.Net) *http.Client {
	var protos http.Protocols
	switch k {
	case kindHTTP1, kindHTTPS1:
		protos.SetHTTP1(true)
	case kindH2:
		protos.SetHTTP2(true)
	case kindH2C:
		protos.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	}
	d := &net.Dialer{KeepAlive: -1}
	dial := d.DialContext
	if n != nil {
		dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			return n.Dial(ctx, d, network, address)
		}
	}
	tr := &http.Transport{
		Proxy:       nil, // probes go straight to the target
		DialContext: dial,
		// Lattice does not validate target certificates.
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // by design
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
		Protocols:              &protos,
	}
	return &http.Client{
		Transport: tr,
		// A redirect is an answer: its status is judged by the matcher.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run calls Sync once, then again after every value on changes, until ctx
// ends or changes is closed. It does not stop the checks: Close does.
func (c *Checker) Run(ctx context.Context, changes <-chan struct{}) {
	c.Sync()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
			c.Sync()
		}
	}
}

// Close stops every check and waits for those in flight. The recorded
// states stay in the registry. Sync after Close does nothing.
func (c *Checker) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	stopped := make([]*prober, 0, len(c.probers))
	for key, p := range c.probers {
		c.stop(p)
		stopped = append(stopped, p)
		delete(c.probers, key)
	}
	inFlight := c.inFlight(stopped)
	c.mu.Unlock()
	finish(inFlight)
	c.cancel()
	c.wg.Wait()
	for _, cl := range c.clients {
		cl.CloseIdleConnections()
	}
}

// TargetStatus reports a target's status as ListTargets shows it:
// HEALTHY, UNHEALTHY (with its reason code) or INITIAL for probed targets
// (INITIAL until the first check ends: "initial checks running", reference
// §6), UNAVAILABLE for targets whose checks are disabled or not applicable;
// ok=false when the registry knows nothing of the target. It satisfies
// service.TargetHealth.
func (c *Checker) TargetStatus(targetGroupID, targetID string, port int) (status, reason string, ok bool) {
	st, ok := c.cfg.Registry.Lookup(upstream.TargetKey(targetGroupID, targetID, port))
	if !ok {
		return "", "", false
	}
	h, r := st.Health()
	switch h {
	case upstream.HealthHealthy:
		return model.TargetStatusHealthy, "", true
	case upstream.HealthUnhealthy:
		return model.TargetStatusUnhealthy, r, true
	case upstream.HealthUnchecked:
		return model.TargetStatusUnavailable, "", true
	}
	return model.TargetStatusInitial, "", true
}

// Sync reconciles the probed targets with the current snapshot:
//   - every target (registered or draining) of an in-use IP or INSTANCE
//     target group with checks enabled is probed at its address (an
//     INSTANCE target's is its running instance's, resolved at compile
//     time); a new one starts INITIAL, one whose
//     configuration changed restarts from the target's current status, an
//     unchanged one keeps its schedule untouched;
//   - targets of groups whose checks are disabled or not applicable
//     (LAMBDA and ALB targets, as in Lattice; a target without a valid
//     address) are HealthUnchecked, in use or not;
//   - targets of groups no longer in use stop being probed and go back to
//     INITIAL (the control plane reports UNUSED for them);
//   - targets that left the snapshot stop being probed.
//
// No check of a target that stopped being probed (or restarted) records a
// result after Sync returns.
func (c *Checker) Sync() {
	snap := c.cfg.Holder.Load()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	var tgs snapshot.Table[*snapshot.TargetGroup]
	var seq uint64
	if snap != nil {
		tgs, seq = snap.TargetGroups, snap.Seq
	}
	// The groups to look at again: those that are not the object the last
	// Sync classified (changed or new), and those gone. A shared group
	// needs nothing: its targets' states and probers are already what it
	// asks for, and nothing but the checker changes them. The snapshot
	// says which groups may have changed since the one the last Sync saw
	// (the incremental compile shares the others), however many snapshots
	// Run's coalescing channel skipped; when it cannot tell (a full
	// compile, the first Sync), every group is compared (issue 15: that
	// scan of 10,000 groups per snapshot was 15% of the CPU under writes).
	dirty := map[string]bool{}
	changed, ok := []string(nil), false
	if snap != nil {
		changed, ok = snap.TargetGroupsChangedSince(c.seq)
	}
	if ok {
		for _, id := range changed {
			if g := c.groups[id]; g == nil || g.tg != tgs.Get(id) {
				dirty[id] = true
			}
		}
	} else {
		known := 0
		for id, tg := range tgs.All() {
			g := c.groups[id]
			if g != nil {
				known++
			}
			if g == nil || g.tg != tg {
				dirty[id] = true
			}
		}
		if known < len(c.groups) {
			for id := range c.groups {
				if _, ok := tgs.Lookup(id); !ok {
					dirty[id] = true
				}
			}
		}
	}
	c.seq = seq
	// The network of each VPC, looked up once per Sync so that all the
	// groups of a VPC are probed from the same one. A VPC whose network is
	// another one (its namespace made, made again or gone; the vpcnet
	// runner tells the checker after each of its syncs) restarts the
	// probing of its groups, changed or not.
	nets := map[string]vpcnet.Net{}
	if c.cfg.Net != nil && len(c.vpcs) > 0 {
		var moved map[string]bool
		for id, u := range c.vpcs {
			n := c.cfg.Net(id)
			nets[id] = n
			if n != u.net {
				if moved == nil {
					moved = map[string]bool{}
				}
				moved[id] = true
			}
		}
		if moved != nil {
			for id, g := range c.groups {
				if len(g.keys) > 0 && moved[g.vpc] {
					dirty[id] = true
				}
			}
		}
	}

	want := map[string]*plan{}
	var unchecked, unused []string
	clients := len(c.netClients)
	next := make(map[string]*groupSync, len(dirty))
	for id := range dirty {
		if tg := tgs.Get(id); tg != nil {
			next[id] = c.classify(tg, want, &unchecked, &unused, nets)
		}
	}

	// Stop the probers of the groups looked at that are no longer wanted
	// or whose configuration changed. Their checks in flight will record
	// nothing; they get a moment to end (below, without the lock) before
	// they are cancelled, so that none is still talking to its target
	// when Sync returns.
	var stopped []*prober
	restarted := map[string]bool{}
	for id := range dirty {
		old := c.groups[id]
		if old == nil {
			continue
		}
		for _, key := range old.keys {
			p := c.probers[key]
			if p == nil {
				continue
			}
			w, ok := want[key]
			if ok && p.same(w) {
				continue
			}
			c.stop(p)
			stopped = append(stopped, p)
			delete(c.probers, key)
			if ok {
				restarted[key] = true
			}
		}
	}
	inFlight := c.inFlight(stopped)

	// What the groups looked at are now, and the VPCs probes use.
	netsChanged := len(c.netClients) != clients
	for id := range dirty {
		if old := c.groups[id]; old != nil && len(old.keys) > 0 {
			if u := c.vpcs[old.vpc]; u != nil {
				if u.groups--; u.groups <= 0 {
					delete(c.vpcs, old.vpc)
					netsChanged = true
				}
			}
		}
		g := next[id]
		if g == nil {
			delete(c.groups, id)
			continue
		}
		c.groups[id] = g
		if len(g.keys) > 0 {
			u := c.vpcs[g.vpc]
			if u == nil {
				u = &vpcUse{net: g.net}
				c.vpcs[g.vpc] = u
				netsChanged = true
			}
			if u.net != g.net {
				u.net = g.net
				netsChanged = true
			}
			u.groups++
		}
	}
	// Clients of networks no probed target uses any more (a deleted VPC, a
	// namespace made again) go; probes keep no idle connections.
	if netsChanged {
		for k := range c.netClients {
			used := false
			for _, u := range c.vpcs {
				if u.net == k.net {
					used = true
					break
				}
			}
			if !used {
				delete(c.netClients, k)
			}
		}
	}

	for _, key := range unchecked {
		st := c.cfg.Registry.Get(key)
		st.SetHealth(upstream.HealthUnchecked, "")
		st.SetCheckCycle(0)
	}
	for _, key := range unused {
		if st, ok := c.cfg.Registry.Lookup(key); ok {
			if h, _ := st.Health(); h != upstream.HealthInitial {
				st.SetHealth(upstream.HealthInitial, "")
			}
			st.SetCheckCycle(0)
		}
	}
	for _, p := range stopped {
		if _, ok := want[p.key]; !ok {
			p.state.SetCheckCycle(0) // left the snapshot
		}
	}

	now := c.clock()
	for key, w := range want {
		if _, ok := c.probers[key]; ok {
			continue
		}
		st := c.cfg.Registry.Get(key)
		start := upstream.HealthInitial
		interval := w.g.spec.interval
		var delay time.Duration
		switch {
		case restarted[key]:
			// A configuration change restarts the probing, not the status:
			// the target keeps HEALTHY or UNHEALTHY until the new checks
			// cross a threshold.
			if h, _ := st.Health(); h == upstream.HealthHealthy || h == upstream.HealthUnhealthy {
				start = h
			}
			delay = jitter(min(interval/10, time.Second))
			c.log.Debug("health check configuration changed; probing restarts", "target", key)
		case c.synced:
			delay = 0 // a new target: check it now
		default:
			delay = jitter(interval) // a restart: spread the first checks
		}
		if start == upstream.HealthInitial {
			st.SetHealth(upstream.HealthInitial, "")
		}
		st.SetCheckCycle(w.g.spec.cycle())
		p := &prober{key: key, hostPort: w.hostPort, g: w.g, state: st, log: c.log, status: start, index: -1}
		c.probers[key] = p
		p.due = now + delay
		heap.Push(&c.queue, p)
	}
	c.synced = true
	if !c.started && len(c.probers) > 0 {
		c.started = true
		c.wg.Add(1)
		go c.schedule()
	}
	c.mu.Unlock()
	c.poke()
	finish(inFlight)
	if f := c.cfg.OnSync; f != nil && len(dirty) > 0 {
		ids := make([]string, 0, len(dirty))
		for id := range dirty {
			ids = append(ids, id)
		}
		f(ids)
	}
}

// stopGrace is how long a check in flight of a target that stops being
// probed may take to end before it is cancelled: most take a millisecond,
// and a check cut off mid-request leaves the target a half-written probe.
const stopGrace = 100 * time.Millisecond

// stop takes p out of the schedule; a check in flight records nothing.
// Called with c.mu held.
func (c *Checker) stop(p *prober) {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	if p.index >= 0 {
		heap.Remove(&c.queue, p.index)
	}
}

// running is a check in flight: its end and its cancel.
type running struct {
	done   chan struct{}
	cancel context.CancelFunc
}

// inFlight returns the checks in flight of ps. Called with c.mu held.
func (c *Checker) inFlight(ps []*prober) []running {
	var rs []running
	for _, p := range ps {
		if p.done != nil {
			rs = append(rs, running{p.done, p.cancel})
		}
	}
	return rs
}

// finish waits for the checks rs to end, cancelling those still running
// after stopGrace.
func finish(rs []running) {
	if len(rs) == 0 {
		return
	}
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	for i, r := range rs {
		select {
		case <-r.done:
			continue
		case <-grace.C:
		}
		for _, r := range rs[i:] {
			r.cancel()
		}
		for _, r := range rs[i:] {
			<-r.done
		}
		return
	}
}

// clock is the scheduler's time: monotonic, from the checker's creation.
func (c *Checker) clock() time.Duration { return time.Since(c.epoch) }

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// poke wakes the scheduler up to look at the queue again.
func (c *Checker) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// schedule starts the checks that are due, at most MaxConcurrentChecks at
// a time, and sleeps until the next one is due, a Sync changes the queue or
// a check ends.
func (c *Checker) schedule() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.mu.Lock()
		now := c.clock()
		wait := time.Duration(-1)
		for len(c.queue) > 0 && c.running < c.cfg.MaxConcurrentChecks {
			p := c.queue[0]
			if p.due > now {
				wait = p.due - now
				break
			}
			heap.Pop(&c.queue)
			c.startCheck(p)
		}
		c.mu.Unlock()
		if wait >= 0 {
			timer.Reset(wait)
		} else {
			timer.Stop()
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// startCheck runs one check of p in its own goroutine. Called with c.mu
// held.
func (c *Checker) startCheck(p *prober) {
	ctx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	p.cancel, p.done = cancel, done
	c.running++
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		started, startedAt := c.clock(), time.Now()
		cause := p.check(ctx, c)
		cancel()
		p.mu.Lock()
		if !p.stopped { // else stopped mid-check: the result belongs to nobody
			if p.record(cause, startedAt) && c.cfg.OnTransition != nil {
				c.cfg.OnTransition(p.key)
			}
			if f := c.cfg.OnCheck; f != nil {
				tg, _, _ := strings.Cut(p.key, "/") // the key is "<tg>/<id>/<port>"
				f(tg, cause == "")
			}
		}
		p.mu.Unlock()
		close(done) // before taking c.mu: Sync waits for it without holding c.mu

		c.mu.Lock()
		c.running--
		p.cancel, p.done = nil, nil
		if !p.stopped {
			p.due = max(started+p.g.spec.interval, c.clock())
			heap.Push(&c.queue, p)
		}
		c.mu.Unlock()
		c.poke()
	}()
}

// plan is what Sync wants for one probed target.
type plan struct {
	hostPort string
	g        *group
}

// groupSync is what a Sync made of one target group: the snapshot object it
// classified, and for a group with probed targets their keys and the VPC
// and network they are probed from.
type groupSync struct {
	tg   *snapshot.TargetGroup
	vpc  string     // the group's VPC (when keys is not empty)
	net  vpcnet.Net // that VPC's network at the Sync (nil: the host's)
	keys []string   // the keys of the group's probers
}

// vpcUse is a VPC whose targets are probed: the network its groups' probes
// use (Config.Net's at the Sync that classified them) and how many groups
// with probed targets it holds.
type vpcUse struct {
	net    vpcnet.Net
	groups int
}

// classify sorts the targets of tg into probed (want), unchecked and
// unused, and returns what the group is now. nets caches Config.Net's
// answer per VPC for the Sync.
func (c *Checker) classify(tg *snapshot.TargetGroup, want map[string]*plan, unchecked, unused *[]string, nets map[string]vpcnet.Net) *groupSync {
	sg := &groupSync{tg: tg}
	n := len(tg.Targets) + len(tg.Draining)
	if n == 0 {
		return sg
	}
	each := func(f func(t *snapshot.Target)) {
		for _, t := range tg.Targets {
			f(t)
		}
		for _, t := range tg.Draining {
			f(t)
		}
	}

	var hc *model.HealthCheckConfig
	if tg.HealthCheck != nil {
		// The compiler fills the defaults already; filling them again is a
		// no-op that protects against a hand-built snapshot.
		hc = model.WithHealthCheckDefaults(tg.HealthCheck, tg.ProtocolVersion)
	}
	applicable := hc != nil && *hc.Enabled &&
		(tg.Type == model.TargetGroupTypeIP || tg.Type == model.TargetGroupTypeInstance)
	if !applicable {
		each(func(t *snapshot.Target) { *unchecked = append(*unchecked, t.Key) })
		return sg
	}
	if !tg.InUse {
		each(func(t *snapshot.Target) { *unused = append(*unused, t.Key) })
		return sg
	}

	codes, err := model.ParseHTTPCodes(*hc.Matcher.HTTPCode)
	if err != nil {
		c.log.Warn("invalid health check matcher; using 200", "targetGroup", tg.ID,
			"matcher", *hc.Matcher.HTTPCode, "error", err)
		codes = []model.CodeRange{{Lo: 200, Hi: 200}}
	}
	var tnet vpcnet.Net
	if c.cfg.Net != nil {
		var ok bool
		if tnet, ok = nets[tg.VpcID]; !ok {
			tnet = c.cfg.Net(tg.VpcID)
			nets[tg.VpcID] = tnet
		}
	}
	g := c.groupFor(hc, codes, tnet)
	var keys []string
	each(func(t *snapshot.Target) {
		if !t.Addr.IsValid() || !t.Addr.Addr().IsValid() {
			c.log.Debug("target has no address to probe", "target", t.Key)
			*unchecked = append(*unchecked, t.Key)
			return
		}
		port := t.Addr.Port()
		if g.spec.port != 0 {
			port = g.spec.port
		}
		if _, dup := want[t.Key]; !dup {
			keys = append(keys, t.Key)
		}
		want[t.Key] = &plan{hostPort: netip.AddrPortFrom(t.Addr.Addr(), port).String(), g: g}
	})
	if len(keys) > 0 {
		sg.vpc, sg.net, sg.keys = tg.VpcID, tnet, keys
	}
	return sg
}

// spec is the check configuration a target group gives its targets; it is
// comparable, and a target's probing restarts when it changes.
type spec struct {
	scheme    string // http or https
	http2     bool   // h2c for http, h2 for https
	port      uint16 // the check's port; 0: the target's
	path      string
	interval  time.Duration
	timeout   time.Duration
	healthy   int // consecutive passes from UNHEALTHY to HEALTHY
	unhealthy int // consecutive failures to UNHEALTHY
	matcher   string
	// net is the network the targets are probed from (nil: the host's); a
	// new Net (a VPC's namespace made again) restarts the probing.
	net vpcnet.Net
}

// cycle bounds the time from any moment to the end of a target's next
// check: an interval and a timeout, and a second of slack for a check that
// starts or ends late on a busy machine.
func (s *spec) cycle() time.Duration { return s.interval + s.timeout + time.Second }

// group is the check configuration shared by the targets of one group.
type group struct {
	spec   spec
	codes  []model.CodeRange
	client *http.Client
}

// groupFor builds the group of a check configuration whose targets are in
// network n (nil: the host's). Called with c.mu held.
func (c *Checker) groupFor(hc *model.HealthCheckConfig, codes []model.CodeRange, n vpcnet.Net) *group {
	var port uint16
	if hc.Port != nil && *hc.Port > 0 && *hc.Port < 65536 {
		port = uint16(*hc.Port)
	}
	scheme := "http"
	if hc.Protocol == model.ProtocolHTTPS {
		scheme = "https"
	}
	interval := time.Duration(*hc.HealthCheckIntervalSeconds) * c.cfg.IntervalScale
	if interval < c.cfg.MinInterval {
		interval = c.cfg.MinInterval
	}
	if interval <= 0 {
		interval = time.Millisecond
	}
	timeout := time.Duration(*hc.HealthCheckTimeoutSeconds) * c.cfg.IntervalScale
	if timeout <= 0 {
		timeout = time.Millisecond
	}
	s := spec{
		scheme:    scheme,
		http2:     hc.ProtocolVersion == model.ProtocolVersionHTTP2,
		port:      port,
		path:      hc.Path,
		interval:  interval,
		timeout:   timeout,
		healthy:   max(*hc.HealthyThresholdCount, 1),
		unhealthy: max(*hc.UnhealthyThresholdCount, 1),
		matcher:   *hc.Matcher.HTTPCode,
		net:       n,
	}
	kind := kindHTTP1
	switch {
	case s.scheme == "https" && s.http2:
		kind = kindH2
	case s.scheme == "https":
		kind = kindHTTPS1
	case s.http2:
		kind = kindH2C
	}
	cl := c.clients[kind]
	if n != nil {
		k := netClient{net: n, kind: kind}
		if cl = c.netClients[k]; cl == nil {
			cl = newClient(kind, n)
			c.netClients[k] = cl
		}
	}
	return &group{spec: s, codes: codes, client: cl}
}

// queue is a min-heap of probers by due time (container/heap).
type queue []*prober

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].due < q[j].due }
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *queue) Push(x any) {
	p := x.(*prober)
	p.index = len(*q)
	*q = append(*q, p)
}
func (q *queue) Pop() any {
	old := *q
	n := len(old)
	p := old[n-1]
	old[n-1] = nil
	p.index = -1
	*q = old[:n-1]
	return p
}
