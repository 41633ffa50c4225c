package lambda

import (
	"encoding/base64"
	"github.com/trellis-net/trellis/internal/hexdigit"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/trellis-net/trellis/internal/dataplane/jsonstr"
)

// Request is what the event of one request is made of: the request as the
// proxy forwards it to any target, so that a function sees what a rule and
// a policy judged and what an IP target would receive.
type Request struct {
	Method string
	// Target is the origin-form request-target: the normalised path and the
	// query as the client sent it (pathnorm; docs/path-normalisation.md).
	Target string
	// Host is the Host header (Lattice passes it through; Lambda events
	// show the service's name).
	Host string
	// Header is the forwarded header: hop-by-hop fields and client copies
	// of the fields the data plane asserts removed, Lattice's own added
	// (x-forwarded-*, x-amzn-lattice-*, x-amzn-requestid; reference §7.1).
	// A Host field in it is ignored (Host is the one).
	Header http.Header
	// Body is the whole request body, at most MaxPayload bytes.
	Body []byte
	// Context is V2's requestContext.
	Context RequestContext
}

// RequestContext is the requestContext of a V2 event.
type RequestContext struct {
	ServiceNetworkARN string
	ServiceARN        string
	TargetGroupARN    string
	Region            string
	Identity          Identity
	// Time is when the request arrived; timeEpoch is its microseconds
	// since the epoch, as a string (reference §7.2).
	Time time.Time
}

// Identity is requestContext.identity of a V2 event. Each field is written
// only when it is known (not empty), with the casing Lattice documents.
type Identity struct {
	SourceVpcARN   string
	Type           string // AWS_IAM when an auth policy applied and SigV4 succeeded
	Principal      string
	PrincipalOrgID string
	SessionName    string
	X509IssuerOU   string
	X509SANDNS     string
	X509SANNameCN  string
	X509SANURI     string
	X509SubjectCN  string
}

// Event structure versions (lambdaEventStructureVersion).
const (
	EventV1 = "V1"
	EventV2 = "V2"
)

// AppendEvent appends r's event of version (EventV2, else V1, Lattice's
// default) to dst.
func AppendEvent(dst []byte, version string, r *Request) []byte {
	if version == EventV2 {
		return AppendV2(dst, r)
	}
	return AppendV1(dst, r)
}

// AppendV1 appends r's V1 event to dst:
//
//	{"raw_path","method","headers":{k:"v1, v2"},"query_string_parameters":{k:"last"},"body","is_base64_encoded"}
//
// raw_path holds the query string; a header's values are joined with ", ";
// a repeated query key keeps its last value (reference §7.2).
func AppendV1(dst []byte, r *Request) []byte {
	dst = append(dst, `{"raw_path":`...)
	dst = appendString(dst, r.Target)
	dst = append(dst, `,"method":`...)
	dst = appendString(dst, r.Method)
	dst = append(dst, `,"headers":`...)
	dst = appendHeaders(dst, r, false)
	dst = append(dst, `,"query_string_parameters":`...)
	dst = appendQuery(dst, query(r.Target), false)
	dst, b64 := appendBody(dst, r)
	if b64 {
		dst = append(dst, `,"is_base64_encoded":true}`...)
	} else {
		dst = append(dst, `,"is_base64_encoded":false}`...)
	}
	return dst
}

// AppendV2 appends r's V2 event to dst:
//
//	{"version":"2.0","path","method","headers":{k:[v…]},"queryStringParameters":{k:[v…]},
//	 "body","isBase64Encoded","requestContext":{…}}
//
// path holds the query string; timeEpoch is a string of microseconds
// (reference §7.2).
func AppendV2(dst []byte, r *Request) []byte {
	dst = append(dst, `{"version":"2.0","path":`...)
	dst = appendString(dst, r.Target)
	dst = append(dst, `,"method":`...)
	dst = appendString(dst, r.Method)
	dst = append(dst, `,"headers":`...)
	dst = appendHeaders(dst, r, true)
	dst = append(dst, `,"queryStringParameters":`...)
	dst = appendQuery(dst, query(r.Target), true)
	dst, b64 := appendBody(dst, r)
	if b64 {
		dst = append(dst, `,"isBase64Encoded":true`...)
	} else {
		dst = append(dst, `,"isBase64Encoded":false`...)
	}
	c := &r.Context
	dst = append(dst, `,"requestContext":{"serviceNetworkArn":`...)
	dst = appendString(dst, c.ServiceNetworkARN)
	dst = append(dst, `,"serviceArn":`...)
	dst = appendString(dst, c.ServiceARN)
	dst = append(dst, `,"targetGroupArn":`...)
	dst = appendString(dst, c.TargetGroupARN)
	dst = append(dst, `,"identity":{`...)
	id := &c.Identity
	first := true
	for _, f := range [...]struct{ k, v string }{
		{"sourceVpcArn", id.SourceVpcARN}, {"type", id.Type}, {"principal", id.Principal},
		{"principalOrgID", id.PrincipalOrgID}, {"sessionName", id.SessionName},
		{"x509IssuerOu", id.X509IssuerOU}, {"x509SanDns", id.X509SANDNS}, {"x509SanNameCn", id.X509SANNameCN},
		{"x509SanUri", id.X509SANURI}, {"x509SubjectCn", id.X509SubjectCN},
	} {
		if f.v == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, f.k...)
		dst = append(dst, `":`...)
		dst = appendString(dst, f.v)
	}
	dst = append(dst, `},"region":`...)
	dst = appendString(dst, c.Region)
	dst = append(dst, `,"timeEpoch":"`...)
	dst = strconv.AppendInt(dst, c.Time.UnixMicro(), 10)
	dst = append(dst, `"}}`...)
	return dst
}

