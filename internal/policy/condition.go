package policy

import (
	"net/netip"
	"strings"
)

// family is the kind of comparison an operator makes.
type family uint8

const (
	famString family = iota
	famNumeric
	famDate
	famBool
	famIP
	famArn
	famNull
)

// cmpOp is the positive comparison of an operator.
type cmpOp uint8

const (
	cmpEq     cmpOp = iota
	cmpEqFold       // StringEqualsIgnoreCase
	cmpLike         // StringLike
	cmpLT
	cmpLE
	cmpGT
	cmpGE
)

// setOp is the set-operator prefix of an operator.
type setOp uint8

const (
	setNone setOp = iota
	setAny        // ForAnyValue:
	setAll        // ForAllValues:
)

// baseOps are the condition operators without prefix or IfExists suffix.
// A negated operator (Not...) is the negation of its positive counterpart.
var baseOps = map[string]struct {
	fam family
	cmp cmpOp
	neg bool
}{
	"StringEquals":              {famString, cmpEq, false},
	"StringNotEquals":           {famString, cmpEq, true},
	"StringEqualsIgnoreCase":    {famString, cmpEqFold, false},
	"StringNotEqualsIgnoreCase": {famString, cmpEqFold, true},
	"StringLike":                {famString, cmpLike, false},
	"StringNotLike":             {famString, cmpLike, true},
	"NumericEquals":             {famNumeric, cmpEq, false},
	"NumericNotEquals":          {famNumeric, cmpEq, true},
	"NumericLessThan":           {famNumeric, cmpLT, false},
	"NumericLessThanEquals":     {famNumeric, cmpLE, false},
	"NumericGreaterThan":        {famNumeric, cmpGT, false},
	"NumericGreaterThanEquals":  {famNumeric, cmpGE, false},
	"DateEquals":                {famDate, cmpEq, false},
	"DateNotEquals":             {famDate, cmpEq, true},
	"DateLessThan":              {famDate, cmpLT, false},
	"DateLessThanEquals":        {famDate, cmpLE, false},
	"DateGreaterThan":           {famDate, cmpGT, false},
	"DateGreaterThanEquals":     {famDate, cmpGE, false},
	"Bool":                      {famBool, cmpEq, false},
	"IpAddress":                 {famIP, cmpEq, false},
	"NotIpAddress":              {famIP, cmpEq, true},
	"ArnEquals":                 {famArn, cmpLike, false},
	"ArnNotEquals":              {famArn, cmpLike, true},
	"ArnLike":                   {famArn, cmpLike, false},
	"ArnNotLike":                {famArn, cmpLike, true},
	"Null":                      {famNull, cmpEq, false},
}

// cond is one compiled condition: an operator applied to one key.
type cond struct {
	opName   string // operator as written, for Explain
	keyName  string // key as written, for Explain
	fam      family
	cmp      cmpOp
	neg      bool
	ifExists bool
	set      setOp
	key      keyRef

	// The policy values, in the field for the operator's family. Several
	// values of one key are ORed.
	strs  []strval // famString, famArn
	nums  []float64
	dates []tstamp
	pfxs  []netip.Prefix
	bools []bool
	null  bool // famNull: true means "the key must be missing"
}

// strval is one value of a String or Arn operator, or one Resource pattern.
type strval struct {
	lit string  // cmpEq, cmpEqFold without variables: the literal
	g   glob    // cmpLike (string) without variables
	arn *arnPat // famArn without variables; nil if the value is not an ARN
	t   *tmpl   // the value has policy variables: resolved per request
}

// eval reports whether the condition holds for the request.
//
// With V the request's values of the key and match(v) "v matches at least
// one policy value" under the positive operator:
//
//	no prefix            V empty: IfExists or negated; else  ∃v match(v) ≠ negated
//	ForAnyValue:         V empty: IfExists;            else  ∃v match(v) ≠ negated
//	ForAllValues:        V empty: true;                else  ∀v match(v) ≠ negated
func (c *cond) eval(ec *evalCtx) bool {
	var buf [4]rval
	vals := ec.values(&c.key, buf[:0])
	if c.fam == famNull {
		return (len(vals) == 0) == c.null
	}
	if len(vals) == 0 {
		switch {
		case c.ifExists:
			return true
		case c.set == setAll:
			return true
		case c.set == setAny:
			return false
		}
		return c.neg
	}
	switch c.set {
	case setAny:
		for i := range vals {
			if c.match(ec, &vals[i]) != c.neg {
				return true
			}
		}
		return false
	case setAll:
		for i := range vals {
			if c.match(ec, &vals[i]) == c.neg {
				return false
			}
		}
		return true
	}
	for i := range vals {
		if c.match(ec, &vals[i]) {
			return !c.neg
		}
	}
	return c.neg
}

