package tracing

import (
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// receiver decodes OTLP/HTTP exports with the OTLP protobuf definitions.
type receiver struct {
	mu    sync.Mutex
	reqs  []*coltracepb.ExportTraceServiceRequest
	spans []*tracepb.Span
}

func newReceiver(t *testing.T) (*receiver, string) {
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("export does not decode: %v", err)
			w.WriteHeader(400)
			return
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, &req)
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

// TestExportRoundTrip: the spans of a traced request, encoded by the own
// exporter, decode with the OTLP definitions with every field the SDK
// gave them: IDs, parent, kind, times, attributes of each type, status.
func TestExportRoundTrip(t *testing.T) {
	rc, url := newReceiver(t)
	tr, err := New(Config{Endpoint: url, Sample: 1})
	if err != nil {
		t.Fatal(err)
	}
	const tid, psid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest("GET", "http://a.example/p?q=1", nil)
	req.Header.Set("Traceparent", "00-"+tid+"-"+psid+"-01")
	req.Header.Set("Tracestate", "vendor=abc")
	start := time.Now()
	sp := tr.Start(req, start)
	if !sp.Recording() {
		t.Fatal("a sampled span does not record")
	}
	tp, ts := sp.Upstream()
	if len(tp) != 1 || tp[0][:36] != "00-"+tid+"-" || tp[0][52:] != "-01" || len(ts) != 1 || ts[0] != "vendor=abc" {
		t.Fatalf("upstream context %q %q", tp, ts)
	}
	tp2, _ := sp.Upstream()
	if tp2[0] != tp[0] {
		t.Fatalf("a second Upstream gave another span: %q %q", tp2, tp)
	}
	svc := &snapshot.Service{ID: "svc-0a", ARN: "arn:svc", Name: "orders"}
	tgt := &snapshot.Target{ID: "10.0.0.1", Addr: netip.MustParseAddrPort("10.0.0.1:8080")}
	sp.End(proxy.Observation{Service: svc, Target: tgt, Status: 503, Failure: "NoTargets", TimedOut: true})
	if err := tr.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = tr.Shutdown(t.Context())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.spans) != 2 {
		t.Fatalf("%d spans", len(rc.spans))
	}
	rs := rc.reqs[0].ResourceSpans[0]
	if a := rs.Resource.Attributes; len(a) != 1 || a[0].Key != "service.name" || a[0].Value.GetStringValue() != "trellis" {
		t.Errorf("resource %v", rs.Resource)
	}
	if sc := rs.ScopeSpans[0].Scope; sc.Name != "github.com/trellis-net/trellis/internal/tracing" {
		t.Errorf("scope %v", sc)
	}
	var srv, cli *tracepb.Span
	for _, s := range rc.spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			srv = s
		} else if s.Kind == tracepb.Span_SPAN_KIND_CLIENT {
			cli = s
		}
	}
	if srv == nil || cli == nil {
		t.Fatalf("kinds: %v", rc.spans)
	}
	if hex.EncodeToString(srv.TraceId) != tid || hex.EncodeToString(srv.ParentSpanId) != psid || srv.TraceState != "vendor=abc" ||
		srv.Flags != 0x301 || srv.Name != "GET orders" || srv.StartTimeUnixNano != uint64(start.UnixNano()) || srv.EndTimeUnixNano < srv.StartTimeUnixNano {
		t.Errorf("server span %v", srv)
	}
	if hex.EncodeToString(cli.TraceId) != tid || string(cli.ParentSpanId) != string(srv.SpanId) || cli.Flags != 0x101 ||
		tp[0][36:52] != hex.EncodeToString(cli.SpanId) {
		t.Errorf("client span %v (traceparent %s)", cli, tp[0])
	}
	if srv.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || srv.Status.GetMessage() != "NoTargets" {
		t.Errorf("status %v", srv.Status)
	}
	attrs := map[string]string{}
	for _, kv := range srv.Attributes {
		switch {
		case kv.Value.GetStringValue() != "":
			attrs[kv.Key] = kv.Value.GetStringValue()
		default:
			attrs[kv.Key] = kv.Value.String()
		}
	}
	for k, want := range map[string]string{"url.path": "/p", "server.address": "a.example", "lattice.service.name": "orders",
		"lattice.target.address": "10.0.0.1:8080", "lattice.failure_reason": "NoTargets"} {
		if attrs[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], want)
		}
	}
	var status int64
	var timedOut bool
	for _, kv := range srv.Attributes {
		switch kv.Key {
		case "http.response.status_code":
			status = kv.Value.GetIntValue()
		case "lattice.request_timeout":
			timedOut = kv.Value.GetBoolValue()
		}
	}
	if status != 503 || !timedOut {
		t.Errorf("int and bool attributes: %d %v", status, timedOut)
	}
}

