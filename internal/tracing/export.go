package tracing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// exporter sends spans to an OTLP/HTTP traces endpoint (OTLP
// specification, "OTLP/HTTP": a POST of an ExportTraceServiceRequest in
// binary protobuf, Content-Type application/x-protobuf). It encodes the
// request itself, straight from the SDK's read-only spans into one reused
// buffer, instead of through the otlptracehttp exporter's intermediate
// protobuf structs: that conversion (three objects per attribute) was
// about a third of tracing's allocations per request, and its garbage is
// collected on the cores the requests are served on.
type exporter struct {
	url    string
	client *http.Client

	mu  sync.Mutex // one export at a time (the batch processor's goroutine; Shutdown)
	buf []byte
}

func newExporter(url string) *exporter {
	return &exporter{url: url, client: &http.Client{Timeout: 10 * time.Second}}
}

// ExportSpans implements sdktrace.SpanExporter.
func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = appendRequest(e.buf[:0], spans)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(e.buf))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	res, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("otlp export: %w", err)
	}
	// The body (an ExportTraceServiceResponse, maybe a partial success)
	// is read so that the connection is reused; a rejected batch is
	// dropped, as a full queue drops spans.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("otlp export: %s answered %s", e.url, res.Status)
	}
	return nil
}

// Shutdown implements sdktrace.SpanExporter.
func (e *exporter) Shutdown(context.Context) error {
	e.client.CloseIdleConnections()
	return nil
}

// Field numbers of opentelemetry-proto (collector/trace/v1,
// trace/v1, common/v1, resource/v1).
const (
	fReqResourceSpans = 1 // ExportTraceServiceRequest

	fRSResource   = 1 // ResourceSpans
	fRSScopeSpans = 2
	fRSSchemaURL  = 3

	fResAttributes = 1 // Resource

	fSSScope     = 1 // ScopeSpans
	fSSSpans     = 2
	fSSSchemaURL = 3

	fScopeName    = 1 // InstrumentationScope
	fScopeVersion = 2
	fScopeAttrs   = 3

	fSpanTraceID       = 1 // Span
	fSpanSpanID        = 2
	fSpanTraceState    = 3
	fSpanParentSpanID  = 4
	fSpanName          = 5
	fSpanKind          = 6
	fSpanStart         = 7
	fSpanEnd           = 8
	fSpanAttributes    = 9
	fSpanDroppedAttrs  = 10
	fSpanEvents        = 11
	fSpanDroppedEvents = 12
	fSpanLinks         = 13
	fSpanDroppedLinks  = 14
	fSpanStatus        = 15
	fSpanFlags         = 16

	fStatusMessage = 2 // Status
	fStatusCode    = 3

	fEventTime    = 1 // Span.Event
	fEventName    = 2
	fEventAttrs   = 3
	fEventDropped = 4

	fLinkTraceID    = 1 // Span.Link
	fLinkSpanID     = 2
	fLinkTraceState = 3
	fLinkAttrs      = 4
	fLinkDropped    = 5
	fLinkFlags      = 6

	fKVKey   = 1 // KeyValue
	fKVValue = 2

	fAnyString = 1 // AnyValue
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4
	fAnyArray  = 5

	fArrayValues = 1 // ArrayValue
)

// Span flags (trace/v1 SpanFlags): the W3C trace flags in the low byte,
// and whether the parent is remote.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// appendRequest encodes an ExportTraceServiceRequest of spans, grouped by
// resource and instrumentation scope as they come (one tracer provider
// and one tracer: one group).
func appendRequest(b []byte, spans []sdktrace.ReadOnlySpan) []byte {
	for i := 0; i < len(spans); {
		res := spans[i].Resource()
		j := i + 1
		for j < len(spans) && spans[j].Resource() == res {
			j++
		}
		var m int
		b, m = beginMsg(b, fReqResourceSpans)
		b = appendResourceSpans(b, res, spans[i:j])
		b = endMsg(b, m)
		i = j
	}
	return b
}

