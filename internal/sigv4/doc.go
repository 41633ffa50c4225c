// Package sigv4 is Trellis's server-side verifier for AWS Signature Version 4.
//
// It owns everything needed to decide whether an HTTP request was signed by
// the holder of an access key: parsing the Authorization header (or the
// presigned X-Amz-* query parameters), rebuilding the canonical request the
// way the AWS SDKs build it, deriving and caching signing keys, checking the
// credential scope, the clock skew and the session token, and mapping every
// failure onto the error code and message AWS itself returns, so that AWS SDKs
// and the AWS CLI recognise them (see Error).
//
// The control plane verifies requests signed for "vpc-lattice" with a real
// payload hash; the data plane verifies requests signed for
// "vpc-lattice-svcs", which usually carry
// "x-amz-content-sha256: UNSIGNED-PAYLOAD" (Verifier.AllowUnsignedPayload).
//
// Only the HMAC algorithm (AWS4-HMAC-SHA256) is implemented. Verify dispatches
// on the algorithm named by the request, so SigV4A (AWS4-ECDSA-P256-SHA256)
// can be added beside it: the parser already recognises that name and the
// canonical request builder is algorithm-independent.
//
// Where the access keys live is not this package's business: callers supply a
// KeyStore. This package must not import any other trellis package; it
// depends on the standard library only (its tests also use the official
// aws-sdk-go-v2 signer as a reference).
//
// Verify sits on the data plane's per-request path, so the hot path avoids
// fmt, regular expressions and per-request allocations: scratch buffers come
// from a sync.Pool, derived signing keys are cached, and the HMAC uses SHA-256
// states precomputed per signing key.
package sigv4
