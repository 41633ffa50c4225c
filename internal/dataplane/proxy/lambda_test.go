package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsl "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/dataplane/lambda"
	"github.com/trellis-net/trellis/internal/dataplane/lambda/lambdatest"
	"github.com/trellis-net/trellis/internal/policy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// funcHost is an in-process Invoker running real aws-lambda-go handlers,
// as the function host does; fail, when set, answers instead.
type funcHost struct {
	mu    sync.Mutex
	fns   map[string]awsl.Handler
	calls atomic.Int64
	fail  error
}

func newFuncHost() *funcHost { return &funcHost{fns: map[string]awsl.Handler{}} }

func (f *funcHost) add(name string, handler any) string {
	arn := lambdatest.ARN(region, account, name)
	f.mu.Lock()
	f.fns[arn] = awsl.NewHandler(handler)
	f.mu.Unlock()
	return arn
}

func (f *funcHost) Invoke(ctx context.Context, arn string, payload []byte) (lambda.Result, error) {
	f.calls.Add(1)
	f.mu.Lock()
	h, fail := f.fns[arn], f.fail
	f.mu.Unlock()
	if fail != nil {
		return lambda.Result{}, fail
	}
	if h == nil {
		return lambda.Result{}, lambda.ErrFunctionNotFound
	}
	out, err := h.Invoke(ctx, bytes.Clone(payload))
	if err != nil {
		b, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
		return lambda.Result{Payload: b, FunctionError: "Unhandled"}, nil
	}
	return lambda.Result{Payload: bytes.Clone(out)}, nil
}

// lambdaGroup is a LAMBDA target group of function fn with event version
// version.
func lambdaGroup(id, fn, version string) *snapshot.TargetGroup {
	tg := &snapshot.TargetGroup{ID: id, ARN: latticeARN("targetgroup", id), Name: id, Account: account,
		Type: "LAMBDA", LambdaEventVersion: version, InUse: true}
	if fn != "" {
		tg.Targets = []*snapshot.Target{{ID: fn, Key: id + "/" + fn + "/0"}}
	}
	return tg
}

// lambdaEnv serves one service whose default rule forwards to tg, its
// functions in host.
func lambdaEnv(t *testing.T, inv lambda.Invoker, tg *snapshot.TargetGroup, configure func(*testConfig)) (*env, *snapshot.VPC, int) {
	t.Helper()
	e := newEnv(t, func(c *testConfig) {
		if inv != nil {
			c.Lambda = inv
		}
		if configure != nil {
			configure(c)
		}
	})
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0fn", "fn.example.com", port, defaultRule(to(tg)))
	return e, e.simple(svc), port
}

// echoV1 answers the V1 event it got as its body, with headers of both
// kinds.
func echoV1(ctx context.Context, ev lambdatest.EventV1) (events.ALBTargetGroupResponse, error) {
	b, _ := json.Marshal(ev)
	return events.ALBTargetGroupResponse{StatusCode: 201, StatusDescription: "201 Created",
		Headers:           map[string]string{"Content-Type": "application/json", "X-Fn": "v1", "Content-Length": "1", "Connection": "close"},
		MultiValueHeaders: map[string][]string{"Set-Cookie": {"a=1", "b=2"}},
		Body:              string(b)}, nil
}

func echoV2(ctx context.Context, ev lambdatest.EventV2) (events.ALBTargetGroupResponse, error) {
	b, _ := json.Marshal(ev)
	return events.ALBTargetGroupResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}, nil
}

// TestLambdaV1 sends a request through the proxy to a real aws-lambda-go
// function taking V1 events: the function sees the normalised path, the
// query, the headers (Lattice's included, the client's copies of the
// asserted ones not) and the body; the client sees the function's answer.
func TestLambdaV1(t *testing.T) {
	for _, mode := range []string{"own server", "net/http server", "h2c"} {
		t.Run(mode, func(t *testing.T) {
			host := newFuncHost()
			tg := lambdaGroup("tg-0v1", host.add("echo", echoV1), "V1")
			e, v, port := lambdaEnv(t, host, tg, func(c *testConfig) { c.StdServer = mode == "net/http server" })
			do := e.do
			if mode == "h2c" {
				do = e.doH2
			}
			hdr := http.Header{
				"Content-Type":            {"application/json"},
				"X-Multi":                 {"one", "two"},
				"X-Amzn-Lattice-Identity": {"Principal=forged"},
				"X_Amzn_Lattice_Network":  {"forged"},
				"X-Hop":                   {"gone"},
			}
			if mode != "h2c" {
				hdr["Connection"] = []string{"X-Hop"} // HTTP/2 has no Connection field
			} else {
				delete(hdr, "X-Hop")
			}
			res := do("POST", v.Ingress, port, "fn.example.com", "/a/./b/../c?x=1&x=2&y=%C3%BC", hdr, strings.NewReader(`{"n":1}`))
			if res.status != 201 {
				t.Fatalf("status %d %q", res.status, res.body)
			}
			var ev lambdatest.EventV1
			if err := json.Unmarshal([]byte(res.body), &ev); err != nil {
				t.Fatalf("%q: %v", res.body, err)
			}
			if ev.RawPath != "/a/c?x=1&x=2&y=%C3%BC" || ev.Method != "POST" || ev.Body != `{"n":1}` || ev.IsBase64Encoded {
				t.Fatalf("event: %+v", ev)
			}
			if ev.Query["x"] != "2" || ev.Query["y"] != "ü" || len(ev.Query) != 2 {
				t.Fatalf("query_string_parameters %v", ev.Query)
			}
			h := ev.Headers
			if h["host"] != "fn.example.com" || h["x-multi"] != "one, two" || h["content-type"] != "application/json" ||
				h["x-forwarded-proto"] != "http" || h["x-forwarded-port"] != strconv.Itoa(port) || h["x-forwarded-for"] != "127.0.0.1" ||
				h["x-amzn-lattice-network"] != "SourceVpcArn="+v.ARN ||
				h["x-amzn-lattice-target"] != "ServiceArn="+latticeARN("service", "svc-0fn")+";ServiceNetworkArn="+v.ServiceNetwork.ARN+";TargetGroupArn="+tg.ARN ||
				h["x-amzn-requestid"] != res.header.Get("X-Amzn-Requestid") || h["x-amzn-requestid"] == "" {
				t.Fatalf("headers %v", h)
			}
			for _, k := range []string{"x-amzn-lattice-identity", "x_amzn_lattice_network", "connection", "x-hop", "te"} {
				if _, ok := h[k]; ok {
					t.Errorf("the function got %s: %q", k, h[k])
				}
			}
			if res.header.Get("X-Fn") != "v1" || res.header.Get("Content-Type") != "application/json" ||
				strings.Join(res.header.Values("Set-Cookie"), "|") != "a=1|b=2" ||
				res.header.Get("Content-Length") != strconv.Itoa(len(res.body)) || res.header.Get("Connection") == "close" {
				t.Fatalf("response header %v", res.header)
			}
		})
	}
}