func appendResourceSpans(b []byte, res *resource.Resource, spans []sdktrace.ReadOnlySpan) []byte {
	if res != nil {
		var m int
		b, m = beginMsg(b, fRSResource)
		for _, kv := range res.Attributes() {
			b = appendKeyValue(b, fResAttributes, kv)
		}
		b = endMsg(b, m)
		if u := res.SchemaURL(); u != "" {
			b = appendString(b, fRSSchemaURL, u)
		}
	}
	for i := 0; i < len(spans); {
		sc := spans[i].InstrumentationScope()
		j := i + 1
		for j < len(spans) && sameScope(spans[j].InstrumentationScope(), sc) {
			j++
		}
		var m int
		b, m = beginMsg(b, fRSScopeSpans)
		b = appendScope(b, sc)
		for _, s := range spans[i:j] {
			var sm int
			b, sm = beginMsg(b, fSSSpans)
			b = appendSpan(b, s)
			b = endMsg(b, sm)
		}
		if sc.SchemaURL != "" {
			b = appendString(b, fSSSchemaURL, sc.SchemaURL)
		}
		b = endMsg(b, m)
		i = j
	}
	return b
}

func sameScope(a, b instrumentation.Scope) bool {
	return a.Name == b.Name && a.Version == b.Version && a.SchemaURL == b.SchemaURL && a.Attributes.Equals(&b.Attributes)
}

func appendScope(b []byte, sc instrumentation.Scope) []byte {
	b, m := beginMsg(b, fSSScope)
	if sc.Name != "" {
		b = appendString(b, fScopeName, sc.Name)
	}
	if sc.Version != "" {
		b = appendString(b, fScopeVersion, sc.Version)
	}
	for it := sc.Attributes.Iter(); it.Next(); {
		b = appendKeyValue(b, fScopeAttrs, it.Attribute())
	}
	return endMsg(b, m)
}

func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, fSpanTraceID, tid[:])
	b = appendBytes(b, fSpanSpanID, sid[:])
	if ts := sc.TraceState(); ts.Len() > 0 {
		b = appendString(b, fSpanTraceState, ts.String())
	}
	flags := uint32(sc.TraceFlags()) | flagHasIsRemote
	if p := s.Parent(); p.SpanID().IsValid() {
		psid := p.SpanID()
		b = appendBytes(b, fSpanParentSpanID, psid[:])
		if p.IsRemote() {
			flags |= flagIsRemote
		}
	}
	b = protowire.AppendTag(b, fSpanFlags, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, flags)
	b = appendString(b, fSpanName, s.Name())
	if k := spanKind(s.SpanKind()); k != 0 {
		b = protowire.AppendTag(b, fSpanKind, protowire.VarintType)
		b = protowire.AppendVarint(b, k)
	}
	b = appendTime(b, fSpanStart, s.StartTime())
	b = appendTime(b, fSpanEnd, s.EndTime())
	for _, kv := range s.Attributes() {
		b = appendKeyValue(b, fSpanAttributes, kv)
	}
	b = appendCount(b, fSpanDroppedAttrs, s.DroppedAttributes())
	for _, ev := range s.Events() {
		var m int
		b, m = beginMsg(b, fSpanEvents)
		b = appendTime(b, fEventTime, ev.Time)
		b = appendString(b, fEventName, ev.Name)
		for _, kv := range ev.Attributes {
			b = appendKeyValue(b, fEventAttrs, kv)
		}
		b = appendCount(b, fEventDropped, ev.DroppedAttributeCount)
		b = endMsg(b, m)
	}
	b = appendCount(b, fSpanDroppedEvents, s.DroppedEvents())
	for _, l := range s.Links() {
		var m int
		b, m = beginMsg(b, fSpanLinks)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		b = appendBytes(b, fLinkTraceID, ltid[:])
		b = appendBytes(b, fLinkSpanID, lsid[:])
		if ts := l.SpanContext.TraceState(); ts.Len() > 0 {
			b = appendString(b, fLinkTraceState, ts.String())
		}
		for _, kv := range l.Attributes {
			b = appendKeyValue(b, fLinkAttrs, kv)
		}
		b = appendCount(b, fLinkDropped, l.DroppedAttributeCount)
		lflags := uint32(l.SpanContext.TraceFlags()) | flagHasIsRemote
		if l.SpanContext.IsRemote() {
			lflags |= flagIsRemote
		}
		b = protowire.AppendTag(b, fLinkFlags, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, lflags)
		b = endMsg(b, m)
	}
	b = appendCount(b, fSpanDroppedLinks, s.DroppedLinks())
	if st := s.Status(); st.Code != codes.Unset {
		var m int
		b, m = beginMsg(b, fSpanStatus)
		if st.Code == codes.Error && st.Description != "" {
			// The message is for errors only (trace API: Status).
			b = appendString(b, fStatusMessage, st.Description)
		}
		code := uint64(1) // STATUS_CODE_OK
		if st.Code == codes.Error {
			code = 2
		}
		b = protowire.AppendTag(b, fStatusCode, protowire.VarintType)
		b = protowire.AppendVarint(b, code)
		b = endMsg(b, m)
	}
	return b
}

