package app_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/ca"
)

// getCA asks GET /trellis/v1/certificate-authority and returns its PEM.
func getCA(t *testing.T, s *apptest.Server) string {
	t.Helper()
	st, typ, body := nativeCall(t, s, http.MethodGet, "/trellis/v1/certificate-authority", nil)
	if st != http.StatusOK {
		t.Fatalf("GET certificate-authority: %d %s %s", st, typ, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Errorf("answer has members %v, want certificatePem alone", out)
	}
	p, _ := out["certificatePem"].(string)
	if b, _ := pem.Decode([]byte(p)); b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("certificatePem is not a PEM certificate: %q", p)
	}
	if strings.Contains(string(body), "PRIVATE KEY") {
		t.Fatal("the answer holds a private key")
	}
	return p
}

// A restart with the same data directory keeps the same CA, and the
// endpoint answers the certificate on disk.
func TestCAGeneratedAndDurable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := app.Start(context.Background(), app.Config{DataDir: dir, APIAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	r := a.Root()
	first := getCA(t, &apptest.Server{App: a, Endpoint: "http://" + a.APIAddr(), AccessKeyID: r.AccessKeyID,
		SecretAccessKey: r.SecretAccessKey, Region: a.Region(), Account: r.Account, DataDir: dir})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, ca.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if first != string(onDisk) {
		t.Error("the endpoint's certificate is not the one in the data directory")
	}
	fi, err := os.Stat(filepath.Join(dir, ca.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode().Perm())
	}

	s := apptest.StartWith(t, apptest.Options{DataDir: dir})
	if second := getCA(t, s); second != first {
		t.Error("a restart changed the installation CA")
	}
}

// Unsigned, the endpoint answers nothing but the authentication error.
func TestCAEndpointIsSigned(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	resp, err := http.Get(s.Endpoint + "/trellis/v1/certificate-authority")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "CERTIFICATE") {
		t.Fatalf("unsigned GET: %d %s", resp.StatusCode, body)
	}
	if st, typ, b := nativeCall(t, s, http.MethodPost, "/trellis/v1/certificate-authority", nil); st < 400 {
		t.Errorf("POST certificate-authority: %d %s %s", st, typ, b)
	}
}

// A CA given with --ca-cert/--ca-key is the one served; nothing is
// generated into the data directory; a key of another certificate stops
// the start.
func TestCAFromFlags(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	given, _, _, err := ca.Load(src, "", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := apptest.StartWith(t, apptest.Options{DataDir: dir,
		CACertFile: filepath.Join(src, ca.CertFile), CAKeyFile: filepath.Join(src, ca.KeyFile)})
	if got := getCA(t, s); got != string(given.CertPEM) {
		t.Error("the served CA is not the one given with flags")
	}
	if _, err := os.Stat(filepath.Join(dir, ca.KeyFile)); err == nil {
		t.Error("a CA was generated although one was given")
	}

	other := t.TempDir()
	if _, _, _, err := ca.Load(other, "", ""); err != nil {
		t.Fatal(err)
	}
	_, err = app.Start(context.Background(), app.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0",
		CACertFile: filepath.Join(src, ca.CertFile), CAKeyFile: filepath.Join(other, ca.KeyFile),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "ca") {
		t.Fatalf("start with a mismatched CA key = %v, want an error", err)
	}
}