// TestLambdaV2Identity: a SigV4-signed caller of an AWS_IAM service
// reaches a V2 function, whose requestContext names the caller, the
// network, the service and the group; an anonymous caller gets no
// principal.
func TestLambdaV2Identity(t *testing.T) {
	host := newFuncHost()
	tg := lambdaGroup("tg-0v2", host.add("echo", echoV2), "V2")
	holder := new(snapshot.Holder)
	e := newEnv(t, func(c *testConfig) {
		c.Holder = holder
		c.Auth = auth.New(holder, region, nil)
		c.Lambda = host
	})
	e.holder = holder
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0id", "id.example.com", port, defaultRule(to(tg)))
	svc.AuthType = "AWS_IAM"
	p, err := policy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	svc.Policy = p
	v := vpcIn("vpc-0a000000000000001", nextIngress(), network("sn-0a000000000000001"), svc)
	snap := snapshotOf(v)
	principal := "arn:aws:sts::" + account + ":assumed-role/caller/session-7"
	snap.Identities = map[string]*snapshot.Identity{"AKIALAMBDACALLER0001": {
		AccessKeyID: "AKIALAMBDACALLER0001", Secret: "s3cret", Account: account, OrgID: "o-abc123",
		PrincipalARN: principal, PrincipalType: "AssumedRole", SessionName: "session-7",
		Header: []string{"Principal=" + principal + ";SessionName=session-7"},
	}}
	e.publish(snap)

	call := func(sign bool) lambdatest.EventV2 {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/who?a=1&a=2", nil)
		req.Host = "id.example.com"
		if sign {
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIALAMBDACALLER0001", SecretAccessKey: "s3cret"},
				req, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", region, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("status %d %q", res.StatusCode, b)
		}
		var ev lambdatest.EventV2
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	before := time.Now().UnixMicro()
	ev := call(true)
	rc := ev.RequestContext
	if ev.Version != "2.0" || ev.Path != "/who?a=1&a=2" || strings.Join(ev.Query["a"], ",") != "1,2" {
		t.Fatalf("event %+v", ev)
	}
	if rc.ServiceNetworkArn != v.ServiceNetwork.ARN || rc.ServiceArn != svc.ARN || rc.TargetGroupArn != tg.ARN || rc.Region != region {
		t.Fatalf("requestContext %+v", rc)
	}
	want := map[string]string{"sourceVpcArn": v.ARN, "type": "AWS_IAM", "principal": principal, "principalOrgID": "o-abc123", "sessionName": "session-7"}
	if len(rc.Identity) != len(want) {
		t.Fatalf("identity %v, want %v", rc.Identity, want)
	}
	for k, w := range want {
		if rc.Identity[k] != w {
			t.Fatalf("identity %v, want %v", rc.Identity, want)
		}
	}
	if got := ev.Headers["x-amzn-lattice-identity"]; len(got) != 1 || !strings.Contains(got[0], principal) {
		t.Fatalf("x-amzn-lattice-identity %q", got)
	}
	us, err := strconv.ParseInt(rc.TimeEpoch, 10, 64)
	if err != nil || us < before-1e6 || us > time.Now().UnixMicro() {
		t.Fatalf("timeEpoch %q, want microseconds near %d", rc.TimeEpoch, before)
	}

	ev = call(false)
	if len(ev.RequestContext.Identity) != 1 || ev.RequestContext.Identity["sourceVpcArn"] != v.ARN {
		t.Fatalf("anonymous identity %v", ev.RequestContext.Identity)
	}
}

// TestLambdaBinary: a binary body reaches the function in base64, and a
// function's base64 body reaches the client as bytes.
func TestLambdaBinary(t *testing.T) {
	host := newFuncHost()
	in := []byte{0x89, 'P', 'N', 'G', 0, 0xff, '\r', '\n', 0x1a}
	arn := host.add("bin", func(ctx context.Context, ev lambdatest.EventV2) (events.ALBTargetGroupResponse, error) {
		got, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil || !ev.IsBase64Encoded || !bytes.Equal(got, in) {
			return events.ALBTargetGroupResponse{StatusCode: 400, Body: "bad body " + ev.Body}, nil
		}
		out := append(bytes.Clone(got), 0xfe, 0)
		return events.ALBTargetGroupResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"},
			Body: base64.StdEncoding.EncodeToString(out), IsBase64Encoded: true}, nil
	})
	e, v, port := lambdaEnv(t, host, lambdaGroup("tg-0bin", arn, "V2"), nil)
	res := e.do("PUT", v.Ingress, port, "fn.example.com", "/img", http.Header{"Content-Type": {"image/png"}}, bytes.NewReader(in))
	if res.status != 200 || res.body != string(append(bytes.Clone(in), 0xfe, 0)) || res.header.Get("Content-Type") != "image/png" {
		t.Fatalf("got %d %q %v", res.status, res.body, res.header)
	}
}

// TestLambdaLimits: 6 MB each way (reference §7.2). A body at the limit
// goes through; one over it is refused before anything is invoked,
// whether its length is declared or chunked; a response over it is 502.
func TestLambdaLimits(t *testing.T) {
	host := newFuncHost()
	arn := host.add("size", func(ctx context.Context, ev lambdatest.EventV1) (events.ALBTargetGroupResponse, error) {
		if ev.RawPath == "/huge" {
			return events.ALBTargetGroupResponse{StatusCode: 200, Body: strings.Repeat("z", lambda.MaxPayload)}, nil
		}
		return events.ALBTargetGroupResponse{StatusCode: 200, Body: strconv.Itoa(len(ev.Body))}, nil
	})
	e, v, port := lambdaEnv(t, host, lambdaGroup("tg-0size", arn, "V1"), nil)
	text := http.Header{"Content-Type": {"text/plain"}}
	res := e.do("POST", v.Ingress, port, "fn.example.com", "/at", text, strings.NewReader(strings.Repeat("a", lambda.MaxPayload)))
	expect(t, res, 200, strconv.Itoa(lambda.MaxPayload))

	calls := host.calls.Load()
	res = e.do("POST", v.Ingress, port, "fn.example.com", "/over", text, strings.NewReader(strings.Repeat("a", lambda.MaxPayload+1)))
	expect(t, res, 413, "6 MB")
	// Chunked: the length is known only once read.
	res = e.do("POST", v.Ingress, port, "fn.example.com", "/over", text, io.MultiReader(strings.NewReader(strings.Repeat("a", lambda.MaxPayload)), strings.NewReader("b")))
	expect(t, res, 413, "6 MB")
	if n := host.calls.Load(); n != calls {
		t.Fatalf("%d invocations for bodies over the limit", n-calls)
	}
	res = e.get(v, port, "fn.example.com", "/huge")
	expect(t, res, 502, "over 6 MB")
}

