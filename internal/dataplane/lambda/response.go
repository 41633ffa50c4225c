package lambda

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unsafe"

	"golang.org/x/net/http/httpguts"
)

// ErrMalformedResponse is the error of a function response the data plane
// cannot turn into an HTTP answer (Lattice answers 502).
var ErrMalformedResponse = errors.New("lambda: malformed function response")

// Response is a function's answer as it goes to the client.
type Response struct {
	StatusCode int
	// StatusDescription is the function's reason phrase ("200 OK"); the
	// proxy's servers write their own (HTTP/2 has none), so it is kept
	// only for the record.
	StatusDescription string
	// Header holds the function's fields in canonical form, checked, without
	// the hop-by-hop fields and Content-Length (computed from Body).
	Header http.Header
	Body   []byte
}

// The members of a function response DecodeResponse reads.
const (
	mStatusCode = iota
	mStatusDescription
	mHeaders
	mMultiValueHeaders
	mBody
	mIsBase64Encoded
	nMembers
)

func member(k []byte) int {
	switch string(k) { // no allocation: the compiler compares in place
	case "statusCode":
		return mStatusCode
	case "statusDescription":
		return mStatusDescription
	case "headers":
		return mHeaders
	case "multiValueHeaders":
		return mMultiValueHeaders
	case "body":
		return mBody
	case "isBase64Encoded":
		return mIsBase64Encoded
	}
	return -1
}

// DecodeResponse decodes a function's response payload (reference §7.2):
// a JSON object with statusCode (an integer from 100 to 599),
// statusDescription, headers (each value a string or an array of strings),
// multiValueHeaders (arrays of strings; a name in both, in any letter case,
// keeps these), body (base64 when isBase64Encoded). Member names are
// matched exactly; a member given twice counts once, the last time; other
// members are ignored; null stands for an absent member or value, and for
// "" in an array. A payload over MaxPayload is ErrPayloadTooLarge,
// anything else it cannot use ErrMalformedResponse. A field name that is
// not a token, or a value with CR, LF, NUL or another control character
// (RFC 9110 §5.1, §5.5), makes the response malformed: a function must not
// be able to write lines of its own into the answer. The hop-by-hop fields
// (RFC 9110 §7.6.1: Connection and what it names, Keep-Alive, Proxy-*, TE,
// Trailer, Transfer-Encoding, Upgrade) and Content-Length are ignored, as
// Lattice does.
//
// It reads the payload in place (jsonscan.go) and keeps the names and
// values of the answer in one arena: a typical response costs a handful
// of allocations, not one per string.
func DecodeResponse(payload []byte) (*Response, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: response of %d bytes is over %d", ErrPayloadTooLarge, len(payload), MaxPayload)
	}
	d := respDecoder{s: scanner{b: payload}}
	d.s.buf = d.bufArr[:0]
	s := &d.s
	// Pass 1: the whole payload is valid JSON; where each member's (last)
	// value starts and ends.
	var at, end [nMembers]int
	for i := range at {
		at[i] = -1
	}
	switch {
	case s.expect('{'):
		if !s.expect('}') {
			for {
				k, err := s.str()
				if err != nil || !s.expect(':') {
					return nil, malformed("invalid JSON")
				}
				m := member(k)
				s.ws()
				start := s.i
				if err := s.skip(1); err != nil {
					return nil, malformed("invalid JSON")
				}
				if m >= 0 {
					at[m], end[m] = start, s.i
				}
				if s.expect('}') {
					break
				}
				if !s.expect(',') {
					return nil, malformed("invalid JSON")
				}
			}
		}
	case s.literal("null"):
	default:
		if err := s.skip(0); err != nil {
			return nil, malformed("invalid JSON")
		}
		if s.ws(); s.i == len(s.b) {
			return nil, malformed("not a JSON object")
		}
	}
	if s.ws(); s.i != len(s.b) {
		return nil, malformed("invalid JSON")
	}

	// Pass 2: the members. Every string of the answer but the body fits in
	// an arena as long as the payload without the body.
	res := &Response{}
	arena := len(payload)
	if at[mBody] >= 0 {
		arena -= end[mBody] - at[mBody]
	}
	d.arena = make([]byte, 0, arena)
	if at[mStatusCode] < 0 || payload[at[mStatusCode]] == 'n' {
		return nil, malformed("no statusCode")
	}
	s.i = at[mStatusCode]
	num, err := s.number()
	if err != nil || !validStatus(num) {
		return nil, malformed("statusCode %.20s is not an integer from 100 to 599", payload[at[mStatusCode]:end[mStatusCode]])
	}
	res.StatusCode = int(num[0]-'0')*100 + int(num[1]-'0')*10 + int(num[2]-'0')
	if v, ok, err := s.stringMember(at[mStatusDescription]); err != nil {
		return nil, malformed("statusDescription is not a string")
	} else if ok {
		res.StatusDescription = d.keep(v)
	}
	var b64 bool
	if i := at[mIsBase64Encoded]; i >= 0 {
		s.i = i
		switch {
		case s.literal("true"):
			b64 = true
		case s.literal("false"), s.literal("null"):
		default:
			return nil, malformed("isBase64Encoded is not a boolean")
		}
	}
	// multiValueHeaders first: a name in both keeps its values.
	if err := d.headers(res, at[mMultiValueHeaders], false); err != nil {
		return nil, err
	}
	if err := d.headers(res, at[mHeaders], true); err != nil {
		return nil, err
	}
	if conn := res.Header["Connection"]; len(conn) > 0 {
		for _, v := range conn {
			for _, name := range strings.Split(v, ",") {
				delete(res.Header, http.CanonicalHeaderKey(trimOWS(name)))
			}
		}
		delete(res.Header, "Connection")
	}
	v, ok, err := s.stringMember(at[mBody])
	if err != nil {
		return nil, malformed("body is not a string")
	}
	if ok && len(v) > 0 {
		if b64 {
			res.Body = make([]byte, base64.StdEncoding.DecodedLen(len(v)))
			n, err := base64.StdEncoding.Decode(res.Body, v)
			if err != nil {
				return nil, malformed("body is not base64: %v", err)
			}
			res.Body = res.Body[:n]
		} else {
			res.Body = bytes.Clone(v)
		}
	}
	return res, nil
}

