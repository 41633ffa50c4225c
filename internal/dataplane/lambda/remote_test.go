package lambda_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/trellis-net/trellis/internal/dataplane/lambda"
	"github.com/trellis-net/trellis/internal/dataplane/lambda/lambdatest"
)

const (
	region  = "us-east-1"
	account = "111122223333"
)

var testCreds = aws.Credentials{AccessKeyID: "AKIDLAMBDATEST000001", SecretAccessKey: "lambda-secret"}

func newRemote(t *testing.T, endpoint string, creds aws.Credentials) *lambda.Remote {
	t.Helper()
	r, err := lambda.NewRemote(context.Background(), lambda.RemoteConfig{Endpoint: endpoint, Region: region,
		Credentials: credentials.StaticCredentialsProvider{Value: creds}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestRemoteInvoke calls real aws-lambda-go handlers through the Invoke
// API with the SDK's lambda client: the payload goes through untouched,
// the request is SigV4-signed for "lambda", and every failure maps to its
// sentinel.
func TestRemoteInvoke(t *testing.T) {
	srv := lambdatest.NewServer(t, region, testCreds)
	srv.Add("echo", func(ctx context.Context, in map[string]any) (events.ALBTargetGroupResponse, error) {
		return events.ALBTargetGroupResponse{StatusCode: 200, Body: fmt.Sprint(in["method"])}, nil
	})
	srv.Add("fails", func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return nil, errors.New("boom")
	})
	srv.Add("slow", func(ctx context.Context, in map[string]any) (map[string]any, error) {
		select {
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
		return map[string]any{}, nil
	})
	srv.Add("huge", func(ctx context.Context, in map[string]any) (map[string]any, error) {
		return map[string]any{"body": strings.Repeat("x", lambda.MaxPayload)}, nil
	})
	busy := make(chan struct{})
	release := make(chan struct{})
	f := srv.Add("busy", func(ctx context.Context, in map[string]any) (map[string]any, error) {
		busy <- struct{}{}
		<-release
		return map[string]any{}, nil
	})
	f.MaxConcurrency = 1
	r := newRemote(t, srv.URL, testCreds)
	ctx := context.Background()

	res, err := r.Invoke(ctx, lambdatest.ARN(region, account, "echo"), []byte(`{"method":"GET"}`))
	if err != nil || res.FunctionError != "" || !bytes.Contains(res.Payload, []byte(`"body":"GET"`)) {
		t.Fatalf("echo: %q %q %v", res.Payload, res.FunctionError, err)
	}
	if got := string(srv.LastPayload()); got != `{"method":"GET"}` {
		t.Fatalf("the function got %q", got)
	}

	res, err = r.Invoke(ctx, lambdatest.ARN(region, account, "fails"), []byte(`{}`))
	if err != nil || res.FunctionError != "Unhandled" || !bytes.Contains(res.Payload, []byte("boom")) {
		t.Fatalf("fails: %q %q %v", res.Payload, res.FunctionError, err)
	}

	for _, tc := range []struct {
		name    string
		fn      string
		payload []byte
		timeout time.Duration
		want    error
	}{
		{"not found", "nope", []byte(`{}`), 0, lambda.ErrFunctionNotFound},
		{"request too large", "echo", []byte(`{"b":"` + strings.Repeat("y", lambda.MaxPayload) + `"}`), 0, lambda.ErrPayloadTooLarge},
		{"response too large", "huge", []byte(`{}`), 0, lambda.ErrPayloadTooLarge},
		{"timeout", "slow", []byte(`{}`), 200 * time.Millisecond, lambda.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			_, err := r.Invoke(ctx, lambdatest.ARN(region, account, tc.fn), tc.payload)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("throttled", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := r.Invoke(context.Background(), lambdatest.ARN(region, account, "busy"), []byte(`{}`))
			done <- err
		}()
		<-busy
		_, err := r.Invoke(context.Background(), lambdatest.ARN(region, account, "busy"), []byte(`{}`))
		close(release)
		if !errors.Is(err, lambda.ErrThrottled) {
			t.Fatalf("got %v, want ErrThrottled", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bad signature", func(t *testing.T) {
		bad := newRemote(t, srv.URL, aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"})
		_, err := bad.Invoke(context.Background(), lambdatest.ARN(region, account, "echo"), []byte(`{}`))
		if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
			t.Fatalf("a wrong secret: %v", err)
		}
	})
}

// TestParseEndpoint: --lambda-endpoint takes an http or https base URL
// with a host.
func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"https://lambda.us-east-1.amazonaws.com", true},
		{"http://127.0.0.1:4566", true},
		{"http://localhost:4566/", true},
		{"ftp://example.com", false},
		{"localhost:4566", false},
		{"http://", false},
		{"http://user:pw@example.com", false},
		{"http://example.com/?a=b", false},
		{"http://example.com/#x", false},
		{"://bad", false},
	} {
		_, err := lambda.ParseEndpoint(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseEndpoint(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
	if _, err := lambda.NewRemote(context.Background(), lambda.RemoteConfig{Endpoint: "ftp://x", Region: region}); err == nil {
		t.Fatal("NewRemote took an ftp endpoint")
	}
}
