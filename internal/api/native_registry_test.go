package api_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// The instances endpoint (DESIGN.md "Contracts"), through signed requests.
func TestNativeInstances(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	root := rootCreds(s)
	const vpc = "vpc-0000000000000000a"
	const path = "/trellis/v1/instances/i-0123456789abcdef0"
	body := map[string]any{"vpcId": vpc, "privateIpAddress": "10.0.1.5", "state": "running"}
	// An unknown VPC is made in host mode, as every reference to one.
	i := want(t, "create", call(t, s, root, "PUT", path, body), 201, "").obj(t)
	if v := want(t, "the VPC", call(t, s, root, "GET", "/trellis/v1/vpcs/"+vpc, nil), 200, "").obj(t); v["mode"] != "host" {
		t.Fatalf("the instance's new VPC: %v", v)
	}
	if i["instanceId"] != "i-0123456789abcdef0" || i["vpcId"] != vpc || i["privateIpAddress"] != "10.0.1.5" ||
		i["state"] != "running" || i["ownerId"] != s.Account {
		t.Fatalf("created: %v", i)
	}
	body["state"] = "stopped"
	if i = want(t, "stop", call(t, s, root, "PUT", path, body), 200, "").obj(t); i["state"] != "stopped" {
		t.Fatalf("stopped: %v", i)
	}
	if i = want(t, "get", call(t, s, root, "GET", path, nil), 200, "").obj(t); i["state"] != "stopped" {
		t.Fatalf("get: %v", i)
	}
	// Without a state the instance is running; an 8-digit ID is an ID too.
	want(t, "short ID, no state", call(t, s, root, "PUT", "/trellis/v1/instances/i-0123abcd",
		map[string]any{"vpcId": vpc, "privateIpAddress": "2001:db8::5"}), 201, "")
	if l := want(t, "list", call(t, s, root, "GET", "/trellis/v1/instances?vpcId="+vpc, nil), 200, "").items(t); len(l) != 2 {
		t.Fatalf("list: %v", l)
	}
	if l := want(t, "list of another VPC", call(t, s, root, "GET", "/trellis/v1/instances?vpcId=vpc-0000000000000000b", nil), 200, "").items(t); len(l) != 0 {
		t.Fatalf("list: %v", l)
	}

	// Bad input names its field and changes nothing.
	for _, tc := range []struct {
		name, path, field string
		body              map[string]any
	}{
		{"bad address", path, "privateIpAddress", map[string]any{"vpcId": vpc, "privateIpAddress": "10.0.1"}},
		{"address with port", path, "privateIpAddress", map[string]any{"vpcId": vpc, "privateIpAddress": "10.0.1.5:80"}},
		{"no address", path, "privateIpAddress", map[string]any{"vpcId": vpc}},
		{"bad state", path, "state", map[string]any{"vpcId": vpc, "privateIpAddress": "10.0.1.5", "state": "asleep"}},
		{"bad VPC", path, "vpcId", map[string]any{"vpcId": "vpc-X", "privateIpAddress": "10.0.1.5"}},
		{"uppercase ID", "/trellis/v1/instances/i-0123456789ABCDEF0", "instanceId", map[string]any{"vpcId": vpc, "privateIpAddress": "10.0.1.5"}},
		{"non-hex ID", "/trellis/v1/instances/i-0123456z", "instanceId", map[string]any{"vpcId": vpc, "privateIpAddress": "10.0.1.5"}},
	} {
		a := want(t, tc.name, call(t, s, root, "PUT", tc.path, tc.body), 400, "ValidationException")
		if !strings.Contains(string(a.body), tc.field) {
			t.Fatalf("%s: the error does not name %s: %s", tc.name, tc.field, a.body)
		}
	}
	want(t, "move", call(t, s, root, "PUT", path, map[string]any{"vpcId": "vpc-0000000000000000b", "privateIpAddress": "10.0.1.5"}), 409, "ConflictException")
	if i = want(t, "get after refused PUTs", call(t, s, root, "GET", path, nil), 200, "").obj(t); i["privateIpAddress"] != "10.0.1.5" || i["state"] != "stopped" {
		t.Fatalf("a refused PUT changed the instance: %v", i)
	}
	want(t, "VPC in use", call(t, s, root, "DELETE", "/trellis/v1/vpcs/"+vpc, nil), 409, "ConflictException")
	want(t, "delete", call(t, s, root, "DELETE", path, nil), 204, "")
	a := want(t, "get after delete", call(t, s, root, "GET", path, nil), 404, "ResourceNotFoundException")
	if !strings.Contains(string(a.body), "Instance i-0123456789abcdef0 not found") {
		t.Fatalf("not found: %s", a.body)
	}
}

