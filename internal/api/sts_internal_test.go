package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/sigv4"
	"github.com/trellis-net/trellis/internal/store"
)

func TestScopeService(t *testing.T) {
	for _, tc := range []struct {
		auth, query string
		want        string
		ok          bool
	}{
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00", "", "sts", true},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/vpc-lattice/aws4_request, SignedHeaders=host, Signature=00", "", "vpc-lattice", true},
		{"AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20260101/sts/aws4_request, SignedHeaders=host, Signature=00", "", "sts", true},
		{"", "X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&Action=GetCallerIdentity", "sts", true},
		// The header wins over the query string, as the verifier reads it.
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/acm/aws4_request", "X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fsts%2Faws4_request", "acm", true},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/sts", "", "", false},
		{"Bearer x", "", "", false},
		{"", "", "", false},
	} {
		r := httptest.NewRequest("GET", "/?"+tc.query, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got, ok := scopeService(r); got != tc.want || ok != tc.ok {
			t.Errorf("%q %q: got %q %v, want %q %v", tc.auth, tc.query, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzScopeService(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
	f.Add("Credential=/aws4_request")
	f.Fuzz(func(t *testing.T, auth string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header["Authorization"] = []string{auth}
		svc, ok := scopeService(r)
		if ok && (strings.Contains(svc, "/") || !strings.Contains(auth, svc+"/aws4_request")) {
			t.Fatalf("%q: service %q", auth, svc)
		}
		_ = isSTS(r)
	})
}

// TestSTSGateAnswersSTSErrors: a node whose store is away answers an STS
// client in STS's XML (503 ServiceUnavailable, which the SDKs retry), and
// a Lattice client as before.
func TestSTSGateAnswersSTSErrors(t *testing.T) {
	s := New(nil, &sigv4.Verifier{Service: "vpc-lattice"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetGate(func(context.Context) error { return fmt.Errorf("etcd away: %w", store.ErrUnavailable) })
	r := httptest.NewRequest("POST", "/", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "<Code>ServiceUnavailable</Code>") ||
		strings.Contains(rec.Body.String(), "etcd") {
		t.Fatalf("sts: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/services", nil))
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("X-Amzn-ErrorType") != "InternalServerException" {
		t.Fatalf("lattice: %d %s", rec.Code, rec.Body)
	}
}
