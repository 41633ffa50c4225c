package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var (
	t0 = time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)
	t1 = time.Date(2024, 5, 7, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600))
)

func metadata() middleware.Metadata {
	var m middleware.Metadata
	m.Set("requestID", "req-1")
	return m
}

// outputCases are SDK output structs built by hand, converted by toWire and
// compared with testdata/output/<name>.json and testdata/table/<name>.txt.
var outputCases = []struct {
	name    string
	v       any
	columns []column
}{
	{
		name: "get_rule",
		v: &vpclattice.GetRuleOutput{
			Arn: ptr("arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1/listener/listener-1/rule/rule-1"),
			Id:  ptr("rule-1"), Name: ptr("r1"), Priority: ptr(int32(10)), IsDefault: ptr(false),
			CreatedAt: &t0, LastUpdatedAt: &t1,
			Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
				Method:    ptr("GET"),
				PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/api"}, CaseSensitive: ptr(false)},
				HeaderMatches: []types.HeaderMatch{
					{Name: ptr("x-env"), Match: &types.HeaderMatchTypeMemberExact{Value: "blue"}},
					{Name: ptr("x-empty"), Match: &types.HeaderMatchTypeMemberPrefix{Value: ""}},
				},
			}},
			Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
				{TargetGroupIdentifier: ptr("tg-1"), Weight: ptr(int32(90))},
				{TargetGroupIdentifier: ptr("tg-2"), Weight: ptr(int32(10))},
			}}},
			ResultMetadata: metadata(),
		},
	},
	{
		name: "get_listener_fixed_response",
		v: &vpclattice.GetListenerOutput{
			Arn: ptr("arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1/listener/listener-1"),
			Id:  ptr("listener-1"), Name: ptr("web"), Port: ptr(int32(80)), Protocol: types.ListenerProtocolHttp,
			ServiceArn: ptr("arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1"), ServiceId: ptr("svc-1"),
			DefaultAction: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: ptr(int32(404))}},
			CreatedAt:     &t0,
		},
	},
	{
		name: "get_target_group",
		v: &vpclattice.GetTargetGroupOutput{
			Arn: ptr("arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup/tg-1"),
			Id:  ptr("tg-1"), Name: ptr("web"), Type: types.TargetGroupTypeIp, Status: types.TargetGroupStatusActive,
			ServiceArns: []string{"arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1"},
			Config: &types.TargetGroupConfig{
				Port: ptr(int32(8080)), Protocol: types.TargetGroupProtocolHttp, ProtocolVersion: types.TargetGroupProtocolVersionHttp1,
				IpAddressType: types.IpAddressTypeIpv4, VpcIdentifier: ptr("vpc-1"),
				HealthCheck: &types.HealthCheckConfig{
					Enabled: ptr(true), Path: ptr("/healthz"), HealthCheckIntervalSeconds: ptr(int32(10)),
					HealthCheckTimeoutSeconds: ptr(int32(5)), HealthyThresholdCount: ptr(int32(2)), UnhealthyThresholdCount: ptr(int32(3)),
					Matcher: &types.MatcherMemberHttpCode{Value: "200-299"}, Protocol: types.TargetGroupProtocolHttp,
					ProtocolVersion: types.HealthCheckProtocolVersionHttp1,
				},
			},
			CreatedAt: &t0,
		},
	},
	{
		name: "list_service_networks",
		v: &vpclattice.ListServiceNetworksOutput{
			Items: []types.ServiceNetworkSummary{
				{Id: ptr("sn-1"), Name: ptr("prod"), Arn: ptr("arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-1"),
					NumberOfAssociatedServices: ptr(int64(2)), NumberOfAssociatedVPCs: ptr(int64(1)), CreatedAt: &t0},
				{Id: ptr("sn-2"), Name: ptr("dev"), Arn: ptr("arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-2")},
			},
			NextToken: ptr("tok-2"),
		},
		columns: cols("ID", "id", "NAME", "name", "SERVICES", "numberOfAssociatedServices", "VPCS", "numberOfAssociatedVPCs", "ARN", "arn"),
	},
	{
		name: "list_services_empty",
		v:    &vpclattice.ListServicesOutput{Items: []types.ServiceSummary{}},
		columns: cols("ID", "id", "NAME", "name", "STATUS", "status", "DNS NAME", "dnsEntry.domainName",
			"CUSTOM DOMAIN", "customDomainName", "ARN", "arn"),
	},
	{
		name: "list_services",
		v: &vpclattice.ListServicesOutput{Items: []types.ServiceSummary{{
			Id: ptr("svc-1"), Name: ptr("orders"), Status: types.ServiceStatusActive,
			DnsEntry: &types.DnsEntry{DomainName: ptr("orders-svc-1.7d67968.vpc-lattice-svcs.us-east-1.on.aws"), HostedZoneId: ptr("Z1")},
			Arn:      ptr("arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1"),
		}}},
		columns: cols("ID", "id", "NAME", "name", "STATUS", "status", "DNS NAME", "dnsEntry.domainName",
			"CUSTOM DOMAIN", "customDomainName", "ARN", "arn"),
	},
	{
		name: "get_service_network_vpc_association",
		v: &vpclattice.GetServiceNetworkVpcAssociationOutput{
			Id: ptr("snva-1"), VpcId: ptr("vpc-1"), Status: types.ServiceNetworkVpcAssociationStatusActive,
			SecurityGroupIds: []string{"sg-1", "sg-2"}, PrivateDnsEnabled: ptr(true),
			DnsOptions:        &types.DnsOptions{PrivateDnsPreference: types.PrivateDnsPreferenceAllDomains},
			ServiceNetworkArn: ptr("arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-1"),
			ServiceNetworkId:  ptr("sn-1"), ServiceNetworkName: ptr("prod"), CreatedBy: ptr("111122223333"),
		},
	},
	{
		name: "register_targets",
		v: &vpclattice.RegisterTargetsOutput{
			Successful:   []types.Target{{Id: ptr("127.0.0.1"), Port: ptr(int32(8080))}},
			Unsuccessful: []types.TargetFailure{{Id: ptr("10.0.0.1"), Port: ptr(int32(80)), FailureCode: ptr("InvalidTarget"), FailureMessage: ptr("bad\ntarget")}},
		},
	},
	{
		name: "list_tags",
		v:    &vpclattice.ListTagsForResourceOutput{Tags: map[string]string{"team": "orders", "env": "prod"}},
	},
	{
		name: "get_auth_policy",
		v: &vpclattice.GetAuthPolicyOutput{
			Policy: ptr(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`),
			State:  types.AuthPolicyStateActive, CreatedAt: &t0,
		},
	},
	{
		// A service or network without an auth policy: Lattice answers
		// 200 with its state and no policy.
		name: "get_auth_policy_none",
		v:    &vpclattice.GetAuthPolicyOutput{State: types.AuthPolicyStateInactive},
	},
	{
		name: "batch_update_rule",
		v: &vpclattice.BatchUpdateRuleOutput{
			Successful: []types.RuleUpdateSuccess{{
				Id: ptr("rule-1"), Priority: ptr(int32(5)),
				Match:  &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberExact{Value: "/x"}}}},
				Action: &types.UnknownUnionMember{Tag: "redirect", Value: []byte(`{"url":"https://example.com"}`)},
			}},
			Unsuccessful: []types.RuleUpdateFailure{},
		},
	},
	{
		name: "delete_listener",
		v:    &vpclattice.DeleteListenerOutput{ResultMetadata: metadata()},
	},
}

func TestToWireGolden(t *testing.T) {
	for _, tc := range outputCases {
		t.Run(tc.name, func(t *testing.T) {
			var js bytes.Buffer
			if err := writeJSON(&js, toWire(tc.v)); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "output", tc.name+".json"), js.String())

			var tbl bytes.Buffer
			if err := writeTable(&tbl, toWire(tc.v), tc.columns); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "table", tc.name+".txt"), tbl.String())
		})
	}
}

func TestToWireNil(t *testing.T) {
	var js bytes.Buffer
	if err := writeJSON(&js, toWire(nil)); err != nil {
		t.Fatal(err)
	}
	if got := js.String(); got != "{}\n" {
		t.Errorf("toWire(nil) = %q, want {}", got)
	}
	var out *vpclattice.GetServiceOutput
	if got := toWire(out); !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("toWire(typed nil) = %#v, want empty object", got)
	}
}

// TestWireNamesCoverAllFields walks every input and output type the CLI uses
// and checks that each member has a spelling in wireMembers (taken from the
// SDK's serializers.go and deserializers.go), so that neither converter falls
// back to guessing a name.
func TestWireNamesCoverAllFields(t *testing.T) {
	roots := []any{
		vpclattice.CreateServiceNetworkInput{}, vpclattice.CreateServiceNetworkOutput{},
		vpclattice.GetServiceNetworkInput{}, vpclattice.GetServiceNetworkOutput{},
		vpclattice.ListServiceNetworksInput{}, vpclattice.ListServiceNetworksOutput{},
		vpclattice.UpdateServiceNetworkInput{}, vpclattice.UpdateServiceNetworkOutput{},
		vpclattice.DeleteServiceNetworkInput{}, vpclattice.DeleteServiceNetworkOutput{},
		vpclattice.CreateServiceInput{}, vpclattice.CreateServiceOutput{},
		vpclattice.GetServiceInput{}, vpclattice.GetServiceOutput{},
		vpclattice.ListServicesInput{}, vpclattice.ListServicesOutput{},
		vpclattice.UpdateServiceInput{}, vpclattice.UpdateServiceOutput{},
		vpclattice.DeleteServiceInput{}, vpclattice.DeleteServiceOutput{},
		vpclattice.CreateListenerInput{}, vpclattice.CreateListenerOutput{},
		vpclattice.GetListenerInput{}, vpclattice.GetListenerOutput{},
		vpclattice.ListListenersInput{}, vpclattice.ListListenersOutput{},
		vpclattice.UpdateListenerInput{}, vpclattice.UpdateListenerOutput{},
		vpclattice.DeleteListenerInput{}, vpclattice.DeleteListenerOutput{},
		vpclattice.CreateRuleInput{}, vpclattice.CreateRuleOutput{},
		vpclattice.GetRuleInput{}, vpclattice.GetRuleOutput{},
		vpclattice.ListRulesInput{}, vpclattice.ListRulesOutput{},
		vpclattice.UpdateRuleInput{}, vpclattice.UpdateRuleOutput{},
		vpclattice.DeleteRuleInput{}, vpclattice.DeleteRuleOutput{},
		vpclattice.BatchUpdateRuleInput{}, vpclattice.BatchUpdateRuleOutput{},
		vpclattice.CreateTargetGroupInput{}, vpclattice.CreateTargetGroupOutput{},
		vpclattice.GetTargetGroupInput{}, vpclattice.GetTargetGroupOutput{},
		vpclattice.ListTargetGroupsInput{}, vpclattice.ListTargetGroupsOutput{},
		vpclattice.UpdateTargetGroupInput{}, vpclattice.UpdateTargetGroupOutput{},
		vpclattice.DeleteTargetGroupInput{}, vpclattice.DeleteTargetGroupOutput{},
		vpclattice.RegisterTargetsInput{}, vpclattice.RegisterTargetsOutput{},
		vpclattice.DeregisterTargetsInput{}, vpclattice.DeregisterTargetsOutput{},
		vpclattice.ListTargetsInput{}, vpclattice.ListTargetsOutput{},
		vpclattice.CreateServiceNetworkServiceAssociationInput{}, vpclattice.CreateServiceNetworkServiceAssociationOutput{},
		vpclattice.GetServiceNetworkServiceAssociationInput{}, vpclattice.GetServiceNetworkServiceAssociationOutput{},
		vpclattice.ListServiceNetworkServiceAssociationsInput{}, vpclattice.ListServiceNetworkServiceAssociationsOutput{},
		vpclattice.DeleteServiceNetworkServiceAssociationInput{}, vpclattice.DeleteServiceNetworkServiceAssociationOutput{},
		vpclattice.CreateServiceNetworkVpcAssociationInput{}, vpclattice.CreateServiceNetworkVpcAssociationOutput{},
		vpclattice.GetServiceNetworkVpcAssociationInput{}, vpclattice.GetServiceNetworkVpcAssociationOutput{},
		vpclattice.ListServiceNetworkVpcAssociationsInput{}, vpclattice.ListServiceNetworkVpcAssociationsOutput{},
		vpclattice.UpdateServiceNetworkVpcAssociationInput{}, vpclattice.UpdateServiceNetworkVpcAssociationOutput{},
		vpclattice.DeleteServiceNetworkVpcAssociationInput{}, vpclattice.DeleteServiceNetworkVpcAssociationOutput{},
		vpclattice.PutAuthPolicyInput{}, vpclattice.PutAuthPolicyOutput{},
		vpclattice.GetAuthPolicyInput{}, vpclattice.GetAuthPolicyOutput{},
		vpclattice.DeleteAuthPolicyInput{}, vpclattice.DeleteAuthPolicyOutput{},
		vpclattice.PutResourcePolicyInput{}, vpclattice.PutResourcePolicyOutput{},
		vpclattice.GetResourcePolicyInput{}, vpclattice.GetResourcePolicyOutput{},
		vpclattice.DeleteResourcePolicyInput{}, vpclattice.DeleteResourcePolicyOutput{},
		vpclattice.CreateAccessLogSubscriptionInput{}, vpclattice.CreateAccessLogSubscriptionOutput{},
		vpclattice.GetAccessLogSubscriptionInput{}, vpclattice.GetAccessLogSubscriptionOutput{},
		vpclattice.ListAccessLogSubscriptionsInput{}, vpclattice.ListAccessLogSubscriptionsOutput{},
		vpclattice.UpdateAccessLogSubscriptionInput{}, vpclattice.UpdateAccessLogSubscriptionOutput{},
		vpclattice.DeleteAccessLogSubscriptionInput{}, vpclattice.DeleteAccessLogSubscriptionOutput{},
		vpclattice.TagResourceInput{}, vpclattice.TagResourceOutput{},
		vpclattice.ListTagsForResourceInput{}, vpclattice.ListTagsForResourceOutput{},
		vpclattice.UntagResourceInput{}, vpclattice.UntagResourceOutput{},
		types.ValidationExceptionField{},
	}
	// Union member structs reachable through interfaces.
	for m := range unionKeyByType {
		roots = append(roots, reflect.New(m.Elem()).Elem().Interface())
	}
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == timeType || seen[typ] {
			return
		}
		seen[typ] = true
		_, isUnion := unionKeyByType[reflect.PointerTo(typ)]
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if !f.IsExported() || f.Type == metadataType {
				continue
			}
			if !(isUnion && f.Name == "Value") && !isKnownWireName(f.Name) {
				t.Errorf("%s.%s (%s): no wire spelling in wireMembers", typ.Name(), f.Name, path)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	for _, r := range roots {
		walk(reflect.TypeOf(r), reflect.TypeOf(r).Name())
	}
	// Spot-check the spellings the task calls out.
	for goName, want := range map[string]string{
		"NumberOfAssociatedVPCs": "numberOfAssociatedVPCs", "ServiceArns": "serviceArns", "VpcId": "vpcId",
		"VpcIdentifier": "vpcIdentifier", "DnsEntry": "dnsEntry", "HttpMatch": "httpMatch", "HttpCode": "httpCode",
		"IpAddressType": "ipAddressType",
	} {
		if got := wireName(goName); got != want {
			t.Errorf("wireName(%q) = %q, want %q", goName, got, want)
		}
	}
}

func TestFlatten(t *testing.T) {
	got := flatten(map[string]any{
		"status": "ACTIVE", "arn": "a", "id": "i", "name": "n",
		"dnsEntry": map[string]any{"domainName": "d"},
		"list":     []any{"x", map[string]any{"k": int64(1)}},
		"empty":    []any{},
		"obj":      map[string]any{},
	}, "")
	want := [][2]string{
		{"id", "i"}, {"name", "n"}, {"arn", "a"}, {"status", "ACTIVE"},
		{"dnsEntry.domainName", "d"}, {"empty", "[]"}, {"list.0", "x"}, {"list.1.k", "1"}, {"obj", "{}"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flatten mismatch (-want +got):\n%s", diff)
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
