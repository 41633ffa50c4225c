package auth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/pathnorm"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/policy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// SimulateInput describes a hypothetical request (`trellis auth simulate`).
type SimulateInput struct {
	PrincipalARN string            `json:"principalArn"` // empty or "anonymous": an unsigned caller
	Method       string            `json:"method"`
	Path         string            `json:"path"`
	Query        string            `json:"query"`
	Headers      map[string]string `json:"headers"`
	SourceVpc    string            `json:"sourceVpc"`
	Service      string            `json:"service"` // ID, ARN, name, or a host name it answers to
	SourceIP     string            `json:"sourceIp"`
	Port         int               `json:"port"`

	// Draft policies ("would this caller be allowed if I saved this?"):
	// when set, the text replaces the live auth policy of that level for
	// this simulation only. The level's auth type stays the live one, and
	// nothing is stored. A draft is checked as PutAuthPolicy checks a
	// policy, so a draft that simulates is one that can be saved.
	ServiceAuthPolicy        *string `json:"serviceAuthPolicy,omitempty"`
	ServiceNetworkAuthPolicy *string `json:"serviceNetworkAuthPolicy,omitempty"`
}

// LevelResult is one level's decision.
type LevelResult struct {
	ARN        string                   `json:"arn"`
	AuthType   string                   `json:"authType"`
	Evaluated  bool                     `json:"evaluated"`
	Decision   string                   `json:"decision"`        // Allow, Deny, NoMatch, or "NotEvaluated" for auth type NONE
	Draft      bool                     `json:"draft,omitempty"` // the input's draft policy stood in for the live one
	Statement  string                   `json:"decidingStatement,omitempty"`
	Note       string                   `json:"note,omitempty"`
	Statements []policy.StatementResult `json:"statements,omitempty"`
}

// SimulateOutput is the simulator's answer.
type SimulateOutput struct {
	Principal      string       `json:"principal"`
	PrincipalKnown bool         `json:"principalKnown"`
	Reachable      bool         `json:"reachable"`
	Resource       string       `json:"resource,omitempty"`
	ServiceNetwork *LevelResult `json:"serviceNetwork,omitempty"`
	Service        *LevelResult `json:"service,omitempty"`
	Allowed        bool         `json:"allowed"`
	Message        string       `json:"message"`
}

