package tracing

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
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
	tp   *sdktrace.TracerProvider
	tr   trace.Tracer
	prop propagation.TraceContext
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
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}
	if u.Path == "" || u.Path == "/" {
		opts = []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
		if u.Scheme == "http" {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
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
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithSampler(sdktrace.TraceIDRatioBased(cfg.Sample)),
		sdktrace.WithResource(res),
	)
	return &Tracer{tp: tp, tr: tp.Tracer("github.com/trellis-net/trellis/internal/tracing")}, nil
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// ForceFlush exports the spans buffered so far.
func (t *Tracer) ForceFlush(ctx context.Context) error { return t.tp.ForceFlush(ctx) }

// Start implements proxy.Tracer: the server span, child of the client's
// traceparent when it sent a valid one (W3C Trace Context §3.2; an invalid
// one starts a new trace, §3.2.2.7), with its tracestate carried on.
func (t *Tracer) Start(r *http.Request, start time.Time) proxy.Span {
	ctx := t.prop.Extract(context.Background(), propagation.HeaderCarrier(r.Header))
	ctx, s := t.tr.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start))
	if s.IsRecording() {
		s.SetAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("server.address", r.Host),
			attribute.String("network.protocol.version", protoVersion(r)),
		)
	}
	return &span{t: t, ctx: ctx, srv: s, method: r.Method}
}

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
}

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
		var ctx context.Context
		ctx, s.cli = s.t.tr.Start(s.ctx, "upstream", trace.WithSpanKind(trace.SpanKindClient))
		s.ctx = ctx
	}
	// W3C Trace Context §3.2.2, version 00, written directly: cheaper than
	// the propagator's header map.
	sc := trace.SpanContextFromContext(s.ctx)
	var b [55]byte
	copy(b[:], "00-")
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	traceparent = []string{string(b[:])}
	if ts := sc.TraceState(); ts.Len() > 0 {
		tracestate = []string{ts.String()}
	}
	return traceparent, tracestate
}

// End implements proxy.Span.
func (s *span) End(o proxy.Observation) {
	end := time.Now()
	if s.cli != nil {
		if s.cli.IsRecording() {
			// The hop's own attributes only: the Lattice ones are on the
			// server span (each attribute costs the exporter allocations).
			attrs := make([]attribute.KeyValue, 0, 3)
			if tgt := o.Target; tgt != nil && tgt.Addr.IsValid() {
				attrs = append(attrs, attribute.String("server.address", tgt.Addr.Addr().String()),
					attribute.Int("server.port", int(tgt.Addr.Port())))
			}
			attrs = append(attrs, attribute.Int("http.response.status_code", o.Status))
			s.cli.SetAttributes(attrs...)
			if o.Status >= 500 {
				s.cli.SetStatus(codes.Error, "")
			}
		}
		s.cli.End(trace.WithTimestamp(end))
	}
	if !s.srv.IsRecording() {
		s.srv.End()
		return
	}
	attrs := make([]attribute.KeyValue, 0, 20)
	attrs = append(attrs, attribute.Int("http.response.status_code", o.Status))
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
	s.srv.End(trace.WithTimestamp(end))
}