// TestLambdaFailures: every way an invocation fails answers its status
// and records its failureReason (docs/lambda.md).
func TestLambdaFailures(t *testing.T) {
	host := newFuncHost()
	fns := map[string]string{
		"error": host.add("error", func(ctx context.Context, ev lambdatest.EventV1) (events.ALBTargetGroupResponse, error) {
			return events.ALBTargetGroupResponse{}, errors.New("the function broke")
		}),
		"malformed": host.add("malformed", func(ctx context.Context, ev lambdatest.EventV1) (map[string]any, error) {
			return map[string]any{"statusCode": "200"}, nil
		}),
		"inject": host.add("inject", func(ctx context.Context, ev lambdatest.EventV1) (map[string]any, error) {
			return map[string]any{"statusCode": 200, "headers": map[string]string{"X-A": "1\r\nSet-Cookie: evil=1"}}, nil
		}),
		"informational": host.add("informational", func(ctx context.Context, ev lambdatest.EventV1) (map[string]any, error) {
			return map[string]any{"statusCode": 101}, nil
		}),
		"not json": host.add("notjson", func(ctx context.Context, ev lambdatest.EventV1) (string, error) { return "hello", nil }),
		"slow": host.add("slow", func(ctx context.Context, ev lambdatest.EventV1) (events.ALBTargetGroupResponse, error) {
			select {
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
				return events.ALBTargetGroupResponse{}, ctx.Err()
			}
			return events.ALBTargetGroupResponse{StatusCode: 200}, nil
		}),
		"missing": lambdatest.ARN(region, account, "missing"),
	}
	for _, tc := range []struct {
		name    string
		fn      string
		fail    error
		nilInv  bool
		status  int
		text    string
		reason  string
		noGroup bool
	}{
		{name: "function error", fn: "error", status: 502, text: "(Unhandled error)", reason: accesslog.TargetProtocolError},
		{name: "malformed", fn: "malformed", status: 502, text: "malformed", reason: accesslog.TargetProtocolError},
		{name: "header injection", fn: "inject", status: 502, text: "malformed", reason: accesslog.TargetProtocolError},
		{name: "informational status", fn: "informational", status: 502, text: "malformed", reason: accesslog.TargetProtocolError},
		{name: "not an object", fn: "not json", status: 502, text: "malformed", reason: accesslog.TargetProtocolError},
		{name: "timeout", fn: "slow", status: 504, text: "timeout", reason: accesslog.TargetDataTimeout},
		{name: "invoker timeout", fn: "error", fail: lambda.ErrTimeout, status: 504, text: "timeout", reason: accesslog.TargetDataTimeout},
		{name: "not found", fn: "missing", status: 500, text: "not found", reason: accesslog.TargetConnectionError},
		{name: "throttled", fn: "error", fail: lambda.ErrThrottled, status: 503, text: "throttled", reason: accesslog.TargetConnectionError},
		{name: "event too large", fn: "error", fail: lambda.ErrPayloadTooLarge, status: 413, text: "6 MB", reason: accesslog.ClientProtocolError},
		{name: "unreachable", fn: "error", fail: errors.New("dial tcp: connection refused"), status: 500, text: "invoking function", reason: accesslog.TargetConnectionError},
		{name: "no invoker", fn: "error", nilInv: true, status: 502, text: "no Lambda invoker configured", reason: accesslog.InternalError},
		{name: "no target", noGroup: true, status: 503, text: "no targets", reason: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host.mu.Lock()
			host.fail = tc.fail
			host.mu.Unlock()
			rec := new(recorder)
			var inv lambda.Invoker = host
			if tc.nilInv {
				inv = nil
			}
			tg := lambdaGroup("tg-0fail", fns[tc.fn], "V1")
			if tc.noGroup {
				tg.Targets = nil
			}
			e := newEnv(t, func(c *testConfig) {
				c.Lambda = inv
				c.AccessLog = rec
				c.RequestTimeout = 300 * time.Millisecond
			})
			port := freePort(t, netip.MustParseAddr("127.0.0.1"))
			svc := service("svc-0fail", "fail.example.com", port, defaultRule(to(tg)))
			svc.AccessLogs = []*snapshot.LogSubscription{{ID: "als-0fn", ResourceID: svc.ID, DestinationARN: "arn:aws:logs:us-east-1:111122223333:log-group:x"}}
			v := e.simple(svc)
			res := e.get(v, port, "fail.example.com", "/f")
			expect(t, res, tc.status, tc.text)
			if strings.Contains(res.body, "the function broke") || res.header.Get("Set-Cookie") != "" {
				t.Fatalf("the function's error or header reached the client: %q %v", res.body, res.header)
			}
			got := rec.last(t, "/f").e
			if got.FailureReason != tc.reason || got.Status != tc.status || got.TargetGroupARN != tg.ARN || got.Target.IsValid() {
				t.Fatalf("record: reason %q status %d tg %q target %v; want %q %d", got.FailureReason, got.Status, got.TargetGroupARN, got.Target, tc.reason, tc.status)
			}
		})
	}
	host.mu.Lock()
	host.fail = nil
	host.mu.Unlock()
}

