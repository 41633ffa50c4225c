package policy

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

const (
	acct       = "111122223333"
	other      = "444455556666"
	svcARN     = "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0"
	snARN      = "arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-0123456789abcdef0"
	roleARN    = "arn:aws:iam::111122223333:role/client"
	sessionARN = "arn:aws:sts::111122223333:assumed-role/client/session-1"
	userARN    = "arn:aws:iam::111122223333:user/alice"
	rootARN    = "arn:aws:iam::111122223333:root"
	orgID      = "o-a1b2c3d4e5"
	orgPath    = "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"
)

var testTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // 1772366400

// sessionReq is an authenticated assumed-role session calling GET
// /admin/users with every field filled in.
func sessionReq() *Request {
	return &Request{
		PrincipalARN:          sessionARN,
		RoleARN:               roleARN,
		PrincipalAccount:      acct,
		PrincipalOrgID:        orgID,
		PrincipalOrgPath:      orgPath,
		PrincipalType:         "AssumedRole",
		PrincipalTags:         map[string]string{"team": "payments", "Env": "prod"},
		SourceIP:              netip.MustParseAddr("10.0.1.23"),
		SecureTransport:       true,
		CurrentTime:           testTime,
		Action:                "vpc-lattice-svcs:Invoke",
		Resource:              svcARN + "/admin/users",
		Port:                  443,
		Method:                "GET",
		Header:                http.Header{"X-Team": {"payments"}, "X-Tag": {"a", "b"}, "X-Count": {"5"}, "X-Flag": {"TRUE"}, "X-Bad": {"abc"}},
		RawQuery:              "version=2&tag=a&tag=b&q=hello%20world&a%20b=c+d&flag",
		ServiceNetworkARN:     snARN,
		ServiceARN:            svcARN,
		SourceVPC:             "vpc-0abc1234def567890",
		SourceVPCOwnerAccount: other,
	}
}

// userReq is the IAM user alice of the same account.
func userReq() *Request {
	r := sessionReq()
	r.PrincipalARN, r.RoleARN, r.PrincipalType, r.Username = userARN, "", "User", "alice"
	return r
}

// rootReq is the account's root.
func rootReq() *Request {
	r := sessionReq()
	r.PrincipalARN, r.RoleARN, r.PrincipalType = rootARN, "", "Account"
	return r
}

// otherReq is a role session of another account and organisation.
func otherReq() *Request {
	r := sessionReq()
	r.PrincipalARN = "arn:aws:sts::444455556666:assumed-role/client/session-9"
	r.RoleARN = "arn:aws:iam::444455556666:role/client"
	r.PrincipalAccount, r.PrincipalOrgID, r.PrincipalOrgPath = other, "o-zzzzzzzzzz", "o-zzzzzzzzzz/r-zz/"
	r.PrincipalTags = nil
	return r
}

// anonReq is an unsigned caller; the identity fields are filled in on
// purpose, to check that they are ignored.
func anonReq() *Request {
	r := sessionReq()
	r.Anonymous = true
	return r
}

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

// stmt builds a one-statement policy from JSON fragments; zero fields get
// permissive defaults.
type stmt struct {
	Sid, Effect, Principal, Action, Resource, Condition string
	NotPrincipal, NotAction, NotResource                string
}

func (s stmt) json() string {
	m := map[string]json.RawMessage{}
	put := func(k, v, def string) {
		if v == "" {
			v = def
		}
		if v != "" {
			m[k] = json.RawMessage(v)
		}
	}
	if s.Sid != "" {
		b, _ := json.Marshal(s.Sid)
		m["Sid"] = b
	}
	effect := s.Effect
	if effect == "" {
		effect = "Allow"
	}
	b, _ := json.Marshal(effect)
	m["Effect"] = b
	if s.NotPrincipal != "" {
		put("NotPrincipal", s.NotPrincipal, "")
	} else {
		put("Principal", s.Principal, `"*"`)
	}
	if s.NotAction != "" {
		put("NotAction", s.NotAction, "")
	} else {
		put("Action", s.Action, `"vpc-lattice-svcs:Invoke"`)
	}
	if s.NotResource != "" {
		put("NotResource", s.NotResource, "")
	} else {
		put("Resource", s.Resource, `"*"`)
	}
	put("Condition", s.Condition, "")
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// doc wraps statements in a 2012-10-17 policy.
func doc(stmts ...stmt) string {
	s := `{"Version":"2012-10-17","Statement":[`
	for i, st := range stmts {
		if i > 0 {
			s += ","
		}
		s += st.json()
	}
	return s + "]}"
}
