package api_test

import (
	"encoding/json"
	"testing"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// Issue 10, finding 1 at the wire: the identity API refuses values that
// would reach the identity headers with a ValidationException whose
// fieldList names the member, and changes nothing.
func TestIdentityAPIRefusesHeaderInjection(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	admin := rootCreds(s)
	alice := newAccountWithUser(t, s, acctA, "alice")
	user := "arn:aws:iam::" + acctA + ":user/alice"
	role := "arn:aws:iam::" + acctA + ":role/deploy"
	want(t, "tags", call(t, s, alice, "PUT", principalPath(user), map[string]any{"tags": map[string]string{"team": "blue"}}), 200, "")
	want(t, "role", call(t, s, alice, "PUT", principalPath(role), nil), 201, "")

	field := func(what string, a answer, name string) {
		t.Helper()
		want(t, what, a, 400, "ValidationException")
		var body struct {
			FieldList []struct{ Name string } `json:"fieldList"`
		}
		if err := json.Unmarshal(a.body, &body); err != nil || len(body.FieldList) == 0 || body.FieldList[0].Name != name {
			t.Fatalf("%s: fieldList %s, want %s", what, a.body, name)
		}
	}
	for name, tags := range map[string]map[string]string{
		"CR LF":              {"team": "blue\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /admin/users HTTP/1.1\r\n"},
		"a second principal": {"k;principal": "arn:aws:iam::999999999999:root"},
		"the principal tag":  {"principal": "arn:aws:iam::999999999999:root"},
		"case duplicates":    {"Team": "a", "team": "b"},
	} {
		field(name, call(t, s, alice, "PUT", principalPath(user), map[string]any{"tags": tags}), "tags")
	}
	p := want(t, "get", call(t, s, alice, "GET", principalPath(user), nil), 200, "").obj(t)
	if tags := p["tags"].(map[string]any); len(tags) != 1 || tags["team"] != "blue" {
		t.Fatalf("tags changed by refused PUTs: %v", tags)
	}
	field("a path with CR LF", call(t, s, alice, "PUT", principalPath("arn:aws:iam::"+acctA+":user/x\r\nX-Injected: yes/bob"), nil), "principalArn")
	field("a session name with CR LF", call(t, s, alice, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": role, "roleSessionName": "s\r\nX-Injected: yes"}), "roleSessionName")
	field("a session name with ;", call(t, s, alice, "POST", "/trellis/v1/sts/assume-role",
		map[string]any{"roleArn": role, "roleSessionName": "s;Principal=x"}), "roleSessionName")
	field("an account name with CR LF", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctA,
		map[string]any{"name": "a\r\nX-Injected: yes"}), "name")
	if a := want(t, "account", call(t, s, admin, "GET", "/trellis/v1/accounts/"+acctA, nil), 200, "").obj(t); a["name"] != nil {
		t.Fatalf("account name set by a refused PUT: %v", a)
	}
}
