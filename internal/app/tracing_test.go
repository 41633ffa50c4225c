package app_test

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes the collector's
// protobuf export requests (OTLP specification, "OTLP/HTTP") and keeps the
// spans.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	posts int
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP export: %s %s %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("OTLP export: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.posts++
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// trace returns the spans received of the trace with the given ID.
func (rc *otlpReceiver) trace(id string) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

func (rc *otlpReceiver) count() (spans, posts int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.spans), rc.posts
}

// spanAttr returns a span attribute's value as text (strings, ints and
// bools), and whether the span has it.
func spanAttr(s *tracepb.Span, key string) (string, bool) {
	for _, kv := range s.Attributes {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue, true
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10), true
		case *commonpb.AnyValue_BoolValue:
			return strconv.FormatBool(v.BoolValue), true
		}
		return kv.Value.String(), true
	}
	return "", false
}

// spanOfKind returns the one span of the kind in spans.
func spanOfKind(t *testing.T, spans []*tracepb.Span, k tracepb.Span_SpanKind) *tracepb.Span {
	t.Helper()
	var found *tracepb.Span
	for _, s := range spans {
		if s.Kind == k {
			if found != nil {
				t.Fatalf("two %v spans in the trace", k)
			}
			found = s
		}
	}
	if found == nil {
		t.Fatalf("no %v span in the trace (%d spans)", k, len(spans))
	}
	return found
}

// tracedWorld is a service with a listener forwarding to a backend, and a
// rule /empty to a group without targets.
func tracedWorld(t *testing.T, o apptest.Options) (w *world, b *backend, ingress, host string, lst *vpclattice.CreateListenerOutput,
	tg, tgEmpty *vpclattice.CreateTargetGroupOutput, emptyRule *vpclattice.CreateRuleOutput) {
	w = newWorld(t, o)
	b = newBackend(t, "orders")
	tg = w.targetGroup("okay", nil, b)
	tgEmpty = w.targetGroup("empty", nil)
	lst = need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18091), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	emptyRule = need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: lst.Id, Name: aws.String("empty"),
		Priority: aws.Int32(20), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/empty"}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgEmpty.Id}}}}})).ok(t)
	ingress = w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host = *w.svc.DnsEntry.DomainName
	eventually(t, 5*time.Second, "the listener", func() bool {
		st, _, _ := get(t, ingress, 18091, host, "/warm", nil)
		return st == 200
	})
	return
}

func (b *backend) header(k string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last.Get(k)
}

// parseTraceparent splits a version-00 traceparent (W3C Trace Context §3.2).
func parseTraceparent(t *testing.T, v string) (traceID, parentID, flags string) {
	t.Helper()
	p := strings.Split(v, "-")
	if len(p) != 4 || p[0] != "00" || len(p[1]) != 32 || len(p[2]) != 16 || len(p[3]) != 2 {
		t.Fatalf("traceparent %q is not version 00", v)
	}
	return p[1], p[2], p[3]
}

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

