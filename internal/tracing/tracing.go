package tracing

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
)

// Config configures the tracer.
type Config struct {
	// Endpoint is the OTLP/HTTP traces URL, e.g.
	// http://127.0.0.1:4318/v1/traces (a URL without a path gets the OTLP
	// default /v1/traces).
	Endpoint string
	// Sample is the ratio of traces recorded and exported, 0..1. The
	// decision is made on the trace ID (so every hop that uses the same
	// ratio agrees), not on the client's sampled flag: a client cannot
	// make Trellis record more than the operator chose.
	Sample float64
	// ServiceName is the resource's service.name; "trellis" when empty.
	ServiceName string
}

// ValidateEndpoint checks an --otlp-endpoint value: an absolute http or
// https URL with a host and no user info, query or fragment.
func ValidateEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("--otlp-endpoint: want an http:// or https:// URL with a host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("--otlp-endpoint: no user info, query or fragment")
	}
	return u, nil
}

// maxAttrLen bounds a span attribute's value (longer ones are truncated
// by the SDK).
const maxAttrLen = 512

// Tracer implements proxy.Tracer with the OTel SDK.
type Tracer struct {
	tp *sdktrace.TracerProvider
	tr trace.Tracer
	// never: the sampling ratio is 0; always: it is 1; bound: the
	// TraceIDRatioBased sampler's bound on the trace ID's low 63 bits
	// (the SDK's sampler decides the same for the spans it starts).
	never, always bool
	bound         uint64
}

// New returns a Tracer exporting to cfg.Endpoint in batches. Shutdown
// flushes and stops it.
func New(cfg Config) (*Tracer, error) {
	u, err := ValidateEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if !(cfg.Sample >= 0 && cfg.Sample <= 1) {
		return nil, fmt.Errorf("--trace-sample: %v is not a ratio between 0 and 1", cfg.Sample)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces" // OTLP/HTTP's default path for traces
	}
	exp := newExporter(u.String())
	name := cfg.ServiceName
	if name == "" {
		name = "trellis"
	}
	res := resource.NewSchemaless(attribute.String("service.name", name))
	// Attribute values come partly from the client (path, Host): bounded,
	// so that a long request line cannot make every span as long.
	limits := sdktrace.NewSpanLimits()
	limits.AttributeValueLengthLimit = maxAttrLen
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanLimits(limits),
		sdktrace.WithSpanProcessor(newBatcher(exp)),
		sdktrace.WithSampler(sdktrace.TraceIDRatioBased(cfg.Sample)),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(randIDs{}),
	)
	t := &Tracer{tp: tp, tr: tp.Tracer("github.com/trellis-net/trellis/internal/tracing"),
		never: cfg.Sample <= 0, always: cfg.Sample >= 1}
	if !t.never && !t.always {
		t.bound = uint64(cfg.Sample * (1 << 63))
	}
	return t, nil
}

// sampled is TraceIDRatioBased's decision for id (the SDK's sampler):
// the trace ID's last 8 bytes, shifted to 63 bits, below the ratio's
// bound.
func (t *Tracer) sampled(id trace.TraceID) bool {
	if t.always || t.never {
		return t.always
	}
	return binary.BigEndian.Uint64(id[8:16])>>1 < t.bound
}

// randIDs generates trace and span IDs with math/rand/v2's per-thread
// generator: no lock (the SDK's default shares one source under a mutex).
// IDs need to be unique, not secret (W3C Trace Context §3.2.2.3).
type randIDs struct{}

func (randIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid, newSpanID()
}

func (randIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// ForceFlush exports the spans buffered so far.
func (t *Tracer) ForceFlush(ctx context.Context) error { return t.tp.ForceFlush(ctx) }

// Start implements proxy.Tracer: the server span, child of the client's
// traceparent when it sent a valid one (W3C Trace Context §3.2; an invalid
// one starts a new trace, §3.2.2.7), with its tracestate carried on.
//
// A trace that is not sampled never reaches the SDK: nothing is recorded,
// so only the IDs it propagates are made (lightSpan), which is what makes
// 0% sampling cost about as little as tracing off. (Without a valid
// traceparent and a ratio strictly between 0 and 1 the SDK makes the
// trace ID and decides, as the sampler needs the ID.)
func (t *Tracer) Start(r *http.Request, start time.Time) proxy.Span {
	psc, ok := parentContext(r.Header)
	if t.never || (ok && !t.sampled(psc.TraceID())) {
		ls := &lightSpan{tid: psc.TraceID(), flags: psc.TraceFlags() &^ trace.FlagsSampled, sid: newSpanID()}
		if !ok {
			ls.tid, _ = randIDs{}.NewIDs(context.Background())
			ls.flags = 0
		}
		if ts := psc.TraceState(); ts.Len() > 0 {
			ls.ts[0] = ts.String() // validated (§3.3), as the SDK's spans carry it
			ls.hasTS = true
		}
		return ls
	}
	ctx := context.Background()
	if ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, psc)
	}
	ctx, s := t.tr.Start(ctx, r.Method, serverKind, trace.WithTimestamp(start))
	sp := &span{t: t, ctx: ctx, srv: s, method: r.Method}
	// The request's attributes wait in the span for End's: one
	// SetAttributes per span, whose slice the SDK copies once.
	sp.attrs[0] = attribute.String("http.request.method", r.Method)
	sp.attrs[1] = attribute.String("url.path", r.URL.Path)
	sp.attrs[2] = attribute.String("server.address", r.Host)
	sp.attrs[3] = attribute.String("network.protocol.version", protoVersion(r))
	return sp
}

