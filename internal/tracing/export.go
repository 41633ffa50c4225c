package tracing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// exporter sends spans to an OTLP/HTTP traces endpoint (OTLP
// specification, "OTLP/HTTP": a POST of an ExportTraceServiceRequest in
// binary protobuf, Content-Type application/x-protobuf). It encodes the
// request itself, straight from the recorded spans into one reused
// buffer, instead of through the otlptracehttp exporter's intermediate
// protobuf structs: that conversion (three objects per attribute) was
// about a third of tracing's allocations per request, and its garbage is
// collected on the cores the requests are served on.
type exporter struct {
	url      string
	client   *http.Client
	resource []attribute.KeyValue

	mu    sync.Mutex // one export at a time (the loop, ForceFlush, Shutdown); guards buf and cache
	buf   []byte
	cache attrCache
}

// latticeKey names the snapshot objects whose attributes a server span
// carries (any may be nil).
type latticeKey struct {
	vpc  *snapshot.VPC
	svc  *snapshot.Service
	lst  *snapshot.Listener
	rule *snapshot.Rule
	tg   *snapshot.TargetGroup
	tgt  *snapshot.Target
}

// maxCached bounds the attribute cache (the combinations a snapshot's
// requests take: VPCs × services × rules × target groups × targets).
const maxCached = 4096

// attrCache holds the encoded Lattice attributes of each combination of
// snapshot objects the spans of one snapshot name: they are the same for
// every request that takes that path, so they are encoded once, and a
// span copies them. It is emptied when spans of another snapshot come
// (the objects, and the cache, of older snapshots are let go) and when it
// is full.
type attrCache struct {
	snap *snapshot.Snapshot
	enc  map[latticeKey][]byte
}

func (c *attrCache) lattice(snap *snapshot.Snapshot, k latticeKey) []byte {
	if c.enc == nil {
		c.enc = map[latticeKey][]byte{}
	}
	if snap != c.snap {
		clear(c.enc)
		c.snap = snap
	}
	if e, ok := c.enc[k]; ok {
		return e
	}
	if len(c.enc) >= maxCached {
		clear(c.enc)
	}
	e := appendLatticeAttrs(nil, k)
	c.enc[k] = e
	return e
}

// appendLatticeAttrs writes the span attributes of the snapshot objects
// (docs/tracing.md).
func appendLatticeAttrs(b []byte, k latticeKey) []byte {
	str := func(b []byte, k, v string) []byte { return appendKeyValue(b, fSpanAttributes, attribute.String(k, v)) }
	if v := k.vpc; v != nil {
		b = str(b, "lattice.source_vpc.id", v.ID)
		if sn := v.ServiceNetwork; sn != nil {
			b = str(b, "lattice.service_network.id", sn.ID)
			b = str(b, "lattice.service_network.arn", sn.ARN)
		}
	}
	if svc := k.svc; svc != nil {
		b = str(b, "lattice.service.id", svc.ID)
		b = str(b, "lattice.service.arn", svc.ARN)
		b = str(b, "lattice.service.name", svc.Name)
	}
	if l := k.lst; l != nil {
		b = str(b, "lattice.listener.id", l.ID)
	}
	if ru := k.rule; ru != nil {
		b = str(b, "lattice.rule.id", ru.ID)
	}
	if tg := k.tg; tg != nil {
		b = str(b, "lattice.target_group.id", tg.ID)
		b = str(b, "lattice.target_group.arn", tg.ARN)
	}
	if tgt := k.tgt; tgt != nil {
		b = str(b, "lattice.target.id", tgt.ID)
		if tgt.Addr.IsValid() {
			b = appendAddrAttr(b, "lattice.target.address", tgt.Addr, true)
		}
	}
	return b
}

func newExporter(url string, resource []attribute.KeyValue) *exporter {
	return &exporter{url: url, client: &http.Client{Timeout: 10 * time.Second}, resource: resource}
}

// ExportSpans sends the spans of requests in one export request.
func (e *exporter) ExportSpans(ctx context.Context, spans []*span) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = appendRequest(e.buf[:0], e.resource, spans, &e.cache)
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

