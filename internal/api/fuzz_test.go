package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
)

// FuzzMatch binds arbitrary escaped paths against the route table: it must
// never panic, a bound label is never empty, a path with an empty, "." or
// ".." segment names no operation, and the identifier check of a matched
// route answers only validation errors.
func FuzzMatch(f *testing.F) {
	s := &Server{}
	s.routes = s.table()
	for _, seed := range []string{
		"/services", "/services/svc-0123456789abcdef0",
		"/tags/arn%3Aaws%3Avpc-lattice%3Aus-east-1%3A000000000000%3Aservice%2Fsvc-0123456789abcdef0",
		"/services/svc-0123456789abcdef0/listeners/listener-0123456789abcdef0/rules",
		"/%zz", "//", "/services/%2F/listeners", "",
		"/services/../services", "/./services", "/services/", "/services/%2E%2E/listeners",
	} {
		f.Add("GET", seed)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		rt, params, _, err := s.match(method, path)
		if err != nil {
			if model.KindOf(err) != model.KindValidation {
				t.Fatalf("non-validation error %v", err)
			}
			return
		}
		if rt != nil && rt.method != method {
			t.Fatalf("route %s matched method %s", rt.op, method)
		}
		for k, v := range params {
			if v == "" {
				t.Fatalf("empty label %s", k)
			}
		}
		if rt == nil {
			return
		}
		for _, seg := range strings.Split(path[1:], "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("%q matched %s", path, rt.op)
			}
		}
		if err := checkIdentifiers(rt, params, nil, nil); err != nil && model.KindOf(err) != model.KindValidation {
			t.Fatalf("identifier check: non-validation error %v", err)
		}
	})
}

// FuzzDecodeRule decodes arbitrary bodies as CreateRule requests and runs
// the validators over them: errors are fine, panics are not, and anything
// accepted survives a JSON round trip unchanged.
func FuzzDecodeRule(f *testing.F) {
	f.Add([]byte(`{"name":"r1","priority":10,"match":{"httpMatch":{"method":"GET","pathMatch":{"match":{"prefix":"/api"},"caseSensitive":false},"headerMatches":[{"name":"x-env","match":{"exact":"blue"}}]}},"action":{"forward":{"targetGroups":[{"targetGroupIdentifier":"tg-0123456789abcdef0","weight":90}]}}}`))
	f.Add([]byte(`{"action":{"fixedResponse":{"statusCode":404}}}`))
	f.Add([]byte(`{"match":{"httpMatch":{}},"action":{"forward":{},"fixedResponse":{}}}`))
	f.Add([]byte(`{"priority":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in struct {
			Name     string            `json:"name"`
			Priority *int              `json:"priority"`
			Match    *model.RuleMatch  `json:"match"`
			Action   *model.RuleAction `json:"action"`
		}
		if err := decode(body, &in); err != nil {
			if model.KindOf(err) != model.KindValidation {
				t.Fatalf("decode error of kind %v: %v", model.KindOf(err), err)
			}
			return
		}
		var v model.Validator
		model.RuleName.CheckName(&v, "name", in.Name)
		model.CheckPriority(&v, "priority", in.Priority)
		model.CheckRuleMatch(&v, "match", in.Match)
		model.CheckRuleAction(&v, "action", in.Action)
		if v.Err() != nil {
			return
		}
		b, err := json.Marshal(in.Action)
		if err != nil {
			t.Fatal(err)
		}
		var again model.RuleAction
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("accepted action does not round-trip: %v", err)
		}
	})
}

// FuzzDecodeTargetGroup does the same for target group configs.
func FuzzDecodeTargetGroup(f *testing.F) {
	f.Add([]byte(`{"name":"web","type":"IP","config":{"port":80,"protocol":"HTTP","vpcIdentifier":"vpc-0123456789abcdef0","healthCheck":{"matcher":{"httpCode":"200-299"},"healthCheckIntervalSeconds":10}}}`))
	f.Add([]byte(`{"config":{"healthCheck":{"matcher":{"httpCode":"1-,,-"}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in struct {
			Config *model.TargetGroupConfig `json:"config"`
		}
		if err := decode(body, &in); err != nil {
			return
		}
		if in.Config == nil {
			return
		}
		var v model.Validator
		model.CheckHealthCheck(&v, "config.healthCheck", in.Config.HealthCheck)
		if v.Err() != nil {
			return
		}
		hc := model.WithHealthCheckDefaults(in.Config.HealthCheck, in.Config.ProtocolVersion)
		if hc.Enabled == nil || hc.Matcher == nil || hc.HealthCheckIntervalSeconds == nil || *hc.HealthCheckIntervalSeconds == 0 {
			t.Fatalf("defaults left holes: %+v", hc)
		}
	})
}
