package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// Whatever s holds, the escaped body in quotes is valid JSON that decodes to
// s as encoding/json sees it (each byte of invalid UTF-8 as U+FFFD).
func FuzzAppendEscaped(f *testing.F) {
	for _, s := range []string{"", "plain ascii over eight bytes", "a\"b\\c\n\r\t\x00\x1f\x7f", "caf\xc3\xa9 \xff\xfe",
		"\u2028\u2029", strings.Repeat("x", 17) + "\"", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendEscaped([]byte{'"'}, s)
		b = append(b, '"')
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q → %s: not valid JSON: %v", s, b, err)
		}
		if want := validUTF8(s); got != want {
			t.Fatalf("%q → %s decodes to %q, want %q", s, b, got, want)
		}
		for _, c := range b[1 : len(b)-1] {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("%q → %s: control byte %#x left unescaped", s, b, c)
			}
		}
	})
}

// validUTF8 is s with each byte that is not part of valid UTF-8 replaced by
// U+FFFD, one per byte (as encoding/json decodes).
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
