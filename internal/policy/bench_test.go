package policy

import "testing"

// benchPolicyA: allow the account's principals on the service, deny
// non-read methods under /admin/.
const benchPolicyA = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowAccount",
      "Effect": "Allow",
      "Principal": {"AWS": "111122223333"},
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/*"
    },
    {
      "Sid": "ReadOnlyAdmin",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "*/admin/*",
      "Condition": {"StringNotEquals": {"vpc-lattice-svcs:RequestMethod": ["GET", "HEAD"]}}
    }
  ]
}`

// benchPolicyB: the organisation's principals, each team under its own
// path (a tag variable), no anonymous callers.
const benchPolicyB = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "TeamPaths",
      "Effect": "Allow",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/${aws:PrincipalTag/team}/*",
      "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    },
    {
      "Sid": "NoAnonymous",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "vpc-lattice-svcs:Invoke",
      "Resource": "*",
      "Condition": {"StringEqualsIgnoreCase": {"aws:PrincipalType": "Anonymous"}}
    }
  ]
}`

type benchCase struct {
	name   string
	policy string
	req    func() *Request
	want   Decision
}

func benchCases() []benchCase {
	post := func() *Request { r := sessionReq(); r.Method = "POST"; return r }
	team := func() *Request { r := sessionReq(); r.Resource = svcARN + "/payments/invoices/42"; return r }
	return []benchCase{
		{"A/allow", benchPolicyA, sessionReq, Decision{Allow, 0, "AllowAccount"}},
		{"A/deny", benchPolicyA, post, Decision{Deny, 1, "ReadOnlyAdmin"}},
		{"A/nomatch", benchPolicyA, otherReq, Decision{NoMatch, -1, ""}},
		{"B/allow", benchPolicyB, team, Decision{Allow, 0, "TeamPaths"}},
		{"B/nomatch", benchPolicyB, sessionReq, Decision{NoMatch, -1, ""}},
		{"B/deny-anonymous", benchPolicyB, anonReq, Decision{Deny, 1, "NoAnonymous"}},
	}
}

func BenchmarkEvaluate(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			p := mustParse(b, c.policy)
			r := c.req()
			if d := p.Evaluate(r); d != c.want {
				b.Fatalf("%+v, want %+v", d, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				p.Evaluate(r)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchPolicyA); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEvaluateAllocs keeps the common paths allocation-free.
func TestEvaluateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	cases := benchCases()
	extra := []struct{ name, doc string }{
		{"every string op", withCond(`{"StringLike":{"vpc-lattice-svcs:RequestHeader/x-team":"pay*"},"StringEqualsIgnoreCase":{"vpc-lattice-svcs:RequestMethod":"get"},"StringNotLike":{"aws:PrincipalOrgPaths":"o-x/*"}}`)},
		{"numbers, dates, ips, bool", withCond(`{"NumericEquals":{"vpc-lattice-svcs:Port":443},"DateLessThan":{"aws:CurrentTime":"2099-01-01T00:00:00Z"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":true}}`)},
		{"arn", withCond(`{"ArnLike":{"vpc-lattice-svcs:ServiceNetworkArn":"arn:aws:vpc-lattice:*:111122223333:servicenetwork/*"}}`)},
		{"set ops", withCond(`{"ForAllValues:StringEquals":{"vpc-lattice-svcs:RequestHeader/x-tag":["a","b"]},"ForAnyValue:StringLike":{"vpc-lattice-svcs:RequestQueryString/tag":"b"}}`)},
		{"string op on port", withCond(`{"StringEquals":{"vpc-lattice-svcs:Port":"443"}}`)},
		{"variables", withCond(`{"StringEquals":{"vpc-lattice-svcs:RequestHeader/x-team":"${aws:PrincipalTag/team}"},"ArnLike":{"vpc-lattice-svcs:ServiceArn":"arn:aws:vpc-lattice:*:${aws:PrincipalAccount}:service/*"},"StringLike":{"vpc-lattice-svcs:RequestQueryString/version":"${aws:PrincipalTag/nope, '2'}*"}}`)},
	}
	for _, e := range extra {
		cases = append(cases, benchCase{name: e.name, policy: e.doc, req: sessionReq, want: Decision{Allow, 0, ""}})
	}
	for _, c := range cases {
		p := mustParse(t, c.policy)
		r := c.req()
		d := p.Evaluate(r)
		if d != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, d, c.want)
		}
		if n := testing.AllocsPerRun(100, func() { p.Evaluate(r) }); n != 0 {
			t.Errorf("%s: %.1f allocs per Evaluate", c.name, n)
		}
	}
}
