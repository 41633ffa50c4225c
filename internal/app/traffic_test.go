package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/dataplane/traffic"
)

// statusBackend answers the status its path's last segment names
// (/x/503 → 503), after delay.
func statusBackend(t *testing.T, delay time.Duration) *backend {
	b := newBackend(t, "status")
	b.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		time.Sleep(delay)
		code, err := strconv.Atoi(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
		if err != nil {
			code = 200
		}
		w.WriteHeader(code)
	})
	return b
}

// trafficGet is GET /trellis/v1/traffic?query signed with creds.
func trafficGet(t *testing.T, s *apptest.Server, creds aws.Credentials, query string) (int, string, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.Endpoint+"/trellis/v1/traffic?"+query, nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "vpc-lattice", s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("traffic?%s: %d %s", query, resp.StatusCode, b)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), m
}

// counts is a traffic row's numbers.
type counts struct{ req, e4, e5 float64 }

func rowsBy(t *testing.T, m map[string]any, list string, key func(map[string]any) string) map[string]counts {
	t.Helper()
	out := map[string]counts{}
	items, _ := m[list].([]any)
	for _, it := range items {
		r := it.(map[string]any)
		out[key(r)] = counts{r["requests"].(float64), r["errors4xx"].(float64), r["errors5xx"].(float64)}
	}
	return out
}

