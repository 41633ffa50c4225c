package api

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/sigv4"
	"github.com/trellis-net/trellis/internal/store"
)

// AWS STS (docs/sts.md) on the API address, told apart from Lattice as AWS
// tells services apart: the Query protocol (POST / with a form body, or GET
// / with the query string: Action=...&Version=2011-06-15), SigV4 signing
// name "sts", answers and errors in XML. The Terraform AWS provider
// validates its credentials and reads aws_caller_identity through
// GetCallerIdentity; AssumeRole and GetSessionToken hand out temporary
// credentials that every API on this address (and the data plane) accepts.

// stsVersion is the only API version of STS.
const stsVersion = "2011-06-15"

// stsNamespace is the XML namespace of every STS answer.
const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// isSTS reports whether a request is for the STS API: to the root path, and
// signed for the service sts (credential scope in the Authorization header
// or the X-Amz-Credential query parameter), or — unsigned, so that it gets
// STS's own error — shaped like a Query call (a form body, or an Action in
// the query string). Lattice has no operation on "/", and ACM's requests
// (X-Amz-Target) are recognised before.
func isSTS(r *http.Request) bool {
	if r.URL.Path != "/" || (r.Method != http.MethodPost && r.Method != http.MethodGet) {
		return false
	}
	if svc, ok := scopeService(r); ok {
		return svc == "sts"
	}
	if r.Method == http.MethodGet {
		return r.URL.Query().Has("Action")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/x-www-form-urlencoded"
}

// scopeService returns the service of the request's credential scope
// (KEY/DATE/REGION/SERVICE/aws4_request for SigV4, KEY/DATE/SERVICE/
// aws4_request for SigV4A), and whether the request names one.
func scopeService(r *http.Request) (string, bool) {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, rest, ok := strings.Cut(auth, "Credential=")
		if !ok {
			return "", false
		}
		cred, _, _ = strings.Cut(rest, ",")
		cred = strings.TrimSpace(cred)
	}
	if cred == "" {
		return "", false
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 4 || parts[len(parts)-1] != "aws4_request" {
		return "", false
	}
	return parts[len(parts)-2], true
}

// stsError is an STS error: the Query protocol's ErrorResponse.
type stsError struct {
	Status  int
	Code    string
	Message string
}

func (e *stsError) Error() string { return e.Code + ": " + e.Message }

func stsInvalid(msg string) *stsError {
	return &stsError{Status: http.StatusBadRequest, Code: "ValidationError", Message: msg}
}

// stsOps are the actions served. A metrics label is made only of these.
var stsOps = map[string]bool{"GetCallerIdentity": true, "AssumeRole": true, "GetSessionToken": true}

// serveSTS authenticates (signing name sts) and runs one STS action.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, payloadHash string, body []byte, op *string) {
	ctx := r.Context()
	reqID := w.Header().Get("x-amzn-RequestId")
	*op = "sts:" + opUnknown
	res, err := s.stsVerifier.Verify(ctx, r, payloadHash)
	if err != nil {
		writeSTSError(w, reqID, s.toSTSError(ctx, err))
		return
	}
	ctx = service.WithCaller(ctx, model.Caller{Account: res.Credential.Account, PrincipalARN: res.Credential.PrincipalARN})
	params, err := stsParams(r, body)
	if err != nil {
		writeSTSError(w, reqID, s.toSTSError(ctx, err))
		return
	}
	action := params.Get("Action")
	if stsOps[action] {
		*op = "sts:" + action
	}
	var out any
	switch {
	case action == "":
		err = &stsError{Status: http.StatusBadRequest, Code: "MissingAction", Message: "The request must contain the parameter Action."}
	case params.Get("Version") == "":
		err = &stsError{Status: http.StatusBadRequest, Code: "MissingParameter", Message: "The request must contain the parameter Version."}
	case params.Get("Version") != stsVersion || !stsOps[action]:
		err = &stsError{Status: http.StatusBadRequest, Code: "InvalidAction",
			Message: "Could not find operation " + clipName(action) + " for version " + clipName(params.Get("Version"))}
	case action == "GetCallerIdentity":
		out = s.stsGetCallerIdentity(res.Credential)
	case action == "AssumeRole":
		out, err = s.stsAssumeRole(ctx, res.Credential, params)
	case action == "GetSessionToken":
		out, err = s.stsGetSessionToken(ctx, res.Credential, params)
	}
	if err != nil {
		s.log.DebugContext(ctx, "sts error", "op", *op, "err", err)
		writeSTSError(w, reqID, s.toSTSError(ctx, err))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(stsResponse{XMLName: xml.Name{Local: action + "Response"}, Namespace: stsNamespace,
		Result: out, RequestID: reqID})
}

// stsParams reads the call's parameters: the form body of a POST (which
// must be a form), the query string of a GET. Of a repeated parameter the
// first counts, as url.Values.Get reads it.
func stsParams(r *http.Request, body []byte) (url.Values, error) {
	if r.Method == http.MethodGet {
		return r.URL.Query(), nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return nil, &stsError{Status: http.StatusBadRequest, Code: "InvalidParameterValue",
			Message: "The request body must be application/x-www-form-urlencoded."}
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &stsError{Status: http.StatusBadRequest, Code: "MalformedQueryString",
			Message: "The request body is not a well-formed form (application/x-www-form-urlencoded)."}
	}
	return v, nil
}

// stsResponse is an action's answer; Result is a struct whose XMLName is
// ACTIONResult.
type stsResponse struct {
	XMLName   xml.Name
	Namespace string `xml:"xmlns,attr"`
	Result    any
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func resultName(action string) xml.Name { return xml.Name{Local: action + "Result"} }

type stsErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Namespace string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeSTSError(w http.ResponseWriter, reqID string, e *stsError) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	// For the call metrics (metrics.go), which read the error type there:
	// Code is one of this file's fixed codes, never the client's words.
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(stsErrorResponse{Namespace: stsNamespace, Type: typ, Code: e.Code, Message: e.Message, RequestID: reqID})
}

// stsAuthCodes are the Query protocol's names of the authentication
// failures (STS answers InvalidClientTokenId and SignatureDoesNotMatch
// where JSON services answer UnrecognizedClientException and
// InvalidSignatureException).
var stsAuthCodes = map[string]string{
	sigv4.CodeMissingAuthenticationToken: "MissingAuthenticationToken",
	sigv4.CodeIncompleteSignature:        "IncompleteSignature",
	sigv4.CodeUnrecognizedClient:         "InvalidClientTokenId",
	sigv4.CodeInvalidSignature:           "SignatureDoesNotMatch",
}

// toSTSError maps an error to STS's codes and statuses.
func (s *Server) toSTSError(ctx context.Context, err error) *stsError {
	var se *stsError
	if errors.As(err, &se) {
		return se
	}
	var ve *sigv4.Error
	if errors.As(err, &ve) {
		code := stsAuthCodes[ve.Code]
		if code == "" {
			code = ve.Code
		}
		return &stsError{Status: ve.Status, Code: code, Message: ve.Message}
	}
	if errors.Is(err, store.ErrUnavailable) {
		s.log.WarnContext(ctx, "store unavailable: the call answers a retryable error", "err", err)
		return &stsError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: UnavailableMessage}
	}
	var e *model.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(ctx, "internal error", "err", err)
		return &stsError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "An internal error occurred. Try again later."}
	}
	switch e.Kind {
	case model.KindValidation:
		return stsInvalid(e.Message)
	case model.KindAccessDenied:
		return &stsError{Status: http.StatusForbidden, Code: "AccessDenied", Message: e.Message}
	case model.KindThrottling:
		return &stsError{Status: http.StatusBadRequest, Code: "Throttling", Message: e.Message}
	case model.KindInternal:
		return &stsError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: e.Message}
	}
	return &stsError{Status: http.StatusBadRequest, Code: "InvalidParameterValue", Message: e.Message}
}

