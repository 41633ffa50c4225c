package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Health counts the active health checks (health.Config.OnCheck).
type Health struct {
	checks *prometheus.CounterVec
	mu     sync.Mutex
	seen   map[string]bool // target groups with series, for prune
}

func newHealth(reg prometheus.Registerer) *Health {
	h := &Health{checks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "health_checks_total",
		Help: "Active health checks by target group and result (pass, fail)."}, []string{labelTargetGroup, "result"}),
		seen: map[string]bool{}}
	reg.MustRegister(h.checks)
	return h
}

// ObserveCheck records one check's result; its signature is
// health.Config.OnCheck. Checks run at most once per target and interval,
// so the label lookup is not on a request path.
func (h *Health) ObserveCheck(targetGroupID string, passed bool) {
	result := "fail"
	if passed {
		result = "pass"
	}
	h.mu.Lock()
	h.seen[targetGroupID] = true
	h.mu.Unlock()
	h.checks.WithLabelValues(targetGroupID, result).Inc()
}

// prune deletes the check counts of target groups snap no longer has.
func (h *Health) prune(snap *snapshot.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.seen {
		if snap.TargetGroups.Get(id) == nil {
			delete(h.seen, id)
			h.checks.DeletePartialMatch(prometheus.Labels{labelTargetGroup: id})
		}
	}
}

// targetStates is trellis_targets: computed at scrape time, so it names
// exactly the target groups of the current snapshot.
type targetStates struct {
	current func() *snapshot.Snapshot
	status  TargetStatusFunc
}

var targetsDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "targets"),
	"Registered targets by target group and state, as ListTargets reports them (INITIAL, HEALTHY, UNHEALTHY, UNAVAILABLE, UNUSED, DRAINING).",
	[]string{labelTargetGroup, "state"}, nil)

// targetStateNames are the states reported for every target group, so that
// a state's series exists (at 0) before a target enters it.
var targetStateNames = [...]string{model.TargetStatusInitial, model.TargetStatusHealthy, model.TargetStatusUnhealthy,
	model.TargetStatusUnavailable, model.TargetStatusUnused, model.TargetStatusDraining}

func (t *targetStates) Describe(ch chan<- *prometheus.Desc) { ch <- targetsDesc }

func (t *targetStates) Collect(ch chan<- prometheus.Metric) {
	snap := t.current()
	if snap == nil {
		return
	}
	for id, tg := range snap.TargetGroups.All() {
		var n [len(targetStateNames)]int
		for _, tgt := range tg.Targets {
			state := model.TargetStatusUnused
			if tg.InUse {
				state = model.TargetStatusInitial
				if s, _, ok := t.status(id, tgt.ID, tgt.Port); ok {
					state = s
				}
			}
			n[stateIndex(state)]++
		}
		n[stateIndex(model.TargetStatusDraining)] += len(tg.Draining)
		for i, s := range targetStateNames {
			ch <- prometheus.MustNewConstMetric(targetsDesc, prometheus.GaugeValue, float64(n[i]), id, s)
		}
	}
}

func stateIndex(s string) int {
	for i, v := range targetStateNames {
		if v == s {
			return i
		}
	}
	return 0 // unknown: INITIAL
}