func TestTracingSpansAndPropagation(t *testing.T) {
	rc := newOTLPReceiver(t)
	w, b, ingress, host, lst, tg, tgEmpty, emptyRule := tracedWorld(t, apptest.Options{OTLPEndpoint: rc.srv.URL + "/v1/traces", TraceSample: 1})

	// A client's trace is continued: its trace ID, its span the parent.
	st, _, _ := get(t, ingress, 18091, host, "/orders", map[string]string{
		"Traceparent": "00-" + clientTraceID + "-" + clientSpanID + "-01", "Tracestate": "vendor=abc"})
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	tid, parent, flags := parseTraceparent(t, b.header("Traceparent"))
	if tid != clientTraceID || parent == clientSpanID || flags != "01" {
		t.Fatalf("the backend's traceparent %q: want trace %s, a new parent, sampled", b.header("Traceparent"), clientTraceID)
	}
	if got := b.header("Tracestate"); got != "vendor=abc" {
		t.Errorf("the backend's tracestate %q, want the client's", got)
	}
	var spans []*tracepb.Span
	eventually(t, 5*time.Second, "the trace's spans", func() bool {
		spans = rc.trace(clientTraceID)
		return len(spans) >= 2
	})
	srv := spanOfKind(t, spans, tracepb.Span_SPAN_KIND_SERVER)
	cli := spanOfKind(t, spans, tracepb.Span_SPAN_KIND_CLIENT)
	if got := hex.EncodeToString(srv.ParentSpanId); got != clientSpanID {
		t.Errorf("server span's parent %s, want the client's span %s", got, clientSpanID)
	}
	if hex.EncodeToString(cli.ParentSpanId) != hex.EncodeToString(srv.SpanId) {
		t.Errorf("client span's parent %x, want the server span %x", cli.ParentSpanId, srv.SpanId)
	}
	if got := hex.EncodeToString(cli.SpanId); got != parent {
		t.Errorf("the backend's parent %s, want the client span %s", parent, got)
	}
	if srv.TraceState != "vendor=abc" {
		t.Errorf("server span's tracestate %q", srv.TraceState)
	}
	for k, want := range map[string]string{
		"lattice.service.id":          *w.svc.Id,
		"lattice.service.arn":         *w.svc.Arn,
		"lattice.service_network.id":  *w.sn.Id,
		"lattice.service_network.arn": *w.sn.Arn,
		"lattice.listener.id":         *lst.Id,
		"lattice.target_group.id":     *tg.Id,
		"lattice.target_group.arn":    *tg.Arn,
		"lattice.target.address":      strings.TrimPrefix(b.srv.URL, "http://"),
		"http.response.status_code":   "200",
		"http.request.method":         "GET",
		"url.path":                    "/orders",
	} {
		if got, _ := spanAttr(srv, k); got != want {
			t.Errorf("server span %s = %q, want %q", k, got, want)
		}
	}
	if got, ok := spanAttr(srv, "lattice.rule.id"); !ok || got == "" {
		t.Errorf("server span has no rule ID")
	}
	if _, ok := spanAttr(srv, "lattice.failure_reason"); ok {
		t.Errorf("a success has a failure reason")
	}
	if srv.Name != "GET orders" {
		t.Errorf("server span name %q", srv.Name)
	}

	// A request without a traceparent starts a trace; a refusal names
	// its reason.
	st, _, _ = get(t, ingress, 18091, host, "/empty", nil)
	if st != 503 {
		t.Fatalf("no targets: %d", st)
	}
	var failed *tracepb.Span
	eventually(t, 5*time.Second, "the refused request's span", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, s := range rc.spans {
			if v, _ := spanAttr(s, "url.path"); v == "/empty" {
				failed = s
			}
		}
		return failed != nil
	})
	if len(failed.ParentSpanId) != 0 {
		t.Errorf("a new trace's server span has a parent")
	}
	for k, want := range map[string]string{
		"lattice.failure_reason":    "NoTargets",
		"lattice.rule.id":           *emptyRule.Id,
		"lattice.target_group.id":   *tgEmpty.Id,
		"http.response.status_code": "503",
	} {
		if got, _ := spanAttr(failed, k); got != want {
			t.Errorf("refused span %s = %q, want %q", k, got, want)
		}
	}
	if failed.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("refused span status %v, want error", failed.Status)
	}
}

// An invalid traceparent is not continued (W3C Trace Context §3.2.2): a new
// trace starts and the target gets its context, not the client's value.
func TestTracingReplacesInvalidTraceparent(t *testing.T) {
	rc := newOTLPReceiver(t)
	_, b, ingress, host, _, _, _, _ := tracedWorld(t, apptest.Options{OTLPEndpoint: rc.srv.URL + "/v1/traces", TraceSample: 1})
	bad := "00-00000000000000000000000000000000-" + clientSpanID + "-01" // an all-zero trace ID is invalid
	if st, _, _ := get(t, ingress, 18091, host, "/orders", map[string]string{"Traceparent": bad}); st != 200 {
		t.Fatalf("status %d", st)
	}
	got := b.header("Traceparent")
	tid, _, _ := parseTraceparent(t, got)
	if got == bad || tid == "00000000000000000000000000000000" {
		t.Fatalf("the backend got %q", got)
	}
}

