// Package grpcwire owns the few pieces of the gRPC wire format the data
// plane needs to answer gRPC clients itself: the status codes, the mapping
// from an HTTP status to a gRPC code (grpc/doc/http-grpc-status-mapping.md),
// the percent-encoding of grpc-message (grpc/doc/PROTOCOL-HTTP2.md), and a
// trailers-only error response written on an http.ResponseWriter.
//
// The proxy uses it for its own refusals (no such service, access denied,
// no healthy target ...) when the client is a gRPC client: a gRPC client
// that gets a plain HTTP error derives the code from the HTTP status and
// drops the body, so the reason is lost; a trailers-only answer carries the
// same code and the reason in grpc-message.
//
// It must not import anything of Trellis (it is wire format only), and it
// does not import google.golang.org/grpc (a test-only dependency).
package grpcwire
