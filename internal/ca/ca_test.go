package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerateThenReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c1, src, path, err := Load(dir, "", "")
	if err != nil || src != Generated || path != filepath.Join(dir, CertFile) {
		t.Fatalf("Load = %v, %v, %q", src, err, path)
	}
	if !c1.Cert.IsCA || c1.Cert.MaxPathLen != 0 || !c1.Cert.MaxPathLenZero {
		t.Errorf("generated certificate: IsCA %v MaxPathLen %d", c1.Cert.IsCA, c1.Cert.MaxPathLen)
	}
	if _, ok := c1.Key.(*ecdsa.PrivateKey); !ok || c1.Cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key %T, want ECDSA P-256", c1.Key)
	}
	if d := c1.Cert.NotAfter.Sub(c1.Cert.NotBefore); d < Validity || d > Validity+time.Hour {
		t.Errorf("validity %v, want 10 years", d)
	}
	for name, want := range map[string]os.FileMode{KeyFile: 0o600, CertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	c2, src, _, err := Load(dir, "", "")
	if err != nil || src != FromData {
		t.Fatalf("reload = %v, %v", src, err)
	}
	if !c1.Equal(c2) {
		t.Error("a reload produced another CA")
	}
	if string(c2.CertPEM) != string(c1.CertPEM) {
		t.Error("CertPEM differs after reload")
	}
}

func TestHalfACAIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, _, _, err := Load(dir, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if _, _, _, err := Load(dir, "", ""); err == nil || !strings.Contains(err.Error(), "both") {
		t.Fatalf("Load with the key alone = %v, want a refusal", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if string(before) != string(after) {
		t.Error("the refused load replaced the key")
	}
}

func TestFromFlags(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	gen, _, _, err := Load(src, "", "")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	c, s, _, err := Load(data, filepath.Join(src, CertFile), filepath.Join(src, KeyFile))
	if err != nil || s != FromFlags || !c.Equal(gen) {
		t.Fatalf("Load from flags = %v, %v", s, err)
	}
	if _, err := os.Stat(filepath.Join(data, KeyFile)); err == nil {
		t.Error("a CA given with flags was written into the data directory")
	}
	if _, _, _, err := Load(data, filepath.Join(src, CertFile), ""); err == nil {
		t.Error("--ca-cert without --ca-key accepted")
	}
	// A key that is not the certificate's.
	other, _, _, err := Load(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := os.ReadFile(filepath.Join(src, KeyFile))
	if _, err := Parse(other.CertPEM, kb); err == nil {
		t.Error("a key that does not match the certificate accepted")
	} else if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(kb[30:60])) {
		t.Errorf("the error quotes the key: %v", err)
	}
}

func TestLeafIsNotACA(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	_, err = Parse(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Fatalf("Parse(leaf) = %v, want not a CA", err)
	}
}
