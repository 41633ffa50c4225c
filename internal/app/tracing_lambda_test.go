package app_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/dataplane/lambda/lambdatest"
)

// A Lambda function gets the hop's traceparent in its event's headers, in
// place of the client's.
func TestTracingLambdaTarget(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKIDAPPLAMBDA0000002", SecretAccessKey: "app-lambda-secret"}
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	fnSrv := lambdatest.NewServer(t, "us-east-1", creds)
	fnSrv.Add("traced", func(ctx context.Context, ev map[string]any) (events.ALBTargetGroupResponse, error) {
		b, _ := json.Marshal(ev["headers"])
		return events.ALBTargetGroupResponse{StatusCode: 200, Body: string(b)}, nil
	})
	rc := newOTLPReceiver(t)
	w := newWorld(t, apptest.Options{LambdaEndpoint: fnSrv.URL, OTLPEndpoint: rc.srv.URL + "/v1/traces", TraceSample: 1})
	tgFn := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("traced-fn"), Type: types.TargetGroupTypeLambda,
		Config: &types.TargetGroupConfig{LambdaEventStructureVersion: types.LambdaEventStructureVersionV2}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tgFn.Id,
		Targets: []types.Target{{Id: aws.String(lambdatest.ARN(w.s.Region, w.s.Account, "traced"))}}})).ok(t)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18093), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgFn.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	client := "00-" + clientTraceID + "-" + clientSpanID + "-01"
	st, body, _ := get(t, ingress, 18093, host, "/fn", map[string]string{"Traceparent": client})
	if st != 200 {
		t.Fatalf("status %d %q", st, body)
	}
	var hd map[string]any
	if err := json.Unmarshal([]byte(body), &hd); err != nil {
		t.Fatalf("%v: %q", err, body)
	}
	var tp string
	for k, v := range hd {
		if k == "traceparent" || k == "Traceparent" {
			switch v := v.(type) {
			case string:
				tp = v
			case []any:
				if len(v) == 1 {
					tp, _ = v[0].(string)
				}
			}
		}
	}
	tid, parent, _ := parseTraceparent(t, tp)
	if tid != clientTraceID || parent == clientSpanID {
		t.Fatalf("the function's traceparent %q (headers %v)", tp, hd)
	}
}
