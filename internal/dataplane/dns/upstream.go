package dns

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// ParseUpstreams parses --dns-upstream: comma-separated IP or IP:PORT
// (IPv6 as [IP]:PORT), port 53 when omitted. Names are refused: resolving
// a resolver's name would need a resolver.
func ParseUpstreams(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.AddrPortFrom(a, 53).String())
			continue
		}
		ap, err := netip.ParseAddrPort(f)
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("upstream %q: want IP or IP:PORT ([IPv6]:PORT)", f)
		}
		out = append(out, ap.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no upstream in %q", s)
	}
	return out, nil
}

// ResolvConfUpstreams returns the nameservers of a resolv.conf (the
// default upstreams: /etc/resolv.conf) as IP:PORT.
func ResolvConfUpstreams(path string) ([]string, error) {
	c, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range c.Servers {
		// A zone ("fe80::1%eth0") is not for netip.ParseAddr; skip what it cannot take.
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, net.JoinHostPort(a.String(), c.Port))
		}
	}
	return out, nil
}
