package sigv4

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// AlgorithmHMAC is SigV4's algorithm name.
	AlgorithmHMAC = "AWS4-HMAC-SHA256"
	// AlgorithmECDSA is SigV4A's algorithm name (see sigv4a.go).
	AlgorithmECDSA = "AWS4-ECDSA-P256-SHA256"

	// UnsignedPayload is the x-amz-content-sha256 value of a request whose
	// body is not covered by the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// EmptyPayloadHash is the hex SHA-256 of an empty body.
	EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	scopeTerminator = "aws4_request"
	amzDateLayout   = "20060102T150405Z"

	// maxPresignExpires is the longest X-Amz-Expires AWS accepts: 7 days.
	maxPresignExpires = 7 * 24 * 60 * 60
)

// Query parameters of the presigned form.
const (
	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSignature     = "X-Amz-Signature"
	qSecurityToken = "X-Amz-Security-Token"
	qRegionSet     = "X-Amz-Region-Set" // SigV4A
)

// Canonical header keys read directly from http.Header.
const (
	hAuthorization = "Authorization"
	hAmzDate       = "X-Amz-Date"
	hDate          = "Date"
	hSecurityToken = "X-Amz-Security-Token"
	hContentSHA256 = "X-Amz-Content-Sha256"
	hRegionSet     = "X-Amz-Region-Set" // SigV4A
)

// authHeader is the parsed form of an Authorization header value. Its strings
// alias the header value.
type authHeader struct {
	Algorithm     string
	Credential    string
	SignedHeaders string
	Signature     string
	have          uint8 // which of Credential, SignedHeaders, Signature were present
}

const (
	haveCredential uint8 = 1 << iota
	haveSignedHeaders
	haveSignature
	haveAll = haveCredential | haveSignedHeaders | haveSignature
)

func isAuthSep(c byte) bool { return c == ',' || c == ' ' || c == '\t' }

// parseAuthorization splits "ALGORITHM Credential=..., SignedHeaders=...,
// Signature=..." into its parts. Like AWS it splits the parameters on commas
// and whitespace, so a parameter containing a space is reported as a pair
// without an equal sign. Unknown parameters are ignored; a repeated one is an
// error. It does not check that all three parameters are present: see
// missingAuthParams.
//
// In other words the parameters are the maximal runs of bytes other than
// ',', ' ' and '\t' after the algorithm. The commas are found with
// strings.IndexByte; a comma-separated part that has no byte below 0x21
// (the usual case) is one parameter, found without looking at its bytes one
// by one.
func parseAuthorization(v string) (authHeader, *Error) {
	var a authHeader
	i := indexAuthSep(v)
	a.Algorithm = v[:i]
	rest := v[i:]
	for rest != "" {
		var part string
		if j := strings.IndexByte(rest, ','); j >= 0 {
			part, rest = rest[:j], rest[j+1:]
		} else {
			part, rest = rest, ""
		}
		for part != "" && (part[0] == ' ' || part[0] == '\t') {
			part = part[1:]
		}
		if part == "" {
			continue
		}
		if !hasByteBelow0x21(part) {
			if err := a.param(part, v); err != nil {
				return a, err
			}
			continue
		}
		// Some space, tab (or other control byte, which is not a
		// separator): split the part the slow way.
		for part != "" {
			j := indexAuthSep(part)
			if j > 0 {
				if err := a.param(part[:j], v); err != nil {
					return a, err
				}
			}
			part = trimSpaceTab(part[j:])
		}
	}
	return a, nil
}

// indexAuthSep returns the index of the first ',', ' ' or '\t' in s, or
// len(s).
func indexAuthSep(s string) int {
	for i := 0; i < len(s); i++ {
		if isAuthSep(s[i]) {
			return i
		}
	}
	return len(s)
}

