package proxy

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/grpcwire"
	"github.com/trellis-net/trellis/internal/dataplane/route"
)

// refusal names an answer the data plane gives itself instead of a
// target's. Every one is in the table below, with its status, text and
// access-log failure reason, as the control plane keeps one table of its
// errors: a new refusal is a new row, not a status and string at a call
// site.
type refusal uint8

const (
	refNoService    refusal = iota // Host names no service the VPC reaches (the double association)
	refNoListener                  // the service has no listener on the socket's port
	refBadPath                     // no normal form stands for the request path (pathnorm)
	refDenied                      // auth refused (its status, 401 or 403, and message are auth's)
	refNoRule                      // no rule of the listener matches
	refConnect                     // CONNECT: no tunnels through an HTTP listener
	refZeroWeights                 // every weight of the matching rule is 0
	refNoGroup                     // the weighted pick found no group
	refTargetType                  // a target type the data plane does not know
	refProtocol                    // a target group protocol an HTTP listener cannot reach
	refNoTargets                   // the group has no target to pick
	refNoAddress                   // the picked target has no address to dial
	refTimeout                     // no response headers within the request timeout
	refClientBody                  // the client's request body failed while it was sent on
	refClientGone                  // the client went away before the target answered
	refTargetFailed                // the exchange with the target failed
	refNeedsTLS                    // a cleartext request to a port where the service listens with TLS
	refMisdirected                 // Host names another service than the TLS connection's SNI
	refIncompatible                // the request's protocol cannot reach the group's protocol version (§6)

	// LAMBDA target groups (lambda.go, docs/lambda.md).
	refNoInvoker        // no Invoker configured (proxy.Config.Lambda)
	refLambdaBodyTooBig // a request body over lambda.MaxPayload
	refLambdaNotFound   // the function does not exist
	refLambdaThrottled  // the function is at its concurrency limit
	refLambdaFailed     // the function could not be invoked
	refLambdaFuncError  // the function failed (X-Amz-Function-Error)
	refLambdaMalformed  // the function's response is not a valid answer
	refLambdaRespTooBig // the function's response is over lambda.MaxPayload
)

