package netns_test

import (
	"log"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/trellis-net/trellis/internal/netns"
)

// A VPC-like namespace: its CIDR block local, an ingress and a DNS address
// on lo, resolv.conf naming the DNS; a server inside it and an HTTP client
// that dials from inside it. (Compiled, not run: it needs root.)
func Example() {
	ns, err := netns.Create("vpc-0123456789abcdef0", netns.Config{
		CIDRBlocks:  []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
		Addresses:   []netip.Prefix{netip.MustParsePrefix("169.254.171.1/32"), netip.MustParsePrefix("169.254.171.2/32")},
		Nameservers: []netip.Addr{netip.MustParseAddr("169.254.171.2")},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close() // the namespace stays; ns.Delete() would remove it

	l, err := ns.Listen("tcp", "169.254.171.1:80") // an ingress socket
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(l, http.NotFoundHandler())

	client := &http.Client{Transport: &http.Transport{
		DialContext: ns.DialContext(&net.Dialer{Timeout: 5 * time.Second}),
	}}
	if _, err := client.Get("http://10.0.1.7:8080/"); err != nil { // a target inside the namespace
		log.Print(err)
	}

	// `trellis vpc exec`: a command inside, seeing the namespace's resolv.conf.
	if err := ns.Command("curl", "-s", "http://169.254.171.1/").Run(); err != nil {
		log.Print(err)
	}
}
