package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/console"
)

func fetch(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The console is served on the API address, unauthenticated, ahead of the
// API and only under /console; the API answers everything else as before.
func TestConsoleOnAPIAddress(t *testing.T) {
	t.Parallel()
	s := apptest.StartWith(t, apptest.Options{Console: true})
	resp, _ := fetch(t, s.Endpoint+"/console")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("GET /console: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := fetch(t, s.Endpoint+"/console/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Trellis console") {
		t.Fatalf("GET /console/: %d %.200s", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Security-Policy") != console.CSP {
		t.Fatalf("CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	// Not the console: the API's own answer (an unsigned call is refused
	// in the AWS shape).
	for _, p := range []string{"/consoles", "/services", "/trellis/v1/vpcs"} {
		resp, body := fetch(t, s.Endpoint+p)
		if resp.Header.Get("X-Amzn-Errortype") == "" || resp.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("GET %s reached the console, not the API: %d %v %.200s", p, resp.StatusCode, resp.Header, body)
		}
	}
	c := vpclattice.New(vpclattice.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")})
	if _, err := c.ListServices(context.Background(), &vpclattice.ListServicesInput{}); err != nil {
		t.Fatalf("the API behind the console: %v", err)
	}
}

// serve --console=false: /console/ is the API's, which knows no such
// operation.
func TestConsoleOff(t *testing.T) {
	t.Parallel()
	s := apptest.StartWith(t, apptest.Options{})
	resp, body := fetch(t, s.Endpoint+"/console/")
	if resp.StatusCode == http.StatusOK || resp.Header.Get("Content-Security-Policy") != "" || strings.Contains(body, "Trellis console") {
		t.Fatalf("console served while off: %d %.200s", resp.StatusCode, body)
	}
}
