package app_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestDomainVerificationBackgroundCheck: the elected API node checks
// PENDING verifications on its own — a published TXT record makes the
// verification VERIFIED without any Get (List does not check), through a
// real DNS server on loopback.
func TestDomainVerificationBackgroundCheck(t *testing.T) {
	var mu sync.Mutex
	recs := map[string]string{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		mu.Lock()
		v, ok := recs[strings.ToLower(q.Question[0].Name)]
		mu.Unlock()
		if ok {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{v}})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	s := apptest.StartWith(t, apptest.Options{DomainVerificationResolver: pc.LocalAddr().String(),
		DomainVerificationInterval: 100 * time.Millisecond})
	c := sdkClient(s, 1)
	ctx := context.Background()
	dv, err := c.StartDomainVerification(ctx, &vpclattice.StartDomainVerificationInput{DomainName: aws.String("db.example")})
	if err != nil {
		t.Fatal(err)
	}
	status := func() types.VerificationStatus {
		l, err := c.ListDomainVerifications(ctx, &vpclattice.ListDomainVerificationsInput{})
		if err != nil || len(l.Items) != 1 {
			t.Fatalf("list: %v, %v", l, err)
		}
		return l.Items[0].Status
	}
	// Nothing published: it stays PENDING over several rounds.
	time.Sleep(400 * time.Millisecond)
	if st := status(); st != types.VerificationStatusPending {
		t.Fatalf("status before publishing = %s", st)
	}
	mu.Lock()
	recs[dns.Fqdn(*dv.TxtMethodConfig.Name)] = *dv.TxtMethodConfig.Value
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for status() != types.VerificationStatusVerified {
		if time.Now().After(deadline) {
			t.Fatal("the background check never verified the published record")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
