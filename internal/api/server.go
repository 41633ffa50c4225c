package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/trellis-net/trellis/internal/functions"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/sigv4"
)

// MaxBodyBytes bounds a request body; the largest Lattice request (a 10 KB
// auth policy, 100 targets) is far below it.
const MaxBodyBytes = 1 << 20

// NativePrefix is where Trellis-native resources live.
const NativePrefix = "/trellis/v1/"

// Server serves the Lattice control-plane API.
type Server struct {
	// gate, when set, is asked before every call but the health check
	// and Lambda's Invoke (SetGate).
	gate     func(context.Context) error
	svc      *service.Service
	verifier *sigv4.Verifier
	log      *slog.Logger
	routes   []route
	native   *http.ServeMux
	dns      dnsHooks // native_dns.go
	// acmVerifier is verifier with the signing name acm (acm.go).
	acmVerifier *sigv4.Verifier
	acm         map[string]acmOp
	// stsVerifier is verifier with the signing name sts (sts.go).
	stsVerifier *sigv4.Verifier
	// ramVerifier is verifier with the signing name ram (ram.go).
	ramVerifier *sigv4.Verifier
	ram         map[string]ramRoute
	// lambdaVerifier is verifier with the signing name lambda; functions
	// runs hosted functions, nil when this Trellis does not (lambda.go).
	lambdaVerifier *sigv4.Verifier
	functions      *functions.Host
	// observe sees every call when set (SetCallObserver, metrics.go).
	observe CallObserver
	// canaries runs canary releases; nil answers that this Trellis does
	// not (native_canary.go).
	canaries Canaries
}

// New returns the API handler. verifier authenticates every request except
// GET /trellis/health.
func New(svc *service.Service, verifier *sigv4.Verifier, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{svc: svc, verifier: verifier, log: log, native: http.NewServeMux()}
	s.routes = s.table()
	if verifier != nil {
		av := *verifier
		av.Service = "acm"
		s.acmVerifier = &av
		lv := *verifier
		lv.Service = "lambda"
		s.lambdaVerifier = &lv
		sv := *verifier
		sv.Service = "sts"
		s.stsVerifier = &sv
		rv := *verifier
		rv.Service = "ram"
		s.ramVerifier = &rv
	}
	s.acm = s.acmOps()
	s.ram = s.ramOps()
	s.nativeRoutes()
	s.identityRoutes()
	s.securityGroupRoutes()
	s.registryRoutes()
	s.functionRoutes()
	s.canaryRoutes()
	s.domainVerificationRoutes()
	return s
}

// HandleNative registers a Trellis-native endpoint under /trellis/v1/
// (pattern as for http.ServeMux, e.g. "GET /trellis/v1/vpcs/{vpcId}").
// Requests reach it authenticated, with the caller in the context
// (service.CallerFrom).
func (s *Server) HandleNative(pattern string, h http.Handler) { s.native.Handle(pattern, h) }

// request is what a handler sees.
type request struct {
	ctx    context.Context
	params map[string]string
	query  url.Values
	body   []byte
}

func (r *request) param(name string) string { return r.params[name] }

// handler returns the success status and body, or an error.
type handler func(r *request) (status int, body any, err error)

type route struct {
	method string
	segs   []string // literal or {label}
	op     string
	h      handler
	// queryIdents and bodyIdents name the identifier members the operation
	// takes in its query string and at the top of its JSON body; path labels
	// are identifiers by their names. See checkIdentifiers.
	queryIdents, bodyIdents []string
}

func (s *Server) add(method, pattern, op string, h handler) route {
	return route{method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), op: op, h: h}
}

// query declares the operation's optional identifier query parameters.
func (rt route) query(members ...string) route { rt.queryIdents = members; return rt }

// body declares the operation's required top-level identifier members.
func (rt route) body(members ...string) route { rt.bodyIdents = members; return rt }

// checkIdentifiers checks every identifier of a request — path labels,
// query parameters, top-level body members — before anything else of the
// request is decoded or checked, so that a malformed identifier is what
// the ValidationException names (one place for every operation; the
// service checks identifiers nested deeper, such as a forward action's
// target groups, first among their request's members too). A body that is
// not a JSON object, or a member that is not a string, is left to the
// operation's decoding, which reports it.
func checkIdentifiers(rt *route, params map[string]string, q url.Values, body []byte) error {
	var v model.Validator
	for _, seg := range rt.segs {
		if strings.HasPrefix(seg, "{") {
			label := seg[1 : len(seg)-1]
			v.Identifier(model.CheckIdentifierMember(label, params[label]))
		}
	}
	for _, m := range rt.queryIdents {
		if vals, ok := q[m]; ok {
			v.Identifier(model.CheckIdentifierMember(m, vals[0]))
		}
	}
	if len(rt.bodyIdents) > 0 {
		var members map[string]json.RawMessage
		if len(body) == 0 || json.Unmarshal(body, &members) == nil {
			for _, m := range rt.bodyIdents {
				var s string
				if raw, ok := members[m]; ok && json.Unmarshal(raw, &s) != nil {
					continue
				}
				v.Identifier(model.CheckIdentifierMember(m, s))
			}
		}
	}
	return v.Err()
}

