package policy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Error is a policy that Parse rejects: Path locates the offending element
// (e.g. "Statement[1].Condition"; "" for the document as a whole) and Msg
// says what is wrong with it.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func errAt(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// The policy versions. Policy variables are interpreted only in
// version2012; in older or unversioned policies ${...} is literal text.
const (
	version2012 = "2012-10-17"
	version2008 = "2008-10-17"
)

// Parse parses and compiles an auth policy. A document that is not a valid
// policy yields an *Error.
func Parse(doc string) (*Policy, error) {
	if len(doc) > MaxSize {
		return nil, &Error{Msg: fmt.Sprintf("the policy is %d bytes long; the maximum is %d bytes", len(doc), MaxSize)}
	}
	if strings.TrimSpace(doc) == "" {
		return nil, &Error{Msg: "the policy document is empty"}
	}
	root, err := parseJSON(doc)
	if err != nil {
		return nil, err
	}
	p, perr := compile(root)
	if perr != nil {
		return nil, perr
	}
	return p, nil
}

// members checks that n is an object with no duplicate and no unknown
// members and returns them by name.
func members(n *jnode, path, what string, allowed []string) (map[string]*jnode, *Error) {
	if n.kind != jObject {
		return nil, errAt(path, "%s must be an object, not %s", what, n.typeName())
	}
	m := make(map[string]*jnode, len(n.keys))
	for i, k := range n.keys {
		if _, dup := m[k]; dup {
			return nil, errAt(path, "duplicate member %q", k)
		}
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			return nil, errAt(path, "unknown member %q%s", k, suggest(k, allowed))
		}
		m[k] = n.elems[i]
	}
	return m, nil
}

// suggest proposes a known name close to an unknown one.
func suggest(got string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (element names are case-sensitive; did you mean %q?)", best)
}

// stringList reads a string or a non-empty list of non-empty strings.
func stringList(n *jnode, path string) ([]string, []string, *Error) {
	switch n.kind {
	case jString:
		if n.str == "" {
			return nil, nil, errAt(path, "must not be empty")
		}
		return []string{n.str}, []string{path}, nil
	case jArray:
		if len(n.elems) == 0 {
			return nil, nil, errAt(path, "must not be an empty list")
		}
		out := make([]string, len(n.elems))
		paths := make([]string, len(n.elems))
		for i, e := range n.elems {
			paths[i] = fmt.Sprintf("%s[%d]", path, i)
			if e.kind != jString {
				return nil, nil, errAt(paths[i], "must be a string, not %s", e.typeName())
			}
			if e.str == "" {
				return nil, nil, errAt(paths[i], "must not be empty")
			}
			out[i] = e.str
		}
		return out, paths, nil
	}
	return nil, nil, errAt(path, "must be a string or a list of strings, not %s", n.typeName())
}

// exactlyOne picks one of two mutually exclusive members.
func exactlyOne(m map[string]*jnode, path, a, b string) (*jnode, string, *Error) {
	na, nb := m[a], m[b]
	switch {
	case na != nil && nb != nil:
		return nil, "", errAt(path, "has both %q and %q; use exactly one", a, b)
	case na != nil:
		return na, a, nil
	case nb != nil:
		return nb, b, nil
	}
	return nil, "", errAt(path, "missing %q (or %q)", a, b)
}

var topMembers = []string{"Version", "Id", "Statement"}
var stmtMembers = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}

