package model

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IAM's syntax for the identity values Trellis accepts (roles, users,
// paths, session names, principal tags), checked where they are accepted.
// Every one of them later reaches a header sent to targets
// (x-amzn-lattice-identity, x-amzn-lattice-identity-tags) and the access
// logs, so a value IAM would refuse is refused here too: no control
// characters, no line breaks, nothing outside IAM's character classes.
// (The headers are also escaped where they are written: internal/snapshot.)

// IAM limits (IAM User Guide, "IAM and AWS STS quotas, name requirements,
// and character limits"; the IAM API reference's patterns).
const (
	MaxIAMNameLen        = 64  // role and user names
	MaxIAMPathLen        = 512 // paths
	MinSessionNameLen    = 2   // role session names
	MaxSessionNameLen    = 64
	MaxIAMTagKeyLen      = 128
	MaxIAMTagValueLen    = 256
	MaxIAMTags           = 50 // tags per role or user
	MaxAccountNameLength = 128
)

// iamNameByte reports whether c is in IAM's name class [\w+=,.@-].
func iamNameByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte("_+=,.@-", c) >= 0
}

// ValidIAMName reports whether s matches IAM's [\w+=,.@-]{min,max}: the
// pattern of role names, user names (1–64) and role session names (2–64).
func ValidIAMName(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !iamNameByte(s[i]) {
			return false
		}
	}
	return true
}

// ValidIAMPath reports whether p is an IAM path: "/", or "/" + printable
// ASCII (\x21-\x7E) + "/", at most 512 characters (IAM's
// (\u002F)|(\u002F[\u0021-\u007E]+\u002F)). Trellis also refuses empty
// segments ("//"), which name no path.
func ValidIAMPath(p string) bool {
	if len(p) == 0 || len(p) > MaxIAMPathLen || p[0] != '/' || p[len(p)-1] != '/' {
		return false
	}
	if strings.Contains(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x21 || p[i] > 0x7e {
			return false
		}
	}
	return true
}

// iamTagRune reports whether r is in the class of IAM tag keys and values,
// [\p{L}\p{Z}\p{N}_.:/=+\-@] (IAM API reference, Tag).
func iamTagRune(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		c := byte(r)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
			strings.IndexByte("_.:/=+-@", c) >= 0
	case r == utf8.RuneError:
		return false // invalid UTF-8 (U+FFFD itself is a symbol, not in the class either)
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.In(r, unicode.Z)
}

func iamTagText(s string) bool {
	for _, r := range s {
		if !iamTagRune(r) {
			return false
		}
	}
	return true
}

// ReservedIdentityTagKey reports whether k (in any case) is the name of a
// field x-amzn-lattice-identity-tags carries besides the tags themselves
// (reference §7.1: principal=<arn>;principalorgid=<id>;principalorgpath=
// <path>;<tag>=<value>). A tag so named would make the header carry two
// principal fields, so Trellis refuses it although IAM allows it.
func ReservedIdentityTagKey(k string) bool {
	switch strings.ToLower(k) {
	case "principal", "principalorgid", "principalorgpath":
		return true
	}
	return false
}

// CheckIAMTags validates the tags of a role or user (a tag map replaces
// the current tags as a whole): at most 50; keys and values in IAM's syntax;
// keys unique regardless of case, as IAM treats them ("Team" and "team"
// are one key); no key that x-amzn-lattice-identity-tags already uses.
// Every problem is recorded under field, naming the key.
func CheckIAMTags(v *Validator, field string, tags map[string]string) {
	if len(tags) > MaxIAMTags {
		v.Addf(field, "a role or user can have at most %d tags", MaxIAMTags)
	}
	seen := make(map[string]string, len(tags))
	for _, k := range sortedKeys(tags) {
		val := tags[k]
		switch {
		case k == "" || utf8.RuneCountInString(k) > MaxIAMTagKeyLen:
			v.Addf(field, "tag key %q must be between 1 and %d characters long", k, MaxIAMTagKeyLen)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			v.Addf(field, "tag key %q uses the reserved prefix aws:", k)
		case !iamTagText(k):
			v.Addf(field, "tag key %q may contain only letters, digits, spaces and _.:/=+-@", k)
		case ReservedIdentityTagKey(k):
			v.Addf(field, "tag key %q is reserved: x-amzn-lattice-identity-tags already carries %s", k, strings.ToLower(k))
		}
		switch {
		case utf8.RuneCountInString(val) > MaxIAMTagValueLen:
			v.Addf(field, "tag value for key %q must be at most %d characters long", k, MaxIAMTagValueLen)
		case !iamTagText(val):
			v.Addf(field, "tag value for key %q may contain only letters, digits, spaces and _.:/=+-@", k)
		}
		lk := strings.ToLower(k)
		if other, dup := seen[lk]; dup {
			v.Addf(field, "tag keys %q and %q are the same key: IAM tag keys are case-insensitive", other, k)
		}
		seen[lk] = k
	}
}

// CheckAccountName validates the free-text name of an account: at most 128
// characters of printable text (letters, marks, numbers, punctuation,
// symbols and the ASCII space; no control characters, line or paragraph
// separators, or invalid UTF-8). Empty clears the name.
func CheckAccountName(v *Validator, field, name string) {
	if utf8.RuneCountInString(name) > MaxAccountNameLength {
		v.Addf(field, "%s must be at most %d characters long", field, MaxAccountNameLength)
		return
	}
	if !utf8.ValidString(name) {
		v.Addf(field, "%s must be valid UTF-8", field)
		return
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			v.Addf(field, "%s must be printable text, without control characters or line breaks", field)
			return
		}
	}
}

// sortedKeys returns m's keys in order, so that errors come out the same
// way every time.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
