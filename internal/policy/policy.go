package policy

import (
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// MaxSize is the largest policy document Parse accepts, in bytes (the fixed
// 10 KB auth policy quota of VPC Lattice).
const MaxSize = 10240

// Effect is the outcome of a statement or of a whole policy.
type Effect uint8

const (
	// NoMatch: no statement applied to the request. Callers treat it as an
	// implicit deny.
	NoMatch Effect = iota
	// Allow: an Allow statement applied and no Deny statement did.
	Allow
	// Deny: a Deny statement applied (an explicit deny).
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NoMatch"
}

// Decision is the result of evaluating a policy against one request.
type Decision struct {
	Effect    Effect // Allow, Deny, or NoMatch (no statement applied)
	Statement int    // index of the deciding statement, -1 if none
	Sid       string // its Sid, "" if none
}

// Allowed reports whether the policy allows the request (Effect == Allow).
func (d Decision) Allowed() bool { return d.Effect == Allow }

// Request is what a policy is evaluated against: the authenticated caller
// (or an anonymous one) and the request it makes. The zero values of the
// optional fields mean "not known", so the corresponding condition keys are
// missing (see the package documentation).
type Request struct {
	Anonymous        bool   // unsigned caller
	PrincipalARN     string // arn:aws:iam::111122223333:root | :role/r | :user/u | arn:aws:sts::111122223333:assumed-role/r/session
	RoleARN          string // for assumed-role sessions: arn:aws:iam::ACCOUNT:role/r (Principal {"AWS": role ARN} matches the session)
	PrincipalAccount string // when empty, taken from PrincipalARN
	PrincipalOrgID   string
	PrincipalOrgPath string // the single value of the multi-valued aws:PrincipalOrgPaths
	PrincipalType    string // "Account" (root), "User", "AssumedRole"; "Anonymous" is implied by Anonymous
	PrincipalTags    map[string]string
	Username         string // aws:username for users
	SourceIP         netip.Addr
	SecureTransport  bool
	CurrentTime      time.Time // aws:CurrentTime / aws:EpochTime; the zero time means time.Now()
	Action           string    // "vpc-lattice-svcs:Invoke"
	Resource         string    // e.g. arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/admin/users

	// vpc-lattice-svcs keys
	Port                  int         // 0: missing
	Method                string      // vpc-lattice-svcs:RequestMethod
	Header                http.Header // vpc-lattice-svcs:RequestHeader/<name> (name case-insensitive)
	RawQuery              string      // vpc-lattice-svcs:RequestQueryString/<key>; scanned only for policies using such keys
	ServiceNetworkARN     string
	ServiceARN            string
	SourceVPC             string // VPC ID
	SourceVPCOwnerAccount string
}

// principalAccount is the caller's account: PrincipalAccount, or the account
// field of PrincipalARN. Anonymous callers have none.
func (r *Request) principalAccount() string {
	if r.Anonymous {
		return ""
	}
	if r.PrincipalAccount != "" {
		return r.PrincipalAccount
	}
	// arn:partition:service:region:ACCOUNT:resource
	s := r.PrincipalARN
	for i := 0; i < 4; i++ {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return ""
		}
		s = s[j+1:]
	}
	if j := strings.IndexByte(s, ':'); j >= 0 {
		return s[:j]
	}
	return ""
}

// Policy is a parsed and compiled auth policy. It is immutable, so one Policy
// may be evaluated by any number of goroutines at once.
type Policy struct {
	version string
	id      string
	stmts   []statement
	deny    []int // indexes of Deny statements, in document order
	allow   []int // indexes of Allow statements, in document order
}

// Statements returns the number of statements in the policy.
func (p *Policy) Statements() int { return len(p.stmts) }

// Version returns the policy's Version element ("" when it has none).
func (p *Policy) Version() string { return p.version }

// ID returns the policy's Id element ("" when it has none).
func (p *Policy) ID() string { return p.id }