// Shutdown closes the exporter's idle connections.
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

	fResAttributes = 1 // Resource

	fSSScope = 1 // ScopeSpans
	fSSSpans = 2

	fScopeName = 1 // InstrumentationScope

	fSpanTraceID      = 1 // Span
	fSpanSpanID       = 2
	fSpanTraceState   = 3
	fSpanParentSpanID = 4
	fSpanName         = 5
	fSpanKind         = 6
	fSpanStart        = 7
	fSpanEnd          = 8
	fSpanAttributes   = 9
	fSpanStatus       = 15
	fSpanFlags        = 16

	fStatusMessage = 2 // Status
	fStatusCode    = 3

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

// appendRequest encodes an ExportTraceServiceRequest: one resource, one
// instrumentation scope, the spans of the requests.
func appendRequest(b []byte, resource []attribute.KeyValue, spans []*span, c *attrCache) []byte {
	b, rs := beginMsg(b, fReqResourceSpans)
	var m int
	b, m = beginMsg(b, fRSResource)
	for _, kv := range resource {
		b = appendKeyValue(b, fResAttributes, kv)
	}
	b = endMsg(b, m)
	var ss int
	b, ss = beginMsg(b, fRSScopeSpans)
	b, m = beginMsg(b, fSSScope)
	b = appendString(b, fScopeName, scopeName)
	b = endMsg(b, m)
	for _, s := range spans {
		b, m = beginMsg(b, fSSSpans)
		b = appendServerSpan(b, s, c)
		b = endMsg(b, m)
		if s.hasCli {
			b, m = beginMsg(b, fSSSpans)
			b = appendClientSpan(b, s)
			b = endMsg(b, m)
		}
	}
	b = endMsg(b, ss)
	return endMsg(b, rs)
}

// appendSpanHead writes the fields every span has.
func appendSpanHead(b []byte, s *span, sid, parent trace.SpanID, remote bool, kind uint64, start int64) []byte {
	b = appendBytes(b, fSpanTraceID, s.tid[:])
	b = appendBytes(b, fSpanSpanID, sid[:])
	if s.tstate != "" {
		b = appendString(b, fSpanTraceState, s.tstate)
	}
	flags := uint32(s.flags) | flagHasIsRemote
	if parent.IsValid() {
		b = appendBytes(b, fSpanParentSpanID, parent[:])
		if remote {
			flags |= flagIsRemote
		}
	}
	b = protowire.AppendTag(b, fSpanFlags, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, flags)
	b = protowire.AppendTag(b, fSpanKind, protowire.VarintType)
	b = protowire.AppendVarint(b, kind)
	b = protowire.AppendTag(b, fSpanStart, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(start))
	b = protowire.AppendTag(b, fSpanEnd, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, uint64(s.end))
}

// appendStatus writes an error status (OTel HTTP semantic conventions: a
// span is an error for a 5xx only; 4xx are the client's).
func appendStatus(b []byte, status int, msg string) []byte {
	if status < 500 {
		return b
	}
	b, m := beginMsg(b, fSpanStatus)
	if msg != "" {
		b = appendString(b, fStatusMessage, truncate(msg))
	}
	b = protowire.AppendTag(b, fStatusCode, protowire.VarintType)
	b = protowire.AppendVarint(b, statusError)
	return endMsg(b, m)
}

// appendServerSpan writes the request's server span: named by the method
// and the service (low cardinality: never the path), with the request's
// and the Lattice attributes (docs/tracing.md).
func appendServerSpan(b []byte, s *span, c *attrCache) []byte {
	o := &s.o
	b = appendSpanHead(b, s, s.sid, s.parent, s.remote, kindServer, s.start)
	name := "trellis"
	if o.Service != nil {
		name = o.Service.Name
	}
	method := truncate(s.method) // the client's token (RFC 9110 §9.1)
	b = protowire.AppendTag(b, fSpanName, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(method)+1+len(name)))
	b = append(append(append(b, method...), ' '), name...)
	str := func(b []byte, k, v string) []byte { return appendKeyValue(b, fSpanAttributes, attribute.String(k, v)) }
	b = str(b, "http.request.method", s.method)
	b = str(b, "url.path", s.path)
	b = str(b, "server.address", s.host)
	b = str(b, "network.protocol.version", s.protoVer)
	b = appendKeyValue(b, fSpanAttributes, attribute.Int("http.response.status_code", o.Status))
	b = append(b, c.lattice(o.Snap, latticeKey{o.VPC, o.Service, o.Listener, o.Rule, o.TargetGroup, o.Target})...)
	if o.AuthChecked {
		dec := "allow"
		if o.AuthDenied != "" {
			dec = "deny"
			b = str(b, "lattice.auth.deny_reason", o.AuthDenied)
		}
		b = str(b, "lattice.auth.decision", dec)
	}
	if o.Failure != "" {
		b = str(b, "lattice.failure_reason", o.Failure)
	}
	if o.TimedOut {
		b = appendKeyValue(b, fSpanAttributes, attribute.Bool("lattice.request_timeout", true))
	}
	return appendStatus(b, o.Status, o.Failure)
}

