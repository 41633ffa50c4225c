package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// Namespace prefixes every series of Trellis.
const Namespace = "trellis"

// Metrics is the registry of one Trellis and its collectors by subsystem.
type Metrics struct {
	// Registry holds every series; nothing is registered anywhere else.
	Registry *prometheus.Registry

	DataPlane *DataPlane
	API       *API
	Snapshot  *Snapshot
	Health    *Health
	DNS       *DNS
	Functions *Functions
	Resources *Resources
	// Conns counts client connections (the ingress's ConnObserver) and
	// connections to targets (the proxy's TargetConns).
	Conns *Conns
}

// New makes a registry with the Go runtime and process collectors and the
// collectors of every subsystem.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{Registry: reg}
	m.DataPlane = newDataPlane(reg)
	m.API = newAPI(reg)
	m.Health = newHealth(reg)
	m.Snapshot = newSnapshot(reg, m.DataPlane, m.Health)
	m.Conns = newConns(reg)
	m.Snapshot.conns = m.Conns
	m.DNS = newDNS(reg)
	m.Functions = newFunctions(reg)
	m.Resources = newResources(reg)
	return m
}

// Handler serves the registry in the Prometheus text (or protobuf, when
// asked) exposition format at /metrics, and 404 elsewhere.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		// A failing collector must not hide the others.
		ErrorHandling: promhttp.ContinueOnError,
		// promhttp's own series (scrapes in flight, by code) in our registry.
		Registry: m.Registry,
	}))
	return mux
}

// AccessLogCounts is what the access logger counts (accesslog.Logger).
type AccessLogCounts interface {
	Accepted() uint64
	Dropped() uint64
}

// WatchAccessLog registers the access logger's record counts, read at
// scrape time (nothing is added to the request path).
func (m *Metrics) WatchAccessLog(l AccessLogCounts) {
	name, help := prometheus.BuildFQName(Namespace, "accesslog", "records_total"),
		"Access log records by result: accepted (buffered for a destination) or dropped (unusable destination, full buffer, failed write)."
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"result": "accepted"}},
			func() float64 { return float64(l.Accepted()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"result": "dropped"}},
			func() float64 { return float64(l.Dropped()) }))
}

// TrafficCounts is what the traffic aggregates count besides requests
// (traffic.Aggregator).
type TrafficCounts interface {
	Overflow() int64
}

// WatchTraffic registers the requests the traffic aggregates counted under
// their overflow key because a minute already held its bound of keys
// (docs/traffic.md): a non-zero rate means `trellis traffic` lumps some
// callers together.
func (m *Metrics) WatchTraffic(t TrafficCounts) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: prometheus.BuildFQName(Namespace, "traffic", "overflow_requests_total"),
		Help: "Requests the traffic aggregates counted under the overflow key: their minute already held the bound of distinct (service, caller, source VPC, target group) keys.",
	}, func() float64 { return float64(t.Overflow()) }))
}

// IngressCounts is what the ingress counts (ingress.Ingress).
type IngressCounts interface {
	ConnectionsAccepted() uint64
	SecurityGroupRefused() uint64
}

// WatchIngress registers the ingress's connection counts, read at scrape
// time (one atomic add per connection, nothing per request).
func (m *Metrics) WatchIngress(in IngressCounts) {
	name, help := prometheus.BuildFQName(Namespace, "ingress", "connections_total"),
		"Client connections to the VPCs' ingress sockets by result: accepted, or refused by security groups (Lattice TotalConnectionCount, for the whole ingress)."
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"result": "accepted"}},
			func() float64 { return float64(in.ConnectionsAccepted()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"result": "refused"}},
			func() float64 { return float64(in.SecurityGroupRefused()) }))
}

// StoreStatus is what the snapshot watcher knows of the store
// (watch.Watcher): whether its last contact succeeded, and how long its
// snapshot has not been confirmed current (0 while it is).
type StoreStatus interface {
	StoreReachable() bool
	Staleness() time.Duration
}

// WatchStore registers trellis_store_reachable and
// trellis_snapshot_stale_seconds, read at scrape time: a data-plane node
// whose store is away keeps serving its last snapshot (docs/etcd.md,
// "Static stability"), and these say so and for how long.
func (m *Metrics) WatchStore(s StoreStatus) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "store_reachable",
			Help: "1 when the snapshot watcher's last contact with the store succeeded, else 0."},
			func() float64 {
				if s.StoreReachable() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "snapshot_stale_seconds",
			Help: "How long since the data plane's snapshot was last confirmed current with the store; 0 while it is."},
			func() float64 { return s.Staleness().Seconds() }))
}

// TargetStatusFunc reports a target's health as ListTargets shows it
// (health.Checker.TargetStatus).
type TargetStatusFunc func(targetGroupID, targetID string, port int) (status, reason string, ok bool)

// WatchTargets registers trellis_targets, the targets of every target
// group by state, computed at scrape time from the current snapshot and the
// checker: no series outlives its target group.
func (m *Metrics) WatchTargets(current func() *snapshot.Snapshot, status TargetStatusFunc) {
	m.Registry.MustRegister(&targetStates{current: current, status: status})
}
