package cli

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
)

// freePort is a port free over UDP and TCP on 127.0.0.1 just now.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			ln.Close()
			return pc.LocalAddr().(*net.UDPAddr).Port
		}
	}
	t.Fatal("no free port")
	return 0
}

func TestCLIDNSLookup(t *testing.T) {
	// No upstreams: nothing is forwarded anywhere.
	c := startCLIWith(t, apptest.Options{DNS: app.DNSConfig{Port: freePort(t)}})
	c.ok("service-network", "create", "--name", "dnsnet")
	svc := c.ok("service", "create", "--name", "dnssvc", "--custom-domain-name", "dnssvc.example.com")
	c.ok("snsa", "create", "--service-network", "dnsnet", "--service", "dnssvc")
	c.ok("snva", "create", "--service-network", "dnsnet", "--vpc", "vpc-0000000000000000c")
	c.ok("vpc", "put", "vpc-0000000000000000d")
	ingress := str(t, c.ok("vpc", "get", "vpc-0000000000000000c"), "ingressAddress")
	if got := str(t, c.ok("vpc", "get", "vpc-0000000000000000c"), "dnsAddress"); got != ingress {
		t.Fatalf("dnsAddress %q, want the ingress address %s", got, ingress)
	}

	var out string
	deadline := time.Now().Add(3 * time.Second)
	for {
		// Until the snapshot has the VPC the lookup says it does not know it.
		res := c.exec("dns", "lookup", "DNSSVC.example.com", "--vpc", "vpc-0000000000000000c")
		out = res.stdout + res.stderr
		if (res.err == nil && strings.Contains(out, "NOERROR")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"Name:    dnssvc.example.com.", "Answer:  NOERROR", "A " + ingress + " (TTL 10s)",
		"Service: " + str(t, svc, "id"), "reachable through service network"} {
		if !strings.Contains(out, want) {
			t.Fatalf("lookup: missing %q in\n%s", want, out)
		}
	}
	time.Sleep(50 * time.Millisecond) // the snapshot follows the store within milliseconds
	js := c.ok("dns", "lookup", "dnssvc.example.com", "--vpc", "vpc-0000000000000000d", "--output", "json")
	if js["rcode"] != "NXDOMAIN" || !strings.Contains(str(t, js, "reason"), "associated with no service network") {
		t.Fatalf("an unassociated VPC: %v", js)
	}
	out = c.text("dns", "lookup", "example.org", "--vpc", "vpc-0000000000000000c")
	if !strings.Contains(out, "Answer:  REFUSED") || !strings.Contains(out, "no upstream resolvers") {
		t.Fatalf("a name Trellis does not own, no upstreams:\n%s", out)
	}
	if msg := c.fails("dns", "lookup", "x.example"); !strings.Contains(msg, "--vpc is required") {
		t.Fatalf("without --vpc: %s", msg)
	}
	if msg := c.fails("dns", "lookup", "x.example", "--vpc", "vpc-00000000000000009"); !strings.Contains(msg, "ResourceNotFoundException") {
		t.Fatalf("unknown VPC: %s", msg)
	}
}
