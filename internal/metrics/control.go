package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// API counts the control-plane calls (api.Server's CallObserver).
type API struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newAPI(reg prometheus.Registerer) *API {
	a := &API{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "api_requests_total",
			Help: `Control-plane API calls by operation and AWS error type ("" on success).`},
			[]string{"operation", "error_type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "api_request_duration_seconds",
			Help:    "Time to answer a control-plane API call (a write is durable before it is answered).",
			Buckets: prometheus.DefBuckets}, []string{"operation"}),
	}
	reg.MustRegister(a.calls, a.duration)
	return a
}

// ObserveCall records one API call; its signature is api.CallObserver.
func (a *API) ObserveCall(op, errorType string, status int, d time.Duration) {
	op, errorType = labelValue(op, 128), labelValue(errorType, 64)
	a.calls.WithLabelValues(op, errorType).Inc()
	a.duration.WithLabelValues(op).Observe(d.Seconds())
}

// labelValue keeps a label value printable and short: the API names its
// operations and error types from its own tables, but a value that is not
// one (too long, or not plain ASCII) is reported as "other" rather than
// trusted.
func labelValue(s string, max int) string {
	if len(s) > max {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return "other"
		}
	}
	return s
}

// Snapshot follows the snapshots the watcher publishes (its OnPublish).
type Snapshot struct {
	revision *prometheus.GaugeVec
	compile  prometheus.Histogram
	lag      prometheus.Histogram
	dp       *DataPlane
	health   *Health
	conns    *Conns
}

// lagBuckets: a write reaches the data plane after the watcher's 5 ms
// debounce and a compile.
var lagBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newSnapshot(reg prometheus.Registerer, dp *DataPlane, h *Health) *Snapshot {
	s := &Snapshot{
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "snapshot_revision",
			Help: "Store revision of the snapshot the data plane serves."}, nil),
		compile: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "snapshot_compile_duration_seconds",
			Help: "Time to load the store's state and compile a snapshot.", Buckets: lagBuckets}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "propagation_lag_seconds",
			Help:    "Time from the store's notice of a write to the publication of the first snapshot that includes it.",
			Buckets: lagBuckets}),
		dp: dp, health: h,
	}
	reg.MustRegister(s.revision, s.compile, s.lag)
	return s
}

// Published records a published snapshot and binds the data plane's
// handles to it; its signature is watch.Watcher's OnPublish.
func (s *Snapshot) Published(snap *snapshot.Snapshot, compile, lag time.Duration) {
	s.revision.WithLabelValues().Set(float64(snap.Revision))
	s.compile.Observe(compile.Seconds())
	if lag > 0 {
		s.lag.Observe(lag.Seconds())
	}
	s.dp.Bind(snap)
	s.health.prune(snap)
	if s.conns != nil {
		s.conns.bind(snap)
	}
}
