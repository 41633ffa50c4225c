package ca

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseLeaf: any bytes given as ImportCertificate's members either
// parse into a leaf whose key matches it, or are refused; never a panic,
// and a refusal never quotes the key.
func FuzzParseLeaf(f *testing.F) {
	c, _, _, err := Load(f.TempDir(), "", "")
	if err != nil {
		f.Fatal(err)
	}
	l, err := c.Issue("fuzz.example.com", []string{"*.fuzz.example.com"}, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(l.CertPEM, l.KeyPEM, c.CertPEM)
	f.Add(l.CertPEM, l.KeyPEM, []byte(nil))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), l.KeyPEM, []byte("junk"))
	f.Add(c.CertPEM, l.KeyPEM, l.CertPEM)
	f.Fuzz(func(t *testing.T, cert, key, chain []byte) {
		got, err := ParseLeaf(cert, key, chain)
		if err != nil {
			if len(key) > 40 && strings.Contains(err.Error(), string(key)) {
				t.Fatalf("the error quotes the key: %v", err)
			}
			return
		}
		if len(got.CertPEM) == 0 || len(got.KeyPEM) == 0 || got.KeyAlgorithm == "" {
			t.Fatalf("accepted without the parsed facts: %+v", got)
		}
		if _, err := ParseLeaf(got.CertPEM, got.KeyPEM, got.ChainPEM); err != nil {
			t.Fatalf("the stored form does not parse again: %v", err)
		}
	})
}
