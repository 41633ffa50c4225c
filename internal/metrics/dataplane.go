package metrics

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Label names of the data plane's series. Services and target groups are
// labelled by ID (docs/metrics.md): "" when the data plane answered before
// a service or a target group was chosen.
const (
	labelService     = "service"
	labelTargetGroup = "target_group"
	labelCodeClass   = "code_class"
)

// codeClasses are the code_class values by status/100. Lattice reports
// HTTPCode_2XX..5XX; 1xx is an upgraded WebSocket session (101).
var codeClasses = [...]string{"", "1xx", "2xx", "3xx", "4xx", "5xx"}

// requestBuckets are the request-duration histogram's bounds in seconds:
// from a sub-millisecond proxied hop to the 60 s default request timeout.
var requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// DataPlane counts the requests of the VPCs' ingress: it is the proxy's
// Observer (proxy.Config.Observer).
type DataPlane struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	timeouts *prometheus.CounterVec
	active   *prometheus.GaugeVec
	received *prometheus.CounterVec
	sent     *prometheus.CounterVec
	lambda   *prometheus.CounterVec

	// table is the current snapshot's pairs by pointer, read lock-free.
	table atomic.Pointer[table]
	// mu guards byID, the handles of every pair by ID, kept across
	// snapshots so that a pair's series are resolved once.
	mu   sync.Mutex
	byID map[pairID]*pair
	// bySvc and byTG index byID by service and by target group ID, so
	// that the series of what left a snapshot are found without a scan.
	bySvc, byTG map[string]map[pairID]bool
}

var _ proxy.Observer = (*DataPlane)(nil)

// pairID names a (service, target group) pair by ID.
type pairID struct{ svc, tg string }

// pairKey names a pair by the snapshot's objects (pointer comparison only).
type pairKey struct {
	svc *snapshot.Service
	tg  *snapshot.TargetGroup
}

// pair holds the pre-bound handles of one (service, target group).
type pair struct {
	codes    [len(codeClasses)]prometheus.Counter // [0] unused
	duration prometheus.Observer
	timeouts prometheus.Counter
	active   prometheus.Gauge
	received prometheus.Counter
	sent     prometheus.Counter
	lambda   prometheus.Counter // nil unless the group is LAMBDA
}

type table struct {
	snap  *snapshot.Snapshot
	pairs map[pairKey]*pair
}

func newDataPlane(reg prometheus.Registerer) *DataPlane {
	st := []string{labelService, labelTargetGroup}
	d := &DataPlane{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_total",
			Help: "Requests served by the data plane, by service, target group and status class (Lattice TotalRequestCount, HTTPCode_NXX_Count)."},
			[]string{labelService, labelTargetGroup, labelCodeClass}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its response (Lattice RequestTime).",
			Buckets: requestBuckets}, st),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "request_timeouts_total",
			Help: "Requests whose target did not answer within the request timeout; answered 504 (Lattice RequestTimeoutCount)."}, st),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "active_requests",
			Help: "Requests being forwarded to a target group (Lattice ActiveRequestCount)."}, st),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "received_bytes_total",
			Help: "Request body bytes received from clients (Lattice TotalReceivedConnectionBytes, per request)."}, st),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "sent_bytes_total",
			Help: "Response body bytes sent to clients (Lattice TotalSentConnectionBytes, per request)."}, st),
		lambda: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "lambda_invocations_total",
			Help: "Requests forwarded to the function of a LAMBDA target group."}, []string{labelTargetGroup}),
		byID: map[pairID]*pair{}, bySvc: map[string]map[pairID]bool{}, byTG: map[string]map[pairID]bool{},
	}
	reg.MustRegister(d.requests, d.duration, d.timeouts, d.active, d.received, d.sent, d.lambda)
	return d
}

