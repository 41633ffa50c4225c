package netns

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "vpc-0123456789abcdef0", "trellis_vpc.1", strings.Repeat("x", 64)} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "-x", ".hidden", "a/b", "../etc", "a b", "a\nb", "a;b", strings.Repeat("x", 65), "é"} {
		if err := ValidName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	good := Config{
		CIDRBlocks:  []netip.Prefix{p("10.0.0.0/16"), p("fd00::/64")},
		Addresses:   []netip.Prefix{p("169.254.171.1/32"), p("10.0.0.2/32")},
		Nameservers: []netip.Addr{a("169.254.171.2"), a("fe80::1%lo")},
	}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"CIDRBlocks":   {CIDRBlocks: []netip.Prefix{p("10.0.1.0/16")}},
		"CIDRBlocks ":  {CIDRBlocks: []netip.Prefix{{}}},
		"CIDRBlocks  ": {CIDRBlocks: []netip.Prefix{p("::ffff:10.0.0.0/112")}},
		"Addresses":    {Addresses: []netip.Prefix{{}}},
		"Nameservers":  {Nameservers: []netip.Addr{a("1.1.1.1"), a("1.1.1.2"), a("1.1.1.3"), a("1.1.1.4")}},
		"Nameservers ": {Nameservers: []netip.Addr{{}}},
	} {
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLiteralHost(t *testing.T) {
	for _, ok := range []string{":80", "10.0.1.7:8080", "[fd00::1]:53", "[fe80::1%lo]:53", "0.0.0.0:0"} {
		if err := literalHost(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"localhost:80", "example.com:443", "[example.com]:1"} {
		if err := literalHost(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolvConfRender(t *testing.T) {
	got := string(resolvConf([]netip.Addr{netip.MustParseAddr("169.254.171.2")}))
	if !strings.HasSuffix(got, "\nnameserver 169.254.171.2\n") || strings.Count(got, "nameserver") != 1 {
		t.Errorf("%q", got)
	}
}
