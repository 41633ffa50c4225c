package app

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/api"
	"github.com/trellis-net/trellis/internal/canary"
	"github.com/trellis-net/trellis/internal/cluster"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/etcd"
)

// Nodes and roles (docs/etcd.md, "Roles", "Health across nodes",
// "Elections"): the cluster a node belongs to, what it publishes of its
// checker, how a data plane without a checker takes the cluster's statuses,
// and the once-only work that runs on the elected node.

// DefaultSweepInterval is the default of Config.SweepInterval.
const DefaultSweepInterval = 10 * time.Second

// DefaultDomainVerificationInterval is the default of
// Config.DomainVerificationInterval.
const DefaultDomainVerificationInterval = time.Minute

// openCluster joins the nodes sharing st: on etcd, a cluster.Etcd with the
// store's client and prefix; on the embedded store, a cluster.Local.
// offline (etcd known to be away: the node starts from its local copy)
// joins in the background at once.
func (a *App) openCluster(ctx context.Context, st store.Store, offline bool) error {
	cfg := a.cfg
	es, ok := st.(*etcd.Store)
	if !ok {
		a.cluster = &cluster.Local{Name: cfg.NodeName, Logger: cfg.Logger}
		return nil
	}
	a.feed = newFeedQueue()
	ccfg := cluster.Config{Client: es.Client(), Prefix: es.Prefix(), Roles: cfg.Roles, TTL: cfg.ClusterTTL,
		FlushInterval: cfg.HealthFlushInterval, Logger: cfg.Logger, Background: offline,
		Node: cluster.NodeInfo{Name: cfg.NodeName, Version: cfg.Version}}
	if cfg.Roles.API {
		ccfg.Node.Address = cfg.APIAddr
	}
	if cfg.Roles.Health {
		ccfg.Source = healthSource{a}
	}
	if cfg.Roles.Dataplane && !cfg.Roles.Health {
		ccfg.OnChange = a.feed.add
	}
	c, err := cluster.Open(ctx, ccfg)
	if err != nil {
		return err
	}
	a.cluster, a.view = c, c.View()
	return nil
}

// healthSource is what a health node publishes: its checker's status of
// every target it checks. Targets of groups without enabled checks
// (LAMBDA, ALB, disabled) and of unused groups are not published: for them
// ListTargets answers UNAVAILABLE or UNUSED from the configuration alone.
type healthSource struct{ a *App }

// checked returns the group of the current snapshot whose targets a node
// reports, nil when there is none.
func (h healthSource) checked(tgID string) *snapshot.TargetGroup {
	snap := h.a.holder.Load()
	if snap == nil {
		return nil
	}
	tg := snap.TargetGroups.Get(tgID)
	if tg == nil || !tg.InUse || tg.HealthCheck == nil || tg.HealthCheck.Enabled == nil || !*tg.HealthCheck.Enabled {
		return nil
	}
	return tg
}

func (h healthSource) GroupStatuses(tgID string, fn func(key, status, reason string)) bool {
	tg := h.checked(tgID)
	if tg == nil || h.a.checker == nil {
		return false
	}
	for _, list := range [][]*snapshot.Target{tg.Targets, tg.Draining} {
		for _, t := range list {
			if st, r, ok := h.a.checker.TargetStatus(tgID, t.ID, t.Port); ok {
				fn(upstream.TargetKey(tgID, t.ID, t.Port), st, r)
			}
		}
	}
	return true
}

func (h healthSource) TargetStatus(key string) (status, reason string, ok bool) {
	tgID, id, port, ok := splitTargetKey(key)
	if !ok || h.checked(tgID) == nil || h.a.checker == nil {
		return "", "", false
	}
	return h.a.checker.TargetStatus(tgID, id, port)
}

// splitTargetKey splits a registry key "<tg>/<target>/<port>"; a target ID
// may hold '/' (an ARN).
func splitTargetKey(key string) (tgID, id string, port int, ok bool) {
	tgID, rest, ok := strings.Cut(key, "/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i <= 0 {
		return "", "", 0, false
	}
	port, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return "", "", 0, false
	}
	return tgID, rest[:i], port, true
}

