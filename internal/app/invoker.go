package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/trellis-net/trellis/internal/dataplane/lambda"
	"github.com/trellis-net/trellis/internal/functions"
)

// functionInvoker is the data plane's lambda.Invoker: a function this
// server hosts runs here (functions.Host); any other goes to the Invoke API
// at --lambda-endpoint, when one is set. The host's errors become the
// data plane's, so a hosted function fails as a remote one does: a timeout
// is a function error ("Sandbox.Timedout", FunctionError Unhandled), as the
// Lambda Invoke API answers it.
type functionInvoker struct {
	host   *functions.Host // nil: no function host
	remote lambda.Invoker  // nil: no --lambda-endpoint
}

func (f functionInvoker) Invoke(ctx context.Context, arn string, payload []byte) (lambda.Result, error) {
	if f.host != nil {
		res, err := f.host.Invoke(ctx, arn, payload)
		switch {
		case err == nil, errors.Is(err, functions.ErrTimeout):
			return lambda.Result{Payload: res.Payload, FunctionError: res.FunctionError}, nil
		case errors.Is(err, functions.ErrNotFound):
			if f.remote == nil {
				return lambda.Result{}, fmt.Errorf("%w: %s is not hosted here and no --lambda-endpoint is set", lambda.ErrFunctionNotFound, arn)
			}
			// Not hosted here: the Invoke API's.
		case errors.Is(err, functions.ErrThrottled):
			return lambda.Result{}, fmt.Errorf("%w: %v", lambda.ErrThrottled, err)
		case errors.Is(err, functions.ErrTooLarge):
			return lambda.Result{}, fmt.Errorf("%w: %v", lambda.ErrPayloadTooLarge, err)
		default:
			return lambda.Result{}, err
		}
	}
	if f.remote == nil {
		return lambda.Result{}, fmt.Errorf("%w: no function host and no --lambda-endpoint", lambda.ErrFunctionNotFound)
	}
	return f.remote.Invoke(ctx, arn, payload)
}
