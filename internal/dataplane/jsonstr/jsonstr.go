// Package jsonstr writes JSON strings for the data plane's hand-written
// encoders (access log records, Lambda events): one escaper, fuzzed once,
// fast on the long plain-ASCII runs requests are made of. It imports
// nothing of Trellis.
package jsonstr

import "unicode/utf8"

// plain[c] reports that byte c is written as it is: printable ASCII other
// than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendEscaped appends the body of the JSON string holding s, without the
// quotes (RFC 8259 §7): '"', '\\' and control characters (DEL too) escaped,
// U+2028 and U+2029 escaped (JavaScript readers), every byte that is not part
// of valid UTF-8 replaced by U+FFFD as encoding/json does — so the output is
// always valid JSON whatever s holds. Plain ASCII runs are copied eight
// bytes at a time; it never allocates beyond growing dst.
func AppendEscaped(dst []byte, s string) []byte {
	i := plainPrefix(s)
	if i == len(s) { // the fast path: nothing to escape
		return append(dst, s...)
	}
	const hex = "0123456789abcdef"
	dst = append(dst, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // the other controls and DEL
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				dst = append(dst, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			default:
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
		n := plainPrefix(s[i:])
		dst = append(dst, s[i:i+n]...)
		i += n
	}
	return dst
}

// plainPrefix returns the length of the longest prefix of s made of plain
// bytes. It tests eight bytes at a time (SWAR: the bit tricks of "Bit
// Twiddling Hacks", haszero, hasless and hasmore), as request strings are
// long runs of plain ASCII.
func plainPrefix(s string) int {
	const (
		lsb = 0x0101010101010101
		msb = 0x8080808080808080
	)
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		t := s[i : i+8]
		w := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		q, b := w^(lsb*'"'), w^(lsb*'\\')
		// A high bit is set in some byte when one is '"' or '\\' (a zero
		// byte in q or b), below 0x20, or above 0x7e (DEL, non-ASCII).
		if ((q-lsb)&^q|(b-lsb)&^b|(w-lsb*0x20)&^w|(w+lsb)|w)&msb != 0 {
			break
		}
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}