// The load-balancers endpoint: the ARN and its stable ID, validation.
func TestNativeLoadBalancers(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	root := rootCreds(s)
	const vpc = "vpc-0000000000000000a"
	const path = "/trellis/v1/load-balancers/web-1"
	want(t, "put VPC", call(t, s, root, "PUT", "/trellis/v1/vpcs/"+vpc, map[string]any{"mode": "host"}), 201, "")
	body := map[string]any{"vpcId": vpc, "listeners": []map[string]any{
		{"port": 80, "protocol": "HTTP", "addresses": []string{"10.0.1.9:8080", "10.0.1.10:8080"}}}}
	lb := want(t, "create", call(t, s, root, "PUT", path, body), 201, "").obj(t)
	arn, _ := lb["loadBalancerArn"].(string)
	if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:` + s.Account + `:loadbalancer/app/web-1/[0-9a-f]{16}$`).MatchString(arn) {
		t.Fatalf("ARN %q", arn)
	}
	body["listeners"] = []map[string]any{{"port": 443, "protocol": "HTTPS", "addresses": []string{"[2001:db8::9]:8443"}}}
	lb = want(t, "replace", call(t, s, root, "PUT", path, body), 200, "").obj(t)
	if lb["loadBalancerArn"] != arn {
		t.Fatalf("the ARN changed on update: %v, was %s", lb["loadBalancerArn"], arn)
	}
	l := lb["listeners"].([]any)[0].(map[string]any)
	if l["port"] != 443.0 || l["protocol"] != "HTTPS" || l["addresses"].([]any)[0] != "[2001:db8::9]:8443" {
		t.Fatalf("listener %v", l)
	}
	if lb = want(t, "get", call(t, s, root, "GET", path, nil), 200, "").obj(t); lb["loadBalancerArn"] != arn {
		t.Fatalf("get %v", lb)
	}
	if items := want(t, "list", call(t, s, root, "GET", "/trellis/v1/load-balancers", nil), 200, "").items(t); len(items) != 1 {
		t.Fatalf("list %v", items)
	}

	listener := func(port any, proto string, addrs ...string) map[string]any {
		return map[string]any{"vpcId": vpc, "listeners": []map[string]any{{"port": port, "protocol": proto, "addresses": addrs}}}
	}
	for _, tc := range []struct {
		name, path, field string
		body              map[string]any
	}{
		{"port 0", path, "listeners[0].port", listener(0, "HTTP", "10.0.0.1:80")},
		{"port too high", path, "listeners[0].port", listener(65536, "HTTP", "10.0.0.1:80")},
		{"protocol TCP", path, "listeners[0].protocol", listener(80, "TCP", "10.0.0.1:80")},
		{"lowercase protocol", path, "listeners[0].protocol", listener(80, "http", "10.0.0.1:80")},
		{"address without port", path, "listeners[0].addresses[0]", listener(80, "HTTP", "10.0.0.1")},
		{"address port 0", path, "listeners[0].addresses[1]", listener(80, "HTTP", "10.0.0.1:80", "10.0.0.2:0")},
		{"host name", path, "listeners[0].addresses[0]", listener(80, "HTTP", "example.com:80")},
		{"no addresses", path, "listeners[0].addresses", listener(80, "HTTP")},
		{"no listeners", path, "listeners", map[string]any{"vpcId": vpc}},
		{"duplicate ports", path, "listeners[1].port", map[string]any{"vpcId": vpc, "listeners": []map[string]any{
			{"port": 80, "protocol": "HTTP", "addresses": []string{"10.0.0.1:80"}},
			{"port": 80, "protocol": "HTTPS", "addresses": []string{"10.0.0.2:80"}}}}},
		{"name starts with -", "/trellis/v1/load-balancers/-web", "name", listener(80, "HTTP", "10.0.0.1:80")},
		{"name ends with -", "/trellis/v1/load-balancers/web-", "name", listener(80, "HTTP", "10.0.0.1:80")},
		{"name with _", "/trellis/v1/load-balancers/web_1", "name", listener(80, "HTTP", "10.0.0.1:80")},
		{"name too long", "/trellis/v1/load-balancers/" + strings.Repeat("a", 33), "name", listener(80, "HTTP", "10.0.0.1:80")},
	} {
		a := want(t, tc.name, call(t, s, root, "PUT", tc.path, tc.body), 400, "ValidationException")
		if !strings.Contains(string(a.body), tc.field) {
			t.Fatalf("%s: the error does not name %s: %s", tc.name, tc.field, a.body)
		}
	}
	if lb = want(t, "get after refused PUTs", call(t, s, root, "GET", path, nil), 200, "").obj(t); lb["listeners"].([]any)[0].(map[string]any)["port"] != 443.0 {
		t.Fatalf("a refused PUT changed the load balancer: %v", lb)
	}
	want(t, "a 32-character name", call(t, s, root, "PUT", "/trellis/v1/load-balancers/"+strings.Repeat("A", 32), listener(80, "HTTP", "10.0.0.1:80")), 201, "")
	want(t, "delete", call(t, s, root, "DELETE", path, nil), 204, "")
	want(t, "get after delete", call(t, s, root, "GET", path, nil), 404, "ResourceNotFoundException")
	// Created again, it is another load balancer: another ID.
	lb = want(t, "create again", call(t, s, root, "PUT", path, listener(80, "HTTP", "10.0.0.1:80")), 201, "").obj(t)
	if lb["loadBalancerArn"] == arn {
		t.Fatalf("a new load balancer has the old ARN %s", arn)
	}
}

// Another account cannot see, change or delete instances and load
// balancers, nor put them in a VPC it does not own.
func TestCrossAccountRegistries(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	credA, credB := newAccountWithUser(t, s, acctA, "alice"), newAccountWithUser(t, s, acctB, "bob")
	const vpcA, vpcB = "vpc-0000000000000a001", "vpc-0000000000000b001"
	want(t, "A's VPC", call(t, s, credA, "PUT", "/trellis/v1/vpcs/"+vpcA, nil), 201, "")
	want(t, "B's VPC", call(t, s, credB, "PUT", "/trellis/v1/vpcs/"+vpcB, nil), 201, "")
	const inst = "/trellis/v1/instances/i-0000000a"
	want(t, "A creates", call(t, s, credA, "PUT", inst, map[string]any{"vpcId": vpcA, "privateIpAddress": "10.0.0.1"}), 201, "")
	want(t, "B replaces A's instance", call(t, s, credB, "PUT", inst, map[string]any{"vpcId": vpcA, "privateIpAddress": "10.6.6.6"}), 403, "AccessDeniedException")
	want(t, "B creates in A's VPC", call(t, s, credB, "PUT", "/trellis/v1/instances/i-0000000b", map[string]any{"vpcId": vpcA, "privateIpAddress": "10.0.0.2"}), 403, "AccessDeniedException")
	want(t, "B reads", call(t, s, credB, "GET", inst, nil), 404, "ResourceNotFoundException")
	want(t, "B deletes", call(t, s, credB, "DELETE", inst, nil), 404, "ResourceNotFoundException")
	if l := want(t, "B lists", call(t, s, credB, "GET", "/trellis/v1/instances", nil), 200, "").items(t); len(l) != 0 {
		t.Fatalf("B sees %v", l)
	}
	if i := want(t, "A reads", call(t, s, credA, "GET", inst, nil), 200, "").obj(t); i["privateIpAddress"] != "10.0.0.1" || i["ownerId"] != acctA {
		t.Fatalf("A's instance changed: %v", i)
	}

	const lbPath = "/trellis/v1/load-balancers/web"
	lbBody := func(vpc string) map[string]any {
		return map[string]any{"vpcId": vpc, "listeners": []map[string]any{{"port": 80, "protocol": "HTTP", "addresses": []string{"10.0.0.9:80"}}}}
	}
	lbA := want(t, "A creates an LB", call(t, s, credA, "PUT", lbPath, lbBody(vpcA)), 201, "").obj(t)
	want(t, "B creates in A's VPC", call(t, s, credB, "PUT", "/trellis/v1/load-balancers/evil", lbBody(vpcA)), 403, "AccessDeniedException")
	// Names are per account: B's "web" is B's own.
	lbB := want(t, "B creates its own web", call(t, s, credB, "PUT", lbPath, lbBody(vpcB)), 201, "").obj(t)
	if lbA["loadBalancerArn"] == lbB["loadBalancerArn"] || !strings.Contains(lbB["loadBalancerArn"].(string), ":"+acctB+":") {
		t.Fatalf("A's %v, B's %v", lbA["loadBalancerArn"], lbB["loadBalancerArn"])
	}
	if l := want(t, "B lists LBs", call(t, s, credB, "GET", "/trellis/v1/load-balancers", nil), 200, "").items(t); len(l) != 1 || l[0]["vpcId"] != vpcB {
		t.Fatalf("B sees %v", l)
	}
	want(t, "B deletes its own", call(t, s, credB, "DELETE", lbPath, nil), 204, "")
	if lb := want(t, "A's is still there", call(t, s, credA, "GET", lbPath, nil), 200, "").obj(t); lb["loadBalancerArn"] != lbA["loadBalancerArn"] {
		t.Fatalf("A's LB: %v", lb)
	}

	// B cannot register A's load balancer in its ALB group.
	cB := sdkAs(s, credB)
	tg := need(cB.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("alb"), Type: types.TargetGroupTypeAlb,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpcB)}})).ok(t)
	out := need(cB.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String(lbA["loadBalancerArn"].(string))}}})).ok(t)
	if len(out.Successful) != 0 || len(out.Unsuccessful) != 1 {
		t.Fatalf("B registered A's load balancer: %+v", out)
	}
}

// RegisterTargets checks INSTANCE and ALB targets against the registries
// (reference §6), and ListTargets shows a stopped instance.
func TestRegisterRegistryTargets(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	root := rootCreds(s)
	c := newClient(s)
	const vpc, other = "vpc-0000000000000000a", "vpc-0000000000000000b"
	want(t, "put VPC", call(t, s, root, "PUT", "/trellis/v1/vpcs/"+vpc, nil), 201, "")
	want(t, "put other VPC", call(t, s, root, "PUT", "/trellis/v1/vpcs/"+other, nil), 201, "")
	want(t, "running", call(t, s, root, "PUT", "/trellis/v1/instances/i-00000001", map[string]any{"vpcId": vpc, "privateIpAddress": "127.0.0.1"}), 201, "")
	want(t, "stopped", call(t, s, root, "PUT", "/trellis/v1/instances/i-00000002", map[string]any{"vpcId": vpc, "privateIpAddress": "127.0.0.2", "state": "stopped"}), 201, "")
	want(t, "elsewhere", call(t, s, root, "PUT", "/trellis/v1/instances/i-00000003", map[string]any{"vpcId": other, "privateIpAddress": "127.0.0.3"}), 201, "")

	itg := need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("inst"), Type: types.TargetGroupTypeInstance,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpc)}})).ok(t)
	reg := need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: itg.Id, Targets: []types.Target{
		{Id: aws.String("i-00000001")}, {Id: aws.String("i-00000002")}, {Id: aws.String("i-00000003")}, {Id: aws.String("i-0000000f")},
	}})).ok(t)
	if len(reg.Successful) != 1 || *reg.Successful[0].Id != "i-00000001" || len(reg.Unsuccessful) != 3 {
		t.Fatalf("register: %+v", reg)
	}
	for _, u := range reg.Unsuccessful {
		if aws.ToString(u.FailureCode) != "ValidationException" {
			t.Fatalf("failure %s: %s %s", aws.ToString(u.Id), aws.ToString(u.FailureCode), aws.ToString(u.FailureMessage))
		}
	}
	for i, want := range []string{"stopped", "not in VPC", "does not exist"} {
		if m := aws.ToString(reg.Unsuccessful[i].FailureMessage); !strings.Contains(m, want) {
			t.Fatalf("failure %d: %q does not say %q", i, m, want)
		}
	}

	// Used by a service, the running instance is checked (health checks
	// are on by default: INITIAL); stopped, it is UNUSED, Target.InvalidState.
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("svc")})).ok(t)
	need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("http"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(80), DefaultAction: &types.RuleActionMemberForward{
			Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: itg.Id, Weight: aws.Int32(1)}}}}})).ok(t)
	status := func() (string, string) {
		t.Helper()
		l := need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: itg.Id})).ok(t)
		if len(l.Items) != 1 {
			t.Fatalf("targets %+v", l.Items)
		}
		return string(l.Items[0].Status), aws.ToString(l.Items[0].ReasonCode)
	}
	if st, _ := status(); st == "UNUSED" || st == "UNAVAILABLE" {
		t.Fatalf("running instance target: %s", st)
	}
	want(t, "stop", call(t, s, root, "PUT", "/trellis/v1/instances/i-00000001", map[string]any{"vpcId": vpc, "privateIpAddress": "127.0.0.1", "state": "stopped"}), 200, "")
	if st, r := status(); st != "UNUSED" || r != "Target.InvalidState" {
		t.Fatalf("stopped instance target: %s %s", st, r)
	}
	want(t, "delete instance", call(t, s, root, "DELETE", "/trellis/v1/instances/i-00000001", nil), 204, "")
	if st, r := status(); st != "UNUSED" || r != "Target.InvalidState" {
		t.Fatalf("deleted instance target: %s %s", st, r)
	}

	// ALB: the load balancer in the group's VPC with a listener on its port.
	atg := need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("alb"), Type: types.TargetGroupTypeAlb,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(vpc)}})).ok(t)
	lbIn := func(vpc string, port int) map[string]any {
		return map[string]any{"vpcId": vpc, "listeners": []map[string]any{{"port": port, "protocol": "HTTP", "addresses": []string{"127.0.0.9:8080"}}}}
	}
	good := want(t, "lb", call(t, s, root, "PUT", "/trellis/v1/load-balancers/good", lbIn(vpc, 80)), 201, "").obj(t)["loadBalancerArn"].(string)
	wrongPort := want(t, "lb", call(t, s, root, "PUT", "/trellis/v1/load-balancers/port", lbIn(vpc, 8080)), 201, "").obj(t)["loadBalancerArn"].(string)
	wrongVPC := want(t, "lb", call(t, s, root, "PUT", "/trellis/v1/load-balancers/vpc", lbIn(other, 80)), 201, "").obj(t)["loadBalancerArn"].(string)
	unknown := good[:len(good)-16] + "0000000000000000"
	for _, tc := range []struct{ arn, msg string }{
		{wrongPort, "no listener on port 80"}, {wrongVPC, "not in VPC"}, {unknown, "does not exist"},
	} {
		r := need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: atg.Id,
			Targets: []types.Target{{Id: aws.String(tc.arn)}}})).ok(t)
		if len(r.Unsuccessful) != 1 || aws.ToString(r.Unsuccessful[0].FailureCode) != "ValidationException" ||
			!strings.Contains(aws.ToString(r.Unsuccessful[0].FailureMessage), tc.msg) {
			t.Fatalf("%s: %+v", tc.arn, r)
		}
	}
	r := need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: atg.Id,
		Targets: []types.Target{{Id: aws.String(good), Port: aws.Int32(8080)}}})).ok(t)
	if len(r.Unsuccessful) != 1 || !strings.Contains(aws.ToString(r.Unsuccessful[0].FailureMessage), "port") {
		t.Fatalf("an ALB target on another port: %+v", r)
	}
	r = need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: atg.Id,
		Targets: []types.Target{{Id: aws.String(good)}}})).ok(t)
	if len(r.Successful) != 1 || aws.ToInt32(r.Successful[0].Port) != 80 {
		t.Fatalf("register the ALB: %+v", r)
	}
	// ALB targets have no health checks: UNAVAILABLE once used (as Lattice).
	need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("alb"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(81), DefaultAction: &types.RuleActionMemberForward{
			Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: atg.Id, Weight: aws.Int32(1)}}}}})).ok(t)
	l := need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: atg.Id})).ok(t)
	if len(l.Items) != 1 || l.Items[0].Status != types.TargetStatusUnavailable {
		t.Fatalf("ALB target: %+v", l.Items)
	}
}