// Bind resolves the handles of every (service, target group) pair snap can
// route to, and deletes the series of services and target groups it no
// longer has. Called when a snapshot is published (watch.Watcher's
// OnPublish); a request judged by a snapshot not yet bound takes the slow
// path (a lookup by ID under a lock), never a wrong series.
func (d *DataPlane) Bind(snap *snapshot.Snapshot) {
	if snap == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.table.Load(); old != nil && d.bindChanges(old, snap) {
		return
	}
	t := &table{snap: snap, pairs: map[pairKey]*pair{}}
	t.pairs[pairKey{}] = d.pairLocked(pairID{}, nil) // no service
	svcs := map[string]bool{}
	add := func(svc *snapshot.Service) {
		if _, ok := t.pairs[pairKey{svc: svc}]; ok {
			return
		}
		svcs[svc.ID] = true
		t.pairs[pairKey{svc: svc}] = d.pairLocked(pairID{svc: svc.ID}, nil)
		for _, l := range svc.Listeners {
			for _, r := range l.Rules {
				for _, w := range r.Action.Forward {
					if tg := w.TargetGroup; tg != nil {
						t.pairs[pairKey{svc, tg}] = d.pairLocked(pairID{svc.ID, tg.ID}, tg)
					}
				}
			}
		}
	}
	for _, svc := range snap.ServiceNames.All() {
		add(svc)
	}
	for _, vpc := range snap.VPCs {
		for _, svc := range vpc.Hosts.All() {
			add(svc)
		}
	}
	for id, p := range d.byID {
		if (id.svc != "" && !svcs[id.svc]) || (id.tg != "" && snap.TargetGroups.Get(id.tg) == nil) {
			d.deleteLocked(id, p)
		}
	}
	d.table.Store(t)
}

// bindChanges binds snap from the table of an earlier snapshot when snap's
// history says which services and target groups changed since (issue 15:
// binding every pair of every VPC again took 25-30 ms per snapshot at
// 10,000 services, on the watcher's loop): a service that is the same
// object has the same pairs (a changed target group makes the services
// forwarding to it new objects too), so only the changed services' pairs
// are dropped and added, and only the series of the services and groups
// that left are deleted. It reports false, doing nothing, when the history
// cannot tell.
func (d *DataPlane) bindChanges(old *table, snap *snapshot.Snapshot) bool {
	svcIDs, ok := snap.ServicesChangedSince(old.snap.Seq)
	if !ok {
		return false
	}
	tgIDs, ok := snap.TargetGroupsChangedSince(old.snap.Seq)
	if !ok {
		return false
	}
	t := &table{snap: snap, pairs: maps.Clone(old.pairs)}
	forwards := func(svc *snapshot.Service, fn func(tg *snapshot.TargetGroup)) {
		for _, l := range svc.Listeners {
			for _, r := range l.Rules {
				for _, w := range r.Action.Forward {
					if w.TargetGroup != nil {
						fn(w.TargetGroup)
					}
				}
			}
		}
	}
	for _, id := range svcIDs {
		if svc := old.snap.Services.Get(id); svc != nil {
			delete(t.pairs, pairKey{svc: svc})
			forwards(svc, func(tg *snapshot.TargetGroup) { delete(t.pairs, pairKey{svc, tg}) })
		}
	}
	for _, id := range svcIDs {
		svc := snap.Services.Get(id)
		if svc == nil || !reachable(snap, svc) {
			for pid := range d.bySvc[id] {
				d.deleteLocked(pid, d.byID[pid])
			}
			continue
		}
		t.pairs[pairKey{svc: svc}] = d.pairLocked(pairID{svc: id}, nil)
		forwards(svc, func(tg *snapshot.TargetGroup) { t.pairs[pairKey{svc, tg}] = d.pairLocked(pairID{id, tg.ID}, tg) })
	}
	for _, id := range tgIDs {
		if snap.TargetGroups.Get(id) == nil {
			for pid := range d.byTG[id] {
				d.deleteLocked(pid, d.byID[pid])
			}
		}
	}
	d.table.Store(t)
	return true
}

// reachable reports whether Bind's full walk finds svc in snap: by one of
// its names (Snapshot.ServiceNames) or in a VPC's hosts.
func reachable(snap *snapshot.Snapshot, svc *snapshot.Service) bool {
	for _, n := range []string{svc.DNSName, svc.CustomDomain} {
		if n == "" {
			continue
		}
		if snap.ServiceNames.Get(snapshot.DNSFQDN(n)) == svc {
			return true
		}
		for _, v := range snap.VPCs {
			if v.Hosts.Get(n) == svc {
				return true
			}
		}
	}
	return false
}