// stringMember reads the string value at i (-1: absent): ok is false
// for an absent member or null. The bytes are valid until the scanner
// reads another string.
func (s *scanner) stringMember(i int) (v []byte, ok bool, err error) {
	if i < 0 {
		return nil, false, nil
	}
	s.i = i
	if s.literal("null") {
		return nil, false, nil
	}
	v, err = s.str()
	return v, err == nil, err
}

// validStatus reports whether a JSON number is an integer from 100 to 599.
func validStatus(num []byte) bool {
	if len(num) != 3 {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return '1' <= num[0] && num[0] <= '5'
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedResponse}, args...)...)
}

// respDecoder is DecodeResponse's state: the scanner, the arena holding
// the answer's strings (appended to, never written over: a string keeps
// pointing at the bytes it was made of when the arena grows), the values
// of all fields, and the names multiValueHeaders gave.
type respDecoder struct {
	s        scanner
	arena    []byte
	vals     []string
	multi    []string
	multiArr [8]string
	bufArr   [512]byte // the scanner's first scratch
}

// keep returns b as a string in the arena.
func (d *respDecoder) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return unsafe.String(&d.arena[start], len(b))
}

// keepName returns the canonical form of a header name (a token) in the
// arena, as http.CanonicalHeaderKey writes it.
func (d *respDecoder) keepName(b []byte) string {
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	name := d.arena[start:]
	upper := true
	for i, c := range name {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		name[i] = c
		upper = c == '-'
	}
	return unsafe.String(&name[0], len(name))
}

// headers reads headers (one: a value may be a single string) or
// multiValueHeaders at i (-1: absent) into res.
func (d *respDecoder) headers(res *Response, i int, one bool) error {
	s := &d.s
	if i < 0 {
		return nil
	}
	s.i = i
	if s.literal("null") {
		return nil
	}
	if !s.expect('{') {
		if one {
			return malformed("headers is not an object")
		}
		return malformed("multiValueHeaders is not an object")
	}
	if d.multi == nil {
		d.multi = d.multiArr[:0]
	}
	if s.expect('}') {
		return nil
	}
	for {
		raw, _ := s.str() // valid: pass 1 read it
		// raw is in the scanner's scratch or the payload: checked now, kept
		// only in canonical form.
		if !httpguts.ValidHeaderFieldName(unsafe.String(unsafe.SliceData(raw), len(raw))) {
			return malformed("header name %q is not a token", raw)
		}
		name := d.keepName(raw)
		s.expect(':')
		skip := false
		if one {
			for _, m := range d.multi {
				if m == name {
					skip = true
					break
				}
			}
		} else {
			d.multi = append(d.multi, name)
		}
		if skip {
			if err := s.skip(1); err != nil {
				return err
			}
		} else if err := d.values(res, name, one); err != nil {
			return err
		}
		if s.expect('}') {
			return nil
		}
		s.expect(',')
	}
}

// values reads a header's value — null (none), an array of strings (null
// elements are ""), or when one allows it a string — checks it and adds it
// to res under name (canonical), unless Lattice ignores the field.
func (d *respDecoder) values(res *Response, name string, one bool) error {
	s := &d.s
	if d.vals == nil {
		d.vals = make([]string, 0, 16)
	}
	first := len(d.vals)
	switch s.peek() {
	case 'n':
		s.literal("null")
	case '"':
		if !one {
			return malformed("multiValueHeaders %q: want an array of strings", name)
		}
		v, _ := s.str()
		d.vals = append(d.vals, d.keep(v))
	case '[':
		s.i++
		if !s.expect(']') {
			for {
				if s.peek() == 'n' && s.literal("null") {
					d.vals = append(d.vals, "")
				} else {
					v, err := s.str()
					if err != nil {
						return malformed("header %q: want a string or an array of strings", name)
					}
					d.vals = append(d.vals, d.keep(v))
				}
				if s.expect(']') {
					break
				}
				s.expect(',')
			}
		}
	default:
		return malformed("header %q: want a string or an array of strings", name)
	}
	vs := d.vals[first:len(d.vals):len(d.vals)] // capped: an append by the caller copies
	for _, v := range vs {
		if !httpguts.ValidHeaderFieldValue(v) {
			return malformed("header %q has a value with a control character", name)
		}
	}
	if ignoredField(name) || len(vs) == 0 {
		return nil
	}
	if res.Header == nil {
		res.Header = make(http.Header, 8)
	}
	if old := res.Header[name]; old != nil {
		res.Header[name] = append(old, vs...)
	} else {
		res.Header[name] = vs
	}
	return nil
}

// ignoredField reports a response field Lattice does not pass on from a
// function: the hop-by-hop ones and Content-Length, which the data plane
// computes (reference §7.2). Connection goes after the fields it names
// (DecodeResponse).
func ignoredField(k string) bool {
	switch k {
	case "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return strings.HasPrefix(k, "Proxy-")
}