// The start options that do not change, made once (an option is an
// interface value: made per call it would be allocated per call).
var (
	serverKind = trace.WithSpanKind(trace.SpanKindServer)
	clientKind = trace.WithSpanKind(trace.SpanKindClient)
)

// Header names of W3C Trace Context, in canonical form.
const (
	hdrTraceparent = "Traceparent"
	hdrTracestate  = "Tracestate"
)

// parentContext parses the client's traceparent (W3C Trace Context
// §3.2): version 00 exactly, or a later version's first four fields
// (§3.2.4: a higher version is parsed as 00, ignoring what follows);
// all-zero IDs and version ff are invalid (§3.2.2), and so is anything
// else that does not parse: a new trace starts. Its tracestate (§3.3) is
// kept when the traceparent is valid. Parsed here, without the
// propagator's context values: the common case allocates nothing.
func parentContext(h http.Header) (trace.SpanContext, bool) {
	v := h[hdrTraceparent]
	if len(v) == 0 {
		return trace.SpanContext{}, false
	}
	tp := v[0]
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return trace.SpanContext{}, false
	}
	var ver [1]byte
	if !hexLower(ver[:], tp[0:2]) || ver[0] == 0xff || (ver[0] == 0 && len(tp) != 55) || (len(tp) > 55 && tp[55] != '-') {
		return trace.SpanContext{}, false
	}
	var tid trace.TraceID
	var sid trace.SpanID
	var fl [1]byte
	if !hexLower(tid[:], tp[3:35]) || !hexLower(sid[:], tp[36:52]) || !hexLower(fl[:], tp[53:55]) ||
		!tid.IsValid() || !sid.IsValid() {
		return trace.SpanContext{}, false
	}
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(fl[0]), Remote: true}
	if ts := h[hdrTracestate]; len(ts) > 0 && ts[0] != "" {
		if st, err := trace.ParseTraceState(strings.Join(ts, ",")); err == nil {
			cfg.TraceState = st
		}
	}
	return trace.NewSpanContext(cfg), true
}

// hexLower decodes lowercase hex only (W3C Trace Context: HEXDIGLC).
func hexLower(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// appendTraceparent writes a version-00 traceparent (§3.2.2).
func appendTraceparent(b *[55]byte, tid trace.TraceID, sid trace.SpanID, flags trace.TraceFlags) string {
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(flags)})
	return string(b[:])
}

// lightSpan is a request whose trace is not sampled: nothing is
// recorded; the target gets a traceparent of the same trace (flag 00)
// whose parent is a span ID of the hop's own, as the SDK's non-recording
// spans would give it, and the client's tracestate.
type lightSpan struct {
	tid   trace.TraceID
	sid   trace.SpanID
	flags trace.TraceFlags
	tp    [1]string
	ts    [1]string
	hasTS bool
}

func (s *lightSpan) Upstream() (traceparent, tracestate []string) {
	if s.tp[0] == "" {
		var b [55]byte
		s.tp[0] = appendTraceparent(&b, s.tid, s.sid, s.flags)
	}
	if s.hasTS {
		tracestate = s.ts[:]
	}
	return s.tp[:], tracestate
}

func (s *lightSpan) TraceID() string       { return "" }
func (s *lightSpan) Recording() bool       { return false }
func (s *lightSpan) End(proxy.Observation) {}

func protoVersion(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "2"
	}
	return "1." + strconv.Itoa(r.ProtoMinor)
}

// span is one request's server span and its upstream client span.
type span struct {
	t   *Tracer
	ctx context.Context
	srv trace.Span
	cli trace.Span // nil until Upstream

	method string
	tp, ts [1]string // the hop's header values, made once
	// attrs holds the server span's attributes until End (at most 4 of
	// the request and 18 of End's).
	attrs [24]attribute.KeyValue
}

