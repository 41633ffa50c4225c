package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/app"
)

// Bad --dns-* values are refused before anything starts, the flag named.
func TestDNSFlagsRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dns-port", "70000"}, "--dns-port 70000: want 0 (off) to 65535"},
		{[]string{"--dns-ttl", "1500ms"}, "--dns-ttl 1.5s: want whole seconds"},
		{[]string{"--dns-ttl", "0s"}, "--dns-ttl 0s: want whole seconds"},
		{[]string{"--dns-upstream", "resolver.example:53"}, `--dns-upstream: upstream "resolver.example:53": want IP or IP:PORT`},
	} {
		serveRejects(t, tc.args, tc.want)
	}
}

func TestDNSFlagsConfig(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.53\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		f    dnsFlags
		want string
	}{
		{dnsFlags{port: 53, ttl: 10 * time.Second}, "{53 [127.0.0.53:53] 10s}"},
		{dnsFlags{port: 5353, upstream: "none", ttl: 10 * time.Second}, "{5353 [] 10s}"},
		{dnsFlags{port: 5353, upstream: "127.0.0.1:5300", ttl: 3 * time.Second}, "{5353 [127.0.0.1:5300] 3s}"},
		{dnsFlags{port: 0, ttl: 10 * time.Second}, "{0 [] 10s}"},
	} {
		var cfg app.Config
		if err := tc.f.config(&cfg, conf, log); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(cfg.DNS); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.f, got, tc.want)
		}
	}
}
