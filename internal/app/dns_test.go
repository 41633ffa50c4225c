package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
)

// testUpstream runs a resolver on 127.0.0.1 answering up.example. with
// 192.0.2.1: the only upstream these tests forward to.
func testUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "up.example." {
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: "up.example.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
				A: net.IPv4(192, 0, 2, 1)}}
		} else {
			m.Rcode = mdns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// freeDNSPort finds a port free over UDP and TCP on 127.0.0.1; the VPCs'
// ingress addresses (127.171.0.x) are distinct, so it is free there too
// unless another process takes it meanwhile (then the test fails, loudly).
func freeDNSPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func resolve(t *testing.T, addr, name string) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s at %s: %v", name, addr, err)
	}
	return r
}

func answerOf(r *mdns.Msg) string {
	if r.Rcode != mdns.RcodeSuccess {
		return mdns.RcodeToString[r.Rcode]
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return strings.Join(out, ",")
}

// waitAnswer polls addr until name answers want or within passes.
func waitAnswer(t *testing.T, addr, name, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for {
		m := new(mdns.Msg)
		m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
		r, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, addr)
		if err == nil {
			if got = answerOf(r); got == want {
				return
			}
		} else {
			got = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s: %s, want %s within %v", name, addr, got, want, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func vpcDNS(t *testing.T, s *apptest.Server, vpcID string) (ingress, dnsAddr string) {
	t.Helper()
	st, typ, body := nativeCall(t, s, "GET", "/trellis/v1/vpcs/"+vpcID, nil)
	if st != 200 {
		t.Fatalf("GET vpc: %d %s %s", st, typ, body)
	}
	var v struct{ IngressAddress, DNSAddress string }
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v.IngressAddress, v.DNSAddress
}

func TestDNSPerVPC(t *testing.T) {
	up := testUpstream(t)
	port := freeDNSPort(t)
	w := newWorld(t, apptest.Options{DNS: app.DNSConfig{Port: port, Upstreams: []string{up}, TTL: 3 * time.Second}})
	genName := aws.ToString(w.svc.DnsEntry.DomainName)
	w.clientVPC("vpc-0000000000000000a", w.sn.Id)
	if st, typ, body := nativeCall(t, w.s, "PUT", "/trellis/v1/vpcs/vpc-0000000000000000b", map[string]string{}); st != 201 {
		t.Fatalf("PUT vpc: %d %s %s", st, typ, body)
	}
	ingA, dnsA := vpcDNS(t, w.s, "vpc-0000000000000000a")
	ingB, dnsB := vpcDNS(t, w.s, "vpc-0000000000000000b")
	if dnsA != ingA || dnsB != ingB || ingA == ingB {
		t.Fatalf("dnsAddress: A %s (ingress %s), B %s (ingress %s); want each VPC's ingress address", dnsA, ingA, dnsB, ingB)
	}
	atA, atB := net.JoinHostPort(dnsA, strconv.Itoa(port)), net.JoinHostPort(dnsB, strconv.Itoa(port))

	// A reaches orders by both names; B, not associated, gets NXDOMAIN.
	waitAnswer(t, atA, "Orders.Internal", ingA, 5*time.Second)
	waitAnswer(t, atA, genName, ingA, 5*time.Second)
	waitAnswer(t, atB, "orders.internal", "NXDOMAIN", 5*time.Second)
	if got := answerOf(resolve(t, atB, genName)); got != "NXDOMAIN" {
		t.Fatalf("B: generated name %s", got)
	}
	// Other names go to the test's upstream.
	if got := answerOf(resolve(t, atA, "up.example")); got != "192.0.2.1" {
		t.Fatalf("forwarded: %s", got)
	}

	// B joins the network: within 100 ms of the API's answer, B resolves
	// orders to its own ingress address.
	need(w.c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, VpcIdentifier: aws.String("vpc-0000000000000000b")})).ok(t)
	waitAnswer(t, atB, "orders.internal", ingB, 100*time.Millisecond)

	// The lookup endpoint says what and why.
	for _, tc := range []struct {
		vpc, name, rcode, reason string
	}{
		{"vpc-0000000000000000a", "ORDERS.internal", "NOERROR", "reachable through service network " + aws.ToString(w.sn.Id)},
		{"vpc-0000000000000000a", "nope.vpc-lattice-svcs.us-east-1.on.aws", "NXDOMAIN", "no service has this name"},
		{"vpc-0000000000000000a", "up.example", "FORWARDED", "forwarded to the upstream resolvers"},
	} {
		st, typ, body := nativeCall(t, w.s, "GET", "/trellis/v1/dns/lookup?vpc="+tc.vpc+"&name="+url.QueryEscape(tc.name), nil)
		if st != 200 {
			t.Fatalf("lookup %s: %d %s %s", tc.name, st, typ, body)
		}
		var out struct {
			Rcode, Reason, ServiceID string
			Addresses                []string
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		if out.Rcode != tc.rcode || !strings.Contains(out.Reason, tc.reason) {
			t.Errorf("lookup %s: %s %q; want %s %q", tc.name, out.Rcode, out.Reason, tc.rcode, tc.reason)
		}
		if tc.rcode == "NOERROR" && (fmt.Sprint(out.Addresses) != "["+ingA+"]" || out.ServiceID != aws.ToString(w.svc.Id)) {
			t.Errorf("lookup %s: %s", tc.name, body)
		}
	}
	for _, tc := range []struct{ query, field string }{
		{"vpc=vpc-0000000000000000a", "name"},
		{"vpc=vpc-0000000000000000a&name=" + strings.Repeat("a", 254), "name"},
		{"name=x.example", "vpc"},
	} {
		st, typ, body := nativeCall(t, w.s, "GET", "/trellis/v1/dns/lookup?"+tc.query, nil)
		if st != 400 || typ != "ValidationException" || !strings.Contains(string(body), tc.field) {
			t.Errorf("lookup ?%.40s: %d %s %s; want a ValidationException naming %s", tc.query, st, typ, body, tc.field)
		}
	}
	if st, typ, _ := nativeCall(t, w.s, "GET", "/trellis/v1/dns/lookup?vpc=vpc-00000000000000009&name=x.example", nil); st != 404 {
		t.Errorf("lookup in an unknown VPC: %d %s", st, typ)
	}
}

func TestDNSOff(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	w.clientVPC("vpc-0000000000000000a", w.sn.Id)
	if _, dnsA := vpcDNS(t, w.s, "vpc-0000000000000000a"); dnsA != "" {
		t.Fatalf("dnsAddress %q with DNS off", dnsA)
	}
	if st, typ, body := nativeCall(t, w.s, "GET", "/trellis/v1/dns/lookup?vpc=vpc-0000000000000000a&name=x.example", nil); st != 400 || !strings.Contains(string(body), "DNS is off") {
		t.Fatalf("lookup with DNS off: %d %s %s", st, typ, body)
	}
}

func TestDNSUpstreamLoopRefused(t *testing.T) {
	_, err := app.Start(context.Background(), app.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0",
		DNS: app.DNSConfig{Port: 5353, Upstreams: []string{"127.171.0.9:5353"}}})
	if err == nil || !strings.Contains(err.Error(), "forward to itself") {
		t.Fatalf("an upstream that is a VPC's own DNS: %v", err)
	}
}
