package policy

import (
	"go/build"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string // pattern in escaped form
		fold, want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"**", "x", false, true},
		{"?", "", false, false},
		{"?", "a", false, true},
		{"?", "é", false, true},
		{"??", "é", false, false},
		{"*??", "€", false, false}, // a star must not split a rune for '?'
		{"*?", "€", false, true},
		{"*??a*", "€ab", false, false}, // a star stopping mid-rune would let '?' count bytes
		{"*??a*", "x€ab", false, true},
		{"abc", "abc", false, true},
		{"abc", "abd", false, false},
		{"abc", "ABC", false, false},
		{"abc", "ABC", true, true},
		{"a*", "abc", false, true},
		{"a*", "bac", false, false},
		{"*c", "abc", false, true},
		{"*c", "abd", false, false},
		{"*b*", "abc", false, true},
		{"*b*", "ac", false, false},
		{"a*b*c", "aXbYc", false, true},
		{"a*b*c", "aXbYcZ", false, false},
		{"a*b*c", "abbbc", false, true},
		{"a*a*a*a*a*b", strings.Repeat("a", 60), false, false}, // backtracking stays bounded
		{"a?c*", "abcde", false, true},
		{"*/public/*", "arn:x/public/y", false, true},
		{`a\*b`, "a*b", false, true},
		{`a\*b`, "axb", false, false},
		{`a\?b`, "axb", false, false},
		{`a\\b`, `a\b`, false, true},
		{`*\*`, "x*", false, true},
		{`*\*`, "xy", false, false},
		{"vpc-lattice-svcs:*", "VPC-Lattice-Svcs:Invoke", true, true},
	}
	for _, tc := range tests {
		if got := wildMatch(tc.pattern, tc.s, tc.fold); got != tc.want {
			t.Errorf("wildMatch(%q, %q, %v) = %v", tc.pattern, tc.s, tc.fold, got)
		}
		if got := wildMatch([]byte(tc.pattern), []byte(tc.s), tc.fold); got != tc.want {
			t.Errorf("wildMatch(bytes %q, %q, %v) = %v", tc.pattern, tc.s, tc.fold, got)
		}
		g := compileGlob(tc.pattern, tc.fold)
		if tc.fold {
			g = compileGlob(strings.ToLower(tc.pattern), true)
		}
		if got := globMatch(&g, tc.s); got != tc.want {
			t.Errorf("glob %q (kind %d) on %q = %v", tc.pattern, g.kind, tc.s, got)
		}
		if got := globMatch(&g, []byte(tc.s)); got != tc.want {
			t.Errorf("glob %q (kind %d) on bytes %q = %v", tc.pattern, g.kind, tc.s, got)
		}
	}
}

func TestCompileGlobKinds(t *testing.T) {
	tests := []struct {
		pattern string
		kind    globKind
		lit     string
	}{
		{"*", globAll, ""},
		{"***", globAll, ""},
		{"abc", globExact, "abc"},
		{`a\*c`, globExact, "a*c"},
		{"abc*", globPrefix, "abc"},
		{"abc**", globPrefix, "abc"},
		{"*abc", globSuffix, "abc"},
		{"*abc*", globContains, "abc"},
		{`*a\*c*`, globContains, "a*c"},
		{"a*c", globGeneral, "a*c"},
		{"a?", globGeneral, "a?"},
		{"*a*b*", globGeneral, "*a*b*"},
	}
	for _, tc := range tests {
		g := compileGlob(tc.pattern, false)
		if g.kind != tc.kind || g.s != tc.lit {
			t.Errorf("%q: kind %d %q, want %d %q", tc.pattern, g.kind, g.s, tc.kind, tc.lit)
		}
	}
}

