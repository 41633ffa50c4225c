package model

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/arn"
)

// Limits from reference §4.
const (
	MinPriority        = 1
	MaxPriority        = 2000 // the API model's range; the console offers 1–100
	DefaultWeight      = 100  // an omitted forward weight, as the AWS CLI guide and Terraform have it
	MaxTargetGroupsFwd = 10
	MaxWeight          = 999
	MaxHeaderMatches   = 5
	MaxTags            = 50
	MaxAuthPolicyLen   = 10 * 1024
	MaxResourcePolicy  = 10000
	MaxSecurityGroups  = 5
	MaxTargetsPerCall  = 100
	MaxBatchRules      = 10
)

// NameRule describes the syntax of one kind of name.
type NameRule struct {
	Min, Max       int
	ReservedPrefix string // e.g. "svc-"; empty for none
}

// Name rules (reference §4.1).
var (
	ServiceNetworkName = NameRule{3, 63, ""}
	ServiceName        = NameRule{3, 40, "svc-"}
	ListenerName       = NameRule{3, 63, "listener-"}
	RuleName           = NameRule{3, 63, "rule-"}
	TargetGroupName    = NameRule{3, 128, "tg-"}
)

// CheckName validates a resource name: lowercase letters, digits and
// hyphens, no leading, trailing or double hyphen, the kind's length, and not
// the kind's reserved prefix.
func (nr NameRule) CheckName(v *Validator, field, name string) {
	switch {
	case name == "":
		v.Addf(field, "%s is required", field)
		return
	case len(name) < nr.Min || len(name) > nr.Max:
		v.Addf(field, "%s must be between %d and %d characters long", field, nr.Min, nr.Max)
		return
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			v.Addf(field, "%s may contain only lowercase letters, digits and hyphens", field)
			return
		}
	}
	switch {
	case name[0] == '-' || name[len(name)-1] == '-':
		v.Addf(field, "%s must not start or end with a hyphen", field)
	case strings.Contains(name, "--"):
		v.Addf(field, "%s must not contain two consecutive hyphens", field)
	case nr.ReservedPrefix != "" && strings.HasPrefix(name, nr.ReservedPrefix):
		v.Addf(field, "%s must not start with %q", field, nr.ReservedPrefix)
	}
}

// CheckAuthType validates an optional auth type.
func CheckAuthType(v *Validator, field, s string) {
	if s != "" && s != AuthTypeNone && s != AuthTypeAWSIAM {
		v.Addf(field, "%s must be one of NONE, AWS_IAM", field)
	}
}

// CheckTags validates a tag map.
func CheckTags(v *Validator, field string, tags map[string]string) {
	if len(tags) > MaxTags {
		v.Addf(field, "a resource can have at most %d tags", MaxTags)
	}
	for k, val := range tags {
		CheckTagKey(v, field, k)
		if len(val) > 256 {
			v.Addf(field, "tag value for key %q must be at most 256 characters long", k)
		}
	}
}

// CheckTagKey validates one tag key.
func CheckTagKey(v *Validator, field, k string) {
	switch {
	case len(k) < 1 || len(k) > 128:
		v.Addf(field, "tag key %q must be between 1 and 128 characters long", k)
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		v.Addf(field, "tag key %q uses the reserved prefix aws:", k)
	}
}

// CheckClientToken validates an optional idempotency token.
func CheckClientToken(v *Validator, token *string) {
	if token == nil {
		return
	}
	t := *token
	ok := len(t) >= 1 && len(t) <= 64
	if ok {
		ok = false
		for i := 0; i < len(t); i++ {
			if t[i] >= '!' && t[i] <= '~' {
				ok = true
				break
			}
		}
	}
	if !ok {
		v.Addf("clientToken", "clientToken must be 1 to 64 characters with at least one printable ASCII character")
	}
}

// CheckPort validates a port 1–65535.
func CheckPort(v *Validator, field string, p int) {
	if p < 1 || p > 65535 {
		v.Addf(field, "%s must be between 1 and 65535", field)
	}
}

// CheckDomainName validates a custom domain name.
func CheckDomainName(v *Validator, field, d string) {
	if len(d) < 3 || len(d) > 255 {
		v.Addf(field, "%s must be between 3 and 255 characters long", field)
		return
	}
	if strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		v.Addf(field, "%s must be a valid domain name", field)
		return
	}
	for _, label := range strings.Split(strings.TrimPrefix(d, "*."), ".") {
		if len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			v.Addf(field, "%s must be a valid domain name", field)
			return
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if (c < 'a' || c > 'z') && (label[i] < '0' || label[i] > '9') && label[i] != '-' {
				v.Addf(field, "%s must be a valid domain name", field)
				return
			}
		}
	}
}