// Evaluate decides the request: an explicit Deny in any applying statement
// wins (the first one in document order is reported); otherwise the first
// applying Allow statement allows; otherwise the result is NoMatch.
//
// Evaluate does not allocate unless the policy uses
// vpc-lattice-svcs:RequestQueryString keys against percent-encoded query
// strings, compares non-string keys with string operators, or resolves policy
// variables longer than a small stack buffer.
func (p *Policy) Evaluate(r *Request) Decision {
	ec := evalCtx{r: r}
	for _, i := range p.deny {
		if st := &p.stmts[i]; st.check(&ec).applied() {
			return Decision{Effect: Deny, Statement: i, Sid: st.sid}
		}
	}
	for _, i := range p.allow {
		if st := &p.stmts[i]; st.check(&ec).applied() {
			return Decision{Effect: Allow, Statement: i, Sid: st.sid}
		}
	}
	return Decision{Effect: NoMatch, Statement: -1}
}

// StatementResult explains whether one statement applied to a request.
type StatementResult struct {
	Index   int    // the statement's position in the policy
	Sid     string // its Sid, "" if none
	Effect  Effect // its Effect (Allow or Deny)
	Applied bool   // whether the statement applied to the request
	// Reason says why the statement did not apply: "principal does not
	// match", "action does not match", "resource does not match", or
	// "condition <Operator> <key> failed" naming the first failing condition
	// in document order. It is "" when Applied.
	Reason string
}

// Explain evaluates every statement of p against r, for a policy simulator.
// Combined with the rules documented on Evaluate, the results give the same
// decision as Evaluate. Explain allocates.
func Explain(p *Policy, r *Request) []StatementResult {
	ec := evalCtx{r: r}
	out := make([]StatementResult, len(p.stmts))
	for i := range p.stmts {
		st := &p.stmts[i]
		res := st.check(&ec)
		out[i] = StatementResult{Index: i, Sid: st.sid, Effect: st.effect, Applied: res.applied()}
		switch res.stage {
		case stagePrincipal:
			out[i].Reason = "principal does not match"
		case stageAction:
			out[i].Reason = "action does not match"
		case stageResource:
			out[i].Reason = "resource does not match"
		case stageCondition:
			c := &st.conds[res.cond]
			out[i].Reason = "condition " + c.opName + " " + c.keyName + " failed"
		}
	}
	return out
}

// statement is one compiled statement.
type statement struct {
	sid          string
	effect       Effect
	notPrincipal bool
	principal    principals
	notAction    bool
	actions      []glob
	notResource  bool
	resources    []strval
	conds        []cond
}

// failStage tells where a statement stopped applying.
type failStage uint8

const (
	stageNone failStage = iota // applied
	stagePrincipal
	stageAction
	stageResource
	stageCondition
)

type checkResult struct {
	stage failStage
	cond  int // index of the failing condition when stage == stageCondition
}

func (c checkResult) applied() bool { return c.stage == stageNone }

// check evaluates the statement's elements in order: principal, action,
// resource, conditions.
func (s *statement) check(ec *evalCtx) checkResult {
	if s.principal.match(ec.r) == s.notPrincipal {
		return checkResult{stage: stagePrincipal}
	}
	if s.matchAction(ec.r.Action) == s.notAction {
		return checkResult{stage: stageAction}
	}
	if s.matchResource(ec) == s.notResource {
		return checkResult{stage: stageResource}
	}
	for i := range s.conds {
		if !s.conds[i].eval(ec) {
			return checkResult{stage: stageCondition, cond: i}
		}
	}
	return checkResult{}
}

func (s *statement) matchAction(action string) bool {
	for i := range s.actions {
		if globMatch(&s.actions[i], action) {
			return true
		}
	}
	return false
}

func (s *statement) matchResource(ec *evalCtx) bool {
	for i := range s.resources {
		if s.resources[i].matchLike(ec, ec.r.Resource) {
			return true
		}
	}
	return false
}

// principals is a compiled Principal or NotPrincipal element.
type principals struct {
	all      bool     // "*" or {"AWS": "*"}
	accounts []string // account IDs, from IDs and root ARNs
	arns     []string // role, user and session ARNs, matched exactly
}

func (p *principals) match(r *Request) bool {
	if p.all {
		return true
	}
	if r.Anonymous {
		return false
	}
	if acct := r.principalAccount(); acct != "" {
		for _, a := range p.accounts {
			if a == acct {
				return true
			}
		}
	}
	for _, a := range p.arns {
		if a == r.PrincipalARN || (r.RoleARN != "" && a == r.RoleARN) {
			return true
		}
	}
	return false
}
