package service

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// getDVRaw reads a verification as stored (no check on the way).
func getDVRaw(s *Service, ctx context.Context, id string) (*model.DomainVerification, error) {
	var out *model.DomainVerification
	err := s.view(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = getJSON[model.DomainVerification](tx, pfxDV+id)
		return err
	})
	return out, err
}

// txtResolver is a real DNS server on loopback answering the TXT records
// a test publishes (NXDOMAIN for others).
type txtResolver struct {
	mu   sync.Mutex
	recs map[string]string
	addr string
}

func startTXTResolver(t *testing.T) *txtResolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &txtResolver{recs: map[string]string{}, addr: pc.LocalAddr().String()}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		r.mu.Lock()
		v, ok := r.recs[strings.ToLower(q.Question[0].Name)]
		r.mu.Unlock()
		if ok {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 1}, Txt: []string{v}})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return r
}

func (r *txtResolver) publish(name, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs[dns.Fqdn(strings.ToLower(name))] = value
}

// TestCheckPendingDomainVerifications: the background check verifies a
// published record, times out one left PENDING past the timeout, touches
// neither a verified nor a fresh one, and a timed-out one is refused to
// its owner's verify but may still be verified by the administrator.
func TestCheckPendingDomainVerifications(t *testing.T) {
	s, ctx, clk := tgSetup(t, nil)
	res := startTXTResolver(t)
	s.cfg.DomainVerificationResolver = res.addr
	s.cfg.AdminAccount = tgTestAccount

	start := func(d string) *model.DomainVerification {
		dv, err := s.StartDomainVerification(ctx, StartDomainVerificationInput{DomainName: d})
		if err != nil {
			t.Fatal(err)
		}
		return dv
	}
	get := func(id string) *model.DomainVerification {
		out, err := getDVRaw(s, ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	old := start("old.example")
	clk.Advance(DefaultDomainVerificationTimeout - time.Hour)
	published := start("published.example")
	fresh := start("fresh.example")
	res.publish(published.TXTName, published.TXTValue)

	// Before the timeout: only the published one moves.
	v, to, err := s.CheckPendingDomainVerifications(ctx)
	if err != nil || v != 1 || to != 0 {
		t.Fatalf("first round = %d verified, %d timed out, %v; want 1, 0", v, to, err)
	}
	if g := get(published.ID); g.Status != model.VerificationVerified || g.LastVerifiedTime == nil {
		t.Fatalf("published: %+v", g)
	}
	if g := get(old.ID); g.Status != model.VerificationPending {
		t.Fatalf("old before its timeout: %s", g.Status)
	}

	// Two hours later the first one has waited 73 hours.
	clk.Advance(2 * time.Hour)
	v, to, err = s.CheckPendingDomainVerifications(ctx)
	if err != nil || v != 0 || to != 1 {
		t.Fatalf("second round = %d verified, %d timed out, %v; want 0, 1", v, to, err)
	}
	if g := get(old.ID); g.Status != model.VerificationTimedOut || g.LastVerifiedTime != nil {
		t.Fatalf("old: %+v", g)
	}
	for _, id := range []string{fresh.ID, published.ID} {
		if g := get(id); g.Status == model.VerificationTimedOut {
			t.Fatalf("%s timed out", id)
		}
	}
	// Publishing the old record now changes nothing: it timed out.
	res.publish(old.TXTName, old.TXTValue)
	if v, to, err := s.CheckPendingDomainVerifications(ctx); err != nil || v != 0 || to != 0 {
		t.Fatalf("third round = %d, %d, %v", v, to, err)
	}
	if g, err := s.GetDomainVerification(ctx, old.ID); err != nil || g.Status != model.VerificationTimedOut {
		t.Fatalf("Get of the timed-out one: %+v, %v", g, err)
	}
	// A Get finds a PENDING one past its timeout timed out, without the loop.
	clk.Advance(DefaultDomainVerificationTimeout)
	if g, err := s.GetDomainVerification(ctx, fresh.ID); err != nil || g.Status != model.VerificationTimedOut {
		t.Fatalf("Get past the timeout: %+v, %v", g, err)
	}
	// The administrator may still verify a timed-out one (closed networks).
	if g, err := s.VerifyDomain(ctx, old.ID); err != nil || g.Status != model.VerificationVerified {
		t.Fatalf("admin verify of a timed-out one: %+v, %v", g, err)
	}
}

// TestVerifyDomainTimedOutRefusedToOwner: the owner's own verify of a
// timed-out verification is a ValidationException naming the field.
func TestVerifyDomainTimedOutRefusedToOwner(t *testing.T) {
	s, ctx, clk := tgSetup(t, nil)
	s.cfg.DomainVerificationResolver = startTXTResolver(t).addr
	dv, err := s.StartDomainVerification(ctx, StartDomainVerificationInput{DomainName: "late.example"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultDomainVerificationTimeout + time.Minute)
	_, err = s.VerifyDomain(ctx, dv.ID)
	if e := tgKind(t, err, model.KindValidation); len(e.Fields) != 1 || e.Fields[0].Name != "domainVerificationIdentifier" {
		t.Fatalf("fields %+v", e.Fields)
	}
	if g, _ := getDVRaw(s, ctx, dv.ID); g.Status != model.VerificationTimedOut {
		t.Fatalf("status after the refused verify: %s", g.Status)
	}
}
