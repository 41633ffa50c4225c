// Command walkfn is the seed walkthrough's function (built by the tests
// with aws-lambda-go): it answers every VPC Lattice V2 event with the
// event itself as JSON, so a test sees exactly what Trellis sent.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, event json.RawMessage) (map[string]any, error) {
	return map[string]any{
		"statusCode": 200,
		"headers":    map[string]string{"content-type": "application/json", "x-served-by": "function"},
		"body":       string(event),
	}, nil
}

func main() { lambda.Start(handle) }