func compile(root *jnode) (*Policy, *Error) {
	m, err := members(root, "", "the policy", topMembers)
	if err != nil {
		return nil, err
	}
	p := &Policy{}
	if v := m["Version"]; v != nil {
		if v.kind != jString {
			return nil, errAt("Version", "must be a string, not %s", v.typeName())
		}
		if v.str != version2012 && v.str != version2008 {
			return nil, errAt("Version", "%q is not a policy version (use %q)", v.str, version2012)
		}
		p.version = v.str
	}
	if v := m["Id"]; v != nil {
		if v.kind != jString {
			return nil, errAt("Id", "must be a string, not %s", v.typeName())
		}
		p.id = v.str
	}
	sn := m["Statement"]
	if sn == nil {
		return nil, errAt("", `missing "Statement"`)
	}
	var list []*jnode
	var paths []string
	switch sn.kind {
	case jObject:
		list, paths = []*jnode{sn}, []string{"Statement"}
	case jArray:
		if len(sn.elems) == 0 {
			return nil, errAt("Statement", "must not be an empty list")
		}
		list = sn.elems
		for i := range list {
			paths = append(paths, fmt.Sprintf("Statement[%d]", i))
		}
	default:
		return nil, errAt("Statement", "must be an object or a list of objects, not %s", sn.typeName())
	}
	c := compiler{vars: p.version == version2012}
	sids := map[string]string{}
	for i, n := range list {
		st, err := c.statement(n, paths[i])
		if err != nil {
			return nil, err
		}
		if st.sid != "" {
			if prev, dup := sids[st.sid]; dup {
				return nil, errAt(paths[i]+".Sid", "%q is already the Sid of %s; Sids must be unique", st.sid, prev)
			}
			sids[st.sid] = paths[i]
		}
		p.stmts = append(p.stmts, st)
		if st.effect == Deny {
			p.deny = append(p.deny, i)
		} else {
			p.allow = append(p.allow, i)
		}
	}
	return p, nil
}

type compiler struct {
	vars bool // interpret policy variables (Version 2012-10-17)
}

func (c *compiler) statement(n *jnode, path string) (statement, *Error) {
	var st statement
	m, err := members(n, path, "a statement", stmtMembers)
	if err != nil {
		return st, err
	}
	if v := m["Sid"]; v != nil {
		if v.kind != jString {
			return st, errAt(path+".Sid", "must be a string, not %s", v.typeName())
		}
		st.sid = v.str
	}
	switch e := m["Effect"]; {
	case e == nil:
		return st, errAt(path, `missing "Effect"`)
	case e.kind != jString:
		return st, errAt(path+".Effect", "must be a string, not %s", e.typeName())
	case e.str == "Allow":
		st.effect = Allow
	case e.str == "Deny":
		st.effect = Deny
	default:
		return st, errAt(path+".Effect", `must be "Allow" or "Deny", not %q`, e.str)
	}

	pn, name, err := exactlyOne(m, path, "Principal", "NotPrincipal")
	if err != nil {
		return st, err
	}
	st.notPrincipal = name == "NotPrincipal"
	if st.principal, err = principal(pn, path+"."+name); err != nil {
		return st, err
	}

	an, name, err := exactlyOne(m, path, "Action", "NotAction")
	if err != nil {
		return st, err
	}
	st.notAction = name == "NotAction"
	actions, apaths, err := stringList(an, path+"."+name)
	if err != nil {
		return st, err
	}
	for i, a := range actions {
		if msg := checkAction(a); msg != "" {
			return st, errAt(apaths[i], "%s", msg)
		}
		st.actions = append(st.actions, compileGlob(string(escapeBackslash(a)), true))
	}

	rn, name, err := exactlyOne(m, path, "Resource", "NotResource")
	if err != nil {
		return st, err
	}
	st.notResource = name == "NotResource"
	resources, rpaths, err := stringList(rn, path+"."+name)
	if err != nil {
		return st, err
	}
	for i, r := range resources {
		if !strings.HasPrefix(r, "*") && !strings.HasPrefix(r, "${") {
			if !strings.HasPrefix(r, "arn:") || strings.Count(r, ":") < arnFields-1 {
				return st, errAt(rpaths[i], `%q is not a resource (expected "*", an ARN "arn:partition:service:region:account:resource" or a pattern starting with "*", such as "*/path/*")`, r)
			}
		}
		lit, t, msg := compileText(r, c.vars, true)
		if msg != "" {
			return st, errAt(rpaths[i], "%s", msg)
		}
		v := strval{t: t}
		if t == nil {
			v.g = compileGlob(lit, false)
		}
		st.resources = append(st.resources, v)
	}

	if cn := m["Condition"]; cn != nil {
		if st.conds, err = c.conditions(cn, path+".Condition"); err != nil {
			return st, err
		}
	}
	return st, nil
}

// checkAction validates an action: "*" or "service:action".
func checkAction(a string) string {
	if a == "*" {
		return ""
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" || strings.ContainsAny(a, " \t\r\n") {
		return fmt.Sprintf(`%q is not an action (expected "*" or "service:action", e.g. "vpc-lattice-svcs:Invoke")`, a)
	}
	return ""
}

