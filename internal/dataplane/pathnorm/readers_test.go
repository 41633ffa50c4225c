package pathnorm

import (
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// rawReaders model how mainstream servers read an escaped path into the
// decoded path they route on. Each returns that path, or false where the
// reader refuses the request. They are written from the readers' documented
// behaviour (and, for nginx and Tomcat, their parsing code), independently of
// the package, so that a normal path can be checked against every one: all
// must arrive at Decode(normal). TestAttacksJudgedAsAdmin also shows that they
// disagree on the raw attack paths, so agreement on normal paths is a real
// property and not a coincidence of the models.
var rawReaders = map[string]func(string) (string, bool){
	"rfc3986":  rfcRead,
	"nginx":    nginxRead,
	"tomcat":   tomcatRead,
	"whatwg":   whatwgRead,
	"legacy":   legacyRead,
	"go-clean": goCleanRead,
}

// resolve removes dot segments from the decoded absolute path p (RFC 3986
// §5.2.4). merge drops empty segments first (nginx, Tomcat, path.Clean);
// clamp drops a ".." at the root (RFC 3986, WHATWG) instead of refusing it
// (nginx, Tomcat). A dot segment at the end leaves a trailing slash.
func resolve(p string, merge, clamp bool) (string, bool) {
	if p == "" || p[0] != '/' {
		return "", false
	}
	segs := strings.Split(p[1:], "/")
	var out []string
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) == 0 {
				if !clamp {
					return "", false
				}
			} else {
				out = out[:len(out)-1]
			}
		case "":
			if merge && !last {
				continue
			}
			out = append(out, s)
			continue
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/"), true
}

func hexByte(a, b byte) (byte, bool) {
	hi, ok1 := unhexRef(a)
	lo, ok2 := unhexRef(b)
	return hi<<4 | lo, ok1 && ok2
}

func unhexRef(c byte) (byte, bool) {
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

func cutQueryFragment(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

// rfcRead is RFC 3986 syntax-based normalisation (§6.2.2: unreserved
// escapes decoded, dot segments removed, clamped at the root), then the
// path decoded for routing.
func rfcRead(raw string) (string, bool) {
	raw = cutQueryFragment(raw)
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) {
				return "", false
			}
			v, ok := hexByte(raw[i+1], raw[i+2])
			if !ok {
				return "", false
			}
			if isUnreservedRef(v) {
				b.WriteByte(v)
			} else {
				b.WriteString(raw[i : i+3])
			}
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	p, ok := resolve(b.String(), false, true)
	if !ok {
		return "", false
	}
	d, err := url.PathUnescape(p)
	return d, err == nil
}

// nginxRead follows ngx_http_parse_complex_uri with merge_slashes on: one
// pass of percent-decoding in which a decoded byte is read as if it had been
// sent raw (so "%2F" separates and "%2E" is a dot), except "%", "#" and "?",
// which stay literal, and NUL, which is refused; a raw "?" or "#" ends the
// path; a ".." above the root is refused.
func nginxRead(raw string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '?' || c == '#' {
			break
		}
		if c == '%' {
			if i+2 >= len(raw) {
				return "", false
			}
			v, ok := hexByte(raw[i+1], raw[i+2])
			if !ok || v == 0 {
				return "", false
			}
			i += 2
			c = v
		}
		b.WriteByte(c)
	}
	return resolve(b.String(), true, false)
}

// tomcatRead follows Tomcat's CoyoteAdapter (and Spring's UrlPathHelper):
// ";params" are cut from every segment before decoding, then one decoding
// ("%2F" refused, the default encodedSolidusHandling), then normalize():
// "\" as "/" (ALLOW_BACKSLASH), "//" merged, dot segments, ".." above the
// root refused.
func tomcatRead(raw string) (string, bool) {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if strings.IndexByte(raw, '#') >= 0 {
		return "", false
	}
	var stripped strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == ';' {
			for i < len(raw) && raw[i] != '/' {
				i++
			}
			if i < len(raw) {
				stripped.WriteByte('/')
			}
			continue
		}
		stripped.WriteByte(raw[i])
	}
	s := stripped.String()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return "", false
			}
			v, ok := hexByte(s[i+1], s[i+2])
			if !ok || v == '/' || v == 0 {
				return "", false
			}
			c = v
			i += 2
		}
		if c == '\\' {
			c = '/'
		}
		b.WriteByte(c)
	}
	return resolve(b.String(), true, false)
}