// hasByteBelow0x21 reports whether s has a byte below 0x21 (a space, a tab,
// or another control byte). Whole 8-byte words are tested at once with the
// SWAR test "(x - 0x2121..21) &^ x & 0x8080..80 != 0", which is true exactly
// when some byte of x is below 0x21: the lowest such byte always borrows and
// sets its top bit; a byte with its top bit set never counts (&^ x clears
// it); and a spurious flag can only come from a borrow out of a lower byte
// that is itself below 0x21.
func hasByteBelow0x21(s string) bool {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if x := load64(s[i:]); (x-lo*0x21)&^x&hi != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x21 {
			return true
		}
	}
	return false
}

func trimSpaceTab(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// param records one key=value token of the Authorization header v.
func (a *authHeader) param(tok, v string) *Error {
	eq := strings.IndexByte(tok, '=')
	if eq < 0 {
		return incomplete("'" + echo(tok) + "' not a valid key=value pair (missing equal-sign) in Authorization header: '" + echo(v) + "'.")
	}
	key, val := tok[:eq], tok[eq+1:]
	var bit uint8
	var dst *string
	switch key {
	case "Credential":
		bit, dst = haveCredential, &a.Credential
	case "SignedHeaders":
		bit, dst = haveSignedHeaders, &a.SignedHeaders
	case "Signature":
		bit, dst = haveSignature, &a.Signature
	default:
		return nil
	}
	if a.have&bit != 0 {
		return incomplete("Authorization header has more than one '" + key + "' parameter. Authorization=" + echo(v))
	}
	a.have |= bit
	*dst = val
	return nil
}

// missingAuthParams builds AWS's message for an Authorization header that
// lacks parts, or returns nil when nothing is missing.
func missingAuthParams(a *authHeader, hasDate bool, v string) *Error {
	if a.have == haveAll && hasDate {
		return nil
	}
	const pre = "Authorization header requires "
	var msg string
	if a.have&haveCredential == 0 {
		msg += pre + "'Credential' parameter. "
	}
	if a.have&haveSignature == 0 {
		msg += pre + "'Signature' parameter. "
	}
	if a.have&haveSignedHeaders == 0 {
		msg += pre + "'SignedHeaders' parameter. "
	}
	if !hasDate {
		msg += pre + "existence of either a 'X-Amz-Date' or a 'Date' header. "
	}
	return incomplete(msg + "Authorization=" + echo(v))
}

// credentialScope is the Credential value "AKID/date/region/service/term".
type credentialScope struct {
	AccessKeyID string
	Date        string
	Region      string
	Service     string
	Terminator  string
	Scope       string // everything after the access key: the scope in the string to sign
}

// splitCredential splits a SigV4 Credential into its five elements.
// (SigV4A's credential has no region: see splitCredentialA.)
func splitCredential(c string) (credentialScope, bool) {
	var parts [5]string
	if !splitExactly(c, parts[:]) {
		return credentialScope{}, false
	}
	return credentialScope{
		AccessKeyID: parts[0],
		Date:        parts[1],
		Region:      parts[2],
		Service:     parts[3],
		Terminator:  parts[4],
		Scope:       c[len(parts[0])+1:],
	}, true
}

// splitExactly splits c on '/' into exactly len(parts) elements.
func splitExactly(c string, parts []string) bool {
	rest := c
	for n := 0; n < len(parts)-1; n++ {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return false
		}
		parts[n], rest = rest[:i], rest[i+1:]
	}
	if strings.IndexByte(rest, '/') >= 0 {
		return false
	}
	parts[len(parts)-1] = rest
	return true
}

func errBadCredential(c string) *Error {
	return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + echo(c) + "'")
}

// parseAmzDate parses the ISO-8601 basic format "20150830T123600Z".
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != 16 || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	// Every byte but the 'T' and the 'Z' must be a digit.
	for i := 0; i < 15; i++ {
		if i != 8 && s[i]-'0' > 9 {
			return time.Time{}, false
		}
	}
	n2 := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	y, mo, d := n2(0)*100+n2(2), n2(4), n2(6)
	h, mi, sec := n2(9), n2(11), n2(13)
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	// time.Unix is much cheaper than time.Date, which normalises its
	// arguments and looks up the zone.
	secs := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec)
	return time.Unix(secs, 0).UTC(), true
}

