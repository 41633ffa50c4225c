package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// The ANSI escape regression: a record whose path, host and user agent
// carry terminal escape sequences (ESC[, the 8-bit CSI U+009B, OSC, a
// bidirectional override) prints them as visible text; the only escape
// sequences on a coloured line are the printer's own colours.
func TestTailLineEscapes(t *testing.T) {
	rec := &tailRecord{StartTime: "2026-12-06T08:40:01Z", ResolvedUser: "-", CallerPrincipal: "-", SourceVpcID: "vpc-00000000000000001",
		RequestMethod: "GET", HostHeader: "orders\x1b]0;pwned\x07.internal", RequestPath: "/x\x1b[2J\x1b[31mred\u009b1m\u202eevil\\x1b",
		ResponseCode: 200.0, Duration: 3.0, TargetGroupArn: "arn:aws:vpc-lattice:us-east-1:000000000000:targetgroup/tg-0a1b2c3d4e5f60718",
		TargetIPPort: "127.0.0.1:8080", FailureReason: "-", AuthDeniedReason: "-", TraceID: "-", UserAgent: "ua\r\n\x1b[8mhidden\xff"}
	plain := formatTailLine(rec, false)
	want := `2026-12-06T08:40:01Z Anonymous vpc-00000000000000001 GET orders\x1b]0;pwned\x07.internal/x\x1b[2J\x1b[31mred\x9b1m\u202eevil\\x1b 200 3ms tg-0a1b2c3d4e5f60718/127.0.0.1:8080 "ua\x0d\x0a\x1b[8mhidden` + "\uFFFD" + `"`
	if plain != want {
		t.Fatalf("line\n got %q\nwant %q", plain, want)
	}
	colored := formatTailLine(rec, true)
	for _, own := range []string{ansiReset, ansiDim, ansiGreen} {
		colored = strings.ReplaceAll(colored, own, "")
	}
	if colored != plain {
		t.Fatalf("the coloured line without its colours\n%q\nis not the plain line\n%q", colored, plain)
	}
	for _, bad := range []string{"\x1b", "\u009b", "\u202e", "\r", "\n", "\x07"} {
		if strings.Contains(plain, bad) {
			t.Fatalf("%q reached the line: %q", bad, plain)
		}
	}
}

func TestTailLineFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  tailRecord
		want string
	}{
		{"denied, signed", tailRecord{StartTime: "T", ResolvedUser: "arn:aws:iam::111122223333:role/app", SourceVpcID: "vpc-1",
			RequestMethod: "POST", HostHeader: "h", RequestPath: "/p", ResponseCode: 403.0, Duration: 0.0, TargetGroupArn: "-",
			TargetIPPort: "-", AuthDeniedReason: "Service", FailureReason: "ClientAccessDenied", UserAgent: "-"},
			"T arn:aws:iam::111122223333:role/app vpc-1 POST h/p 403 0ms - denied:Service"},
		{"target failure, traced", tailRecord{StartTime: "T", ResolvedUser: "Anonymous", SourceVpcID: "vpc-1", RequestMethod: "GET",
			HostHeader: "h", RequestPath: "/p", ResponseCode: 502.0, Duration: 12.0, TargetGroupArn: "arn:x:targetgroup/tg-1",
			TargetIPPort: "10.0.0.1:80", FailureReason: "TargetConnectionError", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", UserAgent: "-"},
			"T Anonymous vpc-1 GET h/p 502 12ms tg-1/10.0.0.1:80 TargetConnectionError trace=4bf92f3577b34da6a3ce929d0e0e4736"},
		{"refused before routing", tailRecord{StartTime: "T", ResolvedUser: "-", SourceVpcID: "vpc-1", RequestMethod: "-",
			HostHeader: "-", RequestPath: "-", ResponseCode: 400.0, Duration: "-", TargetGroupArn: "-", TargetIPPort: "-",
			FailureReason: "ClientProtocolError"},
			"T Anonymous vpc-1 - - 400 - - ClientProtocolError"},
		{"resource connection", tailRecord{EventTimestamp: "T", ResourceConfigurationArn: "arn:aws:vpc-lattice:us-east-1:1:resourceconfiguration/rcfg-1",
			SourceIPPort: "10.0.0.7:40000", SourceVpcArn: "arn:aws:ec2:us-east-1:1:vpc/vpc-1", DestinationIPPort: "129.224.0.9:5432",
			ResourceIPPort: "127.0.0.1:5432"},
			"T tcp 10.0.0.7:40000 vpc-1 -> 129.224.0.9:5432 rcfg-1 127.0.0.1:5432"},
		{"resource not reached, hostile", tailRecord{EventTimestamp: "T\x1b[2J", ResourceConfigurationArn: "rcfg-1",
			SourceIPPort: "-", DestinationIPPort: "-", ResourceIPPort: "-"},
			"T\\x1b[2J tcp - - -> - rcfg-1 not-reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatTailLine(&tc.rec, false); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestStatusFilter(t *testing.T) {
	for _, tc := range []struct {
		spec      string
		keep, not []int
		bad       bool
	}{
		{spec: "", keep: []int{200, 404, 503}},
		{spec: "5xx", keep: []int{500, 503, 599}, not: []int{200, 404, -1}},
		{spec: "4XX, 502", keep: []int{400, 429, 502}, not: []int{500, 200}},
		{spec: "404", keep: []int{404}, not: []int{400}},
		{spec: "6xx", bad: true}, {spec: "99", bad: true}, {spec: "5x", bad: true}, {spec: "ok", bad: true},
	} {
		f, err := parseStatusFilter(tc.spec)
		if (err != nil) != tc.bad {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		for _, c := range tc.keep {
			if !f.keep(c) {
				t.Errorf("%q drops %d", tc.spec, c)
			}
		}
		for _, c := range tc.not {
			if f.keep(c) {
				t.Errorf("%q keeps %d", tc.spec, c)
			}
		}
	}
}

// The drop and end lines: told to the reader, outside stdout's records
// with --output json.
func TestTailEvents(t *testing.T) {
	stream := `{"trellisEvent":"started","resourceArn":"a"}
{"startTime":"T","requestPath":"/a","responseCode":200,"duration":1}
{"trellisEvent":"dropped","dropped":12,"totalDropped":12}

{"startTime":"T","requestPath":"/b","responseCode":500,"duration":1}
{"trellisEvent":"end","reason":"ResourceDeleted","message":"the service svc-1 was deleted"}
`
	var out, errOut bytes.Buffer
	p := &tailPrinter{out: &out, errOut: &errOut}
	if err := p.follow(bufio.NewReader(strings.NewReader(stream))); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "/a 200") || lines[1] != "… 12 records dropped (this reader did not keep up)" ||
		!strings.Contains(lines[2], "/b 500") {
		t.Fatalf("lines: %q", lines)
	}
	if errOut.String() != "The stream ended: the service svc-1 was deleted (ResourceDeleted)\n" {
		t.Fatalf("stderr %q", errOut.String())
	}
	out.Reset()
	errOut.Reset()
	f, _ := parseStatusFilter("5xx")
	p = &tailPrinter{out: &out, errOut: &errOut, json: true, filter: f}
	if err := p.follow(bufio.NewReader(strings.NewReader(stream))); err != nil {
		t.Fatal(err)
	}
	if out.String() != `{"startTime":"T","requestPath":"/b","responseCode":500,"duration":1}`+"\n" || !strings.Contains(errOut.String(), "12 records dropped") {
		t.Fatalf("json: stdout %q stderr %q", out.String(), errOut.String())
	}
	// Cut without an end line: an error.
	p = &tailPrinter{out: &out, errOut: &errOut}
	if err := p.follow(bufio.NewReader(strings.NewReader(`{"trellisEvent":"started"}` + "\n"))); err != errStreamCut {
		t.Fatalf("cut stream: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tailRun is `trellis logs tail ...` running in-process until its context
// ends.
type tailRun struct {
	out, errOut syncBuffer
	cancel      context.CancelFunc
	done        chan error
}

func (c *trellisCLI) startTail(args ...string) *tailRun {
	ctx, cancel := context.WithCancel(context.Background())
	run := &tailRun{cancel: cancel, done: make(chan error, 1)}
	root := newTestRoot()
	root.SetOut(&run.out)
	root.SetErr(&run.errOut)
	root.SetArgs(append([]string{"--endpoint", c.endpoint, "--region", c.srv.Region, "logs", "tail"}, args...))
	go func() { run.done <- root.ExecuteContext(ctx) }()
	c.t.Cleanup(cancel)
	return run
}

// stop ends the command as Ctrl-C does and checks that it exits cleanly.
func (r *tailRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("logs tail exited with %v; stderr %s", err, r.errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("logs tail did not exit when its context ended")
	}
}

// TestCLILogsTail runs `trellis logs tail` against a real server while
// requests go through a real listener: readable lines (the service named
// by its name), --status with --output json (raw records), exiting when
// its context ends; a client's escape sequences never reach the output.
func TestCLILogsTail(t *testing.T) {
	c := startCLI(t)
	lc := newSDKClient(c.endpoint, c.srv.Region, credentialSet{AccessKeyID: c.srv.AccessKeyID, SecretAccessKey: c.srv.SecretAccessKey})
	ctx := context.Background()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fail") {
			w.WriteHeader(503)
		}
	}))
	t.Cleanup(be.Close)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sn, err := lc.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("prod")})
	must(sn, err)
	svc, err := lc.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders")})
	must(svc, err)
	must(lc.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id}))
	tg, err := lc.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("api"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f")}})
	must(tg, err)
	bePort := int32(be.Listener.Addr().(*net.TCPAddr).Port)
	must(lc.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(bePort)}}}))
	must(lc.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18251), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}}))
	const vpc = "vpc-00000000000000001"
	must(lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String(vpc)}))
	ingress := str(t, c.ok("vpc", "get", vpc), "ingressAddress")
	host := *svc.DnsEntry.DomainName
	addr := net.JoinHostPort(ingress, "18251")
	// send writes a raw HTTP/1.1 request (so that a header can carry what
	// net/http's client would refuse to send) and returns the status.
	send := func(path, ua string) int {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return 0
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", path, host, ua)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	deadline := time.Now().Add(10 * time.Second)
	for send("/warmup", "t") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the service never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}

	human := c.startTail("--service", "orders")
	raw := c.startTail("--service", *svc.Arn, "--status", "5xx", "--output", "json")
	network := c.startTail("--service-network", "prod")
	// Requests until both tails show one: they are following.
	for i := 0; !strings.Contains(human.out.String(), "/ready") || !strings.Contains(raw.out.String(), "/fail-ready") ||
		!strings.Contains(network.out.String(), "/ready"); i++ {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("the tails showed nothing: %q %q %q", human.out.String(), human.errOut.String(), raw.errOut.String())
		}
		send(fmt.Sprintf("/ready?%d", i), "t")
		send(fmt.Sprintf("/fail-ready?%d", i), "t")
		time.Sleep(50 * time.Millisecond)
	}
	if st := send("/orders?id=7", "tail/1.0"); st != 200 {
		t.Fatalf("GET /orders: %d", st)
	}
	if st := send("/fail/now", "tail/1.0"); st != 503 {
		t.Fatalf("GET /fail: %d", st)
	}
	// Escape sequences from a client: ESC[ percent-encoded in the path (a
	// request line cannot carry it raw: it stays encoded), and in a header
	// as obs-text (RFC 9110 §5.5), which the ingress lets through: the
	// 8-bit CSI (U+009B in UTF-8, which terminals reading C1 controls
	// obey as ESC[) and a bidirectional override. (A raw ESC in a header
	// is refused by the ingress before routing: 400.)
	escStatus := send("/esc%1B[31m", "evil\xc2\x9b31m\u202eua")
	if escStatus == 0 {
		t.Fatal("the request with escapes got no answer")
	}
	wantOK := "Anonymous " + vpc + " GET " + host + "/orders?id=7 200 "
	wantFail := "Anonymous " + vpc + " GET " + host + "/fail/now 503 "
	for !strings.Contains(human.out.String(), wantFail) || !strings.Contains(human.out.String(), "/esc") ||
		!strings.Contains(raw.out.String(), `"requestPath":"/fail/now"`) || !strings.Contains(network.out.String(), wantFail) {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("missing lines:\n%s\n--- json:\n%s", human.out.String(), raw.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	human.stop(t)
	raw.stop(t)
	network.stop(t)
	if !strings.Contains(network.out.String(), wantOK) {
		t.Fatalf("the network's tail has no line of /orders:\n%s", network.out.String())
	}
	out := human.out.String()
	if !strings.Contains(out, wantOK) || !strings.Contains(out, "ms tg-") || !strings.Contains(out, `"tail/1.0"`) {
		t.Fatalf("no readable line of /orders (want %q) in:\n%s", wantOK, out)
	}
	if strings.ContainsAny(out, "\x1b\u009b\u202e") {
		t.Fatalf("an escape sequence reached the output:\n%q", out)
	}
	if !strings.Contains(out, `/esc%1B[31m `) || !strings.Contains(out, `"evil\x9b31m\u202eua"`) {
		t.Fatalf("the request with escapes is not shown escaped:\n%q", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(raw.out.String()), "\n") {
		if !strings.HasPrefix(line, `{"startTime":`) || !strings.Contains(line, `"responseCode":503`) {
			t.Fatalf("--status 5xx --output json printed %q", line)
		}
	}
}

func TestLogsTailUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "tail"}, "give exactly one of --service and --service-network"},
		{[]string{"logs", "tail", "--service", "a", "--service-network", "b"}, "give exactly one of --service and --service-network"},
		{[]string{"logs", "tail", "--service", "a", "--status", "6xx"}, `invalid --status "6xx"`},
	} {
		r := runCLI("", tc.args...)
		if r.err == nil || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: err %v, stderr %q", tc.args, r.err, r.stderr)
		}
	}
}
