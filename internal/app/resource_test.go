package app_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// tcpEcho is a TCP server on a loopback address that echoes each line
// prefixed with "echo:", and answers "bye\n" when the client half-closes.
func tcpEcho(t *testing.T, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err == io.EOF {
						_, _ = io.WriteString(c, "bye\n")
						return
					}
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, "echo:"+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// roundTrip connects to addr, sends a line, reads the echo, half-closes
// and reads the goodbye: it checks bytes both ways and the half-close.
func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "select 1\n"); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	if got, err := r.ReadString('\n'); err != nil || got != "echo:select 1\n" {
		return fmt.Errorf("echo %q, %v", got, err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	if got, err := r.ReadString('\n'); err != nil || got != "bye\n" {
		return fmt.Errorf("after half-close %q, %v", got, err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return fmt.Errorf("no end after the goodbye: %v", err)
	}
	return nil
}

// resolveA asks the DNS server at addr for name's A record until it has
// one (or within passes), and returns it.
func resolveA(t *testing.T, addr, name string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := new(mdns.Msg)
		m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
		r, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, addr)
		got := ""
		if err == nil {
			got = answerOf(r)
		}
		if got != "" && r.Rcode == mdns.RcodeSuccess {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s: %q %v, want an A record within %v", name, addr, got, err, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestResourceTCPThroughGateway: a SINGLE IP resource configuration (a TCP
// server on 127.0.0.1) behind a resource gateway in a host-mode VPC,
// associated with a network: a client VPC associated with that network
// resolves the association's generated name (and, privateDnsEnabled, the
// custom domain) to the configuration's own address from --resource-cidr,
// and reaches it there, bytes and half-close relayed, although a service
// listener uses the same port; a VPC of another network gets NXDOMAIN;
// deleting the resource association closes the socket.
func TestResourceTCPThroughGateway(t *testing.T) {
	const port = 15432
	up := testUpstream(t)
	dnsPort := freeDNSPort(t)
	w := newWorld(t, apptest.Options{DNS: app.DNSConfig{Port: dnsPort, Upstreams: []string{up}, TTL: 3 * time.Second},
		MetricsAddr: "127.0.0.1:0"})
	tcpEcho(t, fmt.Sprintf("127.0.0.1:%d", port))
	// A service listener on the resource's port: every VPC listens on it
	// at its ingress address, which no longer keeps the resource out.
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("same-port"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberFixedResponse{
			Value: types.FixedResponseAction{StatusCode: aws.Int32(404)}}})).ok(t)
	const rgwVPC = "vpc-000000000000000e1"
	if st := w.native("PUT", "/trellis/v1/vpcs/"+rgwVPC, nil); st != 201 && st != 200 {
		t.Fatalf("PUT vpc: %d", st)
	}
	gw := need(w.c.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("db-gw"),
		VpcIdentifier: aws.String(rgwVPC), SubnetIds: []string{"subnet-0123456789abcdef0"}})).ok(t)
	// The custom domain's verification, PENDING until the administrator
	// verifies it below.
	dv := need(w.c.StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("orders.internal")})).ok(t)
	cfg := need(w.c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("orders-db"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: gw.Id, PortRanges: []string{fmt.Sprint(port)},
		Protocol: types.ProtocolTypeTcp, CustomDomainName: aws.String("DB.orders.internal"), DomainVerificationIdentifier: dv.Id,
		ResourceConfigurationDefinition: &types.ResourceConfigurationDefinitionMemberIpResource{
			Value: types.IpResource{IpAddress: aws.String("127.0.0.1")}}})).ok(t)
	assoc := need(w.c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ResourceConfigurationIdentifier: cfg.Id, PrivateDnsEnabled: aws.Bool(true)})).ok(t)
	gen := aws.ToString(need(w.c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{
		ServiceNetworkResourceAssociationIdentifier: assoc.Id})).ok(t).DnsEntry.DomainName)
	acct := w.s.Account
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.sn.Arn,
		ServiceNetworkLogType: types.ServiceNetworkLogTypeResource,
		DestinationArn:        aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/resources")})).ok(t)
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.sn.Arn,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/services")})).ok(t)
	client := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	other := need(w.c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("other")})).ok(t)
	outsider := w.clientVPC("vpc-00000000000000002", other.Id)

	// The client VPC's resolver answers the generated name and the custom
	// domain with the configuration's address: its own, not the ingress.
	_, dnsAddr := vpcDNS(t, w.s, "vpc-00000000000000001")
	dnsServer := net.JoinHostPort(dnsAddr, fmt.Sprint(dnsPort))
	rsrc := resolveA(t, dnsServer, gen, 5*time.Second)
	if a, err := netip.ParseAddr(rsrc); err != nil || !snapshot.DefaultResourcePrefix.Contains(a) || rsrc == client {
		t.Fatalf("%s answers %s: want an address of %v other than the ingress %s", gen, rsrc, snapshot.DefaultResourcePrefix, client)
	}
	// The client VPC's association has no dnsOptions: the default
	// preference, VERIFIED_DOMAINS_ONLY, withholds the custom domain while
	// its verification is PENDING (forwarded: the upstream's NXDOMAIN), and
	// the lookup endpoint says why; once verified, it is answered.
	waitAnswer(t, dnsServer, "db.orders.internal", "NXDOMAIN", 5*time.Second)
	st, _, body := nativeCall(t, w.s, "GET", "/trellis/v1/dns/lookup?vpc=vpc-00000000000000001&name=db.orders.internal", nil)
	if want := "preference VERIFIED_DOMAINS_ONLY (the default)"; st != 200 || !strings.Contains(string(body), want) ||
		!strings.Contains(string(body), `"rcode":"FORWARDED"`) || !strings.Contains(string(body), "is PENDING, not VERIFIED") {
		t.Fatalf("lookup db.orders.internal: %d %s; want FORWARDED, %q", st, body, want)
	}
	if st := w.native("POST", "/trellis/v1/domainverifications/"+aws.ToString(dv.Id)+"/verify", nil); st != 200 {
		t.Fatalf("verify: %d", st)
	}
	waitAnswer(t, dnsServer, "db.orders.internal", rsrc, 5*time.Second)
	clientAddr := net.JoinHostPort(rsrc, fmt.Sprint(port))

	var last error
	eventually(t, 5*time.Second, "the resource socket of the client VPC", func() bool { last = roundTrip(clientAddr); return last == nil })
	for i := range 5 {
		if err := roundTrip(clientAddr); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	// One VpcLatticeResourceAccessLogs record per connection (the first
	// ones may have come while the port opened: at least 6), to the
	// RESOURCE subscription only, destinationIpPort the resource's address.
	glob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Fresources", *w.sn.Id+".log")
	var recs []map[string]any
	eventually(t, 5*time.Second, "the resource access log records", func() bool {
		recs = readJSONLines(t, glob)
		return len(recs) >= 6
	})
	for _, r := range recs {
		if r["serviceNetworkArn"] != *w.sn.Arn || r["serviceNetworkResourceAssociationId"] != *assoc.Id ||
			r["resourceConfigurationArn"] != *cfg.Arn || r["protocol"] != "tcp" || r["vpcEndpointId"] != "-" ||
			r["sourceVpcArn"] != "arn:aws:ec2:us-east-1:"+acct+":vpc/vpc-00000000000000001" ||
			r["destinationIpPort"] != clientAddr || r["resourceIpPort"] != fmt.Sprintf("127.0.0.1:%d", port) ||
			r["gatewayIpPort"] == "-" || r["sourceIpPort"] == "-" || r["eventTimestamp"] == "-" {
			t.Fatalf("record %v", r)
		}
	}
	// The resource metrics count every connection (reached) and its bytes
	// ("select 1\n" out, "echo:select 1\nbye\n" back), and none is open.
	mf := scrape(t, w.s.App.MetricsAddr())
	reached := series(mf, "trellis_resource_connections_total", map[string]string{"resource_configuration": *cfg.Id,
		"service_network": *w.sn.Id, "result": "reached"})
	if reached == nil || reached.GetCounter().GetValue() != float64(len(recs)) {
		t.Fatalf("trellis_resource_connections_total reached = %v, want %d (one per record)", reached, len(recs))
	}
	for dir, per := range map[string]int{"to_resource": 9, "to_client": 18} {
		b := series(mf, "trellis_resource_bytes_total", map[string]string{"resource_configuration": *cfg.Id, "direction": dir})
		if b == nil || b.GetCounter().GetValue() != float64(per*len(recs)) {
			t.Fatalf("trellis_resource_bytes_total %s = %v, want %d", dir, b, per*len(recs))
		}
	}
	if a := series(mf, "trellis_resource_active_connections", map[string]string{"resource_configuration": *cfg.Id}); a == nil || a.GetGauge().GetValue() != 0 {
		t.Fatalf("trellis_resource_active_connections = %v, want 0", a)
	}
	if svcRecs, _ := filepath.Glob(filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Fservices", "*")); len(svcRecs) != 0 {
		t.Fatalf("a SERVICE subscription got resource records: %v", svcRecs)
	}
	// The listener on the same port answers HTTP at the ingress address
	// (Lattice's 404 for a request that names no service).
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + net.JoinHostPort(client, fmt.Sprint(port)) + "/"); err != nil {
		t.Fatalf("the listener on the resource's port: %v", err)
	} else {
		resp.Body.Close()
	}

	// The VPC of another network: both names are NXDOMAIN (Trellis's own,
	// not forwarded), and its ingress has no socket on that port but the
	// listener's.
	_, dnsOut := vpcDNS(t, w.s, "vpc-00000000000000002")
	waitAnswer(t, net.JoinHostPort(dnsOut, fmt.Sprint(dnsPort)), "db.orders.internal", "NXDOMAIN", 5*time.Second)
	waitAnswer(t, net.JoinHostPort(dnsOut, fmt.Sprint(dnsPort)), gen, "NXDOMAIN", 5*time.Second)
	if err := roundTrip(net.JoinHostPort(outsider, fmt.Sprint(port))); err == nil {
		t.Fatal("a VPC of another network reaches the resource at its ingress")
	}

	need(w.c.DeleteServiceNetworkResourceAssociation(ctx, &vpclattice.DeleteServiceNetworkResourceAssociationInput{
		ServiceNetworkResourceAssociationIdentifier: assoc.Id})).ok(t)
	eventually(t, 5*time.Second, "the resource socket to close", func() bool {
		c, err := net.DialTimeout("tcp", clientAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

// TestResourceSecurityGroups: the security groups of the client VPC's
// association gate resource connections at accept: a client from an
// admitted address round-trips, one from another address gets no byte and
// the resource sees no connection.
func TestResourceSecurityGroups(t *testing.T) {
	dnsPort := freeDNSPort(t)
	w := newWorld(t, apptest.Options{DNS: app.DNSConfig{Port: dnsPort}})
	port := freeLoopbackPort(t)
	var accepted atomic.Int64
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	const rgwVPC, vpc, sg = "vpc-000000000000000e1", "vpc-00000000000000001", "sg-00000000000000001"
	if st := w.native("PUT", "/trellis/v1/vpcs/"+rgwVPC, nil); st != 201 && st != 200 {
		t.Fatalf("PUT vpc: %d", st)
	}
	gw := need(w.c.CreateResourceGateway(ctx, &vpclattice.CreateResourceGatewayInput{Name: aws.String("db-gw"),
		VpcIdentifier: aws.String(rgwVPC), SubnetIds: []string{"subnet-0123456789abcdef0"}})).ok(t)
	cfg := need(w.c.CreateResourceConfiguration(ctx, &vpclattice.CreateResourceConfigurationInput{Name: aws.String("echo"),
		Type: types.ResourceConfigurationTypeSingle, ResourceGatewayIdentifier: gw.Id, PortRanges: []string{fmt.Sprint(port)},
		ResourceConfigurationDefinition: &types.ResourceConfigurationDefinitionMemberIpResource{
			Value: types.IpResource{IpAddress: aws.String("127.0.0.1")}}})).ok(t)
	assoc := need(w.c.CreateServiceNetworkResourceAssociation(ctx, &vpclattice.CreateServiceNetworkResourceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ResourceConfigurationIdentifier: cfg.Id})).ok(t)
	gen := aws.ToString(need(w.c.GetServiceNetworkResourceAssociation(ctx, &vpclattice.GetServiceNetworkResourceAssociationInput{
		ServiceNetworkResourceAssociationIdentifier: assoc.Id})).ok(t).DnsEntry.DomainName)
	rules := map[string]any{"vpcId": vpc, "ingress": []map[string]any{{"protocol": "tcp", "fromPort": port, "toPort": port, "cidr": "127.0.0.2/32"}}}
	if st := w.native("PUT", "/trellis/v1/security-groups/"+sg, rules); st != 201 {
		t.Fatalf("PUT security group: %d", st)
	}
	need(w.c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, VpcIdentifier: aws.String(vpc), SecurityGroupIds: []string{sg}})).ok(t)
	_, dnsAddr := vpcDNS(t, w.s, vpc)
	addr := net.JoinHostPort(resolveA(t, net.JoinHostPort(dnsAddr, fmt.Sprint(dnsPort)), gen, 5*time.Second), fmt.Sprint(port))
	echo := func(src string) string {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return ""
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.WriteString(c, "ping\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	eventually(t, 5*time.Second, "127.0.0.2 admitted", func() bool { return echo("127.0.0.2") == "ping\n" })
	before := accepted.Load()
	for range 3 {
		if got := echo("127.0.0.3"); got != "" {
			t.Fatalf("127.0.0.3 got %q", got)
		}
	}
	if n := accepted.Load(); n != before {
		t.Fatalf("the resource saw %d connections from a refused client", n-before)
	}
}
