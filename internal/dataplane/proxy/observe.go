package proxy

import (
	"net/http"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Observer sees every request a data-plane socket serves, once, when its
// response is over: the one per-request seam for what is counted outside
// the proxy (Prometheus metrics now; traffic aggregates and tracing can
// implement it too). It runs on the request path: an implementation must
// not block and should not allocate (metrics.DataPlane resolves its
// counters per snapshot, not per request).
//
// The proxy imports nothing of the implementations: it hands over the
// snapshot objects the request was judged by, whose IDs are the labels.
type Observer interface {
	// RequestStarted is called when a request is bound for tg's targets
	// (the forward or the invocation begins), so that requests in flight
	// can be counted; RequestDone follows with Observation.Forwarded set.
	RequestStarted(snap *snapshot.Snapshot, svc *snapshot.Service, tg *snapshot.TargetGroup)
	// RequestDone is called once per request when its response is over
	// (or aborted). o is passed by value: it must not be retained past
	// the call through pointers into the proxy (there are none).
	RequestDone(o Observation)
}

// Observers fans a request's observation out to several observers (the
// metrics and the traffic aggregates), in order.
type Observers []Observer

// RequestStarted implements Observer.
func (os Observers) RequestStarted(snap *snapshot.Snapshot, svc *snapshot.Service, tg *snapshot.TargetGroup) {
	for _, o := range os {
		o.RequestStarted(snap, svc, tg)
	}
}

// RequestDone implements Observer.
func (os Observers) RequestDone(o Observation) {
	for _, ob := range os {
		ob.RequestDone(o)
	}
}

// Observation is what the proxy knows of a request when it ends.
type Observation struct {
	// Snap is the snapshot the request was judged by; nil when there was
	// none yet.
	Snap *snapshot.Snapshot
	// VPC is the socket's VPC (nil without a snapshot naming it), Service
	// the service Host named (nil when the VPC reaches none), TargetGroup
	// the group the weighted pick chose (nil when the data plane answered
	// before: a fixed response, no rule, a refusal).
	VPC         *snapshot.VPC
	Service     *snapshot.Service
	TargetGroup *snapshot.TargetGroup
	// Forwarded reports that RequestStarted was called for the request.
	Forwarded bool
	// Status is the response status (200 when nothing was written).
	Status int
	// Duration is from the request's arrival at the handler to the end of
	// its response, End when it ended (one clock read for both: observers
	// need not read the clock again).
	Duration time.Duration
	End      time.Time
	// BytesReceived is the request body read; BytesSent the response body
	// written (a WebSocket session's bytes when one was upgraded).
	BytesReceived, BytesSent int64
	// TimedOut reports that the target did not answer within the request
	// timeout (the data plane answered 504): Lattice's RequestTimeoutCount.
	TimedOut bool
	// HTTP2 reports a request that came over HTTP/2.
	HTTP2 bool
	// Listener and Rule are those that judged the request (nil when it
	// was answered before); Target the last target tried (nil when none
	// was, and for Lambda groups).
	Listener *snapshot.Listener
	Rule     *snapshot.Rule
	Target   *snapshot.Target
	// AuthChecked reports that the auth policies were evaluated;
	// AuthDenied is the level that denied the request ("" when allowed).
	AuthChecked bool
	AuthDenied  string
	// Caller is the identity authentication found when the auth policies
	// were evaluated (also on a deny); nil for an anonymous caller or when
	// auth did not run. A pointer into the snapshot: nothing is copied.
	Caller *snapshot.Identity
	// Failure names the refusal the data plane answered with (trace.go's
	// refusalNames), "" when none. Filled for traced requests only: the
	// refusal is found through the request's trace state.
	Failure string
}

// reqObs is a request's observation state while it is served: on the
// handler's stack, reached by the exchange through a pointer.
type reqObs struct {
	tg        *snapshot.TargetGroup
	lst       *snapshot.Listener
	rule      *snapshot.Rule
	target    *snapshot.Target
	authDeny  string
	authCheck bool
	caller    *snapshot.Identity
	span      Span        // nil when not traced
	trace     *traceState // with span
	started   bool
	timedOut  bool
	wsSent    int64
	wsRecv    int64
	tunnelled bool
}

// started tells the observer, if any, that the request is bound for tg.
func (h *handler) startObs(ob *reqObs, snap *snapshot.Snapshot, svc *snapshot.Service, tg *snapshot.TargetGroup) {
	ob.tg = tg
	if o := h.p.cfg.Observer; o != nil {
		ob.started = true
		o.RequestStarted(snap, svc, tg)
	}
}

// finishObs hands the request's observation to the observer. w is the
// writer the request was answered through: the own server's (which keeps
// the status and size) or a statsWriter.
func (h *handler) finishObs(w http.ResponseWriter, r *http.Request, start time.Time, snap *snapshot.Snapshot,
	vpc *snapshot.VPC, svc *snapshot.Service, ob *reqObs) {
	o := Observation{Snap: snap, VPC: vpc, Service: svc, TargetGroup: ob.tg, Forwarded: ob.started,
		TimedOut: ob.timedOut, HTTP2: r.ProtoMajor == 2, Listener: ob.lst, Rule: ob.rule, Target: ob.target,
		AuthChecked: ob.authCheck, AuthDenied: ob.authDeny, Caller: ob.caller}
	if ts := ob.trace; ts != nil && ts.refused {
		o.Failure = refusalNames[ts.ref]
	}
	if status, written, ok := h1.ResponseStats(w); ok {
		o.Status, o.BytesSent = status, written
		if n, ok := h1.BodyBytesRead(r.Body); ok {
			o.BytesReceived = n
		}
	} else if sw, ok := w.(*statsWriter); ok {
		o.Status, o.BytesSent = sw.status, sw.written
		if cb, ok := r.Body.(*countingBody); ok {
			o.BytesReceived = cb.n
		}
	}
	if ob.tunnelled {
		o.BytesSent, o.BytesReceived = ob.wsSent, ob.wsRecv
	}
	if o.Status == 0 {
		o.Status = http.StatusOK // nothing written: the server answers 200 with no body
	}
	o.End = time.Now()
	o.Duration = o.End.Sub(start)
	if ob.span != nil {
		ob.span.End(o)
	}
	if obs := h.p.cfg.Observer; obs != nil {
		obs.RequestDone(o)
	}
}
