package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/trellis-net/trellis/internal/api/apitest"
	"github.com/trellis-net/trellis/internal/app/apptest"
)

// Issue 16: every operation of the API model round-trips with an official
// SDK. This test calls each of the 73 operations of *vpclattice.Client once,
// as a step of one realistic lifecycle (create everything; read, list,
// update; tags and policies; delete in dependency order), and checks the
// members reference §2.3 says each answers. test/sdkjs does the same with
// the JavaScript SDK; both check their coverage against
// apitest.LatticeOperations.

// opStep is one operation of the lifecycle: op names the SDK method the
// step is about (other calls in it only check its effect).
type opStep struct {
	op  string
	run func(t *testing.T)
}

// allOpsWorld holds what the steps create, for the steps after them.
type allOpsWorld struct {
	s       *apptest.Server
	c       *vpclattice.Client
	dns     *txtServer
	sn      *vpclattice.CreateServiceNetworkOutput
	svc     *vpclattice.CreateServiceOutput
	tg      *vpclattice.CreateTargetGroupOutput
	tg2     *vpclattice.CreateTargetGroupOutput
	l       *vpclattice.CreateListenerOutput
	rule    *vpclattice.CreateRuleOutput
	snsa    *vpclattice.CreateServiceNetworkServiceAssociationOutput
	snva    *vpclattice.CreateServiceNetworkVpcAssociationOutput
	als     *vpclattice.CreateAccessLogSubscriptionOutput
	gw      *vpclattice.CreateResourceGatewayOutput
	rc      *vpclattice.CreateResourceConfigurationOutput
	snra    *vpclattice.CreateServiceNetworkResourceAssociationOutput
	dv      *vpclattice.StartDomainVerificationOutput
	arnPart string // arn:aws:vpc-lattice:REGION:ACCOUNT:
}

