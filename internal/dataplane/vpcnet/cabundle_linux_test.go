//go:build linux

package vpcnet

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/netns"
	"github.com/trellis-net/trellis/internal/snapshot"
)

const (
	hostBundle = "-----BEGIN CERTIFICATE-----\nHOST ROOTS\n-----END CERTIFICATE-----\n"
	caPEM      = "-----BEGIN CERTIFICATE-----\nTRELLIS CA\n-----END CERTIFICATE-----\n"
)

// tree writes files under root: path → content; content "->TARGET" makes a
// symbolic link, a path ending in "/" a directory.
func tree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o710); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(c, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWriteCABundle: the replica of each host trust tree, for the layouts
// of the distributions Go knows.
func TestWriteCABundle(t *testing.T) {
	t.Parallel()
	amended := hostBundle + "# Trellis installation CA (added by trellis serve for this VPC's namespace)\n" + caPEM
	caOnly := "# Trellis installation CA (added by trellis serve for this VPC's namespace)\n" + caPEM
	cases := []struct {
		name    string
		host    map[string]string
		bundles map[string]string // replica path (under /etc/netns/NAME) → content
		links   map[string]string // replica path → link target kept
		absent  []string
	}{
		{"debian",
			map[string]string{
				"ssl/certs/ca-certificates.crt": hostBundle, "ssl/certs/Root_R1.pem": "->/usr/share/ca-certificates/mozilla/Root_R1.crt",
				"ssl/certs/0a775a30.0": "->Root_R1.pem", "ssl/openssl.cnf": "[openssl]\n",
				"ssl/private/ssl-cert-snakeoil.key": "SECRET", "hosts": "127.0.0.1 localhost\n"},
			map[string]string{"ssl/certs/ca-certificates.crt": amended, "ssl/openssl.cnf": "[openssl]\n"},
			map[string]string{"ssl/certs/Root_R1.pem": "/usr/share/ca-certificates/mozilla/Root_R1.crt", "ssl/certs/0a775a30.0": "Root_R1.pem"},
			[]string{"ssl/private/ssl-cert-snakeoil.key", "hosts", "pki"}},
		{"alpine: cert.pem links to the bundle",
			map[string]string{"ssl/certs/ca-certificates.crt": hostBundle, "ssl/cert.pem": "->certs/ca-certificates.crt"},
			map[string]string{"ssl/certs/ca-certificates.crt": amended, "ssl/cert.pem": amended}, nil, nil},
		{"fedora",
			map[string]string{"pki/ca-trust/extracted/pem/tls-ca-bundle.pem": hostBundle,
				"pki/tls/certs/ca-bundle.crt": "->../../ca-trust/extracted/pem/tls-ca-bundle.pem",
				"ssl/certs":                   "->../pki/tls/certs", "pki/tls/private/": ""},
			map[string]string{"pki/ca-trust/extracted/pem/tls-ca-bundle.pem": amended, "pki/tls/certs/ca-bundle.crt": amended},
			map[string]string{"ssl/certs": "../pki/tls/certs"},
			// No bundle of its own in front of the host's (Go takes the
			// first that exists).
			[]string{"pki/tls/certs/ca-certificates.crt"}},
		{"no ca-certificates package",
			map[string]string{"ssl/openssl.cnf": "x"},
			map[string]string{"ssl/certs/ca-certificates.crt": caOnly, "ssl/openssl.cnf": "x"}, nil, nil},
		{"no /etc/ssl at all", map[string]string{"hosts": "x"}, nil, nil, []string{"ssl", "pki"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			etc, netnsEtc := t.TempDir(), t.TempDir()
			tree(t, etc, tc.host)
			if _, ok := tc.host["ssl/private/ssl-cert-snakeoil.key"]; ok {
				if err := os.Chmod(filepath.Join(etc, "ssl/private"), 0o710); err != nil {
					t.Fatal(err)
				}
			}
			if err := writeCABundle(etc, netnsEtc, "ns1", []byte(caPEM)); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(netnsEtc, "ns1")
			for p, want := range tc.bundles {
				if got := read(t, filepath.Join(dir, p)); got != want {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
			for p, want := range tc.links {
				if got, err := os.Readlink(filepath.Join(dir, p)); err != nil || got != want {
					t.Errorf("%s links to %q (%v), want %q", p, got, err, want)
				}
			}
			for _, p := range tc.absent {
				if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
					t.Errorf("%s is in the replica (%v)", p, err)
				}
			}
			if tc.host["ssl/private/ssl-cert-snakeoil.key"] != "" {
				st, err := os.Stat(filepath.Join(dir, "ssl/private"))
				ents, _ := os.ReadDir(filepath.Join(dir, "ssl/private"))
				if err != nil || st.Mode().Perm() != 0o710 || len(ents) != 0 {
					t.Errorf("ssl/private: %v, %d entries, %v; want an empty directory with the host's mode 0710", st.Mode(), len(ents), err)
				}
			}
			// Nothing but the trees lands in /etc/netns/NAME (each entry is
			// bind-mounted), and nothing is left beside it.
			if ents, _ := os.ReadDir(netnsEtc); len(ents) != 1 {
				t.Errorf("/etc/netns holds %v, want only ns1", ents)
			}

			// A new CA: the bundles are rewritten in place (same inode, so a
			// program already inside sees the new content).
			for p := range tc.bundles {
				if !strings.HasSuffix(p, ".crt") && !strings.HasSuffix(p, ".pem") {
					continue
				}
				before := inode(t, filepath.Join(dir, p))
				if err := writeCABundle(etc, netnsEtc, "ns1", []byte(strings.Replace(caPEM, "TRELLIS", "NEW", 1))); err != nil {
					t.Fatal(err)
				}
				if got := read(t, filepath.Join(dir, p)); !strings.Contains(got, "NEW CA") || strings.Contains(got, "TRELLIS CA") {
					t.Errorf("%s after a CA change: %q", p, got)
				}
				if inode(t, filepath.Join(dir, p)) != before {
					t.Errorf("%s was replaced, not rewritten in place", p)
				}
				if err := writeCABundle(etc, netnsEtc, "ns1", []byte(caPEM)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// TestRunnerCABundle: in a real namespace, what `ip netns exec` shows as
// /etc/ssl trusts the installation CA — curl inside verifies an HTTPS
// server inside with no --cacert, openssl verifies the CA's leaf — while
// the rest of /etc/ssl is the host's; the namespace's removal removes
// /etc/netns/NAME.
func TestRunnerCABundle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	for _, tool := range []string{"ip", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err != nil {
		t.Skip("the host has no Debian-style bundle")
	}
	authority, _, _, err := ca.Load(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	prefix := "trellis-" + token(t) + "-"
	const vpc = "vpc-00000000000000c01"
	name := prefix + vpc
	t.Cleanup(func() { _ = netns.Remove(name) })
	ingress := netip.MustParseAddr("169.254.171.10")
	holder := new(snapshot.Holder)
	holder.Store(&snapshot.Snapshot{VPCs: map[string]*snapshot.VPC{
		vpc: {ID: vpc, Mode: model.VPCModeNetns, Ingress: ingress, NetnsName: name, CIDRBlocks: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}},
	}})
	r := &Runner{Holder: holder, Prefix: prefix, CAPEM: authority.CertPEM}
	defer r.Close()
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	inside := func(args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", name}, args...)...).CombinedOutput()
		return string(out), err
	}

	bundle, err := inside("cat", "/etc/ssl/certs/ca-certificates.crt")
	if err != nil || !strings.Contains(bundle, string(authority.CertPEM)) {
		t.Fatalf("the bundle inside lacks the CA (%v):\n%.300s", err, bundle)
	}
	host, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil || !strings.HasPrefix(bundle, string(host)) || bytes.Contains(host, authority.CertPEM) {
		t.Fatalf("the bundle inside is not the host's followed by the CA (host bundle error %v)", err)
	}
	if out, err := inside("sh", "-c", "test -f /etc/ssl/openssl.cnf && ls /etc/ssl/certs | wc -l"); err != nil || strings.TrimSpace(out) == "0" {
		t.Errorf("the rest of /etc/ssl is missing inside: %q %v", out, err)
	}

	// openssl's default store inside trusts a leaf of the CA; the host's
	// does not.
	leaf, err := authority.Issue("svc.example.internal", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leafFile := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(leafFile, leaf.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := inside("openssl", "verify", leafFile); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("openssl verify inside: %v\n%s", err, out)
	}
	if out, err := exec.Command("openssl", "verify", leafFile).CombinedOutput(); err == nil {
		t.Errorf("openssl verify on the host trusted the CA (the test proves nothing):\n%s", out)
	}

	// curl inside, with the system store only, to an HTTPS server inside.
	pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := r.Lookup(vpc).Listen(context.Background(), "tcp", ingress.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "trusted") }),
		ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}}))
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("https://svc.example.internal:%d/", port)
	resolve := fmt.Sprintf("svc.example.internal:%d:%s", port, ingress)
	if out, err := inside("curl", "-sS", "--max-time", "10", "--resolve", resolve, url); err != nil || out != "trusted" {
		t.Errorf("curl inside: %v\n%s", err, out)
	}

	// The VPC leaves: /etc/netns/NAME goes with its namespace.
	holder.Store(&snapshot.Snapshot{VPCs: map[string]*snapshot.VPC{}})
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/netns/" + name); !os.IsNotExist(err) {
		t.Fatalf("/etc/netns/%s stays: %v", name, err)
	}
	if ents, _ := filepath.Glob("/etc/netns/." + name + "*"); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
