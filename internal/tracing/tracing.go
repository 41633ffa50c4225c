package tracing

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/snapshot"
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
	// Logger gets the exporter's warnings (at most one a minute);
	// slog.Default() when nil.
	Logger *slog.Logger
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

// Tracer implements proxy.Tracer: it records spans itself and exports
// them with OTLP/HTTP (export.go) in batches (batch.go).
//
// It does not use the OpenTelemetry SDK's tracer: a request's two spans
// are one object of this package holding their IDs, times and attributes
// (the OTel API's trace and attribute types), queued as they are when the
// request ends and encoded straight into the OTLP protobuf. The SDK's
// generality (a span object, a context value and a snapshot per span, a
// map to de-duplicate attributes, a goroutine wake-up per span) cost a
// request at 100% sampling most of what it lost to tracing.
type Tracer struct {
	b        *batcher
	resource []attribute.KeyValue
	// never: the sampling ratio is 0; always: it is 1; bound: otherwise,
	// the bound on the trace ID's low 63 bits under which a trace is
	// sampled (OpenTelemetry's TraceIDRatioBased sampler: other hops
	// that use it with the same ratio decide the same).
	never, always bool
	bound         uint64
}

// scopeName is the instrumentation scope of the spans.
const scopeName = "github.com/trellis-net/trellis/internal/tracing"

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
	name := cfg.ServiceName
	if name == "" {
		name = "trellis"
	}
	t := &Tracer{resource: []attribute.KeyValue{attribute.String("service.name", name)},
		never: cfg.Sample <= 0, always: cfg.Sample >= 1}
	if !t.never && !t.always {
		t.bound = uint64(cfg.Sample * (1 << 63))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	t.b = newBatcher(newExporter(u.String(), t.resource), log.With("component", "tracing"))
	return t, nil
}

// sampled is TraceIDRatioBased's decision for id: the trace ID's last 8
// bytes, shifted to 63 bits, below the ratio's bound.
func (t *Tracer) sampled(id trace.TraceID) bool {
	if t.always || t.never {
		return t.always
	}
	return binary.BigEndian.Uint64(id[8:16])>>1 < t.bound
}

// newTraceID and newSpanID use math/rand/v2's per-thread generator: no
// lock. IDs need to be unique and random, not secret (W3C Trace Context
// §3.2.2.3, §3.2.2.4).
func newTraceID() trace.TraceID {
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}

// Shutdown exports the spans still queued and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.b.Shutdown(ctx) }

// ForceFlush exports the spans queued so far.
func (t *Tracer) ForceFlush(ctx context.Context) error { return t.b.flush(ctx) }

// Start implements proxy.Tracer: the server span, child of the client's
// traceparent when it sent a valid one (W3C Trace Context §3.2; an invalid
// one starts a new trace, §3.2.2.7), with its tracestate carried on.
//
// A trace that is not sampled records nothing: only the IDs it propagates
// are made (lightSpan), which is what makes 0% sampling cost about as
// little as tracing off.
func (t *Tracer) Start(r *http.Request, start time.Time) proxy.Span {
	psc, ok := parentContext(r.Header)
	tid := psc.TraceID()
	flags := psc.TraceFlags()
	if !ok {
		tid, flags = newTraceID(), 0
	}
	if !t.sampled(tid) {
		ls := &lightSpan{tid: tid, flags: flags &^ trace.FlagsSampled, sid: newSpanID()}
		if ts := psc.TraceState(); ts.Len() > 0 {
			ls.ts[0] = ts.String() // validated (§3.3)
			ls.hasTS = true
		}
		return ls
	}
	sp := &span{b: t.b, tid: tid, sid: newSpanID(), flags: flags | trace.FlagsSampled, start: start.UnixNano(),
		method: r.Method, path: r.URL.Path, host: r.Host, protoVer: protoVersion(r)}
	if ok {
		sp.parent, sp.remote = psc.SpanID(), true
		if ts := psc.TraceState(); ts.Len() > 0 {
			sp.tstate = ts.String()
		}
	}
	return sp
}

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
	switch {
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1" // a constant: no allocation for the common cases
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}

// Span kinds (OTLP's SPAN_KIND_*).
const (
	kindServer = 2
	kindClient = 3
)

// Span status codes (OTLP's STATUS_CODE_*).
const statusError = 2

// span is one sampled request: its server span and, once Upstream is
// called, its client span for the hop to the target. End copies the
// request's Observation into it as it is; the attributes are written from
// it when the batch is encoded, off the request's path. (The snapshot
// objects it points to are immutable; the span keeps them until its batch
// is exported, at most about a second.)
type span struct {
	b *batcher

	tid            trace.TraceID
	sid, parent    trace.SpanID // parent: zero when the server span is a root
	remote         bool         // the parent is the client's (another process's)
	flags          trace.TraceFlags
	tstate         string
	start, end     int64 // Unix ns
	cliID          trace.SpanID
	cliStart       int64
	hasCli         bool
	method, path   string
	host, protoVer string
	o              ended

	tp, ts [1]string // the hop's header values, made once
}

// Recording implements proxy.Span.
func (s *span) Recording() bool { return true }

// TraceID implements proxy.Span.
func (s *span) TraceID() string { return s.tid.String() }

// Upstream implements proxy.Span: a client span, child of the server span,
// whose context the target gets (W3C Trace Context §3.2.2, version 00,
// written directly; made once per request).
func (s *span) Upstream() (traceparent, tracestate []string) {
	if !s.hasCli {
		s.hasCli, s.cliID, s.cliStart = true, newSpanID(), time.Now().UnixNano()
		var b [55]byte
		s.tp[0] = appendTraceparent(&b, s.tid, s.cliID, s.flags)
		s.ts[0] = s.tstate
	}
	if s.ts[0] != "" {
		tracestate = s.ts[:]
	}
	return s.tp[:], tracestate
}

// ended is what the spans keep of the request's Observation: its
// snapshot objects (immutable) and values, nothing else the proxy may
// reuse.
type ended struct {
	Snap        *snapshot.Snapshot
	VPC         *snapshot.VPC
	Service     *snapshot.Service
	Listener    *snapshot.Listener
	Rule        *snapshot.Rule
	TargetGroup *snapshot.TargetGroup
	Target      *snapshot.Target
	Status      int
	TimedOut    bool
	AuthChecked bool
	AuthDenied  string
	Failure     string
}

// End implements proxy.Span: both spans end now, and are queued for
// export. The proxy does not use the span after End.
func (s *span) End(o proxy.Observation) {
	s.end = time.Now().UnixNano()
	s.o = ended{Snap: o.Snap, VPC: o.VPC, Service: o.Service, Listener: o.Listener, Rule: o.Rule, TargetGroup: o.TargetGroup,
		Target: o.Target, Status: o.Status, TimedOut: o.TimedOut, AuthChecked: o.AuthChecked, AuthDenied: o.AuthDenied,
		Failure: o.Failure}
	s.b.add(s)
}