// feedQueue collects the keys of targets whose combined status changed,
// from the cluster's watch, for feedHealth; it never blocks the watch.
type feedQueue struct {
	mu   sync.Mutex
	keys map[string]struct{}
	wake chan struct{}
}

func newFeedQueue() *feedQueue {
	return &feedQueue{keys: map[string]struct{}{}, wake: make(chan struct{}, 1)}
}

func (q *feedQueue) add(keys []string) {
	q.mu.Lock()
	for _, k := range keys {
		q.keys[k] = struct{}{}
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *feedQueue) take() map[string]struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := q.keys
	q.keys = map[string]struct{}{}
	return k
}

// feedHealth gives a data plane without a checker of its own the cluster's
// combined statuses, in the registry the proxy picks targets from, as the
// checker would: when a status changes, and for the targets of every group
// a new snapshot changed (a target new to this node's snapshot takes the
// status the others already published).
func feedHealth(ctx context.Context, holder *snapshot.Holder, reg *upstream.Registry, view *cluster.View, q *feedQueue, changes <-chan struct{}) {
	set := func(key string) {
		st, reason, _ := view.Combined(key)
		h := upstream.HealthInitial
		switch st {
		case model.TargetStatusHealthy:
			h = upstream.HealthHealthy
		case model.TargetStatusUnhealthy:
			h = upstream.HealthUnhealthy
		case model.TargetStatusUnavailable:
			h = upstream.HealthUnchecked
		}
		if cur, r := reg.Get(key).Health(); cur != h || r != reason {
			reg.Get(key).SetHealth(h, reason)
		}
	}
	var prev *snapshot.Snapshot
	resync := func() {
		snap := holder.Load()
		if snap == nil {
			return
		}
		visit := func(tg *snapshot.TargetGroup) {
			for _, list := range [][]*snapshot.Target{tg.Targets, tg.Draining} {
				for _, t := range list {
					set(t.Key)
				}
			}
		}
		// The groups that are not prev's objects: those the snapshot's
		// history names since prev (the channel coalesces), or, when it
		// cannot tell, every group compared by pointer (issue 15: a scan
		// of 10,000 groups after every snapshot).
		var ids []string
		ok := false
		if prev != nil {
			ids, ok = snap.TargetGroupsChangedSince(prev.Seq)
		}
		if ok {
			for _, id := range ids {
				if tg := snap.TargetGroups.Get(id); tg != nil && prev.TargetGroups.Get(id) != tg {
					visit(tg)
				}
			}
		} else {
			for id, tg := range snap.TargetGroups.All() {
				if prev == nil || prev.TargetGroups.Get(id) != tg {
					visit(tg)
				}
			}
		}
		prev = snap
	}
	resync()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			resync()
		case <-q.wake:
			snap := holder.Load()
			for key := range q.take() {
				// Only targets of this node's snapshot: a status that
				// arrives first is applied when its target does (sync).
				tgID, _, _, ok := splitTargetKey(key)
				if ok && snap != nil && snap.TargetGroups.Get(tgID) != nil {
					set(key)
				}
			}
		}
	}
}

// targetHealthRows answers GET /trellis/v1/target-health from the
// cluster's view.
func targetHealthRows(v *cluster.View) api.TargetHealthReports {
	return func(tgID string) []api.TargetHealthRow {
		reports := v.GroupReports(tgID)
		rows := make([]api.TargetHealthRow, 0, len(reports))
		for key, rs := range reports {
			_, id, port, ok := splitTargetKey(key)
			if !ok {
				continue
			}
			st, reason, who := v.Combined(key)
			row := api.TargetHealthRow{ID: id, Port: port, Status: st, Reason: reason, DecidedBy: who}
			for _, r := range rs {
				row.Nodes = append(row.Nodes, api.TargetHealthNode{Node: r.Node, Status: r.Status.Status, ReasonCode: r.ReasonCode, Since: r.Since})
			}
			rows = append(rows, row)
		}
		slices.SortFunc(rows, func(a, b api.TargetHealthRow) int {
			if c := strings.Compare(a.ID, b.ID); c != 0 {
				return c
			}
			return a.Port - b.Port
		})
		return rows
	}
}

