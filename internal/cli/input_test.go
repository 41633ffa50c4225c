package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/google/go-cmp/cmp"
)

// sdkCmp compares SDK values including their unexported (empty) marker
// fields.
var sdkCmp = cmp.Exporter(func(reflect.Type) bool { return true })

func TestParseWeightedTargetGroups(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []types.WeightedTargetGroup
		wantErr string
	}{
		{
			name: "two weighted",
			in:   []string{"tg-aaa=90,tg-bbb=10"},
			want: []types.WeightedTargetGroup{
				{TargetGroupIdentifier: ptr("tg-aaa"), Weight: ptr(int32(90))},
				{TargetGroupIdentifier: ptr("tg-bbb"), Weight: ptr(int32(10))},
			},
		},
		{
			name: "no weight",
			in:   []string{"tg-aaa"},
			want: []types.WeightedTargetGroup{{TargetGroupIdentifier: ptr("tg-aaa")}},
		},
		{
			name: "repeated flag and spaces",
			in:   []string{"tg-aaa=1, tg-bbb = 2", "arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup/tg-ccc=0"},
			want: []types.WeightedTargetGroup{
				{TargetGroupIdentifier: ptr("tg-aaa"), Weight: ptr(int32(1))},
				{TargetGroupIdentifier: ptr("tg-bbb"), Weight: ptr(int32(2))},
				{TargetGroupIdentifier: ptr("arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup/tg-ccc"), Weight: ptr(int32(0))},
			},
		},
		{name: "bad weight", in: []string{"tg-aaa=x"}, wantErr: "invalid weight"},
		{name: "missing id", in: []string{"=10"}, wantErr: "invalid target group"},
		{name: "empty", in: []string{""}, wantErr: "no target groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWeightedTargetGroups(tt.in)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got, sdkCmp); tt.wantErr == "" && diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHeaderMatch(t *testing.T) {
	tests := []struct {
		in      string
		want    types.HeaderMatch
		wantErr string
	}{
		{in: "x-env=exact:blue", want: types.HeaderMatch{Name: ptr("x-env"), Match: &types.HeaderMatchTypeMemberExact{Value: "blue"}}},
		{in: "x-env=prefix:bl", want: types.HeaderMatch{Name: ptr("x-env"), Match: &types.HeaderMatchTypeMemberPrefix{Value: "bl"}}},
		{in: "user-agent=contains:curl", want: types.HeaderMatch{Name: ptr("user-agent"), Match: &types.HeaderMatchTypeMemberContains{Value: "curl"}}},
		{in: "x-env=blue", want: types.HeaderMatch{Name: ptr("x-env"), Match: &types.HeaderMatchTypeMemberExact{Value: "blue"}}},
		{in: "x-time=exact:12:30", want: types.HeaderMatch{Name: ptr("x-time"), Match: &types.HeaderMatchTypeMemberExact{Value: "12:30"}}},
		{in: "x-time=12:30", want: types.HeaderMatch{Name: ptr("x-time"), Match: &types.HeaderMatchTypeMemberExact{Value: "12:30"}}},
		{in: "x-empty=", want: types.HeaderMatch{Name: ptr("x-empty"), Match: &types.HeaderMatchTypeMemberExact{Value: ""}}},
		{in: "novalue", wantErr: "invalid header match"},
		{in: "=exact:x", wantErr: "invalid header match"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseHeaderMatch(tt.in)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got, sdkCmp); tt.wantErr == "" && diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	lambda := "arn:aws:lambda:us-east-1:111122223333:function:fn:3"
	tests := []struct {
		in      string
		want    types.Target
		wantErr string
	}{
		{in: "127.0.0.1:8080", want: types.Target{Id: ptr("127.0.0.1"), Port: ptr(int32(8080))}},
		{in: "127.0.0.2", want: types.Target{Id: ptr("127.0.0.2")}},
		{in: "i-0123456789abcdef0:80", want: types.Target{Id: ptr("i-0123456789abcdef0"), Port: ptr(int32(80))}},
		{in: "[2001:db8::1]:443", want: types.Target{Id: ptr("2001:db8::1"), Port: ptr(int32(443))}},
		{in: "[2001:db8::1]", want: types.Target{Id: ptr("2001:db8::1")}},
		{in: "2001:db8::1", want: types.Target{Id: ptr("2001:db8::1")}},
		{in: lambda, want: types.Target{Id: ptr(lambda)}},
		{in: "id=" + lambda + ",port=80", want: types.Target{Id: ptr(lambda), Port: ptr(int32(80))}},
		{in: "10.0.0.1:http", wantErr: "invalid port"},
		{in: ":80", wantErr: "invalid target"},
		{in: "", wantErr: "invalid target"},
		{in: "id=x,color=red", wantErr: "invalid target"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTarget(tt.in)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got, sdkCmp); tt.wantErr == "" && diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTags(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		base    map[string]string
		want    map[string]string
		wantErr string
	}{
		{name: "simple", in: []string{"team=orders", "env=prod"}, want: map[string]string{"team": "orders", "env": "prod"}},
		{name: "value with equals and comma", in: []string{"expr=a=b,c"}, want: map[string]string{"expr": "a=b,c"}},
		{name: "empty value", in: []string{"flag"}, want: map[string]string{"flag": ""}},
		{name: "merge over base", in: []string{"env=dev"}, base: map[string]string{"env": "prod", "team": "x"}, want: map[string]string{"env": "dev", "team": "x"}},
		{name: "empty key", in: []string{"=v"}, wantErr: "invalid tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTags(tt.in, tt.base)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); tt.wantErr == "" && diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStatusCode(t *testing.T) {
	for in, want := range map[string]int32{"404": 404, " 200 ": 200, "503": 503} {
		got, err := parseStatusCode(in)
		if err != nil || got != want {
			t.Errorf("parseStatusCode(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "99", "600"} {
		if _, err := parseStatusCode(in); err == nil {
			t.Errorf("parseStatusCode(%q): want error", in)
		}
	}
}

func TestDecodeWireJSON(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		dst     any
		want    any
		wantErr string
	}{
		{
			name: "create rule",
			json: `{"serviceIdentifier":"svc-1","listenerIdentifier":"listener-1","name":"r1","priority":10,` +
				`"match":{"httpMatch":{"method":"GET","pathMatch":{"match":{"prefix":"/api"},"caseSensitive":true},` +
				`"headerMatches":[{"name":"x-env","match":{"exact":"blue"}},{"name":"ua","match":{"contains":"curl"},"caseSensitive":false}]}},` +
				`"action":{"forward":{"targetGroups":[{"targetGroupIdentifier":"tg-1","weight":90},{"targetGroupIdentifier":"tg-2","weight":10}]}},` +
				`"tags":{"k":"v"}}`,
			dst: &vpclattice.CreateRuleInput{},
			want: &vpclattice.CreateRuleInput{
				ServiceIdentifier:  ptr("svc-1"),
				ListenerIdentifier: ptr("listener-1"),
				Name:               ptr("r1"),
				Priority:           ptr(int32(10)),
				Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
					Method:    ptr("GET"),
					PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/api"}, CaseSensitive: ptr(true)},
					HeaderMatches: []types.HeaderMatch{
						{Name: ptr("x-env"), Match: &types.HeaderMatchTypeMemberExact{Value: "blue"}},
						{Name: ptr("ua"), Match: &types.HeaderMatchTypeMemberContains{Value: "curl"}, CaseSensitive: ptr(false)},
					},
				}},
				Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
					{TargetGroupIdentifier: ptr("tg-1"), Weight: ptr(int32(90))},
					{TargetGroupIdentifier: ptr("tg-2"), Weight: ptr(int32(10))},
				}}},
				Tags: map[string]string{"k": "v"},
			},
		},
		{
			name: "fixed response listener",
			json: `{"name":"web","protocol":"HTTP","port":80,"defaultAction":{"fixedResponse":{"statusCode":404}}}`,
			dst:  &vpclattice.CreateListenerInput{},
			want: &vpclattice.CreateListenerInput{
				Name: ptr("web"), Protocol: types.ListenerProtocolHttp, Port: ptr(int32(80)),
				DefaultAction: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: ptr(int32(404))}},
			},
		},
		{
			name: "target group config with matcher",
			json: `{"name":"web","type":"IP","config":{"port":8080,"protocol":"HTTP","protocolVersion":"HTTP1","vpcIdentifier":"vpc-1","ipAddressType":"IPV4",` +
				`"healthCheck":{"enabled":true,"path":"/healthz","healthCheckIntervalSeconds":10,"healthyThresholdCount":2,"matcher":{"httpCode":"200-299"}}}}`,
			dst: &vpclattice.CreateTargetGroupInput{},
			want: &vpclattice.CreateTargetGroupInput{
				Name: ptr("web"), Type: types.TargetGroupTypeIp,
				Config: &types.TargetGroupConfig{
					Port: ptr(int32(8080)), Protocol: types.TargetGroupProtocolHttp, ProtocolVersion: types.TargetGroupProtocolVersionHttp1,
					VpcIdentifier: ptr("vpc-1"), IpAddressType: types.IpAddressTypeIpv4,
					HealthCheck: &types.HealthCheckConfig{
						Enabled: ptr(true), Path: ptr("/healthz"), HealthCheckIntervalSeconds: ptr(int32(10)),
						HealthyThresholdCount: ptr(int32(2)), Matcher: &types.MatcherMemberHttpCode{Value: "200-299"},
					},
				},
			},
		},
		{
			name: "batch update rules",
			json: `{"rules":[{"ruleIdentifier":"rule-1","priority":5,"action":{"fixedResponse":{"statusCode":503}}}]}`,
			dst:  &vpclattice.BatchUpdateRuleInput{},
			want: &vpclattice.BatchUpdateRuleInput{Rules: []types.RuleUpdate{{
				RuleIdentifier: ptr("rule-1"), Priority: ptr(int32(5)),
				Action: &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: ptr(int32(503))}},
			}}},
		},
		{
			name: "nulls are ignored",
			json: `{"targetGroupIdentifier":"tg-1","targets":null,"maxResults":null}`,
			dst:  &vpclattice.ListTargetsInput{},
			want: &vpclattice.ListTargetsInput{TargetGroupIdentifier: ptr("tg-1")},
		},
		{
			name: "dns options",
			json: `{"vpcIdentifier":"vpc-1","securityGroupIds":["sg-1","sg-2"],"dnsOptions":{"privateDnsPreference":"ALL_DOMAINS","privateDnsSpecifiedDomains":["a.example"]}}`,
			dst:  &vpclattice.CreateServiceNetworkVpcAssociationInput{},
			want: &vpclattice.CreateServiceNetworkVpcAssociationInput{
				VpcIdentifier: ptr("vpc-1"), SecurityGroupIds: []string{"sg-1", "sg-2"},
				DnsOptions: &types.DnsOptions{PrivateDnsPreference: types.PrivateDnsPreferenceAllDomains, PrivateDnsSpecifiedDomains: []string{"a.example"}},
			},
		},
		{name: "unknown member", json: `{"nmae":"x"}`, dst: &vpclattice.CreateRuleInput{}, wantErr: `input: unknown member "nmae"`},
		{name: "go field name is not wire", json: `{"Name":"x"}`, dst: &vpclattice.CreateRuleInput{}, wantErr: `unknown member "Name"`},
		{name: "union with two keys", json: `{"action":{"forward":{},"fixedResponse":{}}}`, dst: &vpclattice.CreateRuleInput{}, wantErr: "action: expected an object with exactly one of: fixedResponse, forward"},
		{name: "unknown union member", json: `{"action":{"redirect":{}}}`, dst: &vpclattice.CreateRuleInput{}, wantErr: `action: unknown member "redirect"`},
		{name: "wrong type", json: `{"priority":"10"}`, dst: &vpclattice.CreateRuleInput{}, wantErr: "priority: expected a number"},
		{name: "overflow", json: `{"priority":3000000000}`, dst: &vpclattice.CreateRuleInput{}, wantErr: "priority: expected an integer that fits in 32 bits"},
		{name: "fraction", json: `{"priority":1.5}`, dst: &vpclattice.CreateRuleInput{}, wantErr: "priority: expected an integer"},
		{name: "nested path in error", json: `{"action":{"forward":{"targetGroups":[{"weight":"x"}]}}}`, dst: &vpclattice.CreateRuleInput{}, wantErr: "action.forward.targetGroups[0].weight: expected a number"},
		{name: "not an object", json: `[1]`, dst: &vpclattice.CreateRuleInput{}, wantErr: "input: expected an object"},
		{name: "invalid json", json: `{"name":`, dst: &vpclattice.CreateRuleInput{}, wantErr: "invalid JSON"},
		{name: "trailing data", json: `{} {}`, dst: &vpclattice.CreateRuleInput{}, wantErr: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeWireJSON([]byte(tt.json), tt.dst)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			if diff := cmp.Diff(tt.want, tt.dst, sdkCmp); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWireRoundTrip checks that toWire and decodeWireJSON agree: decoding the
// wire form of a value built from wire JSON yields the same JSON again.
func TestWireRoundTrip(t *testing.T) {
	const in = `{
  "action": {
    "forward": {
      "targetGroups": [
        {
          "targetGroupIdentifier": "tg-1",
          "weight": 90
        }
      ]
    }
  },
  "match": {
    "httpMatch": {
      "headerMatches": [
        {
          "match": {
            "prefix": ""
          },
          "name": "x"
        }
      ],
      "pathMatch": {
        "match": {
          "exact": "/x"
        }
      }
    }
  },
  "name": "r1",
  "priority": 10
}
`
	var v vpclattice.CreateRuleInput
	if err := decodeWireJSON([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := writeJSON(&b, toWire(&v)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, b.String()); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestReadInputJSON(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/in.json"
	writeFile(t, path, `{"name":"from-file"}`)
	tests := []struct {
		value, stdin, want string
	}{
		{value: `{"name":"literal"}`, want: `{"name":"literal"}`},
		{value: "file://" + path, want: `{"name":"from-file"}`},
		{value: "file://-", stdin: `{"name":"stdin"}`, want: `{"name":"stdin"}`},
		{value: "-", stdin: `{"name":"stdin"}`, want: `{"name":"stdin"}`},
	}
	for _, tt := range tests {
		got, err := readInputJSON(tt.value, strings.NewReader(tt.stdin))
		if err != nil || string(got) != tt.want {
			t.Errorf("readInputJSON(%q) = %q, %v; want %q", tt.value, got, err, tt.want)
		}
	}
	if _, err := readInputJSON("file://"+dir+"/missing.json", nil); err == nil {
		t.Error("missing file: want error")
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("want error containing %q, got nil", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}
