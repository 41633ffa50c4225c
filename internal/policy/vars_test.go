package policy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPolicyVariablesInResource(t *testing.T) {
	teamRes := `"` + svcARN + `/${aws:PrincipalTag/team}/*"`
	tests := []struct {
		name     string
		resource string // JSON
		not      bool
		req      func() *Request
		path     string
		want     bool
	}{
		{"tag", teamRes, false, sessionReq, "/payments/x", true},
		{"tag, other path", teamRes, false, sessionReq, "/billing/x", false},
		{"tag missing", teamRes, false, otherReq, "/payments/x", false},
		{"anonymous has no tags", teamRes, false, anonReq, "/payments/x", false},
		{"tag value is literal, not a wildcard", teamRes, false,
			with(func(r *Request) { r.PrincipalTags["team"] = "*" }), "/payments/x", false},
		{"literal star from a tag", teamRes, false,
			with(func(r *Request) { r.PrincipalTags["team"] = "*" }), "/*/x", true},
		{"tag value with ?", teamRes, false,
			with(func(r *Request) { r.PrincipalTags["team"] = "pay?" }), "/payX/x", false},
		{"default", `"` + svcARN + `/${aws:PrincipalTag/team, 'shared'}/*"`, false, otherReq, "/shared/x", true},
		{"default not used when present", `"` + svcARN + `/${aws:PrincipalTag/team, 'shared'}/*"`, false, sessionReq, "/shared/x", false},
		{"default is literal", `"` + svcARN + `/${aws:PrincipalTag/team, '*'}/x"`, false, otherReq, "/anything/x", false},
		{"username", `"*/home/${aws:username}/*"`, false, userReq, "/home/alice/notes", true},
		{"username of a session is missing", `"*/home/${aws:username}/*"`, false, sessionReq, "/home//notes", false},
		{"account", `"arn:aws:vpc-lattice:us-east-1:${aws:PrincipalAccount}:service/*"`, false, sessionReq, "/x", true},
		{"account mismatch", `"arn:aws:vpc-lattice:us-east-1:${aws:PrincipalAccount}:service/*"`, false, otherReq, "/x", false},
		{"escapes", `"*/${*}/${?}/${$}"`, false, sessionReq, "/*/?/$", true},
		{"escapes are literal", `"*/${*}"`, false, sessionReq, "/abc", false},
		{"method variable", `"*/${vpc-lattice-svcs:RequestMethod}/*"`, false, sessionReq, "/GET/x", true},
		{"port variable", `"*:${vpc-lattice-svcs:Port}"`, false, sessionReq, ":443", true},
		{"NotResource with a resolvable variable", teamRes, true, sessionReq, "/payments/x", false},
		{"NotResource with an unresolvable variable applies", teamRes, true, otherReq, "/payments/x", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := stmt{Resource: tc.resource}
			if tc.not {
				s = stmt{NotResource: tc.resource}
			}
			p := mustParse(t, doc(s))
			r := tc.req()
			r.Resource = svcARN + tc.path
			if got := p.Evaluate(r).Allowed(); got != tc.want {
				t.Fatalf("allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyVariablesInConditions(t *testing.T) {
	xTeam := "vpc-lattice-svcs:RequestHeader/x-team" // "payments"
	runCondCases(t, []condCase{
		{"StringEquals", xTeam, `"${aws:PrincipalTag/team}"`, nil, true},
		{"StringEquals", xTeam, `"${aws:PrincipalTag/team}"`, otherReq, false},
		{"StringEquals", xTeam, `["x","${aws:principaltag/TEAM}"]`, nil, true},
		{"StringEquals", xTeam, `"${aws:PrincipalTag/nope, 'payments'}"`, nil, true},
		{"StringEquals", xTeam, `"${aws:PrincipalTag/nope,'payments'}"`, nil, true},
		{"StringEquals", xTeam, `"pay${aws:PrincipalTag/nope, ''}ments"`, nil, true},
		{"StringEquals", xTeam, `"${aws:PrincipalTag/nope, 'pay}ments'}"`, nil, false}, // '}' inside the default
		{"StringEquals", xTeam, `"${aws:PrincipalTag/nope, 'pay}ments'}"`, with(func(r *Request) { r.Header.Set("X-Team", "pay}ments") }), true},
		{"StringNotEquals", xTeam, `"${aws:PrincipalTag/team}"`, nil, false},
		{"StringNotEquals", xTeam, `"${aws:PrincipalTag/team}"`, otherReq, true}, // unresolvable: matches nothing
		{"StringEqualsIgnoreCase", xTeam, `"${aws:PrincipalTag/upper}"`, with(func(r *Request) { r.PrincipalTags["upper"] = "PAYMENTS" }), true},
		{"StringNotEqualsIgnoreCase", xTeam, `"${aws:PrincipalTag/upper}"`, with(func(r *Request) { r.PrincipalTags["upper"] = "PAYMENTS" }), false},
		{"StringLike", xTeam, `"${aws:PrincipalTag/prefix}*"`, with(func(r *Request) { r.PrincipalTags["prefix"] = "pay" }), true},
		{"StringLike", xTeam, `"${aws:PrincipalTag/prefix}*"`, with(func(r *Request) { r.PrincipalTags["prefix"] = "p*" }), false}, // literal
		{"StringLike", xTeam, `"pay${?}ents"`, nil, false},
		{"StringLike", xTeam, `"pay?ents"`, nil, true},
		{"StringLike", xTeam, `"paym?nts"`, nil, true},
		{"StringEquals", xTeam, `"a${*}b"`, with(func(r *Request) { r.Header.Set("X-Team", "a*b") }), true},
		{"StringLike", xTeam, `"a${*}b"`, with(func(r *Request) { r.Header.Set("X-Team", "axb") }), false},
		{"StringLike", xTeam, `"a${*}b"`, with(func(r *Request) { r.Header.Set("X-Team", "a*b") }), true},
		{"StringEquals", xTeam, `"cost${$}"`, with(func(r *Request) { r.Header.Set("X-Team", "cost$") }), true},
		{"StringEquals", xTeam, `"${aws:username}"`, userReq, false},
		{"StringEquals", xTeam, `"${aws:username}"`, with(func(r *Request) { r.Username = "payments" }), true},
		{"StringEquals", xTeam, `"${aws:PrincipalType}"`, with(func(r *Request) { r.Header.Set("X-Team", "AssumedRole") }), true},
		{"StringEquals", xTeam, `"${aws:PrincipalType}"`, func() *Request { r := anonReq(); r.Header.Set("X-Team", "Anonymous"); return r }, true},
		{"StringEquals", xTeam, `"${aws:SourceIp}"`, with(func(r *Request) { r.Header.Set("X-Team", "10.0.1.23") }), true},
		{"StringEquals", xTeam, `"${aws:SecureTransport}"`, with(func(r *Request) { r.Header.Set("X-Team", "true") }), true},
		{"StringEquals", xTeam, `"${aws:EpochTime}"`, with(func(r *Request) { r.Header.Set("X-Team", "1772366400") }), true},
		{"StringEquals", xTeam, `"${aws:CurrentTime}"`, with(func(r *Request) { r.Header.Set("X-Team", "2026-03-01T12:00:00Z") }), true},
		{"StringEquals", xTeam, `"${vpc-lattice-svcs:SourceVpc}"`, with(func(r *Request) { r.Header.Set("X-Team", "vpc-0abc1234def567890") }), true},
		{"StringEquals", xTeam, `"${vpc-lattice-svcs:RequestQueryString/version}"`, with(func(r *Request) { r.Header.Set("X-Team", "2") }), true},
		{"StringEquals", xTeam, `"${vpc-lattice-svcs:RequestQueryString/tag}"`, with(func(r *Request) { r.Header.Set("X-Team", "a") }), false}, // two values
		{"StringEquals", xTeam, `"${vpc-lattice-svcs:RequestHeader/x-team}"`, nil, true},
		{"StringEquals", xTeam, `"${aws:ResourceTag/x, 'payments'}"`, nil, true}, // unknown key: default
		{"StringEquals", xTeam, `"${aws:ResourceTag/x}"`, nil, false},
		{"ArnEquals", "vpc-lattice-svcs:ServiceNetworkArn", `"arn:aws:vpc-lattice:us-east-1:${aws:PrincipalAccount}:servicenetwork/*"`, nil, true},
		{"ArnEquals", "vpc-lattice-svcs:ServiceNetworkArn", `"arn:aws:vpc-lattice:us-east-1:${aws:PrincipalAccount}:servicenetwork/*"`, otherReq, false},
		{"ArnLike", "vpc-lattice-svcs:ServiceNetworkArn", `"${vpc-lattice-svcs:ServiceArn}"`, nil, false},
		{"ArnLike", "vpc-lattice-svcs:ServiceArn", `"${vpc-lattice-svcs:ServiceArn}"`, nil, true},                                                         // colons from a variable split fields
		{"ArnLike", "vpc-lattice-svcs:ServiceArn", `"${aws:PrincipalTag/short}"`, with(func(r *Request) { r.PrincipalTags["short"] = "arn:aws" }), false}, // not an ARN once resolved
		{"ArnNotLike", "vpc-lattice-svcs:ServiceArn", `"arn:aws:vpc-lattice:*:${aws:PrincipalTag/nope}:*"`, nil, true},
	})
}

func TestPolicyVariablesNeedVersion2012(t *testing.T) {
	for _, version := range []string{``, `"Version":"2008-10-17",`} {
		d := `{` + version + `"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"vpc-lattice-svcs:RequestHeader/x-team":"${aws:PrincipalTag/team}"}}}}`
		p := mustParse(t, d)
		r := sessionReq()
		if p.Evaluate(r).Allowed() {
			t.Errorf("%s: variable was substituted", version)
		}
		r.Header.Set("X-Team", "${aws:PrincipalTag/team}")
		if !p.Evaluate(r).Allowed() {
			t.Errorf("%s: variable is not literal text", version)
		}
		// In wildcard patterns the text stays a pattern: "${*}" has a wildcard.
		d = strings.Replace(d, `"Resource":"*"`, `"Resource":"*/${*}"`, 1)
		p = mustParse(t, d)
		r.Resource = svcARN + "/${abc}"
		if !p.Evaluate(r).Allowed() {
			t.Errorf("%s: ${*} in a resource is not literal", version)
		}
	}
}

func TestVariableBufferOverflow(t *testing.T) {
	long := strings.Repeat("x", 600) // longer than the stack buffer
	p := mustParse(t, doc(stmt{
		Resource:  `"*/${aws:PrincipalTag/long}/*"`,
		Condition: `{"StringEquals":{"vpc-lattice-svcs:RequestHeader/x-long":"${aws:PrincipalTag/long}"},"ArnLike":{"vpc-lattice-svcs:ServiceArn":"arn:aws:vpc-lattice:*:*:service/${aws:PrincipalTag/long}"}}`,
	}))
	r := sessionReq()
	r.PrincipalTags["long"] = long
	r.Header.Set("X-Long", long)
	r.ServiceARN = "arn:aws:vpc-lattice:us-east-1:111122223333:service/" + long
	r.Resource = svcARN + "/" + long + "/x"
	if !p.Evaluate(r).Allowed() {
		t.Fatal("long variable values do not match")
	}
	r.SourceIP = netip.MustParseAddr("::1")
	if !p.Evaluate(r).Allowed() {
		t.Fatal("unrelated change flipped the decision")
	}
}
