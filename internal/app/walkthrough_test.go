package app_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/dataplane/lambda/lambdatest"
)

// buildFunction builds the aws-lambda-go program in testdata/NAME once per
// test binary and returns its path.
func buildFunction(t testing.TB, name string) string {
	t.Helper()
	fnBuilds.Lock()
	defer fnBuilds.Unlock()
	if p, ok := fnBuilds.paths[name]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "trellis-fn-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", p, "./testdata/"+name).CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/%s: %v\n%s", name, err, out)
	}
	fnBuilds.paths[name] = p
	return p
}

var fnBuilds = struct {
	sync.Mutex
	paths map[string]string
}{paths: map[string]string{}}

// TestSeedWalkthrough is the walkthrough every Lattice tutorial gives: one
// listener whose default action sends two thirds to an instance target
// group and one third to a Lambda target group (a real aws-lambda-go
// function Trellis hosts), rules /to-instance and /to-function, the
// service called by its name.
func TestSeedWalkthrough(t *testing.T) {
	w := newWorld(t, apptest.Options{HealthCheckSecond: 20 * time.Millisecond})
	const vpc = "vpc-0000000000000000f"
	fn := buildFunction(t, "walkfn")
	st, _, raw := nativeCall(t, w.s, "PUT", "/trellis/v1/functions/walk",
		map[string]any{"command": []string{fn}, "timeoutSeconds": 5, "maxConcurrency": 4})
	if st != 200 && st != 201 {
		t.Fatalf("PUT function: %d %s", st, raw)
	}
	var f struct{ FunctionArn string }
	if err := json.Unmarshal(raw, &f); err != nil || f.FunctionArn != "arn:aws:lambda:"+w.s.Region+":"+w.s.Account+":function:walk" {
		t.Fatalf("function ARN: %v %s", err, raw)
	}

	inst := newBackend(t, "instance")
	if st, _, body := nativeCall(t, w.s, "PUT", "/trellis/v1/instances/i-0123456789abcdef0",
		map[string]any{"vpcId": vpc, "privateIpAddress": "127.0.0.1", "state": "running"}); st != 200 && st != 201 {
		t.Fatalf("PUT instance: %d %s", st, body)
	}
	tgInst := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("instances"), Type: types.TargetGroupTypeInstance,
		Config: &types.TargetGroupConfig{Port: aws.Int32(inst.port()), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpc),
			HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz")}}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tgInst.Id,
		Targets: []types.Target{{Id: aws.String("i-0123456789abcdef0")}}})).ok(t)
	tgFn := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("function"), Type: types.TargetGroupTypeLambda,
		Config: &types.TargetGroupConfig{LambdaEventStructureVersion: types.LambdaEventStructureVersionV2}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tgFn.Id,
		Targets: []types.Target{{Id: aws.String(f.FunctionArn)}}})).ok(t)

	const port = 18095
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgInst.Id, Weight: aws.Int32(2)},
				{TargetGroupIdentifier: tgFn.Id, Weight: aws.Int32(1)}}}}})).ok(t)
	for i, r := range []struct{ path, tg string }{{"/to-instance", *tgInst.Id}, {"/to-function", *tgFn.Id}} {
		need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id,
			Name: aws.String(strings.TrimPrefix(r.path, "/")), Priority: aws.Int32(int32(10 * (i + 1))),
			Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{PathMatch: &types.PathMatch{
				Match: &types.PathMatchTypeMemberPrefix{Value: r.path}}}},
			Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
				{TargetGroupIdentifier: aws.String(r.tg)}}}}})).ok(t)
	}
	ingress := w.clientVPC(vpc, w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	eventually(t, 10*time.Second, "the instance target healthy", func() bool {
		out := need(w.c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tgInst.Id})).ok(t)
		return len(out.Items) == 1 && out.Items[0].Status == types.TargetStatusHealthy
	})

	// The rules (the first request waits for the association to reach the
	// data plane).
	var body string
	eventually(t, 10*time.Second, "the service reachable from the VPC", func() bool {
		st, body, _ = get(t, ingress, port, host, "/to-instance/x", nil)
		return st != 404 || !strings.HasPrefix(body, "Non Existent Service")
	})
	if st != 200 || body != "instance" {
		t.Fatalf("/to-instance: %d %q", st, body)
	}
	st, body2, rh := get(t, ingress, port, host, "/to-function/orders?id=7&tag=a&tag=b", map[string]string{"X-Trace": "walk"})
	if st != 200 || rh.Get("X-Served-By") != "function" {
		t.Fatalf("/to-function: %d %v %q", st, rh, body2)
	}
	var ev lambdatest.EventV2
	if err := json.Unmarshal([]byte(body2), &ev); err != nil {
		t.Fatalf("the function's answer is not its event: %v: %q", err, body2)
	}
	if ev.Version != "2.0" || ev.Method != "GET" || ev.Path != "/to-function/orders?id=7&tag=a&tag=b" {
		t.Errorf("event version/method/path: %q %q %q", ev.Version, ev.Method, ev.Path)
	}
	if got := ev.Query; len(got["tag"]) != 2 || got["tag"][0] != "a" || got["tag"][1] != "b" || got["id"][0] != "7" {
		t.Errorf("queryStringParameters %v", got)
	}
	if ev.Headers["x-trace"] == nil || ev.Headers["x-trace"][0] != "walk" || ev.Headers["host"] == nil || ev.Headers["host"][0] != host {
		t.Errorf("headers %v", ev.Headers)
	}
	rc := ev.RequestContext
	if rc.ServiceArn != *w.svc.Arn || rc.ServiceNetworkArn != *w.sn.Arn || rc.TargetGroupArn != *tgFn.Arn || rc.Region != w.s.Region {
		t.Errorf("requestContext ARNs/region: %+v", rc)
	}
	if want := "arn:aws:ec2:" + w.s.Region + ":" + w.s.Account + ":vpc/" + vpc; rc.Identity["sourceVpcArn"] != want {
		t.Errorf("identity %v, want sourceVpcArn %s", rc.Identity, want)
	}
	us, err := strconv.ParseInt(rc.TimeEpoch, 10, 64)
	if err != nil || time.Since(time.UnixMicro(us)).Abs() > time.Minute {
		t.Errorf("timeEpoch %q is not the request's time in microseconds", rc.TimeEpoch)
	}

	// The split: two thirds to the instance, one third to the function.
	counts := map[string]int{}
	const n = 300
	for i := 0; i < n; i++ {
		st, body, rh := get(t, ingress, port, host, "/", nil)
		switch {
		case st == 200 && body == "instance":
			counts["instance"]++
		case st == 200 && rh.Get("X-Served-By") == "function":
			counts["function"]++
		default:
			t.Fatalf("request %d: %d %q", i, st, body)
		}
	}
	if c := counts["function"]; c < n/3-40 || c > n/3+40 {
		t.Fatalf("a 2:1 split over %d requests: %v", n, counts)
	}
}