// pairLocked returns the handles of id, resolving them the first time.
func (d *DataPlane) pairLocked(id pairID, tg *snapshot.TargetGroup) *pair {
	if p, ok := d.byID[id]; ok {
		if p.lambda == nil && tg != nil && tg.Upstream == snapshot.UpstreamLambda {
			p.lambda = d.lambda.WithLabelValues(id.tg)
		}
		return p
	}
	p := &pair{
		duration: d.duration.WithLabelValues(id.svc, id.tg),
		timeouts: d.timeouts.WithLabelValues(id.svc, id.tg),
		active:   d.active.WithLabelValues(id.svc, id.tg),
		received: d.received.WithLabelValues(id.svc, id.tg),
		sent:     d.sent.WithLabelValues(id.svc, id.tg),
	}
	for i := 1; i < len(codeClasses); i++ {
		p.codes[i] = d.requests.WithLabelValues(id.svc, id.tg, codeClasses[i])
	}
	if tg != nil && tg.Upstream == snapshot.UpstreamLambda {
		p.lambda = d.lambda.WithLabelValues(id.tg)
	}
	d.byID[id] = p
	for _, x := range []struct {
		idx map[string]map[pairID]bool
		k   string
	}{{d.bySvc, id.svc}, {d.byTG, id.tg}} {
		if x.k != "" {
			if x.idx[x.k] == nil {
				x.idx[x.k] = map[pairID]bool{}
			}
			x.idx[x.k][id] = true
		}
	}
	return p
}

// deleteLocked removes the series of a pair whose service or target group
// is gone, so that label sets stay bounded by what exists.
func (d *DataPlane) deleteLocked(id pairID, p *pair) {
	delete(d.byID, id)
	for _, x := range []struct {
		idx map[string]map[pairID]bool
		k   string
	}{{d.bySvc, id.svc}, {d.byTG, id.tg}} {
		if m := x.idx[x.k]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(x.idx, x.k)
			}
		}
	}
	for i := 1; i < len(codeClasses); i++ {
		d.requests.DeleteLabelValues(id.svc, id.tg, codeClasses[i])
	}
	for _, v := range []*prometheus.CounterVec{d.timeouts, d.received, d.sent} {
		v.DeleteLabelValues(id.svc, id.tg)
	}
	d.duration.DeleteLabelValues(id.svc, id.tg)
	d.active.DeleteLabelValues(id.svc, id.tg)
	if p.lambda != nil {
		d.lambda.DeleteLabelValues(id.tg)
	}
}

// lookup returns the handles of (svc, tg) as judged by snap: from the
// bound table when snap is the bound one, else by ID under the lock.
func (d *DataPlane) lookup(snap *snapshot.Snapshot, svc *snapshot.Service, tg *snapshot.TargetGroup) *pair {
	if t := d.table.Load(); t != nil && t.snap == snap {
		if p := t.pairs[pairKey{svc, tg}]; p != nil {
			return p
		}
	}
	var id pairID
	if svc != nil {
		id.svc = svc.ID
	}
	if tg != nil {
		id.tg = tg.ID
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pairLocked(id, tg)
}

// RequestStarted implements proxy.Observer.
func (d *DataPlane) RequestStarted(snap *snapshot.Snapshot, svc *snapshot.Service, tg *snapshot.TargetGroup) {
	p := d.lookup(snap, svc, tg)
	p.active.Inc()
	if p.lambda != nil {
		p.lambda.Inc()
	}
}

// RequestDone implements proxy.Observer.
func (d *DataPlane) RequestDone(o proxy.Observation) {
	p := d.lookup(o.Snap, o.Service, o.TargetGroup)
	if o.Forwarded {
		p.active.Dec()
	}
	class := o.Status / 100
	if class < 1 || class >= len(codeClasses) {
		class = 5 // not a status a client can get; counted as the data plane's failure
	}
	p.codes[class].Inc()
	p.duration.Observe(o.Duration.Seconds())
	if o.TimedOut {
		p.timeouts.Inc()
	}
	if o.BytesReceived > 0 {
		p.received.Add(float64(o.BytesReceived))
	}
	if o.BytesSent > 0 {
		p.sent.Add(float64(o.BytesSent))
	}
}