const allowIt = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`

// hexID matches an ID as Lattice makes them: the prefix, 17 lowercase hex
// characters (reference §1.1).
func hexID(prefix string) *regexp.Regexp { return regexp.MustCompile(`^` + prefix + `-[0-9a-f]{17}$`) }

// wantID checks an ID's shape and that arn is this account's ARN of it.
func (w *allOpsWorld) wantID(t *testing.T, prefix, kind string, id, arn *string) {
	t.Helper()
	if id == nil || !hexID(prefix).MatchString(*id) {
		t.Fatalf("id %v, want %s-<17 hex>", aws.ToString(id), prefix)
	}
	if arn == nil || !strings.HasPrefix(*arn, w.arnPart) || !strings.HasSuffix(*arn, kind+"/"+*id) {
		t.Fatalf("arn %v, want %s...%s/%s", aws.ToString(arn), w.arnPart, kind, *id)
	}
}

// gone asserts err is the ResourceNotFoundException a Get answers after a
// Delete.
func gone(t *testing.T, err error) {
	t.Helper()
	var nf *types.ResourceNotFoundException
	wantAPIError(t, err, "ResourceNotFoundException")
	if !errorsAs(err, &nf) || aws.ToString(nf.ResourceId) == "" || aws.ToString(nf.ResourceType) == "" {
		t.Fatalf("not a typed ResourceNotFoundException with resourceId and resourceType: %v", err)
	}
}

// statusRecorder sees every answer the client gets: which operations were
// called, and any success whose HTTP status is not the model's. The Go SDK
// takes any 2xx; other clients may hold the server to the model's code.
type statusRecorder struct {
	mu     sync.Mutex
	called map[string]bool
	wrong  []string
}

func (r *statusRecorder) middleware(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("RecordStatus",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
				op := awsmiddleware.GetOperationName(ctx)
				r.mu.Lock()
				r.called[op] = true
				if resp.StatusCode/100 == 2 && resp.StatusCode != apitest.LatticeSuccessStatus(op) {
					r.wrong = append(r.wrong, fmt.Sprintf("%s answered %d, the model says %d", op, resp.StatusCode, apitest.LatticeSuccessStatus(op)))
				}
				r.mu.Unlock()
			}
			return out, md, err
		}), middleware.Before)
}

// take answers whether op was called and the wrong statuses seen since
// the last take.
func (r *statusRecorder) take(op string) (bool, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	called, wrong := r.called[op], r.wrong
	r.called, r.wrong = map[string]bool{}, nil
	return called, wrong
}

func TestEveryLatticeOperationRoundTrips(t *testing.T) {
	t.Parallel()
	dnsSrv := startTXTServer(t)
	s, _ := resourceWorld(t, apptest.Options{DomainVerificationResolver: dnsSrv.addr})
	rec := &statusRecorder{called: map[string]bool{}}
	c := vpclattice.New(vpclattice.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""), RetryMaxAttempts: 1,
		APIOptions: []func(*middleware.Stack) error{rec.middleware}})
	w := &allOpsWorld{s: s, c: c, dns: dnsSrv, arnPart: "arn:aws:vpc-lattice:" + s.Region + ":" + s.Account + ":"}
	steps := w.steps()

	// The table covers every operation the SDK has, each once.
	covered := map[string]bool{}
	for _, st := range steps {
		if covered[st.op] {
			t.Fatalf("%s has two steps", st.op)
		}
		covered[st.op] = true
	}
	ops := apitest.LatticeOperations()
	if len(ops) != apitest.LatticeOperationCount {
		t.Errorf("the SDK has %d operations, the model %d: %v", len(ops), apitest.LatticeOperationCount, ops)
	}
	for _, op := range ops {
		if !covered[op] {
			t.Errorf("no step for %s", op)
		}
		delete(covered, op)
	}
	for op := range covered {
		t.Errorf("step %s is no operation of the SDK", op)
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, st := range steps {
		// Each step builds on the ones before: stop at the first failure.
		if !t.Run(st.op, func(t *testing.T) {
			rec.take("")
			st.run(t)
			called, wrong := rec.take(st.op)
			if !called {
				t.Errorf("the step never called %s", st.op)
			}
			for _, m := range wrong {
				t.Error(m)
			}
		}) {
			t.Fatalf("%s failed; the steps after it depend on it", st.op)
		}
	}
}

func (w *allOpsWorld) steps() []opStep {
	c, s := w.c, w.s
	return []opStep{
		// ---- create everything ----
		{"CreateServiceNetwork", func(t *testing.T) {
			w.sn = need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net-all"),
				AuthType: types.AuthTypeAwsIam, Tags: map[string]string{"team": "core"}, SharingConfig: &types.SharingConfig{Enabled: aws.Bool(true)}})).ok(t)
			w.wantID(t, "sn", "servicenetwork", w.sn.Id, w.sn.Arn)
			if *w.sn.Name != "net-all" || w.sn.AuthType != types.AuthTypeAwsIam || w.sn.SharingConfig == nil || !*w.sn.SharingConfig.Enabled {
				t.Fatalf("create: %+v", w.sn)
			}
		}},
		{"CreateService", func(t *testing.T) {
			w.svc = need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders"), AuthType: types.AuthTypeAwsIam,
				Tags: map[string]string{"team": "orders"}})).ok(t)
			w.wantID(t, "svc", "service", w.svc.Id, w.svc.Arn)
			if *w.svc.Name != "orders" || w.svc.AuthType != types.AuthTypeAwsIam || w.svc.Status != types.ServiceStatusActive ||
				w.svc.DnsEntry == nil || !strings.HasPrefix(aws.ToString(w.svc.DnsEntry.DomainName), "orders-"+strings.TrimPrefix(*w.svc.Id, "svc-")+".") ||
				aws.ToString(w.svc.DnsEntry.HostedZoneId) == "" {
				t.Fatalf("create: %+v", w.svc)
			}
		}},
		{"CreateTargetGroup", func(t *testing.T) {
			w.tg = need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("orders-blue"), Type: types.TargetGroupTypeIp,
				Config: &types.TargetGroupConfig{Port: aws.Int32(8080), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(rVpc)},
				Tags:   map[string]string{"color": "blue"}})).ok(t)
			w.wantID(t, "tg", "targetgroup", w.tg.Id, w.tg.Arn)
			if *w.tg.Name != "orders-blue" || w.tg.Type != types.TargetGroupTypeIp || w.tg.Status != types.TargetGroupStatusActive ||
				w.tg.Config == nil || *w.tg.Config.Port != 8080 || w.tg.Config.Protocol != types.TargetGroupProtocolHttp ||
				*w.tg.Config.VpcIdentifier != rVpc || w.tg.Config.HealthCheck == nil {
				t.Fatalf("create: %+v", w.tg)
			}
			// A second group for the rule and the weighted default action.
			w.tg2 = need(c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("orders-green"), Type: types.TargetGroupTypeIp,
				Config: &types.TargetGroupConfig{Port: aws.Int32(8081), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String(rVpc)}})).ok(t)
		}},
		{"RegisterTargets", func(t *testing.T) {
			r := need(c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: w.tg.Arn, Targets: []types.Target{
				{Id: aws.String("10.0.0.10")}, {Id: aws.String("10.0.0.11"), Port: aws.Int32(9090)}, {Id: aws.String("not-an-ip")}}})).ok(t)
			if len(r.Successful) != 2 || *r.Successful[0].Id != "10.0.0.10" || *r.Successful[0].Port != 8080 || *r.Successful[1].Port != 9090 ||
				len(r.Unsuccessful) != 1 || *r.Unsuccessful[0].Id != "not-an-ip" || aws.ToString(r.Unsuccessful[0].FailureCode) == "" ||
				aws.ToString(r.Unsuccessful[0].FailureMessage) == "" {
				t.Fatalf("register: ok %+v failed %+v", r.Successful, r.Unsuccessful)
			}
		}},
		{"CreateListener", func(t *testing.T) {
			w.l = need(c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Arn, Name: aws.String("web"),
				Protocol: types.ListenerProtocolHttp, Port: aws.Int32(8080), DefaultAction: forward(map[string]int32{*w.tg.Id: 1})})).ok(t)
			w.wantID(t, "listener", "service/"+*w.svc.Id+"/listener", w.l.Id, w.l.Arn)
			fw, ok := w.l.DefaultAction.(*types.RuleActionMemberForward)
			if *w.l.Name != "web" || w.l.Protocol != types.ListenerProtocolHttp || *w.l.Port != 8080 || *w.l.ServiceId != *w.svc.Id ||
				*w.l.ServiceArn != *w.svc.Arn || !ok || len(fw.Value.TargetGroups) != 1 || *fw.Value.TargetGroups[0].TargetGroupIdentifier != *w.tg.Id {
				t.Fatalf("create: %+v", w.l)
			}
		}},
		{"CreateRule", func(t *testing.T) {
			w.rule = need(c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Arn,
				Name: aws.String("api"), Priority: aws.Int32(10), Action: forward(map[string]int32{*w.tg.Id: 90, *w.tg2.Id: 10}),
				Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("POST"),
					PathMatch:     &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/api"}, CaseSensitive: aws.Bool(true)},
					HeaderMatches: []types.HeaderMatch{{Name: aws.String("x-env"), Match: &types.HeaderMatchTypeMemberExact{Value: "blue"}}}}},
			})).ok(t)
			w.wantID(t, "rule", "listener/"+*w.l.Id+"/rule", w.rule.Id, w.rule.Arn)
			m, ok := w.rule.Match.(*types.RuleMatchMemberHttpMatch)
			if *w.rule.Name != "api" || *w.rule.Priority != 10 || !ok || *m.Value.Method != "POST" || m.Value.PathMatch == nil ||
				len(m.Value.HeaderMatches) != 1 || *m.Value.HeaderMatches[0].Name != "x-env" {
				t.Fatalf("create: %+v", w.rule)
			}
			if p, ok := m.Value.PathMatch.Match.(*types.PathMatchTypeMemberPrefix); !ok || p.Value != "/api" || !*m.Value.PathMatch.CaseSensitive {
				t.Fatalf("path match: %+v", m.Value.PathMatch)
			}
			if fw, ok := w.rule.Action.(*types.RuleActionMemberForward); !ok || len(fw.Value.TargetGroups) != 2 {
				t.Fatalf("action: %+v", w.rule.Action)
			}
		}},
		{"CreateServiceNetworkServiceAssociation", func(t *testing.T) {
			w.snsa = need(c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
				ServiceNetworkIdentifier: w.sn.Arn, ServiceIdentifier: w.svc.Id})).ok(t)
			w.wantID(t, "snsa", "servicenetworkserviceassociation", w.snsa.Id, w.snsa.Arn)
			if w.snsa.Status != types.ServiceNetworkServiceAssociationStatusActive || *w.snsa.CreatedBy != s.Account ||
				w.snsa.DnsEntry == nil || *w.snsa.DnsEntry.DomainName != *w.svc.DnsEntry.DomainName {
				t.Fatalf("create: %+v", w.snsa)
			}
		}},
		{"CreateServiceNetworkVpcAssociation", func(t *testing.T) {
			w.snva = need(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
				ServiceNetworkIdentifier: w.sn.Id, VpcIdentifier: aws.String(rVpc), SecurityGroupIds: []string{rSG}})).ok(t)
			w.wantID(t, "snva", "servicenetworkvpcassociation", w.snva.Id, w.snva.Arn)
			if w.snva.Status != types.ServiceNetworkVpcAssociationStatusActive || *w.snva.CreatedBy != s.Account ||
				len(w.snva.SecurityGroupIds) != 1 || w.snva.SecurityGroupIds[0] != rSG {
				t.Fatalf("create: %+v", w.snva)
			}
		}},
		{"CreateAccessLogSubscription", func(t *testing.T) {
			w.als = need(c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
				DestinationArn: aws.String("arn:aws:logs:" + s.Region + ":" + s.Account + ":log-group:orders")})).ok(t)
			w.wantID(t, "als", "accesslogsubscription", w.als.Id, w.als.Arn)
			if *w.als.ResourceId != *w.svc.Id || *w.als.ResourceArn != *w.svc.Arn || !strings.HasSuffix(*w.als.DestinationArn, ":log-group:orders") {
				t.Fatalf("create: %+v", w.als)
			}
		}},
		{"CreateResourceGateway", func(t *testing.T) {
			w.gw = need(c.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("gw-all"), VpcIdentifier: aws.String(rVpc),
				SubnetIds: []string{"subnet-0123456789abcdef0"}, SecurityGroupIds: []string{rSG}})).ok(t)
			w.wantID(t, "rgw", "resourcegateway", w.gw.Id, w.gw.Arn)
			if *w.gw.Name != "gw-all" || *w.gw.VpcIdentifier != rVpc || w.gw.Status != types.ResourceGatewayStatusActive ||
				len(w.gw.SubnetIds) != 1 || len(w.gw.SecurityGroupIds) != 1 {
				t.Fatalf("create: %+v", w.gw)
			}
		}},
		{"CreateResourceConfiguration", func(t *testing.T) {
			w.rc = need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("db-all"),
				Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: w.gw.Arn, PortRanges: []string{"5432"},
				ResourceConfigurationDefinition: ipDef("10.0.0.5")})).ok(t)
			w.wantID(t, "rcfg", "resourceconfiguration", w.rc.Id, w.rc.Arn)
			if *w.rc.Name != "db-all" || w.rc.Type != types.ResourceConfigurationTypeSingle || *w.rc.ResourceGatewayId != *w.gw.Id ||
				w.rc.Status != types.ResourceConfigurationStatusActive || w.rc.Protocol != types.ProtocolTypeTcp || w.rc.PortRanges[0] != "5432" {
				t.Fatalf("create: %+v", w.rc)
			}
		}},
		{"CreateServiceNetworkResourceAssociation", func(t *testing.T) {
			w.snra = need(c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
				ServiceNetworkIdentifier: w.sn.Id, ResourceConfigurationIdentifier: w.rc.Arn})).ok(t)
			w.wantID(t, "snra", "servicenetworkresourceassociation", w.snra.Id, w.snra.Arn)
			if w.snra.Status != types.ServiceNetworkResourceAssociationStatusActive || *w.snra.CreatedBy != s.Account {
				t.Fatalf("create: %+v", w.snra)
			}
		}},
		{"StartDomainVerification", func(t *testing.T) {
			w.dv = need(c.StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("orders.example")})).ok(t)
			w.wantID(t, "dv", "domainverification", w.dv.Id, w.dv.Arn)
			if *w.dv.DomainName != "orders.example" || w.dv.Status != types.VerificationStatusPending || w.dv.TxtMethodConfig == nil ||
				aws.ToString(w.dv.TxtMethodConfig.Name) == "" || aws.ToString(w.dv.TxtMethodConfig.Value) == "" {
				t.Fatalf("start: %+v", w.dv)
			}
		}},

		// ---- read, list, update ----
		{"GetServiceNetwork", func(t *testing.T) {
			g := need(c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Arn})).ok(t)
			if *g.Id != *w.sn.Id || *g.Arn != *w.sn.Arn || *g.Name != "net-all" || g.AuthType != types.AuthTypeAwsIam ||
				g.CreatedAt == nil || g.LastUpdatedAt == nil || *g.NumberOfAssociatedServices != 1 || *g.NumberOfAssociatedVPCs != 1 {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListServiceNetworks", func(t *testing.T) {
			l := need(c.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{MaxResults: aws.Int32(10)})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.sn.Id || *l.Items[0].Name != "net-all" || *l.Items[0].NumberOfAssociatedServices != 1 ||
				*l.Items[0].NumberOfAssociatedVPCs != 1 || *l.Items[0].NumberOfAssociatedResourceConfigurations != 1 || l.NextToken != nil {
				t.Fatalf("list: %s", dump(l.Items))
			}
		}},
		{"UpdateServiceNetwork", func(t *testing.T) {
			u := need(c.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id, AuthType: types.AuthTypeNone})).ok(t)
			if *u.Id != *w.sn.Id || *u.Arn != *w.sn.Arn || *u.Name != "net-all" || u.AuthType != types.AuthTypeNone {
				t.Fatalf("update: %+v", u)
			}
			if g := need(c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id})).ok(t); g.AuthType != types.AuthTypeNone {
				t.Fatalf("get after update: %+v", g)
			}
		}},
		{"GetService", func(t *testing.T) {
			g := need(c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Arn})).ok(t)
			if *g.Id != *w.svc.Id || *g.Name != "orders" || g.Status != types.ServiceStatusActive || g.AuthType != types.AuthTypeAwsIam ||
				g.CreatedAt == nil || g.LastUpdatedAt == nil || *g.DnsEntry.DomainName != *w.svc.DnsEntry.DomainName {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListServices", func(t *testing.T) {
			l := need(c.ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.svc.Id || *l.Items[0].Arn != *w.svc.Arn || l.Items[0].Status != types.ServiceStatusActive ||
				l.Items[0].DnsEntry == nil || l.Items[0].CreatedAt == nil {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"UpdateService", func(t *testing.T) {
			u := need(c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeNone})).ok(t)
			if *u.Id != *w.svc.Id || *u.Arn != *w.svc.Arn || *u.Name != "orders" || u.AuthType != types.AuthTypeNone {
				t.Fatalf("update: %+v", u)
			}
			if g := need(c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Id})).ok(t); g.AuthType != types.AuthTypeNone {
				t.Fatalf("get after update: %+v", g)
			}
		}},
		{"GetListener", func(t *testing.T) {
			g := need(c.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id})).ok(t)
			if *g.Id != *w.l.Id || *g.Arn != *w.l.Arn || *g.Name != "web" || *g.Port != 8080 || g.Protocol != types.ListenerProtocolHttp ||
				*g.ServiceId != *w.svc.Id || g.CreatedAt == nil || g.LastUpdatedAt == nil {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListListeners", func(t *testing.T) {
			l := need(c.ListListeners(ctx, &vpclattice.ListListenersInput{ServiceIdentifier: w.svc.Arn})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.l.Id || *l.Items[0].Port != 8080 || l.Items[0].Protocol != types.ListenerProtocolHttp {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"UpdateListener", func(t *testing.T) {
			u := need(c.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Arn,
				DefaultAction: forward(map[string]int32{*w.tg.Id: 50, *w.tg2.Id: 50})})).ok(t)
			fw, ok := u.DefaultAction.(*types.RuleActionMemberForward)
			if *u.Id != *w.l.Id || !ok || len(fw.Value.TargetGroups) != 2 || *fw.Value.TargetGroups[0].Weight != 50 || *u.ServiceId != *w.svc.Id {
				t.Fatalf("update: %+v", u)
			}
			g := need(c.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id})).ok(t)
			if fw, ok := g.DefaultAction.(*types.RuleActionMemberForward); !ok || len(fw.Value.TargetGroups) != 2 {
				t.Fatalf("get after update: %+v", g.DefaultAction)
			}
		}},
		{"GetRule", func(t *testing.T) {
			g := need(c.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id, RuleIdentifier: w.rule.Arn})).ok(t)
			if *g.Id != *w.rule.Id || *g.Name != "api" || *g.Priority != 10 || *g.IsDefault || g.CreatedAt == nil || g.LastUpdatedAt == nil {
				t.Fatalf("get: %+v", g)
			}
			if m, ok := g.Match.(*types.RuleMatchMemberHttpMatch); !ok || *m.Value.Method != "POST" {
				t.Fatalf("match: %+v", g.Match)
			}
		}},
		{"ListRules", func(t *testing.T) {
			l := need(c.ListRules(ctx, &vpclattice.ListRulesInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id})).ok(t)
			var custom, dflt int
			for _, it := range l.Items {
				switch {
				case *it.IsDefault:
					dflt++
				case *it.Id == *w.rule.Id && *it.Priority == 10 && *it.Name == "api":
					custom++
				}
			}
			if custom != 1 || dflt != 1 || len(l.Items) != 2 {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"UpdateRule", func(t *testing.T) {
			u := need(c.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id, RuleIdentifier: w.rule.Id,
				Priority: aws.Int32(20), Action: fixed(404)})).ok(t)
			if fr, ok := u.Action.(*types.RuleActionMemberFixedResponse); *u.Id != *w.rule.Id || *u.Priority != 20 || *u.IsDefault || !ok || *fr.Value.StatusCode != 404 {
				t.Fatalf("update: %+v", u)
			}
			if g := need(c.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id, RuleIdentifier: w.rule.Id})).ok(t); *g.Priority != 20 {
				t.Fatalf("get after update: %+v", g)
			}
		}},
		{"BatchUpdateRule", func(t *testing.T) {
			b := need(c.BatchUpdateRule(ctx, &vpclattice.BatchUpdateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id,
				Rules: []types.RuleUpdate{{RuleIdentifier: w.rule.Id, Priority: aws.Int32(30)}, {RuleIdentifier: aws.String("rule-0123456789abcdef0"), Priority: aws.Int32(40)}}})).ok(t)
			if len(b.Successful) != 1 || *b.Successful[0].Id != *w.rule.Id || *b.Successful[0].Priority != 30 ||
				len(b.Unsuccessful) != 1 || *b.Unsuccessful[0].RuleIdentifier != "rule-0123456789abcdef0" || aws.ToString(b.Unsuccessful[0].FailureCode) == "" {
				t.Fatalf("batch: ok %+v failed %+v", b.Successful, b.Unsuccessful)
			}
			if g := need(c.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id, RuleIdentifier: w.rule.Id})).ok(t); *g.Priority != 30 {
				t.Fatalf("get after batch: %+v", g)
			}
		}},
		{"GetTargetGroup", func(t *testing.T) {
			g := need(c.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: w.tg.Arn})).ok(t)
			if *g.Id != *w.tg.Id || *g.Name != "orders-blue" || g.Type != types.TargetGroupTypeIp || g.Status != types.TargetGroupStatusActive ||
				g.CreatedAt == nil || g.LastUpdatedAt == nil || len(g.ServiceArns) != 1 || g.ServiceArns[0] != *w.svc.Arn || *g.Config.Port != 8080 {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListTargetGroups", func(t *testing.T) {
			l := need(c.ListTargetGroups(ctx, &vpclattice.ListTargetGroupsInput{VpcIdentifier: aws.String(rVpc), TargetGroupType: types.TargetGroupTypeIp})).ok(t)
			if len(l.Items) != 2 {
				t.Fatalf("list: %+v", l.Items)
			}
			for _, it := range l.Items {
				if it.Type != types.TargetGroupTypeIp || *it.VpcIdentifier != rVpc || it.Protocol != types.TargetGroupProtocolHttp || it.CreatedAt == nil ||
					len(it.ServiceArns) != 1 {
					t.Fatalf("item: %+v", it)
				}
			}
			if l := need(c.ListTargetGroups(ctx, &vpclattice.ListTargetGroupsInput{TargetGroupType: types.TargetGroupTypeLambda})).ok(t); len(l.Items) != 0 {
				t.Fatalf("lambda groups: %+v", l.Items)
			}
		}},
		{"UpdateTargetGroup", func(t *testing.T) {
			u := need(c.UpdateTargetGroup(ctx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: w.tg.Id,
				HealthCheck: &types.HealthCheckConfig{Path: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(10),
					Matcher: &types.MatcherMemberHttpCode{Value: "200-299"}}})).ok(t)
			hc := u.Config.HealthCheck
			if *u.Id != *w.tg.Id || u.Status != types.TargetGroupStatusActive || *hc.Path != "/healthz" || *hc.HealthCheckIntervalSeconds != 10 {
				t.Fatalf("update: %+v", hc)
			}
			g := need(c.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: w.tg.Id})).ok(t)
			if m, ok := g.Config.HealthCheck.Matcher.(*types.MatcherMemberHttpCode); !ok || m.Value != "200-299" || *g.Config.HealthCheck.Path != "/healthz" {
				t.Fatalf("get after update: %+v", g.Config.HealthCheck)
			}
		}},
		{"ListTargets", func(t *testing.T) {
			l := need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: w.tg.Id})).ok(t)
			if len(l.Items) != 2 || l.Items[0].Status == "" || *l.Items[0].Port == 0 {
				t.Fatalf("list: %+v", l.Items)
			}
			f := need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: w.tg.Id, Targets: []types.Target{{Id: aws.String("10.0.0.11"), Port: aws.Int32(9090)}}})).ok(t)
			if len(f.Items) != 1 || *f.Items[0].Id != "10.0.0.11" || *f.Items[0].Port != 9090 {
				t.Fatalf("filtered: %+v", f.Items)
			}
		}},
		{"DeregisterTargets", func(t *testing.T) {
			d := need(c.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: w.tg.Id,
				Targets: []types.Target{{Id: aws.String("10.0.0.11"), Port: aws.Int32(9090)}}})).ok(t)
			if len(d.Successful) != 1 || *d.Successful[0].Id != "10.0.0.11" || len(d.Unsuccessful) != 0 {
				t.Fatalf("deregister: ok %+v failed %+v", d.Successful, d.Unsuccessful)
			}
			// Deregistered targets drain; none is ACTIVE-listed as before.
			for _, it := range need(c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: w.tg.Id})).ok(t).Items {
				if *it.Id == "10.0.0.11" && it.Status != types.TargetStatusDraining {
					t.Fatalf("deregistered target: %+v", it)
				}
			}
		}},
		{"GetServiceNetworkServiceAssociation", func(t *testing.T) {
			g := need(c.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{
				ServiceNetworkServiceAssociationIdentifier: w.snsa.Arn})).ok(t)
			if *g.Id != *w.snsa.Id || g.Status != types.ServiceNetworkServiceAssociationStatusActive || *g.ServiceId != *w.svc.Id ||
				*g.ServiceName != "orders" || *g.ServiceArn != *w.svc.Arn || *g.ServiceNetworkId != *w.sn.Id || *g.ServiceNetworkName != "net-all" ||
				*g.ServiceNetworkArn != *w.sn.Arn || g.CreatedAt == nil || *g.CreatedBy != s.Account {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListServiceNetworkServiceAssociations", func(t *testing.T) {
			l := need(c.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceNetworkIdentifier: w.sn.Id})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.snsa.Id || *l.Items[0].ServiceName != "orders" || l.Items[0].Status != types.ServiceNetworkServiceAssociationStatusActive {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"GetServiceNetworkVpcAssociation", func(t *testing.T) {
			g := need(c.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{
				ServiceNetworkVpcAssociationIdentifier: w.snva.Arn})).ok(t)
			if *g.Id != *w.snva.Id || *g.VpcId != rVpc || *g.ServiceNetworkId != *w.sn.Id || *g.ServiceNetworkName != "net-all" ||
				g.Status != types.ServiceNetworkVpcAssociationStatusActive || len(g.SecurityGroupIds) != 1 || g.CreatedAt == nil || g.LastUpdatedAt == nil {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListServiceNetworkVpcAssociations", func(t *testing.T) {
			l := need(c.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{VpcIdentifier: aws.String(rVpc)})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.snva.Id || *l.Items[0].VpcId != rVpc || *l.Items[0].ServiceNetworkName != "net-all" {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"UpdateServiceNetworkVpcAssociation", func(t *testing.T) {
			u := need(c.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
				ServiceNetworkVpcAssociationIdentifier: w.snva.Id, SecurityGroupIds: []string{rSG, "sg-0000000000000e0e3"}})).ok(t)
			if *u.Id != *w.snva.Id || len(u.SecurityGroupIds) != 2 || u.Status != types.ServiceNetworkVpcAssociationStatusActive || *u.CreatedBy != s.Account {
				t.Fatalf("update: %+v", u)
			}
			if g := need(c.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{
				ServiceNetworkVpcAssociationIdentifier: w.snva.Id})).ok(t); len(g.SecurityGroupIds) != 2 {
				t.Fatalf("get after update: %+v", g)
			}
		}},
		{"ListServiceNetworkVpcEndpointAssociations", func(t *testing.T) {
			// Trellis has no VPC endpoints: the list is empty, and well formed.
			l := need(c.ListServiceNetworkVpcEndpointAssociations(ctx, &vpclattice.ListServiceNetworkVpcEndpointAssociationsInput{ServiceNetworkIdentifier: w.sn.Arn})).ok(t)
			if len(l.Items) != 0 || l.NextToken != nil {
				t.Fatalf("list: %+v", l)
			}
		}},
		{"GetAccessLogSubscription", func(t *testing.T) {
			g := need(c.GetAccessLogSubscription(ctx, &vpclattice.GetAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: w.als.Arn})).ok(t)
			if *g.Id != *w.als.Id || *g.ResourceId != *w.svc.Id || *g.DestinationArn != *w.als.DestinationArn || g.CreatedAt == nil || g.LastUpdatedAt == nil {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListAccessLogSubscriptions", func(t *testing.T) {
			l := need(c.ListAccessLogSubscriptions(ctx, &vpclattice.ListAccessLogSubscriptionsInput{ResourceIdentifier: w.svc.Arn})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.als.Id || *l.Items[0].ResourceArn != *w.svc.Arn || l.Items[0].CreatedAt == nil {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"UpdateAccessLogSubscription", func(t *testing.T) {
			// Lattice keeps the destination's type (logs, s3, firehose) on update.
			dest := "arn:aws:logs:" + s.Region + ":" + s.Account + ":log-group:orders-v2"
			u := need(c.UpdateAccessLogSubscription(ctx, &vpclattice.UpdateAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: w.als.Id,
				DestinationArn: aws.String(dest)})).ok(t)
			if *u.Id != *w.als.Id || *u.DestinationArn != dest || *u.ResourceId != *w.svc.Id {
				t.Fatalf("update: %+v", u)
			}
			if g := need(c.GetAccessLogSubscription(ctx, &vpclattice.GetAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: w.als.Id})).ok(t); *g.DestinationArn != dest {
				t.Fatalf("get after update: %+v", g)
			}
		}},
		{"GetResourceGateway", func(t *testing.T) {
			g := need(c.GetResourceGateway(ctx, &vpclattice.GetResourceGatewayInput{ResourceGatewayIdentifier: w.gw.Arn})).ok(t)
			if *g.Id != *w.gw.Id || *g.Name != "gw-all" || *g.VpcId != rVpc || g.Status != types.ResourceGatewayStatusActive || g.CreatedAt == nil || g.LastUpdatedAt == nil {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListResourceGateways", func(t *testing.T) {
			l := need(c.ListResourceGateways(ctx, &vpclattice.ListResourceGatewaysInput{})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.gw.Id || *l.Items[0].VpcIdentifier != rVpc {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"UpdateResourceGateway", func(t *testing.T) {
			u := need(c.UpdateResourceGateway(ctx, &vpclattice.UpdateResourceGatewayInput{ResourceGatewayIdentifier: w.gw.Id, SecurityGroupIds: []string{}})).ok(t)
			if *u.Id != *w.gw.Id || len(u.SecurityGroupIds) != 0 || *u.VpcId != rVpc {
				t.Fatalf("update: %+v", u)
			}
			if g := need(c.GetResourceGateway(ctx, &vpclattice.GetResourceGatewayInput{ResourceGatewayIdentifier: w.gw.Id})).ok(t); len(g.SecurityGroupIds) != 0 {
				t.Fatalf("get after update: %+v", g)
			}
		}},
		{"GetResourceConfiguration", func(t *testing.T) {
			g := need(c.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: w.rc.Arn})).ok(t)
			ip, ok := g.ResourceConfigurationDefinition.(*types.ResourceConfigurationDefinitionMemberIpResource)
			if *g.Id != *w.rc.Id || *g.Name != "db-all" || !ok || *ip.Value.IpAddress != "10.0.0.5" || g.CreatedAt == nil || g.LastUpdatedAt == nil ||
				*g.ResourceGatewayId != *w.gw.Id {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListResourceConfigurations", func(t *testing.T) {
			l := need(c.ListResourceConfigurations(ctx, &vpclattice.ListResourceConfigurationsInput{ResourceGatewayIdentifier: w.gw.Id})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.rc.Id || l.Items[0].Type != types.ResourceConfigurationTypeSingle {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"UpdateResourceConfiguration", func(t *testing.T) {
			u := need(c.UpdateResourceConfiguration(ctx, &vpclattice.UpdateResourceConfigurationInput{ResourceConfigurationIdentifier: w.rc.Id,
				PortRanges: []string{"5432", "6000-6010"}, ResourceConfigurationDefinition: ipDef("10.0.0.6")})).ok(t)
			if *u.Id != *w.rc.Id || len(u.PortRanges) != 2 || u.PortRanges[1] != "6000-6010" {
				t.Fatalf("update: %+v", u)
			}
			g := need(c.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: w.rc.Id})).ok(t)
			if ip, ok := g.ResourceConfigurationDefinition.(*types.ResourceConfigurationDefinitionMemberIpResource); !ok || *ip.Value.IpAddress != "10.0.0.6" || len(g.PortRanges) != 2 {
				t.Fatalf("get after update: %+v", g)
			}
		}},
		{"GetServiceNetworkResourceAssociation", func(t *testing.T) {
			g := need(c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{
				ServiceNetworkResourceAssociationIdentifier: w.snra.Arn})).ok(t)
			if *g.Id != *w.snra.Id || *g.ServiceNetworkId != *w.sn.Id || *g.ServiceNetworkName != "net-all" || *g.ResourceConfigurationId != *w.rc.Id ||
				*g.ResourceConfigurationName != "db-all" || g.Status != types.ServiceNetworkResourceAssociationStatusActive || g.CreatedAt == nil {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"ListServiceNetworkResourceAssociations", func(t *testing.T) {
			l := need(c.ListServiceNetworkResourceAssociations(ctx, &vpclattice.ListServiceNetworkResourceAssociationsInput{
				ResourceConfigurationIdentifier: w.rc.Id, IncludeChildren: aws.Bool(false)})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.snra.Id || *l.Items[0].ServiceNetworkId != *w.sn.Id {
				t.Fatalf("list: %+v", l.Items)
			}
		}},
		{"ListResourceEndpointAssociations", func(t *testing.T) {
			// No VPC endpoints in Trellis: an empty, well-formed list.
			l := need(c.ListResourceEndpointAssociations(ctx, &vpclattice.ListResourceEndpointAssociationsInput{ResourceConfigurationIdentifier: w.rc.Arn})).ok(t)
			if len(l.Items) != 0 || l.NextToken != nil {
				t.Fatalf("list: %+v", l)
			}
		}},
		{"GetDomainVerification", func(t *testing.T) {
			g := need(c.GetDomainVerification(ctx, &vpclattice.GetDomainVerificationInput{DomainVerificationIdentifier: w.dv.Arn})).ok(t)
			if *g.Id != *w.dv.Id || *g.DomainName != "orders.example" || g.Status != types.VerificationStatusPending || g.CreatedAt == nil ||
				*g.TxtMethodConfig.Name != *w.dv.TxtMethodConfig.Name {
				t.Fatalf("get: %+v", g)
			}
			w.dns.set(*w.dv.TxtMethodConfig.Name, *w.dv.TxtMethodConfig.Value)
			g = need(c.GetDomainVerification(ctx, &vpclattice.GetDomainVerificationInput{DomainVerificationIdentifier: w.dv.Id})).ok(t)
			if g.Status != types.VerificationStatusVerified || g.LastVerifiedTime == nil {
				t.Fatalf("get after publishing the TXT record: %+v", g)
			}
		}},
		{"ListDomainVerifications", func(t *testing.T) {
			l := need(c.ListDomainVerifications(ctx, &vpclattice.ListDomainVerificationsInput{})).ok(t)
			if len(l.Items) != 1 || *l.Items[0].Id != *w.dv.Id || l.Items[0].Status != types.VerificationStatusVerified || *l.Items[0].DomainName != "orders.example" {
				t.Fatalf("list: %+v", l.Items)
			}
		}},

		// ---- tags ----
		{"TagResource", func(t *testing.T) {
			need(c.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: w.svc.Arn, Tags: map[string]string{"env": "prod", "tier": "web"}})).ok(t)
		}},
		{"ListTagsForResource", func(t *testing.T) {
			l := need(c.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: w.svc.Arn})).ok(t)
			if len(l.Tags) != 3 || l.Tags["team"] != "orders" || l.Tags["env"] != "prod" || l.Tags["tier"] != "web" {
				t.Fatalf("tags: %v", l.Tags)
			}
			if l := need(c.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: w.sn.Arn})).ok(t); l.Tags["team"] != "core" {
				t.Fatalf("network tags: %v", l.Tags)
			}
		}},
		{"UntagResource", func(t *testing.T) {
			need(c.UntagResource(ctx, &vpclattice.UntagResourceInput{ResourceArn: w.svc.Arn, TagKeys: []string{"env", "tier"}})).ok(t)
			if l := need(c.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: w.svc.Arn})).ok(t); len(l.Tags) != 1 || l.Tags["team"] != "orders" {
				t.Fatalf("tags after untag: %v", l.Tags)
			}
		}},

		// ---- policies ----
		{"PutAuthPolicy", func(t *testing.T) {
			p := need(c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Arn, Policy: aws.String(allowIt)})).ok(t)
			// The service's auth type is NONE now (UpdateService): the policy is kept but Inactive.
			if !sameJSON(t, *p.Policy, allowIt) || p.State != types.AuthPolicyStateInactive {
				t.Fatalf("put: %+v", p)
			}
		}},
		{"GetAuthPolicy", func(t *testing.T) {
			need(c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
			g := need(c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: w.svc.Id})).ok(t)
			if !sameJSON(t, *g.Policy, allowIt) || g.State != types.AuthPolicyStateActive || g.CreatedAt == nil || g.LastUpdatedAt == nil {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"PutResourcePolicy", func(t *testing.T) {
			need(c.PutResourcePolicy(ctx, &vpclattice.PutResourcePolicyInput{ResourceArn: w.sn.Arn, Policy: aws.String(allowIt)})).ok(t)
		}},
		{"GetResourcePolicy", func(t *testing.T) {
			g := need(c.GetResourcePolicy(ctx, &vpclattice.GetResourcePolicyInput{ResourceArn: w.sn.Arn})).ok(t)
			if !sameJSON(t, aws.ToString(g.Policy), allowIt) {
				t.Fatalf("get: %+v", g)
			}
		}},
		{"DeleteResourcePolicy", func(t *testing.T) {
			need(c.DeleteResourcePolicy(ctx, &vpclattice.DeleteResourcePolicyInput{ResourceArn: w.sn.Arn})).ok(t)
			// Lattice answers a resource without a policy with no policy
			// member, not a 404 (internal/api/policy.go).
			if g := need(c.GetResourcePolicy(ctx, &vpclattice.GetResourcePolicyInput{ResourceArn: w.sn.Arn})).ok(t); g.Policy != nil {
				t.Fatalf("get after delete: %q", *g.Policy)
			}
		}},
		{"DeleteAuthPolicy", func(t *testing.T) {
			need(c.DeleteAuthPolicy(ctx, &vpclattice.DeleteAuthPolicyInput{ResourceIdentifier: w.svc.Id})).ok(t)
			// As for resource policies: no policy member, the state still.
			g := need(c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: w.svc.Id})).ok(t)
			if g.Policy != nil || g.State != types.AuthPolicyStateActive || g.CreatedAt != nil {
				t.Fatalf("get after delete: %s", dump(g))
			}
		}},

		// ---- delete, in dependency order ----
		{"DeleteResourceEndpointAssociation", func(t *testing.T) {
			// No VPC endpoints, so none to delete: the typed error round-trips.
			_, err := c.DeleteResourceEndpointAssociation(ctx, &vpclattice.DeleteResourceEndpointAssociationInput{
				ResourceEndpointAssociationIdentifier: aws.String("rea-0123456789abcdef0")})
			gone(t, err)
		}},
		{"DeleteServiceNetworkResourceAssociation", func(t *testing.T) {
			d := need(c.DeleteServiceNetworkResourceAssociation(ctx, &vpclattice.DeleteServiceNetworkResourceAssociationInput{
				ServiceNetworkResourceAssociationIdentifier: w.snra.Arn})).ok(t)
			if *d.Id != *w.snra.Id || *d.Arn != *w.snra.Arn || d.Status != types.ServiceNetworkResourceAssociationStatusDeleteInProgress {
				t.Fatalf("delete: %+v", d)
			}
			_, err := c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{ServiceNetworkResourceAssociationIdentifier: w.snra.Id})
			gone(t, err)
		}},
		{"DeleteResourceConfiguration", func(t *testing.T) {
			need(c.DeleteResourceConfiguration(ctx, &vpclattice.DeleteResourceConfigurationInput{ResourceConfigurationIdentifier: w.rc.Arn})).ok(t)
			_, err := c.GetResourceConfiguration(ctx, &vpclattice.GetResourceConfigurationInput{ResourceConfigurationIdentifier: w.rc.Id})
			gone(t, err)
		}},
		{"DeleteResourceGateway", func(t *testing.T) {
			d := need(c.DeleteResourceGateway(ctx, &vpclattice.DeleteResourceGatewayInput{ResourceGatewayIdentifier: w.gw.Arn})).ok(t)
			if *d.Id != *w.gw.Id || *d.Arn != *w.gw.Arn || *d.Name != "gw-all" || d.Status != types.ResourceGatewayStatusDeleteInProgress {
				t.Fatalf("delete: %+v", d)
			}
			_, err := c.GetResourceGateway(ctx, &vpclattice.GetResourceGatewayInput{ResourceGatewayIdentifier: w.gw.Id})
			gone(t, err)
		}},
		{"DeleteDomainVerification", func(t *testing.T) {
			need(c.DeleteDomainVerification(ctx, &vpclattice.DeleteDomainVerificationInput{DomainVerificationIdentifier: w.dv.Arn})).ok(t)
			_, err := c.GetDomainVerification(ctx, &vpclattice.GetDomainVerificationInput{DomainVerificationIdentifier: w.dv.Id})
			gone(t, err)
		}},
		{"DeleteAccessLogSubscription", func(t *testing.T) {
			need(c.DeleteAccessLogSubscription(ctx, &vpclattice.DeleteAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: w.als.Arn})).ok(t)
			_, err := c.GetAccessLogSubscription(ctx, &vpclattice.GetAccessLogSubscriptionInput{AccessLogSubscriptionIdentifier: w.als.Id})
			gone(t, err)
		}},
		{"DeleteServiceNetworkVpcAssociation", func(t *testing.T) {
			d := need(c.DeleteServiceNetworkVpcAssociation(ctx, &vpclattice.DeleteServiceNetworkVpcAssociationInput{
				ServiceNetworkVpcAssociationIdentifier: w.snva.Arn})).ok(t)
			if *d.Id != *w.snva.Id || *d.Arn != *w.snva.Arn || d.Status != types.ServiceNetworkVpcAssociationStatusDeleteInProgress {
				t.Fatalf("delete: %+v", d)
			}
			_, err := c.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: w.snva.Id})
			gone(t, err)
		}},
		{"DeleteServiceNetworkServiceAssociation", func(t *testing.T) {
			d := need(c.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{
				ServiceNetworkServiceAssociationIdentifier: w.snsa.Arn})).ok(t)
			if *d.Id != *w.snsa.Id || *d.Arn != *w.snsa.Arn || d.Status != types.ServiceNetworkServiceAssociationStatusDeleteInProgress {
				t.Fatalf("delete: %+v", d)
			}
			_, err := c.GetServiceNetworkServiceAssociation(ctx, &vpclattice.GetServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: w.snsa.Id})
			gone(t, err)
		}},
		{"DeleteRule", func(t *testing.T) {
			need(c.DeleteRule(ctx, &vpclattice.DeleteRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id, RuleIdentifier: w.rule.Arn})).ok(t)
			_, err := c.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id, RuleIdentifier: w.rule.Id})
			gone(t, err)
		}},
		{"DeleteListener", func(t *testing.T) {
			need(c.DeleteListener(ctx, &vpclattice.DeleteListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Arn})).ok(t)
			_, err := c.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: w.l.Id})
			gone(t, err)
		}},
		{"DeleteService", func(t *testing.T) {
			d := need(c.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: w.svc.Arn})).ok(t)
			if *d.Id != *w.svc.Id || *d.Arn != *w.svc.Arn || *d.Name != "orders" || d.Status != types.ServiceStatusDeleteInProgress {
				t.Fatalf("delete: %+v", d)
			}
			_, err := c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Id})
			gone(t, err)
		}},
		{"DeleteTargetGroup", func(t *testing.T) {
			for _, tg := range []*vpclattice.CreateTargetGroupOutput{w.tg, w.tg2} {
				d := need(c.DeleteTargetGroup(ctx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: tg.Arn})).ok(t)
				if *d.Id != *tg.Id || *d.Arn != *tg.Arn || d.Status != types.TargetGroupStatusDeleteInProgress {
					t.Fatalf("delete: %+v", d)
				}
				_, err := c.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: tg.Id})
				gone(t, err)
			}
		}},
		{"DeleteServiceNetwork", func(t *testing.T) {
			need(c.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Arn})).ok(t)
			_, err := c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id})
			gone(t, err)
			if l := need(c.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})).ok(t); len(l.Items) != 0 {
				t.Fatalf("left: %+v", l.Items)
			}
		}},
	}
}

// sameJSON compares two policy documents as JSON values (a server may
// re-encode what it stores).
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("policy %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}

// dump shows an SDK value with its pointers followed, for failure messages.
func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Regression (found by the round-trip tests): ListServiceNetworks answered
// numberOfAssociatedResourceConfigurations as 0 whatever the network's
// resource-configuration associations.
func TestListServiceNetworksCountsResourceConfigurations(t *testing.T) {
	t.Parallel()
	_, c := resourceWorld(t, apptest.Options{})
	g := newGateway(t, c, "gw-count")
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net-count")})).ok(t)
	count := func() int64 {
		t.Helper()
		l := need(c.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})).ok(t)
		if len(l.Items) != 1 {
			t.Fatalf("list: %s", dump(l.Items))
		}
		return *l.Items[0].NumberOfAssociatedResourceConfigurations
	}
	var snras []*string
	for _, name := range []string{"db-one", "db-two"} {
		rc := need(c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String(name),
			Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: g.Id, PortRanges: []string{"5432"},
			ResourceConfigurationDefinition: ipDef("10.0.0.5")})).ok(t)
		a := need(c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
			ServiceNetworkIdentifier: sn.Id, ResourceConfigurationIdentifier: rc.Id})).ok(t)
		snras = append(snras, a.Id)
	}
	if n := count(); n != 2 {
		t.Fatalf("numberOfAssociatedResourceConfigurations %d, want 2", n)
	}
	need(c.DeleteServiceNetworkResourceAssociation(ctx, &vpclattice.DeleteServiceNetworkResourceAssociationInput{
		ServiceNetworkResourceAssociationIdentifier: snras[0]})).ok(t)
	if n := count(); n != 1 {
		t.Fatalf("after a delete: numberOfAssociatedResourceConfigurations %d, want 1", n)
	}
}