// CheckARN validates that s looks like an ARN of at most max characters.
func CheckARN(v *Validator, field, s string, minLen, maxLen int) {
	if len(s) < minLen || len(s) > maxLen {
		v.Addf(field, "%s must be between %d and %d characters long", field, minLen, maxLen)
		return
	}
	if _, err := arn.Parse(s); err != nil {
		v.Addf(field, "%s must be an ARN", field)
	}
}

// ValidVpcID reports whether s is vpc- followed by 8 or 17 lowercase
// letters and digits (the API model's pattern; real IDs are hexadecimal).
func ValidVpcID(s string) bool { return prefixedID(s, "vpc-") }

// ValidSecurityGroupID reports whether s is sg- followed by 8 or 17
// lowercase letters and digits.
func ValidSecurityGroupID(s string) bool { return prefixedID(s, "sg-") }

func prefixedID(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	rest := s[len(prefix):]
	if len(rest) != 8 && len(rest) != 17 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// CheckSecurityGroups validates a list of security group IDs.
func CheckSecurityGroups(v *Validator, field string, ids []string, minN int) {
	if len(ids) < minN || len(ids) > MaxSecurityGroups {
		v.Addf(field, "%s must have between %d and %d entries", field, minN, MaxSecurityGroups)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !ValidSecurityGroupID(id) {
			v.Addf(field, "%q is not a security group ID (sg- followed by 8 or 17 lowercase letters and digits)", id)
		}
		if seen[id] {
			v.Addf(field, "security group %q is listed twice", id)
		}
		seen[id] = true
	}
}

// CheckPolicyDocument validates that a policy is a JSON object within size
// limits. The full IAM grammar is checked by the policy engine.
func CheckPolicyDocument(v *Validator, field, policy string, maxLen int) {
	switch {
	case len(policy) == 0:
		v.Addf(field, "%s is required", field)
		return
	case len(policy) > maxLen:
		v.Addf(field, "%s must be at most %d characters long", field, maxLen)
		return
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		v.Addf(field, "%s is not a valid JSON policy document: %v", field, err)
		return
	}
	if _, ok := doc["Statement"]; !ok {
		v.Addf(field, "%s has no Statement", field)
	}
}

// CheckRuleAction validates a forward or fixed-response action.
func CheckRuleAction(v *Validator, field string, a *RuleAction) {
	if a == nil {
		v.Addf(field, "%s is required", field)
		return
	}
	switch {
	case a.Forward != nil && a.FixedResponse != nil:
		v.Addf(field, "%s must have exactly one of forward and fixedResponse", field)
	case a.Forward != nil:
		tgs := a.Forward.TargetGroups
		if len(tgs) < 1 || len(tgs) > MaxTargetGroupsFwd {
			v.Addf(field+".forward.targetGroups", "forward must have between 1 and %d target groups", MaxTargetGroupsFwd)
		}
		seen := map[string]bool{}
		for i, tg := range tgs {
			f := field + ".forward.targetGroups[" + strconv.Itoa(i) + "]"
			if _, err := ParseIdentifier(arn.TargetGroup, f+".targetGroupIdentifier", tg.TargetGroupIdentifier); err != nil {
				v.Identifier(err)
			} else if seen[tg.TargetGroupIdentifier] {
				v.Addf(f+".targetGroupIdentifier", "target group %s is listed twice", tg.TargetGroupIdentifier)
			}
			seen[tg.TargetGroupIdentifier] = true
			if tg.Weight != nil && (*tg.Weight < 0 || *tg.Weight > MaxWeight) {
				v.Addf(f+".weight", "weight must be between 0 and %d", MaxWeight)
			}
		}
	case a.FixedResponse != nil:
		sc := a.FixedResponse.StatusCode
		if sc == nil {
			v.Addf(field+".fixedResponse.statusCode", "statusCode is required")
		} else if *sc != 404 && *sc != 500 {
			v.Addf(field+".fixedResponse.statusCode", "fixed responses support only the status codes 404 and 500")
		}
	default:
		v.Addf(field, "%s must have exactly one of forward and fixedResponse", field)
	}
}

// CheckPriority validates a rule priority.
func CheckPriority(v *Validator, field string, p *int) {
	if p == nil {
		v.Addf(field, "%s is required", field)
	} else if *p < MinPriority || *p > MaxPriority {
		v.Addf(field, "%s must be between %d and %d", field, MinPriority, MaxPriority)
	}
}

// CheckRuleMatch validates an HTTP match.
func CheckRuleMatch(v *Validator, field string, m *RuleMatch) {
	if m == nil {
		v.Addf(field, "%s is required", field)
		return
	}
	h := m.HTTPMatch
	if h == nil {
		v.Addf(field+".httpMatch", "match must have httpMatch")
		return
	}
	if h.Method == "" && h.PathMatch == nil && len(h.HeaderMatches) == 0 {
		v.Addf(field+".httpMatch", "httpMatch must have at least one of method, pathMatch and headerMatches")
	}
	if len(h.Method) > 16 {
		v.Addf(field+".httpMatch.method", "method must be at most 16 characters long")
	}
	for i := 0; i < len(h.Method); i++ {
		if c := h.Method[i]; c <= ' ' || c > '~' {
			v.Addf(field+".httpMatch.method", "method must be an HTTP token")
			break
		}
	}
	if pm := h.PathMatch; pm != nil {
		f := field + ".httpMatch.pathMatch.match"
		switch {
		case pm.Match.Contains != nil || (pm.Match.Exact != nil) == (pm.Match.Prefix != nil):
			v.Addf(f, "pathMatch must have exactly one of exact and prefix")
		case pm.Match.Exact != nil:
			checkPath(v, f+".exact", *pm.Match.Exact)
		default:
			checkPath(v, f+".prefix", *pm.Match.Prefix)
		}
	}
	if n := len(h.HeaderMatches); n > MaxHeaderMatches {
		v.Addf(field+".httpMatch.headerMatches", "headerMatches must have at most %d entries", MaxHeaderMatches)
	}
	for i, hm := range h.HeaderMatches {
		f := field + ".httpMatch.headerMatches[" + strconv.Itoa(i) + "]"
		if len(hm.Name) < 1 || len(hm.Name) > 100 {
			v.Addf(f+".name", "header name must be between 1 and 100 characters long")
		} else if strings.ContainsAny(hm.Name, "*?: \t") {
			v.Addf(f+".name", "header name must be a plain HTTP header name without wildcards")
		}
		n := 0
		for _, s := range []*string{hm.Match.Exact, hm.Match.Prefix, hm.Match.Contains} {
			if s != nil {
				n++
				if len(*s) < 1 || len(*s) > 200 {
					v.Addf(f+".match", "header match value must be between 1 and 200 characters long")
				}
			}
		}
		if n != 1 {
			v.Addf(f+".match", "header match must have exactly one of exact, prefix and contains")
		}
	}
}

func checkPath(v *Validator, field, p string) {
	if len(p) < 1 || len(p) > 200 || p[0] != '/' {
		v.Addf(field, "path must start with / and be between 1 and 200 characters long")
		return
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte("@:%_+.~#?&/=-", c) >= 0 {
			continue
		}
		v.Addf(field, "path may contain only letters, digits and @:%%_+.~#?&/=-")
		return
	}
}

// Health check defaults (reference §6).
const (
	DefaultHealthCheckInterval = 30
	DefaultHealthCheckTimeout  = 5
	DefaultHealthyThreshold    = 5
	DefaultUnhealthyThreshold  = 2
	DefaultHealthCheckPath     = "/"
	DefaultHealthCheckMatcher  = "200"
)

// CheckHealthCheck validates a health check config; zero numbers mean "the
// default" and are allowed.
func CheckHealthCheck(v *Validator, field string, hc *HealthCheckConfig) {
	if hc == nil {
		return
	}
	rng := func(name string, p *int, lo, hi int) {
		if p != nil && *p != 0 && (*p < lo || *p > hi) {
			v.Addf(field+"."+name, "%s must be between %d and %d", name, lo, hi)
		}
	}
	rng("healthCheckIntervalSeconds", hc.HealthCheckIntervalSeconds, 5, 300)
	rng("healthCheckTimeoutSeconds", hc.HealthCheckTimeoutSeconds, 1, 120)
	rng("healthyThresholdCount", hc.HealthyThresholdCount, 2, 10)
	rng("unhealthyThresholdCount", hc.UnhealthyThresholdCount, 2, 10)
	if hc.Port != nil && (*hc.Port < 0 || *hc.Port > 65535) {
		v.Addf(field+".port", "port must be between 0 and 65535")
	}
	if hc.Protocol != "" && hc.Protocol != ProtocolHTTP && hc.Protocol != ProtocolHTTPS {
		v.Addf(field+".protocol", "protocol must be one of HTTP, HTTPS")
	}
	if hc.ProtocolVersion != "" && hc.ProtocolVersion != ProtocolVersionHTTP1 && hc.ProtocolVersion != ProtocolVersionHTTP2 {
		v.Addf(field+".protocolVersion", "protocolVersion must be one of HTTP1, HTTP2")
	}
	if len(hc.Path) > 2048 || (hc.Path != "" && hc.Path[0] != '/') {
		v.Addf(field+".path", "path must start with / and be at most 2048 characters long")
	}
	if hc.Matcher != nil {
		if hc.Matcher.HTTPCode == nil {
			v.Addf(field+".matcher", "matcher must have httpCode")
		} else if _, err := ParseHTTPCodes(*hc.Matcher.HTTPCode); err != nil {
			v.Addf(field+".matcher.httpCode", "%v", err)
		}
	}
}

// CodeRange is an inclusive range of HTTP status codes.
type CodeRange struct{ Lo, Hi int }

// ParseHTTPCodes parses a matcher such as "200", "200,202" or "200-299".
func ParseHTTPCodes(s string) ([]CodeRange, error) {
	if len(s) == 0 || len(s) > 2000 {
		return nil, &Error{Kind: KindValidation, Message: "httpCode must be between 1 and 2000 characters long"}
	}
	var out []CodeRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 200 || b > 499 || a > b {
			return nil, &Error{Kind: KindValidation, Message: "httpCode must be codes or ranges between 200 and 499, such as 200, 200,202 or 200-299"}
		}
		out = append(out, CodeRange{a, b})
	}
	return out, nil
}

