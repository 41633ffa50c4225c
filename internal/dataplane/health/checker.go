// Package health is the data plane's active health checker: it probes the
// targets of the target groups listeners use, following the Lattice model
// (reference §6), and records each target's status in the upstream
// registry, where the proxy reads it on the request path and the control
// plane reads it for ListTargets (through TargetStatus).
//
// One prober goroutine runs per probed target. Sync reconciles the probers
// with the current snapshot: a prober whose configuration did not change
// keeps running (and its state and counters survive the swap), one whose
// configuration changed restarts with the new one, and probers of targets
// that left are stopped.
//
// health imports snapshot, upstream and model; never store, service or api.
package health

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// UserAgent is the User-Agent header of every probe.
const UserAgent = "Trellis-HealthChecker/1.0"

// ReasonHealthCheckFailed is the reason code of an UNHEALTHY target, the
// general code Lattice documents. The precise cause (timeout, refused
// connection, unexpected status) goes to the log at Debug level.
const ReasonHealthCheckFailed = "HealthCheckFailed"

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
}

// Checker runs the active health checks. Its methods are safe for
// concurrent use.
type Checker struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // parent of every prober; canceled by Close
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	probers map[string]*prober // by target key
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
	ctx, cancel := context.WithCancel(context.Background())
	return &Checker{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "health"),
		ctx:     ctx,
		cancel:  cancel,
		probers: map[string]*prober{},
	}
}

// Run calls Sync once, then again after every value on changes, until ctx
// ends or changes is closed. It does not stop the probers: Close does.
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

// Close stops every prober and waits for them. The recorded states stay in
// the registry. Sync after Close does nothing.
func (c *Checker) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.cancel()
	for key, p := range c.probers {
		<-p.done
		delete(c.probers, key)
	}
}

// TargetStatus reports a target's status as ListTargets shows it:
// HEALTHY, UNHEALTHY (with its reason code) or INITIAL for probed targets,
// UNAVAILABLE for targets whose checks are disabled or not applicable;
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

// Sync reconciles the probers with the current snapshot:
//   - every target (registered or draining) of an in-use IP target group
//     with checks enabled has a prober; a new prober starts INITIAL, a
//     prober whose configuration changed restarts from the target's
//     current status, an unchanged prober keeps running untouched;
//   - targets of groups whose checks are disabled or not applicable
//     (LAMBDA, ALB, INSTANCE targets which have no address in host mode, an
//     IP target without a valid address) are HealthUnchecked, in use or not;
//   - targets of groups no longer in use stop being probed and go back to
//     INITIAL (the control plane reports UNUSED for them);
//   - probers of targets that left the snapshot are stopped.
func (c *Checker) Sync() {
	snap := c.cfg.Holder.Load()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}

	want := map[string]*plan{}
	var unchecked, unused []string
	if snap != nil {
		for _, tg := range snap.TargetGroups {
			c.classify(tg, want, &unchecked, &unused)
		}
	}

	// Stop the probers that are no longer wanted or whose configuration
	// changed; wait for them so that none writes a state after this point.
	var stopping []*prober
	restarted := map[string]bool{}
	for key, p := range c.probers {
		w, ok := want[key]
		if ok && w.spec == p.spec {
			continue
		}
		p.cancel()
		stopping = append(stopping, p)
		delete(c.probers, key)
		if ok {
			restarted[key] = true
		}
	}
	for _, p := range stopping {
		<-p.done
	}

	for _, key := range unchecked {
		c.cfg.Registry.Get(key).SetHealth(upstream.HealthUnchecked, "")
	}
	for _, key := range unused {
		if st, ok := c.cfg.Registry.Lookup(key); ok {
			if h, _ := st.Health(); h != upstream.HealthInitial {
				st.SetHealth(upstream.HealthInitial, "")
			}
		}
	}

	for key, w := range want {
		if _, ok := c.probers[key]; ok {
			continue
		}
		st := c.cfg.Registry.Get(key)
		start := upstream.HealthInitial
		if restarted[key] {
			// A configuration change restarts the probing, not the status:
			// the target keeps HEALTHY or UNHEALTHY until the new checks
			// cross a threshold.
			if h, _ := st.Health(); h == upstream.HealthHealthy || h == upstream.HealthUnhealthy {
				start = h
			}
			c.log.Debug("health check configuration changed; probing restarts", "target", key)
		}
		if start == upstream.HealthInitial {
			st.SetHealth(upstream.HealthInitial, "")
		}
		p := newProber(c, w, st, start)
		c.probers[key] = p
		go p.run()
	}
}

// plan is what Sync wants for one probed target.
type plan struct {
	spec  spec
	codes []model.CodeRange
}

// classify sorts the targets of tg into probed (want), unchecked and
// unused.
func (c *Checker) classify(tg *snapshot.TargetGroup, want map[string]*plan, unchecked, unused *[]string) {
	targets := make([]*snapshot.Target, 0, len(tg.Targets)+len(tg.Draining))
	targets = append(append(targets, tg.Targets...), tg.Draining...)
	if len(targets) == 0 {
		return
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
		for _, t := range targets {
			*unchecked = append(*unchecked, t.Key)
		}
		return
	}
	if !tg.InUse {
		for _, t := range targets {
			*unused = append(*unused, t.Key)
		}
		return
	}
	if tg.Type != model.TargetGroupTypeIP {
		// INSTANCE targets have no address to dial in host mode.
		for _, t := range targets {
			*unchecked = append(*unchecked, t.Key)
		}
		return
	}

	codes, err := model.ParseHTTPCodes(*hc.Matcher.HTTPCode)
	if err != nil {
		c.log.Warn("invalid health check matcher; using 200", "targetGroup", tg.ID,
			"matcher", *hc.Matcher.HTTPCode, "error", err)
		codes = []model.CodeRange{{Lo: 200, Hi: 200}}
	}
	for _, t := range targets {
		if !t.Addr.IsValid() || !t.Addr.Addr().IsValid() {
			c.log.Debug("target has no address to probe", "target", t.Key)
			*unchecked = append(*unchecked, t.Key)
			continue
		}
		want[t.Key] = &plan{spec: c.specFor(tg, hc, t), codes: codes}
	}
}

// spec is the complete configuration of one prober; it is comparable, and a
// prober restarts when its spec changes.
type spec struct {
	key       string
	scheme    string // http or https
	http2     bool   // h2c for http, h2 for https
	hostPort  string // where to dial; also the Host header
	path      string
	interval  time.Duration
	timeout   time.Duration
	healthy   int // consecutive passes from UNHEALTHY to HEALTHY
	unhealthy int // consecutive failures to UNHEALTHY
	matcher   string
}

func (c *Checker) specFor(tg *snapshot.TargetGroup, hc *model.HealthCheckConfig, t *snapshot.Target) spec {
	port := t.Addr.Port()
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
	return spec{
		key:       t.Key,
		scheme:    scheme,
		http2:     hc.ProtocolVersion == model.ProtocolVersionHTTP2,
		hostPort:  netip.AddrPortFrom(t.Addr.Addr(), port).String(),
		path:      hc.Path,
		interval:  interval,
		timeout:   timeout,
		healthy:   max(*hc.HealthyThresholdCount, 1),
		unhealthy: max(*hc.UnhealthyThresholdCount, 1),
		matcher:   *hc.Matcher.HTTPCode,
	}
}
