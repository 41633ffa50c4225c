package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

// tgClock is a controllable clock.
type tgClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tgClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *tgClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	tgTestAccount = "111122223333"
	tgTestVpc     = "vpc-0123456789abcdef0"
	tgTestSvc     = "svc-0123456789abcdef0"
	tgTestRule    = "rule-0123456789abcdef0"
	tgTestLambda  = "arn:aws:lambda:us-east-1:111122223333:function:fn1"
	tgTestLambda2 = "arn:aws:lambda:us-east-1:111122223333:function:fn2"
)

func tgSetup(t *testing.T, quotas model.Quotas) (*Service, context.Context, *tgClock) {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &tgClock{t: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
	s := New(st, Config{DNSToken: "abc1234", Now: clk.Now, Quotas: quotas})
	ctx := WithCaller(context.Background(), model.Caller{Account: tgTestAccount, PrincipalARN: "arn:aws:iam::111122223333:root"})
	return s, ctx, clk
}

func tgKind(t *testing.T, err error, want model.ErrorKind) *model.Error {
	t.Helper()
	var e *model.Error
	if !errors.As(err, &e) || e.Kind != want {
		t.Fatalf("error = %v (%T), want kind %v", err, err, want)
	}
	return e
}

func tgFields(err error) []string {
	var e *model.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Name)
	}
	sort.Strings(out)
	return out
}

func tgIPConfig() *model.TargetGroupConfig {
	return &model.TargetGroupConfig{Protocol: model.ProtocolHTTP, VpcIdentifier: tgTestVpc}
}

func tgMustCreate(t *testing.T, s *Service, ctx context.Context, name, typ string, cfg *model.TargetGroupConfig) *model.TargetGroup {
	t.Helper()
	tg, err := s.CreateTargetGroup(ctx, CreateTargetGroupInput{Name: name, Type: typ, Config: cfg})
	if err != nil {
		t.Fatalf("CreateTargetGroup(%s): %v", name, err)
	}
	return tg
}

func tgUse(t *testing.T, s *Service, ctx context.Context, tgID string) {
	t.Helper()
	if err := s.update(ctx, func(tx store.Tx) error { return tx.Put(tgRefKey(tgID, tgTestSvc, tgTestRule), nil) }); err != nil {
		t.Fatal(err)
	}
}

func tgUnuse(t *testing.T, s *Service, ctx context.Context, tgID string) {
	t.Helper()
	if err := s.update(ctx, func(tx store.Tx) error { return tx.Delete(tgRefKey(tgID, tgTestSvc, tgTestRule)) }); err != nil {
		t.Fatal(err)
	}
}

func tgListAll(t *testing.T, s *Service, ctx context.Context, tgID string) map[string]TargetSummary {
	t.Helper()
	items, next, err := s.ListTargets(ctx, ListTargetsInput{Identifier: tgID})
	if err != nil {
		t.Fatal(err)
	}
	if next != "" {
		t.Fatalf("unexpected nextToken %q", next)
	}
	out := map[string]TargetSummary{}
	for _, it := range items {
		out[fmt.Sprintf("%s:%d", it.ID, it.Port)] = it
	}
	return out
}