var principalTypes = []string{"AWS", "Service", "Federated", "CanonicalUser"}

// principal compiles a Principal or NotPrincipal element.
func principal(n *jnode, path string) (principals, *Error) {
	var p principals
	switch n.kind {
	case jString:
		if n.str != "*" {
			return p, errAt(path, `must be "*" or an object such as {"AWS": "111122223333"}, not the string %q`, n.str)
		}
		p.all = true
		return p, nil
	case jObject:
	default:
		return p, errAt(path, `must be "*" or an object such as {"AWS": "111122223333"}, not %s`, n.typeName())
	}
	m, err := members(n, path, "a principal", principalTypes)
	if err != nil {
		return p, err
	}
	if len(m) == 0 {
		return p, errAt(path, `must name at least one principal, e.g. {"AWS": "111122223333"}`)
	}
	for _, typ := range principalTypes {
		v := m[typ]
		if v == nil {
			continue
		}
		vals, paths, err := stringList(v, path+"."+typ)
		if err != nil {
			return p, err
		}
		if typ != "AWS" {
			continue // valid syntax, but no VPC Lattice caller is such a principal
		}
		for i, s := range vals {
			acct, arn, all, msg := awsPrincipal(s)
			switch {
			case msg != "":
				return p, errAt(paths[i], "%s", msg)
			case all:
				p.all = true
			case acct != "":
				p.accounts = append(p.accounts, acct)
			default:
				p.arns = append(p.arns, arn)
			}
		}
	}
	return p, nil
}

func isAccountID(s string) bool {
	return len(s) == 12 && digits(s) == 12
}

// awsPrincipal classifies one value of a Principal's "AWS" member.
func awsPrincipal(s string) (account, arn string, all bool, msg string) {
	if s == "*" {
		return "", "", true, ""
	}
	if isAccountID(s) {
		return s, "", false, ""
	}
	bad := fmt.Sprintf(`%q is not a principal (expected "*", a 12-digit account ID, or an IAM ARN such as "arn:aws:iam::111122223333:role/name")`, s)
	if !strings.HasPrefix(s, "arn:") {
		return "", "", false, bad
	}
	f := strings.SplitN(s, ":", arnFields)
	if len(f) != arnFields || f[1] == "" || f[3] != "" || !isAccountID(f[4]) {
		return "", "", false, bad
	}
	if strings.ContainsAny(s, "*?") {
		return "", "", false, fmt.Sprintf(`%q: wildcards are not allowed in principal ARNs (use "*" with a condition such as ArnLike on aws:PrincipalArn)`, s)
	}
	res := f[5]
	switch f[2] {
	case "iam":
		switch {
		case res == "root":
			return f[4], "", false, ""
		case len(res) > len("role/") && strings.HasPrefix(res, "role/"),
			len(res) > len("user/") && strings.HasPrefix(res, "user/"):
			return "", s, false, ""
		}
	case "sts":
		if rest, ok := strings.CutPrefix(res, "assumed-role/"); ok {
			role, session, ok := strings.Cut(rest, "/")
			if ok && role != "" && session != "" {
				return "", s, false, ""
			}
		}
		if rest, ok := strings.CutPrefix(res, "federated-user/"); ok && rest != "" {
			return "", s, false, ""
		}
	}
	return "", "", false, bad
}

