//go:build linux

package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/netns"
)

// TestCLINetnsVPC: `vpc create --mode netns --cidr` declares a namespace
// VPC, and `vpc exec` runs a command inside it (its resolv.conf names the
// VPC's DNS) with the command's exit status. Root only.
func TestCLINetnsVPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network-namespace VPCs need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	// Registered before the server starts, so that it runs after the
	// server's Close, when nothing can make the namespace again (a stopped
	// server leaves its namespaces: docs/netns.md).
	var name string
	t.Cleanup(func() {
		if strings.HasPrefix(name, "trellis-") && !strings.ContainsAny(name, "/.") {
			_ = netns.Remove(name)
			_ = os.RemoveAll(filepath.Join("/etc/netns", name))
		}
	})
	c := startCLI(t)
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	id := "vpc-" + hex.EncodeToString(b)[:17]
	v := c.ok("vpc", "create", id, "--mode", "netns", "--cidr", "10.0.0.0/16", "--cidr", "10.1.0.0/16")
	name = str(t, v, "netnsName")
	if str(t, v, "mode") != "netns" || sub(t, v, "cidrBlocks") != `["10.0.0.0/16","10.1.0.0/16"]` {
		t.Fatalf("vpc create: %v", v)
	}
	ingress := str(t, v, "ingressAddress")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat("/run/netns/" + name); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s not made", name)
		}
		time.Sleep(20 * time.Millisecond)
	}

	res := c.exec("vpc", "exec", id, "--", "sh", "-c", "cat /etc/resolv.conf; exit 3")
	var exit *ExitError
	if !errors.As(res.err, &exit) || exit.Code != 3 {
		t.Fatalf("vpc exec exit status: %v (stderr %s)", res.err, res.stderr)
	}
	if !strings.Contains(res.stdout, "nameserver "+ingress) {
		t.Fatalf("resolv.conf inside the VPC:\n%s", res.stdout)
	}
	if out := c.text("vpc", "exec", id, "--", "ip", "-o", "route", "show", "table", "local"); !strings.Contains(out, "local 10.1.0.0/16") {
		t.Fatalf("routes inside the VPC:\n%s", out)
	}

	c.ok("vpc", "put", "vpc-0000000000000000a")
	if msg := c.fails("vpc", "exec", "vpc-0000000000000000a", "--", "true"); !strings.Contains(msg, "only netns VPCs") {
		t.Fatalf("exec in a host VPC: %s", msg)
	}
	if msg := c.fails("vpc", "exec", id, "true"); !strings.Contains(msg, "--") {
		t.Fatalf("exec without --: %s", msg)
	}
	if msg := c.fails("vpc", "create", "vpc-0000000000000000b", "--mode", "netns", "--cidr", "10.0.1.0/16"); !strings.Contains(msg, "did you mean 10.0.0.0/16") {
		t.Fatalf("non-canonical block: %s", msg)
	}
}