// Simulate evaluates in against snap exactly as the data plane would
// (without a signature: the principal is taken as authenticated).
func Simulate(snap *snapshot.Snapshot, in SimulateInput) (SimulateOutput, error) {
	out := SimulateOutput{Principal: "anonymous"}
	netDraft, err := compileDraft("serviceNetworkAuthPolicy", in.ServiceNetworkAuthPolicy)
	if err != nil {
		return out, err
	}
	svcDraft, err := compileDraft("serviceAuthPolicy", in.ServiceAuthPolicy)
	if err != nil {
		return out, err
	}
	vpc := snap.VPCs[in.SourceVpc]
	if vpc == nil {
		return out, errNoVPC(in.SourceVpc)
	}
	if in.Path == "" {
		in.Path = "/"
	}
	if !strings.HasPrefix(in.Path, "/") {
		return out, model.Invalid("path", "path must start with /")
	}
	// Judge the path the data plane would judge: the normal form of the
	// path as a client would send it (pathnorm), decoded.
	normal, err := pathnorm.Normalize(in.Path)
	if err != nil {
		return out, model.Invalid("path", "path %q: %v (the data plane answers such a request 400)", in.Path, err)
	}
	in.Path = pathnorm.Decode(normal)
	if in.Method == "" {
		in.Method = http.MethodGet
	}
	svc := findService(snap, vpc, in.Service)
	if svc == nil {
		if in.Service == "" {
			return out, model.Invalid("service", "service is required")
		}
		out.Message = "service " + in.Service + " is not reachable from " + vpc.ID +
			": the VPC and the service are not associated with the same service network (the request would get 404 and never reach a target)"
		return out, nil
	}
	out.Reachable = true
	var id *snapshot.Identity
	if p := in.PrincipalARN; p != "" && p != "anonymous" {
		id = identityOf(snap, p)
		if id == nil {
			// A principal without keys: simulate with what its ARN says.
			id = &snapshot.Identity{PrincipalARN: p, Account: accountOf(p), PrincipalType: typeOf(p)}
		} else {
			out.PrincipalKnown = true
		}
		out.Principal = id.PrincipalARN
	}
	hdr := http.Header{}
	for k, v := range in.Headers {
		hdr.Set(k, v)
	}
	var ip netip.Addr
	if in.SourceIP != "" {
		a, err := netip.ParseAddr(in.SourceIP)
		if err != nil {
			return out, model.Invalid("sourceIp", "sourceIp %q is not an IP address", in.SourceIP)
		}
		ip = a
	}
	q := &policy.Request{Anonymous: id == nil, PrincipalType: "Anonymous", SourceIP: ip, CurrentTime: nowFunc(),
		Action: Action, Resource: svc.ARN + in.Path, Port: in.Port, Method: in.Method, Header: hdr,
		RawQuery: strings.TrimPrefix(in.Query, "?"), ServiceARN: svc.ARN, SourceVPC: vpc.ID, SourceVPCOwnerAccount: vpc.Account}
	if id != nil {
		q.PrincipalARN, q.RoleARN, q.PrincipalAccount = id.PrincipalARN, id.RoleARN, id.Account
		q.PrincipalOrgID, q.PrincipalOrgPath, q.PrincipalType, q.PrincipalTags = id.OrgID, id.OrgPath, id.PrincipalType, id.Tags
		q.Username = id.Username
	}
	out.Resource = q.Resource
	out.Allowed = true
	level := func(arn, authType string, p *policy.Policy, perr string, draft *policy.Policy, words string) *LevelResult {
		lr := &LevelResult{ARN: arn, AuthType: authType, Draft: draft != nil}
		if authType != model.AuthTypeAWSIAM {
			lr.Decision = "NotEvaluated"
			lr.Note = "auth type " + authType + ": every request passes this level"
			if draft != nil {
				// Lattice evaluates an auth policy only under AWS_IAM: a
				// saved draft would be stored but not enforced.
				lr.Note += "; the draft policy is not evaluated (it would be enforced only with auth type AWS_IAM)"
			}
			return lr
		}
		if draft != nil {
			p, perr = draft, ""
		}
		lr.Evaluated = true
		if p == nil {
			lr.Decision = policy.NoMatch.String()
			lr.Note = "auth type AWS_IAM with no auth policy: every request is denied"
			if perr != "" {
				lr.Note = "the stored policy does not compile (" + perr + "): every request is denied"
			}
			out.Allowed = false
			return lr
		}
		d := p.Evaluate(q)
		lr.Decision = d.Effect.String()
		lr.Statements = policy.Explain(p, q)
		if d.Statement >= 0 {
			lr.Statement = d.Sid
			if lr.Statement == "" {
				lr.Statement = "Statement[" + itoa(d.Statement) + "]"
			}
		}
		if !d.Allowed() {
			out.Allowed = false
			if d.Effect == policy.Deny {
				lr.Note = "explicit deny in the " + words + " policy"
			} else {
				lr.Note = "no statement of the " + words + " policy allows the request"
			}
		}
		return lr
	}
	if sn := vpc.ServiceNetwork; sn != nil {
		q.ServiceNetworkARN = sn.ARN
		out.ServiceNetwork = level(sn.ARN, sn.AuthType, sn.Policy, sn.PolicyError, netDraft, "network-based")
	}
	if out.Allowed {
		out.Service = level(svc.ARN, svc.AuthType, svc.Policy, svc.PolicyError, svcDraft, "service-based")
	} else {
		out.Service = &LevelResult{ARN: svc.ARN, AuthType: svc.AuthType, Decision: "NotEvaluated",
			Draft: svcDraft != nil, Note: "the service network denied first"}
	}
	if out.Allowed {
		out.Message = "allowed: the request reaches the service's rules"
	} else {
		out.Message = "denied: the client gets 403 AccessDeniedException"
	}
	return out, nil
}

