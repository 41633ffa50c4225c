// Package auth is the data plane's zero-trust check: it authenticates a
// request (SigV4 or SigV4A, signing name vpc-lattice-svcs, UNSIGNED-PAYLOAD;
// an unsigned request is anonymous) and evaluates the auth policies on the
// way, the service network's and then the service's, whenever their auth
// type is AWS_IAM. An explicit deny anywhere wins; a level that is AWS_IAM
// without a policy, or whose policy allows nothing, denies.
//
// Simulate (simulate.go) runs the same evaluation for a hypothetical
// request, optionally with draft policies that stand in for the live ones
// for that simulation only; drafts are checked as PutAuthPolicy checks a
// policy and never stored.
//
// It reads only the snapshot (identities and compiled policies); it never
// reads the store.
package auth

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/policy"
	"github.com/trellis-net/trellis/internal/sigv4"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Action is the one action Lattice services are invoked with.
const Action = "vpc-lattice-svcs:Invoke"

// Levels of a denial, as access logs name them (authDeniedReason).
const (
	LevelNetwork  = "Network"
	LevelService  = "Service"
	LevelIdentity = "Identity" // authentication failed
)

// Authorizer checks requests against the current snapshot.
type Authorizer struct {
	holder   *snapshot.Holder
	verifier *sigv4.Verifier
	now      func() time.Time
}

// New returns an Authorizer reading identities from holder's snapshot.
func New(holder *snapshot.Holder, region string, now func() time.Time) *Authorizer {
	if now == nil {
		now = time.Now
	}
	return &Authorizer{holder: holder, now: now, verifier: &sigv4.Verifier{Service: "vpc-lattice-svcs", Region: region,
		Now: now, AllowUnsignedPayload: true}}
}

// snapshotKeys serves access keys from one snapshot: the request's, so that
// the key and the identity it names come from the same revision (a key
// created or deleted between two loads can neither be half-known nor
// outlive its identity).
type snapshotKeys struct{ snap *snapshot.Snapshot }

func (k snapshotKeys) LookupAccessKey(_ context.Context, id string) (sigv4.Credential, error) {
	if k.snap == nil {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	i := k.snap.Identities[id]
	if i == nil {
		return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
	}
	return sigv4.Credential{AccessKeyID: i.AccessKeyID, SecretAccessKey: i.Secret, SessionToken: i.SessionToken,
		Account: i.Account, PrincipalARN: i.PrincipalARN}, nil
}

// Outcome is the result of a check.
type Outcome struct {
	Allowed bool
	// Identity is the authenticated caller; nil for anonymous callers.
	Identity *snapshot.Identity
	// Denials: the status (401/403), the level that denied, the deciding
	// statement ("" when no statement allowed) and the message for the
	// client.
	Status    int
	Level     string
	Statement string
	Message   string
}

// Needed reports whether a request to svc from vpc must be checked at all:
// some level on the way has auth type AWS_IAM.
func Needed(vpc *snapshot.VPC, svc *snapshot.Service) bool {
	return svc.AuthType == model.AuthTypeAWSIAM ||
		(vpc.ServiceNetwork != nil && vpc.ServiceNetwork.AuthType == model.AuthTypeAWSIAM)
}

var reqPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 256)} }}

type scratch struct {
	req policy.Request
	buf []byte
}

// Check authenticates r and evaluates the policies of vpc's service network
// and of svc. port is the listener port; clientIP the TCP peer.
func (a *Authorizer) Check(ctx context.Context, snap *snapshot.Snapshot, vpc *snapshot.VPC, svc *snapshot.Service, port int, r *http.Request, clientIP netip.Addr) Outcome {
	var id *snapshot.Identity
	// One clock read serves the signature's skew check and the policies'
	// aws:CurrentTime.
	now := a.now()
	var res sigv4.Result
	// The verifier is configuration only (its caches are shared); a copy
	// on the stack reads keys from the request's snapshot.
	v := *a.verifier
	v.Keys = snapshotKeys{snap}
	if signed, err := v.VerifyIfSigned(ctx, r, "", now, &res); signed {
		if err != nil {
			msg := err.Error()
			if se, ok := err.(*sigv4.Error); ok {
				msg = se.Code + ": " + se.Message
			}
			return Outcome{Status: http.StatusForbidden, Level: LevelIdentity, Message: msg}
		}
		// Lattice does not sign payloads: UNSIGNED-PAYLOAD, or the hash of
		// the empty body of a request that has none, and nothing else.
		if !res.UnsignedPayload && !(res.PayloadHash == sigv4.EmptyPayloadHash && r.ContentLength == 0) {
			return Outcome{Status: http.StatusForbidden, Level: LevelIdentity,
				Message: "IncompleteSignatureException: VPC Lattice does not support payload signing: sign with x-amz-content-sha256: UNSIGNED-PAYLOAD"}
		}
		id = snap.Identities[res.Credential.AccessKeyID]
		if id == nil {
			return Outcome{Status: http.StatusForbidden, Level: LevelIdentity,
				Message: "UnrecognizedClientException: The security token included in the request is invalid."}
		}
	}

	s := reqPool.Get().(*scratch)
	defer func() {
		s.req = policy.Request{}
		reqPool.Put(s)
	}()
	// The resource is the service ARN followed by the request path. Built in
	// a pooled buffer: the policy engine does not keep the string.
	s.buf = append(append(s.buf[:0], svc.ARN...), r.URL.Path...)
	q := &s.req
	*q = policy.Request{
		Anonymous: id == nil, PrincipalType: "Anonymous",
		SourceIP: clientIP, CurrentTime: now, Action: Action,
		Resource: unsafe.String(unsafe.SliceData(s.buf), len(s.buf)),
		Port:     port, Method: r.Method, Header: r.Header, RawQuery: r.URL.RawQuery,
		ServiceARN: svc.ARN, SourceVPC: vpc.ID, SourceVPCOwnerAccount: vpc.Account,
	}
	if id != nil {
		q.PrincipalARN, q.RoleARN, q.PrincipalAccount = id.PrincipalARN, id.RoleARN, id.Account
		q.PrincipalOrgID, q.PrincipalOrgPath, q.PrincipalType, q.PrincipalTags = id.OrgID, id.OrgPath, id.PrincipalType, id.Tags
		q.Username = id.Username
	}
	return evaluate(q, vpc, svc, id, r.URL.Path)
}