// spanKind maps the API's kinds to OTLP's (SPAN_KIND_*).
func spanKind(k trace.SpanKind) uint64 {
	switch k {
	case trace.SpanKindInternal:
		return 1
	case trace.SpanKindServer:
		return 2
	case trace.SpanKindClient:
		return 3
	case trace.SpanKindProducer:
		return 4
	case trace.SpanKindConsumer:
		return 5
	}
	return 0
}

func appendKeyValue(b []byte, field protowire.Number, kv attribute.KeyValue) []byte {
	b, m := beginMsg(b, field)
	b = appendString(b, fKVKey, string(kv.Key))
	b, vm := beginMsg(b, fKVValue)
	v := kv.Value
	switch v.Type() {
	case attribute.STRING:
		b = appendString(b, fAnyString, v.AsString())
	case attribute.BOOL:
		b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = appendInt(b, fAnyInt, v.AsInt64())
	case attribute.FLOAT64:
		b = appendDouble(b, fAnyDouble, v.AsFloat64())
	case attribute.STRINGSLICE:
		var am int
		b, am = beginMsg(b, fAnyArray)
		for _, s := range v.AsStringSlice() {
			var e int
			b, e = beginMsg(b, fArrayValues)
			b = appendString(b, fAnyString, s)
			b = endMsg(b, e)
		}
		b = endMsg(b, am)
		return endMsg(endMsg(b, vm), m)
	case attribute.BOOLSLICE:
		var am int
		b, am = beginMsg(b, fAnyArray)
		for _, x := range v.AsBoolSlice() {
			var e int
			b, e = beginMsg(b, fArrayValues)
			b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
			b = protowire.AppendVarint(b, protowire.EncodeBool(x))
			b = endMsg(b, e)
		}
		b = endMsg(b, am)
		return endMsg(endMsg(b, vm), m)
	case attribute.INT64SLICE:
		var am int
		b, am = beginMsg(b, fAnyArray)
		for _, x := range v.AsInt64Slice() {
			var e int
			b, e = beginMsg(b, fArrayValues)
			b = appendInt(b, fAnyInt, x)
			b = endMsg(b, e)
		}
		b = endMsg(b, am)
		return endMsg(endMsg(b, vm), m)
	case attribute.FLOAT64SLICE:
		var am int
		b, am = beginMsg(b, fAnyArray)
		for _, x := range v.AsFloat64Slice() {
			var e int
			b, e = beginMsg(b, fArrayValues)
			b = appendDouble(b, fAnyDouble, x)
			b = endMsg(b, e)
		}
		b = endMsg(b, am)
		return endMsg(endMsg(b, vm), m)
	default:
		// An attribute type this encoder does not know: its string form.
		b = appendString(b, fAnyString, v.Emit())
	}
	return endMsg(endMsg(b, vm), m)
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, field protowire.Number, p []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, p)
}

func appendInt(b []byte, field protowire.Number, x int64) []byte {
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(x))
}

func appendDouble(b []byte, field protowire.Number, x float64) []byte {
	b = protowire.AppendTag(b, field, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(x))
}

func appendTime(b []byte, field protowire.Number, t time.Time) []byte {
	b = protowire.AppendTag(b, field, protowire.Fixed64Type)
	var ns uint64
	if !t.IsZero() {
		ns = uint64(t.UnixNano())
	}
	return protowire.AppendFixed64(b, ns)
}

// appendCount writes a count field when it is not zero (proto3 default).
func appendCount(b []byte, field protowire.Number, n int) []byte {
	if n <= 0 {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(n))
}

// beginMsg writes the tag of an embedded message and returns where its
// contents start; endMsg puts the length in front of them once they are
// written (moving them by the length's size, within the same buffer: no
// scratch buffer, no second pass).
func beginMsg(b []byte, field protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return b, len(b)
}

func endMsg(b []byte, start int) []byte {
	n := len(b) - start
	k := protowire.SizeVarint(uint64(n))
	b = append(b, make([]byte, k)...)
	copy(b[start+k:], b[start:start+n])
	protowire.AppendVarint(b[start:start], uint64(n))
	return b
}
