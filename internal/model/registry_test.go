package model

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidInstanceID(t *testing.T) {
	for id, want := range map[string]bool{
		"i-0123abcd": true, "i-0123456789abcdef0": true,
		"i-0123abc": false, "i-0123456789abcdef": false, "i-0123456789abcdef01": false,
		"i-0123ABCD": false, "i-0123abcg": false, "x-0123abcd": false, "i_0123abcd": false, "": false,
		"i-0123abc\n": false, "i-0123/bcd": false,
	} {
		if got := ValidInstanceID(id); got != want {
			t.Errorf("ValidInstanceID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestValidLoadBalancerName(t *testing.T) {
	for name, want := range map[string]bool{
		"web": true, "Web-1": true, "a": true, strings.Repeat("a", 32): true,
		"": false, "-web": false, "web-": false, "web_1": false, "web/1": false, "web.1": false,
		strings.Repeat("a", 33): false, "wéb": false,
	} {
		if got := ValidLoadBalancerName(name); got != want {
			t.Errorf("ValidLoadBalancerName(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzCheckLoadBalancerListeners: whatever a request carries, a listener
// list that passes holds only canonical ip:port addresses with a port, and
// valid ports and protocols: what the snapshot compiler and the ARN trust.
func FuzzCheckLoadBalancerListeners(f *testing.F) {
	f.Add(80, "HTTP", "10.0.1.9:8080", "[2001:db8::9]:8443")
	f.Add(0, "http", "10.0.1.9", "")
	f.Add(443, "HTTPS", "[::ffff:10.0.0.1]:80", "[fe80::1%eth0]:80")
	f.Fuzz(func(t *testing.T, port int, proto, a1, a2 string) {
		var v Validator
		out := CheckLoadBalancerListeners(&v, "listeners", []LoadBalancerListenerInput{{Port: &port, Protocol: proto, Addresses: []string{a1, a2}}})
		if v.Err() != nil {
			return
		}
		for _, l := range out {
			if l.Port < 1 || l.Port > 65535 || (l.Protocol != ProtocolHTTP && l.Protocol != ProtocolHTTPS) {
				t.Fatalf("accepted %+v", l)
			}
			for _, s := range l.Addresses {
				ap, err := netip.ParseAddrPort(s)
				if err != nil || ap.String() != s || ap.Port() == 0 || ap.Addr().Zone() != "" || ap.Addr().Is4In6() {
					t.Fatalf("accepted address %q", s)
				}
			}
		}
	})
}

func TestCheckInstanceAddress(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.1.5": "10.0.1.5", "2001:DB8::5": "2001:db8::5", "127.0.0.21": "127.0.0.21",
		"10.0.1": "", "10.0.1.5:80": "", "::ffff:10.0.0.1": "", "fe80::1%eth0": "", "0.0.0.0": "", "224.0.0.1": "", "": "",
	} {
		var v Validator
		if got := CheckInstanceAddress(&v, "privateIpAddress", in); got != want || (want == "") != (v.Err() != nil) {
			t.Errorf("CheckInstanceAddress(%q) = %q (%v), want %q", in, got, v.Err(), want)
		}
	}
}

func TestAddrInBlocks(t *testing.T) {
	blocks := []string{"10.0.0.0/16", "2001:db8::/32"}
	for s, want := range map[string]bool{"10.0.1.5": true, "10.1.0.5": false, "10.0.1.9:8080": true, "[2001:db8::9]:80": true,
		"[2001:db9::9]:80": false, "nonsense": false} {
		if got := AddrInBlocks(s, blocks); got != want {
			t.Errorf("AddrInBlocks(%q) = %v, want %v", s, got, want)
		}
	}
}