// whatwgRead follows the WHATWG URL Standard's path state for a special
// scheme: "/" and "\" both separate, ".", "%2e", "..", ".%2e", "%2e." and
// "%2e%2e" (any case) are dot segments, ".." at the root is dropped, empty
// segments are kept, nothing is decoded; then the pathname is decoded once
// for routing.
func whatwgRead(raw string) (string, bool) {
	raw = cutQueryFragment(raw)
	if raw == "" || (raw[0] != '/' && raw[0] != '\\') {
		return "", false
	}
	var segs []string
	start := 1
	for i := 1; i <= len(raw); i++ {
		if i == len(raw) || raw[i] == '/' || raw[i] == '\\' {
			segs = append(segs, raw[start:i])
			start = i + 1
		}
	}
	var out []string
	for i, s := range segs {
		last := i == len(segs)-1
		switch l := strings.ToLower(s); l {
		case "..", ".%2e", "%2e.", "%2e%2e":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		case ".", "%2e":
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	d, err := url.PathUnescape("/" + strings.Join(out, "/"))
	return d, err == nil
}

// legacyRead is the lenient decoder of old IIS and Tomcat (CVE-2000-0884,
// CVE-2008-2938): "%uXXXX" escapes, overlong two-byte UTF-8 read as the
// ASCII byte it spells ("%C0%AE" is "."), "\" as "/", then slashes merged
// and dot segments removed.
func legacyRead(raw string) (string, bool) {
	raw = cutQueryFragment(raw)
	var b []byte
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' && i+5 < len(raw) && (raw[i+1] == 'u' || raw[i+1] == 'U') {
			hi, ok1 := hexByte(raw[i+2], raw[i+3])
			lo, ok2 := hexByte(raw[i+4], raw[i+5])
			if !ok1 || !ok2 {
				return "", false
			}
			b = utf8.AppendRune(b, rune(hi)<<8|rune(lo))
			i += 5
			continue
		}
		if c == '%' {
			if i+2 >= len(raw) {
				return "", false
			}
			v, ok := hexByte(raw[i+1], raw[i+2])
			if !ok {
				return "", false
			}
			c = v
			i += 2
		}
		b = append(b, c)
	}
	var s []byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		if (c == 0xC0 || c == 0xC1) && i+1 < len(b) && b[i+1]&0xC0 == 0x80 {
			c = (c&1)<<6 | b[i+1]&0x3F
			i++
		}
		if c == '\\' {
			c = '/'
		}
		s = append(s, c)
	}
	return resolve(string(s), true, false)
}

// goCleanRead is a Go handler that routes on path.Clean(r.URL.Path) (as
// net/http's ServeMux does), the trailing slash kept.
func goCleanRead(raw string) (string, bool) {
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return "", false
	}
	return cleanPath(u.Path), true
}

func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func isUnreservedRef(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
}

// checkReaders asserts that every reader of the normal path n arrives at
// the judged path Decode(n), and that n is valid RFC 3986 as net/url reads
// it: parsing, resolving against a base (RFC 3986 §5.2) and unescaping give
// back n and Decode(n).
func checkReaders(t *testing.T, n string) {
	t.Helper()
	d := Decode(n)
	for name, read := range rawReaders {
		if p, ok := read(n); !ok || p != d {
			t.Errorf("%s reads normal %q as %q (ok=%v), judged %q", name, n, p, ok, d)
		}
	}
	if p, err := url.PathUnescape(n); err != nil || p != d {
		t.Errorf("url.PathUnescape(%q) = %q, %v; judged %q", n, p, err, d)
	}
	u, err := url.ParseRequestURI(n)
	if err != nil {
		t.Fatalf("url.ParseRequestURI(%q): %v", n, err)
	}
	if u.Path != d || u.EscapedPath() != n {
		t.Errorf("url.ParseRequestURI(%q) = path %q, escaped %q; judged %q", n, u.Path, u.EscapedPath(), d)
	}
	base := &url.URL{Scheme: "http", Host: "svc.example", Path: "/base/dir/"}
	r := base.ResolveReference(&url.URL{Path: d, RawPath: n})
	if r.Path != d || r.EscapedPath() != n {
		t.Errorf("ResolveReference(%q) = path %q, escaped %q; judged %q", n, r.Path, r.EscapedPath(), d)
	}
	if c := cleanPath(d); c != d {
		t.Errorf("path.Clean reads judged %q as %q", d, c)
	}
	if !utf8.ValidString(d) {
		t.Errorf("judged %q is not UTF-8", d)
	}
}
