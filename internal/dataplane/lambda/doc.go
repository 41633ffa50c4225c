// Package lambda owns what the data plane needs of Lambda targets: the
// event of a VPC Lattice LAMBDA target group (V1 and V2, reference §7.2),
// encoded as an appender into a reused buffer; the decoding and checking of
// a function's response; the 6 MB limits; and the Invoker seam through
// which a function is called — Remote, the Lambda Invoke API at an endpoint
// (AWS itself, LocalStack), or Trellis's own function host, adapted by
// internal/app.
//
// It knows nothing of the proxy's request handling: the proxy hands it the
// request as it would forward it (normalised path, filtered header with the
// fields Lattice adds) and writes the Response back itself.
//
// The response decoder reads the payload in place (jsonscan.go) rather
// than through encoding/json, which it was differentially fuzzed against,
// because it runs once per request on the data plane.
//
// Subpackage lambdatest is a real Lambda Invoke API server for tests.
//
// It imports nothing of Trellis (internal/archtest): not store, service or
// api, nor the proxy, which imports it.
package lambda
