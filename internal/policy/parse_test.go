package policy

import (
	"errors"
	"strings"
	"testing"
)

// st wraps one statement's members (a JSON fragment without braces) in a
// policy.
func st(members string) string {
	return `{"Version":"2012-10-17","Statement":[{` + members + `}]}`
}

const base = `"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"`

// withCond is a statement with the base members and a Condition.
func withCond(c string) string { return st(base + `,"Condition":` + c) }

// badDocs are invalid policies with the expected error path and a fragment
// of the expected message.
var badDocs = []struct {
	doc, path, msg string
}{
	// Document level.
	{"", "", "the policy document is empty"},
	{"  \n", "", "the policy document is empty"},
	{`[]`, "", "the policy must be an object, not a list"},
	{`"x"`, "", "the policy must be an object, not a string"},
	{`{"Statement": [}`, "", "invalid JSON at byte offset"},
	{`{"Statement": [`, "", "invalid JSON"},
	{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}} {}`, "", "unexpected data after the policy document"},
	{`{"Version":"2012-10-17"}`, "", `missing "Statement"`},
	{`{"Version":"2012-10-17","Statement":[]}`, "Statement", "must not be an empty list"},
	{`{"Version":"2012-10-17","Statement":"x"}`, "Statement", "must be an object or a list of objects, not a string"},
	{`{"Version":"2012-10-17","Statement":null}`, "Statement", "not null"},
	{`{"Version":"2012-10-17","Statement":["x"]}`, "Statement[0]", "a statement must be an object, not a string"},
	{`{"Version":"2012-10-17","statement":[]}`, "", `unknown member "statement" (element names are case-sensitive; did you mean "Statement"?)`},
	{`{"Version":"2012-10-17","Foo":1,"Statement":[]}`, "", `unknown member "Foo"`},
	{`{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}`, "", `duplicate member "Version"`},
	{`{"Version":"2020-01-01","Statement":[]}`, "Version", `"2020-01-01" is not a policy version`},
	{`{"Version":20121017,"Statement":[]}`, "Version", "must be a string, not a number"},
	{`{"Id":7,"Statement":[]}`, "Id", "must be a string, not a number"},
	{`{"Statement":{"Sid":1,` + base + `}}`, "Statement.Sid", "must be a string, not a number"},
	{`{"Version":"2012-10-17","Statement":[{"Sid":"A",` + base + `},{"Sid":"A",` + base + `}]}`, "Statement[1].Sid", `"A" is already the Sid of Statement[0]`},
	// Statement members.
	{st(`"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"*","Resource":"*"`), "Statement[0]", `duplicate member "Effect"`},
	{st(`"Actions":"*","Effect":"Allow","Principal":"*","Resource":"*"`), "Statement[0]", `unknown member "Actions" (element names are case-sensitive; did you mean "Action"?)`},
	{st(`"Principal":"*","Action":"*","Resource":"*"`), "Statement[0]", `missing "Effect"`},
	{st(`"Effect":"allow","Principal":"*","Action":"*","Resource":"*"`), "Statement[0].Effect", `must be "Allow" or "Deny", not "allow"`},
	{st(`"Effect":true,"Principal":"*","Action":"*","Resource":"*"`), "Statement[0].Effect", "must be a string, not a boolean"},
	// Principal.
	{st(`"Effect":"Allow","Action":"*","Resource":"*"`), "Statement[0]", `missing "Principal" (or "NotPrincipal")`},
	{st(`"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*","Resource":"*"`), "Statement[0]", `has both "Principal" and "NotPrincipal"`},
	{st(`"Effect":"Allow","Principal":"AWS","Action":"*","Resource":"*"`), "Statement[0].Principal", `must be "*" or an object`},
	{st(`"Effect":"Allow","Principal":["*"],"Action":"*","Resource":"*"`), "Statement[0].Principal", "not a list"},
	{st(`"Effect":"Allow","Principal":{},"Action":"*","Resource":"*"`), "Statement[0].Principal", "must name at least one principal"},
	{st(`"Effect":"Allow","Principal":{"aws":"*"},"Action":"*","Resource":"*"`), "Statement[0].Principal", `unknown member "aws" (element names are case-sensitive; did you mean "AWS"?)`},
	{st(`"Effect":"Allow","Principal":{"AWS":[]},"Action":"*","Resource":"*"`), "Statement[0].Principal.AWS", "must not be an empty list"},
	{st(`"Effect":"Allow","Principal":{"AWS":123456789012},"Action":"*","Resource":"*"`), "Statement[0].Principal.AWS", "must be a string or a list of strings, not a number"},
	{st(`"Effect":"Allow","Principal":{"AWS":"1234"},"Action":"*","Resource":"*"`), "Statement[0].Principal.AWS", `"1234" is not a principal`},
	{st(`"Effect":"Allow","Principal":{"AWS":["111122223333","bob"]},"Action":"*","Resource":"*"`), "Statement[0].Principal.AWS[1]", `"bob" is not a principal`},
	{st(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/*"},"Action":"*","Resource":"*"`), "Statement[0].Principal.AWS", "wildcards are not allowed in principal ARNs"},
	{st(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/admins"},"Action":"*","Resource":"*"`), "Statement[0].Principal.AWS", "is not a principal"},
	{st(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:us-east-1:111122223333:role/r"},"Action":"*","Resource":"*"`), "Statement[0].Principal.AWS", "is not a principal"},
	{st(`"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/r"},"Action":"*","Resource":"*"`), "Statement[0].Principal.AWS", "is not a principal"},
	{st(`"Effect":"Allow","Principal":{"Service":""},"Action":"*","Resource":"*"`), "Statement[0].Principal.Service", "must not be empty"},
	{st(`"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"*","Resource":"*"`), "Statement[0].NotPrincipal.AWS", `"x" is not a principal`},
	// Action.
	{st(`"Effect":"Allow","Principal":"*","Resource":"*"`), "Statement[0]", `missing "Action" (or "NotAction")`},
	{st(`"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*","Resource":"*"`), "Statement[0]", `has both "Action" and "NotAction"`},
	{st(`"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"`), "Statement[0].Action", "must not be an empty list"},
	{st(`"Effect":"Allow","Principal":"*","Action":7,"Resource":"*"`), "Statement[0].Action", "must be a string or a list of strings, not a number"},
	{st(`"Effect":"Allow","Principal":"*","Action":["*",7],"Resource":"*"`), "Statement[0].Action[1]", "must be a string, not a number"},
	{st(`"Effect":"Allow","Principal":"*","Action":"Invoke","Resource":"*"`), "Statement[0].Action", `"Invoke" is not an action`},
	{st(`"Effect":"Allow","Principal":"*","Action":"","Resource":"*"`), "Statement[0].Action", "must not be empty"},
	{st(`"Effect":"Allow","Principal":"*","NotAction":"vpc-lattice-svcs:","Resource":"*"`), "Statement[0].NotAction", "is not an action"},
	// Resource.
	{st(`"Effect":"Allow","Principal":"*","Action":"*"`), "Statement[0]", `missing "Resource" (or "NotResource")`},
	{st(`"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","NotResource":"*"`), "Statement[0]", `has both "Resource" and "NotResource"`},
	{st(`"Effect":"Allow","Principal":"*","Action":"*","Resource":"svc-0123456789abcdef0/*"`), "Statement[0].Resource", `"svc-0123456789abcdef0/*" is not a resource`},
	{st(`"Effect":"Allow","Principal":"*","Action":"*","Resource":["*","arn:aws:vpc-lattice"]`), "Statement[0].Resource[1]", "is not a resource"},
	{st(`"Effect":"Allow","Principal":"*","Action":"*","Resource":{}`), "Statement[0].Resource", "not an object"},
	{st(`"Effect":"Allow","Principal":"*","Action":"*","NotResource":[]`), "Statement[0].NotResource", "must not be an empty list"},
	{st(`"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:vpc-lattice:us-east-1:111122223333:service/${aws:username"`), "Statement[0].Resource", "unterminated policy variable"},
	// Condition.
	{withCond(`[]`), "Statement[0].Condition", "must be an object, not a list"},
	{`{"Version":"2012-10-17","Statement":[{` + base + `},{` + base + `,"Condition":{"StringEqualz":{"aws:PrincipalOrgID":"o-1"}}}]}`,
		"Statement[1].Condition", `unknown operator "StringEqualz" (did you mean "StringEquals"?)`},
	{withCond(`{"stringequals":{"aws:PrincipalOrgID":"o-1"}}`), "Statement[0].Condition", `unknown operator "stringequals" (did you mean "StringEquals"?)`},
	{withCond(`{"ForAnyValue:StringEqual":{"aws:PrincipalOrgID":"o-1"}}`), "Statement[0].Condition", `(did you mean "ForAnyValue:StringEquals"?)`},
	{withCond(`{"Frobnicate":{"aws:PrincipalOrgID":"o-1"}}`), "Statement[0].Condition", `unknown operator "Frobnicate"`},
	{withCond(`{"ForSomeValues:StringEquals":{"aws:PrincipalOrgID":"o-1"}}`), "Statement[0].Condition", `unknown operator "ForSomeValues:StringEquals"`},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":"o-1"},"StringEquals":{"aws:PrincipalType":"User"}}`), "Statement[0].Condition", `duplicate operator "StringEquals"`},
	{withCond(`{"NullIfExists":{"aws:PrincipalOrgID":"true"}}`), "Statement[0].Condition", "Null takes neither the IfExists suffix"},
	{withCond(`{"ForAllValues:Null":{"aws:PrincipalOrgID":"true"}}`), "Statement[0].Condition", "Null takes neither"},
	{withCond(`{"StringEquals":"o-1"}`), "Statement[0].Condition.StringEquals", "must be an object of condition keys"},
	{withCond(`{"StringEquals":{}}`), "Statement[0].Condition.StringEquals", "has no condition keys"},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":"o-1","aws:principalorgid":"o-2"}}`), "Statement[0].Condition.StringEquals", `condition keys "aws:PrincipalOrgID" and "aws:principalorgid" are the same key`},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":"o-1","aws:PrincipalOrgID":"o-2"}}`), "Statement[0].Condition.StringEquals", `duplicate condition key "aws:PrincipalOrgID"`},
	{withCond(`{"StringEquals":{"aws:PrincipalTag/Team":"a","aws:principaltag/team":"b"}}`), "Statement[0].Condition.StringEquals", "are the same key"},
	{withCond(`{"StringEquals":{"vpc-lattice-svcs:requestmethod":"GET"}}`), "Statement[0].Condition.StringEquals", `unknown condition key "vpc-lattice-svcs:requestmethod" (vpc-lattice-svcs keys are case-sensitive; did you mean "vpc-lattice-svcs:RequestMethod"?)`},
	{withCond(`{"StringEquals":{"vpc-lattice-svcs:requestheader/x-a":"GET"}}`), "Statement[0].Condition.StringEquals", `did you mean "vpc-lattice-svcs:RequestHeader/x-a"?`},
	{withCond(`{"StringEquals":{"PrincipalOrgID":"o-1"}}`), "Statement[0].Condition.StringEquals", `"PrincipalOrgID" is not a condition key`},
	{withCond(`{"StringEquals":{"aws:PrincipalTag/":"x"}}`), "Statement[0].Condition.StringEquals", "names no tag key"},
	{withCond(`{"StringEquals":{"vpc-lattice-svcs:RequestHeader/":"x"}}`), "Statement[0].Condition.StringEquals", "names no header"},
	{withCond(`{"StringEquals":{"vpc-lattice-svcs:RequestQueryString/":"x"}}`), "Statement[0].Condition.StringEquals", "names no query string key"},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":null}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"]`, "not null"},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":{"a":"b"}}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"]`, "not an object"},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":[]}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"]`, "must not be an empty list"},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":["o-1",["o-2"]]}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"][1]`, "not a list"},
	{withCond(`{"NumericLessThan":{"vpc-lattice-svcs:Port":"abc"}}`), `Statement[0].Condition.NumericLessThan["vpc-lattice-svcs:Port"]`, `NumericLessThan value "abc" is not a number`},
	{withCond(`{"NumericEquals":{"vpc-lattice-svcs:Port":["80","0x50"]}}`), `Statement[0].Condition.NumericEquals["vpc-lattice-svcs:Port"][1]`, `"0x50" is not a number`},
	{withCond(`{"NumericEquals":{"vpc-lattice-svcs:Port":"NaN"}}`), `Statement[0].Condition.NumericEquals["vpc-lattice-svcs:Port"]`, "is not a number"},
	{withCond(`{"NumericEquals":{"vpc-lattice-svcs:Port":"1e999"}}`), `Statement[0].Condition.NumericEquals["vpc-lattice-svcs:Port"]`, "is not a number"},
	{withCond(`{"NumericEquals":{"vpc-lattice-svcs:Port":"${aws:EpochTime}"}}`), `Statement[0].Condition.NumericEquals["vpc-lattice-svcs:Port"]`, "is not a number"},
	{withCond(`{"DateLessThan":{"aws:CurrentTime":"yesterday"}}`), `Statement[0].Condition.DateLessThan["aws:CurrentTime"]`, `"yesterday" is not a date`},
	{withCond(`{"DateLessThan":{"aws:CurrentTime":"2026-13-01T00:00:00Z"}}`), `Statement[0].Condition.DateLessThan["aws:CurrentTime"]`, "is not a date"},
	{withCond(`{"DateLessThan":{"aws:CurrentTime":"-5"}}`), `Statement[0].Condition.DateLessThan["aws:CurrentTime"]`, "is not a date"},
	{withCond(`{"Bool":{"aws:SecureTransport":"yes"}}`), `Statement[0].Condition.Bool["aws:SecureTransport"]`, `Bool value "yes" is not "true" or "false"`},
	{withCond(`{"Bool":{"aws:SecureTransport":1}}`), `Statement[0].Condition.Bool["aws:SecureTransport"]`, `Bool value "1" is not`},
	{withCond(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), `Statement[0].Condition.IpAddress["aws:SourceIp"]`, `IpAddress value "10.0.0.0/33" is not an IP address or CIDR block`},
	{withCond(`{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","10.0.0"]}}`), `Statement[0].Condition.NotIpAddress["aws:SourceIp"][1]`, "is not an IP address"},
	{withCond(`{"IpAddress":{"aws:SourceIp":"fe80::1%eth0"}}`), `Statement[0].Condition.IpAddress["aws:SourceIp"]`, "is not an IP address"},
	{withCond(`{"Null":{"aws:PrincipalOrgID":"maybe"}}`), `Statement[0].Condition.Null["aws:PrincipalOrgID"]`, `Null value "maybe"`},
	{withCond(`{"Null":{"aws:PrincipalOrgID":["true","false"]}}`), `Statement[0].Condition.Null["aws:PrincipalOrgID"]`, "Null takes a single value"},
	{withCond(`{"ArnLike":{"aws:PrincipalArn":"not-an-arn"}}`), `Statement[0].Condition.ArnLike["aws:PrincipalArn"]`, `ArnLike value "not-an-arn" is not an ARN`},
	{withCond(`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::role/x"}}`), `Statement[0].Condition.ArnEquals["aws:PrincipalArn"]`, "is not an ARN"},
	// Policy variables.
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":"${aws:PrincipalTag/org"}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"]`, `unterminated policy variable in "${aws:PrincipalTag/org"`},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":"${}"}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"]`, "empty policy variable"},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":"${aws:username, none}"}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"]`, "has a malformed default"},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":"${aws:username, 'a'b'}"}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"]`, "unterminated policy variable"},
	{withCond(`{"StringLike":{"aws:PrincipalOrgID":"${aws:PrincipalOrgPaths}"}}`), `Statement[0].Condition.StringLike["aws:PrincipalOrgID"]`, "multi-valued and cannot be used as a policy variable"},
	{withCond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${vpc-lattice-svcs:sourcevpcowneraccount}:role/x"}}`), `Statement[0].Condition.ArnLike["aws:PrincipalArn"]`, "vpc-lattice-svcs keys are case-sensitive"},
	{withCond(`{"StringEquals":{"aws:PrincipalOrgID":"${username}"}}`), `Statement[0].Condition.StringEquals["aws:PrincipalOrgID"]`, `"username" is not a condition key`},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range badDocs {
		p, err := Parse(tc.doc)
		if err == nil {
			t.Errorf("Parse accepted %s (%d statements)", tc.doc, p.Statements())
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %T %v is not *Error", tc.doc, err, err)
			continue
		}
		if pe.Path != tc.path || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%s:\n got %q\nwant path %q and message containing %q", tc.doc, err, tc.path, tc.msg)
		}
	}
}

func TestParseSizeLimit(t *testing.T) {
	pad := func(n int) string {
		d := `{"Version":"2012-10-17","Id":"","Statement":{` + base + `}}`
		return strings.Replace(d, `"Id":""`, `"Id":"`+strings.Repeat("x", n-len(d))+`"`, 1)
	}
	if d := pad(MaxSize); len(d) != MaxSize {
		t.Fatalf("len %d", len(d))
	} else if _, err := Parse(d); err != nil {
		t.Fatalf("a policy of exactly MaxSize bytes: %v", err)
	}
	_, err := Parse(pad(MaxSize + 1))
	if err == nil || !strings.Contains(err.Error(), "the policy is 10241 bytes long; the maximum is 10240 bytes") {
		t.Fatalf("MaxSize+1: %v", err)
	}
}

// goodDocs are valid policies (also fuzz seeds).
var goodDocs = []string{
	`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`,
	`{"Version":"2008-10-17","Id":"x","Statement":[{"Sid":"","Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:root"]},"NotAction":"vpc-lattice:*","NotResource":["*/public/*"]}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/r/s","Service":["lambda.amazonaws.com"],"Federated":"x","CanonicalUser":"y"},"Action":["vpc-lattice-svcs:Invoke"],"Resource":"arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/admin/*"}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws-cn:iam::111122223333:role/path/to/r"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*","Condition":{}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:federated-user/bob"},"Action":"*","Resource":"${aws:PrincipalTag/x}"}]}`,
	withCond(`{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5","vpc-lattice-svcs:RequestHeader/X-Api-Key":["a","b"]},"StringLike":{"vpc-lattice-svcs:RequestQueryString/v":"1*"}}`),
	withCond(`{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-a1b2c3d4e5/*"},"ForAllValues:StringNotEqualsIfExists":{"aws:PrincipalTag/x":"y"}}`),
	withCond(`{"NumericLessThanEquals":{"vpc-lattice-svcs:Port":[80,"443","8080.5","-1e3"]},"DateGreaterThan":{"aws:CurrentTime":["2026-01-02T15:04:05Z","2026-01-02T15:04:05.123+02:00",1700000000]}}`),
	withCond(`{"Bool":{"aws:SecureTransport":true},"BoolIfExists":{"x:y":"FALSE"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","192.0.2.1","::1"]},"NotIpAddressIfExists":{"aws:SourceIp":"0.0.0.0/0"}}`),
	withCond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/${aws:PrincipalTag/team}-*"},"ArnNotEquals":{"vpc-lattice-svcs:ServiceArn":"arn:aws:vpc-lattice:*:*:service/*"},"Null":{"aws:PrincipalTag/team":false}}`),
	withCond(`{"StringEquals":{"vpc-lattice-svcs:RequestHeader/x-user":["${aws:username}","${aws:PrincipalTag/team, 'none'}","${*}${?}${$}","a${ aws:PrincipalAccount }b"]}}`),
	withCond(`{"StringLike":{"aws:unknown":"${aws:unknown,'d'}","ec2:Whatever":"x"}}`),
	// A statement where ${...} is literal (no Version).
	`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*/${unterminated","Condition":{"StringEquals":{"aws:PrincipalOrgID":"${}"}}}}`,
}

func TestParseGoodDocs(t *testing.T) {
	for _, d := range goodDocs {
		p := mustParse(t, d)
		for _, r := range []*Request{sessionReq(), anonReq(), userReq(), {}} {
			checkExplainAgrees(t, p, r, p.Evaluate(r))
		}
	}
}
