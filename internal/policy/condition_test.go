package policy

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

type condCase struct {
	op, key, val string          // val is JSON
	req          func() *Request // nil: sessionReq
	want         bool
}

func runCondCases(t *testing.T, cases []condCase) {
	t.Helper()
	for _, tc := range cases {
		req := tc.req
		if req == nil {
			req = sessionReq
		}
		cond := `{` + strconv.Quote(tc.op) + `:{` + strconv.Quote(tc.key) + `:` + tc.val + `}}`
		p := mustParse(t, doc(stmt{Condition: cond}))
		if got := p.Evaluate(req()).Allowed(); got != tc.want {
			t.Errorf("%s: got %v, want %v", cond, got, tc.want)
		}
	}
}

func with(f func(r *Request)) func() *Request {
	return func() *Request {
		r := sessionReq()
		f(r)
		return r
	}
}

const missingHeader = "vpc-lattice-svcs:RequestHeader/x-missing"

func TestStringOperators(t *testing.T) {
	m := "vpc-lattice-svcs:RequestMethod"
	runCondCases(t, []condCase{
		{"StringEquals", m, `"GET"`, nil, true},
		{"StringEquals", m, `"POST"`, nil, false},
		{"StringEquals", m, `["POST","GET"]`, nil, true},
		{"StringEquals", m, `"get"`, nil, false},
		{"StringEquals", m, `"GE*"`, nil, false}, // no wildcards
		{"StringEquals", missingHeader, `"x"`, nil, false},
		{"StringEqualsIfExists", m, `"GET"`, nil, true},
		{"StringEqualsIfExists", m, `"POST"`, nil, false},
		{"StringEqualsIfExists", missingHeader, `"x"`, nil, true},
		{"StringNotEquals", m, `"POST"`, nil, true},
		{"StringNotEquals", m, `"GET"`, nil, false},
		{"StringNotEquals", m, `["POST","GET"]`, nil, false},
		{"StringNotEquals", m, `["POST","PUT"]`, nil, true},
		{"StringNotEquals", missingHeader, `"x"`, nil, true},
		{"StringNotEqualsIfExists", m, `"GET"`, nil, false},
		{"StringNotEqualsIfExists", m, `"PUT"`, nil, true},
		{"StringNotEqualsIfExists", missingHeader, `"x"`, nil, true},
		{"StringEqualsIgnoreCase", m, `"get"`, nil, true},
		{"StringEqualsIgnoreCase", m, `"gEt"`, nil, true},
		{"StringEqualsIgnoreCase", m, `"post"`, nil, false},
		{"StringEqualsIgnoreCase", m, `"ge"`, nil, false},
		{"StringEqualsIgnoreCase", "aws:PrincipalTag/team", `"PAYMENTS"`, nil, true},
		{"StringEqualsIgnoreCase", "aws:PrincipalTag/city", `"ÉCOLE"`, with(func(r *Request) { r.PrincipalTags["city"] = "école" }), true},
		{"StringEqualsIgnoreCase", "aws:PrincipalTag/unit", `"k"`, with(func(r *Request) { r.PrincipalTags["unit"] = "\u212a" }), true}, // Kelvin sign
		{"StringEqualsIgnoreCase", missingHeader, `"x"`, nil, false},
		{"StringEqualsIgnoreCaseIfExists", missingHeader, `"x"`, nil, true},
		{"StringEqualsIgnoreCaseIfExists", m, `"put"`, nil, false},
		{"StringNotEqualsIgnoreCase", m, `"get"`, nil, false},
		{"StringNotEqualsIgnoreCase", m, `"put"`, nil, true},
		{"StringNotEqualsIgnoreCase", missingHeader, `"x"`, nil, true},
		{"StringNotEqualsIgnoreCaseIfExists", missingHeader, `"x"`, nil, true},
		{"StringNotEqualsIgnoreCaseIfExists", m, `"GET"`, nil, false},
		{"StringLike", "aws:PrincipalTag/team", `"pay*"`, nil, true},
		{"StringLike", "aws:PrincipalTag/team", `"p?yments"`, nil, true},
		{"StringLike", "aws:PrincipalTag/team", `"*ments"`, nil, true},
		{"StringLike", "aws:PrincipalTag/team", `"*yme*"`, nil, true},
		{"StringLike", "aws:PrincipalTag/team", `"*"`, nil, true},
		{"StringLike", "aws:PrincipalTag/team", `"payments"`, nil, true},
		{"StringLike", "aws:PrincipalTag/team", `"Pay*"`, nil, false},
		{"StringLike", "aws:PrincipalTag/team", `["x*","*s"]`, nil, true},
		{"StringLike", "aws:PrincipalTag/team", `"pay?"`, nil, false},
		{"StringLike", missingHeader, `"*"`, nil, false},
		{"StringLikeIfExists", missingHeader, `"x"`, nil, true},
		{"StringLikeIfExists", m, `"P*"`, nil, false},
		{"StringNotLike", m, `"P*"`, nil, true},
		{"StringNotLike", m, `"G*"`, nil, false},
		{"StringNotLike", m, `["P*","G?T"]`, nil, false},
		{"StringNotLike", missingHeader, `"*"`, nil, true},
		{"StringNotLikeIfExists", missingHeader, `"*"`, nil, true},
		{"StringNotLikeIfExists", m, `"*"`, nil, false},
		// String operators on non-string keys use the text form.
		{"StringEquals", "vpc-lattice-svcs:Port", `"443"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:Port", `443`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:Port", `"0443"`, nil, false},
		{"StringLike", "vpc-lattice-svcs:Port", `"4*"`, nil, true},
		{"StringEquals", "aws:SecureTransport", `"true"`, nil, true},
		{"StringEquals", "aws:SourceIp", `"10.0.1.23"`, nil, true},
		{"StringLike", "aws:CurrentTime", `"2026-03-01T*"`, nil, true},
		{"StringEquals", "aws:EpochTime", `"1772366400"`, nil, true},
	})
}

func TestNumericOperators(t *testing.T) {
	p := "vpc-lattice-svcs:Port"
	noPort := with(func(r *Request) { r.Port = 0 })
	runCondCases(t, []condCase{
		{"NumericEquals", p, `"443"`, nil, true},
		{"NumericEquals", p, `443`, nil, true},
		{"NumericEquals", p, `"443.0"`, nil, true},
		{"NumericEquals", p, `"4.43e2"`, nil, true},
		{"NumericEquals", p, `"80"`, nil, false},
		{"NumericEquals", p, `["80","443"]`, nil, true},
		{"NumericEquals", p, `"443"`, noPort, false},
		{"NumericEqualsIfExists", p, `"80"`, noPort, true},
		{"NumericEqualsIfExists", p, `"80"`, nil, false},
		{"NumericNotEquals", p, `"80"`, nil, true},
		{"NumericNotEquals", p, `"443"`, nil, false},
		{"NumericNotEquals", p, `["80","443"]`, nil, false},
		{"NumericNotEquals", p, `"443"`, noPort, true},
		{"NumericNotEqualsIfExists", p, `"443"`, noPort, true},
		{"NumericNotEqualsIfExists", p, `"443"`, nil, false},
		{"NumericLessThan", p, `"1024"`, nil, true},
		{"NumericLessThan", p, `"443"`, nil, false},
		{"NumericLessThan", p, `"-1"`, nil, false},
		{"NumericLessThan", p, `"1024"`, noPort, false},
		{"NumericLessThanIfExists", p, `"1"`, noPort, true},
		{"NumericLessThanIfExists", p, `"1"`, nil, false},
		{"NumericLessThanEquals", p, `"443"`, nil, true},
		{"NumericLessThanEquals", p, `"442"`, nil, false},
		{"NumericLessThanEqualsIfExists", p, `"1"`, noPort, true},
		{"NumericLessThanEqualsIfExists", p, `"442"`, nil, false},
		{"NumericGreaterThan", p, `"442"`, nil, true},
		{"NumericGreaterThan", p, `"443"`, nil, false},
		{"NumericGreaterThan", p, `["1000","400"]`, nil, true},
		{"NumericGreaterThanIfExists", p, `"99999"`, noPort, true},
		{"NumericGreaterThanIfExists", p, `"443"`, nil, false},
		{"NumericGreaterThanEquals", p, `"443"`, nil, true},
		{"NumericGreaterThanEquals", p, `"444"`, nil, false},
		{"NumericGreaterThanEqualsIfExists", p, `"99999"`, noPort, true},
		{"NumericGreaterThanEqualsIfExists", p, `"444"`, nil, false},
		// Header values are converted; unconvertible ones match nothing.
		{"NumericLessThan", "vpc-lattice-svcs:RequestHeader/x-count", `"10"`, nil, true},
		{"NumericGreaterThan", "vpc-lattice-svcs:RequestHeader/x-count", `10`, nil, false},
		{"NumericLessThan", "vpc-lattice-svcs:RequestHeader/x-bad", `"10"`, nil, false},
		{"NumericNotEquals", "vpc-lattice-svcs:RequestHeader/x-bad", `"10"`, nil, true},
		{"NumericEquals", "aws:SecureTransport", `"1"`, nil, false},
		{"NumericGreaterThan", "aws:EpochTime", `"1772366399"`, nil, true},
		{"NumericLessThan", "aws:EpochTime", `1772366400`, nil, false},
	})
}

func TestDateOperators(t *testing.T) {
	ct := "aws:CurrentTime"
	h := "vpc-lattice-svcs:RequestHeader/x-date"
	withDate := with(func(r *Request) { r.Header.Set("X-Date", "2026-03-01T11:00:00Z") })
	runCondCases(t, []condCase{
		{"DateEquals", ct, `"2026-03-01T12:00:00Z"`, nil, true},
		{"DateEquals", ct, `"2026-03-01T13:00:00+01:00"`, nil, true},
		{"DateEquals", ct, `"1772366400"`, nil, true},
		{"DateEquals", ct, `1772366400`, nil, true},
		{"DateEquals", ct, `"2026-03-01T12:00:01Z"`, nil, false},
		{"DateEquals", ct, `"2026-03-01T12:00:00Z"`, with(func(r *Request) { r.CurrentTime = testTime.Add(400 * time.Millisecond) }), true}, // request time in seconds
		{"DateEquals", h, `"2026-03-01T11:00:00Z"`, nil, false},
		{"DateEqualsIfExists", h, `"2000-01-01T00:00:00Z"`, nil, true},
		{"DateEqualsIfExists", ct, `"2000-01-01T00:00:00Z"`, nil, false},
		{"DateNotEquals", ct, `"2026-03-01T12:00:00Z"`, nil, false},
		{"DateNotEquals", ct, `"2000-01-01T00:00:00Z"`, nil, true},
		{"DateNotEquals", h, `"2000-01-01T00:00:00Z"`, nil, true},
		{"DateNotEqualsIfExists", h, `"2000-01-01T00:00:00Z"`, nil, true},
		{"DateNotEqualsIfExists", ct, `"1772366400"`, nil, false},
		{"DateLessThan", ct, `"2027-01-01T00:00:00Z"`, nil, true},
		{"DateLessThan", ct, `"2026-03-01T12:00:00Z"`, nil, false},
		{"DateLessThan", ct, `"2026-03-01T12:00:00.5Z"`, nil, true},
		{"DateLessThan", h, `"2026-03-01T11:30:00Z"`, withDate, true},
		{"DateLessThan", h, `"2026-03-01T11:30:00Z"`, nil, false},
		{"DateLessThanIfExists", h, `"2000-01-01T00:00:00Z"`, nil, true},
		{"DateLessThanIfExists", h, `"2000-01-01T00:00:00Z"`, withDate, false},
		{"DateLessThanEquals", ct, `"2026-03-01T12:00:00Z"`, nil, true},
		{"DateLessThanEquals", ct, `"2026-03-01T11:59:59Z"`, nil, false},
		{"DateLessThanEqualsIfExists", h, `"2000-01-01T00:00:00Z"`, nil, true},
		{"DateLessThanEqualsIfExists", ct, `"2000-01-01T00:00:00Z"`, nil, false},
		{"DateGreaterThan", ct, `"2026-01-01T00:00:00Z"`, nil, true},
		{"DateGreaterThan", ct, `"2026-03-01T12:00:00Z"`, nil, false},
		{"DateGreaterThanIfExists", h, `"2099-01-01T00:00:00Z"`, nil, true},
		{"DateGreaterThanIfExists", ct, `"2099-01-01T00:00:00Z"`, nil, false},
		{"DateGreaterThanEquals", ct, `"2026-03-01T12:00:00Z"`, nil, true},
		{"DateGreaterThanEquals", ct, `"2026-03-01T12:00:01Z"`, nil, false},
		{"DateGreaterThanEqualsIfExists", h, `"2099-01-01T00:00:00Z"`, nil, true},
		{"DateGreaterThanEqualsIfExists", ct, `"2099-01-01T00:00:00Z"`, nil, false},
		{"DateGreaterThan", "aws:EpochTime", `"2026-03-01T11:59:59Z"`, nil, true},
		{"DateLessThan", "aws:EpochTime", `"1772366401"`, nil, true},
		{"DateLessThan", "vpc-lattice-svcs:RequestHeader/x-bad", `"2099-01-01T00:00:00Z"`, nil, false},
	})
}

func TestCurrentTimeDefaultsToNow(t *testing.T) {
	p := mustParse(t, doc(stmt{Condition: `{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2200-01-01T00:00:00Z"}}`}))
	r := sessionReq()
	r.CurrentTime = time.Time{}
	if !p.Evaluate(r).Allowed() {
		t.Fatal("zero CurrentTime is not now")
	}
}

func TestBoolOperator(t *testing.T) {
	st := "aws:SecureTransport"
	plain := with(func(r *Request) { r.SecureTransport = false })
	flag := "vpc-lattice-svcs:RequestHeader/x-flag"
	runCondCases(t, []condCase{
		{"Bool", st, `"true"`, nil, true},
		{"Bool", st, `true`, nil, true},
		{"Bool", st, `"True"`, nil, true},
		{"Bool", st, `"false"`, nil, false},
		{"Bool", st, `false`, plain, true},
		{"Bool", st, `"true"`, plain, false},
		{"Bool", st, `["false","true"]`, plain, true},
		{"Bool", flag, `"true"`, nil, true}, // header "TRUE"
		{"Bool", "vpc-lattice-svcs:RequestHeader/x-bad", `"true"`, nil, false},
		{"Bool", "vpc-lattice-svcs:RequestHeader/x-bad", `"false"`, nil, false},
		{"Bool", missingHeader, `"false"`, nil, false},
		{"BoolIfExists", missingHeader, `"false"`, nil, true},
		{"BoolIfExists", st, `"false"`, nil, false},
		{"BoolIfExists", st, `"true"`, nil, true},
	})
}

func TestIPOperators(t *testing.T) {
	ip := "aws:SourceIp"
	noIP := with(func(r *Request) { r.SourceIP = netip.Addr{} })
	v6 := with(func(r *Request) { r.SourceIP = netip.MustParseAddr("2001:db8::1") })
	mapped := with(func(r *Request) { r.SourceIP = netip.MustParseAddr("::ffff:10.0.1.23") })
	runCondCases(t, []condCase{
		{"IpAddress", ip, `"10.0.0.0/8"`, nil, true},
		{"IpAddress", ip, `"10.0.1.0/24"`, nil, true},
		{"IpAddress", ip, `"10.0.1.23"`, nil, true},
		{"IpAddress", ip, `"10.0.1.23/32"`, nil, true},
		{"IpAddress", ip, `"10.0.1.1/8"`, nil, true}, // host bits ignored
		{"IpAddress", ip, `"192.168.0.0/16"`, nil, false},
		{"IpAddress", ip, `["192.168.0.0/16","10.0.0.0/16"]`, nil, true},
		{"IpAddress", ip, `"0.0.0.0/0"`, nil, true},
		{"IpAddress", ip, `"::/0"`, nil, false},
		{"IpAddress", ip, `"2001:db8::/32"`, v6, true},
		{"IpAddress", ip, `"10.0.0.0/8"`, v6, false},
		{"IpAddress", ip, `"10.0.0.0/8"`, mapped, true},
		{"IpAddress", ip, `"::ffff:10.0.0.0/104"`, nil, true},
		{"IpAddress", ip, `"10.0.0.0/8"`, noIP, false},
		{"IpAddressIfExists", ip, `"10.0.0.0/8"`, noIP, true},
		{"IpAddressIfExists", ip, `"192.168.0.0/16"`, nil, false},
		{"NotIpAddress", ip, `"192.168.0.0/16"`, nil, true},
		{"NotIpAddress", ip, `"10.0.0.0/8"`, nil, false},
		{"NotIpAddress", ip, `["192.168.0.0/16","10.0.0.0/8"]`, nil, false},
		{"NotIpAddress", ip, `"10.0.0.0/8"`, noIP, true},
		{"NotIpAddressIfExists", ip, `"10.0.0.0/8"`, noIP, true},
		{"NotIpAddressIfExists", ip, `"10.0.0.0/8"`, nil, false},
		{"IpAddress", "vpc-lattice-svcs:RequestHeader/x-forwarded-for", `"203.0.113.0/24"`,
			with(func(r *Request) { r.Header.Set("X-Forwarded-For", "203.0.113.9") }), true},
		{"IpAddress", "vpc-lattice-svcs:RequestHeader/x-bad", `"0.0.0.0/0"`, nil, false},
	})
}

func TestArnOperators(t *testing.T) {
	sa := "vpc-lattice-svcs:ServiceArn"
	pa := "aws:PrincipalArn"
	noSvc := with(func(r *Request) { r.ServiceARN = "" })
	notARN := with(func(r *Request) { r.ServiceARN = "svc-0123456789abcdef0" })
	bucket := with(func(r *Request) { r.ServiceARN = "arn:aws:s3:::bucket:x" })
	runCondCases(t, []condCase{
		{"ArnEquals", sa, `"` + svcARN + `"`, nil, true},
		{"ArnEquals", sa, `"arn:aws:vpc-lattice:us-east-1:111122223333:service/*"`, nil, true},
		{"ArnEquals", sa, `"arn:aws:vpc-lattice:us-east-1:444455556666:service/*"`, nil, false},
		{"ArnEquals", sa, `"` + svcARN + `"`, noSvc, false},
		{"ArnEquals", sa, `"` + svcARN + `"`, notARN, false},
		{"ArnEqualsIfExists", sa, `"arn:aws:x:::y"`, noSvc, true},
		{"ArnEqualsIfExists", sa, `"arn:aws:x:::y"`, nil, false},
		{"ArnLike", sa, `"arn:aws:vpc-lattice:*:*:service/svc-0123456789abcdef0"`, nil, true},
		{"ArnLike", sa, `"arn:aws:vpc-lattice:us-*:111122223333:*"`, nil, true},
		{"ArnLike", sa, `"arn:aws:vpc-lattice:us-east-?:111122223333:*"`, nil, true},
		{"ArnLike", sa, `"arn:aws:vpc-lattice:eu-*:111122223333:*"`, nil, false},
		{"ArnLike", sa, `"arn:aws:*:*:*:x"`, bucket, false},      // a field wildcard does not cross ':'
		{"StringLike", sa, `"arn:aws:*:*:*:x"`, bucket, true},    // StringLike does
		{"ArnLike", sa, `"arn:aws:s3:::bucket:*"`, bucket, true}, // the last field keeps its colons
		{"ArnLike", pa, `"arn:aws:sts::111122223333:assumed-role/client/*"`, nil, true},
		{"ArnLike", pa, `"arn:aws:iam::111122223333:role/*"`, nil, false},
		{"ArnLike", pa, `"arn:aws:iam::*:user/*"`, userReq, true},
		{"ArnLike", pa, `"arn:aws:iam::*:*"`, anonReq, false},
		{"ArnLikeIfExists", pa, `"arn:aws:iam::*:*"`, anonReq, true},
		{"ArnLikeIfExists", pa, `"arn:aws:iam::*:*"`, nil, false},
		{"ArnNotEquals", sa, `"` + svcARN + `"`, nil, false},
		{"ArnNotEquals", sa, `"arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-1"`, nil, true},
		{"ArnNotEquals", sa, `"` + svcARN + `"`, noSvc, true},
		{"ArnNotEqualsIfExists", sa, `"` + svcARN + `"`, noSvc, true},
		{"ArnNotEqualsIfExists", sa, `"` + svcARN + `"`, nil, false},
		{"ArnNotLike", sa, `"arn:aws:vpc-lattice:*:444455556666:*"`, nil, true},
		{"ArnNotLike", sa, `"arn:aws:vpc-lattice:*:111122223333:*"`, nil, false},
		{"ArnNotLike", sa, `"arn:*:*:*:*:*"`, notARN, true},
		{"ArnNotLikeIfExists", sa, `"arn:*:*:*:*:*"`, noSvc, true},
		{"ArnNotLikeIfExists", sa, `"arn:*:*:*:*:*"`, nil, false},
	})
}

func TestNullOperator(t *testing.T) {
	runCondCases(t, []condCase{
		{"Null", "aws:PrincipalTag/missing", `"true"`, nil, true},
		{"Null", "aws:PrincipalTag/missing", `true`, nil, true},
		{"Null", "aws:PrincipalTag/missing", `"false"`, nil, false},
		{"Null", "aws:PrincipalTag/team", `"false"`, nil, true},
		{"Null", "aws:PrincipalTag/team", `"TRUE"`, nil, false},
		{"Null", "aws:PrincipalArn", `"true"`, anonReq, true},
		{"Null", "aws:PrincipalArn", `"false"`, nil, true},
		{"Null", "aws:ResourceTag/owner", `"true"`, nil, true}, // unknown keys are missing
		{"Null", "vpc-lattice-svcs:RequestQueryString/flag", `"false"`, nil, true},
		{"Null", "vpc-lattice-svcs:RequestQueryString/nope", `"true"`, nil, true},
	})
}

func TestSetOperators(t *testing.T) {
	tag := "vpc-lattice-svcs:RequestHeader/x-tag" // values a, b
	q := "vpc-lattice-svcs:RequestQueryString/tag"
	paths := "aws:PrincipalOrgPaths"
	runCondCases(t, []condCase{
		{"ForAnyValue:StringEquals", tag, `"b"`, nil, true},
		{"ForAnyValue:StringEquals", tag, `["c","a"]`, nil, true},
		{"ForAnyValue:StringEquals", tag, `"c"`, nil, false},
		{"ForAnyValue:StringEquals", missingHeader, `"c"`, nil, false},
		{"ForAnyValue:StringEqualsIfExists", missingHeader, `"c"`, nil, true},
		{"ForAnyValue:StringNotEquals", tag, `"a"`, nil, true}, // b is not a
		{"ForAnyValue:StringNotEquals", tag, `["a","b"]`, nil, false},
		{"ForAnyValue:StringNotEquals", missingHeader, `"a"`, nil, false},
		{"ForAllValues:StringEquals", tag, `["a","b","c"]`, nil, true},
		{"ForAllValues:StringEquals", tag, `"a"`, nil, false},
		{"ForAllValues:StringEquals", missingHeader, `"a"`, nil, true},
		{"ForAllValues:StringNotEquals", tag, `"c"`, nil, true},
		{"ForAllValues:StringNotEquals", tag, `"a"`, nil, false},
		{"ForAllValues:StringNotEquals", missingHeader, `"a"`, nil, true},
		{"ForAllValues:StringLike", q, `["a","b"]`, nil, true},
		{"ForAllValues:StringLike", q, `"a*"`, nil, false},
		{"ForAnyValue:StringLike", q, `"b*"`, nil, true},
		{"ForAnyValue:StringLike", paths, `"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"`, nil, true},
		{"ForAnyValue:StringLike", paths, `"o-a1b2c3d4e5/r-ab12/ou-ab12-22222222/*"`, nil, false},
		{"ForAllValues:StringLike", paths, `"o-a1b2c3d4e5/*"`, nil, true},
		{"ForAllValues:StringLike", paths, `"o-a1b2c3d4e5/*"`, anonReq, true}, // missing: vacuously true
		{"ForAnyValue:StringLike", paths, `"*"`, anonReq, false},
		{"ForAnyValue:NumericLessThan", "vpc-lattice-svcs:RequestHeader/x-count", `"6"`, nil, true},
		{"ForAllValues:NumericLessThanIfExists", "vpc-lattice-svcs:Port", `"1"`, with(func(r *Request) { r.Port = 0 }), true},
		// Multi-valued keys without a set operator.
		{"StringEquals", tag, `"b"`, nil, true},
		{"StringEquals", tag, `"c"`, nil, false},
		{"StringNotEquals", tag, `"b"`, nil, false},
		{"StringNotEquals", tag, `"c"`, nil, true},
	})
}

func TestConditionKeys(t *testing.T) {
	anonPlain := func() *Request {
		return &Request{Anonymous: true, Action: "vpc-lattice-svcs:Invoke", Resource: svcARN + "/"}
	}
	runCondCases(t, []condCase{
		{"StringEquals", "aws:PrincipalArn", `"` + sessionARN + `"`, nil, true},
		{"StringEquals", "AWS:principalarn", `"` + sessionARN + `"`, nil, true}, // aws: keys are case-insensitive
		{"StringEquals", "aws:PrincipalArn", `"` + sessionARN + `"`, anonReq, false},
		{"StringEquals", "aws:PrincipalAccount", `"` + acct + `"`, nil, true},
		{"StringEquals", "aws:PrincipalAccount", `"` + acct + `"`, with(func(r *Request) { r.PrincipalAccount = "" }), true},
		{"StringEquals", "aws:PrincipalAccount", `"` + other + `"`, otherReq, true},
		{"StringEquals", "aws:PrincipalAccount", `"` + acct + `"`, anonReq, false},
		{"StringEquals", "aws:PrincipalOrgID", `"` + orgID + `"`, nil, true},
		{"StringEquals", "aws:principalorgid", `"` + orgID + `"`, nil, true},
		{"StringEquals", "aws:PrincipalOrgID", `"` + orgID + `"`, otherReq, false},
		{"StringEquals", "aws:PrincipalOrgID", `"` + orgID + `"`, anonReq, false},
		{"StringEquals", "aws:PrincipalOrgPaths", `"` + orgPath + `"`, nil, true},
		{"StringEquals", "aws:PrincipalOrgPaths", `"` + orgPath + `"`, anonReq, false},
		{"StringEquals", "aws:PrincipalTag/team", `"payments"`, nil, true},
		{"StringEquals", "aws:PrincipalTag/Team", `"payments"`, nil, true}, // tag keys are case-insensitive
		{"StringEquals", "aws:PrincipalTag/env", `"prod"`, nil, true},
		{"StringEquals", "aws:PrincipalTag/team", `"payments"`, anonReq, false},
		{"StringEquals", "aws:PrincipalTag/team", `"payments"`, otherReq, false},
		{"StringEquals", "aws:PrincipalType", `"AssumedRole"`, nil, true},
		{"StringEquals", "aws:PrincipalType", `"User"`, userReq, true},
		{"StringEquals", "aws:PrincipalType", `"Account"`, rootReq, true},
		{"StringEquals", "aws:PrincipalType", `"Anonymous"`, anonReq, true},
		{"StringEquals", "aws:PrincipalType", `"Anonymous"`, anonPlain, true},
		{"StringEquals", "aws:SourceIp", `"10.0.1.23"`, nil, true},
		{"IpAddress", "aws:sourceip", `"10.0.0.0/8"`, anonPlain, false},
		{"Bool", "aws:SecureTransport", `"false"`, anonPlain, true},
		{"DateGreaterThan", "aws:CurrentTime", `"2026-01-01T00:00:00Z"`, nil, true},
		{"NumericEquals", "aws:EpochTime", `"1772366400"`, nil, true},
		{"StringEquals", "aws:username", `"alice"`, userReq, true},
		{"StringEquals", "aws:username", `"alice"`, nil, false},
		{"StringEquals", "aws:username", `"alice"`, func() *Request { r := userReq(); r.Anonymous = true; return r }, false},
		{"NumericEquals", "vpc-lattice-svcs:Port", `"443"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:RequestMethod", `"GET"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:RequestMethod", `"GET"`, anonReq, true}, // available to anonymous callers
		{"StringEquals", "vpc-lattice-svcs:RequestHeader/x-team", `"payments"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:RequestHeader/X-TEAM", `"payments"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:RequestHeader/x-team", `"payments"`,
			with(func(r *Request) { r.Header = http.Header{"x-team": {"payments"}} }), true}, // non-canonical map key
		{"StringEquals", "vpc-lattice-svcs:RequestHeader/x-team", `"payments"`, with(func(r *Request) { r.Header = nil }), false},
		{"StringEquals", "vpc-lattice-svcs:RequestHeader/x-empty", `""`, with(func(r *Request) { r.Header.Set("X-Empty", "") }), true},
		{"StringEquals", "vpc-lattice-svcs:RequestQueryString/version", `"2"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:RequestQueryString/q", `"hello world"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:RequestQueryString/a b", `"c d"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:RequestQueryString/flag", `""`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:RequestQueryString/Version", `"2"`, nil, false}, // query keys are case-sensitive
		{"StringEquals", "vpc-lattice-svcs:RequestQueryString/version", `"2"`, with(func(r *Request) { r.RawQuery = "version=%zz&x=1" }), false},
		{"StringEquals", "vpc-lattice-svcs:RequestQueryString/version", `"2"`, with(func(r *Request) { r.RawQuery = "&&version=2&" }), true},
		{"StringEquals", "vpc-lattice-svcs:ServiceNetworkArn", `"` + snARN + `"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:ServiceArn", `"` + svcARN + `"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:SourceVpc", `"vpc-0abc1234def567890"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:SourceVpcOwnerAccount", `"` + other + `"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:SourceVpcOwnerAccount", `"` + other + `"`, anonReq, true},
		// Unknown keys are missing.
		{"StringEquals", "aws:ResourceTag/owner", `"x"`, nil, false},
		{"StringNotEquals", "aws:ResourceTag/owner", `"x"`, nil, true},
		{"StringEquals", "vpc-lattice-svcs:SourceVpcArn", `"x"`, nil, false},
		{"StringEquals", "ec2:Region", `"us-east-1"`, nil, false},
	})
}

// TestEveryOperatorParses checks the operator table: each base operator,
// its IfExists form and both set prefixes parse; Null takes neither.
func TestEveryOperatorParses(t *testing.T) {
	values := map[family]string{famString: `"x"`, famNumeric: `"1"`, famDate: `"1"`, famBool: `"true"`, famIP: `"10.0.0.0/8"`, famArn: `"arn:aws:s3:::b"`, famNull: `"true"`}
	if len(baseOps) != 26 {
		t.Fatalf("%d base operators", len(baseOps))
	}
	for name, op := range baseOps {
		for _, form := range []string{name, name + "IfExists", "ForAnyValue:" + name, "ForAllValues:" + name + "IfExists"} {
			d := doc(stmt{Condition: `{"` + form + `":{"aws:PrincipalTag/x":` + values[op.fam] + `}}`})
			_, err := Parse(d)
			if wantErr := op.fam == famNull && form != name; (err != nil) != wantErr {
				t.Errorf("%s: %v", form, err)
			}
		}
	}
}
