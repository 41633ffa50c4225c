package app_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
)

// logStream is an open GET /trellis/v1/access-logs/stream, read line by
// line into lines until the server ends it (then lines is closed).
type logStream struct {
	t      *testing.T
	lines  chan map[string]any
	cancel context.CancelFunc
}

// openLogStream sends the SigV4-signed stream request with creds; on 200 it
// returns the stream, otherwise the status, error type and body.
func openLogStream(t *testing.T, s *apptest.Server, creds aws.Credentials, ident string) (*logStream, int, string, string) {
	t.Helper()
	sctx, cancel := context.WithCancel(context.Background())
	q := ""
	if ident != "" {
		q = "?resourceIdentifier=" + url.QueryEscape(ident)
	}
	req, _ := http.NewRequestWithContext(sctx, "GET", s.Endpoint+"/trellis/v1/access-logs/stream"+q, nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(sctx, creds, req, hex.EncodeToString(sum[:]), "vpc-lattice", s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), string(b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	ls := &logStream{t: t, lines: make(chan map[string]any, 1000), cancel: cancel}
	t.Cleanup(cancel)
	go func() {
		defer resp.Body.Close()
		defer close(ls.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("stream line %q: %v", sc.Text(), err)
				return
			}
			ls.lines <- m
		}
	}()
	return ls, 200, "", ""
}

func rootCreds(s *apptest.Server) aws.Credentials {
	return aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}
}

// mustOpen opens a stream as the root of the server's account and checks
// its first line.
func mustOpen(t *testing.T, s *apptest.Server, ident, wantARN, wantType string) *logStream {
	t.Helper()
	ls, st, typ, body := openLogStream(t, s, rootCreds(s), ident)
	if st != 200 {
		t.Fatalf("stream %s: %d %s %s", ident, st, typ, body)
	}
	first := ls.next("the started line")
	if first["trellisEvent"] != "started" || first["resourceArn"] != wantARN || first["resourceType"] != wantType {
		t.Fatalf("first line %v", first)
	}
	return ls
}

// next returns the next line.
func (ls *logStream) next(what string) map[string]any {
	ls.t.Helper()
	select {
	case m, ok := <-ls.lines:
		if !ok {
			ls.t.Fatalf("the stream ended before %s", what)
		}
		return m
	case <-time.After(5 * time.Second):
		ls.t.Fatalf("timed out waiting for %s", what)
	}
	return nil
}

// record returns the next record line, failing on an event line.
func (ls *logStream) record(path string) map[string]any {
	ls.t.Helper()
	m := ls.next("the record of " + path)
	if m["trellisEvent"] != nil || m["requestPath"] != path {
		ls.t.Fatalf("want the record of %s, got %v", path, m)
	}
	return m
}

// ended waits for the stream to end with reason.
func (ls *logStream) ended(reason string) {
	ls.t.Helper()
	m := ls.next("the end line")
	if m["trellisEvent"] != "end" || m["reason"] != reason {
		ls.t.Fatalf("want the end (%s), got %v", reason, m)
	}
	select {
	case m, ok := <-ls.lines:
		if ok {
			ls.t.Fatalf("a line after the end: %v", m)
		}
	case <-time.After(5 * time.Second):
		ls.t.Fatal("the stream did not close after its end line")
	}
}

