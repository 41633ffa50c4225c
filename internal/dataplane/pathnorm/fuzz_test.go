package pathnorm

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func seeds(f *testing.F) {
	for _, tc := range attacks {
		f.Add(tc.in)
	}
	for _, tc := range cases {
		f.Add(tc.in)
	}
	for _, s := range []string{"/a/b/c/./../../g", "/%2e%2E/%2E.", "/a%2F%2f/b", "/;x", "/a%3b/..;/b", "/\\/a", "/%C3%A9/..", "/%F0%9F%98%80/./", "/%u2215", "/a?b#c"} {
		f.Add(s)
	}
}

// FuzzNormalize checks every property doc.go promises of a normal path
// against arbitrary input, and compares the result with refNormalize, an
// independent (and deliberately plain) implementation of the same rules.
func FuzzNormalize(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, in string) {
		n, err := Normalize(in)
		want, ok := refNormalize(in)
		if (err == nil) != ok || err == nil && n != want {
			t.Fatalf("Normalize(%q) = %q, %v; reference %q, ok=%v", in, n, err, want, ok)
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Normalize(%q): unknown error %v", in, err)
			}
			return
		}
		checkNormal(t, n)
	})
}

// FuzzTarget checks that Target splits a request-target the way its
// documentation says and agrees with Normalize on the path.
func FuzzTarget(f *testing.F) {
	seeds(f)
	for _, s := range []string{"http://svc.example//admin/x?q", "HTTPS://h", "http://h?x", "svc:443", "*", "/a/.?q=%2e", "http:///x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		fwd, judged, err := Target(target)
		if target == "*" {
			if fwd != "*" || judged != "*" || err != nil {
				t.Fatalf("Target(*) = %q, %q, %v", fwd, judged, err)
			}
			return
		}
		// Split by hand: the path runs from the start (origin-form) or from
		// the first "/" or "?" after "scheme://authority" to the first "?".
		raw, rest := target, ""
		low := strings.ToLower(target)
		absolute := strings.HasPrefix(low, "http://") || strings.HasPrefix(low, "https://")
		if absolute {
			auth := target[strings.Index(target, "://")+3:]
			i := strings.IndexAny(auth, "/?")
			if i < 0 {
				i = len(auth)
			}
			if i == 0 || strings.ContainsAny(auth[:i], "#\\") || strings.ContainsFunc(auth[:i], func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				if err == nil {
					t.Fatalf("Target(%q) accepted authority %q", target, auth[:i])
				}
				return
			}
			raw = auth[i:]
		}
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			raw, rest = raw[:i], raw[i:]
		}
		if target == "" || !absolute && target[0] != '/' {
			if err != ErrTarget {
				t.Fatalf("Target(%q) = %q, %q, %v; want ErrTarget", target, fwd, judged, err)
			}
			return
		}
		n, nerr := Normalize(raw)
		if err != nerr {
			t.Fatalf("Target(%q) error %v, Normalize(%q) error %v", target, err, raw, nerr)
		}
		if err != nil {
			return
		}
		if fwd != n+rest || judged != Decode(n) {
			t.Fatalf("Target(%q) = %q, %q; want %q, %q", target, fwd, judged, n+rest, Decode(n))
		}
	})
}

func isSentinel(err error) bool {
	for _, e := range []error{ErrNotAbsolute, ErrMalformedEscape, ErrControl, ErrEncodedSlash, ErrBackslash,
		ErrPathParameter, ErrFragment, ErrQuery, ErrAboveRoot, ErrInvalidUTF8, ErrTarget} {
		if err == e {
			return true
		}
	}
	return false
}

