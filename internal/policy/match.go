package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Wildcard patterns are kept in an "escaped form": '*' matches any sequence
// of characters, '?' exactly one character, and '\' makes the next byte
// literal. Policy text is translated into this form at Parse time (a literal
// '\' becomes `\\`; the policy-variable escapes ${*} and ${?} become `\*` and
// `\?`), and the values of policy variables are escaped when they are
// substituted, so a tag value of "*" never acts as a wildcard.
//
// The matchers are generic over string and []byte so that patterns resolved
// per request into a stack buffer are matched without converting them to
// strings (which would allocate).

type text interface{ ~string | ~[]byte }

// lowerASCII folds an ASCII upper-case letter to lower case.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// runeLen is the length of the UTF-8 sequence at s[i]; 1 for invalid bytes.
func runeLen[S text](s S, i int) int {
	c := s[i]
	var n int
	switch {
	case c < utf8.RuneSelf:
		return 1
	case c&0xE0 == 0xC0:
		n = 2
	case c&0xF0 == 0xE0:
		n = 3
	case c&0xF8 == 0xF0:
		n = 4
	default:
		return 1
	}
	if i+n > len(s) {
		return 1
	}
	for j := 1; j < n; j++ {
		if s[i+j]&0xC0 != 0x80 {
			return 1
		}
	}
	return n
}

// decodeRune decodes the rune at s[i].
func decodeRune[S text](s S, i int) (rune, int) {
	var b [utf8.UTFMax]byte
	n := copy(b[:], s[i:min(i+utf8.UTFMax, len(s))])
	return utf8.DecodeRune(b[:n])
}

// eqText reports whether a and b hold the same bytes. (The conversions do
// not allocate: the compiler compares in place.)
func eqText[A, B text](a A, b B) bool {
	return string(a) == string(b)
}

// eqASCIIFold compares lower (already lower-case ASCII) with s, folding
// ASCII letters of s.
func eqASCIIFold[S text](lower string, s S) bool {
	if len(lower) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower[i] != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

// equalFold reports whether a and b are equal under Unicode simple case
// folding, like strings.EqualFold.
func equalFold[A, B text](a A, b B) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			if ca != cb && lowerASCII(ca) != lowerASCII(cb) {
				return false
			}
			i++
			j++
			continue
		}
		ra, na := decodeRune(a, i)
		rb, nb := decodeRune(b, j)
		i += na
		j += nb
		if ra != rb && !foldEq(ra, rb) {
			return false
		}
	}
	return i == len(a) && j == len(b)
}

// foldEq reports whether r and s are in the same Unicode case-folding orbit.
func foldEq(r, s rune) bool {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == s {
			return true
		}
	}
	return false
}