// appendBody appends `,"body":"…"` and reports whether it is base64.
func appendBody(dst []byte, r *Request) ([]byte, bool) {
	dst = append(dst, `,"body":`...)
	if len(r.Body) == 0 {
		return append(dst, `""`...), false
	}
	if TextBody(r.Header, r.Body) {
		return appendString(dst, unsafe.String(&r.Body[0], len(r.Body))), false
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, r.Body)
	return append(dst, '"'), true
}

// TextBody reports whether a request body goes into the event as text:
// Lattice encodes it in base64 when Content-Encoding is present or when
// the media type is not text/*, application/json, application/xml or
// application/javascript (reference §7.2; a missing Content-Type is not
// one of them). The media type is compared without its parameters and
// letter case (RFC 9110 §8.3.1). A body that is not valid UTF-8 is base64
// too, whatever its type: a JSON string cannot carry its bytes.
func TextBody(h http.Header, body []byte) bool {
	if _, ok := h["Content-Encoding"]; ok {
		return false
	}
	ct := h["Content-Type"]
	if len(ct) == 0 || !textMediaType(ct[0]) {
		return false
	}
	return utf8.Valid(body)
}

// textMediaType reports whether the media type of a Content-Type value
// (type/subtype, before any parameter) is one Lattice sends as text.
func textMediaType(v string) bool {
	if i := indexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = trimOWS(v)
	const text = "text/"
	if len(v) > len(text) && equalFold(v[:len(text)], text) {
		return true
	}
	return equalFold(v, "application/json") || equalFold(v, "application/xml") || equalFold(v, "application/javascript")
}