// conditions compiles a Condition element.
func (c *compiler) conditions(n *jnode, path string) ([]cond, *Error) {
	if n.kind != jObject {
		return nil, errAt(path, "must be an object, not %s", n.typeName())
	}
	var out []cond
	seenOp := map[string]bool{}
	for i, opName := range n.keys {
		if seenOp[opName] {
			return nil, errAt(path, "duplicate operator %q", opName)
		}
		seenOp[opName] = true
		proto, msg := parseOperator(opName)
		if msg != "" {
			return nil, errAt(path, "%s", msg)
		}
		opPath := path + "." + opName
		block := n.elems[i]
		if block.kind != jObject {
			return nil, errAt(opPath, `must be an object of condition keys, e.g. {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}, not %s`, block.typeName())
		}
		if len(block.keys) == 0 {
			return nil, errAt(opPath, "has no condition keys")
		}
		seenKey := map[string]string{}
		for j, keyName := range block.keys {
			key, msg := resolveKey(keyName)
			if msg != "" {
				return nil, errAt(opPath, "%s", msg)
			}
			ck := canonicalKey(key)
			if prev, dup := seenKey[ck]; dup {
				if prev == keyName {
					return nil, errAt(opPath, "duplicate condition key %q", keyName)
				}
				return nil, errAt(opPath, "condition keys %q and %q are the same key (aws: keys are case-insensitive)", prev, keyName)
			}
			seenKey[ck] = keyName
			cd := proto
			cd.key, cd.keyName = key, keyName
			if err := c.values(&cd, block.elems[j], opPath+"["+quote(keyName)+"]"); err != nil {
				return nil, err
			}
			out = append(out, cd)
		}
	}
	return out, nil
}

// values compiles the policy values of one condition.
func (c *compiler) values(cd *cond, n *jnode, path string) *Error {
	var elems []*jnode
	var paths []string
	switch n.kind {
	case jArray:
		if len(n.elems) == 0 {
			return errAt(path, "must not be an empty list")
		}
		elems = n.elems
		for i := range elems {
			paths = append(paths, fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		elems, paths = []*jnode{n}, []string{path}
	}
	for i, e := range elems {
		var s string
		switch e.kind {
		case jString, jNumber:
			s = e.str
		case jBool:
			s = strconv.FormatBool(e.b)
		default:
			return errAt(paths[i], "a condition value must be a string, a number, a boolean or a list of them, not %s", e.typeName())
		}
		if err := c.value(cd, s, paths[i]); err != nil {
			return err
		}
	}
	if cd.fam == famNull && len(elems) > 1 {
		return errAt(path, `Null takes a single value, "true" or "false"`)
	}
	return nil
}

// value compiles one policy value for the operator's family.
func (c *compiler) value(cd *cond, s, path string) *Error {
	switch cd.fam {
	case famString:
		esc := cd.cmp == cmpLike
		lit, t, msg := compileText(s, c.vars, esc)
		if msg != "" {
			return errAt(path, "%s", msg)
		}
		v := strval{t: t}
		if t == nil {
			if esc {
				v.g = compileGlob(lit, false)
			} else {
				v.lit = lit
			}
		}
		cd.strs = append(cd.strs, v)
	case famArn:
		lit, t, msg := compileText(s, c.vars, true)
		if msg != "" {
			return errAt(path, "%s", msg)
		}
		v := strval{t: t}
		if t == nil {
			a, ok := compileARN(lit)
			if !ok {
				return errAt(path, `%s value %q is not an ARN (expected "arn:partition:service:region:account:resource", wildcards allowed)`, cd.opName, s)
			}
			v.arn = a
		}
		cd.strs = append(cd.strs, v)
	case famNumeric:
		f, ok := parseNumber(s)
		if !ok {
			return errAt(path, "%s value %q is not a number", cd.opName, s)
		}
		cd.nums = append(cd.nums, f)
	case famDate:
		d, ok := parseDate(s)
		if !ok {
			return errAt(path, `%s value %q is not a date (expected RFC 3339, e.g. "2026-01-02T15:04:05Z", or seconds since the Unix epoch)`, cd.opName, s)
		}
		cd.dates = append(cd.dates, d)
	case famBool:
		b, ok := parseBool(s)
		if !ok {
			return errAt(path, `%s value %q is not "true" or "false"`, cd.opName, s)
		}
		cd.bools = append(cd.bools, b)
	case famNull:
		b, ok := parseBool(s)
		if !ok {
			return errAt(path, `Null value %q is not "true" (the key must be missing) or "false" (it must be present)`, s)
		}
		cd.null = b
	case famIP:
		pfx, ok := parseIPValue(s)
		if !ok {
			return errAt(path, `%s value %q is not an IP address or CIDR block (e.g. "203.0.113.0/24", "2001:db8::/32")`, cd.opName, s)
		}
		cd.pfxs = append(cd.pfxs, pfx)
	}
	return nil
}

// parseIPValue parses a CIDR block or a single address (a /32 or /128).
// Host bits of a CIDR are ignored, as IAM does.
func parseIPValue(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, false
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}
