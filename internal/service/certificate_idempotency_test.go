package service

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

// RequestCertificate with an IdempotencyToken: the same token within an
// hour gets the first certificate; another token, another account, or the
// same token an hour later get a new one; a malformed token is refused
// naming the field, and issues nothing.
func TestRequestCertificateIdempotencyToken(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	authority, _, _, err := ca.Load(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	clk := &tgClock{t: time.Now()}
	s := New(st, Config{DNSToken: "abc1234", Now: clk.Now, CA: authority})
	as := func(account string) context.Context {
		return WithCaller(context.Background(), model.Caller{Account: account, PrincipalARN: "arn:aws:iam::" + account + ":root"})
	}
	ctx := as("111122223333")
	tok := func(s string) *string { return &s }
	req := func(ctx context.Context, token *string) string {
		t.Helper()
		a, err := s.RequestCertificate(ctx, RequestCertificateInput{DomainName: "api.example.com", IdempotencyToken: token})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := req(ctx, tok("deploy_42"))
	if again := req(ctx, tok("deploy_42")); again != first {
		t.Errorf("same token: %s, want the first certificate %s", again, first)
	}
	if other := req(ctx, tok("deploy_43")); other == first {
		t.Error("another token got the first certificate")
	}
	if none := req(ctx, nil); none == first {
		t.Error("no token got the first certificate")
	}
	if acct := req(as("444455556666"), tok("deploy_42")); acct == first {
		t.Error("another account's request with the same token got the first account's certificate")
	}
	clk.Advance(59 * time.Minute)
	if again := req(ctx, tok("deploy_42")); again != first {
		t.Errorf("same token after 59 minutes: %s, want %s", again, first)
	}
	clk.Advance(2 * time.Minute)
	if later := req(ctx, tok("deploy_42")); later == first {
		t.Error("same token after more than an hour still got the first certificate")
	}

	certs, _, err := s.ListCertificates(ctx, nil, Page{MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := len(certs)
	for _, bad := range []string{"", "has-dash", "toolong_toolong_toolong_toolong_x", "sp ace"} {
		_, err := s.RequestCertificate(ctx, RequestCertificateInput{DomainName: "api.example.com", IdempotencyToken: tok(bad)})
		if e := tgKind(t, err, model.KindValidation); len(e.Fields) == 0 || e.Fields[0].Name != "IdempotencyToken" {
			t.Errorf("token %q: fields %+v, want IdempotencyToken", bad, e.Fields)
		}
	}
	if certs, _, _ := s.ListCertificates(ctx, nil, Page{MaxResults: 1000}); len(certs) != n {
		t.Errorf("refused requests issued certificates: %d, want %d", len(certs), n)
	}
}
