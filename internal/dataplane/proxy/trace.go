package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
)

// Tracer starts the span of a request (OpenTelemetry tracing, package
// tracing implements it): the proxy knows only this seam, not the OTel SDK.
// Nil (Config.Tracer) traces nothing and costs the request path nothing:
// no call, no allocation, the client's traceparent forwarded as it came.
type Tracer interface {
	// Start begins r's server span at start, continuing the client's W3C
	// trace context (traceparent, tracestate; W3C Trace Context §3) or
	// starting a trace. It must not retain r.
	Start(r *http.Request, start time.Time) Span
}

// Span is one request's trace. Its methods are called from the request's
// goroutine only.
type Span interface {
	// Upstream begins the client span of the hop to the target and returns
	// the traceparent and tracestate fields the target gets instead of the
	// client's (tracestate nil when there is none): same trace, parent the
	// client span.
	Upstream() (traceparent, tracestate []string)
	// TraceID is the request's trace ID (32 lowercase hex digits) when its
	// trace is recorded (sampled), "" otherwise: what the access log
	// record carries as traceId.
	TraceID() string
	// End ends the spans with what the proxy knows of the request. o is
	// passed by value (no allocation). The snapshot objects it points to
	// are immutable and may be kept (the tracer keeps them until the
	// spans are exported); nothing else reached through o may be.
	End(o Observation)
	// Recording reports that the span records what End is given (its
	// trace is sampled). A span that does not record gets no refusal
	// state: the request is served as without tracing, with the hop's
	// trace context only.
	Recording() bool
}

// Header names of W3C Trace Context, in canonical form.
const (
	hdrTraceparent = "Traceparent"
	hdrTracestate  = "Tracestate"
)

// traceState is what a traced request's refusal leaves for its span: on
// the heap (only when traced), reached through the request's context so
// that refuse needs no new argument.
type traceState struct {
	refused bool
	ref     refusal
}

type traceKey struct{}

// noteRefusal records ref on the request's trace, if it has one. Without
// tracing it is one context lookup on a refusal path, no allocation.
func noteRefusal(r *http.Request, ref refusal) {
	if r == nil {
		return // refuseStatus takes a nil request (no gRPC answer to choose)
	}
	if ts, _ := r.Context().Value(traceKey{}).(*traceState); ts != nil {
		ts.refused, ts.ref = true, ref
	}
}

// refusalNames name the refusals in spans (Observation.Failure): stable,
// low-cardinality values.
var refusalNames = [...]string{
	refNoService:        "NoService",
	refNoListener:       "NoListener",
	refBadPath:          "BadPath",
	refDenied:           "AccessDenied",
	refNoRule:           "NoRule",
	refConnect:          "Connect",
	refZeroWeights:      "ZeroWeights",
	refNoGroup:          "NoTargetGroup",
	refTargetType:       "TargetType",
	refProtocol:         "Protocol",
	refNoTargets:        "NoTargets",
	refNoAddress:        "NoAddress",
	refTimeout:          "Timeout",
	refClientBody:       "ClientBody",
	refClientGone:       "ClientGone",
	refTargetFailed:     "TargetFailed",
	refNeedsTLS:         "NeedsTLS",
	refMisdirected:      "Misdirected",
	refIncompatible:     "IncompatibleProtocol",
	refNoInvoker:        "NoLambdaInvoker",
	refLambdaBodyTooBig: "LambdaRequestTooLarge",
	refLambdaNotFound:   "LambdaNotFound",
	refLambdaThrottled:  "LambdaThrottled",
	refLambdaFailed:     "LambdaInvokeFailed",
	refLambdaFuncError:  "LambdaFunctionError",
	refLambdaMalformed:  "LambdaMalformedResponse",
	refLambdaRespTooBig: "LambdaResponseTooLarge",
}

// startTrace begins r's span and returns the request to serve: r with the
// trace state in its context, and without the client's traceparent and
// tracestate (the target gets the hop's instead, fwdHeaders). Called only
// when a Tracer is configured.
func (h *handler) startTrace(t Tracer, r *http.Request, ob *reqObs) *http.Request {
	sp := t.Start(r, time.Now())
	if sp == nil {
		return r
	}
	ob.span = sp
	delete(r.Header, hdrTraceparent)
	delete(r.Header, hdrTracestate)
	if !sp.Recording() {
		// Nothing would read the refusal: no request copy, no context
		// value (what 0% sampling would otherwise cost every request).
		return r
	}
	parent := r.Context()
	if h1.ConnInfoOf(parent) == nil {
		ts := &traceState{}
		ob.trace = ts
		return r.WithContext(context.WithValue(parent, traceKey{}, ts))
	}
	tc := &tracedCtx{Context: parent}
	ob.trace = &tc.ts
	return r.WithContext(tc)
}

// tracedCtx is a traced request's context when its server is the own
// HTTP/1.x or HTTP/2 one: the server's context with the trace state in
// it. It offers the server's seams (h1.ConnContext: ConnInfoOf, OnGone,
// ClearGone) by delegating to them, so that the upstream client still
// hooks the client's departure without allocating; a context.WithValue
// would hide them and cost each traced request a context.AfterFunc and a
// cancel context. One allocation holds it all.
type tracedCtx struct {
	context.Context // the server's
	ts              traceState
}

func (c *tracedCtx) Value(key any) any {
	if _, ok := key.(traceKey); ok {
		return &c.ts
	}
	return c.Context.Value(key)
}

func (c *tracedCtx) ConnInfo() *h1.ConnInfo { return h1.ConnInfoOf(c.Context) }

func (c *tracedCtx) SetAbort(f *func()) bool {
	_, alive := h1.OnGone(c.Context, f)
	return alive
}

func (c *tracedCtx) ClearAbort(f *func()) bool { return h1.ClearGone(c.Context, f) }

// AfterFunc lets context.AfterFunc use the server context's own (it
// checks for this method), as it would without the trace state.
func (c *tracedCtx) AfterFunc(f func()) func() bool {
	if a, ok := c.Context.(interface{ AfterFunc(func()) func() bool }); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(c.Context, f)
}

var _ h1.ConnContext = (*tracedCtx)(nil)
