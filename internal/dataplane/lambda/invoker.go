package lambda

import (
	"context"
	"errors"
)

// MaxPayload is Lambda's limit on a synchronous invocation, each way: the
// request body Lattice accepts for a function and the response JSON a
// function may return are at most 6 MB (reference §7.2; Lambda's quota is
// 6 MB = 6,291,456 bytes).
const MaxPayload = 6 << 20

// Invoker calls a function synchronously (Lambda's RequestResponse
// invocation). Invoke must not keep payload after it returns: the proxy
// reuses the buffer.
type Invoker interface {
	Invoke(ctx context.Context, functionARN string, payload []byte) (Result, error)
}

// Result is a finished invocation: the function's response payload, and
// FunctionError, the X-Amz-Function-Error value ("Unhandled", "Handled")
// when the function failed, "" when it succeeded.
type Result struct {
	Payload       []byte
	FunctionError string
}

// The failures an Invoker reports, wrapped with %w so callers tell them
// apart with errors.Is; any other error is a failure to reach the function.
var (
	// ErrFunctionNotFound: no such function (ResourceNotFoundException).
	ErrFunctionNotFound = errors.New("lambda: function not found")
	// ErrThrottled: the function or the account is at its concurrency limit
	// (TooManyRequestsException).
	ErrThrottled = errors.New("lambda: invocation throttled")
	// ErrTimeout: the invocation did not finish in time.
	ErrTimeout = errors.New("lambda: invocation timed out")
	// ErrPayloadTooLarge: the request or the response payload is over the
	// limit (RequestTooLargeException, or a response over MaxPayload).
	ErrPayloadTooLarge = errors.New("lambda: payload too large")
)