// Recording implements proxy.Span.
func (s *span) Recording() bool { return s.srv.IsRecording() }

// Upstream implements proxy.Span: a client span, child of the server span,
// whose context the target gets.
// TraceID is the server span's trace ID when it is sampled.
func (s *span) TraceID() string {
	if sc := s.srv.SpanContext(); sc.IsSampled() {
		return sc.TraceID().String()
	}
	return ""
}

func (s *span) Upstream() (traceparent, tracestate []string) {
	if s.cli == nil {
		_, s.cli = s.t.tr.Start(s.ctx, "upstream", clientKind)
		// W3C Trace Context §3.2.2, version 00, written directly: cheaper
		// than the propagator's header map; made once per request.
		sc := s.cli.SpanContext()
		var b [55]byte
		s.tp[0] = appendTraceparent(&b, sc.TraceID(), sc.SpanID(), sc.TraceFlags())
		if ts := sc.TraceState(); ts.Len() > 0 {
			s.ts[0] = ts.String()
		}
	}
	if s.ts[0] != "" {
		tracestate = s.ts[:]
	}
	return s.tp[:], tracestate
}

// End implements proxy.Span.
//
// The spans end at the SDK's clock (an End option would be allocated per
// call), the client span first.
func (s *span) End(o proxy.Observation) {
	if s.cli != nil {
		if s.cli.IsRecording() {
			// The hop's own attributes only: the Lattice ones are on the
			// server span (each attribute costs the exporter work).
			attrs := s.attrs[4:4:7] // not used by the server span's yet
			if tgt := o.Target; tgt != nil && tgt.Addr.IsValid() {
				attrs = append(attrs, attribute.String("server.address", tgt.Addr.Addr().String()),
					attribute.Int("server.port", int(tgt.Addr.Port())))
			}
			attrs = append(attrs, attribute.Int("http.response.status_code", o.Status))
			s.cli.SetAttributes(attrs...) // copied by the SDK
			if o.Status >= 500 {
				s.cli.SetStatus(codes.Error, "")
			}
		}
		s.cli.End()
	}
	if !s.srv.IsRecording() {
		s.srv.End()
		return
	}
	attrs := append(s.attrs[:4], attribute.Int("http.response.status_code", o.Status))
	name := "trellis"
	if v := o.VPC; v != nil {
		attrs = append(attrs, attribute.String("lattice.source_vpc.id", v.ID))
		if sn := v.ServiceNetwork; sn != nil {
			attrs = append(attrs, attribute.String("lattice.service_network.id", sn.ID),
				attribute.String("lattice.service_network.arn", sn.ARN))
		}
	}
	if svc := o.Service; svc != nil {
		name = svc.Name
		attrs = append(attrs, attribute.String("lattice.service.id", svc.ID),
			attribute.String("lattice.service.arn", svc.ARN), attribute.String("lattice.service.name", svc.Name))
	}
	if l := o.Listener; l != nil {
		attrs = append(attrs, attribute.String("lattice.listener.id", l.ID))
	}
	if ru := o.Rule; ru != nil {
		attrs = append(attrs, attribute.String("lattice.rule.id", ru.ID))
	}
	if tg := o.TargetGroup; tg != nil {
		attrs = append(attrs, attribute.String("lattice.target_group.id", tg.ID),
			attribute.String("lattice.target_group.arn", tg.ARN))
	}
	if tgt := o.Target; tgt != nil {
		attrs = append(attrs, attribute.String("lattice.target.id", tgt.ID))
		if tgt.Addr.IsValid() {
			attrs = append(attrs, attribute.String("lattice.target.address", tgt.Addr.String()))
		}
	}
	if o.AuthChecked {
		dec := "allow"
		if o.AuthDenied != "" {
			dec = "deny"
			attrs = append(attrs, attribute.String("lattice.auth.deny_reason", o.AuthDenied))
		}
		attrs = append(attrs, attribute.String("lattice.auth.decision", dec))
	}
	if o.Failure != "" {
		attrs = append(attrs, attribute.String("lattice.failure_reason", o.Failure))
	}
	if o.TimedOut {
		attrs = append(attrs, attribute.Bool("lattice.request_timeout", true))
	}
	s.srv.SetName(s.method + " " + name) // low cardinality: the method and the service, never the path
	s.srv.SetAttributes(attrs...)
	if o.Status >= 500 {
		// OTel HTTP semantic conventions: a server span is an error for
		// 5xx only (4xx are the client's).
		s.srv.SetStatus(codes.Error, o.Failure)
	}
	s.srv.End()
}
