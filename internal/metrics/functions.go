package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-net/trellis/internal/functions"
)

// Functions counts the hosted functions' invocations, cold starts and
// throttles (functions.Config.OnEvent), by function ARN.
type Functions struct {
	vecs [3]*prometheus.CounterVec // by functions.Event
	// handles caches each function's counters, so that a warm invocation
	// costs a map read and an atomic add.
	handles sync.Map // functionARN → *[3]prometheus.Counter
}

func newFunctions(reg prometheus.Registerer) *Functions {
	f := &Functions{}
	for e, d := range []struct{ name, help string }{
		functions.EventInvocation: {"function_invocations_total", "Synchronous invocations of hosted functions that got a concurrency slot."},
		functions.EventColdStart:  {"function_cold_starts_total", "Invocations of hosted functions that started a new worker (no idle one)."},
		functions.EventThrottle:   {"function_throttles_total", "Invocations of hosted functions refused at their maxConcurrency."},
	} {
		f.vecs[e] = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: d.name, Help: d.help}, []string{"function"})
		reg.MustRegister(f.vecs[e])
	}
	return f
}

// ObserveEvent records one event; its signature is functions.Config.OnEvent.
func (f *Functions) ObserveEvent(functionARN string, e functions.Event) {
	if int(e) >= len(f.vecs) {
		return
	}
	h, ok := f.handles.Load(functionARN)
	if !ok {
		var c [3]prometheus.Counter
		for i, v := range f.vecs {
			c[i] = v.WithLabelValues(functionARN)
		}
		h, _ = f.handles.LoadOrStore(functionARN, &c)
	}
	h.(*[3]prometheus.Counter)[e].Inc()
}