func TestTracingSampleZeroSendsNothing(t *testing.T) {
	rc := newOTLPReceiver(t)
	_, b, ingress, host, _, _, _, _ := tracedWorld(t, apptest.Options{OTLPEndpoint: rc.srv.URL + "/v1/traces", TraceSample: 0})
	client := "00-" + clientTraceID + "-" + clientSpanID + "-01"
	for range 5 {
		if st, _, _ := get(t, ingress, 18091, host, "/orders", map[string]string{"Traceparent": client}); st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	// Still propagated (same trace, the hop's span, not sampled), never the
	// client's value as it came.
	tid, parent, flags := parseTraceparent(t, b.header("Traceparent"))
	if tid != clientTraceID || parent == clientSpanID || flags != "00" {
		t.Errorf("the backend's traceparent %q", b.header("Traceparent"))
	}
	// The batch goes out within a second (tracing.New); wait longer.
	time.Sleep(2500 * time.Millisecond)
	if n, posts := rc.count(); n != 0 || posts != 0 {
		t.Errorf("sampling 0 exported %d spans in %d requests", n, posts)
	}
}

// Tracing off: the client's trace context reaches the target as it came.
func TestTracingOffForwardsTraceparent(t *testing.T) {
	_, b, ingress, host, _, _, _, _ := tracedWorld(t, apptest.Options{})
	client := "00-" + clientTraceID + "-" + clientSpanID + "-01"
	if st, _, _ := get(t, ingress, 18091, host, "/orders", map[string]string{"Traceparent": client, "Tracestate": "vendor=abc"}); st != 200 {
		t.Fatalf("status %d", st)
	}
	if got := b.header("Traceparent"); got != client {
		t.Errorf("the backend's traceparent %q, want the client's", got)
	}
	if got := b.header("Tracestate"); got != "vendor=abc" {
		t.Errorf("the backend's tracestate %q, want the client's", got)
	}
}

// The net/http transports (here an HTTPS target) get the hop's context too,
// in place of the client's.
func TestTracingHTTPSTarget(t *testing.T) {
	rc := newOTLPReceiver(t)
	w := newWorld(t, apptest.Options{OTLPEndpoint: rc.srv.URL + "/v1/traces", TraceSample: 1})
	var mu sync.Mutex
	var seen http.Header
	tlsb := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			mu.Lock()
			seen = r.Header.Clone()
			mu.Unlock()
		}
	}))
	t.Cleanup(tlsb.Close)
	port, _ := strconv.Atoi(tlsb.URL[strings.LastIndexByte(tlsb.URL, ':')+1:])
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("secure"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(443), Protocol: types.TargetGroupProtocolHttps,
			VpcIdentifier: aws.String("vpc-0000000000000000f"), HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz")}}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(int32(port))}}})).ok(t)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18092), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	client := "00-" + clientTraceID + "-" + clientSpanID + "-01"
	eventually(t, 5*time.Second, "the listener", func() bool {
		st, _, _ := get(t, ingress, 18092, host, "/x", map[string]string{"Traceparent": client})
		return st == 200
	})
	mu.Lock()
	got := seen.Values("Traceparent")
	mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the target got traceparent %q, want one", got)
	}
	tid, parent, _ := parseTraceparent(t, got[0])
	if tid != clientTraceID || parent == clientSpanID {
		t.Fatalf("the target's traceparent %q", got[0])
	}
	eventually(t, 5*time.Second, "the client span", func() bool {
		for _, s := range rc.trace(clientTraceID) {
			if s.Kind == tracepb.Span_SPAN_KIND_CLIENT && hex.EncodeToString(s.SpanId) == parent {
				return true
			}
		}
		return false
	})
}

