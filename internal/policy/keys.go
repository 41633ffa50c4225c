package policy

import (
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// keyID identifies a supported condition key.
type keyID uint8

const (
	keyUnknown keyID = iota // any other key: always missing
	keyPrincipalArn
	keyPrincipalAccount
	keyPrincipalOrgID
	keyPrincipalOrgPaths
	keyPrincipalTag
	keyPrincipalType
	keySourceIP
	keySecureTransport
	keyCurrentTime
	keyEpochTime
	keyUsername
	keyPort
	keyRequestMethod
	keyRequestHeader
	keyRequestQuery
	keyServiceNetworkArn
	keyServiceArn
	keySourceVpc
	keySourceVpcOwnerAccount
)

// keyRef is a resolved condition key: which key, and its parameter for the
// keys that take one (tag key, header name, query string key).
type keyRef struct {
	id    keyID
	param string // PrincipalTag: tag key; RequestHeader: canonical header name; RequestQueryString: key
	name  string // as written in the policy
}

// multiValued reports whether the key can have several values in one
// request (so it cannot be a policy variable).
func (k keyID) multiValued() bool { return k == keyPrincipalOrgPaths }

// Global keys (aws:*) are matched case-insensitively; the names below are
// the documented spellings.
var awsKeys = []struct {
	name string
	id   keyID
}{
	{"aws:PrincipalArn", keyPrincipalArn},
	{"aws:PrincipalAccount", keyPrincipalAccount},
	{"aws:PrincipalOrgID", keyPrincipalOrgID},
	{"aws:PrincipalOrgPaths", keyPrincipalOrgPaths},
	{"aws:PrincipalType", keyPrincipalType},
	{"aws:SourceIp", keySourceIP},
	{"aws:SecureTransport", keySecureTransport},
	{"aws:CurrentTime", keyCurrentTime},
	{"aws:EpochTime", keyEpochTime},
	{"aws:username", keyUsername},
}

const (
	awsTagPrefix     = "aws:PrincipalTag/"
	latticePrefix    = "vpc-lattice-svcs:"
	latticeHeaderKey = "vpc-lattice-svcs:RequestHeader/"
	latticeQueryKey  = "vpc-lattice-svcs:RequestQueryString/"
)

// vpc-lattice-svcs keys are case-sensitive (reference §7.3).
var latticeKeys = []struct {
	name string
	id   keyID
}{
	{"vpc-lattice-svcs:Port", keyPort},
	{"vpc-lattice-svcs:RequestMethod", keyRequestMethod},
	{"vpc-lattice-svcs:ServiceNetworkArn", keyServiceNetworkArn},
	{"vpc-lattice-svcs:ServiceArn", keyServiceArn},
	{"vpc-lattice-svcs:SourceVpc", keySourceVpc},
	{"vpc-lattice-svcs:SourceVpcOwnerAccount", keySourceVpcOwnerAccount},
}

// resolveKey resolves a condition key name. Unknown keys are accepted (they
// are missing at evaluation, as in IAM); the error cases are malformed names
// and case variants of the case-sensitive vpc-lattice-svcs keys, which would
// otherwise silently never match.
func resolveKey(name string) (keyRef, string) {
	k := keyRef{name: name}
	prefix, rest, ok := strings.Cut(name, ":")
	if !ok || prefix == "" || rest == "" {
		return k, strconv.Quote(name) + ` is not a condition key (expected "prefix:name", e.g. "aws:PrincipalOrgID")`
	}
	if strings.EqualFold(prefix, "aws") {
		for _, a := range awsKeys {
			if strings.EqualFold(name, a.name) {
				k.id = a.id
				return k, ""
			}
		}
		if len(name) >= len(awsTagPrefix) && strings.EqualFold(name[:len(awsTagPrefix)], awsTagPrefix) {
			k.id, k.param = keyPrincipalTag, name[len(awsTagPrefix):]
			if k.param == "" {
				return k, strconv.Quote(name) + " names no tag key"
			}
		}
		return k, ""
	}
	for _, l := range latticeKeys {
		if name == l.name {
			k.id = l.id
			return k, ""
		}
		if strings.EqualFold(name, l.name) {
			return k, caseVariant(name, l.name)
		}
	}
	for _, p := range []struct {
		prefix string
		id     keyID
		what   string
	}{{latticeHeaderKey, keyRequestHeader, "header"}, {latticeQueryKey, keyRequestQuery, "query string key"}} {
		if len(name) < len(p.prefix) || !strings.EqualFold(name[:len(p.prefix)], p.prefix) {
			continue
		}
		if name[:len(p.prefix)] != p.prefix {
			return k, caseVariant(name, p.prefix+name[len(p.prefix):])
		}
		k.id, k.param = p.id, name[len(p.prefix):]
		if k.param == "" {
			return k, strconv.Quote(name) + " names no " + p.what
		}
		if p.id == keyRequestHeader {
			k.param = textproto.CanonicalMIMEHeaderKey(k.param)
		}
		return k, ""
	}
	return k, ""
}

func caseVariant(got, want string) string {
	return "unknown condition key " + strconv.Quote(got) + " (vpc-lattice-svcs keys are case-sensitive; did you mean " + strconv.Quote(want) + "?)"
}

// canonicalKey is the identity of a condition key for duplicate detection.
func canonicalKey(k keyRef) string {
	switch {
	case k.id == keyPrincipalTag:
		return "aws:principaltag/" + strings.ToLower(k.param)
	case k.id == keyRequestHeader:
		return latticeHeaderKey + k.param
	case k.id != keyUnknown:
		return strconv.Itoa(int(k.id))
	case len(k.name) >= 4 && strings.EqualFold(k.name[:4], "aws:"):
		return strings.ToLower(k.name)
	}
	return k.name
}

// rvKind is the type of a request value.
type rvKind uint8

const (
	rvStr  rvKind = iota
	rvInt         // i
	rvTime        // i: Unix seconds
	rvIP          // ip
	rvBool        // b
)

// rval is one value of a condition key in a request.
type rval struct {
	s  string
	ip netip.Addr
	i  int64
	k  rvKind
	b  bool
}

// evalCtx carries per-evaluation state; it lives on Evaluate's stack.
type evalCtx struct {
	r      *Request
	now    int64 // Unix seconds, valid when nowSet
	nowSet bool
}

func (ec *evalCtx) nowUnix() int64 {
	if !ec.nowSet {
		t := ec.r.CurrentTime
		if t.IsZero() {
			t = time.Now()
		}
		ec.now, ec.nowSet = t.Unix(), true
	}
	return ec.now
}

func str(out []rval, s string) []rval {
	if s == "" {
		return out
	}
	return append(out, rval{k: rvStr, s: s})
}

// values appends the request's values of key k to out; none means the key
// is missing.
func (ec *evalCtx) values(k *keyRef, out []rval) []rval {
	r := ec.r
	switch k.id {
	case keyPrincipalArn:
		if !r.Anonymous {
			return str(out, r.PrincipalARN)
		}
	case keyPrincipalAccount:
		return str(out, r.principalAccount())
	case keyPrincipalOrgID:
		if !r.Anonymous {
			return str(out, r.PrincipalOrgID)
		}
	case keyPrincipalOrgPaths:
		if !r.Anonymous {
			return str(out, r.PrincipalOrgPath)
		}
	case keyPrincipalTag:
		if !r.Anonymous {
			if v, ok := lookupTag(r.PrincipalTags, k.param); ok {
				return append(out, rval{k: rvStr, s: v})
			}
		}
	case keyPrincipalType:
		if r.Anonymous {
			return append(out, rval{k: rvStr, s: "Anonymous"})
		}
		return str(out, r.PrincipalType)
	case keySourceIP:
		if r.SourceIP.IsValid() {
			return append(out, rval{k: rvIP, ip: r.SourceIP.Unmap()})
		}
	case keySecureTransport:
		return append(out, rval{k: rvBool, b: r.SecureTransport})
	case keyCurrentTime:
		return append(out, rval{k: rvTime, i: ec.nowUnix()})
	case keyEpochTime:
		return append(out, rval{k: rvInt, i: ec.nowUnix()})
	case keyUsername:
		if !r.Anonymous {
			return str(out, r.Username)
		}
	case keyPort:
		if r.Port > 0 {
			return append(out, rval{k: rvInt, i: int64(r.Port)})
		}
	case keyRequestMethod:
		return str(out, r.Method)
	case keyRequestHeader:
		for _, v := range headerValues(r.Header, k.param) {
			out = append(out, rval{k: rvStr, s: v})
		}
	case keyRequestQuery:
		return queryValues(r.RawQuery, k.param, out)
	case keyServiceNetworkArn:
		return str(out, r.ServiceNetworkARN)
	case keyServiceArn:
		return str(out, r.ServiceARN)
	case keySourceVpc:
		return str(out, r.SourceVPC)
	case keySourceVpcOwnerAccount:
		return str(out, r.SourceVPCOwnerAccount)
	}
	return out
}

// lookupTag finds a principal tag; tag keys are case-insensitive, an exact
// match is preferred.
func lookupTag(tags map[string]string, key string) (string, bool) {
	if v, ok := tags[key]; ok {
		return v, true
	}
	for k, v := range tags {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// headerValues returns the values of the header with the canonical name
// canon, also finding keys a caller stored without canonicalising them.
func headerValues(h http.Header, canon string) []string {
	if h == nil {
		return nil
	}
	if v, ok := h[canon]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, canon) {
			return v
		}
	}
	return nil
}

// queryValues appends the values of key in the raw query string to out.
// Pairs are separated by '&'; a pair without '=' has the empty value; pairs
// with malformed percent-encoding are skipped (as url.ParseQuery does).
// Only percent-encoded values allocate.
func queryValues(raw, key string, out []rval) []rval {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if !queryKeyEqual(k, key) {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			u, err := url.QueryUnescape(v)
			if err != nil {
				continue
			}
			v = u
		}
		out = append(out, rval{k: rvStr, s: v})
	}
	return out
}