// daysIn returns the number of days in month m (1-12) of year y (proleptic
// Gregorian, as time.Date).
func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the valid
// proleptic Gregorian date y-m-d (Howard Hinnant's days_from_civil).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400 // [0, 399]
	mp := m - 3        // March-based month, [0, 11]
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d - 1            // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return int64(era)*146097 + int64(doe) - 719468
}

func errBadDate(s string) *Error {
	return incomplete("Date must be in ISO-8601 'basic format'. Got '" + echo(s) + "'. See http://en.wikipedia.org/wiki/ISO_8601")
}

// signedHeaderFlags are facts about a SignedHeaders list.
type signedHeaderFlags struct {
	host, amzDate, date, regionSet bool
}

// checkSignedHeaders validates a SignedHeaders list: non-empty, ';'-separated,
// lowercase header-name tokens in strictly ascending order (as every signer
// produces it, and as it appears in the canonical request). It makes one
// pass over the list.
func checkSignedHeaders(list string) (signedHeaderFlags, bool) {
	var f signedHeaderFlags
	prev := ""
	for start := 0; ; {
		end := start
		for end < len(list) && isLowerTokenByte(list[end]) {
			end++
		}
		name := list[start:end]
		if name == "" || (start > 0 && name <= prev) {
			return f, false
		}
		switch name {
		case "host":
			f.host = true
		case "x-amz-date":
			f.amzDate = true
		case "date":
			f.date = true
		case "x-amz-region-set":
			f.regionSet = true
		}
		if end == len(list) {
			return f, true
		}
		if list[end] != ';' {
			return f, false
		}
		prev, start = name, end+1
	}
}

// isLowerTokenByte reports whether c may appear in a lowercase header name
// (an RFC 9110 token without uppercase letters).
func isLowerTokenByte(c byte) bool { return lowerToken[c] }

var lowerToken = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

func errBadSignedHeaders(list string) *Error {
	return incomplete("SignedHeaders must be a non-empty, ';'-separated, sorted list of distinct lowercase header names, got '" + echo(list) + "'.")
}

// authParams is the SigV4 or SigV4A material found on a request, whichever
// form it came in.
type authParams struct {
	presigned     bool
	algorithm     string
	credential    string
	signedHeaders string
	signature     string
	amzDate       string // the timestamp exactly as it enters the string to sign
	signedAt      time.Time
	expires       int64 // presigned only; 0 if X-Amz-Expires is absent
	token         string
	hasToken      bool
	regionSet     string // SigV4A only: X-Amz-Region-Set, never empty
	flags         signedHeaderFlags
	now           time.Time // the current time; zero: ask the Verifier
	known         knownHeaders
	authz         string    // header form: the Authorization header
	memo          *authMemo // header form: the memo of authz's prefix, if any
}

// singleHeader returns the only value of the canonical header key k; dup
// reports a header given more than once.
func singleHeader(h http.Header, k string) (v string, ok, dup bool) {
	return singleValue(h[k])
}

// singleValue is singleHeader given the header's values.
func singleValue(vs []string) (v string, ok, dup bool) {
	switch len(vs) {
	case 0:
		return "", false, false
	case 1:
		return vs[0], true, false
	}
	return "", true, true
}

// parseRequest finds the SigV4 material on r and checks its syntax.
func parseRequest(r *http.Request, p *authParams) *Error {
	return parseRequestAuthz(r, r.Header[hAuthorization], p)
}

// parseRequestAuthz is parseRequest given the Authorization header values.
func parseRequestAuthz(r *http.Request, authzValues []string, p *authParams) *Error {
	authz, hasAuthz, dupAuthz := singleValue(authzValues)
	rawQuery := ""
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	hasQueryAlg := queryHasKey(rawQuery, qAlgorithm)
	if hasAuthz && authz == "" && !dupAuthz {
		hasAuthz = false
	}
	switch {
	case !hasAuthz && !hasQueryAlg:
		return errMissingToken()
	case hasAuthz && hasQueryAlg:
		return incomplete("Only one authentication mechanism is allowed: either the X-Amz-Algorithm query parameter or the Authorization header, not both.")
	case dupAuthz:
		return incomplete("The request carries more than one Authorization header.")
	case hasQueryAlg:
		return parsePresigned(r, rawQuery, p)
	}
	return parseHeaderForm(r, authz, p)
}