// electedRunner runs the once-only work of API nodes, each under its
// election (on the embedded store, at once): the canary controller and the
// drained-target sweeper. Closing it (before the cluster) resigns, so the
// work moves to another node at once.
func (a *App) electedRunner(canaries *canary.Controller, svc *service.Service, holder *snapshot.Holder) runner {
	cl, log := a.cluster, a.log
	every := a.cfg.SweepInterval
	if every <= 0 {
		every = DefaultSweepInterval
	}
	return runner{name: "elected-work", start: func(ctx context.Context, g *loops) error {
		if _, local := cl.(*cluster.Local); local {
			// One node leads from the start: its running canaries resume
			// before the API answers, and a failure to resume them fails
			// the start, as before there were nodes.
			if err := canaries.Start(ctx); err != nil {
				return err
			}
			g.Go(func() {
				<-ctx.Done()
				_ = canaries.Close(context.Background())
			})
		} else {
			g.Go(func() {
				cl.Lead(ctx, cluster.ElectionCanaries, func(ctx context.Context) {
					// Start resumes the running canaries from the store
					// (persisted state), so a new leader continues where the
					// last one stopped.
					if err := canaries.Start(ctx); err != nil {
						if ctx.Err() == nil {
							log.Warn("canaries: resuming failed; standing again", "err", err)
						}
						return
					}
					<-ctx.Done()
					_ = canaries.Close(context.Background())
				})
			})
		}
		dvEvery := a.cfg.DomainVerificationInterval
		if dvEvery <= 0 {
			dvEvery = DefaultDomainVerificationInterval
		}
		g.Go(func() {
			// The sweeper's leader also runs the domain-verification check:
			// both are periodic store chores that one node does.
			cl.Lead(ctx, cluster.ElectionSweeper, func(ctx context.Context) {
				done := make(chan struct{})
				go func() {
					defer close(done)
					checkDomainVerifications(ctx, svc, dvEvery, log)
				}()
				sweepDrained(ctx, svc, holder, every, log)
				<-done
			})
		})
		return nil
	}}
}

// checkDomainVerifications runs the service's check of the PENDING domain
// verifications every `every` (docs/resources.md "Domain verification"),
// until ctx ends.
func checkDomainVerifications(ctx context.Context, svc *service.Service, every time.Duration, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		verified, timedOut, err := svc.CheckPendingDomainVerifications(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("domain verifications: check failed; retrying", "err", err)
		}
		if verified+timedOut > 0 {
			log.Info("domain verifications: checked", "verified", verified, "timedOut", timedOut)
		}
	}
}

// sweepDrained is the drained-target sweeper, run by the elected API node:
// every `every` it deletes, through the service, the targets whose drain
// time has passed, so that the store and ListTargets do not keep them
// until the next write to their group. When elected it reads once which
// groups hold deregistered targets (a leader before it may have died with
// a backlog); then it follows the groups the snapshot shows draining, and
// forgets a group once nothing in it drains.
func sweepDrained(ctx context.Context, svc *service.Service, holder *snapshot.Holder, every time.Duration, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) {
	groups := map[string]bool{}
	scanned := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if !scanned {
			ids, err := svc.DrainingTargetGroups(ctx)
			if err == nil {
				scanned = true
				for _, id := range ids {
					groups[id] = true
				}
			} else if ctx.Err() == nil {
				log.Warn("sweeper: finding draining target groups failed; retrying", "err", err)
			}
		}
		if snap := holder.Load(); snap != nil {
			for id, tg := range snap.TargetGroups.All() {
				if len(tg.Draining) > 0 {
					groups[id] = true
				}
			}
		}
		for id := range groups {
			if ctx.Err() != nil {
				return
			}
			deleted, draining, err := svc.PurgeDrainedTargets(ctx, id)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("sweeper: deleting drained targets failed; retrying", "targetGroup", id, "err", err)
				}
				continue
			}
			if deleted > 0 {
				log.Info("sweeper: deleted drained targets", "targetGroup", id, "targets", deleted)
			}
			if draining == 0 {
				delete(groups, id)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
