package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestSignedPathsAreVerifiedAsSent: a request signed by the AWS SDK's
// SigV4 signer over a path with "..", "." or empty segments verifies
// (the SDK does not normalise such paths for vpc-lattice, and neither does
// Trellis), and then names no operation: it is answered as an unknown
// operation, not routed as the path it would normalise to.
func TestSignedPathsAreVerifiedAsSent(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}
	for _, p := range []string{"/services/../services", "//services", "/./services", "/services/", "/services//",
		"/servicenetworks/sn-0123456789abcdef0/../../services", "/services/svc-0123456789abcdef0/listeners/.."} {
		t.Run(p, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.Endpoint+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if req.URL.EscapedPath() != p {
				t.Fatalf("the client would send %q", req.URL.EscapedPath())
			}
			if err := signer.SignHTTP(ctx, creds, req, emptyHash, "vpc-lattice", s.Region, time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if typ := resp.Header.Get("X-Amzn-ErrorType"); resp.StatusCode != http.StatusNotFound || typ != "UnknownOperationException" {
				t.Fatalf("%s: %d %s, want 404 UnknownOperationException", p, resp.StatusCode, typ)
			}
		})
	}
	// The same signature over another path still fails.
	req, _ := http.NewRequest(http.MethodGet, s.Endpoint+"/services", nil)
	if err := signer.SignHTTP(ctx, creds, req, emptyHash, "vpc-lattice", s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	req.URL.Path, req.URL.RawPath = "//services", ""
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if typ := resp.Header.Get("X-Amzn-ErrorType"); typ != "InvalidSignatureException" {
		t.Fatalf("signature for /services on //services: %d %s", resp.StatusCode, typ)
	}
}

const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