// wildMatch matches s against the escaped-form pattern p. With fold, ASCII
// letters are compared case-insensitively (p must then be lower case).
// It runs in O(len(p)·len(s)) time at worst and does not allocate.
func wildMatch[P, S text](p P, s S, fold bool) bool {
	// Fast path: the literal run before p's first special byte must be a
	// prefix of s; compare it in one go.
	pi := 0
	if !fold {
		for pi < len(p) && p[pi] != '*' && p[pi] != '?' && p[pi] != '\\' {
			pi++
		}
		if pi > len(s) || !eqText(p[:pi], s[:pi]) {
			return false
		}
	}
	si := pi
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			c, w := p[pi], 1
			switch c {
			case '*':
				pi++
				if pi == len(p) {
					return true // a trailing '*' takes the rest
				}
				starP, starS = pi, si
				continue
			case '?':
				pi++
				si += runeLen(s, si)
				continue
			case '\\':
				if pi+1 < len(p) {
					c, w = p[pi+1], 2
				}
			}
			sc := s[si]
			if fold {
				sc = lowerASCII(sc)
			}
			if c == sc {
				pi += w
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more character and retry.
		starS += runeLen(s, starS)
		pi, si = starP, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// escapeInto appends s to dst in escaped form (every byte literal).
func escapeInto[S text](dst []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// unescape returns the literal text of an escaped-form string that has no
// wildcards.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

type globKind uint8

const (
	globAll      globKind = iota // "*": everything
	globExact                    // no wildcard
	globPrefix                   // "abc*"
	globSuffix                   // "*abc"
	globContains                 // "*abc*"
	globGeneral                  // anything else
)

// glob is a precompiled wildcard pattern. The common shapes are matched
// without running the general matcher.
type glob struct {
	kind globKind
	fold bool   // ASCII case-insensitive; s is lower case
	s    string // literal (unescaped) for exact/prefix/suffix/contains; escaped pattern for general
	orig string // fold exact/prefix: the literal as written, compared first
}

// compileGlob compiles an escaped-form pattern.
func compileGlob(esc string, fold bool) glob {
	orig := esc
	if fold {
		esc = lowerASCIIString(esc)
	}
	// Split on unescaped '*' (runs of stars count as one); a '?' forces the
	// general matcher.
	var pieces []string
	start := 0
	for i := 0; i < len(esc); i++ {
		switch esc[i] {
		case '\\':
			i++
		case '?':
			return glob{kind: globGeneral, fold: fold, s: esc}
		case '*':
			if i == start && len(pieces) > 0 {
				start = i + 1 // a run of stars
				continue
			}
			pieces = append(pieces, esc[start:i])
			start = i + 1
		}
	}
	pieces = append(pieces, esc[start:])
	g := glob{fold: fold}
	switch {
	case len(pieces) == 1:
		g.kind, g.s = globExact, unescape(esc)
	case len(pieces) == 2 && pieces[0] == "" && pieces[1] == "":
		g.kind = globAll
	case len(pieces) == 2 && pieces[1] == "":
		g.kind, g.s = globPrefix, unescape(pieces[0])
	case len(pieces) == 2 && pieces[0] == "":
		g.kind, g.s = globSuffix, unescape(pieces[1])
	case len(pieces) == 3 && pieces[0] == "" && pieces[2] == "":
		g.kind, g.s = globContains, unescape(pieces[1])
	default:
		g.kind, g.s = globGeneral, esc
	}
	if fold && (g.kind == globExact || g.kind == globPrefix) {
		g.orig = compileGlob(orig, false).s // same shape, original case
	}
	return g
}

// lowerASCIIString lower-cases the ASCII letters of s, leaving other bytes
// alone (so byte offsets are kept).
func lowerASCIIString(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

// globMatch matches s against a compiled pattern.
func globMatch[S text](g *glob, s S) bool {
	if str, ok := any(s).(string); ok {
		return g.matchString(str)
	}
	switch g.kind {
	case globAll:
		return true
	case globExact:
		return globEq(g, s)
	case globPrefix:
		return len(s) >= len(g.s) && globEq(g, s[:len(g.s)])
	case globSuffix:
		return len(s) >= len(g.s) && globEq(g, s[len(s)-len(g.s):])
	case globContains:
		for i := 0; i+len(g.s) <= len(s); i++ {
			if globEq(g, s[i:i+len(g.s)]) {
				return true
			}
		}
		return false
	}
	return wildMatch(g.s, s, g.fold)
}

// matchString is globMatch for strings, using the strings package's
// (vectorised) primitives where the pattern allows.
func (g *glob) matchString(s string) bool {
	switch g.kind {
	case globAll:
		return true
	case globExact:
		if g.fold {
			return s == g.orig || eqASCIIFold(g.s, s)
		}
		return s == g.s
	case globPrefix:
		if g.fold {
			return len(s) >= len(g.s) && (s[:len(g.s)] == g.orig || eqASCIIFold(g.s, s[:len(g.s)]))
		}
		return strings.HasPrefix(s, g.s)
	case globSuffix:
		if g.fold {
			return len(s) >= len(g.s) && eqASCIIFold(g.s, s[len(s)-len(g.s):])
		}
		return strings.HasSuffix(s, g.s)
	case globContains:
		if g.fold {
			for i := 0; i+len(g.s) <= len(s); i++ {
				if eqASCIIFold(g.s, s[i:i+len(g.s)]) {
					return true
				}
			}
			return false
		}
		return strings.Contains(s, g.s)
	}
	return wildMatch(g.s, s, g.fold)
}

// globEq compares the literal of g with s.
func globEq[S text](g *glob, s S) bool {
	if g.fold {
		return eqASCIIFold(g.s, s)
	}
	return eqText(g.s, s)
}

// ARN patterns: the six colon-separated fields (the last keeps any further
// colons) are matched separately, so wildcards in the first five never cross
// a colon, as IAM's Arn* condition operators do.

const arnFields = 6

// arnPat is a precompiled ARN pattern.
type arnPat struct {
	fields [arnFields]glob
}

// splitEscaped splits an escaped-form pattern into ARN fields at unescaped
// colons. ok is false when it has fewer than six fields.
func splitEscaped[S text](p S) (f [arnFields]S, ok bool) {
	n, start := 0, 0
	for i := 0; i < len(p) && n < arnFields-1; i++ {
		switch p[i] {
		case '\\':
			i++
		case ':':
			f[n] = p[start:i]
			n++
			start = i + 1
		}
	}
	if n != arnFields-1 {
		return f, false
	}
	f[n] = p[start:]
	return f, true
}

// splitARN splits s into its six fields.
func splitARN[S text](s S) (f [arnFields]S, ok bool) {
	n, start := 0, 0
	for i := 0; i < len(s) && n < arnFields-1; i++ {
		if s[i] == ':' {
			f[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	if n != arnFields-1 {
		return f, false
	}
	f[n] = s[start:]
	return f, true
}

func compileARN(esc string) (*arnPat, bool) {
	f, ok := splitEscaped(esc)
	if !ok {
		return nil, false
	}
	a := &arnPat{}
	for i := range f {
		a.fields[i] = compileGlob(f[i], false)
	}
	return a, true
}

func arnMatch[S text](a *arnPat, s S) bool {
	f, ok := splitARN(s)
	if !ok {
		return false
	}
	for i := range f {
		if !globMatch(&a.fields[i], f[i]) {
			return false
		}
	}
	return true
}

// arnMatchDyn matches s against an escaped ARN pattern resolved per request.
func arnMatchDyn[P, S text](p P, s S) bool {
	pf, ok := splitEscaped(p)
	if !ok {
		return false
	}
	sf, ok := splitARN(s)
	if !ok {
		return false
	}
	for i := range pf {
		if !wildMatch(pf[i], sf[i], false) {
			return false
		}
	}
	return true
}