// The auth decision is on the span: allow, and deny with its level.
func TestTracingAuthDecision(t *testing.T) {
	rc := newOTLPReceiver(t)
	w, _, ingress, host, _, _, _, _ := tracedWorld(t, apptest.Options{OTLPEndpoint: rc.srv.URL + "/v1/traces", TraceSample: 1})
	root := &aws.Credentials{AccessKeyID: w.s.AccessKeyID, SecretAccessKey: w.s.SecretAccessKey}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + w.s.Account + `:root"},
		"Action":"vpc-lattice-svcs:Invoke","Resource":"*","Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"GET"}}}]}`
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: aws.String(policy)})).ok(t)
	need(w.c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
	eventually(t, 3*time.Second, "the service's auth in force", func() bool {
		st, _ := signedCall(t, w.s, ingress, 18091, host, "POST", "/denied", root)
		return st == 403
	})
	if st, _ := signedCall(t, w.s, ingress, 18091, host, "GET", "/allowed", root); st != 200 {
		t.Fatalf("signed GET: %d", st)
	}
	find := func(path string) *tracepb.Span {
		var found *tracepb.Span
		eventually(t, 5*time.Second, "the span of "+path, func() bool {
			rc.mu.Lock()
			defer rc.mu.Unlock()
			for _, s := range rc.spans {
				if v, _ := spanAttr(s, "url.path"); v == path {
					found = s
				}
			}
			return found != nil
		})
		return found
	}
	allowed, denied := find("/allowed"), find("/denied")
	if v, _ := spanAttr(allowed, "lattice.auth.decision"); v != "allow" {
		t.Errorf("allowed request's decision %q", v)
	}
	if _, ok := spanAttr(allowed, "lattice.auth.deny_reason"); ok {
		t.Errorf("allowed request has a deny reason")
	}
	for k, want := range map[string]string{"lattice.auth.decision": "deny", "lattice.auth.deny_reason": "Service",
		"lattice.failure_reason": "AccessDenied", "http.response.status_code": "403"} {
		if got, _ := spanAttr(denied, k); got != want {
			t.Errorf("denied span %s = %q, want %q", k, got, want)
		}
	}
}

// A request over HTTP/2 (cleartext, prior knowledge; the own HTTP/2
// server) is traced and propagated the same way.
func TestTracingHTTP2Client(t *testing.T) {
	rc := newOTLPReceiver(t)
	_, b, ingress, host, _, _, _, _ := tracedWorld(t, apptest.Options{OTLPEndpoint: rc.srv.URL + "/v1/traces", TraceSample: 1})
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: protos}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	req, _ := http.NewRequest("GET", "http://"+ingress+":18091/over-h2", nil)
	req.Host = host
	req.Header.Set("Traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("%d over HTTP/%d", resp.StatusCode, resp.ProtoMajor)
	}
	tid, parent, _ := parseTraceparent(t, b.header("Traceparent"))
	if tid != clientTraceID || parent == clientSpanID {
		t.Fatalf("the backend's traceparent %q", b.header("Traceparent"))
	}
	var spans []*tracepb.Span
	eventually(t, 5*time.Second, "the trace's spans", func() bool {
		spans = rc.trace(clientTraceID)
		return len(spans) >= 2
	})
	srv := spanOfKind(t, spans, tracepb.Span_SPAN_KIND_SERVER)
	if v, _ := spanAttr(srv, "network.protocol.version"); v != "2" {
		t.Errorf("protocol version %q", v)
	}
	if hex.EncodeToString(srv.ParentSpanId) != clientSpanID {
		t.Errorf("server span's parent %x", srv.ParentSpanId)
	}
}

// A traced, sampled request's access log record carries its trace ID
// (traceId, Trellis's one field beyond Lattice's); an unsampled one has
// none.
func TestTracingTraceIDInAccessLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sample float64
	}{{"sampled", 1}, {"not sampled", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newOTLPReceiver(t)
			w, _, ingress, host, _, _, _, _ := tracedWorld(t, apptest.Options{OTLPEndpoint: rc.srv.URL + "/v1/traces", TraceSample: tc.sample})
			acct := w.s.Account
			need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
				DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/traced")})).ok(t)
			glob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Ftraced", *w.svc.Id+".log")
			client := "00-" + clientTraceID + "-" + clientSpanID + "-01"
			var rec map[string]any
			eventually(t, 10*time.Second, "the traced request's access log record", func() bool {
				if st, _, _ := get(t, ingress, 18091, host, "/logged", map[string]string{"Traceparent": client}); st != 200 {
					t.Fatalf("status %d", st)
				}
				rec = byPath(readJSONLines(t, glob), "/logged")
				return rec != nil
			})
			got, has := rec["traceId"]
			if tc.sample == 1 && got != clientTraceID {
				t.Fatalf("traceId %v, want the client's trace %s: %v", got, clientTraceID, rec)
			}
			if tc.sample == 0 && has {
				t.Fatalf("an unsampled request's record has traceId %v", got)
			}
		})
	}
}
