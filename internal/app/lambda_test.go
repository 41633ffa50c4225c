package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/dataplane/lambda/lambdatest"
)

// TestLambdaTargetGroup: `serve --lambda-endpoint` end to end. A LAMBDA
// target group made through the Lattice API with the AWS SDK, its function
// behind a real Invoke API (SigV4 for "lambda" with the credentials of the
// standard AWS chain), split with an IP group by weight, called by name.
func TestLambdaTargetGroup(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIDAPPLAMBDA0000001", SecretAccessKey: "app-lambda-secret"}
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	fnSrv := lambdatest.NewServer(t, "us-east-1", creds)
	fnSrv.Add("hello", func(ctx context.Context, ev map[string]any) (events.ALBTargetGroupResponse, error) {
		rc, _ := ev["requestContext"].(map[string]any)
		b, _ := json.Marshal(map[string]any{"path": ev["path"], "targetGroupArn": rc["targetGroupArn"], "identity": rc["identity"]})
		return events.ALBTargetGroupResponse{StatusCode: 200, Headers: map[string]string{"X-From": "lambda"}, Body: string(b)}, nil
	})
	w := newWorld(t, apptest.Options{LambdaEndpoint: fnSrv.URL})
	fnARN := lambdatest.ARN(w.s.Region, w.s.Account, "hello")
	tgFn := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("hello-fn"), Type: types.TargetGroupTypeLambda,
		Config: &types.TargetGroupConfig{LambdaEventStructureVersion: types.LambdaEventStructureVersionV2}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tgFn.Id,
		Targets: []types.Target{{Id: aws.String(fnARN)}}})).ok(t)
	inst := newBackend(t, "instance")
	tgIP := w.targetGroup("instances", nil, inst)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18090), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgIP.Id, Weight: aws.Int32(2)},
				{TargetGroupIdentifier: tgFn.Id, Weight: aws.Int32(1)}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("to-function"),
		Priority: aws.Int32(10), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/to-function"}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgFn.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName

	st, body, hdr := get(t, ingress, 18090, host, "/to-function/x/../y?a=1", nil)
	if st != 200 || hdr.Get("X-From") != "lambda" {
		t.Fatalf("to-function: %d %q %v", st, body, hdr)
	}
	var got struct {
		Path           string
		TargetGroupArn string
		Identity       map[string]string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Path != "/to-function/y?a=1" || got.TargetGroupArn != *tgFn.Arn ||
		got.Identity["sourceVpcArn"] != "arn:aws:ec2:"+w.s.Region+":"+w.s.Account+":vpc/vpc-00000000000000001" {
		t.Fatalf("the function saw %+v", got)
	}
	counts := map[bool]int{}
	for range 300 {
		st, body, _ := get(t, ingress, 18090, host, "/split", nil)
		if st != 200 {
			t.Fatalf("split: %d %q", st, body)
		}
		counts[body == "instance"]++
	}
	if counts[true] < 160 || counts[true] > 240 {
		t.Fatalf("2:1 split over 300 requests: %d to the instance group, %d to the function", counts[true], counts[false])
	}
}

// TestLambdaEndpointRejected: app.Start refuses a Lambda endpoint that is
// no http or https base URL before anything starts.
func TestLambdaEndpointRejected(t *testing.T) {
	for _, bad := range []string{"ftp://x", "http://", "localhost:4566"} {
		dir := t.TempDir() + "/data"
		a, err := app.Start(context.Background(), app.Config{DataDir: dir, APIAddr: "127.0.0.1:0", LambdaEndpoint: bad,
			Getenv: func(string) string { return "" }, Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			a.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "lambda endpoint") {
			t.Errorf("%q: %v", bad, err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%q: the data directory was created", bad)
		}
	}
}