// TestUnsampledSpansSkipTheSDK: at 0% a request's span records nothing,
// exports nothing, and still propagates the trace (flag 00, the client's
// trace ID and tracestate, a span ID of the hop's own).
func TestUnsampledSpansSkipTheSDK(t *testing.T) {
	rc, url := newReceiver(t)
	tr, err := New(Config{Endpoint: url, Sample: 0})
	if err != nil {
		t.Fatal(err)
	}
	const tid, psid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest("GET", "http://a.example/p", nil)
	req.Header.Set("Traceparent", "00-"+tid+"-"+psid+"-01")
	req.Header.Set("Tracestate", "vendor=abc")
	sp := tr.Start(req, time.Now())
	if sp.Recording() || sp.TraceID() != "" {
		t.Fatal("an unsampled span records")
	}
	tp, ts := sp.Upstream()
	if len(tp) != 1 || len(tp[0]) != 55 || tp[0][:36] != "00-"+tid+"-" || tp[0][36:52] == psid || tp[0][52:] != "-00" ||
		len(ts) != 1 || ts[0] != "vendor=abc" {
		t.Fatalf("upstream context %q %q", tp, ts)
	}
	sp.End(proxy.Observation{Status: 200})
	// Without a traceparent: a new trace.
	req.Header.Del("Traceparent")
	tp, ts = tr.Start(req, time.Now()).Upstream()
	if tp[0][:3] != "00-" || tp[0][3:35] == tid || tp[0][52:] != "-00" || ts != nil {
		t.Fatalf("new trace's context %q %q", tp, ts)
	}
	_ = tr.ForceFlush(t.Context())
	_ = tr.Shutdown(t.Context())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.reqs) != 0 {
		t.Fatalf("0%% sampling exported %d requests", len(rc.reqs))
	}
}

// TestAttributeEncoding: every attribute type decodes as OTLP's AnyValue.
func TestAttributeEncoding(t *testing.T) {
	for _, kv := range []attribute.KeyValue{
		attribute.String("s", "v"), attribute.Bool("b", true), attribute.Int64("i", -7), attribute.Float64("f", 1.5),
		attribute.StringSlice("ss", []string{"a", "b"}), attribute.BoolSlice("bs", []bool{true, false}),
		attribute.Int64Slice("is", []int64{1, -2}), attribute.Float64Slice("fs", []float64{0.25}),
	} {
		b := appendKeyValue(nil, 1, kv)
		// Field 1 of a message holding one KeyValue: decode it as the
		// Resource's attributes (field 1).
		var res resourcepb.Resource
		if err := proto.Unmarshal(b, &res); err != nil || len(res.Attributes) != 1 {
			t.Fatalf("%s: %v %v", kv.Key, err, &res)
		}
		got, want := res.Attributes[0], kv.Value.Emit()
		var s string
		switch v := got.Value; {
		case v.GetArrayValue() != nil:
			var parts []string
			for _, e := range v.GetArrayValue().Values {
				parts = append(parts, anyText(e))
			}
			s = "[" + strings.Join(parts, ",") + "]"
			want = strings.ReplaceAll(strings.ReplaceAll(want, "\"", ""), " ", ",")
		default:
			s = anyText(v)
		}
		if got.Key != string(kv.Key) || s != want {
			t.Errorf("%s: decoded %q, want %q", kv.Key, s, want)
		}
	}
}

func anyText(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	}
	return "?"
}

