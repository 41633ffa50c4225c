package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func newClient(s *apptest.Server) *vpclattice.Client {
	return clientWith(s, s.AccessKeyID, s.SecretAccessKey)
}

func clientWith(s *apptest.Server, id, secret string) *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{
		Region:           s.Region,
		BaseEndpoint:     aws.String(s.Endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1,
	})
}

// wantAPIError asserts err is an AWS API error with the given code, and
// returns it typed for further checks.
func wantAPIError(t *testing.T, err error, code string) smithy.APIError {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got success", code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got a non-API error: %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
	return ae
}

// wantFields asserts err is a ValidationException naming exactly fields.
func wantFields(t *testing.T, err error, fields ...string) *types.ValidationException {
	t.Helper()
	wantAPIError(t, err, "ValidationException")
	var ve *types.ValidationException
	if !errorsAs(err, &ve) {
		t.Fatalf("not a typed ValidationException: %v", err)
	}
	var got []string
	for _, f := range ve.FieldList {
		got = append(got, *f.Name)
	}
	if strings.Join(got, ",") != strings.Join(fields, ",") {
		t.Fatalf("fields %v, want %v (%s)", got, fields, *ve.Message)
	}
	return ve
}

type result[T any] struct {
	v   T
	err error
}

// need wraps a call's two results so that ok(t) can fail the test on error:
// need(c.GetService(ctx, in)).ok(t).
func need[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) ok(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// raw sends a SigV4-signed request with the root credentials and returns
// the status and body, for golden files of the exact wire bytes.
func raw(t *testing.T, s *apptest.Server, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	return rawBody(t, s, method, path, body, time.Now())
}

// rawAt signs a bodyless request as if made at signedAt.
func rawAt(t *testing.T, s *apptest.Server, method, path string, signedAt time.Time) (int, http.Header, []byte) {
	t.Helper()
	return rawBody(t, s, method, path, nil, signedAt)
}

func rawBody(t *testing.T, s *apptest.Server, method, path string, body any, signedAt time.Time) (int, http.Header, []byte) {
	t.Helper()
	return signedRequest(t, s, aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}, method, path, body, signedAt)
}

// signedRequest sends a request signed with creds as of signedAt (JSON body
// when body is not nil) and returns the status, header and body.
func signedRequest(t *testing.T, s *apptest.Server, creds aws.Credentials, method, path string, body any, signedAt time.Time) (int, http.Header, []byte) {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, s.Endpoint+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "vpc-lattice", s.Region, signedAt); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

var (
	idRE   = regexp.MustCompile(`\b(sn|svc|listener|rule|tg|snsa|snva|als)-[0-9a-z]{17}\b`)
	timeRE = regexp.MustCompile(`"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"`)
	tokRE  = regexp.MustCompile(`\.[0-9a-f]{7}\.vpc-lattice-svcs`)
	zoneRE = regexp.MustCompile(`"Z[0-9A-F]{7}TRELLIS"`)
)

// normalize replaces generated values (IDs, timestamps, the DNS token) with
// stable placeholders, numbering IDs in order of appearance.
func normalize(b []byte) []byte {
	seen := map[string]string{}
	counts := map[string]int{}
	out := idRE.ReplaceAllStringFunc(string(b), func(id string) string {
		if r, ok := seen[id]; ok {
			return r
		}
		prefix := id[:strings.IndexByte(id, '-')]
		counts[prefix]++
		r := prefix + "-" + strings.Repeat(string(rune('0'+counts[prefix]%10)), 17)
		seen[id] = r
		return r
	})
	out = timeRE.ReplaceAllString(out, `"<time>"`)
	out = tokRE.ReplaceAllString(out, ".<token>.vpc-lattice-svcs")
	out = zoneRE.ReplaceAllString(out, `"<zone>"`)
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return []byte(out)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return buf.Bytes()
}

// golden compares a normalized response with testdata/golden/NAME.json.
func golden(t *testing.T, name string, status int, body []byte) {
	t.Helper()
	got := append([]byte(http.StatusText(status)+"\n"), normalize(body)...)
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/api -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
