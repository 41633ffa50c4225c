package lambda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go/logging"
)

// RemoteConfig configures a Remote invoker.
type RemoteConfig struct {
	// Endpoint is the base URL of a Lambda Invoke API
	// (https://lambda.us-east-1.amazonaws.com, http://localhost:4566 for
	// LocalStack): http or https, with a host (ParseEndpoint).
	Endpoint string
	// Region signs the requests (SigV4, signing name "lambda").
	Region string
	// Credentials sign the requests; nil takes the standard AWS chain
	// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the
	// shared files, web identity, container and instance roles).
	Credentials aws.CredentialsProvider
}

// Remote invokes functions through the Lambda Invoke API at an endpoint
// (POST /2015-03-31/functions/{name}/invocations) with the AWS SDK's
// lambda client. Its connections are pooled; it is safe for concurrent use.
type Remote struct {
	client *awslambda.Client
	tr     *http.Transport
}

var _ Invoker = (*Remote)(nil)

// ParseEndpoint checks a Lambda endpoint URL: http or https, a host, and
// nothing a base URL cannot hold (user info, query, fragment).
func ParseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: want an http or https URL", s)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q: no host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q: want a base URL without user info, query or fragment", s)
	}
	return u, nil
}

// NewRemote returns a Remote for cfg; ctx bounds loading the shared AWS
// configuration.
func NewRemote(ctx context.Context, cfg RemoteConfig) (*Remote, error) {
	if _, err := ParseEndpoint(cfg.Endpoint); err != nil {
		return nil, fmt.Errorf("lambda endpoint %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("lambda endpoint: no region")
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		// An invocation is not idempotent: a retry after the function ran
		// would run it twice. The client that called the service decides.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		// The data plane logs and answers failures itself; the SDK would
		// write its warnings to stderr.
		config.WithLogger(logging.Nop{}),
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("lambda endpoint: loading AWS configuration: %w", err)
	}
	// The transport the shared configuration built (AWS_CA_BUNDLE and
	// proxy settings applied), pooled for the data plane and owned here, so
	// that Close can let its connections go. No client timeout: the
	// request's context bounds an invocation.
	var tr *http.Transport
	if b, ok := ac.HTTPClient.(*awshttp.BuildableClient); ok {
		tr = b.GetTransport()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.MaxIdleConnsPerHost = 256 // the data plane's concurrency, to one host
	tr.IdleConnTimeout = 90 * time.Second
	client := awslambda.NewFromConfig(ac, func(o *awslambda.Options) {
		o.BaseEndpoint = aws.String(cfg.Endpoint)
		o.HTTPClient = &http.Client{Transport: limitTransport{tr}}
	})
	return &Remote{client: client, tr: tr}, nil
}

// Invoke calls the function synchronously (RequestResponse) and maps the
// API's errors to the package's: ResourceNotFoundException →
// ErrFunctionNotFound, TooManyRequestsException → ErrThrottled,
// RequestTooLargeException and a response over MaxPayload →
// ErrPayloadTooLarge, ctx's deadline → ErrTimeout.
func (r *Remote) Invoke(ctx context.Context, functionARN string, payload []byte) (Result, error) {
	out, err := r.client.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName:   aws.String(functionARN),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return Result{}, remoteError(ctx, err)
	}
	res := Result{Payload: out.Payload}
	if out.FunctionError != nil {
		res.FunctionError = *out.FunctionError
	}
	return res, nil
}

// remoteError maps an Invoke failure to the package's errors, keeping the
// SDK's error in the chain.
func remoteError(ctx context.Context, err error) error {
	var (
		notFound  *types.ResourceNotFoundException
		throttled *types.TooManyRequestsException
		tooLarge  *types.RequestTooLargeException
	)
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %w", ErrFunctionNotFound, err)
	case errors.As(err, &throttled):
		return fmt.Errorf("%w: %w", ErrThrottled, err)
	case errors.As(err, &tooLarge), errors.Is(err, errResponseTooLarge):
		return fmt.Errorf("%w: %w", ErrPayloadTooLarge, err)
	case errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// Close closes the idle connections to the endpoint.
func (r *Remote) Close() { r.tr.CloseIdleConnections() }

// errResponseTooLarge is the read error of a response body over
// MaxPayload.
var errResponseTooLarge = errors.New("response payload over 6 MB")

// limitTransport keeps an endpoint from sending more than MaxPayload bytes
// of response: the SDK reads the whole payload into memory.
type limitTransport struct{ rt http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if res.ContentLength > MaxPayload {
		res.Body.Close()
		return nil, errResponseTooLarge
	}
	res.Body = &limitedBody{rc: res.Body, left: MaxPayload}
	return res, nil
}

// limitedBody fails a read past its limit.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errResponseTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