// queryKeyEqual reports whether the query-encoded esc decodes to want,
// without allocating.
func queryKeyEqual(esc, want string) bool {
	j := 0
	for i := 0; i < len(esc); i++ {
		c := esc[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(esc) {
				return false
			}
			hi, ok1 := unhex(esc[i+1])
			lo, ok2 := unhex(esc[i+2])
			if !ok1 || !ok2 {
				return false
			}
			c = hi<<4 | lo
			i += 2
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendText appends the string form of v (escaped when esc).
func (v *rval) appendText(dst []byte, esc bool) []byte {
	switch v.k {
	case rvStr:
		if esc {
			return escapeInto(dst, v.s)
		}
		return append(dst, v.s...)
	case rvInt:
		return strconv.AppendInt(dst, v.i, 10)
	case rvTime:
		return time.Unix(v.i, 0).UTC().AppendFormat(dst, time.RFC3339)
	case rvIP:
		return v.ip.AppendTo(dst)
	case rvBool:
		return strconv.AppendBool(dst, v.b)
	}
	return dst
}

// number converts v for the Numeric operators.
func (v *rval) number() (float64, bool) {
	switch v.k {
	case rvInt:
		return float64(v.i), true
	case rvStr:
		return parseNumber(v.s)
	}
	return 0, false
}

// date converts v for the Date operators.
func (v *rval) date() (tstamp, bool) {
	switch v.k {
	case rvInt, rvTime:
		return tstamp{sec: v.i}, true
	case rvStr:
		return parseDate(v.s)
	}
	return tstamp{}, false
}

// boolean converts v for the Bool operator.
func (v *rval) boolean() (bool, bool) {
	switch v.k {
	case rvBool:
		return v.b, true
	case rvStr:
		return parseBool(v.s)
	}
	return false, false
}

// addr converts v for the IpAddress operators.
func (v *rval) addr() (netip.Addr, bool) {
	switch v.k {
	case rvIP:
		return v.ip, true
	case rvStr:
		a, err := netip.ParseAddr(v.s)
		if err != nil || a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// tstamp is an instant with nanosecond precision over the full RFC 3339
// year range (time.Time would do, but this compares in two integer steps).
type tstamp struct {
	sec  int64
	nsec int32
}

func (a tstamp) cmp(b tstamp) int {
	switch {
	case a.sec < b.sec:
		return -1
	case a.sec > b.sec:
		return 1
	case a.nsec < b.nsec:
		return -1
	case a.nsec > b.nsec:
		return 1
	}
	return 0
}

// parseNumber parses a decimal number: an optional '-', digits, an optional
// fraction and an optional exponent (no hex, no Inf/NaN, no underscores).
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	d := digits(s[i:])
	if d == 0 {
		return 0, false
	}
	i += d
	if i < len(s) && s[i] == '.' {
		i++
		d = digits(s[i:])
		if d == 0 {
			return 0, false
		}
		i += d
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		d = digits(s[i:])
		if d == 0 {
			return 0, false
		}
		i += d
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range
		return 0, false
	}
	return f, true
}

func digits(s string) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

// parseDate parses an RFC 3339 date-time or a whole number of seconds since
// the Unix epoch.
func parseDate(s string) (tstamp, bool) {
	if n := digits(s); n > 0 && n == len(s) {
		if n > 18 {
			return tstamp{}, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return tstamp{}, false
		}
		return tstamp{sec: v}, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return tstamp{}, false
	}
	return tstamp{sec: t.Unix(), nsec: int32(t.Nanosecond())}, true
}

// parseBool accepts "true" and "false" in any case.
func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}
