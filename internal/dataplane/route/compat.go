package route

import (
	"net/http"
	"strings"

	"github.com/trellis-net/trellis/internal/dataplane/grpcwire"
)

// Target group protocol versions (model.ProtocolVersion*; repeated here so
// that the matrix reads without the model).
const (
	versionHTTP1 = "HTTP1"
	versionHTTP2 = "HTTP2"
	versionGRPC  = "GRPC"
)

// Reasons Compatible gives for the error cells of the matrix. They are
// constants so that a refusal costs no allocation and a test can name them.
const (
	ReasonGRPCToHTTP1   = "gRPC requests need a target group of protocol version GRPC or HTTP2, not HTTP1"
	ReasonHTTP1ToHTTP2  = "HTTP/1.1 requests cannot reach a target group of protocol version HTTP2; use HTTP/2"
	ReasonHTTP1ToGRPC   = "HTTP/1.1 requests cannot reach a target group of protocol version GRPC; use gRPC"
	ReasonMethodToGRPC  = "a target group of protocol version GRPC accepts only POST requests"
	ReasonUnknownTarget = "unknown target group protocol version"
)

// IncompatibleStatus is the HTTP status of a refusal by Compatible for a
// client that is not a gRPC client. Lattice documents no status for these
// cells (reference §7.4 lists 400 for "malformed request"); the request is
// well formed but cannot be served by the chosen target group, which is a
// client-side protocol error (access log failureReason ClientProtocolError),
// so 400 with the reason as plain text. A gRPC client (the gRPC→HTTP1 cell)
// is answered with a gRPC status instead: see IncompatibleGRPCCode.
const IncompatibleStatus = http.StatusBadRequest

// IncompatibleGRPCCode is the gRPC status code of a refusal by Compatible
// for a gRPC client (grpcwire.WriteError, HTTP 200 trailers-only): the
// target group cannot serve gRPC at all, which is what UNIMPLEMENTED means
// to a gRPC client ("operation is not implemented or not supported"); the
// reason goes in grpc-message.
const IncompatibleGRPCCode = grpcwire.Unimplemented

// Compatible reports whether a request may be forwarded to a target group
// of protocol version tgVersion (HTTP1, HTTP2, GRPC; "" is HTTP1, as for
// TCP groups), following the request × version matrix of Lattice
// (reference §6):
//
//	request \ group   HTTP1   HTTP2   GRPC
//	HTTP/1.1          ok      error   error
//	HTTP/2            ok      ok      POST only
//	gRPC              error   ok      ok
//
// protoMajor is the request's HTTP major version (1 or 2; 0 counts as 1).
// grpc says the request carries a gRPC content type (IsGRPC); a gRPC
// request is an HTTP/2 request with that content type, so grpc on an
// HTTP/1.x request is ignored (gRPC does not run over HTTP/1.1; gRPC-Web's
// application/grpc-web is not gRPC for IsGRPC either). method matters only
// for plain HTTP/2 requests to GRPC groups.
//
// When ok is false, reason is one of the Reason* constants, fit to be
// shown to the client. Compatible does not allocate.
func Compatible(protoMajor int, grpc bool, method, tgVersion string) (ok bool, reason string) {
	h2 := protoMajor >= 2
	grpc = grpc && h2
	switch tgVersion {
	case "", versionHTTP1:
		// Lattice converts HTTP/2 to HTTP/1.1 for these targets; gRPC
		// needs trailers and full duplex that HTTP/1.1 targets lack.
		if grpc {
			return false, ReasonGRPCToHTTP1
		}
		return true, ""
	case versionHTTP2:
		if !h2 {
			return false, ReasonHTTP1ToHTTP2
		}
		return true, ""
	case versionGRPC:
		switch {
		case !h2:
			return false, ReasonHTTP1ToGRPC
		case grpc || method == http.MethodPost:
			return true, ""
		}
		return false, ReasonMethodToGRPC
	}
	return false, ReasonUnknownTarget
}

// IsGRPC reports whether contentType names gRPC: "application/grpc",
// alone or followed by "+" and a message codec ("application/grpc+proto",
// "+json", any custom one) or by ";" and parameters, the media type
// compared without regard to case (RFC 9110 §8.3.1). Anything else,
// gRPC-Web ("application/grpc-web") included, is not gRPC. It does not
// allocate.
func IsGRPC(contentType string) bool {
	const base = "application/grpc"
	if len(contentType) < len(base) {
		return false
	}
	for i := 0; i < len(base); i++ {
		// ASCII folding only: a media type is ASCII, and Unicode folding
		// would let "\u212a" (Kelvin) stand for 'k'.
		c := contentType[i]
		if isUpper(c) {
			c += 'a' - 'A'
		}
		if c != base[i] {
			return false
		}
	}
	if len(contentType) == len(base) {
		return true
	}
	switch contentType[len(base)] {
	case '+', ';':
		return true
	case ' ', '\t':
		// OWS before parameters: "application/grpc ; charset=...".
		rest := strings.TrimLeft(contentType[len(base):], " \t")
		return rest == "" || rest[0] == ';'
	}
	return false
}

// IsGRPCRequest reports whether r is a gRPC request: HTTP/2 (or later) with
// a gRPC content type. It reads the header map without canonicalising, so
// it does not allocate.
func IsGRPCRequest(r *http.Request) bool {
	if r.ProtoMajor < 2 {
		return false
	}
	ct := r.Header["Content-Type"]
	return len(ct) > 0 && IsGRPC(ct[0])
}
