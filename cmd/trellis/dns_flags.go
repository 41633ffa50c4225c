package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/dataplane/dns"
)

// dnsFlags are serve's --dns-* flags (docs/dns.md).
type dnsFlags struct {
	port     int
	upstream string
	ttl      time.Duration
}

func (d *dnsFlags) add(f *pflag.FlagSet) {
	f.IntVar(&d.port, "dns-port", dns.DefaultPort, "port of each host-mode VPC's DNS on its ingress address (binding 53 needs root or CAP_NET_BIND_SERVICE; if it cannot be bound Trellis warns, serves on and retries); 0 turns DNS off")
	f.StringVar(&d.upstream, "dns-upstream", "", "resolvers that names other than services' are forwarded to: IP[:PORT][,...], or none to refuse them (default: the nameservers of /etc/resolv.conf)")
	f.DurationVar(&d.ttl, "dns-ttl", dns.DefaultTTL, "TTL of the DNS answers for service names and of negative answers (whole seconds, 1s to 24h)")
}

// config checks the flags and fills cfg.DNS, naming the flag at fault.
func (d *dnsFlags) config(cfg *app.Config, resolvConf string, log *slog.Logger) error {
	if d.port < 0 || d.port > 65535 {
		return fmt.Errorf("--dns-port %d: want 0 (off) to 65535", d.port)
	}
	if d.ttl < time.Second || d.ttl > 24*time.Hour || d.ttl%time.Second != 0 {
		return fmt.Errorf("--dns-ttl %v: want whole seconds from 1s to 24h", d.ttl)
	}
	cfg.DNS = app.DNSConfig{Port: d.port, TTL: d.ttl}
	if d.port == 0 {
		return nil
	}
	switch d.upstream {
	case "none":
	case "":
		ups, err := dns.ResolvConfUpstreams(resolvConf)
		if err != nil || len(ups) == 0 {
			log.Warn("dns: no upstream resolvers in "+resolvConf+"; names other than services' are refused (see --dns-upstream)", "err", err)
		}
		cfg.DNS.Upstreams = ups
	default:
		ups, err := dns.ParseUpstreams(d.upstream)
		if err != nil {
			return fmt.Errorf("--dns-upstream: %w", err)
		}
		cfg.DNS.Upstreams = ups
	}
	return nil
}