// appendHeaders appends the header object: names in lower case (as
// Lattice's events show them, and as HTTP/2 writes them), sorted, names
// that differ only in case merged; multi (V2) writes each name's values as
// an array, else (V1) joined with ", ". Host comes from r.Host.
func appendHeaders(dst []byte, r *Request, multi bool) []byte {
	var arr [48]string
	keys := arr[:0]
	for k := range r.Header {
		if !equalFold(k, "host") {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareHeaderNames)
	dst = append(dst, '{')
	first := true
	if r.Host != "" {
		dst = append(dst, `"host":`...)
		if multi {
			dst = append(dst, '[')
		}
		dst = appendString(dst, r.Host)
		if multi {
			dst = append(dst, ']')
		}
		first = false
	}
	for i := 0; i < len(keys); {
		// keys[i:j] name the same field.
		j := i + 1
		for j < len(keys) && equalFold(keys[j], keys[i]) {
			j++
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendLowerString(dst, keys[i])
		dst = append(dst, ':')
		if multi {
			dst = append(dst, '[')
		} else {
			dst = append(dst, '"')
		}
		n := 0
		for _, k := range keys[i:j] {
			for _, v := range r.Header[k] {
				if n > 0 {
					if multi {
						dst = append(dst, ',')
					} else {
						dst = append(dst, ", "...)
					}
				}
				n++
				if multi {
					dst = appendString(dst, v)
				} else {
					dst = jsonstr.AppendEscaped(dst, v)
				}
			}
		}
		if multi {
			dst = append(dst, ']')
		} else {
			dst = append(dst, '"')
		}
		i = j
	}
	return append(dst, '}')
}

// query returns the query of a request-target ("" when none).
func query(target string) string {
	if i := indexByte(target, '?'); i >= 0 {
		return target[i+1:]
	}
	return ""
}

// pair is one key=value of a query, as sent (still escaped).
type pair struct{ k, v string }

// maxScanPairs bounds the query pairs grouped by comparing each with each
// (no allocation); longer queries group through a map.
const maxScanPairs = 64

// appendQuery appends the query parameters object: keys and values
// percent-decoded ('+' is a space, as in HTML forms; an invalid escape is
// kept as it is), keys in the order they first appear; multi (V2) writes
// every value of a key as an array, else (V1) the last one (reference §7.2).
// Pairs are separated by '&' only; an empty pair is skipped; a pair
// without '=' has the value "".
func appendQuery(dst []byte, q string, multi bool) []byte {
	var arr [16]pair
	pairs := arr[:0]
	for q != "" {
		var p string
		if i := indexByte(q, '&'); i >= 0 {
			p, q = q[:i], q[i+1:]
		} else {
			p, q = q, ""
		}
		if p == "" {
			continue
		}
		if i := indexByte(p, '='); i >= 0 {
			pairs = append(pairs, pair{p[:i], p[i+1:]})
		} else {
			pairs = append(pairs, pair{p, ""})
		}
	}
	dst = append(dst, '{')
	if len(pairs) > maxScanPairs {
		return appendQueryMap(dst, pairs, multi)
	}
	first := true
	for i, p := range pairs {
		seen := false
		for _, e := range pairs[:i] {
			if equalDecoded(e.k, p.k) {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendDecoded(dst, p.k)
		dst = append(dst, ':')
		if multi {
			dst = append(dst, '[')
			dst = appendDecoded(dst, p.v)
			for _, e := range pairs[i+1:] {
				if equalDecoded(e.k, p.k) {
					dst = append(dst, ',')
					dst = appendDecoded(dst, e.v)
				}
			}
			dst = append(dst, ']')
			continue
		}
		last := p.v
		for _, e := range pairs[i+1:] {
			if equalDecoded(e.k, p.k) {
				last = e.v
			}
		}
		dst = appendDecoded(dst, last)
	}
	return append(dst, '}')
}

// appendQueryMap is appendQuery's grouping for many pairs (dst already has
// the '{').
func appendQueryMap(dst []byte, pairs []pair, multi bool) []byte {
	type group struct {
		key  string
		vals []string
	}
	var groups []*group
	byKey := make(map[string]*group, len(pairs))
	for _, p := range pairs {
		k := string(unescape(nil, p.k))
		g := byKey[k]
		if g == nil {
			g = &group{key: p.k}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.vals = append(g.vals, p.v)
	}
	for i, g := range groups {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendDecoded(dst, g.key)
		dst = append(dst, ':')
		if !multi {
			dst = appendDecoded(dst, g.vals[len(g.vals)-1])
			continue
		}
		dst = append(dst, '[')
		for j, v := range g.vals {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendDecoded(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// decodeAt returns the byte of an escaped query component at i and the
// index after it: "%XX" is the byte XX, '+' a space, anything else itself.
func decodeAt(s string, i int) (byte, int) {
	switch c := s[i]; c {
	case '+':
		return ' ', i + 1
	case '%':
		if i+2 < len(s) {
			if h, ok := hexdigit.Value(s[i+1]); ok {
				if l, ok := hexdigit.Value(s[i+2]); ok {
					return h<<4 | l, i + 3
				}
			}
		}
		return c, i + 1
	default:
		return c, i + 1
	}
}

// equalDecoded reports whether two escaped query components decode to the
// same bytes, without decoding them into memory.
func equalDecoded(a, b string) bool {
	if a == b {
		return true
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		var x, y byte
		x, i = decodeAt(a, i)
		y, j = decodeAt(b, j)
		if x != y {
			return false
		}
	}
	return i == len(a) && j == len(b)
}

// unescape appends the decoding of an escaped query component to dst.
func unescape(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		var c byte
		c, i = decodeAt(s, i)
		dst = append(dst, c)
	}
	return dst
}

// appendDecoded appends an escaped query component, decoded, as a JSON
// string.
func appendDecoded(dst []byte, s string) []byte {
	if indexByte(s, '%') < 0 && indexByte(s, '+') < 0 {
		return appendString(dst, s)
	}
	var buf [256]byte
	b := unescape(buf[:0], s)
	if len(b) == 0 {
		return append(dst, `""`...)
	}
	return appendString(dst, unsafe.String(&b[0], len(b)))
}

// appendString appends s as a JSON string (RFC 8259 §7): quotes,
// backslashes and control characters escaped, and every byte that is not
// part of valid UTF-8 replaced by U+FFFD, as encoding/json does, so that
// the output is always valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = jsonstr.AppendEscaped(dst, s)
	return append(dst, '"')
}

// appendLowerString appends a header name as a JSON string in lower case.
func appendLowerString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			var buf [128]byte
			if len(s) > len(buf) {
				return appendString(dst, toLower(s))
			}
			b := buf[:len(s)]
			for j := 0; j < len(s); j++ {
				c := s[j]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				b[j] = c
			}
			return appendString(dst, unsafe.String(&b[0], len(b)))
		}
	}
	return appendString(dst, s)
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// compareHeaderNames orders header names by their lower-case forms, and
// names that differ only in case by their bytes: the output is the same
// for the same header, whatever the map's order.
func compareHeaderNames(a, b string) int {
	if c := compareFold(a, b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// compareFold orders strings as their ASCII lower-case forms.
func compareFold(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := lower(a[i]), lower(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether a and b are equal ignoring ASCII case.
func equalFold(a, b string) bool {
	return len(a) == len(b) && compareFold(a, b) == 0
}

func indexByte(s string, c byte) int { return strings.IndexByte(s, c) }

// trimOWS trims the optional white space of RFC 9110 §5.6.3.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