// uniqueID makes an IAM-style unique ID (AIDA... for a user, AROA... for a
// role): Trellis keeps none, so it is derived from what names the
// principal, stable for as long as the name is. 17 base32 characters of a
// SHA-256, as long as IAM's IDs.
func uniqueID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

// roleID is the unique ID of the role named name in account: the part of an
// assumed-role session's UserId and AssumedRoleId before the colon. It
// hashes account and name (not the role's path, which a session ARN does
// not carry), so that AssumeRole and GetCallerIdentity agree.
func roleID(account, name string) string { return uniqueID("AROA", "role\x00"+account+"\x00"+name) }

type stsCallerIdentity struct {
	XMLName xml.Name
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

// stsGetCallerIdentity answers who signed: needs no permission (STS:
// "no permissions are required"), reads nothing from the store.
func (s *Server) stsGetCallerIdentity(cred sigv4.Credential) any {
	out := stsCallerIdentity{XMLName: resultName("GetCallerIdentity"), Arn: cred.PrincipalARN, Account: cred.Account}
	switch {
	case cred.PrincipalARN == s.svc.RootARN(cred.Account):
		out.UserID = cred.Account
	case strings.Contains(cred.PrincipalARN, ":assumed-role/"):
		// arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION
		_, rs, _ := strings.Cut(cred.PrincipalARN, ":assumed-role/")
		role, session, _ := strings.Cut(rs, "/")
		out.UserID = roleID(cred.Account, role) + ":" + session
	default:
		out.UserID = uniqueID("AIDA", "user\x00"+cred.PrincipalARN)
	}
	return out
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

func credentialsOf(k *model.AccessKey) stsCredentials {
	c := stsCredentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret, SessionToken: k.SessionToken}
	if k.Expiration != nil {
		c.Expiration = k.Expiration.UTC().Format(time.RFC3339)
	}
	return c
}

type stsAssumeRoleResult struct {
	XMLName         xml.Name
	Credentials     stsCredentials `xml:"Credentials"`
	AssumedRoleUser struct {
		Arn           string `xml:"Arn"`
		AssumedRoleID string `xml:"AssumedRoleId"`
	} `xml:"AssumedRoleUser"`
	PackedPolicySize int `xml:"PackedPolicySize"`
}

// stsUnsupported are AssumeRole parameters Trellis refuses rather than
// ignores: each would make the session narrower (a session policy), carry
// attributes policies read (tags, source identity, provided contexts) or
// demand a proof Trellis cannot check (MFA). Ignoring any of them would
// hand out a session other than the one asked for. A prefix ends in '.'
// for the members of a list (PolicyArns.member.1.arn).
var stsUnsupported = []string{"Policy", "PolicyArns.", "Tags.", "TransitiveTagKeys.", "SerialNumber", "TokenCode",
	"SourceIdentity", "ProvidedContexts."}

func refuseUnsupported(params url.Values, names []string) error {
	for _, n := range names {
		for k := range params {
			if k == n || (strings.HasSuffix(n, ".") && strings.HasPrefix(k, n)) {
				p := strings.TrimSuffix(n, ".")
				return stsInvalid("Trellis does not support the parameter " + p + " (docs/sts.md)")
			}
		}
	}
	return nil
}

// stsDuration reads DurationSeconds: absent is nil.
func stsDuration(params url.Values, lo, hi int) (*int, error) {
	if !params.Has("DurationSeconds") {
		return nil, nil
	}
	d, err := strconv.Atoi(params.Get("DurationSeconds"))
	if err != nil || d < lo || d > hi {
		return nil, stsInvalid("1 validation error detected: Value '" + clipName(params.Get("DurationSeconds")) +
			"' at 'durationSeconds' failed to satisfy constraint: DurationSeconds must be an integer between " +
			strconv.Itoa(lo) + " and " + strconv.Itoa(hi))
	}
	return &d, nil
}

// validExternalID is STS's ExternalId: 2 to 1224 of [\w+=,.@:/-].
func validExternalID(s string) bool {
	if len(s) < 2 || len(s) > 1224 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@:/-", c) >= 0) {
			return false
		}
	}
	return true
}

