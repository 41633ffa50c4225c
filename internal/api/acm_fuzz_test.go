package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

// FuzzACMOperations feeds arbitrary JSON 1.1 bodies to every ACM operation
// on a real service and store: an operation never panics, a refusal is one
// of ACM's client error types (never an internal failure), and no answer
// carries a private key.
func FuzzACMOperations(f *testing.F) {
	st, err := embedded.Open(filepath.Join(f.TempDir(), "t.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	authority, _, _, err := ca.Load(f.TempDir(), "", "")
	if err != nil {
		f.Fatal(err)
	}
	s := New(service.New(st, service.Config{CA: authority}), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := service.WithCaller(context.Background(), model.Caller{Account: "000000000000", PrincipalARN: "arn:aws:iam::000000000000:root"})
	names := make([]string, 0, len(s.acm))
	for n := range s.acm {
		names = append(names, n)
	}
	sort.Strings(names)
	leaf, err := authority.Issue("seed.example.com", nil, authority.Cert.NotBefore.AddDate(0, 0, 1))
	if err != nil {
		f.Fatal(err)
	}
	imp, _ := json.Marshal(map[string]any{"Certificate": leaf.CertPEM, "PrivateKey": leaf.KeyPEM, "CertificateChain": authority.CertPEM})
	for i := range names {
		f.Add(uint8(i), []byte(`{}`))
		f.Add(uint8(i), []byte(`{"CertificateArn":"arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-4000-8000-000000000000"}`))
	}
	f.Add(uint8(slices.Index(names, "ImportCertificate")), imp)
	f.Add(uint8(slices.Index(names, "RequestCertificate")), []byte(`{"DomainName":"*.a.example.com","SubjectAlternativeNames":["b.example.com"],"Tags":[{"Key":"k","Value":"v"}]}`))
	f.Add(uint8(slices.Index(names, "ListCertificates")), []byte(`{"MaxItems":1,"NextToken":"YWNtLw","CertificateStatuses":["ISSUED"]}`))
	f.Add(uint8(0), []byte(`[1,2`))
	allowed := []string{"ValidationException", "InvalidArnException", "InvalidTagException", "TooManyTagsException",
		"InvalidParameterException", "ResourceNotFoundException", "ResourceInUseException", "LimitExceededException", "SerializationException"}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := names[int(op)%len(names)]
		out, err := s.acm[name](ctx, body)
		if err != nil {
			e := s.toACMError(ctx, err)
			if !slices.Contains(allowed, e.Type) || e.Status != 400 {
				t.Fatalf("%s(%q): %d %s %s", name, body, e.Status, e.Type, e.Message)
			}
			if strings.Contains(e.Message, "PRIVATE KEY") {
				t.Fatalf("%s: the error quotes a key", name)
			}
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("%s: the answer does not encode: %v", name, err)
		}
		if strings.Contains(string(b), "PRIVATE KEY") {
			t.Fatalf("%s answers a private key: %s", name, b)
		}
	})
}
