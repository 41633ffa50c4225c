package netns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrNotSupported is returned on systems without Linux network namespaces.
var ErrNotSupported = errors.New("netns: network namespaces are supported on Linux only")

// maxNameLen bounds a name; it becomes a file name under /run/netns and
// /etc/netns and an argument of `ip netns exec`.
const maxNameLen = 64

// maxNameservers is glibc's MAXNS: resolv.conf lines past the third are
// ignored by the stub resolver, so accepting more would only mislead.
const maxNameservers = 3

// Config is what a namespace holds besides its loopback interface.
type Config struct {
	// CIDRBlocks are made local in full: a `local` route for each block on
	// lo in the local table, so a workload binds any address of a block
	// without configuring it. Each must be a network address (10.0.0.0/16,
	// not 10.0.1.0/16). IPv4 and IPv6.
	CIDRBlocks []netip.Prefix
	// Addresses are put on lo as they are (169.254.171.1/32, a DNS
	// address). Host bits are allowed, as for `ip addr add`.
	Addresses []netip.Prefix
	// Nameservers become /etc/netns/NAME/resolv.conf, which `ip netns exec`
	// (and Command) shows as /etc/resolv.conf. At most 3. An empty list
	// still writes the file, so the namespace never inherits the host's
	// resolvers (unreachable from inside anyway).
	Nameservers []netip.Addr
}

// ValidName reports whether name can name a namespace: 1 to 64 of
// [A-Za-z0-9_.-], starting with a letter or digit. It is stricter than
// iproute2 (which refuses only "/" and the names "." and "..") because a
// name becomes a path under /run/netns and /etc/netns and a command-line
// argument: no separator, no leading dot or dash.
func ValidName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("netns: name %q must be 1 to %d characters", name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("netns: name %q must start with a letter or digit", name)
		}
		if !alnum && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("netns: name %q may contain only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// validate checks cfg; it returns the first problem, naming the field.
func (cfg *Config) validate() error {
	for _, p := range cfg.CIDRBlocks {
		if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return fmt.Errorf("netns: CIDRBlocks: %v is not an IPv4 or IPv6 prefix", p)
		}
		if p != p.Masked() {
			return fmt.Errorf("netns: CIDRBlocks: %v has host bits set (the block is %v)", p, p.Masked())
		}
	}
	for _, p := range cfg.Addresses {
		if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return fmt.Errorf("netns: Addresses: %v is not an IPv4 or IPv6 address with a prefix length", p)
		}
	}
	if len(cfg.Nameservers) > maxNameservers {
		return fmt.Errorf("netns: Nameservers: %d given, resolv.conf honours at most %d", len(cfg.Nameservers), maxNameservers)
	}
	for _, a := range cfg.Nameservers {
		if !a.IsValid() || a.Is4In6() {
			return fmt.Errorf("netns: Nameservers: %v is not an IPv4 or IPv6 address", a)
		}
		if a.Zone() != "" && !a.Is6() {
			return fmt.Errorf("netns: Nameservers: %v has a zone", a)
		}
	}
	return nil
}

// resolvConf renders resolv.conf(5) for the nameservers. The addresses are
// parsed values, so nothing but an address reaches the file.
func resolvConf(servers []netip.Addr) []byte {
	var b strings.Builder
	b.WriteString("# Written for this network namespace by its owner; changes are overwritten.\n")
	for _, a := range servers {
		b.WriteString("nameserver ")
		b.WriteString(a.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// literalHost checks that address's host is empty or an IP literal. A name
// would be resolved by Go's resolver on other goroutines, hence other
// threads, outside the namespace (and with the host's resolv.conf), so the
// namespaced Dial and Listen refuse names rather than half-honour them.
func literalHost(address string) error {
	host := address
	if i := strings.LastIndexByte(address, ':'); i >= 0 {
		host = address[:i]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return nil
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i]
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("netns: address %q: host must be an IP literal (names would be resolved outside the namespace)", address)
	}
	return nil
}
