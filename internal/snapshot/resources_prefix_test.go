package snapshot

import (
	"net/netip"
	"strings"
	"testing"
)

// TestResourcePrefixDefaultOverlap: the host-mode resource range. Set, it
// is used as given; unset, the default — unless a node ingress range is
// set, or the installation's ingress range lies in the default (a valid
// --ingress-cidr before resources had addresses): then none, with a
// warning naming the flag, and the node still starts.
func TestResourcePrefixDefaultOverlap(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name     string
		o        Options
		want     netip.Prefix
		warnHave string
	}{
		{"default", Options{IngressPrefix: p("127.171.0.0/16")}, DefaultResourcePrefix, ""},
		{"given", Options{IngressPrefix: p("127.200.0.0/16"), ResourcePrefix: p("127.64.0.0/16")}, p("127.64.0.0/16"), ""},
		{"ingress in the default", Options{IngressPrefix: p("127.200.0.0/16")}, netip.Prefix{}, "--resource-cidr"},
		{"node prefix", Options{IngressPrefix: p("127.171.0.0/16"), NodeIngressPrefix: p("127.172.0.0/16")}, netip.Prefix{}, "--resource-cidr"},
	} {
		got, warn := resourcePrefix(tc.o)
		if got != tc.want || (tc.warnHave == "") != (warn == "") || !strings.Contains(warn, tc.warnHave) {
			t.Errorf("%s: %v %q, want %v and a warning with %q", tc.name, got, warn, tc.want, tc.warnHave)
		}
	}
}
