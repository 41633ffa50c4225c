package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// Resources counts the TCP connections client VPCs make to resource
// configurations through their gateways (passthrough.Config.Resources),
// by configuration ID and, for connections, the service network they
// went through. Lattice publishes no per-resource metrics in the
// reference; these follow its connection metrics' meaning
// (docs/metrics.md).
type Resources struct {
	conns  *prometheus.CounterVec // resource_configuration, service_network, result
	active *prometheus.GaugeVec   // resource_configuration
	bytes  *prometheus.CounterVec // resource_configuration, direction
	// handles caches one configuration's series (network by network), so
	// that a connection costs map reads and atomic adds.
	handles sync.Map // resourceKey → *resourceSeries
}

type resourceKey struct{ cfg, sn string }

type resourceSeries struct {
	reached, unreachable prometheus.Counter
	active               prometheus.Gauge
	toResource, toClient prometheus.Counter
}

func newResources(reg prometheus.Registerer) *Resources {
	r := &Resources{
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "resource_connections_total",
			Help: "Connections from client VPCs to resource configurations, by configuration, service network and result: reached (the gateway connected to the resource) or unreachable (no address of it answered in time)."},
			[]string{"resource_configuration", "service_network", "result"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "resource_active_connections",
			Help: "Resource connections open now (accepted, not yet closed), by configuration."},
			[]string{"resource_configuration"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "resource_bytes_total",
			Help: "Bytes relayed on resource connections, by configuration and direction (to_resource: from the client; to_client: from the resource), counted when a connection ends."},
			[]string{"resource_configuration", "direction"}),
	}
	reg.MustRegister(r.conns, r.active, r.bytes)
	return r
}

func (r *Resources) series(res *snapshot.Resource) *resourceSeries {
	k := resourceKey{res.ConfigurationID, ""}
	if res.Network != nil {
		k.sn = res.Network.ID
	}
	if h, ok := r.handles.Load(k); ok {
		return h.(*resourceSeries)
	}
	s := &resourceSeries{
		reached:     r.conns.WithLabelValues(k.cfg, k.sn, "reached"),
		unreachable: r.conns.WithLabelValues(k.cfg, k.sn, "unreachable"),
		active:      r.active.WithLabelValues(k.cfg),
		toResource:  r.bytes.WithLabelValues(k.cfg, "to_resource"),
		toClient:    r.bytes.WithLabelValues(k.cfg, "to_client"),
	}
	h, _ := r.handles.LoadOrStore(k, s)
	return h.(*resourceSeries)
}

// ResourceConnOpened counts a connection as open (passthrough.ResourceObserver).
func (r *Resources) ResourceConnOpened(res *snapshot.Resource) { r.series(res).active.Inc() }

// ResourceConnClosed counts a connection that ended, reached or not, and
// its bytes (passthrough.ResourceObserver).
func (r *Resources) ResourceConnClosed(res *snapshot.Resource, reached bool, toResource, toClient int64) {
	s := r.series(res)
	s.active.Dec()
	if !reached {
		s.unreachable.Inc()
		return
	}
	s.reached.Inc()
	s.toResource.Add(float64(toResource))
	s.toClient.Add(float64(toClient))
}