// TestLogsTail follows a service's records over the real API while known
// requests go through a real listener: without any subscription (a tap is
// a reason to build records), then with one (each record once, and the
// subscription's file still gets it); and a network's, which has the
// records of every request through it, also for a host it does not reach.
func TestLogsTail(t *testing.T) {
	w := newWorld(t, apptest.Options{RequestTimeout: 2 * time.Second})
	b := newBackend(t, "orders-data")
	tg := w.targetGroup("api", nil, b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18241), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	eventually(t, 5*time.Second, "service reachable", func() bool {
		st, _, _ := get(t, ingress, 18241, host, "/warmup", nil)
		return st == 200
	})

	svcStream := mustOpen(t, w.s, *w.svc.Id, *w.svc.Arn, "SERVICE")
	if st, _, _ := get(t, ingress, 18241, host, "/orders?id=7", map[string]string{"User-Agent": "tail/1.0"}); st != 200 {
		t.Fatalf("GET /orders: %d", st)
	}
	r := svcStream.record("/orders?id=7")
	for k, want := range map[string]any{"responseCode": 200.0, "serviceArn": *w.svc.Arn, "serviceNetworkArn": *w.sn.Arn,
		"targetGroupArn": *tg.Arn, "userAgent": "tail/1.0", "sourceVpcId": "vpc-00000000000000001", "requestMethod": "GET",
		"hostHeader": host, "targetIpPort": "127.0.0.1:" + strings.TrimPrefix(b.srv.URL, "http://127.0.0.1:")} {
		if r[k] != want {
			t.Errorf("record %s = %v, want %v", k, r[k], want)
		}
	}

	// With a subscription too: the stream has each record once, and the
	// subscription's file has it as well.
	acct := w.s.Account
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:tail")})).ok(t)
	cwGlob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "tail", *w.svc.Id+".log")
	eventually(t, 5*time.Second, "the subscription in force", func() bool {
		get(t, ingress, 18241, host, "/probe", nil)
		svcStream.record("/probe")
		return len(readJSONLines(t, cwGlob)) > 0
	})
	get(t, ingress, 18241, host, "/subscribed", nil)
	get(t, ingress, 18241, host, "/marker", nil)
	svcStream.record("/subscribed")
	svcStream.record("/marker")
	eventually(t, 5*time.Second, "the record in the subscription's file", func() bool {
		return byPath(readJSONLines(t, cwGlob), "/subscribed") != nil
	})

	// The network's stream: requests to its services, and to a host the
	// VPC does not reach.
	snStream := mustOpen(t, w.s, *w.sn.Arn, *w.sn.Arn, "SERVICE_NETWORK")
	get(t, ingress, 18241, host, "/both", nil)
	if st, _, _ := get(t, ingress, 18241, "nothing.example.com", "/nowhere", nil); st != 404 {
		t.Fatalf("unknown host: %d", st)
	}
	svcStream.record("/both")
	snStream.record("/both")
	if r := snStream.record("/nowhere"); r["responseCode"] != 404.0 || r["serviceArn"] != "-" {
		t.Fatalf("unknown host record: %v", r)
	}
	// A request the ingress refuses before routing (malformed: a header
	// line without a colon) names no service: the network's stream has it.
	conn, err := net.Dial("tcp", net.JoinHostPort(ingress, "18241"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /malformed HTTP/1.1\r\nHost: "+host+"\r\nno colon here\r\n\r\n")
	if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || res.StatusCode != 400 {
		t.Fatalf("malformed request: %v %v", res, err)
	}
	if r := snStream.record("-"); r["failureReason"] != "ClientProtocolError" || r["responseCode"] != 400.0 {
		t.Fatalf("malformed request record: %v", r)
	}
	select {
	case m := <-svcStream.lines:
		t.Fatalf("the service's stream got %v", m)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestLogsTailAuthorization: only the owner follows a resource; another
// account's service is not found, by ID or ARN, as GetService answers.
func TestLogsTailAuthorization(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	const other = "111122223333"
	if st, typ, body := nativeCall(t, w.s, "PUT", "/trellis/v1/accounts/"+other, nil); st != 201 {
		t.Fatalf("account: %d %s %s", st, typ, body)
	}
	st, typ, body := nativeCall(t, w.s, "POST", "/trellis/v1/accounts/"+other+"/accesskeys", nil)
	if st != 201 {
		t.Fatalf("key: %d %s %s", st, typ, body)
	}
	var key struct{ AccessKeyID, SecretAccessKey string }
	if err := json.Unmarshal(body, &key); err != nil {
		t.Fatal(err)
	}
	stranger := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	for _, ident := range []string{*w.svc.Id, *w.svc.Arn, *w.sn.Id, *w.sn.Arn} {
		ls, st, typ, body := openLogStream(t, w.s, stranger, ident)
		if ls != nil || st != 404 || typ != "ResourceNotFoundException" {
			t.Errorf("another account's stream of %s: %d %s %s", ident, st, typ, body)
		}
	}
	for _, tc := range []struct{ ident, field string }{{"", "resourceIdentifier"}, {"svc-nope", "resourceIdentifier"}} {
		_, st, typ, body := openLogStream(t, w.s, rootCreds(w.s), tc.ident)
		if st != 400 || typ != "ValidationException" || !strings.Contains(body, tc.field) {
			t.Errorf("resourceIdentifier %q: %d %s %s", tc.ident, st, typ, body)
		}
	}
	// Unsigned: refused before anything.
	resp, err := http.Get(w.s.Endpoint + "/trellis/v1/access-logs/stream?resourceIdentifier=" + *w.svc.Id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("unsigned: %d", resp.StatusCode)
	}
}

// streamHandlers counts the API's stream handlers still running.
func streamHandlers() int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "api.(*Server).streamAccessLogs(")
}

// TestLogsTailEnds: a stream ends with a final line when its resource is
// deleted and when the server stops; when the client goes away its handler
// returns and its place in the limit is free again (no goroutine left);
// beyond the limit, ServiceQuotaExceededException.
func TestLogsTailEnds(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	doomed := need(w.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("doomed")})).ok(t)
	ls := mustOpen(t, w.s, *doomed.Id, *doomed.Arn, "SERVICE")
	need(w.c.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: doomed.Id})).ok(t)
	ls.ended("ResourceDeleted")
	doomedNet := need(w.c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("doomed-net")})).ok(t)
	ls = mustOpen(t, w.s, *doomedNet.Id, *doomedNet.Arn, "SERVICE_NETWORK")
	need(w.c.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: doomedNet.Id})).ok(t)
	ls.ended("ResourceDeleted")

	// The limit: 5 streams per account by default.
	var open []*logStream
	for range 5 {
		open = append(open, mustOpen(t, w.s, *w.svc.Id, *w.svc.Arn, "SERVICE"))
	}
	_, st, typ, body := openLogStream(t, w.s, rootCreds(w.s), *w.svc.Id)
	if st != 402 || typ != "ServiceQuotaExceededException" || !strings.Contains(body, `"quotaCode":"access-log-streams-per-account"`) {
		t.Fatalf("a sixth stream: %d %s %s", st, typ, body)
	}
	if n := streamHandlers(); n != 5 {
		t.Fatalf("%d stream handlers running, want 5", n)
	}
	for _, ls := range open {
		ls.cancel()
	}
	eventually(t, 5*time.Second, "the stream handlers to return", func() bool { return streamHandlers() == 0 })
	for range 5 {
		mustOpen(t, w.s, *w.svc.Id, *w.svc.Arn, "SERVICE").cancel()
	}

	// The server stops: the stream ends, and does not hold the stop up.
	last := mustOpen(t, w.s, *w.svc.Id, *w.svc.Arn, "SERVICE")
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- w.s.App.Close() }()
	last.ended("ServerShutdown")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a stream open", d)
	}
}