var nowFunc = time.Now

// compileDraft checks a draft auth policy exactly as PutAuthPolicy checks
// a policy (the same document checks and size limit, then the same parser
// the data plane compiles with), naming field in the error. A nil draft is
// no draft.
func compileDraft(field string, doc *string) (*policy.Policy, error) {
	if doc == nil {
		return nil, nil
	}
	var v model.Validator
	model.CheckPolicyDocument(&v, field, *doc, model.MaxAuthPolicyLen)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, err := policy.Parse(*doc)
	if err != nil {
		return nil, model.Invalid(field, "%s is not a valid auth policy: %v", field, err)
	}
	return p, nil
}

// errNoVPC is the answer for a VPC the snapshot does not hold, or that the
// caller may not see (another account's: GET /trellis/v1/vpcs/{id} answers
// 404 for it too).
func errNoVPC(id string) error {
	return model.Invalid("sourceVpc", "no VPC %q (see GET /trellis/v1/vpcs)", id)
}

func findService(snap *snapshot.Snapshot, vpc *snapshot.VPC, s string) *snapshot.Service {
	s = strings.ToLower(s)
	if svc := vpc.Hosts.Get(s); svc != nil {
		return svc
	}
	for _, svc := range vpc.Hosts.All() {
		if svc.ID == s || strings.ToLower(svc.ARN) == s || svc.Name == s {
			return svc
		}
	}
	return nil
}

func identityOf(snap *snapshot.Snapshot, arn string) *snapshot.Identity {
	var best *snapshot.Identity
	for _, id := range snap.Identities {
		if id.PrincipalARN == arn && (best == nil || id.AccessKeyID < best.AccessKeyID) {
			best = id
		}
	}
	return best
}

func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		return parts[4]
	}
	return ""
}

func typeOf(arn string) string {
	switch {
	case strings.HasSuffix(arn, ":root"):
		return "Account"
	case strings.Contains(arn, ":assumed-role/"), strings.Contains(arn, ":role/"):
		return "AssumedRole"
	}
	return "User"
}

// SimulateHandler serves POST /trellis/v1/auth/simulate with the current
// snapshot. allowed reports whether the caller in ctx may see what belongs
// to the given owner account: the source VPC and the decisions about the
// service. Another account's VPC is answered as a VPC that does not exist,
// before anything about it (which network it is in, which services it
// reaches) is told.
func SimulateHandler(holder *snapshot.Holder, allowed func(ctx context.Context, owner string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in SimulateInput
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := json.Unmarshal(body, &in); err != nil {
			writeErr(w, model.CannotParse("body", "the request body is not valid JSON: %v", err))
			return
		}
		snap := holder.Load()
		if vpc := snap.VPCs[in.SourceVpc]; vpc != nil && !allowed(r.Context(), vpc.Account) {
			writeErr(w, errNoVPC(in.SourceVpc))
			return
		}
		out, err := Simulate(snap, in)
		if err != nil {
			writeErr(w, err)
			return
		}
		if out.Service != nil {
			owner := accountOf(out.Service.ARN)
			if !allowed(r.Context(), owner) {
				writeErr(w, model.AccessDenied("you may simulate requests only to services of your own account"))
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func writeErr(w http.ResponseWriter, err error) {
	e, ok := err.(*model.Error)
	if !ok {
		e = &model.Error{Kind: model.KindInternal, Message: err.Error()}
	}
	typ, status := "InternalServerException", http.StatusInternalServerError
	switch e.Kind {
	case model.KindValidation:
		typ, status = "ValidationException", http.StatusBadRequest
	case model.KindAccessDenied:
		typ, status = "AccessDeniedException", http.StatusForbidden
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"message": e.Message, "fieldList": e.Fields})
	_, _ = w.Write(b)
}