func eqCounts(a, b map[string]counts) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestTrafficTwoCallers: two authenticated callers (the root and a user,
// SigV4-signed through an AWS_IAM service network) and anonymous ones (a
// denied unsigned request, and an auth-NONE service of another network)
// send known numbers of 2xx/4xx/5xx to two target groups; the traffic
// endpoint answers exact counts per caller and target group, plausible
// latencies, and only to the services' owner.
func TestTrafficTwoCallers(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	fast, slow := statusBackend(t, 0), statusBackend(t, 40*time.Millisecond)
	tgA, tgB := w.targetGroup("fast", nil, fast), w.targetGroup("slow", nil, slow)
	const port = 18221
	lst := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgA.Id}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: lst.Id, Name: aws.String("slow"),
		Priority: aws.Int32(1), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{PathMatch: &types.PathMatch{
			Match: &types.PathMatchTypeMemberPrefix{Value: "/slow"}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgB.Id}}}}})).ok(t)
	const vpc1, vpc2 = "vpc-00000000000000001", "vpc-00000000000000002"
	ingress1 := w.clientVPC(vpc1, w.sn.Id)
	host := *w.svc.DnsEntry.DomainName

	// A second network, auth NONE, with a service of its own (and a group
	// of its own: a target group serves one service).
	tgC := w.targetGroup("catalog", nil, fast)
	open := need(w.c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("open")})).ok(t)
	catalog := need(w.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("catalog")})).ok(t)
	need(w.c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: open.Id, ServiceIdentifier: catalog.Id})).ok(t)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: catalog.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgC.Id}}}}})).ok(t)
	ingress2 := w.clientVPC(vpc2, open.Id)

	// The root and a user of the account; the network lets every
	// authenticated principal in.
	root := aws.Credentials{AccessKeyID: w.s.AccessKeyID, SecretAccessKey: w.s.SecretAccessKey}
	user := "arn:aws:iam::" + w.s.Account + ":user/alice"
	if st, typ, body := nativeCall(t, w.s, "PUT", "/trellis/v1/principals/"+url.PathEscape(user), nil); st != 201 {
		t.Fatalf("user: %d %s %s", st, typ, body)
	}
	st, typ, body := nativeCall(t, w.s, "POST", "/trellis/v1/principals/"+url.PathEscape(user)+"/accesskeys", nil)
	if st != 201 {
		t.Fatalf("key: %d %s %s", st, typ, body)
	}
	var key struct{ AccessKeyID, SecretAccessKey string }
	if err := json.Unmarshal(body, &key); err != nil {
		t.Fatal(err)
	}
	alice := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.sn.Id, Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",
		  "Condition":{"StringEquals":{"aws:PrincipalAccount":"` + w.s.Account + `"}}},
		 {"Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"` + *w.svc.Arn + `/deny/*"}]}`)})).ok(t)
	need(w.c.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id, AuthType: types.AuthTypeAwsIam})).ok(t)

	// Everything in force before the counted requests. The probes are
	// counted too: the numbers below are read as differences from a
	// baseline taken after them.
	eventually(t, 5*time.Second, "AWS_IAM in force and alice's key known", func() bool {
		st1, _ := signedCall(t, w.s, ingress1, port, host, "GET", "/probe/200", &alice)
		st2, _ := signedCall(t, w.s, ingress1, port, host, "GET", "/probe/200", nil)
		st3, _, _ := get(t, ingress2, port, *catalog.DnsEntry.DomainName, "/probe/200", nil)
		return st1 == 200 && st2 == 403 && st3 == 200
	})
	// The probes were counted: read the baseline to subtract.
	_, _, base := trafficGet(t, w.s, root, "service="+*w.svc.Id+"&window=5m")
	_, _, baseCat := trafficGet(t, w.s, root, "service="+*catalog.Id+"&window=5m")
	_, _, baseAlice := trafficGet(t, w.s, root, "caller="+url.QueryEscape(user)+"&window=5m")

	send := func(creds *aws.Credentials, path string, n int) {
		for range n {
			signedCall(t, w.s, ingress1, port, host, "GET", path, creds)
		}
	}
	send(&root, "/a/200", 5)
	send(&root, "/a/404", 2)
	send(&root, "/slow/503", 3)
	send(&alice, "/a/200", 4)
	send(&alice, "/a/500", 1)
	send(&alice, "/slow/200", 2)
	send(&alice, "/deny/200", 2) // denied by the policy: 403, counted for alice, no target group
	send(nil, "/a/200", 2)       // denied: 403, counted for the anonymous caller, no target group
	for _, p := range []string{"/c/200", "/c/200", "/c/200", "/c/200", "/c/200", "/c/200", "/c/404"} {
		get(t, ingress2, port, *catalog.DnsEntry.DomainName, p, nil)
	}

	rootARN := "arn:aws:iam::" + w.s.Account + ":root"
	callerKey := func(r map[string]any) string { return r["principal"].(string) + "@" + r["sourceVpcId"].(string) }
	tgKey := func(r map[string]any) string { return r["targetGroupId"].(string) }
	minus := func(a, b map[string]counts) map[string]counts {
		out := map[string]counts{}
		for k, v := range a {
			bv := b[k]
			if d := (counts{v.req - bv.req, v.e4 - bv.e4, v.e5 - bv.e5}); d != (counts{}) {
				out[k] = d
			}
		}
		return out
	}
	wantCallers := map[string]counts{
		rootARN + "@" + vpc1:           {10, 2, 3},
		user + "@" + vpc1:              {9, 2, 1},
		traffic.Anonymous + "@" + vpc1: {2, 2, 0},
	}
	wantTGs := map[string]counts{*tgA.Id: {12, 2, 1}, *tgB.Id: {5, 0, 3}}
	var m map[string]any
	// Observations are made after the response is written: wait for the last.
	eventually(t, 5*time.Second, "exact counts", func() bool {
		var st int
		st, _, m = trafficGet(t, w.s, root, "service="+url.QueryEscape(*w.svc.Arn)+"&window=5m")
		return st == 200 && eqCounts(minus(rowsBy(t, m, "callers", callerKey), rowsBy(t, base, "callers", callerKey)), wantCallers) &&
			eqCounts(minus(rowsBy(t, m, "targetGroups", tgKey), rowsBy(t, base, "targetGroups", tgKey)), wantTGs)
	})
	// Latency: the slow group's every request took ≥ 40ms; the fast one's far less.
	p := func(list, idKey, id, q string) float64 {
		for _, it := range m[list].([]any) {
			r := it.(map[string]any)
			if r[idKey] == id {
				return r[q].(float64)
			}
		}
		t.Fatalf("no %s %s in %v", list, id, m)
		return 0
	}
	if v := p("targetGroups", "targetGroupId", *tgB.Id, "p50Ms"); v < 40*(1-traffic.SketchRelativeError) || v > 1000 {
		t.Errorf("slow group p50 %vms, want ≥ 40ms within the sketch's error", v)
	}
	if a, b := p("targetGroups", "targetGroupId", *tgA.Id, "p50Ms"), p("targetGroups", "targetGroupId", *tgB.Id, "p50Ms"); a <= 0 || a >= b {
		t.Errorf("fast group p50 %vms, slow %vms", a, b)
	}

	// The auth-NONE service: anonymous callers from the second VPC only.
	eventually(t, 5*time.Second, "catalog counts", func() bool {
		_, _, mc := trafficGet(t, w.s, root, "service="+*catalog.Id)
		return eqCounts(minus(rowsBy(t, mc, "callers", callerKey), rowsBy(t, baseCat, "callers", callerKey)),
			map[string]counts{traffic.Anonymous + "@" + vpc2: {7, 1, 0}}) &&
			eqCounts(minus(rowsBy(t, mc, "targetGroups", tgKey), rowsBy(t, baseCat, "targetGroups", tgKey)),
				map[string]counts{*tgC.Id: {7, 1, 0}})
	})

	// What alice calls; the busiest.
	_, _, mc := trafficGet(t, w.s, root, "caller="+url.QueryEscape(user)+"&window=5m")
	svcKey := func(r map[string]any) string { return r["serviceId"].(string) + "/" + fmt.Sprint(r["serviceName"]) }
	if got := minus(rowsBy(t, mc, "services", svcKey), rowsBy(t, baseAlice, "services", svcKey)); !eqCounts(got, map[string]counts{*w.svc.Id + "/orders": {9, 2, 1}}) {
		t.Errorf("alice calls %v", got)
	}
	_, _, top := trafficGet(t, w.s, root, "top=1")
	if s := top["services"].([]any); len(s) != 1 || s[0].(map[string]any)["serviceId"] != *w.svc.Id {
		t.Errorf("top services %v", top["services"])
	}
	if c := top["callers"].([]any); len(c) != 1 {
		t.Errorf("top callers %v", top["callers"])
	}

	// Another account sees none of it.
	const other = "210987654321"
	if st, typ, body := nativeCall(t, w.s, "PUT", "/trellis/v1/accounts/"+other, nil); st != 201 {
		t.Fatalf("account: %d %s %s", st, typ, body)
	}
	st, typ, body = nativeCall(t, w.s, "POST", "/trellis/v1/accounts/"+other+"/accesskeys", nil)
	if st != 201 {
		t.Fatalf("key: %d %s %s", st, typ, body)
	}
	if err := json.Unmarshal(body, &key); err != nil {
		t.Fatal(err)
	}
	stranger := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	for _, ident := range []string{*w.svc.Id, *w.svc.Arn} {
		if st, typ, _ := trafficGet(t, w.s, stranger, "service="+url.QueryEscape(ident)); st != 404 || typ != "ResourceNotFoundException" {
			t.Errorf("another account's service %s: %d %s", ident, st, typ)
		}
	}
	if _, _, m := trafficGet(t, w.s, stranger, "caller="+url.QueryEscape(user)); len(m["services"].([]any)) != 0 {
		t.Errorf("another account's caller view: %v", m)
	}
	if _, _, m := trafficGet(t, w.s, stranger, "top=10"); len(m["services"].([]any)) != 0 || len(m["callers"].([]any)) != 0 {
		t.Errorf("another account's top view: %v", m)
	}

	// Bad input names its field.
	for q, field := range map[string]string{
		"service=" + *w.svc.Id + "&window=soon": "window",
		"service=" + *w.svc.Id + "&window=0s":   "window",
		"service=" + *w.svc.Id + "&window=-5m":  "window",
		"service=" + *w.svc.Id + "&window=2h":   "window", // more than the default 1h kept
		"top=0":                                 "top",
		"top=x":                                 "top",
		"caller=bob":                            "caller",
		"":                                      "service",
		"service=" + *w.svc.Id + "&top=3":       "service",
	} {
		st, typ, m := trafficGet(t, w.s, root, q)
		if st != 400 || typ != "ValidationException" || !strings.Contains(fmt.Sprint(m["fieldList"]), "name:"+field) {
			t.Errorf("?%s: %d %s %v, want a ValidationException naming %s", q, st, typ, m, field)
		}
	}
}

// TestTrafficOff: with --traffic-window=0 nothing is kept and the endpoint
// says so.
func TestTrafficOff(t *testing.T) {
	s := apptest.StartWith(t, apptest.Options{TrafficWindow: -1})
	if s.App.Traffic() != nil {
		t.Fatal("an aggregator with aggregation off")
	}
	st, typ, m := trafficGet(t, s, aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}, "top=5")
	if st != 400 || typ != "ValidationException" || !strings.Contains(fmt.Sprint(m["message"]), "off") {
		t.Fatalf("%d %s %v", st, typ, m)
	}
}