func TestCreateTargetGroupDefaults(t *testing.T) {
	hc := func(enabled bool) *model.HealthCheckConfig {
		return &model.HealthCheckConfig{Enabled: boolPtr(enabled), Protocol: model.ProtocolHTTP,
			ProtocolVersion: model.ProtocolVersionHTTP1, Path: "/",
			HealthCheckIntervalSeconds: intPtr(30), HealthCheckTimeoutSeconds: intPtr(5),
			HealthyThresholdCount: intPtr(5), UnhealthyThresholdCount: intPtr(2),
			Matcher: &model.Matcher{HTTPCode: new("200")}}
	}
	custom := hc(true)
	custom.HealthCheckIntervalSeconds = intPtr(10)
	custom.Path = "/healthz"
	custom.Port = intPtr(9000)
	tests := []struct {
		name string
		typ  string
		cfg  *model.TargetGroupConfig
		want *model.TargetGroupConfig
	}{
		{"ip-http", model.TargetGroupTypeIP, tgIPConfig(),
			&model.TargetGroupConfig{Port: intPtr(80), Protocol: "HTTP", ProtocolVersion: "HTTP1", IPAddressType: "IPV4",
				VpcIdentifier: tgTestVpc, HealthCheck: hc(true)}},
		{"ip-ipv6-custom-hc", model.TargetGroupTypeIP,
			&model.TargetGroupConfig{Protocol: "HTTPS", Port: intPtr(8443), IPAddressType: "IPV6", VpcIdentifier: "vpc-0123abcd",
				HealthCheck: &model.HealthCheckConfig{HealthCheckIntervalSeconds: intPtr(10), Path: "/healthz", Port: intPtr(9000)}},
			&model.TargetGroupConfig{Port: intPtr(8443), Protocol: "HTTPS", ProtocolVersion: "HTTP1", IPAddressType: "IPV6",
				VpcIdentifier: "vpc-0123abcd", HealthCheck: custom}},
		{"instance-https", model.TargetGroupTypeInstance,
			&model.TargetGroupConfig{Protocol: "HTTPS", VpcIdentifier: tgTestVpc},
			&model.TargetGroupConfig{Port: intPtr(443), Protocol: "HTTPS", ProtocolVersion: "HTTP1",
				VpcIdentifier: tgTestVpc, HealthCheck: hc(true)}},
		{"instance-grpc-hc-off", model.TargetGroupTypeInstance,
			&model.TargetGroupConfig{Protocol: "HTTPS", ProtocolVersion: "GRPC", VpcIdentifier: tgTestVpc},
			&model.TargetGroupConfig{Port: intPtr(443), Protocol: "HTTPS", ProtocolVersion: "GRPC",
				VpcIdentifier: tgTestVpc, HealthCheck: hc(false)}},
		{"ip-http2-hc-off", model.TargetGroupTypeIP,
			&model.TargetGroupConfig{Protocol: "HTTP", ProtocolVersion: "HTTP2", VpcIdentifier: tgTestVpc},
			&model.TargetGroupConfig{Port: intPtr(80), Protocol: "HTTP", ProtocolVersion: "HTTP2", IPAddressType: "IPV4",
				VpcIdentifier: tgTestVpc, HealthCheck: hc(false)}},
		{"ip-tcp-hc-off", model.TargetGroupTypeIP,
			&model.TargetGroupConfig{Protocol: "TCP", VpcIdentifier: tgTestVpc},
			&model.TargetGroupConfig{Port: intPtr(443), Protocol: "TCP", IPAddressType: "IPV4",
				VpcIdentifier: tgTestVpc, HealthCheck: hc(false)}},
		{"alb", model.TargetGroupTypeALB, tgIPConfig(),
			&model.TargetGroupConfig{Port: intPtr(80), Protocol: "HTTP", ProtocolVersion: "HTTP1", VpcIdentifier: tgTestVpc}},
		{"lambda-no-config", model.TargetGroupTypeLambda, nil,
			&model.TargetGroupConfig{LambdaEventStructureVersion: "V1"}},
		{"lambda-v2", model.TargetGroupTypeLambda, &model.TargetGroupConfig{LambdaEventStructureVersion: "V2"},
			&model.TargetGroupConfig{LambdaEventStructureVersion: "V2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ctx, _ := tgSetup(t, nil)
			tg := tgMustCreate(t, s, ctx, "web-"+tc.name, tc.typ, tc.cfg)
			if tg.Status != model.StatusActive || tg.Type != tc.typ || tg.Name != "web-"+tc.name {
				t.Errorf("created %+v", tg)
			}
			if got, want := tgJSON(t, tg.Config), tgJSON(t, tc.want); got != want {
				t.Errorf("create config\n got %s\nwant %s", got, want)
			}
			d, err := s.GetTargetGroup(ctx, tg.ARN) // by ARN
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tgJSON(t, d.Config), tgJSON(t, tc.want); got != want {
				t.Errorf("stored config\n got %s\nwant %s", got, want)
			}
			if d.ID != tg.ID || len(d.ServiceARNs) != 0 || !d.CreatedAt.Equal(tg.CreatedAt) {
				t.Errorf("get = %+v, serviceArns %v", d.TargetGroup, d.ServiceARNs)
			}
		})
	}
}

func tgJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCreateTargetGroupValidation(t *testing.T) {
	cfg := func(f func(c *model.TargetGroupConfig)) *model.TargetGroupConfig {
		c := tgIPConfig()
		f(c)
		return c
	}
	tests := []struct {
		name   string
		in     CreateTargetGroupInput
		fields []string
	}{
		{"missing name and type", CreateTargetGroupInput{}, []string{"name", "type"}},
		{"reserved prefix", CreateTargetGroupInput{Name: "tg-web", Type: "IP", Config: tgIPConfig()}, []string{"name"}},
		{"bad type", CreateTargetGroupInput{Name: "web", Type: "NLB"}, []string{"type"}},
		{"ip without config", CreateTargetGroupInput{Name: "web", Type: "IP"},
			[]string{"config.protocol", "config.vpcIdentifier"}},
		{"missing protocol", CreateTargetGroupInput{Name: "web", Type: "INSTANCE",
			Config: &model.TargetGroupConfig{VpcIdentifier: tgTestVpc}}, []string{"config.protocol"}},
		{"bad vpc id", CreateTargetGroupInput{Name: "web", Type: "IP",
			Config: cfg(func(c *model.TargetGroupConfig) { c.VpcIdentifier = "vpc-xyz" })}, []string{"config.vpcIdentifier"}},
		{"bad protocol and port", CreateTargetGroupInput{Name: "web", Type: "IP",
			Config: cfg(func(c *model.TargetGroupConfig) { c.Protocol = "UDP"; c.Port = intPtr(0) })},
			[]string{"config.port", "config.protocol"}},
		{"grpc on alb", CreateTargetGroupInput{Name: "web", Type: "ALB",
			Config: cfg(func(c *model.TargetGroupConfig) { c.ProtocolVersion = "GRPC" })}, []string{"config.protocolVersion"}},
		{"http2 on tcp", CreateTargetGroupInput{Name: "web", Type: "IP",
			Config: cfg(func(c *model.TargetGroupConfig) { c.Protocol = "TCP"; c.ProtocolVersion = "HTTP2" })},
			[]string{"config.protocolVersion"}},
		{"ipv6 on instance", CreateTargetGroupInput{Name: "web", Type: "INSTANCE",
			Config: cfg(func(c *model.TargetGroupConfig) { c.IPAddressType = "IPV6" })}, []string{"config.ipAddressType"}},
		{"lambda version on ip", CreateTargetGroupInput{Name: "web", Type: "IP",
			Config: cfg(func(c *model.TargetGroupConfig) { c.LambdaEventStructureVersion = "V2" })},
			[]string{"config.lambdaEventStructureVersion"}},
		{"health check on alb", CreateTargetGroupInput{Name: "web", Type: "ALB",
			Config: cfg(func(c *model.TargetGroupConfig) { c.HealthCheck = &model.HealthCheckConfig{} })},
			[]string{"config.healthCheck"}},
		{"health check on lambda", CreateTargetGroupInput{Name: "web", Type: "LAMBDA",
			Config: &model.TargetGroupConfig{HealthCheck: &model.HealthCheckConfig{}}}, []string{"config.healthCheck"}},
		{"tcp and vpc on lambda", CreateTargetGroupInput{Name: "web", Type: "LAMBDA",
			Config: &model.TargetGroupConfig{Protocol: "TCP", VpcIdentifier: tgTestVpc, LambdaEventStructureVersion: "V3"}},
			[]string{"config.lambdaEventStructureVersion", "config.protocol", "config.vpcIdentifier"}},
		{"interval out of range", CreateTargetGroupInput{Name: "web", Type: "IP",
			Config: cfg(func(c *model.TargetGroupConfig) {
				c.HealthCheck = &model.HealthCheckConfig{HealthCheckIntervalSeconds: intPtr(301), UnhealthyThresholdCount: intPtr(1)}
			})},
			[]string{"config.healthCheck.healthCheckIntervalSeconds", "config.healthCheck.unhealthyThresholdCount"}},
		{"bad client token", CreateTargetGroupInput{Name: "web", Type: "LAMBDA", ClientToken: new("")}, []string{"clientToken"}},
	}
	s, ctx, _ := tgSetup(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateTargetGroup(ctx, tc.in)
			tgKind(t, err, model.KindValidation)
			if got := tgFields(err); !slices.Equal(got, tc.fields) {
				t.Errorf("fields = %v, want %v (%v)", got, tc.fields, err)
			}
		})
	}
	if items, _, err := s.ListTargetGroups(ctx, ListTargetGroupsInput{}); err != nil || len(items) != 0 {
		t.Errorf("after failed creates: %d groups, %v", len(items), err)
	}
}

