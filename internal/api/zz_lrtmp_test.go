package api_test

import (
	"encoding/json"
	"testing"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

func TestZZLRTmp(t *testing.T) {
	s := apptest.Start(t)
	_, _, b := raw(t, s, "POST", "/services", map[string]any{"name": "shop"})
	t.Logf("%s", b)
	var svc struct{ ID string }
	_ = jsonUnmarshalLR(b, &svc)
	_, _, b = raw(t, s, "POST", "/services/"+svc.ID+"/listeners", map[string]any{"name": "web", "protocol": "HTTP", "defaultAction": map[string]any{"fixedResponse": map[string]any{"statusCode": 404}}})
	t.Logf("%s", b)
	var l struct{ ID string }
	_ = jsonUnmarshalLR(b, &l)
	st, _, b := raw(t, s, "POST", "/services/"+svc.ID+"/listeners/"+l.ID+"/rules", map[string]any{"name": "api", "priority": 3, "match": map[string]any{"httpMatch": map[string]any{"method": "GET"}}, "action": map[string]any{"fixedResponse": map[string]any{"statusCode": 500}}})
	t.Logf("%d %s", st, b)
	var r struct{ ID string }
	_ = jsonUnmarshalLR(b, &r)
	_, _, b = raw(t, s, "GET", "/services/"+svc.ID+"/listeners/"+l.ID+"/rules", nil)
	t.Logf("%s", b)
	st, _, b = raw(t, s, "PATCH", "/services/"+svc.ID+"/listeners/"+l.ID+"/rules", map[string]any{"rules": []any{map[string]any{"ruleIdentifier": r.ID, "priority": 5}, map[string]any{"ruleIdentifier": "rule-0123456789abcdef0", "priority": 7}}})
	t.Logf("%d %s", st, b)
	st, _, b = raw(t, s, "GET", "/services/"+svc.ID+"/listeners/"+l.ID, nil)
	t.Logf("%d %s", st, b)
	st, _, b = raw(t, s, "DELETE", "/services/"+svc.ID+"/listeners/"+l.ID, nil)
	t.Logf("%d %q", st, b)
}

func jsonUnmarshalLR(b []byte, v any) error { return json.Unmarshal(b, v) }
