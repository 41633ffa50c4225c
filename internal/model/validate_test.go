package model

import (
	"testing"
)

func TestCheckName(t *testing.T) {
	cases := []struct {
		rule NameRule
		name string
		ok   bool
	}{
		{ServiceName, "orders", true},
		{ServiceName, "a-b-c", true},
		{ServiceName, "abc", true},
		{ServiceName, "ab", false},
		{ServiceName, "a234567890123456789012345678901234567890", true},
		{ServiceName, "a2345678901234567890123456789012345678901", false},
		{ServiceName, "Orders", false},
		{ServiceName, "-orders", false},
		{ServiceName, "orders-", false},
		{ServiceName, "ord--ers", false},
		{ServiceName, "svc-orders", false},
		{ServiceName, "ord.ers", false},
		{ServiceNetworkName, "svc-is-fine-here", true},
		{ListenerName, "listener-1", false},
		{RuleName, "rule-1", false},
		{TargetGroupName, "tg-1", false},
		{TargetGroupName, "tgx", true},
		{ServiceNetworkName, "", false},
	}
	for _, tc := range cases {
		var v Validator
		tc.rule.CheckName(&v, "name", tc.name)
		err := v.Err()
		if (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil {
			e := err.(*Error)
			if e.Kind != KindValidation || len(e.Fields) != 1 || e.Fields[0].Name != "name" {
				t.Errorf("CheckName(%q) error %+v does not name the field", tc.name, e)
			}
		}
	}
}

func TestParseHTTPCodes(t *testing.T) {
	cases := []struct {
		in   string
		want []CodeRange
	}{
		{"200", []CodeRange{{200, 200}}},
		{"200,202", []CodeRange{{200, 200}, {202, 202}}},
		{"200-299", []CodeRange{{200, 299}}},
		{"200-299,404", []CodeRange{{200, 299}, {404, 404}}},
		{"199", nil}, {"500", nil}, {"300-200", nil}, {"", nil}, {"abc", nil}, {"200,", nil}, {"-", nil},
	}
	for _, tc := range cases {
		got, err := ParseHTTPCodes(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("ParseHTTPCodes(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("ParseHTTPCodes(%q) = %v, %v", tc.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ParseHTTPCodes(%q)[%d] = %v, want %v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func TestCheckRuleMatchAndAction(t *testing.T) {
	s := func(v string) *string { return &v }
	i := func(v int) *int { return &v }
	cases := []struct {
		name   string
		match  *RuleMatch
		action *RuleAction
		fields []string
	}{
		{"valid", &RuleMatch{HTTPMatch: &HTTPMatch{Method: "GET", PathMatch: &PathMatch{Match: MatchType{Prefix: s("/api")}}}},
			&RuleAction{FixedResponse: &FixedResponseAction{StatusCode: i(404)}}, nil},
		{"empty match", &RuleMatch{HTTPMatch: &HTTPMatch{}}, &RuleAction{FixedResponse: &FixedResponseAction{StatusCode: i(500)}},
			[]string{"match.httpMatch"}},
		{"path without slash", &RuleMatch{HTTPMatch: &HTTPMatch{PathMatch: &PathMatch{Match: MatchType{Exact: s("api")}}}}, nil,
			[]string{"match.httpMatch.pathMatch.match.exact", "action"}},
		{"path contains", &RuleMatch{HTTPMatch: &HTTPMatch{PathMatch: &PathMatch{Match: MatchType{Contains: s("/a")}}}},
			&RuleAction{FixedResponse: &FixedResponseAction{StatusCode: i(403)}},
			[]string{"match.httpMatch.pathMatch.match", "action.fixedResponse.statusCode"}},
		{"too many headers", &RuleMatch{HTTPMatch: &HTTPMatch{HeaderMatches: make([]HeaderMatch, 6)}},
			&RuleAction{Forward: &ForwardAction{}}, nil /* checked below by count */},
		{"both actions", &RuleMatch{HTTPMatch: &HTTPMatch{Method: "POST"}},
			&RuleAction{Forward: &ForwardAction{TargetGroups: []WeightedTargetGroup{{TargetGroupIdentifier: "tg-0123456789abcdef0"}}},
				FixedResponse: &FixedResponseAction{StatusCode: i(404)}}, []string{"action"}},
		{"weight out of range", &RuleMatch{HTTPMatch: &HTTPMatch{Method: "POST"}},
			&RuleAction{Forward: &ForwardAction{TargetGroups: []WeightedTargetGroup{{TargetGroupIdentifier: "tg-0123456789abcdef0", Weight: i(1000)}}}},
			[]string{"action.forward.targetGroups[0].weight"}},
		// A malformed target group identifier is reported alone, before
		// the other members (here the path and the weight).
		{"bad target group identifier", &RuleMatch{HTTPMatch: &HTTPMatch{PathMatch: &PathMatch{Match: MatchType{Exact: s("api")}}}},
			&RuleAction{Forward: &ForwardAction{TargetGroups: []WeightedTargetGroup{{TargetGroupIdentifier: "tg-1", Weight: i(1000)}}}},
			[]string{"action.forward.targetGroups[0].targetGroupIdentifier"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v Validator
			CheckRuleMatch(&v, "match", tc.match)
			CheckRuleAction(&v, "action", tc.action)
			err := v.Err()
			if tc.name == "too many headers" {
				if err == nil || len(err.(*Error).Fields) < 3 {
					t.Fatalf("want errors for the header count, names and the empty forward, got %v", err)
				}
				return
			}
			var got []string
			if err != nil {
				for _, f := range err.(*Error).Fields {
					got = append(got, f.Name)
				}
			}
			if len(got) != len(tc.fields) {
				t.Fatalf("fields %v, want %v (%v)", got, tc.fields, err)
			}
			for i := range got {
				if got[i] != tc.fields[i] {
					t.Fatalf("fields %v, want %v", got, tc.fields)
				}
			}
		})
	}
}

func TestQuotasSet(t *testing.T) {
	q := Quotas{}
	if err := q.Set("services=5"); err != nil || q.Limit(QuotaServices) != 5 {
		t.Fatalf("Set: %v, limit %d", err, q.Limit(QuotaServices))
	}
	if q.Limit(QuotaTargetGroups) != 500 {
		t.Fatalf("default target groups quota %d", q.Limit(QuotaTargetGroups))
	}
	for _, bad := range []string{"services", "services=-1", "nope=3", "services=x"} {
		if err := q.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