// TestLambdaAccessLog: a Lambda request's record has no target address
// (targetIpPort "-"), the group's ARN, and the path the function saw.
func TestLambdaAccessLog(t *testing.T) {
	host := newFuncHost()
	tg := lambdaGroup("tg-0log", host.add("echo", echoV1), "V1")
	rec := new(recorder)
	e, v, port := lambdaEnv(t, host, tg, func(c *testConfig) { c.AccessLog = rec })
	_ = v
	snap := e.holder.Load()
	for _, s := range snap.VPCs[v.ID].Hosts.All() {
		s.AccessLogs = []*snapshot.LogSubscription{{ID: "als-0fn", ResourceID: s.ID, DestinationARN: "arn:aws:logs:us-east-1:111122223333:log-group:x"}}
	}
	res := e.do("POST", v.Ingress, port, "fn.example.com", "/x/../log?q=1", nil, strings.NewReader("abc"))
	if res.status != 201 {
		t.Fatalf("status %d %q", res.status, res.body)
	}
	got := rec.last(t, "/log?q=1").e
	if got.Target.IsValid() || got.TargetGroupARN != tg.ARN || got.Status != 201 || got.FailureReason != "" ||
		got.BytesSent != int64(len(res.body)) || got.RequestToTarget < 0 || got.ResponseFromTarget < 0 {
		t.Fatalf("record %+v", got)
	}
	line := string(accesslog.AppendJSON(nil, &got))
	if !strings.Contains(line, `"targetIpPort":"-"`) {
		t.Fatalf("log line %s", line)
	}
}

// TestLambdaRemote is the whole path: real HTTP clients → the proxy →
// the Lambda Invoke API (lambdatest: SigV4 checked for "lambda") → a real
// aws-lambda-go handler, and its errors back.
func TestLambdaRemote(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIDLAMBDAREMOTE0001", SecretAccessKey: "remote-secret"}
	srv := lambdatest.NewServer(t, region, creds)
	srv.Add("echo", echoV2)
	srv.Add("broken", func(ctx context.Context, ev lambdatest.EventV2) (events.ALBTargetGroupResponse, error) {
		return events.ALBTargetGroupResponse{}, errors.New("broken")
	})
	remote, err := lambda.NewRemote(context.Background(), lambda.RemoteConfig{Endpoint: srv.URL, Region: region,
		Credentials: credentials.StaticCredentialsProvider{Value: creds}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remote.Close)
	e := newEnv(t, func(c *testConfig) { c.Lambda = remote })
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	echo := lambdaGroup("tg-0echo", lambdatest.ARN(region, account, "echo"), "V2")
	broken := lambdaGroup("tg-0broken", lambdatest.ARN(region, account, "broken"), "V2")
	missing := lambdaGroup("tg-0missing", lambdatest.ARN(region, account, "missing"), "V2")
	svc := service("svc-0remote", "remote.example.com", port,
		rule("r-broken", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/broken"}}, to(broken)),
		rule("r-missing", 2, snapshot.Match{Path: &snapshot.PathMatch{Value: "/missing"}}, to(missing)),
		defaultRule(to(echo)))
	v := e.simple(svc)
	res := e.do("POST", v.Ingress, port, "remote.example.com", "/hello?n=1", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader("hi"))
	if res.status != 200 {
		t.Fatalf("status %d %q", res.status, res.body)
	}
	var ev lambdatest.EventV2
	if err := json.Unmarshal([]byte(res.body), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Path != "/hello?n=1" || ev.Body != "hi" || ev.RequestContext.TargetGroupArn != echo.ARN || srv.Invocations.Load() != 1 {
		t.Fatalf("event %+v", ev)
	}
	expect(t, e.get(v, port, "remote.example.com", "/broken"), 502, "Unhandled")
	expect(t, e.get(v, port, "remote.example.com", "/missing"), 500, "not found")
}

// staticInvoker answers every invocation with the same payload: the
// function's own cost left out.
type staticInvoker struct{ payload []byte }

func (s staticInvoker) Invoke(ctx context.Context, arn string, payload []byte) (lambda.Result, error) {
	return lambda.Result{Payload: s.payload}, nil
}

// BenchmarkLambdaProxy measures a warm Lambda invocation through the
// proxy (routing, event encoding, invocation through an in-process
// Invoker, response decoding, the answer) with a real HTTP client over a
// keep-alive connection: function=static answers a fixed payload,
// function=aws-lambda-go runs a real handler (JSON in and out by
// reflection, as a function does).
func BenchmarkLambdaProxy(b *testing.B) {
	static := staticInvoker{payload: []byte(`{"statusCode":200,"headers":{"content-type":"text/plain"},"body":"hello","isBase64Encoded":false}`)}
	host := newFuncHost()
	arn := host.add("hello", func(ctx context.Context, ev map[string]any) (events.ALBTargetGroupResponse, error) {
		return events.ALBTargetGroupResponse{StatusCode: 200, Headers: map[string]string{"content-type": "text/plain"}, Body: "hello"}, nil
	})
	for _, tc := range []struct {
		name string
		inv  lambda.Invoker
	}{{"function=static", static}, {"function=aws-lambda-go", host}} {
		for _, version := range []string{"V1", "V2"} {
			b.Run(tc.name+"/event="+version, func(b *testing.B) {
				e := newEnv(b, func(c *testConfig) { c.Lambda = tc.inv })
				port := freePort(b, netip.MustParseAddr("127.0.0.1"))
				svc := service("svc-0bench", "bench.example.com", port, defaultRule(to(lambdaGroup("tg-0bench", arn, version))))
				v := e.simple(svc)
				benchGet(b, "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/api/items?id=1", "bench.example.com")
			})
		}
	}
}

// TestLambdaResponseFraming: the data plane frames the function's answer
// itself — Content-Length from the body, none and no body for 204 and
// 304, the length without the body for HEAD — and keeps its own request
// ID.
func TestLambdaResponseFraming(t *testing.T) {
	host := newFuncHost()
	arn := host.add("frame", func(ctx context.Context, ev lambdatest.EventV1) (map[string]any, error) {
		status, _ := strconv.Atoi(strings.TrimPrefix(ev.RawPath, "/"))
		return map[string]any{"statusCode": status, "body": "hello",
			"headers": map[string]string{"X-Amzn-Requestid": "from-the-function", "Content-Length": "99", "Transfer-Encoding": "chunked"}}, nil
	})
	for _, std := range []bool{false, true} {
		e, v, port := lambdaEnv(t, host, lambdaGroup("tg-0frame", arn, "V1"), func(c *testConfig) { c.StdServer = std })
		for _, tc := range []struct {
			method string
			status int
			body   string
			length string
		}{
			{"GET", 200, "hello", "5"},
			{"GET", 404, "hello", "5"},
			{"HEAD", 200, "", "5"},
			{"GET", 204, "", ""},
			{"GET", 304, "", ""},
		} {
			res := e.do(tc.method, v.Ingress, port, "fn.example.com", "/"+strconv.Itoa(tc.status), http.Header{"X-Amzn-Requestid": {"req-1"}}, nil)
			if res.status != tc.status || res.body != tc.body || res.header.Get("Content-Length") != tc.length ||
				res.header.Get("X-Amzn-Requestid") != "req-1" || res.header.Get("Transfer-Encoding") != "" {
				t.Errorf("std=%v %s %d: got %d %q %v", std, tc.method, tc.status, res.status, res.body, res.header)
			}
		}
	}
}