func parseHeaderForm(r *http.Request, authz string, p *authParams) *Error {
	var a authHeader
	p.authz = authz
	if m := authMemos.lookup(authz); m != nil {
		// What parseAuthorization would return (see memoPrefix).
		a = authHeader{Algorithm: m.algorithm, Credential: m.credential, SignedHeaders: m.signedHeaders,
			Signature: authz[len(authz)-64:], have: haveAll}
		p.memo = m
	} else {
		var err *Error
		if a, err = parseAuthorization(authz); err != nil {
			return err
		}
	}
	amzDateValues := r.Header[hAmzDate]
	amzDate, hasAmzDate, dupDate := singleValue(amzDateValues)
	dateHeader := false
	if hasAmzDate {
		p.known.amzDate, p.known.haveAmzDate = amzDateValues, true
	} else {
		amzDate, hasAmzDate, dupDate = singleHeader(r.Header, hDate)
		dateHeader = true
	}
	if err := missingAuthParams(&a, hasAmzDate, authz); err != nil {
		return err
	}
	if a.Algorithm != AlgorithmHMAC && a.Algorithm != AlgorithmECDSA {
		return errAlgorithm(a.Algorithm)
	}
	if dupDate {
		return incomplete("The request carries more than one date header.")
	}
	p.algorithm = a.Algorithm
	p.credential = a.Credential
	p.signedHeaders = a.SignedHeaders
	p.signature = a.Signature

	var ok bool
	if p.memo != nil {
		p.flags = p.memo.flags
	} else if p.flags, ok = checkSignedHeaders(a.SignedHeaders); !ok {
		return errBadSignedHeaders(a.SignedHeaders)
	}
	if !p.flags.host {
		return incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if dateHeader {
		t, err := http.ParseTime(amzDate)
		if err != nil {
			return errBadDate(amzDate)
		}
		if !p.flags.date {
			return incomplete("'Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		p.signedAt = t.UTC()
		p.amzDate = fmtAmz(t)
	} else {
		if p.signedAt, ok = parseAmzDate(amzDate); !ok {
			return errBadDate(amzDate)
		}
		if !p.flags.amzDate {
			return incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		p.amzDate = amzDate
	}
	var dup bool
	p.token, p.hasToken, dup = singleHeader(r.Header, hSecurityToken)
	if dup {
		return incomplete("The request carries more than one X-Amz-Security-Token header.")
	}
	if p.algorithm == AlgorithmECDSA {
		return regionSetHeader(r, p)
	}
	return nil
}

// regionSetHeader reads SigV4A's X-Amz-Region-Set header, which must be
// signed.
func regionSetHeader(r *http.Request, p *authParams) *Error {
	rs, ok, dup := singleHeader(r.Header, hRegionSet)
	if dup {
		return incomplete("The request carries more than one X-Amz-Region-Set header.")
	}
	if _, nonEmpty := regionSetAllows(rs, ""); !ok || !nonEmpty {
		if p.presigned {
			return incomplete("AWS query-string parameters must include '" + qRegionSet + "'. Re-examine the query-string parameters.")
		}
		return incomplete("Authorization header requires existence of a 'X-Amz-Region-Set' header for '" + AlgorithmECDSA + "'.")
	}
	if !p.flags.regionSet {
		return incomplete("'X-Amz-Region-Set' must be a 'SignedHeader' in the AWS Authorization.")
	}
	p.regionSet = rs
	return nil
}

func errAlgorithm(alg string) *Error {
	return incomplete("Unsupported AWS 'algorithm': '" + echo(alg) + "'. Only '" + AlgorithmHMAC + "' and '" + AlgorithmECDSA + "' are supported.")
}

// parsePresigned reads the X-Amz-* query parameters of a presigned request.
func parsePresigned(r *http.Request, rawQuery string, p *authParams) *Error {
	p.presigned = true
	var vals [8]string
	var have [8]bool
	dupRegionSet := false
	names := [8]string{qAlgorithm, qCredential, qDate, qExpires, qSignedHeaders, qSignature, qSecurityToken, qRegionSet}
	for q := rawQuery; q != ""; {
		var seg string
		seg, q, _ = strings.Cut(q, "&")
		if seg == "" || strings.IndexByte(seg, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		dk := k
		if strings.ContainsAny(k, "%+") {
			var err error
			if dk, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if !strings.HasPrefix(dk, "X-Amz-") {
			continue
		}
		for i, n := range names {
			if dk != n {
				continue
			}
			dv, err := url.QueryUnescape(v)
			if err != nil {
				break
			}
			if have[i] && n == qRegionSet {
				// Only SigV4A reads it: an error only if that is the algorithm.
				dupRegionSet = true
				break
			}
			if have[i] {
				return incomplete("AWS query-string parameters must not repeat '" + n + "'. Re-examine the query-string parameters.")
			}
			have[i], vals[i] = true, dv
			break
		}
	}
	var msg string
	for i, n := range names[:6] {
		if !have[i] && n != qExpires {
			msg += "AWS query-string parameters must include '" + n + "'. "
		}
	}
	if msg != "" {
		return incomplete(msg + "Re-examine the query-string parameters.")
	}
	p.algorithm = vals[0]
	if p.algorithm != AlgorithmHMAC && p.algorithm != AlgorithmECDSA {
		return errAlgorithm(p.algorithm)
	}
	p.credential = vals[1]
	p.amzDate = vals[2]
	p.signedHeaders = vals[4]
	p.signature = vals[5]
	var ok bool
	if p.signedAt, ok = parseAmzDate(p.amzDate); !ok {
		return errBadDate(p.amzDate)
	}
	if have[3] {
		e, ok := parseExpires(vals[3])
		if !ok {
			return incomplete("X-Amz-Expires must be a whole number of seconds between 1 and 604800 (7 days), got '" + echo(vals[3]) + "'.")
		}
		p.expires = e
	}
	if p.flags, ok = checkSignedHeaders(p.signedHeaders); !ok {
		return errBadSignedHeaders(p.signedHeaders)
	}
	if !p.flags.host {
		return incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if have[6] {
		p.token, p.hasToken = vals[6], true
	} else {
		var dup bool
		p.token, p.hasToken, dup = singleHeader(r.Header, hSecurityToken)
		if dup {
			return incomplete("The request carries more than one X-Amz-Security-Token header.")
		}
	}
	if p.algorithm != AlgorithmECDSA {
		return nil
	}
	// SigV4A: the region set is a query parameter (covered by the canonical
	// query), or else a signed header.
	if !have[7] {
		return regionSetHeader(r, p)
	}
	if dupRegionSet {
		return incomplete("AWS query-string parameters must not repeat '" + qRegionSet + "'. Re-examine the query-string parameters.")
	}
	if _, nonEmpty := regionSetAllows(vals[7], ""); !nonEmpty {
		return incomplete("AWS query-string parameters must include '" + qRegionSet + "'. Re-examine the query-string parameters.")
	}
	p.regionSet = vals[7]
	return nil
}

func parseExpires(s string) (int64, bool) {
	if s == "" || len(s) > 7 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n >= 1 && n <= maxPresignExpires
}

// queryHasKey reports whether the raw query has a parameter whose decoded
// name is key, with net/url.ParseQuery's rules for what is a parameter.
func queryHasKey(q, key string) bool {
	// Fast path: the name appears literally, or some name is escaped.
	if !strings.Contains(q, key) && strings.IndexByte(q, '%') < 0 {
		return false
	}
	for q != "" {
		var seg string
		seg, q, _ = strings.Cut(q, "&")
		if seg == "" || strings.IndexByte(seg, ';') >= 0 {
			continue
		}
		k, _, _ := strings.Cut(seg, "=")
		if k == key {
			return true
		}
		if strings.ContainsAny(k, "%+") {
			if dk, err := url.QueryUnescape(k); err == nil && dk == key {
				return true
			}
		}
	}
	return false
}