// WithHealthCheckDefaults returns hc with every unset member set to its
// default; enabled defaults to true only for HTTP1 target groups.
func WithHealthCheckDefaults(hc *HealthCheckConfig, tgProtocolVersion string) *HealthCheckConfig {
	out := HealthCheckConfig{}
	if hc != nil {
		out = *hc
	}
	intDefault := func(p **int, d int) {
		if *p == nil || **p == 0 {
			*p = &d
		}
	}
	if out.Enabled == nil {
		e := tgProtocolVersion == "" || tgProtocolVersion == ProtocolVersionHTTP1
		out.Enabled = &e
	}
	if out.Protocol == "" {
		out.Protocol = ProtocolHTTP
	}
	if out.ProtocolVersion == "" {
		out.ProtocolVersion = ProtocolVersionHTTP1
	}
	if out.Path == "" {
		out.Path = DefaultHealthCheckPath
	}
	intDefault(&out.HealthCheckIntervalSeconds, DefaultHealthCheckInterval)
	intDefault(&out.HealthCheckTimeoutSeconds, DefaultHealthCheckTimeout)
	intDefault(&out.HealthyThresholdCount, DefaultHealthyThreshold)
	intDefault(&out.UnhealthyThresholdCount, DefaultUnhealthyThreshold)
	if out.Matcher == nil || out.Matcher.HTTPCode == nil {
		c := DefaultHealthCheckMatcher
		out.Matcher = &Matcher{HTTPCode: &c}
	}
	if out.Port != nil && *out.Port == 0 {
		out.Port = nil // the target's traffic port
	}
	return &out
}

// CheckTargetID validates a target ID for a target group type.
func CheckTargetID(v *Validator, field, tgType, ipType, id string) {
	switch tgType {
	case TargetGroupTypeIP:
		a, err := netip.ParseAddr(id)
		switch {
		case err != nil:
			v.Addf(field, "target %q is not an IP address", id)
		case ipType == IPAddressTypeIPv6 && !a.Is6():
			v.Addf(field, "target %q is not an IPv6 address", id)
		case ipType != IPAddressTypeIPv6 && !a.Is4():
			v.Addf(field, "target %q is not an IPv4 address", id)
		}
	case TargetGroupTypeInstance:
		if !strings.HasPrefix(id, "i-") || len(id) < 10 || len(id) > 19 {
			v.Addf(field, "target %q is not an instance ID", id)
		}
	case TargetGroupTypeLambda:
		if a, err := arn.Parse(id); err != nil || a.Service != "lambda" {
			v.Addf(field, "target %q is not a Lambda function ARN", id)
		}
	case TargetGroupTypeALB:
		if a, err := arn.Parse(id); err != nil || a.Service != "elasticloadbalancing" {
			v.Addf(field, "target %q is not an Application Load Balancer ARN", id)
		}
	}
}