// checkNormal asserts what a normal path is: a fixed point; "/"-rooted with
// no empty, "." or ".." segment; raw only unreserved, sub-delims but ";",
// ":", "@" and "/"; "%XX" only upper-case and never for "/", "\", a control
// or an unreserved character (so no "%2E" in any case); its decoding UTF-8
// without controls; and read alike by every reader (checkReaders).
func checkNormal(t *testing.T, n string) {
	t.Helper()
	if n == "*" {
		return
	}
	if again, err := Normalize(n); err != nil || again != n {
		t.Fatalf("Normalize(%q) = %q, %v: not idempotent", n, again, err)
	}
	if n == "" || n[0] != '/' {
		t.Fatalf("normal %q does not start with /", n)
	}
	for _, bad := range []string{"//", "/./", "/../"} {
		if strings.Contains(n, bad) {
			t.Fatalf("normal %q contains %q", n, bad)
		}
	}
	if strings.HasSuffix(n, "/.") || strings.HasSuffix(n, "/..") {
		t.Fatalf("normal %q ends in a dot segment", n)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c == '%':
			if i+2 >= len(n) || !isUpperHex(n[i+1]) || !isUpperHex(n[i+2]) {
				t.Fatalf("normal %q: escape at %d is not %%XX in upper case", n, i)
			}
			v, _ := hexByte(n[i+1], n[i+2])
			if isUnreservedRef(v) || v == '/' || v == '\\' || v < 0x20 || v == 0x7f {
				t.Fatalf("normal %q encodes %q", n, v)
			}
			i += 2
		case isUnreservedRef(c) || c == '/' || strings.IndexByte("!$&'()*+,=:@", c) >= 0:
		default:
			t.Fatalf("normal %q holds raw %q", n, c)
		}
	}
	d := Decode(n)
	for _, r := range d {
		if r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f || r == utf8.RuneError {
			t.Fatalf("judged %q holds %U", d, r)
		}
	}
	checkReaders(t, n)
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// refNormalize is the rules of doc.go written the plain way: split into
// segments, rewrite each, check the decoded bytes as a whole, then resolve
// the segment list.
func refNormalize(s string) (string, bool) {
	if s == "*" {
		return s, true
	}
	if s == "" {
		s = "/"
	}
	if s[0] != '/' {
		return "", false
	}
	var decoded []byte
	var segs []string
	raw := strings.Split(s[1:], "/")
	for k, seg := range raw {
		var out strings.Builder
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			switch {
			case c == '%':
				if i+2 >= len(seg) {
					return "", false
				}
				v, ok := hexByte(seg[i+1], seg[i+2])
				if !ok || v < 0x20 || v == 0x7f || v == '/' || v == '\\' {
					return "", false
				}
				decoded = append(decoded, v)
				if isUnreservedRef(v) {
					out.WriteByte(v)
				} else {
					fmt.Fprintf(&out, "%%%02X", v)
				}
				i += 2
			case c < 0x20 || c == 0x7f || strings.IndexByte("\\;#?", c) >= 0:
				return "", false
			case isUnreservedRef(c) || strings.IndexByte("!$&'()*+,=:@", c) >= 0:
				decoded = append(decoded, c)
				out.WriteByte(c)
			default:
				decoded = append(decoded, c)
				fmt.Fprintf(&out, "%%%02X", c)
			}
		}
		if k < len(raw)-1 {
			decoded = append(decoded, '/')
		}
		segs = append(segs, out.String())
	}
	if !utf8.Valid(decoded) {
		return "", false
	}
	for _, r := range string(decoded) {
		if 0x80 <= r && r <= 0x9f {
			return "", false
		}
	}
	var stack []string
	trailing := false
	for _, seg := range segs {
		trailing = false
		switch seg {
		case "":
			trailing = true
		case ".":
			trailing = true
		case "..":
			if len(stack) == 0 {
				return "", false
			}
			stack = stack[:len(stack)-1]
			trailing = true
		default:
			stack = append(stack, seg)
		}
	}
	out := "/" + strings.Join(stack, "/")
	if trailing && len(stack) > 0 {
		out += "/"
	}
	return out, true
}
