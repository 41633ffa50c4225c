// Command lambdafn is the function the Lambda benchmark invokes (through
// Trellis, and directly through bench/lambdadirect): an aws-lambda-go
// handler that reads a VPC Lattice V2 event and answers 200 with a short
// body, so what is measured is the path to the function, not its work.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

// event is the part of a VPC Lattice V2 event this function reads
// (aws-lambda-go has no VPC Lattice types).
type event struct {
	Version string              `json:"version"`
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
}

type response struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// Body is what every invocation answers; the load tools check its length.
const Body = "hello from lambda\n"

func handle(_ context.Context, e event) (response, error) {
	return response{StatusCode: 200, Headers: map[string]string{"content-type": "text/plain"}, Body: Body}, nil
}

func main() { lambda.Start(handle) }