// refusals is the table: status, text (a fmt format of the refusal's
// arguments, answered as text/plain) and the access log's failureReason.
// An empty reason leaves the record's as it is: refusals before a target
// is picked are no failure of one (as in Lattice), and the target failures
// get theirs from targetFailure.
var refusals = [...]struct {
	status int
	format string
	reason string
	// grpc is the code a gRPC client gets; 0 (OK, never a refusal) maps
	// the status (grpcwire.FromHTTPStatus).
	grpc grpcwire.Code
}{
	refNoService:    {http.StatusNotFound, "Non Existent Service: no service named %s is reachable from %s", "", 0},
	refNoListener:   {http.StatusNotFound, "Non Existent Service: service %s has no listener on port %d", "", 0},
	refBadPath:      {http.StatusBadRequest, "invalid request path: %v", accesslog.ClientProtocolError, 0},
	refDenied:       {http.StatusForbidden, "%s", accesslog.ClientAccessDenied, 0},
	refNoRule:       {http.StatusNotFound, "no rule of listener %s matches", "", 0},
	refConnect:      {http.StatusMethodNotAllowed, "CONNECT is not supported", "", 0},
	refZeroWeights:  {http.StatusServiceUnavailable, "no target group takes traffic (every weight of rule %s is 0)", "", 0},
	refNoGroup:      {http.StatusServiceUnavailable, "no target group takes traffic", "", 0},
	refTargetType:   {http.StatusBadGateway, "target type %s is not supported (target group %s)", "", 0},
	refProtocol:     {http.StatusBadGateway, "target group protocol %s is not supported behind an HTTP listener (target group %s)", "", 0},
	refNoTargets:    {http.StatusServiceUnavailable, "no targets registered in target group %s", "", 0},
	refNoAddress:    {http.StatusBadGateway, "target %s of target group %s has no address to dial", "", 0},
	refTimeout:      {http.StatusGatewayTimeout, "upstream request timeout", "", 0},
	refClientBody:   {http.StatusBadRequest, "malformed or incomplete request body", "", 0},
	refClientGone:   {http.StatusBadGateway, "client closed the request", "", 0},
	refTargetFailed: {http.StatusBadGateway, "target %s failed: %s", "", 0},
	refNeedsTLS:     {http.StatusBadRequest, "service %s listens with %s on port %d: connect with TLS", accesslog.ClientProtocolError, 0},
	// RFC 9110 §15.5.20: the connection's certificate and SNI were for
	// another name; the client should connect again for this one (an
	// HTTP/2 client reusing a connection across names gets this too).
	refMisdirected:  {http.StatusMisdirectedRequest, "the TLS connection is for %s, not %s", "", 0},
	refIncompatible: {route.IncompatibleStatus, "%s (target group %s)", accesslog.ClientProtocolError, route.IncompatibleGRPCCode},
	// What Lattice answers for each Lambda failure is documented only in
	// part (reference §7.2, §7.4): docs/lambda.md marks the unverified rows.
	refNoInvoker:        {http.StatusBadGateway, "no Lambda invoker configured (target group %s)", accesslog.InternalError, 0},
	refLambdaBodyTooBig: {http.StatusRequestEntityTooLarge, "request body over 6 MB: a Lambda target takes at most %d bytes", accesslog.ClientProtocolError, 0},
	refLambdaNotFound:   {http.StatusInternalServerError, "function %s of target group %s not found", accesslog.TargetConnectionError, 0},
	refLambdaThrottled:  {http.StatusServiceUnavailable, "function %s is throttled", accesslog.TargetConnectionError, 0},
	refLambdaFailed:     {http.StatusInternalServerError, "invoking function %s failed", accesslog.TargetConnectionError, 0},
	refLambdaFuncError:  {http.StatusBadGateway, "function %s failed (%s error)", accesslog.TargetProtocolError, 0},
	refLambdaMalformed:  {http.StatusBadGateway, "function %s returned a malformed response: %s", accesslog.TargetProtocolError, 0},
	refLambdaRespTooBig: {http.StatusBadGateway, "function %s returned a response over 6 MB", accesslog.TargetProtocolError, 0},
}

// refuse answers refusal ref with its table row, args filling its text,
// and notes its failure reason in the access log record (rl, nil when
// none is kept).
func refuse(w http.ResponseWriter, r *http.Request, rl *reqLog, ref refusal, args ...any) {
	refuseStatus(w, r, rl, ref, refusals[ref].status, args...)
}

// refuseStatus is refuse with a status other than the row's: auth's 401
// or 403 for refDenied.
// A gRPC client (route.IsGRPCRequest) gets the refusal the way gRPC
// answers errors — trailers-only, its status mapped to a gRPC code
// (grpcwire) and the text as grpc-message — instead of a text/plain body
// its library would only quote.
func refuseStatus(w http.ResponseWriter, r *http.Request, rl *reqLog, ref refusal, status int, args ...any) {
	row := &refusals[ref]
	noteRefusal(r, ref)
	if rl != nil && row.reason != "" {
		rl.e.FailureReason = row.reason
	}
	msg := row.format
	if len(args) > 0 {
		msg = fmt.Sprintf(row.format, args...)
	}
	if r != nil && route.IsGRPCRequest(r) {
		code := row.grpc
		if code == grpcwire.OK {
			code = grpcwire.FromHTTPStatus(status)
		}
		if rl != nil {
			rl.grpc = true
		}
		grpcwire.WriteError(w, code, msg)
		return
	}
	textError(w, status, msg+"\n")
}

// noServiceName is how refNoService names the Host it did not find.
func noServiceName(host string) string {
	name := strings.ToLower(hostOnly(host))
	if name == "" {
		name = "(none)"
	}
	return name
}
