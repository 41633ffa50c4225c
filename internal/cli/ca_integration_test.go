package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trellis-net/trellis/internal/ca"
)

func TestCLICAGet(t *testing.T) {
	c := startCLI(t)
	want, err := os.ReadFile(filepath.Join(c.srv.DataDir, ca.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.text("ca", "get"); got != string(want) {
		t.Fatalf("trellis ca get printed %q, want the CA certificate %q", got, want)
	}
	if got := str(t, c.ok("ca", "get", "--output", "json"), "certificatePem"); got != string(want) {
		t.Fatalf("--output json certificatePem %q", got)
	}
}