// chainedMaxDuration is STS's limit on a session whose caller is itself an
// assumed role (role chaining): one hour.
const chainedMaxDuration = 3600

func (s *Server) stsAssumeRole(ctx context.Context, cred sigv4.Credential, params url.Values) (any, error) {
	roleArn, session := params.Get("RoleArn"), params.Get("RoleSessionName")
	switch {
	case roleArn == "":
		return nil, stsInvalid("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: RoleArn must not be null")
	case len(roleArn) < 20 || len(roleArn) > service.MaxPrincipalARN:
		return nil, stsInvalid("1 validation error detected: Value at 'roleArn' failed to satisfy constraint: RoleArn must have length between 20 and 2048")
	case session == "":
		return nil, stsInvalid("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: RoleSessionName must not be null")
	case !model.ValidIAMName(session, model.MinSessionNameLen, model.MaxSessionNameLen):
		return nil, stsInvalid("1 validation error detected: Value '" + clipName(session) + "' at 'roleSessionName' failed to satisfy constraint: " +
			"RoleSessionName must be 2 to 64 characters matching [\\w+=,.@-]*")
	}
	var v model.Validator
	pn := s.svc.ParsePrincipalARN(&v, "RoleArn", roleArn)
	if v.Err() != nil || pn.Type != model.PrincipalTypeRole {
		return nil, stsInvalid("RoleArn " + clipName(roleArn) + " is not the ARN of an IAM role (arn:aws:iam::ACCOUNT:role/NAME)")
	}
	if params.Has("ExternalId") && !validExternalID(params.Get("ExternalId")) {
		return nil, stsInvalid("1 validation error detected: Value at 'externalId' failed to satisfy constraint: " +
			"ExternalId must be 2 to 1224 characters matching [\\w+=,.@:/-]*")
	}
	duration, err := stsDuration(params, service.MinSessionDuration, service.MaxSessionDuration)
	if err != nil {
		return nil, err
	}
	if err := refuseUnsupported(params, stsUnsupported); err != nil {
		return nil, err
	}
	chained := strings.Contains(cred.PrincipalARN, ":assumed-role/")
	if chained && duration != nil && *duration > chainedMaxDuration {
		return nil, stsInvalid("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	// ExternalId is accepted and not kept: Trellis has no trust policies
	// whose sts:ExternalId condition it could satisfy (any caller of the
	// role's account may assume it), so it grants nothing.
	k, err := s.svc.AssumeRole(ctx, service.AssumeRoleInput{RoleARN: roleArn, RoleSessionName: session, DurationSeconds: duration})
	if err != nil {
		// As STS: a role the caller may not assume and a role that does not
		// exist get the same answer, so that another account's roles cannot
		// be discovered.
		if k := model.KindOf(err); k == model.KindAccessDenied || k == model.KindNotFound {
			return nil, &stsError{Status: http.StatusForbidden, Code: "AccessDenied",
				Message: "User: " + cred.PrincipalARN + " is not authorized to perform: sts:AssumeRole on resource: " + roleArn}
		}
		return nil, err
	}
	out := stsAssumeRoleResult{XMLName: resultName("AssumeRole"), Credentials: credentialsOf(k)}
	out.AssumedRoleUser.Arn = k.SessionARN
	out.AssumedRoleUser.AssumedRoleID = roleID(pn.Account, pn.Name) + ":" + session
	return out, nil
}

type stsSessionTokenResult struct {
	XMLName     xml.Name
	Credentials stsCredentials `xml:"Credentials"`
}

func (s *Server) stsGetSessionToken(ctx context.Context, cred sigv4.Credential, params url.Values) (any, error) {
	if cred.SessionToken != "" {
		// STS: GetSessionToken with temporary credentials is refused.
		return nil, &stsError{Status: http.StatusForbidden, Code: "AccessDenied",
			Message: "Cannot call GetSessionToken with session credentials"}
	}
	duration, err := stsDuration(params, service.MinSessionTokenDuration, service.MaxSessionTokenDuration)
	if err != nil {
		return nil, err
	}
	if err := refuseUnsupported(params, []string{"SerialNumber", "TokenCode"}); err != nil {
		return nil, err
	}
	k, err := s.svc.GetSessionToken(ctx, service.GetSessionTokenInput{DurationSeconds: duration})
	if err != nil {
		return nil, err
	}
	return stsSessionTokenResult{XMLName: resultName("GetSessionToken"), Credentials: credentialsOf(k)}, nil
}

// fromSessionToken reports whether a request was signed with credentials
// from GetSessionToken: a session token, and not an assumed role's session
// (whose principal is its arn:...:sts::...:assumed-role/ ARN).
func fromSessionToken(c sigv4.Credential) bool {
	return c.SessionToken != "" && !strings.Contains(c.PrincipalARN, ":assumed-role/")
}

// isIdentityPattern reports whether a native route pattern ("METHOD
// /trellis/v1/...") is one of the identity operations — accounts,
// principals, access keys — that stand where IAM stands on AWS.
func isIdentityPattern(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	rest, ok := strings.CutPrefix(path, NativePrefix)
	seg, _, _ := strings.Cut(rest, "/")
	return ok && (seg == "accounts" || seg == "principals" || seg == "accesskeys")
}

// errSessionTokenIAM refuses an identity operation to GetSessionToken
// credentials, as AWS refuses IAM calls made with them without MFA
// (Trellis has no MFA): temporary credentials must not mint long-term
// keys or principals, or a leaked session would outlive its expiry.
func errSessionTokenIAM(c sigv4.Credential) error {
	return model.AccessDenied("%s is not authorized to call identity operations with credentials from GetSessionToken: "+
		"use a long-term access key (docs/sts.md)", c.PrincipalARN)
}