// match reports whether the request value v matches at least one of the
// policy values under the operator's positive comparison.
func (c *cond) match(ec *evalCtx, v *rval) bool {
	switch c.fam {
	case famString, famArn:
		if v.k == rvStr {
			return matchStrs(c, ec, v.s)
		}
		return c.matchFormatted(ec, v)
	case famNumeric:
		x, ok := v.number()
		if !ok {
			return false
		}
		for _, p := range c.nums {
			if compare(c.cmp, cmpFloat(x, p)) {
				return true
			}
		}
	case famDate:
		x, ok := v.date()
		if !ok {
			return false
		}
		for _, p := range c.dates {
			if compare(c.cmp, x.cmp(p)) {
				return true
			}
		}
	case famBool:
		x, ok := v.boolean()
		if !ok {
			return false
		}
		for _, p := range c.bools {
			if x == p {
				return true
			}
		}
	case famIP:
		x, ok := v.addr()
		if !ok {
			return false
		}
		for _, p := range c.pfxs {
			if p.Contains(x) {
				return true
			}
		}
	}
	return false
}

// matchFormatted matches a non-string request value (a port, a time, an
// address, a boolean) with a String or Arn operator, through its text form
// in a stack buffer.
func (c *cond) matchFormatted(ec *evalCtx, v *rval) bool {
	var buf [64]byte
	return matchStrs(c, ec, v.appendText(buf[:0], false))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(op cmpOp, c int) bool {
	switch op {
	case cmpEq:
		return c == 0
	case cmpLT:
		return c < 0
	case cmpLE:
		return c <= 0
	case cmpGT:
		return c > 0
	case cmpGE:
		return c >= 0
	}
	return false
}

// matchStrs reports whether s matches one of the String/Arn values of c.
func matchStrs[S text](c *cond, ec *evalCtx, s S) bool {
	for i := range c.strs {
		v := &c.strs[i]
		if v.t != nil {
			if matchTmpl(c, ec, v.t, s) {
				return true
			}
			continue
		}
		var ok bool
		switch {
		case c.fam == famArn:
			ok = v.arn != nil && arnMatch(v.arn, s)
		case c.cmp == cmpEq:
			ok = eqText(v.lit, s)
		case c.cmp == cmpEqFold:
			ok = equalFold(v.lit, s)
		default:
			ok = globMatch(&v.g, s)
		}
		if ok {
			return true
		}
	}
	return false
}

// matchTmpl resolves a value with policy variables into a stack buffer and
// matches s against it. An unresolvable value matches nothing.
func matchTmpl[S text](c *cond, ec *evalCtx, t *tmpl, s S) bool {
	var buf [256]byte
	p, ok := t.resolve(ec, buf[:0])
	if !ok {
		return false
	}
	switch {
	case c.fam == famArn:
		return arnMatchDyn(p, s)
	case c.cmp == cmpEq:
		return eqText(p, s)
	case c.cmp == cmpEqFold:
		return equalFold(p, s)
	}
	return wildMatch(p, s, false)
}

// matchLike matches a Resource pattern.
func (v *strval) matchLike(ec *evalCtx, s string) bool {
	if v.t == nil {
		return globMatch(&v.g, s)
	}
	return matchLikeTmpl(ec, v.t, s)
}

func matchLikeTmpl(ec *evalCtx, t *tmpl, s string) bool {
	var buf [256]byte
	p, ok := t.resolve(ec, buf[:0])
	return ok && wildMatch(p, s, false)
}

// parseOperator splits an operator name into its parts. The message is
// non-empty when the name is not valid.
func parseOperator(name string) (c cond, msg string) {
	c.opName = name
	base := name
	switch {
	case strings.HasPrefix(base, "ForAnyValue:"):
		c.set, base = setAny, base[len("ForAnyValue:"):]
	case strings.HasPrefix(base, "ForAllValues:"):
		c.set, base = setAll, base[len("ForAllValues:"):]
	}
	if b, ok := strings.CutSuffix(base, "IfExists"); ok {
		c.ifExists, base = true, b
	}
	op, ok := baseOps[base]
	if !ok {
		return c, `unknown operator ` + quote(name) + suggestOperator(name)
	}
	c.fam, c.cmp, c.neg = op.fam, op.cmp, op.neg
	if c.fam == famNull && (c.ifExists || c.set != setNone) {
		return c, `operator ` + quote(name) + ` is not valid: Null takes neither the IfExists suffix nor a ForAnyValue:/ForAllValues: prefix`
	}
	return c, ""
}

// suggestOperator proposes the closest known operator name.
func suggestOperator(name string) string {
	prefix, base := "", name
	for _, p := range []string{"ForAnyValue:", "ForAllValues:"} {
		if len(base) >= len(p) && strings.EqualFold(base[:len(p)], p) {
			prefix, base = p, base[len(p):]
		}
	}
	suffix := ""
	if len(base) > len("IfExists") && strings.EqualFold(base[len(base)-len("IfExists"):], "IfExists") {
		suffix, base = "IfExists", base[:len(base)-len("IfExists")]
	}
	best, bestD := "", 3
	for op := range baseOps {
		d := editDistance(strings.ToLower(base), strings.ToLower(op))
		if d < bestD || (d == bestD && best != "" && op < best) {
			best, bestD = op, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + quote(prefix+best+suffix) + "?)"
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
