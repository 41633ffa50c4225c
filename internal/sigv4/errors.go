package sigv4

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// ErrUnknownAccessKey is returned (possibly wrapped) by a KeyStore that does
// not know the access key it was asked for.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// Error codes, as AWS sends them in the __type / Code of an error response.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
)

// Messages that do not depend on the request.
const (
	msgMissingToken      = "Missing Authentication Token"
	msgInvalidToken      = "The security token included in the request is invalid."
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Error is what Verify returns for every authentication failure. Code and
// Message are what AWS returns for the same failure; Status is the HTTP status
// to send (400 for IncompleteSignatureException, 403 otherwise).
type Error struct {
	Code    string
	Message string
	Status  int

	// CanonicalRequest and StringToSign are what the verifier computed, set
	// when the signature did not match, to help find where a client's signer
	// disagrees. They hold only what the client sent (its signed headers,
	// which may include its session token), nothing the server knows.
	CanonicalRequest string
	StringToSign     string
}

func (e *Error) Error() string { return "sigv4: " + e.Code + ": " + e.Message }

func newError(code, msg string) *Error {
	st := http.StatusForbidden
	if code == CodeIncompleteSignature {
		st = http.StatusBadRequest
	}
	return &Error{Code: code, Message: msg, Status: st}
}

func incomplete(msg string) *Error { return newError(CodeIncompleteSignature, msg) }
func invalidSig(msg string) *Error { return newError(CodeInvalidSignature, msg) }
func errMissingToken() *Error      { return newError(CodeMissingAuthenticationToken, msgMissingToken) }
func errInvalidToken() *Error      { return newError(CodeUnrecognizedClient, msgInvalidToken) }
func errMismatch() *Error          { return invalidSig(msgSignatureMismatch) }

// maxEcho bounds how much of a client-supplied value is quoted back in an
// error message.
const maxEcho = 512

func echo(s string) string {
	if len(s) > maxEcho {
		return s[:maxEcho] + "..."
	}
	return s
}

// skewDuration renders d the way AWS does in clock-skew messages ("5 min.").
func skewDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + " sec."
}

func fmtAmz(t time.Time) string { return t.UTC().Format(amzDateLayout) }

// errExpired: "Signature expired: X is now earlier than Y (Z - 5 min.)".
func errExpired(signed, now time.Time, window time.Duration) *Error {
	return invalidSig("Signature expired: " + fmtAmz(signed) + " is now earlier than " +
		fmtAmz(now.Add(-window)) + " (" + fmtAmz(now) + " - " + skewDuration(window) + ")")
}

// errNotYetCurrent: "Signature not yet current: X is still later than Y (Z + 5 min.)".
func errNotYetCurrent(signed, now time.Time, window time.Duration) *Error {
	return invalidSig("Signature not yet current: " + fmtAmz(signed) + " is still later than " +
		fmtAmz(now.Add(window)) + " (" + fmtAmz(now) + " + " + skewDuration(window) + ")")
}

// configError reports a Verifier that cannot work; it is a programming error,
// not an authentication failure, so it is not an *Error.
type configError string

func (e configError) Error() string { return "sigv4: " + string(e) }

// lookupError wraps a KeyStore failure other than ErrUnknownAccessKey.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return "sigv4: looking up access key: " + e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }
