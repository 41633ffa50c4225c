package app_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// readJSONLines parses every line of the files matching glob (gzip when
// the name ends in .gz) as one record. A JSON-lines file may be read while
// the logger appends to it: a last line without its newline is not there
// yet.
func readJSONLines(t *testing.T, glob string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		b = b[:bytes.LastIndexByte(b, '\n')+1]
		for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal(line, &rec); err != nil {
				t.Fatalf("%s: a line is not JSON: %v: %q", name, err, line)
			}
			out = append(out, rec)
		}
	}
	return out
}

// byPath finds the last record of a request with the given requestPath.
func byPath(recs []map[string]any, path string) map[string]any {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i]["requestPath"] == path {
			return recs[i]
		}
	}
	return nil
}

func TestDataPlaneAccessLogs(t *testing.T) {
	// S3 objects are sealed (renamed to .json.gz) a moment after their
	// first records, so the test can read them.
	w := newWorld(t, apptest.Options{RequestTimeout: 2 * time.Second, AccessLogS3Interval: 100 * time.Millisecond})
	b := newBackend(t, "orders-data")
	tg := w.targetGroup("api", nil, b)
	// A target group whose only target refuses connections.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := int32(dead.Addr().(*net.TCPAddr).Port)
	dead.Close()
	tgDead := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("dead"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0000000000000000f")}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tgDead.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(deadPort)}}})).ok(t)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18087), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("gone"),
		Priority: aws.Int32(10), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/gone"}}}},
		Action: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("broken"),
		Priority: aws.Int32(20), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/broken"}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgDead.Id}}}}})).ok(t)
	acct := w.s.Account
	svcSub := need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/orders")})).ok(t)
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.sn.Arn,
		DestinationArn: aws.String("arn:aws:s3:::lattice-logs/prod")})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName

	cwGlob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Forders", *w.svc.Id+".log")
	s3Glob := filepath.Join(w.s.DataDir, "accesslogs", "s3", "lattice-logs", "prod", "AWSLogs", acct, "VpcLattice", "AccessLogs",
		"us-east-1", "*", "*", "*", *w.sn.Id, acct+"_VpcLatticeAccessLogs_us-east-1_"+*w.sn.Id+"_*.json.gz")

	eventually(t, 5*time.Second, "service reachable", func() bool {
		st, _, _ := get(t, ingress, 18087, host, "/warmup", nil)
		return st == 200
	})
	if st, body, _ := get(t, ingress, 18087, host, "/orders?id=7&q=%22x%22", map[string]string{"User-Agent": "logtest/1.0 \"quoted\""}); st != 200 || body != "orders-data" {
		t.Fatalf("GET /orders: %d %q", st, body)
	}
	if st, _, _ := get(t, ingress, 18087, host, "/gone/x", nil); st != 404 {
		t.Fatalf("fixed 404: %d", st)
	}
	if st, _, _ := get(t, ingress, 18087, host, "/broken", nil); st < 500 {
		t.Fatalf("dead target: %d", st)
	}
	if st, _, _ := get(t, ingress, 18087, "nothing.example.com", "/nowhere", nil); st != 404 {
		t.Fatalf("unknown host: %d", st)
	}
	if st, _ := signedCall(t, w.s, ingress, 18087, host, "POST", "/upload", nil); st != 200 {
		t.Fatalf("POST with a body: %d", st)
	}

	var cw []map[string]any
	eventually(t, 5*time.Second, "the service's records in its CloudWatch Logs group", func() bool {
		cw = readJSONLines(t, cwGlob)
		return byPath(cw, "/upload") != nil && byPath(cw, "/broken") != nil
	})
	ok := byPath(cw, "/orders?id=7&q=%22x%22")
	if ok == nil {
		t.Fatalf("no record of GET /orders in %v", cw)
	}
	want := map[string]any{
		"serviceArn": *w.svc.Arn, "serviceNetworkArn": *w.sn.Arn, "targetGroupArn": *tg.Arn, "listenerId": *l.Id, "listenerType": "HTTP",
		"sourceVpcId": "vpc-00000000000000001", "sourceVpcArn": "arn:aws:ec2:us-east-1:" + acct + ":vpc/vpc-00000000000000001",
		"destinationVpcId": "vpc-0000000000000000f", "requestMethod": "GET", "protocol": "HTTP/1.1", "responseCode": float64(200),
		"hostHeader": host, "userAgent": "logtest/1.0 \"quoted\"", "targetIpPort": fmt.Sprintf("127.0.0.1:%d", b.port()),
		"bytesSent": float64(len("orders-data")), "bytesReceived": float64(0), "failureReason": "-", "authDeniedReason": "-",
		"resolvedUser": "-", "callerPrincipal": "-", "grpcResponseCode": "-", "tlsVersion": "-",
	}
	for k, v := range want {
		if ok[k] != v {
			t.Errorf("GET /orders record: %s = %#v, want %#v", k, ok[k], v)
		}
	}
	if id, _ := ok["requestId"].(string); len(id) != 36 {
		t.Errorf("requestId %q", ok["requestId"])
	}
	if st, _ := ok["startTime"].(string); !strings.HasSuffix(st, "Z") || len(st) != len("2006-01-02T15:04:05Z") {
		t.Errorf("startTime %q", ok["startTime"])
	} else if ts, err := time.Parse(time.RFC3339, st); err != nil || time.Since(ts) > time.Minute || time.Since(ts) < -time.Second {
		t.Errorf("startTime %q is not now: %v", st, err)
	}
	if d, isNum := ok["duration"].(float64); !isNum || d < 0 {
		t.Errorf("duration %#v", ok["duration"])
	}
	if src, _ := ok["sourceIpPort"].(string); !strings.HasPrefix(src, "127.0.0.1:") {
		t.Errorf("sourceIpPort %q", ok["sourceIpPort"])
	}
	if r := byPath(cw, "/gone/x"); r["responseCode"] != float64(404) || r["targetIpPort"] != "-" || r["targetGroupArn"] != "-" {
		t.Errorf("fixed 404 record: %v", r)
	}
	if r := byPath(cw, "/broken"); r["failureReason"] != "TargetConnectionError" || r["targetGroupArn"] != *tgDead.Arn ||
		r["targetIpPort"] != fmt.Sprintf("127.0.0.1:%d", deadPort) {
		t.Errorf("dead target record: %v", r)
	}
	if r := byPath(cw, "/upload"); r["requestMethod"] != "POST" || r["bytesReceived"] != float64(len("payload")) {
		t.Errorf("POST record: %v", r)
	}
	if byPath(cw, "/nowhere") != nil {
		t.Error("a request for an unknown host is in the service's log")
	}

	// The network's subscription sees every request through the network,
	// the unknown host's too, as gzip objects in the S3 layout.
	var s3 []map[string]any
	eventually(t, 5*time.Second, "the network's records in its S3 bucket", func() bool {
		s3 = readJSONLines(t, s3Glob)
		return byPath(s3, "/upload") != nil && byPath(s3, "/nowhere") != nil
	})
	if r := byPath(s3, "/nowhere"); r["responseCode"] != float64(404) || r["serviceArn"] != "-" || r["serviceNetworkArn"] != *w.sn.Arn {
		t.Errorf("unknown host record: %v", r)
	}
	if r := byPath(s3, "/orders?id=7&q=%22x%22"); r == nil || r["requestId"] != ok["requestId"] {
		t.Errorf("the network's record of GET /orders differs: %v", r)
	}

	// Auth: the service requires AWS_IAM and has no policy, so an unsigned
	// call is denied at the service level.
	need(w.c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
	eventually(t, 5*time.Second, "auth in force", func() bool {
		st, _, _ := get(t, ingress, 18087, host, "/denied", nil)
		return st == 403
	})
	eventually(t, 5*time.Second, "the denial logged", func() bool {
		cw = readJSONLines(t, cwGlob)
		return byPath(cw, "/denied") != nil
	})
	if r := byPath(cw, "/denied"); r["authDeniedReason"] != "Service" || r["failureReason"] != "ClientAccessDenied" ||
		r["resolvedUser"] != "Anonymous" || r["responseCode"] != float64(403) || r["targetIpPort"] != "-" {
		t.Errorf("denied record: %v", r)
	}
	need(w.c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeNone})).ok(t)

	// Without its subscription the service's group gets nothing more; the
	// network's bucket still does.
	need(w.c.DeleteAccessLogSubscription(ctx, &vpclattice.DeleteAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: svcSub.Id})).ok(t)
	eventually(t, 5*time.Second, "the deletion and auth NONE in the data plane", func() bool {
		vpc := w.s.App.Snapshot().VPCs["vpc-00000000000000001"]
		svc := vpc.Hosts.Get(host)
		return svc != nil && len(svc.AccessLogs) == 0 && svc.AuthType == "NONE"
	})
	if st, _, _ := get(t, ingress, 18087, host, "/after-delete", nil); st != http.StatusOK {
		t.Fatalf("GET /after-delete: %d", st)
	}
	eventually(t, 5*time.Second, "the last request in the bucket", func() bool {
		return byPath(readJSONLines(t, s3Glob), "/after-delete") != nil
	})
	if byPath(readJSONLines(t, cwGlob), "/after-delete") != nil {
		t.Error("a request after the subscription was deleted is in the service's log")
	}
}