func TestCreateTargetGroupConflictQuotaIdempotency(t *testing.T) {
	t.Run("name conflict", func(t *testing.T) {
		s, ctx, _ := tgSetup(t, nil)
		tgMustCreate(t, s, ctx, "web", "IP", tgIPConfig())
		_, err := s.CreateTargetGroup(ctx, CreateTargetGroupInput{Name: "web", Type: "LAMBDA"})
		tgKind(t, err, model.KindConflict)
		// Another account may use the name.
		other := WithCaller(context.Background(), model.Caller{Account: "444455556666"})
		if _, err := s.CreateTargetGroup(other, CreateTargetGroupInput{Name: "web", Type: "LAMBDA"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("quota", func(t *testing.T) {
		s, ctx, _ := tgSetup(t, model.Quotas{"target-groups": 1})
		tg := tgMustCreate(t, s, ctx, "one", "LAMBDA", nil)
		_, err := s.CreateTargetGroup(ctx, CreateTargetGroupInput{Name: "two", Type: "LAMBDA"})
		e := tgKind(t, err, model.KindQuota)
		if e.QuotaCode != model.QuotaTargetGroups.Code {
			t.Errorf("quota code %q", e.QuotaCode)
		}
		if _, err := s.DeleteTargetGroup(ctx, tg.ID); err != nil {
			t.Fatal(err)
		}
		tgMustCreate(t, s, ctx, "two", "LAMBDA", nil)
	})
	t.Run("client token", func(t *testing.T) {
		s, ctx, clk := tgSetup(t, nil)
		in := CreateTargetGroupInput{Name: "web", Type: "IP", Config: tgIPConfig(), ClientToken: new("tok-1")}
		a, err := s.CreateTargetGroup(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		b, err := s.CreateTargetGroup(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != b.ID || !a.CreatedAt.Equal(b.CreatedAt) || tgJSON(t, a.Config) != tgJSON(t, b.Config) {
			t.Errorf("retry returned %+v, want %+v", b, a)
		}
		diff := in
		diff.Config = &model.TargetGroupConfig{Protocol: "HTTPS", VpcIdentifier: tgTestVpc}
		_, err = s.CreateTargetGroup(ctx, diff)
		if e := tgKind(t, err, model.KindConflict); e.ResourceType != model.TypeClientToken {
			t.Errorf("resourceType %q", e.ResourceType)
		}
		// A new token with the same name is a name conflict.
		diff.ClientToken = new("tok-2")
		_, err = s.CreateTargetGroup(ctx, diff)
		tgKind(t, err, model.KindConflict)
		items, _, err := s.ListTargetGroups(ctx, ListTargetGroupsInput{})
		if err != nil || len(items) != 1 {
			t.Errorf("list: %d items, %v", len(items), err)
		}
	})
}

func TestListTargetGroupsFilters(t *testing.T) {
	s, ctx, _ := tgSetup(t, nil)
	other := "vpc-0123456789abcdef1"
	a := tgMustCreate(t, s, ctx, "aaa", "IP", tgIPConfig())
	b := tgMustCreate(t, s, ctx, "bbb", "INSTANCE", tgIPConfig())
	c := tgMustCreate(t, s, ctx, "ccc", "IP", &model.TargetGroupConfig{Protocol: "HTTP", VpcIdentifier: other})
	d := tgMustCreate(t, s, ctx, "ddd", "LAMBDA", nil)
	tgUse(t, s, ctx, a.ID)
	tests := []struct {
		name string
		in   ListTargetGroupsInput
		want []string
	}{
		{"all", ListTargetGroupsInput{}, []string{a.ID, b.ID, c.ID, d.ID}},
		{"vpc", ListTargetGroupsInput{VpcIdentifier: tgTestVpc}, []string{a.ID, b.ID}},
		{"type", ListTargetGroupsInput{TargetGroupType: "IP"}, []string{a.ID, c.ID}},
		{"both", ListTargetGroupsInput{VpcIdentifier: other, TargetGroupType: "IP"}, []string{c.ID}},
		{"lambda", ListTargetGroupsInput{TargetGroupType: "LAMBDA"}, []string{d.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			p := tc.in
			p.MaxResults = 1
			for {
				items, next, err := s.ListTargetGroups(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					got = append(got, it.ID)
					wantArns := 0
					if it.ID == a.ID {
						wantArns = 1
					}
					if len(it.ServiceARNs) != wantArns {
						t.Errorf("%s serviceArns %v", it.ID, it.ServiceARNs)
					}
				}
				if next == "" {
					break
				}
				p.NextToken = next
			}
			sort.Strings(got)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	// An invalid identifier is reported alone, before the other members.
	_, _, err := s.ListTargetGroups(ctx, ListTargetGroupsInput{VpcIdentifier: "vpc-nope", TargetGroupType: "NLB"})
	if got := tgFields(err); !slices.Equal(got, []string{"vpcIdentifier"}) {
		t.Errorf("fields %v (%v)", got, err)
	}
	_, _, err = s.ListTargetGroups(ctx, ListTargetGroupsInput{TargetGroupType: "NLB"})
	if got := tgFields(err); !slices.Equal(got, []string{"targetGroupType"}) {
		t.Errorf("fields %v (%v)", got, err)
	}
	g, err := s.GetTargetGroup(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:vpc-lattice:us-east-1:111122223333:service/" + tgTestSvc; !slices.Equal(g.ServiceARNs, []string{want}) {
		t.Errorf("serviceArns %v, want [%s]", g.ServiceARNs, want)
	}
}

func TestUpdateTargetGroupHealthCheck(t *testing.T) {
	s, ctx, clk := tgSetup(t, nil)
	cfg := tgIPConfig()
	cfg.HealthCheck = &model.HealthCheckConfig{HealthCheckIntervalSeconds: intPtr(10), HealthyThresholdCount: intPtr(3),
		Path: "/healthz", Port: intPtr(9000), Matcher: &model.Matcher{HTTPCode: new("200-299")}}
	tg := tgMustCreate(t, s, ctx, "web", "IP", cfg)
	clk.Advance(time.Minute)

	up, err := s.UpdateTargetGroup(ctx, UpdateTargetGroupInput{Identifier: tg.ID, HealthCheck: &model.HealthCheckConfig{
		HealthCheckIntervalSeconds: intPtr(0), // reset to 30
		UnhealthyThresholdCount:    intPtr(4),
		Port:                       intPtr(0), // reset to the traffic port
		Enabled:                    boolPtr(false),
	}})
	if err != nil {
		t.Fatal(err)
	}
	hc := up.Config.HealthCheck
	switch {
	case *hc.HealthCheckIntervalSeconds != 30, *hc.UnhealthyThresholdCount != 4, *hc.HealthyThresholdCount != 3,
		hc.Path != "/healthz", hc.Port != nil, *hc.Matcher.HTTPCode != "200-299", *hc.Enabled,
		*hc.HealthCheckTimeoutSeconds != 5:
		t.Errorf("merged health check %s", tgJSON(t, hc))
	}
	if !up.UpdatedAt.After(tg.UpdatedAt) || !up.CreatedAt.Equal(tg.CreatedAt) {
		t.Errorf("timestamps created %v updated %v", up.CreatedAt, up.UpdatedAt)
	}
	if *up.Config.Port != 80 || up.Config.Protocol != "HTTP" || up.Type != "IP" || up.Name != "web" {
		t.Errorf("update changed more than the health check: %s", tgJSON(t, up))
	}
	got, err := s.GetTargetGroup(ctx, tg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tgJSON(t, got.Config) != tgJSON(t, up.Config) {
		t.Errorf("stored %s, returned %s", tgJSON(t, got.Config), tgJSON(t, up.Config))
	}

	lambda := tgMustCreate(t, s, ctx, "fn1", "LAMBDA", nil)
	alb := tgMustCreate(t, s, ctx, "alb", "ALB", tgIPConfig())
	tests := []struct {
		name   string
		in     UpdateTargetGroupInput
		kind   model.ErrorKind
		fields []string
	}{
		{"missing health check", UpdateTargetGroupInput{Identifier: tg.ID}, model.KindValidation, []string{"healthCheck"}},
		{"bad timeout", UpdateTargetGroupInput{Identifier: tg.ID,
			HealthCheck: &model.HealthCheckConfig{HealthCheckTimeoutSeconds: intPtr(121)}},
			model.KindValidation, []string{"healthCheck.healthCheckTimeoutSeconds"}},
		{"lambda", UpdateTargetGroupInput{Identifier: lambda.ID, HealthCheck: &model.HealthCheckConfig{}},
			model.KindValidation, []string{"healthCheck"}},
		{"alb", UpdateTargetGroupInput{Identifier: alb.ARN, HealthCheck: &model.HealthCheckConfig{}},
			model.KindValidation, []string{"healthCheck"}},
		{"not found", UpdateTargetGroupInput{Identifier: "tg-00000000000000000", HealthCheck: &model.HealthCheckConfig{}},
			model.KindNotFound, nil},
		{"bad identifier", UpdateTargetGroupInput{Identifier: "svc-00000000000000000", HealthCheck: &model.HealthCheckConfig{}},
			model.KindValidation, []string{"targetGroupIdentifier"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateTargetGroup(ctx, tc.in)
			tgKind(t, err, tc.kind)
			if got := tgFields(err); !slices.Equal(got, tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

func TestRegisterTargetsPartialSuccess(t *testing.T) {
	s, ctx, _ := tgSetup(t, nil)
	cfg := tgIPConfig()
	cfg.Port = intPtr(8080)
	tg := tgMustCreate(t, s, ctx, "web", "IP", cfg)
	res, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{
		{ID: "10.0.0.1"},                     // port defaults to 8080
		{ID: "10.0.0.2", Port: intPtr(9090)}, // explicit port
		{ID: "i-0123456789abcdef0"},          // not an IP
		{ID: "10.0.0.3", Port: intPtr(70000)},
		{ID: "2001:db8::1"}, // IPv6 in an IPv4 group
		{ID: ""},
		{ID: "10.0.0.1"}, // again: no-op success
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOK := []TargetRef{{"10.0.0.1", 8080}, {"10.0.0.2", 9090}, {"10.0.0.1", 8080}}
	if !slices.Equal(res.Successful, wantOK) {
		t.Errorf("successful %+v, want %+v", res.Successful, wantOK)
	}
	type bad struct {
		id   string
		port int
	}
	var gotBad []bad
	for _, f := range res.Unsuccessful {
		if f.FailureCode != TargetFailureValidation || f.FailureMessage == "" || f.Port == nil {
			t.Errorf("failure %+v", f)
			continue
		}
		gotBad = append(gotBad, bad{f.ID, *f.Port})
	}
	wantBad := []bad{{"i-0123456789abcdef0", 8080}, {"10.0.0.3", 70000}, {"2001:db8::1", 8080}, {"", 8080}}
	if !slices.Equal(gotBad, wantBad) {
		t.Errorf("unsuccessful %+v, want %+v", gotBad, wantBad)
	}
	got := tgListAll(t, s, ctx, tg.ID)
	if len(got) != 2 || got["10.0.0.1:8080"].Status != model.TargetStatusUnused || got["10.0.0.2:9090"].Status != model.TargetStatusUnused {
		t.Errorf("targets %+v", got)
	}

	// Validation of the whole call.
	_, err = s.RegisterTargets(ctx, tg.ID, nil)
	if f := tgFields(err); !slices.Equal(f, []string{"targets"}) {
		t.Errorf("empty targets: %v", err)
	}
	_, err = s.RegisterTargets(ctx, tg.ID, make([]TargetInput, 101))
	if f := tgFields(err); !slices.Equal(f, []string{"targets"}) {
		t.Errorf("101 targets: %v", err)
	}
	_, err = s.RegisterTargets(ctx, "tg-00000000000000000", []TargetInput{{ID: "10.0.0.1"}})
	tgKind(t, err, model.KindNotFound)

	// Instance targets; an INSTANCE group with an HTTPS default port.
	inst := tgMustCreate(t, s, ctx, "inst", "INSTANCE", &model.TargetGroupConfig{Protocol: "HTTPS", VpcIdentifier: tgTestVpc})
	if _, _, err := s.PutInstance(ctx, PutInstanceInput{ID: "i-0123456789abcdef0", VpcID: tgTestVpc, PrivateIPAddress: "10.0.0.5"}); err != nil {
		t.Fatal(err)
	}
	res, err = s.RegisterTargets(ctx, inst.ARN, []TargetInput{{ID: "i-0123456789abcdef0"}, {ID: "10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Successful, []TargetRef{{"i-0123456789abcdef0", 443}}) || len(res.Unsuccessful) != 1 {
		t.Errorf("instance result %+v", res)
	}
}

func TestRegisterTargetsQuota(t *testing.T) {
	s, ctx, _ := tgSetup(t, model.Quotas{"targets-per-target-group": 2})
	tg := tgMustCreate(t, s, ctx, "web", "IP", tgIPConfig())
	if _, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.2"}, {ID: "10.0.0.3"}})
	e := tgKind(t, err, model.KindQuota)
	if e.QuotaCode != model.QuotaTargetsPerTargetGroup.Code || e.ResourceID != tg.ID {
		t.Errorf("quota error %+v", e)
	}
	if got := tgListAll(t, s, ctx, tg.ID); len(got) != 1 {
		t.Errorf("failed call registered targets: %+v", got)
	}
	// Re-registering existing targets and failures do not count.
	res, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}, {ID: "bad"}, {ID: "10.0.0.2"}})
	if err != nil || len(res.Successful) != 2 || len(res.Unsuccessful) != 1 {
		t.Errorf("res %+v, err %v", res, err)
	}
}

func TestLambdaAndALBSingleTarget(t *testing.T) {
	s, ctx, _ := tgSetup(t, nil)
	fn := tgMustCreate(t, s, ctx, "fn1", "LAMBDA", nil)
	res, err := s.RegisterTargets(ctx, fn.ID, []TargetInput{
		{ID: tgTestLambda},
		{ID: tgTestLambda}, // same target again: fine
		{ID: tgTestLambda2},
		{ID: tgTestLambda, Port: intPtr(80)}, // Lambda targets have no port
		{ID: "arn:aws:s3:::bucket"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Successful, []TargetRef{{tgTestLambda, 0}, {tgTestLambda, 0}}) {
		t.Errorf("successful %+v", res.Successful)
	}
	codes := map[string]string{}
	for _, f := range res.Unsuccessful {
		codes[f.ID] = f.FailureCode
		if f.ID == tgTestLambda2 && f.Port != nil {
			t.Errorf("lambda failure has a port: %+v", f)
		}
	}
	want := map[string]string{tgTestLambda2: TargetFailureConflict, tgTestLambda: TargetFailureValidation,
		"arn:aws:s3:::bucket": TargetFailureValidation}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("failure codes %v, want %v", codes, want)
	}
	// After deregistering the first function, the second one may take its place.
	if _, err := s.DeregisterTargets(ctx, fn.ID, []TargetInput{{ID: tgTestLambda}}); err != nil {
		t.Fatal(err)
	}
	res, err = s.RegisterTargets(ctx, fn.ID, []TargetInput{{ID: tgTestLambda2}})
	if err != nil || len(res.Successful) != 1 {
		t.Fatalf("res %+v, err %v", res, err)
	}
	// The draining first function cannot come back while the second is active.
	res, err = s.RegisterTargets(ctx, fn.ID, []TargetInput{{ID: tgTestLambda}})
	if err != nil || len(res.Unsuccessful) != 1 || res.Unsuccessful[0].FailureCode != TargetFailureConflict {
		t.Fatalf("res %+v, err %v", res, err)
	}
	got := tgListAll(t, s, ctx, fn.ID)
	if got[tgTestLambda+":0"].Status != model.TargetStatusDraining || got[tgTestLambda2+":0"].Status != model.TargetStatusUnused {
		t.Errorf("targets %+v", got)
	}

	alb := tgMustCreate(t, s, ctx, "alb", "ALB", tgIPConfig())
	var albARNs []string
	for _, name := range []string{"my-alb", "other"} {
		lb, _, err := s.PutLoadBalancer(ctx, PutLoadBalancerInput{Name: name, VpcID: tgTestVpc, Listeners: []model.LoadBalancerListenerInput{
			{Port: intPtr(80), Protocol: "HTTP", Addresses: []string{"10.0.0.9:8080"}}}})
		if err != nil {
			t.Fatal(err)
		}
		albARNs = append(albARNs, lb.ARN)
	}
	albARN := albARNs[0]
	res, err = s.RegisterTargets(ctx, alb.ID, []TargetInput{{ID: albARN}, {ID: albARNs[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Successful, []TargetRef{{albARN, 80}}) || len(res.Unsuccessful) != 1 ||
		res.Unsuccessful[0].FailureCode != TargetFailureConflict {
		t.Errorf("alb result %+v", res)
	}
	tgUse(t, s, ctx, alb.ID)
	if got := tgListAll(t, s, ctx, alb.ID); got[albARN+":80"].Status != model.TargetStatusUnavailable {
		t.Errorf("alb targets %+v", got)
	}
}

func TestDeregisterDrainAndReregister(t *testing.T) {
	s, ctx, clk := tgSetup(t, nil)
	tg := tgMustCreate(t, s, ctx, "web", "IP", tgIPConfig())
	tgUse(t, s, ctx, tg.ID)
	if _, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}, {ID: "10.0.0.2"}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.DeregisterTargets(ctx, tg.ID, []TargetInput{
		{ID: "10.0.0.1"},
		{ID: "10.0.0.9"},                   // unknown: successful no-op
		{ID: "10.0.0.2", Port: intPtr(81)}, // another port: unknown too
		{ID: "not-an-ip"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Successful, []TargetRef{{"10.0.0.1", 80}, {"10.0.0.9", 80}, {"10.0.0.2", 81}}) ||
		len(res.Unsuccessful) != 1 || res.Unsuccessful[0].ID != "not-an-ip" {
		t.Errorf("deregister result %+v", res)
	}
	// keyPresent reports whether the store still holds 10.0.0.1's key.
	keyPresent := func(t *testing.T) bool {
		var ok bool
		if err := s.view(ctx, func(tx store.ReadTx) error {
			var err error
			_, ok, err = tx.Get(targetKey(tg.ID, "10.0.0.1", 80))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	steps := []struct {
		name    string
		advance time.Duration
		action  func(t *testing.T)
		want    map[string]string
	}{
		{"draining", 0, nil, map[string]string{"10.0.0.1:80": "DRAINING", "10.0.0.2:80": "INITIAL"}},
		{"still draining", 59 * time.Second, nil, map[string]string{"10.0.0.1:80": "DRAINING", "10.0.0.2:80": "INITIAL"}},
		{"deregister again keeps drain start", 0, func(t *testing.T) {
			if _, err := s.DeregisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}}); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"10.0.0.1:80": "DRAINING", "10.0.0.2:80": "INITIAL"}},
		{"drained", time.Second, nil, map[string]string{"10.0.0.2:80": "INITIAL"}},
		{"drained key lingers until the next write", 0, func(t *testing.T) {
			if !keyPresent(t) {
				t.Fatal("drained key deleted by a read")
			}
			if _, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.3"}}); err != nil {
				t.Fatal(err)
			}
			if keyPresent(t) {
				t.Error("drained key survived a write to the group")
			}
		}, map[string]string{"10.0.0.2:80": "INITIAL", "10.0.0.3:80": "INITIAL"}},
		{"re-register while draining", 0, func(t *testing.T) {
			if _, err := s.DeregisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.2"}}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(30 * time.Second)
			res, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.2"}})
			if err != nil || len(res.Successful) != 1 {
				t.Fatalf("res %+v, err %v", res, err)
			}
		}, map[string]string{"10.0.0.2:80": "INITIAL", "10.0.0.3:80": "INITIAL"}},
		{"re-registered target does not drain", 10 * time.Minute, nil,
			map[string]string{"10.0.0.2:80": "INITIAL", "10.0.0.3:80": "INITIAL"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clk.Advance(st.advance)
			if st.action != nil {
				st.action(t)
			}
			got := map[string]string{}
			for k, v := range tgListAll(t, s, ctx, tg.ID) {
				got[k] = v.Status
			}
			if fmt.Sprint(got) != fmt.Sprint(st.want) {
				t.Errorf("statuses %v, want %v", got, st.want)
			}
		})
	}
	// Registering a drained target anew starts afresh.
	if _, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if got := tgListAll(t, s, ctx, tg.ID); got["10.0.0.1:80"].Status != "INITIAL" {
		t.Errorf("targets %+v", got)
	}
}

// tgHealth is a fake health checker.
type tgHealth map[string][2]string

func (h tgHealth) TargetStatus(tgID, id string, port int) (string, string, bool) {
	v, ok := h[fmt.Sprintf("%s/%s:%d", tgID, id, port)]
	return v[0], v[1], ok
}

func TestListTargetsStatus(t *testing.T) {
	s, ctx, _ := tgSetup(t, nil)
	web := tgMustCreate(t, s, ctx, "web", "IP", tgIPConfig())
	noHC := tgIPConfig()
	noHC.HealthCheck = &model.HealthCheckConfig{Enabled: boolPtr(false)}
	quiet := tgMustCreate(t, s, ctx, "quiet", "IP", noHC)
	tcp := tgMustCreate(t, s, ctx, "tcp", "IP", &model.TargetGroupConfig{Protocol: "TCP", VpcIdentifier: tgTestVpc})
	fn := tgMustCreate(t, s, ctx, "fn1", "LAMBDA", nil)
	for _, tg := range []*model.TargetGroup{web, quiet, tcp} {
		if _, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}, {ID: "10.0.0.2"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RegisterTargets(ctx, fn.ID, []TargetInput{{ID: tgTestLambda}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tg     *model.TargetGroup
		used   bool
		health TargetHealth
		want   map[string]string // id:port -> status/reason
	}{
		{"unused", web, false, nil, map[string]string{"10.0.0.1:80": "UNUSED/", "10.0.0.2:80": "UNUSED/"}},
		{"unused lambda", fn, false, nil, map[string]string{tgTestLambda + ":0": "UNUSED/"}},
		{"initial", web, true, nil, map[string]string{"10.0.0.1:80": "INITIAL/", "10.0.0.2:80": "INITIAL/"}},
		{"health checker", web, true, tgHealth{web.ID + "/10.0.0.1:80": {"UNHEALTHY", "HealthCheckFailed"}},
			map[string]string{"10.0.0.1:80": "UNHEALTHY/HealthCheckFailed", "10.0.0.2:80": "INITIAL/"}},
		{"checks disabled", quiet, true, tgHealth{quiet.ID + "/10.0.0.1:80": {"HEALTHY", ""}},
			map[string]string{"10.0.0.1:80": "UNAVAILABLE/", "10.0.0.2:80": "UNAVAILABLE/"}},
		{"tcp default disabled", tcp, true, nil, map[string]string{"10.0.0.1:443": "UNAVAILABLE/", "10.0.0.2:443": "UNAVAILABLE/"}},
		{"lambda", fn, true, nil, map[string]string{tgTestLambda + ":0": "UNAVAILABLE/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.used {
				tgUse(t, s, ctx, tc.tg.ID)
				defer tgUnuse(t, s, ctx, tc.tg.ID)
			}
			s.SetTargetHealth(tc.health)
			defer s.SetTargetHealth(nil)
			got := map[string]string{}
			for k, v := range tgListAll(t, s, ctx, tc.tg.ID) {
				got[k] = v.Status + "/" + v.ReasonCode
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Enabling checks through UpdateTargetGroup makes targets INITIAL.
	tgUse(t, s, ctx, quiet.ID)
	if _, err := s.UpdateTargetGroup(ctx, UpdateTargetGroupInput{Identifier: quiet.ID,
		HealthCheck: &model.HealthCheckConfig{Enabled: boolPtr(true)}}); err != nil {
		t.Fatal(err)
	}
	if got := tgListAll(t, s, ctx, quiet.ID); got["10.0.0.1:80"].Status != "INITIAL" {
		t.Errorf("after enabling checks: %+v", got)
	}
}

func TestListTargetsFilterAndPaging(t *testing.T) {
	s, ctx, _ := tgSetup(t, nil)
	tg := tgMustCreate(t, s, ctx, "web", "IP", tgIPConfig())
	in := []TargetInput{{ID: "10.0.0.1"}, {ID: "10.0.0.1", Port: intPtr(8080)}, {ID: "10.0.0.2"}, {ID: "10.0.0.3"}, {ID: "10.0.0.4"}}
	if _, err := s.RegisterTargets(ctx, tg.ID, in); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeregisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.4"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter []TargetInput
		want   []string
	}{
		{"all", nil, []string{"10.0.0.1:80", "10.0.0.1:8080", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"}},
		{"id any port", []TargetInput{{ID: "10.0.0.1"}}, []string{"10.0.0.1:80", "10.0.0.1:8080"}},
		{"id and port", []TargetInput{{ID: "10.0.0.1", Port: intPtr(8080)}, {ID: "10.0.0.3"}}, []string{"10.0.0.1:8080", "10.0.0.3:80"}},
		{"no match", []TargetInput{{ID: "10.0.0.2", Port: intPtr(81)}, {ID: "10.9.9.9"}}, nil},
		{"draining included", []TargetInput{{ID: "10.0.0.4"}}, []string{"10.0.0.4:80"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			p := Page{MaxResults: 2}
			pages := 0
			for {
				items, next, err := s.ListTargets(ctx, ListTargetsInput{Page: p, Identifier: tg.ARN, Targets: tc.filter})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(items) > 2 {
					t.Fatalf("page of %d items", len(items))
				}
				for _, it := range items {
					got = append(got, fmt.Sprintf("%s:%d", it.ID, it.Port))
				}
				if next == "" {
					break
				}
				p.NextToken = next
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if wantPages := max(1, (len(tc.want)+1)/2); pages != wantPages && pages != wantPages+1 {
				t.Errorf("%d pages for %d items", pages, len(tc.want))
			}
		})
	}
	_, _, err := s.ListTargets(ctx, ListTargetsInput{Identifier: tg.ID, Targets: make([]TargetInput, 21)})
	tgKind(t, err, model.KindValidation)
	_, _, err = s.ListTargets(ctx, ListTargetsInput{Identifier: tg.ID, Targets: []TargetInput{{}}})
	if f := tgFields(err); !slices.Equal(f, []string{"targets[0].id"}) {
		t.Errorf("fields %v", f)
	}
	_, _, err = s.ListTargets(ctx, ListTargetsInput{Identifier: tg.ID, Page: Page{NextToken: "bogus"}})
	tgKind(t, err, model.KindValidation)
	_, _, err = s.ListTargets(ctx, ListTargetsInput{Identifier: "tg-00000000000000000"})
	tgKind(t, err, model.KindNotFound)
}

func TestDeleteTargetGroup(t *testing.T) {
	s, ctx, _ := tgSetup(t, nil)
	tg := tgMustCreate(t, s, ctx, "web", "IP", tgIPConfig())
	if _, err := s.RegisterTargets(ctx, tg.ID, []TargetInput{{ID: "10.0.0.1"}, {ID: "10.0.0.2"}}); err != nil {
		t.Fatal(err)
	}
	tgUse(t, s, ctx, tg.ID)
	_, err := s.DeleteTargetGroup(ctx, tg.ID)
	if e := tgKind(t, err, model.KindConflict); e.ResourceID != tg.ID || e.ResourceType != model.TypeTargetGroup {
		t.Errorf("conflict %+v", e)
	}
	tgUnuse(t, s, ctx, tg.ID)

	other := WithCaller(context.Background(), model.Caller{Account: "444455556666"})
	_, err = s.DeleteTargetGroup(other, tg.ID)
	tgKind(t, err, model.KindNotFound)

	del, err := s.DeleteTargetGroup(ctx, tg.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if del.Status != model.StatusDeleteInProgress || del.ID != tg.ID || del.ARN != tg.ARN {
		t.Errorf("deleted %+v", del)
	}
	_, err = s.GetTargetGroup(ctx, tg.ID)
	tgKind(t, err, model.KindNotFound)
	_, err = s.DeleteTargetGroup(ctx, tg.ID)
	tgKind(t, err, model.KindNotFound)
	_, _, err = s.ListTargets(ctx, ListTargetsInput{Identifier: tg.ID})
	tgKind(t, err, model.KindNotFound)
	var left int
	if err := s.view(ctx, func(tx store.ReadTx) error {
		left, err = countPrefix(tx, pfxTarget+tg.ID+"/")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d target keys left", left)
	}
	// The name is free again.
	tgMustCreate(t, s, ctx, "web", "LAMBDA", nil)
}

func TestTargetGroupsNeedCaller(t *testing.T) {
	s, _, _ := tgSetup(t, nil)
	ctx := context.Background()
	_, err := s.CreateTargetGroup(ctx, CreateTargetGroupInput{Name: "web", Type: "LAMBDA"})
	tgKind(t, err, model.KindAccessDenied)
	_, _, err = s.ListTargets(ctx, ListTargetsInput{Identifier: "tg-00000000000000000"})
	tgKind(t, err, model.KindAccessDenied)
	_, err = s.RegisterTargets(ctx, "tg-00000000000000000", []TargetInput{{ID: "10.0.0.1"}})
	tgKind(t, err, model.KindAccessDenied)
}
