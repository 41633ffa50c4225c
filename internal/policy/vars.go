package policy

import (
	"strconv"
	"strings"
)

// tmpl is a policy value containing policy variables (${...}), resolved per
// request.
type tmpl struct {
	parts []tpart
	esc   bool // resolve into escaped form (the value is a wildcard pattern)
}

// tpart is a literal run (already in the template's form) or a variable.
type tpart struct {
	lit    string
	key    keyRef
	def    string // default value, in the template's form
	isVar  bool
	hasDef bool
}

// resolve appends the value to buf. ok is false when a variable has no value
// and no default.
func (t *tmpl) resolve(ec *evalCtx, buf []byte) ([]byte, bool) {
	for i := range t.parts {
		p := &t.parts[i]
		if !p.isVar {
			buf = append(buf, p.lit...)
			continue
		}
		var rb [4]rval
		if vals := ec.values(&p.key, rb[:0]); len(vals) == 1 {
			buf = vals[0].appendText(buf, t.esc)
			continue
		}
		if !p.hasDef {
			return buf, false
		}
		buf = append(buf, p.def...)
	}
	return buf, true
}

// compileText translates a policy string into its matching form: escaped
// form when esc (wildcard patterns), plain text otherwise. With vars
// (Version 2012-10-17) it interprets ${...}: the result is either the
// translated literal (no variables, maybe escapes) or a template. msg is
// non-empty when a variable is malformed.
func compileText(s string, vars, esc bool) (lit string, t *tmpl, msg string) {
	literal := func(b *strings.Builder, s string) {
		if esc {
			b.Write(escapeBackslash(s))
		} else {
			b.WriteString(s)
		}
	}
	if !vars || !strings.Contains(s, "${") {
		if !esc || strings.IndexByte(s, '\\') < 0 {
			return s, nil, ""
		}
		return string(escapeBackslash(s)), nil, ""
	}
	var parts []tpart
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			literal(&b, s)
			break
		}
		literal(&b, s[:i])
		inner, rest, ok := cutVariable(s[i+2:])
		if !ok {
			return "", nil, "unterminated policy variable in " + quote(s[i:]) + ` (expected "${key}" or "${key, 'default'}")`
		}
		s = rest
		switch inner {
		case "*", "?":
			if esc {
				b.WriteByte('\\')
			}
			b.WriteString(inner)
			continue
		case "$":
			b.WriteByte('$')
			continue
		}
		name, def, hasDef := inner, "", false
		if k, d, found := strings.Cut(inner, ","); found {
			d = strings.TrimSpace(d)
			if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' || strings.Count(d, "'") != 2 {
				return "", nil, "policy variable " + quote("${"+inner+"}") + ` has a malformed default (expected "${key, 'default'}")`
			}
			name, def, hasDef = k, d[1:len(d)-1], true
		}
		name = strings.TrimSpace(name)
		if name == "" {
			return "", nil, "empty policy variable " + quote("${"+inner+"}")
		}
		key, kmsg := resolveKey(name)
		if kmsg != "" {
			return "", nil, "policy variable " + quote("${"+inner+"}") + ": " + kmsg
		}
		if key.id.multiValued() {
			return "", nil, "policy variable " + quote("${"+inner+"}") + ": " + name + " is multi-valued and cannot be used as a policy variable"
		}
		if b.Len() > 0 {
			parts = append(parts, tpart{lit: b.String()})
			b.Reset()
		}
		p := tpart{key: key, isVar: true, hasDef: hasDef}
		if hasDef {
			if esc {
				p.def = string(escapeInto(nil, def))
			} else {
				p.def = def
			}
		}
		parts = append(parts, p)
	}
	if parts == nil {
		return b.String(), nil, ""
	}
	if b.Len() > 0 {
		parts = append(parts, tpart{lit: b.String()})
	}
	return "", &tmpl{parts: parts, esc: esc}, ""
}

// cutVariable splits "key, 'default'}rest" after a "${": inner is the text
// between the braces; a '}' inside the quoted default does not end it.
func cutVariable(s string) (inner, rest string, ok bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			quoted = !quoted
		case '}':
			if !quoted {
				return s[:i], s[i+1:], true
			}
		}
	}
	return "", "", false
}

// escapeBackslash translates literal policy text into escaped form, keeping
// '*' and '?' as wildcards.
func escapeBackslash(s string) []byte {
	b := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

func quote(s string) string { return strconv.Quote(s) }
