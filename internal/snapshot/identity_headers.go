package snapshot

import (
	"sort"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
)

// The identity headers a target receives after SigV4 auth succeeded
// (reference §7.1):
//
//	x-amzn-lattice-identity:      Principal=<arn>;PrincipalOrgID=<id>;PrincipalOrgPath=<path>;SessionName=<name>;Type=AWS_IAM
//	x-amzn-lattice-identity-tags: principal=<arn>;principalorgid=<id>;principalorgpath=<path>;<tag>=<value>;...
//
// Both are lists of key=value fields separated by ';'. Lattice escapes ';'
// inside a value as "\;"; Trellis completes that into an encoding in which
// one field can never read as two, whatever the stored values hold:
//
//   - in values and keys, '\' is written "\\" and ';' is written "\;";
//   - in keys (tag keys), '=' is written "\=" too, so the first unescaped
//     '=' of a field always ends its key;
//   - a field whose key or value holds a control byte (below 0x20, or DEL:
//     CR, LF, NUL, tab, ...) is left out, with a warning in
//     Snapshot.Warnings: no escape makes such bytes safe in every HTTP/1.1
//     and HTTP/2 implementation, and the API never accepts them (values
//     stored before it checked them are the only source);
//   - a tag named principal, principalorgid or principalorgpath (any case)
//     is left out likewise, so that the header carries one principal only
//     (the API refuses such tags);
//   - nothing else changes: non-ASCII text is sent as its UTF-8 bytes.
//
// A target decodes a header by splitting it on every ';' not preceded by
// an escaping '\', splitting each field on its first unescaped '=', and
// replacing "\x" by "x" in both halves (parseIdentityFields in the tests
// is that reference decoder).

// Identity header field names (reference §7.1).
const (
	fieldPrincipal        = "Principal"
	fieldPrincipalOrgID   = "PrincipalOrgID"
	fieldPrincipalOrgPath = "PrincipalOrgPath"
	fieldSessionName      = "SessionName"
	fieldType             = "Type"
	tagPrincipal          = "principal"
	tagPrincipalOrgID     = "principalorgid"
	tagPrincipalOrgPath   = "principalorgpath"
)

// hasControl reports whether s holds a byte that must never reach a header:
// a C0 control (CR, LF, NUL, tab, ...) or DEL.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// fieldWriter builds one identity header, field by field.
type fieldWriter struct {
	b     strings.Builder
	owner string // the principal, for warnings
	what  string // the header's name, for warnings
	warn  func(string)
}

// field appends key=value, escaped as the package comment says, or leaves
// it out (and warns) when it holds a control byte. An empty value is
// written only when always is set.
func (w *fieldWriter) field(key, value string, always bool) {
	if value == "" && !always {
		return
	}
	if hasControl(key) || hasControl(value) {
		w.warn("identity " + strconv.Quote(w.owner) + ": field " + strconv.Quote(key) + " left out of " + w.what +
			": it holds control characters")
		return
	}
	if w.b.Len() > 0 {
		w.b.WriteByte(';')
	}
	writeEscaped(&w.b, key, true)
	w.b.WriteByte('=')
	writeEscaped(&w.b, value, false)
}

// writeEscaped writes s with '\' and ';' escaped, and '=' too in a key.
func writeEscaped(b *strings.Builder, s string, key bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ';':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '=':
			if key {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}

// identityHeaders formats x-amzn-lattice-identity and
// x-amzn-lattice-identity-tags for id (see the encoding above). warn is
// told about every field left out.
func identityHeaders(id *Identity, warn func(string)) (header, tagsHeader []string) {
	w := fieldWriter{owner: id.PrincipalARN, what: "x-amzn-lattice-identity", warn: warn}
	w.field(fieldPrincipal, id.PrincipalARN, true)
	w.field(fieldPrincipalOrgID, id.OrgID, false)
	w.field(fieldPrincipalOrgPath, id.OrgPath, false)
	w.field(fieldSessionName, id.SessionName, false)
	w.field(fieldType, "AWS_IAM", true)

	t := fieldWriter{owner: id.PrincipalARN, what: "x-amzn-lattice-identity-tags", warn: warn}
	t.field(tagPrincipal, id.PrincipalARN, true)
	t.field(tagPrincipalOrgID, id.OrgID, false)
	t.field(tagPrincipalOrgPath, id.OrgPath, false)
	keys := make([]string, 0, len(id.Tags))
	for k := range id.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || model.ReservedIdentityTagKey(k) {
			warn("identity " + strconv.Quote(id.PrincipalARN) + ": tag " + strconv.Quote(k) +
				" left out of x-amzn-lattice-identity-tags: the name is empty or the header's own")
			continue
		}
		t.field(k, id.Tags[k], true)
	}
	return []string{w.b.String()}, []string{t.b.String()}
}
