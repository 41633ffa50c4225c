package pathnorm

import (
	"unsafe"

	"github.com/trellis-net/trellis/internal/hexdigit"
)

// Error says why a path cannot be made unambiguous; the ingress answers 400.
// Its text is fixed and never contains request bytes, so it is safe to put in
// a response body or a log line as it is. Compare with errors.Is or ==.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// The reasons Normalize and Target refuse a path. Each is one value, so the
// refusal path does not allocate.
var (
	// ErrNotAbsolute: the path is neither empty, "*" nor starts with "/"
	// (RFC 9112 §3.2.1 origin-form is an absolute-path).
	ErrNotAbsolute = &Error{"path does not start with /"}
	// ErrMalformedEscape: a "%" not followed by two hex digits, IIS's
	// "%u002e" included (RFC 3986 §2.1).
	ErrMalformedEscape = &Error{"malformed percent-encoding in path"}
	// ErrControl: a C0 control byte, DEL or a C1 control character (U+0080
	// to U+009F), raw or percent-encoded; NUL truncates paths in C readers.
	ErrControl = &Error{"control character in path"}
	// ErrEncodedSlash: "%2F"; nginx, Tomcat (when allowed) and most
	// frameworks decode it into a segment separator, others keep it in the
	// segment, so its structure is ambiguous.
	ErrEncodedSlash = &Error{"encoded slash (%2F) in path"}
	// ErrBackslash: raw "\" or "%5C"; the WHATWG URL parser, IIS and
	// Tomcat (ALLOW_BACKSLASH) read it as "/".
	ErrBackslash = &Error{"backslash in path"}
	// ErrPathParameter: raw ";"; Tomcat and Spring strip ";params" from
	// every segment before matching, nginx and RFC 3986 readers keep them.
	ErrPathParameter = &Error{"semicolon (path parameter) in path"}
	// ErrFragment: raw "#"; nginx ends the path there, others keep it.
	ErrFragment = &Error{"fragment (#) in path"}
	// ErrQuery: raw "?" in what should be the path alone; the caller splits
	// the query off first (Target does).
	ErrQuery = &Error{"query delimiter (?) in path"}
	// ErrAboveRoot: a ".." segment that would climb above "/"; nginx and
	// Tomcat refuse it too, where RFC 3986 §5.2.4 and WHATWG clamp.
	ErrAboveRoot = &Error{"dot-dot segment above the root"}
	// ErrInvalidUTF8: the decoded path is not UTF-8 (RFC 3629), overlong
	// forms such as "%C0%AE" (a "." to lenient decoders) included.
	ErrInvalidUTF8 = &Error{"path is not valid UTF-8"}
	// ErrTarget: a request-target that is none of origin-form,
	// absolute-form with an http or https scheme, or "*".
	ErrTarget = &Error{"malformed request target"}
)

// Byte classes of the raw path.
const (
	clsKeep   = iota + 1 // forwarded as it is: unreserved, sub-delims but ";", ":" and "@"
	clsSlash             // the segment separator
	clsPct               // starts a percent-encoded byte
	clsEncode            // not allowed raw by RFC 3986 but harmless: forwarded percent-encoded
	clsControl
	clsBackslash
	clsSemicolon
	clsHash
	clsQuestion
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c < 0x20 || c == 0x7f:
			t[c] = clsControl
		case c >= 0x80:
			t[c] = clsEncode
		case isUnreserved(byte(c)):
			t[c] = clsKeep
		}
	}
	for _, c := range []byte("!$&'()*+,=:@") {
		t[c] = clsKeep
	}
	for _, c := range []byte(" \"<>[]^`{|}") {
		t[c] = clsEncode
	}
	t['/'], t['%'], t['\\'], t[';'], t['#'], t['?'] = clsSlash, clsPct, clsBackslash, clsSemicolon, clsHash, clsQuestion
	return t
}()

// isUnreserved reports RFC 3986 §2.3 unreserved characters, whose
// percent-encodings are equivalent to the characters themselves (§6.2.2.2).
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

const upperHex = "0123456789ABCDEF"

