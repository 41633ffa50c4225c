// Package sigv4 is Trellis's server-side verifier for AWS Signature Version 4
// (SigV4) and its asymmetric variant SigV4A.
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
// The canonical URI is the request's path exactly as the client sent it
// (RequestURI), percent-encoded once more, and never normalised: the AWS
// SDKs sign "/a/../b" or "//a" as they are for both vpc-lattice signing
// names (only S3 differs, by not encoding again), so a signature over any
// other path would be a different request. Verifier.NormalizePath, off
// unless asked for, also accepts signatures over the RFC 3986-normalised
// path (as botocore computes them).
//
// Verify dispatches on the algorithm the request names. AWS4-HMAC-SHA256
// (SigV4) signs with an HMAC key derived per day, region and service.
// AWS4-ECDSA-P256-SHA256 (SigV4A, sigv4a.go) signs the same canonical
// request with an ECDSA P-256 key derived from the access key ID and secret;
// its credential scope has no region, and the signed X-Amz-Region-Set lists
// the regions (with '*' wildcards) it is good for: Verifier.Region must
// match one of them. Both forms (Authorization header and presigned query)
// are accepted for both algorithms.
//
// Where the access keys live is not this package's business: callers supply a
// KeyStore. This package must not import any other trellis package; it
// depends on the standard library only (its tests also use the official
// aws-sdk-go-v2 SigV4 signer as a reference, and requests signed by
// smithy-go's public SigV4A signer, recorded under testdata/sigv4a).
//
// Verify sits on the data plane's per-request path, so the hot path avoids
// fmt, regular expressions and per-request allocations: scratch buffers come
// from a sync.Pool, derived signing keys are cached, and the HMAC uses SHA-256
// states precomputed per signing key. SigV4A caches derived public keys; its
// cost is crypto/ecdsa's P-256 verification.
package sigv4