// TestBatcherExportsInBatches: more spans than a batch go out in batches
// of at most batchSize, with none lost or repeated, across the two
// queue arrays' turns; Shutdown exports the rest.
func TestBatcherExportsInBatches(t *testing.T) {
	rc, url := newReceiver(t)
	tr, err := New(Config{Endpoint: url, Sample: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3*batchSize + 7
	req := httptest.NewRequest("GET", "http://a.example/p", nil)
	for i := 0; i < n; i++ {
		tr.Start(req, time.Now()).End(proxy.Observation{Status: 200})
		if i == batchSize+3 {
			_ = tr.ForceFlush(t.Context())
		}
	}
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range rc.spans {
		seen[string(s.SpanId)] = true
	}
	if len(rc.spans) != n || len(seen) != n {
		t.Fatalf("%d spans received, %d distinct; want %d", len(rc.spans), len(seen), n)
	}
	for _, r := range rc.reqs {
		if c := len(r.ResourceSpans[0].ScopeSpans[0].Spans); c > batchSize {
			t.Fatalf("a batch of %d spans", c)
		}
	}
}

// TestParentContext: the client's traceparent is taken only when it is
// valid (W3C Trace Context §3.2.2, §3.2.4), its tracestate only then.
func TestParentContext(t *testing.T) {
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, c := range []struct {
		tp   string
		ok   bool
		flag byte
	}{
		{"00-" + tid + "-" + sid + "-01", true, 1},
		{"00-" + tid + "-" + sid + "-00", true, 0},
		{"01-" + tid + "-" + sid + "-01-future", true, 1}, // a later version: its first fields
		{"01-" + tid + "-" + sid + "-01", true, 1},
		{"00-" + tid + "-" + sid + "-01-x", false, 0}, // version 00 has nothing more
		{"01-" + tid + "-" + sid + "-01x", false, 0},
		{"ff-" + tid + "-" + sid + "-01", false, 0},
		{"00-" + strings.ToUpper(tid) + "-" + sid + "-01", false, 0},
		{"00-00000000000000000000000000000000-" + sid + "-01", false, 0},
		{"00-" + tid + "-0000000000000000-01", false, 0},
		{"00-" + tid + "-" + sid + "-0g", false, 0},
		{"00_" + tid + "-" + sid + "-01", false, 0},
		{"", false, 0},
	} {
		h := http.Header{"Traceparent": {c.tp}, "Tracestate": {"a=1", "b=2"}}
		sc, ok := parentContext(h)
		if ok != c.ok {
			t.Errorf("%q: ok %v, want %v", c.tp, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if sc.TraceID().String() != tid || sc.SpanID().String() != sid || byte(sc.TraceFlags()) != c.flag || !sc.IsRemote() ||
			sc.TraceState().String() != "a=1,b=2" {
			t.Errorf("%q: %v %v %v %q", c.tp, sc.TraceID(), sc.SpanID(), sc.TraceFlags(), sc.TraceState().String())
		}
	}
	if _, ok := parentContext(http.Header{}); ok {
		t.Error("no traceparent is valid")
	}
	// An invalid tracestate is dropped, the traceparent kept.
	sc, ok := parentContext(http.Header{"Traceparent": {"00-" + tid + "-" + sid + "-01"}, "Tracestate": {"not a list member"}})
	if !ok || sc.TraceState().Len() != 0 {
		t.Errorf("invalid tracestate: %v %q", ok, sc.TraceState().String())
	}
}

// TestExportFailureIsLoggedOnce: a refused export is reported, at most
// once a minute.
func TestExportFailureIsLoggedOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	t.Cleanup(srv.Close)
	var logs strings.Builder
	var mu sync.Mutex
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil)
	tr, err := New(Config{Endpoint: srv.URL, Sample: 1, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(t.Context())
	req := httptest.NewRequest("GET", "http://a.example/p", nil)
	now := time.Now()
	for i := 0; i < 3; i++ {
		tr.Start(req, time.Now()).End(proxy.Observation{Status: 200})
		tr.b.report(tr.ForceFlush(t.Context()), now.Add(time.Duration(i)*time.Second))
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "spans were not exported"); n != 1 || !strings.Contains(logs.String(), "503") {
		t.Fatalf("%d warnings: %s", n, logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestAttributeCache: spans that take the same path share the encoded
// Lattice attributes, spans of another path or snapshot get their own.
func TestAttributeCache(t *testing.T) {
	snap1, snap2 := &snapshot.Snapshot{Revision: 1}, &snapshot.Snapshot{Revision: 2}
	a, b := &snapshot.Service{ID: "svc-0a", Name: "a"}, &snapshot.Service{ID: "svc-0b", Name: "b"}
	mk := func(snap *snapshot.Snapshot, svc *snapshot.Service) *span {
		return &span{tid: newTraceID(), sid: newSpanID(), method: "GET", o: ended{Snap: snap, Service: svc, Status: 200}}
	}
	var c attrCache
	spans := []*span{mk(snap1, a), mk(snap1, b), mk(snap1, a), mk(snap2, b), mk(snap2, a)}
	buf := appendRequest(nil, nil, spans, &c)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(buf, &req); err != nil {
		t.Fatal(err)
	}
	got := req.ResourceSpans[0].ScopeSpans[0].Spans
	for i, want := range []string{"svc-0a", "svc-0b", "svc-0a", "svc-0b", "svc-0a"} {
		var id string
		for _, kv := range got[i].Attributes {
			if kv.Key == "lattice.service.id" {
				id = kv.Value.GetStringValue()
			}
		}
		if id != want || got[i].Name != "GET "+spans[i].o.Service.Name {
			t.Errorf("span %d: service %q name %q, want %q", i, id, got[i].Name, want)
		}
	}
	if c.snap != snap2 || len(c.enc) != 2 {
		t.Errorf("cache of snapshot %v with %d entries, want snapshot 2 with 2", c.snap, len(c.enc))
	}
}
