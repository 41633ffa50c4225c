package policy

import (
	"reflect"
	"strings"
	"testing"
)

func TestPrincipal(t *testing.T) {
	reqs := map[string]func() *Request{
		"anon": anonReq, "session": sessionReq, "user": userReq, "root": rootReq, "other": otherReq,
		"role": func() *Request { // the role itself, not a session
			r := sessionReq()
			r.PrincipalARN, r.RoleARN = roleARN, ""
			return r
		},
		"no-account-field": func() *Request { // account taken from the ARN
			r := userReq()
			r.PrincipalAccount = ""
			return r
		},
	}
	tests := []struct {
		name      string
		principal string // JSON; NotPrincipal when not is set
		not       bool
		match     []string // requests the statement applies to; all others must not
	}{
		{"star", `"*"`, false, []string{"anon", "session", "user", "root", "other", "role", "no-account-field"}},
		{"AWS star", `{"AWS":"*"}`, false, []string{"anon", "session", "user", "root", "other", "role", "no-account-field"}},
		{"AWS star in list", `{"AWS":["` + other + `","*"]}`, false, []string{"anon", "session", "user", "root", "other", "role", "no-account-field"}},
		{"account ID", `{"AWS":"` + acct + `"}`, false, []string{"session", "user", "root", "role", "no-account-field"}},
		{"root ARN", `{"AWS":"` + rootARN + `"}`, false, []string{"session", "user", "root", "role", "no-account-field"}},
		{"other account", `{"AWS":"` + other + `"}`, false, []string{"other"}},
		{"role ARN", `{"AWS":"` + roleARN + `"}`, false, []string{"session", "role"}},
		{"other role", `{"AWS":"arn:aws:iam::111122223333:role/server"}`, false, nil},
		{"session ARN", `{"AWS":"` + sessionARN + `"}`, false, []string{"session"}},
		{"other session", `{"AWS":"arn:aws:sts::111122223333:assumed-role/client/session-2"}`, false, nil},
		{"user ARN", `{"AWS":"` + userARN + `"}`, false, []string{"user", "no-account-field"}},
		{"other user", `{"AWS":"arn:aws:iam::111122223333:user/bob"}`, false, nil},
		{"list", `{"AWS":["` + userARN + `","` + other + `"]}`, false, []string{"user", "no-account-field", "other"}},
		{"service", `{"Service":"lambda.amazonaws.com"}`, false, nil},
		{"federated and canonical", `{"Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbaced"}`, false, nil},
		{"service and account", `{"Service":"lambda.amazonaws.com","AWS":"` + other + `"}`, false, []string{"other"}},
		{"NotPrincipal account", `{"AWS":"` + acct + `"}`, true, []string{"anon", "other"}},
		{"NotPrincipal role", `{"AWS":"` + roleARN + `"}`, true, []string{"anon", "user", "root", "other", "no-account-field"}},
		{"NotPrincipal star", `"*"`, true, nil},
		{"NotPrincipal service", `{"Service":"lambda.amazonaws.com"}`, true, []string{"anon", "session", "user", "root", "other", "role", "no-account-field"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := stmt{Principal: tc.principal}
			if tc.not {
				s = stmt{NotPrincipal: tc.principal}
			}
			p := mustParse(t, doc(s))
			for name, mk := range reqs {
				want := false
				for _, m := range tc.match {
					want = want || m == name
				}
				if got := p.Evaluate(mk()).Allowed(); got != want {
					t.Errorf("%s: allowed = %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestAction(t *testing.T) {
	tests := []struct {
		action string // JSON
		not    bool
		want   bool // for vpc-lattice-svcs:Invoke
	}{
		{`"vpc-lattice-svcs:Invoke"`, false, true},
		{`"VPC-Lattice-Svcs:INVOKE"`, false, true},
		{`"vpc-lattice-svcs:*"`, false, true},
		{`"*"`, false, true},
		{`"vpc-lattice-svcs:Inv*"`, false, true},
		{`"vpc-lattice-svcs:Invok?"`, false, true},
		{`"vpc-lattice-svcs:I?v*e"`, false, true},
		{`"*:Invoke"`, false, true},
		{`"*:INVOKE"`, false, true},
		{`"*LATTICE-SVCS:INV*"`, false, true},
		{`"*lattice-svcz:*"`, false, false},
		{`"VPC-LATTICE-SVCS:*"`, false, true},
		{`"vpc-lattice-svcs:Invoke?"`, false, false},
		{`"vpc-lattice:*"`, false, false},
		{`"vpc-lattice-svcs:Get*"`, false, false},
		{`"vpc-lattice-svcs:Invoke\\"`, false, false}, // a literal backslash
		{`["vpc-lattice:*","vpc-lattice-svcs:invoke"]`, false, true},
		{`"vpc-lattice:*"`, true, true},
		{`"vpc-lattice-svcs:*"`, true, false},
		{`["vpc-lattice:*","*:invoke"]`, true, false},
	}
	for _, tc := range tests {
		s := stmt{Action: tc.action}
		if tc.not {
			s = stmt{NotAction: tc.action}
		}
		p := mustParse(t, doc(s))
		if got := p.Evaluate(sessionReq()).Allowed(); got != tc.want {
			t.Errorf("not=%v %s: allowed = %v, want %v", tc.not, tc.action, got, tc.want)
		}
	}
}

func TestResource(t *testing.T) {
	tests := []struct {
		resource string // JSON
		not      bool
		path     string // request path under the service
		want     bool
	}{
		{`"*"`, false, "/admin/users", true},
		{`"` + svcARN + `/admin/users"`, false, "/admin/users", true},
		{`"` + svcARN + `/admin/users"`, false, "/admin/user", false},
		{`"` + svcARN + `/admin/*"`, false, "/admin/users", true},
		{`"` + svcARN + `/admin/*"`, false, "/admin/a/b/c", true},
		{`"` + svcARN + `/admin/*"`, false, "/public/x", false},
		{`"` + svcARN + `/*"`, false, "/anything", true},
		{`"` + svcARN + `/ADMIN/*"`, false, "/admin/users", false}, // case-sensitive
		{`"*/public/*"`, false, "/public/index.html", true},
		{`"*/public/*"`, false, "/admin/public", false},
		{`"*/admin/users"`, false, "/admin/users", true},
		{`"*/*"`, false, "/x", true},
		{`"arn:aws:vpc-lattice:us-east-1:111122223333:service/*/admin/*"`, false, "/admin/users", true},
		{`"arn:aws:vpc-lattice:*:*:service/svc-0123456789abcdef0/admin/*"`, false, "/admin/users", true},
		{`"arn:aws:vpc-lattice:us-east-1:444455556666:service/*"`, false, "/admin/users", false},
		{`"` + svcARN + `/admin/user?"`, false, "/admin/users", true},
		{`"` + svcARN + `/admin/user?"`, false, "/admin/user", false},
		{`"` + svcARN + `/v?/items"`, false, "/v2/items", true},
		{`"` + svcARN + `/caf?"`, false, "/café", true}, // ? is one character, not one byte
		{`"` + svcARN + `/*.html"`, false, "/a/b.html", true},
		{`"` + svcARN + `/*.html"`, false, "/a/b.htm", false},
		{`"` + svcARN + `/a*b*c"`, false, "/axxbyyc", true},
		{`"` + svcARN + `/a*b*c"`, false, "/axxbyy", false},
		{`["*/public/*","` + svcARN + `/admin/users"]`, false, "/admin/users", true},
		{`"*/admin/*"`, true, "/public/x", true},
		{`"*/admin/*"`, true, "/admin/users", false},
		{`["*/admin/*","*/internal/*"]`, true, "/internal/x", false},
	}
	for _, tc := range tests {
		s := stmt{Resource: tc.resource}
		if tc.not {
			s = stmt{NotResource: tc.resource}
		}
		p := mustParse(t, doc(s))
		r := sessionReq()
		r.Resource = svcARN + tc.path
		if got := p.Evaluate(r).Allowed(); got != tc.want {
			t.Errorf("not=%v %s on %s: allowed = %v, want %v", tc.not, tc.resource, tc.path, got, tc.want)
		}
	}
}

func TestEvaluateDecision(t *testing.T) {
	allowAll := stmt{Sid: "AllowAll"}
	allowAdmin := stmt{Sid: "AllowAdmin", Resource: `"*/admin/*"`}
	denyPost := stmt{Sid: "DenyPost", Effect: "Deny", Condition: `{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"POST"}}`}
	denyAdmin := stmt{Sid: "DenyAdmin", Effect: "Deny", Resource: `"*/admin/*"`}
	denyOther := stmt{Effect: "Deny", Principal: `{"AWS":"` + other + `"}`}
	post := func() *Request { r := sessionReq(); r.Method = "POST"; return r }
	tests := []struct {
		name  string
		stmts []stmt
		req   func() *Request
		want  Decision
	}{
		{"allow", []stmt{allowAll}, sessionReq, Decision{Allow, 0, "AllowAll"}},
		{"first matching allow", []stmt{denyOther, allowAdmin, allowAll}, sessionReq, Decision{Allow, 1, "AllowAdmin"}},
		{"no match", []stmt{allowAdmin}, func() *Request { r := sessionReq(); r.Resource = svcARN + "/x"; return r }, Decision{NoMatch, -1, ""}},
		{"deny only", []stmt{denyPost}, post, Decision{Deny, 0, "DenyPost"}},
		{"deny only, not applying", []stmt{denyPost}, sessionReq, Decision{NoMatch, -1, ""}},
		{"deny wins after allow", []stmt{allowAll, denyPost}, post, Decision{Deny, 1, "DenyPost"}},
		{"deny wins before allow", []stmt{denyPost, allowAll}, post, Decision{Deny, 0, "DenyPost"}},
		{"first matching deny", []stmt{allowAll, denyPost, denyAdmin}, post, Decision{Deny, 1, "DenyPost"}},
		{"second deny", []stmt{allowAll, denyPost, denyAdmin}, sessionReq, Decision{Deny, 2, "DenyAdmin"}},
		{"deny without sid", []stmt{allowAll, denyOther}, otherReq, Decision{Deny, 1, ""}},
		{"allow without sid", []stmt{{}}, sessionReq, Decision{Allow, 0, ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, doc(tc.stmts...))
			if p.Statements() != len(tc.stmts) {
				t.Fatalf("Statements() = %d", p.Statements())
			}
			got := p.Evaluate(tc.req())
			if got != tc.want {
				t.Fatalf("Evaluate = %+v, want %+v", got, tc.want)
			}
			if got.Allowed() != (tc.want.Effect == Allow) {
				t.Fatalf("Allowed() = %v", got.Allowed())
			}
			checkExplainAgrees(t, p, tc.req(), got)
		})
	}
}

// checkExplainAgrees derives the decision from Explain and compares.
func checkExplainAgrees(t testing.TB, p *Policy, r *Request, d Decision) {
	t.Helper()
	res := Explain(p, r)
	want := Decision{Effect: NoMatch, Statement: -1}
	for _, s := range res {
		if s.Applied != (s.Reason == "") {
			t.Fatalf("statement %d: Applied %v with reason %q", s.Index, s.Applied, s.Reason)
		}
		if !s.Applied {
			continue
		}
		if s.Effect == Deny {
			want = Decision{Deny, s.Index, s.Sid}
			break
		}
		if want.Effect == NoMatch {
			want = Decision{Allow, s.Index, s.Sid}
		}
	}
	if want != d {
		t.Fatalf("Explain implies %+v, Evaluate says %+v", want, d)
	}
}

func TestStatementObjectOrList(t *testing.T) {
	one := `{"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}}`
	list := `{"Version":"2012-10-17","Statement":[{"Sid":"One","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	for _, d := range []string{one, list} {
		p := mustParse(t, d)
		if p.Statements() != 1 {
			t.Fatalf("Statements() = %d", p.Statements())
		}
		if got := p.Evaluate(sessionReq()); got != (Decision{Allow, 0, "One"}) {
			t.Fatalf("%s: %+v", d, got)
		}
	}
	p := mustParse(t, `{"Id":"my-policy","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}`)
	if p.Version() != "" || p.ID() != "my-policy" {
		t.Fatalf("Version %q ID %q", p.Version(), p.ID())
	}
	if got := p.Evaluate(anonReq()); got != (Decision{Deny, 0, ""}) {
		t.Fatalf("%+v", got)
	}
}

func TestExplain(t *testing.T) {
	p := mustParse(t, doc(
		stmt{Sid: "Other", Principal: `{"AWS":"` + other + `"}`},
		stmt{Sid: "Lambda", Action: `"lambda:*"`},
		stmt{Sid: "Public", Resource: `"*/public/*"`},
		stmt{Sid: "Posts", Effect: "Deny", Condition: `{"StringLike":{"aws:PrincipalOrgID":"o-*"},"StringEquals":{"vpc-lattice-svcs:RequestMethod":"POST"}}`},
		stmt{Sid: "Admin", Resource: `"*/admin/*"`},
	))
	got := Explain(p, sessionReq())
	want := []StatementResult{
		{0, "Other", Allow, false, "principal does not match"},
		{1, "Lambda", Allow, false, "action does not match"},
		{2, "Public", Allow, false, "resource does not match"},
		{3, "Posts", Deny, false, "condition StringEquals vpc-lattice-svcs:RequestMethod failed"},
		{4, "Admin", Allow, true, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Explain:\n got %+v\nwant %+v", got, want)
	}
	if d := p.Evaluate(sessionReq()); d != (Decision{Allow, 4, "Admin"}) {
		t.Fatalf("Evaluate: %+v", d)
	}
}

func TestEffectString(t *testing.T) {
	for e, s := range map[Effect]string{NoMatch: "NoMatch", Allow: "Allow", Deny: "Deny"} {
		if e.String() != s {
			t.Errorf("%d: %q", e, e.String())
		}
	}
}

// TestLatticeExamples covers policies shaped like the AWS documentation's
// VPC Lattice auth policy examples.
func TestLatticeExamples(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		reqs map[string]*Request
		want map[string]Effect
	}{
		{
			name: "allow an account's principals",
			doc: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"AWS": ["111122223333"]},
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/*"
    }
  ]
}`,
			reqs: map[string]*Request{"session": sessionReq(), "user": userReq(), "other": otherReq(), "anon": anonReq(),
				"other service": func() *Request {
					r := sessionReq()
					r.Resource = "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-99999999999999999/x"
					return r
				}()},
			want: map[string]Effect{"session": Allow, "user": Allow, "other": NoMatch, "anon": NoMatch, "other service": NoMatch},
		},
		{
			name: "deny non-GET",
			doc: `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "AllowAll", "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"},
    {"Sid": "ReadOnly", "Effect": "Deny", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
     "Condition": {"StringNotEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}}}
  ]
}`,
			reqs: map[string]*Request{"get": sessionReq(),
				"post":      func() *Request { r := sessionReq(); r.Method = "POST"; return r }(),
				"no method": func() *Request { r := sessionReq(); r.Method = ""; return r }()},
			want: map[string]Effect{"get": Allow, "post": Deny, "no method": Deny},
		},
		{
			name: "organisation only, authenticated",
			doc: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "*",
      "Condition": {
        "StringEquals": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5"]},
        "StringNotEqualsIgnoreCase": {"aws:PrincipalType": "anonymous"}
      }
    }
  ]
}`,
			reqs: map[string]*Request{"session": sessionReq(), "other": otherReq(), "anon": anonReq()},
			want: map[string]Effect{"session": Allow, "other": NoMatch, "anon": NoMatch},
		},
		{
			name: "source VPC restriction",
			doc: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "*",
      "Condition": {"StringEquals": {"vpc-lattice-svcs:SourceVpc": "vpc-0abc1234def567890"}}
    }
  ]
}`,
			reqs: map[string]*Request{"in vpc": sessionReq(), "anon in vpc": anonReq(),
				"other vpc": func() *Request { r := sessionReq(); r.SourceVPC = "vpc-11111111"; return r }()},
			want: map[string]Effect{"in vpc": Allow, "anon in vpc": Allow, "other vpc": NoMatch},
		},
		{
			name: "role for a path, read-only from one network",
			doc: `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:role/client"},
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/admin/*",
      "Condition": {
        "StringEquals": {"vpc-lattice-svcs:RequestMethod": ["GET", "HEAD"]},
        "ArnEquals": {"vpc-lattice-svcs:ServiceNetworkArn": "arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-0123456789abcdef0"},
        "Bool": {"aws:SecureTransport": true}
      }
    }
  ]
}`,
			reqs: map[string]*Request{"session": sessionReq(), "user": userReq(),
				"plain http": func() *Request { r := sessionReq(); r.SecureTransport = false; return r }()},
			want: map[string]Effect{"session": Allow, "user": NoMatch, "plain http": NoMatch},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.doc)
			for name, r := range tc.reqs {
				if got := p.Evaluate(r); got.Effect != tc.want[name] {
					t.Errorf("%s: %+v, want %v", name, got, tc.want[name])
				}
			}
		})
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	p := mustParse(t, benchPolicyB)
	team := sessionReq()
	team.Resource = svcARN + "/payments/x"
	anon := anonReq()
	anon.Resource = team.Resource
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			ok := true
			for i := 0; i < 200; i++ {
				ok = ok && p.Evaluate(team).Allowed() && p.Evaluate(anon).Effect == Deny
			}
			done <- ok
		}()
	}
	for g := 0; g < 8; g++ {
		if !<-done {
			t.Fatal("wrong decision under concurrency")
		}
	}
}

func TestErrorString(t *testing.T) {
	if s := (&Error{Path: "Statement[1].Condition", Msg: `unknown operator "StringEqualz"`}).Error(); s != `Statement[1].Condition: unknown operator "StringEqualz"` {
		t.Fatal(s)
	}
	if s := (&Error{Msg: "the policy document is empty"}).Error(); strings.Contains(s, ":") {
		t.Fatal(s)
	}
}