// match binds the request's escaped path against the routes. Each segment
// is unescaped on its own, so an ARN escaped into one label stays one label.
//
// A path is matched as sent, never normalised: its signature was verified
// over the path as sent (sigv4 does not normalise either, as the AWS SDKs
// do not for vpc-lattice), so a path with an empty, "." or ".." segment
// ("//services", "/services/../services", "/services/") names no operation
// and gets the unknown-operation answer, rather than being routed as
// another path that was not what was signed.
func (s *Server) match(method, escapedPath string) (*route, map[string]string, bool, error) {
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, nil, false, nil
	}
	raw := strings.Split(escapedPath[1:], "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		if r == "" || r == "." || r == ".." {
			return nil, nil, false, nil
		}
		u, err := url.PathUnescape(r)
		if err != nil {
			return nil, nil, false, model.CannotParse("path", "the request path is not correctly escaped")
		}
		segs[i] = u
	}
	pathMatched := false
	for i := range s.routes {
		rt := &s.routes[i]
		if len(rt.segs) != len(segs) {
			continue
		}
		var params map[string]string
		ok := true
		for j, p := range rt.segs {
			if strings.HasPrefix(p, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				if params == nil {
					params = map[string]string{}
				}
				params[p[1:len(p)-1]] = segs[j]
			} else if p != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathMatched = true
		if rt.method == method {
			return rt, params, true, nil
		}
	}
	return nil, nil, pathMatched, nil
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.observe != nil {
		s.observed(w, r)
		return
	}
	s.serve(w, r, new(string))
}

// SetGate makes every control-plane call ask gate first and answer its
// error instead when it returns one (an error wrapping
// store.ErrUnavailable answers the retryable InternalServerException).
// The health check and Lambda's Invoke are not gated. Call before serving.
func (s *Server) SetGate(gate func(context.Context) error) { s.gate = gate }

// serve answers one API call and notes its operation in op (metrics.go).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, op *string) {
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	ctx := r.Context()
	if r.Method == http.MethodGet && r.URL.Path == "/trellis/health" {
		*op = opHealth
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
	}
	if isLambda(r) {
		*op = "lambda:Invoke"
		s.serveLambda(w, r)
		return
	}
	if s.gate != nil {
		// A node started from its local copy while the store was away
		// answers nothing until the store is back and its start work is
		// done (app: static stability).
		if err := s.gate(ctx); err != nil {
			if s.stsVerifier != nil && isSTS(r) {
				// An STS client reads only STS's XML errors.
				*op = "sts:" + opUnknown
				writeSTSError(w, reqID, s.toSTSError(ctx, err))
				return
			}
			if s.ramVerifier != nil && isRAM(r) {
				*op = "ram:" + opUnknown
				writeRAMError(w, s.toRAMError(ctx, err))
				return
			}
			writeError(w, toWireError(ctx, s.log, err))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, toWireError(ctx, s.log, model.Invalid("body", "the request body is larger than %d bytes", MaxBodyBytes)))
			return
		}
		writeError(w, toWireError(ctx, s.log, model.CannotParse("body", "reading the request body: %v", err)))
		return
	}
	sum := sha256.Sum256(body)
	if isACM(r) && s.acmVerifier != nil {
		*op = s.acmOpName(r)
		s.serveACM(w, r, hex.EncodeToString(sum[:]), body)
		return
	}
	if s.stsVerifier != nil && isSTS(r) {
		s.serveSTS(w, r, hex.EncodeToString(sum[:]), body, op)
		return
	}
	if s.ramVerifier != nil && isRAM(r) {
		s.serveRAM(w, r, hex.EncodeToString(sum[:]), body, op)
		return
	}
	res, err := s.verifier.Verify(ctx, r, hex.EncodeToString(sum[:]))
	if err != nil {
		writeError(w, toWireError(ctx, s.log, err))
		return
	}
	ctx = service.WithCaller(ctx, model.Caller{Account: res.Credential.Account, PrincipalARN: res.Credential.PrincipalARN})
	if strings.HasPrefix(r.URL.Path, NativePrefix) {
		r2 := r.WithContext(ctx)
		r2.Body = io.NopCloser(bytes.NewReader(body))
		if fromSessionToken(res.Credential) {
			if _, pattern := s.native.Handler(r2); isIdentityPattern(pattern) {
				*op = pattern
				writeError(w, toWireError(ctx, s.log, errSessionTokenIAM(res.Credential)))
				return
			}
		}
		s.native.ServeHTTP(w, r2)
		if r2.Pattern != "" {
			*op = r2.Pattern // set by the mux: a route of ours, not the client's path
		}
		return
	}
	rt, params, pathMatched, err := s.match(r.Method, r.URL.EscapedPath())
	if err != nil {
		writeError(w, toWireError(ctx, s.log, err))
		return
	}
	if rt == nil {
		we := wireError{Status: http.StatusNotFound, Type: "UnknownOperationException",
			Body: obj{"message": fmt.Sprintf("No operation matches %s %s", r.Method, r.URL.EscapedPath())}}
		if pathMatched {
			we.Status = http.StatusMethodNotAllowed
		}
		writeError(w, we)
		return
	}
	*op = rt.op
	query := r.URL.Query()
	if err := checkIdentifiers(rt, params, query, body); err != nil {
		writeError(w, toWireError(ctx, s.log, err))
		return
	}
	status, out, err := rt.h(&request{ctx: ctx, params: params, query: query, body: body})
	if err != nil {
		s.log.DebugContext(ctx, "api error", "op", rt.op, "requestId", reqID, "err", err)
		writeError(w, toWireError(ctx, s.log, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if out == nil {
		out = obj{}
	}
	if status != http.StatusNoContent {
		_ = encodeJSON(w, out)
	}
}
