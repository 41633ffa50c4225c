// A Lambda function for Trellis's quickstart: aws-lambda-go, unmodified.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Path string `json:"path"` // a VPC Lattice V2 event (see docs/lambda.md)
}

func main() {
	lambda.Start(func(ctx context.Context, e event) (map[string]any, error) {
		return map[string]any{"statusCode": 200, "body": "hello from a function, you asked for " + e.Path + "\n"}, nil
	})
}