// appendClientSpan writes the hop's client span: the hop's own attributes
// only (the Lattice ones are on the server span).
func appendClientSpan(b []byte, s *span) []byte {
	o := &s.o
	b = appendSpanHead(b, s, s.cliID, s.sid, false, kindClient, s.cliStart)
	b = appendString(b, fSpanName, "upstream")
	if tgt := o.Target; tgt != nil && tgt.Addr.IsValid() {
		b = appendAddrAttr(b, "server.address", tgt.Addr, false)
		b = appendKeyValue(b, fSpanAttributes, attribute.Int("server.port", int(tgt.Addr.Port())))
	}
	b = appendKeyValue(b, fSpanAttributes, attribute.Int("http.response.status_code", o.Status))
	return appendStatus(b, o.Status, "")
}

// truncate cuts a value at maxAttrLen characters: the path and the Host
// come from the client, and must not make every span as long. It also
// makes the value valid UTF-8 (invalid bytes become U+FFFD): OTLP's
// AnyValue.string_value is a proto3 string, which receivers refuse to
// decode otherwise, and one such value would lose its whole batch.
func truncate(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD") // allocates only for invalid input
	}
	if len(s) <= maxAttrLen {
		return s
	}
	n := 0
	for i := range s {
		if n == maxAttrLen {
			return s[:i]
		}
		n++
	}
	return s
}

func appendKeyValue(b []byte, field protowire.Number, kv attribute.KeyValue) []byte {
	b, m := beginMsg(b, field)
	b = appendString(b, fKVKey, string(kv.Key))
	b, vm := beginMsg(b, fKVValue)
	v := kv.Value
	switch v.Type() {
	case attribute.STRING:
		b = appendString(b, fAnyString, truncate(v.AsString()))
	case attribute.BOOL:
		b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = appendInt(b, fAnyInt, v.AsInt64())
	case attribute.FLOAT64:
		b = appendDouble(b, fAnyDouble, v.AsFloat64())
	case attribute.STRINGSLICE:
		b = appendArray(b, v.AsStringSlice(), func(b []byte, x string) []byte { return appendString(b, fAnyString, truncate(x)) })
	case attribute.BOOLSLICE:
		b = appendArray(b, v.AsBoolSlice(), func(b []byte, x bool) []byte {
			b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
			return protowire.AppendVarint(b, protowire.EncodeBool(x))
		})
	case attribute.INT64SLICE:
		b = appendArray(b, v.AsInt64Slice(), func(b []byte, x int64) []byte { return appendInt(b, fAnyInt, x) })
	case attribute.FLOAT64SLICE:
		b = appendArray(b, v.AsFloat64Slice(), func(b []byte, x float64) []byte { return appendDouble(b, fAnyDouble, x) })
	default:
		// An attribute type this encoder does not know: its string form.
		b = appendString(b, fAnyString, truncate(v.Emit()))
	}
	return endMsg(endMsg(b, vm), m)
}

// appendArray writes an ArrayValue of xs, each element an AnyValue that
// enc fills in.
func appendArray[E any](b []byte, xs []E, enc func([]byte, E) []byte) []byte {
	b, am := beginMsg(b, fAnyArray)
	for _, x := range xs {
		var e int
		b, e = beginMsg(b, fArrayValues)
		b = endMsg(enc(b, x), e)
	}
	return endMsg(b, am)
}

// appendAddrAttr writes a span attribute whose string value is the
// address (with the port when withPort), formatted into the buffer.
func appendAddrAttr(b []byte, key string, ap netip.AddrPort, withPort bool) []byte {
	b, m := beginMsg(b, fSpanAttributes)
	b = appendString(b, fKVKey, key)
	b, vm := beginMsg(b, fKVValue)
	b, sm := beginMsg(b, fAnyString)
	if withPort {
		b = ap.AppendTo(b)
	} else {
		b = ap.Addr().AppendTo(b)
	}
	return endMsg(endMsg(endMsg(b, sm), vm), m)
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