// Normalize returns the normal form of path, the escaped path part of a
// request-target as the client sent it (no query, no scheme or authority):
// what the target is to receive and, decoded by Decode, what rules and
// policies judge. "" becomes "/" and "*" stays "*" (OPTIONS *, RFC 9112
// §3.2.4). A path that cannot be made unambiguous is refused with one of the
// Err values (answer 400). The rules and their reasons are in doc.go.
//
// An already normal path is returned as it is, without allocating; otherwise
// the result takes one allocation. Normalize(Normalize(p)) == Normalize(p).
func Normalize(path string) (string, error) {
	if path == "*" {
		return path, nil
	}
	var b lazybuf
	if err := b.clean(path); err != nil {
		return "", err
	}
	if b.buf == nil {
		return path[:b.w], nil
	}
	return b.string(), nil
}

// Decode returns the path that rules and auth policies judge for a path
// Normalize returned: its remaining percent-encodings decoded, once. Because
// a normal path holds no encoded "/", "\", ".", control or unreserved
// character, decoding changes no segment boundary and creates no dot
// segment, so every reader that decodes the forwarded path once (nginx,
// Tomcat, Spring, net/http, RFC 3986) arrives at exactly this string.
//
// It does not allocate when normal holds no "%". A "%" not followed by two
// hex digits (never in a normal path) is kept as it is.
func Decode(normal string) string {
	n := 0
	for i := 0; i < len(normal); i++ {
		if normal[i] == '%' {
			n++
		}
	}
	if n == 0 {
		return normal
	}
	buf := appendDecoded(make([]byte, 0, len(normal)), normal)
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

func appendDecoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := hexdigit.Value(s[i+1])
			lo, ok2 := hexdigit.Value(s[i+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 2
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// Target normalises an HTTP request-target (RFC 9112 §3.2) as read from the
// request line or an HTTP/2 :path:
//   - origin-form "/p?q": the path is normalised, the query kept byte for byte;
//   - absolute-form "http://authority/p?q" (scheme http or https, any case):
//     the same for the part after the authority, which is dropped (the caller
//     takes the host from it, RFC 9112 §3.2.2); an empty path becomes "/";
//   - asterisk-form "*": returned as it is.
//
// forward is the origin-form to send to the target (the normal path, then
// "?" and the query if the client sent one); path is Decode of the normal
// path, what rules and auth policies judge. Authority-form (CONNECT) is
// ErrTarget. Path checks fail with the same errors as Normalize.
//
// When the path is already normal and holds no "%", Target does not
// allocate (forward is a substring of target); otherwise it allocates once.
func Target(target string) (forward, path string, err error) {
	if target == "*" {
		return target, target, nil
	}
	p, pathStart, err := splitTarget(target)
	if err != nil {
		return "", "", err
	}
	suffix := target[pathStart+len(p):]
	b := lazybuf{suffix: len(suffix), decoded: true}
	if err := b.clean(p); err != nil {
		return "", "", err
	}
	if b.buf == nil {
		normal := p[:b.w]
		if b.w == len(p) || suffix == "" {
			// The normal path is a prefix of p and, with the query, still a
			// substring of target.
			return target[pathStart : pathStart+len(normal)+len(suffix)], Decode(normal), nil
		}
		// Dot segments cut from the end ("/a/.?q"): path and query are no
		// longer contiguous.
		b.buf = make([]byte, 0, 2*len(normal)+len(suffix))
		b.buf = append(b.buf, normal...)
	}
	b.buf = b.buf[:b.w] // a trailing "." or ".." may have cut it
	n := len(b.buf)
	hasPct := false
	for _, c := range b.buf {
		if c == '%' {
			hasPct = true
			break
		}
	}
	b.buf = append(b.buf, suffix...)
	if hasPct {
		b.buf = appendDecoded(b.buf, unsafe.String(unsafe.SliceData(b.buf), n))
	}
	s := unsafe.String(unsafe.SliceData(b.buf), len(b.buf))
	forward = s[:n+len(suffix)]
	if hasPct {
		return forward, s[n+len(suffix):], nil
	}
	return forward, s[:n], nil
}

// splitTarget returns the raw path of an origin-form or absolute-form target
// and where it starts in target; the query follows it.
func splitTarget(t string) (path string, start int, err error) {
	if t == "" {
		return "", 0, ErrTarget
	}
	if t[0] != '/' {
		// absolute-form: scheme "://" authority [ path ] [ "?" query ].
		// Only http and https: RFC 9110 §4.2 gives no other scheme an
		// authority of this shape.
		rest := ""
		switch {
		case len(t) >= 7 && asciiEqualFold(t[:7], "http://"):
			rest, start = t[7:], 7
		case len(t) >= 8 && asciiEqualFold(t[:8], "https://"):
			rest, start = t[8:], 8
		default:
			return "", 0, ErrTarget
		}
		i := 0
		for ; i < len(rest) && rest[i] != '/' && rest[i] != '?'; i++ {
			switch class[rest[i]] {
			case clsHash:
				return "", 0, ErrFragment
			case clsBackslash:
				// WHATWG ends the authority at "\" in special schemes: the
				// rest would be path to it and authority to us.
				return "", 0, ErrBackslash
			case clsControl:
				return "", 0, ErrControl
			}
		}
		if i == 0 {
			return "", 0, ErrTarget // no authority
		}
		start += i
	}
	end := start
	for end < len(t) && t[end] != '?' {
		end++
	}
	return t[start:end], start, nil
}

func asciiEqualFold(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// lazybuf builds the normal path without allocating while it equals a
// prefix of the input (the idea of path.Clean's lazybuf): w is the length
// written, buf is nil until the output first differs from s.
type lazybuf struct {
	s       string
	buf     []byte
	w       int
	suffix  int  // bytes to reserve after the path (Target's query)
	decoded bool // reserve room for the decoded path after the suffix too
}

func (b *lazybuf) add(c byte) {
	if b.buf == nil {
		if b.w < len(b.s) && b.s[b.w] == c {
			b.w++
			return
		}
		b.grow()
	}
	b.buf = append(b.buf[:b.w], c)
	b.w++
}

func (b *lazybuf) addString(run string) {
	if b.buf == nil {
		if b.w+len(run) <= len(b.s) && b.s[b.w:b.w+len(run)] == run {
			b.w += len(run)
			return
		}
		b.grow()
	}
	b.buf = append(b.buf[:b.w], run...)
	b.w += len(run)
}

func (b *lazybuf) addEscape(c byte) {
	b.add('%')
	b.add(upperHex[c>>4])
	b.add(upperHex[c&15])
}

// grow allocates the one buffer: big enough for the longest output s can
// give (each byte of class clsEncode triples, nothing else grows; "" gives
// "/"), the suffix and, for Target, the decoded path, which is never longer
// than the normal one.
func (b *lazybuf) grow() {
	n := len(b.s) + 1
	for i := 0; i < len(b.s); i++ {
		if class[b.s[i]] == clsEncode {
			n += 2
		}
	}
	size := n + b.suffix
	if b.decoded {
		size += n
	}
	b.buf = make([]byte, b.w, size)
	copy(b.buf, b.s[:b.w])
}

// at returns the byte written at i < b.w.
func (b *lazybuf) at(i int) byte {
	if b.buf == nil {
		return b.s[i]
	}
	return b.buf[i]
}

func (b *lazybuf) string() string {
	return unsafe.String(unsafe.SliceData(b.buf), b.w)
}

// clean writes the normal form of s into b, in one left-to-right pass:
// every byte is checked (also in segments a later ".." removes), unreserved
// escapes are decoded before a segment is compared with "." and "..", so
// "%2e%2E" is "..", empty segments are dropped, and each segment is judged
// only once it is complete.
func (b *lazybuf) clean(s string) error {
	b.s = s
	if s == "" {
		b.add('/')
		return nil
	}
	if s[0] != '/' {
		return ErrNotAbsolute
	}
	var u utf8State
	b.add('/')
	i := 1
	for i < len(s) {
		if s[i] == '/' {
			i++ // merge slashes: an empty segment is no segment
			continue
		}
		start := b.w
		dots := 0 // number of "." written in this segment; -1 once anything else is
		for i < len(s) && s[i] != '/' {
			c := s[i]
			switch class[c] {
			case clsKeep:
				if u.need != 0 {
					return ErrInvalidUTF8
				}
				// The common case: a run of bytes kept as they are.
				j := i + 1
				for j < len(s) && class[s[j]] == clsKeep {
					j++
				}
				run := s[i:j]
				b.addString(run)
				for k := 0; k < len(run) && dots >= 0; k++ {
					if run[k] == '.' {
						dots++
					} else {
						dots = -1
					}
				}
				i = j
			case clsPct:
				if i+2 >= len(s) {
					return ErrMalformedEscape
				}
				hi, ok1 := hexdigit.Value(s[i+1])
				lo, ok2 := hexdigit.Value(s[i+2])
				if !ok1 || !ok2 {
					return ErrMalformedEscape
				}
				v := hi<<4 | lo
				if err := u.next(v); err != nil {
					return err
				}
				switch {
				case isUnreserved(v):
					b.add(v)
					if v == '.' && dots >= 0 {
						dots++
					} else {
						dots = -1
					}
				case v < 0x20 || v == 0x7f:
					return ErrControl
				case v == '/':
					return ErrEncodedSlash
				case v == '\\':
					return ErrBackslash
				default:
					b.addEscape(v)
					dots = -1
				}
				i += 3
			case clsEncode:
				if err := u.next(c); err != nil {
					return err
				}
				b.addEscape(c)
				dots = -1
				i++
			case clsControl:
				return ErrControl
			case clsBackslash:
				return ErrBackslash
			case clsSemicolon:
				return ErrPathParameter
			case clsHash:
				return ErrFragment
			case clsQuestion:
				return ErrQuery
			default:
				panic("pathnorm: unclassified byte") // every byte has a class
			}
		}
		if u.need != 0 {
			return ErrInvalidUTF8 // a character cut by "/" or the end
		}
		switch dots {
		case 1: // "." names the directory itself: drop it (RFC 3986 §5.2.4 B)
			b.w = start
		case 2: // ".." drops itself and the segment before (§5.2.4 C)
			if start == 1 {
				return ErrAboveRoot
			}
			j := start - 2
			for b.at(j) != '/' {
				j--
			}
			b.w = j + 1
		default:
			if i < len(s) {
				b.add('/') // the separator after a kept segment
			}
		}
		i++ // past the "/" (or the end)
	}
	return nil
}

// utf8State checks the decoded bytes, one at a time, against RFC 3629's
// well-formed sequences (Unicode Table 3-7): no overlong form, no surrogate,
// nothing above U+10FFFF. It also refuses the C1 controls U+0080..U+009F
// (C2 80..C2 9F), which some readers take as line ends (U+0085).
type utf8State struct {
	need   uint8
	lo, hi byte
	c2     bool
}

func (u *utf8State) next(c byte) error {
	if u.need == 0 {
		switch {
		case c < 0x80:
			return nil
		case 0xC2 <= c && c <= 0xDF:
			u.need, u.lo, u.hi = 1, 0x80, 0xBF
		case c == 0xE0:
			u.need, u.lo, u.hi = 2, 0xA0, 0xBF
		case 0xE1 <= c && c <= 0xEC, c == 0xEE, c == 0xEF:
			u.need, u.lo, u.hi = 2, 0x80, 0xBF
		case c == 0xED:
			u.need, u.lo, u.hi = 2, 0x80, 0x9F
		case c == 0xF0:
			u.need, u.lo, u.hi = 3, 0x90, 0xBF
		case 0xF1 <= c && c <= 0xF3:
			u.need, u.lo, u.hi = 3, 0x80, 0xBF
		case c == 0xF4:
			u.need, u.lo, u.hi = 3, 0x80, 0x8F
		default:
			return ErrInvalidUTF8
		}
		u.c2 = c == 0xC2
		return nil
	}
	if c < u.lo || c > u.hi {
		return ErrInvalidUTF8
	}
	if u.c2 && c < 0xA0 {
		return ErrControl
	}
	u.need--
	u.lo, u.hi, u.c2 = 0x80, 0xBF, false
	return nil
}