// TestGlobAgreesWithRegexp cross-checks the matchers against a regexp
// translation on generated patterns.
func TestGlobAgreesWithRegexp(t *testing.T) {
	alphabet := []string{"a", "b", "/", ":", "é", "*", "?", `\*`}
	subjects := []string{"", "a", "b", "ab", "ba", "aab", "a/b", "a:b/ab", "é", "aéb", "a*b", "*", "?", "abab/ab", "éab", "é:é"}
	var gen func(prefix string, n int)
	count := 0
	gen = func(prefix string, n int) {
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			p := prefix + c
			count++
			var re strings.Builder
			re.WriteString("^(?s:")
			for i := 0; i < len(p); i++ {
				switch p[i] {
				case '*':
					re.WriteString(".*")
				case '?':
					re.WriteString(".")
				case '\\':
					i++
					re.WriteString(regexp.QuoteMeta(p[i : i+1]))
				default:
					re.WriteString(regexp.QuoteMeta(p[i : i+1]))
				}
			}
			re.WriteString(")$")
			rx := regexp.MustCompile(re.String())
			g := compileGlob(p, false)
			for _, s := range subjects {
				want := rx.MatchString(s)
				if got := wildMatch(p, s, false); got != want {
					t.Fatalf("wildMatch(%q, %q) = %v, regexp says %v", p, s, got, want)
				}
				if got := globMatch(&g, s); got != want {
					t.Fatalf("glob(%q kind %d, %q) = %v, regexp says %v", p, g.kind, s, got, want)
				}
			}
			gen(p, n-1)
		}
	}
	gen("", 4)
	if count < 4000 {
		t.Fatalf("only %d patterns", count)
	}
}

func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"", "", true}, {"a", "A", true}, {"GET", "get", true}, {"get", "gets", false},
		{"école", "ÉCOLE", true}, {"k", "\u212a", true}, {"ß", "SS", false}, {"a", "b", false},
		{"é", "e", false}, {"\xff", "\xff", true},
	} {
		if got := equalFold(tc.a, tc.b); got != tc.want {
			t.Errorf("equalFold(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := equalFold([]byte(tc.a), tc.b); got != tc.want {
			t.Errorf("equalFold(bytes %q, %q) = %v", tc.a, tc.b, got)
		}
		if want := strings.EqualFold(tc.a, tc.b); want != tc.want {
			t.Errorf("table disagrees with strings.EqualFold for %q %q", tc.a, tc.b)
		}
	}
}

func TestARNMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"arn:aws:s3:::b", "arn:aws:s3:::b", true},
		{"arn:aws:s3:::*", "arn:aws:s3:::b/k", true},
		{"arn:aws:*:*:*:x", "arn:aws:s3:::bucket:x", false},
		{"arn:aws:s3:::bucket:*", "arn:aws:s3:::bucket:x", true},
		{"arn:aws:s3:::*", "arn:aws:s3::", false},
		{"arn:*:*:*:*:*", "not:an:arn", false},
		{"arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:role/a/b", true},
		{"arn:aws:iam::?:role/*", "arn:aws:iam::1:role/a", true},
		{"arn:aws:iam::?:role/*", "arn:aws:iam::12:role/a", false},
	}
	for _, tc := range tests {
		a, ok := compileARN(tc.pattern)
		if !ok {
			t.Fatalf("compileARN(%q)", tc.pattern)
		}
		if got := arnMatch(a, tc.s); got != tc.want {
			t.Errorf("arnMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
		if got := arnMatchDyn([]byte(tc.pattern), tc.s); got != tc.want {
			t.Errorf("arnMatchDyn(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
	if _, ok := compileARN("arn:aws:s3::b"); ok {
		t.Fatal("five fields accepted")
	}
	if _, ok := compileARN(`arn:aws:s3:\::b`); ok {
		t.Fatal("an escaped colon split a field")
	}
}

func TestQueryKeyEqual(t *testing.T) {
	for _, tc := range []struct {
		esc, want string
		ok        bool
	}{
		{"a", "a", true}, {"a+b", "a b", true}, {"a%20b", "a b", true}, {"%41", "A", true},
		{"a%2", "a", false}, {"a%zz", "a", false}, {"ab", "a", false}, {"a", "ab", false}, {"", "", true},
	} {
		if got := queryKeyEqual(tc.esc, tc.want); got != tc.ok {
			t.Errorf("queryKeyEqual(%q, %q) = %v", tc.esc, tc.want, got)
		}
	}
}

// TestImportsStandardLibraryOnly: this package must not import Trellis (or
// anything outside the standard library).
func TestImportsStandardLibraryOnly(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	pkg, err := build.ImportDir(filepath.Dir(file), 0)
	if err != nil {
		t.Fatal(err)
	}
	imports := append(append(append([]string{}, pkg.Imports...), pkg.TestImports...), pkg.XTestImports...)
	for _, imp := range imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") {
			t.Errorf("imports %s, which is not in the standard library", imp)
		}
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("no imports found")
	}
}
