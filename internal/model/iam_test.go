package model

import (
	"strings"
	"testing"
)

func TestCheckIAMTags(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := 0; i < MaxIAMTags+1; i++ {
		many["k"+strings.Repeat("x", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		tags map[string]string
		ok   bool
	}{
		{"none", nil, true},
		{"plain", map[string]string{"team": "blue", "cost-center": "12:34/56=7+8@x_y.z"}, true},
		{"letters, numbers and spaces of any script", map[string]string{"équipe": "bleu vert", "名前": "値２", "k\u00a0": "\u2003"}, true},
		{"empty value", map[string]string{"team": ""}, true},
		{"longest key and value", map[string]string{strings.Repeat("é", 128): strings.Repeat("ü", 256)}, true},
		{"CR LF in a value", map[string]string{"team": "blue\r\nX-Injected: yes"}, false},
		{"LF in a key", map[string]string{"te\nam": "blue"}, false},
		{"NUL", map[string]string{"team": "a\x00"}, false},
		{"tab", map[string]string{"team": "a\tb"}, false},
		{"DEL", map[string]string{"team": "a\x7f"}, false},
		{"C1 control", map[string]string{"team": "a\u0085"}, false},
		{"semicolon in a key", map[string]string{"k;principal": "arn:aws:iam::999999999999:root"}, false},
		{"semicolon in a value", map[string]string{"k": "a;principal=x"}, false},
		{"backslash", map[string]string{"k": `a\`}, false},
		{"quote", map[string]string{"k": `"`}, false},
		{"comma", map[string]string{"k": "a,b"}, false},
		{"invalid UTF-8", map[string]string{"k": "\xff"}, false},
		{"replacement character", map[string]string{"k": "\ufffd"}, false},
		{"symbol", map[string]string{"k": "☃"}, false},
		{"empty key", map[string]string{"": "v"}, false},
		{"key too long", map[string]string{strings.Repeat("k", 129): "v"}, false},
		{"value too long", map[string]string{"k": strings.Repeat("v", 257)}, false},
		{"aws: prefix", map[string]string{"AWS:team": "v"}, false},
		{"keys differ only in case", map[string]string{"Team": "a", "team": "b"}, false},
		{"the header's principal", map[string]string{"Principal": "arn:aws:iam::999999999999:root"}, false},
		{"the header's org id", map[string]string{"principalorgid": "o-a1b2c3d4e5"}, false},
		{"the header's org path", map[string]string{"PRINCIPALORGPATH": "o-a1b2c3d4e5/r-ab12/"}, false},
		{"51 tags", many, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v Validator
			CheckIAMTags(&v, "tags", tc.tags)
			err := v.Err()
			if (err == nil) != tc.ok {
				t.Fatalf("CheckIAMTags(%q) = %v, want ok=%v", tc.tags, err, tc.ok)
			}
			if err != nil {
				e := err.(*Error)
				if e.Kind != KindValidation || len(e.Fields) == 0 || e.Fields[0].Name != "tags" {
					t.Fatalf("want a ValidationException naming tags, got %+v", e)
				}
				if strings.ContainsAny(e.Message, "\r\n\x00") {
					t.Fatalf("the message repeats raw control characters: %q", e.Message)
				}
			}
		})
	}
}

func TestValidIAMNameAndPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s        string
		min, max int
		ok       bool
	}{
		{"alice", 1, 64, true},
		{"a_b+c=d,e.f@g-h", 1, 64, true},
		{strings.Repeat("a", 64), 1, 64, true},
		{strings.Repeat("a", 65), 1, 64, false},
		{"", 1, 64, false},
		{"a", 2, 64, false},
		{"a;b", 1, 64, false},
		{"a b", 1, 64, false},
		{"a\r\nb", 1, 64, false},
		{"a/b", 1, 64, false},
		{"é", 1, 64, false},
	} {
		if got := ValidIAMName(tc.s, tc.min, tc.max); got != tc.ok {
			t.Errorf("ValidIAMName(%q, %d, %d) = %v, want %v", tc.s, tc.min, tc.max, got, tc.ok)
		}
	}
	for _, tc := range []struct {
		p  string
		ok bool
	}{
		{"/", true},
		{"/a/b/", true},
		{"/;Principal=arn:aws:iam::999999999999:root;/", true}, // IAM allows it; the headers escape it
		{`/a\b/`, true},
		{"/" + strings.Repeat("a", 510) + "/", true},
		{"/" + strings.Repeat("a", 511) + "/", false},
		{"", false},
		{"a/", false},
		{"/a", false},
		{"//", false},
		{"/a//b/", false},
		{"/a b/", false},
		{"/a\r\nb/", false},
		{"/a\x00/", false},
		{"/é/", false},
	} {
		if got := ValidIAMPath(tc.p); got != tc.ok {
			t.Errorf("ValidIAMPath(%q) = %v, want %v", tc.p, got, tc.ok)
		}
	}
}

func TestCheckAccountName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"", true},
		{"Orders team", true},
		{"Équipe « commandes » #2 (prod)", true},
		{strings.Repeat("é", 128), true},
		{strings.Repeat("a", 129), false},
		{"a\r\nX-Injected: yes", false},
		{"a\x00", false},
		{"a\tb", false},
		{"a\x7f", false},
		{"a\u0085", false},
		{"a\u2028b", false},
		{"\xff", false},
	} {
		var v Validator
		CheckAccountName(&v, "name", tc.name)
		if err := v.Err(); (err == nil) != tc.ok {
			t.Errorf("CheckAccountName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