// evaluate judges q by the levels on the way to svc from vpc: the service
// network's policy when it has auth type AWS_IAM, then the service's; the
// first level that does not allow denies (path names the resource in the
// denial's message).
func evaluate(q *policy.Request, vpc *snapshot.VPC, svc *snapshot.Service, id *snapshot.Identity, path string) Outcome {
	if sn := vpc.ServiceNetwork; sn != nil {
		q.ServiceNetworkARN = sn.ARN
		if sn.AuthType == model.AuthTypeAWSIAM {
			if o, denied := decide(sn.Policy, q, LevelNetwork, "network-based", id, svc.ARN, path); denied {
				return o
			}
		}
	}
	if svc.AuthType == model.AuthTypeAWSIAM {
		if o, denied := decide(svc.Policy, q, LevelService, "service-based", id, svc.ARN, path); denied {
			return o
		}
	}
	return Outcome{Allowed: true, Identity: id}
}

// ConnResourcePath is the path of the resource a TLS passthrough
// connection is judged on: <serviceArn>/, so that a policy naming the
// service's requests (<serviceArn>/*) or everything (*) covers it. Lattice
// documents no resource for passthrough (unverified).
const ConnResourcePath = "/"

// CheckConn evaluates the policies of vpc's service network and of svc for
// a TLS passthrough connection: anonymous (nothing is signed and no request
// is seen, as Lattice's passthrough is anonymous-only), with the keys a
// connection has — port, source VPC and its owner, service and network
// ARNs, source IP — and none of a request's (method, headers, query): a
// condition on those does not hold.
func (a *Authorizer) CheckConn(vpc *snapshot.VPC, svc *snapshot.Service, port int, clientIP netip.Addr) Outcome {
	q := &policy.Request{
		Anonymous: true, PrincipalType: "Anonymous",
		SourceIP: clientIP, CurrentTime: a.now(), Action: Action,
		Resource: svc.ARN + ConnResourcePath, Port: port,
		ServiceARN: svc.ARN, SourceVPC: vpc.ID, SourceVPCOwnerAccount: vpc.Account,
	}
	return evaluate(q, vpc, svc, nil, ConnResourcePath)
}

// decide evaluates one level; it builds a message only on denial.
func decide(p *policy.Policy, q *policy.Request, level, words string, id *snapshot.Identity, svcARN, path string) (Outcome, bool) {
	var d policy.Decision
	if p != nil {
		d = p.Evaluate(q)
		if d.Allowed() {
			return Outcome{}, false
		}
	} else {
		d = policy.Decision{Effect: policy.NoMatch, Statement: -1}
	}
	who := "anonymous"
	if id != nil {
		who = id.PrincipalARN
	}
	var b strings.Builder
	b.WriteString("AccessDeniedException: User: ")
	b.WriteString(who)
	b.WriteString(" is not authorized to perform: " + Action + " on resource: ")
	b.WriteString(svcARN)
	b.WriteString(path)
	stmt := ""
	switch {
	case p == nil:
		b.WriteString(" because the " + strings.ToLower(level) + " has auth type AWS_IAM and no auth policy")
	case d.Effect == policy.Deny:
		stmt = d.Sid
		if stmt == "" {
			stmt = "Statement[" + itoa(d.Statement) + "]"
		}
		b.WriteString(" with an explicit deny in a " + words + " policy (" + stmt + ")")
	default:
		b.WriteString(" because no " + words + " policy allows the " + Action + " action")
	}
	return Outcome{Status: http.StatusForbidden, Level: level, Statement: stmt, Message: b.String(), Identity: id}, true
}

func itoa(n int) string {
	if n < 0 {
		return "-"
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}