// TestLogsTailSlowReader: a reader that stops reading loses records, never
// slows the data plane: every request is answered while the stream's
// reader is stalled (its socket's receive buffer small, so that the
// server's writes block), and when it reads again, the records it got and
// the drops it was told of add up to the requests sent.
func TestLogsTailSlowReader(t *testing.T) {
	w := newWorld(t, apptest.Options{AccessLogTaps: accesslog.TapLimits{Queue: 8}})
	b := newBackend(t, "orders-data")
	tg := w.targetGroup("api", nil, b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18242), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	eventually(t, 5*time.Second, "service reachable", func() bool {
		st, _, _ := get(t, ingress, 18242, host, "/warmup", nil)
		return st == 200
	})

	// The stream over a connection whose receive buffer is 4 KiB.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(w.s.Endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, _ := http.NewRequest("GET", w.s.Endpoint+"/trellis/v1/access-logs/stream?resourceIdentifier="+*w.svc.Id, nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, rootCreds(w.s), req, hex.EncodeToString(sum[:]), "vpc-lattice", w.s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	lines := bufio.NewReaderSize(resp.Body, 1<<20)
	if first, err := lines.ReadBytes('\n'); err != nil || !strings.Contains(string(first), `"started"`) {
		t.Fatalf("first line %q %v", first, err)
	}

	// The reader stalls while 800 requests with 4 KiB user agents go
	// through: about 4 MB of records, far beyond the socket buffers.
	const n = 800
	ua := strings.Repeat("u", 4096)
	start := time.Now()
	for i := range n {
		if st, _, _ := get(t, ingress, 18242, host, fmt.Sprintf("/r%d", i), map[string]string{"User-Agent": ua}); st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	t.Logf("%d requests answered in %v with the reader stalled", n, time.Since(start))

	got, dropped := 0, 0
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for got+dropped < n {
		line, err := lines.ReadBytes('\n')
		if err != nil {
			t.Fatalf("after %d records and %d dropped of %d: %v", got, dropped, n, err)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		switch m["trellisEvent"] {
		case nil:
			got++
		case "dropped":
			dropped += int(m["dropped"].(float64))
			if m["totalDropped"].(float64) != float64(dropped) {
				t.Fatalf("totalDropped %v after %d", m["totalDropped"], dropped)
			}
		default:
			t.Fatalf("line %s", line)
		}
	}
	t.Logf("%d records read, %d dropped", got, dropped)
	if got+dropped != n || dropped == 0 {
		t.Fatalf("%d records and %d dropped, want %d in all with some dropped", got, dropped, n)
	}
}

// TestLogsTailInstallationLimit: the installation-wide limit, with its own
// quota code.
func TestLogsTailInstallationLimit(t *testing.T) {
	w := newWorld(t, apptest.Options{AccessLogTaps: accesslog.TapLimits{Total: 2}})
	mustOpen(t, w.s, *w.svc.Id, *w.svc.Arn, "SERVICE")
	mustOpen(t, w.s, *w.sn.Id, *w.sn.Arn, "SERVICE_NETWORK")
	_, st, typ, body := openLogStream(t, w.s, rootCreds(w.s), *w.svc.Id)
	if st != 402 || typ != "ServiceQuotaExceededException" || !strings.Contains(body, `"quotaCode":"access-log-streams"`) ||
		!strings.Contains(body, `"resourceType":"ACCESS_LOG_STREAM"`) {
		t.Fatalf("a third stream: %d %s %s", st, typ, body)
	}
}
